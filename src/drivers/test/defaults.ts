/**
 * The post-parse defaults libvirt applies to a domain of the test driver. `conf/domain` fills
 * QEMU's defaults; the test driver parses with `noDefaults` and applies only what libvirt's
 * generic `domain_conf.c` post-parse does for a driver with no hypervisor-specific callbacks
 * (plus the test driver's own `testDomainDevicesDefPostParse` and interface names), so that
 * `dumpxml` prints what `virsh -c test:///default dumpxml` prints:
 *
 * - `<type arch=>` defaults to `i686` (the driver's `defArch`);
 * - `<currentMemory>` is the memory size when absent or larger;
 * - `<vcpu placement='static'>`;
 * - `<boot dev='hd'/>` when no boot device and no per-device boot order is given;
 * - `<clock offset='utc'/>` and the lifecycle actions destroy / restart / destroy;
 * - a disk's bus from its target name, `<readonly/>` for CD-ROMs, default ports of network
 *   disk hosts, drive addresses for IDE,
 *   SATA, SCSI and floppy disks, and the implicit controllers those addresses need;
 * - serial ports get a target port and the first one is mirrored as the console (and back);
 * - controllers without an index get the lowest free one; filesystems (but those served by an
 *   external virtiofsd socket) default to `accessmode='passthrough'`;
 * - VNC/SPICE/RDP graphics get `port='-1' autoport='yes'` and an address listen; a domain with
 *   graphics and no video gets one (`cirrus`, or `xen` for xen/linux guests);
 * - interfaces get a random `52:54:00` MAC and a `testnetN` target device.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type {
  ChrDef,
  ControllerDef,
  ControllerType,
  DiskBus,
  DiskDef,
  DomainDef,
  InterfaceDef,
} from "../../conf/domain/index.ts";

/** The architecture of test driver guests (`TEST_MODEL` / `defArch` in libvirt). */
export const TEST_ARCH = "i686";

export function applyTestDefaults(def: DomainDef): void {
  if (!def.uuid) def.uuid = randomUUID();
  const os = def.os as DomainDef["os"] | undefined;
  if (os) {
    os.arch ??= TEST_ARCH;
    (os as { boot: DomainDef["os"]["boot"] | undefined }).boot ??= [];
  }
  if (!def.currentMemory || def.currentMemory > def.memory) def.currentMemory = def.memory;
  def.vcpu = { ...def.vcpu };
  def.vcpu.placement ??= "static";
  if (os && os.boot.length === 0 && !hasBootOrder(def)) os.boot.push("hd");
  (def as { clock: DomainDef["clock"] | undefined }).clock ??= { offset: "utc", timers: [] };
  (def as { onPoweroff: DomainDef["onPoweroff"] | undefined }).onPoweroff ??= "destroy";
  (def as { onReboot: DomainDef["onReboot"] | undefined }).onReboot ??= "restart";
  (def as { onCrash: DomainDef["onCrash"] | undefined }).onCrash ??= "destroy";

  for (const disk of def.devices.disks) diskDefaults(disk);
  controllerIndexes(def);
  for (const fs of def.devices.filesystems)
    if (fs.source?.socket === undefined) fs.accessmode ??= "passthrough";
  addDiskControllers(def);
  chrDefaults(def);
  graphicsDefaults(def);
  videoDefaults(def);
  for (const net of def.devices.interfaces) net.mac ??= { address: randomMac() };
  generateIfnames(def);
}

function hasBootOrder(def: DomainDef): boolean {
  const d = def.devices;
  return [...d.disks, ...d.interfaces, ...d.hostdevs, ...d.redirdevs].some((x) => x.boot !== undefined);
}

// --- disks ------------------------------------------------------------------------------------

const busPrefixes: [string, DiskBus][] = [
  ["hd", "ide"],
  ["sd", "scsi"],
  ["vd", "virtio"],
  ["xvd", "xen"],
  ["ub", "usb"],
];

const defaultPorts: Record<string, number> = {
  http: 80,
  https: 443,
  ftp: 21,
  ftps: 990,
  tftp: 69,
  sheepdog: 7000,
  nbd: 10809,
  ssh: 22,
  iscsi: 3260,
  gluster: 24007,
  vxhs: 9999,
};

function diskDefaults(disk: DiskDef): void {
  if (disk.target.bus === undefined) {
    if (disk.device === "floppy") disk.target.bus = "fdc";
    else disk.target.bus = busPrefixes.find(([p]) => disk.target.dev.startsWith(p))?.[1] ?? "ide";
  }
  if (disk.device === "cdrom") disk.readonly = true;
  // virStorageSourceNetworkAssignDefaultPorts: TCP hosts without a port get the protocol's.
  const port = defaultPorts[disk.source?.protocol ?? ""];
  if (port !== undefined) {
    for (const h of disk.source?.hosts ?? []) if ((h.transport ?? "tcp") === "tcp" && !h.port) h.port = port;
  }
  if (disk.address === undefined) {
    const idx = diskNameToIndex(disk.target.dev);
    if (idx < 0) return;
    switch (disk.target.bus) {
      case "scsi":
        disk.address = { type: "drive", controller: Math.floor(idx / 7), bus: 0, target: 0, unit: idx % 7 };
        break;
      case "ide":
        disk.address = {
          type: "drive",
          controller: Math.floor(idx / 4),
          bus: Math.floor((idx % 4) / 2),
          target: 0,
          unit: idx % 2,
        };
        break;
      case "sata":
        disk.address = { type: "drive", controller: Math.floor(idx / 6), bus: 0, target: 0, unit: idx % 6 };
        break;
      case "fdc":
        disk.address = { type: "drive", controller: Math.floor(idx / 2), bus: 0, target: 0, unit: idx % 2 };
        break;
      default:
        break;
    }
  }
}

/** libvirt's virDiskNameToIndex: `sda` → 0, `hdc` → 2, `vdaa` → 26; -1 if not a disk name. */
export function diskNameToIndex(name: string): number {
  const m = /^(?:fd|hd|vd|sd|xvd|ubd)([a-z]+)(\d*)$/.exec(name);
  if (!m) return -1;
  let idx = 0;
  for (const ch of m[1]!) idx = idx * 26 + (ch.charCodeAt(0) - 97 + 1);
  return idx - 1;
}

/** Controllers given without an index get the lowest one unused for their type. */
function controllerIndexes(def: DomainDef): void {
  for (const c of def.devices.controllers) {
    if (c.index >= 0) continue;
    let i = 0;
    while (def.devices.controllers.some((o) => o !== c && o.type === c.type && o.index === i)) i++;
    c.index = i;
  }
}

const diskControllerOrder: [ControllerType, DiskBus][] = [
  ["scsi", "scsi"],
  ["fdc", "fdc"],
  ["ide", "ide"],
  ["sata", "sata"],
];

function addDiskControllers(def: DomainDef): void {
  for (const [ctype, bus] of diskControllerOrder) {
    let max = -1;
    for (const d of def.devices.disks) {
      if (d.target.bus !== bus || d.address?.type !== "drive") continue;
      max = Math.max(max, d.address.controller);
    }
    for (let i = 0; i <= max; i++) maybeAddController(def, ctype, i);
  }
  if (
    !def.devices.controllers.some((c) => c.type === "virtio-serial") &&
    [...def.devices.channels, ...def.devices.consoles].some((c) => c.target.type === "virtio")
  ) {
    maybeAddController(def, "virtio-serial", 0);
  }
}

/** libvirt's virDomainDefMaybeAddController + virDomainControllerInsertPreAlloced. */
function maybeAddController(def: DomainDef, type: ControllerType, index: number): void {
  const list = def.devices.controllers;
  if (list.some((c) => c.type === type && c.index === index)) return;
  const ctrl: ControllerDef = { type, index };
  let insertAt = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    const cur = list[i]!;
    if (cur.type !== type) continue;
    if (cur.index > index) insertAt = i;
    else if (insertAt === -1) insertAt = i + 1;
  }
  if (insertAt === -1) list.push(ctrl);
  else list.splice(insertAt, 0, ctrl);
}

// --- serial ports and consoles ----------------------------------------------------------------

function chrDefaults(def: DomainDef): void {
  const d = def.devices;
  let next = 0;
  for (const s of d.serials) {
    if (s.target.port === undefined) {
      while (d.serials.some((o) => o.target.port === next)) next++;
      s.target.port = next;
    }
  }
  if (def.os.type !== "hvm") return;
  const first = d.consoles[0];
  if (first && (first.target.type === undefined || first.target.type === "serial")) {
    if (d.serials.length === 0) {
      const serial: ChrDef = structuredClone(first);
      serial.target = { port: first.target.port ?? 0 };
      d.serials.push(serial);
    }
    first.target = { ...first.target, type: "serial", port: d.serials[0]!.target.port ?? 0 };
  } else if (!first && d.serials.length > 0) {
    const s0 = d.serials[0]!;
    const console: ChrDef = structuredClone(s0);
    delete console.address;
    delete console.alias;
    console.target = { type: "serial", port: s0.target.port ?? 0 };
    d.consoles.push(console);
  }
}

// --- graphics and video -----------------------------------------------------------------------

function graphicsDefaults(def: DomainDef): void {
  for (const g of def.devices.graphics) {
    if (g.type === "vnc" || g.type === "spice" || g.type === "rdp") {
      if (g.port === undefined && g.socket === undefined) {
        g.port = -1;
        g.autoport ??= true;
      }
      (g as { listens: typeof g.listens | undefined }).listens ??= [];
      if (g.listens.length === 0 && g.socket === undefined) g.listens.push({ type: "address" });
    }
  }
}

const videoRam: Record<string, number> = {
  cirrus: 16384,
  vga: 16384,
  vmvga: 4096,
  xen: 4096,
  virtio: 16384,
  bochs: 16384,
  qxl: 65536,
};

function videoDefaults(def: DomainDef): void {
  const d = def.devices;
  if (d.graphics.length > 0 && d.videos.length === 0) d.videos.push({ model: { type: "default" } });
  d.videos.forEach((v, i) => {
    if (!v.model.type || v.model.type === "default") {
      v.model.type = def.os.type === "xen" || def.os.type === "linux" ? "xen" : "cirrus";
    }
    const ram = videoRam[v.model.type];
    if (v.model.type === "qxl") v.model.ram ??= 65536;
    if (v.model.vram === undefined && ram !== undefined) v.model.vram = ram;
    v.model.heads ??= 1;
    if (i === 0) v.model.primary ??= true;
  });
}

// --- interfaces -------------------------------------------------------------------------------

function randomMac(): string {
  const b = randomBytes(3);
  return ["52", "54", "00", ...[...b].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** testDomainGenerateIfnames: the first free `testnetN` for interfaces without a target. */
export function generateIfnames(def: DomainDef): void {
  const nets: InterfaceDef[] = def.devices.interfaces;
  for (const net of nets) {
    if (net.target?.dev) continue;
    let n = 0;
    while (nets.some((o) => o.target?.dev === `testnet${n}`)) n++;
    net.target = { ...(net.target ?? {}), dev: `testnet${n}` };
  }
}
