/**
 * libvirt storage pool and volume XML ⇄ typed definitions: the public surface of `conf/storage`.
 */
export type * from "./types.ts";
export {
  POOL_TYPES,
  VOLUME_TYPES,
  VOLUME_FEATURES,
  FILE_FORMATS,
  PARTITION_FORMATS,
  FS_FORMATS,
  NETFS_FORMATS,
  DISK_FORMATS,
  LOGICAL_FORMATS,
  ENCRYPTION_FORMATS,
} from "./types.ts";
export { parsePool, readPool, formatPool, FS_NS, RBD_NS, type ParsePoolOptions } from "./pool.ts";
export { parseVolume, readVolume, formatVolume, volumeFormats, type ParseVolumeOptions } from "./volume.ts";
export { sanitizePath, unitScale } from "./reader.ts";
export { formatPoolCapabilities } from "./capabilities.ts";
