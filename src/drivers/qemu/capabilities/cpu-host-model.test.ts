/**
 * host-model decoding against libvirt's own results: for every x86_64 capability file of
 * libvirt 11.3.0's suite (QEMU 6.2 … 10.0, KVM and TCG, with and without AMD SEV), the
 * named model, vendor and feature list we derive from the recorded host CPU, with the installed
 * QEMU's CPU map, must equal the `<mode name='host-model'>` libvirt wrote in the matching
 * domain capabilities file, feature by feature and in order.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { libvirtSuiteOrSkip } from "../../../testing/libvirt-suite.ts";
import { installedCpuMap, loadInstalledCpuMap, withInstalledCpuMap } from "../../../testing/qemu/cpu-map.ts";
import { parseXml } from "../../../conf/xml.ts";
import { loadCapsFile } from "./load.ts";
import { cpuModelsFor, hostCpuFromCpuId, hostModelCpu, type VirtType } from "./cpu-host-model.ts";
import { sortFeatures } from "./cpu-map.ts";

before(async () => {
  await loadInstalledCpuMap();
});

const VERSIONS = [
  "6.2.0",
  "7.0.0",
  "7.1.0",
  "7.2.0",
  "8.0.0",
  "8.1.0",
  "8.2.0",
  "9.0.0",
  "9.1.0",
  "9.2.0",
  "10.0.0",
];
const VARIANTS = ["", "+amdsev"];

/** libvirt's host-model of a domain capabilities file, as text lines. */
function expectedHostModel(file: string): string[] {
  const root = parseXml(readFileSync(file, "utf8"), file);
  const mode = root
    .child("cpu")
    ?.all("mode")
    .find((m) => m.attr("name") === "host-model");
  assert.ok(mode, `${file} has a host-model mode`);
  const model = mode.child("model");
  return [
    `model ${model?.content ?? ""} fallback=${model?.attr("fallback") ?? ""}`,
    `vendor ${mode.childText("vendor") ?? ""}`,
    ...mode.all("feature").map((f) => `${f.attr("policy") ?? ""} ${f.attr("name") ?? ""}`),
  ];
}

function mapOrSkip(t: { skip(m: string): void }): boolean {
  if (installedCpuMap()) return true;
  if (process.env.CI === "true") assert.fail("the installed QEMU's CPU map is required under CI");
  t.skip("no QEMU installed to give the CPU map");
  return false;
}

test("host-model equals libvirt's domain capabilities for every x86_64 capability file (KVM and TCG)", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite || !mapOrSkip(t)) return;
  let compared = 0;
  const problems: string[] = [];
  const missing: string[] = [];
  for (const v of VERSIONS) {
    for (const variant of VARIANTS) {
      const capsFile = join(suite, "tests", "qemucapabilitiesdata", `caps_${v}_x86_64${variant}.xml`);
      if (!existsSync(capsFile)) continue;
      const caps = withInstalledCpuMap(loadCapsFile(capsFile));
      for (const [virtType, suffix] of [
        ["kvm", ""],
        ["qemu", "-tcg"],
      ] as [VirtType, string][]) {
        const domcaps = join(suite, "tests", "domaincapsdata", `qemu_${v}${suffix}.x86_64${variant}.xml`);
        if (!existsSync(domcaps)) continue;
        const hm = hostModelCpu(caps, virtType);
        const actual = hm
          ? [
              `model ${hm.model} fallback=${hm.fallback}`,
              `vendor ${hm.vendor ?? ""}`,
              ...hm.features.map((f) => `${f.policy} ${f.name}`),
            ]
          : ["none"];
        const expected = expectedHostModel(domcaps);
        // libvirt's model must exist in the map: QEMU 7.2 (Debian 12) has no EPYC-Genoa
        const wanted = expected[0]!.split(" ")[1]!;
        if (!(caps.cpuDefinitions ?? []).some((d) => d.name === wanted)) {
          missing.push(`${v}${variant} ${virtType}: ${wanted}`);
          continue;
        }
        compared++;
        if (actual.join("\n") !== expected.join("\n"))
          problems.push(
            `${v}${variant} ${virtType}:\n  ours   ${actual.join(", ")}\n  libvirt ${expected.join(", ")}`,
          );
      }
    }
  }
  t.diagnostic(`${compared} host-model CPUs compared`);
  if (missing.length > 0) t.diagnostic(`not in the installed QEMU's CPU map: ${missing.join("; ")}`);
  assert.equal(compared + missing.length, 26);
  assert.ok(compared >= 24, `only ${compared} compared`);
  assert.deepEqual(problems, []);
});

test("the migratable host-model leaves out features that block migration (invtsc)", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite || !mapOrSkip(t)) return;
  const caps = withInstalledCpuMap(
    loadCapsFile(join(suite, "tests", "qemucapabilitiesdata", "caps_10.0.0_x86_64.xml")),
  );
  const full = hostModelCpu(caps, "kvm");
  const guest = hostModelCpu(caps, "kvm", { migratable: true });
  assert.ok(full && guest);
  assert.ok(full.features.some((f) => f.name === "invtsc"));
  assert.ok(!guest.features.some((f) => f.name === "invtsc"));
  assert.deepEqual(
    guest.features,
    full.features.filter((f) => f.name !== "invtsc"),
  );
  assert.deepEqual(full.maxphysaddr, { mode: "passthrough" });
  assert.deepEqual(hostModelCpu(caps, "kvm", { hostPhysBits: 48 })?.maxphysaddr, {
    mode: "passthrough",
    limit: 48,
  });
  // TCG has no host address width to pass through
  assert.equal(hostModelCpu(caps, "qemu")?.maxphysaddr, undefined);
});

test("without a CPU map or a host CPU there is no host-model", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const caps = loadCapsFile(join(suite, "tests", "qemucapabilitiesdata", "caps_10.0.0_x86_64.xml"));
  assert.equal(hostModelCpu(caps, "kvm"), undefined);
  assert.equal(
    hostModelCpu({ ...caps, accel: {} }, "kvm", { cpuDefinitions: installedCpuMap() ?? [] }),
    undefined,
  );
});

test("cpuModelsFor lists QEMU's models with usability, blockers in libvirt's names, and aliases", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const caps = loadCapsFile(join(suite, "tests", "qemucapabilitiesdata", "caps_10.0.0_x86_64.xml"));
  const models = cpuModelsFor(caps, "kvm");
  const rome = models.find((m) => m.name === "EPYC-Rome");
  assert.deepEqual(rome, {
    name: "EPYC-Rome",
    usable: "no",
    canonical: "EPYC-Rome-v1",
    blockers: ["xsaves"],
  });
  const withMap = cpuModelsFor(withInstalledCpuMap(caps), "kvm");
  if (installedCpuMap()) {
    assert.equal(withMap.find((m) => m.name === "EPYC-Rome")?.vendor, "AMD");
    assert.equal(withMap.find((m) => m.name === "Haswell")?.vendor, "Intel");
    // generic models have no vendor in libvirt's eyes
    assert.equal(withMap.find((m) => m.name === "qemu64")?.vendor, undefined);
  }
  assert.ok(!models.some((m) => m.name === "host" || m.name === "max" || m.name === "base"));
  const tcg = cpuModelsFor(caps, "qemu");
  assert.ok(tcg.find((m) => m.name === "EPYC")?.blockers.includes("fxsr_opt"));
});

test("features sort in libvirt's CPUID order: leaf, sub-leaf, register, bit; MSR features last", () => {
  assert.deepEqual(
    sortFeatures(["rdctl-no", "cmp_legacy", "xsaves", "ssbd", "tsc_adjust", "acpi", "x2apic"]),
    ["x2apic", "acpi", "tsc_adjust", "ssbd", "xsaves", "cmp_legacy", "rdctl-no"],
  );
});

test("the capabilities' host CPU from /proc/cpuinfo: the largest model the host has all of, plus its extra flags", (t) => {
  if (!mapOrSkip(t)) return;
  const defs = installedCpuMap()!;
  // an Intel Haswell-class host: every Haswell-noTSX feature in Linux's spelling, and two more
  const haswell = [
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2",
    "ss ht syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2",
    "x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm fsgsbase",
    "tsc_adjust bmi1 avx2 smep bmi2 erms invpcid xsaveopt arat spec_ctrl intel_stibp",
  ].join(" ");
  const cpu = hostCpuFromCpuId(defs, {
    vendorId: "GenuineIntel",
    family: 6,
    model: 60,
    flags: haswell.split(" "),
  });
  assert.ok(cpu);
  assert.equal(cpu.vendor, "Intel");
  // spec_ctrl (libvirt's spec-ctrl) makes it the IBRS variant; no TSX, so not Haswell itself
  assert.equal(cpu.model, "Haswell-noTSX-IBRS");
  // Linux's names come out as libvirt's; kernel-only flags (constant_tsc) are dropped
  for (const f of ["pdpe1gb", "stibp", "ss", "vme"]) assert.ok(cpu.features.includes(f), f);
  assert.ok(!cpu.features.includes("spec-ctrl"), "a feature of the model is not repeated");
  assert.ok(!cpu.features.includes("constant_tsc"));
  // a bare CPU has no model; without a map there is no CPU at all
  assert.equal(hostCpuFromCpuId(defs, { flags: [] }), undefined);
  assert.equal(hostCpuFromCpuId(undefined, { flags: haswell.split(" ") }), undefined);
});
