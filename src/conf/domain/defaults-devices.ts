/**
 * Per-device post-parse defaults (libvirt's device post-parse callbacks, QEMU's and the
 * generic ones): disk driver/format and drive addresses, controller models, NIC model and MAC,
 * character device targets and ports, video RAM, inputs, filesystems, RNG backends.
 */
import { randomBytes } from "node:crypto";
import type {
  ChrDef,
  ControllerDef,
  DiskDef,
  DomainDef,
  DomainFacts,
  InputDef,
  InterfaceDef,
  VideoDef,
} from "./types.ts";
import { isX86 } from "./machine.ts";
import { assignDriveAddress } from "./address-drive.ts";
import { assignHostdevDriveAddress } from "./address-hostdev.ts";
import { unsupported } from "./reader.ts";
import { VirtError } from "../../util/errors/index.ts";
import { shmemPostParse } from "./shmem.ts";

// ---------------------------------------------------------------------------------------------
// Character devices
// ---------------------------------------------------------------------------------------------

const MAX_ISA_SERIAL_PORTS = 4;

/** virDomainChrIsaSerialDefPostParse: explicit isa-serial ports are unique and below 4. */
function isaSerialPorts(def: DomainDef): void {
  const used = new Set<number>();
  const isa = def.devices.serials.filter((s) => s.target.type === "isa-serial");
  if (isa.length > MAX_ISA_SERIAL_PORTS || isa.some((s) => (s.target.port ?? 0) >= MAX_ISA_SERIAL_PORTS)) {
    throw unsupported(undefined, `Maximum supported number of ISA serial ports is '${MAX_ISA_SERIAL_PORTS}'`);
  }
  for (const s of isa) {
    if (s.target.port === undefined) continue;
    if (used.has(s.target.port))
      throw unsupported(undefined, `target port '${s.target.port}' already allocated`);
    used.add(s.target.port);
  }
  for (const s of isa) {
    if (s.target.port !== undefined) continue;
    for (let p = 0; p < MAX_ISA_SERIAL_PORTS; p++) {
      if (!used.has(p)) {
        s.target.port = p;
        used.add(p);
        break;
      }
    }
  }
}

const SERIAL_MODEL: Readonly<Record<string, string>> = {
  "isa-serial": "isa-serial",
  "usb-serial": "usb-serial",
  "pci-serial": "pci-serial",
  "spapr-vio-serial": "spapr-vty",
  "sclp-serial": "sclpconsole",
  "isa-debug": "isa-debugcon",
};

/** QEMU's and the generic post-parse of one character device of `list`. */
export function chrPostParse(
  def: DomainDef,
  chr: ChrDef,
  kind: "serial" | "console" | "channel" | "parallel",
): void {
  if (kind === "serial") {
    if (chr.target.type === undefined && isX86(def.os.arch)) chr.target.type = "isa-serial";
    if (chr.target.model === undefined && chr.target.type !== undefined) {
      const m = SERIAL_MODEL[chr.target.type];
      if (m) chr.target.model = m;
    }
  }
  if (kind === "console") chr.target.type ??= "serial";
  if (chr.source && chr.type === "unix" && chr.source.path === undefined) chr.source.mode = "bind";
  if (kind !== "channel" && chr.target.port === undefined) {
    const list =
      kind === "serial"
        ? def.devices.serials
        : kind === "console"
          ? def.devices.consoles
          : def.devices.parallels;
    const max = Math.max(-1, ...list.map((c) => c.target.port ?? -1));
    chr.target.port = max + 1;
  }
}

/**
 * libvirt's qemuDomainChrDefDropDefaultPath: a virtio channel's unix socket at a path the
 * driver would generate itself is forgotten, so the driver picks its current default again.
 */
function dropDefaultChannelPath(chr: ChrDef, facts: DomainFacts): void {
  const path = chr.source?.path;
  const name = chr.target.name;
  if (chr.type !== "unix" || chr.target.type !== "virtio" || path === undefined || name === undefined) return;
  if (facts.isDefaultChannelPath?.(path, name) !== true) return;
  const rest = { ...chr.source };
  delete rest.path;
  if (Object.keys(rest).every((k) => k === "mode")) delete chr.source;
  else chr.source = rest;
}

/**
 * A matcher for {@link DomainFacts.isDefaultChannelPath}: `<targetDir>/<anything>.<name>`
 * (the old flat layout), `<targetDir>/domain-<...>/<name>`, and `<dir>/<id>-<domain>/<name>`
 * under each of `perDomainDirs` (the per-domain layouts of newer releases), nothing else.
 */
export function defaultChannelPaths(
  targetDir: string,
  perDomainDirs: readonly string[],
): (path: string, name: string) => boolean {
  return (path, name) => {
    const rest = (dir: string): string | undefined =>
      path.startsWith(`${dir}/`) && path.endsWith(name)
        ? path.slice(dir.length + 1, -name.length)
        : undefined;
    const t = rest(targetDir);
    if (t !== undefined && (/^[^/]+\.$/.test(t) || /^domain-[^/]+\/$/.test(t))) return true;
    return perDomainDirs.some((dir) => {
      const r = rest(dir);
      // only a `<id>-<name>` folder: `channel/target/<name>` is a path the user chose
      return r !== undefined && /^\d+-[^/]+\/$/.test(r);
    });
  };
}

export function chrDefaults(def: DomainDef): void {
  isaSerialPorts(def);
}

// ---------------------------------------------------------------------------------------------
// Disks, controllers, NICs, video, inputs
// ---------------------------------------------------------------------------------------------

function diskDefaults(def: DomainDef, disk: DiskDef): void {
  disk.driver ??= {};
  disk.driver.name ??= "qemu";
  if (disk.driver.type === undefined && disk.type !== "volume") disk.driver.type = "raw";
  if (disk.device === "cdrom") disk.readonly = true;
  // a vhost-user back end's storage is out of libvirt's reach: never snapshotted
  if (disk.type === "vhostuser") disk.snapshot ??= "no";
  // QEMU decrypts images itself unless told to leave it to librbd
  const enc = disk.encryption ?? disk.source?.encryption;
  if (enc) enc.engine ??= "qemu";
  if (!disk.address) assignDriveAddress(def, disk);
}

/** qemuDomainDefaultSCSIControllerModel. */
function defaultScsiModel(def: DomainDef): string {
  const m = def.os.machine ?? "";
  if (m.startsWith("pseries")) return "ibmvscsi";
  if (def.os.arch === "s390x" || def.os.arch === "s390") return "virtio-scsi";
  return "lsilogic";
}

/** Default SCSI/USB controller models (qemuDomainControllerDefPostParse). */
export function controllerDefaults(def: DomainDef, c: ControllerDef, facts: DomainFacts = {}): void {
  if (c.type === "scsi" && c.model === undefined) c.model = defaultScsiModel(def);
  // A USB controller the XML names without a model is PIIX3's UHCI on x86 (q35 too) when QEMU
  // has it; otherwise it keeps no model and starting fails (qemuDomainDefaultUSBControllerModel).
  if (
    c.type === "usb" &&
    c.model === undefined &&
    isX86(def.os.arch) &&
    facts.hasDevice?.("piix3-usb-uhci") !== false
  )
    c.model = "piix3-uhci";
  if (c.type === "usb" && c.model === "none") delete c.address;
  if ((c.model === "qemu-xhci" || c.model === "nec-xhci") && (c.ports ?? 0) > 15) {
    throw unsupported(undefined, `'${c.model}' controller only supports up to '15' ports`);
  }
  if (c.type === "pci" && (c.model === "pci-root" || c.model === "pcie-root") && c.index !== 0) {
    throw new VirtError(
      "DOMAIN_PCI_ROOT_INDEX",
      {},
      { xpath: "/domain/devices/controller[@type='pci']/@index" },
    );
  }
}

/** A random MAC in QEMU's 52:54:00 prefix, as libvirt generates for NICs without one. */
export function generateMac(): string {
  const b = randomBytes(3);
  return ["52", "54", "00", ...[...b].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

function netDefaults(iface: InterfaceDef): void {
  iface.mac ??= { address: generateMac() };
  if ((iface.type === "vdpa" || iface.type === "vhostuser") && iface.model === undefined)
    iface.model = "virtio";
  else if (iface.type !== "hostdev" && iface.model === undefined) iface.model = "rtl8139";
}

/** virDomainVideoDefaultRAM, KiB. */
function defaultVideoRam(def: DomainDef, type: string): number {
  switch (type) {
    case "vga":
    case "cirrus":
    case "vmvga":
      return def.type === "vbox" ? 8 * 1024 : def.type === "vmware" ? 4 * 1024 : 16 * 1024;
    case "bochs":
      return 16 * 1024;
    case "xen":
      return 4 * 1024;
    case "qxl":
      return 64 * 1024;
    default:
      return 0;
  }
}

function roundUpPow2(n: number): number {
  if (n <= 0) return 0;
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function videoDefaults(def: DomainDef, v: VideoDef): void {
  if (v.model.type === "default") v.model.type = isX86(def.os.arch) ? "cirrus" : "virtio";
  if (v.model.type === "none") {
    v.model = { type: "none" };
    return;
  }
  if (v.model.type === "qxl") v.model.vgamem ??= 16 * 1024;
  if (v.model.ram === undefined && v.model.type === "qxl") v.model.ram = defaultVideoRam(def, "qxl");
  v.model.vram ??= defaultVideoRam(def, v.model.type);
  if (v.model.ram !== undefined) v.model.ram = roundUpPow2(v.model.ram);
  v.model.vram = roundUpPow2(v.model.vram);
  if (v.model.vram === 0) delete v.model.vram;
  if (v.model.ram === 0) delete v.model.ram;
  v.model.heads ??= 1;
}

function inputDefaults(def: DomainDef, i: InputDef): void {
  if (i.bus !== undefined) return;
  if (def.os.type !== "hvm") {
    if (def.os.type === "xen" || def.os.type === "xenpvh") i.bus = "xen";
    return;
  }
  if ((i.type === "mouse" || i.type === "keyboard") && isX86(def.os.arch)) i.bus = "ps2";
  else if (i.type === "passthrough") i.bus = "virtio";
  else if (i.type === "evdev") i.bus = "none";
  else i.bus = "usb";
}

export function deviceDefaults(def: DomainDef, facts: DomainFacts = {}): void {
  const d = def.devices;
  for (const disk of d.disks) diskDefaults(def, disk);
  for (const n of d.interfaces) netDefaults(n);
  for (const v of d.videos) videoDefaults(def, v);
  for (const c of d.controllers) controllerDefaults(def, c, facts);
  for (const s of d.serials) chrPostParse(def, s, "serial");
  for (const p of d.parallels) chrPostParse(def, p, "parallel");
  for (const c of d.channels) {
    chrPostParse(def, c, "channel");
    dropDefaultChannelPath(c, facts);
  }
  for (const c of d.consoles) chrPostParse(def, c, "console");
  for (const i of d.inputs) inputDefaults(def, i);
  for (const fs of d.filesystems) {
    if (fs.accessmode === undefined && fs.source?.socket === undefined) fs.accessmode = "passthrough";
  }
  for (const r of d.rngs) {
    if (r.backend.model === "random") r.backend.path ??= "/dev/random";
  }
  for (const m of d.memories) {
    if (m.model === "virtio-pmem") m.access ??= "shared";
  }
  if (d.vsock) {
    d.vsock.model ??= "virtio";
    d.vsock.cid ??= {};
    d.vsock.cid.auto ??= d.vsock.cid.address === undefined;
  }
  for (const t of d.tpms) {
    t.model ??= "tpm-tis";
    if (t.backend.type === "emulator")
      t.backend.version ??= t.model === "tpm-tis" && isX86(def.os.arch) ? "1.2" : "2.0";
  }
  for (const s of d.sounds) if (s.model === "virtio") s.streams ??= 2;
  for (const p of d.panics) p.model ??= isX86(def.os.arch) ? "isa" : undefined;
  // QEMU's D-Bus display exports USB redirection on this channel
  for (const r of d.redirdevs) if (r.type === "dbus") (r.source ??= {}).channel ??= "org.qemu.usbredir";
  for (const h of d.hostdevs) {
    if (h.type === "mdev" && h.model === "vfio-pci") h.display ??= false;
    assignHostdevDriveAddress(def, h);
  }
  for (const sh of d.shmems ?? []) shmemPostParse(sh);
}
