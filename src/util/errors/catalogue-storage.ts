import type { Catalogue } from "./types.ts";

/**
 * Errors of storage pools and volumes (`conf/storage`, `drivers/storage`), in libvirt's storage
 * error domain (VIR_FROM_STORAGE). Where libvirt reports the same mistake the `what` value keeps
 * its wording; value errors name the object, the XPath and line of the node and what is allowed
 * (the accepted values also travel in the details).
 */
export const storageErrors = {
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
  // --- pool and volume objects (libvirt's virstorageobj.c and the drivers' lookups) ---------
  // Shared by the test driver's in-memory pools (drivers/storage/memory.ts) and the storage
  // driver: the texts are libvirt's (storage_driver.c and test_driver.c use the same ones).
  /** No pool with this name or UUID (`key`: name | uuid). */
  STORAGE_POOL_NOT_FOUND: {
    vir: "NO_STORAGE_POOL",
    domain: "STORAGE",
    kind: "user",
    template: "no storage pool with matching {key} '{value}'",
  },
  /** No volume with this name, key or path (`key`: name | key | path). */
  STORAGE_VOL_NOT_FOUND: {
    vir: "NO_STORAGE_VOL",
    domain: "STORAGE",
    kind: "user",
    template: "no storage vol with matching {key} '{value}'",
  },
  /** The operation needs a running pool. */
  STORAGE_POOL_NOT_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "STORAGE",
    kind: "user",
    template: "storage pool '{pool}' is not active",
  },
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
} as const satisfies Catalogue<"STORAGE">;
