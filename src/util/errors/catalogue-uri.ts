import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_URI: connection URIs. Entries are grouped by the tvirt area that raises them.
 */
export const uriErrors = {
  // === the public API, the drivers' common checks, the test driver and tvirsh ===
  API_URI_INVALID: {
    vir: "INVALID_ARG",
    domain: "URI",
    kind: "user",
    template: "cannot parse URI '{uri}': {reason}",
  },
} as const satisfies Catalogue<"URI">;
