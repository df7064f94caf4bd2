/**
 * Job statistics and control for the jobs that run QEMU's migration stream (libvirt's
 * `qemu_domainjob.c`, `qemuDomainGetJobStats`, `qemuDomainAbortJob`, `qemuDomainMigrateSet*`):
 * save/managedsave today, outgoing and incoming migration once `migration*.ts` uses them.
 *
 * A job that streams (`beginStreamJob`) is what `domjobinfo` reports while it runs: the numbers
 * come from QMP `query-migrate` at the time of the query, so a query never blocks the job (it
 * takes a `query` job of the lock, which runs beside the async job). When the job ends
 * (`endStreamJob`) its last statistics are kept as the completed job (`--completed`) and, for a
 * successful job, sent as a JOB_COMPLETED event. Abort is QMP `migrate_cancel`: QEMU stops the
 * stream, the job's owner sees the migration cancelled and rolls back (the guest keeps running).
 *
 * Migration tuning (max downtime, speed, compression cache) goes to QEMU's migration parameters
 * of the running process; the speed of an inactive domain is remembered for its next run as
 * libvirt does (`priv->migMaxBandwidth`).
 */
import { VirtError, checkFlags } from "../../../util/errors/index.ts";
import type { DomainJobInfo, TypedParameter } from "../../driver.ts";
import {
  DomainAbortJobFlags,
  DomainEventId,
  DomainGetJobStatsFlags,
  DomainJobOperation,
  DomainJobType,
  DomainMigrateMaxSpeedFlags,
  TypedParameterType,
} from "../../enums.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";

/** libvirt's QEMU_DOMAIN_MIG_BANDWIDTH_MAX: the largest MiB/s whose bytes/s fit an int64. */
export const MIG_BANDWIDTH_MAX = 8796093022207n;
/**
 * The speed (MiB/s) a migration runs at when nobody set one: QEMU's own default `max-bandwidth`
 * (7.2's MAX_THROTTLE), which tvirt keeps on purpose (see DEFAULT_BANDWIDTH in migration.ts).
 * migrate-getspeed reports it, not libvirt's "unlimited", because it is what QEMU will use.
 */
export const MIG_BANDWIDTH_DEFAULT = 128n;
const MiB = 1024n * 1024n;

/** What a streaming job is, for messages and the `operation` statistic. */
export type StreamJobKind = "save" | "dump" | "migration out" | "migration in";

const operationOf: Record<StreamJobKind, number> = {
  save: DomainJobOperation.SAVE,
  dump: DomainJobOperation.DUMP,
  "migration out": DomainJobOperation.MIGRATION_OUT,
  "migration in": DomainJobOperation.MIGRATION_IN,
};

/** libvirt's qemuMigrationJobName: how an aborted job is named in its error. */
const jobNameOf: Record<StreamJobKind, string> = {
  save: "domain save",
  dump: "domain core dump",
  "migration out": "migration out",
  "migration in": "migration in",
};

/** A running job that uses the migration stream. */
export interface StreamJob {
  readonly kind: StreamJobKind;
  readonly run: QemuRun;
  readonly startedAt: number;
  /** `domjobabort` was asked: the owner reports the end as cancelled by the client. */
  aborted: boolean;
  /** The migration switched to post-copy (set by the migration code). */
  postcopy: boolean;
  /** The last `query-migrate` answer seen (kept for the statistics once QEMU forgets it). */
  last: QueryMigrate | undefined;
  /** Progress of the disks copied beside the stream (storage migration's block mirrors). */
  disk?: { total: number; transferred: number; remaining: number };
  /** Brings `disk` up to date (called by job queries while the job runs). */
  refreshDisk?: () => Promise<void>;
}

/** The kept statistics of the last finished job. */
export interface CompletedJob {
  readonly type: DomainJobType;
  readonly params: TypedParameter[];
}

interface DomainJobs {
  active: StreamJob | undefined;
  completed: CompletedJob | undefined;
  /** MiB/s for the next migration (virDomainMigrateSetMaxSpeed); undefined: QEMU's default. */
  maxBandwidth: bigint | undefined;
}

const jobs = new WeakMap<QemuDomainObj, DomainJobs>();

function jobsOf(obj: QemuDomainObj): DomainJobs {
  let j = jobs.get(obj);
  if (!j) {
    j = { active: undefined, completed: undefined, maxBandwidth: undefined };
    jobs.set(obj, j);
  }
  return j;
}

/** The streaming job running on `obj`, if any (for the migration code). */
export function activeStreamJob(obj: QemuDomainObj): StreamJob | undefined {
  const j = jobs.get(obj)?.active;
  return j && !j.run.ended && obj.run === j.run ? j : undefined;
}

/** The speed limit (MiB/s) set for a new outgoing migration; undefined: QEMU's default. */
export function migrationMaxBandwidth(obj: QemuDomainObj): bigint | undefined {
  return jobsOf(obj).maxBandwidth;
}

/** Marks the start of a job that streams through QEMU's migration (the caller holds the async job). */
export function beginStreamJob(obj: QemuDomainObj, run: QemuRun, kind: StreamJobKind): StreamJob {
  const job: StreamJob = {
    kind,
    run,
    startedAt: Date.now(),
    aborted: false,
    postcopy: false,
    last: undefined,
  };
  jobsOf(obj).active = job;
  return job;
}

/**
 * Ends `job`: keeps its statistics as the completed job (from `final`, QEMU's last
 * `query-migrate`, or the last answer seen) and emits JOB_COMPLETED for a successful job.
 * Returns the error to report for a job the client aborted (libvirt's "canceled by client").
 */
export function endStreamJob(
  drv: QemuDriver,
  obj: QemuDomainObj,
  job: StreamJob,
  outcome: "completed" | "failed",
  final?: QueryMigrate,
  errmsg?: string,
): VirtError | undefined {
  const j = jobsOf(obj);
  if (j.active === job) j.active = undefined;
  const info = withDisk(final ?? job.last ?? {}, job);
  const type =
    outcome === "completed"
      ? DomainJobType.COMPLETED
      : job.aborted
        ? DomainJobType.CANCELLED
        : DomainJobType.FAILED;
  const params = jobStatsParams(info, {
    operation: operationOf[job.kind],
    elapsedMs: Date.now() - job.startedAt,
    completed: outcome === "completed",
    ...(outcome === "failed" && errmsg !== undefined ? { errmsg } : {}),
  });
  j.completed = { type, params };
  if (outcome === "completed") drv.events.emit(obj.ref(), { id: DomainEventId.JOB_COMPLETED, params });
  if (outcome === "failed" && job.aborted)
    return new VirtError("JOB_CANCELED_BY_CLIENT", { job: jobNameOf[job.kind] });
  return undefined;
}

/** `info` with the copied disks' progress of `job` (QEMU's `query-migrate` knows only RAM). */
function withDisk(info: QueryMigrate, job: StreamJob): QueryMigrate {
  return job.disk ? { ...info, disk: job.disk } : info;
}

/** The last finished job's statistics (for the migration cookie the source sends on). */
export function completedJob(obj: QemuDomainObj): CompletedJob | undefined {
  return jobs.get(obj)?.completed;
}

/**
 * The destination keeps the source's statistics of a completed migration as its own completed
 * job (libvirt sends them in the finish cookie): its QEMU does not measure downtime or memory.
 */
export function adoptCompletedJob(obj: QemuDomainObj, job: CompletedJob): void {
  const op = {
    field: "operation",
    value: { type: TypedParameterType.INT, value: DomainJobOperation.MIGRATION_IN },
  };
  jobsOf(obj).completed = {
    type: job.type,
    params: [op, ...job.params.filter((p) => p.field !== "operation")],
  };
}

// ---------------------------------------------------------------------------------------------
// query-migrate → job statistics
// ---------------------------------------------------------------------------------------------

/** The parts of QMP `MigrationInfo` tvirt reads. */
export interface QueryMigrate {
  status?: string;
  "total-time"?: number;
  "expected-downtime"?: number;
  downtime?: number;
  "setup-time"?: number;
  ram?: {
    transferred?: number;
    remaining?: number;
    total?: number;
    duplicate?: number;
    normal?: number;
    "normal-bytes"?: number;
    "dirty-pages-rate"?: number;
    mbps?: number;
    "dirty-sync-count"?: number;
    "postcopy-requests"?: number;
    "page-size"?: number;
  };
  disk?: { transferred?: number; remaining?: number; total?: number };
  "xbzrle-cache"?: {
    "cache-size"?: number;
    bytes?: number;
    pages?: number;
    "cache-miss"?: number;
    overflow?: number;
  };
  "cpu-throttle-percentage"?: number;
  "error-desc"?: string;
}

const ull = (field: string, v: number | bigint): TypedParameter => ({
  field,
  value: { type: TypedParameterType.ULLONG, value: BigInt(Math.max(0, Math.trunc(Number(v)))) },
});
const int = (field: string, v: number): TypedParameter => ({
  field,
  value: { type: TypedParameterType.INT, value: Math.trunc(v) },
});

/**
 * libvirt's qemuDomainMigrationJobDataToParams: the typed parameters of a job from QEMU's
 * `query-migrate`, in libvirt's order and with its names (`VIR_DOMAIN_JOB_*`). Pure.
 */
export function jobStatsParams(
  info: QueryMigrate,
  opts: { operation: number; elapsedMs: number; completed: boolean; errmsg?: string },
): TypedParameter[] {
  const p: TypedParameter[] = [int("operation", opts.operation), ull("time_elapsed", opts.elapsedMs)];
  const downtime = opts.completed ? info.downtime : info["expected-downtime"];
  if (downtime !== undefined) p.push(ull("downtime", downtime));
  if (info["setup-time"] !== undefined) p.push(ull("setup_time", info["setup-time"]));
  const ram = info.ram ?? {};
  const disk = info.disk ?? {};
  const sum = (a?: number, b?: number): number => (a ?? 0) + (b ?? 0);
  p.push(
    ull("data_total", sum(ram.total, disk.total)),
    ull("data_processed", sum(ram.transferred, disk.transferred)),
    ull("data_remaining", sum(ram.remaining, disk.remaining)),
    ull("memory_total", ram.total ?? 0),
    ull("memory_processed", ram.transferred ?? 0),
    ull("memory_remaining", ram.remaining ?? 0),
  );
  if (ram.duplicate !== undefined) p.push(ull("memory_constant", ram.duplicate));
  if (ram.normal !== undefined) p.push(ull("memory_normal", ram.normal));
  if (ram["normal-bytes"] !== undefined) p.push(ull("memory_normal_bytes", ram["normal-bytes"]));
  // QEMU reports megabits per second; libvirt gives bytes per second
  if (ram.mbps !== undefined) p.push(ull("memory_bps", (ram.mbps * 1_000_000) / 8));
  if (ram["dirty-pages-rate"] !== undefined) p.push(ull("memory_dirty_rate", ram["dirty-pages-rate"]));
  if (ram["page-size"] !== undefined) p.push(ull("memory_page_size", ram["page-size"]));
  if (ram["dirty-sync-count"] !== undefined) p.push(ull("memory_iteration", ram["dirty-sync-count"]));
  if (ram["postcopy-requests"] !== undefined)
    p.push(ull("memory_postcopy_requests", ram["postcopy-requests"]));
  if (info.disk) {
    p.push(
      ull("disk_total", disk.total ?? 0),
      ull("disk_processed", disk.transferred ?? 0),
      ull("disk_remaining", disk.remaining ?? 0),
    );
  }
  const x = info["xbzrle-cache"];
  if (x) {
    if (x["cache-size"] !== undefined) p.push(ull("compression_cache", x["cache-size"]));
    if (x.bytes !== undefined) p.push(ull("compression_bytes", x.bytes));
    if (x.pages !== undefined) p.push(ull("compression_pages", x.pages));
    if (x["cache-miss"] !== undefined) p.push(ull("compression_cache_misses", x["cache-miss"]));
    if (x.overflow !== undefined) p.push(ull("compression_overflow", x.overflow));
  }
  if (info["cpu-throttle-percentage"] !== undefined)
    p.push(int("auto_converge_throttle", info["cpu-throttle-percentage"]));
  if (opts.errmsg !== undefined)
    p.push({ field: "errmsg", value: { type: TypedParameterType.STRING, value: opts.errmsg } });
  return p;
}

/** `virDomainJobInfo` from the typed statistics (virsh's fallback reads the same numbers). */
export function jobInfoOf(type: DomainJobType, params: readonly TypedParameter[]): DomainJobInfo {
  const get = (f: string): bigint => {
    const v = params.find((x) => x.field === f)?.value;
    return v && typeof v.value === "bigint" ? v.value : 0n;
  };
  return {
    type,
    timeElapsed: get("time_elapsed"),
    timeRemaining: get("time_remaining"),
    dataTotal: get("data_total"),
    dataProcessed: get("data_processed"),
    dataRemaining: get("data_remaining"),
    memTotal: get("memory_total"),
    memProcessed: get("memory_processed"),
    memRemaining: get("memory_remaining"),
    fileTotal: get("disk_total"),
    fileProcessed: get("disk_processed"),
    fileRemaining: get("disk_remaining"),
  };
}

// ---------------------------------------------------------------------------------------------
// the driver calls
// ---------------------------------------------------------------------------------------------

function runningQmp(obj: QemuDomainObj): { run: QemuRun; qmp: QmpClient } {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended || !run.qmp)
    throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return { run, qmp: run.qmp };
}

async function query<T>(obj: QemuDomainObj, api: string, fn: () => Promise<T>): Promise<T> {
  const job = await obj.job.acquire("query", api);
  try {
    return await fn();
  } finally {
    job.release();
  }
}

/** virDomainGetJobStats. */
export async function getJobStats(
  obj: QemuDomainObj,
  flags: number,
): Promise<{ type: DomainJobType; params: TypedParameter[] }> {
  const F = DomainGetJobStatsFlags;
  checkFlags(flags, F.COMPLETED | F.KEEP_COMPLETED, "qemuDomainGetJobStats");
  if (flags & F.KEEP_COMPLETED && !(flags & F.COMPLETED))
    throw new VirtError("API_INVALID_ARG", {
      what: "Flags 'VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED' requires 'VIR_DOMAIN_JOB_STATS_COMPLETED'",
    });
  const j = jobsOf(obj);
  if (flags & F.COMPLETED) {
    const done = j.completed;
    if (!(flags & F.KEEP_COMPLETED)) j.completed = undefined;
    return done ? { type: done.type, params: [...done.params] } : { type: DomainJobType.NONE, params: [] };
  }
  return query(obj, "virDomainGetJobStats", async () => {
    const { qmp } = runningQmp(obj);
    const job = activeStreamJob(obj);
    if (!job) return { type: DomainJobType.NONE, params: [] };
    const info = (await qmp.execute("query-migrate")) as QueryMigrate;
    if (info.status !== undefined && info.status !== "none") job.last = info;
    await job.refreshDisk?.().catch(() => undefined);
    const params = jobStatsParams(withDisk(job.last ?? {}, job), {
      operation: operationOf[job.kind],
      elapsedMs: Date.now() - job.startedAt,
      completed: false,
    });
    return { type: DomainJobType.UNBOUNDED, params };
  });
}

/** virDomainGetJobInfo. */
export async function getJobInfo(obj: QemuDomainObj): Promise<DomainJobInfo> {
  const { type, params } = await getJobStats(obj, 0);
  return jobInfoOf(type, params);
}

/** virDomainAbortJob(Flags): QMP migrate_cancel; the job's owner rolls back. */
export async function abortJob(obj: QemuDomainObj, flags: number): Promise<void> {
  checkFlags(flags, DomainAbortJobFlags.POSTCOPY, "qemuDomainAbortJobFlags");
  // libvirt's VIR_JOB_ABORT runs beside the async job it aborts: a query job here
  await query(obj, "virDomainAbortJob", async () => {
    const { qmp } = runningQmp(obj);
    const job = activeStreamJob(obj);
    if (!job) throw new VirtError("JOB_NONE_ACTIVE");
    if (job.kind === "migration in") throw new VirtError("JOB_ABORT_INCOMING");
    if (flags & DomainAbortJobFlags.POSTCOPY) {
      if (job.kind !== "migration out" || !job.postcopy) throw new VirtError("JOB_ABORT_NOT_POSTCOPY");
      job.aborted = true;
      await qmp.execute("migrate-pause");
      return;
    }
    if (job.postcopy) throw new VirtError("JOB_ABORT_POSTCOPY");
    job.aborted = true;
    await qmp.execute("migrate_cancel");
  });
}

interface MigrationParameters {
  "downtime-limit"?: number;
  "max-bandwidth"?: number;
  "max-postcopy-bandwidth"?: number;
  "xbzrle-cache-size"?: number;
}

async function migrationParameters(qmp: QmpClient): Promise<MigrationParameters> {
  return (await qmp.execute("query-migrate-parameters")) as MigrationParameters;
}

/** virDomainMigrateSetMaxDowntime (ms). */
export async function setMaxDowntime(obj: QemuDomainObj, downtime: bigint, flags: number): Promise<void> {
  checkFlags(flags, 0, "qemuDomainMigrateSetMaxDowntime");
  await query(obj, "virDomainMigrateSetMaxDowntime", async () => {
    const { qmp } = runningQmp(obj);
    await qmp.execute("migrate-set-parameters", { "downtime-limit": Number(downtime) });
  });
}

/** virDomainMigrateGetMaxDowntime (ms). */
export async function getMaxDowntime(obj: QemuDomainObj, flags: number): Promise<bigint> {
  checkFlags(flags, 0, "qemuDomainMigrateGetMaxDowntime");
  return query(obj, "virDomainMigrateGetMaxDowntime", async () => {
    const { qmp } = runningQmp(obj);
    const p = await migrationParameters(qmp);
    if (p["downtime-limit"] === undefined)
      throw new VirtError("MIGRATE_PARAM_UNSUPPORTED", { what: "Querying migration downtime" });
    return BigInt(p["downtime-limit"]);
  });
}

/** virDomainMigrateSetMaxSpeed (MiB/s); an inactive domain keeps it for its next migration. */
export async function setMaxSpeed(obj: QemuDomainObj, bandwidth: bigint, flags: number): Promise<void> {
  const postcopy = (flags & DomainMigrateMaxSpeedFlags.POSTCOPY) !== 0;
  checkFlags(flags, DomainMigrateMaxSpeedFlags.POSTCOPY, "qemuDomainMigrateSetMaxSpeed");
  if (bandwidth > MIG_BANDWIDTH_MAX)
    throw new VirtError("MIGRATE_BANDWIDTH_TOO_BIG", { max: (MIG_BANDWIDTH_MAX + 1n).toString() });
  const j = jobsOf(obj);
  if (!obj.isActive() && !postcopy) {
    j.maxBandwidth = bandwidth;
    return;
  }
  await query(obj, "virDomainMigrateSetMaxSpeed", async () => {
    const { qmp } = runningQmp(obj);
    const bytes = Number(bandwidth * MiB);
    if (postcopy) await qmp.execute("migrate-set-parameters", { "max-postcopy-bandwidth": bytes });
    else {
      await qmp.execute("migrate-set-parameters", { "max-bandwidth": bytes });
      j.maxBandwidth = bandwidth;
    }
  });
}

/** virDomainMigrateGetMaxSpeed (MiB/s). */
export async function getMaxSpeed(obj: QemuDomainObj, flags: number): Promise<bigint> {
  checkFlags(flags, DomainMigrateMaxSpeedFlags.POSTCOPY, "qemuDomainMigrateGetMaxSpeed");
  if (!(flags & DomainMigrateMaxSpeedFlags.POSTCOPY))
    return jobsOf(obj).maxBandwidth ?? MIG_BANDWIDTH_DEFAULT;
  return query(obj, "virDomainMigrateGetMaxSpeed", async () => {
    const { qmp } = runningQmp(obj);
    const p = await migrationParameters(qmp);
    const bytes = p["max-postcopy-bandwidth"];
    if (bytes === undefined)
      throw new VirtError("MIGRATE_PARAM_UNSUPPORTED", { what: "Querying the post-copy bandwidth" });
    // 0 = unlimited in QEMU; libvirt rounds up to whole MiB/s
    return bytes === 0 ? 0n : (BigInt(bytes) + MiB - 1n) / MiB;
  });
}

/** virDomainMigrateSetCompressionCache (bytes; QEMU's XBZRLE cache). */
export async function setCompressionCache(obj: QemuDomainObj, size: bigint, flags: number): Promise<void> {
  checkFlags(flags, 0, "qemuDomainMigrateSetCompressionCache");
  await query(obj, "virDomainMigrateSetCompressionCache", async () => {
    const { qmp } = runningQmp(obj);
    await qmp.execute("migrate-set-parameters", { "xbzrle-cache-size": Number(size) });
  });
}

/** virDomainMigrateGetCompressionCache (bytes). */
export async function getCompressionCache(obj: QemuDomainObj, flags: number): Promise<bigint> {
  checkFlags(flags, 0, "qemuDomainMigrateGetCompressionCache");
  return query(obj, "virDomainMigrateGetCompressionCache", async () => {
    const { qmp } = runningQmp(obj);
    const p = await migrationParameters(qmp);
    if (p["xbzrle-cache-size"] === undefined)
      throw new VirtError("MIGRATE_PARAM_UNSUPPORTED", { what: "Querying the compression cache" });
    return BigInt(p["xbzrle-cache-size"]);
  });
}
