import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "../../util/errors/index.ts";
import {
  findHostdev,
  matchInterfaces,
  parseSnippetDevice,
  readDeviceSnippet,
  withDeviceXML,
} from "./device-snippet.ts";
import { formatDomainXML, parseDomainXML } from "./index.ts";

const DOMAIN = `<domain type='qemu'>
  <name>s</name>
  <uuid>0d6a4b8e-1c2f-4a5b-9c6d-7e8f9a0b1c2d</uuid>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><mac address='52:54:00:00:00:01'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:02'/></interface>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>
  </devices>
</domain>
`;

test("readDeviceSnippet: the kind, the text without a declaration; other elements and bad XML refused", () => {
  const s = readDeviceSnippet("<?xml version='1.0'?>\n<disk type='file'><target dev='vdb'/></disk>\n");
  assert.equal(s.kind, "disk");
  assert.equal(s.xml, "<disk type='file'><target dev='vdb'/></disk>");
  assert.throws(
    () => readDeviceSnippet("<sound model='ich9'/>"),
    (e: unknown) =>
      isVirtError(e) && e.code === "HOTPLUG_DEVICE_KIND_UNSUPPORTED" && /'sound'/.test(e.message),
  );
  assert.throws(
    () => readDeviceSnippet("<disk"),
    (e: unknown) => isVirtError(e),
  );
});

test("withDeviceXML puts the device last in <devices>; parsed again it gets defaults", () => {
  const { def } = parseDomainXML(DOMAIN);
  const s = readDeviceSnippet(
    "<disk type='file' device='disk'><source file='/b.img'/><target dev='vdb' bus='virtio'/></disk>",
  );
  const xml = withDeviceXML(formatDomainXML(def), s);
  const again = parseDomainXML(xml).def;
  assert.deepEqual(
    again.devices.disks.map((d) => d.target.dev),
    ["vda", "vdb"],
  );
  const a = again.devices.disks[1]!.address;
  assert.equal(a?.type, "pci", "the new disk got a PCI address");
  assert.notDeepEqual(a, again.devices.disks[0]!.address);
});

test("matching: interfaces by MAC, USB host devices by vendor/product", () => {
  const { def } = parseDomainXML(DOMAIN);
  const nic = parseSnippetDevice(
    readDeviceSnippet("<interface type='user'><mac address='52:54:00:00:00:02'/></interface>"),
  );
  assert.equal(matchInterfaces(def, nic.devices.interfaces[0]!).length, 1);
  const upper = parseSnippetDevice(
    readDeviceSnippet("<interface type='user'><mac address='52:54:00:00:00:0A'/></interface>"),
  );
  assert.equal(matchInterfaces(def, upper.devices.interfaces[0]!).length, 0);
  const any = parseSnippetDevice(readDeviceSnippet("<interface type='user'/>"));
  assert.equal(matchInterfaces(def, any.devices.interfaces[0]!).length, 2, "no MAC: ambiguous");
  const usb = (v: string) =>
    parseSnippetDevice(
      readDeviceSnippet(
        `<hostdev mode='subsystem' type='usb'><source><vendor id='${v}'/><product id='0x5678'/></source></hostdev>`,
      ),
    ).devices.hostdevs[0]!;
  assert.ok(findHostdev(def, usb("0x1234")));
  assert.equal(findHostdev(def, usb("0x1235")), undefined);
});

test("a status file's live XML keeps QEMU's device ids, also ones no index would give", () => {
  const live = DOMAIN.replace(
    "<target dev='vda' bus='virtio'/>",
    "<target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>",
  ).replace("<mac address='52:54:00:00:00:02'/>", "<mac address='52:54:00:00:00:02'/><alias name='net5'/>");
  assert.equal(
    parseDomainXML(live, { noDefaults: true }).def.devices.disks[0]!.alias,
    undefined,
    "a definition keeps only user aliases",
  );
  const { def } = parseDomainXML(live, { noDefaults: true, status: true });
  assert.equal(def.devices.disks[0]!.alias, "virtio-disk0");
  assert.equal(def.devices.interfaces[0]!.alias, undefined);
  assert.equal(def.devices.interfaces[1]!.alias, "net5");
});
