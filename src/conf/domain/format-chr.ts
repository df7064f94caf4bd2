/**
 * Formatting of character devices (`<serial>`, `<console>`, `<channel>`, `<parallel>`) and of
 * chardev sources shared with `<redirdev>` and `<rng>`.
 */
import type { XmlWriter } from "../xml.ts";
import type { ChrDef, ChrSource, ChrType, DomainDef } from "./types.ts";
import { formatInfo, liveWriters, onOff, yesNo } from "./format-info.ts";

function formatSeclabels(w: XmlWriter, s: ChrSource): void {
  for (const l of s.seclabels ?? []) {
    w.elem("seclabel", { model: l.model, relabel: yesNo(l.relabel) }, () => {
      if (l.label !== undefined) w.text("label", l.label);
    });
  }
}

/** `<source>` element(s) and `<protocol>` of a chardev of `type` (inactive form). */
export function formatChrSource(
  w: XmlWriter,
  type: ChrType,
  s: ChrSource | undefined,
  protocol?: string,
): void {
  switch (type) {
    case "pty":
      // The pty QEMU allocated exists only while the domain runs.
      if (s?.path !== undefined && liveWriters.has(w)) w.empty("source", { path: s.path });
      break;
    case "dev":
    case "file":
    case "pipe":
      if (s?.path !== undefined)
        w.elem("source", { path: s.path, append: type === "file" ? onOff(s.append) : undefined }, () => {
          formatSeclabels(w, s);
        });
      break;
    case "udp":
      if (s?.bindHost !== undefined || s?.bindService !== undefined)
        w.empty("source", { mode: "bind", host: s.bindHost, service: s.bindService });
      if (s?.host !== undefined || s?.service !== undefined)
        w.empty("source", { mode: "connect", host: s.host, service: s.service });
      break;
    case "tcp":
      w.elem(
        "source",
        { mode: s?.mode ?? "connect", host: s?.host, service: s?.service, tls: yesNo(s?.tls) },
        () => {
          if (s?.reconnect)
            w.empty("reconnect", { enabled: yesNo(s.reconnect.enabled), timeout: s.reconnect.timeout });
        },
      );
      w.empty("protocol", { type: protocol ?? "raw" });
      return;
    case "unix":
      if (s?.path !== undefined) {
        w.elem("source", { mode: s.mode ?? "connect", path: s.path }, () => {
          formatSeclabels(w, s);
          if (s.reconnect)
            w.empty("reconnect", { enabled: yesNo(s.reconnect.enabled), timeout: s.reconnect.timeout });
        });
      }
      break;
    case "spiceport":
    case "dbus":
      if (s?.channel !== undefined) w.empty("source", { channel: s.channel });
      break;
    case "qemu-vdagent":
      w.elem("source", undefined, () => {
        if (s?.clipboard !== undefined) w.empty("clipboard", { copypaste: yesNo(s.clipboard) });
        if (s?.mouseMode !== undefined) w.empty("mouse", { mode: s.mouseMode });
      });
      break;
    default:
      break;
  }
  // libvirt writes <protocol> for TCP only (its only use)
}

function formatTarget(w: XmlWriter, kind: "serial" | "console" | "channel" | "parallel", c: ChrDef): void {
  const t = c.target;
  switch (kind) {
    case "channel":
      if (t.type === "guestfwd") w.empty("target", { type: "guestfwd", address: t.address, port: t.port });
      else w.empty("target", { type: t.type, name: t.name, state: liveWriters.has(w) ? t.state : undefined });
      return;
    case "console":
      w.empty("target", { type: t.type ?? "serial", port: t.port ?? 0 });
      return;
    case "serial":
      w.elem("target", { type: t.type, port: t.port ?? 0 }, () => {
        if (t.model !== undefined) w.empty("model", { name: t.model });
      });
      return;
    default:
      w.empty("target", { port: t.port ?? 0 });
  }
}

export function formatChr(
  w: XmlWriter,
  kind: "serial" | "console" | "channel" | "parallel",
  c: ChrDef,
): void {
  const tty = kind === "console" && c.type === "pty" && liveWriters.has(w) ? c.source?.path : undefined;
  w.elem(kind, { type: c.type, tty }, () => {
    formatChrSource(w, c.type, c.source, c.protocol);
    if (c.log) w.empty("log", { file: c.log.file, append: onOff(c.log.append) });
    formatTarget(w, kind, c);
    formatInfo(w, c);
  });
}

/**
 * Consoles of HVM guests whose target is `serial` mirror the serial port of the same index
 * (libvirt keeps them as an alias of it).
 */
export function formatConsoles(w: XmlWriter, def: DomainDef): void {
  def.devices.consoles.forEach((c, n) => {
    const serial = def.devices.serials[n];
    if (def.os.type === "hvm" && (c.target.type === undefined || c.target.type === "serial") && serial) {
      const mirror: ChrDef = { type: serial.type, target: { type: "serial", port: serial.target.port ?? 0 } };
      if (serial.source) mirror.source = serial.source;
      if (serial.protocol !== undefined) mirror.protocol = serial.protocol;
      if (serial.log) mirror.log = serial.log;
      if (serial.alias !== undefined) mirror.alias = serial.alias;
      // libvirt copies the whole serial device, its address included
      if (serial.address) mirror.address = serial.address;
      formatChr(w, "console", mirror);
    } else formatChr(w, "console", c);
  });
}
