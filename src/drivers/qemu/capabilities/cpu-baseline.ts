/**
 * CPU definitions against the CPU map: baseline (the closest model every given CPU can run,
 * `virConnectBaselineHypervisorCPU`) and comparison with the CPU the hypervisor gives a guest
 * (`virConnectCompareHypervisorCPU`), x86 only, after libvirt's cpu_x86.c (x86Baseline,
 * x86Compute): a CPU's features are its model's plus the features it requires, less those it
 * disables; the baseline is their intersection, decoded like host-model.
 */
import { parseXml, type XmlElement } from "../../../conf/xml.ts";
import { VirtError } from "../../../util/errors/index.ts";
import {
  accelOf,
  anyModels,
  decodeCpuData,
  hostCpuData,
  hvModels,
  type CpuData,
  type VirtType,
} from "./cpu-host-model.ts";
import {
  decodeModels,
  isKnownFeature,
  isMigratableFeature,
  sortFeatures,
  type CpuMapModel,
} from "./cpu-map.ts";
import type { QemuCaps } from "./types.ts";

export type FeaturePolicy = "force" | "require" | "optional" | "disable" | "forbid";

/** A `<cpu>` element as baseline and compare read it. */
export interface CpuXml {
  readonly arch?: string;
  readonly model?: string;
  readonly vendor?: string;
  readonly features: readonly { readonly name: string; readonly policy?: FeaturePolicy }[];
}

const POLICIES: readonly string[] = ["force", "require", "optional", "disable", "forbid"];

function invalid(reason: string): VirtError {
  return new VirtError("CPU_XML_INVALID", { reason });
}

function cpuOf(el: XmlElement): CpuXml {
  const features = el.all("feature").map((f) => {
    const name = f.attr("name");
    if (!name) throw invalid("invalid CPU feature name");
    const policy = f.attr("policy");
    if (policy !== undefined && !POLICIES.includes(policy))
      throw invalid(`invalid CPU feature policy '${policy}' for feature '${name}'`);
    return { name, ...(policy !== undefined ? { policy: policy as FeaturePolicy } : {}) };
  });
  const arch = el.childText("arch");
  const model = el.childText("model");
  const vendor = el.childText("vendor");
  return {
    ...(arch ? { arch } : {}),
    ...(model ? { model } : {}),
    ...(vendor ? { vendor } : {}),
    features,
  };
}

/** Parses one `<cpu>` document (a bare `<cpu>`, as virsh extracts them). */
export function parseCpuXml(xml: string, document = "cpu.xml"): CpuXml {
  const root = parseXml(xml, document);
  if (root.name !== "cpu") throw invalid(`expected <cpu>, got <${root.name}>`);
  return cpuOf(root);
}

/** libvirt's formatting of a guest CPU definition. */
export function formatCpuXml(cpu: {
  model: string;
  vendor?: string;
  features: readonly { policy: string; name: string }[];
}): string {
  let s = "<cpu mode='custom' match='exact'>\n";
  s += `  <model fallback='forbid'>${cpu.model}</model>\n`;
  if (cpu.vendor !== undefined) s += `  <vendor>${cpu.vendor}</vendor>\n`;
  for (const f of cpu.features) s += `  <feature policy='${f.policy}' name='${f.name}'/>\n`;
  return s + "</cpu>\n";
}

function modelOf(models: readonly CpuMapModel[], name: string | undefined): CpuMapModel {
  if (name === undefined) throw new VirtError("CPU_MODEL_MISSING", {});
  const m = models.find((x) => x.name === name);
  if (!m) throw new VirtError("CPU_MODEL_UNKNOWN", { model: name });
  return m;
}

/** Every feature a CPU definition has: its model's, plus required, less disabled. */
function featuresOf(cpu: CpuXml, models: readonly CpuMapModel[]): Set<string> {
  const set = new Set(modelOf(models, cpu.model).features);
  for (const f of cpu.features) {
    if (!isKnownFeature(f.name))
      throw new VirtError("CPU_XML_INVALID", { reason: `unknown CPU feature ${f.name}` });
    const p = f.policy ?? "require";
    if (p === "require" || p === "force") set.add(f.name);
    else if (p === "disable" || p === "forbid") set.delete(f.name);
  }
  return set;
}

export interface BaselineOptions {
  /** List every feature of the result, the model's too (VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES). */
  readonly expandFeatures?: boolean;
  /** Leave out features that block migration (VIR_CONNECT_BASELINE_CPU_MIGRATABLE). */
  readonly migratable?: boolean;
  /**
   * Any model of the map, whatever the hypervisor says of it (virConnectBaselineCPU, which
   * libvirt answers from its CPU map alone).
   */
  readonly anyModel?: boolean;
}

function mapOf(caps: QemuCaps, virtType: VirtType): readonly CpuMapModel[] {
  const defs = caps.cpuDefinitions;
  if (!defs || defs.length === 0 || (caps.arch !== "x86_64" && caps.arch !== "i686"))
    throw new VirtError("CPU_HOST_UNKNOWN", { virttype: virtType, arch: caps.arch });
  return decodeModels(defs);
}

/** The baseline of `xmlCPUs` for this hypervisor, as libvirt formats it. */
export function baselineHypervisorCpu(
  caps: QemuCaps,
  virtType: VirtType,
  xmlCPUs: readonly string[],
  options: BaselineOptions = {},
): string {
  if (xmlCPUs.length === 0) throw new VirtError("CPU_NO_CPUS", {});
  const cpus = xmlCPUs.map((x, i) => parseCpuXml(x, `CPU ${String(i + 1)}`));
  // the map of all models (usable or not) knows every model a CPU may name
  const all = decodeModels(caps.cpuDefinitions ?? []);
  const models = mapOf(caps, virtType);
  let vendor: string | undefined;
  let base: Set<string> | undefined;
  for (const c of cpus) {
    if (c.vendor !== undefined) {
      if (vendor !== undefined && vendor !== c.vendor) throw new VirtError("CPU_VENDOR_MISMATCH", {});
      vendor = c.vendor;
    }
    const f = featuresOf(c, all);
    base = base ? new Set([...base].filter((x) => f.has(x))) : f;
  }
  let features = [...(base ?? [])];
  if (options.migratable) features = features.filter(isMigratableFeature);
  const data: CpuData = { ...(vendor !== undefined ? { vendor } : {}), features: new Set(features) };
  // libvirt prefers the CPUs' own model when they all name the same one
  const names = new Set(cpus.map((c) => c.model));
  const preferred = names.size === 1 ? cpus[0]?.model : undefined;
  // every model the hypervisor lists, as libvirt does: what blocks one is disabled in the result
  const hv = options.anyModel ? anyModels(caps.cpuDefinitions ?? []) : hvModels(caps, accelOf(virtType));
  const best = decodeCpuData(data, models, hv, preferred);
  if (!best) throw new VirtError("CPU_NO_BASELINE", {});
  const list = options.expandFeatures
    ? [
        ...sortFeatures(
          new Set([...best.model.features, ...best.require].filter((f) => !best.disable.includes(f))),
        ).map((name) => ({ policy: "require", name })),
        ...best.disable.map((name) => ({ policy: "disable", name })),
      ]
    : [
        ...best.require.map((name) => ({ policy: "require", name })),
        ...best.disable.map((name) => ({ policy: "disable", name })),
      ];
  return formatCpuXml({
    model: best.model.name,
    ...(vendor !== undefined ? { vendor } : {}),
    features: list,
  });
}

/** virCPUCompareResult */
export const CPU_COMPARE = { INCOMPATIBLE: 0, IDENTICAL: 1, SUPERSET: 2 } as const;

/**
 * Compares a CPU definition with the CPU the hypervisor gives a host-model guest: identical,
 * a subset of it (the host is a superset) or incompatible (naming the missing features, the
 * error when `failIncompatible`).
 */
export function compareHypervisorCpu(
  caps: QemuCaps,
  virtType: VirtType,
  xml: string,
  failIncompatible = false,
  hostCpu?: CpuData,
): number {
  const cpu = parseCpuXml(xml);
  const all = mapOf(caps, virtType);
  // virConnectCompareCPU compares with the host's own CPU, the hypervisor call with QEMU's view
  const host = hostCpu ?? hostCpuData(caps, accelOf(virtType), false);
  if (!host) throw new VirtError("CPU_HOST_UNKNOWN", { virttype: virtType, arch: caps.arch });
  if (cpu.vendor !== undefined && host.vendor !== undefined && cpu.vendor !== host.vendor) {
    if (failIncompatible)
      throw new VirtError("CPU_INCOMPATIBLE", {
        reason: `host CPU vendor does not match required CPU vendor ${cpu.vendor}`,
      });
    return CPU_COMPARE.INCOMPATIBLE;
  }
  const want = featuresOf(cpu, all);
  const missing = sortFeatures([...want].filter((f) => !host.features.has(f)));
  const forbidden = sortFeatures(
    cpu.features.filter((f) => f.policy === "forbid" && host.features.has(f.name)).map((f) => f.name),
  );
  if (missing.length > 0 || forbidden.length > 0) {
    if (failIncompatible) {
      const reason =
        missing.length > 0
          ? `Host CPU does not provide required features: ${missing.join(", ")}`
          : `Host CPU provides forbidden features: ${forbidden.join(", ")}`;
      throw new VirtError("CPU_INCOMPATIBLE", { reason });
    }
    return CPU_COMPARE.INCOMPATIBLE;
  }
  return [...host.features].every((f) => want.has(f)) ? CPU_COMPARE.IDENTICAL : CPU_COMPARE.SUPERSET;
}
