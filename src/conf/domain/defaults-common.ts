/**
 * libvirt's common post-parse step (virDomainDefPostParseCommon): memory sizes, the default
 * boot device, console/serial compatibility, implicit controllers and video, primary video.
 */
import type { ChrDef, DomainDef } from "./types.ts";
import type { DefaultsContext } from "./defaults.ts";
import { VirtError } from "../../util/errors/index.ts";
import { maybeAddController } from "./controllers.ts";
import { chrPostParse, videoDefaults } from "./defaults-devices.ts";
import { unsupported } from "./reader.ts";
import { isStatusParse } from "./parse-address.ts";

function xmlError(what: string): VirtError {
  return new VirtError("XML_INVALID", { what, xpath: "/domain", line: 1 }, { xpath: "/domain" });
}

function memoryDefaults(def: DomainDef, ctx: DefaultsContext): void {
  const numa = def.cpu?.numa?.cells.reduce((sum, c) => sum + c.memory, 0) ?? 0;
  const hotplug = def.devices.memories.reduce((sum, m) => sum + m.target.size, 0);
  if ((def.memory === 0 || ctx.abiUpdate) && numa > 0) {
    def.memory = numa + hotplug;
  } else if (hotplug > def.memory) {
    throw xmlError("Total size of memory devices exceeds the total memory size");
  }
  if (def.memory - hotplug <= 0 && numa === 0)
    throw new VirtError("DOMAIN_MEMORY_MISSING", {}, { xpath: "/domain/memory" });
  if (def.currentMemory === 0 || def.currentMemory > def.memory) def.currentMemory = def.memory;
  if (def.maxMemory && def.maxMemory.size === 0 && (def.maxMemory.slots ?? 0) > 0) {
    throw xmlError("maximum memory size must be specified when specifying number of memory slots");
  }
  if (def.maxMemory && def.maxMemory.size > 0 && def.maxMemory.size < def.memory) {
    throw xmlError("maximum memory size must be equal or greater than the actual memory size");
  }
}

/** Every device that may carry `<boot order>`. */
function bootOrders(def: DomainDef): number[] {
  const d = def.devices;
  const all = [...d.disks, ...d.interfaces, ...d.hostdevs, ...d.filesystems, ...d.redirdevs];
  return all.flatMap((x) => (x.boot ? [x.boot.order] : []));
}

function bootDefaults(def: DomainDef): void {
  if (def.os.type !== "hvm") return;
  const orders = bootOrders(def);
  const seen = new Set<number>();
  for (const o of orders) {
    if (seen.has(o)) throw unsupported(undefined, `boot order '${o}' used for more than one device`);
    seen.add(o);
  }
  if (def.os.boot.length > 0 && orders.length > 0) {
    throw unsupported(undefined, "per-device boot elements cannot be used together with os/boot elements");
  }
  if (def.os.boot.length === 0 && orders.length === 0) def.os.boot.push("hd");
}

function sameSource(a: ChrDef, b: ChrDef): boolean {
  return a.type === b.type && JSON.stringify(a.source ?? {}) === JSON.stringify(b.source ?? {});
}

/** virDomainDefAddConsoleCompat: the first console of an HVM guest mirrors serial 0. */
function consoleCompat(def: DomainDef): void {
  const d = def.devices;
  if (def.os.type !== "hvm") return;
  for (const c of d.consoles.slice(1)) {
    if (c.target.type === "serial")
      throw unsupported(undefined, "Only the first console can be a serial port");
  }
  const first = d.consoles[0];
  if (first && (first.target.type === undefined || first.target.type === "serial")) {
    if (d.serials.length === 0) {
      const serial: ChrDef = { ...first, target: { port: 0 } };
      delete serial.alias;
      d.serials.push(serial);
      d.consoles[0] = { type: first.type, target: { type: "serial", port: 0 } };
    } else if (!sameSource(d.serials[0]!, first)) {
      d.consoles[0] = { type: d.serials[0]!.type, target: { type: "serial", port: 0 } };
    }
  } else if (d.serials[0]?.target.type === "isa-serial") {
    d.consoles.unshift({ type: d.serials[0].type, target: { type: "serial", port: 0 } });
    // the consoles after the stub move up one place: a console's port is its place in the list
    d.consoles.forEach((c, i) => {
      if (i > 0) c.target.port = i;
    });
  }
}

function diskControllers(def: DomainDef, bus: "scsi" | "fdc" | "ide" | "sata"): void {
  let max = -1;
  for (const disk of def.devices.disks) {
    if (disk.target.bus === bus && disk.address?.type === "drive")
      max = Math.max(max, disk.address.controller);
  }
  for (let i = 0; i <= max; i++) maybeAddController(def, bus, i);
}

function virtioSerialControllers(def: DomainDef): void {
  const chrs = [
    ...def.devices.channels.filter((c) => c.target.type === "virtio"),
    ...def.devices.consoles.filter((c) => c.target.type === "virtio"),
  ];
  for (const c of chrs) {
    const idx = c.address?.type === "virtio-serial" ? c.address.controller : 0;
    maybeAddController(def, "virtio-serial", idx);
  }
}

/**
 * A smartcard without an address takes the next slot of CCID controller 0 (libvirt's
 * virDomainDefMaybeAddSmartcardController); the controllers named get added.
 */
function smartcardControllers(def: DomainDef): void {
  const cards = def.devices.smartcards ?? [];
  const used = new Set<string>();
  for (const s of cards)
    if (s.address?.type === "ccid") used.add(`${s.address.controller}:${s.address.slot}`);
  for (const s of cards) {
    if (!s.address) {
      let slot = 0;
      while (used.has(`0:${slot}`)) slot++;
      used.add(`0:${slot}`);
      s.address = { type: "ccid", controller: 0, slot };
    }
    if (s.address.type === "ccid") maybeAddController(def, "ccid", s.address.controller);
  }
}

function implicitControllers(def: DomainDef): void {
  diskControllers(def, "scsi");
  diskControllers(def, "fdc");
  diskControllers(def, "ide");
  diskControllers(def, "sata");
  virtioSerialControllers(def);
  smartcardControllers(def);
  for (const h of def.devices.hostdevs) {
    if (h.type === "scsi" && h.address?.type === "drive")
      maybeAddController(def, "scsi", h.address.controller);
  }
}

function implicitVideo(def: DomainDef): void {
  const d = def.devices;
  if (d.graphics.length === 0 || d.videos.length > 0) return;
  d.videos.push({ model: { type: "default" } });
}

function primaryVideo(def: DomainDef): void {
  const v = def.devices.videos[0];
  if (!v) return;
  if (v.model.type === "none") return;
  v.model.primary = true;
  videoDefaults(def, v);
}

/**
 * qemuDomainRecheckInternalPaths: a VNC/SPICE socket inside the driver's own directory is one a
 * running guest was given; a new definition drops it for an address listen (a status file keeps
 * it).
 */
function internalSockets(def: DomainDef, libDir: string | undefined): void {
  if (libDir === undefined || isStatusParse()) return;
  for (const g of def.devices.graphics) {
    if (g.type !== "vnc" && g.type !== "spice") continue;
    g.listens.forEach((l, i) => {
      if (l.type !== "socket" || l.autoGenerated || !l.socket?.startsWith(`${libDir}/`)) return;
      if (g.socket === l.socket) delete g.socket;
      g.listens[i] = { type: "address" };
    });
  }
}

function graphicsDefaults(def: DomainDef): void {
  for (const g of def.devices.graphics) {
    const first = g.listens[0];
    if (g.type === "spice" && first?.type === "address" && !g.port && !g.tlsPort && !g.autoport) {
      g.listens[0] = { type: "none" };
    }
  }
}

/** Without guest NUMA a hugepage nodeset of just node 0 means "all memory" and is dropped. */
function hugepageNodesets(def: DomainDef): void {
  if (def.cpu?.numa?.cells.length) return;
  for (const p of def.memoryBacking?.hugepages?.pages ?? []) {
    if (p.nodeset === "0") delete p.nodeset;
  }
}

export function commonDefaults(def: DomainDef, ctx: DefaultsContext): void {
  memoryDefaults(def, ctx);
  hugepageNodesets(def);
  if (def.os.loader?.path !== undefined) def.os.loader.type ??= "rom";
  bootDefaults(def);
  consoleCompat(def);
  implicitControllers(def);
  implicitVideo(def);
  primaryVideo(def);
  const s0 = def.devices.serials[0];
  if (s0) chrPostParse(def, s0, "serial");
  internalSockets(def, ctx.facts.libDir);
  graphicsDefaults(def);
}
