/**
 * One device element on its own (`attach-device FILE`, `detach-device FILE`, `update-device
 * FILE`): what kind it is, the device parsed alone (for matching it against a definition), the
 * domain XML with it added (parsed again with the domain's defaults, so the new device gets its
 * defaults, address and validation exactly as if it had been in the XML from the start), and the
 * lookups libvirt uses to find the device a snippet names (disk by target, interface by MAC,
 * host device by its source).
 */
import { VirtError } from "../../util/errors/index.ts";
import { parseXml, type XmlElement } from "../xml.ts";
import { parseDomainXML } from "./index.ts";
import type { DiskDef, DomainDef, GraphicsDef, HostdevDef, InterfaceDef } from "./types.ts";

/** Device elements that attach/detach/update accept (the rest are refused by name). */
export const SNIPPET_KINDS = ["disk", "interface", "hostdev", "filesystem", "controller"] as const;
export type SnippetKind = (typeof SNIPPET_KINDS)[number];

export interface DeviceSnippet {
  readonly kind: SnippetKind;
  /** The snippet's text without an XML declaration (ready to splice into `<devices>`). */
  readonly xml: string;
  readonly root: XmlElement;
}

function invalid(document: string, reason: string): VirtError {
  return new VirtError("HOTPLUG_SNIPPET_INVALID", { document, reason });
}

/** Reads a device snippet; throws a catalogued error for XML that is not one known device. */
export function readDeviceSnippet(xml: string, document = "(device_definition)"): DeviceSnippet {
  let root: XmlElement;
  try {
    root = parseXml(xml, document);
  } catch (e) {
    if (e instanceof VirtError) throw e;
    throw invalid(document, e instanceof Error ? e.message : String(e));
  }
  const kind = root.name;
  if (!(SNIPPET_KINDS as readonly string[]).includes(kind)) {
    throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
      action: "attach/detach/update",
      kind,
      where: "",
      allowed: SNIPPET_KINDS.join(", "),
    });
  }
  const text = xml.replace(/^\s*<\?xml[^>]*\?>/, "").trim();
  return { kind: kind as SnippetKind, xml: text, root };
}

/**
 * A `<graphics>` snippet (update-device changes a running guest's graphics password), parsed
 * alone without defaults; undefined when the XML is another element.
 */
export function readGraphicsSnippet(xml: string, document = "(device_definition)"): GraphicsDef | undefined {
  let root: XmlElement;
  try {
    root = parseXml(xml, document);
  } catch (e) {
    if (e instanceof VirtError) throw e;
    throw invalid(document, e instanceof Error ? e.message : String(e));
  }
  if (root.name !== "graphics") return undefined;
  const text = xml.replace(/^\s*<\?xml[^>]*\?>/, "").trim();
  return parseDomainXML(SHELL(text), { document, noDefaults: true }).def.devices.graphics[0];
}

const SHELL = (devices: string) =>
  `<domain type='qemu'><name>device-snippet</name><memory>1024</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`;

/** The snippet's device parsed alone (no defaults): for finding the device it names. */
export function parseSnippetDevice(s: DeviceSnippet, document = "(device_definition)"): DomainDef {
  return parseDomainXML(SHELL(s.xml), { document, noDefaults: true }).def;
}

/** `domainXML` (a formatted definition) with the snippet as the last child of `<devices>`. */
export function withDeviceXML(domainXML: string, s: DeviceSnippet): string {
  const end = domainXML.lastIndexOf("</devices>");
  if (end >= 0) return `${domainXML.slice(0, end)}${s.xml}\n  ${domainXML.slice(end)}`;
  const dom = domainXML.lastIndexOf("</domain>");
  return `${domainXML.slice(0, dom)}  <devices>\n${s.xml}\n  </devices>\n${domainXML.slice(dom)}`;
}

// --- lookups ---------------------------------------------------------------------------------

export function findDisk(def: DomainDef, target: string): DiskDef | undefined {
  return def.devices.disks.find((d) => d.target.dev === target);
}

function macOf(n: InterfaceDef): string | undefined {
  return n.mac?.address.toLowerCase();
}

/**
 * virDomainNetFindIdx: the interface with the snippet's MAC (and, when given, its PCI address
 * and alias); without a MAC, the only interface matching the others. Returns the matches.
 */
export function matchInterfaces(def: DomainDef, want: InterfaceDef): InterfaceDef[] {
  const mac = macOf(want);
  return def.devices.interfaces.filter((n) => {
    if (mac !== undefined && macOf(n) !== mac) return false;
    if (want.alias !== undefined && n.alias !== want.alias) return false;
    const a = want.address;
    const b = n.address;
    if (
      a?.type === "pci" &&
      (b?.type !== "pci" || a.slot !== b.slot || a.bus !== b.bus || a.function !== b.function)
    )
      return false;
    return true;
  });
}

/** The host device a snippet names: same type and same host source (USB vendor/product or bus/device, PCI address). */
export function findHostdev(def: DomainDef, want: HostdevDef): HostdevDef | undefined {
  return def.devices.hostdevs.find((h) => sameHostdevSource(h, want));
}

export function sameHostdevSource(a: HostdevDef, b: HostdevDef): boolean {
  if (a.mode !== b.mode || a.type !== b.type) return false;
  const x = a.source;
  const y = b.source;
  if (a.type === "usb") {
    if (y.vendor !== undefined || y.product !== undefined) {
      if (x.vendor !== y.vendor || x.product !== y.product) return false;
      if (
        y.usbAddress &&
        (x.usbAddress?.bus !== y.usbAddress.bus || x.usbAddress.device !== y.usbAddress.device)
      )
        return false;
      return true;
    }
    if (y.usbAddress)
      return x.usbAddress?.bus === y.usbAddress.bus && x.usbAddress.device === y.usbAddress.device;
    return false;
  }
  if (a.type === "pci") {
    const p = x.pciAddress;
    const q = y.pciAddress;
    return (
      p !== undefined &&
      q !== undefined &&
      p.domain === q.domain &&
      p.bus === q.bus &&
      p.slot === q.slot &&
      p.function === q.function
    );
  }
  if (a.type === "mdev") return x.mdevUuid !== undefined && x.mdevUuid === y.mdevUuid;
  return false;
}

/** `usb vendor 0x1234 product 0x5678` / `usb 001:002` / `pci 0000:01:00.0`: names a host device in messages. */
export function hostdevLabel(h: HostdevDef): { what: string; id: string } {
  const hex4 = (n: number | undefined) => `0x${(n ?? 0).toString(16).padStart(4, "0")}`;
  const s = h.source;
  if (h.type === "usb") {
    if (s.vendor !== undefined || s.product !== undefined)
      return { what: "usb", id: `vendor=${hex4(s.vendor)} product=${hex4(s.product)}` };
    return { what: "usb", id: `${s.usbAddress?.bus ?? 0}:${s.usbAddress?.device ?? 0}` };
  }
  if (h.type === "pci" && s.pciAddress) {
    const p = s.pciAddress;
    const h2 = (n: number, w: number) => n.toString(16).padStart(w, "0");
    return {
      what: "pci",
      id: `${h2(p.domain, 4)}:${h2(p.bus, 2)}:${h2(p.slot, 2)}.${p.function.toString(16)}`,
    };
  }
  return { what: h.type, id: s.mdevUuid ?? "" };
}

// --- aliases of a live definition ------------------------------------------------------------
