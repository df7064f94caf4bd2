import type { Catalogue } from "./types.ts";

/** Errors of conf/: XML syntax, structure and values of libvirt documents. */
export const xmlErrors = {
  XML_SYNTAX: {
    vir: "XML_DETAIL",
    domain: "XML",
    kind: "user",
    template: "{document}:{line}:{column}: {reason}",
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
} as const satisfies Catalogue;
