/**
 * Mounted hugetlbfs file systems of the host, from /proc/mounts (or another mounts file), with
 * their page sizes. The default huge page size comes from /proc/meminfo (`Hugepagesize:`).
 */
import { readFileSync } from "node:fs";

export interface HugetlbfsMountInfo {
  readonly path: string;
  readonly sizeKiB: number;
  readonly default: boolean;
}

/** Parses a size as hugetlbfs prints it in mount options (`2M`, `1G`, `2048k`) into KiB. */
export function parsePageSize(text: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  return unit === "g" ? n * 1024 * 1024 : unit === "m" ? n * 1024 : unit === "k" ? n : n / 1024;
}

/** Default huge page size in KiB from meminfo text, or undefined. */
export function defaultHugepageSizeKiB(meminfo: string): number | undefined {
  const m = /^Hugepagesize:\s+(\d+) kB$/m.exec(meminfo);
  return m ? Number(m[1]) : undefined;
}

/** Unescapes the octal escapes of /proc/mounts (`\040` for a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseHugetlbfsMounts(
  mounts: string,
  defaultSizeKiB: number | undefined,
): HugetlbfsMountInfo[] {
  const out: HugetlbfsMountInfo[] = [];
  for (const line of mounts.split("\n")) {
    const f = line.split(" ");
    if (f[2] !== "hugetlbfs" || f[1] === undefined) continue;
    const opt = (f[3] ?? "").split(",").find((o) => o.startsWith("pagesize="));
    const size = opt ? parsePageSize(opt.slice("pagesize=".length)) : defaultSizeKiB;
    if (size === undefined) continue;
    out.push({ path: unescapeMount(f[1]), sizeKiB: size, default: false });
  }
  // The first mount of the default size is the default one (as libvirt picks it).
  const d = out.findIndex((m) => m.sizeKiB === defaultSizeKiB);
  return out.map((m, i) => (i === d ? { ...m, default: true } : m));
}

export function hostHugetlbfsMounts(
  mountsFile = "/proc/mounts",
  meminfoFile = "/proc/meminfo",
): HugetlbfsMountInfo[] {
  let meminfo = "";
  try {
    meminfo = readFileSync(meminfoFile, "utf8");
  } catch {
    /* no meminfo: sizes come from the mount options only */
  }
  let mounts: string;
  try {
    mounts = readFileSync(mountsFile, "utf8");
  } catch {
    return [];
  }
  return parseHugetlbfsMounts(mounts, defaultHugepageSizeKiB(meminfo));
}

/**
 * The mounts a driver may use (qemu.conf `hugetlbfs_mount`): with a list, only mounted
 * hugetlbfs file systems at those paths, in the list's order (the first of each page size is
 * that size's default); without one, every mounted hugetlbfs file system.
 */
export function usableHugetlbfsMounts(
  allowed: readonly string[] | undefined,
  mounts: readonly HugetlbfsMountInfo[] = hostHugetlbfsMounts(),
): HugetlbfsMountInfo[] {
  if (allowed === undefined) return [...mounts];
  const picked: HugetlbfsMountInfo[] = [];
  for (const path of allowed) {
    const m = mounts.find((x) => x.path === path.replace(/\/+$/, ""));
    if (m) picked.push({ ...m, default: !picked.some((p) => p.sizeKiB === m.sizeKiB) });
  }
  return picked;
}
