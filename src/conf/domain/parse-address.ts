/**
 * `<address>`, `<alias>`, `<boot>`, `<acpi>` and `<rom>` of a device (libvirt's device info).
 */
import type { XmlElement } from "../xml.ts";
import type { DeviceAddress, DeviceCommon, PciAddress, VirtioOptions } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";
import { invalidAttr, onOff, reqEnum, reqUInt, str, uintAttr, yesNo } from "./reader.ts";

/**
 * An s390 boot `loadparm`, kept in upper case as libvirt keeps it: 1 to 8 characters of
 * A-Z, 0-9, '.' and blank.
 */
function validLoadparm(boot: XmlElement, value: string): string {
  const upper = value.replace(/[a-z]+/g, (m) => m.toUpperCase());
  const xpath = `${boot.xpath}/@loadparm`;
  if (upper.length < 1 || upper.length > 8)
    throw new VirtError("DOMAIN_BOOT_LOADPARM_LENGTH", { value: upper }, { xpath });
  if (!/^[A-Z0-9. ]+$/.test(upper))
    throw new VirtError("DOMAIN_BOOT_LOADPARM_CHARS", { value: upper }, { xpath });
  return upper;
}

const ADDRESS_TYPES = [
  "pci",
  "drive",
  "virtio-serial",
  "ccid",
  "usb",
  "spapr-vio",
  "isa",
  "dimm",
  "ccw",
  "virtio-mmio",
  "virtio-s390",
  "unassigned",
] as const;

/** One part of a PCI address, range-checked with libvirt's wording (virPCIDeviceAddressIsValid). */
function pciPart(el: XmlElement, name: "domain" | "bus" | "slot" | "function", max: number): number {
  const v = uintAttr(el, name, { max: 0xffffffff }) ?? 0;
  if (v > max) {
    const hex = (n: number): string => `0x${n.toString(16)}`;
    const shown = name === "function" ? `function=${hex(v)}` : `${name}='${hex(v)}'`;
    const limit = name === "function" ? String(max) : `0x${max.toString(16).toUpperCase()}`;
    throw new VirtError(
      "DOMAIN_PCI_ADDRESS_PART_RANGE",
      { part: shown, max: limit },
      { xpath: `${el.xpath}/@${name}`, line: el.line, column: el.column },
    );
  }
  return v;
}

/** PCI address parts; absent ones are 0 (libvirt's rule). */
export function parsePciAddress(el: XmlElement): PciAddress {
  const addr: PciAddress = {
    type: "pci",
    domain: pciPart(el, "domain", 0xffff),
    bus: pciPart(el, "bus", 0xff),
    slot: pciPart(el, "slot", 0x1f),
    function: pciPart(el, "function", 7),
  };
  const multi = onOff(el, "multifunction");
  if (multi !== undefined) addr.multifunction = multi;
  const zpci = el.child("zpci");
  if (zpci) {
    const uid = uintAttr(zpci, "uid", { min: 1, max: 0xffff });
    const fid = uintAttr(zpci, "fid", { max: 0xffffffff });
    addr.zpci = {};
    if (uid !== undefined) addr.zpci.uid = uid;
    if (fid !== undefined) addr.zpci.fid = fid;
  }
  return addr;
}

function parseUsbPort(el: XmlElement): string | undefined {
  const port = str(el, "port");
  if (port === undefined) return undefined;
  if (!/^[0-9]{1,3}(\.[0-9]{1,3}){0,3}$/.test(port) || port.split(".").some((p) => Number(p) > 255)) {
    // libvirt's number for it (virDomainDeviceUSBAddressParsePort reports an internal error)
    const xpath = `${el.xpath}/@port`;
    throw new VirtError(
      "DOMAIN_USB_PORT_PATH_INVALID",
      { port, xpath, line: el.line },
      { xpath, line: el.line, column: el.column },
    );
  }
  return port;
}

export function parseAddress(el: XmlElement): DeviceAddress {
  const type = reqEnum(el, "type", ADDRESS_TYPES);
  switch (type) {
    case "pci":
      return parsePciAddress(el);
    case "drive":
      return {
        type,
        controller: uintAttr(el, "controller", { hex: false, max: 0xffffffff }) ?? 0,
        bus: uintAttr(el, "bus", { hex: false, max: 0xffffffff }) ?? 0,
        target: uintAttr(el, "target", { hex: false, max: 0xffffffff }) ?? 0,
        unit: uintAttr(el, "unit", { hex: false, max: 0xffffffff }) ?? 0,
      };
    case "virtio-serial":
      return {
        type,
        controller: uintAttr(el, "controller", { max: 0xffffffff }) ?? 0,
        bus: uintAttr(el, "bus", { max: 0xffffffff }) ?? 0,
        port: uintAttr(el, "port", { max: 0xffffffff }) ?? 0,
      };
    case "ccid":
      return {
        type,
        controller: uintAttr(el, "controller", { max: 0xffffffff }) ?? 0,
        slot: uintAttr(el, "slot", { max: 0xffffffff }) ?? 0,
      };
    case "usb": {
      const a: DeviceAddress = { type, bus: uintAttr(el, "bus", { max: 0xffffffff }) ?? 0 };
      const port = parseUsbPort(el);
      if (port !== undefined) a.port = port;
      return a;
    }
    case "spapr-vio": {
      const reg = uintAttr(el, "reg", { max: 0xffffffff });
      return reg === undefined ? { type } : { type, reg };
    }
    case "isa": {
      const a: DeviceAddress = { type };
      const iobase = uintAttr(el, "iobase", { max: 0xffff });
      const irq = uintAttr(el, "irq", { max: 0xffff });
      if (iobase !== undefined) a.iobase = iobase;
      if (irq !== undefined) a.irq = irq;
      return a;
    }
    case "dimm": {
      const a: DeviceAddress = { type };
      const slot = uintAttr(el, "slot", { hex: false, max: 0xffffffff });
      const base = uintAttr(el, "base");
      if (slot !== undefined) a.slot = slot;
      if (base !== undefined) a.base = base;
      return a;
    }
    case "ccw":
      return {
        type,
        cssid: reqUInt(el, "cssid", { max: 0xfe }),
        ssid: reqUInt(el, "ssid", { max: 3 }),
        devno: reqUInt(el, "devno", { max: 0xffff }),
      };
    default:
      return { type };
  }
}

/** Set while a status document is read (libvirt's PARSE_STATUS): every alias is kept. */
let statusParse = false;

/** Whether a status document is being read (live values such as autoport ports are kept). */
export function isStatusParse(): boolean {
  return statusParse;
}

/** Runs `fn` (a synchronous parse) keeping every device's `<alias>` when `status` is set. */
/** True while a status document (a running domain's live XML) is being parsed. */
export function parsingStatus(): boolean {
  return statusParse;
}

export function withStatusAliases<T>(status: boolean, fn: () => T): T {
  const saved = statusParse;
  statusParse = status;
  try {
    return fn();
  } finally {
    statusParse = saved;
  }
}

/**
 * Reads the device-info children of a device element into `dev`: `<alias>` (user aliases
 * `ua-*` only, as libvirt keeps in inactive definitions; every alias in a status document),
 * `<address>`, `<boot>`, `<acpi>`, `<rom>`.
 */
/** The virtio options of a device's `<driver>` (virDomainVirtioOptionsParseXML). */
export function parseVirtioOptions(driver: XmlElement | undefined, dev: DeviceCommon): void {
  if (!driver) return;
  const v: VirtioOptions = {};
  const iommu = onOff(driver, "iommu");
  const ats = onOff(driver, "ats");
  const packed = onOff(driver, "packed");
  const pagePerVq = onOff(driver, "page_per_vq");
  if (iommu !== undefined) v.iommu = iommu;
  if (ats !== undefined) v.ats = ats;
  if (packed !== undefined) v.packed = packed;
  if (pagePerVq !== undefined) v.pagePerVq = pagePerVq;
  if (Object.keys(v).length > 0) dev.virtio = v;
}

export function parseDeviceInfo(el: XmlElement, dev: DeviceCommon): void {
  const alias = el.child("alias");
  if (alias) {
    const name = str(alias, "name");
    if (name === undefined) throw invalidAttr(alias, "name", "", "expected an alias name");
    if (name.startsWith("ua-")) {
      if (!/^ua-[A-Za-z0-9_-]+$/.test(name))
        throw invalidAttr(alias, "name", name, "expected 'ua-' followed by letters, digits, '_' or '-'");
      dev.alias = name;
    } else if (statusParse) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name))
        throw invalidAttr(alias, "name", name, "expected letters, digits, '_', '.' or '-'");
      dev.alias = name;
    }
  }
  const address = el.child("address");
  if (address) dev.address = parseAddress(address);
  const boot = el.child("boot");
  if (boot) {
    dev.boot = { order: reqUInt(boot, "order", { hex: false, min: 1, max: 0x7fffffff }) };
    const loadparm = str(boot, "loadparm");
    if (loadparm !== undefined) dev.boot.loadparm = validLoadparm(boot, loadparm);
  }
  const acpi = el.child("acpi");
  if (acpi) {
    const index = uintAttr(acpi, "index", { hex: false, min: 1, max: 16383 });
    if (index !== undefined) dev.acpiIndex = index;
  }
  const rom = el.child("rom");
  if (rom) {
    dev.rom = {};
    const bar = onOff(rom, "bar");
    const file = str(rom, "file");
    const enabled = yesNo(rom, "enabled");
    if (bar !== undefined) dev.rom.bar = bar;
    if (file !== undefined) dev.rom.file = file;
    if (enabled !== undefined) dev.rom.enabled = enabled;
  }
}
