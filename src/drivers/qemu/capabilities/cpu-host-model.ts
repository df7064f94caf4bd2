/**
 * `<cpu mode='host-model'>`: the host CPU as QEMU expands it (`host` under KVM, `max` under TCG,
 * the `hostCPU` of the capabilities) described as the closest named model plus the features to
 * add (`require`) or remove (`disable`), following libvirt's x86 decoder
 * (cpu_x86.c x86Decode / x86DataToCPU / x86DecodeUseCandidate, for a guest CPU):
 *
 * - every model the hypervisor lists (usable or not) and the map knows is a candidate, except
 *   models of another vendor;
 * - a candidate's features: the host's features it lacks are required, its features the host
 *   lacks are disabled, and a feature QEMU reports as blocking the model that the host does not
 *   have extra is disabled too;
 * - a candidate whose family/model matches the host wins over one that does not; otherwise the
 *   one with fewer features wins, a disabled feature costing 2, 3, 4, … (so disabling is
 *   dearer than requiring), and on equal cost the one with fewer disabled features.
 *
 * The migratable variant (what a guest gets) leaves out features that block migration
 * (`invtsc`, or any feature QEMU reports as on only when not migratable).
 */
import type { Accel, CpuDefinition, CpuModelInfo, QemuCaps } from "./types.ts";
import {
  decodeModels,
  isKnownFeature,
  isMigratableFeature,
  libvirtFeatureName,
  libvirtVendor,
  mapModel,
  sortFeatures,
  type CpuMapModel,
} from "./cpu-map.ts";

/** Domain (virt) types QEMU runs: KVM, TCG (`qemu`), and HVF (only from a macOS host's file). */
export type VirtType = "kvm" | "qemu" | "hvf";

export interface HostModelFeature {
  readonly policy: "require" | "disable";
  readonly name: string;
}

/** The host-model CPU as domain capabilities show it. */
export interface HostModel {
  readonly model: string;
  readonly fallback: "forbid" | "allow";
  readonly vendor?: string;
  readonly maxphysaddr?: { readonly mode: "passthrough"; readonly limit?: number };
  readonly features: readonly HostModelFeature[];
}

export interface CpuModelEntry {
  readonly name: string;
  readonly usable: "yes" | "no" | "unknown";
  readonly vendor?: string;
  readonly canonical?: string;
  readonly deprecated?: boolean;
  readonly blockers: readonly string[];
}

export interface HostModelOptions {
  /**
   * The CPU map (named models with their features). Defaults to the capabilities' own
   * (`caps.cpuDefinitions`); libvirt's capability files have none, so their tests pass the map
   * of the installed QEMU.
   */
  readonly cpuDefinitions?: readonly CpuDefinition[];
  /** Leave out features that block migration (what a guest gets). Default false. */
  readonly migratable?: boolean;
  /** Host physical address bits, for `<maxphysaddr mode='passthrough' limit=…>` under KVM. */
  readonly hostPhysBits?: number;
}

export function accelOf(virtType: VirtType): Accel {
  return virtType === "qemu" ? "tcg" : virtType;
}

/** A CPU as features (libvirt names) with vendor and signature: the host's, or a baseline. */
export interface CpuData {
  readonly vendor?: string;
  readonly family?: number;
  readonly model?: number;
  readonly features: ReadonlySet<string>;
}

/** The host CPU QEMU reports for `accel` as libvirt features, vendor and signature. */
export function hostCpuData(caps: QemuCaps, accel: Accel, migratable: boolean): CpuData | undefined {
  const h = caps.accel[accel]?.hostCpu;
  if (!h) return undefined;
  const features = new Set<string>();
  let vendor: string | undefined;
  let family: number | undefined;
  let model: number | undefined;
  for (const p of h.props) {
    if (p.type === "boolean") {
      if (p.value !== "true") continue;
      if (migratable && p.migratable === false) continue;
      const name = libvirtFeatureName(p.name);
      if (!isKnownFeature(name)) continue;
      if (migratable && !isMigratableFeature(name)) continue;
      features.add(name);
    } else if (p.name === "vendor") {
      vendor = libvirtVendor(p.value);
    } else if (p.name === "family") {
      family = Number(p.value);
    } else if (p.name === "model") {
      model = Number(p.value);
    }
  }
  return {
    ...(vendor !== undefined ? { vendor } : {}),
    ...(family !== undefined ? { family } : {}),
    ...(model !== undefined ? { model } : {}),
    features,
  };
}

export interface Candidate {
  readonly model: CpuMapModel;
  readonly require: readonly string[];
  readonly disable: readonly string[];
}

/** libvirt's x86DataToCPU: the features to add to and remove from `model` to get the host. */
function candidateFor(host: CpuData, model: CpuMapModel, hv: CpuModelInfo | undefined): Candidate {
  const require: string[] = [];
  for (const f of host.features) if (!model.features.has(f)) require.push(f);
  const disable = new Set<string>();
  for (const f of model.features) if (!host.features.has(f)) disable.add(f);
  const extra = new Set(require);
  for (const b of hv?.blockers ?? []) {
    const name = libvirtFeatureName(b);
    if (isKnownFeature(name) && !extra.has(name)) disable.add(name);
  }
  return { model, require: sortFeatures(require), disable: sortFeatures(disable) };
}

/**
 * libvirt's cost of a guest CPU definition (virCPUx86CompareCandidateFeatureList): each feature
 * counts 1, a disabled one 2, 3, 4, … instead. libvirt's loop runs while its index is below the
 * count of enabled features, which it lowers at each disabled one, so the last disabled features
 * of a long list keep costing 1; kept as is, since that decides which model libvirt picks.
 */
function cost(c: Candidate): { total: number; disabled: number } {
  const isDisabled = [...c.require.map(() => false), ...c.disable.map(() => true)];
  let enabled = isDisabled.length;
  let disabled = 0;
  let penalty = 2;
  for (let i = 0; i < enabled; i++) {
    if (isDisabled[i]) {
      enabled--;
      disabled += penalty++;
    }
  }
  return { total: enabled + disabled, disabled };
}

function signatureMatches(m: CpuMapModel, host: CpuData): boolean {
  return (
    host.family !== undefined && m.family !== undefined && m.family === host.family && m.model === host.model
  );
}

function better(current: Candidate | undefined, cand: Candidate, host: CpuData): boolean {
  if (!current) return true;
  const curSig = signatureMatches(current.model, host);
  const candSig = signatureMatches(cand.model, host);
  if (curSig && !candSig) return false;
  if (!curSig && candSig) return true;
  const a = cost(current);
  const b = cost(cand);
  return b.total < a.total || (b.total === a.total && b.disabled < a.disabled);
}

/**
 * libvirt's x86Decode for a guest CPU: the closest model among `models` the hypervisor lists
 * (`hv`), with the features to require and disable; `preferred` wins when the hypervisor has it.
 */
export function decodeCpuData(
  host: CpuData,
  models: readonly CpuMapModel[],
  hv: ReadonlyMap<string, CpuModelInfo>,
  preferred?: string,
): Candidate | undefined {
  let best: Candidate | undefined;
  // newest first, like libvirt's walk from the end of its map
  for (let i = models.length - 1; i >= 0; i--) {
    const m = models[i]!;
    const info = hv.get(m.name);
    if (!info) continue;
    if (host.vendor !== undefined && m.vendor !== undefined && m.vendor !== host.vendor) continue;
    const cand = candidateFor(host, m, info);
    if (preferred !== undefined && m.name === preferred) return cand;
    if (better(best, cand, host)) best = cand;
  }
  return best;
}

/** The models the hypervisor lists for this accelerator, by name. */
export function hvModels(caps: QemuCaps, accel: Accel): Map<string, CpuModelInfo> {
  return new Map((caps.accel[accel]?.cpuModels ?? []).map((m) => [m.name, m]));
}

/**
 * The host-model CPU for `virtType` (libvirt's `<mode name='host-model'>` of domain
 * capabilities), or undefined when the capabilities have no host CPU or no CPU map, or the
 * architecture is not x86.
 */
export function hostModelCpu(
  caps: QemuCaps,
  virtType: VirtType,
  options: HostModelOptions = {},
): HostModel | undefined {
  if (caps.arch !== "x86_64" && caps.arch !== "i686") return undefined;
  const accel = accelOf(virtType);
  const defs = options.cpuDefinitions ?? caps.cpuDefinitions;
  if (!defs || defs.length === 0) return undefined;
  const host = hostCpuData(caps, accel, options.migratable ?? false);
  if (!host) return undefined;
  const best = decodeCpuData(host, decodeModels(defs), hvModels(caps, accel));
  if (!best) return undefined;
  // A hardware accelerator passes the host's physical address size through.
  const accelerated = accel !== "tcg";
  const limit = accelerated ? options.hostPhysBits : undefined;
  return {
    model: best.model.name,
    fallback: "forbid",
    ...(host.vendor !== undefined ? { vendor: host.vendor } : {}),
    ...(accelerated ? { maxphysaddr: { mode: "passthrough" as const, ...(limit ? { limit } : {}) } } : {}),
    features: [
      ...best.require.map((name) => ({ policy: "require" as const, name })),
      ...best.disable.map((name) => ({ policy: "disable" as const, name })),
    ],
  };
}

/** The named CPU models for `virtType` with their usability (domain capabilities' custom mode). */
export function cpuModelsFor(caps: QemuCaps, virtType: VirtType): CpuModelEntry[] {
  const accel = accelOf(virtType);
  const defs = new Map((caps.cpuDefinitions ?? []).map((d) => [d.name, d]));
  const out: CpuModelEntry[] = [];
  const all = caps.accel[accel]?.cpuModels ?? [];
  const names = new Set(all.map((m) => m.name));
  for (const m of all) {
    if (m.name === "host" || m.name === "max" || m.name === "base") continue;
    const def = defs.get(m.name);
    const vendor = def ? mapModel(def).vendor : undefined;
    // QEMU resolves an unversioned name to its -v1 (libvirt's files do not keep alias-of)
    const canonical = m.aliasOf ?? (names.has(`${m.name}-v1`) ? `${m.name}-v1` : undefined);
    out.push({
      name: m.name,
      usable: m.usableUnknown ? "unknown" : m.usable ? "yes" : "no",
      ...(vendor !== undefined ? { vendor } : {}),
      ...(canonical !== undefined ? { canonical } : {}),
      ...(m.deprecated ? { deprecated: true } : {}),
      blockers: (m.blockers ?? []).map(libvirtFeatureName),
    });
  }
  return out;
}

/** Linux's /proc/cpuinfo flag names that libvirt spells differently. */
const LINUX_TO_LIBVIRT: Readonly<Record<string, string>> = {
  pclmulqdq: "pclmuldq",
  tsc_deadline_timer: "tsc-deadline",
  cr8_legacy: "cr8legacy",
  sha_ni: "sha-ni",
  avx512_vnni: "avx512vnni",
  avx512_bf16: "avx512-bf16",
  arch_capabilities: "arch-capabilities",
  amd_ssbd: "amd-ssbd",
  virt_ssbd: "virt-ssbd",
  md_clear: "md-clear",
  spec_ctrl: "spec-ctrl",
  intel_stibp: "stibp",
};

function libvirtNameOfLinuxFlag(flag: string): string | undefined {
  for (const n of [
    LINUX_TO_LIBVIRT[flag],
    libvirtFeatureName(flag),
    flag,
    flag.replace(/_/g, "-"),
    flag.replace(/_/g, "."),
  ]) {
    if (n !== undefined && isKnownFeature(n)) return n;
  }
  return undefined;
}

/** Every model of the CPU map as if the hypervisor listed it usable (no blockers). */
export function anyModels(defs: readonly CpuDefinition[]): Map<string, CpuModelInfo> {
  return new Map(defs.map((d) => [d.name, { name: d.name, usable: true }]));
}

/** The host CPU of /proc/cpuinfo as libvirt features, vendor and signature. */
export function cpuDataFromCpuId(id: HostCpuIdLike): CpuData {
  const features = new Set<string>();
  for (const f of id.flags) {
    const n = libvirtNameOfLinuxFlag(f);
    if (n !== undefined) features.add(n);
  }
  const vendor = libvirtVendor(id.vendorId);
  return {
    ...(vendor !== undefined ? { vendor } : {}),
    ...(id.family !== undefined ? { family: id.family } : {}),
    ...(id.model !== undefined ? { model: id.model } : {}),
    features,
  };
}

/** What /proc/cpuinfo says of the host CPU (host/facts.ts hostCpuId). */
export interface HostCpuIdLike {
  readonly vendorId?: string;
  readonly family?: number;
  readonly model?: number;
  readonly flags: readonly string[];
}

/**
 * The host CPU of the capabilities XML (`<host><cpu>`), as libvirt's x86 decoder describes a
 * host CPU: the closest model of the map whose features the host all has, its vendor, and the
 * host's features beyond the model. The CPU is read from /proc/cpuinfo (libvirt reads CPUID;
 * the kernel's flags are the same bits, named its way), the map is QEMU's.
 */
export function hostCpuFromCpuId(
  defs: readonly CpuDefinition[] | undefined,
  id: HostCpuIdLike,
): { model: string; vendor?: string; features: string[] } | undefined {
  if (!defs || defs.length === 0) return undefined;
  const host = cpuDataFromCpuId(id);
  const { vendor, features } = host;
  // libvirt takes no model for a host CPU that would need features disabled
  const fits = decodeModels(defs).filter((m) => [...m.features].every((f) => features.has(f)));
  const best = decodeCpuData(host, fits, anyModels(defs));
  if (!best) return undefined;
  return {
    model: best.model.name,
    ...(vendor !== undefined ? { vendor } : {}),
    features: [...best.require],
  };
}
