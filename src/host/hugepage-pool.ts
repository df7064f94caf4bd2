/**
 * The host's page pools per NUMA node (libvirt's virNumaGetPages / virNumaSetPagePoolSize):
 * free pages of each size, and resizing the huge page pools, through sysfs under a root (a fake
 * tree in tests). The system page size (4 KiB) counts the node's free memory and cannot be
 * resized; huge page sizes read and write `hugepages-<size>kB/{free,nr}_hugepages`, per node or,
 * for cell -1, host-wide.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VirtError } from "../util/errors/index.ts";
import { parseCpuList } from "./facts.ts";

const SYSTEM_PAGE_KIB = 4;

function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

/** The highest NUMA node id (0 on a host without NUMA information). */
export function lastNode(root = "/"): number {
  const online = read(root, "sys/devices/system/node/online");
  const ids = online ? parseCpuList(online) : [0];
  return Math.max(0, ...ids);
}

function checkCells(startCell: number, cellCount: number, root: string): number {
  const last = lastNode(root);
  if (startCell < 0 || startCell > last)
    throw new VirtError("NUMA_CELL_RANGE", { which: "start", cell: startCell, last });
  const end = startCell + cellCount - 1;
  if (end > last) throw new VirtError("NUMA_CELL_RANGE", { which: "end", cell: end, last });
  return end;
}

function poolDir(root: string, node: number, sizeKiB: number): string {
  return node < 0
    ? `sys/kernel/mm/hugepages/hugepages-${String(sizeKiB)}kB`
    : `sys/devices/system/node/node${String(node)}/hugepages/hugepages-${String(sizeKiB)}kB`;
}

function readPool(root: string, node: number, sizeKiB: number, file: string): bigint {
  const text = read(root, `${poolDir(root, node, sizeKiB)}/${file}`);
  if (text === undefined) throw new VirtError("NUMA_PAGE_SIZE_UNAVAILABLE", { size: sizeKiB, node });
  return BigInt(text.trim());
}

/** Free system pages of a node: its MemFree (node meminfo; host meminfo without NUMA). */
function freeSystemPages(root: string, node: number): bigint {
  const nodeInfo = read(root, `sys/devices/system/node/node${String(node)}/meminfo`);
  const m = nodeInfo
    ? /MemFree:\s+(\d+) kB/.exec(nodeInfo)
    : /^MemFree:\s+(\d+) kB/m.exec(read(root, "proc/meminfo") ?? "");
  return BigInt(m?.[1] ?? "0") / BigInt(SYSTEM_PAGE_KIB);
}

/** Free pages of each size on cells `startCell`… (`counts[cell * pages.length + i]`). */
export function freePages(
  pages: readonly number[],
  startCell: number,
  cellCount: number,
  root = "/",
): bigint[] {
  const end = checkCells(startCell, cellCount, root);
  const out: bigint[] = [];
  for (let cell = startCell; cell <= end; cell++) {
    for (const size of pages) {
      out.push(
        size === SYSTEM_PAGE_KIB ? freeSystemPages(root, cell) : readPool(root, cell, size, "free_hugepages"),
      );
    }
  }
  return out;
}

/**
 * Sets (or with `add` grows) the pool of each size on cells `startCell`… (-1: host-wide, one
 * pool). Fails when the kernel gave fewer pages than asked. Returns the number of cells done.
 */
export function allocPages(
  sizes: readonly number[],
  counts: readonly bigint[],
  startCell: number,
  cellCount: number,
  add: boolean,
  root = "/",
): number {
  if (sizes.some((s) => s === SYSTEM_PAGE_KIB)) throw new VirtError("NUMA_SYSTEM_PAGES_FIXED", {});
  const cells: number[] = [];
  if (startCell === -1) cells.push(-1);
  else for (let c = startCell, end = checkCells(startCell, cellCount, root); c <= end; c++) cells.push(c);
  for (const cell of cells) {
    sizes.forEach((size, i) => {
      const have = readPool(root, cell, size, "nr_hugepages");
      const want = add ? have + (counts[i] ?? 0n) : (counts[i] ?? 0n);
      writeFileSync(join(root, poolDir(root, cell, size), "nr_hugepages"), want.toString());
      const got = readPool(root, cell, size, "nr_hugepages");
      if (got < want) throw new VirtError("NUMA_PAGES_SHORT", { want: want.toString(), got: got.toString() });
    });
  }
  return cells.length;
}
