import type { Catalogue } from "./types.ts";

/**
 * Errors of host device passthrough and node devices (`host/sysfs`, `host/hostdev`,
 * `host/nodedev`, the QEMU driver's hostdev preparation and the nodedev commands). Where libvirt
 * has a message for the same failure the wording follows it; each names the device, what was
 * found and what is expected instead.
 */
export const hostdevErrors = {
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
} as const satisfies Catalogue;
