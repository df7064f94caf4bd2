import type { Catalogue } from "./types.ts";

/**
 * Errors of live tuning and statistics (setmem, setmaxmem, setvcpus, dommemstat, domblkstat,
 * domifstat, domstats) and of QEMU monitor events. Where libvirt's QEMU driver reports the same
 * failure the template is libvirt's wording (so stock virsh and tvirsh print the same text).
 */
export const tuningErrors = {
  TUNING_NOT_PERSISTENT: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "transient domains do not have any persistent config",
  },
  TUNING_MEMORY_ABOVE_MAX: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "cannot set memory higher than max memory",
  },
  TUNING_MEMORY_ZERO: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "memory of domain '{name}' must be at least 1 KiB, got {value} KiB",
  },
  TUNING_MAX_MEMORY_LIVE: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot resize the maximum memory on an active domain",
  },
  TUNING_NO_BALLOON: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template:
      "Unable to change memory of active domain without the balloon device and guest OS balloon driver",
  },
  TUNING_NO_BALLOON_PERIOD: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "No memory balloon device configured, can not set the collection period",
  },
  TUNING_BAD_PERIOD: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "invalid value for collection period: {period}, expected 0 (off) or a number of seconds",
  },
  TUNING_VCPU_MAX_LIVE: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "maximum vcpu count of a live domain can't be modified",
  },
  TUNING_VCPU_ABOVE_MAX: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "requested vcpus is greater than max allowable vcpus for the {which} domain: {count} > {max}",
  },
  TUNING_VCPU_ABOVE_HYPERVISOR: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "requested vcpus is greater than max allowable vcpus for the domain: {count} > {max}",
  },
  TUNING_VCPU_ZERO: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "nvcpus in {func} must not be zero",
  },
  TUNING_VCPU_TOPOLOGY: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template:
      "CPU topology doesn't match the desired vcpu count: sockets*dies*cores*threads of domain '{name}' is {total}, requested {count}",
  },
  TUNING_GUEST_AGENT: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "QEMU guest agent is not configured",
  },
  TUNING_VCPU_HOTPLUG_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template:
      "cannot change the vcpu count of running domain '{name}' to {count}: {reason}; use --config to change it for the next boot",
  },
  TUNING_VCPU_UNPLUG_TIMEOUT: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "vcpu unplug request timed out. Unplug result must be manually inspected in the domain",
  },
  TUNING_BLOCK_PATH: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "invalid path: {path}",
  },
  TUNING_BLOCK_SUMMARY: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "TEST",
    kind: "user",
    template: "summary statistics are not supported yet",
  },
  TUNING_BLOCK_NO_STATS: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "cannot find statistics for device '{path}'",
  },
  TUNING_IFACE_UNKNOWN: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "'{device}' is not a known interface",
  },
  TUNING_IFACE_NO_HOST_DEVICE: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "interface '{device}' of domain '{name}' is of type '{type}', which has no host-side device to read statistics from; interface statistics need a tap-backed interface (type network, bridge or ethernet)",
  },
  TUNING_IFACE_NOT_FOUND: {
    vir: "INTERNAL_ERROR",
    prefix: "operation failed",
    domain: "QEMU",
    kind: "environment",
    template: "/proc/net/dev: Interface not found",
  },
  TUNING_STATS_BAD_GROUP: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "Stats types bits 0x{bits} are not supported by this daemon",
  },
  TUNING_MONITOR_EVENT_REGEX: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "failed to compile regex '{regex}': {reason}",
  },
  TUNING_MONITOR_EVENT_CALLBACK: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "qemu monitor event callback {id} not registered",
  },
  TUNING_RPC_LIMIT: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "{what}",
  },
} as const satisfies Catalogue;
