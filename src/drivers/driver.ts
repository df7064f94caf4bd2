/**
 * The hypervisor driver interface and the data shapes it passes: libvirt's `virHypervisorDriver`
 * table (`src/driver-hypervisor.h`) as a TypeScript interface, the records its calls return, and
 * the handle a caller holds for a domain. Interfaces and types only: libvirt's enum and flag
 * values are in `enums.ts`, errors in `util/errors`.
 *
 * Drivers (`test`, `qemu`, the remote RPC client) implement `HypervisorDriver`; `api/` wraps it
 * in the typed public `Connection`/`Domain` surface, and the RPC server dispatches into that.
 * Like libvirt's C tables every entry is optional: a missing entry becomes "this function is
 * not supported by the connection driver: virXxx" in `api/`. Where libvirt has a plain and a
 * `...Flags` variant of a call (and so two RPC procedures), both entries exist here; a driver
 * may fill only the flags variant, and `api/` then calls it with flags 0, as libvirt's own
 * drivers do (`testDomainDestroy` is `testDomainDestroyFlags(dom, 0)`).
 *
 * This module lives below `api/` so that drivers can implement it without importing upwards.
 */
import type { Socket } from "node:net";
import type { DomainEventId, DomainEventType, DomainState } from "./enums.ts";

// ---------------------------------------------------------------------------------------------
// Handles and records
// ---------------------------------------------------------------------------------------------

/**
 * What a caller holds for a domain: libvirt's `virDomainPtr` (connection + name + UUID + id).
 * `id` is -1 while the domain is inactive. Drivers update `id` on the handle they are given when
 * a call starts or stops the domain (libvirt does the same: `domain->id = ...`).
 */
/** Which hypervisor CPU the hypervisor-CPU calls are about (each part optional, as in libvirt). */
export interface HypervisorCpuQuery {
  readonly emulator?: string | null;
  readonly arch?: string | null;
  readonly machine?: string | null;
  readonly virttype?: string | null;
}

export interface DomainRef {
  name: string;
  /** Lowercase 8-4-4-4-12. */
  uuid: string;
  id: number;
}

/** `virNodeInfo`. */
export interface NodeInfo {
  /** CPU model (e.g. `x86_64`). */
  model: string;
  /** KiB */
  memory: number;
  cpus: number;
  /** MHz */
  mhz: number;
  /** NUMA cells */
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** `virDomainInfo`. */
export interface DomainInfo {
  state: DomainState;
  /** Maximum memory, KiB. */
  maxMem: number;
  /** Current memory, KiB. */
  memory: number;
  nrVirtCpu: number;
  /** CPU time used, nanoseconds (unsigned long long in libvirt). */
  cpuTime: bigint;
}

/** `virDomainGetState` result. `reason` is from the enum matching `state` (`DomainRunningReason`...). */
export interface DomainStateInfo {
  state: DomainState;
  reason: number;
}

/** `virSecurityModel`. An empty model means "no security driver". */
export interface SecurityModel {
  model: string;
  doi: string;
}

/** `virSecurityLabel`. An empty label means "no label" (inactive domain). */
export interface SecurityLabel {
  label: string;
  enforcing: boolean;
}

/** Options of `virConnectGetDomainCapabilities`. */
export interface DomainCapabilitiesQuery {
  emulatorbin?: string;
  arch?: string;
  machine?: string;
  virttype?: string;
}

/** A parsed connection URI (libvirt's `virURI`). */
export interface ConnectURI {
  /** The URI as given. */
  readonly text: string;
  /** Full scheme, e.g. `qemu+unix`. */
  readonly scheme: string;
  /** The driver part of the scheme, e.g. `qemu`. */
  readonly driver: string;
  /** The transport part of the scheme (`unix`, `ssh`, `tcp`, `tls`, `ext`, `libssh2`), if any. */
  readonly transport?: string;
  readonly user?: string;
  /** Host name; absent or "" for local URIs. */
  readonly server?: string;
  readonly port?: number;
  /** Path, e.g. `/system`, `/default`, `/embed` (percent-decoded). */
  readonly path: string;
  /** Query parameters in order (percent-decoded). */
  readonly params: readonly { readonly name: string; readonly value: string }[];
  /** `fragment` if any. */
  readonly fragment?: string;
}

/** One value of a `virTypedParameter`. */
export type TypedParameterValue =
  | { type: 1; value: number }
  | { type: 2; value: number }
  | { type: 3; value: bigint }
  | { type: 4; value: bigint }
  | { type: 5; value: number }
  | { type: 6; value: boolean }
  | { type: 7; value: string };

/** `virDomainFSInfo` */
export interface GuestFSInfo {
  mountpoint: string;
  name: string;
  fstype: string;
  /** The domain disks the filesystem sits on, by target name (`vda`). */
  devAliases: string[];
}

/** `virTypedParameter`: a named, typed value (domstats, block stats). */
export interface TypedParameter {
  field: string;
  value: TypedParameterValue;
}

/** `virDomainJobInfo` (times in ms, sizes in bytes). */
export interface DomainJobInfo {
  /** `DomainJobType` */
  type: number;
  timeElapsed: bigint;
  timeRemaining: bigint;
  dataTotal: bigint;
  dataProcessed: bigint;
  dataRemaining: bigint;
  memTotal: bigint;
  memProcessed: bigint;
  memRemaining: bigint;
  fileTotal: bigint;
  fileProcessed: bigint;
  fileRemaining: bigint;
}

/** `virDomainBlockStatsStruct`; -1 = not available. */
export interface BlockStats {
  rdReq: bigint;
  rdBytes: bigint;
  wrReq: bigint;
  wrBytes: bigint;
  errs: bigint;
}

/** `virDomainInterfaceStatsStruct`; -1 = not available. */
export interface InterfaceStats {
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrs: bigint;
  rxDrop: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrs: bigint;
  txDrop: bigint;
}

/** `virDomainMemoryStatStruct` (`tag` from `DomainMemoryStatTag`). */
export interface MemoryStat {
  tag: number;
  val: bigint;
}

/** `virDomainStatsRecord` */
export interface DomainStatsRecord {
  dom: DomainRef;
  params: TypedParameter[];
}

/** A QEMU monitor event as `virConnectDomainQemuMonitorEventRegister` delivers it. */
export interface QemuMonitorEvent {
  event: string;
  seconds: bigint;
  micros: number;
  /** The event's `data` as JSON text, or null when it has none. */
  details: string | null;
}
export type QemuMonitorEventCallback = (dom: DomainRef, ev: QemuMonitorEvent) => void;

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/** A domain event as delivered to callbacks. Only the kinds tvirt emits carry typed payloads. */
export type DomainEvent =
  | { readonly id: typeof DomainEventId.LIFECYCLE; readonly event: DomainEventType; readonly detail: number }
  | { readonly id: typeof DomainEventId.REBOOT }
  | { readonly id: typeof DomainEventId.RTC_CHANGE; readonly utcoffset: bigint }
  | { readonly id: typeof DomainEventId.BALLOON_CHANGE; readonly actual: bigint }
  | { readonly id: typeof DomainEventId.DEVICE_REMOVED; readonly devAlias: string }
  | { readonly id: typeof DomainEventId.DEVICE_ADDED; readonly devAlias: string }
  | { readonly id: typeof DomainEventId.AGENT_LIFECYCLE; readonly state: number; readonly reason: number }
  | {
      readonly id: typeof DomainEventId.IO_ERROR_REASON;
      readonly srcPath: string;
      readonly devAlias: string;
      /** `DomainEventIOErrorAction` */
      readonly action: number;
      readonly reason: string;
    }
  /** A job (save, migration) finished; `params` are its statistics as virDomainGetJobStats'. */
  | { readonly id: typeof DomainEventId.JOB_COMPLETED; readonly params: readonly TypedParameter[] }
  /** A removable medium's tray moved (`reason`: 0 opened, 1 closed). */
  | { readonly id: typeof DomainEventId.TRAY_CHANGE; readonly devAlias: string; readonly reason: number }
  /** The guest refused to release a device asked to unplug. */
  | { readonly id: typeof DomainEventId.DEVICE_REMOVAL_FAILED; readonly devAlias: string }
  /** The description, title or a `<metadata>` element changed (`type`: `DomainMetadataType`). */
  | {
      readonly id: typeof DomainEventId.METADATA_CHANGE;
      readonly type: number;
      readonly nsuri: string | null;
    }
  /**
   * A block job changed (`DomainBlockJobType`, `DomainBlockJobStatus`): BLOCK_JOB names the disk
   * by its source path, BLOCK_JOB_2 by its target (`vda`).
   */
  | {
      readonly id: typeof DomainEventId.BLOCK_JOB | typeof DomainEventId.BLOCK_JOB_2;
      readonly disk: string;
      readonly type: number;
      readonly status: number;
    }
  /** An outgoing migration began memory pass `iteration` (QEMU's MIGRATION_PASS; 2 = the first pass is done). */
  | { readonly id: typeof DomainEventId.MIGRATION_ITERATION; readonly iteration: number };

/** Called with a fresh handle of the domain the event is about. Exceptions are swallowed. */
export type DomainEventCallback = (dom: DomainRef, event: DomainEvent) => void;

// ---------------------------------------------------------------------------------------------
// The driver table
// ---------------------------------------------------------------------------------------------

/**
 * One open connection of a driver (libvirt: `virConnectPtr` + `conn->driver` +
 * `conn->privateData`). Methods are named after libvirt's driver table entries and take the
 * same arguments, with a `DomainRef` where libvirt passes a `virDomainPtr`.
 *
 * Contract for implementations:
 * - Errors are `VirtError`s with libvirt's numbers (the catalogue entry gives libvirt's exact
 *   message form). Bad input changes nothing.
 * - Unsupported flag bits are refused with `UNSUPPORTED_FLAGS` naming the driver function, as
 *   libvirt's `virCheckFlags` does.
 * - Domain lookups by handle use the UUID; a missing domain is `NO_DOMAIN`.
 * - Events are queued and delivered asynchronously, after the call that caused them returned.
 */
export interface HypervisorDriver {
  /** Driver name as libvirt reports it in messages (`TEST`, `QEMU`, `remote`). */
  readonly name: string;

  connectClose(): Promise<void>;
  connectGetType?(): Promise<string>;
  /** Hypervisor version, `major * 1_000_000 + minor * 1000 + release`. */
  connectGetVersion?(): Promise<number>;
  /** Library version of the side that serves the connection (daemon for remote). */
  connectGetLibVersion?(): Promise<number>;
  connectGetHostname?(): Promise<string>;
  /** The canonical URI. */
  connectGetURI?(): Promise<string>;
  connectGetCapabilities?(): Promise<string>;
  connectGetDomainCapabilities?(query: DomainCapabilitiesQuery, flags: number): Promise<string>;
  connectGetSysinfo?(flags: number): Promise<string>;
  connectGetMaxVcpus?(type: string | null): Promise<number>;
  /** virConnectGetCPUModelNames: the CPU models known for `arch` (empty: any model is accepted). */
  connectGetCPUModelNames?(arch: string, flags: number): Promise<string[]>;
  /** virConnectBaselineCPU */
  connectBaselineCPU?(xmlCPUs: readonly string[], flags: number): Promise<string>;
  /** virConnectCompareCPU: 0 incompatible, 1 identical, 2 host is a superset. */
  connectCompareCPU?(xml: string, flags: number): Promise<number>;
  /** virConnectBaselineHypervisorCPU */
  connectBaselineHypervisorCPU?(
    query: HypervisorCpuQuery,
    xmlCPUs: readonly string[],
    flags: number,
  ): Promise<string>;
  /** virConnectCompareHypervisorCPU: 0 incompatible, 1 identical, 2 hypervisor's is a superset. */
  connectCompareHypervisorCPU?(query: HypervisorCpuQuery, xml: string, flags: number): Promise<number>;
  connectIsAlive?(): Promise<boolean>;
  /** virConnectSupportsFeature with a `DrvFeature` number. */
  connectSupportsFeature?(feature: number): Promise<boolean>;
  connectIsSecure?(): Promise<boolean>;
  connectIsEncrypted?(): Promise<boolean>;
  nodeGetInfo?(): Promise<NodeInfo>;
  nodeGetSecurityModel?(): Promise<SecurityModel>;
  nodeGetFreeMemory?(): Promise<bigint>;
  /**
   * virNodeGetFreePages: free pages of each size (KiB) on `cellCount` NUMA cells from
   * `startCell`, cell by cell (`counts[cell * pages.length + i]`).
   */
  nodeGetFreePages?(
    pages: readonly number[],
    startCell: number,
    cellCount: number,
    flags: number,
  ): Promise<bigint[]>;
  /**
   * virNodeAllocPages: sets (or with `NodeAllocPagesFlags.ADD` grows) the pool of each huge page
   * size on `cellCount` cells from `startCell` (-1: the host-wide pool); returns the cells done.
   */
  nodeAllocPages?(
    pageSizes: readonly number[],
    pageCounts: readonly bigint[],
    startCell: number,
    cellCount: number,
    flags: number,
  ): Promise<number>;

  connectListAllDomains?(flags: number): Promise<DomainRef[]>;
  connectNumOfDomains?(): Promise<number>;
  connectListDomains?(maxids: number): Promise<number[]>;
  connectNumOfDefinedDomains?(): Promise<number>;
  connectListDefinedDomains?(maxnames: number): Promise<string[]>;

  domainLookupByID?(id: number): Promise<DomainRef>;
  domainLookupByName?(name: string): Promise<DomainRef>;
  domainLookupByUUID?(uuid: string): Promise<DomainRef>;

  domainDefineXML?(xml: string): Promise<DomainRef>;
  domainDefineXMLFlags?(xml: string, flags: number): Promise<DomainRef>;
  domainUndefine?(dom: DomainRef): Promise<void>;
  domainUndefineFlags?(dom: DomainRef, flags: number): Promise<void>;
  domainCreateXML?(xml: string, flags: number): Promise<DomainRef>;
  domainCreate?(dom: DomainRef): Promise<void>;
  domainCreateWithFlags?(dom: DomainRef, flags: number): Promise<void>;
  domainShutdown?(dom: DomainRef): Promise<void>;
  domainShutdownFlags?(dom: DomainRef, flags: number): Promise<void>;
  domainReboot?(dom: DomainRef, flags: number): Promise<void>;
  domainReset?(dom: DomainRef, flags: number): Promise<void>;
  domainDestroy?(dom: DomainRef): Promise<void>;
  domainDestroyFlags?(dom: DomainRef, flags: number): Promise<void>;
  domainSuspend?(dom: DomainRef): Promise<void>;
  domainResume?(dom: DomainRef): Promise<void>;
  // migration, protocol version 3 with typed parameters (`MigrateFlags`, `MigrateParam`);
  // cookies are opaque bytes passed between the two sides' drivers
  domainMigrateBegin3Params?(
    dom: DomainRef,
    params: TypedParameter[],
    flags: number,
  ): Promise<{ cookieOut: Uint8Array; xml: string }>;
  domainMigratePrepare3Params?(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
  ): Promise<{ cookieOut: Uint8Array; uriOut: string | null }>;
  domainMigratePerform3Params?(
    dom: DomainRef,
    dconnuri: string | null,
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
  ): Promise<{ cookieOut: Uint8Array }>;
  domainMigrateFinish3Params?(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
    cancelled: boolean,
  ): Promise<{ dom: DomainRef; cookieOut: Uint8Array }>;
  domainMigrateConfirm3Params?(
    dom: DomainRef,
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
    cancelled: boolean,
  ): Promise<void>;
  domainMigrateStartPostCopy?(dom: DomainRef, flags: number): Promise<void>;
  domainSave?(dom: DomainRef, path: string): Promise<void>;
  domainSaveFlags?(dom: DomainRef, path: string, dxml: string | null, flags: number): Promise<void>;
  domainRestore?(path: string): Promise<void>;
  domainRestoreFlags?(path: string, dxml: string | null, flags: number): Promise<void>;
  domainSaveImageGetXMLDesc?(path: string, flags: number): Promise<string>;
  domainSaveImageDefineXML?(path: string, dxml: string, flags: number): Promise<void>;
  domainManagedSave?(dom: DomainRef, flags: number): Promise<void>;
  domainHasManagedSaveImage?(dom: DomainRef, flags: number): Promise<boolean>;
  domainManagedSaveRemove?(dom: DomainRef, flags: number): Promise<void>;
  domainGetAutostart?(dom: DomainRef): Promise<boolean>;
  domainSetAutostart?(dom: DomainRef, autostart: boolean): Promise<void>;
  domainGetXMLDesc?(dom: DomainRef, flags: number): Promise<string>;
  domainGetInfo?(dom: DomainRef): Promise<DomainInfo>;
  domainGetState?(dom: DomainRef, flags: number): Promise<DomainStateInfo>;
  domainGetOSType?(dom: DomainRef): Promise<string>;
  domainGetMaxMemory?(dom: DomainRef): Promise<number>;
  domainGetSecurityLabel?(dom: DomainRef): Promise<SecurityLabel>;
  domainIsActive?(dom: DomainRef): Promise<boolean>;
  domainIsPersistent?(dom: DomainRef): Promise<boolean>;
  domainIsUpdated?(dom: DomainRef): Promise<boolean>;
  /** Not in the test driver; the QEMU driver returns the shell-quoted command line. */
  connectDomainXMLToNative?(format: string, xml: string, flags: number): Promise<string>;
  /** Attaches a stream to a character device; `null` devname = first console. */
  domainOpenConsole?(dom: DomainRef, devname: string | null, flags: number): Promise<ConsoleStream>;

  // device hotplug: `DomainDeviceModifyFlags`; the flag-less forms are AFFECT_LIVE
  domainAttachDevice?(dom: DomainRef, xml: string): Promise<void>;
  domainAttachDeviceFlags?(dom: DomainRef, xml: string, flags: number): Promise<void>;
  domainDetachDevice?(dom: DomainRef, xml: string): Promise<void>;
  domainDetachDeviceFlags?(dom: DomainRef, xml: string, flags: number): Promise<void>;
  domainUpdateDeviceFlags?(dom: DomainRef, xml: string, flags: number): Promise<void>;

  /** Returns the callback id (>= 0). `dom` null = all domains. */
  connectDomainEventRegisterAny?(
    dom: DomainRef | null,
    eventID: number,
    callback: DomainEventCallback,
  ): Promise<number>;
  connectDomainEventDeregisterAny?(callbackID: number): Promise<void>;

  // --- node devices (libvirt's virNodeDeviceDriver; a device handle is its name) -------------
  /** Names of the devices matching `ConnectListNodeDevicesFlags` capability bits (all if none). */
  connectListAllNodeDevices?(flags: number): Promise<string[]>;
  nodeDeviceLookupByName?(name: string): Promise<string>;
  nodeDeviceGetXMLDesc?(name: string, flags: number): Promise<string>;
  /** The parent's name; null for the root (`computer`). */
  nodeDeviceGetParent?(name: string): Promise<string | null>;
  nodeDeviceNumOfCaps?(name: string): Promise<number>;
  nodeDeviceListCaps?(name: string): Promise<string[]>;
  nodeDeviceDettach?(name: string): Promise<void>;
  nodeDeviceDetachFlags?(name: string, driverName: string | null, flags: number): Promise<void>;
  nodeDeviceReAttach?(name: string): Promise<void>;
  nodeDeviceReset?(name: string): Promise<void>;
  // --- tuning and statistics (setmem, setvcpus, dommemstat, domblkstat, domifstat, domstats,
  // qemu-monitor-event); sizes in KiB -------------------------------------------------------
  domainSetMemory?(dom: DomainRef, memory: number): Promise<void>;
  domainSetMaxMemory?(dom: DomainRef, memory: number): Promise<void>;
  domainSetMemoryFlags?(dom: DomainRef, memory: number, flags: number): Promise<void>;
  domainSetVcpus?(dom: DomainRef, nvcpus: number): Promise<void>;
  domainSetVcpusFlags?(dom: DomainRef, nvcpus: number, flags: number): Promise<void>;
  domainGetVcpusFlags?(dom: DomainRef, flags: number): Promise<number>;
  domainGetMaxVcpus?(dom: DomainRef): Promise<number>;
  /** `path` "" = all disks summed. */
  domainBlockStats?(dom: DomainRef, path: string): Promise<BlockStats>;
  domainBlockStatsFlags?(dom: DomainRef, path: string, flags: number): Promise<TypedParameter[]>;
  domainInterfaceStats?(dom: DomainRef, device: string): Promise<InterfaceStats>;
  domainMemoryStats?(dom: DomainRef, nrStats: number, flags: number): Promise<MemoryStat[]>;
  domainSetMemoryStatsPeriod?(dom: DomainRef, period: number, flags: number): Promise<void>;
  // --- cgroup tuning (memtune, schedinfo, blkiotune, vcpupin, emulatorpin) -----------------
  domainGetMemoryParameters?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  domainSetMemoryParameters?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void>;
  /** `virDomainGetSchedulerType`: the scheduler's name and how many parameters it has. */
  domainGetSchedulerType?(dom: DomainRef): Promise<{ type: string; nparams: number }>;
  /** `virDomainGetSchedulerParameters` (no flags; drivers without it get the flags call with 0). */
  domainGetSchedulerParameters?(dom: DomainRef): Promise<TypedParameter[]>;
  domainSetSchedulerParameters?(dom: DomainRef, params: TypedParameter[]): Promise<void>;
  domainGetSchedulerParametersFlags?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  domainSetSchedulerParametersFlags?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void>;
  domainGetBlkioParameters?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  domainSetBlkioParameters?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void>;
  /** `cpumap`: one bit per host CPU, CPU 0 in the lowest bit of byte 0. */
  domainPinVcpuFlags?(dom: DomainRef, vcpu: number, cpumap: Uint8Array, flags: number): Promise<void>;
  domainPinEmulator?(dom: DomainRef, cpumap: Uint8Array, flags: number): Promise<void>;
  /** `ncpumaps` maps of `maplen` bytes back to back; `num` = how many vCPUs were filled. */
  domainGetVcpuPinInfo?(
    dom: DomainRef,
    ncpumaps: number,
    maplen: number,
    flags: number,
  ): Promise<{ num: number; cpumaps: Uint8Array }>;
  domainGetEmulatorPinInfo?(
    dom: DomainRef,
    maplen: number,
    flags: number,
  ): Promise<{ ret: number; cpumap: Uint8Array }>;
  /** `doms` empty = every domain the list flags select. */
  connectGetAllDomainStats?(doms: DomainRef[], stats: number, flags: number): Promise<DomainStatsRecord[]>;
  /** libvirt-qemu's monitor events; `event` null = all events. Returns the callback id. */
  connectDomainQemuMonitorEventRegister?(
    dom: DomainRef | null,
    event: string | null,
    callback: QemuMonitorEventCallback,
    flags: number,
  ): Promise<number>;
  connectDomainQemuMonitorEventDeregister?(callbackID: number): Promise<void>;
  /** virDomainGetMessages: taint (`DomainMessageType.TAINTING`) and deprecation messages. */
  domainGetMessages?(dom: DomainRef, flags: number): Promise<string[]>;

  // --- jobs and migration tuning (issue 15: domjobinfo, domjobabort, migrate-set*) -----------
  /** virDomainGetJobInfo */
  domainGetJobInfo?(dom: DomainRef): Promise<DomainJobInfo>;
  /** virDomainGetJobStats: the job type (`DomainJobType`) and its statistics. */
  domainGetJobStats?(dom: DomainRef, flags: number): Promise<{ type: number; params: TypedParameter[] }>;
  domainAbortJob?(dom: DomainRef): Promise<void>;
  domainAbortJobFlags?(dom: DomainRef, flags: number): Promise<void>;
  /** ms */
  domainMigrateSetMaxDowntime?(dom: DomainRef, downtime: bigint, flags: number): Promise<void>;
  domainMigrateGetMaxDowntime?(dom: DomainRef, flags: number): Promise<bigint>;
  /** MiB/s */
  domainMigrateSetMaxSpeed?(dom: DomainRef, bandwidth: bigint, flags: number): Promise<void>;
  domainMigrateGetMaxSpeed?(dom: DomainRef, flags: number): Promise<bigint>;
  /** bytes */
  domainMigrateSetCompressionCache?(dom: DomainRef, cacheSize: bigint, flags: number): Promise<void>;
  domainMigrateGetCompressionCache?(dom: DomainRef, flags: number): Promise<bigint>;
  // --- host CPU, vCPU threads, metadata, NMI, guest time, addresses, node device lifecycle
  // (issue 20) -------------------------------------------------------------------------------
  /** virNodeGetCPUMap: CPUs present and the online ones. */
  nodeGetCPUMap?(flags: number): Promise<{ cpus: number; online: number[] }>;
  /** virNodeGetCPUStats: ns counters of all CPUs (`cpuNum` -1) or one. */
  nodeGetCPUStats?(cpuNum: number, flags: number): Promise<{ field: string; value: bigint }[]>;
  /** virDomainGetVcpus: per vCPU state (`VcpuState`), CPU time (ns), CPU, and affinity. */
  domainGetVcpus?(dom: DomainRef): Promise<{ info: VcpuInfo[]; affinity: number[][]; hostCpus: number }>;
  /** virDomainSetMetadata: `type` DomainMetadataType; `metadata` null removes. */
  domainSetMetadata?(
    dom: DomainRef,
    type: number,
    metadata: string | null,
    key: string | null,
    uri: string | null,
    flags: number,
  ): Promise<void>;
  domainGetMetadata?(dom: DomainRef, type: number, uri: string | null, flags: number): Promise<string>;
  domainInjectNMI?(dom: DomainRef, flags: number): Promise<void>;
  domainGetTime?(dom: DomainRef, flags: number): Promise<{ seconds: bigint; nseconds: number }>;
  domainSetTime?(dom: DomainRef, seconds: bigint, nseconds: number, flags: number): Promise<void>;
  /** virDomainInterfaceAddresses: `source` DomainInterfaceAddressesSource. */
  domainInterfaceAddresses?(
    dom: DomainRef,
    source: number,
    flags: number,
    leases?: LeaseLookup,
  ): Promise<DomainInterfaceAddrs[]>;
  // --- the guest agent (libvirt's agent-backed calls) ---
  /** virDomainFSFreeze / virDomainFSThaw: the number of filesystems frozen / thawed. */
  domainFSFreeze?(dom: DomainRef, mountpoints: readonly string[], flags: number): Promise<number>;
  domainFSThaw?(dom: DomainRef, mountpoints: readonly string[], flags: number): Promise<number>;
  /** virDomainGetFSInfo: the guest's mounted filesystems, disks by target name. */
  domainGetFSInfo?(dom: DomainRef, flags: number): Promise<GuestFSInfo[]>;
  /** virDomainGetGuestInfo: `types` virDomainGuestInfoTypes bits (0 = all). */
  domainGetGuestInfo?(dom: DomainRef, types: number, flags: number): Promise<TypedParameter[]>;
  domainSetUserPassword?(dom: DomainRef, user: string, password: string, flags: number): Promise<void>;
  domainGetGuestVcpus?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  domainSetGuestVcpus?(dom: DomainRef, cpumap: string, state: number, flags: number): Promise<void>;
  domainAgentSetResponseTimeout?(dom: DomainRef, timeout: number, flags: number): Promise<void>;
  /** virDomainQemuAgentCommand (libvirt-qemu): the agent's whole reply as JSON text. */
  domainQemuAgentCommand?(dom: DomainRef, cmd: string, timeout: number, flags: number): Promise<string>;
  nodeDeviceIsActive?(name: string): Promise<boolean>;
  nodeDeviceIsPersistent?(name: string): Promise<boolean>;
  nodeDeviceGetAutostart?(name: string): Promise<boolean>;
  nodeDeviceSetAutostart?(name: string, autostart: boolean): Promise<void>;
  nodeDeviceCreateXML?(xml: string, flags: number): Promise<string>;
  nodeDeviceDefineXML?(xml: string, flags: number): Promise<string>;
  nodeDeviceCreate?(name: string, flags: number): Promise<void>;

  // --- graphical consoles (issue 19) ---------------------------------------------------------
  /**
   * virDomainOpenGraphics: descriptor `fd` (a connected socket of this process; the caller keeps
   * its copy) becomes a client of graphics device `idx` (`DomainOpenGraphicsFlags`).
   */
  domainOpenGraphics?(dom: DomainRef, idx: number, fd: number, flags: number): Promise<void>;
  /**
   * virDomainOpenGraphicsFD: a new connection to graphics device `idx`, as a socket that has not
   * read anything yet (the display's greeting waits in it).
   */
  domainOpenGraphicsFd?(dom: DomainRef, idx: number, flags: number): Promise<Socket>;
  /** virDomainScreenshot: the image of screen `screen` (its MIME type) as a download stream. */
  domainScreenshot?(dom: DomainRef, screen: number, flags: number): Promise<Screenshot>;
  /** virDomainSendKey: presses `keycodes` of `codeset` (`KeycodeSet`) for `holdtime` ms. */
  domainSendKey?(
    dom: DomainRef,
    codeset: number,
    holdtime: number,
    keycodes: readonly number[],
    flags: number,
  ): Promise<void>;

  // --- block jobs (issue 20): `disk` is a target (`vda`) or a source path, as in libvirt -----
  /** virDomainGetBlockJobInfo: null when the disk has no job. */
  domainGetBlockJobInfo?(dom: DomainRef, disk: string, flags: number): Promise<BlockJobInfo | null>;
  /** virDomainBlockJobAbort (`DomainBlockJobAbortFlags`) */
  domainBlockJobAbort?(dom: DomainRef, disk: string, flags: number): Promise<void>;
  /** virDomainBlockJobSetSpeed: MiB/s, or bytes/s with BANDWIDTH_BYTES. */
  domainBlockJobSetSpeed?(dom: DomainRef, disk: string, bandwidth: bigint, flags: number): Promise<void>;
  /** virDomainBlockPull (`DomainBlockPullFlags`) */
  domainBlockPull?(dom: DomainRef, disk: string, bandwidth: bigint, flags: number): Promise<void>;
  /** virDomainBlockRebase (`DomainBlockRebaseFlags`): a pull to `base`, or with COPY a copy to it. */
  domainBlockRebase?(
    dom: DomainRef,
    disk: string,
    base: string | null,
    bandwidth: bigint,
    flags: number,
  ): Promise<void>;
  /** virDomainBlockCopy: `destxml` a `<disk>`; params bandwidth/granularity/buf-size. */
  domainBlockCopy?(
    dom: DomainRef,
    disk: string,
    destxml: string,
    params: TypedParameter[],
    flags: number,
  ): Promise<void>;
  /** virDomainBlockCommit (`DomainBlockCommitFlags`) */
  domainBlockCommit?(
    dom: DomainRef,
    disk: string,
    base: string | null,
    top: string | null,
    bandwidth: bigint,
    flags: number,
  ): Promise<void>;
  /** virDomainBlockResize: KiB, or bytes with `DomainBlockResizeFlags.BYTES`. */
  domainBlockResize?(dom: DomainRef, disk: string, size: bigint, flags: number): Promise<void>;

  // --- snapshots (issue 20): a snapshot handle is its name within the domain -----------------
  /** virDomainSnapshotCreateXML (`DomainSnapshotCreateFlags`); returns the new snapshot's name. */
  domainSnapshotCreateXML?(dom: DomainRef, xml: string, flags: number): Promise<string>;
  /** virDomainListAllSnapshots (`DomainSnapshotListFlags`, ROOTS meaning roots only). */
  domainListAllSnapshots?(dom: DomainRef, flags: number): Promise<string[]>;
  /** virDomainSnapshotListAllChildren (DESCENDANTS: all below, not only children). */
  domainSnapshotListAllChildren?(dom: DomainRef, snap: string, flags: number): Promise<string[]>;
  domainSnapshotLookupByName?(dom: DomainRef, name: string, flags: number): Promise<string>;
  domainHasCurrentSnapshot?(dom: DomainRef, flags: number): Promise<boolean>;
  domainSnapshotCurrent?(dom: DomainRef, flags: number): Promise<string>;
  domainSnapshotGetParent?(dom: DomainRef, snap: string, flags: number): Promise<string>;
  /** `DomainXMLFlags.SECURE` honoured for the saved domain. */
  domainSnapshotGetXMLDesc?(dom: DomainRef, snap: string, flags: number): Promise<string>;
  domainSnapshotIsCurrent?(dom: DomainRef, snap: string, flags: number): Promise<boolean>;
  domainSnapshotHasMetadata?(dom: DomainRef, snap: string, flags: number): Promise<boolean>;
  /** `DomainSnapshotRevertFlags` */
  domainRevertToSnapshot?(dom: DomainRef, snap: string, flags: number): Promise<void>;
  /** `DomainSnapshotDeleteFlags` */
  domainSnapshotDelete?(dom: DomainRef, snap: string, flags: number): Promise<void>;
}

/**
 * Bytes from the driver to the caller (a virStream read to its end): iterate it for the data;
 * the end of the iteration finishes the stream (virStreamFinish), `close` before the end aborts
 * it (virStreamAbort). An error of the sender rejects the iteration.
 */
export interface DownloadStream extends AsyncIterable<Uint8Array> {
  close(): Promise<void>;
}

/** What virDomainScreenshot gives: the MIME type and the image's bytes. */
export interface Screenshot {
  readonly mime: string;
  readonly stream: DownloadStream;
}

/** A download stream over bytes the driver already holds, in chunks of `chunk` bytes. */
export function bufferStream(data: Uint8Array, chunk = 256 * 1024): DownloadStream {
  let closed = false;
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < data.length && !closed; off += chunk) {
        yield data.subarray(off, off + chunk);
        await Promise.resolve();
      }
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}

/** A bidirectional byte stream to a guest character device (console). */
export interface ConsoleStream {
  write(data: Uint8Array): void;
  onData(listener: (data: Uint8Array) => void): void;
  onEnd(listener: () => void): void;
  close(): Promise<void>;
}

/** How a driver is found and opened (libvirt: `virConnectDriver` with `uriSchemes`). */
export interface ConnectDriver {
  /** Name for diagnostics. */
  readonly name: string;
  /** URI schemes (driver part, before any `+transport`) this driver serves. */
  readonly uriSchemes: readonly string[];
  /** True when the driver only serves local URIs (no server, no transport). */
  readonly localOnly: boolean;
  /** Opens a connection; throws a VirtError if the URI is not valid for the driver. */
  open(uri: ConnectURI, flags: number): Promise<HypervisorDriver>;
}

/** virDomainBlockJobInfo: `type` DomainBlockJobType; bandwidth in the unit the flags asked for. */
export interface BlockJobInfo {
  type: number;
  bandwidth: bigint;
  cur: bigint;
  end: bigint;
}

/** virVcpuInfo: `state` 0 offline, 1 running, 2 blocked; `cpuTime` ns; `cpu` -1 when offline. */
export interface VcpuInfo {
  number: number;
  state: number;
  cpuTime: bigint;
  cpu: number;
}

/** virDomainInterface: a guest interface's name, MAC and addresses (`type` 0 ipv4, 1 ipv6). */
export interface DomainInterfaceAddrs {
  name: string;
  hwaddr: string | null;
  addrs: { type: number; addr: string; prefix: number }[];
}

/**
 * The DHCP leases of a MAC address on a network, as the connection's network driver has them
 * (libvirt's lease source asks the network through the public API, so the API layer passes
 * this in): `undefined` when the network does not exist or is not active.
 */
export type LeaseLookup = (
  network: string,
  mac: string,
) => Promise<{ type: number; ipaddr: string; prefix: number }[] | undefined>;
