/**
 * The live disk elements block jobs add (format-storage.ts): `<backingStore>` nested top first
 * and closed by an empty one, `<mirror>` after `<blockio>` and before `<target>` (libvirt's
 * order), a copy naming its destination in attributes too; the mirror is not read back from XML.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDomainXML, parseDomainXML } from "./index.ts";

const xml = `<domain type='qemu'><name>b</name><uuid>1ccfd97d-5eb4-478a-bbe6-88d254c16db7</uuid><memory>131072</memory><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/top.qcow2'/>
<blockio logical_block_size='512'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

test("<backingStore> chain and <mirror> of a live disk, in libvirt's order", () => {
  const def = parseDomainXML(xml, { noDefaults: true }).def;
  const disk = def.devices.disks[0]!;
  disk.backingStore = {
    type: "file",
    format: "qcow2",
    source: { file: "/i/mid.qcow2" },
    backingStore: { type: "block", format: "raw", source: { dev: "/dev/sdz" }, end: true },
  };
  disk.mirror = { type: "file", format: "raw", path: "/i/copy.raw", job: "copy", ready: "yes" };
  const out = formatDomainXML(def, { live: true });
  const body = out.slice(out.indexOf("<disk"), out.indexOf("</disk>"));
  assert.equal(
    body.replace(/\n\s*/g, ""),
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/top.qcow2'/>" +
      "<backingStore type='file'><format type='qcow2'/><source file='/i/mid.qcow2'/>" +
      "<backingStore type='block'><format type='raw'/><source dev='/dev/sdz'/><backingStore/></backingStore>" +
      "</backingStore><blockio logical_block_size='512'/>" +
      "<mirror type='file' file='/i/copy.raw' format='raw' job='copy' ready='yes'><format type='raw'/>" +
      "<source file='/i/copy.raw'/></mirror><target dev='vda' bus='virtio'/>",
  );
  // an active commit's mirror names its base only in the children
  disk.mirror = { type: "file", format: "qcow2", path: "/i/mid.qcow2", job: "active-commit" };
  assert.match(
    formatDomainXML(def, { live: true }),
    /<mirror type='file' job='active-commit'>\s*<format type='qcow2'\/>\s*<source file='\/i\/mid.qcow2'\/>\s*<\/mirror>/,
  );
  // read back: the chain and its end marker are kept (libvirt keeps `<backingStore/>`, see the
  // suite's disk-mirror), the mirror is not
  const again = parseDomainXML(formatDomainXML(def, { live: true }), { noDefaults: true }).def.devices
    .disks[0]!;
  assert.equal(again.backingStore?.backingStore?.source.dev, "/dev/sdz");
  assert.equal(again.backingStore.backingStore.end, true);
  assert.equal(again.mirror, undefined);
});
