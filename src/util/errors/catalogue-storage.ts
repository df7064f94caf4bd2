import type { Catalogue } from "./types.ts";

/**
 * Errors of storage pools and volumes (`conf/storage`, `drivers/storage`), in libvirt's storage
 * error domain (VIR_FROM_STORAGE). Where libvirt reports the same mistake the `what` value keeps
 * its wording; value errors name the object, the XPath and line of the node and what is allowed
 * (the accepted values also travel in the details).
 */
export const storageErrors = {
  // --- the test driver's pools (drivers/storage/memory.ts): libvirt's test_driver.c and
  // virstorageobj.c wordings. Kept apart from the local storage driver's entries below.
  /** Listing the volumes of a pool that is not running (libvirt names no pool here). */
  STORAGE_POOL_LIST_NOT_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "storage pool is not active",
  },
  /** The operation needs a pool that is not running. */
  STORAGE_POOL_IS_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "storage pool '{pool}' is active",
  },
  /** A new definition's name is taken by a pool with another UUID. */
  STORAGE_POOL_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "STORAGE",
    kind: "user",
    template: "pool '{pool}' already exists with uuid {uuid}",
  },
  /** A new definition's UUID is taken by a pool with another name. */
  STORAGE_POOL_UUID_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "STORAGE",
    kind: "user",
    template: "pool '{pool}' is already defined with uuid {uuid}",
  },
  /** Creating (starting from XML) a pool that is running. */
  STORAGE_POOL_ALREADY_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "pool is already active as '{pool}'",
  },
  /** Another pool uses the same source (target dir, devices, host and dir). */
  STORAGE_POOL_SOURCE_CONFLICT: {
    vir: "OPERATION_FAILED",
    domain: "STORAGE",
    kind: "user",
    template: "Storage source conflict with pool: '{pool}'",
  },
  /** A volume of that name is in the pool (test driver wording). */
  STORAGE_VOL_EXISTS_TEST: {
    vir: "OPERATION_FAILED",
    domain: "STORAGE",
    kind: "user",
    template: "storage vol already exists",
  },
  /** The test driver's capacity check (libvirt reports it as an internal error). */
  STORAGE_TEST_NO_SPACE: {
    vir: "INTERNAL_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "Not enough free space in pool for volume '{volume}'",
  },
  /** Autostart of a transient pool (libvirt's wording). */
  STORAGE_POOL_NO_CONFIG: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template: "pool has no config file",
  },
  /** find-storage-pool-sources with a type the test driver refuses (libvirt: an internal error). */
  STORAGE_TEST_UNKNOWN_POOL_TYPE: {
    vir: "INTERNAL_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "unknown storage pool type {type}",
  },
  /** A find-storage-pool-sources specification whose root is not `<source>` (libvirt's wording). */
  STORAGE_SOURCE_SPEC_ROOT: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "expecting root element of 'source', not '{found}'",
  },
  /** The test driver reading a source specification for a pool type it does not know. */
  STORAGE_TEST_NO_BACKEND: {
    vir: "INTERNAL_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "missing backend for pool type {type}",
  },
  /** find-storage-pool-sources for netfs without a host. */
  STORAGE_SOURCES_NEED_HOST: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template: "hostname must be specified for netfs sources",
  },
  /** find-storage-pool-sources for a pool type without discovery. */
  STORAGE_NO_DISCOVERY: {
    vir: "NO_SUPPORT",
    domain: "STORAGE",
    kind: "user",
    template: "pool type '{type}' does not support source discovery",
  },
  /** The root element is not `<pool>` / `<volume>`. */
  STORAGE_UNEXPECTED_ROOT: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "unexpected root element <{found}>, expecting <{expected}>",
  },
  /** A pool or volume name that cannot be used (empty, with '/', control characters). */
  STORAGE_INVALID_NAME: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "{kind} name '{name}' is not valid: {reason}",
  },
  /** A value of the wrong form, out of range or not among the allowed ones. */
  STORAGE_INVALID_VALUE: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "invalid value '{value}' for {xpath} (line {line}) in {object}: {expected}",
  },
  /** A required element or attribute is absent; `what` is libvirt's wording. */
  STORAGE_MISSING: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "{what} ({xpath}, line {line}, in {object})",
  },
  /** A structural rule is broken; `what` is libvirt's wording where it has one. */
  STORAGE_XML_INVALID: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** Valid XML this configuration cannot support; `what` is libvirt's wording. */
  STORAGE_CONFIG_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** A feature the pool type does not have (libvirt: VIR_ERR_NO_SUPPORT). */
  STORAGE_NO_SUPPORT: {
    vir: "NO_SUPPORT",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** Volume encryption is parsed and formatted but tvirt's storage driver does not create it. */
  STORAGE_VOL_ENCRYPTION_REFUSED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "STORAGE",
    kind: "user",
    template:
      "storage volume '{volume}': encryption format '{format}' is not supported by tvirt's storage driver; define the volume without <encryption>",
  },
  // --- the local storage driver (drivers/storage): pools, volumes, backends -----------------
  /** libvirt: "Storage pool not found: no storage pool with matching name 'x'" (or uuid, target path). */
  STORAGE_POOL_NOT_FOUND: {
    vir: "NO_STORAGE_POOL",
    domain: "STORAGE",
    kind: "user",
    template: "no storage pool with matching {key} '{value}'",
  },
  /** libvirt: "Storage volume not found: no storage vol with matching name 'x'" (key, path alike). */
  STORAGE_VOL_NOT_FOUND: {
    vir: "NO_STORAGE_VOL",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** An operation that needs a running pool (libvirt's wording). */
  STORAGE_POOL_NOT_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "storage pool '{pool}' is not active",
  },
  /** Start, build or undefine of a running pool; `what` is libvirt's wording. */
  STORAGE_POOL_ACTIVE_STATE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** A name/UUID clash of pool definitions, or a second pool on the same source; libvirt's wording. */
  STORAGE_POOL_DUPLICATE: {
    vir: "OPERATION_FAILED",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** Autostart of a transient pool: libvirt's "pool has no config file" (VIR_ERR_INVALID_ARG). */
  STORAGE_POOL_TRANSIENT: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** Destroy, delete or undefine while volumes are being created, uploaded, … (libvirt's wording). */
  STORAGE_POOL_BUSY: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "pool '{pool}' has asynchronous jobs running.",
  },
  /** The target of a dir/fs pool exists but is no directory (or cannot be used as one). */
  STORAGE_POOL_TARGET_NOT_DIR: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template:
      "storage pool '{pool}': target path '{path}' is not a directory ({found}); use a directory path or one that does not exist yet (pool-build creates it)",
  },
  /** The target of a dir/fs pool is missing at start. */
  STORAGE_POOL_TARGET_MISSING: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template:
      "cannot open directory '{path}' of storage pool '{pool}': No such file or directory; build the pool first (pool-build)",
  },
  /** Pool-build of something that already holds data without the overwrite flag, and similar. */
  STORAGE_POOL_BUILD_REFUSED: {
    vir: "STORAGE_POOL_BUILT",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** A pool source (device, volume group) that is missing or not usable. */
  STORAGE_POOL_SOURCE_INVALID: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "storage pool '{pool}': {what}",
  },
  /** libvirt: "storage volume already exists: 'x'" (VIR_ERR_STORAGE_VOL_EXIST, detail `'name'`). */
  STORAGE_VOL_EXISTS: {
    vir: "STORAGE_VOL_EXIST",
    domain: "STORAGE",
    kind: "user",
    template: "'{volume}'",
  },
  /** A change to a volume while another one runs on it (create, upload, download, wipe, resize). */
  STORAGE_VOL_BUSY: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template:
      "storage volume '{volume}' in pool '{pool}' is busy: {op} in progress; try again when it is done",
  },
  /** Delete or shrink of a volume a running guest uses. */
  STORAGE_VOL_IN_USE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template:
      "storage volume '{volume}' ({path}) is in use by running guest {guests}: cannot {op} it while the guest runs",
  },
  /** A size that cannot be used for a volume (0, negative delta, past the limits). */
  STORAGE_VOL_BAD_SIZE: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template: "storage volume '{volume}' in pool '{pool}': {what}",
  },
  /** libvirt's resize refusal without the shrink flag (its wording). */
  STORAGE_VOL_SHRINK_REFUSED: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template:
      "Can't shrink capacity below current capacity unless shrink flag explicitly specified (storage volume '{volume}': {current} bytes now, {requested} bytes asked for)",
  },
  /** Not enough free space in the pool for what the volume would allocate. */
  STORAGE_NO_SPACE: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template:
      "Not enough space left in storage pool '{pool}' for volume '{volume}': {needed} bytes needed, {available} available (give a smaller <allocation> for a sparse volume)",
  },
  /** A volume format (or feature) the pool's backend cannot create. */
  STORAGE_VOL_FORMAT_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "STORAGE",
    kind: "user",
    template:
      "storage pool '{pool}' of type '{type}' cannot create volume '{volume}' {what}; it can create: {allowed}",
  },
  /** Stream data past the requested length, or a stream used after it ended. */
  STORAGE_STREAM_INVALID: {
    vir: "INVALID_ARG",
    domain: "STORAGE",
    kind: "user",
    template: "storage volume '{volume}': {what}",
  },
  /** An external program of a backend failed (mount, lvcreate, qemu-img, …). */
  STORAGE_COMMAND_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "STORAGE",
    kind: "environment",
    template: "{object}: '{command}' failed: {reason}",
  },
  /** A file system call on a pool target or volume failed. */
  STORAGE_IO_FAILED: {
    vir: "SYSTEM_ERROR",
    domain: "STORAGE",
    kind: "environment",
    template: "{object}: cannot {action} '{path}': {reason}",
  },
} as const satisfies Catalogue<"STORAGE">;
