import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_NODEDEV: node devices. Entries are grouped by the tvirt area that raises
 * them.
 */
export const nodedevErrors = {
  // === host device passthrough and node devices ===
  NODEDEV_NOT_FOUND: {
    vir: "NO_NODE_DEVICE",
    domain: "NODEDEV",
    kind: "user",
    template: "no node device with matching name '{name}'",
  },
  NODEDEV_NOT_PCI: {
    vir: "INVALID_ARG",
    domain: "NODEDEV",
    kind: "user",
    template: "device {name} is not a PCI device: only PCI devices can be detached, re-attached or reset",
  },
  NODEDEV_RESET_BOUND: {
    vir: "OPERATION_INVALID",
    domain: "NODEDEV",
    kind: "user",
    template:
      "PCI device {addr} is bound to host driver '{driver}': detach it (nodedev-detach) before resetting it",
  },
  NODEDEV_DRIVER: {
    vir: "INVALID_ARG",
    domain: "NODEDEV",
    kind: "user",
    template: "unknown driver name '{driver}': only 'vfio' is supported",
  },
  NODEDEV_NO_MDEV: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NODEDEV",
    kind: "environment",
    template:
      "{api}: tvirt creates and defines mediated devices only on a host with an mdev-capable parent device (/sys/class/mdev_bus), and this host has none",
  },
  NODEDEV_NOT_MDEV: {
    vir: "OPERATION_INVALID",
    domain: "NODEDEV",
    kind: "user",
    template:
      "{api}: device '{name}' is not a mediated device (only mdevs can be started, defined or autostarted)",
  },
} as const satisfies Catalogue<"NODEDEV">;
