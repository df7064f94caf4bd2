/**
 * Domain-level elements with libvirt's parse rules and canonical form: `<sysinfo>`,
 * `<throttlegroups>`/`<throttlefilters>`, `<resource>`, `<pstore>`, `<metadata>` namespaces,
 * `<genid/>`, boot `loadparm`, `<memory dumpCore=>`, RDP graphics attributes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDomainXML, parseDomainXML } from "./index.ts";
import { VirErrorNumber, isVirtError } from "../../util/errors/index.ts";

function domain(
  extra: string,
  devices = "",
  uuid = "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>",
): string {
  return `<domain type='qemu'>
  <name>g</name>
  ${uuid}
  <memory unit='KiB'>219136</memory>
  <vcpu placement='static'>1</vcpu>
  ${extra}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>${devices}<memballoon model='none'/></devices>
</domain>`;
}

function roundTrip(xml: string): string {
  return formatDomainXML(parseDomainXML(xml).def);
}

function rejects(xml: string, code: number, message: RegExp): void {
  assert.throws(
    () => parseDomainXML(xml),
    (e: unknown) => isVirtError(e) && e.virCode === code && message.test(e.message),
  );
}

test("sysinfo: smbios tables in libvirt's order, unknown and empty entries dropped, fwcfg entries kept", () => {
  const out = roundTrip(
    domain(`<sysinfo type='smbios'>
      <system><entry name='family'>F</entry><entry name='bogus'>x</entry><entry name='manufacturer'>M</entry></system>
      <bios><entry name='vendor'></entry></bios>
      <baseBoard><entry name='serial'>S1</entry></baseBoard>
      <baseBoard><entry name='serial'>S2</entry></baseBoard>
      <oemStrings><entry>a, b</entry></oemStrings>
    </sysinfo>
    <sysinfo type='fwcfg'><entry name='opt/x'>v</entry><entry name='opt/y' file='/f'/></sysinfo>`),
  );
  assert.match(
    out,
    /<sysinfo type='smbios'>\n {4}<system>\n {6}<entry name='manufacturer'>M<\/entry>\n {6}<entry name='family'>F<\/entry>\n {4}<\/system>\n {4}<baseBoard>\n {6}<entry name='serial'>S1<\/entry>/,
  );
  assert.ok(!out.includes("<bios>"), "a table with only empty entries is dropped");
  assert.ok(out.includes("<entry>a, b</entry>"));
  assert.ok(out.includes("<entry name='opt/x'>v</entry>") && out.includes("<entry name='opt/y' file='/f'/>"));
});

test("sysinfo: BIOS date format, system UUID against the domain's", () => {
  rejects(
    domain("<sysinfo type='smbios'><bios><entry name='date'>13/01/2020</entry></bios></sysinfo>"),
    VirErrorNumber.XML_DETAIL,
    /^Invalid BIOS 'date' format$/,
  );
  assert.ok(
    roundTrip(domain("<sysinfo type='smbios'><bios><entry name='date'>01/31/99</entry></bios></sysinfo>")),
  );
  rejects(
    domain(
      "<sysinfo type='smbios'><system><entry name='uuid'>a94b4335-6a14-8bc4-d6da-f7ea590b6816</entry></system></sysinfo>",
    ),
    VirErrorNumber.XML_DETAIL,
    /^UUID mismatch between <uuid> and <sysinfo>$/,
  );
  // without <uuid>, the domain takes the system table's (written without dashes here)
  const { def } = parseDomainXML(
    domain(
      "<sysinfo type='smbios'><system><entry name='uuid'>a94b43356a148bc4d6daf7ea590b6816</entry></system></sysinfo>",
      "",
      "",
    ),
  );
  assert.equal(def.uuid, "a94b4335-6a14-8bc4-d6da-f7ea590b6816");
  rejects(
    domain("<sysinfo type='fwcfg'><entry name='opt/x'/></sysinfo>"),
    VirErrorNumber.XML_ERROR,
    /opt\/x/,
  );
});

test("throttle groups: formatted like <iotune>; filters need a known group and no <iotune>", () => {
  const groups = `<throttlegroups><throttlegroup><group_name>g1</group_name><total_bytes_sec>10</total_bytes_sec></throttlegroup></throttlegroups>`;
  const disk = (inner: string): string =>
    `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/>${inner}</disk>`;
  const out = roundTrip(
    domain(groups, disk("<throttlefilters><throttlefilter group='g1'/></throttlefilters>")),
  );
  assert.ok(
    out.includes(
      "<throttlegroup>\n      <total_bytes_sec>10</total_bytes_sec>\n      <group_name>g1</group_name>\n    </throttlegroup>",
    ),
  );
  assert.ok(
    out.includes("<throttlefilters>\n        <throttlefilter group='g1'/>\n      </throttlefilters>"),
  );
  rejects(
    domain(
      groups,
      disk(
        "<iotune><total_iops_sec>1</total_iops_sec></iotune><throttlefilters><throttlefilter group='g1'/></throttlefilters>",
      ),
    ),
    VirErrorNumber.OPERATION_UNSUPPORTED,
    /can't be used together with 'iotune' for disk 'vda'/,
  );
  rejects(
    domain(groups, disk("<throttlefilters><throttlefilter group='nope'/></throttlefilters>")),
    VirErrorNumber.INVALID_ARG,
    /'nope'/,
  );
  rejects(
    domain(groups.replace("</throttlegroups>", groups.slice(16))),
    VirErrorNumber.XML_ERROR,
    /duplicate/,
  );
});

test("metadata: children need a namespace, the first of each namespace stays", () => {
  const out = roundTrip(
    domain(`<metadata>
      <plain/>
      <a:x xmlns:a='urn:one'>1</a:x>
      <b:y xmlns:b='urn:one'>2</b:y>
      <c:z xmlns:c='urn:two'/>
    </metadata>`),
  );
  assert.ok(out.includes("<a:x") && out.includes("<c:z"));
  assert.ok(!out.includes("<plain") && !out.includes("<b:y"));
});

test("resource, genid, dumpCore, loadparm and pstore in libvirt's form", () => {
  const out = roundTrip(
    domain(
      "<genid/><resource><partition>/machine</partition></resource>",
      `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/><boot order='1' loadparm='sys1'/></disk>
       <pstore backend='acpi-erst'><path>/tmp/p</path><size unit='KiB'>8</size></pstore>`,
    ).replace("<memory unit='KiB'>", "<memory unit='KiB' dumpCore='on'>"),
  );
  assert.match(out, /<genid>[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}<\/genid>/);
  assert.ok(out.includes("<memory dumpCore='on' unit='KiB'>"));
  assert.ok(out.includes("<resource>\n    <partition>/machine</partition>\n  </resource>"));
  assert.ok(out.includes("<boot order='1' loadparm='SYS1'/>"));
  assert.match(
    out,
    /<pstore backend='acpi-erst'>\n {6}<path>\/tmp\/p<\/path>\n {6}<size unit='KiB'>8<\/size>\n {6}<address type='pci'/,
  );
  const facts = { randomBytes: (n: number) => new Uint8Array(n) };
  assert.equal(
    parseDomainXML(domain("<genid/>"), { facts }).def.genid,
    "00000000-0000-4000-8000-000000000000",
    "a generated genid comes from the facts' random source",
  );
  rejects(
    domain(
      "",
      "<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/><boot order='1' loadparm='toolongname'/></disk>",
    ),
    VirErrorNumber.INTERNAL_ERROR,
    /loadparm value 'TOOLONGNAME' must be between 1 and 8 characters/,
  );
  rejects(
    domain("<resource><partition>machine</partition></resource>"),
    VirErrorNumber.XML_ERROR,
    /must start with '\/'/,
  );
});

test("rdp graphics: port='0' for an automatic port, username kept", () => {
  const out = roundTrip(domain("", "<graphics type='rdp' autoport='yes' username='u' multiUser='yes'/>"));
  assert.ok(out.includes("<graphics type='rdp' port='0' autoport='yes' multiUser='yes' username='u'>"), out);
});
