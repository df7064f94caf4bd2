/**
 * Huge pages at start: what the command line asks of each hugetlbfs (read from the memory
 * backends of the argv itself, so the check and QEMU can never disagree), a preflight that the
 * host has that many free pages of each size on the host nodes the backends bind to, and the
 * guest's own directory under each mount (QEMU given a path that is not a directory creates a
 * plain file there and carries on; a missing directory must never reach it).
 *
 * libvirt starts QEMU and lets it fail (or, without preallocation, lets the guest die of SIGBUS
 * later); tvirt refuses before QEMU starts, naming the page size, the host nodes, what is free
 * and how to reserve more.
 */
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** A mounted hugetlbfs (as the command context and `host/hugetlbfs.ts` list them). */
interface Mount {
  readonly path: string;
  readonly sizeKiB: number;
}
import { VirtError } from "../../../util/errors/index.ts";

/** Pages of one size the guest takes from some host nodes (undefined: any node). */
export interface HugepageNeed {
  readonly sizeKiB: number;
  readonly pages: number;
  readonly nodes: readonly number[] | undefined;
  /** The guest's directory under the mount (`mem-path`). */
  readonly dir: string;
}

interface BackendObject {
  readonly "qom-type"?: string;
  readonly "mem-path"?: string;
  readonly size?: number;
  readonly "host-nodes"?: readonly number[];
  readonly policy?: string;
}

/** The huge pages the memory backends of `args` take, summed per size and node set. */
export function hugepageNeeds(args: readonly string[], mounts: readonly Mount[]): HugepageNeed[] {
  const out = new Map<string, { sizeKiB: number; pages: number; nodes: number[] | undefined; dir: string }>();
  for (let i = 0; i + 1 < args.length; i++) {
    if (args[i] !== "-object" || !args[i + 1]?.startsWith("{")) continue;
    let o: BackendObject;
    try {
      o = JSON.parse(args[i + 1] ?? "") as BackendObject;
    } catch {
      continue;
    }
    const path = o["mem-path"];
    if (o["qom-type"] !== "memory-backend-file" || path === undefined || typeof o.size !== "number") continue;
    const mount = mounts.find((m) => path === m.path || path.startsWith(`${m.path}/`));
    if (!mount) continue;
    const pages = Math.ceil(o.size / (mount.sizeKiB * 1024));
    const nodes =
      o.policy === "bind" && o["host-nodes"] ? [...o["host-nodes"]].sort((a, b) => a - b) : undefined;
    const key = `${String(mount.sizeKiB)}:${nodes?.join(",") ?? "*"}`;
    const prev = out.get(key);
    out.set(key, { sizeKiB: mount.sizeKiB, pages: (prev?.pages ?? 0) + pages, nodes, dir: path });
  }
  return [...out.values()];
}

function readCount(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Free pages of a size on some host nodes (undefined: the whole host), from sysfs under `root`. */
export function freeHugepages(sizeKiB: number, nodes: readonly number[] | undefined, root = "/"): number {
  const leaf = `hugepages/hugepages-${String(sizeKiB)}kB/free_hugepages`;
  if (nodes === undefined) return readCount(join(root, "sys/kernel/mm", leaf)) ?? 0;
  let sum = 0;
  for (const n of nodes) sum += readCount(join(root, `sys/devices/system/node/node${String(n)}`, leaf)) ?? 0;
  return sum;
}

function sizeText(kib: number): string {
  return kib % (1024 * 1024) === 0 ? `${String(kib / 1024 / 1024)} GiB` : `${String(kib / 1024)} MiB`;
}

/** Refuses a start the host's free huge pages cannot back, naming size, nodes and the fix. */
export function checkHugepageSupply(domain: string, needs: readonly HugepageNeed[], root = "/"): void {
  for (const n of needs) {
    const free = freeHugepages(n.sizeKiB, n.nodes, root);
    if (free >= n.pages) continue;
    const where =
      n.nodes === undefined
        ? "the host"
        : `host NUMA node${n.nodes.length > 1 ? "s" : ""} ${n.nodes.join(",")}`;
    const file =
      n.nodes === undefined || n.nodes.length !== 1
        ? `/sys/kernel/mm/hugepages/hugepages-${String(n.sizeKiB)}kB/nr_hugepages`
        : `/sys/devices/system/node/node${String(n.nodes[0])}/hugepages/hugepages-${String(n.sizeKiB)}kB/nr_hugepages`;
    throw new VirtError(
      "QEMU_HUGEPAGES_SHORT",
      { domain, pages: n.pages, size: sizeText(n.sizeKiB), where, free, more: n.pages - free, file },
      { xpath: "/domain/memoryBacking/hugepages" },
    );
  }
}

/** Makes the guest's directory under each mount it uses; returns them (for the undo). */
export async function makeHugepageDirs(needs: readonly HugepageNeed[]): Promise<string[]> {
  const dirs = [...new Set(needs.map((n) => n.dir))];
  for (const d of dirs) await mkdir(d, { recursive: true, mode: 0o750 });
  return dirs;
}

/** Removes the guest's directory (`subdir`) under every hugetlbfs mount (files in it free their pages). */
export async function removeHugepageDirs(mounts: readonly Mount[], subdir: string): Promise<void> {
  for (const m of mounts)
    await rm(join(m.path, subdir), { recursive: true, force: true }).catch(() => undefined);
}
