import { test } from "node:test";
import assert from "node:assert/strict";
import { describeChange, diffDomainXML } from "./diff.ts";

const base = `<domain type='test'>
  <name>vm</name>
  <memory unit='KiB'>8388608</memory>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/a.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/b.img'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
    </interface>
    <controller type='usb' index='0'/>
  </devices>
</domain>
`;

test("identical documents (formatting, attribute order, quotes aside) have no changes", () => {
  const reformatted = base
    .replace(`<disk type='file' device='disk'>`, `<disk device="disk"   type="file">`)
    .replace(/\n\s+/g, "\n");
  assert.deepEqual(diffDomainXML(base, reformatted), []);
});

test("a changed value is reported on its element with old and new", () => {
  const changes = diffDomainXML(base, base.replace("8388608", "4194304"));
  assert.equal(changes.length, 1);
  assert.deepEqual(changes[0], {
    kind: "changed",
    subject: "<memory>",
    xpath: "/domain/memory",
    details: ["text: '8388608' → '4194304'"],
  });
  assert.equal(describeChange(changes[0]), "changed <memory>: text: '8388608' → '4194304'");
});

test("devices are matched by identity: removing the first disk does not change the second", () => {
  const without = base.replace(
    /<disk type='file' device='disk'>\s*<source file='\/a.img'\/>[\s\S]*?<\/disk>/,
    "",
  );
  const changes = diffDomainXML(base, without);
  assert.deepEqual(
    changes.map((c) => [c.kind, c.subject, c.xpath]),
    [["removed", "disk 'vda'", "/domain/devices/disk[1]"]],
  );
});

test("nested changes inside a device name their path; added and removed children", () => {
  const edited = base
    .replace("/b.img", "/c.img")
    .replace("<target dev='vdb' bus='virtio'/>", "<target dev='vdb' bus='virtio'/>\n      <readonly/>")
    .replace("<controller type='usb' index='0'/>", "<controller type='usb' index='0' model='qemu-xhci'/>");
  const changes = diffDomainXML(base, edited);
  assert.deepEqual(
    changes.map((c) => [c.subject, c.details]),
    [
      ["disk 'vdb'", ["source/@file: '/a.img' → '/c.img'".replace("/a.img", "/b.img"), "added <readonly>"]],
      ["controller usb index 0", ["added @model='qemu-xhci'"]],
    ],
  );
});

test("added devices and top-level elements carry their start tag", () => {
  const edited = base
    .replace("</devices>", "  <controller type='pci' index='0' model='pci-root'/>\n  </devices>")
    .replace("<os>", "<vcpu placement='static'>2</vcpu>\n  <os>");
  const lines = diffDomainXML(base, edited).map(describeChange);
  assert.deepEqual(lines, [
    "added controller pci index 0 <controller type='pci' index='0' model='pci-root'>",
    "added <vcpu> <vcpu placement='static'>",
  ]);
});

test("repeated children (boot order) compare by position", () => {
  const edited = base.replace("<boot dev='hd'/>", "<boot dev='network'/>\n    <boot dev='hd'/>");
  assert.deepEqual(diffDomainXML(base, edited).map(describeChange), [
    "changed <os>: boot[1]/@dev: 'hd' → 'network'; added <boot dev='hd'>",
  ]);
});

test("live documents: runtime-only parts are not changes, real ones are", () => {
  const live = base
    .replace("<domain type='test'>", "<domain type='test' id='3'>")
    .replace(
      "<source network='default'/>",
      "<source network='default'/>\n      <target dev='vnet0'/>\n      <alias name='net0'/>",
    )
    .replace(
      "<target dev='vda' bus='virtio'/>",
      "<target dev='vda' bus='virtio'/>\n      <alias name='virtio-disk0'/>",
    );
  assert.deepEqual(diffDomainXML(live, base, { oldIsLive: true }), []);
  // Without the flag these are differences.
  assert.ok(diffDomainXML(live, base).length >= 3);
  const changes = diffDomainXML(live, base.replace("8388608", "1048576"), { oldIsLive: true });
  assert.deepEqual(changes.map(describeChange), ["changed <memory>: text: '8388608' → '1048576'"]);
});

test("root attribute changes are reported on <domain>", () => {
  const changes = diffDomainXML(base, base.replace("type='test'", "type='qemu'"));
  assert.deepEqual(changes.map(describeChange), ["changed <domain>: @type: 'test' → 'qemu'"]);
});

test("ignoreOld leaves listed elements and attributes of the old document out", () => {
  const old = base.replace("<name>vm</name>", "<name>vm</name>\n  <bogus/>").replace("<os>", "<os foo='1'>");
  assert.deepEqual(diffDomainXML(old, base).map(describeChange), [
    "removed <bogus>",
    "changed <os>: removed @foo='1'",
  ]);
  assert.deepEqual(diffDomainXML(old, base, { ignoreOld: ["/domain/bogus", "/domain/os/@foo"] }), []);
});
