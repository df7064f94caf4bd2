import type { Catalogue } from "./types.ts";

/**
 * Errors of the security drivers (`src/security/`, AppArmor), in libvirt's VIR_FROM_SECURITY.
 * libvirt's helper (virt-aa-helper) only says "bad name" or "skipped restricted file" and the
 * start then fails with the helper's exit status; these say which domain, which device or
 * field, what is wrong with it and what is accepted.
 */
export const securityErrors = {
  /** The domain name holds a character that would change the meaning of a profile rule. */
  APPARMOR_BAD_NAME: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "SECURITY",
    kind: "user",
    template:
      "domain name '{name}' cannot be confined by AppArmor: it contains {char}; AppArmor profile rules do not allow any of {forbidden}",
  },
  /** A path the guest needs holds a character AppArmor reads as a glob, quote or escape. */
  APPARMOR_BAD_PATH: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "SECURITY",
    kind: "user",
    template:
      "{what} of domain '{name}' has path '{path}' which AppArmor cannot name exactly: it contains {char}; paths may not contain any of {forbidden}",
  },
  /** A path under a system directory the guest may not be given (virt-aa-helper's valid_path). */
  APPARMOR_RESTRICTED_PATH: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "SECURITY",
    kind: "user",
    template:
      "{what} of domain '{name}' has path '{path}' under {restricted}, which a confined guest may not be given {access} access to",
  },
  /** The UUID is not in the 8-4-4-4-12 form the profile name is made of. */
  APPARMOR_BAD_UUID: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "SECURITY",
    kind: "user",
    template:
      "domain '{name}' has UUID '{uuid}', which cannot name an AppArmor profile (expected 8-4-4-4-12 hex digits)",
  },
  /** AppArmor is not enabled in the running kernel (profiles are generated, not loaded). */
  APPARMOR_UNAVAILABLE: {
    vir: "NO_SECURITY_MODEL",
    domain: "SECURITY",
    kind: "environment",
    template: "AppArmor is unavailable on this host: {reason}",
  },
  /** apparmor_parser refused or failed to load, replace or remove a profile. */
  APPARMOR_PARSER_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "SECURITY",
    kind: "environment",
    template: "cannot {action} AppArmor profile '{profile}': apparmor_parser {reason}",
  },
} as const satisfies Catalogue<"SECURITY">;
