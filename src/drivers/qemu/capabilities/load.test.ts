import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCapsFile, parseCapsXml } from "./load.ts";
import { IMPLIED_SINCE_QEMU_6_2 } from "./flags.ts";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { isVirtError, type VirtError } from "../../../util/errors/index.ts";

function virt(e: unknown): VirtError {
  assert.ok(isVirtError(e), `expected a VirtError, got ${String(e)}`);
  return e;
}

void test("caps_7.2.0_x86_64.xml: version, flags, machines, CPU models and host CPU per accelerator", (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const caps = loadCapsFile(join(corpus, "caps", "caps_7.2.0_x86_64.xml"));
  assert.equal(caps.version, 7_002_000);
  assert.equal(caps.package, "v7.2.0");
  assert.equal(caps.arch, "x86_64");
  assert.equal(caps.emulator, "/usr/bin/qemu-system-x86_64");
  assert.equal(caps.binaryCtime, 0);
  assert.deepEqual(caps.migrationCapabilities, []);
  assert.equal(caps.objectTypes, undefined);
  assert.equal(caps.flags.size, 186 + IMPLIED_SINCE_QEMU_6_2.length);
  for (const f of ["kvm", "tcg", "virtio-blk-pci.scsi", "netdev.stream", "blockdev", "device.json"])
    assert.ok(caps.flags.has(f), f);
  for (const f of ["machine-hpet", "blockjob.backing-mask-protocol"]) assert.ok(!caps.flags.has(f), f);
  const raw = loadCapsFile(join(corpus, "caps", "caps_7.2.0_x86_64.xml"), { impliedFlags: false });
  assert.equal(raw.flags.size, 186);
  assert.ok(!raw.flags.has("blockdev"));

  for (const accel of ["kvm", "tcg"] as const) {
    const a = caps.accel[accel];
    assert.ok(a, accel);
    assert.equal(a.machines.length, 58);
    assert.deepEqual(a.machines[0], {
      name: "pc-i440fx-7.2",
      alias: "pc",
      isDefault: true,
      maxCpus: 255,
      hotplugCpus: true,
      defaultCPU: "qemu64-x86_64-cpu",
      defaultRAMid: "pc.ram",
      numaMemSupported: false,
      deprecated: false,
    });
    assert.equal(a.machines.find((m) => m.alias === "q35")?.name, "pc-q35-7.2");
    assert.ok(a.machines.find((m) => m.name === "pc-i440fx-1.4")?.deprecated);
    assert.equal(a.cpuModels.length, 132);
    assert.equal(a.hostCpu?.model, "base");
    assert.equal(a.hostCpu.migratability, true);
  }
  const host = caps.accel.tcg?.cpuModels.find((c) => c.name === "host");
  assert.deepEqual(host, {
    name: "host",
    typename: "host-x86_64-cpu",
    usable: false,
    blockers: ["kvm"],
    deprecated: false,
  });
  const props = caps.accel.tcg?.hostCpu?.props ?? [];
  assert.deepEqual(
    props.find((p) => p.name === "cmov"),
    { name: "cmov", type: "boolean", value: "true", migratable: true },
  );
  assert.deepEqual(
    props.find((p) => p.name === "ia64"),
    { name: "ia64", type: "boolean", value: "false" },
  );
  assert.deepEqual(
    props.find((p) => p.name === "vendor"),
    { name: "vendor", type: "string", value: "AuthenticAMD" },
  );
  assert.ok(props.some((p) => p.type === "number"));
});

void test("caps_10.0.0_x86_64.xml: ACPI per machine and the newer flags", (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const caps = loadCapsFile(join(corpus, "caps", "caps_10.0.0_x86_64.xml"));
  assert.equal(caps.version, 10_000_000);
  assert.equal(caps.accel.kvm?.machines[0]?.name, "pc-i440fx-10.0");
  assert.equal(caps.accel.kvm.machines[0].acpi, true);
  for (const f of ["machine-hpet", "blockjob.backing-mask-protocol", "netdev.stream.reconnect", "blockdev"]) {
    assert.ok(caps.flags.has(f), f);
  }
  assert.ok(!caps.flags.has("virtio-blk-pci.scsi"));
});

void test("invalid capability documents are catalogued errors with positions", () => {
  const bad = (xml: string): VirtError =>
    virt(
      (() => {
        try {
          return parseCapsXml(xml, "bad.xml");
        } catch (e) {
          return e;
        }
      })(),
    );
  const root = bad("<domain/>");
  assert.equal(root.code, "QEMU_CAPS_FILE_INVALID");
  assert.equal(
    root.message,
    "XML error: QEMU capabilities file 'bad.xml' is not valid: root element is <domain>, expected <qemuCaps>",
  );
  const ver = bad("<qemuCaps>\n  <version>7.2</version><arch>x86_64</arch></qemuCaps>");
  assert.match(
    ver.message,
    /<version> must be a non-negative integer, not '7\.2' at \/qemuCaps\/version \(line 2\)/,
  );
  assert.equal(ver.details.line, 2);
  const machine = bad(
    "<qemuCaps><version>7002000</version><arch>x86_64</arch>\n<machine type='tcg' name='pc' default='maybe'/></qemuCaps>",
  );
  assert.match(machine.message, /attribute 'default' must be 'yes' or 'no', not 'maybe'/);
  const accel = bad(
    "<qemuCaps><version>7002000</version><arch>x86_64</arch><cpu type='xen' name='x'/></qemuCaps>",
  );
  assert.match(accel.message, /unknown accelerator type 'xen'/);
  assert.equal(bad("<qemuCaps><version>1</version></qemuCaps>").code, "QEMU_CAPS_FILE_INVALID");
  assert.equal(bad("<qemuCaps>").code, "XML_SYNTAX");
  const missing = virt(
    (() => {
      try {
        return loadCapsFile("/nonexistent/caps.xml");
      } catch (e) {
        return e;
      }
    })(),
  );
  assert.equal(missing.code, "QEMU_CAPS_FILE_UNREADABLE");
  assert.equal(
    missing.message,
    "failed to read: QEMU capabilities file '/nonexistent/caps.xml': No such file or directory",
  );
});

void test("old QEMU files get no implied flags; hvf data is skipped unless asked for", () => {
  const text =
    "<qemuCaps><version>5002000</version><arch>aarch64</arch><flag name='hvf'/>" +
    "<machine type='hvf' name='virt-5.2' alias='virt'/><machine type='tcg' name='virt-5.2' alias='virt' maxCpus='512'/></qemuCaps>";
  const caps = parseCapsXml(text);
  assert.deepEqual([...caps.flags], ["hvf"]);
  assert.deepEqual(Object.keys(caps.accel), ["tcg"]);
  assert.equal(caps.accel.tcg?.machines[0]?.maxCpus, 512);
  const withHvf = parseCapsXml(text, "qemuCaps.xml", { hvf: true });
  assert.deepEqual(Object.keys(withHvf.accel).sort(), ["hvf", "tcg"]);
  assert.equal(withHvf.accel.hvf?.machines[0]?.name, "virt-5.2");
});
