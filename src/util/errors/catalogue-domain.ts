import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_DOMAIN: domain configuration (libvirt's `domain_conf.c`) and the public API's
 * checks of domain calls. Entries are grouped by the tvirt area that raises them.
 */
export const domainErrors = {
  // === conf/: XML syntax, structure and values of libvirt documents ===
  XML_UNEXPECTED_ROOT: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "expected root element <{expected}>, found <{found}>",
  },
  XML_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "missing {what} at {xpath} (line {line})",
  },
  XML_INVALID_VALUE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "invalid value '{value}' for {xpath} (line {line}): {expected}",
  },
  /** libvirt's own words for an attribute that must be an unsigned integer (virXMLPropUInt). */
  XML_PROP_NOT_UINT: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "Invalid value for attribute '{attr}' in element '{element}': '{value}'. Expected non-negative integer value",
  },
  DOMAIN_SHMEM_MSI_NO_SERVER: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "msi option is only supported with a server",
  },
  DOMAIN_SHMEM_SIZE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "shmem size must be a power of 2 and at least 1 MiB (1024 KiB)",
  },
  DOMAIN_SHMEM_SERVER_MODEL: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "shmem model '{model}' is supported only with server option {state}",
  },
  DOMAIN_SHMEM_DOORBELL_SIZE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "shmem model 'ivshmem-doorbell' does not support size setting",
  },
  DOMAIN_CRYPTO_BACKEND_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "missing backend for crypto device",
  },
  CONFIG_UNSUPPORTED: { vir: "CONFIG_UNSUPPORTED", domain: "DOMAIN", kind: "user", template: "{what}" },
  /** A structural rule of the document is broken (duplicates, counts, combinations). */
  /** libvirt's wording for a negative value of an attribute read as a non-negative int. */
  DOMAIN_XML_ATTR_NEGATIVE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "Invalid value for attribute '{attr}' in element '{element}': '{value}'. Expected non-negative value",
  },
  DOMAIN_USB_PORT_PATH_INVALID: {
    vir: "INTERNAL_ERROR",
    prefix: "XML error",
    domain: "DOMAIN",
    kind: "user",
    template:
      "invalid USB port path '{port}' for {xpath} (line {line}): expected 1 to 4 port numbers up to 255 separated by dots, like '1' or '1.2'",
  },
  XML_INVALID: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "{what} at {xpath} (line {line})",
  },
  DOMAIN_INVALID_NAME: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "domain name '{name}' at {xpath} (line {line}) is not valid: {reason}",
  },
  DOMAIN_MEMORY_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Memory size must be specified via <memory> or in the <numa> configuration",
  },
  DOMAIN_MEMORY_TOO_SMALL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "{what} of {size} KiB is too small: at least {min} KiB is expected",
  },
  DOMAIN_DUPLICATE_ADDRESS: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Attempted double use of {address}",
  },
  DOMAIN_NO_ADDRESS_LEFT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "no free {what} is left for {device}",
  },

  // === the public API, the drivers' common checks, the test driver and tvirsh ===
  // --- connections and the public API --------------------------------------------------------
  API_READ_ONLY: {
    vir: "OPERATION_DENIED",
    domain: "DOMAIN",
    kind: "user",
    template: "read only access prevents {api}",
  },
  API_READ_ONLY_SECURE: {
    vir: "OPERATION_DENIED",
    domain: "DOMAIN",
    kind: "user",
    template: "{api} with secure flag",
  },
  API_NO_SUPPORT: { vir: "NO_SUPPORT", domain: "DOMAIN", kind: "environment", template: "{api}" },
  API_CONNECTION_CLOSED: {
    vir: "INVALID_CONN",
    domain: "DOMAIN",
    kind: "user",
    form: "spaced",
    template: "{api}",
  },
  API_INVALID_ARG: { vir: "INVALID_ARG", domain: "DOMAIN", kind: "user", template: "{what}" },
  /** libvirt's virReportInvalidArg for a bad UUID string (printed without prefix). */
  API_INVALID_UUID: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    form: "bare",
    template: "uuidstr in {api} must be a valid UUID",
  },
  /** libvirt's virCheckFlags (printed without prefix). */
  UNSUPPORTED_FLAGS: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    form: "bare",
    template: "unsupported flags (0x{flags}) in function {func}",
  },
  DOMAIN_NOT_RUNNING: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "domain is not running",
  },
  DOMAIN_ALREADY_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "domain '{name}' is already active",
  },
  DOMAIN_BEING_STARTED: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "domain '{name}' is already being started",
  },
  DOMAIN_NAME_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "DOMAIN",
    kind: "user",
    template: "domain '{name}' already exists with uuid {uuid}",
  },
  DOMAIN_UUID_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "DOMAIN",
    kind: "user",
    template: "domain '{name}' is already defined with uuid {uuid}",
  },
  DOMAIN_MANAGED_SAVE_EXISTS: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "Refusing to undefine while domain managed save image exists",
  },
  DOMAIN_MANAGED_SAVE_TRANSIENT: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "cannot do managed save for transient domain",
  },
  // --- domain XML checks with libvirt's wording (test driver) --------------------------------
  DOMAIN_XML_ROOT: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "expecting root element of 'domain', not '{found}'",
  },
  DOMAIN_XML_NAME_MISSING: { vir: "NO_NAME", domain: "DOMAIN", kind: "user", form: "spaced", template: "" },
  DOMAIN_XML_NAME_SLASH: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "name {name} cannot contain '/'",
  },
  DOMAIN_XML_NAME_CHAR: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "invalid char in name: {char}",
  },
  DOMAIN_XML_NAME_CONTROL: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "name {name} contains the control character {char}: domain names may not contain control characters",
  },
  DOMAIN_XML_MEMORY_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Memory size must be specified via <memory> or in the <numa> configuration",
  },
  DOMAIN_XML_UUID: {
    vir: "INTERNAL_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "malformed uuid element",
  },
  DOMAIN_XML_TITLE_NEWLINE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Domain title can't contain newlines",
  },
  DOMAIN_XML_TYPE_MISSING: {
    vir: "INTERNAL_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "missing domain type attribute",
  },
  DOMAIN_XML_OS_TYPE_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "an os <type> must be specified",
  },

  // === domain validation with libvirt's wording (virDomainDefValidate, qemuValidateDomainDef) ===
  // --- disks --------------------------------------------------------------------------------
  DOMAIN_DISK_TARGET_DUPLICATE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "target '{target}' duplicated for disk sources '{first}' and '{second}'",
  },
  DOMAIN_FS_TARGET_DUPLICATE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "filesystem target '{target}' specified twice",
  },
  DOMAIN_DISK_DRIVE_ADDRESS_DUPLICATE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "Found duplicate drive address for disk with target name '{target}' controller='{controller}' bus='{bus}' target='{unitTarget}' unit='{unit}'",
  },
  DOMAIN_DISK_TARGET_PARTITION: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "invalid disk target '{target}', partitions can't appear in disk targets",
  },
  DOMAIN_DISK_ADDRESS_BUS_MISMATCH: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Invalid address type '{addressType}' for the disk '{target}' with the bus type '{bus}'",
  },
  DOMAIN_DISK_LUN_SOURCE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "disk device='lun' is only valid for block type disk source",
  },
  DOMAIN_DISK_SCSI_ONLY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Only scsi disk supports '{what}'",
  },
  DOMAIN_DISK_VPD_TOO_LONG: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "disk {what} is more than {max} characters",
  },
  DOMAIN_DISK_USB_EMPTY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "'usb' disk must not be empty",
  },
  DOMAIN_DISK_SHARED_FORMAT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "shared access for disk '{target}' requires use of supported storage format",
  },
  DOMAIN_DISK_FORMAT_COW: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "'cow' storage format is not supported",
  },
  DOMAIN_DISK_FORMAT_DIR: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead",
  },
  DOMAIN_DISK_FORMAT_ISO: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "storage format 'iso' is not directly supported by QEMU, use 'raw' instead",
  },
  DOMAIN_DISK_NAME_UNKNOWN: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Unknown disk name '{target}' and no address specified",
  },

  DOMAIN_DISK_LUN_ONLY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "{what} can be used only with device='lun'",
  },
  DOMAIN_DISK_SGIO_UNFILTERED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "unfiltered sgio is no longer supported",
  },
  DOMAIN_DISK_LUN_FORMAT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "disk device 'lun' must use 'raw' format",
  },
  DOMAIN_DISK_LUN_PROTOCOL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "disk device='lun' is not supported for protocol='{protocol}'",
  },
  DOMAIN_DISK_MODEL_BUS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "disk model '{model}' not supported for bus '{bus}'",
  },
  DOMAIN_DISK_VIRTIO_ONLY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "{what}",
  },
  DOMAIN_DISK_TRAY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "tray is only valid for cdrom and floppy",
  },
  DOMAIN_DISK_REMOVABLE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "removable is only valid for usb or scsi disks",
  },
  DOMAIN_DISK_THROTTLE_WITH_IOTUNE: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "block 'throttlefilters' can't be used together with 'iotune' for disk '{disk}'",
  },
  DOMAIN_DISK_THROTTLE_GROUP_UNKNOWN: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "throttle filter of disk '{disk}' refers to group '{group}', which is not in <throttlegroups>",
  },

  // --- memory, guest NUMA, numatune ---------------------------------------------------------
  DOMAIN_MEMORY_HOTPLUG_NO_NUMA: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "At least one numa node has to be configured when enabling memory hotplug",
  },
  DOMAIN_NUMA_CELL_ID_RANGE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed",
  },
  DOMAIN_NUMA_CELL_ID_DUPLICATE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Duplicate NUMA cell info for cell id '{id}'",
  },
  DOMAIN_NUMA_SIBLING_UNKNOWN: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "'sibling_id {sibling}' does not refer to a valid cell within NUMA 'cell id {cell}'",
  },
  /** libvirt's virXMLPropEnum wording for an attribute value outside its enumeration. */
  DOMAIN_XML_ATTR_ENUM_INVALID: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Invalid value for attribute '{attribute}' in element '{element}': '{value}'.",
  },
  /** vcpusched/iothreadsched naming a thread another one of them already set. */
  DOMAIN_THREADSCHED_OVERLAP: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "'{element}' attributes '{attribute}' must not overlap",
  },
  DOMAIN_IOTHREADSCHED_UNKNOWN: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Cannot find 'iothread' : {id}",
  },
  DOMAIN_HUGEPAGES_TWO_MASTERS: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "two master hugepages detected: {first} and {second}",
  },
  DOMAIN_HUGEPAGES_NODESETS_INTERSECT: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "nodeset attribute of hugepages of sizes {first} and {second} intersect",
  },
  DOMAIN_HUGEPAGES_NODE_MISSING: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "hugepages: node {node} not found",
  },
  DOMAIN_MEMORY_DEVICE_NO_NUMA: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "can't add memory backend as guest has no NUMA nodes configured",
  },
  DOMAIN_MEMORY_DEVICE_NODE_MISSING: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template:
      "can't add memory backend for guest node '{node}' as the guest has only '{count}' NUMA nodes configured",
  },
  DOMAIN_MEMORY_DEVICE_OVERLAP: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "memory device address [0x{start}:0x{end}] overlaps with other memory device (0x{other})",
  },
  DOMAIN_NUMATUNE_MEMNODE_NO_NUMA: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Element 'memnode' is invalid without any guest NUMA cells",
  },
  DOMAIN_NUMATUNE_MEMNODE_CELL_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell",
  },
  DOMAIN_NUMATUNE_RESTRICTIVE_MEMNODE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element",
  },
  DOMAIN_NUMATUNE_RESTRICTIVE_MEMORY: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "'restrictive' mode is required in memory element when mode is 'restrictive' in memnode element",
  },
  DOMAIN_NUMATUNE_MEMNODE_AUTO: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Per-node binding is not compatible with automatic NUMA placement.",
  },
  DOMAIN_NUMATUNE_STATIC_NO_NODESET: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
  },
  DOMAIN_TSEG_MACHINE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "SMM TSEG is only supported with q35 machine type",
  },
  DOMAIN_TSEG_SIZE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "SMM TSEG size must be divisible by 1 MiB",
  },

  // --- PCI addresses and controllers ---------------------------------------------------------
  DOMAIN_PCI_ADDRESS_PART_RANGE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Invalid PCI address {part}, must be <= {max}",
  },
  DOMAIN_PCI_NO_BUSES: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "No PCI buses available",
  },
  DOMAIN_PCI_ADDRESS_OUT_OF_RANGE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Invalid PCI address {address}. {rule}",
  },
  DOMAIN_PCI_ADDRESS_INCOMPATIBLE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "The device at PCI address {address} cannot be plugged into the PCI controller with index='{bus}'. It requires a controller that accepts a {connect}.",
  },
  DOMAIN_PCI_ADDRESS_NO_HOTPLUG: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "The device at PCI address {address} requires hotplug capability, but the PCI controller with index='{bus}' doesn't support hotplug",
  },
  DOMAIN_PCI_ADDRESS_NOT_INTEGRATED: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "The device at PCI address {address} needs to be an integrated device (bus=0)",
  },
  DOMAIN_PCI_ROOT_MODEL: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "The PCI controller with index='0' must be model='{expected}' for this machine type, but model='{found}' was found instead",
  },
  DOMAIN_PCI_ROOT_INDEX: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "pci-root and pcie-root controllers should have index 0",
  },
  DOMAIN_PCIHOLE64_MACHINE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Setting the 64-bit PCI hole size is not supported for machine '{machine}'",
  },
  DOMAIN_PCI_ROOT_ADDRESS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "pci-root and pcie-root controllers should not have an address",
  },
  DOMAIN_CONTROLLER_INDEX_DUPLICATE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Multiple '{type}' controllers with index '{index}'",
  },
  DOMAIN_PCI_CONTROLLER_NUMA_NODE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template:
      "{model} with index {index} is configured for a NUMA node ({node}) not present in the domain's <cpu><numa> array ({count})",
  },

  // --- other devices -------------------------------------------------------------------------
  DOMAIN_VIDEO_PRIMARY_MULTIPLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Only one primary video device is supported",
  },
  DOMAIN_VIDEO_NONE_NOT_ALONE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "a 'none' video type must be the only video device defined for the domain",
  },
  DOMAIN_VIDEO_RAMFB_ADDRESS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "address not supported for video type ramfb",
  },
  DOMAIN_IOMMU_EXTRA_ATTRIBUTES: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "iommu model '{model}' doesn't support additional attributes",
  },
  DOMAIN_IOMMU_ADDRESS: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "iommu model '{model}' can't have address",
  },
  DOMAIN_IOMMU_MACHINE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "IOMMU device: '{model}' is only supported with {machines}",
  },
  DOMAIN_IOMMU_NEEDS_PCI_ADDRESS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "IOMMU device: '{model}' needs a PCI address",
  },
  DOMAIN_IOMMU_NEEDS_ACPI: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "IOMMU device: '{model}' requires ACPI",
  },
  DOMAIN_GRAPHICS_EGL_HEADLESS_PAIR: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "graphics type 'egl-headless' is only supported with one of: 'vnc', 'spice' graphics types",
  },
  DOMAIN_GRAPHICS_MULTIPLE_GL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "multiple OpenGL displays are not supported by QEMU",
  },
  DOMAIN_PS2_INPUT_DISABLED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "ps2 bus inputs require the ps2 feature not to be disabled",
  },
  DOMAIN_VMPORT_PS2_DISABLED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "vmport feature requires the ps2 feature not to be disabled",
  },
  DOMAIN_NET_PORT_FORWARD_BACKEND: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "The <portForward> element can only be used with the 'passt' backend of interface type='user' or type='vhostuser'",
  },
  DOMAIN_NET_QUEUE_SIZE_POW2: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "{what} has to be a power of two",
  },
  DOMAIN_CHR_RECONNECT_TIMEOUT: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "chardev reconnect source timeout cannot be '{timeout}'",
  },
  DOMAIN_CHR_TCP_PROTOCOL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "tcp chardev protocol '{protocol}' not supported",
  },
  DOMAIN_HOSTDEV_DUPLICATE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Hostdev already exists in the domain configuration",
  },
  DOMAIN_HOSTDEV_RAMFB_MULTIPLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Only one vgpu device can have 'ramfb' enabled",
  },
  DOMAIN_HOSTDEV_DISPLAY_NO_GRAPHICS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "graphics device is needed for attribute value 'display=on' in <hostdev>",
  },
  DOMAIN_CONTROLLER_IOTHREAD: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "'iothread' attribute only supported for virtio scsi controllers",
  },

  // --- firmware, boot, machine features ------------------------------------------------------
  DOMAIN_FW_ENROLLED_KEYS_NO_SECURE_BOOT: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template:
      "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled",
  },
  DOMAIN_FW_NVRAM_UNSUPPORTED: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "firmware type '{firmware}' does not support nvram",
  },
  DOMAIN_FW_FEATURES_WITHOUT_AUTOSELECT: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "cannot use feature-based firmware autoselection when firmware autoselection is disabled",
  },
  DOMAIN_FW_LOADER_NO_PATH: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "no loader path specified and firmware auto selection disabled",
  },
  DOMAIN_FW_STATELESS_NVRAM_TEMPLATE: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "NVRAM template is not permitted when loader is stateless",
  },
  DOMAIN_FW_STATELESS_NVRAM: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "NVRAM is not permitted when loader is stateless",
  },
  DOMAIN_FW_NVRAM_NEEDS_PFLASH: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "Only pflash loader type permits NVRAM",
  },
  DOMAIN_FW_NVRAM_NEEDS_EFI: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "Only EFI firmware permits NVRAM",
  },
  DOMAIN_FW_UEFI_NEEDS_ACPI: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "UEFI requires ACPI on this architecture",
  },
  DOMAIN_BOOT_MENU_TIMEOUT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "invalid value for boot menu timeout, must be in range [0,65535]",
  },
  DOMAIN_BIOS_REBOOT_TIMEOUT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "invalid value for rebootTimeout, must be in range [-1,65535]",
  },
  DOMAIN_FEATURE_MACHINE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "The '{feature}' feature is not supported for architecture '{arch}' or machine type '{machine}'",
  },
  DOMAIN_SERIAL_TARGET_MACHINE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "Serial device with target type '{type}' and target model '{model}' not compatible with guest architecture or machine type",
  },
  DOMAIN_INPUT_TRANSITIONAL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "virtio (non-)transitional models are not supported for input type={type}",
  },

  // --- sysinfo (SMBIOS tables, fw_cfg files) --------------------------------------------------
  DOMAIN_SYSINFO_TYPE_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "sysinfo must contain a type attribute",
  },
  DOMAIN_SYSINFO_TYPE_UNKNOWN: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "unknown sysinfo type '{type}': expected smbios or fwcfg",
  },
  DOMAIN_SYSINFO_BIOS_DATE: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "Invalid BIOS 'date' format",
  },
  DOMAIN_SYSINFO_UUID_MALFORMED: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "malformed <sysinfo> uuid element",
  },
  DOMAIN_SYSINFO_UUID_MISMATCH: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "UUID mismatch between <uuid> and <sysinfo>",
  },
  DOMAIN_SYSINFO_FWCFG_NAME: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Firmware entry is missing 'name' attribute",
  },
  DOMAIN_SYSINFO_FWCFG_NO_VALUE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Firmware entry '{name}' must have either value or 'file' attribute",
  },
  DOMAIN_SYSINFO_FWCFG_BOTH: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Firmware entry '{name}' can't have both value and 'file' attribute",
  },

  // --- CPU, storage protocols, TPM ----------------------------------------------------------
  DOMAIN_CPU_CACHE_EMULATE_LEVEL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "CPU cache mode '{mode}' can only be used with level='3'",
  },
  DOMAIN_CPU_CACHE_PASSTHROUGH_MODE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "CPU cache mode '{mode}' can only be used with 'host-passthrough' / 'maximum' CPUs",
  },
  DOMAIN_CPU_CACHE_LEVEL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "unsupported CPU cache level for mode '{mode}'",
  },
  DOMAIN_DISK_PROTOCOL_SHEEPDOG: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "'sheepdog' protocol is no longer supported by any hypervisor driver",
  },
  DOMAIN_TPM_BACKEND_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "missing TPM device backend",
  },

  // --- USB ---------------------------------------------------------------------------------
  DOMAIN_USB_DISABLED_CONTROLLER: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "Can't add another USB controller: USB is disabled for this domain",
  },
  DOMAIN_USB_DISABLED_HUB: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Can't add USB hub: USB is disabled for this domain",
  },
  DOMAIN_USB_DISABLED_INPUT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Can't add USB input device. USB bus is disabled",
  },
  DOMAIN_USB_DISABLED_REDIRDEV: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "cannot add redirected USB device: USB is disabled for this domain",
  },
  DOMAIN_USB_NO_MASTER: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "No master USB controller specified",
  },
  DOMAIN_USB_ADDRESS_DUPLICATE: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Duplicate USB address bus {bus} port {port}",
  },
  DOMAIN_USB_ADDRESS_NO_HUB: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "there is no hub at port {hub} in USB address bus: {bus} port: {port}",
  },
  DOMAIN_USB_PORT_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "requested USB port {port} not present on USB bus {bus}",
  },
  DOMAIN_USB_BUS_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "USB bus {bus} requested but no controller with that index is present",
  },
  DOMAIN_DISK_TARGET_MISSING: {
    vir: "NO_TARGET",
    domain: "DOMAIN",
    kind: "user",
    form: "bare",
    template: "missing target information for device {path}",
  },

  // --- sets ----------------------------------------------------------------------------------
  DOMAIN_BITMAP_INVALID: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "Failed to parse bitmap '{value}'",
  },
  DOMAIN_NUMATUNE_NODESET_INVALID: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Invalid value of 'nodeset': {nodeset}",
  },

  DOMAIN_VHOSTUSER_SHARED_MEMORY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "'{device}' requires shared memory",
  },

  // --- host devices and expander buses --------------------------------------------------------
  DOMAIN_HOSTDEV_MDEV_UUID_MISSING: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Missing 'uuid' attribute for element <address>",
  },
  DOMAIN_HOSTDEV_MDEV_ADDRESS: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Unsupported address type '{addressType}' with mediated device model '{model}'",
  },
  DOMAIN_HOSTDEV_SCSI_ADDRESS_DUPLICATE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "SCSI host address controller='{controller}' bus='{bus}' target='{target}' unit='{unit}' in use by another SCSI host device",
  },
  DOMAIN_HOSTDEV_SCSI_ADDRESS_DISK: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "SCSI host address controller='{controller}' bus='{bus}' target='{target}' unit='{unit}' in use by another SCSI disk",
  },
  DOMAIN_DISK_SCSI_HOSTDEV_CONFLICT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template:
      "using disk target name '{target}' conflicts with SCSI host device address controller='{controller}' bus='{bus}' target='{unitTarget}' unit='{unit}",
  },
  DOMAIN_EXPANDER_BUS_MACHINE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "{model} controllers are not supported with this machine type",
  },

  DOMAIN_EMULATOR_ARCH_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Emulator '{emulator}' does not support arch '{arch}'",
  },
  DOMAIN_EMULATOR_VIRT_TYPE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Emulator '{emulator}' does not support virt type '{type}'",
  },

  // --- libvirt says "internal error" for these user mistakes: its number, our kind of problem -----
  DOMAIN_CHR_SOURCE_ATTR_MISSING: {
    vir: "INTERNAL_ERROR",
    prefix: "XML error",
    domain: "DOMAIN",
    kind: "user",
    template: "Missing source {attr} attribute for char device",
  },
  DOMAIN_CHR_RECONNECT_LISTEN: {
    vir: "INTERNAL_ERROR",
    prefix: "unsupported configuration",
    domain: "DOMAIN",
    kind: "user",
    template: "chardev reconnect is possible only for connect mode",
  },
  DOMAIN_PCI_CONTROLLER_NO_SLOT: {
    vir: "INTERNAL_ERROR",
    prefix: "unsupported configuration",
    domain: "DOMAIN",
    kind: "user",
    template:
      "a PCI slot is needed to connect a PCI controller model='{model}', but none is available, and it cannot be automatically added",
  },
  DOMAIN_BOOT_LOADPARM_LENGTH: {
    vir: "INTERNAL_ERROR",
    prefix: "XML error",
    domain: "DOMAIN",
    kind: "user",
    template: "loadparm value '{value}' must be between 1 and 8 characters",
  },
  DOMAIN_BOOT_LOADPARM_CHARS: {
    vir: "INTERNAL_ERROR",
    prefix: "XML error",
    domain: "DOMAIN",
    kind: "user",
    template: "invalid loadparm value '{value}', expecting chars in set of [a-zA-Z0-9.] and blank spaces",
  },
  DOMAIN_DISK_USB_ADDRESS: {
    vir: "INTERNAL_ERROR",
    prefix: "unsupported configuration",
    domain: "DOMAIN",
    kind: "user",
    template: "unexpected address type for usb disk",
  },

  DOMAIN_ZPCI_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "This QEMU binary doesn't support zPCI",
  },

  DOMAIN_HOSTDEV_SCSI_ONLY_ATTR: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "{attr} is only supported for scsi host device",
  },
  DOMAIN_HOSTDEV_VHOST_SCSI_BOOT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "booting from assigned devices is not supported by vhost SCSI devices",
  },

  // --- security labels -------------------------------------------------------------------------
  DOMAIN_SECLABEL_MODEL_DUPLICATE: {
    vir: "XML_DETAIL",
    domain: "DOMAIN",
    kind: "user",
    template: "seclabel for model {model} is already provided",
  },
  DOMAIN_SECLABEL_MODEL_MISSING: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "missing security model when using multiple labels",
  },
  DOMAIN_SECLABEL_RELABEL_WITHOUT_LABEL: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "Cannot specify relabel if label is missing. model={model}",
  },

  // === device hotplug ===
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

  // === live tuning, statistics and QEMU monitor events ===
  TUNING_NOT_PERSISTENT: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "transient domains do not have any persistent config",
  },
  TUNING_VCPU_ZERO: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "nvcpus in {func} must not be zero",
  },
  // === snapshots (libvirt's snapshot_conf.c, virdomainmomentobjlist.c, drivers' lookups) ===
  SNAPSHOT_NOT_FOUND: {
    vir: "NO_DOMAIN_SNAPSHOT",
    domain: "DOMAIN",
    kind: "user",
    template: "no domain snapshot with matching name '{name}'",
  },
  SNAPSHOT_NO_CURRENT: {
    vir: "NO_DOMAIN_SNAPSHOT",
    domain: "DOMAIN",
    kind: "user",
    template: "the domain does not have a current snapshot",
  },
  SNAPSHOT_NO_PARENT: {
    vir: "NO_DOMAIN_SNAPSHOT",
    domain: "DOMAIN",
    kind: "user",
    template: "snapshot '{name}' does not have a parent",
  },
  SNAPSHOT_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "DOMAIN",
    kind: "user",
    template: "domain moment {name} already exists",
  },
  SNAPSHOT_XML_INVALID: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "domain snapshot {what} at {xpath} (line {line})",
  },
  SNAPSHOT_UNDEFINE_HAS_SNAPSHOTS: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "cannot delete inactive domain with {count} snapshots",
  },
  SNAPSHOT_UNSUPPORTED: { vir: "CONFIG_UNSUPPORTED", domain: "DOMAIN", kind: "user", template: "{what}" },
  // === issue 20: vCPU threads, metadata, guest time, interface addresses ===
  DOMAIN_METADATA_NOT_FOUND: {
    vir: "NO_DOMAIN_METADATA",
    domain: "DOMAIN",
    kind: "user",
    template: "Requested metadata element is not present",
  },
  DOMAIN_METADATA_NEEDS_URI: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "metadata of type 'element' needs a namespace URI (virDomain{op}Metadata)",
  },
  DOMAIN_METADATA_NEEDS_KEY: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "namespace key is required when modifying metadata",
  },
  DOMAIN_METADATA_BAD_KEY: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template:
      "invalid namespace key '{key}' for metadata: expected an XML name prefix (a letter or '_', then letters, digits, '_', '-' or '.')",
  },
  DOMAIN_METADATA_BAD_TYPE: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "unknown metadata type '{type}': 0 (description), 1 (title) or 2 (element)",
  },
  DOMAIN_TITLE_NEWLINE: {
    vir: "INVALID_ARG",
    domain: "DOMAIN",
    kind: "user",
    template: "Domain title can't contain newlines",
  },
  DOMAIN_VCPUS_INACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "DOMAIN",
    kind: "user",
    template: "cannot list vcpus for an inactive domain",
  },
  DOMAIN_ADDR_SOURCE: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "Unknown IP address data source {source}",
  },
} as const satisfies Catalogue<"DOMAIN">;
