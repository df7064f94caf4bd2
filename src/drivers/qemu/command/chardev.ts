/**
 * Character devices: `-chardev` backends (pty, file, unix, tcp, udp, spicevmc, ...), the QMP
 * monitor, and the front ends: serial ports, parallel ports, channels (virtio-serial, guestfwd)
 * and consoles.
 */
import type { ChrDef, ChrSource, ChrType } from "../../../conf/domain/types.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { escapeComma, Props } from "./escape.ts";
import type { JsonObject } from "./escape.ts";
import { secretObject } from "./disk-secrets.ts";

export interface ChardevSpec {
  type: ChrType;
  source?: ChrSource;
  /** `<protocol type='telnet'/>` etc. */
  protocol?: string;
  log?: { file: string; append?: boolean };
  /** Device alias the chardev belongs to (for fd passing names). */
  devAlias?: string;
  /** spicevmc channel name: vdagent, usbredir, smartcard. */
  spicevmcName?: string;
  /**
   * Opened by QEMU itself, QEMU waiting for the first client on a listening socket (vhost-user
   * backends); otherwise libvirt's usual `wait=off` and descriptor passing apply.
   */
  plainSocket?: boolean;
}

function onOff(v: boolean): string {
  return v ? "on" : "off";
}

/** Passes a file to QEMU through `-add-fd` when the context opened it; returns the path QEMU uses. */
function passFile(b: Build, devAlias: string, purpose: "source" | "log", path: string): string | undefined {
  const fd = b.ctx.chardevFileFd?.(devAlias, purpose, path);
  if (fd === undefined) return undefined;
  const set = b.nextFdset();
  b.add("-add-fd", `set=${set},fd=${fd},opaque=${devAlias}-${purpose}`);
  return `/dev/fdset/${set}`;
}

function reconnect(b: Build, r: ChrSource["reconnect"]): string {
  if (!r) return "";
  if (!r.enabled) return b.has("chardev-reconnect-miliseconds") ? ",reconnect-ms=0" : ",reconnect=0";
  const t = r.timeout ?? 0;
  return b.has("chardev-reconnect-miliseconds") ? `,reconnect-ms=${t * 1000}` : `,reconnect=${t}`;
}

/**
 * The TLS credentials of a TCP chardev (as the XML says, else as qemu.conf's chardev_tls says):
 * emits their `-object`s and returns their id, or undefined for a plain socket.
 */
function tlsCreds(b: Build, s: ChrSource, alias: string): string | undefined {
  const tls = b.ctx.chardevTLS;
  if (!(s.tls ?? tls?.enabled === true)) return undefined;
  const listen = s.mode === "bind";
  // the private key's password (qemu.conf's chardev_tls_x509_secret_uuid) goes to QEMU
  // encrypted with the domain's master key, as a secret the credentials name
  let passwordid: string | undefined;
  if (tls?.secretUUID !== undefined) {
    const get = b.ctx.secretValue;
    if (!get)
      fail("QEMU_CMD_CONTEXT_MISSING", {
        element: `chardev ${alias}`,
        what: `the value of TLS key secret ${tls.secretUUID}`,
      });
    passwordid = `${alias}-secret0`;
    b.addJson("-object", secretObject(b, passwordid, get({ uuid: tls.secretUUID }, "tls")));
  }
  const id = `obj${alias}_tls0`;
  b.addJson(
    "-object",
    new Props()
      .set("qom-type", "tls-creds-x509")
      .set("id", id)
      .set("dir", tls?.x509certdir ?? "/etc/pki/qemu")
      .set("endpoint", listen ? "server" : "client")
      // a client always checks the server's certificate
      .set("verify-peer", listen ? tls?.x509verify === true : true)
      .opt("passwordid", passwordid),
  );
  return id;
}

function reconnectProps(b: Build, p: Props, r: ChrSource["reconnect"]): void {
  if (!r) return;
  const t = r.enabled ? (r.timeout ?? 0) : 0;
  if (b.has("chardev-reconnect-miliseconds")) p.set("reconnect-ms", t * 1000);
  else p.set("reconnect", t);
}

function inet(host: string | undefined, port: string | undefined): JsonObject {
  return { type: "inet", data: { host: host ?? "", port: port ?? "" } };
}

/**
 * The `-chardev` in QMP's chardev-add form (`{"id":..,"backend":{"type":..,"data":{..}}}`), for a
 * QEMU whose `-chardev` takes JSON (libvirt's QEMU_CAPS_CHARDEV_JSON).
 */
function buildChardevJson(b: Build, spec: ChardevSpec, alias: string, devAlias: string): void {
  const s = spec.source ?? {};
  const data = new Props();
  if (spec.log) {
    let path = spec.log.file;
    let append = spec.log.append;
    const passed = passFile(b, devAlias, "log", path);
    if (passed !== undefined) {
      path = passed;
      append = true;
    }
    data.set("logfile", path).opt("logappend", append);
  }
  let type: string = spec.type;
  switch (spec.type) {
    case "null":
    case "vc":
    case "pty":
    case "stdio":
      break;
    case "dev":
      type = alias.startsWith("charparallel") ? "parallel" : "serial";
      data.set("device", s.path ?? "");
      break;
    case "pipe":
      data.set("device", s.path ?? "");
      break;
    case "file": {
      let path = s.path ?? "";
      let append = s.append;
      const passed = passFile(b, devAlias, "source", path);
      if (passed !== undefined) {
        path = passed;
        append = true;
      }
      data.set("out", path).opt("append", append);
      break;
    }
    case "udp":
      data.set("remote", inet(s.host, s.service));
      if (s.bindHost !== undefined || s.bindService !== undefined)
        data.set("local", inet(s.bindHost, s.bindService ?? "0"));
      break;
    case "tcp": {
      const listen = s.mode === "bind";
      type = "socket";
      data
        .set("addr", inet(s.host, s.service))
        .set("telnet", spec.protocol === "telnet")
        .set("server", listen);
      if (listen) data.set("wait", false);
      reconnectProps(b, data, s.reconnect);
      data.opt("tls-creds", tlsCreds(b, s, alias));
      break;
    }
    case "unix": {
      const listen = s.mode === "bind";
      const path = s.path ?? "";
      type = "socket";
      const fd = listen && spec.plainSocket !== true ? b.ctx.chardevListenFd?.(alias, path) : undefined;
      data.set(
        "addr",
        fd !== undefined ? { type: "fd", data: { str: String(fd) } } : { type: "unix", data: { path } },
      );
      data.set("server", listen);
      if (listen && spec.plainSocket !== true) data.set("wait", false);
      reconnectProps(b, data, s.reconnect);
      break;
    }
    case "spicevmc":
      data.set("type", spec.spicevmcName ?? "vdagent");
      break;
    case "spiceport":
      data.set("fqdn", s.channel ?? "");
      break;
    case "qemu-vdagent":
      requireFlag(b, "chardev.qemu-vdagent", `chardev ${alias}`);
      data
        .opt("clipboard", s.clipboard)
        .opt("mouse", s.mouseMode === undefined ? undefined : s.mouseMode === "client");
      break;
    case "dbus":
      data.set("name", s.channel ?? "");
      break;
    case "nmdm":
      return fail("QEMU_CMD_UNSUPPORTED", {
        element: `chardev ${alias}`,
        reason: "type 'nmdm' is not supported by QEMU",
      });
  }
  b.addJson("-chardev", { id: alias, backend: { type, data: data.toObject() } });
}

/** Emits the `-chardev` (and any `-add-fd`) for a character device backend. */
export function buildChardev(b: Build, spec: ChardevSpec, alias: string): void {
  const s = spec.source ?? {};
  const devAlias = spec.devAlias ?? alias.replace(/^char/, "");
  if (b.has("chardev-json")) {
    buildChardevJson(b, spec, alias, devAlias);
    return;
  }
  let str: string;
  switch (spec.type) {
    case "null":
    case "vc":
    case "pty":
    case "stdio":
      str = `${spec.type},id=${alias}`;
      break;
    case "dev":
      str = `${alias.startsWith("charparallel") ? "parallel" : "serial"},id=${alias},path=${escapeComma(s.path ?? "")}`;
      break;
    case "file": {
      let path = s.path ?? "";
      let append = s.append;
      const passed = passFile(b, devAlias, "source", path);
      if (passed !== undefined) {
        path = passed;
        append = true;
      }
      str = `file,id=${alias},path=${escapeComma(path)}`;
      if (append !== undefined) str += `,append=${onOff(append)}`;
      break;
    }
    case "pipe":
      str = `pipe,id=${alias},path=${escapeComma(s.path ?? "")}`;
      break;
    case "udp":
      str = `udp,id=${alias},host=${s.host ?? ""},port=${s.service ?? ""},localaddr=${s.bindHost ?? ""},localport=${s.bindService ?? "0"}`;
      break;
    case "tcp": {
      const listen = s.mode === "bind";
      str = `socket,id=${alias},host=${s.host ?? ""},port=${s.service ?? ""}`;
      if (spec.protocol === "telnet") str += ",telnet=on";
      if (listen) str += ",server=on,wait=off";
      str += reconnect(b, s.reconnect);
      const creds = tlsCreds(b, s, alias);
      if (creds !== undefined) str += `,tls-creds=${creds}`;
      break;
    }
    case "unix": {
      const listen = s.mode === "bind";
      const path = s.path ?? "";
      str = `socket,id=${alias}`;
      const fd = listen && spec.plainSocket !== true ? b.ctx.chardevListenFd?.(alias, path) : undefined;
      if (fd !== undefined) str += `,fd=${fd}`;
      else str += `,path=${escapeComma(path)}`;
      if (listen) str += spec.plainSocket === true ? ",server=on" : ",server=on,wait=off";
      str += reconnect(b, s.reconnect);
      break;
    }
    case "spicevmc":
      str = `spicevmc,id=${alias},name=${spec.spicevmcName ?? "vdagent"}`;
      break;
    case "spiceport":
      str = `spiceport,id=${alias},name=${s.channel ?? ""}`;
      break;
    case "qemu-vdagent":
      requireFlag(b, "chardev.qemu-vdagent", `chardev ${alias}`);
      str = `qemu-vdagent,id=${alias},name=vdagent`;
      if (s.clipboard !== undefined) str += `,clipboard=${onOff(s.clipboard)}`;
      if (s.mouseMode !== undefined) str += `,mouse=${onOff(s.mouseMode === "client")}`;
      break;
    case "dbus":
      str = `dbus,id=${alias},name=${s.channel ?? ""}`;
      break;
    case "nmdm":
      return fail("QEMU_CMD_UNSUPPORTED", {
        element: `chardev ${alias}`,
        reason: "type 'nmdm' is not supported by QEMU",
      });
  }
  if (spec.log) {
    let path = spec.log.file;
    let append = spec.log.append;
    const passed = passFile(b, devAlias, "log", path);
    if (passed !== undefined) {
      path = passed;
      append = true;
    }
    str += `,logfile=${escapeComma(path)}`;
    if (append !== undefined) str += `,logappend=${onOff(append)}`;
  }
  b.add("-chardev", str);
}

function chrSpec(chr: ChrDef, spicevmcName?: string): ChardevSpec {
  return {
    type: chr.type,
    source: chr.source,
    protocol: chr.protocol,
    log: chr.log,
    devAlias: chr.alias,
    spicevmcName,
  };
}

export function buildMonitor(b: Build): void {
  const m = b.ctx.monitor;
  if (b.has("chardev-json")) {
    const addr: JsonObject =
      "fd" in m ? { type: "fd", data: { str: String(m.fd) } } : { type: "unix", data: { path: m.path } };
    b.addJson("-chardev", {
      id: "charmonitor",
      backend: { type: "socket", data: { addr, server: true, wait: false } },
    });
    b.add("-mon", "chardev=charmonitor,id=monitor,mode=control");
    return;
  }
  if ("fd" in m) b.add("-chardev", `socket,id=charmonitor,fd=${m.fd},server=on,wait=off`);
  else b.add("-chardev", `socket,id=charmonitor,path=${escapeComma(m.path)},server=on,wait=off`);
  b.add("-mon", "chardev=charmonitor,id=monitor,mode=control");
}

/** The serial device model for a `<serial>` (libvirt's target model, defaulted by target type). */
function serialModel(b: Build, chr: ChrDef): string | undefined {
  if (chr.target.model) return chr.target.model;
  switch (chr.target.type) {
    case "isa-serial":
      return "isa-serial";
    case "usb-serial":
      return "usb-serial";
    case "pci-serial":
      return "pci-serial";
    case "spapr-vio-serial":
      return "spapr-vty";
    case "sclp-serial":
      return "sclpconsole";
    case "isa-debug":
      return "isa-debugcon";
    case "system-serial":
      return undefined;
    default:
      return b.isX86 ? "isa-serial" : undefined;
  }
}

const SERIAL_FLAGS: Record<string, string> = {
  "isa-serial": "isa-serial",
  "usb-serial": "usb-serial",
  "pci-serial": "pci-serial",
};

export function buildSerials(b: Build): void {
  const hasSpice = b.def.devices.graphics.some((g) => g.type === "spice");
  for (const chr of b.def.devices.serials) {
    if (chr.type === "spiceport" && !hasSpice) continue;
    const alias = chr.alias ?? "";
    buildChardev(b, chrSpec(chr), `char${alias}`);
    const model = serialModel(b, chr);
    if (model === undefined || model === "pl011" || model === "16550a") {
      b.add("-serial", `chardev:char${alias}`);
      continue;
    }
    const flag = SERIAL_FLAGS[model];
    if (flag) requireFlag(b, flag, `serial model '${model}'`);
    const p = new Props().set("driver", model).set("chardev", `char${alias}`).set("id", alias);
    if (model === "isa-serial" && chr.target.port !== undefined && chr.target.port >= 0)
      p.set("index", chr.target.port);
    addAddressProps(b, p, chr, `serial ${alias}`);
    b.addJson("-device", p);
  }
}

export function buildParallels(b: Build): void {
  for (const chr of b.def.devices.parallels) {
    const alias = chr.alias ?? "";
    buildChardev(b, chrSpec(chr), `char${alias}`);
    b.addJson(
      "-device",
      new Props().set("driver", "isa-parallel").set("chardev", `char${alias}`).set("id", alias),
    );
  }
}

function virtioSerialPortProps(b: Build, chr: ChrDef, kind: "console" | "channel"): Props {
  const alias = chr.alias ?? "";
  if (
    kind === "channel" &&
    chr.type === "spicevmc" &&
    chr.target.name !== undefined &&
    chr.target.name !== "com.redhat.spice.0"
  ) {
    fail("QEMU_CMD_UNSUPPORTED", {
      element: `channel ${alias}`,
      reason: `spicevmc target name '${chr.target.name}' (only com.redhat.spice.0)`,
    });
  }
  const p = new Props().set("driver", kind === "console" ? "virtconsole" : "virtserialport");
  addAddressProps(b, p, chr, `${kind} ${alias}`);
  p.set("chardev", `char${alias}`).set("id", alias);
  if (kind === "channel" && (chr.type === "spicevmc" || chr.target.name !== undefined)) {
    p.set("name", chr.target.name ?? "com.redhat.spice.0");
  }
  return p;
}

/** Socket path of a unix channel without one (libvirt's channel target dir). */
function channelSource(b: Build, chr: ChrDef): ChrSource | undefined {
  if (chr.type !== "unix" || (chr.source?.path !== undefined && chr.source.path !== "")) return chr.source;
  if (chr.target.type !== "virtio") return chr.source;
  let file = chr.target.name;
  if (file === undefined) {
    // no name: libvirt makes one unique by the port's virtio-serial address
    const a = chr.address?.type === "virtio-serial" ? chr.address : undefined;
    if (!a) return chr.source;
    const two = (n: number): string => String(n).padStart(2, "0");
    file = `vioser-${two(a.controller)}-${two(a.bus)}-${two(a.port)}.sock`;
  }
  return { ...chr.source, mode: chr.source?.mode ?? "bind", path: `${b.ctx.paths.channelDir}/${file}` };
}

export function buildChannels(b: Build): void {
  for (const chr of b.def.devices.channels) {
    const alias = chr.alias ?? "";
    buildChardev(b, { ...chrSpec(chr, "vdagent"), source: channelSource(b, chr) }, `char${alias}`);
    switch (chr.target.type) {
      case "guestfwd": {
        const addr = chr.target.address ?? "";
        const port = chr.target.port ?? 0;
        b.addJson(
          "-netdev",
          new Props()
            .set("type", "user")
            .set("guestfwd", [{ str: `tcp:${addr}:${port}-chardev:char${alias}` }])
            .set("id", alias),
        );
        break;
      }
      case "virtio":
        b.addJson("-device", virtioSerialPortProps(b, chr, "channel"));
        break;
      default:
        fail("QEMU_CMD_UNSUPPORTED", {
          element: `channel ${alias}`,
          reason: `target type '${chr.target.type ?? "none"}' is not supported by QEMU`,
        });
    }
  }
}

export function buildConsoles(b: Build): void {
  for (const chr of b.def.devices.consoles) {
    const alias = chr.alias ?? "";
    switch (chr.target.type ?? "serial") {
      case "virtio":
        buildChardev(b, chrSpec(chr), `char${alias}`);
        b.addJson("-device", virtioSerialPortProps(b, chr, "console"));
        break;
      case "sclp":
      case "sclplm":
        buildChardev(b, chrSpec(chr), `char${alias}`);
        b.addJson(
          "-device",
          new Props()
            .set("driver", chr.target.type === "sclp" ? "sclpconsole" : "sclplmconsole")
            .set("chardev", `char${alias}`)
            .set("id", alias),
        );
        break;
      case "serial":
        break;
      default:
        fail("QEMU_CMD_UNSUPPORTED", {
          element: `console ${alias}`,
          reason: `target type '${chr.target.type ?? "none"}' is not supported by QEMU`,
        });
    }
  }
}
