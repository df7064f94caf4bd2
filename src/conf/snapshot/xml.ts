/**
 * Snapshot XML ⇄ `SnapshotDef`: libvirt's `<domainsnapshot>` document (snapshot_conf.c's
 * element order). The embedded `<domain>` is kept as text; the driver re-parses it on revert,
 * so a snapshot taken by an older tvirt still reverts to what it saved.
 */
import { escapeXml, parseXml, XmlWriter, type XmlElement } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import {
  SNAPSHOT_LOCATIONS,
  SNAPSHOT_STATES,
  type SnapshotDef,
  type SnapshotDiskDef,
  type SnapshotLocation,
  type SnapshotState,
} from "./types.ts";

function bad(el: XmlElement, what: string): VirtError {
  return new VirtError("SNAPSHOT_XML_INVALID", { what, xpath: el.xpath, line: el.line });
}

function location(el: XmlElement, attr: string): SnapshotLocation | undefined {
  const v = el.attr(attr);
  if (v === undefined) return undefined;
  if (!(SNAPSHOT_LOCATIONS as readonly string[]).includes(v)) {
    throw bad(el, `${attr}='${v}' is not one of ${SNAPSHOT_LOCATIONS.join(", ")}`);
  }
  return v as SnapshotLocation;
}

/** Serialises a parsed element back to XML text (attribute values and text escaped). */
export function elementText(el: XmlElement, indent = ""): string {
  const attrs = el.attrs.map((a) => ` ${a.name}='${escapeXml(a.value)}'`).join("");
  el.markAllUsed();
  if (el.children.length === 0) {
    const text = el.text.trim();
    return text === ""
      ? `${indent}<${el.name}${attrs}/>`
      : `${indent}<${el.name}${attrs}>${escapeXml(text)}</${el.name}>`;
  }
  const inner = el.children.map((c) => elementText(c, indent + "  ")).join("\n");
  return `${indent}<${el.name}${attrs}>\n${inner}\n${indent}</${el.name}>`;
}

export interface ParseSnapshotOptions {
  /**
   * libvirt's PARSE_REDEFINE / internal form: state, creationTime, parent and the domain are
   * read. A create request ignores them (libvirt fills them from the domain).
   */
  redefine?: boolean;
}

/** Parses `<domainsnapshot>` XML. Throws only VirtError. */
export function parseSnapshotXML(xml: string, options: ParseSnapshotOptions = {}): SnapshotDef {
  const root = parseXml(xml, "(domain_snapshot)");
  if (root.name !== "domainsnapshot") {
    throw new VirtError("XML_UNEXPECTED_ROOT", { expected: "domainsnapshot", found: root.name });
  }
  const nameEl = root.child("name");
  const name = nameEl?.content.trim() ?? "";
  // libvirt names an unnamed snapshot by its creation time (seconds since the epoch).
  const def: SnapshotDef = { name };
  if (nameEl && name.includes("/")) throw bad(nameEl, `name '${name}' must not contain '/'`);
  const desc = root.child("description");
  if (desc) def.description = desc.content;
  if (options.redefine) {
    const st = root.child("state");
    if (st) {
      const v = st.content.trim();
      if (!(SNAPSHOT_STATES as readonly string[]).includes(v)) {
        throw bad(st, `state '${v}' is not one of ${SNAPSHOT_STATES.join(", ")}`);
      }
      def.state = v as SnapshotState;
    }
    const ct = root.child("creationTime");
    if (ct) {
      const v = ct.content.trim();
      if (!/^\d+$/.test(v)) throw bad(ct, `creationTime '${v}' is not a number of seconds`);
      def.creationTime = Number(v);
    }
    const parent = root.child("parent")?.childText("name");
    if (parent !== undefined) def.parent = parent.trim();
    const dom = root.child("domain");
    if (dom) def.domainXML = elementText(dom);
  }
  root.child("state")?.markAllUsed();
  root.child("creationTime")?.markAllUsed();
  root.child("parent")?.markAllUsed();
  root.child("domain")?.markAllUsed();
  root.child("active")?.markAllUsed();
  root.child("cookie")?.markAllUsed();
  const mem = root.child("memory");
  if (mem) {
    const snapshot = location(mem, "snapshot");
    const file = mem.attr("file");
    if (snapshot === undefined && file === undefined) throw bad(mem, "<memory> needs snapshot= or file=");
    def.memory = { snapshot: snapshot ?? "external", ...(file !== undefined && { file }) };
  }
  const disks = root.child("disks");
  if (disks) {
    def.disks = disks.all("disk").map((d): SnapshotDiskDef => {
      const n = d.attr("name");
      if (!n) throw bad(d, "<disk> needs name=");
      const out: SnapshotDiskDef = { name: n };
      const snap = location(d, "snapshot");
      if (snap !== undefined) out.snapshot = snap;
      const src = d.child("source");
      const file = src?.attr("file");
      if (file !== undefined) {
        out.sourceFile = file;
        if (out.snapshot === undefined) out.snapshot = "external";
      }
      const drv = d.child("driver")?.attr("type");
      if (drv !== undefined) out.driverType = drv;
      d.markAllUsed();
      return out;
    });
    const seen = new Set<string>();
    for (const d of def.disks) {
      if (seen.has(d.name)) throw bad(disks, `disk '${d.name}' is listed twice`);
      seen.add(d.name);
    }
  }
  return def;
}

/** libvirt's `<domainsnapshot>` text for a snapshot the driver holds. */
export function formatSnapshotXML(def: SnapshotDef): string {
  const w = new XmlWriter();
  w.elem("domainsnapshot", undefined, () => {
    w.text("name", def.name);
    if (def.description !== undefined) w.text("description", def.description);
    if (def.state !== undefined) w.text("state", def.state);
    if (def.parent !== undefined) w.elem("parent", undefined, () => w.text("name", def.parent ?? ""));
    if (def.creationTime !== undefined) w.text("creationTime", def.creationTime);
    if (def.memory) w.empty("memory", { snapshot: def.memory.snapshot, file: def.memory.file });
    if (def.disks && def.disks.length > 0) {
      w.elem("disks", undefined, () => {
        for (const d of def.disks ?? []) {
          if (d.sourceFile === undefined && d.driverType === undefined) {
            w.empty("disk", { name: d.name, snapshot: d.snapshot });
          } else {
            w.elem("disk", { name: d.name, snapshot: d.snapshot }, () => {
              if (d.driverType !== undefined) w.empty("driver", { type: d.driverType });
              if (d.sourceFile !== undefined) w.empty("source", { file: d.sourceFile });
            });
          }
        }
      });
    }
    if (def.domainXML !== undefined) {
      for (const line of def.domainXML.trimEnd().split("\n")) w.raw(line);
    }
  });
  return w.toString();
}
