/**
 * Which host PCI devices are assigned to which running domain, per sysfs root (libvirt's
 * `activePCIHostdevs` list of the hostdev manager). One process-wide table: a device given to
 * one domain cannot be given to another, re-attached or reset until that domain lets it go.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { Sysfs } from "../sysfs/sysfs.ts";

const active = new Map<string, string>();
const key = (sysfs: Sysfs, addr: string): string => `${sysfs.root}\0${addr}`;

/** The domain holding a device, if any. */
export function activeOwner(sysfs: Sysfs, addr: string): string | undefined {
  return active.get(key(sysfs, addr));
}

/** Refuses a device some domain other than `except` holds (`HOSTDEV_IN_USE`). */
export function checkNotActive(sysfs: Sysfs, addr: string, except?: string): void {
  const owner = activeOwner(sysfs, addr);
  if (owner !== undefined && owner !== except) throw new VirtError("HOSTDEV_IN_USE", { addr, domain: owner });
}

export function markActive(sysfs: Sysfs, addr: string, domain: string): void {
  active.set(key(sysfs, addr), domain);
}

/** Forgets a device, if `domain` holds it. */
export function markInactive(sysfs: Sysfs, addr: string, domain: string): void {
  if (active.get(key(sysfs, addr)) === domain) active.delete(key(sysfs, addr));
}
