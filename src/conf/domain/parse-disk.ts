/**
 * `<disk>` and `<controller>`.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { XmlElement } from "../xml.ts";
import type {
  ControllerDef,
  ControllerType,
  DiskBackingStore,
  DiskBus,
  DiskDef,
  DiskDriver,
  DiskSource,
} from "./types.ts";
import { isStatusParse, parseDeviceInfo, parseVirtioOptions } from "./parse-address.ts";
import { parseDiskAuth, parseDiskSecrets } from "./parse-disk-secrets.ts";
import { parseThrottleFilters } from "./throttle.ts";
import { assignDefaultPorts, parseDataStore, parseNetworkSourceExtras } from "./parse-disk-net.ts";
import { parseIothreadMapping } from "./iothreads.ts";
import { diskNameToIndex } from "./address-drive.ts";
import {
  parseDiskSourceExtras,
  parseMetadataCache,
  parseNvmeSource,
  parseVhostUserSource,
} from "./disk-source-extras.ts";
import {
  enumAttr,
  invalidAttr,
  missingChild,
  onOff,
  reqEnum,
  reqStr,
  sizeText,
  str,
  uintAttr,
  uintText,
  yesNo,
} from "./reader.ts";

const DISK_TYPES = ["file", "block", "dir", "network", "volume", "nvme", "vhostuser", "vhostvdpa"] as const;
const DISK_DEVICES = ["disk", "cdrom", "floppy", "lun"] as const;
export const DISK_BUSES = [
  "ide",
  "fdc",
  "scsi",
  "virtio",
  "xen",
  "usb",
  "uml",
  "sata",
  "sd",
  "none",
] as const;

/** The bus libvirt infers from a target name prefix. */
export function busFromTargetName(dev: string): DiskBus {
  if (dev.startsWith("hd")) return "ide";
  if (dev.startsWith("sd")) return "scsi";
  if (dev.startsWith("vd")) return "virtio";
  if (dev.startsWith("xvd")) return "xen";
  if (dev.startsWith("ubd")) return "uml";
  if (dev.startsWith("fd")) return "fdc";
  return "ide";
}

function parseDriver(el: XmlElement): DiskDriver {
  const d: DiskDriver = {};
  const name = str(el, "name");
  const type = str(el, "type");
  if (name !== undefined) d.name = name;
  if (type !== undefined) {
    if (!/^[a-z0-9-]+$/i.test(type))
      throw invalidAttr(el, "type", type, "expected an image format like raw or qcow2");
    d.type = type;
  }
  const cache = enumAttr(el, "cache", [
    "default",
    "none",
    "writethrough",
    "writeback",
    "directsync",
    "unsafe",
  ] as const);
  if (cache && cache !== "default") d.cache = cache;
  const ep = enumAttr(el, "error_policy", ["default", "stop", "report", "ignore", "enospace"] as const);
  if (ep && ep !== "default") d.error_policy = ep;
  const rp = enumAttr(el, "rerror_policy", ["default", "stop", "report", "ignore"] as const);
  if (rp && rp !== "default") d.rerror_policy = rp;
  const io = enumAttr(el, "io", ["default", "threads", "native", "io_uring"] as const);
  if (io && io !== "default") d.io = io;
  const ioeventfd = onOff(el, "ioeventfd");
  const eventIdx = onOff(el, "event_idx");
  const cor = onOff(el, "copy_on_read");
  const dnu = onOff(el, "discard_no_unref");
  if (ioeventfd !== undefined) d.ioeventfd = ioeventfd;
  if (eventIdx !== undefined) d.event_idx = eventIdx;
  if (cor !== undefined) d.copy_on_read = cor;
  if (dnu !== undefined) d.discard_no_unref = dnu;
  const discard = enumAttr(el, "discard", ["default", "unmap", "ignore"] as const);
  if (discard && discard !== "default") d.discard = discard;
  const dz = enumAttr(el, "detect_zeroes", ["default", "off", "on", "unmap"] as const);
  if (dz && dz !== "default") d.detect_zeroes = dz;
  const iothread = uintAttr(el, "iothread", { hex: false, min: 1, max: 0xffffffff });
  const queues = uintAttr(el, "queues", { hex: false, min: 1, max: 0xffffffff });
  const qs = uintAttr(el, "queue_size", { hex: false, min: 1, max: 0xffffffff });
  if (iothread !== undefined) d.iothread = iothread;
  if (queues !== undefined) d.queues = queues;
  if (qs !== undefined) d.queue_size = qs;
  const mapping = parseIothreadMapping(el);
  if (mapping) d.iothreads = mapping;
  const mc = parseMetadataCache(el);
  if (mc !== undefined) d.metadataCacheMax = mc;
  return d;
}

function parseSource(el: XmlElement, type: DiskDef["type"]): DiskSource | undefined {
  const s: DiskSource = {};
  const set = (key: "file" | "dev" | "dir" | "protocol" | "name" | "pool" | "volume"): void => {
    const v = str(el, key);
    if (v !== undefined && v !== "") s[key] = v;
  };
  switch (type) {
    case "file": {
      set("file");
      const fdgroup = str(el, "fdgroup");
      if (fdgroup !== undefined) s.fdgroup = fdgroup;
      break;
    }
    case "block":
    case "vhostvdpa":
      set("dev");
      break;
    case "dir":
      set("dir");
      break;
    case "network":
      set("protocol");
      set("name");
      s.hosts = el.all("host").map((h) => {
        const host: NonNullable<DiskSource["hosts"]>[number] = {};
        const name = str(h, "name");
        const port = uintAttr(h, "port", { hex: false, max: 65535 });
        const transport = enumAttr(h, "transport", ["tcp", "unix", "rdma"] as const);
        const socket = str(h, "socket");
        if (name !== undefined) host.name = name;
        if (port !== undefined) host.port = port;
        if (transport) host.transport = transport;
        if (socket !== undefined) host.socket = socket;
        return host;
      });
      if (s.hosts.length === 0) delete s.hosts;
      {
        const snap = el.child("snapshot");
        const name = snap ? str(snap, "name") : undefined;
        if (name !== undefined) s.snapshot = name;
        const conf = el.child("config");
        const file = conf ? str(conf, "file") : undefined;
        if (file !== undefined) s.configFile = file;
        const iqn = el.child("initiator")?.child("iqn");
        const iqnName = iqn ? str(iqn, "name") : undefined;
        if (iqnName !== undefined) s.initiatorIqn = iqnName;
      }
      parseNetworkSourceExtras(el, s);
      assignDefaultPorts(s);
      break;
    case "volume": {
      set("pool");
      set("volume");
      // libvirt accepts only these two (not its internal 'default')
      const mode = enumAttr(el, "mode", ["host", "direct"] as const);
      if (mode) s.mode = mode;
      // a running domain's status file also records what the volume resolved to
      if (isStatusParse()) {
        const actual = enumAttr(el, "actualType", ["file", "block", "dir"] as const);
        if (actual) {
          s.actualType = actual;
          set(actual === "block" ? "dev" : actual);
        }
      }
      break;
    }
    case "nvme":
      parseNvmeSource(el, s);
      break;
    case "vhostuser":
      parseVhostUserSource(el, s);
      break;
    default:
      break;
  }
  const sp = enumAttr(el, "startupPolicy", ["mandatory", "requisite", "optional"] as const);
  if (sp) s.startupPolicy = sp;
  const index = uintAttr(el, "index", { hex: false });
  if (index !== undefined) s.index = index;
  const ds = el.child("dataStore");
  if (ds) s.dataStore = parseDataStore(ds, parseSource);
  parseDiskSourceExtras(el, s);
  const hasPath = s.file ?? s.dev ?? s.dir ?? s.protocol ?? s.pool ?? s.nvme ?? s.vhostuser;
  return hasPath === undefined && s.startupPolicy === undefined ? undefined : s;
}

/** A `<backingStore>` chain; an empty element (libvirt's end of chain) or an unknown type ends it. */
function parseBackingStore(el: XmlElement | undefined): DiskBackingStore | undefined {
  if (!el || el.attrs.length === 0) {
    el?.markAllUsed();
    return undefined;
  }
  // network and other layers are not modelled yet: left unread, so they are reported as
  // unknown XML (a warning) instead of failing the definition
  const t = str(el, "type");
  if (t !== "file" && t !== "block") return undefined;
  const type = t;
  const src = el.child("source");
  const path = src ? str(src, type === "file" ? "file" : "dev") : undefined;
  const bs: DiskBackingStore = { type, source: type === "file" ? { file: path ?? "" } : { dev: path ?? "" } };
  if (src) {
    const fdgroup = type === "file" ? str(src, "fdgroup") : undefined;
    if (fdgroup !== undefined) bs.source.fdgroup = fdgroup;
    const extras: DiskSource = {};
    parseDiskSourceExtras(src, extras);
    if (extras.slices) bs.source.slices = extras.slices;
  }
  src?.markAllUsed();
  const fmt = el.child("format");
  const ft = fmt ? str(fmt, "type") : undefined;
  if (ft !== undefined) bs.format = ft;
  const mc = parseMetadataCache(fmt);
  if (mc !== undefined) bs.metadataCacheMax = mc;
  fmt?.markAllUsed();
  str(el, "index");
  const belowEl = el.child("backingStore");
  const below = parseBackingStore(belowEl);
  if (below) bs.backingStore = below;
  else if (belowEl && belowEl.attrs.length === 0 && belowEl.children.length === 0) bs.end = true;
  return bs;
}

/**
 * Adds a disk where libvirt's virDomainDiskInsert puts it: with the disks of its bus, before the
 * first of them with a higher drive index; a disk of a new bus goes last.
 */
export function insertDisk(disks: DiskDef[], disk: DiskDef): void {
  const idx = diskNameToIndex(disk.target.dev);
  let at = -1;
  for (let i = disks.length - 1; i >= 0; i--) {
    const o = disks[i]!;
    if (o.target.bus !== disk.target.bus) continue;
    if (diskNameToIndex(o.target.dev) > idx) at = i;
    else if (at === -1) at = i + 1;
  }
  if (at === -1) disks.push(disk);
  else disks.splice(at, 0, disk);
}

export function parseDisk(el: XmlElement): DiskDef {
  const type = enumAttr(el, "type", DISK_TYPES) ?? "file";
  const device = enumAttr(el, "device", DISK_DEVICES) ?? "disk";
  const targetEl = el.child("target");
  if (!targetEl) {
    const src = el.child("source");
    const path = src?.attr("file") ?? src?.attr("dev") ?? src?.attr("dir") ?? src?.attr("name");
    if (path === undefined) throw missingChild(el, "target");
    throw new VirtError(
      "DOMAIN_DISK_TARGET_MISSING",
      { path },
      { xpath: `${el.xpath}/target`, line: el.line },
    );
  }
  const dev = reqStr(targetEl, "dev");
  if (!/^[a-z]+[a-z0-9]*$/i.test(dev))
    throw invalidAttr(targetEl, "dev", dev, "expected a target name like vda, hda or sda");
  const disk: DiskDef = { type, device, target: { dev } };
  disk.target.bus = enumAttr(targetEl, "bus", DISK_BUSES) ?? busFromTargetName(dev);
  const tray = enumAttr(targetEl, "tray", ["open", "closed"] as const);
  const removable = onOff(targetEl, "removable");
  const rr = uintAttr(targetEl, "rotation_rate", { hex: false, max: 65535 });
  if (tray) disk.target.tray = tray;
  if (removable !== undefined) disk.target.removable = removable;
  if (rr !== undefined) disk.target.rotation_rate = rr;
  const model = enumAttr(el, "model", ["virtio", "virtio-transitional", "virtio-non-transitional"] as const);
  if (model) disk.model = model;
  const snapshot = str(el, "snapshot");
  if (snapshot !== undefined) disk.snapshot = snapshot;
  const rawio = yesNo(el, "rawio");
  if (rawio !== undefined) disk.rawio = rawio;
  const sgio = str(el, "sgio");
  if (sgio !== undefined) disk.sgio = sgio;
  const driver = el.child("driver");
  if (driver) disk.driver = parseDriver(driver);
  parseVirtioOptions(driver, disk);
  const source = el.child("source");
  if (source) {
    const s = parseSource(source, type);
    // a disk's iSCSI target without a LUN means LUN 0, and libvirt writes it so (post-parse)
    if (s?.protocol === "iscsi" && s.name !== undefined && !s.name.includes("/")) s.name = `${s.name}/0`;
    if (s) disk.source = s;
  }
  // an empty network CD-ROM or floppy (no source to say which protocol) is an empty file drive
  if (
    type === "network" &&
    disk.source?.protocol === undefined &&
    (device === "cdrom" || device === "floppy")
  )
    disk.type = "file";
  // ... and so is an empty volume one (no pool to say which volume)
  if (type === "volume" && disk.source?.pool === undefined && (device === "cdrom" || device === "floppy"))
    disk.type = "file";
  const backingEl = el.child("backingStore");
  const backing = parseBackingStore(backingEl);
  if (backing) disk.backingStore = backing;
  else if (backingEl && backingEl.attrs.length === 0 && backingEl.children.length === 0)
    disk.backingStoreEnd = true;
  parseDiskSecrets(el, source, disk);
  parseThrottleFilters(el, disk);
  if (el.child("readonly")) disk.readonly = true;
  if (el.child("shareable")) disk.shareable = true;
  const transient = el.child("transient");
  if (transient) {
    disk.transient = true;
    if (yesNo(transient, "shareBacking") === true) disk.transientShareBacking = true;
  }
  for (const key of ["serial", "wwn", "vendor", "product"] as const) {
    const v = el.childText(key);
    if (v !== undefined && v !== "") disk[key] = v;
  }
  // the serial is taken as written, spaces included (QEMU gets them escaped)
  const serialEl = el.child("serial");
  if (serialEl && disk.serial !== undefined) disk.serial = serialEl.text;
  const blockio = el.child("blockio");
  if (blockio) {
    disk.blockio = {};
    for (const k of ["logical_block_size", "physical_block_size", "discard_granularity"] as const) {
      const v = uintAttr(blockio, k, { hex: false, max: 0xffffffff });
      if (v !== undefined) disk.blockio[k] = v;
    }
  }
  const geo = el.child("geometry");
  if (geo) {
    disk.geometry = {
      cyls: uintAttr(geo, "cyls", { hex: false, max: 0xffffffff }) ?? 0,
      heads: uintAttr(geo, "heads", { hex: false, max: 0xffffffff }) ?? 0,
      secs: uintAttr(geo, "secs", { hex: false, max: 0xffffffff }) ?? 0,
    };
    const trans = str(geo, "trans");
    if (trans !== undefined) disk.geometry.trans = trans;
  }
  parseDeviceInfo(el, disk);
  return disk;
}

// ---------------------------------------------------------------------------------------------
// Controllers
// ---------------------------------------------------------------------------------------------

const CONTROLLER_TYPES = [
  "ide",
  "fdc",
  "scsi",
  "sata",
  "virtio-serial",
  "ccid",
  "usb",
  "pci",
  "xenbus",
  "isa",
  "nvme",
] as const;

export const CONTROLLER_MODELS: Readonly<Partial<Record<ControllerType, readonly string[]>>> = {
  scsi: [
    "auto",
    "buslogic",
    "lsilogic",
    "lsisas1068",
    "vmpvscsi",
    "ibmvscsi",
    "virtio-scsi",
    "lsisas1078",
    "virtio-transitional",
    "virtio-non-transitional",
    "ncr53c90",
    "am53c974",
    "dc390",
  ],
  usb: [
    "piix3-uhci",
    "piix4-uhci",
    "ehci",
    "ich9-ehci1",
    "ich9-uhci1",
    "ich9-uhci2",
    "ich9-uhci3",
    "vt82c686b-uhci",
    "pci-ohci",
    "nec-xhci",
    "qusb1",
    "qusb2",
    "qemu-xhci",
    "none",
  ],
  pci: [
    "pci-root",
    "pcie-root",
    "pci-bridge",
    "dmi-to-pci-bridge",
    "pcie-root-port",
    "pcie-switch-upstream-port",
    "pcie-switch-downstream-port",
    "pci-expander-bus",
    "pcie-expander-bus",
    "pcie-to-pci-bridge",
  ],
  "virtio-serial": ["virtio", "virtio-transitional", "virtio-non-transitional"],
  ide: ["piix3", "piix4", "ich6"],
  isa: ["isa-bridge"],
};

const PCI_MODEL_NAMES = [
  "pci-bridge",
  "i82801b11-bridge",
  "ioh3420",
  "pcie-root-port",
  "x3130-upstream",
  "xio3130-downstream",
  "pxb",
  "pxb-pcie",
  "pcie-pci-bridge",
  "spapr-pci-host-bridge",
] as const;

function parsePciTarget(el: XmlElement, c: ControllerDef): void {
  const t: NonNullable<ControllerDef["target"]> = {};
  const set = (k: "chassisNr" | "chassis" | "port" | "busNr" | "index", max: number, min = 0): void => {
    const v = uintAttr(el, k, { min, max });
    if (v !== undefined) t[k] = v;
  };
  set("chassisNr", 255, 1);
  set("chassis", 255);
  set("port", 255);
  set("busNr", 254, 1);
  set("index", 31);
  const hotplug = onOff(el, "hotplug");
  if (hotplug !== undefined) t.hotplug = hotplug;
  const mr = uintAttr(el, "memReserve", { hex: false });
  if (mr !== undefined) t.memReserve = mr;
  const node = el.child("node");
  if (node) t.node = uintText(node, { hex: false, max: 0xffff });
  c.target = t;
}

/** First EHCI1 port of each ICH9 UHCI companion. */
const USB_COMPANION_START_PORT: Readonly<Record<string, number>> = {
  "ich9-uhci1": 0,
  "ich9-uhci2": 2,
  "ich9-uhci3": 4,
};

export function parseController(el: XmlElement): ControllerDef & { indexGiven: boolean } {
  const type = reqEnum(el, "type", CONTROLLER_TYPES);
  const rawIndex = el.attr("index")?.trim();
  if (rawIndex !== undefined && /^-[0-9]+$/.test(rawIndex)) {
    // libvirt reads the index as a signed integer that must not be negative (virXMLPropInt)
    throw new VirtError(
      "DOMAIN_XML_ATTR_NEGATIVE",
      { attr: "index", element: "controller", value: rawIndex },
      { xpath: `${el.xpath}/@index`, line: el.line, column: el.column },
    );
  }
  const index = uintAttr(el, "index", { hex: false, max: 0x7fffffff });
  const c: ControllerDef & { indexGiven: boolean } = {
    type,
    index: index ?? 0,
    indexGiven: index !== undefined,
  };
  const model = str(el, "model");
  if (model !== undefined) {
    const allowed = CONTROLLER_MODELS[type];
    if (!allowed?.includes(model)) {
      throw invalidAttr(el, "model", model, `expected a ${type} controller model`, allowed ?? []);
    }
    if (!(type === "scsi" && model === "auto")) c.model = model;
  }
  const ports = uintAttr(el, "ports", { hex: false, max: 0xffffffff });
  if (ports !== undefined) c.ports = ports;
  const vectors = uintAttr(el, "vectors", { hex: false, max: 0xffffffff });
  if (vectors !== undefined) c.vectors = vectors;
  if (type === "pci") {
    const m = el.child("model");
    if (m) {
      const name = enumAttr(m, "name", PCI_MODEL_NAMES);
      if (name) c.modelName = name;
    }
    const t = el.child("target");
    if (t) parsePciTarget(t, c);
    const hole = el.child("pcihole64");
    if (hole) c.pcihole64 = sizeText(hole);
  }
  const driver = el.child("driver");
  if (driver) {
    const d: NonNullable<ControllerDef["driver"]> = {};
    for (const k of ["queues", "cmd_per_lun", "max_sectors", "iothread"] as const) {
      const v = uintAttr(driver, k, { hex: false, max: 0xffffffff });
      if (v !== undefined) d[k] = v;
    }
    const ioe = onOff(driver, "ioeventfd");
    if (ioe !== undefined) d.ioeventfd = ioe;
    const mapping = parseIothreadMapping(driver);
    if (mapping) d.iothreads = mapping;
    c.driver = d;
  }
  parseVirtioOptions(driver, c);
  const master = el.child("master");
  if (master) c.master = { startport: uintAttr(master, "startport", { hex: false, max: 0xffffffff }) ?? 0 };
  else if (type === "usb" && model !== undefined && model in USB_COMPANION_START_PORT) {
    // An ICH9 UHCI written without <master> is still its EHCI1's companion: libvirt gives it
    // the two ports its function owns (UHCI1 0-1, UHCI2 2-3, UHCI3 4-5) already while parsing,
    // so it sorts behind its master like one written with <master>.
    c.master = { startport: USB_COMPANION_START_PORT[model]! };
  }
  parseDeviceInfo(el, c);
  return c;
}

/** A `<source>` of this storage type outside a disk (`<nvram type='network'>`). */
export function parseDiskSource(el: XmlElement, type: DiskDef["type"]): DiskSource | undefined {
  const s = parseSource(el, type);
  const auth = el.child("auth");
  if (s && auth) s.auth = parseDiskAuth(auth);
  return s;
}
