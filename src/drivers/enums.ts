/**
 * libvirt's enum and flag values (`include/libvirt/libvirt-domain.h`, `libvirt-host.h`,
 * `libvirt-nodedev.h`, `libvirt-qemu.h` and the internal `driver.h`, 9.0.0), and the texts libvirt
 * attaches to some of them (taint messages, state and event identifiers).
 *
 * Layer: these numbers are the vocabulary of the driver interface (`driver.ts`), so they sit in
 * `drivers/`, the lowest layer that needs them: drivers implement calls with them, and `api/`
 * (which re-exports them to its users), `rpc/`, `cli/` and `daemon/` above all read them there.
 * Nothing in `conf/`, `host/` or `util/` uses them, so there is no reason to put them lower.
 * This module imports nothing.
 */

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

/** `virNodeAllocPagesFlags` */
export const NodeAllocPagesFlags = { ADD: 1 } as const;

/** `virDomainEventIOErrorAction` */
export const DomainEventIOErrorAction = { NONE: 0, PAUSE: 1, REPORT: 2 } as const;

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

/** `virDomainJobType` */
export const DomainJobType = {
  NONE: 0,
  BOUNDED: 1,
  UNBOUNDED: 2,
  COMPLETED: 3,
  FAILED: 4,
  CANCELLED: 5,
} as const;
export type DomainJobType = (typeof DomainJobType)[keyof typeof DomainJobType];

/** `virDomainJobOperation` (the `operation` job statistic). */
export const DomainJobOperation = {
  UNKNOWN: 0,
  START: 1,
  SAVE: 2,
  RESTORE: 3,
  MIGRATION_IN: 4,
  MIGRATION_OUT: 5,
  SNAPSHOT: 6,
  SNAPSHOT_REVERT: 7,
  DUMP: 8,
  BACKUP: 9,
  SNAPSHOT_DELETE: 10,
} as const;

/** `virDomainGetJobStatsFlags` */
export const DomainGetJobStatsFlags = { COMPLETED: 1, KEEP_COMPLETED: 2 } as const;
/** `virDomainAbortJobFlagsValues` */
export const DomainAbortJobFlags = { POSTCOPY: 1 } as const;
/** `virDomainMigrateMaxSpeedFlags` */
export const DomainMigrateMaxSpeedFlags = { POSTCOPY: 1 } as const;

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

/** `virDomainOpenGraphicsFlags` (virDomainOpenGraphics and virDomainOpenGraphicsFD). */
export const DomainOpenGraphicsFlags = {
  /** The client skips the display's own authentication (VNC/SPICE password). */
  SKIPAUTH: 1,
} as const;

/** `virKeycodeSet`: the code sets of virDomainSendKey (virsh's names in `keycodeSetNames`). */
export const KeycodeSet = {
  LINUX: 0,
  XT: 1,
  ATSET1: 2,
  ATSET2: 3,
  ATSET3: 4,
  OSX: 5,
  XT_KBD: 6,
  USB: 7,
  WIN32: 8,
  QNUM: 9,
} as const;

/** virDomainSnapshotCreateFlags */
export const DomainSnapshotCreateFlags = {
  REDEFINE: 1 << 0,
  CURRENT: 1 << 1,
  NO_METADATA: 1 << 2,
  HALT: 1 << 3,
  DISK_ONLY: 1 << 4,
  REUSE_EXT: 1 << 5,
  QUIESCE: 1 << 6,
  ATOMIC: 1 << 7,
  LIVE: 1 << 8,
  VALIDATE: 1 << 9,
} as const;

/** virDomainSnapshotListFlags (ROOTS and DESCENDANTS share bit 0: the call decides which). */
export const DomainSnapshotListFlags = {
  ROOTS: 1 << 0,
  DESCENDANTS: 1 << 0,
  METADATA: 1 << 1,
  LEAVES: 1 << 2,
  NO_LEAVES: 1 << 3,
  NO_METADATA: 1 << 4,
  INACTIVE: 1 << 5,
  ACTIVE: 1 << 6,
  DISK_ONLY: 1 << 7,
  INTERNAL: 1 << 8,
  EXTERNAL: 1 << 9,
  TOPOLOGICAL: 1 << 10,
} as const;

/** virDomainSnapshotRevertFlags */
export const DomainSnapshotRevertFlags = {
  RUNNING: 1 << 0,
  PAUSED: 1 << 1,
  FORCE: 1 << 2,
  RESET_NVRAM: 1 << 3,
} as const;

/** virDomainSnapshotDeleteFlags */
export const DomainSnapshotDeleteFlags = {
  CHILDREN: 1 << 0,
  METADATA_ONLY: 1 << 1,
  CHILDREN_ONLY: 1 << 2,
} as const;

/** `virDomainMigrateFlags` */
export const MigrateFlags = {
  LIVE: 1 << 0,
  PEER2PEER: 1 << 1,
  TUNNELLED: 1 << 2,
  PERSIST_DEST: 1 << 3,
  UNDEFINE_SOURCE: 1 << 4,
  PAUSED: 1 << 5,
  NON_SHARED_DISK: 1 << 6,
  NON_SHARED_INC: 1 << 7,
  CHANGE_PROTECTION: 1 << 8,
  UNSAFE: 1 << 9,
  OFFLINE: 1 << 10,
  COMPRESSED: 1 << 11,
  ABORT_ON_ERROR: 1 << 12,
  AUTO_CONVERGE: 1 << 13,
  RDMA_PIN_ALL: 1 << 14,
  POSTCOPY: 1 << 15,
  TLS: 1 << 16,
  PARALLEL: 1 << 17,
  NON_SHARED_SYNCHRONOUS_WRITES: 1 << 18,
  POSTCOPY_RESUME: 1 << 19,
  ZEROCOPY: 1 << 20,
} as const;

/** `VIR_MIGRATE_PARAM_*`: the typed parameters of the v3 migration calls. */
export const MigrateParam = {
  URI: "migrate_uri",
  DEST_NAME: "destination_name",
  DEST_XML: "destination_xml",
  PERSIST_XML: "persistent_xml",
  BANDWIDTH: "bandwidth",
  BANDWIDTH_POSTCOPY: "bandwidth.postcopy",
  GRAPHICS_URI: "graphics_uri",
  LISTEN_ADDRESS: "listen_address",
  MIGRATE_DISKS: "migrate_disks",
  DISKS_PORT: "disks_port",
  DISKS_URI: "disks_uri",
  COMPRESSION: "compression",
  COMPRESSION_MT_LEVEL: "compression.mt.level",
  COMPRESSION_MT_THREADS: "compression.mt.threads",
  COMPRESSION_MT_DTHREADS: "compression.mt.dthreads",
  COMPRESSION_XBZRLE_CACHE: "compression.xbzrle.cache",
  AUTO_CONVERGE_INITIAL: "auto_converge.initial",
  AUTO_CONVERGE_INCREMENT: "auto_converge.increment",
  PARALLEL_CONNECTIONS: "parallel.connections",
  TLS_DESTINATION: "tls.destination",
} as const;

// --- block jobs (issue 20): blockcommit, blockpull/rebase, blockcopy, blockjob, blockresize ---

/** `virDomainBlockJobType` */
export const DomainBlockJobType = {
  UNKNOWN: 0,
  PULL: 1,
  COPY: 2,
  COMMIT: 3,
  ACTIVE_COMMIT: 4,
  BACKUP: 5,
} as const;

/** `virConnectDomainEventBlockJobStatus` */
export const DomainBlockJobStatus = { COMPLETED: 0, FAILED: 1, CANCELED: 2, READY: 3 } as const;

/** `virDomainBlockJobAbortFlags` */
export const DomainBlockJobAbortFlags = { ASYNC: 1, PIVOT: 2 } as const;

/** `virDomainBlockJobInfoFlags` and `virDomainBlockJobSetSpeedFlags` */
export const DomainBlockJobBandwidthFlags = { BANDWIDTH_BYTES: 1 } as const;

/** `virDomainBlockPullFlags` */
export const DomainBlockPullFlags = { BANDWIDTH_BYTES: 64 } as const;

/** `virDomainBlockRebaseFlags` */
export const DomainBlockRebaseFlags = {
  SHALLOW: 1,
  REUSE_EXT: 2,
  COPY_RAW: 4,
  COPY: 8,
  RELATIVE: 16,
  COPY_DEV: 32,
  BANDWIDTH_BYTES: 64,
} as const;

/** `virDomainBlockCopyFlags` */
export const DomainBlockCopyFlags = {
  SHALLOW: 1,
  REUSE_EXT: 2,
  TRANSIENT_JOB: 4,
  SYNCHRONOUS_WRITES: 8,
} as const;

/** `virDomainBlockCommitFlags` */
export const DomainBlockCommitFlags = {
  SHALLOW: 1,
  DELETE: 2,
  ACTIVE: 4,
  RELATIVE: 8,
  BANDWIDTH_BYTES: 16,
} as const;

/** `virDomainBlockResizeFlags` */
export const DomainBlockResizeFlags = { BYTES: 1, CAPACITY: 2 } as const;
