/**
 * The CPU model names `test:///default` lists (libvirt's test driver answers from libvirt's CPU
 * map, in the map's order), and its baseline of CPU definitions.
 */
import { KNOWN_ARCHES } from "../../conf/arch.ts";
import { parseXml } from "../../conf/xml.ts";
import { VirtError } from "../../util/errors/index.ts";

const X86 = (
  "486 pentium pentium2 pentium3 pentiumpro coreduo n270 core2duo qemu32 kvm32 cpu64-rhel5 " +
  "cpu64-rhel6 qemu64 kvm64 Conroe Penryn Nehalem Nehalem-IBRS Westmere Westmere-IBRS " +
  "SandyBridge SandyBridge-IBRS IvyBridge IvyBridge-IBRS Haswell-noTSX Haswell-noTSX-IBRS Haswell " +
  "Haswell-IBRS Broadwell-noTSX Broadwell-noTSX-IBRS Broadwell Broadwell-IBRS Skylake-Client " +
  "Skylake-Client-IBRS Skylake-Client-noTSX-IBRS Skylake-Server Skylake-Server-IBRS " +
  "Skylake-Server-noTSX-IBRS Cascadelake-Server Cascadelake-Server-noTSX Icelake-Client " +
  "Icelake-Client-noTSX Icelake-Server Icelake-Server-noTSX Cooperlake Snowridge athlon phenom " +
  "Opteron_G1 Opteron_G2 Opteron_G3 Opteron_G4 Opteron_G5 EPYC EPYC-IBPB EPYC-Rome EPYC-Milan Dhyana"
).split(" ");

const PPC64 = "POWER6 POWER7 POWER8 POWER9 POWER10 POWERPC_e5500 POWERPC_e6500".split(" ");

/** The model names for `arch`: empty where any model is accepted. */
export function testCpuModelNames(arch: string): string[] {
  if (!KNOWN_ARCHES.has(arch)) throw new VirtError("CPU_ARCH_UNKNOWN", { arch });
  if (arch === "x86_64" || arch === "i686") return [...X86];
  if (arch === "ppc64" || arch === "ppc64le") return [...PPC64];
  return [];
}

interface TestCpu {
  model?: string;
  vendor?: string;
  features: Map<string, string>;
}

function parseCpu(xml: string): TestCpu {
  const root = parseXml(xml, "cpu");
  if (root.name !== "cpu")
    throw new VirtError("CPU_XML_INVALID", { reason: `expected <cpu>, got <${root.name}>` });
  const features = new Map<string, string>();
  for (const f of root.all("feature")) {
    const name = f.attr("name");
    if (!name) throw new VirtError("CPU_XML_INVALID", { reason: "invalid CPU feature name" });
    features.set(name, f.attr("policy") ?? "require");
  }
  // libvirt's baseline parses each CPU as a host CPU, which must name its architecture
  if (!root.childText("arch")) throw new VirtError("CPU_XML_INVALID", { reason: "Missing CPU architecture" });
  const model = root.childText("model");
  const vendor = root.childText("vendor");
  return { ...(model ? { model } : {}), ...(vendor ? { vendor } : {}), features };
}

/**
 * The test driver's baseline: without a CPU map of its own it handles CPUs of one model, whose
 * baseline is that model with the features all of them require (libvirt's answer for them).
 */
export function testBaselineCpu(xmlCPUs: readonly string[]): string {
  if (xmlCPUs.length === 0) throw new VirtError("CPU_NO_CPUS", {});
  const cpus = xmlCPUs.map(parseCpu);
  const first = cpus[0]!;
  if (first.model === undefined) throw new VirtError("CPU_MODEL_MISSING", {});
  for (const c of cpus) {
    if (c.model !== first.model) throw new VirtError("CPU_NO_BASELINE", {});
    if (c.vendor !== undefined && first.vendor !== undefined && c.vendor !== first.vendor)
      throw new VirtError("CPU_VENDOR_MISMATCH", {});
  }
  const vendor = cpus.find((c) => c.vendor !== undefined)?.vendor;
  let s = `<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>${first.model}</model>\n`;
  if (vendor !== undefined) s += `  <vendor>${vendor}</vendor>\n`;
  for (const [name, policy] of first.features) {
    if (policy !== "require" && policy !== "force") continue;
    if (cpus.every((c) => ["require", "force"].includes(c.features.get(name) ?? "")))
      s += `  <feature policy='require' name='${name}'/>\n`;
  }
  return s + "</cpu>\n";
}
