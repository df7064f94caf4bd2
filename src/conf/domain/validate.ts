/**
 * Checks libvirt makes after parsing (virDomainDefValidate and the QEMU driver's validation)
 * that the corpus and users meet: names, memory sizes, duplicate targets, boot and CPU rules.
 */
import { validateThrottleFilters } from "./throttle.ts";
import type { XmlElement } from "../xml.ts";
import type {
  ChrDef,
  ChrSource,
  ControllerDef,
  DeviceAddress,
  DeviceCommon,
  DiskDef,
  DomainDef,
  DomainFacts,
  HostdevDef,
  InterfaceDef,
  MemoryDeviceDef,
} from "./types.ts";
import { parseBitmap } from "./bitmap.ts";
import { checkUsbAddresses } from "./address-usb.ts";
import { isI440fx } from "./machine.ts";
import { VirtError } from "../../util/errors/index.ts";

/** Smallest guest memory libvirt's QEMU driver accepts without complaint (KiB). */
export const MIN_MEMORY_KIB = 1024;

function nameError(root: XmlElement, name: string, reason: string): VirtError {
  const el = root.children.find((c) => c.name === "name");
  const xpath = "/domain/name";
  const line = el?.line ?? root.line;
  return new VirtError(
    "DOMAIN_INVALID_NAME",
    { name, xpath, line, reason },
    { xpath, line, column: el?.column ?? root.column },
  );
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlChars = /[\u0000-\u001f\u007f]/;

export function validateName(root: XmlElement, name: string): void {
  if (name === "") throw nameError(root, name, "it is empty");
  if (name.includes("/")) throw nameError(root, name, "it cannot contain '/'");
  if (name.includes("..")) throw nameError(root, name, "it cannot contain '..'");
  if (controlChars.test(name)) {
    throw nameError(
      root,
      name.replace(new RegExp(controlChars.source, "g"), "?"),
      "it cannot contain control characters",
    );
  }
  if (name.trim() !== name) throw nameError(root, name, "it cannot begin or end with white space");
}

function duplicateTargets(def: DomainDef): void {
  const disks = def.devices.disks;
  const src = (d: DiskDef): string =>
    d.source?.file ?? d.source?.dev ?? d.source?.dir ?? d.source?.name ?? d.source?.volume ?? "";
  for (let i = 0; i < disks.length; i++) {
    for (let j = i + 1; j < disks.length; j++) {
      if (disks[i]!.target.dev !== disks[j]!.target.dev) continue;
      throw new VirtError(
        "DOMAIN_DISK_TARGET_DUPLICATE",
        // disks are in libvirt's bus/index order here (insertDisk), the earlier one named first
        { target: disks[i]!.target.dev, first: src(disks[i]!), second: src(disks[j]!) },
        { xpath: `/domain/devices/disk[${j + 1}]/target/@dev` },
      );
    }
  }
  const tags = new Set<string>();
  def.devices.filesystems.forEach((fs, i) => {
    if (tags.has(fs.target.dir)) {
      throw new VirtError(
        "DOMAIN_FS_TARGET_DUPLICATE",
        { target: fs.target.dir },
        { xpath: `/domain/devices/filesystem[${i + 1}]/target/@dir` },
      );
    }
    tags.add(fs.target.dir);
  });
}

/** Two disks of one bus at the same drive address (virDomainDefDuplicateDriveAddressesValidate). */
function duplicateDriveAddresses(def: DomainDef): void {
  const disks = def.devices.disks;
  for (let i = 0; i < disks.length; i++) {
    const a = disks[i]!.address;
    if (a?.type !== "drive") continue;
    for (let j = i + 1; j < disks.length; j++) {
      const b = disks[j]!.address;
      if (disks[i]!.target.bus !== disks[j]!.target.bus || b?.type !== "drive") continue;
      if (a.controller === b.controller && a.bus === b.bus && a.target === b.target && a.unit === b.unit) {
        throw new VirtError(
          "DOMAIN_DISK_DRIVE_ADDRESS_DUPLICATE",
          {
            target: disks[i]!.target.dev,
            controller: a.controller,
            bus: a.bus,
            unitTarget: a.target,
            unit: a.unit,
          },
          { xpath: `/domain/devices/disk[${j + 1}]/address` },
        );
      }
    }
  }
}

/** Buses whose disks sit on a drive address only (virDomainDiskAddressDiskBusCompatibility). */
const DRIVE_BUSES = new Set(["ide", "fdc", "scsi", "sata"]);
const VPD_LIMITS = { vendor: 8, product: 16 } as const;

/** A disk's encryption and auth (qemuDomainValidateStorageSource, virStorageSourceIsValid). */
function diskSecrets(d: DiskDef, xpath: string): void {
  const enc = d.encryption ?? d.source?.encryption;
  const fmt = d.driver?.type;
  if (enc && enc.engine !== "librbd" && fmt !== undefined && fmt !== "raw" && fmt !== "qcow2") {
    throw new VirtError(
      "CONFIG_UNSUPPORTED",
      { what: "encryption is supported only with 'raw' and 'qcow2' image format" },
      { xpath: `${xpath}/driver/@type` },
    );
  }
  const auth = d.auth ?? d.source?.auth;
  const protocol = d.source?.protocol;
  const want = protocol === "iscsi" ? "iscsi" : protocol === "rbd" ? "ceph" : undefined;
  if (auth && want !== undefined && auth.secret.type !== want) {
    throw new VirtError(
      "CONFIG_UNSUPPORTED",
      { what: `invalid secret type '${auth.secret.type}'` },
      { xpath: `${xpath}/auth/secret/@type` },
    );
  }
}

/** One disk (virDomainDiskDefValidate and qemuValidateDomainDeviceDefDisk). */
function disk(d: DiskDef, i: number): void {
  const xpath = `/domain/devices/disk[${i + 1}]`;
  const bus = d.target.bus ?? "none";
  if (d.address && DRIVE_BUSES.has(bus) && d.address.type !== "drive") {
    throw new VirtError(
      "DOMAIN_DISK_ADDRESS_BUS_MISMATCH",
      { addressType: d.address.type, target: d.target.dev, bus },
      { xpath: `${xpath}/address/@type` },
    );
  }
  if (/[0-9]$/.test(d.target.dev) && d.target.bus !== "sd") {
    throw new VirtError(
      "DOMAIN_DISK_TARGET_PARTITION",
      { target: d.target.dev },
      { xpath: `${xpath}/target/@dev` },
    );
  }
  if (d.sgio === "unfiltered")
    throw new VirtError("DOMAIN_DISK_SGIO_UNFILTERED", {}, { xpath: `${xpath}/@sgio` });
  if (d.device === "lun") {
    if (d.type === "network" && d.source?.protocol !== undefined && d.source.protocol !== "iscsi") {
      throw new VirtError(
        "DOMAIN_DISK_LUN_PROTOCOL",
        { protocol: d.source.protocol },
        { xpath: `${xpath}/source/@protocol` },
      );
    }
    if (d.type !== "block" && d.type !== "network" && d.type !== "volume") {
      throw new VirtError("DOMAIN_DISK_LUN_SOURCE", {}, { xpath: `${xpath}/@type` });
    }
    if (d.driver?.type !== undefined && d.driver.type !== "raw") {
      throw new VirtError("DOMAIN_DISK_LUN_FORMAT", {}, { xpath: `${xpath}/driver/@type` });
    }
  } else {
    if (d.rawio !== undefined)
      throw new VirtError("DOMAIN_DISK_LUN_ONLY", { what: "rawio" }, { xpath: `${xpath}/@rawio` });
    if (d.sgio !== undefined)
      throw new VirtError("DOMAIN_DISK_LUN_ONLY", { what: "sgio" }, { xpath: `${xpath}/@sgio` });
  }
  if (bus !== "virtio") {
    if (d.model !== undefined) {
      throw new VirtError("DOMAIN_DISK_MODEL_BUS", { model: d.model, bus }, { xpath: `${xpath}/@model` });
    }
    const only: [unknown, string, string][] = [
      [
        d.driver?.queues,
        "queues",
        "queues attribute in disk driver element is only supported for virtio bus",
      ],
      [
        d.driver?.queue_size,
        "queue_size",
        "queue_size attribute in disk driver is only supported for virtio bus",
      ],
      [d.driver?.event_idx, "event_idx", "disk event_idx mode supported only for virtio bus"],
      [d.driver?.ioeventfd, "ioeventfd", "disk ioeventfd mode supported only for virtio bus"],
    ];
    for (const [value, attr, what] of only) {
      if (value !== undefined)
        throw new VirtError("DOMAIN_DISK_VIRTIO_ONLY", { what }, { xpath: `${xpath}/driver/@${attr}` });
    }
  }
  if (d.target.tray !== undefined && d.device !== "cdrom" && d.device !== "floppy") {
    throw new VirtError("DOMAIN_DISK_TRAY", {}, { xpath: `${xpath}/target/@tray` });
  }
  if (d.target.removable !== undefined && bus !== "usb" && !(bus === "scsi" && d.device === "disk")) {
    throw new VirtError("DOMAIN_DISK_REMOVABLE", {}, { xpath: `${xpath}/target/@removable` });
  }
  diskSecrets(d, xpath);
  for (const what of ["vendor", "product"] as const) {
    const v = d[what];
    if (v === undefined) continue;
    // SATA disks take a product name too.
    if (bus !== "scsi" && (what === "vendor" || bus !== "sata"))
      throw new VirtError("DOMAIN_DISK_SCSI_ONLY", { what }, { xpath: `${xpath}/${what}` });
    if (v.length > VPD_LIMITS[what]) {
      throw new VirtError(
        "DOMAIN_DISK_VPD_TOO_LONG",
        { what, max: VPD_LIMITS[what] },
        { xpath: `${xpath}/${what}` },
      );
    }
  }
  if (d.source?.protocol === "sheepdog") {
    throw new VirtError("DOMAIN_DISK_PROTOCOL_SHEEPDOG", {}, { xpath: `${xpath}/source/@protocol` });
  }
  const fmt = d.driver?.type;
  if (fmt === "cow") throw new VirtError("DOMAIN_DISK_FORMAT_COW", {}, { xpath: `${xpath}/driver/@type` });
  if (fmt === "dir") throw new VirtError("DOMAIN_DISK_FORMAT_DIR", {}, { xpath: `${xpath}/driver/@type` });
  if (fmt === "iso") throw new VirtError("DOMAIN_DISK_FORMAT_ISO", {}, { xpath: `${xpath}/driver/@type` });
  if (bus === "usb" && d.address && d.address.type !== "usb") {
    throw new VirtError("DOMAIN_DISK_USB_ADDRESS", {}, { xpath: `${xpath}/address/@type` });
  }
  if (bus === "usb" && d.source === undefined) {
    throw new VirtError("DOMAIN_DISK_USB_EMPTY", {}, { xpath: `${xpath}/source` });
  }
  if (d.shareable && !d.readonly && fmt !== undefined && fmt !== "raw") {
    throw new VirtError(
      "DOMAIN_DISK_SHARED_FORMAT",
      { target: d.target.dev },
      { xpath: `${xpath}/shareable` },
    );
  }
}

function memory(def: DomainDef): void {
  if (def.memory > 0 && def.memory < MIN_MEMORY_KIB) {
    throw new VirtError(
      "DOMAIN_MEMORY_TOO_SMALL",
      { what: "guest memory", size: def.memory, min: MIN_MEMORY_KIB },
      { xpath: "/domain/memory" },
    );
  }
}

/** Members of a canonical node set (`0-2,5`). */
function nodes(set: string): number[] {
  return parseBitmap(set) ?? [];
}

/** `<memoryBacking><hugepages>` against the guest NUMA cells (virDomainDefMemtuneValidate). */
function hugepages(def: DomainDef): void {
  const pages = def.memoryBacking?.hugepages?.pages ?? [];
  const count = def.cpu?.numa?.cells.length ?? 0;
  pages.forEach((p, i) => {
    const mine = p.nodeset === undefined ? undefined : nodes(p.nodeset);
    for (const q of pages.slice(0, i)) {
      if (mine && q.nodeset !== undefined && nodes(q.nodeset).some((n) => mine.includes(n))) {
        throw new VirtError(
          "DOMAIN_HUGEPAGES_NODESETS_INTERSECT",
          { first: p.size, second: q.size },
          { xpath: `/domain/memoryBacking/hugepages/page[${i + 1}]/@nodeset` },
        );
      }
      if (!mine && q.nodeset === undefined) {
        throw new VirtError(
          "DOMAIN_HUGEPAGES_TWO_MASTERS",
          { first: p.size, second: q.size },
          { xpath: `/domain/memoryBacking/hugepages/page[${i + 1}]` },
        );
      }
    }
    const missing = mine?.find((n) => n >= count);
    if (missing !== undefined) {
      throw new VirtError(
        "DOMAIN_HUGEPAGES_NODE_MISSING",
        { node: missing },
        { xpath: `/domain/memoryBacking/hugepages/page[${i + 1}]/@nodeset` },
      );
    }
  });
}

/** `<numatune>` against the guest NUMA cells (virDomainNumatuneParseXML's rules). */
function numatune(def: DomainDef): void {
  const nt = def.numatune;
  if (!nt) return;
  const count = def.cpu?.numa?.cells.length ?? 0;
  nt.memnodes.forEach((m, i) => {
    const xpath = `/domain/numatune/memnode[${i + 1}]`;
    if (count === 0) throw new VirtError("DOMAIN_NUMATUNE_MEMNODE_NO_NUMA", {}, { xpath });
    if (m.cellid >= count) throw new VirtError("DOMAIN_NUMATUNE_MEMNODE_CELL_MISSING", {}, { xpath });
  });
  const memory = nt.memory;
  if (memory?.placement === "static" && memory.nodeset === undefined) {
    throw new VirtError("DOMAIN_NUMATUNE_STATIC_NO_NODESET", {}, { xpath: "/domain/numatune/memory" });
  }
  if (memory?.mode === "restrictive") {
    const i = nt.memnodes.findIndex((m) => m.mode !== "restrictive");
    if (i >= 0) {
      throw new VirtError(
        "DOMAIN_NUMATUNE_RESTRICTIVE_MEMNODE",
        {},
        { xpath: `/domain/numatune/memnode[${i + 1}]/@mode` },
      );
    }
  } else if (nt.memnodes.some((m) => m.mode === "restrictive")) {
    throw new VirtError("DOMAIN_NUMATUNE_RESTRICTIVE_MEMORY", {}, { xpath: "/domain/numatune/memory/@mode" });
  }
  if (memory?.placement === "auto" && nt.memnodes.length > 0) {
    throw new VirtError("DOMAIN_NUMATUNE_MEMNODE_AUTO", {}, { xpath: "/domain/numatune/memnode" });
  }
}

/** Memory hotplug and memory devices against the guest NUMA cells. */
function memoryDevices(def: DomainDef): void {
  const count = def.cpu?.numa?.cells.length ?? 0;
  const hotplug = def.maxMemory !== undefined && (def.maxMemory.size > 0 || (def.maxMemory.slots ?? 0) > 0);
  const ppc64 = def.os.arch === "ppc64" || def.os.arch === "ppc64le";
  if (hotplug && count === 0 && !ppc64) {
    throw new VirtError("DOMAIN_MEMORY_HOTPLUG_NO_NUMA", {}, { xpath: "/domain/maxMemory" });
  }
  const mems = def.devices.memories;
  const start = (m: MemoryDeviceDef): number =>
    m.model === "virtio-mem" || m.model === "virtio-pmem" ? (m.target.address ?? 0) : 0;
  mems.forEach((m, i) => {
    const xpath = `/domain/devices/memory[${i + 1}]/target`;
    const node = m.target.node;
    if (node !== undefined) {
      if (count === 0) throw new VirtError("DOMAIN_MEMORY_DEVICE_NO_NUMA", {}, { xpath: `${xpath}/node` });
      if (node >= count) {
        throw new VirtError("DOMAIN_MEMORY_DEVICE_NODE_MISSING", { node, count }, { xpath: `${xpath}/node` });
      }
    }
    const from = start(m);
    if (from === 0) return;
    const to = from + m.target.size * 1024;
    for (const other of mems) {
      const at = other === m ? 0 : start(other);
      if (at !== 0 && at !== from && from <= at && to > at) {
        throw new VirtError(
          "DOMAIN_MEMORY_DEVICE_OVERLAP",
          { start: from.toString(16), end: to.toString(16), other: at.toString(16) },
          { xpath: `${xpath}/address` },
        );
      }
    }
  });
}

/** The 64-bit PCI hole is sized on the root bus of its own machine (qemuValidateDomainDeviceDefControllerPCI). */
function pcihole64(def: DomainDef, c: ControllerDef): void {
  const own = c.model === "pci-root" ? isI440fx(def) : c.model === "pcie-root" ? isQ35(def) : undefined;
  if (own === false) throw new VirtError("DOMAIN_PCIHOLE64_MACHINE", { machine: def.os.machine ?? "" });
}

/** PCI controllers (virDomainControllerDefValidate and the NUMA node of expander buses). */
function controllers(def: DomainDef): void {
  const count = def.cpu?.numa?.cells.length ?? 0;
  def.devices.controllers.forEach((c, i) => {
    if (c.type !== "pci") return;
    const xpath = `/domain/devices/controller[${i + 1}]`;
    if ((c.model === "pci-root" || c.model === "pcie-root") && c.address) {
      throw new VirtError("DOMAIN_PCI_ROOT_ADDRESS", {}, { xpath: `${xpath}/address` });
    }
    if (c.pcihole64 !== undefined) pcihole64(def, c);
    const node = c.target?.node;
    if (node !== undefined && node >= count) {
      throw new VirtError(
        "DOMAIN_PCI_CONTROLLER_NUMA_NODE",
        { model: c.model ?? "pci", index: c.index, node, count },
        { xpath: `${xpath}/target/node` },
      );
    }
  });
}

const isQ35 = (def: DomainDef): boolean => {
  const m = def.os.machine ?? "";
  return m === "q35" || m.startsWith("pc-q35");
};

function videos(def: DomainDef): void {
  const vs = def.devices.videos;
  vs.forEach((v, i) => {
    const xpath = `/domain/devices/video[${i + 1}]`;
    if (v.model.type === "none" && vs.length > 1) {
      throw new VirtError("DOMAIN_VIDEO_NONE_NOT_ALONE", {}, { xpath: `${xpath}/model/@type` });
    }
    if (v.model.type === "ramfb" && v.address) {
      throw new VirtError("DOMAIN_VIDEO_RAMFB_ADDRESS", {}, { xpath: `${xpath}/address` });
    }
  });
}

/** `<driver>` attributes only the intel IOMMU takes. */
const INTEL_IOMMU_ATTRS = [
  "intremap",
  "caching_mode",
  "eim",
  "iotlb",
  "aw_bits",
  "dma_translation",
  "xtsup",
  "pt",
];

/** The IOMMU (virDomainIOMMUDefValidate and the QEMU driver's machine rules). */
function iommu(def: DomainDef): void {
  const io = def.devices.iommu;
  if (!io) return;
  const xpath = "/domain/devices/iommu";
  const model = io.model;
  if (
    (model === "virtio" || model === "smmuv3") &&
    INTEL_IOMMU_ATTRS.some((a) => io.driver?.[a] !== undefined)
  ) {
    throw new VirtError("DOMAIN_IOMMU_EXTRA_ATTRIBUTES", { model }, { xpath: `${xpath}/driver` });
  }
  if ((model === "intel" || model === "smmuv3") && io.address) {
    throw new VirtError("DOMAIN_IOMMU_ADDRESS", { model }, { xpath: `${xpath}/address` });
  }
  const x86 = def.os.arch === undefined || def.os.arch === "x86_64" || def.os.arch === "i686";
  if (!x86) return;
  if (model === "intel" && !isQ35(def)) {
    throw new VirtError("DOMAIN_IOMMU_MACHINE", { model, machines: "Q35 machines" }, { xpath });
  }
  if (model === "virtio") {
    if (!isQ35(def)) {
      throw new VirtError(
        "DOMAIN_IOMMU_MACHINE",
        { model, machines: "Q35 and ARM Virt machines" },
        { xpath },
      );
    }
    if (io.address && io.address.type !== "pci") {
      throw new VirtError("DOMAIN_IOMMU_NEEDS_PCI_ADDRESS", { model }, { xpath: `${xpath}/address` });
    }
    if (def.features?.acpi !== true) throw new VirtError("DOMAIN_IOMMU_NEEDS_ACPI", { model }, { xpath });
  }
}

function graphics(def: DomainDef): void {
  const gs = def.devices.graphics;
  if (gs.some((g) => g.type === "egl-headless")) {
    const other = gs.findIndex((g) => g.type !== "egl-headless" && g.type !== "vnc" && g.type !== "spice");
    if (other >= 0) {
      throw new VirtError(
        "DOMAIN_GRAPHICS_EGL_HEADLESS_PAIR",
        {},
        { xpath: `/domain/devices/graphics[${other + 1}]` },
      );
    }
  }
  const gl = gs.filter((g) => g.type === "egl-headless" || g.gl?.enable === true).length;
  if (gl > 1) throw new VirtError("DOMAIN_GRAPHICS_MULTIPLE_GL", {}, { xpath: "/domain/devices/graphics" });
}

/** `<features><ps2 state='off'/>` against PS/2 inputs and vmport. */
function ps2(def: DomainDef, facts: DomainFacts): void {
  // QEMU's i8042 machine property, which switches the PS/2 controller, came with QEMU 7.0
  if (def.features?.ps2 !== undefined && facts.machineProperty?.("i8042") === false)
    throw new VirtError("QEMU_PS2_STATE_UNSUPPORTED", {}, { xpath: "/domain/features/ps2" });
  if (def.features?.ps2 !== false) return;
  const i = def.devices.inputs.findIndex((x) => x.bus === "ps2");
  if (i >= 0)
    throw new VirtError("DOMAIN_PS2_INPUT_DISABLED", {}, { xpath: `/domain/devices/input[${i + 1}]` });
  if (def.features.vmport === true) {
    throw new VirtError("DOMAIN_VMPORT_PS2_DISABLED", {}, { xpath: "/domain/features/vmport" });
  }
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** vhost-user back-ends map guest memory: it must be shared (every NUMA cell's, or the whole). */
function sharedMemory(def: DomainDef): boolean {
  const whole = def.memoryBacking?.access?.mode;
  const cells = def.cpu?.numa?.cells ?? [];
  if (cells.length > 0) return cells.every((c) => (c.memAccess ?? whole) === "shared");
  return whole === "shared";
}

/** Whether `n` may carry `<portForward>`: passt (libvirt), or SLIRP when the extension is on. */
function portForwardBackend(n: InterfaceDef, slirp: boolean): boolean {
  if (n.backend?.type === "passt") return n.type === "user" || n.type === "vhostuser";
  return slirp && n.type === "user";
}

function interfaces(def: DomainDef, slirpPortForwards: boolean): void {
  const vhostuser = def.devices.interfaces.findIndex((n) => n.type === "vhostuser");
  if (vhostuser >= 0 && !sharedMemory(def)) {
    throw new VirtError(
      "DOMAIN_VHOSTUSER_SHARED_MEMORY",
      { device: "interface" },
      { xpath: `/domain/devices/interface[${vhostuser + 1}]` },
    );
  }
  def.devices.interfaces.forEach((n, i) => {
    const xpath = `/domain/devices/interface[${i + 1}]`;
    if ((n.portForwards?.length ?? 0) > 0 && !portForwardBackend(n, slirpPortForwards)) {
      throw new VirtError("DOMAIN_NET_PORT_FORWARD_BACKEND", {}, { xpath: `${xpath}/portForward` });
    }
    for (const what of ["rx_queue_size", "tx_queue_size"] as const) {
      const v = n.driver?.[what];
      if (v !== undefined && !isPow2(v)) {
        throw new VirtError("DOMAIN_NET_QUEUE_SIZE_POW2", { what }, { xpath: `${xpath}/driver/@${what}` });
      }
    }
  });
}

/** What a character device source of `type` must name (virDomainChrSourceDefValidate). */
function chrSource(type: string, src: ChrSource | undefined, xpath: string, autoPath: boolean): void {
  const missing = (attr: string): VirtError =>
    new VirtError("DOMAIN_CHR_SOURCE_ATTR_MISSING", { attr }, { xpath: `${xpath}/source` });
  switch (type) {
    case "file":
    case "dev":
    case "pipe":
      if (src?.path === undefined) throw missing("path");
      break;
    case "unix":
      if (src?.path === undefined && !autoPath) throw missing("path");
      break;
    case "tcp":
      if (src?.host === undefined) throw missing("host");
      if (src.service === undefined) throw missing("service");
      break;
    case "udp":
      if (src?.service === undefined) throw missing("service");
      break;
    default:
      break;
  }
  // a channel socket the driver names itself is one QEMU listens on, whatever mode= says
  const generated = type === "unix" && autoPath && src?.path === undefined;
  if ((type === "tcp" || type === "unix") && (src?.mode === "bind" || generated) && src?.reconnect?.enabled) {
    throw new VirtError("DOMAIN_CHR_RECONNECT_LISTEN", {}, { xpath: `${xpath}/source/reconnect` });
  }
}

/** Character devices' sources (virDomainChrSourceDefValidate, qemuValidateDomainChrSourceDef). */
function chardevs(def: DomainDef): void {
  const d = def.devices;
  const all: [string, ChrDef[]][] = [
    ["serial", d.serials],
    ["parallel", d.parallels],
    ["channel", d.channels],
    ["console", d.consoles],
  ];
  for (const [kind, list] of all) {
    list.forEach((c, i) => {
      const xpath = `/domain/devices/${kind}[${i + 1}]`;
      // virtio and xen channels get a generated socket path.
      const auto = kind === "channel" && (c.target.type === "virtio" || c.target.type === "xen");
      // A serial console is the serial port's alias; its source is the port's.
      const alias = kind === "console" && (c.target.type === undefined || c.target.type === "serial");
      if (!alias) chrSource(c.type, c.source, xpath, auto);
      const timeout = c.source?.reconnect?.timeout;
      if (c.source?.reconnect?.enabled && timeout === 0) {
        throw new VirtError(
          "DOMAIN_CHR_RECONNECT_TIMEOUT",
          { timeout },
          { xpath: `${xpath}/source/reconnect` },
        );
      }
      const protocol = c.protocol;
      if (c.type === "tcp" && protocol !== undefined && protocol !== "raw" && protocol !== "telnet") {
        throw new VirtError("DOMAIN_CHR_TCP_PROTOCOL", { protocol }, { xpath: `${xpath}/protocol/@type` });
      }
    });
  }
}

/** The host device a hostdev names, for finding the same one twice (virDomainHostdevMatch). */
function hostdevKey(h: HostdevDef): string | undefined {
  const s = h.source;
  if (h.mode !== "subsystem") return undefined;
  switch (h.type) {
    case "pci": {
      const a = s.pciAddress;
      return a && `pci ${a.domain}:${a.bus}:${a.slot}.${a.function}`;
    }
    case "usb":
      if (s.usbAddress) return `usb ${s.usbAddress.bus}.${s.usbAddress.device}`;
      return s.vendor !== undefined ? `usb ${s.vendor}:${s.product ?? ""}` : undefined;
    case "scsi":
      return s.scsi && `scsi ${s.scsi.adapter} ${s.scsi.bus}:${s.scsi.target}:${s.scsi.unit}`;
    case "mdev":
      return s.mdevUuid && `mdev ${s.mdevUuid}`;
    default:
      return undefined;
  }
}

/** SCSI host devices sharing a drive address with each other or with a SCSI disk. */
function scsiHostdevAddresses(def: DomainDef): void {
  const hs = def.devices.hostdevs;
  hs.forEach((h, i) => {
    const a = h.address;
    if (h.type !== "scsi" || a?.type !== "drive") return;
    const same = (b: DeviceAddress | undefined): boolean =>
      b?.type === "drive" &&
      b.controller === a.controller &&
      b.bus === a.bus &&
      b.target === a.target &&
      b.unit === a.unit;
    // libvirt prints the bus as controller and the controller as bus; kept so the texts are the same.
    const values = { controller: a.bus, bus: a.controller, target: a.target, unit: a.unit };
    const xpath = `/domain/devices/hostdev[${i + 1}]/address`;
    if (hs.slice(i + 1).some((o) => o.type === "scsi" && same(o.address))) {
      throw new VirtError("DOMAIN_HOSTDEV_SCSI_ADDRESS_DUPLICATE", values, { xpath });
    }
    if (def.devices.disks.some((d) => d.target.bus === "scsi" && same(d.address))) {
      throw new VirtError("DOMAIN_HOSTDEV_SCSI_ADDRESS_DISK", values, { xpath });
    }
  });
}

/** RNG egd back-ends and redirected devices use character device sources too. */
function otherChrSources(def: DomainDef): void {
  def.devices.rngs.forEach((r, i) => {
    if (r.backend.model === "egd" && r.backend.type !== undefined) {
      chrSource(r.backend.type, r.backend.source, `/domain/devices/rng[${i + 1}]/backend`, false);
    }
  });
  def.devices.redirdevs.forEach((r, i) => {
    chrSource(r.type, r.source, `/domain/devices/redirdev[${i + 1}]`, false);
  });
}

function hostdevs(def: DomainDef): void {
  const seen = new Set<string>();
  let ramfb = false;
  def.devices.hostdevs.forEach((h, i) => {
    const xpath = `/domain/devices/hostdev[${i + 1}]`;
    const key = hostdevKey(h);
    if (key !== undefined) {
      if (seen.has(key)) throw new VirtError("DOMAIN_HOSTDEV_DUPLICATE", {}, { xpath: `${xpath}/source` });
      seen.add(key);
    }
    if (h.type === "scsi_host" && h.boot) {
      throw new VirtError("DOMAIN_HOSTDEV_VHOST_SCSI_BOOT", {}, { xpath: `${xpath}/boot` });
    }
    if (h.type === "mdev" && h.model === "vfio-pci" && h.address && h.address.type !== "pci") {
      throw new VirtError(
        "DOMAIN_HOSTDEV_MDEV_ADDRESS",
        { addressType: h.address.type, model: h.model },
        { xpath: `${xpath}/address/@type` },
      );
    }
    if (h.type === "mdev" && h.ramfb === true) {
      if (ramfb) throw new VirtError("DOMAIN_HOSTDEV_RAMFB_MULTIPLE", {}, { xpath: `${xpath}/@ramfb` });
      ramfb = true;
    }
  });
}

/** The QEMU driver's hostdev rules that need the rest of the domain. */
function hostdevDisplay(def: DomainDef): void {
  const i = def.devices.hostdevs.findIndex((h) => h.type === "mdev" && h.display === true);
  if (i >= 0 && def.devices.graphics.length === 0) {
    throw new VirtError(
      "DOMAIN_HOSTDEV_DISPLAY_NO_GRAPHICS",
      {},
      { xpath: `/domain/devices/hostdev[${i + 1}]/@display` },
    );
  }
}

function controllerDrivers(def: DomainDef): void {
  def.devices.controllers.forEach((c, i) => {
    if (c.driver?.iothread !== undefined && !(c.type === "scsi" && c.model === "virtio-scsi")) {
      throw new VirtError(
        "DOMAIN_CONTROLLER_IOTHREAD",
        {},
        { xpath: `/domain/devices/controller[${i + 1}]/driver/@iothread` },
      );
    }
  });
}

/** `<os>` firmware, loader and NVRAM (virDomainDefOSValidate); `root` tells an explicit `<nvram>`. */
function firmware(def: DomainDef, root: XmlElement, abiUpdate: boolean): void {
  const os = def.os;
  const nvramEl = root.children.find((c) => c.name === "os")?.children.find((c) => c.name === "nvram");
  const hasNvram =
    nvramEl !== undefined && (nvramEl.content !== "" || nvramEl.children.some((c) => c.name === "source"));
  const hasTemplate = os.nvram?.template !== undefined;
  const loader = os.loader ?? (nvramEl ? {} : undefined);
  const xpath = "/domain/os";
  if (os.firmware !== undefined) {
    const feature = (name: string): boolean | undefined =>
      os.firmwareFeatures?.find((f) => f.name === name)?.enabled;
    if (feature("enrolled-keys") === true && feature("secure-boot") === false) {
      throw new VirtError("DOMAIN_FW_ENROLLED_KEYS_NO_SECURE_BOOT", {}, { xpath: `${xpath}/firmware` });
    }
    if (!loader) return;
    if (hasNvram && os.firmware !== "efi") {
      throw new VirtError(
        "DOMAIN_FW_NVRAM_UNSUPPORTED",
        { firmware: os.firmware },
        { xpath: `${xpath}/nvram` },
      );
    }
  } else {
    // Firmware features without firmware=: refused for new definitions (ABI update); an existing
    // one keeps them (libvirt fills the firmware in when it starts).
    if (abiUpdate && (os.firmwareFeatures?.length ?? 0) > 0) {
      throw new VirtError("DOMAIN_FW_FEATURES_WITHOUT_AUTOSELECT", {}, { xpath: `${xpath}/firmware` });
    }
    if (!loader) return;
    if (loader.path === undefined)
      throw new VirtError("DOMAIN_FW_LOADER_NO_PATH", {}, { xpath: `${xpath}/loader` });
  }
  if (loader.stateless === true) {
    if (hasTemplate)
      throw new VirtError("DOMAIN_FW_STATELESS_NVRAM_TEMPLATE", {}, { xpath: `${xpath}/nvram/@template` });
    if (hasNvram) throw new VirtError("DOMAIN_FW_STATELESS_NVRAM", {}, { xpath: `${xpath}/nvram` });
  } else if (loader.stateless === false) {
    if (os.firmware === undefined && loader.type !== "pflash") {
      throw new VirtError("DOMAIN_FW_NVRAM_NEEDS_PFLASH", {}, { xpath: `${xpath}/loader/@stateless` });
    }
    if (os.firmware !== undefined && os.firmware !== "efi") {
      throw new VirtError("DOMAIN_FW_NVRAM_NEEDS_EFI", {}, { xpath: `${xpath}/loader/@stateless` });
    }
  }
}

/** The QEMU driver: UEFI on x86 needs ACPI. */
function uefiAcpi(def: DomainDef): void {
  const x86 = def.os.arch === undefined || def.os.arch === "x86_64" || def.os.arch === "i686";
  const uefi = def.os.firmware === "efi" || def.os.loader?.type === "pflash";
  if (x86 && uefi && def.features?.acpi !== true) {
    throw new VirtError("DOMAIN_FW_UEFI_NEEDS_ACPI", {}, { xpath: "/domain/features/acpi" });
  }
}

/** `<bootmenu timeout=>` and `<bios rebootTimeout=>` (virDomainDefBootValidate). */
function boot(def: DomainDef): void {
  const t = def.os.bootmenu?.timeout;
  if (t !== undefined && t > 65535) {
    throw new VirtError("DOMAIN_BOOT_MENU_TIMEOUT", {}, { xpath: "/domain/os/bootmenu/@timeout" });
  }
  const r = def.os.bios?.rebootTimeout;
  if (r !== undefined && (r < -1 || r > 65535)) {
    throw new VirtError("DOMAIN_BIOS_REBOOT_TIMEOUT", {}, { xpath: "/domain/os/bios/@rebootTimeout" });
  }
}

/** pSeries-only machine features on other machines (qemuValidateDomainDefFeatures). */
function machineFeatures(def: DomainDef): void {
  const machine = def.os.machine ?? "";
  if (machine.startsWith("pseries")) return;
  const arch = def.os.arch ?? "x86_64";
  for (const feature of ["hpt", "htm"] as const) {
    if (def.features?.[feature] !== undefined) {
      throw new VirtError(
        "DOMAIN_FEATURE_MACHINE",
        { feature, arch, machine },
        { xpath: `/domain/features/${feature}` },
      );
    }
  }
}

/** Serial target types that exist only on other machines (qemuValidateDomainChrDef). */
const FOREIGN_SERIAL_TARGETS: Readonly<Record<string, string>> = {
  "spapr-vio-serial": "spapr-vty",
  "system-serial": "pl011",
  "sclp-serial": "sclpconsole",
};

function serialTargets(def: DomainDef): void {
  const x86 = def.os.arch === undefined || def.os.arch === "x86_64" || def.os.arch === "i686";
  if (!x86) return;
  def.devices.serials.forEach((c, i) => {
    const type = c.target.type ?? "";
    const model = FOREIGN_SERIAL_TARGETS[type];
    if (model !== undefined) {
      throw new VirtError(
        "DOMAIN_SERIAL_TARGET_MACHINE",
        { type, model: c.target.model ?? model },
        { xpath: `/domain/devices/serial[${i + 1}]/target` },
      );
    }
  });
}

function inputs(def: DomainDef): void {
  def.devices.inputs.forEach((x, i) => {
    if (
      (x.model === "virtio-transitional" || x.model === "virtio-non-transitional") &&
      x.type !== "passthrough"
    ) {
      throw new VirtError(
        "DOMAIN_INPUT_TRANSITIONAL",
        { type: x.type },
        { xpath: `/domain/devices/input[${i + 1}]/@model` },
      );
    }
  });
}

/** `<cpu><cache>` (qemuValidateDomainDefCpu). */
function cpuCache(def: DomainDef): void {
  const cpu = def.cpu;
  const cache = cpu?.cache;
  if (!cpu || !cache) return;
  const xpath = "/domain/cpu/cache";
  const mode = cache.mode;
  if (mode === "emulate" && cache.level !== 3) {
    throw new VirtError("DOMAIN_CPU_CACHE_EMULATE_LEVEL", { mode }, { xpath: `${xpath}/@level` });
  }
  if (mode === "passthrough" && cpu.mode !== "host-passthrough" && cpu.mode !== "maximum") {
    throw new VirtError("DOMAIN_CPU_CACHE_PASSTHROUGH_MODE", { mode }, { xpath: `${xpath}/@mode` });
  }
  if (mode !== "emulate" && cache.level !== undefined) {
    throw new VirtError("DOMAIN_CPU_CACHE_LEVEL", { mode }, { xpath: `${xpath}/@level` });
  }
}

/** USB devices when USB is disabled, companion controllers without their master. */
function usb(def: DomainDef): void {
  const d = def.devices;
  const ctrls = d.controllers.filter((c) => c.type === "usb");
  const hasUsb = ctrls.some((c) => c.model !== "none");
  if (!hasUsb) {
    const hub = d.hubs.length > 0 ? 0 : -1;
    if (hub >= 0)
      throw new VirtError("DOMAIN_USB_DISABLED_HUB", {}, { xpath: `/domain/devices/hub[${hub + 1}]` });
    const input = d.inputs.findIndex((x) => x.bus === "usb");
    if (input >= 0) {
      throw new VirtError("DOMAIN_USB_DISABLED_INPUT", {}, { xpath: `/domain/devices/input[${input + 1}]` });
    }
    const redir = d.redirdevs.length > 0 ? 0 : -1;
    if (redir >= 0) {
      throw new VirtError(
        "DOMAIN_USB_DISABLED_REDIRDEV",
        {},
        { xpath: `/domain/devices/redirdev[${redir + 1}]` },
      );
    }
  }
  ctrls.forEach((c) => {
    if (c.master && !ctrls.some((m) => m.index === c.index && !m.master)) {
      throw new VirtError("DOMAIN_USB_NO_MASTER", {}, { xpath: "/domain/devices/controller/master" });
    }
  });
}

/** Every device that can carry an `<address>`. */
function addressedDevices(def: DomainDef): DeviceCommon[] {
  const d = def.devices;
  const singles = [d.memballoon, d.iommu, d.vsock].filter((x): x is NonNullable<typeof x> => x !== undefined);
  return [
    ...d.disks,
    ...d.controllers,
    ...d.filesystems,
    ...d.interfaces,
    ...d.serials,
    ...d.parallels,
    ...d.channels,
    ...d.consoles,
    ...d.inputs,
    ...d.tpms,
    ...d.sounds,
    ...d.videos,
    ...d.hostdevs,
    ...d.redirdevs,
    ...d.hubs,
    ...d.watchdogs,
    ...d.rngs,
    ...d.panics,
    ...d.memories,
    ...singles,
  ];
}

/** zPCI extensions of a PCI address exist on s390 only (qemuValidateDomainDeviceDefZPCIAddress). */
function zpci(def: DomainDef): void {
  if (def.os.arch === "s390x" || def.os.arch === "s390") return;
  const dev = addressedDevices(def).find((x) => x.address?.type === "pci" && x.address.zpci !== undefined);
  if (dev) throw new VirtError("DOMAIN_ZPCI_UNSUPPORTED", {}, { xpath: "/domain/devices//address/zpci" });
}

/** Domain security labels: one per model, a model on each when there are several. */
function seclabels(def: DomainDef): void {
  const labels = def.seclabels;
  labels.forEach((l, i) => {
    if (l.model !== undefined && labels.slice(0, i).some((o) => o.model === l.model)) {
      throw new VirtError(
        "DOMAIN_SECLABEL_MODEL_DUPLICATE",
        { model: l.model },
        { xpath: `/domain/seclabel[${i + 1}]` },
      );
    }
  });
  if (labels.length > 1) {
    const i = labels.findIndex((l) => l.model === undefined);
    if (i >= 0)
      throw new VirtError("DOMAIN_SECLABEL_MODEL_MISSING", {}, { xpath: `/domain/seclabel[${i + 1}]` });
  }
}

/** Disk source security labels (kept in the document only): relabel='yes' needs a label. */
function diskSourceSeclabels(root: XmlElement): void {
  const devices = root.children.find((c) => c.name === "devices");
  for (const disk of devices?.children.filter((c) => c.name === "disk") ?? []) {
    const source = disk.children.find((c) => c.name === "source");
    for (const l of source?.children.filter((c) => c.name === "seclabel") ?? []) {
      if (l.attr("relabel") === "yes" && !l.children.some((c) => c.name === "label")) {
        throw new VirtError(
          "DOMAIN_SECLABEL_RELABEL_WITHOUT_LABEL",
          { model: l.attr("model") ?? "" },
          { xpath: l.xpath, line: l.line, column: l.column },
        );
      }
    }
  }
}

/** `<features><smm><tseg>` (qemuValidateDomainDefFeatures). */
function tseg(def: DomainDef): void {
  const smm = def.features?.smm;
  if (!smm?.state || smm.tseg === undefined) return;
  const machine = def.os.machine ?? "";
  if (!(machine === "q35" || machine.startsWith("pc-q35"))) {
    throw new VirtError("DOMAIN_TSEG_MACHINE", {}, { xpath: "/domain/features/smm/tseg" });
  }
  if (smm.tseg % 1024 !== 0)
    throw new VirtError("DOMAIN_TSEG_SIZE", {}, { xpath: "/domain/features/smm/tseg" });
}

function vcpus(def: DomainDef): void {
  const t = def.cpu?.topology;
  if (t) {
    const total = t.sockets * t.dies * t.clusters * t.cores * t.threads;
    if (total !== def.vcpu.count) {
      throw new VirtError(
        "CONFIG_UNSUPPORTED",
        { what: `CPU topology doesn't match maximum vcpu count` },
        { xpath: "/domain/cpu/topology" },
      );
    }
  }
  if (def.vcpu.current !== undefined && def.vcpu.current > def.vcpu.count) {
    throw new VirtError(
      "CONFIG_UNSUPPORTED",
      { what: "maximum vcpus count must be an integer greater than or equal to current vcpus count" },
      { xpath: "/domain/vcpu/@current" },
    );
  }
}

/** Validation of a parsed (and defaulted) definition. Structural checks always run. */
export function validateDomain(
  def: DomainDef,
  root: XmlElement,
  noDefaults: boolean,
  abiUpdate = false,
  ext: { slirpPortForwards?: boolean; facts?: DomainFacts } = {},
): void {
  validateName(root, def.name);
  duplicateTargets(def);
  if (noDefaults) return;
  seclabels(def);
  diskSourceSeclabels(root);
  // The QEMU driver's domain checks, then the devices', then libvirt's domain-wide ones.
  cpuCache(def);
  memoryDevices(def);
  machineFeatures(def);
  uefiAcpi(def);
  tseg(def);
  serialTargets(def);
  inputs(def);
  usb(def);
  checkUsbAddresses(def);
  zpci(def);
  ps2(def, ext.facts ?? {});
  iommu(def);
  graphics(def);
  hostdevDisplay(def);
  def.devices.disks.forEach(disk);
  validateThrottleFilters(def);
  controllers(def);
  controllerDrivers(def);
  interfaces(def, ext.slirpPortForwards ?? false);
  chardevs(def);
  otherChrSources(def);
  videos(def);
  hostdevs(def);
  duplicateDriveAddresses(def);
  scsiHostdevAddresses(def);
  memory(def);
  hugepages(def);
  firmware(def, root, abiUpdate);
  boot(def);
  numatune(def);
  vcpus(def);
}
