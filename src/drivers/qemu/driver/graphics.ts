/**
 * Graphics of a running domain (libvirt's qemuProcessGraphicsReservePorts /
 * qemuProcessGraphicsAllocatePorts and their release in qemuProcessStop): the ports of VNC and
 * SPICE with autoport, and VNC websockets, are taken from the driver's allocators before the
 * command line is built and written into the live definition (so the live XML and the status
 * file show them); explicit ports are marked held so autoport never hands them out. A restarted
 * driver marks the ports of the guests it reconnects to as held.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DomainDef, GraphicsDef } from "../../../conf/domain/types.ts";
import { keycodeSetName, translateKeycode } from "../../../conf/keycodes.ts";
import { passwdValidToSeconds } from "../../../conf/domain/parse-media.ts";
import type { PortAllocator } from "../../../host/ports.ts";
import { parseNetwork } from "../../../conf/network/parse.ts";
import { networkDriverFor } from "../../network/driver.ts";
import { checkFlags, strerror, VirtError } from "../../../util/errors/index.ts";
import type { Socket } from "node:net";
import { socketFd, socketPair } from "../../../util/fdpass.ts";
import { DomainOpenGraphicsFlags, KeycodeSet } from "../../enums.ts";
import type { CommandContext } from "../command/types.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { GraphicsOptions, QemuDriver } from "./driver.ts";

/** qemu.conf's graphics settings as the command builder takes them. */
export function graphicsContext(conf: GraphicsOptions): NonNullable<CommandContext["graphics"]> {
  const { vncPassword, spicePassword, ...rest } = conf;
  return { ...rest, vncPassword: vncPassword !== undefined, spicePassword: spicePassword !== undefined };
}

/** Ports one run holds; `release` gives them back once (later calls do nothing). */
export interface GraphicsPorts {
  readonly ports: readonly { readonly allocator: PortAllocator; readonly port: number }[];
  release(): void;
}

function hold(list: { allocator: PortAllocator; port: number }[]): GraphicsPorts {
  let released = false;
  return {
    ports: list,
    release(): void {
      if (released) return;
      released = true;
      for (const { allocator, port } of list) allocator.release(port);
    },
  };
}

/** The address a graphics device listens on (the bind check uses it). */
function listenAddress(g: GraphicsDef): string | undefined {
  const l = g.listens[0] ?? { type: "address" };
  if (l.type !== "address" && l.type !== "network") return undefined;
  return l.address ?? "127.0.0.1";
}

/** Which SPICE ports autoport needs (libvirt's qemuProcessSPICEAllocatePorts). */
function spiceNeeds(g: GraphicsDef, tls: boolean): { port: boolean; tls: boolean } {
  let port = false;
  let needTls = false;
  for (const c of g.channels ?? []) {
    if (c.mode === "secure") needTls = true;
    else if (c.mode === "insecure") port = true;
  }
  if (g.defaultMode === "secure") needTls = true;
  else if (g.defaultMode === "insecure") port = true;
  else {
    if (tls) needTls = true;
    port = true;
  }
  return { port, tls: needTls };
}

/**
 * Reserves the graphics ports of `live` (the definition about to start) and writes the chosen
 * ones into it. On failure nothing stays reserved.
 */
/** The address a graphics listen on network `name` binds: the first `<ip>` of its XML. */
export function networkListenAddress(name: string, networkXml: string): string {
  const address = parseNetwork(networkXml).def.ips[0]?.address;
  if (address === undefined) throw new VirtError("QEMU_GRAPHICS_NETWORK_NO_ADDRESS", { network: name });
  return address;
}

export async function reserveGraphicsPorts(
  drv: QemuDriver,
  live: DomainDef,
  opts: { spiceTLS?: boolean; domainDir?: string } = {},
): Promise<GraphicsPorts> {
  const conf = drv.options.graphics;
  const taken: { allocator: PortAllocator; port: number }[] = [];
  const { display, websocket } = drv.ports;
  // an explicit port: held for this domain (libvirt's virPortAllocatorSetUsed refuses one that
  // another domain holds); ports outside the range are not the allocator's
  const mark = (allocator: PortAllocator, port: number): void => {
    if (allocator.has(port)) throw new VirtError("PORT_RESERVED", { port });
    if (allocator.setUsed(port)) taken.push({ allocator, port });
  };
  const acquire = async (allocator: PortAllocator, address: string): Promise<number> => {
    const port = await allocator.acquire(address);
    taken.push({ allocator, port });
    return port;
  };
  try {
    for (const g of live.devices.graphics) {
      // a listen on a network binds the network's first address, written into the live XML
      // (libvirt's qemuProcessGraphicsSetupNetworkAddress)
      const listen = g.listens[0];
      if (
        (g.type === "vnc" || g.type === "spice") &&
        listen?.type === "network" &&
        listen.address === undefined &&
        listen.network !== undefined
      ) {
        const nd = await networkDriverFor(drv.root);
        const xml = nd.getXMLDesc(nd.lookupByName(listen.network), 0);
        g.listens[0] = { ...listen, address: networkListenAddress(listen.network, xml) };
      }
      // libvirt's qemuProcessGraphicsSetupListen: the live XML names the address QEMU listens on
      // (qemu.conf's vnc_listen / spice_listen), or with spice_auto_unix_socket a socket
      const first = g.listens[0];
      if (
        (g.type === "spice" || g.type === "vnc") &&
        first?.type === "address" &&
        first.address === undefined &&
        (g.type === "spice" ? conf.spiceAutoUnixSocket : conf.vncAutoUnixSocket) === true &&
        opts.domainDir !== undefined
      )
        g.listens[0] = { type: "socket", socket: join(opts.domainDir, `${g.type}.sock`) };
      else if (
        (g.type === "vnc" || g.type === "spice") &&
        first?.type === "address" &&
        first.address === undefined
      )
        g.listens[0] = {
          type: "address",
          address: (g.type === "vnc" ? conf.vncListen : conf.spiceListen) ?? "127.0.0.1",
        };
      // and the socket it makes in the domain's directory
      if (
        (g.type === "vnc" || g.type === "spice") &&
        first?.type === "socket" &&
        first.socket === undefined &&
        opts.domainDir !== undefined
      )
        g.listens[0] = { type: "socket", socket: join(opts.domainDir, `${g.type}.sock`) };
      const address = listenAddress(g);
      if (address === undefined) continue;
      if (g.type === "vnc") {
        if (g.autoport === true || g.port === undefined || g.port <= 0)
          g.port = await acquire(display, address);
        else mark(display, g.port);
        if (g.websocket === -1) g.websocket = await acquire(websocket, address);
        else if (g.websocket !== undefined && g.websocket > 0) mark(websocket, g.websocket);
      } else if (g.type === "spice") {
        if (g.autoport === true) {
          const need = spiceNeeds(g, opts.spiceTLS === true);
          if (need.port) g.port = await acquire(display, address);
          // without TLS configured the command builder refuses the TLS port with its own message
          if (need.tls && opts.spiceTLS === true) g.tlsPort = await acquire(display, address);
        } else {
          if (g.port === -1) g.port = await acquire(display, address);
          else if (g.port !== undefined && g.port > 0) mark(display, g.port);
          if (g.tlsPort === -1 && opts.spiceTLS === true) g.tlsPort = await acquire(display, address);
          else if (g.tlsPort !== undefined && g.tlsPort > 0) mark(display, g.tlsPort);
        }
      }
    }
  } catch (e) {
    hold(taken).release();
    throw e;
  }
  return hold(taken);
}

/**
 * Marks the ports a running guest holds (its live definition, read back from the status file)
 * as used in this driver's allocators: a restarted driver never hands them out again.
 */
export function adoptGraphicsPorts(drv: QemuDriver, live: DomainDef): GraphicsPorts {
  const taken: { allocator: PortAllocator; port: number }[] = [];
  const mark = (allocator: PortAllocator, port: number | undefined): void => {
    if (port !== undefined && port > 0 && allocator.setUsed(port)) taken.push({ allocator, port });
  };
  for (const g of live.devices.graphics) {
    if (listenAddress(g) === undefined) continue;
    if (g.type === "vnc") {
      mark(drv.ports.display, g.port);
      mark(drv.ports.websocket, g.websocket);
    } else if (g.type === "spice") {
      mark(drv.ports.display, g.port);
      mark(drv.ports.display, g.tlsPort);
    }
  }
  return hold(taken);
}

// ---------------------------------------------------------------------------------------------
// passwords
// ---------------------------------------------------------------------------------------------

/**
 * libvirt's qemuDomainChangeGraphicsPasswords: QMP `set_password` with the device's `passwd` (or
 * qemu.conf's default password of its type), then `expire_password`: `now` for an empty
 * password or a `passwdValidTo` in the past, the validity as seconds since the epoch, else
 * `never`. A device with neither password is left alone.
 */
export async function setGraphicsPassword(
  qmp: QmpClient,
  g: GraphicsDef,
  conf: GraphicsOptions,
  nowMs = Date.now(),
): Promise<void> {
  if (g.type !== "vnc" && g.type !== "spice") return;
  const password = g.passwd ?? (g.type === "vnc" ? conf.vncPassword : conf.spicePassword);
  if (password === undefined) return;
  await qmp.execute("set_password", {
    protocol: g.type,
    password,
    ...(g.connected !== undefined ? { connected: g.connected } : {}),
  });
  const validTo = g.passwdValidTo !== undefined ? passwdValidToSeconds(g.passwdValidTo) : undefined;
  const time =
    password === "" || (validTo !== undefined && validTo <= Math.floor(nowMs / 1000))
      ? "now"
      : validTo !== undefined
        ? String(validTo)
        : "never";
  await qmp.execute("expire_password", { protocol: g.type, time });
}

/** The passwords of a starting guest, before its CPUs run (libvirt's qemuProcessInitPasswords). */
export async function initGraphicsPasswords(
  qmp: QmpClient,
  live: DomainDef,
  conf: GraphicsOptions,
): Promise<void> {
  for (const g of live.devices.graphics) await setGraphicsPassword(qmp, g, conf);
}

function changeRefused(what: string): VirtError {
  return new VirtError("QEMU_GRAPHICS_CHANGE", { what });
}

/**
 * libvirt's qemuDomainChangeGraphics, the checks: update-device of a running guest's `<graphics>`
 * may change its password, validity and `connected` only; listens, ports and keymap stay.
 * Returns the device it changes (of the live definition).
 */
export function checkGraphicsChange(def: DomainDef, want: GraphicsDef): GraphicsDef {
  const old = def.devices.graphics.find((g) => g.type === want.type);
  if (!old) throw new VirtError("QEMU_GRAPHICS_NOT_FOUND", { type: want.type });
  if (want.type !== "vnc" && want.type !== "spice")
    throw new VirtError("QEMU_GRAPHICS_CHANGE_TYPE", { type: want.type });
  if (want.listens.length !== old.listens.length)
    throw changeRefused(`the number of listen addresses on '${want.type}' graphics`);
  want.listens.forEach((l, i) => {
    const o = old.listens[i]!;
    if (l.type !== o.type) throw changeRefused(`the type of listen address on '${want.type}' graphics`);
    if (l.type === "address" && l.address !== o.address)
      throw changeRefused(`listen address setting on ${want.type} graphics`);
    if (l.type === "network" && l.network !== o.network)
      throw changeRefused(`listen network setting on ${want.type} graphics`);
    if (l.type === "socket" && l.socket !== undefined && l.socket !== o.socket)
      throw changeRefused(`listen socket setting on ${want.type} graphics`);
  });
  const auto = (g: GraphicsDef): boolean => g.autoport === true;
  if (
    auto(old) !== auto(want) ||
    (!auto(want) && (old.port ?? 0) !== (want.port ?? 0)) ||
    (want.type === "spice" && !auto(want) && (old.tlsPort ?? 0) !== (want.tlsPort ?? 0))
  )
    throw changeRefused(`port settings on ${want.type} graphics`);
  if (old.keymap !== want.keymap) throw changeRefused(`keymap setting on ${want.type} graphics`);
  return old;
}

/**
 * Whether the password must be set again: it changed, a validity is or was set, `connected`
 * changed, or (SPICE) it asks to disconnect the clients.
 */
export function graphicsPasswordChanged(old: GraphicsDef, want: GraphicsDef): boolean {
  return (
    old.passwdValidTo !== undefined ||
    want.passwdValidTo !== undefined ||
    old.connected !== want.connected ||
    (want.type === "spice" && want.connected === "disconnect") ||
    old.passwd !== want.passwd
  );
}

/** The device with the password settings of `want`. */
export function withGraphicsPassword(old: GraphicsDef, want: GraphicsDef): GraphicsDef {
  return {
    ...structuredClone(old),
    passwd: want.passwd,
    passwdValidTo: want.passwdValidTo,
    connected: want.connected,
  };
}

// ---------------------------------------------------------------------------------------------
// screenshot and send-key
// ---------------------------------------------------------------------------------------------

/** The monitor of a running domain, or libvirt's "domain is not running". */
function liveQmp(obj: QemuDomainObj): QmpClient {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  if (!run.qmp) throw new VirtError("QEMU_MONITOR_UNAVAILABLE", { name: obj.name, operation: "the monitor" });
  return run.qmp;
}

/**
 * libvirt's qemuDomainScreenshot: QMP `screendump` of screen `screen` (counted over the heads of
 * the video devices) to a temporary file of the driver's cache dir, read back and removed. As
 * libvirt since 9.1: PNG (`image/png`) when QEMU's screendump takes `format` (QEMU 7.1+, the
 * `screenshot-format-png` flag), else PPM (`image/x-portable-pixmap`). The caller names the
 * file by the MIME type (virsh: `.png` or `.ppm`).
 */
export async function screenshot(
  drv: QemuDriver,
  obj: QemuDomainObj,
  screen: number,
  flags: number,
): Promise<{ mime: string; data: Buffer }> {
  checkFlags(flags, 0, "qemuDomainScreenshot");
  const job = await obj.job.acquire("query", "virDomainScreenshot");
  try {
    const qmp = liveQmp(obj);
    const videos = obj.def.devices.videos.filter((v) => v.model.type !== "none");
    if (videos.length === 0) throw new VirtError("QEMU_SCREENSHOT_NO_VIDEO", {});
    const args: Record<string, unknown> = {};
    const caps = await drv.caps(obj.def.devices.emulator);
    const png = caps.flags.has("screenshot-format-png");
    if (screen !== 0) {
      if (!caps.flags.has("screendump_device")) throw new VirtError("QEMU_SCREENSHOT_SCREEN_ZERO", {});
      let head = screen;
      const video = videos.find((v) => {
        const heads = v.model.heads ?? 1;
        if (head < heads) return true;
        head -= heads;
        return false;
      });
      if (!video?.alias) throw new VirtError("QEMU_SCREENSHOT_NO_SCREEN", { screen });
      args.device = video.alias;
      args.head = head;
    }
    await mkdir(drv.paths.cacheDir, { recursive: true, mode: 0o750 });
    const dir = await mkdtemp(join(drv.paths.cacheDir, "qemu.screendump."));
    const file = join(dir, png ? "screen.png" : "screen.ppm");
    try {
      await qmp.execute("screendump", { filename: file, ...args, ...(png ? { format: "png" } : {}) });
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch (e) {
        throw new VirtError("QEMU_SCREENSHOT_READ", { path: file, reason: strerror(e) }, {}, { cause: e });
      }
      return { mime: png ? "image/png" : "image/x-portable-pixmap", data };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    job.release();
  }
}

/**
 * libvirt's qemuDomainSendKey: the key codes translated to qnum (QMP `send-key` takes those),
 * pressed together for `holdtime` ms (QEMU's default 100 ms when 0), then released.
 */
export async function sendKey(
  obj: QemuDomainObj,
  codeset: number,
  holdtime: number,
  keycodes: readonly number[],
  flags: number,
): Promise<void> {
  checkFlags(flags, 0, "qemuDomainSendKey");
  const qnums = keycodes.map((k) => {
    const q = codeset === KeycodeSet.QNUM ? k : translateKeycode(codeset, KeycodeSet.QNUM, k);
    if (q === undefined)
      throw new VirtError("QEMU_SENDKEY_TRANSLATE", { keycode: k, codeset: keycodeSetName(codeset) });
    return q;
  });
  const job = await obj.job.acquire("modify", "virDomainSendKey");
  try {
    const qmp = liveQmp(obj);
    await qmp.execute("send-key", {
      keys: qnums.map((data) => ({ type: "number", data })),
      ...(holdtime > 0 ? { "hold-time": holdtime } : {}),
    });
  } finally {
    job.release();
  }
}

// ---------------------------------------------------------------------------------------------
// a client's socket handed to the display (virDomainOpenGraphics / virDomainOpenGraphicsFD)
// ---------------------------------------------------------------------------------------------

/** The name under which the descriptor is known to QEMU between `getfd` and `add_client`. */
const GRAPHICS_FDNAME = "graphicsfd";

/**
 * libvirt's qemuDomainOpenGraphics: descriptor `fd` (a connected socket of this process) goes to
 * QEMU with QMP `getfd` (SCM_RIGHTS on the monitor socket) and becomes a client of graphics
 * device `idx` with `add_client` (VNC or SPICE; `skipauth` with `SKIPAUTH`). The caller keeps its
 * own copy of `fd` and closes it when it likes.
 */
export async function openGraphics(
  obj: QemuDomainObj,
  idx: number,
  fd: number,
  flags: number,
  api: "virDomainOpenGraphics" | "virDomainOpenGraphicsFD" = "virDomainOpenGraphics",
): Promise<void> {
  checkFlags(flags, DomainOpenGraphicsFlags.SKIPAUTH, api.replace("vir", "qemu"));
  const job = await obj.job.acquire("modify", api);
  try {
    const qmp = liveQmp(obj);
    const g = obj.def.devices.graphics[idx];
    if (!g) throw new VirtError("QEMU_GRAPHICS_NO_INDEX", { idx });
    if (g.type !== "vnc" && g.type !== "spice")
      throw new VirtError("QEMU_GRAPHICS_OPEN_TYPE", { type: g.type });
    await qmp.executeWithFd("getfd", { fdname: GRAPHICS_FDNAME }, fd);
    try {
      await qmp.execute("add_client", {
        protocol: g.type,
        fdname: GRAPHICS_FDNAME,
        skipauth: (flags & DomainOpenGraphicsFlags.SKIPAUTH) !== 0,
      });
    } catch (e) {
      // QEMU keeps a named descriptor until it is used or closed.
      await qmp.execute("closefd", { fdname: GRAPHICS_FDNAME }).catch(() => undefined);
      throw e;
    }
  } finally {
    job.release();
  }
}

/**
 * libvirt's qemuDomainOpenGraphicsFD: a socket pair, one end given to QEMU as a client of
 * graphics device `idx`, the other returned. The returned end does not read until resumed, so
 * the display's greeting waits in it for whoever takes it (a local caller, or tvirtd passing it
 * on to its client).
 */
export async function openGraphicsFd(obj: QemuDomainObj, idx: number, flags: number): Promise<Socket> {
  checkFlags(flags, DomainOpenGraphicsFlags.SKIPAUTH, "qemuDomainOpenGraphicsFD");
  const [ours, theirs] = await socketPair();
  try {
    const fd = socketFd(theirs);
    if (fd === undefined)
      throw new VirtError("BUG", { what: "openGraphicsFd: the socket pair has no descriptor" });
    await openGraphics(obj, idx, fd, flags, "virDomainOpenGraphicsFD");
    return ours;
  } catch (e) {
    ours.destroy();
    throw e;
  } finally {
    theirs.destroy();
  }
}
