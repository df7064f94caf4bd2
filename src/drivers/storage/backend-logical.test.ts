/**
 * A logical pool on a loop device this test makes (volume group and loop device removed
 * afterwards, also on failure): build = pvcreate + vgcreate (refused a second time without
 * --overwrite), start, sizes from vgs, find-storage-pool-sources from pvs, two LVs created,
 * listed after a refresh, resized and deleted, then pool delete = vgremove + pvremove.
 * Needs root, losetup and LVM (Debian: lvm2); the LVs also need the kernel's device-mapper.
 * Without them the test skips saying so; under CI=true it fails.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isVirtError } from "../../util/errors/index.ts";
import { runArgv } from "../../util/spawn.ts";
import { makeLoopDevice, must, toolsOrSkip, tryRun, type LoopDevice } from "../../testing/loop.ts";
import {
  StoragePoolBuildFlags,
  StoragePoolState,
  type StorageDriverConnection,
  type StoragePoolRef,
} from "../storage-driver.ts";
import { StorageDriver, storagePaths } from "./driver.ts";

const code = (e: unknown): string => (isVirtError(e) ? e.code : String(e));
const MiB = 1024 * 1024;
const LVM = [
  ["losetup", "--version"],
  ["pvcreate", "--version"],
  ["vgs", "--version"],
  ["blkid", "-V"],
] as const;

/** A built and started logical pool on a fresh loop device, torn down by `dispose`. */
async function withPool(
  t: TestContext,
  body: (c: StorageDriverConnection, pool: StoragePoolRef, loop: LoopDevice, vg: string) => Promise<void>,
): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "tvirt-storage-lvm-"));
  const vg = `tvirt_test_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  let loop: LoopDevice | undefined;
  try {
    loop = await makeLoopDevice(64);
    const d = await StorageDriver.load(storagePaths({ kind: "embed", root }));
    const c = d.connection();
    const pool = await c.storagePoolDefineXML!(
      `<pool type='logical'><name>${vg}</name><source><device path='${loop.dev}'/><format type='lvm2'/></source>
       <target><path>/dev/${vg}</path></target></pool>`,
      0,
    );
    await c.storagePoolBuild!(pool, 0);
    await c.storagePoolCreate!(pool, 0);
    await body(c, pool, loop, vg);
    t.diagnostic(`pool ${vg} on ${loop.dev}`);
  } finally {
    await tryRun(["vgremove", "-f", vg]);
    if (loop) await tryRun(["pvremove", "-y", loop.dev]);
    await loop?.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

test("logical pool on a loop device: build, start, sizes, find-sources, delete", async (t) => {
  if (!(await toolsOrSkip(t, LVM))) return;
  await withPool(t, async (c, pool, loop, vg) => {
    await assert.rejects(
      c.storagePoolBuild!(pool, 0),
      (e: unknown) => code(e) === "STORAGE_POOL_ACTIVE_STATE" && /already active/.test(String(e)),
    );
    const info = await c.storagePoolGetInfo!(pool);
    assert.equal(info.state, StoragePoolState.RUNNING);
    assert.ok(info.capacity >= 56 * MiB && info.capacity <= 64 * MiB, `capacity ${info.capacity}`);
    assert.equal(info.allocation, 0);
    assert.equal(info.available, info.capacity);
    assert.match(
      await c.storagePoolGetXMLDesc!(pool, 0),
      new RegExp(`<capacity unit='bytes'>${info.capacity}</capacity>`),
    );

    const sources = await c.connectFindStoragePoolSources!("logical", null, 0);
    assert.ok(
      sources.includes(
        `  <source>\n    <device path='${loop.dev}'/>\n    <name>${vg}</name>\n    <format type='lvm2'/>\n  </source>\n`,
      ),
      sources,
    );
    assert.deepEqual(await c.storagePoolListAllVolumes!(pool, 0), []);

    await c.storagePoolDestroy!(pool);
    // The device holds an LVM label now: building again needs --overwrite.
    await assert.rejects(c.storagePoolBuild!(pool, StoragePoolBuildFlags.NO_OVERWRITE), (e: unknown) => {
      assert.equal(code(e), "STORAGE_POOL_BUILD_REFUSED");
      assert.match(String(e), /LVM2_member/);
      return true;
    });
    await c.storagePoolDelete!(pool, 0);
    const r = await must(["pvs", "--reportformat", "json", "-o", "pv_name,vg_name"]);
    assert.ok(!r.includes(vg), "the volume group is gone");
    assert.ok(!r.includes(`"${loop.dev}"`), "the physical volume is gone");
    await c.storagePoolUndefine!(pool);
  });
});

test("logical pool: two LVs created, refreshed, resized, deleted", async (t) => {
  if (!(await toolsOrSkip(t, LVM))) return;
  const dm = await runArgv(["dmsetup", "targets"]).catch(() => undefined);
  if (dm?.code !== 0) {
    // A kernel without device-mapper (this test machine's) cannot hold an LV at all: that is
    // the host, not a missing package. What can be checked is that creating one says why.
    await withPool(t, async (c, pool) => {
      await assert.rejects(
        c.storageVolCreateXML!(pool, "<volume><name>lv1</name><capacity unit='M'>8</capacity></volume>", 0),
        (e: unknown) => isVirtError(e) && /lvcreate|device-mapper|mapper/.test(e.message),
      );
      assert.deepEqual(
        (await c.storagePoolListAllVolumes!(pool, 0)).map((v) => v.name),
        [],
        "nothing is left of the refused volume",
      );
    });
    t.diagnostic(
      `no device-mapper in this kernel (${dm?.stderr.trim() ?? "dmsetup failed"}): LV creation checked to fail clearly`,
    );
    return;
  }
  await withPool(t, async (c, pool, _loop, vg) => {
    const a = await c.storageVolCreateXML!(
      pool,
      "<volume><name>lv1</name><capacity unit='M'>8</capacity></volume>",
      0,
    );
    const b = await c.storageVolCreateXML!(
      pool,
      "<volume><name>lv2</name><capacity unit='M'>12</capacity></volume>",
      0,
    );
    assert.equal(await c.storageVolGetPath!(a), `/dev/${vg}/lv1`);
    assert.match(a.key, /^[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}$/, "an LV's key is its UUID");
    await c.storagePoolRefresh!(pool, 0);
    assert.deepEqual(
      (await c.storagePoolListAllVolumes!(pool, 0)).map((v) => v.name),
      ["lv1", "lv2"],
    );
    const info = await c.storageVolGetInfo!(b);
    assert.equal(info.type, 1);
    assert.equal(info.capacity, 12 * MiB);
    const pinfo = await c.storagePoolGetInfo!(pool);
    assert.equal(pinfo.allocation, 20 * MiB);
    await c.storageVolResize!(a, BigInt(16 * MiB), 0);
    assert.equal((await c.storageVolGetInfo!(a)).capacity, 16 * MiB);
    await assert.rejects(
      c.storageVolResize!(a, BigInt(4 * MiB), 0),
      (e: unknown) => code(e) === "STORAGE_VOL_SHRINK_REFUSED",
    );
    await assert.rejects(
      c.storageVolCreateXML!(pool, "<volume><name>huge</name><capacity unit='G'>1</capacity></volume>", 0),
      (e: unknown) => code(e) === "STORAGE_NO_SPACE",
    );
    await c.storageVolDelete!(a, 0);
    await c.storageVolDelete!(b, 0);
    await c.storagePoolRefresh!(pool, 0);
    assert.deepEqual(await c.storagePoolListAllVolumes!(pool, 0), []);
    await c.storagePoolDestroy!(pool);
    await c.storagePoolDelete!(pool, 0);
  });
});
