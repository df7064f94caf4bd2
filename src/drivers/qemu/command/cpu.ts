/**
 * `-cpu` (named models, host-passthrough, maximum, host-model expansion, features, paravirt
 * timers, Hyper-V enlightenments, physical address bits) and `-smp`.
 */
import { VirtError } from "../../../util/errors/index.ts";
import type { CpuFeaturePolicy } from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import { fail } from "./build.ts";
import { hostModelCpu } from "../capabilities/cpu-host-model.ts";
import { mapModel } from "../capabilities/cpu-map.ts";
import type { HostModelCpu } from "./types.ts";

/** libvirt feature names that QEMU spells differently (x86). */
const FEATURE_TO_QEMU: Record<string, string> = {
  cmp_legacy: "cmp-legacy",
  ds_cpl: "ds-cpl",
  fxsr_opt: "fxsr-opt",
  kvm_pv_eoi: "kvm-pv-eoi",
  kvm_pv_unhalt: "kvm-pv-unhalt",
  lahf_lm: "lahf-lm",
  nodeid_msr: "nodeid-msr",
  pclmuldq: "pclmulqdq",
  perfctr_core: "perfctr-core",
  perfctr_nb: "perfctr-nb",
  tsc_adjust: "tsc-adjust",
};

export function featureToQemu(name: string): string {
  return FEATURE_TO_QEMU[name] ?? name;
}

/**
 * x86 features libvirt leaves out of the guest CPU it starts (virQEMUCapsCPUFilterFeatures):
 * the resource monitoring ones QEMU cannot emulate and the ones the guest OS switches on.
 */
const FILTERED_FEATURES = new Set(["cmt", "mbm_total", "mbm_local", "osxsave", "ospke"]);

function featureArgs(features: readonly { name: string; policy?: CpuFeaturePolicy }[]): string {
  let s = "";
  for (const f of features) {
    if (FILTERED_FEATURES.has(f.name)) continue;
    const policy = f.policy ?? "require";
    if (policy === "force" || policy === "require") s += `,${featureToQemu(f.name)}=on`;
    else if (policy === "disable" || policy === "forbid") s += `,${featureToQemu(f.name)}=off`;
  }
  return s;
}

/** The machine's default CPU model (`qemu64` from `qemu64-x86_64-cpu`). */
function machineDefaultModel(b: Build): string | undefined {
  const t = b.machine?.defaultCPU;
  if (!t) return undefined;
  const suffix = `-${b.ctx.caps.arch || "x86_64"}-cpu`;
  return t.endsWith(suffix) ? t.slice(0, -suffix.length) : t;
}

const HYPERV_ORDER = [
  "relaxed",
  "vapic",
  "spinlocks",
  "vpindex",
  "runtime",
  "synic",
  "stimer",
  "reset",
  "vendor_id",
  "frequencies",
  "reenlightenment",
  "tlbflush",
  "ipi",
  "evmcs",
  "avic",
  "emsr_bitmap",
  "xmm_input",
];

/**
 * The host-model CPU a guest gets: libvirt's decoding of the host CPU QEMU reports for this
 * accelerator into a named model plus features, without the features that block migration.
 */
function guestHostModel(b: Build): HostModelCpu | undefined {
  const hm = hostModelCpu(b.ctx.caps, b.accel === "kvm" ? "kvm" : "qemu", { migratable: true });
  return hm && { model: hm.model, features: hm.features };
}

/** The host CPU model libvirt updates a guest CPU against (virCPUUpdate's host). */
function hostCpuModel(b: Build): HostModelCpu | undefined {
  return b.ctx.hostModelCpu ?? guestHostModel(b);
}

/** Whether the host CPU model has a feature: listed on it, or part of its named model. */
function hostHasFeature(b: Build, hm: HostModelCpu, name: string): boolean {
  const f = hm.features.find((x) => x.name === name);
  if (f) return f.policy !== "disable" && f.policy !== "forbid";
  const def = b.ctx.caps.cpuDefinitions?.find((d) => d.name === hm.model);
  return def !== undefined && mapModel(def).features.has(name);
}

/**
 * The guest's features after libvirt's x86 update against the host CPU: an `optional` feature
 * becomes `require` when the host has it and `disable` when not.
 */
function resolvedFeatures(
  b: Build,
  features: readonly { name: string; policy?: CpuFeaturePolicy }[],
): { name: string; policy?: CpuFeaturePolicy }[] {
  if (!features.some((f) => f.policy === "optional")) return [...features];
  const hm = hostCpuModel(b);
  if (!hm) {
    return fail(
      "QEMU_CMD_HOST_MODEL_UNAVAILABLE",
      { arch: b.def.os.arch ?? b.ctx.caps.arch, virtType: b.def.type },
      { xpath: "/domain/cpu/feature/@policy" },
    );
  }
  return features.map((f) =>
    f.policy === "optional"
      ? { name: f.name, policy: hostHasFeature(b, hm, f.name) ? "require" : "disable" }
      : f,
  );
}

/**
 * The host CPU's features with the guest's merged in (x86UpdateHostModel): a guest feature the
 * host lists changes its policy in place, the others follow the host's.
 */
function mergedFeatures(
  host: readonly { name: string; policy?: CpuFeaturePolicy }[],
  guest: readonly { name: string; policy?: CpuFeaturePolicy }[],
): { name: string; policy?: CpuFeaturePolicy }[] {
  const out = host.map((f) => ({ ...f }));
  for (const g of guest) {
    const i = out.findIndex((f) => f.name === g.name);
    if (i >= 0) out[i] = { ...g };
    else out.push({ ...g });
  }
  return out;
}

function modelArg(b: Build): string | undefined {
  const cpu = b.def.cpu;
  if (!cpu || (cpu.mode === "custom" && !cpu.model?.name)) {
    const dflt = machineDefaultModel(b);
    if (dflt !== undefined) return dflt;
    if (b.arch === "i686" && b.emulator.includes("x86_64")) return "qemu32";
    return undefined;
  }
  let s: string;
  switch (cpu.mode) {
    case "host-passthrough":
    case "maximum": {
      s = cpu.mode === "maximum" ? "max" : "host";
      // libvirt's post-parse default: migratable on when QEMU knows the property
      const migratable = cpu.migratable ?? (b.has("cpu.migratable") ? true : undefined);
      if (migratable !== undefined && b.has("cpu.migratable"))
        s += `,migratable=${migratable ? "on" : "off"}`;
      break;
    }
    case "host-model": {
      const hm = b.ctx.hostModelCpu ?? guestHostModel(b);
      if (!hm) {
        return fail(
          "QEMU_CMD_HOST_MODEL_UNAVAILABLE",
          { arch: b.def.os.arch ?? b.ctx.caps.arch, virtType: b.def.type },
          { xpath: "/domain/cpu/@mode" },
        );
      }
      s = hm.model;
      // the domain's vendor_id replaces the host's, ahead of the host's features
      const vendor = cpu.model?.vendor_id ?? hm.vendorId;
      if (vendor) s += `,vendor=${vendor}`;
      s += featureArgs(hm.features);
      break;
    }
    case "custom":
      if (cpu.match === "minimum") {
        // the host CPU model with the guest's features merged in, as host-model does
        const hm = hostCpuModel(b);
        if (!hm) {
          return fail(
            "QEMU_CMD_HOST_MODEL_UNAVAILABLE",
            { arch: b.def.os.arch ?? b.ctx.caps.arch, virtType: b.def.type },
            { xpath: "/domain/cpu/@match" },
          );
        }
        s = hm.model;
        const vendor = cpu.model?.vendor_id ?? hm.vendorId;
        if (vendor) s += `,vendor=${vendor}`;
        return s + featureArgs(mergedFeatures(hm.features, resolvedFeatures(b, cpu.features)));
      }
      s = cpu.model?.name ?? "";
      break;
  }
  if (cpu.model?.vendor_id && cpu.mode !== "host-model") s += `,vendor=${cpu.model.vendor_id}`;
  s += featureArgs(cpu.mode === "host-model" ? cpu.features : resolvedFeatures(b, cpu.features));
  return s;
}

export function buildCpu(b: Build): void {
  const def = b.def;
  const cpu = def.cpu;
  // The host CPU passes through with a hardware accelerator only (virQEMUCapsIsCPUModeSupported).
  if (cpu?.mode === "host-passthrough" && b.accel === "tcg") {
    throw new VirtError(
      "QEMU_CPU_MODE_UNSUPPORTED",
      { mode: cpu.mode, arch: b.arch, type: def.type, hostArch: b.ctx.caps.arch },
      { xpath: "/domain/cpu/@mode" },
    );
  }
  const model = modelArg(b);
  let flags = "";
  for (const t of def.clock.timers) {
    switch (t.name) {
      case "kvmclock":
        if (t.present !== undefined) flags += `,kvmclock=${t.present ? "on" : "off"}`;
        break;
      case "hypervclock":
        if (t.present === true) flags += ",hv-time=on";
        break;
      case "tsc":
        if (t.frequency !== undefined && t.frequency > 0) flags += `,tsc-frequency=${t.frequency}`;
        break;
      case "armvtimer":
        if (t.tickpolicy === "delay") flags += ",kvm-no-adjvtime=off";
        else if (t.tickpolicy === "discard") flags += ",kvm-no-adjvtime=on";
        break;
      default:
        break;
    }
  }
  const f = def.features;
  if (f?.apic?.eoi !== undefined) flags += `,kvm-pv-eoi=${f.apic.eoi ? "on" : "off"}`;
  if (f?.pvspinlock !== undefined) flags += `,kvm-pv-unhalt=${f.pvspinlock ? "on" : "off"}`;
  if (f?.hyperv) {
    if (f.hyperv.mode === "passthrough") flags += ",hv-passthrough=on";
    for (const name of HYPERV_ORDER) {
      const hv = f.hyperv.features.find((x) => x.name === name);
      if (hv?.state !== true) continue;
      if (name === "spinlocks") {
        const retries = Number(hv.attrs?.retries ?? hv.value ?? 0);
        flags += `,hv-spinlocks=0x${retries.toString(16)}`;
      } else if (name === "vendor_id") {
        flags += `,hv-vendor-id=${hv.attrs?.value ?? hv.value ?? ""}`;
      } else {
        // QEMU spells the enlightenments with dashes (hv-emsr-bitmap, hv-xmm-input)
        flags += `,hv-${name.replace(/_/g, "-")}=on`;
        const sub = (n: string): boolean => hv.sub?.some((d) => d.name === n && d.state === true) ?? false;
        if (name === "stimer" && sub("direct")) flags += ",hv-stimer-direct=on";
        if (name === "tlbflush") {
          if (sub("direct")) flags += ",hv-tlbflush-direct=on";
          if (sub("extended")) flags += ",hv-tlbflush-ext=on";
        }
      }
    }
  }
  if (def.devices.panics.some((p) => p.model === "hyperv")) flags += ",hv-crash";
  if (f?.kvm) {
    for (const k of f.kvm.features) {
      if (k.name === "hidden" && k.state === true) flags += ",kvm=off";
      else if (k.name === "hint-dedicated" && k.state === true) flags += ",kvm-hint-dedicated=on";
      else if (k.name === "poll-control" && k.state === true) flags += ",kvm-poll-control=on";
      else if (k.name === "pv-ipi" && k.state === false) flags += ",kvm-pv-ipi=off";
    }
  }
  if (f?.pmu !== undefined && !b.arch.startsWith("ppc64")) flags += `,pmu=${f.pmu ? "on" : "off"}`;
  if (cpu?.cache) {
    let hostOff = false;
    let l3Off = false;
    switch (cpu.cache.mode) {
      case "emulate":
        flags += ",l3-cache=on";
        hostOff = true;
        break;
      case "passthrough":
        flags += ",host-cache-info=on";
        l3Off = true;
        break;
      case "disable":
        hostOff = l3Off = true;
        break;
    }
    if (hostOff && (cpu.mode === "host-passthrough" || cpu.mode === "maximum"))
      flags += ",host-cache-info=off";
    if (l3Off) flags += ",l3-cache=off";
  }
  const pa = cpu?.maxphysaddr;
  // Ubuntu's -hpb machines: the host's address width, unless <maxphysaddr> decides.
  if (!pa && b.hpb) flags += ",host-phys-bits=on";
  if (pa) {
    if (pa.mode === "passthrough") {
      flags += ",host-phys-bits=on";
      if (pa.limit !== undefined && pa.limit > 0) flags += `,host-phys-bits-limit=${pa.limit}`;
    } else if (pa.bits !== undefined && pa.bits > 0) {
      flags += `,phys-bits=${pa.bits}`;
    } else {
      flags += ",host-phys-bits=off";
    }
  }
  let m = model;
  if (flags !== "" && m === undefined) {
    if (b.arch === "i686") m = "qemu32";
    else if (b.arch === "x86_64") m = "qemu64";
    else
      fail("QEMU_CMD_UNSUPPORTED", {
        element: "CPU flags",
        reason: `no default CPU model for architecture ${b.arch}`,
      });
  }
  if (m !== undefined) b.add("-cpu", m + flags);
}

export function buildSmp(b: Build): void {
  const max = b.def.vcpu.count;
  // vCPUs that can be hot-plugged are added once QEMU runs, the others are there from the start
  const listed = b.def.vcpu.vcpus;
  const online = listed
    ? listed.filter((v) => v.enabled && !v.hotpluggable).length
    : (b.def.vcpu.current ?? max);
  let s = `${online}`;
  if (online !== max) s += `,maxcpus=${max}`;
  const t = b.def.cpu?.topology;
  if (t && t.sockets > 0) {
    if (t.dies !== 1 && !b.has("smp-dies")) {
      fail("QEMU_CMD_UNSUPPORTED", {
        element: "cpu topology",
        reason: "only 1 die per socket is supported by this QEMU",
      });
    }
    if (t.clusters !== 1 && !b.has("smp-clusters")) {
      fail("QEMU_CMD_UNSUPPORTED", {
        element: "cpu topology",
        reason: "only 1 cluster per die is supported by this QEMU",
      });
    }
    s += `,sockets=${t.sockets}`;
    if (b.has("smp-dies")) s += `,dies=${t.dies}`;
    if (b.has("smp-clusters")) s += `,clusters=${t.clusters}`;
    s += `,cores=${t.cores},threads=${t.threads}`;
  } else {
    s += `,sockets=${max},cores=1,threads=1`;
  }
  b.add("-smp", s);
}
