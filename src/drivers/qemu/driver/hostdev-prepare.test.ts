/**
 * Host device preparation against a fake sysfs tree: libvirt's bind-to-vfio sequence and its
 * reverse, in order; the IOMMU group check; refusal of devices the host uses; managed='no';
 * rollback of a sequence that fails half way; USB lookup by vendor/product and bus/device.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { HostdevDef } from "../../../conf/domain/types.ts";
import { makeFakeSysfs, type FakeSysfs } from "../../../testing/host/sysfs.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { domainHostdevs, prepareHostdevs, resolveUsbHostdev } from "./hostdev-prepare.ts";

function pci(addr: string, managed: boolean): HostdevDef {
  const [d, b, rest] = addr.split(":") as [string, string, string];
  const [s, f] = rest.split(".") as [string, string];
  return {
    mode: "subsystem",
    type: "pci",
    managed,
    source: {
      pciAddress: {
        domain: parseInt(d, 16),
        bus: parseInt(b, 16),
        slot: parseInt(s, 16),
        function: parseInt(f, 16),
      },
    },
  };
}

function usb(src: HostdevDef["source"]): HostdevDef {
  return { mode: "subsystem", type: "usb", source: src };
}

async function rejectsWith(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVirtError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, text);
    return true;
  });
}

let fs: FakeSysfs;
before(() => {
  fs = makeFakeSysfs({
    pci: [
      { addr: "0000:03:00.0", driver: "e1000e", group: 5 },
      { addr: "0000:03:00.1", group: 5 }, // unbound: the group stays viable
      { addr: "0000:04:00.0", driver: "igb", group: 7 },
      { addr: "0000:04:00.1", driver: "igb", group: 7 },
      { addr: "0000:05:00.0", driver: "vfio-pci", group: 8 },
      { addr: "0000:06:00.0", driver: "virtio-pci", group: 9 },
      { addr: "0000:00:19.0", driver: "e1000e", group: 6, net: { name: "eno1", up: true } },
      {
        addr: "0000:07:00.0",
        driver: "nvme",
        group: 10,
        class: "0x010802",
        block: { name: "nvme0n1", holders: ["dm-0"] },
      },
      { addr: "0000:08:00.0", driver: "e1000e" }, // no IOMMU group
      { addr: "0000:09:00.0", driver: "ixgbe", group: 11, refusesVfio: true },
      { addr: "0000:00:1c.0", driver: "pcieport", group: 12, class: "0x060400" },
    ],
    usb: [
      { sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" },
      { sysname: "2-1", bus: 2, device: 3, vendor: "abcd", product: "0001" },
      { sysname: "2-2", bus: 2, device: 4, vendor: "abcd", product: "0001" },
    ],
  });
});
after(() => {
  fs.dispose();
});

describe("PCI hostdevs, managed='yes'", () => {
  test("binds to vfio-pci in libvirt's order and gives the device back in reverse", async () => {
    fs.writes.length = 0;
    const h = await prepareHostdevs(fs.root, "vm1", [pci("0000:03:00.0", true)]);
    assert.deepEqual(fs.writes, [
      "bus/pci/devices/0000:03:00.0/driver_override=vfio-pci",
      "bus/pci/drivers/e1000e/unbind=0000:03:00.0",
      "bus/pci/drivers_probe=0000:03:00.0",
    ]);
    assert.equal(fs.driverOf("0000:03:00.0"), "vfio-pci");
    assert.deepEqual(h.detached, ["0000:03:00.0"]);

    // another domain cannot have it, nothing is written
    fs.writes.length = 0;
    await rejectsWith(
      prepareHostdevs(fs.root, "vm2", [pci("0000:03:00.0", true)]),
      "HOSTDEV_IN_USE",
      /PCI device 0000:03:00.0 is in use by driver QEMU, domain vm1/,
    );
    assert.deepEqual(fs.writes, []);

    await h.release();
    assert.deepEqual(fs.writes, [
      "bus/pci/drivers/vfio-pci/unbind=0000:03:00.0",
      "bus/pci/devices/0000:03:00.0/driver_override=\n",
      "bus/pci/drivers_probe=0000:03:00.0",
    ]);
    assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
    assert.equal(fs.overrideOf("0000:03:00.0"), "(null)");
    // idempotent, and the device is free again
    fs.writes.length = 0;
    await h.release();
    assert.deepEqual(fs.writes, []);
    const again = await prepareHostdevs(fs.root, "vm2", [pci("0000:03:00.0", true)]);
    await again.release();
    assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
  });

  test("a device whose IOMMU group holds a host-bound device is refused, unless assigned together", async () => {
    fs.writes.length = 0;
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:04:00.0", true)]),
      "HOSTDEV_GROUP_NOT_VIABLE",
      /IOMMU group 7 also holds 0000:04:00.1, bound to host driver 'igb'/,
    );
    assert.deepEqual(fs.writes, []);
    assert.equal(fs.driverOf("0000:04:00.0"), "igb");
    const h = await prepareHostdevs(fs.root, "vm1", [pci("0000:04:00.0", true), pci("0000:04:00.1", true)]);
    assert.equal(fs.driverOf("0000:04:00.0"), "vfio-pci");
    assert.equal(fs.driverOf("0000:04:00.1"), "vfio-pci");
    assert.equal(fs.writes.length, 6);
    await h.release();
    assert.equal(fs.driverOf("0000:04:00.0"), "igb");
    assert.equal(fs.driverOf("0000:04:00.1"), "igb");
  });

  test("devices the host uses are never touched", async () => {
    fs.writes.length = 0;
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:00:19.0", true)]),
      "HOSTDEV_HOST_DEVICE",
      /0000:00:19.0 is used by the host.*network interface 'eno1', which is up/,
    );
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:06:00.0", true)]),
      "HOSTDEV_HOST_DEVICE",
      /bound to 'virtio-pci', a driver tvirt never unbinds/,
    );
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:07:00.0", true)]),
      "HOSTDEV_HOST_DEVICE",
      /block device 'nvme0n1', which is in use \(holders: dm-0\)/,
    );
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:00:1c.0", true)]),
      "HOSTDEV_HOST_DEVICE",
      /PCI bridge/,
    );
    // one refused device stops the whole call before any write
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:03:00.0", true), pci("0000:00:19.0", true)]),
      "HOSTDEV_HOST_DEVICE",
      /eno1/,
    );
    assert.deepEqual(fs.writes, []);
    assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
  });

  test("no IOMMU group and unknown devices are clear errors", async () => {
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:08:00.0", true)]),
      "HOSTDEV_NO_IOMMU_GROUP",
      /no IOMMU group for PCI device 0000:08:00.0: \/sys\/bus\/pci\/devices\/0000:08:00.0\/iommu_group does not exist/,
    );
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:0a:00.0", true)]),
      "HOSTDEV_PCI_NOT_FOUND",
      /PCI device 0000:0a:00.0 not found/,
    );
  });

  test("a bind that fails half way gives back every device already bound", async () => {
    fs.writes.length = 0;
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:03:00.0", true), pci("0000:09:00.0", true)]),
      "HOSTDEV_BIND_FAILED",
      /0000:09:00.0 did not bind to vfio-pci/,
    );
    assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
    assert.equal(fs.driverOf("0000:09:00.0"), "ixgbe");
    assert.equal(fs.overrideOf("0000:03:00.0"), "(null)");
    assert.equal(fs.overrideOf("0000:09:00.0"), "(null)");
    assert.equal(fs.writes[0], "bus/pci/devices/0000:03:00.0/driver_override=vfio-pci");
    assert.equal(fs.writes.at(-1), "bus/pci/drivers_probe=0000:03:00.0");
    // and the devices are free for the next try
    const h = await prepareHostdevs(fs.root, "vm1", [pci("0000:03:00.0", true)]);
    await h.release();
  });
});

describe("PCI hostdevs, managed='no'", () => {
  test("must already be on vfio-pci; nothing is written either way", async () => {
    fs.writes.length = 0;
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [pci("0000:03:00.0", false)]),
      "HOSTDEV_NOT_ON_VFIO",
      /0000:03:00.0 has managed='no' but is bound to 'e1000e': bind it to vfio-pci first/,
    );
    const h = await prepareHostdevs(fs.root, "vm1", [pci("0000:05:00.0", false)]);
    assert.deepEqual(h.pci, ["0000:05:00.0"]);
    assert.deepEqual(h.detached, []);
    await h.release();
    assert.deepEqual(fs.writes, []);
    assert.equal(fs.driverOf("0000:05:00.0"), "vfio-pci");
  });
});

describe("without drivers_probe", () => {
  test("binds through drivers/vfio-pci/bind and gives back through drivers/<orig>/bind", async () => {
    const f = makeFakeSysfs({
      pci: [{ addr: "0000:03:00.0", driver: "e1000e", group: 1 }],
      noDriversProbe: true,
    });
    try {
      const h = await prepareHostdevs(f.root, "vm1", [pci("0000:03:00.0", true)]);
      await h.release();
      assert.deepEqual(f.writes, [
        "bus/pci/devices/0000:03:00.0/driver_override=vfio-pci",
        "bus/pci/drivers/e1000e/unbind=0000:03:00.0",
        "bus/pci/drivers/vfio-pci/bind=0000:03:00.0",
        "bus/pci/drivers/vfio-pci/unbind=0000:03:00.0",
        "bus/pci/devices/0000:03:00.0/driver_override=\n",
        "bus/pci/drivers/e1000e/bind=0000:03:00.0",
      ]);
      assert.equal(f.driverOf("0000:03:00.0"), "e1000e");
    } finally {
      f.dispose();
    }
  });

  test("a tree without the vfio-pci driver is refused before any write", async () => {
    const f = makeFakeSysfs({
      pci: [{ addr: "0000:03:00.0", driver: "e1000e", group: 1 }],
      drivers: ["e1000e"],
    });
    try {
      await rejectsWith(
        prepareHostdevs(f.root, "vm1", [pci("0000:03:00.0", true)]),
        "HOSTDEV_VFIO_MISSING",
        /vfio-pci driver is not loaded/,
      );
      assert.deepEqual(f.writes, []);
    } finally {
      f.dispose();
    }
  });
});

describe("USB hostdevs", () => {
  test("vendor/product and bus/device resolve to QEMU's hostbus/hostaddr", async () => {
    assert.deepEqual(resolveUsbHostdev(fs.root, { vendor: 0x1234, product: 0x5678 }), { bus: 1, device: 5 });
    assert.deepEqual(resolveUsbHostdev(fs.root, { usbAddress: { bus: 2, device: 4 } }), {
      bus: 2,
      device: 4,
    });
    const h = usb({ vendor: 0x1234, product: 0x5678 });
    const handle = await prepareHostdevs(fs.root, "vm1", [h]);
    assert.deepEqual(h.source.usbAddress, { bus: 1, device: 5 });
    await handle.release();
  });

  test("not found and ambiguous are clear errors; optional devices may be absent", async () => {
    assert.throws(
      () => resolveUsbHostdev(fs.root, { vendor: 0x1111, product: 0x2222 }),
      /USB device 1111:2222 not found: no match in \/sys\/bus\/usb\/devices/,
    );
    assert.throws(
      () => resolveUsbHostdev(fs.root, { usbAddress: { bus: 9, device: 9 } }),
      /USB device bus 9 device 9 not found/,
    );
    assert.throws(
      () => resolveUsbHostdev(fs.root, { vendor: 0xabcd, product: 0x0001 }),
      /USB device abcd:0001 is ambiguous: 2 devices match \(bus 2 device 3, bus 2 device 4\)/,
    );
    const opt = usb({ vendor: 0x1111, product: 0x2222, startupPolicy: "optional" });
    const h = await prepareHostdevs(fs.root, "vm1", [opt]);
    assert.deepEqual(h.missingOptional, [opt]);
    await rejectsWith(
      prepareHostdevs(fs.root, "vm1", [usb({ vendor: 0x1111, product: 0x2222 })]),
      "HOSTDEV_USB_NOT_FOUND",
      /USB device 1111:2222 not found/,
    );
  });
});

describe("interface type='hostdev'", () => {
  test("its PCI device is a managed hostdev of the domain", async () => {
    const { def } = parseDomainXML(
      `<domain type='qemu'><name>n1</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices>
        <interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></interface>
      </devices></domain>`,
      { noDefaults: true },
    );
    const list = domainHostdevs(def);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.managed, true);
    fs.writes.length = 0;
    const h = await prepareHostdevs(fs.root, "n1", list);
    assert.equal(fs.driverOf("0000:03:00.0"), "vfio-pci");
    await h.release();
    assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
    assert.equal(fs.writes.length, 6);
  });
});
