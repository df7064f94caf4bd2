import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_REMOTE: the remote driver (tvirsh or tvirtd talking to a daemon). Entries are
 * grouped by the tvirt area that raises them.
 */
export const remoteErrors = {
  // === the public API, the drivers' common checks, the test driver and tvirsh ===
  API_REMOTE_UNAVAILABLE: {
    vir: "NO_CONNECT",
    domain: "REMOTE",
    kind: "environment",
    form: "spaced",
    template: "{uri}: remote connections (host or transport in the URI) are not available in this build yet",
  },

  // === the RPC layer and the daemon ===
  RPC_TRANSPORT_UNSUPPORTED: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template: "{uri}: transport '{transport}' is not supported by tvirt's remote driver (supported: unix)",
  },
  RPC_AUTH_UNSUPPORTED: {
    vir: "AUTH_FAILED",
    domain: "REMOTE",
    kind: "environment",
    template:
      "the daemon wants authentication type {type}, which tvirt's remote driver does not support (supported: none, polkit)",
  },
  RPC_DAEMON_START: {
    vir: "NO_CONNECT",
    domain: "REMOTE",
    kind: "environment",
    form: "spaced",
    template: "{uri}: could not start tvirtd ({daemon}): {reason}",
  },
} as const satisfies Catalogue<"REMOTE">;
