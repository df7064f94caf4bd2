import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_TEST: the `test:///default` driver. Entries are grouped by the tvirt area
 * that raises them.
 */
export const testErrors = {
  // === the public API, the drivers' common checks, the test driver and tvirsh ===
  // --- domain objects (libvirt's virdomainobjlist.c and domain_conf.c messages) -------------
  DOMAIN_NOT_FOUND: { vir: "NO_DOMAIN", domain: "TEST", kind: "user", template: "" },
  DOMAIN_NOT_FOUND_UUID: {
    vir: "NO_DOMAIN",
    domain: "TEST",
    kind: "user",
    template: "no domain with matching uuid '{uuid}' ({name})",
  },
  DOMAIN_XML_MODIFICATION_UNSUPPORTED: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "TEST",
    kind: "user",
    template: "xml modification unsupported",
  },
  // --- the test driver's own state checks (libvirt uses "internal error" for these) ---------
  TEST_DOMAIN_NOT_RUNNING: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "domain '{name}' not running",
  },
  TEST_DOMAIN_NOT_PAUSED: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "domain '{name}' not paused",
  },
  TEST_DOMAIN_ALREADY_RUNNING: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "Domain '{name}' is already running",
  },
  TEST_OPEN_PATH: {
    vir: "INVALID_ARG",
    domain: "TEST",
    kind: "user",
    template: "testOpen: supply a path or use test:///default",
  },
  TEST_OPEN_FILE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "TEST",
    kind: "user",
    template: "test driver node files ('{path}') are not supported; use test:///default",
  },
  // --- save images (test driver format: magic, length, XML) ---------------------------------
  SAVE_IMAGE_OPEN: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "environment",
    template: "cannot read domain image '{path}': {reason}",
  },
  SAVE_IMAGE_HEADER: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "user",
    template: "incomplete save header in '{path}': {reason}",
  },
  SAVE_IMAGE_MAGIC: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "mismatched header magic",
  },
  SAVE_IMAGE_LENGTH_READ: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "user",
    template: "failed to read metadata length in '{path}': {reason}",
  },
  SAVE_IMAGE_LENGTH: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "length of metadata out of range",
  },
  SAVE_IMAGE_METADATA: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "user",
    template: "incomplete metadata in '{path}': {reason}",
  },
  SAVE_IMAGE_CREATE: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "environment",
    template: "saving domain '{name}' to '{path}': open failed: {reason}",
  },
  SAVE_IMAGE_WRITE: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "environment",
    template: "saving domain '{name}' to '{path}': write failed: {reason}",
  },

  // === live tuning, statistics and QEMU monitor events ===
  TUNING_BLOCK_SUMMARY: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "TEST",
    kind: "user",
    template: "summary statistics are not supported yet",
  },
  // graphical consoles: send-key
  TEST_SENDKEY_INVALID: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "invalid keycode {keycode} of {codeset} codeset",
  },
  // guest agent calls: domfsfreeze / domfsthaw know the two filesystems the test guest has
  TEST_FS_MOUNTPOINT: {
    vir: "OPERATION_INVALID",
    domain: "TEST",
    kind: "user",
    template: "mount point not found: {mountpoint}",
  },
} as const satisfies Catalogue<"TEST">;
