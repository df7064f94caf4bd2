/**
 * The hypervisor driver interface and the types and numbers shared by every layer above the
 * drivers: libvirt's `virHypervisorDriver` table (`src/driver-hypervisor.h`) as a TypeScript
 * interface, libvirt's enum and flag values (`include/libvirt/libvirt-domain.h`, 9.0.0), and the
 * handle a caller holds for a domain.
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
import {
  VirtError,
  type ErrorCode,
  type ErrorDetails,
  type ErrorValues,
  VirErrorNumber,
} from "../util/errors/index.ts";

// ---------------------------------------------------------------------------------------------
// Handles and records
// ---------------------------------------------------------------------------------------------

/**
 * What a caller holds for a domain: libvirt's `virDomainPtr` (connection + name + UUID + id).
 * `id` is -1 while the domain is inactive. Drivers update `id` on the handle they are given when
 * a call starts or stops the domain (libvirt does the same: `domain->id = ...`).
 */
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

// ---------------------------------------------------------------------------------------------
// libvirt's numbers (include/libvirt/libvirt-domain.h and libvirt-host.h, 9.0.0)
// ---------------------------------------------------------------------------------------------

/** `virConnectFlags` */
export const ConnectFlags = { RO: 1, NO_ALIASES: 2 } as const;

/** `virDrvFeature` (libvirt's internal `driver.h`), asked with `connectSupportsFeature`. */
export const DrvFeature = {
  MIGRATION_V1: 1,
  REMOTE: 2,
  MIGRATION_V2: 3,
  MIGRATION_P2P: 4,
  MIGRATION_DIRECT: 5,
  MIGRATION_V3: 6,
  MIGRATE_CHANGE_PROTECTION: 7,
  FD_PASSING: 8,
  TYPED_PARAM_STRING: 9,
  PROGRAM_KEEPALIVE: 10,
  XML_MIGRATABLE: 11,
  MIGRATION_OFFLINE: 12,
  MIGRATION_PARAMS: 13,
  REMOTE_EVENT_CALLBACK: 14,
  REMOTE_CLOSE_CALLBACK: 15,
  NETWORK_UPDATE_HAS_CORRECT_ORDER: 16,
} as const;

/** libvirt's names of the `virDomainState` values (lowercase), by number. */
export const domainStateIds = [
  "nostate",
  "running",
  "blocked",
  "paused",
  "shutdown",
  "shutoff",
  "crashed",
  "pmsuspended",
] as const;

/** `virDomainState` */
export const DomainState = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;
export type DomainState = (typeof DomainState)[keyof typeof DomainState];

export const DomainNostateReason = { UNKNOWN: 0 } as const;
export const DomainRunningReason = {
  UNKNOWN: 0,
  BOOTED: 1,
  MIGRATED: 2,
  RESTORED: 3,
  FROM_SNAPSHOT: 4,
  UNPAUSED: 5,
  MIGRATION_CANCELED: 6,
  SAVE_CANCELED: 7,
  WAKEUP: 8,
  CRASHED: 9,
  POSTCOPY: 10,
  POSTCOPY_FAILED: 11,
} as const;
export const DomainBlockedReason = { UNKNOWN: 0 } as const;
export const DomainPausedReason = {
  UNKNOWN: 0,
  USER: 1,
  MIGRATION: 2,
  SAVE: 3,
  DUMP: 4,
  IOERROR: 5,
  WATCHDOG: 6,
  FROM_SNAPSHOT: 7,
  SHUTTING_DOWN: 8,
  SNAPSHOT: 9,
  CRASHED: 10,
  STARTING_UP: 11,
  POSTCOPY: 12,
  POSTCOPY_FAILED: 13,
} as const;
export const DomainShutdownReason = { UNKNOWN: 0, USER: 1 } as const;
export const DomainShutoffReason = {
  UNKNOWN: 0,
  SHUTDOWN: 1,
  DESTROYED: 2,
  CRASHED: 3,
  MIGRATED: 4,
  SAVED: 5,
  FAILED: 6,
  FROM_SNAPSHOT: 7,
  DAEMON: 8,
} as const;
export const DomainCrashedReason = { UNKNOWN: 0, PANICKED: 1 } as const;
export const DomainPMSuspendedReason = { UNKNOWN: 0 } as const;

/** `virConnectListAllDomainsFlags` */
export const ConnectListDomainsFlags = {
  ACTIVE: 1 << 0,
  INACTIVE: 1 << 1,
  PERSISTENT: 1 << 2,
  TRANSIENT: 1 << 3,
  RUNNING: 1 << 4,
  PAUSED: 1 << 5,
  SHUTOFF: 1 << 6,
  OTHER: 1 << 7,
  MANAGEDSAVE: 1 << 8,
  NO_MANAGEDSAVE: 1 << 9,
  AUTOSTART: 1 << 10,
  NO_AUTOSTART: 1 << 11,
  HAS_SNAPSHOT: 1 << 12,
  NO_SNAPSHOT: 1 << 13,
  HAS_CHECKPOINT: 1 << 14,
  NO_CHECKPOINT: 1 << 15,
} as const;

/** Groups of `ConnectListDomainsFlags` (libvirt's `VIR_CONNECT_LIST_DOMAINS_FILTERS_*`). */
export const ConnectListDomainsFilters = {
  ACTIVE: ConnectListDomainsFlags.ACTIVE | ConnectListDomainsFlags.INACTIVE,
  PERSISTENT: ConnectListDomainsFlags.PERSISTENT | ConnectListDomainsFlags.TRANSIENT,
  STATE:
    ConnectListDomainsFlags.RUNNING |
    ConnectListDomainsFlags.PAUSED |
    ConnectListDomainsFlags.SHUTOFF |
    ConnectListDomainsFlags.OTHER,
  MANAGEDSAVE: ConnectListDomainsFlags.MANAGEDSAVE | ConnectListDomainsFlags.NO_MANAGEDSAVE,
  AUTOSTART: ConnectListDomainsFlags.AUTOSTART | ConnectListDomainsFlags.NO_AUTOSTART,
  SNAPSHOT: ConnectListDomainsFlags.HAS_SNAPSHOT | ConnectListDomainsFlags.NO_SNAPSHOT,
  CHECKPOINT: ConnectListDomainsFlags.HAS_CHECKPOINT | ConnectListDomainsFlags.NO_CHECKPOINT,
  ALL: 0xffff,
} as const;

/** `virDomainDefineFlags` */
export const DomainDefineFlags = { VALIDATE: 1 } as const;

/** `virDomainUndefineFlagsValues` */
export const DomainUndefineFlags = {
  MANAGED_SAVE: 1 << 0,
  SNAPSHOTS_METADATA: 1 << 1,
  NVRAM: 1 << 2,
  KEEP_NVRAM: 1 << 3,
  CHECKPOINTS_METADATA: 1 << 4,
  TPM: 1 << 5,
  KEEP_TPM: 1 << 6,
} as const;

/** `virDomainCreateFlags` (start/create). */
export const DomainCreateFlags = {
  NONE: 0,
  START_PAUSED: 1 << 0,
  START_AUTODESTROY: 1 << 1,
  START_BYPASS_CACHE: 1 << 2,
  START_FORCE_BOOT: 1 << 3,
  START_VALIDATE: 1 << 4,
  START_RESET_NVRAM: 1 << 5,
} as const;

/** `virDomainShutdownFlagValues` */
export const DomainShutdownFlags = {
  DEFAULT: 0,
  ACPI_POWER_BTN: 1 << 0,
  GUEST_AGENT: 1 << 1,
  INITCTL: 1 << 2,
  SIGNAL: 1 << 3,
  PARAVIRT: 1 << 4,
} as const;

/** `virDomainRebootFlagValues` (same values as shutdown). */
export const DomainRebootFlags = DomainShutdownFlags;

/** `virDomainDestroyFlagsValues` */
export const DomainDestroyFlags = { DEFAULT: 0, GRACEFUL: 1 << 0, REMOVE_LOGS: 1 << 1 } as const;

/** `virDomainSaveRestoreFlags` (save, restore, managed save). */
export const DomainSaveRestoreFlags = {
  BYPASS_CACHE: 1 << 0,
  RUNNING: 1 << 1,
  PAUSED: 1 << 2,
  RESET_NVRAM: 1 << 3,
} as const;

/** `virDomainXMLFlags` */
export const DomainXMLFlags = {
  SECURE: 1 << 0,
  INACTIVE: 1 << 1,
  UPDATE_CPU: 1 << 2,
  MIGRATABLE: 1 << 3,
} as const;

// --- device hotplug ---------------------------------------------------------------------------

/** `virDomainDeviceModifyFlags` (attach/detach/update device; AFFECT_* are `virDomainModificationImpact`). */
export const DomainDeviceModifyFlags = {
  CURRENT: 0,
  LIVE: 1 << 0,
  CONFIG: 1 << 1,
  FORCE: 1 << 2,
} as const;

/** `virDomainEventType` */
export const DomainEventType = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  SUSPENDED: 3,
  RESUMED: 4,
  STOPPED: 5,
  SHUTDOWN: 6,
  PMSUSPENDED: 7,
  CRASHED: 8,
} as const;
export type DomainEventType = (typeof DomainEventType)[keyof typeof DomainEventType];

export const DomainEventDefinedDetail = { ADDED: 0, UPDATED: 1, RENAMED: 2, FROM_SNAPSHOT: 3 } as const;
export const DomainEventUndefinedDetail = { REMOVED: 0, RENAMED: 1 } as const;
export const DomainEventStartedDetail = {
  BOOTED: 0,
  MIGRATED: 1,
  RESTORED: 2,
  FROM_SNAPSHOT: 3,
  WAKEUP: 4,
} as const;
export const DomainEventSuspendedDetail = {
  PAUSED: 0,
  MIGRATED: 1,
  IOERROR: 2,
  WATCHDOG: 3,
  RESTORED: 4,
  FROM_SNAPSHOT: 5,
  API_ERROR: 6,
  POSTCOPY: 7,
  POSTCOPY_FAILED: 8,
} as const;
export const DomainEventResumedDetail = {
  UNPAUSED: 0,
  MIGRATED: 1,
  FROM_SNAPSHOT: 2,
  POSTCOPY: 3,
  POSTCOPY_FAILED: 4,
} as const;
export const DomainEventStoppedDetail = {
  SHUTDOWN: 0,
  DESTROYED: 1,
  CRASHED: 2,
  MIGRATED: 3,
  SAVED: 4,
  FAILED: 5,
  FROM_SNAPSHOT: 6,
} as const;
export const DomainEventShutdownDetail = { FINISHED: 0, GUEST: 1, HOST: 2 } as const;
export const DomainEventPMSuspendedDetail = { MEMORY: 0, DISK: 1 } as const;
export const DomainEventCrashedDetail = { PANICKED: 0, CRASHLOADED: 1 } as const;

/** `virDomainEventID`, in libvirt's order (the index is the number). */
export const domainEventIdNames = [
  "lifecycle",
  "reboot",
  "rtc-change",
  "watchdog",
  "io-error",
  "graphics",
  "io-error-reason",
  "control-error",
  "block-job",
  "disk-change",
  "tray-change",
  "pm-wakeup",
  "pm-suspend",
  "balloon-change",
  "pm-suspend-disk",
  "device-removed",
  "block-job-2",
  "tunable",
  "agent-lifecycle",
  "device-added",
  "migration-iteration",
  "job-completed",
  "device-removal-failed",
  "metadata-change",
  "block-threshold",
  "memory-failure",
  "memory-device-size-change",
] as const;

export const DomainEventId = {
  LIFECYCLE: 0,
  REBOOT: 1,
  RTC_CHANGE: 2,
  WATCHDOG: 3,
  IO_ERROR: 4,
  GRAPHICS: 5,
  IO_ERROR_REASON: 6,
  CONTROL_ERROR: 7,
  BLOCK_JOB: 8,
  DISK_CHANGE: 9,
  TRAY_CHANGE: 10,
  PMWAKEUP: 11,
  PMSUSPEND: 12,
  BALLOON_CHANGE: 13,
  PMSUSPEND_DISK: 14,
  DEVICE_REMOVED: 15,
  BLOCK_JOB_2: 16,
  TUNABLE: 17,
  AGENT_LIFECYCLE: 18,
  DEVICE_ADDED: 19,
  MIGRATION_ITERATION: 20,
  JOB_COMPLETED: 21,
  DEVICE_REMOVAL_FAILED: 22,
  METADATA_CHANGE: 23,
  BLOCK_THRESHOLD: 24,
  MEMORY_FAILURE: 25,
  MEMORY_DEVICE_SIZE_CHANGE: 26,
} as const;
export type DomainEventId = (typeof DomainEventId)[keyof typeof DomainEventId];

/** Node devices: `virConnectListAllNodeDeviceFlags` (capability bits by `virNodeDevCapType`, then these). */
export const ConnectListNodeDevicesFlags = {
  CAP_SYSTEM: 1 << 0,
  CAP_PCI_DEV: 1 << 1,
  CAP_USB_DEV: 1 << 2,
  CAP_USB_INTERFACE: 1 << 3,
  CAP_NET: 1 << 4,
  CAP_SCSI_HOST: 1 << 5,
  CAP_SCSI_TARGET: 1 << 6,
  CAP_SCSI: 1 << 7,
  CAP_STORAGE: 1 << 8,
  INACTIVE: 1 << 30,
  ACTIVE: 2 ** 31,
} as const;

// --- tuning and statistics (setmem, setvcpus, dommemstat, domblkstat, domifstat, domstats,
// qemu-monitor-event) ---------------------------------------------------------------------------

/** `virDomainModificationImpact` */
export const DomainModificationImpact = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;
/** `virDomainMemoryModFlags` (with the impact bits) */
export const DomainMemoryModFlags = { ...DomainModificationImpact, MAXIMUM: 4 } as const;
/** `virDomainVcpuFlags` (with the impact bits) */
export const DomainVcpuFlags = {
  ...DomainModificationImpact,
  MAXIMUM: 4,
  GUEST: 8,
  HOTPLUGGABLE: 16,
} as const;

/** `virDomainMemoryStatTags`, by number. */
export const memoryStatTagNames = [
  "swap_in",
  "swap_out",
  "major_fault",
  "minor_fault",
  "unused",
  "available",
  "actual",
  "rss",
  "usable",
  "last_update",
  "disk_caches",
  "hugetlb_pgalloc",
  "hugetlb_pgfail",
] as const;
export const DomainMemoryStatTag = {
  SWAP_IN: 0,
  SWAP_OUT: 1,
  MAJOR_FAULT: 2,
  MINOR_FAULT: 3,
  UNUSED: 4,
  AVAILABLE: 5,
  ACTUAL_BALLOON: 6,
  RSS: 7,
  USABLE: 8,
  LAST_UPDATE: 9,
  DISK_CACHES: 10,
  HUGETLB_PGALLOC: 11,
  HUGETLB_PGFAIL: 12,
  NR: 13,
} as const;

/** `virDomainStatsTypes` */
export const DomainStatsTypes = {
  STATE: 1 << 0,
  CPU_TOTAL: 1 << 1,
  BALLOON: 1 << 2,
  VCPU: 1 << 3,
  INTERFACE: 1 << 4,
  BLOCK: 1 << 5,
  PERF: 1 << 6,
  IOTHREAD: 1 << 7,
  MEMORY: 1 << 8,
  DIRTYRATE: 1 << 9,
  VM: 1 << 10,
} as const;

/** `virConnectGetAllDomainStatsFlags` (the list filters are `ConnectListDomainsFlags` bits 0-7). */
export const GetAllDomainStatsFlags = {
  ACTIVE: ConnectListDomainsFlags.ACTIVE,
  INACTIVE: ConnectListDomainsFlags.INACTIVE,
  PERSISTENT: ConnectListDomainsFlags.PERSISTENT,
  TRANSIENT: ConnectListDomainsFlags.TRANSIENT,
  RUNNING: ConnectListDomainsFlags.RUNNING,
  PAUSED: ConnectListDomainsFlags.PAUSED,
  SHUTOFF: ConnectListDomainsFlags.SHUTOFF,
  OTHER: ConnectListDomainsFlags.OTHER,
  NOWAIT: 1 << 29,
  BACKING: 1 << 30,
  ENFORCE_STATS: 2 ** 31,
} as const;

/** `virDomainMessageType` */
export const DomainMessageType = { DEPRECATION: 1, TAINTING: 2 } as const;

/** libvirt's `virDomainTaintMessage` texts, by taint flag name. */
export const taintMessages: Readonly<Record<string, string>> = {
  "custom-argv": "custom configuration parameters specified",
  "custom-monitor": "custom monitor control commands issued",
  "high-privileges": "running with undesirable elevated privileges",
  "shell-scripts": "network configuration using opaque shell scripts",
  "disk-probing": "potentially unsafe disk format probing",
  "external-launch": "managing externally launched configuration",
  "host-cpu": "potentially unsafe use of host CPU passthrough",
  "hook-script": "executing custom hook script",
  "cdrom-passthrough": "use of host cdrom passthrough",
  "custom-dtb": "use of custom device tree blob",
  "custom-ga-command": "suspended state may be invalid due to unstable custom guest agent command",
  "custom-hypervisor-feature": "hypervisor feature autodetection override",
  deprecated: "use of deprecated configuration settings",
};

/** `virConnectDomainQemuMonitorEventRegisterFlags` */
export const QemuMonitorEventRegisterFlags = { REGEX: 1, NOCASE: 2 } as const;

/** `virTypedParameterType` */
export const TypedParameterType = {
  INT: 1,
  UINT: 2,
  LLONG: 3,
  ULLONG: 4,
  DOUBLE: 5,
  BOOLEAN: 6,
  STRING: 7,
} as const;

/** One value of a `virTypedParameter`. */
export type TypedParameterValue =
  | { type: 1; value: number }
  | { type: 2; value: number }
  | { type: 3; value: bigint }
  | { type: 4; value: bigint }
  | { type: 5; value: number }
  | { type: 6; value: boolean }
  | { type: 7; value: string };

/** `virTypedParameter`: a named, typed value (domstats, block stats). */
export interface TypedParameter {
  field: string;
  value: TypedParameterValue;
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
  | { readonly id: typeof DomainEventId.DEVICE_ADDED; readonly devAlias: string };

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
 * - Errors are `VirtError`s with libvirt's numbers (use `libvirtError` for libvirt's exact
 *   message forms). Bad input changes nothing.
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
  connectIsAlive?(): Promise<boolean>;
  /** virConnectSupportsFeature with a `DrvFeature` number. */
  connectSupportsFeature?(feature: number): Promise<boolean>;
  connectIsSecure?(): Promise<boolean>;
  connectIsEncrypted?(): Promise<boolean>;
  nodeGetInfo?(): Promise<NodeInfo>;
  nodeGetSecurityModel?(): Promise<SecurityModel>;
  nodeGetFreeMemory?(): Promise<bigint>;

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

// ---------------------------------------------------------------------------------------------
// Errors in libvirt's exact message forms
// ---------------------------------------------------------------------------------------------

/**
 * libvirt formats an error as `virErrorMsg(code, detail)`. For most codes that is
 * `"<prefix>: <detail>"`, which `VirtError` already produces, but:
 * - with no detail it is the prefix alone ("Domain not found");
 * - a few codes put the detail after a space ("no connection driver available for <uri>");
 * - errors raised with `virRaiseErrorFull` directly (`virCheckFlags`, `virReportInvalidArg`)
 *   carry the detail alone, with no prefix.
 * `libvirtError` builds a VirtError and fixes its message accordingly.
 */
const spaceJoined = new Set<number>([
  VirErrorNumber.NO_CONNECT,
  VirErrorNumber.INVALID_CONN,
  VirErrorNumber.INVALID_DOMAIN,
  VirErrorNumber.NO_SOURCE,
  VirErrorNumber.NO_TARGET,
  VirErrorNumber.NO_NAME,
]);

/** Catalogue codes whose message is the detail alone (raised without virErrorMsg). */
const bareCodes = new Set<string>([
  "UNSUPPORTED_FLAGS",
  "API_INVALID_UUID",
  "CLI_USAGE",
  "CLI_FAILED",
  "CLI_DOMAIN_NOT_FOUND",
  "CLI_CONNECT_FAILED",
  "CLI_NO_CONNECTION",
]);

export function libvirtError(
  code: ErrorCode,
  values: ErrorValues = {},
  details: ErrorDetails = {},
  options?: ErrorOptions,
): VirtError {
  const err = new VirtError(code, values, details, options);
  fixLibvirtMessage(err);
  return err;
}

/** Applies libvirt's message form to an existing error (see `libvirtError`). */
export function fixLibvirtMessage(err: VirtError): VirtError {
  if (bareCodes.has(err.code)) {
    err.message = err.detail;
    return err;
  }
  const colon = err.message.length - err.detail.length - 2;
  if (colon <= 0 || err.message.slice(colon) !== `: ${err.detail}`) return err;
  const prefix = err.message.slice(0, colon);
  // With no detail libvirt drops the joining word: "missing name information".
  if (err.detail === "")
    err.message = spaceJoined.has(err.virCode) ? prefix.replace(/ (in|for)$/, "") : prefix;
  else if (spaceJoined.has(err.virCode)) err.message = `${prefix} ${err.detail}`;
  return err;
}

/** Refuses flag bits outside `supported`, naming the driver function (libvirt's virCheckFlags). */
export function checkFlags(flags: number, supported: number, func: string): void {
  const extra = flags & ~supported;
  if (extra !== 0) throw libvirtError("UNSUPPORTED_FLAGS", { flags: (extra >>> 0).toString(16), func });
}

const strerrors: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  EXDEV: "Invalid cross-device link",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  EFBIG: "File too large",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  ENOTEMPTY: "Directory not empty",
  ECONNREFUSED: "Connection refused",
  ETIMEDOUT: "Connection timed out",
};

/** glibc's strerror() text for a Node system error (`e.code`), for libvirt-style messages. */
export function strerror(e: unknown): string {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
  const known = strerrors[code];
  if (known !== undefined) return known;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** `major.minor.release` of a libvirt version number. */
export function formatVersion(v: number): string {
  const major = Math.floor(v / 1_000_000);
  const minor = Math.floor((v % 1_000_000) / 1000);
  const release = v % 1000;
  return `${major}.${minor}.${release}`;
}

/** The libvirt version tvirt is compatible with (reported as the library version). */
export const LIBVIRT_COMPAT_VERSION = 9_000_000;

/** What `connectListAllDomains` filters look at, for one domain. */
export interface ListFacts {
  readonly active: boolean;
  readonly persistent: boolean;
  readonly state: number;
  readonly autostart: boolean;
  /** Asked only when the managed-save filter is given (it may touch the disk). */
  readonly hasManagedSave: () => boolean;
}

/**
 * libvirt's `virConnectListAllDomains` filter semantics: each group of flags (active, persistent,
 * state, managed save, autostart, snapshot, checkpoint) restricts only when one of its flags is
 * given. No snapshots or checkpoints exist yet, so every domain has none.
 */
export function matchesListFlags(flags: number, d: ListFacts): boolean {
  const L = ConnectListDomainsFlags;
  const F = ConnectListDomainsFilters;
  const has = (f: number): boolean => (flags & f) !== 0;
  const either = (group: number, yes: number, no: number, value: boolean): boolean =>
    !has(group) || (has(yes) && value) || (has(no) && !value);
  if (!either(F.ACTIVE, L.ACTIVE, L.INACTIVE, d.active)) return false;
  if (!either(F.PERSISTENT, L.PERSISTENT, L.TRANSIENT, d.persistent)) return false;
  if (has(F.STATE)) {
    const st = d.state;
    const other = st !== DomainState.RUNNING && st !== DomainState.PAUSED && st !== DomainState.SHUTOFF;
    const ok =
      (has(L.RUNNING) && st === DomainState.RUNNING) ||
      (has(L.PAUSED) && st === DomainState.PAUSED) ||
      (has(L.SHUTOFF) && st === DomainState.SHUTOFF) ||
      (has(L.OTHER) && other);
    if (!ok) return false;
  }
  if (has(F.MANAGEDSAVE) && !either(F.MANAGEDSAVE, L.MANAGEDSAVE, L.NO_MANAGEDSAVE, d.hasManagedSave()))
    return false;
  if (!either(F.AUTOSTART, L.AUTOSTART, L.NO_AUTOSTART, d.autostart)) return false;
  if (has(F.SNAPSHOT) && !has(L.NO_SNAPSHOT)) return false;
  if (has(F.CHECKPOINT) && !has(L.NO_CHECKPOINT)) return false;
  return true;
}
