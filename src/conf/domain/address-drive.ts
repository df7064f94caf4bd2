/**
 * Drive addresses (`<address type='drive'>`) for IDE, SATA, SCSI and floppy disks, derived from
 * the target name as libvirt does (virDomainDiskDefAssignAddress).
 */
import type { DeviceAddress, DiskDef, DomainDef } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";

const PREFIXES = ["fd", "hd", "vd", "sd", "xvd", "ubd"] as const;

/** Index of a disk target name (`hda` → 0, `sdb` → 1, `vdaa` → 26), or -1. */
export function diskNameToIndex(name: string): number {
  const prefix = PREFIXES.find((p) => name.startsWith(p));
  if (!prefix) return -1;
  const m = /^([a-z]+)([0-9]*)$/.exec(name.slice(prefix.length));
  if (!m) return -1;
  let idx = 0;
  const letters = m[1]!;
  for (let i = 0; i < letters.length; i++) {
    idx = (idx + (i < 1 ? 0 : 1)) * 26 + (letters.charCodeAt(i) - 97);
    if (idx > 0x7fffffff) return -1;
  }
  return idx;
}

export function wideScsi(def: DomainDef): boolean {
  return def.devices.controllers.some((c) => c.type === "scsi" && c.model === "vmpvscsi");
}

export function sameDrive(a: DeviceAddress | undefined, b: DeviceAddress | undefined): boolean {
  return (
    a?.type === "drive" &&
    b?.type === "drive" &&
    a.controller === b.controller &&
    a.bus === b.bus &&
    a.target === b.target &&
    a.unit === b.unit
  );
}

export function assignDriveAddress(def: DomainDef, disk: DiskDef): void {
  // libvirt parses the target name of every disk without an address, whatever its bus.
  const idx = diskNameToIndex(disk.target.dev);
  if (idx < 0) {
    throw new VirtError(
      "DOMAIN_DISK_NAME_UNKNOWN",
      { target: disk.target.dev },
      { xpath: "/domain/devices/disk/target/@dev" },
    );
  }
  const bus = disk.target.bus;
  if (bus !== "scsi" && bus !== "ide" && bus !== "sata" && bus !== "fdc") return;
  let controller: number;
  let unit: number;
  let drvBus = 0;
  if (bus === "scsi") {
    if (wideScsi(def)) {
      controller = Math.floor(idx / 15);
      unit = idx % 15;
      if (unit >= 7) unit++;
    } else {
      controller = Math.floor(idx / 7);
      unit = idx % 7;
    }
  } else if (bus === "ide") {
    controller = Math.floor(idx / 4);
    drvBus = Math.floor((idx % 4) / 2);
    unit = idx % 2;
  } else if (bus === "sata") {
    controller = Math.floor(idx / 6);
    unit = idx % 6;
  } else {
    controller = Math.floor(idx / 2);
    unit = idx % 2;
  }
  disk.address = { type: "drive", controller, bus: drvBus, target: 0, unit };
  // libvirt's message lacks the closing quote after the unit; kept so the texts are the same.
  if (
    bus === "scsi" &&
    def.devices.hostdevs.some((h) => h.type === "scsi" && sameDrive(h.address, disk.address))
  ) {
    throw new VirtError(
      "DOMAIN_DISK_SCSI_HOSTDEV_CONFLICT",
      { target: disk.target.dev, controller, bus: drvBus, unitTarget: 0, unit },
      { xpath: "/domain/devices/disk/target/@dev" },
    );
  }
}
