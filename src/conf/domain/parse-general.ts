/**
 * Top-level parts of `<domain>` other than `<cpu>`, `<os>` and `<devices>`: identity, memory,
 * memory backing, vCPUs, NUMA tuning, features, clock, lifecycle, power management, security.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { XmlElement } from "../xml.ts";
import { isStatusParse } from "./parse-address.ts";
import type {
  Clock,
  ClockTimer,
  DomainDef,
  DomainFacts,
  DomainFeatures,
  LaunchSecurity,
  LifecycleAction,
  MemoryBacking,
  Numatune,
  PowerManagement,
  RawXmlElement,
  SecLabel,
  Vcpu,
} from "./types.ts";
import {
  bitmapAttr,
  missingAttr,
  enumAttr,
  enumText,
  intAttr,
  invalidText,
  onOff,
  reqEnum,
  reqUInt,
  sizeAttr,
  sizeText,
  str,
  structural,
  uintAttr,
  uintText,
  yesNo,
} from "./reader.ts";

// ---------------------------------------------------------------------------------------------
// UUID
// ---------------------------------------------------------------------------------------------

/** libvirt's UUID syntax: 32 hex digits, `-` or spaces between byte pairs allowed. */
export function parseUuid(text: string): string | undefined {
  let s = text.trim();
  const hex: string[] = [];
  while (s.length > 0 && hex.length < 16) {
    if (s[0] === "-" || s[0] === " ") {
      s = s.slice(1);
      continue;
    }
    const pair = s.slice(0, 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return undefined;
    hex.push(pair.toLowerCase());
    s = s.slice(2);
  }
  if (hex.length !== 16 || s.trim() !== "") return undefined;
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidText(el: XmlElement): string {
  const v = el.content;
  const u = parseUuid(v);
  if (!u) throw invalidText(el, v, "expected a UUID like 1ccfd97d-5eb4-478a-bbe6-88d254c16db7");
  return u;
}

// ---------------------------------------------------------------------------------------------
// Metadata (kept verbatim)
// ---------------------------------------------------------------------------------------------

export function rawElement(el: XmlElement): RawXmlElement {
  el.markAllUsed();
  const children: (RawXmlElement | string)[] = el.children.map(rawElement);
  if (el.children.length === 0 && el.text.trim() !== "") children.push(el.text);
  return { name: el.name, attrs: el.attrs.map((a) => ({ name: a.name, value: a.value })), children };
}

// ---------------------------------------------------------------------------------------------
// Memory backing, vCPU, NUMA tuning
// ---------------------------------------------------------------------------------------------

export function parseMemoryBacking(el: XmlElement): MemoryBacking {
  const mb: MemoryBacking = {};
  const hp = el.child("hugepages");
  if (hp) {
    mb.hugepages = {
      pages: hp.all("page").map((p) => {
        const size = sizeAttr(p, "size");
        if (size === undefined || size === 0) throw structural(p, "hugepage <page> needs a non-zero size");
        const nodeset = bitmapAttr(p, "nodeset");
        return nodeset === undefined ? { size } : { size, nodeset };
      }),
    };
  }
  if (el.child("nosharepages")) mb.nosharepages = true;
  if (el.child("locked")) mb.locked = true;
  const source = el.child("source");
  if (source) {
    const type = enumAttr(source, "type", ["anonymous", "file", "memfd"] as const);
    if (type) mb.source = { type };
  }
  const access = el.child("access");
  if (access) {
    const mode = enumAttr(access, "mode", ["shared", "private"] as const);
    if (mode) mb.access = { mode };
  }
  const alloc = el.child("allocation");
  if (alloc) {
    mb.allocation = {};
    const mode = enumAttr(alloc, "mode", ["immediate", "ondemand"] as const);
    const threads = uintAttr(alloc, "threads", { hex: false, min: 1, max: 0xffffffff });
    if (mode) mb.allocation.mode = mode;
    if (threads !== undefined) mb.allocation.threads = threads;
  }
  if (el.child("discard")) mb.discard = true;
  return mb;
}

export function parseVcpu(el: XmlElement | undefined): Vcpu {
  if (!el) return { count: 1 };
  const vcpu: Vcpu = { count: uintText(el, { hex: false, min: 1, max: 16384 }) };
  const placement = enumAttr(el, "placement", ["static", "auto"] as const);
  const cpuset = bitmapAttr(el, "cpuset");
  const current = uintAttr(el, "current", { hex: false, min: 1, max: 16384 });
  if (placement) vcpu.placement = placement;
  if (cpuset !== undefined) vcpu.cpuset = cpuset;
  if (current !== undefined) vcpu.current = current;
  return vcpu;
}

/**
 * `<vcpus>` (virDomainVcpuParse and its post-parse): each listed vCPU's state; the enabled
 * ones make `current`. A vCPU left out is disabled and hotpluggable; an enabled one is not
 * hotpluggable unless it says so, and a disabled one must be.
 */
export function parseVcpus(el: XmlElement, vcpu: Vcpu): void {
  const states: { enabled: boolean; hotpluggable?: boolean; order?: number }[] = Array.from(
    { length: vcpu.count },
    () => ({ enabled: false }),
  );
  for (const v of el.all("vcpu")) {
    const id = reqUInt(v, "id", { hex: false });
    if (id >= vcpu.count) throw structural(v, `vcpu id '${id}' is out of range of maximum vcpu count`);
    if (!v.hasAttr("enabled")) throw missingAttr(v, "enabled");
    const s: { enabled: boolean; hotpluggable?: boolean; order?: number } = {
      enabled: yesNo(v, "enabled") ?? false,
    };
    const hp = yesNo(v, "hotpluggable");
    if (hp !== undefined) s.hotpluggable = hp;
    const order = uintAttr(v, "order", { hex: false });
    if (order !== undefined && order !== 0) s.order = order;
    states[id] = s;
  }
  vcpu.vcpus = states.map((s, i) => {
    if (s.hotpluggable === false && !s.enabled)
      throw structural(el, `vcpu '${i}' is both offline and not hotpluggable`);
    return { ...s, hotpluggable: s.hotpluggable ?? !s.enabled };
  });
  const online = vcpu.vcpus.filter((s) => s.enabled).length;
  if (online < vcpu.count) vcpu.current = online;
  else delete vcpu.current;
}

const NUMA_MODES = ["strict", "preferred", "interleave", "restrictive"] as const;

export function parseNumatune(el: XmlElement): Numatune {
  const nt: Numatune = { memnodes: [] };
  const mem = el.child("memory");
  if (mem) {
    nt.memory = {};
    const mode = enumAttr(mem, "mode", NUMA_MODES);
    const nodeset = bitmapAttr(
      mem,
      "nodeset",
      undefined,
      () =>
        new VirtError(
          "DOMAIN_NUMATUNE_NODESET_INVALID",
          { nodeset: mem.attr("nodeset") ?? "" },
          { xpath: `${mem.xpath}/@nodeset`, line: mem.line, column: mem.column },
        ),
    );
    const placement = enumAttr(mem, "placement", ["static", "auto"] as const);
    if (mode) nt.memory.mode = mode;
    if (nodeset !== undefined) nt.memory.nodeset = nodeset;
    if (placement) nt.memory.placement = placement;
  }
  for (const n of el.all("memnode")) {
    const cellid = reqUInt(n, "cellid", { hex: false, max: 0xffff });
    if (nt.memnodes.some((m) => m.cellid === cellid))
      throw structural(n, `memnode for cellid ${cellid} is given twice`);
    const nodeset = bitmapAttr(n, "nodeset");
    if (nodeset === undefined) throw structural(n, "memnode needs a nodeset");
    nt.memnodes.push({ cellid, mode: enumAttr(n, "mode", NUMA_MODES) ?? "strict", nodeset });
  }
  return nt;
}

/**
 * The placement rules libvirt applies while parsing `<vcpu>` and `<numatune>`: a `<numatune>
 * <memory>` without placement or nodeset follows the vCPU placement, `placement='auto'` memory
 * drops any nodeset (numad chooses), an automatic vCPU placement without `<numatune>` means
 * automatic memory placement too, and automatic memory placement makes the vCPUs follow it
 * unless the vCPUs, the emulator or an I/O thread are pinned somewhere.
 */
export function resolveNumaPlacement(def: DomainDef): void {
  const vcpu = def.vcpu;
  // with placement='auto' libvirt does not read cpuset at all
  if (vcpu.placement === "auto") delete vcpu.cpuset;
  const vcpuStatic = vcpu.placement !== "auto";
  const nt = def.numatune;
  let memory = nt?.memory;
  if (!memory && !vcpuStatic) {
    memory = { mode: "strict", placement: "auto" };
    if (nt) nt.memory = memory;
    else def.numatune = { memory, memnodes: [] };
  }
  if (!memory) return;
  memory.mode ??= "strict";
  memory.placement ??= memory.nodeset !== undefined || vcpuStatic ? "static" : "auto";
  if (memory.placement !== "auto") return;
  delete memory.nodeset;
  const pinned =
    vcpu.cpuset !== undefined ||
    (def.cputune?.vcpupin.length ?? 0) > 0 ||
    def.cputune?.emulatorpin !== undefined ||
    (def.cputune?.other.some((e) => e.name === "iothreadpin") ?? false);
  if (!pinned) vcpu.placement = "auto";
}

// ---------------------------------------------------------------------------------------------
// Features
// ---------------------------------------------------------------------------------------------

/** Features written `<name/>` when on (presence = on). */
const PRESENCE_FEATURES = ["acpi", "pae", "viridian", "privnet"] as const;
/** Features with an optional `state='on|off'` (presence without state = on). */
const STATE_FEATURES = ["hap", "pvspinlock", "vmport", "htm", "pmu", "ps2", "vmcoreinfo"] as const;

function stateOf(el: XmlElement): boolean {
  return onOff(el, "state") ?? true;
}

function parseHyperv(el: XmlElement): NonNullable<DomainFeatures["hyperv"]> {
  const out: NonNullable<DomainFeatures["hyperv"]> = { features: [] };
  const mode = str(el, "mode");
  if (mode !== undefined) out.mode = mode;
  for (const c of el.children) {
    c.markAllUsed();
    const f: NonNullable<DomainFeatures["hyperv"]>["features"][number] = { name: c.name };
    const attrs: Record<string, string> = {};
    for (const a of c.attrs) {
      if (a.name === "state") f.state = a.value === "on";
      else if (a.name === "value") f.value = a.value;
      else attrs[a.name] = a.value;
    }
    if (Object.keys(attrs).length > 0) f.attrs = attrs;
    // stimer's <direct/>, tlbflush's <direct/> and <extended/>
    if (c.children.length > 0) {
      f.sub = c.children.map((d) => {
        const state = d.attr("state");
        return state === undefined ? { name: d.name } : { name: d.name, state: state === "on" };
      });
    }
    out.features.push(f);
  }
  return out;
}

export function parseFeatures(el: XmlElement): DomainFeatures {
  const f: DomainFeatures = {};
  for (const name of PRESENCE_FEATURES) {
    const c = el.child(name);
    if (c) f[name] = true;
  }
  for (const name of STATE_FEATURES) {
    const c = el.child(name);
    if (c) f[name] = stateOf(c);
  }
  const apic = el.child("apic");
  if (apic) {
    f.apic = {};
    const eoi = onOff(apic, "eoi");
    if (eoi !== undefined) f.apic.eoi = eoi;
  }
  const smm = el.child("smm");
  if (smm) {
    f.smm = { state: stateOf(smm) };
    const tseg = smm.child("tseg");
    // libvirt reads a TSEG size without a unit as MiB.
    if (tseg) f.smm.tseg = tseg.attr("unit") === undefined ? sizeText(tseg) * 1024 : sizeText(tseg);
  }
  const ioapic = el.child("ioapic");
  if (ioapic) {
    f.ioapic = {};
    const driver = enumAttr(ioapic, "driver", ["kvm", "qemu"] as const);
    if (driver) f.ioapic.driver = driver;
  }
  const hyperv = el.child("hyperv");
  if (hyperv) f.hyperv = parseHyperv(hyperv);
  const kvm = el.child("kvm");
  if (kvm) {
    f.kvm = {
      features: parseHyperv(kvm).features.map(({ name, state, attrs }) => ({
        name,
        ...(state === undefined ? {} : { state }),
        ...(attrs ? { attrs } : {}),
      })),
    };
  }
  const at = el.child("async-teardown");
  if (at) f.asyncTeardown = yesNo(at, "enabled") ?? true;
  const gic = el.child("gic");
  if (gic) {
    f.gic = {};
    const version = str(gic, "version");
    if (version !== undefined) f.gic.version = version;
  }
  const hpt = el.child("hpt");
  if (hpt) {
    f.hpt = {};
    const resizing = str(hpt, "resizing");
    if (resizing !== undefined) f.hpt.resizing = resizing;
  }
  const tcg = el.child("tcg");
  if (tcg) {
    f.tcg = {};
    const tb = tcg.child("tb-cache");
    if (tb) f.tcg.tbCache = sizeText(tb);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

const TIMER_NAMES = [
  "platform",
  "pit",
  "rtc",
  "hpet",
  "tsc",
  "kvmclock",
  "hypervclock",
  "armvtimer",
] as const;

function parseTimer(el: XmlElement): ClockTimer {
  const t: ClockTimer = { name: enumAttr(el, "name", TIMER_NAMES) ?? "platform" };
  if (!el.hasAttr("name")) throw structural(el, "timer needs a name");
  const track = enumAttr(el, "track", ["boot", "guest", "wall", "realtime"] as const);
  const tick = enumAttr(el, "tickpolicy", ["delay", "catchup", "merge", "discard"] as const);
  const freq = uintAttr(el, "frequency", { hex: false });
  const mode = enumAttr(el, "mode", ["auto", "native", "emulate", "paravirt", "smpsafe"] as const);
  const present = yesNo(el, "present");
  if (track) t.track = track;
  if (tick) t.tickpolicy = tick;
  if (freq !== undefined) t.frequency = freq;
  if (mode) t.mode = mode;
  if (present !== undefined) t.present = present;
  const cu = el.child("catchup");
  if (cu) {
    t.catchup = {};
    const threshold = uintAttr(cu, "threshold", { hex: false });
    const slew = uintAttr(cu, "slew", { hex: false });
    const limit = uintAttr(cu, "limit", { hex: false });
    if (threshold !== undefined) t.catchup.threshold = threshold;
    if (slew !== undefined) t.catchup.slew = slew;
    if (limit !== undefined) t.catchup.limit = limit;
  }
  return t;
}

export function parseClock(el: XmlElement): Clock {
  const offset =
    enumAttr(el, "offset", ["utc", "localtime", "timezone", "variable", "absolute"] as const) ?? "utc";
  const clock: Clock = { offset, timers: el.all("timer").map(parseTimer) };
  const adj = str(el, "adjustment");
  if (adj !== undefined) {
    if (adj === "reset") clock.adjustment = "reset";
    else clock.adjustment = intAttrValue(el, "adjustment");
  }
  const basis = enumAttr(el, "basis", ["utc", "localtime"] as const);
  if (basis) clock.basis = basis;
  const tz = str(el, "timezone");
  if (tz !== undefined) clock.timezone = tz;
  const start = uintAttr(el, "start", { hex: false });
  if (start !== undefined) clock.start = start;
  return clock;
}

function intAttrValue(el: XmlElement, name: string): number {
  return intAttr(el, name) ?? 0;
}

/** A hexadecimal number in element text, with or without `0x` (libvirt's base-16 read). */
function hexText(el: XmlElement): number {
  const v = el.content;
  const m = /^(?:0x)?([0-9a-f]{1,12})$/i.exec(v);
  if (!m) throw invalidText(el, v, "expected a hexadecimal number like 0x0001");
  return parseInt(m[1]!, 16);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle, power management, security
// ---------------------------------------------------------------------------------------------

const ACTIONS = [
  "destroy",
  "restart",
  "rename-restart",
  "preserve",
  "coredump-destroy",
  "coredump-restart",
] as const;

export function parseLifecycle(el: XmlElement | undefined): LifecycleAction | undefined {
  return el ? enumText(el, ACTIONS) : undefined;
}

export function parsePm(el: XmlElement): PowerManagement {
  const pm: PowerManagement = {};
  const mem = el.child("suspend-to-mem");
  if (mem) {
    const v = yesNo(mem, "enabled");
    if (v !== undefined) pm.suspendToMem = v;
  }
  const disk = el.child("suspend-to-disk");
  if (disk) {
    const v = yesNo(disk, "enabled");
    if (v !== undefined) pm.suspendToDisk = v;
  }
  return pm;
}

/**
 * A single `<seclabel>` without a model takes the host's (libvirt's compatibility with its
 * single-label XML): for `type='none'`, and for `type='dynamic'` without a base label; with the
 * host model `none`, that label is `type='none'`.
 */
export function seclabelHostModel(def: DomainDef, facts: DomainFacts): void {
  const l = def.seclabels.length === 1 ? def.seclabels[0] : undefined;
  if (!l || l.model !== undefined) return;
  if (!(l.type === "none" || (l.type === "dynamic" && l.baselabel === undefined))) return;
  const model = facts.hostSecurityModel?.();
  if (model === undefined) return;
  l.model = model;
  if (model === "none") {
    l.type = "none";
    delete l.relabel;
  }
}

export function parseSeclabel(el: XmlElement): SecLabel {
  const s: SecLabel = {};
  const type = enumAttr(el, "type", ["dynamic", "static", "none"] as const);
  const model = str(el, "model");
  const relabel = yesNo(el, "relabel");
  if (type) s.type = type;
  if (model !== undefined) s.model = model;
  if (relabel !== undefined) s.relabel = relabel;
  const label = el.childText("label");
  // the image label is what a running domain applied: a definition does not keep it
  const imagelabel = isStatusParse() ? el.childText("imagelabel") : undefined;
  el.child("imagelabel")?.markAllUsed();
  const baselabel = el.childText("baselabel");
  if (label !== undefined) s.label = label;
  if (imagelabel !== undefined) s.imagelabel = imagelabel;
  if (baselabel !== undefined) s.baselabel = baselabel;
  return s;
}

export function parseLaunchSecurity(el: XmlElement): LaunchSecurity {
  const ls: LaunchSecurity = { type: reqEnum(el, "type", ["sev", "sev-snp", "s390-pv", "tdx"] as const) };
  const kh = yesNo(el, "kernelHashes");
  const ak = yesNo(el, "authorKey");
  const vcek = yesNo(el, "vcek");
  if (kh !== undefined) ls.kernelHashes = kh;
  if (ak !== undefined) ls.authorKey = ak;
  if (vcek !== undefined) ls.vcek = vcek;
  const cb = el.child("cbitpos");
  if (cb) ls.cbitpos = uintText(cb, { hex: false, max: 0xffffffff });
  const rp = el.child("reducedPhysBits");
  if (rp) ls.reducedPhysBits = uintText(rp, { hex: false, max: 0xffffffff });
  const pol = el.child("policy");
  if (pol) ls.policy = hexText(pol);
  for (const key of [
    "dhCert",
    "session",
    "guestVisibleWorkarounds",
    "idBlock",
    "idAuth",
    "hostData",
  ] as const) {
    const v = el.childText(key);
    if (v !== undefined) ls[key] = v;
  }
  return ls;
}
