import type { Catalogue } from "./types.ts";

/**
 * Errors of the cgroup code (`src/host/cgroup.ts`), in libvirt's VIR_FROM_CGROUP: the file or
 * directory of the control group that failed, and why.
 */
export const cgroupErrors = {
  CGROUP_CREATE: {
    vir: "SYSTEM_ERROR",
    domain: "CGROUP",
    kind: "environment",
    template: "Failed to create cgroup '{path}': {reason}",
  },
  CGROUP_WRITE: {
    vir: "SYSTEM_ERROR",
    domain: "CGROUP",
    kind: "environment",
    template: "Unable to write to '{path}': {reason}",
  },
  CGROUP_READ: {
    vir: "SYSTEM_ERROR",
    domain: "CGROUP",
    kind: "environment",
    template: "Unable to read from '{path}': {reason}",
  },
  CGROUP_REMOVE: {
    vir: "SYSTEM_ERROR",
    domain: "CGROUP",
    kind: "environment",
    template: "Unable to remove cgroup '{path}': {reason}",
  },
  /** A value the kernel interface cannot take (libvirt's range checks in vircgroupv1/v2.c). */
  CGROUP_VALUE_RANGE: {
    vir: "INVALID_ARG",
    domain: "CGROUP",
    kind: "user",
    template: "{what} '{value}' must be in range [{min}, {max}]",
  },
  /** The controller a setting needs is not mounted (or not delegated) on this host. */
  CGROUP_NO_CONTROLLER: {
    vir: "OPERATION_INVALID",
    domain: "CGROUP",
    kind: "environment",
    template: "cgroup {controller} controller is not mounted",
  },
  /** The controller is there but lacks the file (e.g. blkio weight without the BFQ/CFQ scheduler). */
  CGROUP_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "CGROUP",
    kind: "environment",
    template: "{what} is not supported by this host's cgroup {controller} controller (no '{file}')",
  },
} as const satisfies Catalogue<"CGROUP">;
