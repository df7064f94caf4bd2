/**
 * `<hostdev>` (USB, PCI, SCSI, mediated devices passed through from the host).
 */
import { VirtError } from "../../util/errors/index.ts";
import type { XmlElement } from "../xml.ts";
import type { HostdevDef, HostdevSource } from "./types.ts";
import { parseDeviceInfo } from "./parse-address.ts";
import { parseHostdevIscsi } from "./hostdev-iscsi.ts";
import {
  enumAttr,
  missingChild,
  onOff,
  reqEnum,
  reqStr,
  reqUInt,
  str,
  structural,
  uintAttr,
  yesNo,
} from "./reader.ts";

const TYPES = ["usb", "pci", "scsi", "scsi_host", "mdev", "storage", "misc", "net"] as const;

function parseUsbSource(src: XmlElement, s: HostdevSource): void {
  const vendor = src.child("vendor");
  if (vendor) s.vendor = reqUInt(vendor, "id", { max: 0xffff });
  const product = src.child("product");
  if (product) s.product = reqUInt(product, "id", { max: 0xffff });
  const addr = src.child("address");
  if (addr)
    s.usbAddress = {
      bus: reqUInt(addr, "bus", { max: 0xffff }),
      device: reqUInt(addr, "device", { max: 0xffff }),
    };
  const sp = enumAttr(src, "startupPolicy", ["mandatory", "requisite", "optional"] as const);
  if (sp) s.startupPolicy = sp;
  const gr = enumAttr(src, "guestReset", ["off", "uninitialized", "on"] as const);
  if (gr) s.guestReset = gr;
  if (s.vendor === undefined && s.usbAddress === undefined) {
    throw structural(src, "USB hostdev source needs <vendor>/<product> or <address bus= device=>");
  }
  if ((s.vendor === undefined) !== (s.product === undefined)) {
    throw structural(src, "USB hostdev source needs both <vendor> and <product>");
  }
}

function parsePciSource(src: XmlElement, s: HostdevSource): void {
  const addr = src.child("address");
  if (!addr) throw missingChild(src, "address");
  str(addr, "type");
  s.pciAddress = {
    domain: uintAttr(addr, "domain", { max: 0xffff }) ?? 0,
    bus: uintAttr(addr, "bus", { max: 0xff }) ?? 0,
    slot: uintAttr(addr, "slot", { max: 0x1f }) ?? 0,
    function: uintAttr(addr, "function", { max: 7 }) ?? 0,
  };
  const wf = yesNo(src, "writeFiltering");
  if (wf !== undefined) s.writeFiltering = wf;
}

function parseSource(src: XmlElement, type: HostdevDef["type"]): HostdevSource {
  const s: HostdevSource = {};
  if (type === "usb") parseUsbSource(src, s);
  else if (type === "pci") parsePciSource(src, s);
  else if (type === "scsi" && src.attr("protocol") !== undefined) s.iscsi = parseHostdevIscsi(src);
  else if (type === "scsi") {
    const adapter = src.child("adapter");
    const addr = src.child("address");
    if (!adapter) throw missingChild(src, "adapter");
    if (!addr) throw missingChild(src, "address");
    s.scsi = {
      adapter: reqStr(adapter, "name"),
      bus: reqUInt(addr, "bus", { hex: false }),
      target: reqUInt(addr, "target", { hex: false }),
      unit: reqUInt(addr, "unit", { hex: false }),
    };
  } else if (type === "scsi_host") {
    s.vhost = { protocol: reqEnum(src, "protocol", ["vhost"] as const), wwpn: reqStr(src, "wwpn") };
  } else if (type === "mdev") {
    const addr = src.child("address");
    if (!addr) throw missingChild(src, "address");
    const uuid = addr.attr("uuid");
    if (uuid === undefined) {
      throw new VirtError(
        "DOMAIN_HOSTDEV_MDEV_UUID_MISSING",
        {},
        { xpath: `${addr.xpath}/@uuid`, line: addr.line, column: addr.column },
      );
    }
    s.mdevUuid = uuid;
  } else {
    src.markAllUsed();
  }
  return s;
}

export function parseHostdev(el: XmlElement): HostdevDef {
  const mode = enumAttr(el, "mode", ["subsystem", "capabilities"] as const) ?? "subsystem";
  const type = reqEnum(el, "type", TYPES);
  const src = el.child("source");
  if (!src) throw missingChild(el, "source");
  // rawio= and sgio= belong to SCSI host devices only (virDomainHostdevDefParseXMLSubsys).
  for (const attr of ["rawio", "sgio"] as const) {
    if (type !== "scsi" && el.attr(attr) !== undefined) {
      throw new VirtError(
        "DOMAIN_HOSTDEV_SCSI_ONLY_ATTR",
        { attr },
        { xpath: `${el.xpath}/@${attr}`, line: el.line, column: el.column },
      );
    }
  }
  const h: HostdevDef = { mode, type, source: parseSource(src, type) };
  const managed = yesNo(el, "managed");
  if (managed !== undefined) h.managed = managed;
  const model = str(el, "model");
  if (model !== undefined) h.model = model;
  const display = onOff(el, "display");
  if (display !== undefined) h.display = display;
  const ramfb = onOff(el, "ramfb");
  if (ramfb !== undefined) h.ramfb = ramfb;
  const driver = el.child("driver");
  if (driver) {
    h.driver = {};
    const name = enumAttr(driver, "name", ["default", "kvm", "vfio", "xen"] as const);
    const dm = str(driver, "model");
    if (name && name !== "default") h.driver.name = name;
    if (dm !== undefined) h.driver.model = dm;
  }
  if (el.child("readonly")) h.readonly = true;
  if (el.child("shareable")) h.shareable = true;
  const teaming = el.child("teaming");
  if (teaming) {
    h.teaming = { type: reqEnum(teaming, "type", ["persistent", "transient"] as const) };
    const p = str(teaming, "persistent");
    if (p !== undefined) h.teaming.persistent = p;
  }
  parseDeviceInfo(el, h);
  return h;
}
