/**
 * The definition side of a backing chain: an overlay pushed on a disk moves its source into
 * `<backingStore>` (formatted as libvirt's inactive XML, parsed back the same), popping it
 * brings the source back; disks without a local source are left alone.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDomainXML, parseDomainXML } from "../../../conf/domain/index.ts";
import { findDisk, popDiskOverlay, pushDiskOverlay } from "./disk-chain.ts";

const DOMAIN = `<domain type='qemu'>
  <name>c</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/base.img'/><target dev='vda' bus='virtio'/></disk>
    <disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='x'><host name='h' port='10809'/></source><target dev='vdb' bus='virtio'/></disk>
  </devices>
</domain>`;

const diskXML = (xml: string): string => /<disk type='file'[\s\S]*?<\/disk>/.exec(xml)?.[0] ?? "";

test("pushDiskOverlay / popDiskOverlay keep the chain in <backingStore>, and it round-trips", () => {
  const def = parseDomainXML(DOMAIN).def;
  assert.equal(pushDiskOverlay(def, "vda", "/img/base.s1"), true);
  assert.equal(pushDiskOverlay(def, "vda", "/img/base.s2"), true);
  const xml = formatDomainXML(def);
  assert.equal(
    diskXML(xml).replace(/\s*<address[^>]*\/>/, ""),
    [
      "<disk type='file' device='disk'>",
      "      <driver name='qemu' type='qcow2'/>",
      "      <source file='/img/base.s2'/>",
      "      <backingStore type='file'>",
      "        <format type='qcow2'/>",
      "        <source file='/img/base.s1'/>",
      "        <backingStore type='file'>",
      "          <format type='raw'/>",
      "          <source file='/img/base.img'/>",
      "        </backingStore>",
      "      </backingStore>",
      "      <target dev='vda' bus='virtio'/>",
      "    </disk>",
    ].join("\n"),
  );
  // parsed back (libvirt's live form adds index= and an empty end element: both accepted; the
  // end element is kept, as libvirt keeps it, and index= is the live XML's only)
  const again = parseDomainXML(
    xml
      .replace("<backingStore type='file'>", "<backingStore type='file' index='1'>")
      .replace("<source file='/img/base.img'/>", "<source file='/img/base.img'/>\n<backingStore/>"),
  );
  assert.deepEqual(again.warnings, []);
  assert.equal(
    formatDomainXML(again.def),
    xml.replace(
      "          <source file='/img/base.img'/>\n",
      "          <source file='/img/base.img'/>\n          <backingStore/>\n",
    ),
  );

  assert.equal(popDiskOverlay(def, "vda"), true);
  assert.equal(findDisk(def, "vda")?.source?.file, "/img/base.s1");
  assert.equal(popDiskOverlay(def, "vda"), true);
  const disk = findDisk(def, "/img/base.img");
  assert.ok(disk);
  assert.equal(disk.target.dev, "vda");
  assert.equal(disk.driver?.type, "raw");
  assert.equal(disk.backingStore, undefined);
  assert.equal(popDiskOverlay(def, "vda"), false);
  assert.equal(diskXML(formatDomainXML(def)), diskXML(formatDomainXML(parseDomainXML(DOMAIN).def)));

  // no local source, no such disk: nothing changes
  assert.equal(pushDiskOverlay(def, "vdb", "/img/x"), false);
  assert.equal(pushDiskOverlay(def, "vdz", "/img/x"), false);
});
