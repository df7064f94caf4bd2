/**
 * Migration recovery (issue 15, point 5): what a restarted tvirtd does with a migration the
 * earlier instance left half done, and `--postcopy-resume` of a post-copy migration whose stream
 * broke (libvirt's qemuProcessRecoverMigration{Out,In} and qemuMigration*Resume).
 *
 * After a restart the phase recorded in the status file (migration-job.ts) and QEMU's
 * `query-migrate` decide, so that the guest ends on exactly one host:
 * - source, `perform3` / `confirm3_cancelled` (finish never ran, or failed): the migration is
 *   cancelled and the guest resumed here; the destination kills its incoming QEMU (its prepare
 *   connection closed, or its own recovery finds phase `prepare`);
 * - source, `perform3_done` (QEMU completed; finish may have run): a p2p source asks the
 *   destination (the recorded peer URI) whether the guest runs there: yes → stop here; no → resume
 *   here; no answer → kept paused, as libvirt leaves it for a third party to decide;
 * - source, `confirm3`: the destination owns the guest: the source QEMU stops (migrated);
 * - destination, `prepare`: the incoming QEMU is killed; `finish3`: kept when its guest runs,
 *   killed when it never started;
 * - either side in post-copy: still `postcopy-active` → left to finish unattended (the source
 *   stops when QEMU completes); `postcopy-paused` → paused (post-copy failed), kept for a resume.
 *
 * `--postcopy-resume` (VIR_MIGRATE_POSTCOPY_RESUME) runs the five phases again on the two kept
 * QEMUs: the destination listens with `migrate-recover` on a new port, the source sends the rest
 * with `migrate resume=true`, finish waits for the end on the destination and confirm stops the
 * source.
 */
import { formatDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { HypervisorDriver, TypedParameter } from "../../driver.ts";
import {
  DomainEventDefinedDetail,
  DomainEventResumedDetail,
  DomainEventStoppedDetail,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  MigrateFlags,
  MigrateParam,
} from "../../enums.ts";
import { openMigrationPeer } from "../../migration-peer.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { appendLog } from "./log.ts";
import {
  activeRun,
  checkMigrateFlags,
  decodeCookie,
  encodeCookie,
  hostPart,
  migrationPorts,
  numParam,
  parseTcpUri,
  qmpOf,
  type QueryMigrate,
  strParam,
  UNLIMITED_BANDWIDTH,
  undefineSource,
} from "./migration.ts";
import {
  clearMigrationJob,
  enterPostcopyFailed,
  isPostcopyStatus,
  migrationJobOf,
  postcopyRunningAgain,
  recordMigrationPhase,
} from "./migration-job.ts";
import { stopProcess } from "./process.ts";

const F = MigrateFlags;
/** The process ended or was replaced meanwhile (a function: TypeScript's narrowing ignores awaits). */
function gone(obj: QemuDomainObj, run: QemuRun): boolean {
  return obj.run !== run || run.ended;
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function queryMigrate(qmp: QmpClient): Promise<QueryMigrate> {
  return (await qmp.execute("query-migrate").catch(() => ({}))) as QueryMigrate;
}

async function note(drv: QemuDriver, obj: QemuDomainObj, text: string): Promise<void> {
  await appendLog(drv.logPath(obj.name), `${new Date().toISOString()}: ${text}\n`).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// after a daemon restart
// ---------------------------------------------------------------------------------------------

/** Finishes or rolls back the migration job recorded in `obj`'s status file (after reconnect). */
export async function recoverMigrationJob(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  const job = migrationJobOf(obj);
  const run = obj.run;
  if (!job || !run || run.ended || !run.qmp) return;
  const lock = await obj.job.acquire("modify", "qemuProcessRecoverMigration");
  try {
    const info = await queryMigrate(run.qmp);
    await note(
      drv,
      obj,
      `recovering ${job.side} job after a restart: phase '${job.phase}', QEMU migration '${info.status ?? "none"}'`,
    );
    if (job.side === "migration out") await recoverOut(drv, obj, run, run.qmp, job, info);
    else await recoverIn(drv, obj, run, run.qmp, job, info);
  } finally {
    lock.release();
  }
}

type Job = NonNullable<ReturnType<typeof migrationJobOf>>;

async function recoverOut(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  qmp: QmpClient,
  job: Job,
  info: QueryMigrate,
): Promise<void> {
  if (info.status === "postcopy-active") {
    // the destination runs the guest and fetches pages from here: let it finish unattended
    if (obj.state !== DomainState.PAUSED || obj.reason !== DomainPausedReason.POSTCOPY)
      obj.setState(DomainState.PAUSED, DomainPausedReason.POSTCOPY);
    void watchPostcopy(drv, obj, run, qmp, job);
    return;
  }
  if (isPostcopyStatus(info.status) || job.phase === "postcopy_failed") {
    await enterPostcopyFailed(drv, obj, "migration out", job.flags);
    return;
  }
  switch (job.phase) {
    case "perform3":
    case "perform_resume":
    case "confirm3_cancelled":
      // finish never ran (or failed): the guest goes on here
      await cancelAndResume(drv, obj, run, qmp, job);
      return;
    case "perform3_done": {
      const owner = await destinationRuns(obj, job.peer);
      if (owner === true) await stopMigratedSource(drv, obj, run, job.flags);
      else if (owner === false) await cancelAndResume(drv, obj, run, qmp, job);
      else {
        drv.warn(
          `migration of domain '${obj.name}' finished but it is not known whether the destination started it: the domain stays paused`,
        );
        await clearMigrationJob(drv, obj);
      }
      return;
    }
    case "confirm3":
      await stopMigratedSource(drv, obj, run, job.flags);
      return;
    default:
      // begin3: nothing happened yet
      await clearMigrationJob(drv, obj);
  }
}

async function recoverIn(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  qmp: QmpClient,
  job: Job,
  info: QueryMigrate,
): Promise<void> {
  if (info.status === "postcopy-active") {
    void watchPostcopy(drv, obj, run, qmp, job);
    return;
  }
  if (isPostcopyStatus(info.status)) {
    await enterPostcopyFailed(drv, obj, "migration in", job.flags);
    return;
  }
  const st = (await qmp.execute("query-status").catch(() => undefined)) as { running?: boolean } | undefined;
  if (job.phase !== "prepare" && job.phase !== "prepare_resume" && st?.running === true) {
    // finish resumed the guest here: it is ours
    obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATED);
    await clearMigrationJob(drv, obj);
    return;
  }
  // the migration never completed here (or finish never started the guest): the source keeps it
  await note(drv, obj, `killing the incoming QEMU of migration phase '${job.phase}'`);
  run.stopping ??= { reason: DomainShutoffReason.FAILED, detail: DomainEventStoppedDetail.FAILED };
  await stopProcess(drv, obj, run, DomainShutoffReason.FAILED, "migration failed");
  drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.FAILED);
}

async function cancelAndResume(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  qmp: QmpClient,
  job: Job,
): Promise<void> {
  await qmp.execute("migrate_cancel").catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    const st = (await queryMigrate(qmp)).status;
    if (st !== "cancelling" && st !== "active" && st !== "device" && st !== "pre-switchover") break;
    await sleep(50);
  }
  const st = (await qmp.execute("query-status").catch(() => undefined)) as { running?: boolean } | undefined;
  const pausedByMigration =
    obj.state === DomainState.PAUSED &&
    (obj.reason === DomainPausedReason.MIGRATION || obj.reason === DomainPausedReason.UNKNOWN);
  if (st?.running !== true && (pausedByMigration || job.wasRunning)) {
    run.runningReason = DomainRunningReason.MIGRATION_CANCELED;
    await qmp.execute("cont").catch((e: unknown) => {
      drv.warn(
        `cannot resume domain '${obj.name}' after its migration: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
    const after = (await qmp.execute("query-status").catch(() => undefined)) as
      { running?: boolean } | undefined;
    if (after?.running === true && obj.state !== DomainState.RUNNING) {
      obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATION_CANCELED);
      drv.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.MIGRATED);
    }
  } else if (st?.running === true && obj.state !== DomainState.RUNNING) {
    obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATION_CANCELED);
  }
  await note(drv, obj, "the interrupted outgoing migration was cancelled: the guest stays here");
  await clearMigrationJob(drv, obj);
}

/** Whether the destination runs the guest: true/false, or undefined when it cannot be asked. */
async function destinationRuns(
  obj: QemuDomainObj,
  peerUri: string | undefined,
): Promise<boolean | undefined> {
  if (peerUri === undefined) return undefined;
  let peer: HypervisorDriver;
  try {
    peer = await openMigrationPeer(peerUri);
  } catch {
    return undefined;
  }
  try {
    if (!peer.domainLookupByUUID || !peer.domainGetState) return undefined;
    let ref;
    try {
      ref = await peer.domainLookupByUUID(obj.uuid);
    } catch (e) {
      return e instanceof VirtError && e.code === "DOMAIN_NOT_FOUND" ? false : undefined;
    }
    const s = await peer.domainGetState(ref, 0);
    if (s.state === DomainState.RUNNING) return true;
    if (s.state === DomainState.PAUSED) return s.reason === DomainPausedReason.MIGRATION ? undefined : true;
    return false;
  } catch {
    return undefined;
  } finally {
    await peer.connectClose().catch(() => undefined);
  }
}

async function stopMigratedSource(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  flags: number,
): Promise<void> {
  await note(drv, obj, "the destination owns the migrated guest: stopping the source QEMU");
  run.stopping ??= { reason: DomainShutoffReason.MIGRATED, detail: DomainEventStoppedDetail.MIGRATED };
  await stopProcess(drv, obj, run, DomainShutoffReason.MIGRATED, "migrated");
  drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.MIGRATED);
  if (flags & F.UNDEFINE_SOURCE && obj.persistent) await undefineSource(drv, obj);
}

/** A post-copy migration nobody drives any more: ends as QEMU ends it. */
async function watchPostcopy(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  qmp: QmpClient,
  job: Job,
): Promise<void> {
  for (;;) {
    if (gone(obj, run)) return;
    const st = (await queryMigrate(qmp)).status;
    if (st === "postcopy-active" || st === "postcopy-recover") {
      await sleep(200);
      continue;
    }
    const lock = await obj.job.acquire("modify", "qemuMigrationPostcopyUnattended");
    try {
      if (gone(obj, run)) return;
      if (st === "completed") {
        if (job.side === "migration out") await stopMigratedSource(drv, obj, run, job.flags);
        else {
          obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATED);
          await clearMigrationJob(drv, obj);
        }
      } else await enterPostcopyFailed(drv, obj, job.side, job.flags);
    } finally {
      lock.release();
    }
    return;
  }
}

// ---------------------------------------------------------------------------------------------
// --postcopy-resume
// ---------------------------------------------------------------------------------------------

/** libvirt's qemuMigrationAnyCanResume: a migration job of this side whose post-copy failed. */
function checkResumable(obj: QemuDomainObj, side: "migration out" | "migration in"): QemuRun {
  const run = activeRun(obj);
  const job = migrationJobOf(obj);
  if (job?.side !== side)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason:
        side === "migration in"
          ? `domain '${obj.name}' is not processing incoming migration`
          : `domain '${obj.name}' is not being migrated`,
    });
  const postcopy =
    obj.state === DomainState.PAUSED &&
    (obj.reason === DomainPausedReason.POSTCOPY || obj.reason === DomainPausedReason.POSTCOPY_FAILED);
  if (!postcopy && !(obj.state === DomainState.RUNNING && obj.reason === DomainRunningReason.POSTCOPY))
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: `migration of domain ${obj.name} is not in post-copy phase`,
    });
  if (obj.reason !== DomainPausedReason.POSTCOPY_FAILED || obj.state !== DomainState.PAUSED)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: `post-copy migration of domain ${obj.name} has not failed`,
    });
  if (job.phase !== "postcopy_failed")
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: `resuming failed post-copy migration of domain ${obj.name} already in progress`,
    });
  return run;
}

/** Begin with VIR_MIGRATE_POSTCOPY_RESUME (source). */
export async function resumeBegin(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
): Promise<{ cookieOut: Uint8Array; xml: string }> {
  checkMigrateFlags(flags, "qemuDomainMigrateBegin3Params");
  const job = await obj.job.acquire("query", "virDomainMigrateBegin3Params");
  try {
    const run = checkResumable(obj, "migration out");
    if ((await queryMigrate(qmpOf(obj, run))).status !== "postcopy-paused")
      throw new VirtError("QEMU_MIGRATION_INVALID", { reason: "QEMU reports migration is still running" });
    return {
      xml: formatDomainXML(obj.def, { secure: true }),
      cookieOut: encodeCookie({ hostname: drv.hostname(), name: obj.name, uuid: obj.uuid }),
    };
  } finally {
    job.release();
  }
}

/** Ports the destination listens on for a resumed post-copy, by domain UUID (prepare → finish). */
const resumePorts = new WeakMap<QemuDriver, Map<string, number>>();
function resumePortsOf(drv: QemuDriver): Map<string, number> {
  let m = resumePorts.get(drv);
  if (!m) {
    m = new Map();
    resumePorts.set(drv, m);
  }
  return m;
}

async function incomingDomain(
  drv: QemuDriver,
  params: readonly TypedParameter[],
  cookieIn: Uint8Array,
): Promise<QemuDomainObj> {
  const cookie = decodeCookie(cookieIn);
  let uuid = cookie.uuid;
  const xml = strParam(params, MigrateParam.DEST_XML);
  if (uuid === undefined && xml !== undefined) uuid = (await drv.parseDomain(xml)).uuid;
  const obj =
    (uuid !== undefined ? drv.domains.byUuid(uuid) : undefined) ??
    (cookie.name !== undefined ? drv.domains.byName(cookie.name) : undefined);
  if (!obj)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: `no domain '${cookie.name ?? uuid ?? "?"}' here with a failed post-copy migration to resume`,
    });
  return obj;
}

/** Prepare with VIR_MIGRATE_POSTCOPY_RESUME (destination): `migrate-recover` on a new port. */
export async function resumePrepare(
  drv: QemuDriver,
  params: TypedParameter[],
  cookieIn: Uint8Array,
  flags: number,
): Promise<{ cookieOut: Uint8Array; uriOut: string | null }> {
  checkMigrateFlags(flags, "qemuDomainMigratePrepare3Params");
  const obj = await incomingDomain(drv, params, cookieIn);
  const job = await obj.job.acquire("modify", "virDomainMigratePrepare3Params");
  try {
    const run = checkResumable(obj, "migration in");
    const qmp = qmpOf(obj, run);
    const uriParam = strParam(params, MigrateParam.URI);
    const given = uriParam !== undefined ? parseTcpUri(uriParam) : undefined;
    const listen = (strParam(params, MigrateParam.LISTEN_ADDRESS) ?? "0.0.0.0").replace(/^\[|\]$/g, "");
    const any = listen === "0.0.0.0" || listen === "::";
    let port = given?.port;
    let allocated: number | undefined;
    if (port === undefined) {
      allocated = await migrationPorts(drv).acquire(any ? "0.0.0.0" : listen);
      port = allocated;
    }
    try {
      await recordMigrationPhase(drv, obj, "migration in", "prepare_resume", flags);
      await qmp.execute("migrate-recover", { uri: `tcp:${hostPart(listen)}:${port}` });
    } catch (e) {
      if (allocated !== undefined) migrationPorts(drv).release(allocated);
      await recordMigrationPhase(drv, obj, "migration in", "postcopy_failed", flags).catch(() => undefined);
      throw new VirtError(
        "QEMU_MIGRATION_FAILED",
        { phase: "prepare", reason: e instanceof Error ? e.message : String(e) },
        {},
        { cause: e },
      );
    }
    if (allocated !== undefined) resumePortsOf(drv).set(obj.uuid, allocated);
    await note(drv, obj, `post-copy recovery: listening on port ${port}`);
    const announce = given?.host ?? (any ? drv.hostname() : listen);
    return {
      cookieOut: encodeCookie({ hostname: drv.hostname() }),
      uriOut: `tcp:${hostPart(announce)}:${port}`,
    };
  } finally {
    job.release();
  }
}

/** The source sends the rest of the post-copy migration to `uri` (`migrate resume=true`). */
async function resumePerformInternal(
  drv: QemuDriver,
  obj: QemuDomainObj,
  uri: string,
  params: readonly TypedParameter[],
  flags: number,
): Promise<void> {
  const run = checkResumable(obj, "migration out");
  const qmp = qmpOf(obj, run);
  const target = parseTcpUri(uri);
  if (target.port === undefined)
    throw new VirtError("QEMU_MIGRATION_INVALID", { reason: `migration URI '${uri}' has no port` });
  const bw = numParam(params, MigrateParam.BANDWIDTH);
  const bwPost = numParam(params, MigrateParam.BANDWIDTH_POSTCOPY);
  // capabilities cannot change while QEMU's migration exists; parameters can
  await qmp
    .execute("migrate-set-parameters", {
      "max-bandwidth": bw !== undefined && bw > 0 ? bw * 1024 * 1024 : UNLIMITED_BANDWIDTH,
      "max-postcopy-bandwidth": bwPost !== undefined && bwPost > 0 ? bwPost * 1024 * 1024 : 0,
    })
    .catch(() => undefined);
  await recordMigrationPhase(drv, obj, "migration out", "perform_resume", flags);
  await qmp.execute("migrate", { uri: `tcp:${hostPart(target.host)}:${target.port}`, resume: true });
  await note(drv, obj, `post-copy recovery: resuming the migration to ${uri}`);
  const deadline = Date.now() + 60_000;
  let left = false;
  for (;;) {
    if (obj.run !== run || run.ended)
      throw new VirtError("QEMU_GUEST_QUIT", { name: obj.name, operation: "migration" });
    const info = await queryMigrate(qmp);
    const st = info.status ?? "none";
    if (st === "postcopy-active" || st === "completed") break;
    if (st === "postcopy-recover") left = true;
    if ((st === "postcopy-paused" && (left || Date.now() > deadline)) || st === "failed" || st === "none")
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "perform",
        reason: info["error-desc"] ?? `post-copy recovery ended in QEMU state '${st}'`,
      });
    await sleep(50);
  }
  postcopyRunningAgain(drv, obj, "migration out");
  await recordMigrationPhase(drv, obj, "migration out", "perform3_done", flags);
}

/** Perform with VIR_MIGRATE_POSTCOPY_RESUME (source), peer to peer or for the client. */
export async function resumePerform(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dconnuri: string | null,
  params: TypedParameter[],
  flags: number,
): Promise<{ cookieOut: Uint8Array }> {
  checkMigrateFlags(flags, "qemuDomainMigratePerform3Params");
  const job = await obj.job.acquire("async", "virDomainMigratePerform3Params");
  try {
    if (!(flags & F.PEER2PEER)) {
      const uri = strParam(params, MigrateParam.URI);
      if (uri === undefined)
        throw new VirtError("QEMU_MIGRATION_INVALID", { reason: "no migration URI given to perform" });
      await resumePerformInternal(drv, obj, uri, params, flags);
      return { cookieOut: encodeCookie({ postcopy: true }) };
    }
    if (dconnuri === null || dconnuri === "")
      throw new VirtError("QEMU_MIGRATION_INVALID", {
        reason: "peer-to-peer migration needs a destination URI",
      });
    checkResumable(obj, "migration out");
    const peer = await openMigrationPeer(dconnuri);
    try {
      if (!peer.domainMigratePrepare3Params || !peer.domainMigrateFinish3Params)
        throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
          reason: `the destination '${dconnuri}' does not support migration with parameters`,
        });
      const cookie = encodeCookie({ hostname: drv.hostname(), name: obj.name, uuid: obj.uuid });
      const dparams: TypedParameter[] = [
        ...params.filter((p) => p.field !== MigrateParam.DEST_XML),
        {
          field: MigrateParam.DEST_XML,
          value: { type: 7, value: formatDomainXML(obj.def, { secure: true }) },
        },
      ];
      const prep = await peer.domainMigratePrepare3Params(dparams, cookie, flags);
      let failure: unknown;
      try {
        const uri = prep.uriOut ?? strParam(params, MigrateParam.URI);
        if (uri === undefined)
          throw new VirtError("QEMU_MIGRATION_FAILED", {
            phase: "prepare",
            reason: "the destination gave no URI",
          });
        await resumePerformInternal(drv, obj, uri, params, flags);
      } catch (e) {
        failure = e;
      }
      let finished = false;
      try {
        await peer.domainMigrateFinish3Params(dparams, cookie, flags, failure !== undefined);
        finished = failure === undefined;
      } catch (e) {
        failure ??= e;
      }
      await resumeConfirmInternal(drv, obj, flags, !finished);
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error("migration failed");
      return { cookieOut: new Uint8Array() };
    } finally {
      await peer.connectClose().catch(() => undefined);
    }
  } finally {
    job.release();
  }
}

/** Finish with VIR_MIGRATE_POSTCOPY_RESUME (destination): waits for the end of post-copy. */
export async function resumeFinish(
  drv: QemuDriver,
  params: TypedParameter[],
  cookieIn: Uint8Array,
  flags: number,
  cancelled: boolean,
): Promise<QemuDomainObj> {
  const obj = await incomingDomain(drv, params, cookieIn);
  const cookie = decodeCookie(cookieIn);
  const ports = resumePortsOf(drv);
  const port = ports.get(obj.uuid);
  ports.delete(obj.uuid);
  const job = await obj.job.acquire("modify", "virDomainMigrateFinish3Params");
  try {
    const run = activeRun(obj);
    const qmp = qmpOf(obj, run);
    if (cancelled) {
      await enterPostcopyFailed(drv, obj, "migration in", flags);
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "finish",
        reason: "the source could not resume the post-copy migration",
      });
    }
    await recordMigrationPhase(drv, obj, "migration in", "finish_resume", flags);
    const deadline = Date.now() + 10 * 60_000;
    let left = false;
    for (;;) {
      const info = await queryMigrate(qmp);
      const st = info.status ?? "none";
      if (st === "postcopy-active") {
        left = true;
        postcopyRunningAgain(drv, obj, "migration in");
      }
      if (st === "postcopy-recover") left = true;
      if (st === "completed") break;
      if ((st === "postcopy-paused" && left) || st === "failed" || Date.now() > deadline) {
        await enterPostcopyFailed(drv, obj, "migration in", flags);
        throw new VirtError("QEMU_MIGRATION_FAILED", {
          phase: "finish",
          reason: info["error-desc"] ?? `post-copy recovery ended in QEMU state '${st}'`,
        });
      }
      await sleep(50);
    }
    const st = (await qmp.execute("query-status").catch(() => undefined)) as
      { running?: boolean } | undefined;
    if (st?.running !== true) {
      run.runningReason = DomainRunningReason.MIGRATED;
      await qmp.execute("cont");
    }
    if (obj.state !== DomainState.RUNNING) {
      obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATED);
      drv.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.MIGRATED);
    } else obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATED);
    if (flags & F.PERSIST_DEST && cookie.persistent !== undefined) {
      obj.newDef = await drv.parseDomain(cookie.persistent);
      const was = obj.persistent;
      obj.persistent = true;
      await drv.saveConfig(obj);
      drv.lifecycle(
        obj,
        DomainEventType.DEFINED,
        was ? DomainEventDefinedDetail.UPDATED : DomainEventDefinedDetail.ADDED,
      );
    }
    await note(drv, obj, "post-copy recovery completed: the guest runs here");
    await clearMigrationJob(drv, obj);
    return obj;
  } finally {
    if (port !== undefined) migrationPorts(drv).release(port);
    job.release();
  }
}

/** Confirm with VIR_MIGRATE_POSTCOPY_RESUME (source), under migration.ts `migrateConfirm`'s job. */
export async function resumeConfirmInternal(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
  cancelled: boolean,
): Promise<void> {
  const run = obj.run;
  if (!run || run.ended || !run.qmp) return;
  const qmp = run.qmp;
  if (cancelled) {
    const st = (await queryMigrate(qmp)).status;
    if (st !== "completed") {
      await enterPostcopyFailed(drv, obj, "migration out", flags);
      return;
    }
  }
  await recordMigrationPhase(drv, obj, "migration out", "confirm3", flags);
  for (;;) {
    if (gone(obj, run)) return;
    const st = (await queryMigrate(qmp)).status;
    if (st === "completed") break;
    if (st !== "postcopy-active" && st !== "postcopy-recover") {
      await enterPostcopyFailed(drv, obj, "migration out", flags);
      return;
    }
    await sleep(50);
  }
  await stopMigratedSource(drv, obj, run, flags);
}
