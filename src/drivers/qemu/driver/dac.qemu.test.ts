/**
 * QEMU as an unprivileged user (the system instance's DAC, libvirt's qemu.conf `user`): a driver
 * on a temp root with `runAs` (what tvirtd's system instance passes, with or without
 * `state_root`) starts the TCG test guest with a disk image owned by root:root 0644. While it
 * runs, QEMU's real and effective ids are the user's, its seccomp sandbox is on (mode 2) and
 * the image, kernel and initrd belong to the user; after destroy they are root:root again,
 * also when the guest is destroyed by a later driver instance that reconnected to it. A user
 * that does not exist is a clear error naming it.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { isVirtError } from "../../../util/errors/index.ts";
import { DomainDeviceModifyFlags } from "../../enums.ts";
import { guestDomainXML, testGuestOrSkip } from "../../../testing/guest/index.ts";
import { makeTestRoot, runtimeLeftovers, type TestRoot } from "../../../testing/qemu/driver.ts";
import { driverPaths } from "../paths.ts";
import { resolveRunAs, DEFAULT_QEMU_USER } from "./dac.ts";
import { VIRTIOFSD_PATHS } from "./virtiofs.ts";

/** The ids of tvirt-qemu, or a skip (a failure under CI) when scripts/setup has not made it. */
function qemuUserOrSkip(t: TestContext): { uid: number; gid: number } | undefined {
  const skip = (why: string): void => {
    if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
    t.skip(why);
  };
  if (process.getuid?.() !== 0) {
    skip("running QEMU as another user needs root");
    return undefined;
  }
  try {
    return resolveRunAs({ user: DEFAULT_QEMU_USER });
  } catch {
    skip(`user ${DEFAULT_QEMU_USER} does not exist (scripts/setup creates it)`);
    return undefined;
  }
}

/** `Uid:`/`Gid:` (real, effective, saved, fs) and `Seccomp:` of a process. */
function procStatus(pid: number): { uid: number[]; gid: number[]; seccomp: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)?.[1] ?? "";
  return {
    uid: field("Uid").split(/\s+/).map(Number),
    gid: field("Gid").split(/\s+/).map(Number),
    seccomp: Number(field("Seccomp")),
  };
}

function owner(path: string): { uid: number; gid: number; mode: number } {
  const st = statSync(path);
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
}

/** A test root QEMU's user can traverse, with the guest's files root-owned inside it. */
async function setup(
  t: TestContext,
  name: string,
): Promise<
  { tr: TestRoot; xml: string; files: { disk: string; kernel: string; initrd: string } } | undefined
> {
  const g = await testGuestOrSkip(t);
  if (!g) return undefined;
  const tr = makeTestRoot("tvirt-dac-");
  // mkdtemp makes 0700; the user must pass through it, as through /var/lib/tvirt
  chmodSync(tr.root, 0o755);
  // the cached guest is under /root (0700): QEMU's user cannot reach it there
  const files = {
    disk: join(tr.root, "disk.img"),
    kernel: join(tr.root, "vmlinuz"),
    initrd: join(tr.root, "initrd.img"),
  };
  copyFileSync(g.kernel, files.kernel);
  copyFileSync(g.initrd, files.initrd);
  writeFileSync(files.disk, Buffer.alloc(1 << 20));
  for (const f of Object.values(files)) chmodSync(f, 0o644);
  const xml = guestDomainXML({ name, mode: "counter", kernel: files.kernel, initrd: files.initrd }).replace(
    "</devices>",
    `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${files.disk}'/><target dev='vdb' bus='virtio'/></disk></devices>`,
  );
  return { tr, xml, files };
}

test("system DAC: QEMU runs as tvirt-qemu with seccomp, owners are handed over and given back", async (t) => {
  const ids = qemuUserOrSkip(t);
  if (!ids) return;
  const s = await setup(t, "dac");
  if (!s) return;
  const { tr, xml, files } = s;
  const runAs = { user: DEFAULT_QEMU_USER };
  let conn = await tr.open({ runAs });
  try {
    const dom = await conn.domainDefineXML(xml);
    for (const f of Object.values(files)) assert.deepEqual(owner(f), { uid: 0, gid: 0, mode: 0o644 });
    await conn.domainCreate(dom);
    tr.track(conn);
    const pid = conn.driver.domains.byName("dac")!.run!.pid;
    const st = procStatus(pid);
    assert.deepEqual(st.uid, [ids.uid, ids.uid, ids.uid, ids.uid], "QEMU's uids");
    assert.deepEqual(st.gid, [ids.gid, ids.gid, ids.gid, ids.gid], "QEMU's gids");
    assert.equal(st.seccomp, 2, "QEMU's seccomp mode (2: filter)");
    for (const f of Object.values(files))
      assert.deepEqual(owner(f), { uid: ids.uid, gid: ids.gid, mode: 0o644 }, f);
    const record = join(driverPaths({ kind: "embed", root: tr.root }).stateDir, "dac.dac.json");
    assert.ok(existsSync(record), "the ownership record is on disk while the guest runs");

    // a disk plugged live is handed over too (QEMU opens it) and given back at stop
    const hot = join(tr.root, "hot.img");
    writeFileSync(hot, Buffer.alloc(1 << 20), { mode: 0o644 });
    await conn.domainAttachDeviceFlags(
      dom,
      `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${hot}'/><target dev='vdc' bus='virtio'/></disk>`,
      DomainDeviceModifyFlags.LIVE,
    );
    assert.deepEqual(owner(hot), { uid: ids.uid, gid: ids.gid, mode: 0o644 });

    await conn.domainDestroy(dom);
    for (const f of [...Object.values(files), hot])
      assert.deepEqual(owner(f), { uid: 0, gid: 0, mode: 0o644 }, f);
    assert.equal(existsSync(record), false);
    assert.deepEqual(runtimeLeftovers(tr.root, "dac"), []);

    // started, then the driver goes away (the guest keeps running); a new instance reconnects
    // and destroys it: the record on disk gives the owners back
    await conn.domainCreate(dom);
    tr.track(conn);
    const pid2 = conn.driver.domains.byName("dac")!.run!.pid;
    assert.equal(owner(files.disk).uid, ids.uid);
    await conn.connectClose();
    conn = await tr.open({ runAs });
    const obj = conn.driver.domains.byName("dac")!;
    assert.equal(obj.run?.pid, pid2, "the new driver instance reconnected to the same QEMU");
    assert.equal(owner(files.disk).uid, ids.uid);
    // managed save: QEMU (as the user) migrates into the driver's socket; the guest stops, so
    // the owners come back; the restore hands them over again
    await conn.domainManagedSave(dom, 0);
    assert.deepEqual(owner(files.disk), { uid: 0, gid: 0, mode: 0o644 });
    await conn.domainCreate(dom);
    tr.track(conn);
    assert.equal(procStatus(conn.driver.domains.byName("dac")!.run!.pid).uid[1], ids.uid);
    assert.equal(owner(files.disk).uid, ids.uid);
    await conn.domainDestroy(await conn.domainLookupByName("dac"));
    for (const f of Object.values(files)) assert.deepEqual(owner(f), { uid: 0, gid: 0, mode: 0o644 }, f);
    assert.equal(existsSync(record), false);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("system DAC: a user that does not exist is refused at start, naming it, and nothing changes", async (t) => {
  const s = await setup(t, "nouser");
  if (!s) return;
  if (process.getuid?.() !== 0) {
    t.skip("needs root");
    await s.tr.cleanup();
    return;
  }
  const { tr, xml, files } = s;
  const conn = await tr.open({ runAs: { user: "tvirt-no-such-user" } });
  try {
    const dom = await conn.domainDefineXML(xml);
    await assert.rejects(conn.domainCreate(dom), (e: unknown) => {
      assert.ok(isVirtError(e));
      assert.equal(e.code, "QEMU_DAC_USER_MISSING");
      assert.match(e.message, /cannot run QEMU as user 'tvirt-no-such-user': no such user/);
      assert.match(e.message, /useradd --system/);
      return true;
    });
    for (const f of Object.values(files)) assert.deepEqual(owner(f), { uid: 0, gid: 0, mode: 0o644 }, f);
    assert.deepEqual(runtimeLeftovers(tr.root, "nouser"), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("system DAC without dynamic ownership: QEMU as tvirt-qemu cannot open a root-owned image, and says so", async (t) => {
  const ids = qemuUserOrSkip(t);
  if (!ids) return;
  const s = await setup(t, "nodyn");
  if (!s) return;
  const { tr, xml, files } = s;
  const conn = await tr.open({ runAs: { user: DEFAULT_QEMU_USER }, dynamicOwnership: false });
  try {
    const dom = await conn.domainDefineXML(xml);
    await assert.rejects(conn.domainCreate(dom), (e: unknown) => {
      assert.ok(isVirtError(e));
      assert.equal(e.code, "QEMU_START_FAILED");
      assert.match(e.message, new RegExp(`${files.disk}.*Permission denied`));
      return true;
    });
    for (const f of Object.values(files)) assert.deepEqual(owner(f), { uid: 0, gid: 0, mode: 0o644 }, f);
    assert.deepEqual(runtimeLeftovers(tr.root, "nodyn"), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("system DAC with virtiofs: QEMU as tvirt-qemu connects to root's virtiofsd through the socket handed to it", async (t) => {
  const ids = qemuUserOrSkip(t);
  if (!ids) return;
  if (!VIRTIOFSD_PATHS.some((p) => existsSync(p))) {
    if (process.env.CI === "true") assert.fail("virtiofsd is required under CI (qemu-system-common)");
    t.skip("no virtiofsd installed");
    return;
  }
  const s = await setup(t, "dacfs");
  if (!s) return;
  const { tr, files } = s;
  const share = join(tr.root, "share");
  mkdirSync(share);
  const xml = s.xml
    .replace("<os>", "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking><os>")
    .replace(
      "</devices>",
      `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='${share}'/><target dir='hostshare'/></filesystem></devices>`,
    );
  const conn = await tr.open({ runAs: { user: DEFAULT_QEMU_USER } });
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const pid = conn.driver.domains.byName("dacfs")!.run!.pid;
    assert.equal(procStatus(pid).uid[1], ids.uid);
    assert.equal(procStatus(pid).seccomp, 2);
    await conn.domainDestroy(dom);
    for (const f of Object.values(files)) assert.deepEqual(owner(f), { uid: 0, gid: 0, mode: 0o644 }, f);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
