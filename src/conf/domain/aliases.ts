/**
 * Device aliases (QEMU ids) the way libvirt's QEMU driver names them (qemuAssignDeviceAliases).
 * The inactive XML shows none of them except user aliases (`ua-*`); the command line needs all.
 */
import type { ControllerDef, DeviceCommon, DiskDef, DomainDef, MemoryDeviceDef } from "./types.ts";
import { isI440fx, isQ35 } from "./machine.ts";
import { diskNameToIndex } from "./address-drive.ts";

/** The N of an alias `${prefix}N`, or -1. */
function aliasIndex(alias: string | undefined, prefix: string): number {
  if (!alias?.startsWith(prefix)) return -1;
  const rest = alias.slice(prefix.length);
  return /^[0-9]+$/.test(rest) ? Number(rest) : -1;
}

function nextIndex(list: readonly DeviceCommon[], prefix: string): number {
  return Math.max(-1, ...list.map((d) => aliasIndex(d.alias, prefix))) + 1;
}

function scsiControllerModel(def: DomainDef, index: number): string | undefined {
  return def.devices.controllers.find((c) => c.type === "scsi" && c.index === index)?.model;
}

export function diskAlias(def: DomainDef, disk: DiskDef): string {
  const bus = disk.target.bus ?? "ide";
  const a = disk.address;
  if (a?.type === "drive") {
    if (bus === "scsi") {
      return scsiControllerModel(def, a.controller) === "lsilogic"
        ? `scsi${a.controller}-${a.bus}-${a.unit}`
        : `scsi${a.controller}-${a.bus}-${a.target}-${a.unit}`;
    }
    if (bus === "ide" || bus === "sata" || bus === "fdc") return `${bus}${a.controller}-${a.bus}-${a.unit}`;
  }
  return `${bus}-disk${diskNameToIndex(disk.target.dev)}`;
}

export function controllerAlias(def: DomainDef, c: ControllerDef): string {
  if (c.type === "pci") return c.model === "pcie-root" ? `pcie.${c.index}` : `pci.${c.index}`;
  if (c.type === "ide" && c.index === 0 && isI440fx(def)) return "ide";
  if (c.type === "sata" && c.index === 0 && isQ35(def)) return "ide";
  if (c.type === "usb" && c.index === 0) return "usb";
  if (c.type === "scsi" && c.index === 0 && c.model === "ncr53c90") return "scsi";
  return `${c.type}${c.index}`;
}

const MEMORY_PREFIX: Readonly<Record<MemoryDeviceDef["model"], string>> = {
  dimm: "dimm",
  nvdimm: "nvdimm",
  "virtio-pmem": "virtiopmem",
  "virtio-mem": "virtiomem",
  "sgx-epc": "epc",
};

function indexed(list: readonly DeviceCommon[], prefix: string): void {
  list.forEach((d, i) => {
    d.alias ??= `${prefix}${i}`;
  });
}

/** Fills `alias` on every device that has none (idempotent; user aliases are kept). */
export function assignAliases(def: DomainDef): void {
  const d = def.devices;
  for (const disk of d.disks) disk.alias ??= diskAlias(def, disk);
  for (const c of d.controllers) c.alias ??= controllerAlias(def, c);
  const hostdevLike: DeviceCommon[] = [...d.interfaces.filter((n) => n.type === "hostdev"), ...d.hostdevs];
  for (const n of d.interfaces) {
    if (n.alias) continue;
    if (n.type === "hostdev") n.alias = `hostdev${nextIndex(hostdevLike, "hostdev")}`;
    else
      n.alias = `net${nextIndex(
        d.interfaces.filter((x) => x.type !== "hostdev"),
        "net",
      )}`;
  }
  indexed(d.filesystems, "fs");
  indexed(d.sounds, "sound");
  for (const h of d.hostdevs) h.alias ??= `hostdev${nextIndex(hostdevLike, "hostdev")}`;
  indexed(d.redirdevs, "redir");
  indexed(d.smartcards ?? [], "smartcard");
  indexed(d.videos, "video");
  indexed(d.serials, "serial");
  indexed(d.parallels, "parallel");
  indexed(d.channels, "channel");
  indexed(d.consoles, "console");
  indexed(d.hubs, "hub");
  indexed(d.watchdogs, "watchdog");
  if (d.memballoon) d.memballoon.alias ??= "balloon0";
  indexed(d.rngs, "rng");
  indexed(d.tpms, "tpm");
  indexed(d.inputs, "input");
  for (const m of d.memories) {
    const prefix = MEMORY_PREFIX[m.model];
    // a DIMM is named after its slot; the PCI memory devices and SGX EPC count up
    const dimmSlot =
      m.model === "dimm" || m.model === "nvdimm"
        ? m.address?.type === "dimm"
          ? (m.address.slot ?? 0)
          : 0
        : undefined;
    m.alias ??= `${prefix}${dimmSlot ?? nextIndex(d.memories, prefix)}`;
  }
  indexed(d.panics, "panic");
  if (d.vsock) d.vsock.alias ??= "vsock0";
  if (d.pstore) d.pstore.alias ??= "pstore0";
  if (d.iommu) d.iommu.alias ??= "iommu0";
  indexed(d.shmems ?? [], "shmem");
  indexed(d.cryptos ?? [], "crypto");
}
