/**
 * The node device calls (libvirt's `virNodeDevice*` and the QEMU driver's
 * `qemuNodeDeviceDetachFlags`/`ReAttach`/`Reset`) over one sysfs root: listing with
 * `virConnectListAllNodeDevices` flags, lookup, XML, parent, capabilities, and for PCI devices
 * detach to vfio-pci, re-attach to the host driver, and reset. Detach, re-attach and reset refuse
 * devices the host uses and devices a running domain holds, before anything is written.
 */
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import { checkNotActive } from "../../host/hostdev/active.ts";
import {
  checkHostUse,
  checkIommuGroup,
  detachPci,
  reattachPci,
  requirePciDevice,
  resetPci,
  STUB_DRIVERS,
  type PciDeviceInfo,
} from "../../host/hostdev/pci.ts";
import type { Sysfs } from "../../host/sysfs/sysfs.ts";
import {
  ConnectListNodeDevicesFlags,
  capFlag,
  findNodeDevice,
  listNodeDevices,
  nodeDevCapNames,
  nodeDeviceCaps,
  pciAddrOfName,
  type NodeDevice,
} from "../../host/nodedev/enumerate.ts";
import { formatNodeDeviceXML } from "../../host/nodedev/xml.ts";

const ALL_CAPS = (1 << nodeDevCapNames.length) - 1;
const LIST_FLAGS = ALL_CAPS | ConnectListNodeDevicesFlags.INACTIVE | ConnectListNodeDevicesFlags.ACTIVE;

/** virConnectListAllNodeDevices: names of the devices matching the capability bits (all if none). */
export function listAllNodeDeviceNames(sysfs: Sysfs, flags: number, func: string): string[] {
  checkFlags(flags >>> 0, LIST_FLAGS >>> 0, func);
  const capBits = flags & ALL_CAPS;
  // Every device found in sysfs is active; none is merely defined (no mdevs yet).
  const inactiveOnly =
    (flags & ConnectListNodeDevicesFlags.INACTIVE) !== 0 &&
    (flags & ConnectListNodeDevicesFlags.ACTIVE) === 0;
  if (inactiveOnly) return [];
  return listNodeDevices(sysfs)
    .filter((d) => capBits === 0 || nodeDeviceCaps(d).some((c) => (capBits & capFlag(c)) !== 0))
    .map((d) => d.name);
}

export function lookupNodeDevice(sysfs: Sysfs, name: string): NodeDevice {
  const d = findNodeDevice(sysfs, name);
  if (!d) throw new VirtError("NODEDEV_NOT_FOUND", { name });
  return d;
}

export function nodeDeviceXML(sysfs: Sysfs, name: string, flags: number, func: string): string {
  checkFlags(flags, 1 /* VIR_NODE_DEVICE_XML_INACTIVE */, func);
  return formatNodeDeviceXML(lookupNodeDevice(sysfs, name));
}

export function nodeDeviceParent(sysfs: Sysfs, name: string): string | null {
  return lookupNodeDevice(sysfs, name).parent ?? null;
}

export function nodeDeviceCapNames(sysfs: Sysfs, name: string): string[] {
  return nodeDeviceCaps(lookupNodeDevice(sysfs, name));
}

function pciOf(sysfs: Sysfs, name: string): PciDeviceInfo {
  const dev = lookupNodeDevice(sysfs, name);
  const addr = pciAddrOfName(dev.name);
  if (dev.cap.type !== "pci" || addr === undefined) throw new VirtError("NODEDEV_NOT_PCI", { name });
  return requirePciDevice(sysfs, addr);
}

/**
 * virNodeDeviceDetachFlags: binds a PCI device to vfio-pci (`driverName` null or `vfio`). The
 * device needs an IOMMU group, must not be used by the host or held by a running domain.
 */
export function nodeDeviceDetach(sysfs: Sysfs, name: string, driverName: string | null, flags: number): void {
  checkFlags(flags, 0, "qemuNodeDeviceDetachFlags");
  if (driverName !== null && driverName !== "" && driverName !== "vfio")
    throw new VirtError("NODEDEV_DRIVER", { driver: driverName });
  const info = pciOf(sysfs, name);
  checkNotActive(sysfs, info.addr);
  checkIommuGroup(sysfs, info);
  checkHostUse(sysfs, info);
  detachPci(sysfs, info);
}

/** virNodeDeviceReAttach: gives a detached PCI device back to its host driver. */
export function nodeDeviceReAttach(sysfs: Sysfs, name: string): void {
  const info = pciOf(sysfs, name);
  checkNotActive(sysfs, info.addr);
  checkHostUse(sysfs, info);
  reattachPci(sysfs, info);
}

/** virNodeDeviceReset: resets a PCI device no domain holds and the host does not use. */
export function nodeDeviceReset(sysfs: Sysfs, name: string): void {
  const info = pciOf(sysfs, name);
  checkNotActive(sysfs, info.addr);
  checkHostUse(sysfs, info);
  if (info.driver !== undefined && !STUB_DRIVERS.includes(info.driver))
    throw new VirtError("NODEDEV_RESET_BOUND", { addr: info.addr, driver: info.driver });
  resetPci(sysfs, info);
}
