import type { Catalogue } from "./types.ts";

/**
 * Errors of virtual networks (`conf/network`, `drivers/network`), in libvirt's network error
 * domain (VIR_FROM_NETWORK). Where libvirt reports the same mistake, the template keeps its
 * wording (so stock virsh and tvirsh print the same text); structured details carry the XPath,
 * line and column of the offending node and the accepted values.
 */
export const networkErrors = {
  /** The root element is not `<network>`. */
  NETWORK_UNEXPECTED_ROOT: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "unexpected root element <{found}>, expecting <network>",
  },
  /** `<name>` is missing or empty. */
  NETWORK_NO_NAME: {
    vir: "NO_NAME",
    domain: "NETWORK",
    kind: "user",
    form: "spaced",
    template: "in the network definition: a non-empty <name> element is required",
  },
  NETWORK_INVALID_NAME: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "network name '{name}' is not valid: {reason}",
  },
  /** A value of the wrong form or out of range. */
  NETWORK_INVALID_VALUE: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "invalid value '{value}' for {xpath} (line {line}) in network '{network}': {expected}",
  },
  /** A required attribute or element is absent. */
  NETWORK_MISSING: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "missing {what} at {xpath} (line {line}) in network '{network}'",
  },
  /** A structural rule is broken; `what` is libvirt's wording where it has one. */
  NETWORK_XML_INVALID: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  /** Valid XML that this configuration cannot support; `what` is libvirt's wording. */
  NETWORK_CONFIG_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
} as const satisfies Catalogue<"NETWORK">;
