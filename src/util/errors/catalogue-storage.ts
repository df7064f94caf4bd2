import type { Catalogue } from "./types.ts";

/**
 * Errors of storage pools and volumes (`conf/storage`, `drivers/storage`), in libvirt's storage
 * error domain (VIR_FROM_STORAGE). Where libvirt reports the same mistake the `what` value keeps
 * its wording; value errors name the object, the XPath and line of the node and what is allowed
 * (the accepted values also travel in the details).
 */
export const storageErrors = {
  /** The root element is not `<pool>` / `<volume>`. */
  STORAGE_UNEXPECTED_ROOT: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "unexpected root element <{found}>, expecting <{expected}>",
  },
  /** A pool or volume name that cannot be used (empty, with '/', control characters). */
  STORAGE_INVALID_NAME: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "{kind} name '{name}' is not valid: {reason}",
  },
  /** A value of the wrong form, out of range or not among the allowed ones. */
  STORAGE_INVALID_VALUE: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "invalid value '{value}' for {xpath} (line {line}) in {object}: {expected}",
  },
  /** A required element or attribute is absent; `what` is libvirt's wording. */
  STORAGE_MISSING: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "{what} ({xpath}, line {line}, in {object})",
  },
  /** A structural rule is broken; `what` is libvirt's wording where it has one. */
  STORAGE_XML_INVALID: {
    vir: "XML_ERROR",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** Valid XML this configuration cannot support; `what` is libvirt's wording. */
  STORAGE_CONFIG_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** A feature the pool type does not have (libvirt: VIR_ERR_NO_SUPPORT). */
  STORAGE_NO_SUPPORT: {
    vir: "NO_SUPPORT",
    domain: "STORAGE",
    kind: "user",
    template: "{what}",
  },
  /** Volume encryption is parsed and formatted but tvirt's storage driver does not create it. */
  STORAGE_VOL_ENCRYPTION_REFUSED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "STORAGE",
    kind: "user",
    template:
      "storage volume '{volume}': encryption format '{format}' is not supported by tvirt's storage driver; define the volume without <encryption>",
  },
} as const satisfies Catalogue<"STORAGE">;
