/**
 * What `hugeadm --explain` tells about this host's huge pages, for guests: the hugetlbfs mounts,
 * each page size's pool host-wide (configured, free, reserved, surplus, overcommit) and per NUMA
 * node, the default size, and advice: a size with pages but no mount (QEMU cannot use it), a
 * mount with no pages, pools that are empty or used up, overcommit, transparent huge pages.
 * Read from a root (`/`, or a fake tree in tests).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultHugepageSizeKiB, parseHugetlbfsMounts, type HugetlbfsMountInfo } from "./hugetlbfs.ts";
import { parseCpuList } from "./facts.ts";

export interface HugepagePool {
  /** Page size, KiB. */
  readonly sizeKiB: number;
  readonly default: boolean;
  /** `nr_hugepages`: the persistent pool. */
  readonly total: number;
  readonly free: number;
  /** Promised to mappings, not yet faulted in. */
  readonly reserved: number;
  /** Pages above `total` taken through overcommit. */
  readonly surplus: number;
  /** `nr_overcommit_hugepages`: how many surplus pages may be made on demand. */
  readonly overcommit: number;
  /** Per NUMA node (empty without node information). */
  readonly nodes: readonly {
    readonly node: number;
    readonly total: number;
    readonly free: number;
    readonly surplus: number;
  }[];
  /** hugetlbfs mounts of this size. */
  readonly mounts: readonly string[];
}

export interface HugepageAdvice {
  readonly severity: "warning" | "info";
  readonly message: string;
  /** Commands that act on it (none for pure information). */
  readonly fix: readonly string[];
}

export interface HugepageReport {
  /** `MemTotal`, KiB. */
  readonly memTotalKiB: number;
  readonly defaultSizeKiB: number | undefined;
  readonly mounts: readonly HugetlbfsMountInfo[];
  readonly pools: readonly HugepagePool[];
  /** `/sys/kernel/mm/transparent_hugepage/enabled` selection (`always`, `madvise`, `never`). */
  readonly transparent: string | undefined;
  readonly advice: readonly HugepageAdvice[];
}

function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

function num(root: string, path: string): number {
  const t = read(root, path);
  const n = t === undefined ? NaN : Number(t.trim());
  return Number.isFinite(n) ? n : 0;
}

/** `2048` → `2M`, `1048576` → `1G` (hugetlbfs's own spelling, for mount options). */
export function pageSizeText(kib: number): string {
  if (kib % 1048576 === 0) return `${String(kib / 1048576)}G`;
  if (kib % 1024 === 0) return `${String(kib / 1024)}M`;
  return `${String(kib)}K`;
}

/** The report for the host under `root`. */
export function hugepageReport(root = "/"): HugepageReport {
  const meminfo = read(root, "proc/meminfo") ?? "";
  const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  const defaultSizeKiB = defaultHugepageSizeKiB(meminfo);
  const mounts = parseHugetlbfsMounts(read(root, "proc/mounts") ?? "", defaultSizeKiB);
  let sizes: number[] = [];
  try {
    sizes = readdirSync(join(root, "sys/kernel/mm/hugepages"))
      .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    // no huge page support in this kernel
  }
  const online = read(root, "sys/devices/system/node/online");
  const nodeIds = online !== undefined ? parseCpuList(online.trim()) : [];
  const pools: HugepagePool[] = sizes.map((sizeKiB) => {
    const dir = `sys/kernel/mm/hugepages/hugepages-${String(sizeKiB)}kB`;
    const nodes = nodeIds.map((node) => {
      const nd = `sys/devices/system/node/node${String(node)}/hugepages/hugepages-${String(sizeKiB)}kB`;
      return {
        node,
        total: num(root, `${nd}/nr_hugepages`),
        free: num(root, `${nd}/free_hugepages`),
        surplus: num(root, `${nd}/surplus_hugepages`),
      };
    });
    return {
      sizeKiB,
      default: sizeKiB === defaultSizeKiB,
      total: num(root, `${dir}/nr_hugepages`),
      free: num(root, `${dir}/free_hugepages`),
      reserved: num(root, `${dir}/resv_hugepages`),
      surplus: num(root, `${dir}/surplus_hugepages`),
      overcommit: num(root, `${dir}/nr_overcommit_hugepages`),
      nodes,
      mounts: mounts.filter((m) => m.sizeKiB === sizeKiB).map((m) => m.path),
    };
  });
  const thp = /\[(\w+)\]/.exec(read(root, "sys/kernel/mm/transparent_hugepage/enabled") ?? "")?.[1];
  return { memTotalKiB, defaultSizeKiB, mounts, pools, transparent: thp, advice: advise(pools, sizes, thp) };
}

function advise(
  pools: readonly HugepagePool[],
  sizes: readonly number[],
  thp: string | undefined,
): HugepageAdvice[] {
  const out: HugepageAdvice[] = [];
  if (sizes.length === 0) {
    out.push({
      severity: "warning",
      message:
        "this kernel offers no huge pages (no /sys/kernel/mm/hugepages): guests cannot use <hugepages>",
      fix: [],
    });
    return out;
  }
  for (const p of pools) {
    const size = pageSizeText(p.sizeKiB);
    const sysfs = `/sys/kernel/mm/hugepages/hugepages-${String(p.sizeKiB)}kB`;
    const usable = p.total + p.overcommit;
    if (usable > 0 && p.mounts.length === 0) {
      out.push({
        severity: "warning",
        message: `${String(p.total)} huge pages of ${size} are configured but no hugetlbfs of that size is mounted: guests asking for ${size} pages are refused`,
        fix: [
          `mkdir -p /dev/hugepages${size}`,
          `mount -t hugetlbfs -o pagesize=${size} none /dev/hugepages${size}`,
        ],
      });
    }
    if (p.mounts.length > 0 && usable === 0) {
      out.push({
        severity: "warning",
        message: `hugetlbfs of ${size} is mounted (${p.mounts.join(", ")}) but the pool is empty: a guest backed by ${size} pages cannot start`,
        fix: [
          `tvirsh allocpages --pagesize ${size} --pagecount <count>`,
          `echo <count> > ${sysfs}/nr_hugepages`,
        ],
      });
    }
    if (p.total > 0 && p.free === 0 && p.overcommit === 0) {
      out.push({
        severity: "info",
        message: `every ${size} page is in use (${String(p.total)} of ${String(p.total)}): another guest with ${size} pages needs more`,
        fix: [`tvirsh allocpages --add --pagesize ${size} --pagecount <count>`],
      });
    }
    const shortNodes = p.nodes.filter((n) => n.total === 0);
    if (p.total > 0 && p.nodes.length > 1 && shortNodes.length > 0) {
      out.push({
        severity: "info",
        message: `node${shortNodes.length > 1 ? "s" : ""} ${shortNodes.map((n) => String(n.node)).join(", ")} ${shortNodes.length > 1 ? "have" : "has"} no ${size} pages: guests whose memory is bound there (<numatune>, <page nodeset>) cannot use them`,
        fix: shortNodes.map(
          (n) => `tvirsh allocpages --cellno ${String(n.node)} --pagesize ${size} --pagecount <count>`,
        ),
      });
    }
    if (p.overcommit > 0) {
      out.push({
        severity: "info",
        message: `${size} overcommit is ${String(p.overcommit)} pages: surplus pages come from free memory on demand and may fail to appear under fragmentation; a persistent pool is more reliable for guests`,
        fix: [`echo 0 > ${sysfs}/nr_overcommit_hugepages`],
      });
    }
  }
  if (pools.every((p) => p.total + p.overcommit === 0)) {
    const d = pools.find((p) => p.default) ?? pools[0]!;
    out.push({
      severity: "info",
      message: `no huge page pool is configured; a guest with <memoryBacking><hugepages/> needs pages of ${pageSizeText(d.sizeKiB)} set aside first`,
      fix: [`tvirsh allocpages --pagesize ${pageSizeText(d.sizeKiB)} --pagecount <count>`],
    });
  }
  if (thp === "always") {
    out.push({
      severity: "info",
      message:
        "transparent huge pages are 'always': guests without <hugepages> may get them anyway, with khugepaged compaction pauses",
      fix: ["echo madvise > /sys/kernel/mm/transparent_hugepage/enabled"],
    });
  }
  return out;
}
