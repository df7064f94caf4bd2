/**
 * The volume resolution seam without QEMU: an injected resolver (as the storage driver will be)
 * decides path, type and format; libvirt's rules on `mode` and `startupPolicy`; the default
 * lookup's pool types and format probe; the command line of a resolved disk.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseDomainXML, formatDomainXML } from "../../../conf/domain/index.ts";
import type { DiskDef } from "../../../conf/domain/types.ts";
import { isVirtError, VirtError } from "../../../util/errors/index.ts";
import { localDiskPath } from "../command/disk.ts";
import {
  localVolumeResolver,
  probeImageFormat,
  resolveDiskVolume,
  resolveDomainVolumes,
  storageConfigDir,
  storageStateDir,
  type ResolvedVolume,
} from "./volumes.ts";

function disk(source: string, extra = ""): DiskDef {
  const xml = `<domain type='qemu'><name>d</name><memory>131072</memory><os><type>hvm</type></os><devices><disk type='volume' device='disk'>${extra}<source ${source}/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
  return parseDomainXML(xml, { noDefaults: true }).def.devices.disks[0]!;
}

const fixed =
  (r: Partial<ResolvedVolume> = {}) =>
  (): Promise<ResolvedVolume> =>
    Promise.resolve({ path: "/dev/sdx", type: "block", format: "raw", poolType: "iscsi", ...r });

function code(c: string, re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(isVirtError(e), String(e));
    assert.equal(e.code, c, e.message);
    assert.match(e.message, re);
    return true;
  };
}

test("an injected resolver decides path, type and format; the disk keeps pool and volume", async () => {
  const d = disk("pool='p' volume='v'");
  await resolveDiskVolume(fixed({ path: "/img/v.qcow2", type: "file", format: "qcow2", poolType: "dir" }), d);
  assert.equal(d.type, "volume");
  assert.deepEqual(d.source, { pool: "p", volume: "v", actualType: "file", file: "/img/v.qcow2" });
  assert.deepEqual(d.driver, { name: "qemu", type: "qcow2" });
  assert.equal(localDiskPath(d), "/img/v.qcow2");
  // an explicit <driver type> wins over the volume's format
  const raw = disk("pool='p' volume='v'", "<driver name='qemu' type='raw'/>");
  await resolveDiskVolume(
    fixed({ path: "/img/v.qcow2", type: "file", format: "qcow2", poolType: "dir" }),
    raw,
  );
  assert.equal(raw.driver?.type, "raw");
  // an iSCSI LUN through the host: a block device
  const lun = disk("pool='i' volume='unit:0:0:1' mode='host'");
  await resolveDiskVolume(fixed(), lun);
  assert.equal(lun.source?.actualType, "block");
  assert.equal(localDiskPath(lun), "/dev/sdx");
});

test("status XML alone carries what a volume resolved to, and reads it back", async () => {
  const xml = `<domain type='qemu' id='3'><name>d</name><uuid>11111111-2222-4333-8444-555555555555</uuid><memory>131072</memory><os><type>hvm</type></os><devices><disk type='volume' device='disk'><source pool='p' volume='v'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
  const { def } = parseDomainXML(xml, { noDefaults: true });
  await resolveDiskVolume(
    fixed({ path: "/img/v", type: "file", format: "raw", poolType: "dir" }),
    def.devices.disks[0]!,
  );
  assert.match(formatDomainXML(def, { live: true }), /<source pool='p' volume='v'\/>/);
  const status = formatDomainXML(def, { live: true, status: true });
  assert.match(status, /<source pool='p' volume='v' actualType='file' file='\/img\/v'\/>/);
  const back = parseDomainXML(status, { noDefaults: true, status: true }).def.devices.disks[0]!;
  assert.equal(localDiskPath(back), "/img/v");
  // an ordinary definition does not take it from the user
  const user = parseDomainXML(status, { noDefaults: true }).def.devices.disks[0]!;
  assert.equal(user.source?.actualType, undefined);
  assert.equal(localDiskPath(user), undefined);
});

test("libvirt's rules: mode only on iSCSI pools, direct mode refused, startupPolicy only for file volumes", async () => {
  await assert.rejects(
    resolveDiskVolume(fixed({ poolType: "dir", type: "file" }), disk("pool='p' volume='v' mode='host'")),
    code("QEMU_VOLUME_MODE", /disk source mode is only valid when storage pool is of iscsi type/),
  );
  await assert.rejects(
    resolveDiskVolume(fixed(), disk("pool='i' volume='unit:0:0:2' mode='direct'")),
    code("QEMU_VOLUME_MODE_UNSUPPORTED", /source mode 'direct'/),
  );
  await assert.rejects(
    resolveDiskVolume(fixed(), disk("pool='i' volume='unit:0:0:1' startupPolicy='optional'")),
    code("QEMU_VOLUME_STARTUP_POLICY", /'startupPolicy' is only valid for 'file' type volume/),
  );
  assert.throws(
    () => disk("pool='p' volume='v' mode='default'"),
    (e: unknown) => isVirtError(e) && /mode/.test(e.message) && /host, direct|host|direct/.test(e.message),
  );
});

test("the default lookup: dir pool files with probed formats, directories, unsupported pool types", async () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-volres-"));
  try {
    const dir = storageConfigDir({ kind: "embed", root });
    assert.equal(dir, join(root, "etc", "storage"));
    mkdirSync(dir, { recursive: true });
    const images = join(root, "images");
    mkdirSync(join(images, "sub"), { recursive: true });
    writeFileSync(
      join(dir, "default.xml"),
      `<pool type='dir'><name>default</name><target><path>${images}</path></target></pool>`,
    );
    writeFileSync(
      join(dir, "rbd.xml"),
      `<pool type='rbd'><name>rbd</name><source><host name='mon'/><name>rbd</name></source></pool>`,
    );
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", join(images, "a.qcow2"), "1M"]);
    writeFileSync(join(images, "b.img"), Buffer.alloc(4096));
    assert.equal(await probeImageFormat(join(images, "a.qcow2")), "qcow2");
    const resolve = localVolumeResolver({ kind: "embed", root });
    assert.deepEqual(await resolve("default", "a.qcow2"), {
      path: join(images, "a.qcow2"),
      type: "file",
      format: "qcow2",
      poolType: "dir",
    });
    assert.equal((await resolve("default", "b.img")).format, "raw");
    assert.equal((await resolve("default", "sub")).type, "dir");
    await assert.rejects(
      resolve("rbd", "x"),
      code("QEMU_VOLUME_POOL_UNSUPPORTED", /storage pool 'rbd' \(type 'rbd'\)/),
    );
    await assert.rejects(resolve("../x", "a"), code("QEMU_VOLUME_NO_POOL", /'\.\.\/x'/));
    await assert.rejects(
      resolve("default", "sub/../a.qcow2"),
      code("QEMU_VOLUME_NO_VOLUME", /sub\/\.\.\/a\.qcow2/),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

function domain(disks: string): ReturnType<typeof parseDomainXML>["def"] {
  const xml = `<domain type='qemu'><name>d</name><memory>131072</memory><os><type>hvm</type></os><devices>${disks}</devices></domain>`;
  return parseDomainXML(xml, { noDefaults: true }).def;
}

test("a cold boot drops an optional volume that is not there: a disk leaves, a CD-ROM is emptied", async () => {
  const inactive = (): Promise<ResolvedVolume> =>
    Promise.reject(new VirtError("QEMU_VOLUME_POOL_INACTIVE", { pool: "p", volume: "v" }));
  const def = domain(
    "<disk type='volume' device='disk'><source pool='p' volume='v' startupPolicy='optional'/><target dev='sda'/></disk>" +
      "<disk type='volume' device='cdrom'><source pool='p' volume='v' startupPolicy='optional'/><target dev='hdc'/></disk>",
  );
  await resolveDomainVolumes(inactive, def);
  assert.deepEqual(
    def.devices.disks.map((d) => [d.target.dev, d.type, d.source]),
    [["hdc", "file", undefined]],
  );
  // once running (not a cold boot) a fixed disk may not go away; any other policy keeps the error
  const warm = domain(
    "<disk type='volume' device='disk'><source pool='p' volume='v' startupPolicy='optional'/><target dev='sda'/></disk>",
  );
  await assert.rejects(
    resolveDomainVolumes(inactive, warm, false),
    code("QEMU_VOLUME_POOL_INACTIVE", /storage pool 'p' containing volume 'v' is not active/),
  );
  const mandatory = domain(
    "<disk type='volume' device='disk'><source pool='p' volume='v' startupPolicy='mandatory'/><target dev='sda'/></disk>",
  );
  await assert.rejects(
    resolveDomainVolumes(inactive, mandatory),
    code("QEMU_VOLUME_POOL_INACTIVE", /not active/),
  );
  assert.equal(mandatory.devices.disks.length, 1);
});

test("mode='direct' on an iSCSI pool: QEMU's own initiator on the pool's portal, the pool's credentials", async () => {
  const iscsi = {
    hosts: [{ name: "iscsi.example.com", port: 0 }],
    target: "demo-target",
    auth: { username: "pooluser", secret: { usage: "pool-secret" } },
  };
  const d = disk(
    "pool='i' volume='unit:0:0:3' mode='direct'",
    "<auth username='diskuser'><secret type='iscsi' usage='disk-secret'/></auth>",
  );
  await resolveDiskVolume(fixed({ iscsi }), d);
  assert.equal(d.type, "volume");
  const src = d.source;
  assert.ok(src);
  assert.equal(src.actualType, "network");
  assert.equal(src.protocol, "iscsi");
  assert.equal(src.name, "demo-target/3");
  assert.deepEqual(src.hosts, [{ name: "iscsi.example.com", port: 3260, transport: "tcp" }]);
  // the disk's own <auth> is not used for a volume; the pool's is
  assert.equal(d.auth, undefined);
  assert.deepEqual(src.auth, { username: "pooluser", secret: { type: "iscsi", usage: "pool-secret" } });
  // a volume through the host drops the disk's <auth> too
  const host = disk(
    "pool='i' volume='unit:0:0:1' mode='host'",
    "<auth username='u'><secret type='iscsi' usage='s'/></auth>",
  );
  await resolveDiskVolume(fixed(), host);
  assert.equal(host.auth ?? host.source?.auth, undefined);
  // a LUN name that is not unit:B:T:LUN
  await assert.rejects(
    resolveDiskVolume(fixed({ iscsi }), disk("pool='i' volume='lun3' mode='direct'")),
    code("QEMU_VOLUME_NO_VOLUME", /lun3/),
  );
});

test("the default lookup: once the storage driver keeps state, a pool it has not started is inactive", async () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-volres-"));
  try {
    const dir = storageConfigDir({ kind: "embed", root });
    mkdirSync(dir, { recursive: true });
    const images = join(root, "images");
    mkdirSync(images, { recursive: true });
    writeFileSync(join(images, "v.img"), Buffer.alloc(4096));
    const poolXml = `<pool type='dir'><name>p</name><target><path>${images}</path></target></pool>`;
    writeFileSync(join(dir, "p.xml"), poolXml);
    const resolve = localVolumeResolver({ kind: "embed", root });
    const state = storageStateDir({ kind: "embed", root });
    assert.equal(state, join(root, "run", "storage"));
    mkdirSync(state, { recursive: true });
    await assert.rejects(
      resolve("p", "v.img"),
      code("QEMU_VOLUME_POOL_INACTIVE", /storage pool 'p' containing volume 'v.img' is not active/),
    );
    // an optional disk on it is left out at a cold boot
    const def = domain(
      "<disk type='volume' device='disk'><source pool='p' volume='v.img' startupPolicy='optional'/><target dev='vda' bus='virtio'/></disk>",
    );
    await resolveDomainVolumes(resolve, def);
    assert.equal(def.devices.disks.length, 0);
    // started: its state file is there
    writeFileSync(join(state, "p.xml"), poolXml);
    assert.equal((await resolve("p", "v.img")).path, join(images, "v.img"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
