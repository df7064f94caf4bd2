import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_STREAMS: streams (consoles). Entries are grouped by the tvirt area that
 * raises them.
 */
export const streamsErrors = {
  // === the RPC layer and the daemon ===
  RPC_STREAM_ABORTED: {
    vir: "RPC",
    domain: "STREAMS",
    kind: "environment",
    template: "stream aborted: {reason}",
  },
} as const satisfies Catalogue<"STREAMS">;
