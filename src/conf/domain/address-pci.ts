/**
 * PCI address assignment as libvirt's QEMU driver does it (qemuDomainAssignPCIAddresses):
 * a dry run that finds how many buses are needed and adds the controllers (pcie-root-ports on
 * q35, pci-bridges on pc), then the real pass in libvirt's device order, then controller
 * defaults (model name, chassis/port).
 */
import type { ControllerDef, DeviceCommon, DomainDef, PciAddress } from "./types.ts";
import { C, controllerConnectFlags, PciAddressSet, type PciModel } from "./pci-set.ts";
import { hasPciRoot, hasPcieRoot, isI440fx, isQ35 } from "./machine.ts";
import { isUsb2Companion, maybeAddController } from "./controllers.ts";
import { VirtError } from "../../util/errors/index.ts";

interface Flags {
  pci: number;
  pcie: number;
  virtio: number;
}

function flagSet(def: DomainDef): Flags {
  const pci = C.PCI_DEVICE | C.AUTOASSIGN;
  const pcie = hasPcieRoot(def) ? C.PCIE_DEVICE | C.AUTOASSIGN : pci;
  return { pci, pcie, virtio: pcie };
}

function isPresent(info: DeviceCommon): info is DeviceCommon & { address: PciAddress } {
  const a = info.address;
  return a?.type === "pci" && (a.domain !== 0 || a.bus !== 0 || a.slot !== 0 || a.function !== 0);
}

function isWanted(info: DeviceCommon): boolean {
  const a = info.address;
  return !a || (a.type === "pci" && a.domain === 0 && a.bus === 0 && a.slot === 0 && a.function === 0);
}

const virtioModel = (model: string | undefined, f: Flags): number =>
  model === "virtio-transitional" ? f.pci : f.virtio;

function controllerFlags(c: ControllerDef, f: Flags): number {
  switch (c.type) {
    case "pci":
      return controllerConnectFlags(c.model);
    case "sata":
    case "ide":
      return f.pci;
    case "usb":
      if (c.model === "nec-xhci" || c.model === "qemu-xhci") return f.pcie;
      if (c.model === "none" || c.model === "qusb1" || c.model === "qusb2") return 0;
      return f.pci;
    case "scsi":
      if (c.model === undefined || c.model === "ncr53c90") return 0;
      if (c.model === "virtio-scsi" || c.model === "virtio-non-transitional") return f.virtio;
      return f.pci;
    case "virtio-serial":
      return virtioModel(c.model, f);
    default:
      return 0;
  }
}

/** Every device with a device-info and the flags it connects with, in libvirt's iterate order. */
function allDevices(
  def: DomainDef,
  f: Flags,
): { info: DeviceCommon; flags: number; controller?: ControllerDef }[] {
  const d = def.devices;
  const out: { info: DeviceCommon; flags: number; controller?: ControllerDef }[] = [];
  for (const x of d.disks)
    out.push({ info: x, flags: x.target.bus === "virtio" ? virtioModel(x.model, f) : 0 });
  for (const x of d.interfaces) out.push({ info: x, flags: netFlags(x.model, x.type, f) });
  for (const x of d.sounds) out.push({ info: x, flags: soundFlags(x.model, f) });
  for (const x of d.hostdevs)
    out.push({
      info: x,
      flags:
        x.type === "pci" || x.type === "mdev" ? f.pcie : x.type === "scsi_host" ? virtioModel(x.model, f) : 0,
    });
  for (const x of d.videos) out.push({ info: x, flags: videoFlags(x.model.type, f) });
  for (const x of d.controllers) out.push({ info: x, flags: controllerFlags(x, f), controller: x });
  for (const x of d.serials) out.push({ info: x, flags: x.target.type === "pci-serial" ? f.pci : 0 });
  // The first console of serial type stands for the first serial port (whose address it
  // repeats): libvirt skips it (virDomainSkipBackcompatConsole).
  const consoles = d.consoles.filter(
    (c, i) =>
      !(i === 0 && d.serials.length > 0 && (c.target.type === undefined || c.target.type === "serial")),
  );
  for (const x of [...d.parallels, ...d.channels, ...consoles]) out.push({ info: x, flags: 0 });
  for (const x of d.inputs) out.push({ info: x, flags: x.bus === "virtio" ? virtioModel(x.model, f) : 0 });
  for (const x of d.filesystems) out.push({ info: x, flags: fsFlags(x.driver?.type, x.model, f) });
  for (const x of d.watchdogs) out.push({ info: x, flags: x.model === "i6300esb" ? f.pci : 0 });
  if (d.memballoon)
    out.push({
      info: d.memballoon,
      flags:
        d.memballoon.model === "none" || d.memballoon.model === "xen"
          ? 0
          : virtioModel(d.memballoon.model, f),
    });
  for (const x of d.rngs) out.push({ info: x, flags: virtioModel(x.model, f) });
  for (const x of d.memories)
    out.push({ info: x, flags: x.model === "virtio-pmem" || x.model === "virtio-mem" ? f.virtio : 0 });
  for (const x of d.panics) out.push({ info: x, flags: x.model === "pvpanic" ? f.pci | C.INTEGRATED : 0 });
  if (d.iommu) out.push({ info: d.iommu, flags: d.iommu.model === "virtio" ? f.virtio | C.INTEGRATED : 0 });
  if (d.vsock) out.push({ info: d.vsock, flags: virtioModel(d.vsock.model, f) });
  if (d.pstore) out.push({ info: d.pstore, flags: f.pci });
  for (const x of d.shmems ?? []) out.push({ info: x, flags: f.pci });
  for (const x of d.cryptos ?? []) out.push({ info: x, flags: f.virtio });
  for (const x of [...d.redirdevs, ...d.hubs, ...d.tpms]) out.push({ info: x, flags: 0 });
  return out;
}

function netFlags(model: string | undefined, type: string, f: Flags): number {
  if (type === "hostdev" || model === "usb-net") return 0;
  if (model === "virtio" || model === "virtio-non-transitional") return f.virtio;
  if (model === "virtio-transitional") return f.pci;
  if (model === "e1000e" || model === "igb" || model === undefined) return f.pcie;
  return f.pci;
}

function videoFlags(type: string, f: Flags): number {
  if (type === "virtio") return f.virtio;
  if (type === "bochs") return f.pcie;
  return ["vga", "cirrus", "vmvga", "xen", "vbox", "qxl", "parallels"].includes(type) ? f.pci : 0;
}

function fsFlags(driver: string | undefined, model: string | undefined, f: Flags): number {
  if (driver === undefined || driver === "path" || driver === "handle")
    return model === "virtio-transitional" ? f.pci : f.virtio;
  return driver === "virtiofs" ? f.virtio : 0;
}

/** PIIX3 IDE/USB on 0:1.1/0:1.2 are reserved by the chipset step, not collected. */
function isPiix3Builtin(c: ControllerDef | undefined, a: PciAddress): boolean {
  if (!c || a.domain !== 0 || a.bus !== 0 || a.slot !== 1) return false;
  if (c.type === "ide" && c.index === 0 && a.function === 1) return true;
  return (
    c.type === "usb" &&
    c.index === 0 &&
    (c.model === "piix3-uhci" || c.model === undefined) &&
    a.function === 2
  );
}

function createSet(def: DomainDef, f: Flags, nbuses: number, dryRun: boolean): PciAddressSet {
  const set = new PciAddressSet(nbuses, dryRun);
  for (const c of def.devices.controllers) {
    if (c.type !== "pci" || c.index < 0 || c.index >= nbuses || !c.model) continue;
    set.setBusModel(c.index, c.model as PciModel, c.target?.hotplug !== false);
  }
  if (nbuses > 0 && !set.buses[0]!.model) set.setBusModel(0, "pci-root", true);
  const defaultModel: PciModel = hasPcieRoot(def) ? "pcie-root-port" : "pci-bridge";
  for (let i = 1; i < nbuses; i++) if (!set.buses[i]!.model) set.setBusModel(i, defaultModel, true);
  for (const { info, flags, controller } of allDevices(def, f)) {
    if (!isPresent(info)) continue;
    if (isPiix3Builtin(controller, info.address)) continue;
    set.reserve(info.address, flags || C.PCI_DEVICE, true);
  }
  return set;
}

function fixedAddress(slot: number, fn: number): PciAddress {
  return { type: "pci", domain: 0, bus: 0, slot, function: fn };
}

function pinController(
  set: PciAddressSet,
  c: ControllerDef,
  want: PciAddress,
  message: string,
  flags: number,
): void {
  if (isPresent(c)) {
    const a = c.address;
    if (
      a.domain !== want.domain ||
      a.bus !== want.bus ||
      a.slot !== want.slot ||
      a.function !== want.function
    ) {
      throw new VirtError("CONFIG_UNSUPPORTED", { what: message });
    }
  } else c.address = { ...want };
  if (set.buses.length > 0) set.reserve(c.address as PciAddress, flags, true);
}

function primaryVideo(def: DomainDef, set: PciAddressSet, f: Flags, slot: number, flags: number): void {
  const v = def.devices.videos[0];
  if (!v || v.model.type === "none" || v.model.type === "ramfb" || !isWanted(v)) return;
  const want = fixedAddress(slot, 0);
  set.validate(want, flags, true);
  if (set.slotInUse(want)) set.reserveNext(v, videoFlags(v.model.type, f));
  else {
    set.reserve(want, flags, true);
    v.address = want;
  }
}

function piix3(def: DomainDef, set: PciAddressSet, f: Flags): void {
  const flags = C.AUTOASSIGN | C.PCI_DEVICE;
  for (const c of def.devices.controllers) {
    if (c.type === "ide" && c.index === 0)
      pinController(
        set,
        c,
        fixedAddress(1, 1),
        "Primary IDE controller must have PCI address 0:0:1.1",
        flags,
      );
    else if (c.type === "usb" && c.index === 0 && (c.model === "piix3-uhci" || c.model === undefined)) {
      pinController(
        set,
        c,
        fixedAddress(1, 2),
        "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2",
        flags,
      );
    }
  }
  if (set.buses.length > 0) {
    set.reserve(fixedAddress(1, 0), flags, true);
    set.reserve(fixedAddress(1, 3), flags, true);
  }
  primaryVideo(def, set, f, 2, flags);
}

function q35(def: DomainDef, set: PciAddressSet, f: Flags): void {
  const flags = C.PCIE_DEVICE;
  for (const c of def.devices.controllers) {
    if (c.type === "sata" && c.index === 0) {
      if (isPresent(c)) {
        const a = c.address;
        if (a.bus !== 0 || a.slot !== 0x1f || a.function !== 2) {
          throw new VirtError("CONFIG_UNSUPPORTED", {
            what: "Primary SATA controller must have PCI address 0:0:1f.2",
          });
        }
      } else c.address = fixedAddress(0x1f, 2);
    } else if (c.type === "usb" && c.model === "ich9-uhci1" && !c.address) {
      const slot = !set.slotInUse({ bus: 0, slot: 0x1d })
        ? 0x1d
        : !set.slotInUse({ bus: 0, slot: 0x1a })
          ? 0x1a
          : undefined;
      if (slot !== undefined) {
        set.reserve(fixedAddress(slot, 0), flags, true);
        c.address = { ...fixedAddress(slot, 0), multifunction: true };
      }
    } else if (
      c.type === "pci" &&
      c.model === "dmi-to-pci-bridge" &&
      !c.address &&
      !set.slotInUse({ bus: 0, slot: 0x1e })
    ) {
      set.reserve(fixedAddress(0x1e, 0), flags, true);
      c.address = fixedAddress(0x1e, 0);
    }
  }
  if (set.buses.length > 0) {
    set.reserve(fixedAddress(0x1f, 0), flags, true);
    set.reserve(fixedAddress(0x1f, 3), flags, true);
  }
  primaryVideo(def, set, f, 1, flags);
  if (!set.slotInUse({ bus: 0, slot: 0x1b })) {
    const sound = def.devices.sounds.find((s) => s.model === "ich9" && isWanted(s));
    if (sound) {
      set.reserve(fixedAddress(0x1b, 0), flags, true);
      sound.address = fixedAddress(0x1b, 0);
    }
  }
}

function chipset(def: DomainDef, set: PciAddressSet, f: Flags): void {
  if (isI440fx(def)) piix3(def, set, f);
  if (isQ35(def)) q35(def, set, f);
}

const USB2_FUNCTION: Readonly<Record<string, { fn: number; multi?: boolean }>> = {
  "ich9-ehci1": { fn: 7 },
  "ich9-uhci1": { fn: 0, multi: true },
  "ich9-uhci2": { fn: 1 },
  "ich9-uhci3": { fn: 2 },
};

function usb2Companion(def: DomainDef, set: PciAddressSet, c: ControllerDef, flags: number): void {
  const spec = USB2_FUNCTION[c.model ?? ""]!;
  const peer = def.devices.controllers.find((x) => isUsb2Companion(x) && x.index === c.index && isPresent(x));
  if (peer && isPresent(peer)) {
    const addr: PciAddress = { ...peer.address, function: spec.fn };
    delete addr.multifunction;
    if (spec.multi) addr.multifunction = true;
    set.reserve(addr, flags, true);
    if (!set.dryRun) c.address = addr;
    return;
  }
  const a = set.reserveNext(c, flags, spec.fn);
  if (!set.dryRun && spec.multi) c.address = { ...a, multifunction: true };
}

/** PCI flags of a sound card model: the PCI ones, virtio-sound as a virtio device, others none. */
function soundFlags(model: string, f: Flags): number {
  if (model === "virtio") return virtioModel(undefined, f);
  return ["es1370", "ac97", "ich6", "ich9"].includes(model) ? f.pci : 0;
}

function nextFor(set: PciAddressSet, info: DeviceCommon, flags: number): void {
  if (flags === 0) return;
  set.reserveNext(info, flags);
}

/** qemuDomainAssignDevicePCISlots: libvirt's order of auto-assignment. */
function assignSlots(def: DomainDef, set: PciAddressSet, f: Flags): void {
  const d = def.devices;
  for (const c of d.controllers) {
    if (c.type !== "pci" || c.model === "pci-root" || c.model === "pcie-root" || !isWanted(c)) continue;
    nextFor(set, c, controllerConnectFlags(c.model));
  }
  for (const x of d.filesystems) if (isWanted(x)) nextFor(set, x, fsFlags(x.driver?.type, x.model, f));
  for (const x of d.interfaces)
    if (x.type !== "hostdev" && isWanted(x)) nextFor(set, x, netFlags(x.model, x.type, f));
  for (const x of d.sounds) {
    if (!isWanted(x) || x.model === "sb16" || x.model === "pcspk" || x.model === "usb") continue;
    nextFor(set, x, soundFlags(x.model, f));
  }
  for (const c of d.controllers) {
    if (c.type === "pci" || (c.type === "usb" && c.model === "none") || c.type === "fdc" || c.type === "ccid")
      continue;
    if ((c.type === "ide" && c.index === 0) || (c.type === "scsi" && c.model === "ncr53c90") || !isWanted(c))
      continue;
    const flags = controllerFlags(c, f);
    if (flags === 0) continue;
    if (isUsb2Companion(c)) usb2Companion(def, set, c, flags);
    else nextFor(set, c, flags);
  }
  for (const x of d.disks) {
    if (
      x.target.bus !== "virtio" ||
      isPresent(x) ||
      x.address?.type === "ccw" ||
      x.address?.type === "virtio-mmio"
    )
      continue;
    if (!isWanted(x)) {
      throw new VirtError("CONFIG_UNSUPPORTED", {
        what: `virtio disk cannot have an address of type '${x.address?.type ?? "none"}'`,
      });
    }
    nextFor(set, x, virtioModel(x.model, f));
  }
  const hostdevs: DeviceCommon[] = [
    ...d.interfaces.filter((i) => i.type === "hostdev" && i.source?.hostAddress?.type !== "usb"),
    ...d.hostdevs.filter(
      (h) =>
        h.mode === "subsystem" &&
        (h.type === "pci" || h.type === "scsi_host" || (h.type === "mdev" && h.model === "vfio-pci")),
    ),
  ];
  for (const h of hostdevs) {
    if (!isWanted(h) || h.address?.type === "unassigned") continue;
    // vhost-scsi is a virtio device: its transitional model sits on conventional PCI
    const scsiHost = d.hostdevs.find((x) => x === h && x.type === "scsi_host");
    nextFor(set, h, scsiHost ? virtioModel(scsiHost.model, f) : f.pcie);
  }
  const mb = d.memballoon;
  if (mb && mb.model !== "none" && isWanted(mb)) nextFor(set, mb, virtioModel(mb.model, f));
  for (const r of d.rngs) if (isWanted(r)) nextFor(set, r, virtioModel(r.model, f));
  for (const w of d.watchdogs) if (w.model === "i6300esb" && isWanted(w)) nextFor(set, w, f.pci);
  for (const v of d.videos) {
    if (v.model.type === "none" || v.model.type === "ramfb" || !isWanted(v)) continue;
    nextFor(set, v, videoFlags(v.model.type, f));
  }
  // ivshmem is a conventional PCI device
  for (const sh of d.shmems ?? []) if (isWanted(sh)) nextFor(set, sh, f.pci);
  for (const i of d.inputs) if (i.bus === "virtio" && isWanted(i)) nextFor(set, i, virtioModel(i.model, f));
  for (const s of d.serials) if (s.target.type === "pci-serial" && isWanted(s)) nextFor(set, s, f.pci);
  if (d.iommu?.model === "virtio" && isWanted(d.iommu)) nextFor(set, d.iommu, f.virtio | C.INTEGRATED);
  if (d.vsock && isWanted(d.vsock)) nextFor(set, d.vsock, virtioModel(d.vsock.model, f));
  for (const m of d.memories) {
    if ((m.model === "virtio-pmem" || m.model === "virtio-mem") && isWanted(m)) nextFor(set, m, f.virtio);
  }
  for (const c of d.cryptos ?? []) if (isWanted(c)) nextFor(set, c, f.virtio);
  for (const p of d.panics) if (p.model === "pvpanic" && isWanted(p)) nextFor(set, p, f.pci | C.INTEGRATED);
  if (d.pstore && isWanted(d.pstore)) nextFor(set, d.pstore, f.pci);
}

/** The dry run: adds the PCI controllers the devices need; returns the number of buses. */
function dryRun(def: DomainDef, f: Flags, maxIdx: number): number {
  const set = createSet(def, f, maxIdx + 1, true);
  chipset(def, set, f);
  if (hasPciRoot(def)) {
    const full = set.buses.every((_, i) => set.fullyReserved(i));
    if (!full) set.reserveNext({}, C.AUTOASSIGN | C.PCI_DEVICE);
  }
  assignSlots(def, set, f);
  if (maxIdx <= 0 && set.buses.length > maxIdx + 1 && hasPcieRoot(def))
    set.reserveNext({}, C.AUTOASSIGN | C.PCIE_DEVICE);
  for (let i = 1; i < set.buses.length; i++) {
    const model = set.buses[i]!.model;
    const added = maybeAddController(def, "pci", i, model);
    if (!added || model === "pci-root" || model === "pcie-root") continue;
    set.reserveNext({}, controllerConnectFlags(model));
  }
  return set.buses.length;
}

const MODEL_NAMES: Readonly<Record<string, string>> = {
  "pci-bridge": "pci-bridge",
  "dmi-to-pci-bridge": "i82801b11-bridge",
  "pcie-to-pci-bridge": "pcie-pci-bridge",
  "pcie-root-port": "pcie-root-port",
  "pcie-switch-upstream-port": "x3130-upstream",
  "pcie-switch-downstream-port": "xio3130-downstream",
  "pci-expander-bus": "pxb",
  "pcie-expander-bus": "pxb-pcie",
};

function lowestBusNr(def: DomainDef): number {
  const nrs = def.devices.controllers.flatMap((c) =>
    c.type === "pci" && c.target?.busNr !== undefined ? [c.target.busNr] : [],
  );
  const lowest = Math.min(256, ...nrs);
  return lowest <= 2 ? -1 : lowest - 2;
}

function pciControllerDefaults(def: DomainDef, c: ControllerDef): void {
  const name = MODEL_NAMES[c.model ?? ""];
  if (c.modelName === undefined && name) c.modelName = name;
  const addr = c.address?.type === "pci" ? c.address : undefined;
  if (c.model === "pci-bridge") {
    c.target ??= {};
    c.target.chassisNr ??= c.index;
    if (addr && c.index <= addr.bus) {
      throw new VirtError("CONFIG_UNSUPPORTED", {
        what: `PCI controller at index ${c.index} (0x${c.index.toString(16).padStart(2, "0")}) has bus='0x${addr.bus.toString(16).padStart(2, "0")}', but index must be larger than bus`,
      });
    }
  } else if (c.model === "pcie-root-port" || c.model === "pcie-switch-downstream-port") {
    c.target ??= {};
    c.target.chassis ??= c.index;
    if (addr) c.target.port ??= c.model === "pcie-root-port" ? (addr.slot << 3) + addr.function : addr.slot;
  } else if (c.model === "pci-expander-bus" || c.model === "pcie-expander-bus") {
    c.target ??= {};
    if (c.target.busNr === undefined) {
      const nr = lowestBusNr(def);
      if (nr < 0)
        throw new VirtError("CONFIG_UNSUPPORTED", {
          what: "No free busNr lower than current lowest busNr is available to auto-assign. Must be manually assigned",
        });
      c.target.busNr = nr;
    }
  }
}

/** Marks function 0 of every slot that has other functions in use as multifunction. */
function setAllMulti(def: DomainDef, f: Flags): void {
  const infos = allDevices(def, f).map((x) => x.info);
  for (const info of infos) {
    const a = info.address;
    if (a?.type !== "pci" || a.function === 0) continue;
    const first = infos.find((o) => {
      const b = o.address;
      return (
        b?.type === "pci" && b.domain === a.domain && b.bus === a.bus && b.slot === a.slot && b.function === 0
      );
    });
    if (first?.address?.type === "pci") first.address.multifunction ??= true;
  }
}

function supportsPci(def: DomainDef): boolean {
  return def.devices.controllers.some((c) => c.type === "pci");
}

export function assignPciAddresses(def: DomainDef): void {
  if (!supportsPci(def)) {
    // An x86 machine without PCI (isapc): a device that needs a PCI slot finds no bus.
    if (def.os.machine === "isapc") assignSlots(def, createSet(def, flagSet(def), 0, false), flagSet(def));
    return;
  }
  const f = flagSet(def);
  const maxIdx = Math.max(-1, ...def.devices.controllers.filter((c) => c.type === "pci").map((c) => c.index));
  let nbuses = maxIdx + 1;
  if (nbuses > 0) nbuses = dryRun(def, f, maxIdx);
  const set = createSet(def, f, nbuses, false);
  chipset(def, set, f);
  assignSlots(def, set, f);
  setAllMulti(def, f);
  for (const c of def.devices.controllers) if (c.type === "pci") pciControllerDefaults(def, c);
}
