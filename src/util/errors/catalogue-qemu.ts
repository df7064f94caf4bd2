import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_QEMU: the QEMU driver (capabilities, monitor, command line, domain
 * management, hotplug, tuning). Entries are grouped by the tvirt area that raises them.
 */
export const qemuErrors = {
  // === QEMU capabilities probing, the QMP monitor, accelerators and command-line building ===
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
  // Firmware selection from descriptors (drivers/qemu/firmware-select.ts)
  FIRMWARE_NOT_FOUND: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "Unable to find '{firmware}' firmware that is compatible with the current configuration",
  },
  FIRMWARE_NVRAM_CREATE: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "cannot create the NVRAM file '{path}' from its template '{template}': {reason}",
  },
  FIRMWARE_LOADER_FORMAT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "Unsupported loader format '{format}'",
  },
  FIRMWARE_NVRAM_FORMAT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "Unsupported nvram format '{format}'",
  },
  /** A memory size too large to round up to QEMU's alignment (qemuDomainAlignMemorySizes). */
  QEMU_CMD_MEMORY_ALIGN_OVERFLOW: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "{what} overflowed after alignment",
  },
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
  /** A USB controller left without a model: QEMU lacks the default one (qemuBuildControllerDevProps). */
  QEMU_USB_MODEL_MISSING: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "no model provided for USB controller",
  },
  QEMU_USB_MODEL_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "USB controller model '{model}' not supported in this QEMU binary",
  },
  QEMU_NET_TAP_PATH_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "interface {mac} - custom tap device path is not supported for network interfaces of type {type}",
  },
  QEMU_SHMEM_ADDRESS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "only 'pci' addresses are supported for the shared memory device",
  },
  QEMU_SHMEM_LEGACY: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "'ivshmem' device is not supported with this QEMU binary",
  },
  // Running QEMU as an unprivileged user (qemu.conf's user/group, libvirt's DAC driver)
  QEMU_DAC_USER_MISSING: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "environment",
    template:
      "cannot run QEMU as user '{user}': no such user. Create it (useradd --system --no-create-home --shell /usr/sbin/nologin {user}, as scripts/setup does) or set another with 'user' (and 'group') in tvirtd.conf ('user = \"root\"' runs QEMU as root)",
  },
  QEMU_DAC_GROUP_MISSING: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "environment",
    template:
      "cannot run QEMU as user '{user}' with group '{group}': no such group. Create it or set another with 'group' in tvirtd.conf",
  },
  QEMU_DAC_TUN_DENIED: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "environment",
    template:
      "interface {alias} of domain '{name}' needs /dev/net/tun, which QEMU running as user '{user}' cannot open (mode {mode}, owner {owner}): make it readable and writable by that user (mode 0666, as udev sets it on most systems), use <interface type='user'> or type='direct', or run QEMU as root ('user = \"root\"' in tvirtd.conf)",
  },
  QEMU_DAC_KVM_DENIED: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "environment",
    template:
      "domain '{name}' needs {path}, which QEMU running as user '{user}' cannot open (mode {mode}, owner {owner}): set 'group = \"{group}\"' in tvirtd.conf (QEMU runs without supplementary groups), or use <domain type='qemu'>",
  },
  QEMU_NET_SLIRP_PORT_FORWARD: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "interface {mac}: <portForward proto='{proto}'> cannot be mapped to a SLIRP host forward (type='user' without the passt backend): {reason}",
  },
  QEMU_NET_TAP_EXISTS: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "interface {mac}: tap device '{dev}' already exists; name a free one, or say <target dev='{dev}' managed='no'/> to use the existing tap",
  },
  QEMU_NET_UNMANAGED_TAP_MISSING: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "target managed='no' but specified dev doesn't exist",
  },
  QEMU_NET_UNMANAGED_TAP_NO_DEV: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "target dev must be supplied when managed='no'",
  },
  QEMU_NET_BRIDGE_HELPER_DENIED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "interface {mac}: qemu-bridge-helper may not use bridge '{bridge}': {reason}; as root, add the line 'allow {bridge}' to {conf}",
  },
  QEMU_NET_BRIDGE_HELPER_MISSING: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template:
      "interface {mac}: an unprivileged guest reaches bridge '{bridge}' through qemu-bridge-helper, and '{helper}' {reason}",
  },
  QEMU_NET_DIRECT_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "interface {mac}: cannot create a macvtap device in mode '{mode}' on '{parent}': {reason}",
  },
  QEMU_GRAPHICS_NETWORK_NO_ADDRESS: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "graphics listen network '{network}' has no IP address to listen on",
  },
  QEMU_PS2_STATE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "ps2 feature state cannot be controlled with this QEMU binary",
  },
  QEMU_VIRTIO_BLK_SCSI_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "This QEMU doesn't support SCSI emulation with 'virtio-blk' device",
  },
  QEMU_CPU_MODE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "CPU mode '{mode}' for {arch} {type} domain on {hostArch} host is not supported by hypervisor",
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
  /** libvirt calls a wrong number of hosts for a network disk an internal error; its number is kept. */
  QEMU_CMD_DISK_HOST_COUNT: {
    vir: "INTERNAL_ERROR",
    prefix: "unsupported configuration",
    domain: "QEMU",
    kind: "user",
    template: "{protocol} protocol accepts only one host",
  },
  QEMU_CMD_NUMA_NODE_UNAVAILABLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "NUMA node {node} is unavailable",
  },
  QEMU_CMD_HOST_MODEL_UNAVAILABLE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template:
      "CPU mode 'host-model' for {arch} {virtType} domain is not supported here: no expansion of the host CPU model is available; use mode='host-passthrough' or a named CPU model",
  },
  QEMU_CMD_HOST_BACKEND_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "{element}: {what} is not supported by tvirt's QEMU driver yet; {hint}",
  },
  QEMU_VDPA_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template:
      "interface '{alias}': vDPA devices ({device}) are not supported by tvirt's QEMU driver yet; use a vhost-user or tap-backed interface",
  },
  QEMU_CMD_CONTEXT_MISSING: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "bug",
    template: "building the QEMU command line for {element} needs {what}, which the caller did not prepare",
  },

  // === the QEMU driver's domain management and the job lock ===
  // --- connections and driver state ----------------------------------------------------------
  QEMU_URI_PATH: {
    vir: "INTERNAL_ERROR",
    prefix: "invalid argument",
    domain: "QEMU",
    kind: "user",
    template:
      "unexpected QEMU URI path '{path}', try qemu:///system, qemu:///session or qemu:///embed?root=DIR",
  },
  QEMU_EMBED_ROOT_MISSING: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "root parameter required for embedded driver: use qemu:///embed?root=/absolute/dir",
  },
  QEMU_EMBED_ROOT_RELATIVE: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "root parameter '{root}' of the embedded driver must be an absolute path",
  },
  QEMU_DAEMON_REQUIRED: {
    vir: "NO_CONNECT",
    domain: "QEMU",
    kind: "environment",
    form: "spaced",
    template:
      "{uri}: this URI is served by the tvirtd daemon, which this build cannot reach yet; use qemu:///embed?root=DIR to run guests in this process",
  },
  QEMU_ROOT_IN_USE: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template:
      "the QEMU driver state in '{dir}' is in use by another process (pid {pid}); only one process may manage a driver root at a time",
  },
  QEMU_STATUS_INVALID: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "status file '{path}' cannot be used: {reason}",
  },
  // --- lookups (qemuDomainObjFromDomain and the lookup APIs) ----------------------------------
  QEMU_NO_DOMAIN_NAME: {
    vir: "NO_DOMAIN",
    domain: "QEMU",
    kind: "user",
    template: "no domain with matching name '{name}'",
  },
  QEMU_NO_DOMAIN_UUID: {
    vir: "NO_DOMAIN",
    domain: "QEMU",
    kind: "user",
    template: "no domain with matching uuid '{uuid}'",
  },
  QEMU_NO_DOMAIN_HANDLE: {
    vir: "NO_DOMAIN",
    domain: "QEMU",
    kind: "user",
    template: "no domain with matching uuid '{uuid}' ({name})",
  },
  QEMU_NO_DOMAIN_ID: {
    vir: "NO_DOMAIN",
    domain: "QEMU",
    kind: "user",
    template: "no domain with matching id {id}",
  },
  // --- state checks ------------------------------------------------------------------------
  QEMU_DOMAIN_ALREADY_RUNNING: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "domain is already running",
  },
  QEMU_DOMAIN_PMSUSPENDED: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "domain is pmsuspended",
  },
  QEMU_AUTOSTART_TRANSIENT: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot set autostart for transient domain",
  },
  QEMU_UNDEFINE_TRANSIENT: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot undefine transient domain",
  },
  QEMU_UNDEFINE_NVRAM: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot undefine domain with nvram",
  },
  QEMU_AGENT_NOT_CONFIGURED: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "QEMU guest agent is not configured",
  },
  // === the guest agent (src/drivers/qemu/agent) ===
  QEMU_AGENT_NOT_CONNECTED: {
    vir: "AGENT_UNRESPONSIVE",
    domain: "QEMU",
    kind: "environment",
    prefix: "Guest agent is not responding",
    template: "QEMU guest agent is not connected",
  },
  QEMU_AGENT_TIMEOUT: {
    vir: "AGENT_UNRESPONSIVE",
    domain: "QEMU",
    kind: "environment",
    prefix: "Guest agent is not responding",
    template: "Guest agent not available for now",
  },
  QEMU_AGENT_EOF: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "End of file from agent socket",
  },
  QEMU_AGENT_COMMAND_FAILED: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "unable to execute QEMU agent command '{command}': {reason}",
  },
  QEMU_AGENT_BAD_REPLY: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "malformed return value of QEMU agent command '{command}': {reason}",
  },
  QEMU_AGENT_BAD_JSON: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "cannot parse json {text}: {reason}",
  },
  QEMU_AGENT_BAD_TIMEOUT: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "guest agent timeout '{timeout}' is less than '{min}'",
  },
  QEMU_AGENT_THAW_MOUNTPOINTS: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "specifying mountpoints is not supported",
  },
  QEMU_GUEST_QUIT: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "domain '{name}': guest unexpectedly quit during {operation}",
  },
  QEMU_MONITOR_UNAVAILABLE: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template:
      "the QEMU monitor of domain '{name}' is not connected right now (it is being re-established); try the {operation} again",
  },
  QEMU_SHUTDOWN_IGNORED: {
    vir: "OPERATION_TIMEOUT",
    domain: "QEMU",
    kind: "environment",
    template:
      "domain '{name}' is still running {seconds} s after the ACPI power button was pressed: the guest ignores it (no ACPI support, or no handler such as acpid running); use destroy to stop it",
  },
  QEMU_DESTROY_FAILED: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "environment",
    template: "Failed to terminate process {pid} with {signal}: Device or resource busy",
  },
  // --- checks before start -----------------------------------------------------------------
  QEMU_VIRT_TYPE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "domain type '{type}' is not supported by the QEMU driver: expected 'qemu' (TCG) or 'kvm'",
  },
  QEMU_ARCH_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "emulator '{emulator}' does not support arch '{arch}' (it runs {emulatorArch} guests)",
  },
  QEMU_MACHINE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "Emulator '{emulator}' does not support machine type '{machine}'",
  },
  QEMU_HPB_MACHINE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "Emulator '{emulator}' does not support machine type '{machine}': it stands for '{base}' with host-phys-bits on, and this emulator has no '{base}'",
  },
  QEMU_VIRTIOFSD_MISSING: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template:
      "virtiofs filesystem '{tag}' needs virtiofsd, which was not found (looked for {tried}): install the 'virtiofsd' package, or on Debian 12 'qemu-system-common', or name the binary in <binary path='...'/>",
  },
  QEMU_VIRTIOFSD_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "virtiofsd of filesystem '{tag}' ended before it listened ({status}); its log: {log}",
  },
  QEMU_VIRTIOFSD_TIMEOUT: {
    vir: "OPERATION_TIMEOUT",
    domain: "QEMU",
    kind: "environment",
    template: "virtiofsd of filesystem '{tag}' made no socket at {path} within {seconds} s",
  },
  QEMU_SWTPM_MISSING: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template:
      "emulated TPM '{alias}' of domain '{domain}' needs {binary}, which was not found: install the 'swtpm' and 'swtpm-tools' packages",
  },
  QEMU_SWTPM_SETUP_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "Could not run '{binary}'. exitstatus: {status}; Check error log '{log}' for details.",
  },
  QEMU_SWTPM_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "swtpm of TPM '{alias}' ended before it listened ({status}); its log: {log}",
  },
  QEMU_SWTPM_TIMEOUT: {
    vir: "OPERATION_TIMEOUT",
    domain: "QEMU",
    kind: "environment",
    template: "swtpm made no control socket at {path} within {seconds} s",
  },
  QEMU_TPM_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "domain '{domain}': TPM '{alias}': {what}",
  },
  QEMU_TPM_CANCEL_PATH: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "No usable sysfs TPM cancel file could be found (for the host TPM '{path}')",
  },
  QEMU_VIRTIOFS_SOURCE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "domain '{domain}': the source of virtiofs filesystem '{tag}' is not a directory: '{source}'",
  },
  QEMU_HUGEPAGES_SHORT: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template:
      "domain '{domain}' needs {pages} huge pages of {size} on {where}, but only {free} are free: reserve {more} more (raise {file})",
  },
  QEMU_PHYS_BITS_RANGE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "domain '{name}': <maxphysaddr mode='emulate' bits='{bits}'/> is out of range: QEMU gives an x86 vCPU {min} to {max} physical address bits",
  },
  QEMU_FILE_MISSING: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "Cannot access {what} '{path}' of domain '{name}': {reason}",
  },
  QEMU_FILES_MISSING: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "Cannot access {count} files of domain '{name}': {list}",
  },
  // --- <disk type='volume'>: the pool's volume resolved at start and hotplug -----------------
  QEMU_VOLUME_NO_POOL: {
    vir: "NO_STORAGE_POOL",
    domain: "QEMU",
    kind: "user",
    template: "no storage pool with matching name '{pool}'",
  },
  QEMU_VOLUME_NO_VOLUME: {
    vir: "NO_STORAGE_VOL",
    domain: "QEMU",
    kind: "user",
    template: "no storage vol with matching name '{volume}' in pool '{pool}'",
  },
  QEMU_VOLUME_POOL_INACTIVE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "storage pool '{pool}' containing volume '{volume}' is not active",
  },
  QEMU_VOLUME_POOL_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "volumes of storage pool '{pool}' (type '{poolType}') cannot be used by a QEMU guest here: {reason}",
  },
  QEMU_VOLUME_MODE: {
    vir: "XML_ERROR",
    domain: "QEMU",
    kind: "user",
    template:
      "disk {target}: disk source mode is only valid when storage pool is of iscsi type (pool '{pool}' is '{poolType}')",
  },
  QEMU_VOLUME_MODE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "disk {target}: source mode '{mode}' (QEMU's own iSCSI initiator) is not supported; use mode 'host' or leave it out",
  },
  QEMU_VOLUME_STARTUP_POLICY: {
    vir: "XML_ERROR",
    domain: "QEMU",
    kind: "user",
    template:
      "disk {target}: 'startupPolicy' is only valid for 'file' type volume (volume '{volume}' is '{type}')",
  },
  // --- starting QEMU -----------------------------------------------------------------------
  QEMU_START_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "domain '{name}': QEMU exited while starting: {reason}",
  },
  // --- save / restore ----------------------------------------------------------------------
  QEMU_SAVE_IMAGE_OPEN: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "Failed to open domain image file '{path}': {reason}",
  },
  QEMU_SAVE_IMAGE_INVALID: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "'{path}' is not a domain save image: {reason}",
  },
  QEMU_SAVE_IMAGE_INCOMPLETE: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "save image is incomplete",
  },
  // migration (migration.ts)
  QEMU_MIGRATION_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "migration {phase} failed: {reason}",
  },
  QEMU_MIGRATION_INVALID: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "{reason}",
  },
  QEMU_MIGRATION_UNSUPPORTED: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "{reason}",
  },
  QEMU_SAVE_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "saving domain '{name}' to '{path}' failed: {reason}",
  },
  // --- jobs and migration tuning (drivers/qemu/driver/jobs.ts; libvirt's qemuDomainAbortJob,
  // qemuDomainMigrateSet*); the migration preflight (migration-preflight.ts)
  JOB_NONE_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "no job is active on the domain",
  },
  JOB_ABORT_INCOMING: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot abort incoming migration; use virDomainDestroy instead",
  },
  JOB_ABORT_NOT_POSTCOPY: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "current job is not outgoing migration in post-copy mode",
  },
  JOB_ABORT_POSTCOPY: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot abort migration in post-copy mode",
  },
  JOB_CANCELED_BY_CLIENT: {
    vir: "OPERATION_ABORTED",
    domain: "QEMU",
    kind: "user",
    template: "{job} job: canceled by client",
  },
  MIGRATE_BANDWIDTH_TOO_BIG: {
    vir: "OVERFLOW",
    domain: "QEMU",
    kind: "user",
    template: "bandwidth must be less than {max}",
  },
  MIGRATE_PARAM_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "environment",
    template: "{what} is not supported by QEMU binary",
  },
  MIGRATE_PREFLIGHT: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "cannot migrate domain '{name}' to this host: {problems}",
  },
  QEMU_RESTORE_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "restoring domain '{name}' from '{path}' failed: {reason}",
  },
  QEMU_SAVE_XML_MISMATCH: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "the replacement XML does not describe the saved domain: {reason}",
  },
  // --- consoles ------------------------------------------------------------------------------
  QEMU_CONSOLE_NOT_FOUND: {
    vir: "INTERNAL_ERROR",
    prefix: "operation failed",
    domain: "QEMU",
    kind: "user",
    template: "cannot find character device {devname}",
  },
  QEMU_CONSOLE_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "character device {alias} is not using a PTY or a unix socket (it is type '{type}'), so no console stream can attach to it",
  },
  // graphical consoles: a client socket handed to QEMU (virDomainOpenGraphics/FD, issue 19)
  QEMU_GRAPHICS_NO_INDEX: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "No graphics backend with index {idx}",
  },
  QEMU_GRAPHICS_OPEN_TYPE: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "Can only open VNC or SPICE graphics backends, not {type}",
  },
  // graphical consoles: screenshot and send-key (issue 19)
  QEMU_SCREENSHOT_NO_VIDEO: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "no screens to take screenshot from",
  },
  QEMU_SCREENSHOT_SCREEN_ZERO: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "environment",
    template: "currently is supported only taking screenshots of screen ID 0",
  },
  QEMU_SCREENSHOT_NO_SCREEN: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "no screen with ID {screen}",
  },
  QEMU_SCREENSHOT_READ: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "unable to open stream: cannot read the screendump '{path}' of QEMU: {reason}",
  },
  QEMU_SENDKEY_TRANSLATE: {
    vir: "INTERNAL_ERROR",
    domain: "QEMU",
    kind: "user",
    prefix: "invalid argument",
    template: "cannot translate keycode {keycode} of {codeset} codeset to qnum keycode",
  },
  QEMU_CONSOLE_BUSY: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "user",
    template: "Active console session exists for this domain",
  },
  QEMU_NATIVE_FORMAT: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "unsupported config type {format}",
  },

  // === device hotplug ===
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
  QEMU_GRAPHICS_NOT_FOUND: {
    vir: "DEVICE_MISSING",
    domain: "QEMU",
    kind: "user",
    template: "cannot find existing graphics device to modify of type '{type}'",
  },
  QEMU_GRAPHICS_CONFIG_NOT_FOUND: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "cannot find existing graphics type '{type}' device to modify",
  },
  QEMU_GRAPHICS_CHANGE: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "cannot change {what}",
  },
  QEMU_GRAPHICS_CHANGE_TYPE: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template:
      "unable to change config on '{type}' graphics type: a running guest's vnc and spice graphics can change their password",
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

  // === live tuning, statistics and QEMU monitor events ===
  // cgroup tuning (memtune, schedinfo, blkiotune, vcpupin, emulatorpin)
  TUNE_SESSION: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "environment",
    template: "{what} tuning is not available in session mode",
  },
  TUNE_NO_CGROUP: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "environment",
    template: "cgroup {controller} controller is not mounted (domain '{name}' has no cgroup of it)",
  },
  TUNE_PARAM_UNKNOWN: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "parameter '{field}' not supported",
  },
  TUNE_PARAM_TYPE: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "invalid type '{got}' for parameter '{field}', expected '{want}'",
  },
  TUNE_PARAM_RANGE: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "value of '{field}' is out of range [{min}, {max}]",
  },
  TUNE_HARD_ABOVE_SWAP: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
  },
  TUNE_BLKIO_DEVICE_STRING: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "unable to parse blkio device '{field}' '{value}': expected 'path,value[,path,value...]'",
  },
  TUNE_VCPU_RANGE: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "vcpu {vcpu} is out of range of live cpu count {count}",
  },
  TUNE_CPUMAP_EMPTY: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "Empty cpu list for pinning",
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
  QEMU_VCPU_ORDER_DUPLICATE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "duplicate vcpu order '{order}'",
  },
  QEMU_VCPU_ORDER_RANGE: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "QEMU",
    kind: "user",
    template: "vcpu order '{order}' exceeds vcpu count",
  },
  QEMU_VCPU_BOOT_HOTPLUG: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "cannot hot-plug vcpu '{id}' of domain '{name}' at start: {reason}",
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
  // === block jobs (blockcommit, blockpull, blockcopy, blockjob, blockresize) ===
  BLOCKJOB_DISK_NOT_FOUND: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "disk '{disk}' not found in domain",
  },
  BLOCKJOB_NONE: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "disk {disk} does not have an active block job",
  },
  BLOCKJOB_ACTIVE: {
    vir: "BLOCK_COPY_ACTIVE",
    domain: "QEMU",
    kind: "user",
    template: "disk '{disk}' already in active block job",
  },
  BLOCKJOB_NOT_READY: {
    vir: "BLOCK_COPY_ACTIVE",
    domain: "QEMU",
    kind: "user",
    template: "disk '{disk}' not ready for pivot yet",
  },
  BLOCKJOB_PIVOT_TYPE: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template: "pivot of disk '{disk}' requires an active copy job",
  },
  BLOCKJOB_BAD_ARG: { vir: "INVALID_ARG", domain: "QEMU", kind: "user", template: "{what}" },
  BLOCKJOB_UNSUPPORTED: { vir: "CONFIG_UNSUPPORTED", domain: "QEMU", kind: "user", template: "{what}" },
  BLOCKJOB_NOT_IN_CHAIN: {
    vir: "INVALID_ARG",
    domain: "QEMU",
    kind: "user",
    template: "could not find image '{image}' beneath '{disk}' in chain for '{dev}'",
  },
  BLOCKJOB_SPEED_OVERFLOW: {
    vir: "OVERFLOW",
    domain: "QEMU",
    kind: "user",
    template: "bandwidth must be less than {max}",
  },
  BLOCKJOB_DEST_EXISTS: {
    vir: "OPERATION_INVALID",
    domain: "QEMU",
    kind: "user",
    template:
      "destination file '{path}' already exists; use --reuse-external (VIR_DOMAIN_BLOCK_COPY_REUSE_EXT) to copy into it",
  },
  BLOCKJOB_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "{what}",
  },
  // === snapshots (issue 20; libvirt's qemu_snapshot.c) ===
  QEMU_SNAPSHOT_INVALID: { vir: "OPERATION_INVALID", domain: "QEMU", kind: "user", template: "{what}" },
  QEMU_SNAPSHOT_JOB_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "{job} job of snapshot '{name}' of domain '{domain}' failed: {reason}",
  },
  QEMU_SNAPSHOT_IMG_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "{what} of snapshot '{name}' on '{path}' failed: {reason}",
  },
  /**
   * libvirt reports an unknown `QEMU_AUDIO_DRV` / `SDL_AUDIODRIVER` of the daemon as an internal
   * error; the number stays, the text says it is the daemon's environment.
   */
  QEMU_AUDIO_ENV: {
    vir: "INTERNAL_ERROR",
    prefix: "configuration error",
    domain: "QEMU",
    kind: "environment",
    template:
      "unknown {variable} setting {value} in the daemon's environment (for the default <audio> backend)",
  },
} as const satisfies Catalogue<"QEMU">;
