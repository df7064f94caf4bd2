/**
 * Host side of a host device hotplug: the one place where the host is prepared for a
 * `<hostdev>` before QEMU gets it, and given back after QEMU let go of it.
 *
 * USB: the device named by vendor/product (or bus/device) is looked up under the driver's sysfs
 * root and handed to QEMU's `usb-host` by host bus and address; not found is a catalogued error
 * before QEMU is asked anything. PCI: the device is checked (IOMMU group, not used by the host,
 * not held by another domain) and, with managed='yes', bound to vfio-pci; it is given back when
 * QEMU released it, when the attach fails, or when the domain stops (`hostdev-prepare.ts`).
 */
import { hostdevLabel } from "../../../conf/domain/device-snippet.ts";
import type { HostdevDef } from "../../../conf/domain/types.ts";
import { toDisposable, type IDisposable } from "../../../util/disposable.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { prepareHotplugHostdev, releaseHotplugHostdev } from "./hostdev-prepare.ts";
import { appendLog } from "./log.ts";

function note(drv: QemuDriver, obj: QemuDomainObj, dev: HostdevDef, what: string): Promise<void> {
  const l = hostdevLabel(dev);
  return appendLog(
    drv.logPath(obj.name),
    `${new Date().toISOString()}: host ${l.what} device ${l.id}: ${what}\n`,
  );
}

/**
 * Prepares the host for `dev` before `device_add` (fills in `dev.source.usbAddress` for USB).
 * Returns what gives the device back if the attach fails afterwards (for the attach's undo store).
 */
export async function prepareHostdevForAttach(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dev: HostdevDef,
): Promise<IDisposable> {
  await prepareHotplugHostdev(drv.options.sysfsRoot, obj, obj.name, dev);
  await note(drv, obj, dev, "prepared for the guest");
  return toDisposable(async () => {
    await releaseHotplugHostdev(obj, dev);
    await note(drv, obj, dev, "attach failed, given back to the host");
  });
}

/** Gives the host device back to the host after QEMU released it (DEVICE_DELETED). */
export async function releaseHostdevAfterDetach(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dev: HostdevDef,
): Promise<void> {
  await releaseHotplugHostdev(obj, dev);
  await note(drv, obj, dev, "released by the guest, given back to the host");
}
