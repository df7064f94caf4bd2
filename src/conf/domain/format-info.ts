/**
 * Formatting of device addresses and the device-info tail every device ends with
 * (`<boot>`, `<alias>` for user aliases, `<master>`, `<rom>`, `<acpi>`, `<address>`).
 */
import type { XmlWriter } from "../xml.ts";
import type { DeviceAddress, DeviceCommon } from "./types.ts";

export const hex = (n: number, width = 0): string => `0x${n.toString(16).padStart(width, "0")}`;
export const onOff = (b: boolean | undefined): string | undefined =>
  b === undefined ? undefined : b ? "on" : "off";
export const yesNo = (b: boolean | undefined): string | undefined =>
  b === undefined ? undefined : b ? "yes" : "no";

export function formatAddress(w: XmlWriter, a: DeviceAddress): void {
  switch (a.type) {
    case "pci":
      w.elem(
        "address",
        {
          type: "pci",
          domain: hex(a.domain, 4),
          bus: hex(a.bus, 2),
          slot: hex(a.slot, 2),
          function: hex(a.function),
          multifunction: onOff(a.multifunction),
        },
        () => {
          if (a.zpci)
            w.empty("zpci", {
              uid: a.zpci.uid === undefined ? undefined : hex(a.zpci.uid, 4),
              fid: a.zpci.fid === undefined ? undefined : hex(a.zpci.fid, 8),
            });
        },
      );
      return;
    case "drive":
      w.empty("address", {
        type: "drive",
        controller: a.controller,
        bus: a.bus,
        target: a.target,
        unit: a.unit,
      });
      return;
    case "virtio-serial":
      w.empty("address", { type: a.type, controller: a.controller, bus: a.bus, port: a.port });
      return;
    case "ccid":
      w.empty("address", { type: a.type, controller: a.controller, slot: a.slot });
      return;
    case "usb":
      w.empty("address", { type: "usb", bus: a.bus, port: a.port });
      return;
    case "spapr-vio":
      w.empty("address", { type: a.type, reg: a.reg === undefined ? undefined : hex(a.reg, 8) });
      return;
    case "isa":
      w.empty("address", {
        type: "isa",
        iobase: a.iobase === undefined ? undefined : hex(a.iobase),
        irq: a.irq === undefined ? undefined : hex(a.irq),
      });
      return;
    case "dimm":
      w.empty("address", {
        type: "dimm",
        slot: a.slot,
        base: a.base === undefined ? undefined : hex(a.base),
      });
      return;
    case "ccw":
      w.empty("address", { type: "ccw", cssid: hex(a.cssid), ssid: hex(a.ssid), devno: hex(a.devno, 4) });
      return;
    default:
      w.empty("address", { type: a.type });
  }
}

/**
 * Writers formatting the live XML of a running domain (`formatDomain` with `live`): they also
 * show what only exists while running (every device's alias, pty paths).
 */
export const liveWriters = new WeakSet<XmlWriter>();

/** Writers of a status document (a running domain's state file): internal live facts too. */
export const statusWriters = new WeakSet<XmlWriter>();

/** The device-info tail. `master` is the USB companion `<master startport>` of a controller. */
/** The `<driver>` attributes of a device's virtio options, in libvirt's order. */
export function virtioAttrs(dev: DeviceCommon): Record<string, string | undefined> {
  const v = dev.virtio;
  return {
    iommu: onOff(v?.iommu),
    ats: onOff(v?.ats),
    packed: onOff(v?.packed),
    page_per_vq: onOff(v?.pagePerVq),
  };
}

export function formatInfo(w: XmlWriter, dev: DeviceCommon, master?: { startport: number }): void {
  if (dev.boot) w.empty("boot", { order: dev.boot.order, loadparm: dev.boot.loadparm });
  if (dev.alias !== undefined && (dev.alias.startsWith("ua-") || liveWriters.has(w)))
    w.empty("alias", { name: dev.alias });
  if (master) w.empty("master", { startport: master.startport });
  if (dev.rom)
    w.empty("rom", { enabled: yesNo(dev.rom.enabled), bar: onOff(dev.rom.bar), file: dev.rom.file });
  if (dev.acpiIndex !== undefined) w.empty("acpi", { index: dev.acpiIndex });
  if (dev.address) formatAddress(w, dev.address);
}
