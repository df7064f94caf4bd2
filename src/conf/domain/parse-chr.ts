/**
 * Character devices: `<serial>`, `<console>`, `<channel>`, `<parallel>`, and the chardev
 * backends shared with `<redirdev>` and `<rng>`.
 */
import type { XmlElement } from "../xml.ts";
import type { ChrDef, ChrSource, ChrTarget, ChrType } from "./types.ts";
import { parseDeviceInfo } from "./parse-address.ts";
import { enumAttr, intAttr, onOff, reqStr, str, uintAttr, yesNo } from "./reader.ts";

export const CHR_TYPES = [
  "null",
  "vc",
  "pty",
  "dev",
  "file",
  "pipe",
  "stdio",
  "udp",
  "tcp",
  "unix",
  "spicevmc",
  "spiceport",
  "nmdm",
  "qemu-vdagent",
  "dbus",
] as const;

/** The per-source security labels of a file, device, pipe or socket (virSecurityDeviceLabelDef). */
function readSeclabels(el: XmlElement, s: ChrSource): void {
  const labels = el.all("seclabel").map((l) => {
    const out: NonNullable<ChrSource["seclabels"]>[number] = {};
    const model = str(l, "model");
    const relabel = yesNo(l, "relabel");
    const label = l.child("label")?.content;
    if (model !== undefined) out.model = model;
    if (relabel !== undefined) out.relabel = relabel;
    if (label !== undefined) out.label = label;
    return out;
  });
  if (labels.length > 0) s.seclabels = labels;
}

function readSourceInto(el: XmlElement, type: ChrType, s: ChrSource): void {
  const mode = enumAttr(el, "mode", ["bind", "connect"] as const);
  switch (type) {
    case "pty":
    case "dev":
    case "file":
    case "pipe": {
      const path = str(el, "path");
      if (path !== undefined) s.path = path;
      const append = onOff(el, "append");
      if (append !== undefined) s.append = append;
      if (type !== "pty") readSeclabels(el, s);
      break;
    }
    case "unix": {
      const path = str(el, "path");
      if (path !== undefined) s.path = path;
      if (mode) s.mode = mode;
      readSeclabels(el, s);
      break;
    }
    case "tcp": {
      if (mode) s.mode = mode;
      const host = str(el, "host");
      const service = str(el, "service");
      const tls = yesNo(el, "tls");
      if (host !== undefined) s.host = host;
      if (service !== undefined) s.service = service;
      if (tls !== undefined) s.tls = tls;
      break;
    }
    case "udp": {
      const host = str(el, "host");
      const service = str(el, "service");
      if (mode === "bind") {
        if (host !== undefined) s.bindHost = host;
        if (service !== undefined) s.bindService = service;
      } else {
        if (host !== undefined) s.host = host;
        if (service !== undefined) s.service = service;
      }
      break;
    }
    case "spiceport":
    case "dbus": {
      const channel = str(el, "channel");
      if (channel !== undefined) s.channel = channel;
      break;
    }
    case "qemu-vdagent": {
      const clip = el.child("clipboard");
      const copypaste = clip ? yesNo(clip, "copypaste") : undefined;
      if (copypaste !== undefined) s.clipboard = copypaste;
      const mouse = el.child("mouse");
      const mouseMode = mouse ? enumAttr(mouse, "mode", ["server", "client"] as const) : undefined;
      if (mouseMode !== undefined) s.mouseMode = mouseMode;
      break;
    }
    default:
      break;
  }
  const rc = el.child("reconnect");
  if (rc) {
    s.reconnect = { enabled: yesNo(rc, "enabled") ?? false };
    const timeout = uintAttr(rc, "timeout", { hex: false });
    if (timeout !== undefined) s.reconnect.timeout = timeout;
  }
}

/** Reads `<source>` elements (udp may have two) for a chardev of `type`. */
export function parseChrSource(el: XmlElement, type: ChrType): ChrSource | undefined {
  const sources = el.all("source");
  if (sources.length === 0) return undefined;
  const s: ChrSource = {};
  for (const src of sources) readSourceInto(src, type, s);
  return s;
}

function parseTarget(el: XmlElement | undefined): ChrTarget {
  const t: ChrTarget = {};
  if (!el) return t;
  const type = str(el, "type");
  if (type !== undefined) t.type = type;
  const name = str(el, "name");
  if (name !== undefined) t.name = name;
  const address = str(el, "address");
  if (address !== undefined) t.address = address;
  const port = intAttr(el, "port", { min: 0, max: 65535 });
  if (port !== undefined) t.port = port;
  const state = str(el, "state");
  if (state !== undefined) t.state = state;
  const model = el.child("model");
  if (model) t.model = reqStr(model, "name");
  return t;
}

export function parseChr(el: XmlElement): ChrDef {
  const type = enumAttr(el, "type", CHR_TYPES) ?? "pty";
  const chr: ChrDef = { type, target: parseTarget(el.child("target")) };
  const source = parseChrSource(el, type);
  if (source) chr.source = source;
  const protocol = el.child("protocol");
  if (protocol) {
    const p = enumAttr(protocol, "type", ["raw", "telnet", "telnets", "tls"] as const);
    if (p) chr.protocol = p;
  }
  const log = el.child("log");
  if (log) {
    chr.log = { file: reqStr(log, "file") };
    const append = onOff(log, "append");
    if (append !== undefined) chr.log.append = append;
  }
  parseDeviceInfo(el, chr);
  return chr;
}
