/**
 * Facts of this host that the drivers report (libvirt's `virhostcpu.c`, `virhostmem.c`,
 * `virGetHostname`): the CPU architecture and topology, NUMA cells, memory, huge page sizes,
 * IOMMU, and the host name. Read from `/proc` and `/sys` under `root` (default `/`, a fake tree
 * in tests) each time they are asked for; nothing is cached here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { runArgvSync } from "../util/spawn.ts";

function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

/** Node's arch name → libvirt's. */
export function hostArch(arch: string = process.arch): string {
  switch (arch) {
    case "x64":
      return "x86_64";
    case "arm64":
      return "aarch64";
    case "ia32":
      return "i686";
    case "ppc64":
      return "ppc64le";
    default:
      return arch;
  }
}

/** Parses a CPU list such as `0-3,8`. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    const end = b !== undefined && Number.isInteger(b) ? b : a;
    for (let i = a; i <= end; i++) out.push(i);
  }
  return out;
}

/** One online CPU of the host and where it sits. */
export interface HostCpu {
  readonly id: number;
  readonly socket: number;
  readonly die: number;
  readonly core: number;
  readonly siblings: string;
  readonly node: number;
}

/** The online CPUs with their socket, die, core, thread siblings and NUMA node. */
export function hostCpus(root = "/"): HostCpu[] {
  const online = parseCpuList(read(root, "/sys/devices/system/cpu/online") ?? "0");
  const nodeOf = new Map<number, number>();
  for (const n of numaNodes(root)) {
    for (const c of parseCpuList(read(root, `/sys/devices/system/node/node${n}/cpulist`) ?? ""))
      nodeOf.set(c, n);
  }
  return online.map((id) => {
    const t = (f: string): string | undefined =>
      read(root, `/sys/devices/system/cpu/cpu${id}/topology/${f}`)?.trim();
    return {
      id,
      socket: Number(t("physical_package_id") ?? 0),
      die: Number(t("die_id") ?? 0),
      core: Number(t("core_id") ?? id),
      siblings: t("thread_siblings_list") ?? String(id),
      node: nodeOf.get(id) ?? 0,
    };
  });
}

/** The NUMA node numbers, ascending (`[0]` when the kernel shows none). */
export function numaNodes(root = "/"): number[] {
  try {
    return readdirSync(join(root, "/sys/devices/system/node"))
      .map((n) => /^node(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [0];
  }
}

/** The text of `/proc/meminfo`, for several `meminfoKiB` lookups in one read. */
export function readMeminfo(root = "/"): string {
  return read(root, "/proc/meminfo") ?? "";
}

/** One `/proc/meminfo` field in KiB (0 when absent). */
export function meminfoKiB(field: string, text = readMeminfo()): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** `virNodeGetFreeMemory`: free memory in bytes. */
export function hostFreeMemoryBytes(root = "/"): bigint {
  return BigInt(meminfoKiB("MemFree", readMeminfo(root))) * 1024n;
}

/** `virNodeInfo` of this host (the drivers' `NodeInfo`). */
export interface HostNodeInfo {
  model: string;
  /** KiB */
  memory: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** The first CPU of /proc/cpuinfo: CPUID vendor string, family, model and Linux's flag names. */
export interface HostCpuId {
  readonly vendorId?: string;
  readonly family?: number;
  readonly model?: number;
  readonly flags: readonly string[];
}

export function hostCpuId(root = "/"): HostCpuId {
  const first = (read(root, "/proc/cpuinfo") ?? "").split(/\n\s*\n/)[0] ?? "";
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(first)?.[1]?.trim();
  const family = field("cpu family");
  const model = field("model");
  const vendorId = field("vendor_id");
  return {
    ...(vendorId !== undefined ? { vendorId } : {}),
    ...(family !== undefined && /^\d+$/.test(family) ? { family: Number(family) } : {}),
    ...(model !== undefined && /^\d+$/.test(model) ? { model: Number(model) } : {}),
    flags: (field("flags") ?? "").split(/\s+/).filter((f) => f !== ""),
  };
}

/** `virNodeGetInfo` for this host. */
export function hostNodeInfo(root = "/"): HostNodeInfo {
  const cpus = hostCpus(root);
  const cpuinfo = read(root, "/proc/cpuinfo") ?? "";
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  const sockets = new Set(cpus.map((c) => `${c.node}:${c.socket}`)).size || 1;
  const nodes = numaNodes(root).length || 1;
  const coresPerSocket = Math.max(
    1,
    new Set(cpus.map((c) => `${c.socket}:${c.die}:${c.core}`)).size / sockets,
  );
  const threads = Math.max(1, Math.round(cpus.length / (sockets * coresPerSocket)));
  return {
    model: hostArch(),
    memory: meminfoKiB("MemTotal", readMeminfo(root)),
    cpus: cpus.length,
    mhz: mhz ? Math.floor(Number(mhz[1])) : 0,
    nodes,
    sockets: Math.max(1, Math.floor(sockets / nodes)),
    cores: Math.round(coresPerSocket),
    threads,
  };
}

/** Memory of NUMA node `n` in KiB (`fallbackKiB` when the node does not say). */
export function nodeMemoryKiB(n: number, fallbackKiB: number, root = "/"): number {
  const nodeMeminfo = read(root, `/sys/devices/system/node/node${n}/meminfo`) ?? "";
  return Number(/MemTotal:\s+(\d+) kB/.exec(nodeMeminfo)?.[1] ?? fallbackKiB);
}

/** Huge pages of `sizeKiB` reserved on NUMA node `n` (0 when unknown). */
export function nodeHugePages(n: number, sizeKiB: number, root = "/"): number {
  return Number(
    read(root, `/sys/devices/system/node/node${n}/hugepages/hugepages-${sizeKiB}kB/nr_hugepages`)?.trim() ??
      0,
  );
}

/** NUMA distances from node `n` to every node, in node order (`["10"]` when unknown). */
export function nodeDistances(n: number, root = "/"): string[] {
  return (read(root, `/sys/devices/system/node/node${n}/distance`) ?? "10").trim().split(/\s+/);
}

/** Huge page sizes the kernel offers, in KiB, ascending. */
export function hugePageSizes(root = "/"): number[] {
  try {
    return readdirSync(join(root, "/sys/kernel/mm/hugepages"))
      .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** libvirt's virHostHasIOMMU: the host has IOMMU groups. */
export function hostHasIommu(root = "/"): boolean {
  try {
    return readdirSync(join(root, "/sys/kernel/iommu_groups")).length > 0;
  } catch {
    return false;
  }
}

/**
 * Physical address bits of the host CPU (`address sizes : 48 bits physical` in /proc/cpuinfo),
 * or undefined when the kernel does not say.
 */
export function hostPhysAddrBits(root = "/"): number | undefined {
  const m = /^address sizes\s*:\s*(\d+) bits physical/m.exec(read(root, "/proc/cpuinfo") ?? "");
  return m ? Number(m[1]) : undefined;
}

/** libvirt's virGetHostname: the node name, canonicalised through the resolver when short. */
export function hostName(name: string = osHostname()): string {
  if (name.startsWith("localhost") || name.includes(".")) return name;
  try {
    const r = runArgvSync(["getent", "ahosts", name], { timeout: 2000 });
    if (r.status === 0) {
      const canon = r.stdout.split("\n")[0]?.trim().split(/\s+/)[2];
      if (canon && !canon.startsWith("localhost")) return canon;
    }
  } catch {
    // No resolver: keep the node name.
  }
  return name;
}

/**
 * The host's first DRM render node (`/dev/dri/renderD128`), as libvirt's virHostGetDRMRenderNode
 * picks it for egl-headless and SPICE OpenGL without a `rendernode` of their own; undefined when
 * the host has none.
 */
export function hostDrmRenderNode(dir = "/dev/dri"): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const node = names.filter((n) => /^renderD\d+$/.test(n)).sort()[0];
  return node === undefined ? undefined : `${dir}/${node}`;
}
