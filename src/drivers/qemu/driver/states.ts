/**
 * libvirt's names of domain states and reasons (`virDomainStateTypeToString`, the
 * `virDomain*ReasonTypeToString` tables), used in status XML, and the mapping of pause/resume
 * reasons to lifecycle event details (`qemuDomainPausedReasonToSuspendedEvent`,
 * `qemuDomainRunningReasonToResumeEvent`).
 */
import {
  DomainEventResumedDetail,
  DomainEventSuspendedDetail,
  DomainPausedReason,
  DomainRunningReason,
  DomainState,
  domainStateIds,
} from "../../enums.ts";

export const STATE_NAMES = domainStateIds;

const REASON_NAMES: Readonly<Record<number, readonly string[]>> = {
  [DomainState.NOSTATE]: ["unknown"],
  [DomainState.RUNNING]: [
    "unknown",
    "booted",
    "migrated",
    "restored",
    "from snapshot",
    "unpaused",
    "migration canceled",
    "save canceled",
    "wakeup",
    "crashed",
    "post-copy",
    "post-copy failed",
  ],
  [DomainState.BLOCKED]: ["unknown"],
  [DomainState.PAUSED]: [
    "unknown",
    "user",
    "migration",
    "save",
    "dump",
    "ioerror",
    "watchdog",
    "from snapshot",
    "shutdown",
    "snapshot",
    "panicked",
    "starting up",
    "post-copy",
    "post-copy failed",
  ],
  [DomainState.SHUTDOWN]: ["unknown", "user"],
  [DomainState.SHUTOFF]: [
    "unknown",
    "shutdown",
    "destroyed",
    "crashed",
    "migrated",
    "saved",
    "failed",
    "from snapshot",
    "daemon",
  ],
  [DomainState.CRASHED]: ["unknown", "panicked"],
  [DomainState.PMSUSPENDED]: ["unknown"],
};

export function stateName(state: DomainState): string {
  return STATE_NAMES[state];
}

export function reasonName(state: DomainState, reason: number): string {
  return REASON_NAMES[state]?.[reason] ?? "unknown";
}

export function parseState(name: string | undefined): DomainState | undefined {
  const i = (STATE_NAMES as readonly string[]).indexOf(name ?? "");
  return i < 0 ? undefined : (i as DomainState);
}

export function parseReason(state: DomainState, name: string | undefined): number {
  const i = REASON_NAMES[state]?.indexOf(name ?? "") ?? -1;
  return i < 0 ? 0 : i;
}

export function suspendedDetail(reason: number): number {
  switch (reason) {
    case DomainPausedReason.MIGRATION:
      return DomainEventSuspendedDetail.MIGRATED;
    case DomainPausedReason.FROM_SNAPSHOT:
      return DomainEventSuspendedDetail.FROM_SNAPSHOT;
    case DomainPausedReason.POSTCOPY:
      return DomainEventSuspendedDetail.POSTCOPY;
    case DomainPausedReason.POSTCOPY_FAILED:
      return DomainEventSuspendedDetail.POSTCOPY_FAILED;
    default:
      return DomainEventSuspendedDetail.PAUSED;
  }
}

export function resumedDetail(reason: number): number {
  switch (reason) {
    case DomainRunningReason.RESTORED:
    case DomainRunningReason.FROM_SNAPSHOT:
      return DomainEventResumedDetail.FROM_SNAPSHOT;
    case DomainRunningReason.MIGRATED:
    case DomainRunningReason.MIGRATION_CANCELED:
      return DomainEventResumedDetail.MIGRATED;
    case DomainRunningReason.POSTCOPY:
      return DomainEventResumedDetail.POSTCOPY;
    case DomainRunningReason.POSTCOPY_FAILED:
      return DomainEventResumedDetail.POSTCOPY_FAILED;
    default:
      return DomainEventResumedDetail.UNPAUSED;
  }
}
