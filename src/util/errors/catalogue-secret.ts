import type { Catalogue } from "./types.ts";

/**
 * Errors of secrets (`conf/secret`, `drivers/secret`), in libvirt's secret error domain
 * (VIR_FROM_SECRET). Templates keep libvirt's wording (secret_conf.c, virsecretobj.c,
 * secret_driver.c) so stock virsh and tvirsh print the same text; the numbers are libvirt's,
 * including the "internal error" ones that really are refused requests (kind `user`).
 */
export const secretErrors = {
  /** The root element is not `<secret>`. */
  SECRET_UNEXPECTED_ROOT: {
    vir: "XML_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "expecting root element of 'secret', not '{found}'",
  },
  /** A yes/no attribute (`ephemeral`, `private`) with another value. */
  SECRET_INVALID_YESNO: {
    vir: "XML_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "invalid value of '{attr}'",
  },
  /** `<usage>` without a `type`. */
  SECRET_USAGE_NO_TYPE: {
    vir: "XML_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "unknown secret usage type",
  },
  /** `<usage type>` not one of none, volume, ceph, iscsi, tls, vtpm. */
  SECRET_USAGE_UNKNOWN: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "SECRET",
    kind: "user",
    template: "unknown secret usage type {type}",
  },
  /** The usage's element is missing or empty; `what` is libvirt's sentence. */
  SECRET_USAGE_MISSING: {
    vir: "INTERNAL_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "{what}",
  },
  SECRET_MALFORMED_UUID: {
    vir: "INTERNAL_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "malformed uuid element",
  },
  /** libvirt: "Secret not found: no secret with matching uuid '…'" (or usage). */
  SECRET_NOT_FOUND: {
    vir: "NO_SECRET",
    domain: "SECRET",
    kind: "user",
    template: "no secret with matching {key} '{value}'",
  },
  SECRET_NO_VALUE: {
    vir: "NO_SECRET",
    domain: "SECRET",
    kind: "user",
    template: "secret '{uuid}' does not have a value",
  },
  /** get-value of a secret defined with private='yes'. */
  SECRET_PRIVATE: {
    vir: "INVALID_SECRET",
    domain: "SECRET",
    kind: "user",
    template: "secret is private",
  },
  /** Redefining a UUID for another usage. */
  SECRET_UUID_OTHER_USAGE: {
    vir: "INTERNAL_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "a secret with UUID {uuid} is already defined for use with {usage}",
  },
  /** A second secret for a usage that has one. */
  SECRET_USAGE_TAKEN: {
    vir: "INTERNAL_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "a secret with UUID {uuid} already defined for use with {usage}",
  },
  SECRET_PRIVATE_CHANGE: {
    vir: "INTERNAL_ERROR",
    domain: "SECRET",
    kind: "user",
    template: "cannot change private flag on existing secret",
  },
  /** The value store on disk cannot be read (bad key, torn file): what and why. */
  SECRET_STORE: {
    vir: "INTERNAL_ERROR",
    domain: "SECRET",
    kind: "environment",
    prefix: "secret store error",
    template: "{what}",
  },
} as const satisfies Catalogue<"SECRET">;
