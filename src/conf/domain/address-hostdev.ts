/**
 * Drive addresses of SCSI host devices (`<hostdev type='scsi'>`) that have none, and the SCSI
 * controllers those addresses need.
 */
import type { DeviceAddress, DomainDef, HostdevDef } from "./types.ts";
import { sameDrive, wideScsi } from "./address-drive.ts";
import { findController, maybeAddController } from "./controllers.ts";

/** Whether a SCSI drive address is taken by a disk or a SCSI host device (or is a wide bus's controller unit). */
function scsiDriveUsed(def: DomainDef, addr: DeviceAddress, maxUnit: number): boolean {
  if (addr.type !== "drive") return false;
  if (maxUnit === 16 && addr.unit === 7) return true;
  return (
    def.devices.disks.some((d) => d.target.bus === "scsi" && sameDrive(d.address, addr)) ||
    def.devices.hostdevs.some((h) => h.type === "scsi" && sameDrive(h.address, addr))
  );
}

/**
 * A SCSI host device without an address takes the first free unit of the first SCSI controller
 * with one, else unit 0 of a new controller (libvirt's virDomainHostdevAssignAddress); the
 * controllers its address names are added at once, of the model of the last one used
 * (virDomainDefMaybeAddHostdevSCSIcontroller), so the next device sees them.
 */
export function assignHostdevDriveAddress(def: DomainDef, h: HostdevDef): void {
  if (h.mode !== "subsystem" || h.type !== "scsi") return;
  if (!h.address) {
    const maxUnit = wideScsi(def) ? 16 : 7;
    let controller = 0;
    let unit = 0;
    for (const c of def.devices.controllers) {
      if (c.type !== "scsi") continue;
      controller++;
      let free = -1;
      for (let u = 0; u < maxUnit && free < 0; u++) {
        if (!scsiDriveUsed(def, { type: "drive", controller: c.index, bus: 0, target: 0, unit: u }, maxUnit))
          free = u;
      }
      if (free >= 0) {
        controller = c.index;
        unit = free;
        break;
      }
    }
    h.address = { type: "drive", controller, bus: 0, target: 0, unit };
  }
  let max = -1;
  let model: string | undefined;
  for (const o of def.devices.hostdevs) {
    if (o.type !== "scsi" || o.address?.type !== "drive" || o.address.controller <= max) continue;
    max = o.address.controller;
    const c = findController(def, "scsi", max);
    if (c?.model !== undefined) model = c.model;
  }
  for (let i = 0; i <= max; i++) maybeAddController(def, "scsi", i, model);
}
