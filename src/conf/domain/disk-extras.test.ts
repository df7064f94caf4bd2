import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDomainXML, parseDomainXML } from "./index.ts";

/** A small pc guest; `devices` and `extra` are spliced in. */
function domain(devices = "", extra = ""): string {
  return `<domain type='qemu'>
  <name>v</name>
  <memory unit='MiB'>256</memory>
${extra}  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
${devices}  </devices>
</domain>
`;
}

function disk(target: string, bus: string, file: string): string {
  return `    <disk type='file' device='disk'>\n      <source file='${file}'/>\n      <target dev='${target}' bus='${bus}'/>\n    </disk>\n`;
}

test("iothreads: written ids keep their order, the count is filled with the lowest free ids", () => {
  const xml = domain(
    "",
    "  <iothreads>4</iothreads>\n  <iothreadids><iothread id='5'/><iothread id='2'/></iothreadids>\n",
  );
  const { def } = parseDomainXML(xml);
  assert.deepEqual(
    def.iothreadids?.map((t) => t.id),
    [5, 2, 1, 3],
  );
  const out = formatDomainXML(def);
  assert.match(
    out,
    /<iothreads>4<\/iothreads>\n {2}<iothreadids>\n {4}<iothread id='5'\/>\n {4}<iothread id='2'\/>/,
  );
  // a bare count stays a bare count
  const plain = formatDomainXML(parseDomainXML(domain("", "  <iothreads>2</iothreads>\n")).def);
  assert.doesNotMatch(plain, /iothreadids/);
});

test("disks: grouped by bus and sorted by drive index within it, as libvirt inserts them", () => {
  const xml = domain(
    disk("vdb", "virtio", "/b") +
      disk("hdb", "ide", "/hb") +
      disk("hda", "ide", "/ha") +
      disk("vda", "virtio", "/a"),
  );
  const { def } = parseDomainXML(xml);
  assert.deepEqual(
    def.devices.disks.map((d) => d.target.dev),
    ["vda", "vdb", "hda", "hdb"],
  );
});

test("seclabel: a lone modelless label takes the host's model; with 'none' it is type='none'", () => {
  const xml = domain("", "  <seclabel type='dynamic' relabel='yes'/>\n");
  const none = parseDomainXML(xml, { facts: { hostSecurityModel: () => "none" } }).def;
  assert.match(formatDomainXML(none), /<seclabel type='none' model='none'\/>/);
  const aa = parseDomainXML(xml, { facts: { hostSecurityModel: () => "apparmor" } }).def;
  assert.match(formatDomainXML(aa), /<seclabel type='dynamic' model='apparmor' relabel='yes'\/>/);
});

test("SCSI host devices without an address fill units 0-6 of a controller, then a new one of its model", () => {
  let hostdevs = "";
  for (let i = 0; i < 8; i++)
    hostdevs += `    <hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='${i}'/></source></hostdev>\n`;
  const { def } = parseDomainXML(
    domain("    <controller type='scsi' index='0' model='virtio-scsi'/>\n" + hostdevs),
  );
  const addrs = def.devices.hostdevs.map((h) =>
    h.address?.type === "drive" ? [h.address.controller, h.address.unit] : [],
  );
  assert.deepEqual(addrs, [
    [0, 0],
    [0, 1],
    [0, 2],
    [0, 3],
    [0, 4],
    [0, 5],
    [0, 6],
    [1, 0],
  ]);
  const scsi = def.devices.controllers.filter((c) => c.type === "scsi");
  assert.deepEqual(
    scsi.map((c) => [c.index, c.model]),
    [
      [0, "virtio-scsi"],
      [1, "virtio-scsi"],
    ],
  );
});

test("disk sources: per-image seclabels, reservations and an empty backingStore come back", () => {
  const inner =
    "      <source dev='/dev/x'>\n        <seclabel model='dac' relabel='no'/>\n        <reservations managed='no'><source type='unix' path='/run/pr.sock' mode='client'/></reservations>\n      </source>\n      <backingStore/>\n";
  const xml = domain(
    `    <disk type='block' device='lun'>\n${inner}      <target dev='sda' bus='scsi'/>\n    </disk>\n`,
  );
  const out = formatDomainXML(parseDomainXML(xml).def);
  assert.match(out, /<seclabel model='dac' relabel='no'\/>/);
  assert.match(
    out,
    /<reservations managed='no'>\n\s*<source type='unix' path='\/run\/pr.sock' mode='client'\/>/,
  );
  assert.match(out, /<\/source>\n\s*<backingStore\/>/);
});
