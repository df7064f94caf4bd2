import type { Catalogue } from "./types.ts";

/** Errors of conf/: XML syntax, structure and values of libvirt documents. */
export const xmlErrors = {
  XML_SYNTAX: {
    vir: "XML_DETAIL",
    domain: "XML",
    kind: "user",
    template: "{document}:{line}: {reason}\n{context}\n{pointer}",
  },
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
  CONFIG_UNSUPPORTED: { vir: "CONFIG_UNSUPPORTED", domain: "DOMAIN", kind: "user", template: "{what}" },
  /** A structural rule of the document is broken (duplicates, counts, combinations). */
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
    template: "memory size must be specified via <memory> or in the <numa> configuration",
  },
  DOMAIN_MEMORY_TOO_SMALL: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "{what} of {size} KiB is too small: at least {min} KiB is expected",
  },
  DOMAIN_DUPLICATE_TARGET: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "target '{target}' is used by two {device} devices ({first} and {second}): each needs its own",
  },
  DOMAIN_DUPLICATE_ADDRESS: {
    vir: "XML_ERROR",
    domain: "DOMAIN",
    kind: "user",
    template: "{address} is used by two devices ({first} and {second})",
  },
  DOMAIN_NO_ADDRESS_LEFT: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "DOMAIN",
    kind: "user",
    template: "no free {what} is left for {device}",
  },
} as const satisfies Catalogue;
