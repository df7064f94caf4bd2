import type { Catalogue } from "./types.ts";

/** Errors of util/ and general argument checks. */
export const coreErrors = {
  BUG: { vir: "INTERNAL_ERROR", domain: "NONE", kind: "bug", template: "{what}" },
  INVALID_NAME: {
    vir: "INVALID_ARG",
    domain: "NONE",
    kind: "user",
    template: "{object} name '{name}' is not valid: {reason}",
  },
  FILE_WRITE_FAILED: {
    vir: "WRITE_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "'{path}': {reason}",
  },
  COMMAND_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NONE",
    kind: "environment",
    template: "command '{command}' failed: {reason}",
  },
} as const satisfies Catalogue;
