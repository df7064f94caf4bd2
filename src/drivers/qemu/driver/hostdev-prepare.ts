/**
 * Host devices of a QEMU domain, before QEMU gets them and after it lets go (libvirt's
 * `qemuHostdevPrepareDomainDevices` / `qemuHostdevReAttachDomainDevices`). Used by domain start
 * and stop (`process.ts`) and by device hotplug (attach/detach-device).
 *
 * Contract of the exported functions:
 *
 * - `prepareHostdevs(sysfsRoot, domainName, hostdevs)` takes the `<hostdev>` definitions
 *   (others than `mode='subsystem' type='pci'|'usb'` are ignored) and returns a
 *   `HostdevHandle`. PCI: every device is checked first (exists, has an IOMMU group, not used by
 *   the host, not held by another domain, the rest of its IOMMU group on vfio-pci or unbound or
 *   in the same call; managed='no' ones must already be on vfio-pci); only then are the
 *   managed='yes' ones bound to vfio-pci (`driver_override`, unbind, reprobe), in order. On any
 *   failure what was bound is given back and the error thrown: the host is as before. Each PCI
 *   device is then held by `domainName` until released. USB: each source that names only a
 *   vendor/product gets its `usbAddress` filled in (the definition object is changed, as libvirt
 *   fills the live XML); a device that is not found throws, unless its `startupPolicy` is
 *   `optional`, in which case it is listed in `handle.missingOptional` (the caller drops it).
 * - `handle.release()` gives the managed PCI devices this handle bound back to their host
 *   drivers (unbind vfio-pci, clear `driver_override`, reprobe) and lets go of every PCI device it
 *   holds. Idempotent; never throws (a device that cannot be given back is left as it is).
 * - `resolveUsbHostdev(sysfsRoot, source)` returns `{ bus, device }` (QEMU usb-host
 *   `hostbus`/`hostaddr`) for a source given by vendor/product and/or bus/device; not found or
 *   ambiguous throw a catalogued error. Reads only.
 * - `adoptHostdevs` (reconnect after a daemon restart) holds the PCI devices of a running
 *   domain again, without writing anything, and returns a handle whose `release()` gives back
 *   the managed ones that are on vfio-pci.
 *
 * The sysfs root is the driver option `sysfsRoot` (`/sys` on a real host; tests use a fake
 * tree). On this kind of host (no IOMMU, no USB bus) every call fails with a clear error before
 * anything is written.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { DomainDef, HostdevDef, HostdevSource } from "../../../conf/domain/types.ts";
import { checkNotActive, markActive, markInactive } from "../../../host/hostdev/active.ts";
import {
  checkIommuGroup,
  checkPciAssignable,
  checkStubDriver,
  detachPci,
  reattachPci,
  requirePciDevice,
  STUB_DRIVER,
  STUB_DRIVERS,
  type PciDeviceInfo,
} from "../../../host/hostdev/pci.ts";
import { findUsbDevice } from "../../../host/hostdev/usb.ts";
import { formatPciAddr, Sysfs } from "../../../host/sysfs/sysfs.ts";
import { VirtError } from "../../../util/errors/index.ts";

export interface HostdevHandle {
  /** PCI addresses held for the domain. */
  readonly pci: readonly string[];
  /** PCI addresses this handle bound to vfio-pci (given back by `release`). */
  readonly detached: readonly string[];
  /** USB hostdevs with startupPolicy='optional' whose device is absent. */
  readonly missingOptional: readonly HostdevDef[];
  release(): Promise<void>;
  /** Gives back one PCI device of this handle (a hot-unplug); the others stay held. */
  releaseAddr(addr: string): Promise<void>;
}

const sysfsCache = new Map<string, Sysfs>();
function sysfsOf(root: string): Sysfs {
  let s = sysfsCache.get(root);
  if (!s) {
    s = new Sysfs(root);
    sysfsCache.set(root, s);
  }
  return s;
}

const pciAddrOf = (h: HostdevDef): string | undefined =>
  h.mode === "subsystem" && h.type === "pci" && h.source.pciAddress
    ? formatPciAddr(h.source.pciAddress)
    : undefined;

/** QEMU's `hostbus`/`hostaddr` for a USB hostdev source. */
export function resolveUsbHostdev(sysfsRoot: string, source: HostdevSource): { bus: number; device: number } {
  const d = findUsbDevice(sysfsOf(sysfsRoot), {
    ...(source.vendor !== undefined ? { vendor: source.vendor, product: source.product ?? 0 } : {}),
    ...(source.usbAddress ? { bus: source.usbAddress.bus, device: source.usbAddress.device } : {}),
  });
  return { bus: d.bus, device: d.device };
}

function makeHandle(
  sysfs: Sysfs,
  domainName: string,
  heldAtFirst: PciDeviceInfo[],
  detached: Map<string, string | undefined>,
  missingOptional: HostdevDef[],
): HostdevHandle {
  const held = [...heldAtFirst];
  const giveBack = (info: PciDeviceInfo): void => {
    if (detached.has(info.addr)) {
      try {
        reattachPci(sysfs, info, detached.get(info.addr));
      } catch {
        // left on vfio-pci; nodedev-reattach can give it back later
      }
      detached.delete(info.addr);
    }
    markInactive(sysfs, info.addr, domainName);
  };
  return {
    pci: held.map((i) => i.addr),
    detached: [...detached.keys()],
    missingOptional,
    release() {
      for (const info of held.splice(0).reverse()) giveBack(info);
      return Promise.resolve();
    },
    releaseAddr(addr) {
      const i = held.findIndex((x) => x.addr === addr);
      if (i >= 0) giveBack(held.splice(i, 1)[0]!);
      return Promise.resolve();
    },
  };
}

/** See the contract at the top of the file. */
export function prepareHostdevs(
  sysfsRoot: string,
  domainName: string,
  hostdevs: readonly HostdevDef[],
): Promise<HostdevHandle> {
  try {
    return Promise.resolve(prepareSync(sysfsOf(sysfsRoot), domainName, hostdevs));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function prepareSync(sysfs: Sysfs, domainName: string, hostdevs: readonly HostdevDef[]): HostdevHandle {
  // USB first: reads only.
  const missingOptional: HostdevDef[] = [];
  for (const h of hostdevs) {
    if (h.mode !== "subsystem" || h.type !== "usb") continue;
    try {
      const found = resolveUsbHostdev(sysfs.root, h.source);
      h.source.usbAddress = found;
    } catch (e) {
      if (h.source.startupPolicy === "optional") missingOptional.push(h);
      else throw e;
    }
  }
  // PCI: every check before the first write.
  const pci = hostdevs.filter((h) => pciAddrOf(h) !== undefined);
  const all = new Set(pci.map((h) => pciAddrOf(h)!));
  const checked: { info: PciDeviceInfo; managed: boolean }[] = [];
  for (const h of pci) {
    const addr = pciAddrOf(h)!;
    checkNotActive(sysfs, addr);
    if (h.managed === true) {
      checked.push({ info: checkPciAssignable(sysfs, addr, all), managed: true });
    } else {
      const info = requirePciDevice(sysfs, addr);
      checkIommuGroup(sysfs, info);
      if (info.driver !== STUB_DRIVER)
        throw new VirtError("HOSTDEV_NOT_ON_VFIO", {
          addr,
          now: info.driver === undefined ? "bound to no driver" : `bound to '${info.driver}'`,
        });
      checkPciAssignable(sysfs, addr, all);
      checked.push({ info, managed: false });
    }
  }
  if (checked.some((c) => c.managed && c.info.driver !== STUB_DRIVER)) checkStubDriver(sysfs);
  const detached = new Map<string, string | undefined>();
  try {
    for (const c of checked) {
      if (!c.managed) continue;
      const r = detachPci(sysfs, c.info);
      if (r.changed) detached.set(c.info.addr, r.origDriver);
    }
  } catch (e) {
    for (const c of [...checked].reverse()) {
      if (!detached.has(c.info.addr)) continue;
      try {
        reattachPci(sysfs, c.info, detached.get(c.info.addr));
      } catch {
        // keep giving the others back
      }
    }
    throw e;
  }
  for (const c of checked) markActive(sysfs, c.info.addr, domainName);
  return makeHandle(
    sysfs,
    domainName,
    checked.map((c) => c.info),
    detached,
    missingOptional,
  );
}

/** See the contract at the top of the file. */
export function adoptHostdevs(
  sysfsRoot: string,
  domainName: string,
  hostdevs: readonly HostdevDef[],
): HostdevHandle {
  const sysfs = sysfsOf(sysfsRoot);
  const held: PciDeviceInfo[] = [];
  const detached = new Map<string, string | undefined>();
  for (const h of hostdevs) {
    const addr = pciAddrOf(h);
    if (addr === undefined) continue;
    const info = requirePciDeviceOrUndefined(sysfs, addr);
    if (!info) continue;
    held.push(info);
    markActive(sysfs, addr, domainName);
    if (h.managed === true && info.driver !== undefined && STUB_DRIVERS.includes(info.driver))
      detached.set(addr, undefined);
  }
  return makeHandle(sysfs, domainName, held, detached, []);
}

function requirePciDeviceOrUndefined(sysfs: Sysfs, addr: string): PciDeviceInfo | undefined {
  try {
    return requirePciDevice(sysfs, addr);
  } catch {
    return undefined;
  }
}

// --- the domain start/stop hooks (process.ts) ------------------------------------------------

/**
 * The host devices of a definition: its `<hostdev>`s and the PCI devices behind
 * `<interface type='hostdev'>` (libvirt treats those as hostdevs, `managed` from the interface).
 */
export function domainHostdevs(def: DomainDef): HostdevDef[] {
  const out = [...def.devices.hostdevs];
  for (const i of def.devices.interfaces) {
    const a = i.type === "hostdev" ? i.source?.hostAddress : undefined;
    if (a?.type !== "pci") continue;
    out.push({
      mode: "subsystem",
      type: "pci",
      ...(i.managed !== undefined ? { managed: i.managed } : {}),
      source: { pciAddress: { domain: a.domain, bus: a.bus, slot: a.slot, function: a.function } },
    });
  }
  return out;
}

const byDomain = new WeakMap<object, HostdevHandle[]>();

/**
 * Start, before the QEMU command is built: fills the host bus/device of USB hostdevs given by
 * vendor/product and drops absent `startupPolicy='optional'` ones from `live`. Reads only.
 */
export function resolveDomainUsbHostdevs(sysfsRoot: string, live: DomainDef): void {
  const drop: HostdevDef[] = [];
  for (const h of live.devices.hostdevs) {
    if (h.mode !== "subsystem" || h.type !== "usb") continue;
    try {
      h.source.usbAddress = resolveUsbHostdev(sysfsRoot, h.source);
    } catch (e) {
      if (h.source.startupPolicy === "optional") drop.push(h);
      else throw e;
    }
  }
  if (drop.length > 0) live.devices.hostdevs = live.devices.hostdevs.filter((h) => !drop.includes(h));
}

/**
 * Start, before QEMU is spawned: binds the managed PCI hostdevs and `<interface type='hostdev'>`
 * devices (after every check); the handle is kept for `releaseDomainHostdevs(owner)`.
 */
export async function prepareDomainHostdevs(
  sysfsRoot: string,
  owner: object,
  live: DomainDef,
): Promise<HostdevHandle> {
  const handle = await prepareHostdevs(sysfsRoot, live.name, domainHostdevs(live));
  if (handle.missingOptional.length > 0)
    live.devices.hostdevs = live.devices.hostdevs.filter((h) => !handle.missingOptional.includes(h));
  byDomain.set(owner, [handle]);
  return handle;
}

/** Reconnect: holds the devices of a running domain again (no writes). */
export function adoptDomainHostdevs(sysfsRoot: string, owner: object, live: DomainDef): void {
  const all = domainHostdevs(live);
  if (!all.some((h) => pciAddrOf(h) !== undefined)) return;
  byDomain.set(owner, [adoptHostdevs(sysfsRoot, live.name, all)]);
}

/** Stop (or a failed start): gives back what the domain's start and its hotplugs took. */
export async function releaseDomainHostdevs(owner: object): Promise<void> {
  const handles = byDomain.get(owner) ?? [];
  byDomain.delete(owner);
  for (const h of handles.reverse()) await h.release();
}

/**
 * Hotplug, before `device_add`: a USB device named by vendor/product gets its host bus and
 * device (not found is an error here, whatever its startupPolicy: the attach is asked for
 * now); a PCI device is checked and, when managed, bound to vfio-pci. The device is then held
 * for the domain until `releaseHotplugHostdev` or the domain stops.
 */
export async function prepareHotplugHostdev(
  sysfsRoot: string,
  owner: object,
  domainName: string,
  dev: HostdevDef,
): Promise<void> {
  if (dev.mode === "subsystem" && dev.type === "usb") {
    dev.source.usbAddress = resolveUsbHostdev(sysfsRoot, dev.source);
    return;
  }
  const handle = await prepareHostdevs(sysfsRoot, domainName, [dev]);
  const list = byDomain.get(owner) ?? [];
  list.push(handle);
  byDomain.set(owner, list);
}

/** Hot-unplug done (or an attach undone): gives the PCI device back to its host driver. */
export async function releaseHotplugHostdev(owner: object, dev: HostdevDef): Promise<void> {
  const addr = pciAddrOf(dev);
  if (addr === undefined) return;
  for (const h of byDomain.get(owner) ?? []) {
    if (h.pci.includes(addr)) await h.releaseAddr(addr);
  }
}

/**
 * The SCSI generic node (`/dev/sgN`) of a host SCSI device named by its adapter (`scsi_host0`)
 * and bus:target:unit, as libvirt's virSCSIDeviceGetSgName reads it from sysfs; undefined
 * when the host has no such device.
 */
export function hostScsiGenericDevice(
  sysfsRoot: string,
  adapter: string,
  bus: number,
  target: number,
  unit: number,
): string | undefined {
  const host = /^scsi_host(\d+)$/.exec(adapter)?.[1];
  if (host === undefined) return undefined;
  const dir = join(
    sysfsRoot,
    "bus",
    "scsi",
    "devices",
    `${host}:${String(bus)}:${String(target)}:${String(unit)}`,
    "scsi_generic",
  );
  try {
    const sg = readdirSync(dir)[0];
    return sg === undefined ? undefined : `/dev/${sg}`;
  } catch {
    return undefined;
  }
}
