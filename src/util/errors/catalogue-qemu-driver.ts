import type { Catalogue } from "./types.ts";

/**
 * Errors of the QEMU driver's domain management (`drivers/qemu/driver`, `drivers/qemu/index.ts`)
 * and of the job lock (`util/job-lock.ts`). Where libvirt's QEMU driver has a message for the
 * same failure the template is libvirt's wording, so tvirsh prints what virsh prints; the rest
 * say what failed, on which object, and what is expected instead.
 */
export const qemuDriverErrors = {
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
  QEMU_FILE_MISSING: {
    vir: "SYSTEM_ERROR",
    domain: "QEMU",
    kind: "user",
    template: "Cannot access {what} '{path}' of domain '{name}': {reason}",
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
  QEMU_SAVE_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "QEMU",
    kind: "environment",
    template: "saving domain '{name}' to '{path}' failed: {reason}",
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
} as const satisfies Catalogue;
