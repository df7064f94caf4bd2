/**
 * Children of a disk's (or backing image's) `<source>` beyond where the image is: per-image
 * security labels, SCSI persistent reservations and storage slices. libvirt writes them after
 * the network parts (hosts, snapshot, config, initiator) and before `<auth>`/`<encryption>`
 * (labels, slices) or after them (reservations).
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import type { DeviceSeclabel, DiskNvmeSource, DiskReservations, DiskSource } from "./types.ts";
import { hex } from "./format-info.ts";
import {
  invalidAttr,
  invalidText,
  parseUInt,
  reqEnum,
  reqUInt,
  str,
  structural,
  uintAttr,
  UNIT_BYTES,
  yesNo,
} from "./reader.ts";
import { isStatusParse, parsePciAddress } from "./parse-address.ts";

function parseDeviceSeclabel(el: XmlElement): DeviceSeclabel {
  const l: DeviceSeclabel = { relabel: yesNo(el, "relabel") ?? true };
  const model = str(el, "model");
  if (model !== undefined) l.model = model;
  // labelskip is what a running domain records; a definition does not carry it
  const skip = yesNo(el, "labelskip");
  if (skip === true && isStatusParse()) l.labelskip = true;
  const label = el.childText("label");
  if (label !== undefined) l.label = label;
  return l;
}

function parseReservations(el: XmlElement): DiskReservations {
  const r: DiskReservations = { managed: yesNo(el, "managed") ?? false };
  if (el.attr("managed") === undefined)
    throw structural(el, "missing @managed attribute for <reservations/>");
  const src = el.child("source");
  if (src) {
    const type = str(src, "type");
    if (type !== "unix")
      throw structural(src, `unsupported connection type for <reservations/>: ${type ?? ""}`);
    const path = str(src, "path");
    if (path === undefined) throw structural(src, "missing connection path for <reservations/>");
    const mode = str(src, "mode");
    if (mode !== "client")
      throw structural(src, `unsupported connection mode for <reservations/>: ${mode ?? ""}`);
    // the socket of a managed helper is the driver's own: kept only in a running domain's XML
    if (!r.managed || isStatusParse()) r.path = path;
  }
  if (!r.managed && r.path === undefined) throw structural(el, "missing connection path for <reservations/>");
  return r;
}

/** `<source type='pci' managed= namespace=><address domain= bus= slot= function=/>` of an NVMe disk. */
export function parseNvmeSource(el: XmlElement, s: DiskSource): void {
  const type = str(el, "type");
  if (type === undefined) throw structural(el, "missing 'type' attribute to disk source");
  if (type !== "pci") throw structural(el, `unsupported source type '${type}'`);
  if (el.attr("namespace") === undefined)
    throw structural(el, "missing 'namespace' attribute to disk source");
  const namespace = reqUInt(el, "namespace", { hex: false, min: 1 });
  const addrEl = el.child("address");
  if (!addrEl) throw structural(el, "NVMe disk source is missing address");
  const a = parsePciAddress(addrEl);
  const nvme: DiskNvmeSource = {
    namespace,
    address: { domain: a.domain, bus: a.bus, slot: a.slot, function: a.function },
  };
  const managed = yesNo(el, "managed");
  if (managed !== undefined) nvme.managed = managed;
  s.nvme = nvme;
}

/** `<source type='unix' path=><reconnect enabled= timeout=/>` of a vhost-user disk. */
export function parseVhostUserSource(el: XmlElement, s: DiskSource): void {
  const type = str(el, "type");
  if (type !== "unix") throw structural(el, `invalid source type '${type ?? ""}' for vhostuser disk`);
  const path = str(el, "path");
  if (path === undefined || path === "") throw structural(el, "vhostuser disk source path is missing");
  s.vhostuser = { path };
  const rc = el.child("reconnect");
  if (rc) {
    const r: { enabled: boolean; timeout?: number } = { enabled: yesNo(rc, "enabled") ?? false };
    const t = uintAttr(rc, "timeout", { hex: false });
    if (t !== undefined) r.timeout = t;
    s.vhostuser.reconnect = r;
  }
}

export function formatVhostUserReconnect(w: XmlWriter, s: DiskSource): void {
  const r = s.vhostuser?.reconnect;
  if (r) w.empty("reconnect", { enabled: r.enabled ? "yes" : "no", timeout: r.timeout });
}

/**
 * `<metadata_cache><max_size unit=>N</max_size></metadata_cache>` of a qcow2 image (a disk's
 * `<driver>` or a backing image's `<format>`): the most QEMU caches of its metadata, in bytes.
 */
export function parseMetadataCache(el: XmlElement | undefined): number | undefined {
  const max = el?.child("metadata_cache")?.child("max_size");
  if (!max) return undefined;
  const unit = max.attr("unit") ?? "bytes";
  const factor = UNIT_BYTES[unit.toLowerCase()];
  if (factor === undefined) throw invalidAttr(max, "unit", unit, "expected a size unit");
  const v = max.content;
  const n = parseUInt(v, false);
  if (n === undefined || !Number.isSafeInteger(n * factor))
    throw invalidText(max, v, "expected a size in bytes");
  return n * factor;
}

export function formatMetadataCache(w: XmlWriter, bytes: number | undefined): void {
  if (bytes !== undefined) w.elem("metadata_cache", {}, () => w.text("max_size", bytes, { unit: "bytes" }));
}

/** The `<address>` child of an NVMe source (the source attributes are the caller's). */
export function formatNvmeAddress(w: XmlWriter, s: DiskSource): void {
  const a = s.nvme?.address;
  if (a)
    w.empty("address", {
      domain: hex(a.domain, 4),
      bus: hex(a.bus, 2),
      slot: hex(a.slot, 2),
      function: hex(a.function),
    });
}

/** Reads `<seclabel>`, `<reservations>` and `<slices>` of `<source>` into `s`. */
export function parseDiskSourceExtras(el: XmlElement, s: DiskSource): void {
  const labels = el.all("seclabel").map(parseDeviceSeclabel);
  if (labels.length > 0) s.seclabels = labels;
  const res = el.child("reservations");
  if (res) s.reservations = parseReservations(res);
  const slice = el.child("slices")?.all("slice")[0];
  if (slice) {
    reqEnum(slice, "type", ["storage"] as const);
    s.slices = {
      storage: {
        offset: reqUInt(slice, "offset", { hex: false }),
        size: reqUInt(slice, "size", { hex: false }),
      },
    };
  }
}

export function formatDiskSlices(w: XmlWriter, s: DiskSource): void {
  const st = s.slices?.storage;
  if (st) w.elem("slices", {}, () => w.empty("slice", { type: "storage", offset: st.offset, size: st.size }));
}

export function formatDiskSeclabels(w: XmlWriter, s: DiskSource): void {
  for (const l of s.seclabels ?? []) {
    // a label to apply that names none says nothing (libvirt drops it from the definition)
    if (l.relabel && l.label === undefined && l.labelskip !== true) continue;
    const attrs = {
      model: l.model,
      labelskip: l.labelskip === true ? "yes" : undefined,
      relabel: undefined as string | undefined,
    };
    if (l.labelskip !== true) attrs.relabel = l.relabel ? "yes" : "no";
    w.elem("seclabel", attrs, () => {
      if (l.label !== undefined) w.text("label", l.label);
    });
  }
}

export function formatDiskReservations(w: XmlWriter, s: DiskSource): void {
  const r = s.reservations;
  if (!r) return;
  w.elem("reservations", { managed: r.managed ? "yes" : "no" }, () => {
    if (r.path !== undefined) w.empty("source", { type: "unix", path: r.path, mode: "client" });
  });
}
