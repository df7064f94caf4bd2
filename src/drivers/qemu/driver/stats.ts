/**
 * Statistics of QEMU domains (libvirt's `qemuDomainBlockStats[Flags]`,
 * `qemuDomainInterfaceStats`, `qemuDomainMemoryStats`, `qemuConnectGetAllDomainStats` with the
 * state, cpu-total, balloon, vcpu, interface and block groups), from QMP (`query-blockstats`,
 * `query-block`, `query-balloon`, `qom-get guest-stats`, `query-cpus-fast`), `/proc/PID/...`
 * and `/proc/net/dev` for tap devices.
 */
import { readFileSync } from "node:fs";
import type { DomainDef, DiskDef } from "../../../conf/domain/index.ts";
import { CLOCK_TICKS, readProcStat } from "../../../util/spawn.ts";
import { type BlockStats, type InterfaceStats, type MemoryStat, type TypedParameter } from "../../driver.ts";
import { DomainMemoryStatTag as T, DomainStatsTypes as S, GetAllDomainStatsFlags as G } from "../../enums.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj } from "./domain.ts";
import { balloonPath, hasBalloon, onlineVcpus } from "./tuning.ts";

// ---------------------------------------------------------------------------------------------
// typed parameters
// ---------------------------------------------------------------------------------------------

const p = {
  int: (field: string, value: number): TypedParameter => ({ field, value: { type: 1, value } }),
  uint: (field: string, value: number): TypedParameter => ({ field, value: { type: 2, value } }),
  llong: (field: string, value: bigint): TypedParameter => ({ field, value: { type: 3, value } }),
  ullong: (field: string, value: bigint): TypedParameter => ({ field, value: { type: 4, value } }),
  string: (field: string, value: string): TypedParameter => ({ field, value: { type: 7, value } }),
};

function big(v: unknown): bigint {
  return typeof v === "number" && Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}

function running(obj: QemuDomainObj): QmpClient {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended || !run.qmp)
    throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return run.qmp;
}

// ---------------------------------------------------------------------------------------------
// block
// ---------------------------------------------------------------------------------------------

interface DiskStats {
  rdReq: bigint;
  rdBytes: bigint;
  wrReq: bigint;
  wrBytes: bigint;
  flReq: bigint;
  rdTimes: bigint;
  wrTimes: bigint;
  flTimes: bigint;
  wrHighest: bigint;
  capacity: bigint | undefined;
  physical: bigint | undefined;
}

function matchesDisk(disk: DiskDef, qdev: unknown, device: unknown): boolean {
  const alias = disk.alias;
  if (alias === undefined) return false;
  if (typeof qdev === "string" && (qdev === alias || qdev.startsWith(`/machine/peripheral/${alias}/`)))
    return true;
  return typeof device === "string" && device !== "" && (device === alias || device === `drive-${alias}`);
}

/** Statistics of every disk that QEMU reports, by disk (`query-blockstats` + `query-block`). */
async function diskStats(qmp: QmpClient, def: DomainDef): Promise<Map<DiskDef, DiskStats>> {
  const [stats, block]: unknown[] = await Promise.all([
    qmp.execute("query-blockstats"),
    qmp.execute("query-block").catch(() => []),
  ]);
  const out = new Map<DiskDef, DiskStats>();
  for (const e of Array.isArray(stats) ? (stats as Record<string, unknown>[]) : []) {
    const disk = def.devices.disks.find((d) => matchesDisk(d, e.qdev, e.device));
    if (!disk) continue;
    const s = (e.stats ?? {}) as Record<string, unknown>;
    out.set(disk, {
      rdReq: big(s.rd_operations),
      rdBytes: big(s.rd_bytes),
      wrReq: big(s.wr_operations),
      wrBytes: big(s.wr_bytes),
      flReq: big(s.flush_operations),
      rdTimes: big(s.rd_total_time_ns),
      wrTimes: big(s.wr_total_time_ns),
      flTimes: big(s.flush_total_time_ns),
      wrHighest: big(s.wr_highest_offset),
      capacity: undefined,
      physical: undefined,
    });
  }
  for (const b of Array.isArray(block) ? (block as Record<string, unknown>[]) : []) {
    const disk = def.devices.disks.find((d) => matchesDisk(d, b.qdev, b.device));
    const st = disk ? out.get(disk) : undefined;
    const image = ((b.inserted ?? {}) as Record<string, unknown>).image as
      Record<string, unknown> | undefined;
    if (!st || !image) continue;
    st.capacity = typeof image["virtual-size"] === "number" ? big(image["virtual-size"]) : undefined;
    st.physical = typeof image["actual-size"] === "number" ? big(image["actual-size"]) : undefined;
  }
  return out;
}

/** virDomainDiskByName: by target (`vda`) or source path. */
function findDisk(def: DomainDef, path: string): DiskDef | undefined {
  return (
    def.devices.disks.find((d) => d.target.dev === path) ??
    def.devices.disks.find((d) => d.source !== undefined && diskPath(d) === path)
  );
}

function diskPath(d: DiskDef): string | undefined {
  const s = d.source as Record<string, unknown> | undefined;
  if (!s) return undefined;
  for (const k of ["file", "dev", "dir", "path", "name", "volume"]) {
    const v = s[k];
    if (typeof v === "string" && v !== "") return v;
  }
  return undefined;
}

async function oneOrAll(obj: QemuDomainObj, path: string): Promise<DiskStats> {
  const qmp = running(obj);
  const all = await diskStats(qmp, obj.def);
  if (path === "") {
    const sum: DiskStats = {
      rdReq: 0n,
      rdBytes: 0n,
      wrReq: 0n,
      wrBytes: 0n,
      flReq: 0n,
      rdTimes: 0n,
      wrTimes: 0n,
      flTimes: 0n,
      wrHighest: 0n,
      capacity: undefined,
      physical: undefined,
    };
    for (const s of all.values()) {
      sum.rdReq += s.rdReq;
      sum.rdBytes += s.rdBytes;
      sum.wrReq += s.wrReq;
      sum.wrBytes += s.wrBytes;
      sum.flReq += s.flReq;
      sum.rdTimes += s.rdTimes;
      sum.wrTimes += s.wrTimes;
      sum.flTimes += s.flTimes;
    }
    return sum;
  }
  const disk = findDisk(obj.def, path);
  if (!disk) throw new VirtError("TUNING_BLOCK_PATH", { path }, { name: obj.name });
  const s = all.get(disk);
  if (!s) throw new VirtError("TUNING_BLOCK_NO_STATS", { path }, { name: obj.name });
  return s;
}

export async function blockStats(obj: QemuDomainObj, path: string): Promise<BlockStats> {
  const s = await oneOrAll(obj, path);
  return { rdReq: s.rdReq, rdBytes: s.rdBytes, wrReq: s.wrReq, wrBytes: s.wrBytes, errs: -1n };
}

/** qemuDomainBlockStatsFlags: libvirt's field order. */
export async function blockStatsFlags(
  obj: QemuDomainObj,
  path: string,
  flags: number,
): Promise<TypedParameter[]> {
  checkFlags(flags, 4 /* VIR_TYPED_PARAM_STRING_OKAY */, "qemuDomainBlockStatsFlags");
  const s = await oneOrAll(obj, path);
  return [
    p.llong("wr_bytes", s.wrBytes),
    p.llong("wr_operations", s.wrReq),
    p.llong("rd_bytes", s.rdBytes),
    p.llong("rd_operations", s.rdReq),
    p.llong("flush_operations", s.flReq),
    p.llong("wr_total_times", s.wrTimes),
    p.llong("rd_total_times", s.rdTimes),
    p.llong("flush_total_times", s.flTimes),
  ];
}

// ---------------------------------------------------------------------------------------------
// interfaces
// ---------------------------------------------------------------------------------------------

/** One line of `/proc/net/dev` (host view: the tap's rx is the guest's tx). */
function procNetDev(ifname: string): bigint[] | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/net/dev", "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== ifname) continue;
    return line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map((x) => BigInt(x));
  }
  return undefined;
}

function tapStats(ifname: string): InterfaceStats | undefined {
  const f = procNetDev(ifname);
  if (!f || f.length < 12) return undefined;
  // Swapped: what the host receives on a tap is what the guest transmitted.
  const n = (i: number): bigint => f[i] ?? 0n;
  return {
    rxBytes: n(8),
    rxPackets: n(9),
    rxErrs: n(10),
    rxDrop: n(11),
    txBytes: n(0),
    txPackets: n(1),
    txErrs: n(2),
    txDrop: n(3),
  };
}

export function interfaceStats(obj: QemuDomainObj, device: string): InterfaceStats {
  running(obj);
  const dev = device.toLowerCase();
  const net = obj.def.devices.interfaces.find(
    (n) => (n.target?.dev !== undefined && n.target.dev === device) || n.mac?.address.toLowerCase() === dev,
  );
  if (!net) throw new VirtError("TUNING_IFACE_UNKNOWN", { device }, { name: obj.name });
  const ifname = net.target?.dev;
  if (ifname === undefined || net.type === "user") {
    throw new VirtError(
      "TUNING_IFACE_NO_HOST_DEVICE",
      { device, name: obj.name, type: net.type },
      { name: obj.name },
    );
  }
  const st = tapStats(ifname);
  if (!st) throw new VirtError("TUNING_IFACE_NOT_FOUND", {}, { name: obj.name });
  return st;
}

// ---------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------

const PAGE_KIB = 4;

/** Resident set of the QEMU process, KiB (`/proc/PID/stat` field 24). */
function rssKiB(pid: number): bigint {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return BigInt(f[24 - 3] ?? "0") * BigInt(PAGE_KIB);
  } catch {
    return 0n;
  }
}

const balloonFields: [string, number, bigint][] = [
  ["stat-swap-in", T.SWAP_IN, 1024n],
  ["stat-swap-out", T.SWAP_OUT, 1024n],
  ["stat-major-faults", T.MAJOR_FAULT, 1n],
  ["stat-minor-faults", T.MINOR_FAULT, 1n],
  ["stat-free-memory", T.UNUSED, 1024n],
  ["stat-total-memory", T.AVAILABLE, 1024n],
  ["stat-available-memory", T.USABLE, 1024n],
  ["last-update", T.LAST_UPDATE, 1n],
  ["stat-disk-caches", T.DISK_CACHES, 1024n],
  ["stat-htlb-pgalloc", T.HUGETLB_PGALLOC, 1n],
  ["stat-htlb-pgfail", T.HUGETLB_PGFAIL, 1n],
];

const U64_MAX = 2n ** 64n - 1n;

/** qemuDomainMemoryStatsInternal: balloon size and guest statistics, then the RSS. */
async function memoryStatsOf(obj: QemuDomainObj, qmp: QmpClient, nr: number): Promise<MemoryStat[]> {
  const out: MemoryStat[] = [];
  const def = obj.def;
  if (hasBalloon(def)) {
    const r = (await qmp.execute("query-balloon")) as { actual?: unknown } | undefined;
    out.push({ tag: T.ACTUAL_BALLOON, val: big(r?.actual) / 1024n });
    const gs = (await qmp
      .execute("qom-get", { path: balloonPath(def), property: "guest-stats" })
      .catch(() => undefined)) as Record<string, unknown> | undefined;
    const stats = (gs?.stats ?? {}) as Record<string, unknown>;
    for (const [key, tag, div] of balloonFields) {
      const src = key === "last-update" ? gs : stats;
      const v = src?.[key];
      if (typeof v !== "number" || v < 0) continue;
      const n = BigInt(Math.trunc(v));
      if (n === U64_MAX || n >= 2n ** 63n) continue; // "not collected" (-1 as u64)
      out.push({ tag, val: n / div });
    }
  }
  const pid = obj.run?.pid;
  if (pid !== undefined) out.push({ tag: T.RSS, val: rssKiB(pid) });
  return out.slice(0, nr);
}

export async function memoryStats(obj: QemuDomainObj, nr: number, flags: number): Promise<MemoryStat[]> {
  checkFlags(flags, 0, "qemuDomainMemoryStats");
  return memoryStatsOf(obj, running(obj), nr);
}

// ---------------------------------------------------------------------------------------------
// domstats
// ---------------------------------------------------------------------------------------------

/** The groups this driver reports. */
export const SUPPORTED_STATS = S.STATE | S.CPU_TOTAL | S.BALLOON | S.VCPU | S.INTERFACE | S.BLOCK;
/** Groups libvirt has that tvirt answers with nothing (as libvirt does for a domain without them). */
const EMPTY_STATS = S.PERF | S.IOTHREAD | S.MEMORY | S.DIRTYRATE | S.VM;

export function checkStatsRequest(stats: number, flags: number): number {
  checkFlags(flags, 0xff | G.NOWAIT | G.BACKING | G.ENFORCE_STATS, "qemuConnectGetAllDomainStats");
  if (stats === 0) return SUPPORTED_STATS;
  const unknown = stats & ~(SUPPORTED_STATS | EMPTY_STATS);
  if (flags & G.ENFORCE_STATS && unknown !== 0)
    throw new VirtError("TUNING_STATS_BAD_GROUP", { bits: (unknown >>> 0).toString(16) });
  return stats;
}

const NS_PER_TICK = 1_000_000_000n / BigInt(CLOCK_TICKS);

function threadTimes(pid: number, tid: number): { time: bigint; delay: bigint } {
  let time = 0n;
  let delay = 0n;
  try {
    const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    time = (BigInt(f[14 - 3] ?? "0") + BigInt(f[15 - 3] ?? "0")) * NS_PER_TICK;
  } catch {
    // thread gone
  }
  try {
    const sched = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(/\s+/);
    delay = BigInt(sched[1] ?? "0");
  } catch {
    // no schedstat
  }
  return { time, delay };
}

/** qemuDomainGetStats for one domain: the requested groups in libvirt's order and names. */
export async function domainStatsRecord(obj: QemuDomainObj, stats: number): Promise<TypedParameter[]> {
  // obj.def only where a group needs it: a cached definition is not decoded for the state alone.
  const out: TypedParameter[] = [];
  const run = obj.run;
  const qmp = obj.isActive() && run && !run.ended ? run.qmp : undefined;

  if (stats & S.STATE) {
    out.push(p.int("state.state", obj.state), p.int("state.reason", obj.reason));
  }
  if (stats & S.CPU_TOTAL && run && obj.isActive()) {
    const st = readProcStat(run.pid);
    if (st && st.starttime === run.starttime) {
      const user = BigInt(st.utime) * NS_PER_TICK;
      const system = BigInt(st.stime) * NS_PER_TICK;
      out.push(
        p.ullong("cpu.time", user + system),
        p.ullong("cpu.user", user),
        p.ullong("cpu.system", system),
      );
    }
    out.push(p.uint("cpu.cache.monitor.count", 0));
  }
  if (stats & S.BALLOON) {
    out.push(
      p.ullong("balloon.current", BigInt(obj.def.currentMemory)),
      p.ullong("balloon.maximum", BigInt(obj.def.memory)),
    );
    if (qmp) {
      const names: Record<number, string> = {
        [T.SWAP_IN]: "swap_in",
        [T.SWAP_OUT]: "swap_out",
        [T.MAJOR_FAULT]: "major_fault",
        [T.MINOR_FAULT]: "minor_fault",
        [T.UNUSED]: "unused",
        [T.AVAILABLE]: "available",
        [T.USABLE]: "usable",
        [T.LAST_UPDATE]: "last-update",
        [T.DISK_CACHES]: "disk_caches",
        [T.HUGETLB_PGALLOC]: "hugetlb_pgalloc",
        [T.HUGETLB_PGFAIL]: "hugetlb_pgfail",
        [T.RSS]: "rss",
      };
      const mem = await memoryStatsOf(obj, qmp, T.NR).catch(() => []);
      for (const m of mem) {
        const n = names[m.tag];
        if (n !== undefined) out.push(p.ullong(`balloon.${n}`, m.val));
      }
    }
  }
  if (stats & S.VCPU) {
    out.push(p.uint("vcpu.current", onlineVcpus(obj.def)), p.uint("vcpu.maximum", obj.def.vcpu.count));
    if (qmp && run) {
      const cpus = (await qmp.execute("query-cpus-fast").catch(() => [])) as Record<string, unknown>[];
      const list = (Array.isArray(cpus) ? cpus : [])
        .map((c) => ({ index: Number(c["cpu-index"]), tid: Number(c["thread-id"]) }))
        .filter((c) => Number.isInteger(c.index))
        .sort((a, b) => a.index - b.index);
      for (const c of list) {
        const t = threadTimes(run.pid, c.tid);
        out.push(
          p.int(`vcpu.${c.index}.state`, 1),
          p.ullong(`vcpu.${c.index}.time`, t.time),
          p.ullong(`vcpu.${c.index}.wait`, 0n),
          p.ullong(`vcpu.${c.index}.delay`, t.delay),
        );
      }
    }
  }
  if (stats & S.INTERFACE && qmp) {
    const nets = obj.def.devices.interfaces;
    out.push(p.uint("net.count", nets.length));
    for (const [i, n] of nets.entries()) {
      const ifname = n.target?.dev;
      if (ifname === undefined || n.type === "user") continue;
      out.push(p.string(`net.${i}.name`, ifname));
      const st = tapStats(ifname);
      if (!st) continue;
      out.push(
        p.ullong(`net.${i}.rx.bytes`, st.rxBytes),
        p.ullong(`net.${i}.rx.pkts`, st.rxPackets),
        p.ullong(`net.${i}.rx.errs`, st.rxErrs),
        p.ullong(`net.${i}.rx.drop`, st.rxDrop),
        p.ullong(`net.${i}.tx.bytes`, st.txBytes),
        p.ullong(`net.${i}.tx.pkts`, st.txPackets),
        p.ullong(`net.${i}.tx.errs`, st.txErrs),
        p.ullong(`net.${i}.tx.drop`, st.txDrop),
      );
    }
  }
  if (stats & S.BLOCK) {
    const disks = obj.def.devices.disks;
    const all: Map<DiskDef, DiskStats> = qmp
      ? await diskStats(qmp, obj.def).catch(() => new Map<DiskDef, DiskStats>())
      : new Map<DiskDef, DiskStats>();
    out.push(p.uint("block.count", disks.length));
    for (const [i, d] of disks.entries()) {
      out.push(p.string(`block.${i}.name`, d.target.dev));
      const path = diskPath(d);
      if (path !== undefined) out.push(p.string(`block.${i}.path`, path));
      const s = all.get(d);
      if (!s) continue;
      out.push(
        p.ullong(`block.${i}.rd.reqs`, s.rdReq),
        p.ullong(`block.${i}.rd.bytes`, s.rdBytes),
        p.ullong(`block.${i}.rd.times`, s.rdTimes),
        p.ullong(`block.${i}.wr.reqs`, s.wrReq),
        p.ullong(`block.${i}.wr.bytes`, s.wrBytes),
        p.ullong(`block.${i}.wr.times`, s.wrTimes),
        p.ullong(`block.${i}.fl.reqs`, s.flReq),
        p.ullong(`block.${i}.fl.times`, s.flTimes),
        p.ullong(`block.${i}.allocation`, s.wrHighest),
      );
      if (s.capacity !== undefined) out.push(p.ullong(`block.${i}.capacity`, s.capacity));
      if (s.physical !== undefined) out.push(p.ullong(`block.${i}.physical`, s.physical));
    }
  }
  return out;
}
