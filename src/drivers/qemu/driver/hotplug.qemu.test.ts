/**
 * Device hotplug on real QEMU (TCG, the tiny guest in `disks` mode, which prints every block
 * device with its size every 2 s): a qcow2 disk attached and detached (seen by the guest, in the
 * live XML, through a driver restart), CD-ROM media change, a USB host device by vendor/product,
 * a user-mode interface, `--config` alone, the rollback of an attach QEMU refuses, and the bad
 * inputs, each a catalogued error with nothing changed.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type DomainRef } from "../../driver.ts";
import { DomainDeviceModifyFlags as F, DomainEventId, DomainXMLFlags } from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import type { QemuConnection } from "./connection.ts";
import { hotplugTimeouts } from "./hotplug.ts";
import { makeFakeSysfs } from "../../../testing/host/sysfs.ts";
import { ConsoleReader, guestXML, makeTestRoot, rejects } from "../../../testing/qemu/driver.ts";

function qemuImg(...args: string[]): void {
  execFileSync("qemu-img", args, { stdio: "ignore" });
}

/** The device ids QEMU has under /machine/peripheral. */
async function qemuDevices(conn: QemuConnection, name: string): Promise<string[]> {
  const qmp = conn.driver.domains.byName(name)?.run?.qmp;
  assert.ok(qmp, "domain has a monitor");
  const list = (await qmp.execute("qom-list", { path: "/machine/peripheral" })) as { name: string }[];
  return list.map((x) => x.name).sort();
}

async function blockNodes(conn: QemuConnection, name: string): Promise<string[]> {
  const qmp = conn.driver.domains.byName(name)!.run!.qmp!;
  const list = (await qmp.execute("query-named-block-nodes", { flat: true })) as { "node-name": string }[];
  return list.map((x) => x["node-name"]).sort();
}

test("hotplug on a running TCG guest: disk, CD-ROM media, USB hostdev, interface, --config, rollback, bad input, restart", async (t) => {
  const base = await guestXML(t, { name: "hp", mode: "disks" });
  if (base === undefined) return;
  const tr = makeTestRoot("tvirt-hotplug-");
  const img = (n: string) => join(tr.root, n);
  qemuImg("create", "-q", "-f", "qcow2", img("data.qcow2"), "64M");
  qemuImg("create", "-q", "-f", "qcow2", img("other.qcow2"), "16M");
  writeFileSync(img("cd1.iso"), Buffer.alloc(1024 * 1024, 1));
  writeFileSync(img("boot.raw"), Buffer.alloc(512 * 1024));
  writeFileSync(img("cd2.iso"), Buffer.alloc(3 * 1024 * 1024, 2));
  const xml = base.replace(
    "<memballoon",
    `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${img("cd1.iso")}'/><target dev='hdc' bus='ide'/><readonly/></disk>\n    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img("boot.raw")}'/><target dev='vda' bus='virtio'/></disk>\n    <memballoon`,
  );
  // the USB device attached by vendor/product is found under this sysfs root (the host has none)
  const usbFs = makeFakeSysfs({
    usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" }],
  });
  let conn = await tr.open({ sysfsRoot: usbFs.root });
  try {
    const dom: DomainRef = await conn.domainDefineXML(xml);
    await conn.domainCreate(dom);
    tr.track(conn);
    const removed: string[] = [];
    const added: string[] = [];
    await conn.connectDomainEventRegisterAny(null, DomainEventId.DEVICE_REMOVED, (_d, e) => {
      if (e.id === DomainEventId.DEVICE_REMOVED) removed.push(e.devAlias);
    });
    await conn.connectDomainEventRegisterAny(null, DomainEventId.DEVICE_ADDED, (_d, e) => {
      if (e.id === DomainEventId.DEVICE_ADDED) added.push(e.devAlias);
    });
    const con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/DISK sr0 2048\b/, 120_000);
    await con.waitFor(/DISK vda 1024\b/, 60_000);

    // --- attach a qcow2 disk: the guest sees vdb with 64 MiB = 131072 sectors -------------------
    const diskXml = `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img("data.qcow2")}'/><target dev='vdb' bus='virtio'/></disk>`;
    let from = con.text.length;
    await conn.domainAttachDeviceFlags(dom, diskXml, F.LIVE);
    await con.waitFor(/DISK vdb 131072\b/, 60_000, from);
    let live = await conn.domainGetXMLDesc(dom, 0);
    assert.match(
      live,
      /<target dev='vdb' bus='virtio'\/>\s*<alias name='virtio-disk1'\/>\s*<address type='pci' domain='0x0000' bus='0x00' slot='0x0[0-9a-f]' function='0x0'\/>/,
    );
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE), /vdb/, "live only");
    assert.ok((await qemuDevices(conn, "hp")).includes("virtio-disk1"));
    assert.deepEqual(added, ["virtio-disk1"]);

    // bad input, nothing changed
    await rejects(
      conn.domainAttachDeviceFlags(dom, diskXml, F.LIVE),
      "HOTPLUG_TARGET_EXISTS",
      /target vdb already exists/,
    );
    await rejects(
      conn.domainAttachDeviceFlags(
        dom,
        diskXml.replace("vdb", "vdc").replace("data.qcow2", "nope.qcow2"),
        F.LIVE,
      ),
      "HOTPLUG_SOURCE_MISSING",
      /nope\.qcow2/,
    );
    await rejects(
      conn.domainAttachDeviceFlags(dom, diskXml.replace("vdb' bus='virtio'", "sdc' bus='sata'"), F.LIVE),
      "HOTPLUG_BUS_NOT_HOTPLUGGABLE",
      /disk bus 'sata' cannot be hotplugged/,
    );
    await assert.rejects(
      conn.domainAttachDeviceFlags(dom, diskXml.replace("bus='virtio'", "bus='bogus'"), F.LIVE),
      (e: unknown) => isVirtError(e) && /bogus/.test(e.message),
    );
    await rejects(
      conn.domainDetachDeviceFlags(
        dom,
        "<disk type='file' device='disk'><target dev='vdz' bus='virtio'/></disk>",
        F.LIVE,
      ),
      "HOTPLUG_DISK_NOT_FOUND",
      /disk vdz not found/,
    );
    await rejects(
      conn.domainAttachDeviceFlags(dom, "<sound model='ich9'/>", F.LIVE),
      "HOTPLUG_DEVICE_KIND_UNSUPPORTED",
      /sound/,
    );
    assert.equal(await conn.domainGetXMLDesc(dom, 0), live, "failed calls changed nothing");

    // --- the live definition survives a driver restart; detach works from the new instance ----
    await con.close();
    await conn.connectClose();
    conn = await tr.open({ sysfsRoot: usbFs.root });
    const dom2 = await conn.domainLookupByName("hp");
    const con2 = await ConsoleReader.open(conn, dom2);
    await conn.connectDomainEventRegisterAny(null, DomainEventId.DEVICE_REMOVED, (_d, e) => {
      if (e.id === DomainEventId.DEVICE_REMOVED) removed.push(e.devAlias);
    });
    assert.match(
      await conn.domainGetXMLDesc(dom2, 0),
      /<target dev='vdb' bus='virtio'\/>\s*<alias name='virtio-disk1'\/>/,
    );
    const nodesWithDisk = await blockNodes(conn, "hp");
    await conn.domainDetachDeviceFlags(dom2, diskXml, F.LIVE);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, 0), /vdb/);
    assert.ok(!(await qemuDevices(conn, "hp")).includes("virtio-disk1"));
    const nodesAfter = await blockNodes(conn, "hp");
    assert.equal(
      nodesAfter.length,
      nodesWithDisk.length - 2,
      `format+storage nodes deleted: ${nodesAfter.join(" ")}`,
    );
    from = con2.text.length;
    await con2.waitFor(/DISKS-END 2\b/, 60_000, from);

    // --- CD-ROM media change: 1 MiB → 3 MiB (6144 sectors), then eject ------------------------
    const cd = (file?: string) =>
      `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>${file ? `<source file='${file}'/>` : ""}<target dev='hdc' bus='ide'/><readonly/></disk>`;
    await conn.domainUpdateDeviceFlags(dom2, cd(img("cd2.iso")), F.LIVE);
    await con2.waitFor(/DISK sr0 6144\b/, 60_000);
    assert.match(
      await conn.domainGetXMLDesc(dom2, 0),
      new RegExp(`<source file='${img("cd2.iso")}'/>\\s*<target dev='hdc'`),
    );
    assert.match(await conn.domainGetXMLDesc(dom2, DomainXMLFlags.INACTIVE), /cd1\.iso/, "live only");
    await rejects(
      conn.domainUpdateDeviceFlags(dom2, cd(img("missing.iso")), F.LIVE),
      "HOTPLUG_SOURCE_MISSING",
    );
    await conn.domainUpdateDeviceFlags(dom2, cd(), F.LIVE | F.CONFIG);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, 0), /cd[12]\.iso/);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, DomainXMLFlags.INACTIVE), /cd[12]\.iso/);
    const qmp = conn.driver.domains.byName("hp")!.run!.qmp!;
    const cdBlock = async () =>
      ((await qmp.execute("query-block")) as { qdev?: string; inserted?: { file?: string } }[]).find(
        (b) => b.qdev === "ide0-1-0",
      );
    assert.equal((await cdBlock())?.inserted, undefined, "tray empty in QEMU");
    // insert into the empty drive: the guest sees the 1 MiB medium again
    await conn.domainUpdateDeviceFlags(dom2, cd(img("cd1.iso")), F.LIVE);
    from = con2.text.length;
    await con2.waitFor(/DISK sr0 2048\b/, 60_000, from);
    assert.equal((await cdBlock())?.inserted?.file, img("cd1.iso"));
    assert.equal((await blockNodes(conn, "hp")).length, nodesAfter.length, "old medium's nodes deleted");

    // --- USB host device by vendor/product ----------------------------------------------------
    const usb =
      "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>";
    await conn.domainAttachDeviceFlags(dom2, usb, F.LIVE);
    live = await conn.domainGetXMLDesc(dom2, 0);
    assert.match(
      live,
      /<vendor id='0x1234'\/>\s*<product id='0x5678'\/>\s*<address bus='1' device='5'\/>\s*<\/source>\s*<alias name='hostdev0'\/>\s*<address type='usb' bus='0' port='\d+'\/>/,
    );
    assert.ok((await qemuDevices(conn, "hp")).includes("hostdev0"));
    await rejects(conn.domainAttachDeviceFlags(dom2, usb, F.LIVE), "HOTPLUG_DEVICE_EXISTS");
    await conn.domainDetachDeviceFlags(dom2, usb, F.LIVE);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, 0), /hostdev/);
    assert.ok(!(await qemuDevices(conn, "hp")).includes("hostdev0"));
    await rejects(
      conn.domainDetachDeviceFlags(dom2, usb, F.LIVE),
      "HOTPLUG_HOSTDEV_NOT_FOUND",
      /host usb device vendor=0x1234 product=0x5678 not found/,
    );

    // --- user-mode interface --------------------------------------------------------------------
    const nic = "<interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>";
    await conn.domainAttachDeviceFlags(dom2, nic, F.LIVE);
    assert.match(
      await conn.domainGetXMLDesc(dom2, 0),
      /<interface type='user'>\s*<mac address='52:54:00:aa:bb:cc'\/>\s*<model type='virtio'\/>\s*<alias name='net0'\/>/,
    );
    assert.ok((await qemuDevices(conn, "hp")).includes("net0"));
    // update-device: the link goes down (QMP set_link on the NIC; QEMU refuses unknown names)
    await conn.domainUpdateDeviceFlags(
      dom2,
      nic.replace("</interface>", "<link state='down'/></interface>"),
      F.LIVE,
    );
    assert.match(await conn.domainGetXMLDesc(dom2, 0), /<link state='down'\/>/);
    await conn.domainUpdateDeviceFlags(dom2, nic, F.LIVE);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, 0), /<link state/);
    await conn.domainDetachDeviceFlags(dom2, nic, F.LIVE);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, 0), /<interface/);
    await rejects(
      conn.domainDetachDeviceFlags(dom2, nic, F.LIVE),
      "HOTPLUG_NET_NOT_FOUND",
      /52:54:00:aa:bb:cc/,
    );

    // --- --config alone: only the persistent definition -----------------------------------------
    const other = diskXml.replace("vdb", "vdc").replace("data.qcow2", "other.qcow2");
    const liveBefore = await conn.domainGetXMLDesc(dom2, 0);
    const devsBefore = await qemuDevices(conn, "hp");
    await conn.domainAttachDeviceFlags(dom2, other, F.CONFIG);
    assert.equal(await conn.domainGetXMLDesc(dom2, 0), liveBefore);
    assert.deepEqual(await qemuDevices(conn, "hp"), devsBefore);
    assert.match(
      await conn.domainGetXMLDesc(dom2, DomainXMLFlags.INACTIVE),
      /<target dev='vdc' bus='virtio'\/>\s*<address type='pci'/,
    );
    await rejects(conn.domainAttachDeviceFlags(dom2, other, F.CONFIG), "HOTPLUG_TARGET_EXISTS");
    await conn.domainDetachDeviceFlags(dom2, other, F.CONFIG);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom2, DomainXMLFlags.INACTIVE), /vdc/);
    await rejects(
      conn.domainDetachDeviceFlags(dom2, other, F.CONFIG),
      "HOTPLUG_CONFIG_TARGET_NOT_FOUND",
      /no target device vdc/,
    );

    // --- QEMU refuses the device: the nodes added before device_add are removed -----------------
    const nodes0 = await blockNodes(conn, "hp");
    const bad = other.replace("</disk>", "<blockio logical_block_size='3'/></disk>");
    await assert.rejects(
      conn.domainAttachDeviceFlags(dom2, bad, F.LIVE),
      (e: unknown) => isVirtError(e) && e.code === "QEMU_COMMAND_FAILED",
    );
    assert.deepEqual(await blockNodes(conn, "hp"), nodes0, "no leftover block nodes");
    assert.equal(await conn.domainGetXMLDesc(dom2, 0), liveBefore, "live definition unchanged");
    assert.deepEqual(await qemuDevices(conn, "hp"), devsBefore);
    await con2.close();

    assert.ok(
      removed.includes("virtio-disk1") && removed.includes("hostdev0") && removed.includes("net0"),
      removed.join(" "),
    );

    // --- a guest that does not release the device: a paused one ------------------------------
    await conn.domainAttachDeviceFlags(dom2, other, F.LIVE | F.CONFIG);
    assert.match(await conn.domainGetXMLDesc(dom2, 0), /<target dev='vdc'/);
    assert.match(await conn.domainGetXMLDesc(dom2, DomainXMLFlags.INACTIVE), /<target dev='vdc'/);
    await conn.domainSuspend(dom2);
    const saved = hotplugTimeouts.detachMs;
    hotplugTimeouts.detachMs = 1500;
    try {
      await rejects(
        conn.domainDetachDeviceFlags(dom2, other, F.LIVE),
        "HOTPLUG_DETACH_TIMEOUT",
        /did not release device 'virtio-disk2'.*within 1\.5 s/,
      );
    } finally {
      hotplugTimeouts.detachMs = saved;
    }
    assert.match(await conn.domainGetXMLDesc(dom2, 0), /<target dev='vdc'/, "still in the live definition");
    await rejects(conn.domainDetachDeviceFlags(dom2, other, F.LIVE), "HOTPLUG_DETACH_PENDING");
    await conn.domainResume(dom2);
    // the guest now releases it: the pending unplug completes by itself
    const deadline = Date.now() + 60_000;
    while (/<target dev='vdc'/.test(await conn.domainGetXMLDesc(dom2, 0))) {
      assert.ok(Date.now() < deadline, "the device left the live definition after the guest released it");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(!(await qemuDevices(conn, "hp")).includes("virtio-disk2"));
    assert.deepEqual(await blockNodes(conn, "hp"), nodes0, "its block nodes are gone too");
    assert.match(
      await conn.domainGetXMLDesc(dom2, DomainXMLFlags.INACTIVE),
      /<target dev='vdc'/,
      "config kept",
    );
    await conn.domainDetachDeviceFlags(dom2, other, F.CONFIG);

    // --- scope errors ---------------------------------------------------------------------------
    await conn.domainDestroy(dom2);
    await rejects(conn.domainAttachDeviceFlags(dom2, other, F.LIVE), "DOMAIN_NOT_RUNNING");
    await conn.domainAttachDeviceFlags(dom2, other, F.CURRENT);
    assert.match(await conn.domainGetXMLDesc(dom2, 0), /vdc/, "current = config when inactive");
  } finally {
    await conn.connectClose().catch(() => undefined);
    await tr.cleanup();
    usbFs.dispose();
  }
});

test("hotplug scopes on an inactive and on a transient domain: --config of filesystems and controllers, LIVE and CONFIG refused", async (t) => {
  const xml = await guestXML(t, { name: "hs", mode: "idle" });
  if (xml === undefined) return;
  const tr = makeTestRoot("tvirt-hotplug-scope-");
  const conn = await tr.open();
  try {
    const dom = await conn.domainDefineXML(xml);
    const original = await conn.domainGetXMLDesc(dom, 0);
    const fs = `<filesystem type='mount' accessmode='passthrough'><source dir='${tr.root}'/><target dir='share'/></filesystem>`;
    await rejects(conn.domainAttachDeviceFlags(dom, fs, F.LIVE), "DOMAIN_NOT_RUNNING");
    await conn.domainAttachDeviceFlags(dom, fs, F.CURRENT);
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<target dir='share'\/>/);
    await conn.domainAttachDeviceFlags(
      dom,
      "<controller type='scsi' index='0' model='virtio-scsi'/>",
      F.CONFIG,
    );
    assert.match(
      await conn.domainGetXMLDesc(dom, 0),
      /<controller type='scsi' index='0' model='virtio-scsi'>\s*<address type='pci'/,
    );
    await conn.domainDetachDeviceFlags(dom, fs, F.CONFIG);
    await conn.domainDetachDeviceFlags(dom, "<controller type='scsi' index='0'/>", F.CONFIG);
    assert.equal(
      await conn.domainGetXMLDesc(dom, 0),
      original,
      "attach + detach leave the definition as it was",
    );
    await rejects(conn.domainDetachDeviceFlags(dom, fs, F.CONFIG), "HOTPLUG_DEVICE_NOT_FOUND");
    await conn.domainUndefine(dom);

    // a transient domain (started paused: QEMU runs, the guest does not) has no config to change
    const tdom = await conn.domainCreateXML(xml.replace("<name>hs</name>", "<name>hs-t</name>"), 1);
    tr.track(conn);
    await rejects(
      conn.domainAttachDeviceFlags(tdom, fs, F.CONFIG),
      "HOTPLUG_TRANSIENT_CONFIG",
      /transient domains do not have any persistent config/,
    );
    await rejects(
      conn.domainAttachDeviceFlags(tdom, fs, F.LIVE),
      "HOTPLUG_DEVICE_KIND_UNSUPPORTED",
      /filesystem/,
    );
    // network interfaces are plugged live (net-plug.netns.test.ts); this root has no network
    await rejects(
      conn.domainAttachDeviceFlags(
        tdom,
        "<interface type='network'><source network='default'/></interface>",
        F.LIVE,
      ),
      "NETWORK_NOT_FOUND",
      /no network with matching name 'default'/,
    );
    // ethernet taps and macvtaps are plugged live too (net-direct.netns.test.ts); a macvtap's
    // parent is checked before anything is made (a name no host has: the host is not touched)
    await rejects(
      conn.domainAttachDeviceFlags(
        tdom,
        "<interface type='direct'><source dev='tvirtnosuch0'/></interface>",
        F.LIVE,
      ),
      "QEMU_NET_DIRECT_FAILED",
      /host interface 'tvirtnosuch0' does not exist/,
    );
    await conn.domainDestroy(tdom);
  } finally {
    await conn.connectClose().catch(() => undefined);
    await tr.cleanup();
  }
});
