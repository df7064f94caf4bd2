/**
 * An fs pool on a loop device this test makes (and removes, also on failure): build with
 * --no-overwrite runs mkfs (ext4) and refuses a second time, start mounts, volumes are files on
 * it, destroy unmounts, a restart finds the mounted pool, find-storage-pool-sources lists the
 * device. Needs root, losetup, mkfs.ext4, mount: skips saying so, fails under CI=true.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isVirtError } from "../../util/errors/index.ts";
import { makeLoopDevice, toolsOrSkip, tryRun, type LoopDevice } from "../../testing/loop.ts";
import { StoragePoolBuildFlags, StoragePoolState } from "../storage-driver.ts";
import { StorageDriver, storagePaths } from "./driver.ts";
import { isMountPoint } from "./backend-fs.ts";

const code = (e: unknown): string => (isVirtError(e) ? e.code : String(e));
const MiB = 1024 * 1024;

test("fs pool on a loop device: build (mkfs), mount, volumes, unmount", async (t) => {
  if (
    !(await toolsOrSkip(t, [
      ["losetup", "--version"],
      ["mkfs.ext4", "-V"],
      ["blkid", "-V"],
      ["mount", "--version"],
    ]))
  )
    return;
  const root = mkdtempSync(join(tmpdir(), "tvirt-storage-fs-"));
  const target = join(root, "mnt");
  let loop: LoopDevice | undefined;
  try {
    loop = await makeLoopDevice(64);
    const d = await StorageDriver.load(storagePaths({ kind: "embed", root }));
    const c = d.connection();
    const xml = `<pool type='fs'><name>fsp</name>
      <source><device path='${loop.dev}'/><format type='ext4'/></source>
      <target><path>${target}</path></target></pool>`;
    const pool = await c.storagePoolDefineXML!(xml, 0);
    await c.storagePoolBuild!(pool, StoragePoolBuildFlags.NO_OVERWRITE);
    assert.ok(existsSync(target));
    await assert.rejects(c.storagePoolBuild!(pool, StoragePoolBuildFlags.NO_OVERWRITE), (e: unknown) => {
      assert.equal(code(e), "STORAGE_POOL_BUILD_REFUSED");
      assert.match(String(e), /forced overwrite is necessary \(it holds ext4\)/);
      return true;
    });

    const sources = await c.connectFindStoragePoolSources!(
      "fs",
      `<source><device path='${loop.dev}'/></source>`,
      0,
    );
    assert.equal(
      sources,
      `<sources>\n  <source>\n    <device path='${loop.dev}'/>\n    <format type='ext4'/>\n  </source>\n</sources>\n`,
    );

    await c.storagePoolCreate!(pool, 0);
    assert.equal(await isMountPoint(target), true);
    assert.match(
      readFileSync("/proc/self/mountinfo", "utf8"),
      new RegExp(`${target} .*nosuid,nodev,noexec.* ext4 ${loop.dev}`),
    );
    const info = await c.storagePoolGetInfo!(pool);
    assert.equal(info.state, StoragePoolState.RUNNING);
    assert.ok(info.capacity > 40 * MiB && info.capacity <= 64 * MiB, `capacity ${info.capacity}`);
    assert.ok(info.available < info.capacity);

    const q = await c.storageVolCreateXML!(
      pool,
      "<volume><name>q.qcow2</name><capacity unit='G'>1</capacity><target><format type='qcow2'/></target></volume>",
      0,
    );
    const r = await c.storageVolCreateXML!(
      pool,
      "<volume><name>r.raw</name><capacity unit='M'>8</capacity></volume>",
      0,
    );
    assert.equal(q.key, join(target, "q.qcow2"));
    const after = await c.storagePoolGetInfo!(pool);
    assert.ok(
      info.available - after.available >= 8 * MiB,
      "the raw volume's 8 MiB came out of the pool's free space",
    );
    // 1 GiB raw, fully allocated, does not fit in 64 MiB.
    await assert.rejects(
      c.storageVolCreateXML!(pool, "<volume><name>big.raw</name><capacity unit='G'>1</capacity></volume>", 0),
      (e: unknown) => code(e) === "STORAGE_NO_SPACE",
    );
    assert.equal(existsSync(join(target, "big.raw")), false);
    assert.deepEqual(
      (await c.storagePoolListAllVolumes!(pool, 0)).map((v) => v.name),
      ["lost+found", "q.qcow2", "r.raw"],
    );

    // A restarted driver finds the pool mounted and running.
    const d2 = await StorageDriver.load(storagePaths({ kind: "embed", root }));
    assert.equal(d2.isActive(pool), true);
    assert.equal(d2.listAllVolumes(pool, 0).length, 3);

    await c.storageVolDelete!(r, 0);
    await c.storagePoolDestroy!(pool);
    assert.equal(await isMountPoint(target), false);
    assert.equal(existsSync(join(target, "q.qcow2")), false);
    // Mounted again, the volume is still there.
    await c.storagePoolCreate!(pool, 0);
    assert.deepEqual((await c.storageVolLookupByName!(pool, "q.qcow2")).key, q.key);
    await c.storagePoolDestroy!(pool);
    await c.storagePoolDelete!(pool, 0);
    assert.equal(existsSync(target), false);
    await c.storagePoolUndefine!(pool);
    await c.close();
  } finally {
    if (await isMountPoint(target)) await tryRun(["umount", target]);
    await loop?.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});
