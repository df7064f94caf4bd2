/**
 * Control groups for guests, as libvirt's `vircgroup.c`, `vircgroupv1.c`, `vircgroupv2.c` make
 * them for the QEMU driver (`qemu_cgroup.c`).
 *
 * Layout (libvirt's, without systemd-machined):
 *   <mount>/<partition>/<machine>.libvirt-qemu/           memory, blkio/io, shares, global CFS
 *   <mount>/<partition>/<machine>.libvirt-qemu/emulator   QEMU's non-vCPU threads (emulator CFS, emulatorpin)
 *   <mount>/<partition>/<machine>.libvirt-qemu/vcpuN      vCPU N's thread (CFS period/quota, vcpupin)
 * The partition is `/machine` (written `machine`); other partitions get libvirt's `.partition`
 * suffix per component (`/tvirt-test` → `tvirt-test.partition`). `<machine>` is libvirt's
 * machine name `qemu-ID-NAME`. With systemd as init libvirt asks machined for
 * `machine.slice/machine-qemu\x2dID\x2dNAME.scope`; `layout: "systemd"` builds those names
 * (the directories are made here directly, machined is not involved).
 *
 * - cgroup v1: the thread groups exist in the cpu, cpuacct and cpuset hierarchies only (as
 *   libvirt); the whole process stays in the domain group of memory and blkio. New cpuset
 *   groups start empty in v1, so their cpus/mems are copied from the parent.
 * - cgroup v2: one unified tree; controllers are enabled down the path through
 *   `cgroup.subtree_control`; the thread groups are `threaded` cgroups and threads move through
 *   `cgroup.threads` (memory and io stay domain controllers of the machine group).
 *
 * Everything is plain file I/O under the mount points found in `/proc/self/mounts`; tests give
 * a fake tree (`CgroupLayout` built by hand) or a private partition name.
 */
import { mkdir, readFile, readdir, rmdir, stat, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { VirtError } from "../util/errors/index.ts";

/** The v1 controllers tvirt uses (libvirt also uses devices, freezer, net_cls, perf_event). */
export const V1_CONTROLLERS = ["cpu", "cpuacct", "cpuset", "memory", "blkio"] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
/** The v1 hierarchies that hold the emulator and vcpuN thread groups. */
const V1_THREAD_CONTROLLERS: readonly V1Controller[] = ["cpu", "cpuacct", "cpuset"];
/** v2 controllers tvirt enables down to the machine group (io is v1's blkio). */
const V2_CONTROLLERS = ["cpu", "cpuset", "memory", "io", "pids"] as const;
/** v2 controllers that work in threaded groups. */
const V2_THREADED = ["cpu", "cpuset", "pids"];

/** Where the cgroup hierarchies are mounted. */
export interface CgroupLayout {
  readonly version: 1 | 2;
  /** v1: controller → its mount point (only the mounted ones). */
  readonly v1: Readonly<Partial<Record<V1Controller, string>>>;
  /** v2: the unified mount point. */
  readonly unified?: string;
  /** v2: controllers the unified root offers (`cgroup.controllers`). */
  readonly v2Controllers?: readonly string[];
}

/**
 * The host's layout from `/proc/self/mounts` text (libvirt's virCgroupDetectMounts): v1 when any
 * v1 controller tvirt uses is mounted (a hybrid host's `unified` mount then carries nothing of
 * ours), else v2 when a cgroup2 tree is mounted; undefined when there is none.
 */
export function parseCgroupMounts(
  mountsText: string,
  readControllers: (mount: string) => string[] = readV2Controllers,
): CgroupLayout | undefined {
  const v1: Partial<Record<V1Controller, string>> = {};
  let unified: string | undefined;
  for (const line of mountsText.split("\n")) {
    const [, dir, type, opts] = line.split(" ");
    if (dir === undefined || opts === undefined) continue;
    const where = dir.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (type === "cgroup") {
      for (const o of opts.split(",")) {
        if ((V1_CONTROLLERS as readonly string[]).includes(o) && v1[o as V1Controller] === undefined)
          v1[o as V1Controller] = where;
      }
    } else if (type === "cgroup2" && unified === undefined) {
      unified = where;
    }
  }
  if (Object.keys(v1).length > 0) return { version: 1, v1 };
  if (unified !== undefined) return { version: 2, v1: {}, unified, v2Controllers: readControllers(unified) };
  return undefined;
}

function readV2Controllers(mount: string): string[] {
  try {
    return readFileSync(join(mount, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** The host's cgroup layout now (undefined: no cgroups mounted, as in some containers). */
export function hostCgroupLayout(mountsFile = "/proc/self/mounts"): CgroupLayout | undefined {
  try {
    return parseCgroupMounts(readFileSync(mountsFile, "utf8"));
  } catch {
    return undefined;
  }
}

/** Whether the host runs systemd as init (libvirt's virSystemdHasMachined precondition). */
export function hostHasSystemd(): boolean {
  return existsSync("/run/systemd/system");
}

const CONTROLLER_NAMES = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "blkio",
  "devices",
  "freezer",
  "net_cls",
  "perf_event",
  "pids",
  "io",
  "hugetlb",
  "rdma",
  "misc",
];

/**
 * libvirt's virCgroupPartitionEscape: a component that starts with `_` or `.`, starts with
 * `cgroup.`, or starts with a controller name and a dot would clash with the kernel's files,
 * so it gets a `_` in front.
 */
export function escapeCgroupComponent(name: string): string {
  const clash =
    name.startsWith("_") ||
    name.startsWith(".") ||
    name.startsWith("cgroup.") ||
    name === "tasks" ||
    CONTROLLER_NAMES.some((c) => name.startsWith(`${c}.`));
  return clash ? `_${name}` : name;
}

/** libvirt's virCgroupSetPartitionSuffix (+ escape): `/machine` → `machine`, `/a/b` → `a.partition/b.partition`. */
export function partitionPath(partition: string, layout: "plain" | "systemd" = "plain"): string {
  if (!partition.startsWith("/"))
    throw new VirtError("CGROUP_VALUE_RANGE", {
      what: "cgroup partition",
      value: partition,
      min: "an absolute path like /machine",
      max: "/machine/sub",
    });
  const parts = partition.split("/").filter(Boolean);
  if (layout === "systemd") {
    // systemd slices: /machine → machine.slice, /machine/sub → machine.slice/machine-sub.slice
    const out: string[] = [];
    for (let i = 0; i < parts.length; i++) out.push(`${parts.slice(0, i + 1).join("-")}.slice`);
    return out.join("/");
  }
  return parts
    .map((p, i) => {
      // libvirt keeps the three top-level fixed dirs as they are
      if (i === 0 && (p === "machine" || p === "system" || p === "user")) return p;
      return escapeCgroupComponent(p.includes(".") ? p : `${p}.partition`);
    })
    .join("/");
}

/**
 * libvirt's virDomainDriverGenerateMachineName: `qemu-ID-NAME`, where NAME keeps only
 * `[A-Za-z0-9_.-]` (no leading dot, no two dashes in a row) and the whole is at most 64 chars.
 */
export function machineName(id: number, name: string, driver = "qemu"): string {
  let out = `${driver}-${id}-`;
  for (const ch of name) {
    if (out.length >= 64) break;
    if (!/[A-Za-z0-9_.-]/.test(ch)) continue;
    if (ch === "." && out.endsWith("-")) continue;
    if (ch === "-" && out.endsWith("-")) continue;
    out += ch;
  }
  return out.replace(/-+$/, "");
}

/** systemd's unit-name escaping of a machine name (`-` → `\x2d`), as virSystemdMakeScopeName. */
export function systemdScopeName(machine: string): string {
  let out = "";
  for (const ch of machine) {
    if (/[A-Za-z0-9:_.]/.test(ch)) out += ch;
    else out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
  }
  return `machine-${out}.scope`;
}

/** The machine group's path below the mount (no leading slash). */
export function machineGroupPath(
  partition: string,
  machine: string,
  layout: "plain" | "systemd" = "plain",
): string {
  const leaf =
    layout === "systemd" ? systemdScopeName(machine) : escapeCgroupComponent(`${machine}.libvirt-qemu`);
  return `${partitionPath(partition, layout)}/${leaf}`;
}

// ---------------------------------------------------------------------------------------------
// values
// ---------------------------------------------------------------------------------------------

/** libvirt's VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB). */
export const MEMORY_UNLIMITED_KIB = 9007199254740991n;
/** v1 reports "no limit" as a page-aligned LLONG_MAX; anything this large is unlimited. */
const V1_UNLIMITED_BYTES = 1n << 62n;

export type MemoryLimit = "hard" | "soft" | "swap";

/** libvirt's ranges (vircgroupv1.c / vircgroupv2.c). */
export const CPU_SHARES_V1 = { min: 2, max: 262144 } as const;
export const CPU_WEIGHT_V2 = { min: 1, max: 10000 } as const;
export const CFS_PERIOD = { min: 1000, max: 1000000 } as const;
export const CFS_QUOTA = { min: 1000, max: 17592186044415 } as const;
export const BLKIO_WEIGHT = { min: 100, max: 1000 } as const;

/** Per-device block I/O settings (`<blkiotune><device>`), the device given as `major:minor`. */
export type BlkioDeviceField = "weight" | "read_bps" | "write_bps" | "read_iops" | "write_iops";

function range(what: string, value: number | bigint, r: { min: number; max: number }): void {
  if (value < r.min || value > r.max)
    throw new VirtError("CGROUP_VALUE_RANGE", {
      what,
      value: String(value),
      min: String(r.min),
      max: String(r.max),
    });
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message.replace(/^[A-Z]+: /, "") : String(e);
}

async function writeValue(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (e) {
    throw new VirtError("CGROUP_WRITE", { path, reason: errText(e) }, { cause: e });
  }
}

async function readValue(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (e) {
    throw new VirtError("CGROUP_READ", { path, reason: errText(e) }, { cause: e });
  }
}

/** `major:minor` of a block device node (libvirt refuses anything else). */
export async function blockDeviceNumber(path: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new VirtError("CGROUP_READ", { path, reason: errText(e) }, { cause: e });
  }
  if (!st.isBlockDevice()) throw new VirtError("CGROUP_READ", { path, reason: "not a block device" });
  // Linux dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31
  const rdev = BigInt(st.rdev);
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

// ---------------------------------------------------------------------------------------------
// the machine group
// ---------------------------------------------------------------------------------------------

/** A guest's cgroup: `path` below each mount, and its emulator / vcpuN thread groups. */
export class MachineCgroup {
  constructor(
    readonly layout: CgroupLayout,
    /** Below each mount, no leading slash (`machine/qemu-1-vm.libvirt-qemu`). */
    readonly path: string,
  ) {}

  /** Whether the settings of `controller` can be made (mounted in v1, offered in v2). */
  has(controller: V1Controller | "io" | "pids"): boolean {
    if (this.layout.version === 1) {
      const c = controller === "io" ? "blkio" : controller;
      return c !== "pids" && this.layout.v1[c] !== undefined;
    }
    const c = controller === "blkio" ? "io" : controller === "cpuacct" ? "cpu" : controller;
    return (this.layout.v2Controllers ?? []).includes(c);
  }

  /** The group's directory for a v1 controller (ignored on v2), or a thread group below it. */
  dir(controller: V1Controller, sub?: string): string {
    const base = this.layout.version === 1 ? this.layout.v1[controller] : this.layout.unified;
    if (base === undefined) throw new VirtError("CGROUP_NO_CONTROLLER", { controller });
    return sub === undefined ? join(base, this.path) : join(base, this.path, sub);
  }

  #require(controller: V1Controller): void {
    if (!this.has(controller))
      throw new VirtError("CGROUP_NO_CONTROLLER", { controller: v2Name(this.layout, controller) });
  }

  /** Every directory of the group (each hierarchy in v1, once in v2). */
  #bases(): string[] {
    if (this.layout.version === 2) return [this.layout.unified!];
    return V1_CONTROLLERS.map((c) => this.layout.v1[c]).filter((d): d is string => d !== undefined);
  }

  /** Whether the machine group exists (in the first hierarchy). */
  exists(): boolean {
    const b = this.#bases()[0];
    return b !== undefined && existsSync(join(b, this.path));
  }

  /**
   * Makes the group and its thread groups (`emulator`, `vcpu0`..): each missing directory down
   * the path, with v1 cpuset values copied from the parent and v2 controllers enabled from the
   * top. Existing directories are kept (a partition shared by guests).
   */
  async create(threadGroups: readonly string[]): Promise<void> {
    const comps = this.path.split("/");
    if (this.layout.version === 1) {
      for (const c of V1_CONTROLLERS) {
        const base = this.layout.v1[c];
        if (base === undefined) continue;
        let dir = base;
        for (const comp of comps) {
          dir = join(dir, comp);
          await this.#mkdir(dir, c === "cpuset");
        }
        if (!V1_THREAD_CONTROLLERS.includes(c)) continue;
        for (const t of threadGroups) await this.#mkdir(join(dir, t), c === "cpuset");
      }
      return;
    }
    const base = this.layout.unified!;
    const offered = this.layout.v2Controllers ?? [];
    const enable = V2_CONTROLLERS.filter((c) => offered.includes(c));
    let dir = base;
    for (const comp of comps) {
      await enableControllers(dir, enable);
      dir = join(dir, comp);
      await this.#mkdir(dir, false);
    }
    if (threadGroups.length === 0) return;
    for (const t of threadGroups) {
      const td = join(dir, t);
      await this.#mkdir(td, false);
      if ((await readValue(join(td, "cgroup.type"))) !== "threaded")
        await writeValue(join(td, "cgroup.type"), "threaded");
    }
    await enableControllers(
      dir,
      enable.filter((c) => V2_THREADED.includes(c)),
    );
  }

  async #mkdir(dir: string, cpuset: boolean): Promise<void> {
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new VirtError("CGROUP_CREATE", { path: dir, reason: errText(e) }, { cause: e });
      return;
    }
    if (!cpuset) return;
    // v1 cpuset: a new group has no cpus and no mems, and refuses tasks until it has both
    for (const f of ["cpuset.mems", "cpuset.cpus"]) {
      if ((await readValue(join(dir, f))) === "")
        await writeValue(join(dir, f), await readValue(join(dir, "..", f)));
    }
  }

  /** Puts a whole process into the machine group (every hierarchy; v1 thread hierarchies: into `sub`). */
  async addProcess(pid: number, sub?: string): Promise<void> {
    if (this.layout.version === 2) {
      await writeValue(join(this.layout.unified!, this.path, "cgroup.procs"), String(pid));
      return;
    }
    for (const c of V1_CONTROLLERS) {
      if (this.layout.v1[c] === undefined) continue;
      const s = sub !== undefined && V1_THREAD_CONTROLLERS.includes(c) ? sub : undefined;
      await writeValue(join(this.dir(c, s), "cgroup.procs"), String(pid));
    }
  }

  /** Moves one thread into a thread group (`emulator`, `vcpuN`). */
  async addThread(sub: string, tid: number): Promise<void> {
    if (this.layout.version === 2) {
      await writeValue(join(this.layout.unified!, this.path, sub, "cgroup.threads"), String(tid));
      return;
    }
    for (const c of V1_THREAD_CONTROLLERS) {
      if (this.layout.v1[c] === undefined) continue;
      await writeValue(join(this.dir(c, sub), "tasks"), String(tid));
    }
  }

  /** The thread ids in a group of the cpu hierarchy (v1 `tasks`, v2 `cgroup.threads`). */
  async threads(sub?: string): Promise<number[]> {
    const file = this.layout.version === 2 ? "cgroup.threads" : "tasks";
    const dir =
      this.layout.version === 2 ? join(this.layout.unified!, this.path, sub ?? "") : this.dir("cpu", sub);
    return (await readValue(join(dir, file))).split("\n").filter(Boolean).map(Number);
  }

  /** The processes in the machine group (of the memory hierarchy in v1). */
  async processes(): Promise<number[]> {
    const dir =
      this.layout.version === 2
        ? join(this.layout.unified!, this.path)
        : this.dir(this.has("memory") ? "memory" : "cpu");
    return (await readValue(join(dir, "cgroup.procs"))).split("\n").filter(Boolean).map(Number);
  }

  /**
   * Removes the group and its thread groups (libvirt's virCgroupRemove), retrying briefly while
   * the kernel still counts the process that just died. The partition stays. Returns the
   * directories that could not be removed.
   */
  async remove(timeoutMs = 3000): Promise<string[]> {
    const left: string[] = [];
    for (const base of this.#bases()) {
      const dir = join(base, this.path);
      if (!existsSync(dir)) continue;
      let subs: string[] = [];
      try {
        subs = (await readdir(dir, { withFileTypes: true }))
          .filter((d) => d.isDirectory())
          .map((d) => d.name);
      } catch {
        // gone meanwhile
      }
      for (const d of [...subs.map((s) => join(dir, s)), dir]) {
        if (!(await rmdirRetry(d, timeoutMs))) left.push(d);
      }
    }
    return left;
  }

  // --- memory --------------------------------------------------------------------------------

  /** Sets a memory limit in KiB (`MEMORY_UNLIMITED_KIB` or more: no limit). */
  async setMemory(which: MemoryLimit, kib: bigint): Promise<void> {
    this.#require("memory");
    const unlimited = kib >= MEMORY_UNLIMITED_KIB;
    const file = memoryFile(this.layout.version, which);
    const value =
      this.layout.version === 1
        ? unlimited
          ? "-1"
          : String(kib * 1024n)
        : unlimited
          ? "max"
          : String(kib * 1024n);
    await writeValue(join(this.dir("memory"), file), value);
  }

  /** A memory limit in KiB (`MEMORY_UNLIMITED_KIB` for none). */
  async getMemory(which: MemoryLimit): Promise<bigint> {
    this.#require("memory");
    const v = await readValue(join(this.dir("memory"), memoryFile(this.layout.version, which)));
    if (v === "max" || v === "-1") return MEMORY_UNLIMITED_KIB;
    const bytes = BigInt(v);
    if (bytes >= V1_UNLIMITED_BYTES) return MEMORY_UNLIMITED_KIB;
    return bytes / 1024n;
  }

  /**
   * libvirt's virCgroupSetMemoryLimitParameters: v1 wants memsw >= limit at every moment, so a
   * swap limit that grows is written before the hard limit and one that shrinks after it.
   */
  async setMemoryLimits(l: { hard?: bigint; soft?: bigint; swap?: bigint }): Promise<void> {
    if (l.swap !== undefined && l.hard !== undefined && l.swap < l.hard && l.swap < MEMORY_UNLIMITED_KIB)
      throw new VirtError("CGROUP_VALUE_RANGE", {
        what: "memory swap_hard_limit",
        value: String(l.swap),
        min: String(l.hard),
        max: "unlimited",
      });
    let swapFirst = false;
    if (
      l.swap !== undefined &&
      this.layout.version === 1 &&
      this.#hasFile("memory", "memory.memsw.limit_in_bytes")
    ) {
      const cur = await this.getMemory("swap");
      swapFirst = l.swap >= cur;
    }
    if (swapFirst && l.swap !== undefined) await this.setMemory("swap", l.swap);
    if (l.hard !== undefined) await this.setMemory("hard", l.hard);
    if (l.soft !== undefined) await this.setMemory("soft", l.soft);
    if (!swapFirst && l.swap !== undefined) await this.setMemory("swap", l.swap);
  }

  #hasFile(controller: V1Controller, file: string, sub?: string): boolean {
    return existsSync(join(this.dir(controller, sub), file));
  }

  // --- cpu -----------------------------------------------------------------------------------

  /** cpu.shares (v1) / cpu.weight (v2; libvirt writes the value as it is). */
  async setCpuShares(shares: number): Promise<void> {
    this.#require("cpu");
    if (this.layout.version === 1) {
      range("shares", shares, CPU_SHARES_V1);
      await writeValue(join(this.dir("cpu"), "cpu.shares"), String(shares));
    } else {
      range("shares", shares, CPU_WEIGHT_V2);
      await writeValue(join(this.dir("cpu"), "cpu.weight"), String(shares));
    }
  }

  async getCpuShares(): Promise<number> {
    this.#require("cpu");
    return Number(
      await readValue(join(this.dir("cpu"), this.layout.version === 1 ? "cpu.shares" : "cpu.weight")),
    );
  }

  /**
   * CFS bandwidth of the machine group (`sub` undefined, libvirt's global_*), `emulator` or
   * `vcpuN`: period in µs, quota in µs or -1 for none. Either may be left out.
   */
  async setCfs(sub: string | undefined, cfs: { period?: number; quota?: number }): Promise<void> {
    this.#require("cpu");
    if (cfs.period !== undefined) range("cfs_period", cfs.period, CFS_PERIOD);
    if (cfs.quota !== undefined && cfs.quota >= 0) range("cfs_quota", cfs.quota, CFS_QUOTA);
    const dir = this.dir("cpu", sub);
    if (this.layout.version === 1) {
      if (cfs.period !== undefined) await writeValue(join(dir, "cpu.cfs_period_us"), String(cfs.period));
      if (cfs.quota !== undefined)
        await writeValue(join(dir, "cpu.cfs_quota_us"), String(cfs.quota < 0 ? -1 : cfs.quota));
      return;
    }
    const cur = await this.getCfs(sub);
    const period = cfs.period ?? cur.period;
    const quota = cfs.quota ?? cur.quota;
    await writeValue(join(dir, "cpu.max"), `${quota < 0 ? "max" : String(quota)} ${period}`);
  }

  async getCfs(sub?: string): Promise<{ period: number; quota: number }> {
    this.#require("cpu");
    const dir = this.dir("cpu", sub);
    if (this.layout.version === 1) {
      return {
        period: Number(await readValue(join(dir, "cpu.cfs_period_us"))),
        quota: Number(await readValue(join(dir, "cpu.cfs_quota_us"))),
      };
    }
    const [q, p] = (await readValue(join(dir, "cpu.max"))).split(/\s+/);
    return { period: Number(p), quota: q === "max" ? -1 : Number(q) };
  }

  /** cpuset.cpus of a group (libvirt's pinning through cgroups). */
  async setCpus(sub: string | undefined, cpus: string): Promise<void> {
    this.#require("cpuset");
    await writeValue(join(this.dir("cpuset", sub), "cpuset.cpus"), cpus);
  }

  async getCpus(sub?: string): Promise<string> {
    this.#require("cpuset");
    const dir = this.dir("cpuset", sub);
    const v = await readValue(join(dir, "cpuset.cpus"));
    // v2: an empty cpuset.cpus means "the parent's"
    return v === "" && this.layout.version === 2 ? readValue(join(dir, "cpuset.cpus.effective")) : v;
  }

  // --- block I/O -----------------------------------------------------------------------------

  #blkioWeightFile(device: boolean): string {
    // libvirt prefers BFQ's file where the kernel has it
    if (this.layout.version === 1) {
      const bfq = device ? "blkio.bfq.weight_device" : "blkio.bfq.weight";
      if (this.#hasFile("blkio", bfq)) return bfq;
      return device ? "blkio.weight_device" : "blkio.weight";
    }
    return this.#hasFile("blkio", "io.bfq.weight") ? "io.bfq.weight" : "io.weight";
  }

  async setBlkioWeight(weight: number): Promise<void> {
    this.#require("blkio");
    range("blkio weight", weight, BLKIO_WEIGHT);
    const file = this.#blkioWeightFile(false);
    if (!this.#hasFile("blkio", file))
      throw new VirtError("CGROUP_UNSUPPORTED", {
        what: "blkio weight",
        controller: blkioName(this.layout),
        file,
      });
    const v = this.layout.version === 2 && file === "io.weight" ? `default ${weight}` : String(weight);
    await writeValue(join(this.dir("blkio"), file), v);
  }

  async getBlkioWeight(): Promise<number | undefined> {
    this.#require("blkio");
    const file = this.#blkioWeightFile(false);
    if (!this.#hasFile("blkio", file)) return undefined;
    const v = await readValue(join(this.dir("blkio"), file));
    const m = /(?:^|default )(\d+)/.exec(v);
    return m ? Number(m[1]) : undefined;
  }

  /** One per-device setting; 0 removes it (the kernel's and libvirt's meaning). */
  async setBlkioDevice(devno: string, field: BlkioDeviceField, value: bigint): Promise<void> {
    this.#require("blkio");
    const dir = this.dir("blkio");
    if (field === "weight") {
      if (value !== 0n) range("blkio device weight", value, BLKIO_WEIGHT);
      const file = this.#blkioWeightFile(true);
      const f = this.layout.version === 2 ? file : file;
      if (!this.#hasFile("blkio", f))
        throw new VirtError("CGROUP_UNSUPPORTED", {
          what: "blkio device weight",
          controller: blkioName(this.layout),
          file: f,
        });
      await writeValue(
        join(dir, f),
        `${devno} ${value === 0n && this.layout.version === 2 ? "default" : String(value)}`,
      );
      return;
    }
    if (this.layout.version === 1) {
      const file = `blkio.throttle.${field.replace("_bps", "_bps_device").replace("_iops", "_iops_device")}`;
      if (!this.#hasFile("blkio", file))
        throw new VirtError("CGROUP_UNSUPPORTED", { what: `blkio ${field}`, controller: "blkio", file });
      await writeValue(join(dir, file), `${devno} ${value}`);
      return;
    }
    const key = { read_bps: "rbps", write_bps: "wbps", read_iops: "riops", write_iops: "wiops" }[field];
    await writeValue(join(dir, "io.max"), `${devno} ${key}=${value === 0n ? "max" : String(value)}`);
  }

  /** The per-device settings now, by `major:minor` (fields absent when unset). */
  async getBlkioDevices(): Promise<Map<string, Partial<Record<BlkioDeviceField, bigint>>>> {
    this.#require("blkio");
    const out = new Map<string, Partial<Record<BlkioDeviceField, bigint>>>();
    const put = (dev: string, f: BlkioDeviceField, v: bigint): void => {
      const e = out.get(dev) ?? {};
      e[f] = v;
      out.set(dev, e);
    };
    const dir = this.dir("blkio");
    const wf = this.#blkioWeightFile(true);
    if (this.layout.version === 1) {
      if (this.#hasFile("blkio", wf)) {
        for (const l of (await readValue(join(dir, wf))).split("\n")) {
          const m = /^(\d+:\d+)\s+(\d+)$/.exec(l.trim());
          if (m) put(m[1]!, "weight", BigInt(m[2]!));
        }
      }
      for (const f of ["read_bps", "write_bps", "read_iops", "write_iops"] as const) {
        const file = `blkio.throttle.${f}_device`;
        if (!this.#hasFile("blkio", file)) continue;
        for (const l of (await readValue(join(dir, file))).split("\n")) {
          const m = /^(\d+:\d+)\s+(\d+)$/.exec(l.trim());
          if (m) put(m[1]!, f, BigInt(m[2]!));
        }
      }
      return out;
    }
    if (this.#hasFile("blkio", wf)) {
      for (const l of (await readValue(join(dir, wf))).split("\n")) {
        const m = /^(\d+:\d+)\s+(\d+)$/.exec(l.trim());
        if (m) put(m[1]!, "weight", BigInt(m[2]!));
      }
    }
    if (this.#hasFile("blkio", "io.max")) {
      const keys = { rbps: "read_bps", wbps: "write_bps", riops: "read_iops", wiops: "write_iops" } as const;
      for (const l of (await readValue(join(dir, "io.max"))).split("\n")) {
        const [dev, ...kv] = l.trim().split(/\s+/);
        if (dev === undefined || !/^\d+:\d+$/.test(dev)) continue;
        for (const p of kv) {
          const [k, v] = p.split("=");
          if (k === undefined || !(k in keys) || v === undefined || v === "max") continue;
          put(dev, keys[k as keyof typeof keys], BigInt(v));
        }
      }
    }
    return out;
  }
}

function v2Name(layout: CgroupLayout, c: V1Controller): string {
  if (layout.version === 1) return c;
  return c === "blkio" ? "io" : c === "cpuacct" ? "cpu" : c;
}

function blkioName(layout: CgroupLayout): string {
  return layout.version === 1 ? "blkio" : "io";
}

function memoryFile(version: 1 | 2, which: MemoryLimit): string {
  if (version === 1)
    return {
      hard: "memory.limit_in_bytes",
      soft: "memory.soft_limit_in_bytes",
      swap: "memory.memsw.limit_in_bytes",
    }[which];
  return { hard: "memory.max", soft: "memory.high", swap: "memory.swap.max" }[which];
}

async function enableControllers(dir: string, controllers: readonly string[]): Promise<void> {
  if (controllers.length === 0) return;
  const file = join(dir, "cgroup.subtree_control");
  const on = new Set((await readValue(file)).split(/\s+/).filter(Boolean));
  const missing = controllers.filter((c) => !on.has(c));
  if (missing.length === 0) return;
  await writeValue(file, missing.map((c) => `+${c}`).join(" "));
}

async function rmdirRetry(dir: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rmdir(dir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return true;
      if (code !== "EBUSY" || Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The machine group a running process is in (libvirt's virCgroupNewDetectMachine, used when the
 * daemon reconnects): its path in the cpu hierarchy (v1) or the unified one (v2), with a
 * thread group at the end taken off, if that path ends in `expectedLeaf`.
 */
export async function detectMachineCgroup(
  layout: CgroupLayout,
  pid: number,
  expectedLeaf: string,
  procRoot = "/proc",
): Promise<MachineCgroup | undefined> {
  let text: string;
  try {
    text = await readFile(join(procRoot, String(pid), "cgroup"), "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [hid, ctrls, path] = line.split(":");
    if (path === undefined) continue;
    const match =
      layout.version === 2
        ? hid === "0" && ctrls === ""
        : (ctrls ?? "").split(",").includes(layout.v1.memory !== undefined ? "memory" : "cpu");
    if (!match) continue;
    let p = path.replace(/^\/+/, "");
    p = p.replace(/\/(emulator|vcpu\d+)$/, "");
    if (p === expectedLeaf || p.endsWith(`/${expectedLeaf}`)) return new MachineCgroup(layout, p);
  }
  return undefined;
}
