/**
 * libvirt's `virConnectListAllDomains` filter, shared by the drivers that list domains (test,
 * QEMU) so both select exactly what libvirt would.
 */
import { ConnectListDomainsFilters, ConnectListDomainsFlags, DomainState } from "./enums.ts";

/** What `connectListAllDomains` filters look at, for one domain. */
export interface ListFacts {
  readonly active: boolean;
  readonly persistent: boolean;
  readonly state: number;
  readonly autostart: boolean;
  /** Asked only when the managed-save filter is given (it may touch the disk). */
  readonly hasManagedSave: () => boolean;
  /** Asked only when the snapshot filter is given; absent: the driver keeps none. */
  readonly hasSnapshots?: () => boolean;
}

/**
 * libvirt's `virConnectListAllDomains` filter semantics: each group of flags (active, persistent,
 * state, managed save, autostart, snapshot, checkpoint) restricts only when one of its flags is
 * given. No checkpoints exist yet, so every domain has none.
 */
export function matchesListFlags(flags: number, d: ListFacts): boolean {
  const L = ConnectListDomainsFlags;
  const F = ConnectListDomainsFilters;
  const has = (f: number): boolean => (flags & f) !== 0;
  const either = (group: number, yes: number, no: number, value: boolean): boolean =>
    !has(group) || (has(yes) && value) || (has(no) && !value);
  if (!either(F.ACTIVE, L.ACTIVE, L.INACTIVE, d.active)) return false;
  if (!either(F.PERSISTENT, L.PERSISTENT, L.TRANSIENT, d.persistent)) return false;
  if (has(F.STATE)) {
    const st = d.state;
    const other = st !== DomainState.RUNNING && st !== DomainState.PAUSED && st !== DomainState.SHUTOFF;
    const ok =
      (has(L.RUNNING) && st === DomainState.RUNNING) ||
      (has(L.PAUSED) && st === DomainState.PAUSED) ||
      (has(L.SHUTOFF) && st === DomainState.SHUTOFF) ||
      (has(L.OTHER) && other);
    if (!ok) return false;
  }
  if (has(F.MANAGEDSAVE) && !either(F.MANAGEDSAVE, L.MANAGEDSAVE, L.NO_MANAGEDSAVE, d.hasManagedSave()))
    return false;
  if (!either(F.AUTOSTART, L.AUTOSTART, L.NO_AUTOSTART, d.autostart)) return false;
  if (has(F.SNAPSHOT) && !either(F.SNAPSHOT, L.HAS_SNAPSHOT, L.NO_SNAPSHOT, d.hasSnapshots?.() ?? false))
    return false;
  if (has(F.CHECKPOINT) && !has(L.NO_CHECKPOINT)) return false;
  return true;
}
