/**
 * Shared types and libvirt's numbers (re-exported from the driver layer), and the names of
 * states, reasons and events: virsh's words (`shut off`, `booted`, `Stopped Destroyed`) for text
 * output and stable identifiers (`shutoff`, `booted`, `stopped`/`destroyed`) for JSON.
 */
import { DomainState, DomainEventType, domainStateIds } from "../drivers/enums.ts";

export * from "../drivers/driver.ts";
export * from "../drivers/enums.ts";
export * from "../drivers/version.ts";
export * from "../drivers/list-filter.ts";

/** virsh's words for `virDomainState`, by number. */
export const stateWords = [
  "no state",
  "running",
  "idle",
  "paused",
  "in shutdown",
  "shut off",
  "crashed",
  "pmsuspended",
] as const;

/** Identifiers for `virDomainState` (libvirt's enum names, lowercase), by number. */
export const stateIds = domainStateIds;

/** virsh's words for each state's reasons (`virshDomain*ReasonTypeToString`), by state. */
export const reasonWords: readonly (readonly string[])[] = [
  ["unknown"],
  [
    "unknown",
    "booted",
    "migrated",
    "restored",
    "from snapshot",
    "unpaused",
    "migration canceled",
    "save canceled",
    "event wakeup",
    "crashed",
    "post-copy",
    "post-copy failed",
  ],
  ["unknown"],
  [
    "unknown",
    "user",
    "migrating",
    "saving",
    "dumping",
    "I/O error",
    "watchdog",
    "from snapshot",
    "shutting down",
    "creating snapshot",
    "crashed",
    "starting up",
    "post-copy",
    "post-copy failed",
  ],
  ["unknown", "user"],
  ["unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot", "daemon"],
  ["unknown", "panicked"],
  ["unknown"],
];

export function stateWord(state: number): string {
  return stateWords[state] ?? "no state";
}

export function stateId(state: number): string {
  return stateIds[state] ?? "nostate";
}

export function reasonWord(state: number, reason: number): string {
  return reasonWords[state]?.[reason] ?? "unknown";
}

/** A stable identifier for a reason: virsh's word with spaces and slashes as dashes. */
export function reasonId(state: number, reason: number): string {
  return reasonWord(state, reason).toLowerCase().replace(/[ /]+/g, "-");
}

/** virsh's words for `virDomainEventType` (event output), by number. */
export const eventWords = [
  "Defined",
  "Undefined",
  "Started",
  "Suspended",
  "Resumed",
  "Stopped",
  "Shutdown",
  "PMSuspended",
  "Crashed",
] as const;

/** virsh's words for event details, by event type. */
export const eventDetailWords: readonly (readonly string[])[] = [
  ["Added", "Updated", "Renamed", "Snapshot"],
  ["Removed", "Renamed"],
  ["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"],
  [
    "Paused",
    "Migrated",
    "I/O Error",
    "Watchdog",
    "Restored",
    "Snapshot",
    "API error",
    "Post-copy",
    "Post-copy Error",
  ],
  ["Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"],
  ["Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"],
  ["Finished", "Finished after guest request", "Finished after host request"],
  ["Memory", "Disk"],
  ["Panicked", "Crashloaded"],
];

export function eventWord(event: number): string {
  return eventWords[event] ?? "unknown";
}

export function eventDetailWord(event: number, detail: number): string {
  return eventDetailWords[event]?.[detail] ?? "unknown";
}

/** Identifiers for JSON: `{ event: "stopped", detail: "destroyed" }`. */
export function eventId(event: number): string {
  return eventWord(event).toLowerCase();
}

export function eventDetailId(event: number, detail: number): string {
  return eventDetailWord(event, detail).toLowerCase().replace(/[ /]+/g, "-");
}

/** True for the states in which a domain counts as running (libvirt: id != -1). */
export function isActiveState(state: number): boolean {
  return state !== DomainState.SHUTOFF;
}

export const LifecycleEvents = DomainEventType;
