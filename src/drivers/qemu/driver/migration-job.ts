/**
 * The migration job as the status file keeps it (libvirt's `<job async='migration out'
 * phase='perform3' flags='0x...'>`): every phase that changes who owns the guest is written
 * (atomically, awaited) before the step it names runs, so a restarted tvirtd knows how far the
 * migration got (migration-recovery.ts decides from it). Also the post-copy failure states both
 * sides take when the stream breaks in post-copy (libvirt's qemuMigration{Src,Dst}PostcopyFailed).
 *
 * Phases are libvirt's names: source `begin3`, `perform3`, `perform3_done`,
 * `confirm3_cancelled`, `confirm3`; destination `prepare`, `finish3`; both `postcopy_failed`,
 * and for `--postcopy-resume` `prepare_resume`, `perform_resume`, `finish_resume`.
 */
import {
  DomainEventResumedDetail,
  DomainEventSuspendedDetail,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainState,
} from "../../enums.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { appendLog } from "./log.ts";

export type MigrationSide = "migration out" | "migration in";

/** Writes the migration job's phase to the status file (awaited: the next step relies on it). */
export async function recordMigrationPhase(
  drv: QemuDriver,
  obj: QemuDomainObj,
  side: MigrationSide,
  phase: string,
  flags: number,
  extra: { wasRunning?: boolean; peer?: string } = {},
): Promise<void> {
  const run = obj.run;
  if (!run || run.ended) return;
  const prev = run.asyncJob?.kind === side ? run.asyncJob : undefined;
  const peer = extra.peer ?? prev?.peer;
  run.asyncJob = {
    kind: side,
    phase,
    flags,
    wasRunning: extra.wasRunning ?? prev?.wasRunning ?? false,
    ...(peer !== undefined ? { peer } : {}),
  };
  await drv.saveStatus(obj);
}

/** The migration job ended (either way): the status file forgets it. */
export async function clearMigrationJob(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  const run = obj.run;
  if (!run || run.ended || !run.asyncJob?.kind.startsWith("migration")) return;
  run.asyncJob = undefined;
  await drv.saveStatus(obj).catch(() => undefined);
}

/** The recorded migration job of a running domain, if any. */
export function migrationJobOf(
  obj: QemuDomainObj,
): { side: MigrationSide; phase: string; flags: number; wasRunning: boolean; peer?: string } | undefined {
  const j = obj.run?.asyncJob;
  if (!j || (j.kind !== "migration out" && j.kind !== "migration in")) return undefined;
  return {
    side: j.kind,
    phase: j.phase ?? "none",
    flags: j.flags ?? 0,
    wasRunning: j.wasRunning,
    ...(j.peer !== undefined ? { peer: j.peer } : {}),
  };
}

/** QEMU's migration states after the switch to post-copy. */
export function isPostcopyStatus(status: string | undefined): boolean {
  return status === "postcopy-active" || status === "postcopy-paused" || status === "postcopy-recover";
}

/**
 * Post-copy broke (QEMU `postcopy-paused`): neither side can go on alone, so both are kept,
 * paused with reason post-copy failed, until `--postcopy-resume` or the user decides. On the
 * destination the vCPUs still "run" in QEMU (blocked on missing pages); libvirt reports the
 * domain paused all the same, and so does tvirt.
 */
export async function enterPostcopyFailed(
  drv: QemuDriver,
  obj: QemuDomainObj,
  side: MigrationSide,
  flags: number,
): Promise<void> {
  if (!obj.run || obj.run.ended) return;
  if (obj.state !== DomainState.PAUSED || obj.reason !== DomainPausedReason.POSTCOPY_FAILED) {
    obj.setState(DomainState.PAUSED, DomainPausedReason.POSTCOPY_FAILED);
    drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.POSTCOPY_FAILED);
    await appendLog(
      drv.logPath(obj.name),
      `${new Date().toISOString()}: ${side === "migration out" ? "outgoing" : "incoming"} post-copy migration failed: domain kept paused (post-copy failed)\n`,
    );
  }
  await recordMigrationPhase(drv, obj, side, "postcopy_failed", flags);
}

/** Post-copy runs again after a resume: the source is paused (post-copy), the destination runs. */
export function postcopyRunningAgain(drv: QemuDriver, obj: QemuDomainObj, side: MigrationSide): void {
  if (obj.state !== DomainState.PAUSED || obj.reason !== DomainPausedReason.POSTCOPY_FAILED) return;
  if (side === "migration out") {
    obj.setState(DomainState.PAUSED, DomainPausedReason.POSTCOPY);
    drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.POSTCOPY);
  } else {
    obj.setState(DomainState.RUNNING, DomainRunningReason.POSTCOPY);
    drv.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.POSTCOPY);
  }
}
