/**
 * Baseline and comparison of CPU definitions against the CPU map, with libvirt's QEMU 10.0
 * capability file (a Zen 2 host under KVM) and the installed QEMU's map.
 */
import { before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { libvirtSuiteOrSkip } from "../../../testing/libvirt-suite.ts";
import { installedCpuMap, loadInstalledCpuMap, withInstalledCpuMap } from "../../../testing/qemu/cpu-map.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { loadCapsFile } from "./load.ts";
import { baselineHypervisorCpu, compareHypervisorCpu, CPU_COMPARE, parseCpuXml } from "./cpu-baseline.ts";
import type { QemuCaps } from "./types.ts";

before(async () => {
  await loadInstalledCpuMap();
});

function caps10(t: TestContext): QemuCaps | undefined {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return undefined;
  if (!installedCpuMap()) {
    if (process.env.CI === "true") assert.fail("the installed QEMU's CPU map is required under CI");
    t.skip("no QEMU installed to give the CPU map");
    return undefined;
  }
  return withInstalledCpuMap(
    loadCapsFile(join(suite, "tests", "qemucapabilitiesdata", "caps_10.0.0_x86_64.xml")),
  );
}

test("baseline of one named model keeps it and disables what blocks it on this hypervisor", (t) => {
  const caps = caps10(t);
  if (!caps) return;
  const xml = baselineHypervisorCpu(caps, "kvm", ["<cpu><model>EPYC-Rome</model></cpu>"]);
  assert.equal(
    xml,
    "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>EPYC-Rome</model>\n" +
      "  <feature policy='disable' name='xsaves'/>\n</cpu>\n",
  );
});

test("baseline of two CPUs is their common part, decoded to the closest model", (t) => {
  const caps = caps10(t);
  if (!caps) return;
  const a = "<cpu><model>EPYC-Rome</model><vendor>AMD</vendor><feature name='x2apic'/></cpu>";
  const b = "<cpu><model>EPYC</model><vendor>AMD</vendor><feature name='x2apic'/></cpu>";
  const xml = baselineHypervisorCpu(caps, "kvm", [a, b]);
  assert.ok(xml.includes("<model fallback='forbid'>EPYC</model>\n  <vendor>AMD</vendor>\n"), xml);
  assert.match(xml, /<feature policy='require' name='x2apic'\/>/);
  // expanded: every feature of the model is listed
  const full = baselineHypervisorCpu(caps, "kvm", [a, b], { expandFeatures: true });
  assert.match(full, /<feature policy='require' name='sse2'\/>/);
  assert.throws(
    () => baselineHypervisorCpu(caps, "kvm", [a, "<cpu><model>Haswell</model><vendor>Intel</vendor></cpu>"]),
    (e: unknown) => e instanceof VirtError && e.code === "CPU_VENDOR_MISMATCH",
  );
  assert.throws(
    () => baselineHypervisorCpu(caps, "kvm", ["<cpu><model>Nope</model></cpu>"]),
    (e: unknown) => e instanceof VirtError && e.code === "CPU_MODEL_UNKNOWN" && e.message.includes("Nope"),
  );
});

test("compare: a subset of the host is a superset result, a missing feature is incompatible", (t) => {
  const caps = caps10(t);
  if (!caps) return;
  assert.equal(compareHypervisorCpu(caps, "kvm", "<cpu><model>qemu64</model></cpu>"), CPU_COMPARE.SUPERSET);
  // libvirt's EPYC-Rome has no xsaves, which this host lacks: asking for it is incompatible
  const rome = "<cpu><model>EPYC-Rome</model></cpu>";
  const romeXsaves = "<cpu><model>EPYC-Rome</model><feature name='xsaves'/></cpu>";
  assert.equal(compareHypervisorCpu(caps, "kvm", rome), CPU_COMPARE.SUPERSET);
  assert.equal(compareHypervisorCpu(caps, "kvm", romeXsaves), CPU_COMPARE.INCOMPATIBLE);
  assert.throws(
    () => compareHypervisorCpu(caps, "kvm", romeXsaves, true),
    (e: unknown) =>
      e instanceof VirtError &&
      e.code === "CPU_INCOMPATIBLE" &&
      e.message.includes("Host CPU does not provide required features: xsaves"),
  );
  const forbid = "<cpu><model>EPYC-Rome</model><feature policy='forbid' name='x2apic'/></cpu>";
  assert.equal(compareHypervisorCpu(caps, "kvm", forbid), CPU_COMPARE.INCOMPATIBLE);
});

test("CPU XML: features with their policies; a bad policy is an XML error", () => {
  assert.deepEqual(parseCpuXml("<cpu><model>EPYC</model><feature policy='disable' name='vme'/></cpu>"), {
    model: "EPYC",
    features: [{ name: "vme", policy: "disable" }],
  });
  assert.throws(
    () => parseCpuXml("<cpu><feature policy='maybe' name='vme'/></cpu>"),
    (e: unknown) => e instanceof VirtError && e.code === "CPU_XML_INVALID" && e.message.includes("'maybe'"),
  );
});
