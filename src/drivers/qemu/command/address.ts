/**
 * Device address properties (`bus`, `addr`, `unit`, `port`, ...) the way libvirt derives them
 * from `<address>` elements and the controllers they refer to.
 */
import type {
  ControllerDef,
  DeviceAddress,
  DeviceCommon,
  DriveAddress,
  DiskBus,
} from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import { fail } from "./build.ts";
import type { Props } from "./escape.ts";

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export function findController(b: Build, type: string, index: number): ControllerDef | undefined {
  return b.def.devices.controllers.find((c) => c.type === type && c.index === index);
}

function controllerAlias(b: Build, type: string, index: number, element: string): string {
  const c = findController(b, type, index);
  if (!c?.alias) {
    return fail("QEMU_CMD_INVALID_VALUE", {
      element,
      reason: `no ${type} controller with index ${index} for its address`,
    });
  }
  return c.alias;
}

/** The QEMU bus name of PCI bus `bus` (the alias of the PCI controller with that index). */
export function pciBusName(b: Build, bus: number, element: string): string {
  const c = findController(b, "pci", bus);
  if (!c) {
    return fail("QEMU_CMD_INVALID_VALUE", {
      element,
      reason: `PCI address on bus ${bus}, but there is no PCI controller with index ${bus}`,
    });
  }
  if (c.model === "pci-root" && b.arch !== "ppc64" && b.arch !== "ppc64le") return "pci.0";
  if (c.model === "pcie-root") return "pcie.0";
  return c.alias ?? `pci.${bus}`;
}

/** Adds the address properties of a device to `props` (libvirt's qemuBuildDeviceAddressProps). */
export function addAddressProps(
  b: Build,
  props: Props,
  dev: DeviceCommon,
  element: string,
  diskBus?: DiskBus,
): void {
  const a: DeviceAddress | undefined = dev.address;
  if (!a) return;
  switch (a.type) {
    case "pci": {
      const addr = a.function !== 0 ? `${hex(a.slot)}.${hex(a.function)}` : hex(a.slot);
      props.set("bus", pciBusName(b, a.bus, element));
      props.opt("multifunction", a.multifunction);
      props.set("addr", addr);
      props.pos("acpi-index", dev.acpiIndex);
      return;
    }
    case "usb": {
      props.set("bus", `${controllerAlias(b, "usb", a.bus, element)}.0`);
      if (a.port !== undefined && a.port !== "") props.set("port", a.port);
      return;
    }
    case "spapr-vio":
      if (a.reg !== undefined) props.set("reg", a.reg);
      return;
    case "ccw":
      props.set(
        "devno",
        `${a.cssid.toString(16)}.${a.ssid.toString(16)}.${a.devno.toString(16).padStart(4, "0")}`,
      );
      return;
    case "isa":
      props.set("iobase", a.iobase ?? 0);
      props.pos("irq", a.irq);
      return;
    case "dimm":
      props.set("slot", a.slot ?? 0);
      props.pos("addr", a.base);
      return;
    case "drive":
      addDriveAddressProps(b, props, a, diskBus, element);
      return;
    case "virtio-serial":
      props.set("bus", `${controllerAlias(b, "virtio-serial", a.controller, element)}.${a.bus}`);
      props.set("nr", a.port);
      return;
    case "ccid":
    case "virtio-mmio":
    case "virtio-s390":
    case "unassigned":
      return;
  }
}

const SCSI_BUS_PER_CHANNEL = new Set(["lsilogic", "ncr53c90", "dc390", "am53c974"]);

function addDriveAddressProps(
  b: Build,
  props: Props,
  a: DriveAddress,
  bus: DiskBus | undefined,
  element: string,
): void {
  switch (bus) {
    case "ide": {
      const alias = b.hasBuiltinIDE ? "ide" : controllerAlias(b, "ide", a.controller, element);
      props.set("bus", `${alias}.${a.bus}`);
      props.set("unit", a.unit);
      return;
    }
    case "sata": {
      const alias = b.isQ35 && a.controller === 0 ? "ide" : controllerAlias(b, "sata", a.controller, element);
      props.set("bus", `${alias}.${a.unit}`);
      return;
    }
    case "fdc":
      props.set("unit", a.unit);
      return;
    case "scsi": {
      const c = findController(b, "scsi", a.controller);
      if (!c?.alias) {
        return fail("QEMU_CMD_INVALID_VALUE", {
          element,
          reason: `no SCSI controller with index ${a.controller}`,
        });
      }
      if (SCSI_BUS_PER_CHANNEL.has(c.model ?? "")) {
        props.set("bus", `${c.alias}.${a.bus}`);
        props.set("scsi-id", a.unit);
      } else {
        props.set("bus", `${c.alias}.0`);
        props.set("channel", a.bus);
        props.set("scsi-id", a.target);
        props.set("lun", a.unit);
      }
      return;
    }
    default:
      return fail("QEMU_CMD_INVALID_VALUE", {
        element,
        reason: `a drive address is not valid for bus '${bus ?? "none"}'`,
      });
  }
}
