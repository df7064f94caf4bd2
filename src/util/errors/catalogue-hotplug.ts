import type { Catalogue } from "./types.ts";

/**
 * Errors of device hotplug (attach/detach/update device, `drivers/qemu/driver/hotplug.ts`,
 * `conf/domain/device-snippet.ts`). Where libvirt's QEMU driver has a message for the same
 * failure the template is libvirt's wording, so tvirsh prints what virsh prints.
 */
export const hotplugErrors = {
  HOTPLUG_TRANSIENT_CONFIG: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "transient domains do not have any persistent config",
  },
  HOTPLUG_SNIPPET_INVALID: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "{document}: {reason}",
  },
  HOTPLUG_DEVICE_KIND_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "{action} of device '{kind}' is not supported{where}: supported are {allowed}",
  },
  HOTPLUG_TARGET_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "target {target} already exists",
  },
  HOTPLUG_DEVICE_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "{device} already exists in domain '{name}'",
  },
  HOTPLUG_BUS_NOT_HOTPLUGGABLE: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "disk bus '{bus}' cannot be hotplugged (disk {target}): a running guest takes disks on bus {allowed}; use --config to add it at next boot",
  },
  HOTPLUG_CONTROLLER_NEEDED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "{device} needs a new {controller} controller, which cannot be hotplugged together with it; add the controller first or use --config",
  },
  HOTPLUG_SOURCE_MISSING: {
    vir: "NO_SOURCE",
    domain: "QEMU",
    kind: "user",
    template: "disk {target}: source '{path}' does not exist",
  },
  HOTPLUG_DISK_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "QEMU",
    kind: "user",
    template: "disk {target} not found",
  },
  HOTPLUG_CONFIG_TARGET_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "QEMU",
    kind: "user",
    template: "no target device {target}",
  },
  HOTPLUG_NET_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "QEMU",
    kind: "user",
    template: "no device matching MAC address {mac} found",
  },
  HOTPLUG_NET_AMBIGUOUS: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "multiple devices matching MAC address {mac} found",
  },
  HOTPLUG_HOSTDEV_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "QEMU",
    kind: "user",
    template: "host {what} device {id} not found",
  },
  HOTPLUG_DEVICE_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "QEMU",
    kind: "user",
    template: "matching {kind} device was not found",
  },
  HOTPLUG_UPDATE_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "cannot modify field '{field}' of the disk {target}: only the media of a cdrom or floppy can change on a running guest",
  },
  HOTPLUG_UPDATE_KIND: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "disk {target} is a {device}: only the media of a cdrom or floppy disk can be changed",
  },
  HOTPLUG_DETACH_TIMEOUT: {
    vir: "OPERATION_TIMEOUT",
    domain: "QEMU",
    kind: "environment",
    template:
      "the guest did not release device '{alias}' of domain '{name}' within {seconds} s: the detach request stays pending and the device leaves the live definition when the guest releases it",
  },
  HOTPLUG_DETACH_PENDING: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "unplug of device '{alias}' of domain '{name}' is already in progress",
  },
} as const satisfies Catalogue;
