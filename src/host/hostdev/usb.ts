/**
 * USB devices for passthrough (libvirt's `virusb.c`): found in `bus/usb/devices/` of a `Sysfs`
 * root, by vendor/product id (`idVendor`/`idProduct`) or by bus/device number
 * (`busnum`/`devnum`). QEMU's usb-host then opens the device by `hostbus`/`hostaddr`.
 * Interfaces (`1-2:1.0`) are not devices and are skipped.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { Sysfs } from "../sysfs/sysfs.ts";

export interface UsbDeviceInfo {
  /** sysfs name, e.g. `1-2` or `usb1` (root hub). */
  readonly sysname: string;
  readonly bus: number;
  readonly device: number;
  readonly vendor: number;
  readonly product: number;
}

/** What a `<hostdev type='usb'>` source names. */
export interface UsbSelector {
  readonly vendor?: number;
  readonly product?: number;
  readonly bus?: number;
  readonly device?: number;
}

const hex4 = (n: number): string => n.toString(16).padStart(4, "0");

/** Every USB device (not interface) under the root. */
export function listUsbDevices(sysfs: Sysfs): UsbDeviceInfo[] {
  const out: UsbDeviceInfo[] = [];
  for (const name of sysfs.list("bus/usb/devices")) {
    if (name.includes(":")) continue;
    const rel = `bus/usb/devices/${name}`;
    const bus = Number(sysfs.read(`${rel}/busnum`));
    const device = Number(sysfs.read(`${rel}/devnum`));
    const vendor = parseInt(sysfs.read(`${rel}/idVendor`) ?? "", 16);
    const product = parseInt(sysfs.read(`${rel}/idProduct`) ?? "", 16);
    if ([bus, device, vendor, product].some((n) => !Number.isInteger(n))) continue;
    out.push({ sysname: name, bus, device, vendor, product });
  }
  return out;
}

/** `1234:5678`, `bus 1 device 5`, or both. */
export function describeUsb(sel: UsbSelector): string {
  const parts: string[] = [];
  if (sel.vendor !== undefined) parts.push(`${hex4(sel.vendor)}:${hex4(sel.product ?? 0)}`);
  if (sel.bus !== undefined) parts.push(`bus ${sel.bus} device ${sel.device ?? 0}`);
  return parts.join(" at ");
}

/**
 * The one device matching `sel` (both vendor/product and bus/device when both are given). None:
 * `HOSTDEV_USB_NOT_FOUND`; several for a vendor/product: `HOSTDEV_USB_AMBIGUOUS` (as libvirt,
 * which then wants the bus/device address).
 */
export function findUsbDevice(sysfs: Sysfs, sel: UsbSelector): UsbDeviceInfo {
  const matches = listUsbDevices(sysfs).filter(
    (d) =>
      (sel.vendor === undefined || (d.vendor === sel.vendor && d.product === sel.product)) &&
      (sel.bus === undefined || (d.bus === sel.bus && d.device === sel.device)),
  );
  const what = describeUsb(sel);
  if (matches.length === 0) {
    const where = sysfs.exists("bus/usb/devices")
      ? `no match in ${sysfs.display(sysfs.path("bus/usb/devices"))}`
      : `this host has no USB bus (${sysfs.display(sysfs.path("bus/usb/devices"))} does not exist)`;
    throw new VirtError("HOSTDEV_USB_NOT_FOUND", { what, where });
  }
  if (matches.length > 1)
    throw new VirtError("HOSTDEV_USB_AMBIGUOUS", {
      what,
      count: matches.length,
      list: matches.map((m) => `bus ${m.bus} device ${m.device}`).join(", "),
    });
  return matches[0]!;
}
