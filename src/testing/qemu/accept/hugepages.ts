/**
 * Huge pages for the acceptance test: hugetlbfs mounts on temp dirs (one per page size the
 * kernel offers) and reservations that are given back. Reservations are relative (add N pages,
 * later take away what was actually obtained), so a concurrent user of the pool is not undone.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Cleanup } from "./cleanup.ts";
import { run } from "./run.ts";

export interface MountedHugetlbfs {
  readonly sizeKiB: number;
  readonly path: string;
  readonly default: boolean;
}

export function nrHugepagesFile(sizeKiB: number): string {
  return `/sys/kernel/mm/hugepages/hugepages-${sizeKiB}kB/nr_hugepages`;
}

export function pageSizeOption(sizeKiB: number): string {
  return sizeKiB % (1024 * 1024) === 0
    ? `${sizeKiB / (1024 * 1024)}G`
    : sizeKiB % 1024 === 0
      ? `${sizeKiB / 1024}M`
      : `${sizeKiB}K`;
}

export function humanKiB(kib: number): string {
  if (kib % (1024 * 1024) === 0) return `${kib / (1024 * 1024)} GiB`;
  if (kib >= 1024 * 1024) return `${(kib / (1024 * 1024)).toFixed(1)} GiB`;
  if (kib % 1024 === 0) return `${kib / 1024} MiB`;
  return `${kib} KiB`;
}

/** Mounts hugetlbfs with `pagesize=` for each size under `dir`; each mount is undone by `cleanup`. */
export async function mountHugetlbfs(
  dir: string,
  sizesKiB: readonly number[],
  defaultKiB: number | undefined,
  cleanup: Cleanup,
): Promise<MountedHugetlbfs[]> {
  const out: MountedHugetlbfs[] = [];
  for (const size of sizesKiB) {
    const path = join(dir, `hugepages${pageSizeOption(size)}`);
    mkdirSync(path, { recursive: true });
    await run(["mount", "-t", "hugetlbfs", "-o", `pagesize=${pageSizeOption(size)}`, "none", path]);
    cleanup.defer(`hugetlbfs mount ${path}`, async () => {
      await run(["umount", path]);
    });
    out.push({ sizeKiB: size, path, default: size === defaultKiB });
  }
  return out;
}

function readCount(sizeKiB: number): number {
  return Number(readFileSync(nrHugepagesFile(sizeKiB), "utf8").trim());
}

export interface Reservation {
  readonly sizeKiB: number;
  readonly wanted: number;
  /** Pages the kernel actually added. */
  readonly got: number;
  release(): void;
}

/**
 * Adds `pages` huge pages of `sizeKiB` to the pool. `got` may be less than wanted when the
 * kernel cannot find the memory; `release()` gives back exactly what was added.
 */
export function reserveHugepages(sizeKiB: number, pages: number): Reservation {
  const file = nrHugepagesFile(sizeKiB);
  const before = readCount(sizeKiB);
  writeFileSync(file, String(before + pages));
  const got = Math.max(0, readCount(sizeKiB) - before);
  let released = false;
  return {
    sizeKiB,
    wanted: pages,
    got,
    release(): void {
      if (released) return;
      released = true;
      if (got === 0) return;
      const now = readCount(sizeKiB);
      writeFileSync(file, String(Math.max(0, now - got)));
    },
  };
}
