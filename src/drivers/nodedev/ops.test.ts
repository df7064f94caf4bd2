/**
 * Node devices over a fake sysfs tree: names and parents as libvirt gives them, capability
 * filters, libvirt's nodedev XML, detach / re-attach / reset write sequences and refusals, and
 * tvirsh's nodedev commands (through an embedded QEMU driver whose sysfs root is the fake tree).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Sysfs } from "../../host/sysfs/sysfs.ts";
import { makeFakeSysfs, type FakeSysfs } from "../../testing/host/sysfs.ts";
import { isVirtError } from "../../util/errors/index.ts";
import * as ops from "./ops.ts";

let fs: FakeSysfs;
let sysfs: Sysfs;
before(() => {
  fs = makeFakeSysfs({
    pci: [
      {
        addr: "0000:00:19.0",
        driver: "e1000e",
        group: 6,
        net: { name: "eno1", up: true, mac: "aa:bb:cc:dd:ee:01" },
      },
      { addr: "0000:03:00.0", driver: "e1000e", group: 5, vendor: "0x8086", device: "0x10d3", reset: true },
      { addr: "0000:03:00.1", group: 5 },
      { addr: "0000:07:00.0", driver: "nvme", group: 10, class: "0x010802", block: { name: "nvme0n1" } },
    ],
    usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678", productName: "Gadget" }],
  });
  sysfs = new Sysfs(fs.root);
});
after(() => {
  fs.dispose();
});

const ALL = [
  "block_nvme0n1",
  "computer",
  "net_eno1_aa_bb_cc_dd_ee_01",
  "pci_0000_00_19_0",
  "pci_0000_03_00_0",
  "pci_0000_03_00_1",
  "pci_0000_07_00_0",
  "usb_1_2",
];

describe("listing", () => {
  test("names, parents and capability filters", () => {
    assert.deepEqual([...ops.listAllNodeDeviceNames(sysfs, 0, "t")].sort(), ALL);
    assert.deepEqual(ops.listAllNodeDeviceNames(sysfs, 1 << 1, "t"), [
      "pci_0000_00_19_0",
      "pci_0000_03_00_0",
      "pci_0000_03_00_1",
      "pci_0000_07_00_0",
    ]);
    assert.deepEqual(ops.listAllNodeDeviceNames(sysfs, (1 << 2) | (1 << 4), "t").sort(), [
      "net_eno1_aa_bb_cc_dd_ee_01",
      "usb_1_2",
    ]);
    // virsh always asks for active devices (1 << 31); only-inactive lists none
    assert.equal(ops.listAllNodeDeviceNames(sysfs, 2 ** 31, "t").length, ALL.length);
    assert.deepEqual(ops.listAllNodeDeviceNames(sysfs, 1 << 30, "t"), []);
    assert.throws(
      () => ops.listAllNodeDeviceNames(sysfs, 1 << 25, "qemuConnectListAllNodeDevices"),
      /unsupported flags \(0x2000000\) in function qemuConnectListAllNodeDevices/,
    );
    assert.equal(ops.nodeDeviceParent(sysfs, "net_eno1_aa_bb_cc_dd_ee_01"), "pci_0000_00_19_0");
    assert.equal(ops.nodeDeviceParent(sysfs, "block_nvme0n1"), "pci_0000_07_00_0");
    assert.equal(ops.nodeDeviceParent(sysfs, "pci_0000_03_00_0"), "computer");
    assert.equal(ops.nodeDeviceParent(sysfs, "computer"), null);
    assert.deepEqual(ops.nodeDeviceCapNames(sysfs, "usb_1_2"), ["usb_device"]);
    assert.throws(
      () => ops.lookupNodeDevice(sysfs, "pci_0000_0a_00_0"),
      /Node device not found: no node device with matching name 'pci_0000_0a_00_0'/,
    );
  });

  test("XML as libvirt writes it", () => {
    assert.equal(
      ops.nodeDeviceXML(sysfs, "pci_0000_03_00_0", 0, "t"),
      `<device>
  <name>pci_0000_03_00_0</name>
  <path>/sys/devices/pci0000:00/0000:03:00.0</path>
  <parent>computer</parent>
  <driver>
    <name>e1000e</name>
  </driver>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain>
    <bus>3</bus>
    <slot>0</slot>
    <function>0</function>
    <product id='0x10d3'/>
    <vendor id='0x8086'/>
    <iommuGroup number='5'>
      <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
      <address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/>
    </iommuGroup>
  </capability>
</device>
`,
    );
    const usb = ops.nodeDeviceXML(sysfs, "usb_1_2", 0, "t");
    assert.match(usb, /<devnode type='dev'>\/dev\/bus\/usb\/001\/005<\/devnode>/);
    assert.match(
      usb,
      /<capability type='usb_device'>\n {4}<bus>1<\/bus>\n {4}<device>5<\/device>\n {4}<product id='0x5678'>Gadget<\/product>\n {4}<vendor id='0x1234'\/>/,
    );
    const net = ops.nodeDeviceXML(sysfs, "net_eno1_aa_bb_cc_dd_ee_01", 0, "t");
    assert.match(
      net,
      /<interface>eno1<\/interface>\n {4}<address>aa:bb:cc:dd:ee:01<\/address>\n {4}<link state='up'\/>/,
    );
  });
});

describe("detach, re-attach, reset", () => {
  test("detach binds to vfio-pci, re-attach gives back, reset writes reset", () => {
    fs.writes.length = 0;
    ops.nodeDeviceDetach(sysfs, "pci_0000_03_00_0", "vfio", 0);
    assert.equal(fs.driverOf("0000:03:00.0"), "vfio-pci");
    ops.nodeDeviceReset(sysfs, "pci_0000_03_00_0");
    ops.nodeDeviceReAttach(sysfs, "pci_0000_03_00_0");
    assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
    assert.deepEqual(fs.writes, [
      "bus/pci/devices/0000:03:00.0/driver_override=vfio-pci",
      "bus/pci/drivers/e1000e/unbind=0000:03:00.0",
      "bus/pci/drivers_probe=0000:03:00.0",
      "bus/pci/devices/0000:03:00.0/reset=1",
      "bus/pci/drivers/vfio-pci/unbind=0000:03:00.0",
      "bus/pci/devices/0000:03:00.0/driver_override=\n",
      "bus/pci/drivers_probe=0000:03:00.0",
    ]);
  });

  test("refusals change nothing", () => {
    fs.writes.length = 0;
    const refused = (fn: () => void, re: RegExp): void => {
      assert.throws(fn, (e: unknown) => isVirtError(e) && re.test(e.message));
    };
    refused(() => {
      ops.nodeDeviceDetach(sysfs, "pci_0000_00_19_0", null, 0);
    }, /used by the host.*'eno1'/);
    refused(() => {
      ops.nodeDeviceReset(sysfs, "pci_0000_00_19_0");
    }, /used by the host/);
    refused(() => {
      ops.nodeDeviceReset(sysfs, "pci_0000_03_00_0");
    }, /bound to host driver 'e1000e': detach it/);
    refused(() => {
      ops.nodeDeviceDetach(sysfs, "usb_1_2", null, 0);
    }, /device usb_1_2 is not a PCI device/);
    refused(() => {
      ops.nodeDeviceDetach(sysfs, "pci_0000_03_00_0", "xen", 0);
    }, /unknown driver name 'xen'/);
    refused(() => {
      ops.nodeDeviceReset(sysfs, "pci_0000_03_00_1");
    }, /Unable to reset PCI device 0000:03:00.1/);
    assert.deepEqual(fs.writes, []);
  });
});
