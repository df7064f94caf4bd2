/**
 * The typed form of a libvirt domain definition (`<domain>` XML).
 *
 * Conventions (stable; others code against this file):
 * - One interface per XML element. Attribute fields keep libvirt's attribute names
 *   (`memAccess`, `guestReset`, `tickpolicy`, `event_idx`); child elements become camelCase
 *   fields (`on_poweroff` → `onPoweroff`, `<thread_pool>` → `threadPool`).
 * - Numbers are numbers; sizes of memory are KiB (the formatter writes `unit='KiB'`).
 * - yes/no and on/off attributes are booleans (`true` = yes/on); absent = not written.
 * - Hex attributes (PCI address parts, port numbers) are numbers; the formatter writes hex.
 * - CPU/node sets (`cpus='0-7'`, `nodeset='0,2-3'`) are strings in libvirt's canonical
 *   range form; use `parseBitmap()` from `bitmap.ts` for the member list.
 * - Fields are only ever added to these interfaces, never renamed or removed.
 * - After `parseDomainXML` (unless `noDefaults`) libvirt's post-parse defaults are filled:
 *   see `defaults.ts`. `assignAliases(def)` fills `alias` fields (not shown in the inactive XML
 *   except user aliases `ua-*`).
 */
import type { SysinfoDef } from "./sysinfo.ts";

// ---------------------------------------------------------------------------------------------
// Device addresses and common device parts
// ---------------------------------------------------------------------------------------------

/** `<address type='pci' domain= bus= slot= function= multifunction=/>` */
export interface PciAddress {
  type: "pci";
  domain: number;
  bus: number;
  slot: number;
  function: number;
  /** `multifunction='on'|'off'` */
  multifunction?: boolean;
  /** `<zpci uid= fid=/>` (s390) */
  zpci?: { uid?: number; fid?: number };
}

/** `<address type='drive' controller= bus= target= unit=/>` (IDE, SATA, SCSI, floppy) */
export interface DriveAddress {
  type: "drive";
  controller: number;
  bus: number;
  target: number;
  unit: number;
}

/** `<address type='virtio-serial' controller= bus= port=/>` */
export interface VirtioSerialAddress {
  type: "virtio-serial";
  controller: number;
  bus: number;
  port: number;
}

/** `<address type='ccid' controller= slot=/>` */
export interface CcidAddress {
  type: "ccid";
  controller: number;
  slot: number;
}

/** `<address type='usb' bus= port=/>`; `port` is a dotted hub path, e.g. `1` or `1.2`. */
export interface UsbAddress {
  type: "usb";
  bus: number;
  port?: string;
}

/** `<address type='spapr-vio' reg=/>` */
export interface SpaprVioAddress {
  type: "spapr-vio";
  reg?: number;
}

/** `<address type='isa' iobase= irq=/>` */
export interface IsaAddress {
  type: "isa";
  iobase?: number;
  irq?: number;
}

/** `<address type='dimm' slot= base=/>` (memory devices) */
export interface DimmAddress {
  type: "dimm";
  slot?: number;
  base?: number;
}

/** `<address type='ccw' cssid= ssid= devno=/>` */
export interface CcwAddress {
  type: "ccw";
  cssid: number;
  ssid: number;
  devno: number;
}

/** `<address type='virtio-mmio'/>`, `virtio-s390`, `unassigned` */
export interface OtherAddress {
  type: "virtio-mmio" | "virtio-s390" | "unassigned";
}

export type DeviceAddress =
  | PciAddress
  | DriveAddress
  | VirtioSerialAddress
  | CcidAddress
  | UsbAddress
  | SpaprVioAddress
  | IsaAddress
  | DimmAddress
  | CcwAddress
  | OtherAddress;

export type DeviceAddressType = DeviceAddress["type"];

/** `<boot order= loadparm=/>` inside a device. */
export interface DeviceBoot {
  order: number;
  loadparm?: string;
}

/** `<rom bar= file= enabled=/>` */
export interface DeviceRom {
  bar?: boolean;
  file?: string;
  enabled?: boolean;
}

/** Parts every device may carry (`<alias>`, `<address>`, `<boot>`, `<acpi>`, `<rom>`). */
/** `<driver iommu= ats= packed= page_per_vq=>` of a virtio device (on/off). */
export interface VirtioOptions {
  iommu?: boolean;
  ats?: boolean;
  packed?: boolean;
  pagePerVq?: boolean;
}

export interface DeviceCommon {
  /**
   * Device id. From XML only user aliases (`<alias name='ua-...'/>`) are kept; `assignAliases`
   * fills the rest the way libvirt names devices (`virtio-disk0`, `net0`, `pci.1`, ...).
   */
  alias?: string;
  address?: DeviceAddress;
  boot?: DeviceBoot;
  /** `<acpi index=/>` */
  acpiIndex?: number;
  rom?: DeviceRom;
  /** The virtio options of `<driver>` (devices that are virtio devices). */
  virtio?: VirtioOptions;
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

/** The scheduler of one vCPU or I/O thread (`<vcpusched>`, `<iothreadsched>`). */
export interface ThreadSched {
  id: number;
  scheduler: "batch" | "idle" | "fifo" | "rr";
  /** fifo and rr only */
  priority?: number;
}

/** `<cputune>` */
export interface Cputune {
  shares?: number;
  period?: number;
  quota?: number;
  global_period?: number;
  global_quota?: number;
  emulator_period?: number;
  emulator_quota?: number;
  iothread_period?: number;
  iothread_quota?: number;
  /** `<vcpupin vcpu= cpuset=>` (cpuset canonical) */
  vcpupin: { vcpu: number; cpuset: string }[];
  /** `<emulatorpin cpuset=>` */
  emulatorpin?: string;
  /** `<vcpusched>` per vCPU id (ascending): libvirt keeps a scheduler per thread */
  vcpusched?: ThreadSched[];
  /** `<iothreadsched>` per I/O thread id (ascending) */
  iothreadsched?: ThreadSched[];
  /** The children tvirt does not model, verbatim. */
  other: RawXmlElement[];
}

/** `<blkiotune><device>` */
export interface BlkioDevice {
  path: string;
  weight?: number;
  read_iops_sec?: number;
  write_iops_sec?: number;
  read_bytes_sec?: number;
  write_bytes_sec?: number;
}

/** `<blkiotune>` */
export interface Blkiotune {
  weight?: number;
  devices: BlkioDevice[];
}

/** `<memtune>`: limits in KiB. */
export interface Memtune {
  hard_limit?: number;
  soft_limit?: number;
  min_guarantee?: number;
  swap_hard_limit?: number;
}

/** `<maxMemory slots= unit='KiB'>size</maxMemory>` */
export interface MaxMemory {
  /** KiB */
  size: number;
  slots?: number;
}

/** `<page size= unit='KiB' nodeset=/>` inside `<hugepages>` */
export interface HugePage {
  /** Page size in KiB. */
  size: number;
  /** Guest NUMA nodes this size applies to (absent: the default size for all). */
  nodeset?: string;
}

/** `<hugepages>`; present (possibly with no pages) means "back memory with hugepages". */
export interface HugePages {
  pages: HugePage[];
}

export type MemorySourceType = "anonymous" | "file" | "memfd";
export type MemoryAccessMode = "shared" | "private";
export type MemoryAllocationMode = "immediate" | "ondemand";

/** `<memoryBacking>` */
export interface MemoryBacking {
  hugepages?: HugePages;
  /** `<nosharepages/>` */
  nosharepages?: boolean;
  /** `<locked/>` */
  locked?: boolean;
  /** `<source type=/>` */
  source?: { type: MemorySourceType };
  /** `<access mode=/>` */
  access?: { mode: MemoryAccessMode };
  /** `<allocation mode= threads=/>` */
  allocation?: { mode?: MemoryAllocationMode; threads?: number };
  /** `<discard/>` */
  discard?: boolean;
}

// ---------------------------------------------------------------------------------------------
// vCPU, NUMA tuning, CPU
// ---------------------------------------------------------------------------------------------

/** `<vcpu placement= cpuset= current=>count</vcpu>` */
export interface Vcpu {
  count: number;
  placement?: "static" | "auto";
  cpuset?: string;
  current?: number;
  /**
   * `<vcpus><vcpu id= enabled= hotpluggable= order=/>`: the state of each vCPU by id, when the
   * XML gives it (it then decides `current`); hotpluggable defaults to no for an enabled vCPU.
   */
  vcpus?: { enabled: boolean; hotpluggable: boolean; order?: number }[];
}

export type NumaMode = "strict" | "preferred" | "interleave" | "restrictive";

/** `<numatune>` */
export interface Numatune {
  /** `<memory mode= nodeset= placement=/>` */
  memory?: { mode?: NumaMode; nodeset?: string; placement?: "static" | "auto" };
  /** `<memnode cellid= mode= nodeset=/>` */
  memnodes: { cellid: number; mode: NumaMode; nodeset: string }[];
}

export type CpuMode = "custom" | "host-model" | "host-passthrough" | "maximum";
export type CpuMatch = "minimum" | "exact" | "strict";
export type CpuCheck = "none" | "partial" | "full";
export type CpuFeaturePolicy = "force" | "require" | "optional" | "disable" | "forbid";

/** `<model fallback= vendor_id=>name</model>` */
export interface CpuModel {
  name?: string;
  fallback?: "allow" | "forbid";
  vendor_id?: string;
}

/** `<topology sockets= dies= clusters= cores= threads=/>` */
export interface CpuTopology {
  sockets: number;
  dies: number;
  clusters: number;
  cores: number;
  threads: number;
}

/** `<maxphysaddr mode= bits= limit=/>` */
export interface CpuMaxPhysAddr {
  mode: "emulate" | "passthrough";
  bits?: number;
  limit?: number;
}

/** `<cache level= mode=/>` */
export interface CpuCache {
  level?: number;
  mode: "emulate" | "passthrough" | "disable";
}

/** `<feature policy= name=/>` */
export interface CpuFeature {
  policy?: CpuFeaturePolicy;
  name: string;
}

/** `<sibling id= value=/>` inside `<distances>` */
export interface NumaDistance {
  id: number;
  value: number;
}

/** `<cell id= cpus= memory= unit='KiB' memAccess= discard=/>` */
export interface NumaCell {
  id: number;
  cpus?: string;
  /** KiB */
  memory: number;
  memAccess?: MemoryAccessMode;
  discard?: boolean;
  distances?: NumaDistance[];
  /** `<cache level= associativity= policy=><size/><line/></cache>` (HMAT memory side caches) */
  caches?: NumaCache[];
}

/** A memory side cache of a NUMA cell: size in KiB, line in bytes (0 = not given). */
export interface NumaCache {
  level: number;
  associativity: "none" | "direct" | "full";
  policy: "none" | "writeback" | "writethrough";
  size: number;
  line: number;
}

/** `<latency>` / `<bandwidth>` of `<interconnects>`: value in ns or KiB/s. */
export interface NumaInterconnect {
  kind: "latency" | "bandwidth";
  initiator: number;
  target: number;
  /** cache level of the target, 0 for its memory */
  cache: number;
  type: "access" | "read" | "write";
  value: number;
}

/** `<numa>` inside `<cpu>` */
export interface CpuNuma {
  cells: NumaCell[];
  /** HMAT latencies and bandwidths, in document order */
  interconnects?: NumaInterconnect[];
}

/** `<cpu mode= match= check= migratable= deprecated_features=>` */
export interface CpuDef {
  mode: CpuMode;
  match?: CpuMatch;
  check?: CpuCheck;
  migratable?: boolean;
  deprecated_features?: boolean;
  model?: CpuModel;
  vendor?: string;
  topology?: CpuTopology;
  cache?: CpuCache;
  maxphysaddr?: CpuMaxPhysAddr;
  features: CpuFeature[];
  numa?: CpuNuma;
}

// ---------------------------------------------------------------------------------------------
// OS and boot
// ---------------------------------------------------------------------------------------------

export type BootDev = "fd" | "cdrom" | "hd" | "network";

/** `<loader readonly= secure= type= stateless= format=>path</loader>` */
export interface OsLoader {
  path?: string;
  readonly?: boolean;
  secure?: boolean;
  type?: "rom" | "pflash";
  stateless?: boolean;
  format?: string;
}

/** `<nvram template= format= templateFormat=>path</nvram>` */
export interface OsNvram {
  path?: string;
  /** `<nvram type='file'|'block'><source file=|dev=/>`: the store named by a source element. */
  type?: "file" | "block" | "network";
  /** `<nvram type='network'><source protocol= name=>`: a variable store on a network disk. */
  source?: DiskSource;
  template?: string;
  format?: string;
  templateFormat?: string;
}

/** `<os firmware=>` */
export interface OsDef {
  /** `<type>hvm</type>` */
  type: string;
  /** `<type arch=>` */
  arch?: string;
  /** `<type machine=>`; canonical (versioned) when facts were given. */
  machine?: string;
  firmware?: "bios" | "efi";
  /** `<firmware><feature enabled= name=/></firmware>` */
  firmwareFeatures?: { name: string; enabled: boolean }[];
  loader?: OsLoader;
  nvram?: OsNvram;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  shim?: string;
  dtb?: string;
  /** `<boot dev=/>` in order. */
  boot: BootDev[];
  /** `<bootmenu enable= timeout=/>` */
  bootmenu?: { enable: boolean; timeout?: number };
  /** `<bios useserial= rebootTimeout=/>` */
  bios?: { useserial?: boolean; rebootTimeout?: number };
  /** `<smbios mode=/>` */
  smbios?: { mode: "emulate" | "host" | "sysinfo" };
  /** `<acpi><table type=>path</table></acpi>` */
  acpiTables?: { type: string; path: string }[];
}

// ---------------------------------------------------------------------------------------------
// Features, clock, lifecycle, power management
// ---------------------------------------------------------------------------------------------

/** `<features>`: `true` = on (`<acpi/>`), `false` = `state='off'` where libvirt allows it. */
export interface DomainFeatures {
  acpi?: boolean;
  /** `<apic eoi=/>` */
  apic?: { eoi?: boolean };
  pae?: boolean;
  hap?: boolean;
  viridian?: boolean;
  privnet?: boolean;
  pvspinlock?: boolean;
  /** `<vmport state=/>` */
  vmport?: boolean;
  /** `<smm state=><tseg unit='KiB'>n</tseg></smm>`; tseg in KiB */
  smm?: { state: boolean; tseg?: number };
  /** `<ioapic driver=/>` */
  ioapic?: { driver?: "kvm" | "qemu" };
  vmcoreinfo?: boolean;
  htm?: boolean;
  /** `<hyperv mode=>` children kept as name → state/value (in document order) */
  hyperv?: {
    mode?: string;
    features: {
      name: string;
      state?: boolean;
      value?: string;
      attrs?: Record<string, string>;
      /** `<stimer><direct state=/>`, `<tlbflush><direct/><extended/>`: sub-features in order */
      sub?: { name: string; state?: boolean }[];
    }[];
  };
  /** `<kvm>` children: name → state */
  kvm?: { features: { name: string; state?: boolean; attrs?: Record<string, string> }[] };
  /** `<pmu state=/>` */
  pmu?: boolean;
  /** `<async-teardown enabled=/>` */
  asyncTeardown?: boolean;
  /** `<ps2 state=/>` */
  ps2?: boolean;
  /** `<gic version=/>` */
  gic?: { version?: string };
  /** `<hpt resizing=>` */
  hpt?: { resizing?: string };
  /** `<tcg><tb-cache unit='KiB'>n</tb-cache></tcg>` */
  tcg?: { tbCache?: number };
}

export type TimerName =
  "platform" | "pit" | "rtc" | "hpet" | "tsc" | "kvmclock" | "hypervclock" | "armvtimer";

/** `<timer name= track= tickpolicy= frequency= mode= present=>` */
export interface ClockTimer {
  name: TimerName;
  track?: "boot" | "guest" | "wall" | "realtime";
  tickpolicy?: "delay" | "catchup" | "merge" | "discard";
  /** `<catchup threshold= slew= limit=/>` */
  catchup?: { threshold?: number; slew?: number; limit?: number };
  frequency?: number;
  mode?: "auto" | "native" | "emulate" | "paravirt" | "smpsafe";
  present?: boolean;
}

/** `<clock offset= adjustment= basis= timezone=>` */
export interface Clock {
  offset: "utc" | "localtime" | "timezone" | "variable" | "absolute";
  /** `adjustment=` seconds, or 'reset' */
  adjustment?: number | "reset";
  basis?: "utc" | "localtime";
  timezone?: string;
  /** `start=` (offset='absolute') */
  start?: number;
  timers: ClockTimer[];
}

export type LifecycleAction =
  "destroy" | "restart" | "rename-restart" | "preserve" | "coredump-destroy" | "coredump-restart";

/** `<pm><suspend-to-mem enabled=/><suspend-to-disk enabled=/></pm>` */
export interface PowerManagement {
  suspendToMem?: boolean;
  suspendToDisk?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

export type DiskType = "file" | "block" | "dir" | "network" | "volume" | "nvme" | "vhostuser" | "vhostvdpa";
export type DiskDevice = "disk" | "cdrom" | "floppy" | "lun";
export type DiskBus = "ide" | "fdc" | "scsi" | "virtio" | "xen" | "usb" | "uml" | "sata" | "sd" | "none";

/** `<driver name= type= cache= ...>` of a disk */
export interface DiskDriver {
  name?: string;
  /** Image format: raw, qcow2, ... */
  type?: string;
  cache?: "default" | "none" | "writethrough" | "writeback" | "directsync" | "unsafe";
  error_policy?: "stop" | "report" | "ignore" | "enospace";
  rerror_policy?: "stop" | "report" | "ignore";
  io?: "threads" | "native" | "io_uring";
  ioeventfd?: boolean;
  event_idx?: boolean;
  copy_on_read?: boolean;
  discard?: "unmap" | "ignore";
  detect_zeroes?: "off" | "on" | "unmap";
  discard_no_unref?: boolean;
  iothread?: number;
  queues?: number;
  queue_size?: number;
  /** `<metadata_cache><max_size>`: qcow2 metadata cache limit, bytes */
  metadataCacheMax?: number;
  /** `<iothreads><iothread id=><queue id=/></iothread></iothreads>`: iothread-vq-mapping */
  iothreads?: IothreadQueueMapping[];
}

/** One `<iothread id=>` of a device's iothread-vq-mapping with the queues it serves (none: all, spread). */
export interface IothreadQueueMapping {
  id: number;
  queues: number[];
}

/** `<iothread id= thread_pool_min= thread_pool_max=><poll max= grow= shrink=/>` of `<iothreadids>` */
export interface IothreadIdDef {
  id: number;
  threadPoolMin?: number;
  threadPoolMax?: number;
  pollMax?: number;
  pollGrow?: number;
  pollShrink?: number;
  /** Added to reach the `<iothreads>` count, not written by the user (libvirt's autofill). */
  autofill?: boolean;
}

/** `<host name= port= transport= socket=/>` of a network disk source */
export interface DiskSourceHost {
  name?: string;
  port?: number;
  transport?: "tcp" | "unix" | "rdma";
  socket?: string;
}

/** `<source file= | dev= | dir= | protocol= name= | pool= volume= ...>` */
export interface DiskSource {
  file?: string;
  dev?: string;
  dir?: string;
  protocol?: string;
  name?: string;
  pool?: string;
  volume?: string;
  /** iSCSI pools: use the LUN through the host's device (`host`) or QEMU's initiator (`direct`). */
  mode?: "host" | "direct";
  /**
   * `type='volume'` disks of a running domain: what the volume resolved to at start or hotplug
   * (its path is then in `file`/`dev`/`dir`). Only status XML carries it, as libvirt's
   * `actualType=`; the live and inactive XML keep just `pool`/`volume`. `network`: an iSCSI
   * pool's LUN in `mode='direct'`, used through QEMU's own initiator (`protocol`, `name`, `hosts`);
   * not written to status XML.
   */
  actualType?: "file" | "block" | "dir" | "network";
  startupPolicy?: "mandatory" | "requisite" | "optional";
  index?: number;
  hosts?: DiskSourceHost[];
  /** `<snapshot name=/>`: an RBD snapshot to use (read-only) */
  snapshot?: string;
  /** `<config file=/>`: an RBD cluster's configuration file */
  configFile?: string;
  /** `<initiator><iqn name=/></initiator>`: the iSCSI initiator's IQN */
  initiatorIqn?: string;
  /** `<auth username=><secret type= uuid=|usage=/></auth>` (iSCSI CHAP, Ceph cephx) */
  auth?: DiskAuth;
  /** `<encryption>` given inside `<source>` (libvirt keeps where it was written). */
  encryption?: DiskEncryption;
  /** `query=` of an http(s) source: the URL's query string. */
  query?: string;
  /** `tls=yes|no` of an nbd/vxhs source; absent: qemu.conf decides (`nbd_tls`). */
  tls?: boolean;
  /** `tlsHostname=`: the name the server's certificate is checked against. */
  tlsHostname?: string;
  /** `<ssl verify=>` of https/ftps. */
  sslverify?: boolean;
  /** `<cookies><cookie name=>value</cookie>` of http(s). */
  cookies?: { name: string; value: string }[];
  /** `<readahead size=>` (bytes) of curl protocols. */
  readahead?: number;
  /** `<timeout seconds=>` of curl protocols. */
  timeout?: number;
  /** `<knownHosts path=>` of ssh. */
  sshKnownHosts?: string;
  /** `<identity username= keyfile= agentsock=>` of ssh. */
  sshIdentity?: { username?: string; keyfile?: string; agentsock?: string };
  /** `<identity user= group=>` of nfs (`+N` is a numeric id). */
  nfsUser?: string;
  nfsGroup?: string;
  /** `<reconnect delay=>` of nbd (seconds). */
  reconnectDelay?: number;
  /** `<dataStore type=>`: a qcow2 image's external data file. */
  dataStore?: DiskDataStore;
  /** `<seclabel model= relabel=><label/>` per security model, for this image only. */
  seclabels?: DeviceSeclabel[];
  /** `<reservations managed=><source type='unix' path= mode='client'/>`: SCSI persistent reservations. */
  reservations?: DiskReservations;
  /** `type='vhostuser'` disks: `<source type='unix' path=><reconnect enabled= timeout=/>` (a vhost-user-blk back end) */
  /** `fdgroup=` of a file source: descriptors the client passed (virDomainFDAssociate) open it. */
  fdgroup?: string;
  vhostuser?: { path: string; reconnect?: { enabled: boolean; timeout?: number } };
  /** `type='nvme'` disks: `<source type='pci' managed= namespace=><address .../>` */
  nvme?: DiskNvmeSource;
  /** `<slices><slice type='storage' offset= size=/>`: the part of the image the guest sees (bytes). */
  slices?: { storage: { offset: number; size: number } };
}

/** An NVMe namespace of a host PCI controller, used by QEMU's userspace NVMe driver (VFIO). */
export interface DiskNvmeSource {
  /** libvirt detaches the controller from its host driver (and gives it back). */
  managed?: boolean;
  namespace: number;
  address: { domain: number; bus: number; slot: number; function: number };
}

/** A device's (disk source's) `<seclabel>`: overrides the domain label of that model. */
export interface DeviceSeclabel {
  model?: string;
  /** relabel='no' leaves the image as it is; relabel='yes' needs a `<label>`. */
  relabel: boolean;
  label?: string;
  /** labelskip='yes' (live XML): the label was not applied. */
  labelskip?: boolean;
}

/** Persistent reservations through qemu-pr-helper: one libvirt manages, or a given socket. */
export interface DiskReservations {
  managed: boolean;
  /** The helper's socket (unmanaged, or the managed one libvirt started, in live XML). */
  path?: string;
}

/** `<dataStore type=><format type=/><source .../></dataStore>` of a qcow2 source. */
export interface DiskDataStore {
  type: "file" | "block" | "network";
  format?: string;
  source: DiskSource;
}

/** A reference to a libvirt secret: by UUID or by usage ID. */
export interface DiskSecretRef {
  /** `passphrase` for encryption; `iscsi` or `ceph` for auth. */
  type: string;
  uuid?: string;
  usage?: string;
}

/** `<auth username=>` of a network disk source. */
export interface DiskAuth {
  username: string;
  secret: DiskSecretRef;
}

/** `<encryption format= engine=>` of a disk source (libvirt's virStorageEncryption). */
export interface DiskEncryption {
  format: "default" | "qcow" | "luks" | "luks2" | "luks-any";
  engine?: "qemu" | "librbd";
  secrets: DiskSecretRef[];
}

/** `<iotune>` of a disk: throttling limits (bytes or I/O operations per second). */
export interface DiskIotune {
  total_bytes_sec?: number;
  read_bytes_sec?: number;
  write_bytes_sec?: number;
  total_iops_sec?: number;
  read_iops_sec?: number;
  write_iops_sec?: number;
  total_bytes_sec_max?: number;
  read_bytes_sec_max?: number;
  write_bytes_sec_max?: number;
  total_iops_sec_max?: number;
  read_iops_sec_max?: number;
  write_iops_sec_max?: number;
  size_iops_sec?: number;
  group_name?: string;
  total_bytes_sec_max_length?: number;
  read_bytes_sec_max_length?: number;
  write_bytes_sec_max_length?: number;
  total_iops_sec_max_length?: number;
  read_iops_sec_max_length?: number;
  write_iops_sec_max_length?: number;
}

/** `<throttlegroups><throttlegroup>`: `<iotune>`'s limits under a name disks refer to. */
export type ThrottleGroup = DiskIotune & { group_name: string };

/** `<target dev= bus= tray= removable= rotation_rate=/>` */
export interface DiskTarget {
  dev: string;
  bus?: DiskBus;
  tray?: "open" | "closed";
  removable?: boolean;
  rotation_rate?: number;
}

/**
 * `<backingStore type=><format type=/><source file=|dev=/>…</backingStore>`: the image below a
 * disk's source in its backing chain (libvirt's virStorageSource chain), as external snapshots
 * and block jobs leave it. An empty `<backingStore/>` (the chain's end) is not kept.
 */
export interface DiskBackingStore {
  type: "file" | "block";
  format?: string;
  source: { file?: string; dev?: string; fdgroup?: string; slices?: DiskSource["slices"] };
  /** `<format type=><metadata_cache>`: qcow2 metadata cache limit of this image, bytes */
  metadataCacheMax?: number;
  backingStore?: DiskBackingStore;
  /**
   * The chain is known to end here (live definitions, where the driver read the whole chain
   * from QEMU): formatted as an empty `<backingStore/>` inside, as libvirt does.
   */
  end?: boolean;
}

/** `<disk type= device= model= snapshot= rawio= sgio=>` */
export interface DiskDef extends DeviceCommon {
  type: DiskType;
  device: DiskDevice;
  model?: string;
  snapshot?: string;
  rawio?: boolean;
  sgio?: string;
  driver?: DiskDriver;
  /** Absent for an empty CD-ROM/floppy tray. */
  source?: DiskSource;
  /** The layer below `source` (external snapshots, block jobs). */
  backingStore?: DiskBackingStore;
  /** An empty `<backingStore/>` was given: the source has no backing image (kept, as libvirt). */
  backingStoreEnd?: boolean;
  target: DiskTarget;
  readonly?: boolean;
  shareable?: boolean;
  transient?: boolean;
  /** `<transient shareBacking='yes'/>`: the overlays of several guests share the image below. */
  transientShareBacking?: boolean;
  serial?: string;
  wwn?: string;
  vendor?: string;
  product?: string;
  /** `<blockio logical_block_size= physical_block_size= discard_granularity=/>` */
  blockio?: { logical_block_size?: number; physical_block_size?: number; discard_granularity?: number };
  /** `<geometry cyls= heads= secs= trans=/>` */
  geometry?: { cyls: number; heads: number; secs: number; trans?: string };
  /** `<auth>` written as a child of `<disk>` (the older place; formatted there again). */
  auth?: DiskAuth;
  /** `<encryption>` written as a child of `<disk>` (the older place; formatted there again). */
  encryption?: DiskEncryption;
  iotune?: DiskIotune;
  /** `<throttlefilters>`: the `<throttlegroup>` names the disk's I/O passes through, in order. */
  throttleFilters?: string[];
  /** `<mirror>` of a copy or active commit job in progress (live definitions only). */
  mirror?: DiskMirror;
}

/** One image of a disk's backing chain. */
export interface DiskBackingLayer {
  type: "file" | "block";
  format: string;
  path: string;
}

/** `<mirror type= file= format= job= ready=>`: where a block job is copying the disk to. */
export interface DiskMirror extends DiskBackingLayer {
  job: "copy" | "active-commit";
  ready?: "yes" | "abort" | "pivot";
}

export type ControllerType =
  "ide" | "fdc" | "scsi" | "sata" | "virtio-serial" | "ccid" | "usb" | "pci" | "xenbus" | "isa" | "nvme";

/** `<target chassisNr= chassis= port= busNr= index= hotplug= memReserve=><node>` of a PCI controller */
export interface ControllerTarget {
  chassisNr?: number;
  chassis?: number;
  port?: number;
  busNr?: number;
  index?: number;
  hotplug?: boolean;
  /** KiB */
  memReserve?: number;
  node?: number;
}

/** `<driver queues= cmd_per_lun= max_sectors= ioeventfd= iothread=/>` of a controller */
export interface ControllerDriver {
  queues?: number;
  cmd_per_lun?: number;
  max_sectors?: number;
  ioeventfd?: boolean;
  iothread?: number;
  /** virtio-scsi's iothread-vq-mapping */
  iothreads?: IothreadQueueMapping[];
}

/** `<controller type= index= model= ports= vectors=>` */
export interface ControllerDef extends DeviceCommon {
  type: ControllerType;
  index: number;
  /**
   * Model: pci (`pci-root`, `pcie-root`, `pcie-root-port`, `pci-bridge`, ...), usb (`piix3-uhci`,
   * `qemu-xhci`, `nec-xhci`, `ich9-ehci1`, `none`, ...), scsi (`lsilogic`, `virtio-scsi`, ...).
   */
  model?: string;
  /** usb and virtio-serial `ports=` */
  ports?: number;
  /** virtio-serial `vectors=` */
  vectors?: number;
  /** virtio-serial `max_grant_frames=` etc. are not modelled */
  /** `<model name=/>` of a PCI controller (the QEMU device, e.g. `pcie-root-port`) */
  modelName?: string;
  target?: ControllerTarget;
  driver?: ControllerDriver;
  /** `<master startport=/>` of a USB companion controller */
  master?: { startport: number };
  /** `<pcihole64>` of a PCI root controller: the 64-bit PCI hole's size in KiB */
  pcihole64?: number;
}

export type InterfaceType =
  | "user"
  | "ethernet"
  | "vhostuser"
  | "server"
  | "client"
  | "mcast"
  | "network"
  | "bridge"
  | "internal"
  | "direct"
  | "hostdev"
  | "udp"
  | "vdpa"
  | "null"
  | "vds";

/** `<source network= portgroup= portid= bridge= dev= mode= type= path= address= port=>` */
export interface InterfaceSource {
  network?: string;
  portgroup?: string;
  portid?: string;
  bridge?: string;
  /** direct: host device; vdpa: device path */
  dev?: string;
  /** direct: vepa, bridge, private, passthrough; vhostuser: client/server */
  mode?: string;
  /** vhostuser: unix */
  type?: string;
  path?: string;
  /** mcast/udp/server/client */
  address?: string;
  port?: number;
  /** hostdev: the host PCI function (`<address type='pci' .../>`) or USB device */
  hostAddress?: PciAddress | UsbAddress;
  /** udp `<local address= port=/>` */
  local?: { address?: string; port?: number };
  /** vhostuser: `<reconnect enabled= timeout=/>` of a client socket */
  reconnect?: { enabled: boolean; timeout?: number };
  /** ethernet: the host side's addresses and routes (`<source><ip/><route/></source>`) */
  hostIps?: InterfaceIp[];
  hostRoutes?: InterfaceRoute[];
}

/** `<virtualport type=><parameters .../></virtualport>` */
export interface VirtualPort {
  type?: string;
  /** Parameter attributes in libvirt's order (managerid, typeid, typeidversion, instanceid, interfaceid, profileid). */
  parameters?: {
    managerid?: number;
    typeid?: number;
    typeidversion?: number;
    instanceid?: string;
    interfaceid?: string;
    profileid?: string;
  };
}

/** `<vlan trunk=><tag id= nativeMode=/></vlan>` */
export interface Vlan {
  trunk?: boolean;
  tags: { id: number; nativeMode?: "tagged" | "untagged" }[];
}

/** `<driver name= txmode= ioeventfd= event_idx= queues= rx_queue_size= tx_queue_size=>` of a NIC */
export interface InterfaceDriver {
  name?: string;
  txmode?: string;
  ioeventfd?: boolean;
  event_idx?: boolean;
  queues?: number;
  rx_queue_size?: number;
  tx_queue_size?: number;
  rss?: boolean;
  rss_hash_report?: boolean;
  /** `<host csum= gso= tso4= tso6= ecn= ufo= mrg_rxbuf=/>` (on/off) */
  host?: {
    csum?: boolean;
    gso?: boolean;
    tso4?: boolean;
    tso6?: boolean;
    ecn?: boolean;
    ufo?: boolean;
    mrg_rxbuf?: boolean;
  };
  /** `<guest csum= tso4= tso6= ecn= ufo=/>` (on/off) */
  guest?: { csum?: boolean; tso4?: boolean; tso6?: boolean; ecn?: boolean; ufo?: boolean };
}

/** `<bandwidth><inbound average= peak= burst= floor=/><outbound .../></bandwidth>` */
export interface Bandwidth {
  inbound?: { average?: number; peak?: number; burst?: number; floor?: number };
  outbound?: { average?: number; peak?: number; burst?: number };
}

/** `<ip address= family= prefix= peer=/>` of an interface */
export interface InterfaceIp {
  address: string;
  family?: string;
  prefix?: number;
  peer?: string;
}

/** `<route family= address= netmask= prefix= gateway= metric=/>` */
export interface InterfaceRoute {
  family?: string;
  address: string;
  netmask?: string;
  prefix?: number;
  gateway: string;
  metric?: number;
}

/** `<portForward proto= address= dev=><range start= end= to= exclude=/></portForward>` */
export interface PortForward {
  proto: string;
  address?: string;
  dev?: string;
  ranges: { start: number; end?: number; to?: number; exclude?: boolean }[];
}

/** `<interface type= managed= trustGuestRxFilters=>` */
export interface InterfaceDef extends DeviceCommon {
  type: InterfaceType;
  managed?: boolean;
  trustGuestRxFilters?: boolean;
  /** `<mac address= type= check=/>`, lowercase `52:54:00:..` */
  mac?: { address: string; type?: string; check?: boolean };
  source?: InterfaceSource;
  virtualport?: VirtualPort;
  vlan?: Vlan;
  /** `<target dev= managed=/>` */
  target?: { dev: string; managed?: boolean };
  /** `<script path=/>` */
  script?: string;
  /** `<downscript path=/>` */
  downscript?: string;
  /** `<backend type= tap= vhost= logFile=/>` */
  backend?: { type?: string; tap?: string; vhost?: string; logFile?: string };
  /** `<model type=/>`: virtio, e1000, rtl8139, ... */
  model?: string;
  driver?: InterfaceDriver;
  bandwidth?: Bandwidth;
  /** `<filterref filter=>` (parameters not modelled) */
  filterref?: { filter: string; parameters?: { name: string; value: string }[] };
  /** `<tune><sndbuf>n</sndbuf></tune>` */
  tune?: { sndbuf?: number };
  /** `<link state=/>` */
  link?: { state: "up" | "down" };
  /** `<mtu size=/>` */
  mtu?: number;
  ips?: InterfaceIp[];
  /** guest-side `<route>`s */
  routes?: InterfaceRoute[];
  portForwards?: PortForward[];
  /** `<port isolated='yes|no'/>` */
  isolatedPort?: boolean;
  /** `<coalesce><rx><frames max=/></rx></coalesce>` */
  coalesce?: { rxFramesMax?: number };
  /** `<teaming type='persistent|transient' persistent=/>` */
  teaming?: { type: "persistent" | "transient"; persistent?: string };
}

export type ChrType =
  | "null"
  | "vc"
  | "pty"
  | "dev"
  | "file"
  | "pipe"
  | "stdio"
  | "udp"
  | "tcp"
  | "unix"
  | "spicevmc"
  | "spiceport"
  | "nmdm"
  | "qemu-vdagent"
  | "dbus";

/** `<source path= mode= host= service= append= channel= tls=/>` of a character device */
export interface ChrSource {
  path?: string;
  /** unix/tcp: bind (listen) or connect */
  mode?: "bind" | "connect";
  host?: string;
  service?: string;
  append?: boolean;
  /** spiceport `channel=` */
  channel?: string;
  tls?: boolean;
  /** udp: `<source mode='connect'>` is `host/service`, `<source mode='bind'>` is `bindHost/bindService` */
  bindHost?: string;
  bindService?: string;
  /** `<reconnect enabled= timeout=/>` */
  reconnect?: { enabled: boolean; timeout?: number };
  /** qemu-vdagent: `<clipboard copypaste='yes|no'/>` */
  clipboard?: boolean;
  /** qemu-vdagent: `<mouse mode='server|client'/>` */
  mouseMode?: "server" | "client";
  /** `<seclabel model= relabel=><label/></seclabel>` of a path-backed source (file, device, pipe, socket) */
  seclabels?: { model?: string; relabel?: boolean; label?: string }[];
}

/**
 * `<target type= port= name= state=>` of serial/console/channel/parallel.
 * serial types: isa-serial, usb-serial, pci-serial, spapr-vio-serial, system-serial, sclp-serial,
 * isa-debug; console: serial, virtio, xen, uml, lxc, openvz, sclp, sclplm; channel: virtio, guestfwd, xen.
 */
export interface ChrTarget {
  type?: string;
  port?: number;
  /** virtio channel name (`org.qemu.guest_agent.0`) */
  name?: string;
  /** guestfwd `address=` and `port=` */
  address?: string;
  /** `state='connected'|'disconnected'` (live only) */
  state?: string;
  /** `<model name=/>`: isa-serial, pci-serial, usb-serial, ... */
  model?: string;
}

/** `<serial>`, `<console>`, `<channel>`, `<parallel>` */
export interface ChrDef extends DeviceCommon {
  type: ChrType;
  source?: ChrSource;
  /** `<protocol type='raw'|'telnet'|'telnets'|'tls'/>` */
  protocol?: string;
  /** `<log file= append=/>` */
  log?: { file: string; append?: boolean };
  target: ChrTarget;
}

export type InputType = "mouse" | "tablet" | "keyboard" | "passthrough" | "evdev";
export type InputBus = "ps2" | "usb" | "xen" | "parallels" | "virtio" | "none";

/** `<input type= bus= model=>` */
export interface InputDef extends DeviceCommon {
  type: InputType;
  bus?: InputBus;
  model?: string;
  /** `<source evdev= dev= grab= grabToggle= repeat=/>` */
  source?: { evdev?: string; dev?: string; grab?: string; grabToggle?: string; repeat?: boolean };
}

/** `<listen type= address= network= socket=/>` */
export interface GraphicsListen {
  type: "address" | "network" | "socket" | "none";
  address?: string;
  network?: string;
  socket?: string;
  /** libvirt generated the socket path (not formatted in the inactive XML) */
  autoGenerated?: boolean;
}

export type GraphicsType = "sdl" | "vnc" | "rdp" | "desktop" | "spice" | "egl-headless" | "dbus";

/** `<graphics type= port= autoport= websocket= socket= passwd= keymap= sharePolicy= ...>` */
export interface GraphicsDef {
  type: GraphicsType;
  port?: number;
  tlsPort?: number;
  autoport?: boolean;
  websocket?: number;
  /** vnc `socket=` (mirrors a socket listen) */
  socket?: string;
  passwd?: string;
  passwdValidTo?: string;
  connected?: string;
  keymap?: string;
  sharePolicy?: string;
  defaultMode?: string;
  /** vnc `powerControl=` */
  powerControl?: boolean;
  /** rdp `replaceUser=`, `multiUser=`, `username=` */
  replaceUser?: boolean;
  multiUser?: boolean;
  username?: string;
  listens: GraphicsListen[];
  /** spice children: `<image compression=/>`, `<jpeg compression=/>`, ... */
  image?: { compression: string };
  jpeg?: { compression: string };
  zlib?: { compression: string };
  playback?: { compression: boolean };
  streaming?: { mode: string };
  clipboard?: { copypaste: boolean };
  mouse?: { mode: string };
  filetransfer?: { enable: boolean };
  /** `<gl enable= rendernode=/>` */
  gl?: { enable: boolean; rendernode?: string };
  /** `<channel name= mode=/>` (spice) */
  channels?: { name: string; mode: string }[];
  /** `<audio id=/>` (vnc) */
  audio?: { id: number };
  /** dbus `address=` (a D-Bus address QEMU connects to) and `p2p=` (peer-to-peer clients) */
  address?: string;
  p2p?: boolean;
  /** sdl/egl `display=`, `xauth=`, `fullscreen=` */
  display?: string;
  xauth?: string;
  fullscreen?: boolean;
}

/** `<model type= ram= vram= vram64= vgamem= heads= primary=>` of a video device */
export interface VideoModel {
  type: string;
  ram?: number;
  vram?: number;
  vram64?: number;
  vgamem?: number;
  heads?: number;
  primary?: boolean;
  /** virtio `blob=` (on/off) */
  blob?: boolean;
  /** `<acceleration accel3d= accel2d= rendernode=/>` */
  acceleration?: { accel3d?: boolean; accel2d?: boolean; rendernode?: string };
  /** `<resolution x= y=/>` */
  resolution?: { x: number; y: number };
}

/** `<video>` */
export interface VideoDef extends DeviceCommon {
  model: VideoModel;
  /** `<driver name= vgaconf=/>` */
  driver?: { name?: string; vgaconf?: string };
}

/** `<sound model=>` */
export interface SoundDef extends DeviceCommon {
  model: string;
  /** `<codec type=/>` */
  codecs?: string[];
  /** `<audio id=/>` */
  audio?: { id: number };
  /** usb `multichannel=` */
  multichannel?: boolean;
  /** virtio `streams=` (libvirt's default 2) */
  streams?: number;
}

export type AudioType =
  | "none"
  | "alsa"
  | "coreaudio"
  | "jack"
  | "oss"
  | "pulseaudio"
  | "sdl"
  | "spice"
  | "file"
  | "dbus"
  | "pipewire";

/** `<settings format=>` of an audio direction. */
export type AudioFormat = "s8" | "u8" | "s16" | "u16" | "s32" | "u32" | "f32";

/** `<audio type='sdl' driver=>`: the SDL audio driver (`SDL_AUDIODRIVER`). */
export type AudioSdlDriver = "esd" | "alsa" | "arts" | "pulseaudio";

/**
 * `<input>`/`<output>` of an `<audio>` backend: the common part, then the attributes of the
 * backend types that have them (libvirt keeps only the ones of the element's type).
 */
export interface AudioIo {
  mixingEngine?: boolean;
  fixedSettings?: boolean;
  voices?: number;
  bufferLength?: number;
  /** `<settings frequency= channels= format=>` (kept only with fixedSettings='yes') */
  settings?: { frequency?: number; channels?: number; format?: AudioFormat };
  /** alsa, oss */
  dev?: string;
  /** coreaudio, oss, sdl */
  bufferCount?: number;
  /** oss */
  tryPoll?: boolean;
  /** jack */
  serverName?: string;
  clientName?: string;
  connectPorts?: string;
  exactName?: boolean;
  /** pulseaudio, pipewire */
  name?: string;
  streamName?: string;
  latency?: number;
}

/** `<audio id= type= timerPeriod=>` with the attributes of its type. */
export interface AudioDef {
  id: number;
  type: AudioType;
  timerPeriod?: number;
  /** file `path=` */
  path?: string;
  /** oss `tryMMap=`, `exclusive=`, `dspPolicy=` */
  tryMMap?: boolean;
  exclusive?: boolean;
  dspPolicy?: number;
  /** pulseaudio `serverName=` */
  serverName?: string;
  /** sdl `driver=` */
  driver?: AudioSdlDriver;
  /** pipewire `runtimeDir=` */
  runtimeDir?: string;
  input?: AudioIo;
  output?: AudioIo;
}

export type FilesystemType = "mount" | "block" | "file" | "template" | "ram" | "bind" | "volume";
export type FilesystemDriverType = "path" | "handle" | "loop" | "nbd" | "ploop" | "virtiofs" | "mtp";

/** `<idmap><uid start= target= count=/><gid .../></idmap>` */
export interface IdMapEntry {
  start: number;
  target: number;
  count: number;
}

/** `<binary path= xattr=>` of virtiofs */
export interface FilesystemBinary {
  path?: string;
  xattr?: boolean;
  /** `<cache mode=/>` */
  cache?: { mode: "none" | "always" | "auto" | "never" | "metadata" };
  /** `<sandbox mode=/>` */
  sandbox?: { mode: "namespace" | "chroot" };
  /** `<lock posix= flock=/>` */
  lock?: { posix?: boolean; flock?: boolean };
  /** `<thread_pool size=/>` */
  threadPool?: { size: number };
  /** `<openfiles max=/>` */
  openfiles?: { max: number };
}

/** `<filesystem type= accessmode= model= multidevs= fmode= dmode=>` */
export interface FilesystemDef extends DeviceCommon {
  type: FilesystemType;
  accessmode?: "passthrough" | "mapped" | "squash";
  model?: string;
  multidevs?: "default" | "remap" | "forbid" | "warn";
  fmode?: number;
  dmode?: number;
  /** `<driver type= format= wrpolicy= queue=/>` */
  driver?: { type?: FilesystemDriverType; format?: string; wrpolicy?: "immediate"; queue?: number };
  binary?: FilesystemBinary;
  idmap?: { uids: IdMapEntry[]; gids: IdMapEntry[] };
  /** `<source dir= file= dev= name= socket= usage= units=/>` */
  source?: { dir?: string; file?: string; dev?: string; name?: string; socket?: string; usage?: number };
  /** `<target dir=/>` (the mount tag for virtiofs/9p) */
  target: { dir: string };
  readonly?: boolean;
  /** KiB */
  spaceHardLimit?: number;
  spaceSoftLimit?: number;
}

/** Host USB device address inside `<hostdev><source><address bus= device=/>` */
export interface HostUsbAddress {
  bus: number;
  device: number;
}

/** Host PCI address inside `<hostdev><source><address domain= bus= slot= function=/>` */
export interface HostPciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

/** `<source>` of a hostdev. */
export interface HostdevSource {
  /** usb: `<vendor id=/>` */
  vendor?: number;
  /** usb: `<product id=/>` */
  product?: number;
  /** usb: `<address bus= device=/>` */
  usbAddress?: HostUsbAddress;
  /** pci: `<address domain= bus= slot= function=/>` */
  pciAddress?: HostPciAddress;
  /** usb `startupPolicy=` */
  startupPolicy?: "mandatory" | "requisite" | "optional";
  /** usb `guestReset=` */
  guestReset?: "off" | "uninitialized" | "on";
  /** pci `writeFiltering=` */
  writeFiltering?: boolean;
  /** scsi: `<adapter name=/>` + `<address bus= target= unit=/>` */
  scsi?: { adapter: string; bus: number; target: number; unit: number };
  /** scsi: `<source protocol='iscsi' name=>` (a LUN QEMU's initiator opens) */
  iscsi?: HostdevIscsiSource;
  /** mdev: `<address uuid=/>` */
  mdevUuid?: string;
  /** scsi_host: `<source protocol='vhost' wwpn=/>` (a vhost-scsi target of the host) */
  vhost?: { protocol: "vhost"; wwpn: string };
}

/** An iSCSI LUN as a SCSI host device: `name` is `IQN/LUN`. */
export interface HostdevIscsiSource {
  name: string;
  host: { name?: string; port?: number };
  auth?: DiskAuth;
  initiatorIqn?: string;
}

/** `<hostdev mode= type= managed= model= display= ramfb=>` */
export interface HostdevDef extends DeviceCommon {
  mode: "subsystem" | "capabilities";
  type: "usb" | "pci" | "scsi" | "scsi_host" | "mdev" | "storage" | "misc" | "net";
  managed?: boolean;
  /** mdev model: vfio-pci, vfio-ccw, vfio-ap */
  model?: string;
  display?: boolean;
  ramfb?: boolean;
  /** `<driver name= model=/>` (pci) */
  driver?: { name?: string; model?: string };
  source: HostdevSource;
  readonly?: boolean;
  shareable?: boolean;
  /** `<teaming type='transient' persistent=/>`: the failover partner of a virtio NIC */
  teaming?: { type: "persistent" | "transient"; persistent?: string };
}

/**
 * `<smartcard mode=>`: `host` (QEMU emulates a card from the host's reader), `host-certificates`
 * (from three certificates of an NSS database), `passthrough` (a chardev to a remote reader).
 */
export interface SmartcardDef extends DeviceCommon {
  mode: "host" | "host-certificates" | "passthrough";
  /** host-certificates: the three `<certificate>` names and the `<database>` dir */
  certificates?: string[];
  database?: string;
  /** passthrough: the chardev */
  type?: ChrType;
  source?: ChrSource;
  protocol?: string;
}

/** `<redirdev bus='usb' type=>` */
export interface RedirdevDef extends DeviceCommon {
  bus: "usb";
  type: ChrType;
  source?: ChrSource;
  protocol?: string;
}

/**
 * `<usbdev class= vendor= product= version= allow=/>` of `<redirfilter>`; an absent field (or
 * `-1`) matches any value. `version` is BCD (`1.10` is 0x0110).
 */
export interface RedirFilterRule {
  class?: number;
  vendor?: number;
  product?: number;
  version?: number;
  allow: boolean;
}

/** `<hub type='usb'>` */
export interface HubDef extends DeviceCommon {
  type: "usb";
}

/** `<watchdog model= action=>` */
export interface WatchdogDef extends DeviceCommon {
  model: "i6300esb" | "ib700" | "diag288" | "itco";
  action?: "reset" | "shutdown" | "poweroff" | "pause" | "dump" | "none" | "inject-nmi";
}

/** `<memballoon model= autodeflate= freePageReporting=>` */
export interface MemballoonDef extends DeviceCommon {
  model: "virtio" | "xen" | "none" | "virtio-transitional" | "virtio-non-transitional";
  autodeflate?: boolean;
  freePageReporting?: boolean;
  /** `<stats period=/>` seconds */
  statsPeriod?: number;
}

/** `<backend model=>` of an RNG */
export interface RngBackend {
  model: "random" | "egd" | "builtin";
  /** random: `/dev/urandom` etc. (element text) */
  path?: string;
  /** egd: chardev type and its source */
  type?: ChrType;
  source?: ChrSource;
  protocol?: string;
}

/** `<rng model=>` */
export interface RngDef extends DeviceCommon {
  model: "virtio" | "virtio-transitional" | "virtio-non-transitional";
  /** `<rate bytes= period=/>` */
  rate?: { bytes: number; period?: number };
  backend: RngBackend;
}

/** `<panic model=>` */
export interface PanicDef extends DeviceCommon {
  model?: "isa" | "pseries" | "hyperv" | "s390" | "pvpanic";
}

/** `<tpm model=>`: the guest's TPM front end. */
export type TpmModel = "tpm-tis" | "tpm-crb" | "tpm-spapr" | "spapr-tpm-proxy";
export const TPM_MODELS: readonly TpmModel[] = ["tpm-tis", "tpm-crb", "tpm-spapr", "spapr-tpm-proxy"];
/** `<active_pcr_banks>` children, in libvirt's order. */
export const TPM_PCR_BANKS = ["sha1", "sha256", "sha384", "sha512"] as const;
export type TpmPcrBank = (typeof TPM_PCR_BANKS)[number];

/** `<tpm model=><backend type= version=>` */
export interface TpmDef extends DeviceCommon {
  model?: TpmModel;
  backend: {
    type: "passthrough" | "emulator" | "external";
    /** emulator: `1.2` or `2.0` (filled in at define) */
    version?: "1.2" | "2.0";
    /** passthrough: `<device path=>` (the host TPM, default /dev/tpm0) */
    path?: string;
    /** emulator: keep the state when a transient domain goes away */
    persistent_state?: boolean;
    /** emulator: swtpm's log level */
    debug?: number;
    /** emulator: `<encryption secret=>`, the UUID of the secret encrypting the state */
    secret?: string;
    /** emulator: `<active_pcr_banks>` */
    activePcrBanks?: TpmPcrBank[];
    /** emulator: `<source type= path=>`, where the state is kept (a folder or one file) */
    source?: { type: "dir" | "file"; path: string };
    /** emulator: `<profile source= removeDisabled= name=>` (TPM 2.0 profile of swtpm) */
    profile?: { source: string; removeDisabled?: "check" | "fips-host"; name?: string };
    /** external: `<source type='unix' mode='connect' path=>`, the socket of a swtpm run elsewhere */
    socket?: string;
  };
}

/** `<memory model= access= discard=>` (a memory device: dimm, nvdimm, virtio-pmem, virtio-mem, sgx-epc) */
export interface MemoryDeviceDef extends DeviceCommon {
  model: "dimm" | "nvdimm" | "virtio-pmem" | "virtio-mem" | "sgx-epc";
  access?: MemoryAccessMode;
  discard?: boolean;
  uuid?: string;
  /** `<source>`: `<pagesize>` (KiB), `<nodemask>`, `<path>`, `<alignsize>` (KiB), `<pmem/>` */
  source?: { pagesize?: number; nodemask?: string; path?: string; alignsize?: number; pmem?: boolean };
  /** `<target>`: `<size>` (KiB), `<node>`, `<label><size>`, `<block>`, `<requested>`, `<readonly/>`, `<address base=>` */
  target: {
    size: number;
    node?: number;
    labelSize?: number;
    block?: number;
    requested?: number;
    current?: number;
    readonly?: boolean;
    address?: number;
    /** virtio-mem `<target dynamicMemslots=>`: QEMU may use several memslots for the device */
    dynamicMemslots?: boolean;
  };
}

/** `<iommu model=>` */
export interface IommuDef extends DeviceCommon {
  model: string;
  /** `<driver intremap= caching_mode= eim= iotlb= aw_bits= dma_translation=/>` kept as attributes */
  driver?: Record<string, string>;
}

/** `<vsock model=><cid auto= address=/>` */
export interface VsockDef extends DeviceCommon {
  model?: string;
  cid?: { auto?: boolean; address?: number };
}

/** `<pstore backend='acpi-erst'><path/><size/>` */
export interface PstoreDef extends DeviceCommon {
  backend: "acpi-erst";
  path: string;
  /** KiB */
  size: number;
}

/** `<lease><lockspace/><key/><target path= offset=/></lease>` */
export interface LeaseDef {
  lockspace?: string;
  key: string;
  path: string;
  /** bytes into `path` */
  offset?: bigint;
}

/** `<shmem name= role=>`: an ivshmem shared memory region (libvirt's virDomainShmemDef) */
export interface ShmemDef extends DeviceCommon {
  name: string;
  role?: "master" | "peer";
  /** `<model type=/>`; post-parse default ivshmem-plain */
  model?: "ivshmem" | "ivshmem-plain" | "ivshmem-doorbell";
  /** `<size unit=>`, in bytes (written in MiB) */
  size?: number;
  /** `<server path=/>`: a doorbell's ivshmem-server socket (path unset: libvirt's default) */
  server?: { path?: string };
  /** `<msi vectors= ioeventfd=/>` */
  msi?: { vectors?: number; ioeventfd?: boolean };
}

/** `<crypto model='virtio' type='qemu'><backend model= queues=/></crypto>` */
export interface CryptoDef extends DeviceCommon {
  model: "virtio";
  type: "qemu";
  backend: { model: "builtin" | "lkcf"; queues?: number };
}

/** `<devices>` */
export interface Devices {
  emulator?: string;
  disks: DiskDef[];
  controllers: ControllerDef[];
  filesystems: FilesystemDef[];
  interfaces: InterfaceDef[];
  serials: ChrDef[];
  parallels: ChrDef[];
  /**
   * In an HVM guest a console whose target type is `serial` is libvirt's alias of the serial
   * port with the same index (no device of its own; it is formatted as a copy of that serial).
   * After defaults, an HVM guest with an isa-serial port always has such a console 0.
   */
  consoles: ChrDef[];
  channels: ChrDef[];
  inputs: InputDef[];
  tpms: TpmDef[];
  graphics: GraphicsDef[];
  sounds: SoundDef[];
  audios: AudioDef[];
  videos: VideoDef[];
  hostdevs: HostdevDef[];
  redirdevs: RedirdevDef[];
  /** `<smartcard>` devices (absent: none) */
  smartcards?: SmartcardDef[];
  /** `<lease>` lock manager leases (absent: none) */
  leases?: LeaseDef[];
  /** `<redirfilter>`: which USB devices redirection lets through, in order */
  redirfilter?: RedirFilterRule[];
  hubs: HubDef[];
  watchdogs: WatchdogDef[];
  memballoon?: MemballoonDef;
  rngs: RngDef[];
  panics: PanicDef[];
  memories: MemoryDeviceDef[];
  iommu?: IommuDef;
  vsock?: VsockDef;
  pstore?: PstoreDef;
  /** `<shmem>` devices (absent: none) */
  shmems?: ShmemDef[];
  /** `<crypto>` devices (absent: none) */
  cryptos?: CryptoDef[];
}

// ---------------------------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------------------------

/** `<seclabel type= model= relabel=><label/><imagelabel/><baselabel/></seclabel>` */
export interface SecLabel {
  type?: "dynamic" | "static" | "none";
  model?: string;
  relabel?: boolean;
  label?: string;
  imagelabel?: string;
  baselabel?: string;
}

/** `<launchSecurity type=>` (AMD SEV / SEV-SNP, s390 PV, Intel TDX) */
export interface LaunchSecurity {
  type: "sev" | "sev-snp" | "s390-pv" | "tdx";
  kernelHashes?: boolean;
  authorKey?: boolean;
  vcek?: boolean;
  cbitpos?: number;
  reducedPhysBits?: number;
  /** `<policy>0x0001</policy>`; formatted as 0x%04x (sev) */
  policy?: number;
  dhCert?: string;
  session?: string;
  guestVisibleWorkarounds?: string;
  idBlock?: string;
  idAuth?: string;
  hostData?: string;
}

// ---------------------------------------------------------------------------------------------
// Metadata and the domain
// ---------------------------------------------------------------------------------------------

/** A foreign XML element kept verbatim (`<metadata>` children, `qemu:commandline`). */
export interface RawXmlElement {
  name: string;
  /** Attributes in document order, including `xmlns:*` declarations. */
  attrs: { name: string; value: string }[];
  children: (RawXmlElement | string)[];
}

/** `<qemu:commandline>` and `<qemu:capabilities>` (namespace `http://libvirt.org/schemas/domain/qemu/1.0`) */
export interface QemuNamespace {
  args: string[];
  env: { name: string; value?: string }[];
  capsAdd: string[];
  capsDel: string[];
  /** `<qemu:override><qemu:device alias=><qemu:frontend>` properties, in document order */
  overrides: { alias: string; frontend: QemuOverrideProperty[] }[];
  /** `<qemu:deprecation behavior=>` */
  deprecation?: "none" | "omit" | "reject" | "crash";
}

/** `<qemu:property name= type= value=>`: set a `-device` property, or remove it. */
export type QemuOverrideProperty =
  | { name: string; type: "string" | "signed" | "unsigned" | "bool"; value: string }
  | { name: string; type: "remove" };

export type DomainVirtType =
  | "qemu"
  | "kvm"
  | "kqemu"
  | "xen"
  | "lxc"
  | "uml"
  | "openvz"
  | "test"
  | "vmware"
  | "hyperv"
  | "vbox"
  | "phyp"
  | "parallels"
  | "bhyve"
  | "vz"
  | "none"
  | "hvf";

/** `<domain type= id=>` */
export interface DomainDef {
  type: DomainVirtType;
  /** Live domains only. */
  id?: number;
  name: string;
  /** Lowercase 8-4-4-4-12 form; generated when absent. */
  uuid: string;
  /** `<genid>`; "" for an empty `<genid/>` until the defaults generate one. */
  genid?: string;
  title?: string;
  description?: string;
  /** `<metadata>` children, verbatim. */
  metadata?: RawXmlElement[];
  maxMemory?: MaxMemory;
  /** `<memory>`: total guest memory, KiB. */
  memory: number;
  /** `<memory dumpCore=>` */
  memoryDumpCore?: boolean;
  /** `<currentMemory>`: balloon target, KiB (defaults to `memory`). */
  currentMemory: number;
  /** `<blkiotune>` */
  blkiotune?: Blkiotune;
  memtune?: Memtune;
  memoryBacking?: MemoryBacking;
  vcpu: Vcpu;
  /** `<iothreads>` */
  iothreads?: number;
  /** `<iothreadids>`, filled up to `iothreads` entries (see conf/domain/iothreads.ts) */
  iothreadids?: IothreadIdDef[];
  /** `<defaultiothread thread_pool_min= thread_pool_max=/>` (QEMU's main loop) */
  defaultIothread?: { threadPoolMin?: number; threadPoolMax?: number };
  /** `<cputune>` */
  cputune?: Cputune;
  numatune?: Numatune;
  /** `<throttlegroups>` */
  throttleGroups?: ThrottleGroup[];
  /** `<resource>`: the cgroup partition (an absolute path) and the fibre channel application id. */
  resource?: { partition?: string; fibrechannelAppid?: string };
  /** `<sysinfo>` elements (SMBIOS tables, fw_cfg files), in document order. */
  sysinfo?: SysinfoDef[];
  os: OsDef;
  /** `<idmap>` of a container guest: uid and gid ranges, each sorted by start */
  idmap?: { uids: IdMapEntry[]; gids: IdMapEntry[] };
  features?: DomainFeatures;
  cpu?: CpuDef;
  clock: Clock;
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
  /** `<on_lockfailure>` */
  onLockfailure?: "poweroff" | "restart" | "pause" | "ignore";
  pm?: PowerManagement;
  devices: Devices;
  seclabels: SecLabel[];
  launchSecurity?: LaunchSecurity;
  qemu?: QemuNamespace;
}

/**
 * Facts about the hypervisor that post-parse defaults depend on. `conf/` may not import
 * drivers, so the QEMU driver passes an object implementing this (built from its capabilities).
 * Every member is optional; without an answer the defaults follow libvirt 11.3 with QEMU 10.0
 * capabilities on x86_64 (the corpus's `latest`), keeping machine names as written.
 */
export interface DomainFacts {
  /** Versioned machine for an alias (`pc` → `pc-i440fx-7.2`), or undefined to keep it. */
  canonicalMachine?(arch: string, virtType: string, machine: string): string | undefined;
  /** Machine to use when `<type machine=>` is absent (libvirt: the binary's default). */
  defaultMachine?(arch: string, virtType: string): string | undefined;
  /**
   * CPU model QEMU uses for this machine when the XML names none (`qemu64` for x86 pc/q35);
   * `null` = the machine reports none (no `<cpu>` is added).
   */
  defaultCpuModel?(arch: string, virtType: string, machine: string): string | null | undefined;
  /** Emulator binary when `<emulator>` is absent (libvirt: the capabilities' binary for the arch). */
  defaultEmulator?(arch: string, virtType: string): string | undefined;
  /** Whether the emulator has this QEMU device (e.g. `qemu-xhci`, `pcie-root-port`). */
  hasDevice?(name: string): boolean | undefined;
  /**
   * Whether the emulator has this capability flag (`blockdev.nbd.tls-hostname`,
   * `rbd-encryption`): the define-time checks of storage sources need it.
   */
  hasStorageFlag?(flag: string): boolean;
  /** Whether the emulator runs guests of this domain type (`qemu`, `kvm`, `hvf`); undefined if unknown. */
  supportsVirtType?(type: string): boolean | undefined;
  /**
   * The driver's firmware selection at define time (`<os firmware=>` autoselection from
   * firmware descriptors, NVRAM path); fills `def.os` in place. Throws only for new
   * definitions (`abiUpdate`).
   */
  fillFirmware?(def: DomainDef, abiUpdate: boolean): void;
  /**
   * Whether a virtio channel's unix socket path is one the driver generates itself (it is then
   * dropped from the definition, as libvirt's qemuDomainChrDefDropDefaultPath).
   */
  isDefaultChannelPath?(path: string, targetName: string): boolean;
  /**
   * What picks the audio backend added to a definition without `<audio>`: qemu.conf's
   * `vnc_allow_host_audio` / `nographics_allow_host_audio` and the daemon's environment
   * (`QEMU_AUDIO_DRV` in QEMU's driver names, `SDL_AUDIODRIVER`, `QEMU_PA_SERVER`).
   */
  hostAudio?: HostAudioFacts;
  /** The driver's directory of per-domain state (libvirt's cfg->libDir, `/var/lib/libvirt/qemu`). */
  libDir?: string;
  /** Whether QEMU's machine types have this property (`i8042`); undefined if unknown. */
  machineProperty?(name: string): boolean | undefined;
  /** The source of random bytes for generated identifiers (`<genid/>`, a missing `<uuid>`); crypto's by default. */
  randomBytes?(count: number): Uint8Array;
  /**
   * The host's first security model (`none`, `apparmor`, `selinux`): the model of a lone
   * `<seclabel>` that names none (libvirt's host capabilities `<secmodel>`).
   */
  hostSecurityModel?: () => string | undefined;
}

export interface HostAudioFacts {
  vncAllowHostAudio?: boolean;
  nogfxAllowHostAudio?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
}
