/**
 * `<pstore backend='acpi-erst'>`: a persistent store the guest kernel writes crash records to,
 * backed by a host file (libvirt's virDomainPstoreDef).
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import type { PstoreDef } from "./types.ts";
import { parseDeviceInfo } from "./parse-address.ts";
import { formatInfo } from "./format-info.ts";
import { missingChild, reqEnum, sizeText, structural } from "./reader.ts";

export function parsePstore(el: XmlElement): PstoreDef {
  const backend = reqEnum(el, "backend", ["acpi-erst"] as const);
  const path = el.child("path");
  if (!path || path.content === "") throw missingChild(el, "path");
  const size = el.child("size");
  if (!size) throw missingChild(el, "size");
  const kib = sizeText(size);
  if (kib === 0) throw structural(size, "pstore size must be greater than zero");
  const p: PstoreDef = { backend, path: path.content, size: kib };
  parseDeviceInfo(el, p);
  return p;
}

export function formatPstore(w: XmlWriter, p: PstoreDef): void {
  w.elem("pstore", { backend: p.backend }, () => {
    w.text("path", p.path);
    w.text("size", p.size, { unit: "KiB" });
    formatInfo(w, p);
  });
}
