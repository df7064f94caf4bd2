/**
 * The cgroup tuning APIs of the QEMU driver (libvirt's qemuDomainSet/GetMemoryParameters,
 * qemuDomainGetSchedulerType, qemuDomainSet/GetSchedulerParametersFlags,
 * qemuDomainSet/GetBlkioParameters, qemuDomainPinVcpuFlags, qemuDomainGetVcpuPinInfo,
 * qemuDomainPinEmulator, qemuDomainGetEmulatorPinInfo): LIVE values go to the guest's cgroup
 * (`cgroup.ts`) and the live definition, CONFIG values to the persistent definition, with
 * libvirt's parameter names, types, ranges and messages. The session driver refuses them as
 * libvirt's does.
 */
import { readFileSync } from "node:fs";
import { formatBitmap, parseBitmap, type DomainDef } from "../../../conf/domain/index.ts";
import { MEMORY_UNLIMITED_KIB, type MachineCgroup, type V1Controller } from "../../../host/cgroup.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { TypedParameter, TypedParameterValue } from "../../driver.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { applyBlkioDevice } from "./cgroup.ts";
import { affectedDefs } from "./tuning.ts";

const LIVE = 1;
const CONFIG = 2;
/** VIR_TYPED_PARAM_STRING_OKAY */
const STRING_OKAY = 1 << 2;

const T = { INT: 1, UINT: 2, LLONG: 3, ULLONG: 4, DOUBLE: 5, BOOLEAN: 6, STRING: 7 } as const;
const TYPE_NAMES = ["", "int", "uint", "llong", "ullong", "double", "boolean", "string"];

type Want = (typeof T)[keyof typeof T];

function validate(params: readonly TypedParameter[], allowed: Readonly<Record<string, Want>>): void {
  for (const p of params) {
    const want = allowed[p.field];
    if (want === undefined)
      throw new VirtError(
        "TUNE_PARAM_UNKNOWN",
        { field: p.field },
        { expected: Object.keys(allowed).join(", ") },
      );
    if (p.value.type !== want)
      throw new VirtError("TUNE_PARAM_TYPE", {
        field: p.field,
        got: TYPE_NAMES[p.value.type] ?? String(p.value.type),
        want: TYPE_NAMES[want] ?? String(want),
      });
  }
}

function num(v: TypedParameterValue): bigint {
  return typeof v.value === "bigint" ? v.value : BigInt(Number(v.value));
}

function sessionCheck(drv: QemuDriver, what: string): void {
  if (drv.root.kind === "session") throw new VirtError("TUNE_SESSION", { what });
}

function liveCgroup(obj: QemuDomainObj, controller: V1Controller): MachineCgroup {
  const cg = obj.run?.cgroup;
  if (!cg || !cg.has(controller))
    throw new VirtError("TUNE_NO_CGROUP", {
      controller: controller === "cpu" ? "CPU" : controller,
      name: obj.name,
    });
  return cg;
}

async function withJob<T>(obj: QemuDomainObj, api: string, fn: () => Promise<T>): Promise<T> {
  const job = await obj.job.acquire("modify", api);
  try {
    return await fn();
  } finally {
    job.release();
  }
}

/** Saves what changed: the status file for the live definition, the config for the persistent one. */
async function save(drv: QemuDriver, obj: QemuDomainObj, live: boolean, config: boolean): Promise<void> {
  if (live) await drv.saveStatus(obj);
  if (config) await drv.saveConfig(obj);
}

// ---------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------

const MEMORY_PARAMS = { hard_limit: T.ULLONG, soft_limit: T.ULLONG, swap_hard_limit: T.ULLONG } as const;
const MEM_KEYS = { hard_limit: "hard", soft_limit: "soft", swap_hard_limit: "swap" } as const;

export async function getMemoryParameters(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
): Promise<TypedParameter[]> {
  checkFlags(flags, LIVE | CONFIG | STRING_OKAY, "qemuDomainGetMemoryParameters");
  sessionCheck(drv, "Memory");
  const { live, config } = affectedDefs(obj, flags & ~STRING_OKAY);
  const out: TypedParameter[] = [];
  if (live) {
    const cg = liveCgroup(obj, "memory");
    for (const [field, which] of Object.entries(MEM_KEYS)) {
      const v =
        which === "swap" && !(await hasSwapAccounting(cg)) ? MEMORY_UNLIMITED_KIB : await cg.getMemory(which);
      out.push({ field, value: { type: T.ULLONG, value: v } });
    }
    return out;
  }
  const mt = config?.memtune;
  for (const field of Object.keys(MEM_KEYS) as (keyof typeof MEM_KEYS)[]) {
    const v = mt?.[field];
    out.push({ field, value: { type: T.ULLONG, value: v === undefined ? MEMORY_UNLIMITED_KIB : BigInt(v) } });
  }
  return out;
}

/** v1 without swap accounting has no memsw files (libvirt then reports unlimited). */
async function hasSwapAccounting(cg: MachineCgroup): Promise<boolean> {
  try {
    await cg.getMemory("swap");
    return true;
  } catch {
    return false;
  }
}

export async function setMemoryParameters(
  drv: QemuDriver,
  obj: QemuDomainObj,
  params: readonly TypedParameter[],
  flags: number,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainSetMemoryParameters");
  validate(params, MEMORY_PARAMS);
  sessionCheck(drv, "Memory");
  await withJob(obj, "virDomainSetMemoryParameters", async () => {
    const { live, config } = affectedDefs(obj, flags);
    const want: Partial<Record<keyof typeof MEM_KEYS, bigint>> = {};
    for (const p of params) want[p.field as keyof typeof MEM_KEYS] = num(p.value);
    const capped = (v: bigint): bigint => (v >= MEMORY_UNLIMITED_KIB ? MEMORY_UNLIMITED_KIB : v);
    for (const def of [live, config]) {
      if (!def) continue;
      // libvirt: the hard limit may not end up above the swap hard limit (either one new)
      const hard = want.hard_limit ?? BigInt(def.memtune?.hard_limit ?? MEMORY_UNLIMITED_KIB);
      const swap = want.swap_hard_limit ?? BigInt(def.memtune?.swap_hard_limit ?? MEMORY_UNLIMITED_KIB);
      if (capped(hard) > capped(swap)) throw new VirtError("TUNE_HARD_ABOVE_SWAP", {});
    }
    if (live) {
      const cg = liveCgroup(obj, "memory");
      await cg.setMemoryLimits({
        ...(want.hard_limit !== undefined ? { hard: capped(want.hard_limit) } : {}),
        ...(want.soft_limit !== undefined ? { soft: capped(want.soft_limit) } : {}),
        ...(want.swap_hard_limit !== undefined ? { swap: capped(want.swap_hard_limit) } : {}),
      });
    }
    for (const def of [live, config]) {
      if (!def) continue;
      const mt = (def.memtune ??= {});
      for (const [k, v] of Object.entries(want) as [keyof typeof MEM_KEYS, bigint][]) {
        const c = capped(v);
        if (c >= MEMORY_UNLIMITED_KIB) Reflect.deleteProperty(mt, k);
        else mt[k] = Number(c);
      }
    }
    await save(drv, obj, live !== undefined, config !== undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// scheduler (cpu shares and CFS bandwidth)
// ---------------------------------------------------------------------------------------------

const SCHED_PARAMS = {
  cpu_shares: T.ULLONG,
  vcpu_period: T.ULLONG,
  vcpu_quota: T.LLONG,
  emulator_period: T.ULLONG,
  emulator_quota: T.LLONG,
  global_period: T.ULLONG,
  global_quota: T.LLONG,
  iothread_period: T.ULLONG,
  iothread_quota: T.LLONG,
} as const;
type SchedField = keyof typeof SCHED_PARAMS;

/** The cputune field and the group (undefined: machine) each scheduler parameter maps to. */
const SCHED_MAP: Readonly<
  Record<Exclude<SchedField, "cpu_shares">, [keyof NonNullable<DomainDef["cputune"]>, string]>
> = {
  vcpu_period: ["period", "vcpu"],
  vcpu_quota: ["quota", "vcpu"],
  emulator_period: ["emulator_period", "emulator"],
  emulator_quota: ["emulator_quota", "emulator"],
  global_period: ["global_period", ""],
  global_quota: ["global_quota", ""],
  iothread_period: ["iothread_period", "iothread"],
  iothread_quota: ["iothread_quota", "iothread"],
};

export function getSchedulerType(drv: QemuDriver, obj: QemuDomainObj): { type: string; nparams: number } {
  sessionCheck(drv, "CPU");
  if (obj.isActive()) liveCgroup(obj, "cpu");
  return { type: "posix", nparams: Object.keys(SCHED_PARAMS).length };
}

function vcpuGroups(obj: QemuDomainObj): string[] {
  const n = obj.def.vcpu.current ?? obj.def.vcpu.count;
  return Array.from({ length: n }, (_v, i) => `vcpu${String(i)}`);
}

export async function getSchedulerParameters(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
): Promise<TypedParameter[]> {
  checkFlags(flags, LIVE | CONFIG | STRING_OKAY, "qemuDomainGetSchedulerParametersFlags");
  sessionCheck(drv, "CPU");
  const { live, config } = affectedDefs(obj, flags & ~STRING_OKAY);
  const out: TypedParameter[] = [];
  const put = (field: SchedField, v: bigint): void => {
    out.push({
      field,
      value: SCHED_PARAMS[field] === T.ULLONG ? { type: T.ULLONG, value: v } : { type: T.LLONG, value: v },
    });
  };
  if (live) {
    const cg = liveCgroup(obj, "cpu");
    put("cpu_shares", BigInt(await cg.getCpuShares()));
    const groups: [string, string | undefined][] = [
      ["vcpu", vcpuGroups(obj)[0]],
      ["emulator", "emulator"],
      ["global", undefined],
    ];
    for (const [prefix, sub] of groups) {
      const cfs = await cg.getCfs(sub);
      put(`${prefix}_period` as SchedField, BigInt(cfs.period));
      put(`${prefix}_quota` as SchedField, BigInt(cfs.quota));
    }
    // no iothread groups (tvirt runs no separate iothread cgroups): libvirt's values for none
    put("iothread_period", 0n);
    put("iothread_quota", 0n);
    return out;
  }
  const ct = config?.cputune;
  put("cpu_shares", BigInt(ct?.shares ?? 0));
  for (const [field, [key]] of Object.entries(SCHED_MAP) as [
    SchedField,
    [keyof NonNullable<DomainDef["cputune"]>, string],
  ][]) {
    const v = ct?.[key];
    put(field, BigInt(typeof v === "number" ? v : 0));
  }
  return out;
}

function checkRange(field: string, v: bigint, min: bigint, max: bigint): void {
  if (v < min || v > max)
    throw new VirtError("TUNE_PARAM_RANGE", { field, min: String(min), max: String(max) });
}

export async function setSchedulerParameters(
  drv: QemuDriver,
  obj: QemuDomainObj,
  params: readonly TypedParameter[],
  flags: number,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainSetSchedulerParametersFlags");
  validate(params, SCHED_PARAMS);
  sessionCheck(drv, "CPU");
  // libvirt's QEMU_SCHED_MIN/MAX_PERIOD and _QUOTA (a negative quota means no limit)
  for (const p of params) {
    const v = num(p.value);
    if (p.field.endsWith("_period") && v !== 0n) checkRange(p.field, v, 1000n, 1000000n);
    if (p.field.endsWith("_quota") && v > 0n) checkRange(p.field, v, 1000n, 17592186044415n);
  }
  await withJob(obj, "virDomainSetSchedulerParametersFlags", async () => {
    const { live, config } = affectedDefs(obj, flags);
    if (live) {
      const cg = liveCgroup(obj, "cpu");
      for (const p of params) {
        const v = num(p.value);
        if (p.field === "cpu_shares") {
          await cg.setCpuShares(Number(v));
          continue;
        }
        const [, group] = SCHED_MAP[p.field as Exclude<SchedField, "cpu_shares">];
        const what = p.field.endsWith("_period") ? { period: Number(v) } : { quota: Number(v) };
        if (group === "iothread") continue;
        const subs = group === "vcpu" ? vcpuGroups(obj) : group === "emulator" ? ["emulator"] : [undefined];
        if (p.field.endsWith("_period") && v === 0n) continue;
        for (const sub of subs) await cg.setCfs(sub, what);
      }
    }
    for (const def of [live, config]) {
      if (!def) continue;
      const ct = (def.cputune ??= { vcpupin: [], other: [] });
      for (const p of params) {
        const v = Number(num(p.value));
        if (p.field === "cpu_shares") ct.shares = v;
        else {
          const [key] = SCHED_MAP[p.field as Exclude<SchedField, "cpu_shares">];
          (ct as unknown as Record<string, number>)[key] = v;
        }
      }
    }
    await save(drv, obj, live !== undefined, config !== undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// block I/O
// ---------------------------------------------------------------------------------------------

const BLKIO_PARAMS = {
  weight: T.UINT,
  device_weight: T.STRING,
  device_read_iops_sec: T.STRING,
  device_write_iops_sec: T.STRING,
  device_read_bytes_sec: T.STRING,
  device_write_bytes_sec: T.STRING,
} as const;
type DevField = "weight" | "read_iops_sec" | "write_iops_sec" | "read_bytes_sec" | "write_bytes_sec";
const DEV_PARAM: Readonly<Record<string, DevField>> = {
  device_weight: "weight",
  device_read_iops_sec: "read_iops_sec",
  device_write_iops_sec: "write_iops_sec",
  device_read_bytes_sec: "read_bytes_sec",
  device_write_bytes_sec: "write_bytes_sec",
};

/** `path,value[,path,value...]` (libvirt's qemuDomainParseBlkioDeviceStr). */
function parseDeviceString(field: string, text: string): { path: string; value: number }[] {
  if (text === "") return [];
  const parts = text.split(",");
  if (parts.length % 2 !== 0) throw new VirtError("TUNE_BLKIO_DEVICE_STRING", { field, value: text });
  const out: { path: string; value: number }[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const path = parts[i]!;
    const v = parts[i + 1]!;
    if (path === "" || !/^\d+$/.test(v))
      throw new VirtError("TUNE_BLKIO_DEVICE_STRING", { field, value: text });
    out.push({ path, value: Number(v) });
  }
  return out;
}

function deviceString(def: DomainDef | undefined, f: DevField): string {
  return (def?.blkiotune?.devices ?? [])
    .filter((d) => d[f])
    .map((d) => `${d.path},${String(d[f])}`)
    .join(",");
}

export async function getBlkioParameters(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
): Promise<TypedParameter[]> {
  checkFlags(flags, LIVE | CONFIG | STRING_OKAY, "qemuDomainGetBlkioParameters");
  sessionCheck(drv, "Block I/O");
  const { live, config } = affectedDefs(obj, flags & ~STRING_OKAY);
  const def = live ?? config;
  let weight = def?.blkiotune?.weight ?? 0;
  if (live) weight = (await liveCgroup(obj, "blkio").getBlkioWeight()) ?? weight;
  const out: TypedParameter[] = [{ field: "weight", value: { type: T.UINT, value: weight } }];
  // libvirt gives the device strings only to clients that accept strings
  if (flags & STRING_OKAY) {
    for (const [field, f] of Object.entries(DEV_PARAM))
      out.push({ field, value: { type: T.STRING, value: deviceString(def, f) } });
  }
  return out;
}

export async function setBlkioParameters(
  drv: QemuDriver,
  obj: QemuDomainObj,
  params: readonly TypedParameter[],
  flags: number,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainSetBlkioParameters");
  validate(params, BLKIO_PARAMS);
  sessionCheck(drv, "Block I/O");
  const devs = new Map<string, { path: string; value: number }[]>();
  for (const p of params) {
    if (p.field === "weight") {
      const w = Number(p.value.value);
      if (w !== 0 && (w < 100 || w > 1000))
        throw new VirtError("TUNE_PARAM_RANGE", { field: "weight", min: "100", max: "1000" });
    } else devs.set(p.field, parseDeviceString(p.field, String(p.value.value)));
  }
  await withJob(obj, "virDomainSetBlkioParameters", async () => {
    const { live, config } = affectedDefs(obj, flags);
    if (live) {
      const cg = liveCgroup(obj, "blkio");
      for (const p of params)
        if (p.field === "weight" && Number(p.value.value) !== 0)
          await cg.setBlkioWeight(Number(p.value.value));
      for (const [field, list] of devs) {
        for (const d of list) await applyBlkioDevice(cg, d.path, { [DEV_PARAM[field]!]: d.value });
      }
    }
    for (const def of [live, config]) {
      if (!def) continue;
      const bt = (def.blkiotune ??= { devices: [] });
      for (const p of params) if (p.field === "weight") bt.weight = Number(p.value.value);
      for (const [field, list] of devs) {
        const f = DEV_PARAM[field]!;
        for (const d of list) {
          let dev = bt.devices.find((x) => x.path === d.path);
          if (!dev) bt.devices.push((dev = { path: d.path }));
          if (d.value === 0) Reflect.deleteProperty(dev, f);
          else dev[f] = d.value;
        }
      }
      bt.devices = bt.devices.filter((d) => Object.keys(d).length > 1);
    }
    await save(drv, obj, live !== undefined, config !== undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// pinning
// ---------------------------------------------------------------------------------------------

/** The host's CPUs (`/sys/devices/system/cpu/present`), for the default "all CPUs" maps. */
export function hostCpuCount(): number {
  try {
    const members = parseBitmap(readFileSync("/sys/devices/system/cpu/present", "utf8").trim()) ?? [];
    return members.length === 0 ? 1 : Math.max(...members) + 1;
  } catch {
    return 1;
  }
}

function cpumapToSet(cpumap: Uint8Array): string {
  const cpus: number[] = [];
  for (let i = 0; i < cpumap.length * 8; i++) if ((cpumap[i >> 3]! >> (i & 7)) & 1) cpus.push(i);
  if (cpus.length === 0) throw new VirtError("TUNE_CPUMAP_EMPTY", {});
  return formatBitmap(cpus);
}

function setToCpumap(set: string | undefined, maplen: number, ncpus: number): Uint8Array {
  const map = new Uint8Array(maplen);
  const cpus = set === undefined ? Array.from({ length: ncpus }, (_v, i) => i) : (parseBitmap(set) ?? []);
  for (const c of cpus) if (c >> 3 < maplen) map[c >> 3]! |= 1 << (c & 7);
  return map;
}

export async function pinVcpu(
  drv: QemuDriver,
  obj: QemuDomainObj,
  vcpu: number,
  cpumap: Uint8Array,
  flags: number,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainPinVcpuFlags");
  sessionCheck(drv, "CPU");
  const set = cpumapToSet(cpumap);
  await withJob(obj, "virDomainPinVcpuFlags", async () => {
    const { live, config } = affectedDefs(obj, flags);
    for (const def of [live, config]) {
      if (!def) continue;
      const n = def === live ? (def.vcpu.current ?? def.vcpu.count) : def.vcpu.count;
      if (vcpu >= n) throw new VirtError("TUNE_VCPU_RANGE", { vcpu, count: n });
    }
    if (live) await liveCgroup(obj, "cpuset").setCpus(`vcpu${String(vcpu)}`, set);
    for (const def of [live, config]) {
      if (!def) continue;
      const ct = (def.cputune ??= { vcpupin: [], other: [] });
      ct.vcpupin = [...ct.vcpupin.filter((p) => p.vcpu !== vcpu), { vcpu, cpuset: set }].sort(
        (a, b) => a.vcpu - b.vcpu,
      );
    }
    await save(drv, obj, live !== undefined, config !== undefined);
  });
}

export async function pinEmulator(
  drv: QemuDriver,
  obj: QemuDomainObj,
  cpumap: Uint8Array,
  flags: number,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainPinEmulator");
  sessionCheck(drv, "CPU");
  const set = cpumapToSet(cpumap);
  await withJob(obj, "virDomainPinEmulator", async () => {
    const { live, config } = affectedDefs(obj, flags);
    if (live) await liveCgroup(obj, "cpuset").setCpus("emulator", set);
    for (const def of [live, config]) {
      if (!def) continue;
      (def.cputune ??= { vcpupin: [], other: [] }).emulatorpin = set;
    }
    await save(drv, obj, live !== undefined, config !== undefined);
  });
}

/** `ncpumaps` maps of `maplen` bytes, one per vCPU (unpinned: all host CPUs); returns them and the count. */
export function getVcpuPinInfo(
  obj: QemuDomainObj,
  ncpumaps: number,
  maplen: number,
  flags: number,
): { num: number; cpumaps: Uint8Array } {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainGetVcpuPinInfo");
  const { live, config } = affectedDefs(obj, flags);
  const def = (live ?? config)!;
  const n = Math.min(ncpumaps, def.vcpu.count);
  const ncpus = hostCpuCount();
  const out = new Uint8Array(n * maplen);
  for (let v = 0; v < n; v++) {
    const pin = def.cputune?.vcpupin.find((p) => p.vcpu === v)?.cpuset;
    out.set(setToCpumap(pin, maplen, ncpus), v * maplen);
  }
  return { num: n, cpumaps: out };
}

export function getEmulatorPinInfo(
  obj: QemuDomainObj,
  maplen: number,
  flags: number,
): { ret: number; cpumap: Uint8Array } {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainGetEmulatorPinInfo");
  const { live, config } = affectedDefs(obj, flags);
  const def = (live ?? config)!;
  return { ret: 1, cpumap: setToCpumap(def.cputune?.emulatorpin, maplen, hostCpuCount()) };
}
