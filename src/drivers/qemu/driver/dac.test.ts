import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVirtError } from "../../../util/errors/index.ts";
import {
  checkKvmAccess,
  checkTunAccess,
  dacLabel,
  dacRecordPath,
  dacRelease,
  dacRestore,
  dirsBetween,
  resolveRunAs,
} from "./dac.ts";

test("resolveRunAs: names and +N ids through passwd and group files; missing ones are clear errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-dac-db-"));
  try {
    const passwd = join(dir, "passwd");
    const group = join(dir, "group");
    writeFileSync(
      passwd,
      "root:x:0:0:root:/root:/bin/bash\ntvirt-qemu:x:994:994::/nonexistent:/usr/sbin/nologin\n",
    );
    writeFileSync(group, "root:x:0:\nkvm:x:993:\ntvirt-qemu:x:994:\n");
    const files = { passwd, group };
    assert.deepEqual(resolveRunAs({ user: "tvirt-qemu" }, files), {
      user: "tvirt-qemu",
      group: "tvirt-qemu",
      uid: 994,
      gid: 994,
    });
    assert.deepEqual(resolveRunAs({ user: "tvirt-qemu", group: "kvm" }, files), {
      user: "tvirt-qemu",
      group: "kvm",
      uid: 994,
      gid: 993,
    });
    assert.deepEqual(resolveRunAs({ user: "+994", group: "+5000" }, files), {
      user: "tvirt-qemu",
      group: "+5000",
      uid: 994,
      gid: 5000,
    });
    assert.throws(
      () => resolveRunAs({ user: "qemu" }, files),
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "QEMU_DAC_USER_MISSING" &&
        e.message.includes("cannot run QEMU as user 'qemu': no such user") &&
        e.message.includes("useradd --system --no-create-home --shell /usr/sbin/nologin qemu"),
    );
    assert.throws(
      () => resolveRunAs({ user: "tvirt-qemu", group: "libvirt" }, files),
      (e: unknown) =>
        isVirtError(e) && e.code === "QEMU_DAC_GROUP_MISSING" && e.message.includes("'libvirt'"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("dirsBetween: the dirs below a root, none outside it", () => {
  assert.deepEqual(dirsBetween("/r/lib/qemu/channel/target", "/r/lib/qemu"), [
    "/r/lib/qemu/channel/target",
    "/r/lib/qemu/channel",
  ]);
  assert.deepEqual(dirsBetween("/r/lib/qemu", "/r/lib/qemu"), []);
  assert.deepEqual(dirsBetween("/elsewhere", "/r/lib/qemu"), []);
});

test("owners: recorded before the chown, a file shared by two domains comes back when the last one stops", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("chown to other users needs root");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirt-dac-rec-"));
  try {
    const base = join(dir, "base.img");
    const a = join(dir, "a.img");
    const hot = join(dir, "hot.img");
    for (const f of [base, a, hot]) writeFileSync(f, "");
    chownSync(base, 1234, 1235);
    const id = { user: "q", group: "q", uid: 4000, gid: 4001 };
    const owner = (p: string): [number, number] => [statSync(p).uid, statSync(p).gid];
    await dacLabel(dir, "one", id, [{ path: base }, { path: a }], [], []);
    assert.deepEqual(owner(base), [4000, 4001]);
    const rec = JSON.parse(readFileSync(dacRecordPath(dir, "one"), "utf8")) as { files: unknown[] };
    assert.deepEqual(rec.files, [
      { path: base, uid: 1234, gid: 1235 },
      { path: a, uid: 0, gid: 0 },
    ]);
    // the second domain sees base already handed over: it keeps the first one's original owner
    await dacLabel(dir, "two", id, [{ path: base }], [], []);
    // a hotplugged file joins the record; its release gives it back alone
    await dacLabel(dir, "one", id, [{ path: hot }], [], []);
    assert.deepEqual(owner(hot), [4000, 4001]);
    assert.deepEqual(await dacRelease(dir, "one", [hot], []), []);
    assert.deepEqual(owner(hot), [0, 0]);
    assert.deepEqual(owner(a), [4000, 4001]);

    assert.deepEqual(await dacRestore(dir, "one"), []);
    assert.deepEqual(owner(a), [0, 0]);
    assert.deepEqual(owner(base), [4000, 4001], "still used by domain two");
    assert.equal(existsSync(dacRecordPath(dir, "one")), false);
    assert.deepEqual(await dacRestore(dir, "two"), []);
    assert.deepEqual(owner(base), [1234, 1235]);
    // no record: nothing to do
    assert.deepEqual(await dacRestore(dir, "three"), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("device access as the kernel decides it (no supplementary groups): /dev/kvm and /dev/net/tun refused with the fix", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-dac-dev-"));
  try {
    const dev = join(dir, "kvm");
    writeFileSync(dev, "");
    chmodSync(dev, 0o660);
    const id = { user: "q", group: "q", uid: 4000, gid: 4001 };
    await assert.rejects(checkKvmAccess(id, "g", dev), (e: unknown) => {
      assert.ok(isVirtError(e));
      assert.equal(e.code, "QEMU_DAC_KVM_DENIED");
      const owner = `${statSync(dev).uid}:${statSync(dev).gid}`;
      assert.match(
        e.message,
        new RegExp(
          `^Requested operation is not valid: domain 'g' needs ${dev}, which QEMU running as user 'q' cannot open \\(mode 0660, owner ${owner}\\): set 'group = "`,
        ),
      );
      return true;
    });
    // QEMU's group is the device's: allowed
    await checkKvmAccess({ ...id, gid: statSync(dev).gid }, "g", dev);
    await assert.rejects(
      checkTunAccess(id, { alias: "net0", name: "g" }, dev),
      /interface net0 of domain 'g' needs \/dev\/net\/tun/,
    );
    chmodSync(dev, 0o666);
    await checkTunAccess(id, { alias: "net0", name: "g" }, dev);
    // absent: QEMU's own error will name it
    await checkKvmAccess(id, "g", join(dir, "none"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
