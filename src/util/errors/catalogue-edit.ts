import type { Catalogue } from "./types.ts";

/**
 * Errors of schema validation (`define --validate`, `create --validate`, `tvirsh validate`) and
 * of `tvirsh edit` (the editor, the re-edit prompt). The schema error keeps libvirt's number and
 * wording (`virXMLValidateAgainstSchema`: "Unable to validate doc against SCHEMA" followed by the
 * validator's messages), so stock virsh prints the same text through tvirtd.
 */
export const editErrors = {
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
  /** `$VISUAL`/`$EDITOR` cannot be split into argv without a shell. */
  EDIT_EDITOR_SYNTAX: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template:
      "${variable} value '{value}' cannot be run without a shell: {reason}; give a program and its arguments, quoted with ' or \" where needed",
  },
  EDIT_EDITOR_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "editor '{editor}' {reason} while editing {file}: nothing was changed",
  },
  /** The definition changed on the server while the user was editing it. */
  EDIT_CHANGED_BY_OTHER: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "user",
    template: "The XML configuration was changed by another user.",
  },
  /** The user answered 'n' (or the input ended) at the re-edit prompt. */
  EDIT_ABANDONED: {
    vir: "OPERATION_ABORTED",
    domain: "NONE",
    kind: "user",
    template: "edit of {object} '{name}' abandoned: the definition was not changed",
  },
} as const satisfies Catalogue;
