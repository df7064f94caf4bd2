import type { Catalogue } from "./types.ts";

/**
 * Errors of the QEMU driver: capabilities probing, the QMP monitor, accelerators and
 * command-line building. `{name}` is what a monitor belongs to ("domain 'vm1'",
 * "QEMU binary /usr/bin/qemu-system-x86_64"), `{binary}` a QEMU binary path.
 */
export const qemuErrors = {
  // QMP monitor
  QEMU_MONITOR_CONNECT_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "cannot connect to the QEMU monitor of {name} at '{path}': {reason}",
  },
  QEMU_MONITOR_GREETING: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "the QEMU monitor of {name} did not start a QMP session: {reason}",
  },
  QEMU_MONITOR_CLOSED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "connection to the QEMU monitor of {name} was lost: {reason}",
  },
  QEMU_MONITOR_TIMEOUT: {
    vir: "OPERATION_TIMEOUT",
    domain: "QEMU",
    kind: "environment",
    template: "the QEMU monitor of {name} did not answer command '{command}' within {seconds} s",
  },
  QEMU_MONITOR_ABORTED: {
    vir: "OPERATION_ABORTED",
    domain: "QEMU",
    kind: "environment",
    template: "QEMU command '{command}' for {name} was cancelled: {reason}",
  },
  QEMU_MONITOR_PROTOCOL: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "the QEMU monitor of {name} sent invalid data: {reason}",
  },
  /** QEMU answered a command with an error; details carry `qemuClass` and `qemuDesc`. */
  QEMU_COMMAND_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "unable to execute QEMU command '{command}' for {name}: {reason}",
  },

  // Binaries and capabilities probing
  QEMU_BINARY_MISSING: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "Cannot check QEMU binary {binary}: {reason}",
  },
  QEMU_BINARY_NOT_EXECUTABLE: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "QEMU binary {binary} is not executable: {reason}",
  },
  QEMU_PROBE_START_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "QEMU binary {binary} could not be started for probing its capabilities: {reason}",
  },
  QEMU_PROBE_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "failed to probe the capabilities of QEMU binary {binary}: {reason}",
  },
  QEMU_VERSION_TOO_OLD: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "QEMU version >= {required} is required, but {found} found in {binary}",
  },
  QEMU_CAPS_FILE_UNREADABLE: {
    vir: "READ_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "QEMU capabilities file '{path}': {reason}",
  },
  QEMU_CAPS_FILE_INVALID: {
    vir: "XML_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "QEMU capabilities file '{path}' is not valid: {reason}",
  },

  // Accelerators
  KVM_UNAVAILABLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "KVM is not usable on this host: {reason}",
  },

  // Command-line building (drivers/qemu/command)
  QEMU_CMD_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "{element} is not supported: {reason}",
  },
  QEMU_CMD_CAPABILITY_MISSING: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "{element} needs the QEMU capability '{flag}', which {binary} does not have",
  },
  QEMU_CMD_INVALID_VALUE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "invalid {element}: {reason}",
  },
  /**
   * libvirt reports these two with VIR_ERR_INTERNAL_ERROR; the same number keeps API clients'
   * checks working, while the text says what it is: a host without that page size mounted.
   */
  QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE: {
    vir: "INTERNAL_ERROR",
    prefix: "unsupported configuration",
    domain: "QEMU",
    kind: "environment",
    template:
      "memoryBacking hugepages page size {size} KiB is not available on this host: no hugetlbfs is mounted with that page size (mounted sizes: {available})",
  },
  QEMU_CMD_HUGETLBFS_MISSING: {
    vir: "INTERNAL_ERROR",
    prefix: "unsupported configuration",
    domain: "QEMU",
    kind: "environment",
    template:
      "memoryBacking hugepages need a mounted hugetlbfs, but none is mounted (or all are disabled in the configuration)",
  },
  QEMU_CMD_NUMA_NODE_UNAVAILABLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "NUMA node {node} of {element} is not available on this host: available nodes are {available}",
  },
  QEMU_CMD_HOST_MODEL_UNAVAILABLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template:
      "CPU mode 'host-model' for {arch} {virtType} domain is not supported here: no expansion of the host CPU model is available; use mode='host-passthrough' or a named CPU model",
  },
  QEMU_CMD_CONTEXT_MISSING: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "bug",
    template: "building the QEMU command line for {element} needs {what}, which the caller did not prepare",
  },
} as const satisfies Catalogue;
