/**
 * Checks libvirt makes after parsing (virDomainDefValidate and the QEMU driver's validation)
 * that the corpus and users meet: names, memory sizes, duplicate targets, boot and CPU rules.
 */
import type { XmlElement } from "../xml.ts";
import type { DiskDef, DomainDef } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";

/** Smallest guest memory libvirt's QEMU driver accepts without complaint (KiB). */
export const MIN_MEMORY_KIB = 1024;

function nameError(root: XmlElement, name: string, reason: string): VirtError {
  const el = root.children.find((c) => c.name === "name");
  const xpath = "/domain/name";
  const line = el?.line ?? root.line;
  return new VirtError(
    "DOMAIN_INVALID_NAME",
    { name, xpath, line, reason },
    { xpath, line, column: el?.column ?? root.column },
  );
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlChars = /[\u0000-\u001f\u007f]/;

export function validateName(root: XmlElement, name: string): void {
  if (name === "") throw nameError(root, name, "it is empty");
  if (name.includes("/")) throw nameError(root, name, "it cannot contain '/'");
  if (name.includes("..")) throw nameError(root, name, "it cannot contain '..'");
  if (controlChars.test(name)) {
    throw nameError(
      root,
      name.replace(new RegExp(controlChars.source, "g"), "?"),
      "it cannot contain control characters",
    );
  }
  if (name.trim() !== name) throw nameError(root, name, "it cannot begin or end with white space");
}

function duplicateTargets(def: DomainDef): void {
  const disks = def.devices.disks;
  const src = (d: DiskDef): string =>
    d.source?.file ?? d.source?.dev ?? d.source?.dir ?? d.source?.name ?? d.source?.volume ?? "";
  for (let i = 0; i < disks.length; i++) {
    for (let j = i + 1; j < disks.length; j++) {
      if (disks[i]!.target.dev !== disks[j]!.target.dev) continue;
      throw new VirtError(
        "DOMAIN_DISK_TARGET_DUPLICATE",
        { target: disks[i]!.target.dev, first: src(disks[j]!), second: src(disks[i]!) },
        { xpath: `/domain/devices/disk[${j + 1}]/target/@dev` },
      );
    }
  }
  const tags = new Set<string>();
  def.devices.filesystems.forEach((fs, i) => {
    if (tags.has(fs.target.dir)) {
      throw new VirtError(
        "DOMAIN_FS_TARGET_DUPLICATE",
        { target: fs.target.dir },
        { xpath: `/domain/devices/filesystem[${i + 1}]/target/@dir` },
      );
    }
    tags.add(fs.target.dir);
  });
}

/** Two disks of one bus at the same drive address (virDomainDefDuplicateDriveAddressesValidate). */
function duplicateDriveAddresses(def: DomainDef): void {
  const disks = def.devices.disks;
  for (let i = 0; i < disks.length; i++) {
    const a = disks[i]!.address;
    if (a?.type !== "drive") continue;
    for (let j = i + 1; j < disks.length; j++) {
      const b = disks[j]!.address;
      if (disks[i]!.target.bus !== disks[j]!.target.bus || b?.type !== "drive") continue;
      if (a.controller === b.controller && a.bus === b.bus && a.target === b.target && a.unit === b.unit) {
        throw new VirtError(
          "DOMAIN_DISK_DRIVE_ADDRESS_DUPLICATE",
          {
            target: disks[i]!.target.dev,
            controller: a.controller,
            bus: a.bus,
            unitTarget: a.target,
            unit: a.unit,
          },
          { xpath: `/domain/devices/disk[${j + 1}]/address` },
        );
      }
    }
  }
}

/** Buses whose disks sit on a drive address only (virDomainDiskAddressDiskBusCompatibility). */
const DRIVE_BUSES = new Set(["ide", "fdc", "scsi", "sata"]);
const VPD_LIMITS = { vendor: 8, product: 16 } as const;

/** One disk (virDomainDiskDefValidate and qemuValidateDomainDeviceDefDisk). */
function disk(d: DiskDef, i: number): void {
  const xpath = `/domain/devices/disk[${i + 1}]`;
  const bus = d.target.bus ?? "none";
  if (d.address && DRIVE_BUSES.has(bus) && d.address.type !== "drive") {
    throw new VirtError(
      "DOMAIN_DISK_ADDRESS_BUS_MISMATCH",
      { addressType: d.address.type, target: d.target.dev, bus },
      { xpath: `${xpath}/address/@type` },
    );
  }
  if (/[0-9]$/.test(d.target.dev) && d.target.bus !== "sd") {
    throw new VirtError(
      "DOMAIN_DISK_TARGET_PARTITION",
      { target: d.target.dev },
      { xpath: `${xpath}/target/@dev` },
    );
  }
  if (d.device === "lun" && d.type !== "block" && d.type !== "network" && d.type !== "volume") {
    throw new VirtError("DOMAIN_DISK_LUN_SOURCE", {}, { xpath: `${xpath}/@type` });
  }
  for (const what of ["vendor", "product"] as const) {
    const v = d[what];
    if (v === undefined) continue;
    // SATA disks take a product name too.
    if (bus !== "scsi" && (what === "vendor" || bus !== "sata"))
      throw new VirtError("DOMAIN_DISK_SCSI_ONLY", { what }, { xpath: `${xpath}/${what}` });
    if (v.length > VPD_LIMITS[what]) {
      throw new VirtError(
        "DOMAIN_DISK_VPD_TOO_LONG",
        { what, max: VPD_LIMITS[what] },
        { xpath: `${xpath}/${what}` },
      );
    }
  }
  const fmt = d.driver?.type;
  if (fmt === "cow") throw new VirtError("DOMAIN_DISK_FORMAT_COW", {}, { xpath: `${xpath}/driver/@type` });
  if (fmt === "dir") throw new VirtError("DOMAIN_DISK_FORMAT_DIR", {}, { xpath: `${xpath}/driver/@type` });
  if (fmt === "iso") throw new VirtError("DOMAIN_DISK_FORMAT_ISO", {}, { xpath: `${xpath}/driver/@type` });
  if (bus === "usb" && d.source === undefined) {
    throw new VirtError("DOMAIN_DISK_USB_EMPTY", {}, { xpath: `${xpath}/source` });
  }
  if (d.shareable && !d.readonly && fmt !== undefined && fmt !== "raw") {
    throw new VirtError(
      "DOMAIN_DISK_SHARED_FORMAT",
      { target: d.target.dev },
      { xpath: `${xpath}/shareable` },
    );
  }
}

function memory(def: DomainDef): void {
  if (def.memory > 0 && def.memory < MIN_MEMORY_KIB) {
    throw new VirtError(
      "DOMAIN_MEMORY_TOO_SMALL",
      { what: "guest memory", size: def.memory, min: MIN_MEMORY_KIB },
      { xpath: "/domain/memory" },
    );
  }
}

function numa(def: DomainDef): void {
  const cells = def.cpu?.numa?.cells;
  if (!cells) return;
  cells.forEach((c, i) => {
    if (c.id !== i) {
      throw new VirtError(
        "XML_INVALID",
        {
          what: `NUMA cell ids must be 0..${cells.length - 1} in order, found id ${c.id} at position ${i}`,
          xpath: "/domain/cpu/numa/cell",
          line: 0,
        },
        { xpath: `/domain/cpu/numa/cell[${i + 1}]` },
      );
    }
  });
  for (const p of def.memoryBacking?.hugepages?.pages ?? []) {
    for (const n of (p.nodeset ?? "").split(",").filter((x) => x !== "")) {
      const max = Number(n.split("-").pop());
      if (max >= cells.length) {
        throw new VirtError(
          "CONFIG_UNSUPPORTED",
          { what: `hugepages: node ${max} not found` },
          { xpath: "/domain/memoryBacking/hugepages/page/@nodeset" },
        );
      }
    }
  }
}

function vcpus(def: DomainDef): void {
  const t = def.cpu?.topology;
  if (t) {
    const total = t.sockets * t.dies * t.clusters * t.cores * t.threads;
    if (total !== def.vcpu.count) {
      throw new VirtError(
        "CONFIG_UNSUPPORTED",
        { what: `CPU topology doesn't match maximum vcpu count` },
        { xpath: "/domain/cpu/topology" },
      );
    }
  }
  if (def.vcpu.current !== undefined && def.vcpu.current > def.vcpu.count) {
    throw new VirtError(
      "CONFIG_UNSUPPORTED",
      { what: "maximum vcpus count must be an integer greater than or equal to current vcpus count" },
      { xpath: "/domain/vcpu/@current" },
    );
  }
}

/** Validation of a parsed (and defaulted) definition. Structural checks always run. */
export function validateDomain(def: DomainDef, root: XmlElement, noDefaults: boolean): void {
  validateName(root, def.name);
  duplicateTargets(def);
  if (noDefaults) return;
  def.devices.disks.forEach(disk);
  duplicateDriveAddresses(def);
  memory(def);
  numa(def);
  vcpus(def);
}
