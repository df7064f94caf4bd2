/**
 * Host side of a host device hotplug: the one place where the host is prepared for a
 * `<hostdev>` before QEMU gets it, and given back after QEMU let go of it.
 *
 * Today nothing is done on the host: a USB device named by vendor/product is handed to QEMU's
 * `usb-host` as `vendorid`/`productid` (QEMU finds the device itself, and takes it when it
 * appears). The host device lookup from sysfs (USB vendor/product → bus/device, managed PCI
 * detach/reattach, permissions) plugs in here, in these two functions, and nowhere else in the
 * attach/detach path.
 */
import { hostdevLabel } from "../../../conf/domain/device-snippet.ts";
import type { HostdevDef } from "../../../conf/domain/types.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { appendLog } from "./log.ts";

function note(drv: QemuDriver, obj: QemuDomainObj, dev: HostdevDef, what: string): Promise<void> {
  const l = hostdevLabel(dev);
  return appendLog(
    drv.logPath(obj.name),
    `${new Date().toISOString()}: host ${l.what} device ${l.id}: ${what}\n`,
  );
}

/**
 * Prepares the host for `dev` before `device_add` (may fill in `dev.source`, e.g. a USB bus and
 * device number found for its vendor/product). Returns the function that undoes the
 * preparation if the attach fails afterwards.
 */
export async function prepareHostdevForAttach(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dev: HostdevDef,
): Promise<() => Promise<void>> {
  await note(drv, obj, dev, "handed to QEMU (no host preparation)");
  return () => note(drv, obj, dev, "attach failed, nothing to undo on the host");
}

/** Gives the host device back to the host after QEMU released it (DEVICE_DELETED). */
export function releaseHostdevAfterDetach(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dev: HostdevDef,
): Promise<void> {
  return note(drv, obj, dev, "released by QEMU (nothing to give back to the host)");
}
