/**
 * Migration of non-shared storage (`--copy-storage-all` = VIR_MIGRATE_NON_SHARED_DISK,
 * `--copy-storage-inc` = VIR_MIGRATE_NON_SHARED_INC), as libvirt's `qemu_migration.c` does it
 * with QEMU's block layer:
 *
 * - begin (source): which disks are copied (`--migrate-disks`, else every writable local disk
 *   that is not shareable) with their format and virtual size, in the cookie;
 * - prepare (destination): missing images are created with `qemu-img create` in the same format
 *   and size (libvirt only precreates storage pool volumes; plain files are created here too,
 *   and removed again when the migration fails), QEMU starts with `-incoming`, and an NBD server
 *   listens on the migration address with one writable export per disk (`drive-<alias>`); its
 *   port goes back in the cookie (libvirt's `<nbd port=…>`);
 * - perform (source): per disk an NBD client node (`migration-<target>-storage`) and a
 *   `blockdev-mirror` into it (sync `full`, or `top` for the incremental copy); the memory
 *   migration starts once every mirror is READY; after it completed the mirrors are cancelled
 *   (a cancelled READY mirror ends in sync and leaves the source on its own image), after a
 *   failure or abort they are cancelled at once and the guest keeps running on its untouched
 *   disks;
 * - finish (destination): the NBD server stops before the guest resumes.
 *
 * `domjobinfo` shows the mirrors' progress as the job's disk statistics ("File processed" …).
 */
import { existsSync, statSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { DiskDef, DomainDef } from "../../../conf/domain/types.ts";
import type { PortAllocator } from "../../../host/ports.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { TypedParameter } from "../../driver.ts";
import { MigrateFlags, MigrateParam } from "../../enums.ts";
import { isEmptyDisk, isReadonly, localDiskPath } from "../command/disk.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { StreamJob } from "./jobs.ts";

const F = MigrateFlags;

/** The storage flags (either copies the disks through NBD). */
export const STORAGE_FLAGS = F.NON_SHARED_DISK | F.NON_SHARED_INC | F.NON_SHARED_SYNCHRONOUS_WRITES;

export function copiesStorage(flags: number): boolean {
  return (flags & (F.NON_SHARED_DISK | F.NON_SHARED_INC)) !== 0;
}

/** One disk of the copy, as the source describes it (libvirt's `<nbd><disk target= capacity=/>`). */
export interface StorageDisk {
  readonly target: string;
  /** Virtual size in bytes. */
  readonly capacity: number;
  /** Image format (`qcow2`, `raw`, …). */
  readonly format: string;
}

/** The `nbd` part of the migration cookie. */
export interface NbdCookie {
  /** Destination → source: the port of the destination's NBD server. */
  readonly port?: number;
  /** Source → destination: the disks that are copied. */
  readonly disks?: readonly StorageDisk[];
}

/** The `migrate_disks` parameters (one per disk target). */
function migrateDisksParam(params: readonly TypedParameter[]): string[] | undefined {
  const list = params
    .filter((p) => p.field === MigrateParam.MIGRATE_DISKS && p.value.type === 7)
    .map((p) => String(p.value.value));
  return list.length > 0 ? list : undefined;
}

/**
 * Flag and parameter checks of begin (libvirt's qemuMigrationSrcBeginPhase texts): offline
 * migration copies no storage, `--migrate-disks` needs a storage flag and known targets.
 */
export function checkStorageRequest(def: DomainDef, params: readonly TypedParameter[], flags: number): void {
  const listed = migrateDisksParam(params);
  if (flags & F.NON_SHARED_SYNCHRONOUS_WRITES && !copiesStorage(flags))
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason:
        "flag 'VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES' requires 'VIR_MIGRATE_NON_SHARED_DISK' or 'VIR_MIGRATE_NON_SHARED_INC'",
    });
  if (!copiesStorage(flags)) {
    if (listed)
      throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
        reason:
          "use of 'VIR_MIGRATE_PARAM_MIGRATE_DISKS' requires use of 'VIR_MIGRATE_NON_SHARED_DISK' or 'VIR_MIGRATE_NON_SHARED_INC' flag",
      });
    return;
  }
  if (flags & F.OFFLINE)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: "offline migration cannot handle non-shared storage",
    });
  if ((flags & F.NON_SHARED_DISK) !== 0 && (flags & F.NON_SHARED_INC) !== 0)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive",
    });
  for (const t of listed ?? []) {
    if (!def.devices.disks.some((d) => d.target.dev === t))
      throw new VirtError("QEMU_MIGRATION_INVALID", { reason: `disk target ${t} not found` });
  }
}

/**
 * The disks a storage migration copies (libvirt's qemuMigrationAnyCopyDisk): the listed targets,
 * else every disk with a local writable image that is not shared between hosts anyway.
 */
export function disksToCopy(def: DomainDef, params: readonly TypedParameter[]): DiskDef[] {
  const listed = migrateDisksParam(params);
  return def.devices.disks.filter((d) => {
    if (isEmptyDisk(d) || isReadonly(d) || d.device === "floppy") return false;
    if (localDiskPath(d) === undefined || d.type === "dir") return false;
    if (listed) return listed.includes(d.target.dev);
    return d.shareable !== true;
  });
}

interface BlockInfo {
  qdev?: unknown;
  inserted?: { "node-name"?: unknown; image?: { "virtual-size"?: unknown; format?: unknown } };
}

function qdevMatches(qdev: unknown, alias: string): boolean {
  if (typeof qdev !== "string") return false;
  return qdev === alias || qdev.endsWith(`/${alias}`) || qdev.includes(`/${alias}/`);
}

/** The top block node (and its image facts) behind the device of `disk`. */
async function diskBlock(
  qmp: QmpClient,
  disk: DiskDef,
): Promise<{ node: string; capacity: number; format: string }> {
  const alias = disk.alias ?? "";
  const blocks = (await qmp.execute("query-block")) as BlockInfo[];
  const ins = blocks.find((b) => qdevMatches(b.qdev, alias))?.inserted;
  const node = ins?.["node-name"];
  if (typeof node !== "string")
    throw new VirtError("QEMU_MIGRATION_FAILED", {
      phase: "storage",
      reason: `disk '${disk.target.dev}' has no block node in QEMU`,
    });
  const size = ins?.image?.["virtual-size"];
  const fmt = ins?.image?.format;
  return {
    node,
    capacity: typeof size === "number" ? size : 0,
    format: disk.driver?.type ?? (typeof fmt === "string" ? fmt : "raw"),
  };
}

/** Begin (source): the disks the destination must provide, with format and size. */
export async function storageBeginCookie(
  obj: QemuDomainObj,
  params: readonly TypedParameter[],
  flags: number,
): Promise<{ nbd?: NbdCookie }> {
  if (!copiesStorage(flags)) return {};
  const qmp = obj.run?.qmp;
  if (!qmp) return {};
  const disks: StorageDisk[] = [];
  for (const d of disksToCopy(obj.def, params)) {
    const b = await diskBlock(qmp, d);
    disks.push({ target: d.target.dev, capacity: b.capacity, format: b.format });
  }
  return { nbd: { disks } };
}

// ---------------------------------------------------------------------------------------------
// destination: precreated images, the NBD server
// ---------------------------------------------------------------------------------------------

/** What prepare set up here for an incoming storage migration (undone when it fails). */
export interface IncomingStorage {
  /** Images created by prepare (removed when the migration does not complete). */
  readonly created: string[];
  /** The NBD server's port, when it came from the migration port range (released at the end). */
  port?: number;
  /** The port the NBD server listens on (told to the source in the cookie). */
  nbdPort?: number;
  readonly ports: PortAllocator;
}

/**
 * Prepare (destination), before QEMU starts: creates every copied disk's image that does not
 * exist here, in the source's format and virtual size. The directory must exist (nothing is
 * created around the image); a missing block device cannot be made up.
 */
export async function precreateStorage(
  def: DomainDef,
  nbd: NbdCookie | undefined,
  params: readonly TypedParameter[],
  created: string[],
): Promise<void> {
  for (const disk of disksToCopy(def, params)) {
    const path = localDiskPath(disk);
    if (path === undefined || existsSync(path)) continue;
    const dev = disk.target.dev;
    if (disk.type === "block")
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "prepare",
        reason: `block device '${path}' of disk '${dev}' does not exist on this host and cannot be created`,
      });
    const dir = dirname(path);
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true)
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "prepare",
        reason: `cannot create image '${path}' of disk '${dev}': directory '${dir}' does not exist on this host`,
      });
    const info = nbd?.disks?.find((d) => d.target === dev);
    if (!info || !(info.capacity > 0))
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "prepare",
        reason: `the source did not tell the size of disk '${dev}' to create '${path}'`,
      });
    const format = disk.driver?.type ?? info.format;
    const r = await runArgv(["qemu-img", "create", "-q", "-f", format, path, String(info.capacity)]);
    if (r.code !== 0)
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "prepare",
        reason: `qemu-img could not create '${path}' for disk '${dev}': ${r.stderr.trim() || `exit ${String(r.code)}`}`,
      });
    created.push(path);
  }
}

/** Removes the images prepare created (the migration did not complete). */
export async function removePrecreated(created: readonly string[]): Promise<void> {
  for (const p of created) await unlink(p).catch(() => undefined);
}

/** The export name of a disk on the destination's NBD server (libvirt: the drive alias). */
const exportName = (disk: DiskDef): string => `drive-${disk.alias ?? disk.target.dev}`;

/**
 * Prepare (destination), QEMU started with `-incoming defer`: the NBD server on `listen:port`
 * and a writable export of every copied disk (QEMU activates the inactive image for it).
 */
export async function startNbdServer(
  qmp: QmpClient,
  def: DomainDef,
  params: readonly TypedParameter[],
  listen: string,
  port: number,
): Promise<void> {
  await qmp.execute("nbd-server-start", {
    addr: { type: "inet", data: { host: listen, port: String(port) } },
  });
  for (const disk of disksToCopy(def, params)) {
    const { node } = await diskBlock(qmp, disk);
    await qmp.execute("block-export-add", {
      type: "nbd",
      id: exportName(disk),
      "node-name": node,
      name: exportName(disk),
      writable: true,
    });
  }
}

/** Finish (destination): the copy is done, the exports and the server go. */
export async function stopNbdServer(qmp: QmpClient): Promise<void> {
  await qmp.execute("nbd-server-stop").catch(() => undefined);
}

/**
 * `disks_uri` (`--disks-uri tcp://HOST:PORT`): where the destination's NBD server listens and
 * the source connects (it overrides the migration address and `disks_port`).
 */
export function disksUriParam(params: readonly TypedParameter[]): { host: string; port: number } | undefined {
  let uri: string | undefined;
  for (const p of params) if (p.field === MigrateParam.DISKS_URI && p.value.type === 7) uri = p.value.value;
  if (uri === undefined) return undefined;
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/[\]]+):(\d+)\/?$/.exec(uri);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: `disks URI '${uri}' is not supported: use tcp://HOST:PORT`,
    });
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/** The port for the NBD server: `disks_port`, else one of the migration range. */
export function disksPortParam(params: readonly TypedParameter[]): number | undefined {
  for (let i = params.length - 1; i >= 0; i--) {
    const p = params[i]!;
    if (p.field !== MigrateParam.DISKS_PORT) continue;
    const v = Number(p.value.value);
    if (!Number.isInteger(v) || v < 0 || v > 65535)
      throw new VirtError("QEMU_MIGRATION_INVALID", {
        reason: `invalid disks port ${String(p.value.value)}`,
      });
    return v === 0 ? undefined : v;
  }
  return undefined;
}

/** `bandwidth` (MiB/s) of the migration, if limited. */
function bandwidthParam(params: readonly TypedParameter[]): number | undefined {
  for (let i = params.length - 1; i >= 0; i--) {
    const p = params[i]!;
    if (p.field === MigrateParam.BANDWIDTH && typeof p.value.value !== "string") return Number(p.value.value);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// source: the mirrors
// ---------------------------------------------------------------------------------------------

interface BlockJobInfo {
  device?: string;
  len?: number;
  offset?: number;
  ready?: boolean;
  status?: string;
  error?: string;
}

/** The block mirrors of one outgoing storage migration. */
export class StorageMirror {
  readonly #qmp: QmpClient;
  readonly #jobs: { id: string; node: string; target: string }[] = [];
  /** Errors QEMU reported for a job (BLOCK_JOB_COMPLETED with `error`, BLOCK_JOB_ERROR). */
  readonly #errors = new Map<string, string>();
  readonly #unsubscribe: () => void;

  private constructor(qmp: QmpClient) {
    this.#qmp = qmp;
    this.#unsubscribe = qmp.onEvent((ev) => {
      const data = ev.data as { device?: string; error?: string; operation?: string };
      if (typeof data.device !== "string") return;
      if (ev.event === "BLOCK_JOB_COMPLETED" && typeof data.error === "string")
        this.#errors.set(data.device, data.error);
      else if (ev.event === "BLOCK_JOB_ERROR")
        this.#errors.set(data.device, `I/O error on ${data.operation ?? "the copy"}`);
    });
  }

  /**
   * Starts a mirror of every copied disk of `obj` into the destination's NBD server at
   * `host:port`. Throws (after undoing what it started) when QEMU refuses one.
   */
  static async start(
    qmp: QmpClient,
    obj: QemuDomainObj,
    params: readonly TypedParameter[],
    flags: number,
    host: string,
    port: number,
  ): Promise<StorageMirror> {
    const m = new StorageMirror(qmp);
    // libvirt limits the mirrors to the migration's bandwidth too (MiB/s → bytes/s)
    const bw = bandwidthParam(params);
    const speed = bw !== undefined && bw > 0 ? bw * 1024 * 1024 : undefined;
    try {
      for (const disk of disksToCopy(obj.def, params)) {
        const { node } = await diskBlock(qmp, disk);
        const target = `migration-${disk.target.dev}-storage`;
        await qmp.execute("blockdev-add", {
          driver: "nbd",
          "node-name": target,
          server: { type: "inet", host, port: String(port) },
          export: exportName(disk),
          "read-only": false,
          "auto-read-only": false,
          discard: "unmap",
        });
        const id = exportName(disk);
        m.#jobs.push({ id, node, target });
        await qmp.execute("blockdev-mirror", {
          "job-id": id,
          device: node,
          target,
          sync: flags & F.NON_SHARED_INC ? "top" : "full",
          ...(speed !== undefined ? { speed } : {}),
          "auto-finalize": true,
          "auto-dismiss": false,
          ...(flags & F.NON_SHARED_SYNCHRONOUS_WRITES ? { "copy-mode": "write-blocking" } : {}),
        });
      }
    } catch (e) {
      await m.cancel(true);
      throw new VirtError(
        "QEMU_MIGRATION_FAILED",
        { phase: "storage", reason: e instanceof Error ? e.message : String(e) },
        {},
        { cause: e },
      );
    }
    return m;
  }

  get count(): number {
    return this.#jobs.length;
  }

  async #query(): Promise<Map<string, BlockJobInfo>> {
    const list = (await this.#qmp.execute("query-block-jobs")) as BlockJobInfo[];
    return new Map(list.filter((j) => typeof j.device === "string").map((j) => [j.device!, j]));
  }

  /** What went wrong with a mirror, as QEMU's events said (checked while memory migrates). */
  get failure(): string | undefined {
    for (const j of this.#jobs) {
      const err = this.#errors.get(j.id);
      if (err !== undefined) return `the copy of '${j.node}' failed: ${err}`;
    }
    return undefined;
  }

  /**
   * Waits until every mirror is READY (source and destination in sync, new writes mirrored).
   * `job` is the migration's stream job: its disk statistics follow the copy, and an abort
   * (`domjobabort`) ends the wait.
   */
  async waitReady(job: StreamJob, alive: () => boolean): Promise<void> {
    let delay = 20;
    for (;;) {
      if (job.aborted)
        throw new VirtError("QEMU_MIGRATION_FAILED", {
          phase: "storage",
          reason: "the storage copy was cancelled",
        });
      if (!alive())
        throw new VirtError("QEMU_MIGRATION_FAILED", { phase: "storage", reason: "QEMU is gone" });
      const jobs = await this.#query();
      let ready = true;
      for (const j of this.#jobs) {
        const info = jobs.get(j.id);
        const err = this.#errors.get(j.id) ?? info?.error;
        if (err !== undefined || !info || info.status === "concluded" || info.status === "null")
          throw new VirtError("QEMU_MIGRATION_FAILED", {
            phase: "storage",
            reason: `the copy of '${j.node}' failed: ${err ?? `its job is ${info?.status ?? "gone"}`}`,
          });
        if (info.ready !== true) ready = false;
      }
      await this.refresh(job, jobs);
      if (ready) return;
      await new Promise<void>((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 100);
    }
  }

  /** Puts the mirrors' progress into `job`'s statistics. */
  async refresh(job: StreamJob, known?: Map<string, BlockJobInfo>): Promise<void> {
    const jobs = known ?? (await this.#query());
    let total = 0;
    let done = 0;
    for (const j of this.#jobs) {
      total += jobs.get(j.id)?.len ?? 0;
      done += jobs.get(j.id)?.offset ?? 0;
    }
    job.disk = { total, transferred: done, remaining: Math.max(0, total - done) };
  }

  /**
   * Ends every mirror. `abort` false (the memory migration completed, the source is paused): a
   * READY mirror writes what is left and ends with the destination in sync; true: the copy
   * stops at once (the destination's image is discarded with its QEMU).
   */
  async cancel(abort: boolean): Promise<void> {
    let failure: string | undefined;
    for (const j of this.#jobs) {
      await this.#qmp
        .execute("block-job-cancel", { device: j.id, ...(abort ? { force: true } : {}) })
        .catch(() => undefined);
    }
    const until = Date.now() + (abort ? 30_000 : 120_000);
    for (;;) {
      const jobs = await this.#query().catch(() => new Map<string, BlockJobInfo>());
      const pending = this.#jobs.filter((j) => {
        const s = jobs.get(j.id)?.status;
        return s !== undefined && s !== "concluded" && s !== "null";
      });
      if (pending.length === 0 || Date.now() > until) {
        for (const j of this.#jobs) {
          const info = jobs.get(j.id);
          const err = info?.error ?? this.#errors.get(j.id);
          if (!abort && (err !== undefined || pending.includes(j)))
            failure ??= `the copy of '${j.node}' did not complete: ${err ?? "timed out"}`;
          await this.#qmp.execute("job-dismiss", { id: j.id }).catch(() => undefined);
        }
        break;
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
    }
    for (const j of this.#jobs)
      await this.#qmp.execute("blockdev-del", { "node-name": j.target }).catch(() => undefined);
    this.#unsubscribe();
    if (failure !== undefined)
      throw new VirtError("QEMU_MIGRATION_FAILED", { phase: "storage", reason: failure });
  }
}
