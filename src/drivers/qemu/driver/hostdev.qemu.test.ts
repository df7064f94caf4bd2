/**
 * Domain start with host devices, on real QEMU with a fake sysfs tree as the driver's sysfs
 * root: a managed PCI hostdev is bound to vfio-pci before QEMU is spawned; QEMU cannot take it
 * (this host has no VFIO), so the start fails with QEMU's reason, and the device is given back
 * to its driver, in libvirt's order. A refused device stops the start before QEMU runs, and a
 * USB hostdev that is not there is a clear error.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { after, before, test } from "node:test";
import { makeFakeSysfs, type FakeSysfs } from "../../../testing/host/sysfs.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { DomainState } from "../../enums.ts";
import { makeTestRoot, type TestRoot } from "../../../testing/qemu/driver.ts";

let fs: FakeSysfs;
let root: TestRoot;
before(() => {
  fs = makeFakeSysfs({
    pci: [
      { addr: "0000:03:00.0", driver: "e1000e", group: 5 },
      { addr: "0000:00:19.0", driver: "e1000e", group: 6, net: { name: "eno1", up: true } },
    ],
  });
  root = makeTestRoot("tvirt-hostdev-");
});
after(async () => {
  await root.cleanup();
  fs.dispose();
});

function xml(name: string, hostdev: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    ${hostdev}
  </devices>
</domain>`;
}

const pciHostdev = (bus: string, slot: string): string =>
  `<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='${bus}' slot='${slot}' function='0x0'/></source></hostdev>`;

test(
  "a managed PCI hostdev is prepared before QEMU and restored when QEMU fails",
  { timeout: 120_000 },
  async () => {
    const conn = await root.open({ sysfsRoot: fs.root, autostart: false });
    try {
      const dom = await conn.domainDefineXML(xml("hd1", pciHostdev("0x03", "0x00")));
      fs.writes.length = 0;
      await assert.rejects(conn.domainCreate(dom), (e: unknown) => {
        assert.ok(isVirtError(e), String(e));
        // QEMU's own reason: vfio cannot open the device on this host
        assert.match(e.message, /0000:03:00\.0/);
        assert.match(e.message, /vfio|iommu|VFIO/);
        return true;
      });
      assert.deepEqual(fs.writes, [
        "bus/pci/devices/0000:03:00.0/driver_override=vfio-pci",
        "bus/pci/drivers/e1000e/unbind=0000:03:00.0",
        "bus/pci/drivers_probe=0000:03:00.0",
        "bus/pci/drivers/vfio-pci/unbind=0000:03:00.0",
        "bus/pci/devices/0000:03:00.0/driver_override=\n",
        "bus/pci/drivers_probe=0000:03:00.0",
      ]);
      assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
      assert.equal(fs.overrideOf("0000:03:00.0"), "(null)");
      assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.SHUTOFF);

      // the device is free again: the next start prepares it again (and fails the same way)
      fs.writes.length = 0;
      await assert.rejects(conn.domainCreate(dom));
      assert.equal(fs.writes.length, 6);
      assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
    } finally {
      root.track(conn);
      await conn.connectClose();
    }
  },
);

test(
  "a refused hostdev stops the start before QEMU runs, with nothing written",
  { timeout: 60_000 },
  async () => {
    const conn = await root.open({ sysfsRoot: fs.root, autostart: false });
    try {
      const dom = await conn.domainDefineXML(xml("hd2", pciHostdev("0x00", "0x19")));
      fs.writes.length = 0;
      await assert.rejects(conn.domainCreate(dom), /PCI device 0000:00:19.0 is used by the host.*'eno1'/);
      assert.deepEqual(fs.writes, []);
      const usb = await conn.domainDefineXML(
        xml(
          "hd3",
          "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>",
        ),
      );
      await assert.rejects(
        conn.domainCreate(usb),
        /USB device 1234:5678 not found: this host has no USB bus/,
      );
      assert.equal(root.pidsOf("hd2"), 0);
      assert.equal(root.pidsOf("hd3"), 0);
    } finally {
      root.track(conn);
      await conn.connectClose();
    }
  },
);

test(
  "an unassigned managed hostdev stays on vfio-pci while the guest runs and is given back when it stops",
  { timeout: 120_000 },
  async () => {
    const hostdev = `<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source><address type='unassigned'/></hostdev>`;
    let conn = await root.open({ sysfsRoot: fs.root, autostart: false });
    try {
      const dom = await conn.domainDefineXML(xml("hd4", hostdev));
      fs.writes.length = 0;
      await conn.domainCreate(dom);
      root.track(conn);
      assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.RUNNING);
      assert.equal(fs.driverOf("0000:03:00.0"), "vfio-pci");
      assert.equal(fs.writes.length, 3);

      // a driver restart (the guest keeps running) holds the device again without writing
      await conn.connectClose();
      conn = await root.open({ sysfsRoot: fs.root, autostart: false });
      assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.RUNNING);
      assert.equal(fs.writes.length, 3);
      assert.equal(fs.driverOf("0000:03:00.0"), "vfio-pci");
      // still held: another domain cannot take it
      const other = await conn.domainDefineXML(xml("hd5", hostdev));
      await assert.rejects(conn.domainCreate(other), /in use by driver QEMU, domain hd4/);

      await conn.domainDestroy(dom);
      assert.deepEqual(fs.writes.slice(3), [
        "bus/pci/drivers/vfio-pci/unbind=0000:03:00.0",
        "bus/pci/devices/0000:03:00.0/driver_override=\n",
        "bus/pci/drivers_probe=0000:03:00.0",
      ]);
      assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
    } finally {
      root.track(conn);
      await conn.connectClose();
    }
  },
);

test(
  "on the real host (/sys, no IOMMU) the start fails before QEMU with nothing changed",
  { timeout: 60_000 },
  async (t) => {
    const base = "/sys/bus/pci/devices";
    const addr = (existsSync(base) ? readdirSync(base) : []).find(
      (a) => !existsSync(`${base}/${a}/iommu_group`),
    );
    if (addr === undefined) {
      t.skip("every PCI device of this host has an IOMMU group");
      return;
    }
    const [, bus, rest] = addr.split(":") as [string, string, string];
    const [slot] = rest.split(".") as [string];
    const before = readdirSync(base).map(
      (a) => `${a}:${existsSync(`${base}/${a}/driver`) ? readlinkSync(`${base}/${a}/driver`) : "-"}`,
    );
    const conn = await root.open({ autostart: false });
    try {
      const dom = await conn.domainDefineXML(xml("hd6", pciHostdev(`0x${bus}`, `0x${slot}`)));
      await assert.rejects(conn.domainCreate(dom), (e: unknown) => {
        assert.ok(isVirtError(e));
        assert.equal(e.code, "HOSTDEV_NO_IOMMU_GROUP");
        assert.match(e.message, new RegExp(`no IOMMU group for PCI device ${addr.replace(/\./g, "\\.")}`));
        return true;
      });
      assert.equal(root.pidsOf("hd6"), 0);
      assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.SHUTOFF);
    } finally {
      root.track(conn);
      await conn.connectClose();
    }
    assert.deepEqual(
      readdirSync(base).map(
        (a) => `${a}:${existsSync(`${base}/${a}/driver`) ? readlinkSync(`${base}/${a}/driver`) : "-"}`,
      ),
      before,
    );
  },
);

test(
  "hotplug of host devices: managed PCI bound before device_add and given back on refusal, detach and stop; USB by vendor/product",
  { timeout: 180_000 },
  async () => {
    const usbFs = makeFakeSysfs({
      pci: [{ addr: "0000:04:00.0", driver: "e1000e", group: 7 }],
      usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" }],
    });
    const F = { LIVE: 1 };
    const dev = "0000:04:00.0";
    const managed = `<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source></hostdev>`;
    const unassigned = managed.replace("</hostdev>", "<address type='unassigned'/></hostdev>");
    const usb = `<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>`;
    const bindSequence = [
      `bus/pci/devices/${dev}/driver_override=vfio-pci`,
      `bus/pci/drivers/e1000e/unbind=${dev}`,
      `bus/pci/drivers_probe=${dev}`,
    ];
    const restoreSequence = [
      `bus/pci/drivers/vfio-pci/unbind=${dev}`,
      `bus/pci/devices/${dev}/driver_override=\n`,
      `bus/pci/drivers_probe=${dev}`,
    ];
    const conn = await root.open({ sysfsRoot: usbFs.root, autostart: false });
    const realRoot = makeTestRoot("tvirt-hostdev-real-");
    const real = await realRoot.open({ autostart: false });
    try {
      // ACPI: i440fx hotplugs PCI devices through it
      const dom = await conn.domainDefineXML(
        xml("hp1", "").replace("</os>", "</os><features><acpi/></features>"),
      );
      await conn.domainCreate(dom);
      root.track(conn);

      // QEMU cannot take a vfio device here: the device was bound first, then given back
      usbFs.writes.length = 0;
      await assert.rejects(conn.domainAttachDeviceFlags(dom, managed, F.LIVE), /0000:04:00\.0/);
      assert.deepEqual(usbFs.writes, [...bindSequence, ...restoreSequence]);
      assert.equal(usbFs.driverOf(dev), "e1000e");
      assert.doesNotMatch(await conn.domainGetXMLDesc(dom, 0), /<hostdev/);

      // unassigned: taken from the host for the domain, detach gives it back
      usbFs.writes.length = 0;
      await conn.domainAttachDeviceFlags(dom, unassigned, F.LIVE);
      assert.deepEqual(usbFs.writes, bindSequence);
      assert.equal(usbFs.driverOf(dev), "vfio-pci");
      assert.match(
        await conn.domainGetXMLDesc(dom, 0),
        /<hostdev mode='subsystem' type='pci' managed='yes'>/,
      );
      await conn.domainDetachDeviceFlags(dom, unassigned, F.LIVE);
      assert.deepEqual(usbFs.writes, [...bindSequence, ...restoreSequence]);
      assert.equal(usbFs.driverOf(dev), "e1000e");
      assert.doesNotMatch(await conn.domainGetXMLDesc(dom, 0), /<hostdev/);

      // attached again, then the guest stops: given back
      usbFs.writes.length = 0;
      await conn.domainAttachDeviceFlags(dom, unassigned, F.LIVE);
      assert.equal(usbFs.driverOf(dev), "vfio-pci");

      // USB found under the sysfs root: QEMU gets usb-host with its bus and address
      await conn.domainAttachDeviceFlags(dom, usb, F.LIVE);
      const qmp = conn.driver.domains.byName("hp1")?.run?.qmp;
      assert.ok(qmp);
      const vendorid = (await qmp.execute("qom-get", {
        path: "/machine/peripheral/hostdev1",
        property: "vendorid",
      })) as number;
      assert.equal(vendorid, 0x1234);
      assert.match(await conn.domainGetXMLDesc(dom, 0), /<vendor id='0x1234'\/>\s*<product id='0x5678'\/>/);

      await conn.domainDestroy(dom);
      assert.deepEqual(usbFs.writes, [...bindSequence, ...restoreSequence]);
      assert.equal(usbFs.driverOf(dev), "e1000e");

      // the real host has no USB bus: not found, before QEMU is asked, nothing changed
      const rdom = await real.domainDefineXML(xml("hp2", ""));
      await real.domainCreate(rdom);
      realRoot.track(real);
      const before = await real.domainGetXMLDesc(rdom, 0);
      await assert.rejects(real.domainAttachDeviceFlags(rdom, usb, F.LIVE), (e: unknown) => {
        assert.ok(isVirtError(e), String(e));
        assert.match(e.message, /USB device 1234:5678 not found/);
        return true;
      });
      assert.equal(await real.domainGetXMLDesc(rdom, 0), before);
      await real.domainDestroy(rdom);
    } finally {
      root.track(conn);
      realRoot.track(real);
      await conn.connectClose();
      await real.connectClose();
      await realRoot.cleanup();
      usbFs.dispose();
    }
  },
);
