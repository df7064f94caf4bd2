/**
 * Address assignment after the defaults (qemuDomainAssignAddresses): virtio-serial ports,
 * spapr-vio registers, PCI slots, USB ports (new domains only) and DIMM slots.
 */
import type { DomainDef } from "./types.ts";
import type { DefaultsContext } from "./defaults.ts";
import { assignPciAddresses } from "./address-pci.ts";
import { assignUsbAddresses } from "./address-usb.ts";
import { VirtError } from "../../util/errors/index.ts";

const VIRTIO_SERIAL_DEFAULT_PORTS = 31;

/** Channels with a virtio target get the next free port (from 1) of a virtio-serial controller. */
export function assignVirtioSerialAddresses(def: DomainDef): void {
  const ctrls = def.devices.controllers
    .filter((c) => c.type === "virtio-serial")
    .sort((a, b) => a.index - b.index);
  const used = new Map<number, Set<number>>();
  for (const c of ctrls) used.set(c.index, new Set());
  const chrs = [...def.devices.consoles, ...def.devices.channels];
  for (const c of chrs) {
    if (c.address?.type === "virtio-serial") used.get(c.address.controller)?.add(c.address.port);
  }
  for (const ch of def.devices.channels) {
    if (ch.target.type !== "virtio") continue;
    const a = ch.address;
    if (a && a.type !== "virtio-serial") continue;
    if (a?.type === "virtio-serial" && a.port !== 0) continue;
    const candidates = a?.type === "virtio-serial" ? ctrls.filter((c) => c.index === a.controller) : ctrls;
    let placed = false;
    for (const c of candidates) {
      const ports = used.get(c.index)!;
      const max = c.ports ?? VIRTIO_SERIAL_DEFAULT_PORTS;
      for (let p = 1; p < max; p++) {
        if (ports.has(p)) continue;
        ports.add(p);
        ch.address = { type: "virtio-serial", controller: c.index, bus: 0, port: p };
        placed = true;
        break;
      }
      if (placed) break;
    }
    if (!placed && a?.type !== "virtio-serial") {
      // every port taken: libvirt adds another controller (virDomainVirtioSerialAddrSetAddNewController)
      const index =
        Math.max(
          -1,
          ...def.devices.controllers.filter((c) => c.type === "virtio-serial").map((c) => c.index),
        ) + 1;
      const ctrl: (typeof ctrls)[number] = { type: "virtio-serial", index };
      const list = def.devices.controllers;
      const last = list.findLastIndex((c) => c.type === "virtio-serial");
      list.splice(last < 0 ? list.length : last + 1, 0, ctrl);
      ctrls.push(ctrl);
      used.set(index, new Set([1]));
      ch.address = { type: "virtio-serial", controller: index, bus: 0, port: 1 };
      placed = true;
    }
    if (!placed) {
      throw new VirtError("DOMAIN_NO_ADDRESS_LEFT", {
        what: "virtio-serial port",
        device: `channel ${ch.target.name ?? ""}`.trim(),
      });
    }
  }
}

/** spapr-vio: ibmvscsi controllers sit on the spapr-vio bus (reg 0x2000, stepping 0x1000). */
function assignSpaprVio(def: DomainDef): void {
  const used = new Set<number>();
  for (const c of def.devices.controllers) {
    if (c.address?.type === "spapr-vio" && c.address.reg !== undefined) used.add(c.address.reg);
  }
  for (const c of def.devices.controllers) {
    if (c.type !== "scsi" || c.model !== "ibmvscsi") continue;
    if (c.address && c.address.type !== "spapr-vio") continue;
    if (c.address?.type === "spapr-vio" && c.address.reg !== undefined) continue;
    let reg = 0x2000;
    while (used.has(reg)) reg += 0x1000;
    used.add(reg);
    c.address = { type: "spapr-vio", reg };
  }
}

/** DIMM slots for dimm/nvdimm devices of a domain with memory hotplug (`<maxMemory>`). */
function assignDimmSlots(def: DomainDef): void {
  if (!def.maxMemory || def.maxMemory.size === 0) return;
  const used = new Set<number>();
  for (const m of def.devices.memories) {
    if (m.address?.type === "dimm" && m.address.slot !== undefined) used.add(m.address.slot);
  }
  for (const m of def.devices.memories) {
    if (m.model !== "dimm" && m.model !== "nvdimm") continue;
    if (m.address?.type === "dimm") continue;
    let slot = 0;
    while (used.has(slot)) slot++;
    used.add(slot);
    m.address = { type: "dimm", slot };
  }
}

export function assignAddresses(def: DomainDef, ctx: DefaultsContext): void {
  assignVirtioSerialAddresses(def);
  assignSpaprVio(def);
  assignPciAddresses(def);
  if (ctx.abiUpdate) assignUsbAddresses(def);
  assignDimmSlots(def);
}
