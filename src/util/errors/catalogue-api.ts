import type { Catalogue } from "./types.ts";

/**
 * Errors of the public API (`api/`), the driver layer's common checks, the `test:///default`
 * driver and tvirsh. Templates reproduce libvirt's wording where libvirt has a message for the
 * same failure, so that tvirsh prints what virsh prints; an entry's `form` gives libvirt's
 * message form (prefix + colon, prefix + space, or the detail alone).
 *
 * Some libvirt messages use "internal error" for what is really a refused request (the test
 * driver's "domain 'x' not running"): those keep libvirt's number, so the text matches, but are
 * classified `user`.
 */
export const apiErrors = {
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
  API_NO_CONNECT: { vir: "NO_CONNECT", domain: "NONE", kind: "user", form: "spaced", template: "{uri}" },
  API_URI_NO_DRIVER: {
    vir: "NO_CONNECT",
    domain: "NONE",
    kind: "user",
    form: "spaced",
    template: "URI '{uri}' does not include a driver name",
  },
  API_URI_INVALID: {
    vir: "INVALID_ARG",
    domain: "URI",
    kind: "user",
    template: "cannot parse URI '{uri}': {reason}",
  },
  API_REMOTE_UNAVAILABLE: {
    vir: "NO_CONNECT",
    domain: "REMOTE",
    kind: "environment",
    form: "spaced",
    template: "{uri}: remote connections (host or transport in the URI) are not available in this build yet",
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

  // --- domain objects (libvirt's virdomainobjlist.c and domain_conf.c messages) -------------
  DOMAIN_NOT_FOUND: { vir: "NO_DOMAIN", domain: "TEST", kind: "user", template: "" },
  DOMAIN_NOT_FOUND_UUID: {
    vir: "NO_DOMAIN",
    domain: "TEST",
    kind: "user",
    template: "no domain with matching uuid '{uuid}' ({name})",
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
  DOMAIN_XML_MODIFICATION_UNSUPPORTED: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "TEST",
    kind: "user",
    template: "xml modification unsupported",
  },

  // --- the test driver's own state checks (libvirt uses "internal error" for these) ---------
  TEST_DOMAIN_NOT_RUNNING: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "domain '{name}' not running",
  },
  TEST_DOMAIN_NOT_PAUSED: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "domain '{name}' not paused",
  },
  TEST_DOMAIN_ALREADY_RUNNING: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "Domain '{name}' is already running",
  },
  TEST_OPEN_PATH: {
    vir: "INVALID_ARG",
    domain: "TEST",
    kind: "user",
    template: "testOpen: supply a path or use test:///default",
  },
  TEST_OPEN_FILE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "TEST",
    kind: "user",
    template: "test driver node files ('{path}') are not supported; use test:///default",
  },

  // --- save images (test driver format: magic, length, XML) ---------------------------------
  SAVE_IMAGE_OPEN: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "environment",
    template: "cannot read domain image '{path}': {reason}",
  },
  SAVE_IMAGE_HEADER: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "user",
    template: "incomplete save header in '{path}': {reason}",
  },
  SAVE_IMAGE_MAGIC: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "mismatched header magic",
  },
  SAVE_IMAGE_LENGTH_READ: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "user",
    template: "failed to read metadata length in '{path}': {reason}",
  },
  SAVE_IMAGE_LENGTH: {
    vir: "INTERNAL_ERROR",
    domain: "TEST",
    kind: "user",
    template: "length of metadata out of range",
  },
  SAVE_IMAGE_METADATA: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "user",
    template: "incomplete metadata in '{path}': {reason}",
  },
  SAVE_IMAGE_CREATE: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "environment",
    template: "saving domain '{name}' to '{path}': open failed: {reason}",
  },
  SAVE_IMAGE_WRITE: {
    vir: "SYSTEM_ERROR",
    domain: "TEST",
    kind: "environment",
    template: "saving domain '{name}' to '{path}': write failed: {reason}",
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

  XPATH_INVALID: {
    vir: "INTERNAL_ERROR",
    domain: "XML",
    kind: "user",
    template: "Incorrect xpath '{xpath}'",
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
  CLI_NO_CONNECTION: {
    vir: "INVALID_CONN",
    domain: "NONE",
    kind: "user",
    form: "bare",
    template: "no valid connection",
  },
} as const satisfies Catalogue;
