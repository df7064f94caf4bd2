/**
 * The storage driver interface (libvirt's `virStorageDriver`), beside the network driver
 * interface in `network-driver.ts`. A connection reaches pools and volumes through a separate
 * storage driver (libvirt: `conn->storageDriver`): the QEMU URIs get the local storage driver
 * (`drivers/storage/`), the test driver serves its in-memory `default-pool`, and the remote
 * driver forwards the calls. Methods are named after libvirt's driver table entries; a
 * `StoragePoolRef` / `StorageVolRef` stands where libvirt passes a `virStoragePoolPtr` /
 * `virStorageVolPtr`.
 */

/** A pool handle: name and UUID (libvirt's `virStoragePoolPtr`). */
export interface StoragePoolRef {
  readonly name: string;
  readonly uuid: string;
}

/** A volume handle (libvirt's `virStorageVolPtr`): its pool's name, its name and its key. */
export interface StorageVolRef {
  readonly pool: string;
  readonly name: string;
  /** The volume's key (for file volumes: its path). */
  readonly key: string;
}

/** `virConnectListAllStoragePoolsFlags` */
export const ConnectListStoragePoolsFlags = {
  INACTIVE: 1 << 0,
  ACTIVE: 1 << 1,
  PERSISTENT: 1 << 2,
  TRANSIENT: 1 << 3,
  AUTOSTART: 1 << 4,
  NO_AUTOSTART: 1 << 5,
  DIR: 1 << 6,
  FS: 1 << 7,
  NETFS: 1 << 8,
  LOGICAL: 1 << 9,
  DISK: 1 << 10,
  ISCSI: 1 << 11,
  SCSI: 1 << 12,
  MPATH: 1 << 13,
  RBD: 1 << 14,
  SHEEPDOG: 1 << 15,
  GLUSTER: 1 << 16,
  ZFS: 1 << 17,
  VSTORAGE: 1 << 18,
  ISCSI_DIRECT: 1 << 19,
} as const;

/** The pool type each type filter flag selects (libvirt's order). */
export const StoragePoolTypeFlag: Readonly<Record<string, number>> = {
  dir: ConnectListStoragePoolsFlags.DIR,
  fs: ConnectListStoragePoolsFlags.FS,
  netfs: ConnectListStoragePoolsFlags.NETFS,
  logical: ConnectListStoragePoolsFlags.LOGICAL,
  disk: ConnectListStoragePoolsFlags.DISK,
  iscsi: ConnectListStoragePoolsFlags.ISCSI,
  scsi: ConnectListStoragePoolsFlags.SCSI,
  mpath: ConnectListStoragePoolsFlags.MPATH,
  rbd: ConnectListStoragePoolsFlags.RBD,
  sheepdog: ConnectListStoragePoolsFlags.SHEEPDOG,
  gluster: ConnectListStoragePoolsFlags.GLUSTER,
  zfs: ConnectListStoragePoolsFlags.ZFS,
  vstorage: ConnectListStoragePoolsFlags.VSTORAGE,
  "iscsi-direct": ConnectListStoragePoolsFlags.ISCSI_DIRECT,
};

/** `virStoragePoolDefineFlags` / `virStoragePoolCreateFlags` */
export const StoragePoolDefineFlags = { VALIDATE: 1 } as const;
export const StoragePoolCreateFlags = {
  NORMAL: 0,
  WITH_BUILD: 1 << 0,
  WITH_BUILD_OVERWRITE: 1 << 1,
  WITH_BUILD_NO_OVERWRITE: 1 << 2,
} as const;

/** `virStoragePoolBuildFlags` */
export const StoragePoolBuildFlags = { NEW: 0, REPAIR: 1, RESIZE: 2, NO_OVERWRITE: 4, OVERWRITE: 8 } as const;

/** `virStoragePoolDeleteFlags` */
export const StoragePoolDeleteFlags = { NORMAL: 0, ZEROED: 1 } as const;

/** `virStorageXMLFlags` */
export const StorageXMLFlags = { INACTIVE: 1 } as const;

/** `virStoragePoolState` */
export const StoragePoolState = {
  INACTIVE: 0,
  BUILDING: 1,
  RUNNING: 2,
  DEGRADED: 3,
  INACCESSIBLE: 4,
} as const;

/** `virStorageVolType` */
export const StorageVolType = { FILE: 0, BLOCK: 1, DIR: 2, NETWORK: 3, NETDIR: 4, PLOOP: 5 } as const;

/** `virStorageVolCreateFlags` */
export const StorageVolCreateFlags = { PREALLOC_METADATA: 1, REFLINK: 2, VALIDATE: 4 } as const;

/** `virStorageVolDeleteFlags` */
export const StorageVolDeleteFlags = { NORMAL: 0, ZEROED: 1, WITH_SNAPSHOTS: 2 } as const;

/** `virStorageVolWipeAlgorithm` */
export const StorageVolWipeAlgorithm = {
  ZERO: 0,
  NNSA: 1,
  DOD: 2,
  BSI: 3,
  GUTMANN: 4,
  SCHNEIER: 5,
  PFITZNER7: 6,
  PFITZNER33: 7,
  RANDOM: 8,
  TRIM: 9,
} as const;

/** `virStorageVolResizeFlags` */
export const StorageVolResizeFlags = { ALLOCATE: 1, DELTA: 2, SHRINK: 4 } as const;

/** `virStorageVolUploadFlags` / `virStorageVolDownloadFlags` */
export const StorageVolUploadFlags = { SPARSE_STREAM: 1 } as const;
export const StorageVolDownloadFlags = { SPARSE_STREAM: 1 } as const;

/** `virStorageVolInfoFlags` */
export const StorageVolInfoFlags = { ALLOCATION: 0, PHYSICAL: 1 } as const;

/** `virStoragePoolInfo` (bytes). */
export interface StoragePoolInfo {
  /** `StoragePoolState` */
  readonly state: number;
  readonly capacity: number;
  readonly allocation: number;
  readonly available: number;
}

/** `virStorageVolInfo` (bytes). */
export interface StorageVolInfo {
  /** `StorageVolType` */
  readonly type: number;
  readonly capacity: number;
  readonly allocation: number;
}

/** `virStoragePoolEventID` */
export const StoragePoolEventId = { LIFECYCLE: 0, REFRESH: 1 } as const;

/** `virStoragePoolEventLifecycleType` */
export const StoragePoolEventLifecycleType = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  STOPPED: 3,
  CREATED: 4,
  DELETED: 5,
} as const;

/** A pool event: lifecycle (event + detail) or refresh (event and detail 0). */
export interface StoragePoolEvent {
  /** `StoragePoolEventId` */
  readonly id: number;
  /** `StoragePoolEventLifecycleType` for LIFECYCLE; 0 for REFRESH. */
  readonly event: number;
  readonly detail: number;
}

export type StoragePoolEventCallback = (pool: StoragePoolRef, event: StoragePoolEvent) => void;

/** What `connectListAllStoragePools` filters look at, for one pool. */
export interface StoragePoolListFacts {
  readonly active: boolean;
  readonly persistent: boolean;
  readonly autostart: boolean;
  /** The pool's type (`dir`, `fs`, `logical`, …). */
  readonly type: string;
}

/** libvirt's `virStoragePoolObjListExport` filter: each group restricts only when one of its flags is given. */
export function matchesStoragePoolListFlags(flags: number, p: StoragePoolListFacts): boolean {
  const L = ConnectListStoragePoolsFlags;
  const has = (f: number): boolean => (flags & f) !== 0;
  const either = (yes: number, no: number, value: boolean): boolean =>
    !(has(yes) || has(no)) || (has(yes) && value) || (has(no) && !value);
  const typeMask = Object.values(StoragePoolTypeFlag).reduce((a, b) => a | b, 0);
  const typeOk = (flags & typeMask) === 0 || has(StoragePoolTypeFlag[p.type] ?? 0);
  return (
    either(L.ACTIVE, L.INACTIVE, p.active) &&
    either(L.PERSISTENT, L.TRANSIENT, p.persistent) &&
    either(L.AUTOSTART, L.NO_AUTOSTART, p.autostart) &&
    typeOk
  );
}

/**
 * A run of zeros a sparse stream skips (libvirt's `VIR_NET_STREAM_HOLE` message): the receiver
 * seeks `length` bytes ahead instead of writing them.
 */
export interface StreamHole {
  readonly hole: number;
}

/**
 * Bytes of a volume from the driver to the caller (virStorageVolDownload): iterate it for data
 * chunks and, when the caller asked for a sparse stream, holes; the end of the iteration
 * finishes the stream, `close` before the end aborts it. An error of the sender rejects the
 * iteration.
 */
export interface VolumeDownloadStream extends AsyncIterable<Uint8Array | StreamHole> {
  close(): Promise<void>;
}

/**
 * Bytes from the caller into a volume (virStorageVolUpload): `write` data chunks (and holes
 * when the upload is sparse) in order, then `finish` (virStreamFinish: the data is flushed and
 * the volume refreshed) or `abort` (virStreamAbort).
 */
export interface VolumeUploadSink {
  write(chunk: Uint8Array | StreamHole): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

/** The storage entries of a driver (all optional: a missing one is "not supported"). */
export interface StorageDriver {
  connectNumOfStoragePools?(): Promise<number>;
  connectNumOfDefinedStoragePools?(): Promise<number>;
  connectListAllStoragePools?(flags: number): Promise<StoragePoolRef[]>;
  /** virConnectFindStoragePoolSources: a `<sources>` document. */
  connectFindStoragePoolSources?(type: string, srcSpec: string | null, flags: number): Promise<string>;
  /** virConnectGetStoragePoolCapabilities: a `<storagepoolCapabilities>` document. */
  connectGetStoragePoolCapabilities?(flags: number): Promise<string>;
  storagePoolLookupByName?(name: string): Promise<StoragePoolRef>;
  storagePoolLookupByUUID?(uuid: string): Promise<StoragePoolRef>;
  storagePoolLookupByVolume?(vol: StorageVolRef): Promise<StoragePoolRef>;
  /** virStoragePoolLookupByTargetPath */
  storagePoolLookupByTargetPath?(path: string): Promise<StoragePoolRef>;
  storagePoolDefineXML?(xml: string, flags: number): Promise<StoragePoolRef>;
  storagePoolCreateXML?(xml: string, flags: number): Promise<StoragePoolRef>;
  storagePoolBuild?(pool: StoragePoolRef, flags: number): Promise<void>;
  storagePoolUndefine?(pool: StoragePoolRef): Promise<void>;
  storagePoolCreate?(pool: StoragePoolRef, flags: number): Promise<void>;
  storagePoolDestroy?(pool: StoragePoolRef): Promise<void>;
  storagePoolDelete?(pool: StoragePoolRef, flags: number): Promise<void>;
  storagePoolRefresh?(pool: StoragePoolRef, flags: number): Promise<void>;
  storagePoolGetInfo?(pool: StoragePoolRef): Promise<StoragePoolInfo>;
  storagePoolGetXMLDesc?(pool: StoragePoolRef, flags: number): Promise<string>;
  storagePoolGetAutostart?(pool: StoragePoolRef): Promise<boolean>;
  storagePoolSetAutostart?(pool: StoragePoolRef, autostart: boolean): Promise<void>;
  storagePoolIsActive?(pool: StoragePoolRef): Promise<boolean>;
  storagePoolIsPersistent?(pool: StoragePoolRef): Promise<boolean>;
  storagePoolNumOfVolumes?(pool: StoragePoolRef): Promise<number>;
  storagePoolListAllVolumes?(pool: StoragePoolRef, flags: number): Promise<StorageVolRef[]>;
  storageVolLookupByName?(pool: StoragePoolRef, name: string): Promise<StorageVolRef>;
  storageVolLookupByKey?(key: string): Promise<StorageVolRef>;
  storageVolLookupByPath?(path: string): Promise<StorageVolRef>;
  storageVolCreateXML?(pool: StoragePoolRef, xml: string, flags: number): Promise<StorageVolRef>;
  /** virStorageVolCreateXMLFrom: a new volume in `pool` holding `clonevol`'s data. */
  storageVolCreateXMLFrom?(
    pool: StoragePoolRef,
    xml: string,
    clonevol: StorageVolRef,
    flags: number,
  ): Promise<StorageVolRef>;
  storageVolDelete?(vol: StorageVolRef, flags: number): Promise<void>;
  storageVolWipe?(vol: StorageVolRef, flags: number): Promise<void>;
  storageVolWipePattern?(vol: StorageVolRef, algorithm: number, flags: number): Promise<void>;
  storageVolGetInfo?(vol: StorageVolRef): Promise<StorageVolInfo>;
  storageVolGetInfoFlags?(vol: StorageVolRef, flags: number): Promise<StorageVolInfo>;
  storageVolGetXMLDesc?(vol: StorageVolRef, flags: number): Promise<string>;
  storageVolGetPath?(vol: StorageVolRef): Promise<string>;
  storageVolResize?(vol: StorageVolRef, capacity: bigint, flags: number): Promise<void>;
  /** virStorageVolDownload: `length` 0 = to the end. */
  storageVolDownload?(
    vol: StorageVolRef,
    offset: bigint,
    length: bigint,
    flags: number,
  ): Promise<VolumeDownloadStream>;
  /** virStorageVolUpload: `length` 0 = to the end. */
  storageVolUpload?(
    vol: StorageVolRef,
    offset: bigint,
    length: bigint,
    flags: number,
  ): Promise<VolumeUploadSink>;
  /** Returns the callback id (>= 1). `pool` null = all pools. */
  connectStoragePoolEventRegisterAny?(
    pool: StoragePoolRef | null,
    eventID: number,
    callback: StoragePoolEventCallback,
  ): Promise<number>;
  connectStoragePoolEventDeregisterAny?(callbackID: number): Promise<void>;
}

/** A storage driver opened for one connection; closed with it. */
export interface StorageDriverConnection extends StorageDriver {
  close(): Promise<void>;
}
