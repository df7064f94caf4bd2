import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_NONE: errors libvirt raises without a subsystem (its util/ helpers, virsh's
 * own messages, host device checks). Entries are grouped by the tvirt area that raises them.
 */
export const noneErrors = {
  // === util/ and general argument checks ===
  BUG: { vir: "INTERNAL_ERROR", domain: "NONE", kind: "bug", template: "{what}" },
  INVALID_NAME: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template: "{object} name '{name}' is not valid: {reason}",
  },
  /** SCM_RIGHTS through the helper of util/fdpass.ts (libvirt's virNetSocketSendFD wording). */
  FD_PASSING_FAILED: {
    vir: "SYSTEM_ERROR",
    domain: "NONE",
    kind: "environment",
    template: "Failed to send file descriptor: {reason}",
  },
  FILE_WRITE_FAILED: {
    vir: "WRITE_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "'{path}': {reason}",
  },
  /** A guest's tap cannot join its bridge (libvirt's virNetDevBridgeAddPort, a system error). */
  NETWORK_BRIDGE_ADD_PORT: {
    vir: "SYSTEM_ERROR",
    domain: "NONE",
    kind: "environment",
    template: "Unable to add bridge {bridge} port {port}: {reason}",
  },
  COMMAND_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "command '{command}' failed: {reason}",
  },

  // === host/hugepage-pool.ts (libvirt's virnuma.c) ===
  NUMA_CELL_RANGE: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template: "{which} cell {cell} out of range (0-{last})",
  },
  NUMA_PAGE_SIZE_UNAVAILABLE: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "user",
    template: "page size {size} is not available on node {node}",
  },
  NUMA_SYSTEM_PAGES_FIXED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NONE",
    kind: "user",
    template: "system pages pool can't be modified",
  },
  NUMA_PAGES_SHORT: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "Unable to allocate {want} pages. Allocated only {got}",
  },

  // === the public API, the drivers' common checks, the test driver and tvirsh ===
  API_NO_CONNECT: { vir: "NO_CONNECT", domain: "NONE", kind: "user", form: "spaced", template: "{uri}" },
  API_URI_NO_DRIVER: {
    vir: "NO_CONNECT",
    domain: "NONE",
    kind: "user",
    form: "spaced",
    template: "URI '{uri}' does not include a driver name",
  },
  // --- files read for the user (virsh's virFileReadAll) --------------------------------------
  FILE_OPEN_FAILED: {
    vir: "SYSTEM_ERROR",
    domain: "NONE",
    kind: "environment",
    template: "Failed to open file '{path}': {reason}",
  },
  FILE_READ_FAILED_SYS: {
    vir: "SYSTEM_ERROR",
    domain: "NONE",
    kind: "environment",
    template: "Failed to read file '{path}': {reason}",
  },
  // --- tvirsh (virsh's own messages; printed without prefix) ---------------------------------
  CLI_USAGE: { vir: "INVALID_ARG", domain: "NONE", kind: "user", form: "bare", template: "{message}" },
  CLI_FAILED: { vir: "OPERATION_FAILED", domain: "NONE", kind: "user", form: "bare", template: "{message}" },
  CLI_DOMAIN_NOT_FOUND: {
    vir: "NO_DOMAIN",
    domain: "NONE",
    kind: "user",
    form: "bare",
    template: "failed to get domain '{domain}'",
  },
  /** virScaleInteger: a size with a suffix it does not know (virsh vol-create-as, vol-resize). */
  SCALE_UNKNOWN_SUFFIX: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template: "unknown suffix '{suffix}'",
  },
  /** virScaleInteger: the scaled size is beyond 2^64 - 1 bytes. */
  SCALE_OVERFLOW: { vir: "OVERFLOW", domain: "NONE", kind: "user", template: "value too large: {value}" },
  CLI_NO_CONNECTION: {
    vir: "INVALID_CONN",
    domain: "NONE",
    kind: "user",
    form: "bare",
    template: "no valid connection",
  },

  // === the QEMU driver's domain management and the job lock ===
  // --- the job lock (util/job-lock.ts) ---------------------------------------------------------
  JOB_LOCK_TIMEOUT: {
    vir: "OPERATION_TIMEOUT",
    domain: "NONE",
    kind: "environment",
    template: "cannot acquire state change lock (held by {holder})",
  },
  JOB_LOCK_TIMEOUT_QUEUED: {
    vir: "OPERATION_TIMEOUT",
    domain: "NONE",
    kind: "environment",
    template: "cannot acquire state change lock",
  },
  JOB_CANCELLED: {
    vir: "OPERATION_ABORTED",
    domain: "NONE",
    kind: "user",
    template: "{owner} on {object} was cancelled: {reason}",
  },

  // === schema validation and tvirsh edit ===
  /** `$VISUAL`/`$EDITOR` cannot be split into argv without a shell. */
  EDIT_EDITOR_SYNTAX: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template:
      "${variable} value '{value}' cannot be run without a shell: {reason}; give a program and its arguments, quoted with ' or \" where needed",
  },
  EDIT_EDITOR_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "editor '{editor}' {reason} while editing {file}: nothing was changed",
  },
  /** The definition changed on the server while the user was editing it. */
  EDIT_CHANGED_BY_OTHER: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "user",
    template: "The XML configuration was changed by another user.",
  },
  /** The user answered 'n' (or the input ended) at the re-edit prompt. */
  EDIT_ABANDONED: {
    vir: "OPERATION_ABORTED",
    domain: "NONE",
    kind: "user",
    template: "edit of {object} '{name}' abandoned: the definition was not changed",
  },

  // === host device passthrough and node devices ===
  HOSTDEV_SYSFS_ROOT: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template: "sysfs root '{root}' must be an absolute path",
  },
  HOSTDEV_SYSFS_WRITE: {
    vir: "SYSTEM_ERROR",
    domain: "NONE",
    kind: "environment",
    template: "failed to write {value} to {file}: {reason}",
  },
  HOSTDEV_PCI_ADDRESS: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template: "'{addr}' is not a PCI address: expected DDDD:BB:SS.F, e.g. 0000:00:1f.2",
  },
  HOSTDEV_PCI_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "NONE",
    kind: "user",
    template: "PCI device {addr} not found: {path} does not exist",
  },
  HOSTDEV_NO_IOMMU_GROUP: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "environment",
    template:
      "no IOMMU group for PCI device {addr}: {path} does not exist (the host has no IOMMU enabled, so VFIO cannot assign the device)",
  },
  HOSTDEV_HOST_DEVICE: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "user",
    template: "PCI device {addr} is used by the host and is never detached: {why}",
  },
  HOSTDEV_GROUP_NOT_VIABLE: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "user",
    template:
      "PCI device {addr} cannot be assigned: its IOMMU group {group} also holds {other}, bound to host driver '{driver}'; every device of the group must be bound to vfio-pci or to no driver (detach {other} with nodedev-detach, or assign it too)",
  },
  HOSTDEV_VFIO_MISSING: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "environment",
    template:
      "VFIO device assignment is not available on this host: the vfio-pci driver is not loaded ({path} does not exist)",
  },
  HOSTDEV_BIND_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "PCI device {addr} did not bind to {driver}: it is on {now} after reprobing; it was put back",
  },
  HOSTDEV_NO_RESET: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template:
      "Unable to reset PCI device {addr}: no FLR, PM reset or bus reset available (no reset attribute)",
  },
  HOSTDEV_NOT_ON_VFIO: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "user",
    template:
      "PCI device {addr} has managed='no' but is {now}: bind it to vfio-pci first (nodedev-detach), or use managed='yes'",
  },
  HOSTDEV_IN_USE: {
    vir: "OPERATION_INVALID",
    domain: "NONE",
    kind: "user",
    template: "PCI device {addr} is in use by driver QEMU, domain {domain}",
  },
  HOSTDEV_USB_NOT_FOUND: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "USB device {what} not found: {where}",
  },
  HOSTDEV_USB_AMBIGUOUS: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "user",
    template:
      "USB device {what} is ambiguous: {count} devices match ({list}); give <address bus= device=/> in the hostdev source",
  },

  // === port allocation (libvirt's virportallocator.c) ===
  PORT_RANGE_EXHAUSTED: {
    vir: "INTERNAL_ERROR",
    domain: "NONE",
    kind: "environment",
    prefix: "operation failed",
    template: "Unable to find an unused port in range '{range}' ({min}-{max}) on {address}",
  },
  PORT_RESERVED: {
    vir: "INTERNAL_ERROR",
    domain: "NONE",
    kind: "user",
    prefix: "operation failed",
    template: "Failed to reserve port {port}: another running domain holds it",
  },
} as const satisfies Catalogue<"NONE">;
