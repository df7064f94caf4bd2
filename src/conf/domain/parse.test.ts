import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtError } from "../../util/errors/index.ts";
import { formatDomainXML, parseDomainXML } from "./index.ts";

/** A small valid domain; `devices` and `extra` are spliced in. */
function domain(devices = "", extra = "", name = "guest"): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>1ccfd97d-5eb4-478a-bbe6-88d254c16db7</uuid>
  <memory unit='MiB'>512</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
${extra}  <devices>
${devices}  </devices>
</domain>
`;
}

function error(xml: string): VirtError {
  try {
    parseDomainXML(xml);
  } catch (e) {
    assert.ok(e instanceof VirtError, `expected a VirtError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the document to be rejected");
}

test("a bad enumeration names line, column, XPath and the allowed values", () => {
  const e = error(
    domain("    <disk type='file' device='disk'>\n      <target dev='vda' bus='floppyish'/>\n    </disk>\n"),
  );
  assert.equal(e.code, "XML_INVALID_VALUE");
  assert.equal(e.details.xpath, "/domain/devices/disk/target/@bus");
  assert.equal(e.details.line, 10);
  assert.ok(typeof e.details.column === "number" && e.details.column > 0);
  assert.ok(e.details.allowed?.includes("virtio"));
  assert.match(e.message, /invalid value 'floppyish' for \/domain\/devices\/disk\/target\/@bus \(line 10\)/);
});

test("XPath positions count siblings of the same name", () => {
  const devs =
    "    <interface type='user'/>\n    <interface type='user'>\n      <mac address='zz:00:00:00:00:01'/>\n    </interface>\n";
  const e = error(domain(devs));
  assert.equal(e.details.xpath, "/domain/devices/interface[2]/mac/@address");
});

test("numbers out of range and malformed sizes are rejected with the place", () => {
  const e = error(domain("", "  <vcpu>lots</vcpu>\n"));
  assert.equal(e.code, "XML_INVALID_VALUE");
  assert.equal(e.details.xpath, "/domain/vcpu");
  const u = error(domain().replace("unit='MiB'", "unit='parsecs'"));
  assert.equal(u.details.xpath, "/domain/memory/@unit");
  assert.ok(u.details.allowed?.includes("GiB"));
});

test("missing required parts are reported", () => {
  assert.equal(error("<domain type='kvm'><name>x</name><memory>1</memory></domain>").code, "XML_MISSING");
  assert.equal(error(domain().replace(" type='qemu'", "")).details.xpath, "/domain/@type");
  assert.equal(error("<network><name>x</name></network>").code, "XML_UNEXPECTED_ROOT");
  assert.equal(error("<domain type='kvm'").code, "XML_SYNTAX");
});

test("unknown elements and attributes become warnings, not errors", () => {
  const { warnings } = parseDomainXML(
    domain(
      "    <disk type='file' device='disk' sparkle='yes'>\n      <target dev='vda'/>\n      <glitter/>\n    </disk>\n",
    ),
  );
  const paths = warnings.map((w) => w.xpath);
  assert.ok(paths.includes("/domain/devices/disk/@sparkle"), paths.join(","));
  assert.ok(paths.includes("/domain/devices/disk/glitter"), paths.join(","));
  const glitter = warnings.find((w) => w.xpath.endsWith("glitter"))!;
  assert.equal(glitter.code, "XML_UNKNOWN_ELEMENT");
  assert.equal(glitter.line, 11);
});

test("a corpus-like domain has no warnings", () => {
  const { warnings } = parseDomainXML(domain("    <memballoon model='virtio'/>\n"));
  assert.deepEqual(warnings, []);
});

test("domain names: empty, '/', '..' and control characters are refused", () => {
  for (const [name, reason] of [
    ["", /empty/],
    ["a/b", /'\/'/],
    ["..", /'\.\.'/],
    ["a&#9;b", /control/],
  ] as const) {
    const e = error(domain("", "", name));
    assert.equal(e.code, "DOMAIN_INVALID_NAME", name);
    assert.match(e.message, reason);
    assert.equal(e.details.xpath, "/domain/name");
  }
});

test("memory absent (and no NUMA) or too small is refused", () => {
  assert.equal(
    error(domain().replace("  <memory unit='MiB'>512</memory>\n", "")).code,
    "DOMAIN_MEMORY_MISSING",
  );
  assert.equal(error(domain().replace(">512<", ">0<")).code, "DOMAIN_MEMORY_MISSING");
  assert.equal(error(domain().replace("unit='MiB'>512", "unit='KiB'>100")).code, "DOMAIN_MEMORY_TOO_SMALL");
});

test("memory comes from NUMA cells when <memory> is absent", () => {
  const xml = domain(
    "",
    "  <vcpu>2</vcpu>\n  <cpu>\n    <numa>\n      <cell cpus='0-1' memory='1' unit='GiB'/>\n    </numa>\n  </cpu>\n",
  ).replace("  <memory unit='MiB'>512</memory>\n", "");
  const { def } = parseDomainXML(xml);
  assert.equal(def.memory, 1048576);
  assert.equal(def.currentMemory, 1048576);
  assert.equal(def.cpu?.numa?.cells[0]?.id, 0);
});

test("duplicate disk targets are refused", () => {
  const disk =
    "    <disk type='file' device='disk'>\n      <source file='/a'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n";
  const e = error(domain(disk + disk.replace("/a", "/b")));
  assert.equal(e.code, "DOMAIN_DISK_TARGET_DUPLICATE");
  assert.match(e.message, /'vda'/);
});

test("duplicate controllers and duplicate explicit PCI addresses are refused", () => {
  assert.equal(
    error(domain("    <controller type='ide' index='0'/>\n    <controller type='ide' index='0'/>\n")).code,
    "DOMAIN_CONTROLLER_INDEX_DUPLICATE",
  );
  const nic = (mac: string): string =>
    `    <interface type='user'>\n      <mac address='${mac}'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n    </interface>\n`;
  assert.equal(
    error(domain(nic("52:54:00:00:00:01") + nic("52:54:00:00:00:02"))).code,
    "DOMAIN_DUPLICATE_ADDRESS",
  );
});

test("maxphysaddr: bits with passthrough is CONFIG_UNSUPPORTED", () => {
  const e = error(
    domain(
      "",
      "  <cpu mode='host-passthrough'>\n    <maxphysaddr mode='passthrough' bits='42'/>\n  </cpu>\n",
    ),
  );
  assert.equal(e.code, "CONFIG_UNSUPPORTED");
  assert.equal(
    e.message,
    "unsupported configuration: CPU maximum physical address bits number specification cannot be used with mode='passthrough'",
  );
});

test("sizes in other units are stored in KiB and written back in KiB", () => {
  const { def } = parseDomainXML(
    domain(
      "",
      "  <memoryBacking>\n    <hugepages>\n      <page size='1' unit='G'/>\n    </hugepages>\n  </memoryBacking>\n",
    ),
  );
  assert.equal(def.memory, 524288);
  assert.equal(def.memoryBacking?.hugepages?.pages[0]?.size, 1048576);
  assert.match(formatDomainXML(def), /<page size='1048576' unit='KiB'\/>/);
});

test("noDefaults leaves the definition as written", () => {
  const { def } = parseDomainXML(domain(), { noDefaults: true });
  assert.equal(def.devices.controllers.length, 0);
  assert.equal(def.cpu, undefined);
  assert.deepEqual(def.os.boot, []);
});

test("a missing UUID is generated; MACs are generated in 52:54:00", () => {
  const { def } = parseDomainXML(
    domain("    <interface type='user'/>\n").replace(/ {2}<uuid>.*<\/uuid>\n/, ""),
  );
  assert.match(def.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.match(def.devices.interfaces[0]!.mac!.address, /^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
});

test("UUIDs are accepted in libvirt's loose forms and written canonically", () => {
  const { def } = parseDomainXML(
    domain().replace("1ccfd97d-5eb4-478a-bbe6-88d254c16db7", "1CCFD97D5EB4478ABBE688D254C16DB7"),
  );
  assert.equal(def.uuid, "1ccfd97d-5eb4-478a-bbe6-88d254c16db7");
  assert.equal(error(domain().replace("1ccfd97d-5eb4", "1ccfd97d-5ex4")).details.xpath, "/domain/uuid");
});

test("only VirtErrors leave the parser for hostile input", () => {
  const inputs = [
    "",
    "<",
    "<domain/>",
    "<domain type='kvm'><name>a</name></domain>",
    "\u0000",
    "<domain type='kvm'>".repeat(50),
  ];
  for (const x of inputs) {
    try {
      parseDomainXML(x);
    } catch (e) {
      assert.ok(e instanceof VirtError, `non-VirtError for ${JSON.stringify(x)}: ${String(e)}`);
      assert.notEqual(e.kind, "bug");
    }
  }
});

test("QEMU namespace: found by URI under any prefix or as default namespace; override and deprecation", () => {
  const uri = "http://libvirt.org/schemas/domain/qemu/1.0";
  const withTail = (tail: string) => domain().replace("</domain>", `${tail}</domain>`);
  const forms = [
    `<q:commandline xmlns:q='${uri}'><q:arg value='-x'/></q:commandline>`,
    `<commandline xmlns='${uri}'><arg value='-x'/></commandline>`,
    `<a:commandline xmlns:a='${uri}'><b:arg value='-x' xmlns:b='${uri}'/></a:commandline>`,
  ];
  for (const f of forms) assert.deepEqual(parseDomainXML(withTail(f)).def.qemu?.args, ["-x"], f);
  // the prefix bound to another URI is not the QEMU namespace
  const other = `<qemu:commandline xmlns:qemu='urn:dummy'><qemu:arg value='-x'/></qemu:commandline>`;
  assert.equal(parseDomainXML(withTail(other)).def.qemu, undefined);
  const xml = withTail(
    `<qemu:override xmlns:qemu='${uri}'><qemu:device alias='ua-d'><qemu:frontend>` +
      `<qemu:property name='a' type='unsigned' value='7'/><qemu:property name='b' type='remove'/>` +
      `</qemu:frontend></qemu:device></qemu:override><qemu:deprecation xmlns:qemu='${uri}' behavior='crash'/>`,
  );
  const q = parseDomainXML(xml).def.qemu;
  assert.deepEqual(q?.overrides, [
    {
      alias: "ua-d",
      frontend: [
        { name: "a", type: "unsigned", value: "7" },
        { name: "b", type: "remove" },
      ],
    },
  ]);
  assert.equal(q.deprecation, "crash");
  const out = formatDomainXML(parseDomainXML(xml).def);
  assert.match(
    out,
    /<qemu:property name='a' type='unsigned' value='7'\/>\n\s*<qemu:property name='b' type='remove'\/>/,
  );
  assert.match(out, /<qemu:deprecation behavior='crash'\/>/);
  const bad = withTail(
    `<qemu:override xmlns:qemu='${uri}'><qemu:device alias='d'><qemu:frontend>` +
      `<qemu:property name='a' type='bool' value='yes'/></qemu:frontend></qemu:device></qemu:override>`,
  );
  assert.match(error(bad).message, /expected 'true' or 'false'/);
});

test("<smartcard>: kept with its CCID controller and address; host-certificates wants three", () => {
  const { def } = parseDomainXML(
    domain(
      "<smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate></smartcard>\n",
    ),
  );
  assert.deepEqual(def.devices.smartcards, [
    {
      mode: "host-certificates",
      certificates: ["a", "b", "c"],
      address: { type: "ccid", controller: 0, slot: 0 },
    },
  ]);
  assert.ok(def.devices.controllers.some((c) => c.type === "ccid" && c.index === 0));
  assert.match(
    formatDomainXML(def),
    /<smartcard mode='host-certificates'>\n\s*<certificate>a<\/certificate>/,
  );
  assert.match(
    error(domain("<smartcard mode='host-certificates'><certificate>a</certificate></smartcard>\n")).message,
    /exactly three certificates/,
  );
});
