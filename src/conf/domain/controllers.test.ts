import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDomainXML, parseDomainXML } from "./index.ts";
import type { PciAddress } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";

function domain(machine: string, devices: string, vcpus = 2): string {
  return `<domain type='qemu'>
  <name>t</name>
  <memory>1048576</memory>
  <vcpu>${vcpus}</vcpu>
  <os><type arch='x86_64' machine='${machine}'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${devices}
  </devices>
</domain>`;
}

const usb = (model: string, index?: number): string =>
  `<controller type='usb' model='${model}'${index === undefined ? "" : ` index='${index}'`}/>`;

function usbControllers(xml: string): string[] {
  const { def } = parseDomainXML(xml);
  return def.devices.controllers
    .filter((c) => c.type === "usb")
    .map((c) => `${c.index}:${c.model}${c.master ? `@${c.master.startport}` : ""}`);
}

test("ICH9 UHCI companions without <master> get their start port, and sort behind their EHCI1", () => {
  // indexes given, companions first in the XML
  assert.deepEqual(
    usbControllers(
      domain(
        "q35",
        [usb("ich9-uhci2", 0), usb("ich9-uhci1", 0), usb("ich9-uhci3", 0), usb("ich9-ehci1", 0)].join(""),
      ),
    ),
    ["0:ich9-ehci1", "0:ich9-uhci2@2", "0:ich9-uhci1@0", "0:ich9-uhci3@4"],
  );
  // no indexes: a group of USB2 controllers shares one index, a repeated model starts the next,
  // and the masters come first once indexed
  assert.deepEqual(
    usbControllers(
      domain(
        "q35",
        [
          usb("ich9-ehci1"),
          usb("ich9-uhci1"),
          usb("ich9-uhci1"),
          usb("ich9-uhci2"),
          usb("ich9-ehci1"),
          usb("qemu-xhci"),
        ].join(""),
      ),
    ),
    ["0:ich9-ehci1", "0:ich9-uhci1@0", "1:ich9-ehci1", "1:ich9-uhci1@0", "1:ich9-uhci2@2", "2:qemu-xhci"],
  );
});

test("<pcihole64> is read in any unit, written back in KiB, and refused on another machine's root bus", () => {
  const root = (model: string, hole: string): string =>
    `<controller type='pci' index='0' model='${model}'>${hole}</controller>`;
  const { def } = parseDomainXML(domain("pc", root("pci-root", "<pcihole64 unit='GiB'>1</pcihole64>")));
  assert.equal(def.devices.controllers.find((c) => c.model === "pci-root")?.pcihole64, 1048576);
  assert.match(
    formatDomainXML(def),
    /<controller type='pci' index='0' model='pci-root'>\n\s*<pcihole64 unit='KiB'>1048576<\/pcihole64>\n\s*<\/controller>/,
  );
  assert.throws(
    () => parseDomainXML(domain("isapc", root("pci-root", "<pcihole64>1024</pcihole64>"))),
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "unsupported configuration: Setting the 64-bit PCI hole size is not supported for machine 'isapc'",
  );
});

test("<lease> is kept and written back, a missing key refused", () => {
  const lease =
    "<lease><lockspace>area</lockspace><key>k1</key><target path='/leases/x' offset='1024'/></lease>";
  const { def } = parseDomainXML(domain("pc", lease));
  assert.deepEqual(def.devices.leases, [{ lockspace: "area", key: "k1", path: "/leases/x", offset: 1024n }]);
  assert.match(
    formatDomainXML(def),
    /<lease>\n\s*<lockspace>area<\/lockspace>\n\s*<key>k1<\/key>\n\s*<target path='\/leases\/x' offset='1024'\/>\n\s*<\/lease>/,
  );
  assert.throws(
    () => parseDomainXML(domain("pc", "<lease><target path='/x'/></lease>")),
    (e: unknown) => e instanceof VirtError && /key/.test(e.message),
  );
});

test("a new q35 guest with more than 255 vCPUs gets an IOMMU with EIM and the split irqchip", () => {
  const { def } = parseDomainXML(domain("q35", "", 288), { abiUpdate: true });
  assert.deepEqual(def.devices.iommu, { model: "intel", driver: { intremap: "on", eim: "on" } });
  assert.equal(def.features?.ioapic?.driver, "qemu");
  // an existing definition is not changed, nor a guest with fewer vCPUs
  assert.equal(parseDomainXML(domain("q35", "", 288)).def.devices.iommu, undefined);
  assert.equal(parseDomainXML(domain("q35", "", 255), { abiUpdate: true }).def.devices.iommu, undefined);
});

test("a transitional vhost-scsi device sits on conventional PCI", () => {
  const { def } = parseDomainXML(
    domain(
      "q35",
      "<controller type='pci' model='pcie-to-pci-bridge' index='2'/>" +
        "<hostdev mode='subsystem' type='scsi_host' managed='no' model='virtio-transitional'>" +
        "<source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>",
    ),
  );
  const a = def.devices.hostdevs[0]!.address as PciAddress;
  assert.equal(a.bus, 2);
});

test("the serial console's address is the serial port's, not a second use of it", () => {
  const chr = (el: string, target: string): string =>
    `<${el} type='dev'><source path='/dev/ttyS2'/><target ${target} port='0'/>` +
    `<address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></${el}>`;
  const { def } = parseDomainXML(
    domain("pc", chr("serial", "type='pci-serial'") + chr("console", "type='serial'")),
  );
  const xml = formatDomainXML(def);
  assert.equal(xml.match(/slot='0x04'/g)?.length, 2);
});

test("a negative controller index is refused with libvirt's words", () => {
  assert.throws(
    () => parseDomainXML(domain("pc", "<controller type='pci' index='-1' model='pci-bridge'/>")),
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "XML error: Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value",
  );
});
