/**
 * PCI devices for passthrough (libvirt's `virpci.c` and the PCI half of `virhostdev.c`), all
 * through one `Sysfs` root:
 *
 * - `readPciDevice`: what sysfs says about a device (ids, class, driver, IOMMU group).
 * - `checkHostUse`: refuses devices the host itself needs: bridges, devices bound to a driver on
 *   `NEVER_TOUCH_DRIVERS`, devices holding a network interface that is up or a block device that
 *   is mounted or held (the host's own NIC and root disk).
 * - `checkPciAssignable`: the above plus the IOMMU group (must exist; every other member must
 *   be bound to vfio-pci / pci-stub or to no driver, libvirt's and VFIO's viability rule).
 * - `detachPci` / `reattachPci`: libvirt's bind-to-stub sequence and its reverse:
 *   detach = `driver_override` ← `vfio-pci`, `drivers/<orig>/unbind` ← addr,
 *   `drivers_probe` ← addr (or `drivers/vfio-pci/bind` when there is no `drivers_probe`), then
 *   check the device is on vfio-pci; reattach = `drivers/vfio-pci/unbind` ← addr,
 *   `driver_override` ← `\n` (cleared), `drivers_probe` ← addr (the kernel binds the original
 *   driver again; `drivers/<orig>/bind` when there is no `drivers_probe`).
 * - `resetPci`: function reset through the device's `reset` attribute.
 *
 * Every check runs before the first write, so a refused device is left exactly as it was.
 */
import { VirtError } from "../../util/errors/index.ts";
import { parsePciAddr, type Sysfs } from "../sysfs/sysfs.ts";

/** The driver devices are bound to for assignment. */
export const STUB_DRIVER = "vfio-pci";
/** Drivers that count as "not used by the host" inside an IOMMU group. */
export const STUB_DRIVERS: readonly string[] = ["vfio-pci", "pci-stub"];
/**
 * Devices bound to these drivers are never unbound: the host's paravirtual devices (its disk,
 * network and console when it is itself a VM) and PCIe port / hotplug bridges.
 */
export const NEVER_TOUCH_DRIVERS: readonly string[] = ["virtio-pci", "pcieport", "shpchp"];

export interface PciDeviceInfo {
  /** `0000:00:1f.2` */
  readonly addr: string;
  /** `bus/pci/devices/<addr>` relative to the sysfs root. */
  readonly rel: string;
  readonly vendor: string | undefined;
  readonly device: string | undefined;
  /** `0x010601` */
  readonly class: string | undefined;
  readonly driver: string | undefined;
  /** The IOMMU group number, when the device has one. */
  readonly iommuGroup: string | undefined;
}

const devRel = (addr: string): string => `bus/pci/devices/${addr}`;

/** Normalises an address given by a user (`0000:00:1F.2`); refuses malformed ones. */
export function checkPciAddrText(addr: string): string {
  const a = parsePciAddr(addr);
  if (!a) throw new VirtError("HOSTDEV_PCI_ADDRESS", { addr });
  return addr.toLowerCase();
}

export function readPciDevice(sysfs: Sysfs, addr: string): PciDeviceInfo | undefined {
  const rel = devRel(addr);
  if (!sysfs.isDir(rel) && !sysfs.isLink(rel)) return undefined;
  if (!sysfs.exists(rel)) return undefined;
  return {
    addr,
    rel,
    vendor: sysfs.read(`${rel}/vendor`),
    device: sysfs.read(`${rel}/device`),
    class: sysfs.read(`${rel}/class`),
    driver: sysfs.linkName(`${rel}/driver`),
    iommuGroup: sysfs.linkName(`${rel}/iommu_group`),
  };
}

/** The device or `HOSTDEV_PCI_NOT_FOUND`. */
export function requirePciDevice(sysfs: Sysfs, addr: string): PciDeviceInfo {
  const info = readPciDevice(sysfs, addr);
  if (!info)
    throw new VirtError("HOSTDEV_PCI_NOT_FOUND", { addr, path: sysfs.display(sysfs.path(devRel(addr))) });
  return info;
}

/** Addresses of the members of an IOMMU group. */
export function iommuGroupMembers(sysfs: Sysfs, group: string): string[] {
  return sysfs.list(`kernel/iommu_groups/${group}/devices`);
}

/** Network interfaces and block devices below a device's directory (a few levels down). */
function childrenOfClass(sysfs: Sysfs, rel: string, cls: "net" | "block", depth = 3): string[] {
  const out: string[] = [];
  const walk = (r: string, d: number): void => {
    for (const e of sysfs.list(r)) {
      const sub = `${r}/${e}`;
      if (!sysfs.isDir(sub)) continue;
      if (e === cls) out.push(...sysfs.list(sub));
      else if (d > 0 && e !== "subsystem" && e !== "driver" && e !== "power") walk(sub, d - 1);
    }
  };
  const real = sysfs.realpath(rel);
  if (real === undefined) return out;
  walk(`/${real.slice(sysfs.root.length).replace(/^\/+/, "")}`, depth);
  return out;
}

/** Why the host needs the device, or undefined when it may be taken. */
export function hostUseOf(sysfs: Sysfs, info: PciDeviceInfo): string | undefined {
  const cls = info.class !== undefined ? parseInt(info.class, 16) : NaN;
  if (!Number.isNaN(cls) && cls >> 16 === 0x06)
    return `it is a PCI bridge (class ${info.class ?? ""}), which cannot be assigned to a guest`;
  if (info.driver !== undefined && NEVER_TOUCH_DRIVERS.includes(info.driver))
    return `it is bound to '${info.driver}', a driver tvirt never unbinds (${NEVER_TOUCH_DRIVERS.join(", ")})`;
  for (const ifname of childrenOfClass(sysfs, info.rel, "net")) {
    const oper = sysfs.read(`class/net/${ifname}/operstate`);
    const flags = parseInt(sysfs.read(`class/net/${ifname}/flags`) ?? "0", 16);
    if (oper === "up" || (flags & 1) === 1)
      return `it holds the host's network interface '${ifname}', which is up`;
  }
  const mounted = sysfs.mountSources();
  for (const blk of childrenOfClass(sysfs, info.rel, "block")) {
    const parts = [blk, ...sysfs.list(`class/block/${blk}`).filter((p) => p.startsWith(blk))];
    for (const p of parts) {
      if (mounted.includes(`/dev/${p}`)) return `it holds the host's block device '${p}', which is mounted`;
      if (sysfs.list(`class/block/${p}/holders`).length > 0)
        return `it holds the host's block device '${p}', which is in use (holders: ${sysfs.list(`class/block/${p}/holders`).join(", ")})`;
    }
  }
  return undefined;
}

/** Refuses a device the host uses (`HOSTDEV_HOST_DEVICE`). */
export function checkHostUse(sysfs: Sysfs, info: PciDeviceInfo): void {
  const why = hostUseOf(sysfs, info);
  if (why !== undefined) throw new VirtError("HOSTDEV_HOST_DEVICE", { addr: info.addr, why });
}

/** Refuses a device without an IOMMU group (`HOSTDEV_NO_IOMMU_GROUP`). */
export function checkIommuGroup(sysfs: Sysfs, info: PciDeviceInfo): string {
  if (info.iommuGroup === undefined)
    throw new VirtError("HOSTDEV_NO_IOMMU_GROUP", {
      addr: info.addr,
      path: sysfs.display(sysfs.path(`${info.rel}/iommu_group`)),
    });
  return info.iommuGroup;
}

/** Refuses when the vfio-pci driver is not there to bind to. */
export function checkStubDriver(sysfs: Sysfs): void {
  if (!sysfs.isDir(`bus/pci/drivers/${STUB_DRIVER}`))
    throw new VirtError("HOSTDEV_VFIO_MISSING", {
      path: sysfs.display(sysfs.path(`bus/pci/drivers/${STUB_DRIVER}`)),
    });
}

/**
 * Everything that must hold before a device is handed to a guest: it exists, the host does not
 * use it, it has an IOMMU group whose other members are on a stub driver, unbound, or in
 * `alsoAssigned` (devices assigned in the same operation). Returns the device as read.
 */
export function checkPciAssignable(
  sysfs: Sysfs,
  addr: string,
  alsoAssigned: ReadonlySet<string> = new Set(),
): PciDeviceInfo {
  const info = requirePciDevice(sysfs, addr);
  const group = checkIommuGroup(sysfs, info);
  checkHostUse(sysfs, info);
  for (const other of iommuGroupMembers(sysfs, group)) {
    if (other === addr || alsoAssigned.has(other)) continue;
    const drv = sysfs.linkName(`bus/pci/devices/${other}/driver`);
    if (drv !== undefined && !STUB_DRIVERS.includes(drv))
      throw new VirtError("HOSTDEV_GROUP_NOT_VIABLE", { addr, group, other, driver: drv });
  }
  return info;
}

/**
 * Binds a device to vfio-pci (libvirt's virPCIDeviceDetach). Returns the driver it was bound to
 * before (undefined when none) and whether anything was written (false when already on vfio-pci).
 * The caller has run the checks. On failure the device is put back as it was.
 */
export function detachPci(sysfs: Sysfs, info: PciDeviceInfo): { changed: boolean; origDriver?: string } {
  const { addr, rel } = info;
  const orig = sysfs.linkName(`${rel}/driver`);
  if (orig === STUB_DRIVER) return { changed: false, origDriver: orig };
  checkStubDriver(sysfs);
  sysfs.write(`${rel}/driver_override`, STUB_DRIVER);
  try {
    if (orig !== undefined) sysfs.write(`bus/pci/drivers/${orig}/unbind`, addr);
    if (sysfs.exists("bus/pci/drivers_probe")) sysfs.write("bus/pci/drivers_probe", addr);
    else sysfs.write(`bus/pci/drivers/${STUB_DRIVER}/bind`, addr);
    const now = sysfs.linkName(`${rel}/driver`);
    if (now !== STUB_DRIVER)
      throw new VirtError("HOSTDEV_BIND_FAILED", {
        addr,
        driver: STUB_DRIVER,
        now: now === undefined ? "no driver" : `driver '${now}'`,
      });
  } catch (e) {
    try {
      restoreHostDriver(sysfs, info, orig);
    } catch {
      // the first error is the one to report
    }
    throw e;
  }
  return orig === undefined ? { changed: true } : { changed: true, origDriver: orig };
}

function restoreHostDriver(sysfs: Sysfs, info: PciDeviceInfo, orig: string | undefined): void {
  const { addr, rel } = info;
  const cur = sysfs.linkName(`${rel}/driver`);
  if (cur !== undefined && cur !== orig) sysfs.write(`bus/pci/drivers/${cur}/unbind`, addr);
  if (sysfs.exists(`${rel}/driver_override`)) sysfs.write(`${rel}/driver_override`, "\n");
  if (sysfs.linkName(`${rel}/driver`) !== undefined) return;
  if (sysfs.exists("bus/pci/drivers_probe")) sysfs.write("bus/pci/drivers_probe", addr);
  else if (orig !== undefined) sysfs.write(`bus/pci/drivers/${orig}/bind`, addr);
}

/**
 * Gives a device back to the host (libvirt's virPCIDeviceReattach): off vfio-pci, override
 * cleared, reprobed so the kernel binds its own driver (`origDriver` is bound explicitly when
 * the tree has no `drivers_probe`). A device on another host driver is left alone.
 */
export function reattachPci(sysfs: Sysfs, info: PciDeviceInfo, origDriver?: string): { changed: boolean } {
  const cur = sysfs.linkName(`${info.rel}/driver`);
  if (cur !== undefined && !STUB_DRIVERS.includes(cur)) return { changed: false };
  restoreHostDriver(sysfs, info, origDriver);
  return { changed: true };
}

/** Function-level reset through the device's `reset` attribute. */
export function resetPci(sysfs: Sysfs, info: PciDeviceInfo): void {
  if (!sysfs.exists(`${info.rel}/reset`)) throw new VirtError("HOSTDEV_NO_RESET", { addr: info.addr });
  sysfs.write(`${info.rel}/reset`, "1");
}
