import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { TypedParameter } from "../../driver.ts";
import { MigrateFlags as F, MigrateParam } from "../../enums.ts";
import {
  checkStorageRequest,
  disksPortParam,
  disksToCopy,
  disksUriParam,
  precreateStorage,
  removePrecreated,
} from "./migration-storage.ts";

function def(dir = "/d") {
  return parseDomainXML(`<domain type='qemu'>
  <name>mig</name><memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${dir}/gone/b.img'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='disk'><source file='${dir}/shared.img'/><target dev='vdc' bus='virtio'/><shareable/></disk>
    <disk type='file' device='cdrom'><source file='${dir}/boot.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h' port='10809'/></source><target dev='vdd' bus='virtio'/></disk>
  </devices></domain>`).def;
}

const disksParam = (...t: string[]): TypedParameter[] =>
  t.map((v) => ({ field: MigrateParam.MIGRATE_DISKS, value: { type: 7, value: v } }));

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(isVirtError(e), String(e));
    return e.message;
  }
  return "";
};

test("which disks a storage migration copies", () => {
  // every writable local image that is not shareable: no CD-ROM, no network disk
  assert.deepEqual(
    disksToCopy(def(), []).map((d) => d.target.dev),
    ["vda", "vdb"],
  );
  // --migrate-disks: exactly the listed ones (a shareable disk too, when asked for)
  assert.deepEqual(
    disksToCopy(def(), disksParam("vdb", "vdc")).map((d) => d.target.dev),
    ["vdb", "vdc"],
  );
});

test("begin refuses what libvirt refuses, with libvirt's texts", () => {
  const d = def();
  assert.match(
    messageOf(() => {
      checkStorageRequest(d, disksParam("vda"), F.LIVE);
    }),
    /use of 'VIR_MIGRATE_PARAM_MIGRATE_DISKS' requires use of 'VIR_MIGRATE_NON_SHARED_DISK' or 'VIR_MIGRATE_NON_SHARED_INC' flag/,
  );
  assert.match(
    messageOf(() => {
      checkStorageRequest(d, [], F.OFFLINE | F.PERSIST_DEST | F.NON_SHARED_DISK);
    }),
    /offline migration cannot handle non-shared storage/,
  );
  assert.match(
    messageOf(() => {
      checkStorageRequest(d, disksParam("vda", "vdz"), F.LIVE | F.NON_SHARED_DISK);
    }),
    /disk target vdz not found/,
  );
  assert.match(
    messageOf(() => {
      checkStorageRequest(d, [], F.NON_SHARED_DISK | F.NON_SHARED_INC);
    }),
    /Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive/,
  );
  assert.match(
    messageOf(() => {
      checkStorageRequest(d, [], F.LIVE | F.NON_SHARED_SYNCHRONOUS_WRITES);
    }),
    /requires 'VIR_MIGRATE_NON_SHARED_DISK' or 'VIR_MIGRATE_NON_SHARED_INC'/,
  );
  assert.equal(
    messageOf(() => {
      checkStorageRequest(d, disksParam("vda"), F.LIVE | F.NON_SHARED_INC);
    }),
    "",
  );
});

test("--disks-port and --disks-uri", () => {
  assert.equal(disksPortParam([]), undefined);
  assert.equal(disksPortParam([{ field: MigrateParam.DISKS_PORT, value: { type: 1, value: 10809 } }]), 10809);
  assert.equal(disksPortParam([{ field: MigrateParam.DISKS_PORT, value: { type: 1, value: 0 } }]), undefined);
  assert.throws(() => disksPortParam([{ field: MigrateParam.DISKS_PORT, value: { type: 1, value: 70000 } }]));
  assert.deepEqual(
    disksUriParam([{ field: MigrateParam.DISKS_URI, value: { type: 7, value: "tcp://[::1]:10809" } }]),
    { host: "::1", port: 10809 },
  );
  assert.match(
    messageOf(() =>
      disksUriParam([{ field: MigrateParam.DISKS_URI, value: { type: 7, value: "unix:///s" } }]),
    ),
    /disks URI 'unix:\/\/\/s' is not supported: use tcp:\/\/HOST:PORT/,
  );
});

test("prepare creates missing images in the source's format and size, refuses a missing directory", async (t) => {
  const probe = await runArgv(["qemu-img", "--version"]).catch(() => undefined);
  if (probe?.code !== 0) {
    if (process.env.CI === "true") assert.fail("qemu-img is not installed");
    t.skip("qemu-img is not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirt-migstorage-"));
  try {
    const d = def(dir);
    const nbd = {
      disks: [
        { target: "vda", capacity: 8 * 1024 * 1024, format: "qcow2" },
        { target: "vdb", capacity: 4 * 1024 * 1024, format: "raw" },
      ],
    };
    // vdb's directory does not exist here: nothing is created around it
    const created: string[] = [];
    await assert.rejects(precreateStorage(d, nbd, [], created), (e: unknown) => {
      assert.ok(isVirtError(e));
      assert.equal(
        e.message,
        `operation failed: migration prepare failed: cannot create image '${dir}/gone/b.img' of disk 'vdb': directory '${dir}/gone' does not exist on this host`,
      );
      return true;
    });
    // vda (before it) was made: qcow2 of the source's virtual size
    assert.deepEqual(created, [join(dir, "a.qcow2")]);
    const info = await runArgv(["qemu-img", "info", "--output=json", join(dir, "a.qcow2")]);
    const j = JSON.parse(info.stdout) as { format: string; "virtual-size": number };
    assert.equal(j.format, "qcow2");
    assert.equal(j["virtual-size"], 8 * 1024 * 1024);
    await removePrecreated(created);
    assert.ok(!existsSync(join(dir, "a.qcow2")));

    // an image that exists is used as it is; only the listed disk is looked at
    writeFileSync(join(dir, "a.qcow2"), "mine");
    const again: string[] = [];
    await precreateStorage(d, nbd, disksParam("vda"), again);
    assert.deepEqual(again, []);

    // no size from the source: say so
    rmSync(join(dir, "a.qcow2"));
    await assert.rejects(
      precreateStorage(d, {}, disksParam("vda"), []),
      /did not tell the size of disk 'vda'/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
