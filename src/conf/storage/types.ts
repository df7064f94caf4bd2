/**
 * Storage pool and volume definitions (libvirt's `<pool>` and `<volume>` XML), pure data.
 * Sizes are bigints in bytes: libvirt allows up to 2^63 - 1, beyond Number's safe range.
 */

/** Pool types in libvirt's order (`virStoragePool`). */
export const POOL_TYPES = [
  "dir",
  "fs",
  "netfs",
  "logical",
  "disk",
  "iscsi",
  "iscsi-direct",
  "scsi",
  "mpath",
  "rbd",
  "sheepdog",
  "gluster",
  "zfs",
  "vstorage",
] as const;
export type PoolType = (typeof POOL_TYPES)[number];

/** Source formats of `fs` pools. */
export const FS_FORMATS = [
  "auto",
  "ext2",
  "ext3",
  "ext4",
  "ufs",
  "iso9660",
  "udf",
  "gfs",
  "gfs2",
  "vfat",
  "hfs+",
  "xfs",
  "ocfs2",
  "vmfs",
] as const;
/** Source formats of `netfs` pools. */
export const NETFS_FORMATS = ["auto", "nfs", "glusterfs", "cifs"] as const;
/** Partition table formats of `disk` pools. */
export const DISK_FORMATS = ["unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"] as const;
/** Source formats of `logical` pools. */
export const LOGICAL_FORMATS = ["unknown", "lvm2"] as const;

/** Volume (file) formats of file-backed pools; libvirt's `virStorageFileFormat` without `none`. */
export const FILE_FORMATS = [
  "raw",
  "dir",
  "bochs",
  "cloop",
  "dmg",
  "iso",
  "vpc",
  "vdi",
  "fat",
  "vhd",
  "ploop",
  "cow",
  "qcow",
  "qcow2",
  "qed",
  "vmdk",
] as const;
/** Partition types: the volume formats of `disk` pools. */
export const PARTITION_FORMATS = [
  "none",
  "linux",
  "fat16",
  "fat32",
  "linux-swap",
  "linux-lvm",
  "linux-raid",
  "extended",
] as const;

/** Volume types (`virStorageVol`). */
export const VOLUME_TYPES = ["file", "block", "dir", "network", "netdir", "ploop"] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

/** qcow2 features in libvirt's order. */
export const VOLUME_FEATURES = ["lazy_refcounts", "extended_l2"] as const;
export type VolumeFeature = (typeof VOLUME_FEATURES)[number];

export const ENCRYPTION_FORMATS = ["default", "qcow", "luks", "luks2", "luks-any"] as const;
export type EncryptionFormat = (typeof ENCRYPTION_FORMATS)[number];

/** Owner, group, mode and label of a target; undefined means "not set" (libvirt's -1). */
export interface Permissions {
  mode?: number;
  owner?: number;
  group?: number;
  label?: string;
}

export interface SourceHost {
  name: string;
  /** 0 when absent. */
  port: number;
}

export interface SourceDevice {
  path: string;
  partSeparator?: boolean;
}

export interface SecretRef {
  uuid?: string;
  usage?: string;
}

export interface AuthDef {
  type: "chap" | "ceph";
  username: string;
  secretType?: string;
  secret: SecretRef;
}

export interface PciAddr {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export type AdapterDef =
  | {
      type: "scsi_host";
      name?: string;
      parentAddr?: { uniqueId?: number; address: PciAddr };
    }
  | {
      type: "fc_host";
      parent?: string;
      parentWwnn?: string;
      parentWwpn?: string;
      parentFabricWwn?: string;
      managed?: boolean;
      wwnn: string;
      wwpn: string;
    };

export interface PoolSource {
  hosts: SourceHost[];
  devices: SourceDevice[];
  dir?: string;
  adapter?: AdapterDef;
  name?: string;
  initiatorIqn?: string;
  /** Source format, for the pool types that have one (fs, netfs, disk, logical). */
  format?: string;
  auth?: AuthDef;
  /** NFS protocol version, e.g. `3` or `4.1`. */
  protocolVer?: string;
  vendor?: string;
  product?: string;
}

export interface PoolDef {
  type: PoolType;
  name: string;
  uuid: string;
  /** Filled by the driver on refresh; always 0 from the parser, as in libvirt. */
  capacity: bigint;
  allocation: bigint;
  available: bigint;
  /** `<features><cow state=.../>` (fs and dir pools). */
  cow?: boolean;
  source: PoolSource;
  /** Absent for rbd, sheepdog, gluster and iscsi-direct pools. */
  target?: { path: string; perms: Permissions };
  refreshVolumeAllocation?: "default" | "capacity";
  /** `fs:mount_opts` (fs and netfs pools). */
  mountOpts?: string[];
  /** `rbd:config_opts` (rbd pools). */
  rbdConfigOpts?: { name: string; value: string }[];
}

export interface EncryptionDef {
  format: EncryptionFormat;
  secrets: { type: string; uuid?: string; usage?: string }[];
  cipher?: { name: string; size: number; mode?: string; hash?: string };
  ivgen?: { name: string; hash?: string };
}

export interface BackingStoreDef {
  path: string;
  /** Only for pool types whose volumes have formats. */
  format?: string;
  perms: Permissions;
}

export interface VolumeDef {
  name: string;
  key?: string;
  type: VolumeType;
  /** Bytes; undefined when parsed without `<capacity>` (allowed with the no-capacity options). */
  capacity?: bigint;
  allocation: bigint;
  /** Whether `<allocation>` was given (else it equals the capacity). */
  hasAllocation: boolean;
  /** Bytes the volume's file takes on the host (output only: the driver fills it). */
  physical?: bigint;
  target: {
    path?: string;
    format?: string;
    perms: Permissions;
    /** Output only (the driver's stat): seconds with nanoseconds, `sec` or `sec.nnnnnnnnn`. */
    timestamps?: { atime: string; mtime: string; ctime: string };
    encryption?: EncryptionDef;
    compat?: string;
    nocow: boolean;
    /** Bytes. */
    clusterSize?: bigint;
    /** undefined: no `<features>`; an empty list: `<features/>`. */
    features?: VolumeFeature[];
  };
  backingStore?: BackingStoreDef;
}
