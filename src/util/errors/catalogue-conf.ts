import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_CONF: configuration files (the daemon's). Entries are grouped by the tvirt
 * area that raises them.
 */
export const confErrors = {
  // === the RPC layer and the daemon ===
  // --- daemon ---------------------------------------------------------------------------------
  DAEMON_CONFIG: {
    vir: "CONF_SYNTAX",
    domain: "CONF",
    kind: "user",
    template: "{file}:{line}: {reason}",
  },
  DAEMON_CONFIG_VALUE: {
    vir: "CONF_SYNTAX",
    domain: "CONF",
    kind: "user",
    template: "{file}: {key}: {reason}",
  },
} as const satisfies Catalogue<"CONF">;
