/**
 * `<disk type='volume'>` and the start checks on real QEMU (TCG, the tiny guest in `disks` mode,
 * which prints each block device with its size in sectors every 2 s), one guest for all:
 * - a guest whose boot disk is a qcow2 volume of a dir pool (the root's `etc/storage/` pool
 *   definition, the default lookup) starts; the guest sees the qcow2's virtual size (so QEMU
 *   opened it as qcow2, the volume's probed format); dumpxml keeps `type='volume'` with the pool
 *   and volume only, the status file adds `actualType` and the path, the argv uses the path;
 * - a start with several missing files fails once, naming every path, before QEMU runs;
 * - bad volume references (no pool, no volume, a path as volume name, `mode` on a dir pool):
 *   catalogued errors, nothing started;
 * - domxml-to-native gives the same paths; a CD-ROM volume changes media to another volume;
 * - hotplug of a volume disk and of a pool's file as a plain qcow2 file disk (what `virsh
 *   attach-disk --source PATH --driver qemu --subdriver qcow2` sends): the guest sees both;
 * - `domainsUsingPaths` (driver method and root function) names the guest for each path, also
 *   after the driver restarted (from the status file), and forgets a detached disk.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DomainDeviceModifyFlags as F, DomainXMLFlags } from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { driverPaths } from "../paths.ts";
import { domainsUsingPaths } from "./index.ts";
import { ConsoleReader, guestXML, makeTestRoot, rejects } from "../../../testing/qemu/driver.ts";

function qemuImg(...args: string[]): void {
  execFileSync("qemu-img", args, { stdio: "ignore" });
}

test("disk type='volume' at start and hotplug, missing files listed together, domainsUsingPaths", async (t) => {
  const base = await guestXML(t, { name: "vol", mode: "disks" });
  if (base === undefined) return;
  const tr = makeTestRoot("tvirt-volumes-");
  const images = join(tr.root, "images");
  mkdirSync(images);
  mkdirSync(join(tr.root, "etc", "storage"), { recursive: true });
  writeFileSync(
    join(tr.root, "etc", "storage", "default.xml"),
    `<pool type='dir'><name>default</name><target><path>${images}</path></target></pool>\n`,
  );
  const boot = join(images, "boot.qcow2");
  const data = join(images, "data.qcow2");
  const plain = join(images, "plain.qcow2");
  qemuImg("create", "-q", "-f", "qcow2", boot, "32M");
  qemuImg("create", "-q", "-f", "qcow2", data, "48M");
  qemuImg("create", "-q", "-f", "qcow2", plain, "40M");
  const cd1 = join(images, "cd1.iso");
  const cd2 = join(images, "cd2.iso");
  writeFileSync(cd1, Buffer.alloc(1024 * 1024, 1));
  writeFileSync(cd2, Buffer.alloc(3 * 1024 * 1024, 2));
  const cdrom = (vol: string): string =>
    `<disk type='volume' device='cdrom'><source pool='default' volume='${vol}'/><target dev='hdc' bus='ide'/><readonly/></disk>`;
  const volDisk = (vol: string, dev: string, extra = ""): string =>
    `<disk type='volume' device='disk'><source pool='default' volume='${vol}'${extra}/><target dev='${dev}' bus='virtio'/></disk>`;
  const withDisks = (...disks: string[]): string =>
    base.replace("<memballoon", `${disks.join("\n    ")}\n    <memballoon`);
  const paths = driverPaths({ kind: "embed", root: tr.root });
  let conn = await tr.open();
  try {
    // --- bad input: each refused before QEMU runs, nothing left -----------------------------
    const refused = async (xml: string, code: string, text: RegExp): Promise<void> => {
      const d = await conn.domainDefineXML(xml);
      await rejects(conn.domainCreate(d), code, text);
      assert.equal(d.id, -1);
      assert.equal(existsSync(join(paths.logDir, "vol.log")), false, "QEMU never ran");
      await conn.domainUndefine(d);
    };
    await refused(
      withDisks(
        volDisk("boot.qcow2", "vda"),
        `<disk type='file' device='disk'><source file='/nonexistent/a.img'/><target dev='vdb' bus='virtio'/></disk>`,
        `<disk type='block' device='disk'><source dev='/dev/nonexistent-b'/><target dev='vdc' bus='virtio'/></disk>`,
      ).replace(/<initrd>[^<]*<\/initrd>/, "<initrd>/nonexistent/initrd.img</initrd>"),
      "QEMU_FILES_MISSING",
      /^Cannot access 3 files of domain 'vol': initrd '\/nonexistent\/initrd.img' \(No such file or directory\), storage file '\/nonexistent\/a.img' \(No such file or directory\), storage file '\/dev\/nonexistent-b' \(No such file or directory\)$/,
    );
    await refused(
      withDisks(volDisk("boot.qcow2", "vda").replace("pool='default'", "pool='nopool'")),
      "QEMU_VOLUME_NO_POOL",
      /no storage pool with matching name 'nopool'/,
    );
    await refused(
      withDisks(volDisk("gone.qcow2", "vda")),
      "QEMU_VOLUME_NO_VOLUME",
      /no storage vol with matching name 'gone.qcow2' in pool 'default'/,
    );
    await refused(
      withDisks(volDisk("../etc/storage/default.xml", "vda")),
      "QEMU_VOLUME_NO_VOLUME",
      /no storage vol with matching name '\.\.\/etc\/storage\/default\.xml'/,
    );
    await refused(
      withDisks(volDisk("boot.qcow2", "vda", " mode='host'")),
      "QEMU_VOLUME_MODE",
      /disk vda: disk source mode is only valid when storage pool is of iscsi type \(pool 'default' is 'dir'\)/,
    );
    await assert.rejects(
      conn.domainDefineXML(withDisks(volDisk("boot.qcow2", "vda", " mode='bogus'"))),
      (e) => {
        assert.ok(isVirtError(e));
        assert.match(e.message, /mode/);
        assert.match(e.message, /bogus/);
        return true;
      },
    );

    // --- domxml-to-native resolves volumes as a start does ------------------------------------
    const argvNative = await conn.connectDomainXMLToNative(
      "qemu-argv",
      withDisks(volDisk("boot.qcow2", "vda"), cdrom("cd1.iso")),
      0,
    );
    assert.match(argvNative, new RegExp(`"driver":"file","filename":"${boot}"`));
    assert.match(argvNative, new RegExp(`"driver":"file","filename":"${cd1}"`));

    // --- start with the boot disk a qcow2 volume, a CD-ROM a raw one -----------------------
    const dom = await conn.domainDefineXML(withDisks(volDisk("boot.qcow2", "vda"), cdrom("cd1.iso")));
    await conn.domainCreate(dom);
    tr.track(conn);
    const con = await ConsoleReader.open(conn, dom);
    // 32 MiB = 65536 sectors: QEMU reads the qcow2 header (as raw it would be the file's size)
    await con.waitFor(/DISK vda 65536\b/, 120_000);
    await con.waitFor(/DISK sr0 2048\b/, 60_000);
    const live = await conn.domainGetXMLDesc(dom, 0);
    assert.match(live, /<disk type='volume' device='disk'>\s*<driver name='qemu' type='qcow2'\/>/);
    assert.match(live, /<source pool='default' volume='boot.qcow2'\/>/);
    assert.doesNotMatch(live, /actualType|boot\.qcow2'\s+file=/);
    const inactive = await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE);
    assert.match(inactive, /<source pool='default' volume='boot.qcow2'\/>/);
    assert.doesNotMatch(inactive, /type='qcow2'/, "the persistent definition is unchanged");
    const status = readFileSync(join(paths.stateDir, "vol.xml"), "utf8");
    assert.match(
      status,
      new RegExp(`<source pool='default' volume='boot.qcow2' actualType='file' file='${boot}'/>`),
    );
    const argv = readFileSync(join(paths.logDir, "vol.log"), "utf8");
    assert.match(argv, new RegExp(`"driver":"file","filename":"${boot}"`));
    assert.match(argv, /"driver":"qcow2","file":"libvirt-2-storage"/);

    assert.deepEqual(
      conn.driver.domainsUsingPaths(),
      new Map([
        [boot, ["vol"]],
        [cd1, ["vol"]],
      ]),
    );

    // --- CD-ROM media change to another volume: the guest sees 3 MiB ------------------------
    let from = con.text.length;
    await conn.domainUpdateDeviceFlags(dom, cdrom("cd2.iso"), F.LIVE);
    await con.waitFor(/DISK sr0 6144\b/, 60_000, from);
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<source pool='default' volume='cd2.iso'\/>/);

    // --- hotplug: a volume, and a pool's file as a plain qcow2 file disk ---------------------
    from = con.text.length;
    await conn.domainAttachDeviceFlags(dom, volDisk("data.qcow2", "vdb"), F.LIVE);
    await con.waitFor(/DISK vdb 98304\b/, 60_000, from);
    from = con.text.length;
    await conn.domainAttachDeviceFlags(
      dom,
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${plain}'/><target dev='vdc' bus='virtio'/></disk>`,
      F.LIVE,
    );
    await con.waitFor(/DISK vdc 81920\b/, 60_000, from);
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<source pool='default' volume='data.qcow2'\/>/);
    await rejects(
      conn.domainAttachDeviceFlags(dom, volDisk("missing.qcow2", "vdd"), F.LIVE),
      "QEMU_VOLUME_NO_VOLUME",
      /missing\.qcow2/,
    );
    const users = new Map([
      [boot, ["vol"]],
      [cd2, ["vol"]],
      [data, ["vol"]],
      [plain, ["vol"]],
    ]);
    assert.deepEqual(conn.driver.domainsUsingPaths(), users);
    assert.deepEqual(await domainsUsingPaths({ kind: "embed", root: tr.root }), users);

    // --- a restarted driver knows the resolved paths from the status file -------------------
    await con.close();
    await conn.connectClose();
    assert.deepEqual(await domainsUsingPaths({ kind: "embed", root: tr.root }), users, "from status files");
    conn = await tr.open();
    assert.deepEqual(conn.driver.domainsUsingPaths(), users);
    const dom2 = await conn.domainLookupByName("vol");
    await conn.domainDetachDeviceFlags(
      dom2,
      `<disk type='volume' device='disk'><source pool='default' volume='data.qcow2'/><target dev='vdb' bus='virtio'/></disk>`,
      F.LIVE,
    );
    users.delete(data);
    assert.deepEqual(conn.driver.domainsUsingPaths(), users);
    await conn.domainDestroy(dom2);
    assert.deepEqual(conn.driver.domainsUsingPaths(), new Map());
  } finally {
    await conn.connectClose().catch(() => undefined);
    await tr.cleanup();
  }
});
