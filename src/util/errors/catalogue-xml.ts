import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_XML: XML documents (schema validation, tvirsh edit). Entries are grouped by
 * the tvirt area that raises them.
 */
export const xmlErrors = {
  // === conf/: XML syntax, structure and values of libvirt documents ===
  XML_SYNTAX: {
    vir: "XML_DETAIL",
    domain: "XML",
    kind: "user",
    template: "{document}:{line}: {reason}\n{context}\n{pointer}",
  },

  // === the public API, the drivers' common checks, the test driver and tvirsh ===
  XPATH_INVALID: {
    vir: "INTERNAL_ERROR",
    domain: "XML",
    kind: "user",
    template: "Incorrect xpath '{xpath}'",
  },

  // === schema validation and tvirsh edit ===
  /** The document does not match libvirt's RelaxNG schema; `errors` = the validator's lines. */
  SCHEMA_VALIDATION_FAILED: {
    vir: "XML_INVALID_SCHEMA",
    domain: "XML",
    kind: "user",
    template: "Unable to validate doc against {schema}\n{errors}",
  },
  SCHEMA_NOT_FOUND: {
    vir: "XML_INVALID_SCHEMA",
    domain: "XML",
    kind: "environment",
    template:
      "cannot validate against schema '{schema}': the file does not exist (libvirt's schemas come with the Debian package libvirt0 or libvirt-daemon)",
  },
  SCHEMA_VALIDATOR_MISSING: {
    vir: "OPERATION_FAILED",
    domain: "XML",
    kind: "environment",
    template:
      "cannot validate against schema '{schema}': the RelaxNG validator 'xmllint' could not be run ({reason}); install the Debian package libxml2-utils",
  },
  SCHEMA_VALIDATOR_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "XML",
    kind: "environment",
    template: "cannot validate against schema '{schema}': xmllint failed with status {status}: {reason}",
  },
  /** `tvirsh validate FILE` on a document whose root element has no libvirt schema. */
  SCHEMA_UNKNOWN_ROOT: {
    vir: "XML_INVALID_SCHEMA",
    domain: "XML",
    kind: "user",
    template:
      "cannot determine schema type for {document}: root element <{root}> is not one of libvirt's documents ({allowed})",
  },
} as const satisfies Catalogue<"XML">;
