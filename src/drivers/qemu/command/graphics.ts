/**
 * Graphics (`-vnc`, `-spice`, `-display sdl|egl-headless|dbus`) and video devices.
 */
import { secretObject } from "./disk-secrets.ts";
import type { GraphicsDef, VideoDef } from "../../../conf/domain/types.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { escapeComma, Props } from "./escape.ts";
import { addVirtioOptions, virtioDeviceName } from "./virtio.ts";

export function audioIdFor(b: Build, id: number | undefined): string {
  const audios = b.def.devices.audios;
  const a = id !== undefined && id > 0 ? audios.find((x) => x.id === id) : audios[0];
  if (!a)
    return fail("QEMU_CMD_INVALID_VALUE", {
      element: "audio",
      reason: `no <audio> backend with id ${id ?? 0}`,
    });
  return `audio${a.id}`;
}

function listenOf(g: GraphicsDef): GraphicsDef["listens"][number] {
  return g.listens[0] ?? { type: "address" };
}

/** The address of a listen: its own, else its network's, else qemu.conf's default for the kind. */
function listenAddress(b: Build, l: GraphicsDef["listens"][number], fallback: string | undefined): string {
  if (l.address !== undefined) return l.address;
  if (l.type === "network" && l.network !== undefined) {
    const a = b.ctx.networkListenAddress?.(l.network);
    if (a !== undefined) return a;
  }
  return fallback ?? "127.0.0.1";
}

/**
 * The port of a graphics device with autoport: the driver reserves it before the build and writes
 * it into the live definition (`port`, `websocket`, `tlsPort`); a definition without one asks
 * the context (the conformance harness hands out libvirt's test ports).
 */
function allocate(b: Build, kind: "vnc" | "websocket" | "spice" | "spice-tls"): number {
  const port = b.ctx.allocatePort?.(kind);
  if (port === undefined)
    return fail("QEMU_CMD_CONTEXT_MISSING", { element: `${kind} graphics`, what: "a free port (autoport)" });
  return port;
}

/**
 * The ports libvirt writes on a command line it only shows (domxml-to-native: its "pretend"
 * start allocates nothing): 5900 for VNC, 5700 for a websocket, 5901/5902 for SPICE.
 */
export function pretendPort(kind: "vnc" | "websocket" | "spice" | "spice-tls"): number {
  return kind === "vnc" ? 5900 : kind === "websocket" ? 5700 : kind === "spice" ? 5901 : 5902;
}

function buildVnc(b: Build, g: GraphicsDef): void {
  const audio = audioIdFor(b, g.audio?.id);
  const l = listenOf(g);
  let opt: string;
  // qemu.conf's vnc_auto_unix_socket: an address listen without an address is a socket in the
  // domain's directory (the driver rewrites the live listen the same way before the build)
  const autoSocket =
    l.type === "address" && l.address === undefined && b.ctx.graphics?.vncAutoUnixSocket === true;
  switch (autoSocket ? "socket" : l.type) {
    case "socket":
      opt = `vnc=unix:${escapeComma(l.socket ?? `${b.ctx.paths.domainDir}/vnc.sock`)}`;
      break;
    case "address":
    case "network": {
      let port = g.port ?? -1;
      if (port <= 0) port = allocate(b, "vnc");
      if (port < 5900 || port > 65535) {
        fail("QEMU_CMD_INVALID_VALUE", {
          element: "vnc graphics port",
          reason: "vnc port must be in range [5900,65535]",
        });
      }
      const addr = listenAddress(b, l, b.ctx.graphics?.vncListen);
      opt = `${addr.includes(":") ? `[${addr}]` : addr}:${port - 5900}`;
      if (g.websocket !== undefined && g.websocket !== 0) {
        const ws = g.websocket === -1 ? allocate(b, "websocket") : g.websocket;
        opt += `,websocket=${ws}`;
      }
      break;
    }
    case "none":
      opt = "none";
      break;
  }
  if (g.sharePolicy !== undefined) opt += `,share=${g.sharePolicy}`;
  if (g.passwd !== undefined || b.ctx.graphics?.vncPassword === true) opt += ",password=on";
  const conf = b.ctx.graphics;
  // qemu.conf's vnc_tls: the server's x509 credentials as an object of their own
  let creds: Props | undefined;
  let tlsSecret: Props | undefined;
  if (conf?.vncTLS === true && l.type !== "none") {
    creds = new Props()
      .set("qom-type", "tls-creds-x509")
      .set("id", "vnc-tls-creds0")
      .set("dir", conf.vncTLSx509certdir ?? "/etc/pki/libvirt-vnc")
      .set("endpoint", "server")
      .set("verify-peer", conf.vncTLSx509verify === true);
    // vnc_tls_x509_secret_uuid: the key's password goes to QEMU as an encrypted secret
    if (conf.vncTLSx509secretUUID !== undefined) {
      const secretId = "vnc-tls-creds0-secret0";
      const get = b.ctx.secretValue;
      if (!get)
        fail("QEMU_CMD_CONTEXT_MISSING", {
          element: "vnc graphics",
          what: `the value of secret ${conf.vncTLSx509secretUUID} (vnc_tls_x509_secret_uuid)`,
        });
      tlsSecret = secretObject(b, secretId, get({ uuid: conf.vncTLSx509secretUUID }, "tls"));
      creds.set("passwordid", secretId);
    }
    opt += ",tls-creds=vnc-tls-creds0";
  }
  if (conf?.vncSASL === true && l.type !== "none") {
    opt += ",sasl=on";
    if (conf.vncSASLdir !== undefined) b.env.push(["SASL_CONF_PATH", conf.vncSASLdir]);
  }
  if (g.powerControl === true) opt += ",power-control=on";
  opt += `,audiodev=${audio}`;
  if (tlsSecret) b.addJson("-object", tlsSecret);
  if (creds) b.addJson("-object", creds);
  b.add("-vnc", opt);
  if (g.keymap !== undefined) b.add("-k", g.keymap);
}

function buildSpice(b: Build, g: GraphicsDef): void {
  const l = listenOf(g);
  let opt = "";
  let hasInsecure = false;
  let hasSecure = false;
  const tls = b.ctx.graphics?.spiceTLS === true;
  // qemu.conf's spice_auto_unix_socket: an address listen without an address is a socket in
  // the domain's directory (the driver rewrites the live listen the same way before the build)
  const autoSocket =
    l.type === "address" && l.address === undefined && b.ctx.graphics?.spiceAutoUnixSocket === true;
  switch (autoSocket ? "socket" : l.type) {
    case "socket":
      opt += `unix=on,addr=${escapeComma(l.socket ?? `${b.ctx.paths.domainDir}/spice.sock`)},`;
      hasInsecure = true;
      break;
    case "address":
    case "network": {
      let port = g.port ?? 0;
      let tlsPort = g.tlsPort ?? 0;
      if (g.autoport === true) {
        let needPort = false;
        let needTls = false;
        for (const c of g.channels ?? []) {
          if (c.mode === "secure") needTls = true;
          else if (c.mode === "insecure") needPort = true;
        }
        if (g.defaultMode === "secure") needTls = true;
        else if (g.defaultMode === "insecure") needPort = true;
        else {
          if (tls) needTls = true;
          needPort = true;
        }
        if ((needPort && port <= 0) || port === -1) port = allocate(b, "spice");
        if ((needTls && tlsPort <= 0) || tlsPort === -1) {
          if (!tls)
            fail("QEMU_CMD_UNSUPPORTED", {
              element: "spice TLS port",
              reason: "spice TLS is disabled in the configuration",
            });
          tlsPort = allocate(b, "spice-tls");
        }
      } else {
        if (port === -1) port = allocate(b, "spice");
        if (tlsPort === -1) tlsPort = allocate(b, "spice-tls");
      }
      if (port > 0) {
        opt += `port=${port},`;
        hasInsecure = true;
      }
      if (tlsPort > 0) {
        if (!tls)
          fail("QEMU_CMD_UNSUPPORTED", {
            element: "spice tlsPort",
            reason: "spice TLS is disabled in the configuration",
          });
        opt += `tls-port=${tlsPort},`;
        hasSecure = true;
      }
      if (port > 0 || tlsPort > 0) opt += `addr=${listenAddress(b, l, b.ctx.graphics?.spiceListen)},`;
      break;
    }
    case "none":
      opt += "port=0,";
      hasInsecure = true;
      break;
  }
  if (b.ctx.graphics?.spiceSASL === true) {
    opt += "sasl=on,";
    if (b.ctx.graphics.spiceSASLdir !== undefined)
      b.env.push(["SASL_CONF_PATH", b.ctx.graphics.spiceSASLdir]);
  }
  if (g.mouse?.mode === "server") opt += "agent-mouse=off,";
  else if (g.mouse?.mode === "client") opt += "agent-mouse=on,";
  if (g.passwd === undefined && b.ctx.graphics?.spicePassword !== true) opt += "disable-ticketing=on,";
  if (hasSecure)
    opt += `x509-dir=${escapeComma(b.ctx.graphics?.spiceTLSx509certdir ?? "/etc/pki/libvirt-spice")},`;
  if (g.defaultMode === "secure") {
    if (!hasSecure)
      fail("QEMU_CMD_UNSUPPORTED", {
        element: "spice defaultMode='secure'",
        reason: "TLS connection is not available",
      });
    opt += "tls-channel=default,";
  } else if (g.defaultMode === "insecure") {
    if (!hasInsecure)
      fail("QEMU_CMD_UNSUPPORTED", {
        element: "spice defaultMode='insecure'",
        reason: "plaintext connection is not available",
      });
    opt += "plaintext-channel=default,";
  }
  const order = ["main", "display", "inputs", "cursor", "playback", "record", "smartcard", "usbredir"];
  const channels = [...(g.channels ?? [])].sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name));
  for (const c of channels) {
    if (c.mode === "secure") {
      if (!hasSecure)
        fail("QEMU_CMD_UNSUPPORTED", {
          element: `spice channel '${c.name}'`,
          reason: "TLS connection is not available",
        });
      opt += `tls-channel=${c.name},`;
    } else if (c.mode === "insecure") {
      if (!hasInsecure)
        fail("QEMU_CMD_UNSUPPORTED", {
          element: `spice channel '${c.name}'`,
          reason: "plaintext connection is not available",
        });
      opt += `plaintext-channel=${c.name},`;
    }
  }
  if (g.image) opt += `image-compression=${g.image.compression},`;
  if (g.jpeg) opt += `jpeg-wan-compression=${g.jpeg.compression},`;
  if (g.zlib) opt += `zlib-glz-wan-compression=${g.zlib.compression},`;
  if (g.playback) opt += `playback-compression=${g.playback.compression ? "on" : "off"},`;
  if (g.streaming) opt += `streaming-video=${g.streaming.mode},`;
  if (g.clipboard?.copypaste === false) opt += "disable-copy-paste=on,";
  if (g.filetransfer?.enable === false) opt += "disable-agent-file-xfer=on,";
  if (g.gl?.enable === true) {
    opt += "gl=on,";
    const node = g.gl.rendernode ?? b.ctx.drmRenderNode;
    if (node !== undefined) opt += `rendernode=${escapeComma(node)},`;
  }
  opt += "seamless-migration=on";
  b.add("-spice", opt);
  if (g.keymap !== undefined) b.add("-k", g.keymap);
}

export function buildGraphics(b: Build): void {
  const counts = new Map<string, number>();
  for (const g of b.def.devices.graphics) counts.set(g.type, (counts.get(g.type) ?? 0) + 1);
  for (const [t, n] of counts) {
    if (n > 1)
      fail("QEMU_CMD_UNSUPPORTED", {
        element: `graphics type '${t}'`,
        reason: "only 1 graphics device of each type is supported",
      });
  }
  for (const g of b.def.devices.graphics) {
    switch (g.type) {
      case "vnc":
        requireFlag(b, "vnc", "vnc graphics");
        buildVnc(b, g);
        break;
      case "spice":
        requireFlag(b, "spice", "spice graphics");
        buildSpice(b, g);
        break;
      case "sdl": {
        if (g.xauth !== undefined) b.env.push(["XAUTHORITY", g.xauth]);
        if (g.display !== undefined) b.env.push(["DISPLAY", g.display]);
        if (g.fullscreen === true) b.add("-full-screen");
        let opt = "sdl";
        if (g.gl) opt += `,gl=${g.gl.enable ? "on" : "off"}`;
        b.add("-display", opt);
        break;
      }
      case "egl-headless": {
        let opt = "egl-headless";
        const node = g.gl?.rendernode ?? b.ctx.drmRenderNode;
        if (node !== undefined) opt += `,rendernode=${escapeComma(node)}`;
        b.add("-display", opt);
        break;
      }
      case "dbus": {
        let opt = "dbus";
        // the XML's bus address, else peer to peer, else the domain's own bus (libvirt runs a
        // dbus-daemon per domain); without that bus, peer to peer as well
        const addr = g.address ?? (g.p2p === true ? undefined : b.ctx.dbusDaemonAddress);
        opt += addr !== undefined ? `,addr=${escapeComma(addr)}` : ",p2p=on";
        if (g.gl) opt += `,gl=${g.gl.enable ? "on" : "off"}`;
        if (g.gl?.rendernode !== undefined) opt += `,rendernode=${escapeComma(g.gl.rendernode)}`;
        if (g.audio?.id !== undefined && g.audio.id > 0) opt += `,audiodev=${audioIdFor(b, g.audio.id)}`;
        b.add("-display", opt);
        break;
      }
      case "rdp":
        // served by the qemu-rdp process, which attaches to QEMU's D-Bus display: nothing
        // on QEMU's own command line
        if (!b.def.devices.graphics.some((x) => x.type === "dbus"))
          fail("QEMU_CMD_UNSUPPORTED", {
            element: "graphics type 'rdp'",
            reason: "the qemu-rdp server needs a <graphics type='dbus'> display to attach to",
          });
        break;
      default:
        fail("QEMU_CMD_UNSUPPORTED", {
          element: `graphics type '${g.type}'`,
          reason: "QEMU does not provide it",
        });
    }
  }
}

/**
 * QEMU's device for a video model (qemuDeviceVideoGetModel): a primary device takes the model's
 * VGA-compatible variant where there is one; `virtio` says the device is built as a virtio device
 * (with the virtio options), which the VGA-compatible variants are not. `<driver
 * name='vhostuser'>` swaps virtio-gpu for the vhost-user device talking to a separate GPU process.
 */
function videoModel(b: Build, v: VideoDef): { name: string; virtio: boolean } {
  const primary = v.model.primary === true || b.def.devices.videos[0] === v;
  const accel3d = v.model.acceleration?.accel3d === true;
  const vhostUser = v.driver?.name === "vhostuser";
  const element = `video model '${v.model.type}'`;
  const gpu = (): { name: string; virtio: boolean } => ({
    name: virtioDeviceName(
      b,
      vhostUser ? "vhost-user-gpu" : b.has("virtio-gpu-gl-pci") && accel3d ? "virtio-gpu-gl" : "virtio-gpu",
      v.address,
      undefined,
      element,
    ),
    virtio: true,
  });
  if (primary) {
    switch (v.model.type) {
      case "vga":
        return { name: "VGA", virtio: false };
      case "cirrus":
        return { name: "cirrus-vga", virtio: false };
      case "vmvga":
        return { name: "vmware-svga", virtio: false };
      case "qxl":
        return { name: "qxl-vga", virtio: false };
      case "virtio":
        if (v.address?.type === "pci" || v.address === undefined) {
          if (vhostUser && b.has("vhost-user-vga")) return { name: "vhost-user-vga", virtio: false };
          if (!vhostUser && b.has("virtio-vga"))
            return {
              name: b.has("virtio-vga-gl") && accel3d ? "virtio-vga-gl" : "virtio-vga",
              virtio: false,
            };
        }
        return gpu();
      case "bochs":
        return { name: "bochs-display", virtio: false };
      case "ramfb":
        return { name: "ramfb", virtio: false };
      default:
        break;
    }
  } else {
    if (v.model.type === "qxl") return { name: "qxl", virtio: false };
    if (v.model.type === "virtio") return gpu();
  }
  return fail("QEMU_CMD_UNSUPPORTED", {
    element,
    reason: primary
      ? "no QEMU device for this video model"
      : "this model can only be the primary video device",
  });
}

export function buildVideos(b: Build): void {
  for (const v of b.def.devices.videos) {
    const t = v.model.type;
    if (t === "none") continue;
    const { name, virtio } = videoModel(b, v);
    const vhostUser = t === "virtio" && v.driver?.name === "vhostuser";
    const alias = v.alias ?? "";
    let chardev: string | undefined;
    if (vhostUser) {
      // the socket of the vhost-user GPU process libvirt starts for the device
      const fd = b.ctx.vhostUserGpuFd?.(alias);
      if (fd === undefined)
        fail("QEMU_CMD_UNSUPPORTED", {
          element: `video ${alias}`,
          reason:
            "a vhost-user GPU (<driver name='vhostuser'>) needs its helper process, which is not started here",
        });
      chardev = `chr-vu-${alias}`;
      b.add("-chardev", `socket,id=${chardev},fd=${fd}`);
    }
    const p = new Props().set("driver", name);
    if (virtio) addVirtioOptions(p, v.virtio);
    p.set("id", alias);
    if (
      t === "virtio" &&
      !vhostUser &&
      v.model.acceleration?.accel3d !== undefined &&
      b.has("virtio-gpu.virgl")
    ) {
      p.set("virgl", v.model.acceleration.accel3d);
    }
    if (t === "qxl" || t === "virtio") p.pos("max_outputs", v.model.heads);
    if (t === "virtio") p.opt("blob", v.model.blob);
    p.opt("chardev", chardev);
    if (t === "qxl") {
      p.pos("ram_size", (v.model.ram ?? 0) * 1024).pos("vram_size", (v.model.vram ?? 0) * 1024);
      if (b.has("qxl.vram64_size_mb")) p.set("vram64_size_mb", Math.floor((v.model.vram64 ?? 0) / 1024));
      if (b.has("qxl.vgamem_mb")) p.set("vgamem_mb", Math.floor((v.model.vgamem ?? 0) / 1024));
    } else if ((t === "vga" && b.has("VGA.vgamem_mb")) || (t === "vmvga" && b.has("vmware-svga.vgamem_mb"))) {
      p.pos("vgamem_mb", Math.floor((v.model.vram ?? 0) / 1024));
    } else if (t === "bochs") {
      p.pos("vgamem", (v.model.vram ?? 0) * 1024);
    }
    if (v.model.resolution) p.pos("xres", v.model.resolution.x).pos("yres", v.model.resolution.y);
    addAddressProps(b, p, v, `video ${v.alias ?? ""}`);
    b.addJson("-device", p);
  }
}
