/**
 * Node device enumeration beyond PCI: the `computer` root from DMI, USB devices and interfaces,
 * disks (partitions, loop and zram skipped; the serial in the name), SCSI hosts, targets and
 * devices, with libvirt's names, parents and XML.
 */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { after, before, test } from "node:test";
import { Sysfs } from "../sysfs/sysfs.ts";
import { makeFakeSysfs, type FakeSysfs } from "../../testing/host/sysfs.ts";
import { listNodeDevices, nodeDevName, pciAddrOfName } from "./enumerate.ts";
import { formatNodeDeviceXML } from "./xml.ts";

let fs: FakeSysfs;
before(() => {
  fs = makeFakeSysfs({
    pci: [{ addr: "0000:00:1f.2", driver: "ahci", group: 3, class: "0x010601" }],
    usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" }],
  });
  const file = (rel: string, text: string): void => {
    mkdirSync(dirname(join(fs.root, rel)), { recursive: true });
    writeFileSync(join(fs.root, rel), text);
  };
  const link = (rel: string, target: string): void => {
    mkdirSync(dirname(join(fs.root, rel)), { recursive: true });
    symlinkSync(relative(dirname(join(fs.root, rel)), join(fs.root, target)), join(fs.root, rel));
  };
  for (const [k, v] of Object.entries({
    sys_vendor: "ACME",
    product_name: "Box 9000",
    product_version: "1.0",
    product_uuid: "4c4c4544-0000-1111-2222-333333333333",
    bios_vendor: "SeaBIOS",
    bios_version: "1.16.2",
    bios_date: "04/01/2014",
  }))
    file(`devices/virtual/dmi/id/${k}`, `${v}\n`);
  // a USB interface below 1-2
  const usbIf = "devices/pci0000:00/0000:00:1d.0/usb1/1-2/1-2:1.0";
  file(`${usbIf}/bInterfaceNumber`, "00\n");
  file(`${usbIf}/bInterfaceClass`, "03\n");
  file(`${usbIf}/bInterfaceSubClass`, "01\n");
  file(`${usbIf}/bInterfaceProtocol`, "02\n");
  link("bus/usb/devices/1-2:1.0", usbIf);
  // SCSI below the AHCI controller: host0 / target0:0:0 / 0:0:0:0 / block sda (+ sda1), and a loop device
  const host = "devices/pci0000:00/0000:00:1f.2/ata1/host0";
  file(`${host}/scsi_host/host0/unique_id`, "1\n");
  link("class/scsi_host/host0", `${host}/scsi_host/host0`);
  file(`${host}/target0:0:0/0:0:0:0/type`, "0\n");
  link("bus/scsi/devices/target0:0:0", `${host}/target0:0:0`);
  link("bus/scsi/devices/0:0:0:0", `${host}/target0:0:0/0:0:0:0`);
  const sda = `${host}/target0:0:0/0:0:0:0/block/sda`;
  file(`${sda}/size`, "1000\n");
  file(`${sda}/removable`, "0\n");
  file(`${sda}/device/serial`, "WD-123 X\n");
  file(`${sda}/sda1/partition`, "1\n");
  link("class/block/sda", sda);
  link("class/block/sda1", `${sda}/sda1`);
  file("devices/virtual/block/loop0/size", "0\n");
  link("class/block/loop0", "devices/virtual/block/loop0");
});
after(() => {
  fs.dispose();
});

test("names and parents as libvirt's udev backend gives them", () => {
  const devs = listNodeDevices(new Sysfs(fs.root));
  const parents = Object.fromEntries(devs.map((d) => [d.name, d.parent ?? null]));
  assert.deepEqual(parents, {
    computer: null,
    block_sda_WD_123_X: "scsi_0_0_0_0",
    pci_0000_00_1f_2: "computer",
    scsi_0_0_0_0: "scsi_target0_0_0",
    scsi_host0: "pci_0000_00_1f_2",
    scsi_target0_0_0: "scsi_host0",
    usb_1_2: "computer",
    usb_1_2_1_0: "usb_1_2",
  });
  assert.equal(nodeDevName("net", "eth0", "52:54:00:12:34:56"), "net_eth0_52_54_00_12_34_56");
  assert.equal(pciAddrOfName("pci_0000_00_1f_2"), "0000:00:1f.2");
  assert.equal(pciAddrOfName("usb_1_2"), undefined);
});

test("XML of the system, storage, SCSI and USB interface devices", () => {
  const devs = new Map(listNodeDevices(new Sysfs(fs.root)).map((d) => [d.name, d]));
  assert.equal(
    formatNodeDeviceXML(devs.get("computer")!),
    `<device>
  <name>computer</name>
  <capability type='system'>
    <product>Box 9000</product>
    <hardware>
      <vendor>ACME</vendor>
      <version>1.0</version>
      <uuid>4c4c4544-0000-1111-2222-333333333333</uuid>
    </hardware>
    <firmware>
      <vendor>SeaBIOS</vendor>
      <version>1.16.2</version>
      <release_date>04/01/2014</release_date>
    </firmware>
  </capability>
</device>
`,
  );
  const sda = formatNodeDeviceXML(devs.get("block_sda_WD_123_X")!);
  assert.match(sda, /<devnode type='dev'>\/dev\/sda<\/devnode>\n {2}<parent>scsi_0_0_0_0<\/parent>/);
  assert.match(
    sda,
    /<capability type='storage'>\n {4}<block>\/dev\/sda<\/block>\n {4}<drive_type>disk<\/drive_type>\n {4}<serial>WD-123 X<\/serial>\n {4}<size>512000<\/size>\n {4}<logical_block_size>512<\/logical_block_size>\n {4}<num_blocks>1000<\/num_blocks>/,
  );
  assert.match(
    formatNodeDeviceXML(devs.get("scsi_0_0_0_0")!),
    /<host>0<\/host>\n {4}<bus>0<\/bus>\n {4}<target>0<\/target>\n {4}<lun>0<\/lun>\n {4}<type>disk<\/type>/,
  );
  assert.match(
    formatNodeDeviceXML(devs.get("scsi_host0")!),
    /<host>0<\/host>\n {4}<unique_id>1<\/unique_id>/,
  );
  assert.match(formatNodeDeviceXML(devs.get("scsi_target0_0_0")!), /<target>target0:0:0<\/target>/);
  assert.match(
    formatNodeDeviceXML(devs.get("usb_1_2_1_0")!),
    /<capability type='usb'>\n {4}<number>0<\/number>\n {4}<class>3<\/class>\n {4}<subclass>1<\/subclass>\n {4}<protocol>2<\/protocol>/,
  );
});
