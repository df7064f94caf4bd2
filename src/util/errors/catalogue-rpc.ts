import type { Catalogue } from "./types.ts";

/**
 * libvirt's VIR_FROM_RPC: the wire protocol, server dispatch and the client side of the
 * connection. Entries are grouped by the tvirt area that raises them.
 */
export const rpcErrors = {
  // === the RPC layer and the daemon ===
  /** An error received from a daemon: number, domain and text are the daemon's (see rpc/errors.ts). */
  RPC_REMOTE_ERROR: { vir: "RPC", domain: "RPC", kind: "environment", template: "{message}" },
  RPC_UNKNOWN_PROGRAM: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "Cannot find program {prog} version {vers}",
  },
  RPC_UNKNOWN_PROCEDURE: {
    vir: "NO_SUPPORT",
    domain: "RPC",
    kind: "environment",
    template: "unknown procedure: {proc}",
  },
  RPC_UNEXPECTED_TYPE: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "Unexpected message type {type}",
  },
  RPC_UNEXPECTED_STATUS: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "Unexpected message status {status}",
  },
  RPC_DECODE_FAILED: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "Unable to decode message payload: {reason}",
  },
  RPC_ENCODE_FAILED: {
    vir: "RPC",
    domain: "RPC",
    kind: "bug",
    template: "Unable to encode message payload: {reason}",
  },
  RPC_FDS_UNSUPPORTED: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "file descriptor passing is not supported by tvirtd (procedure {proc})",
  },
  /** libvirt's own check before a call with descriptors (virDomainOpenGraphics). */
  RPC_FDS_UNSUPPORTED_CLIENT: {
    vir: "ARGUMENT_UNSUPPORTED",
    domain: "RPC",
    kind: "user",
    template: "fd passing is not supported by this connection",
  },
  RPC_BAD_FDS: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "procedure {proc} takes one socket descriptor, the call carried {count} usable ones",
  },
  RPC_CONNECTION_NOT_OPEN: {
    vir: "INTERNAL_ERROR",
    domain: "RPC",
    kind: "user",
    template: "connection not open",
  },
  RPC_CONNECTION_ALREADY_OPEN: {
    vir: "INTERNAL_ERROR",
    domain: "RPC",
    kind: "user",
    template: "connection already open",
  },
  RPC_NOT_SERVED: {
    vir: "NO_CONNECT",
    domain: "RPC",
    kind: "user",
    form: "spaced",
    template: "{uri}: tvirtd serves local URIs only (no host, no transport)",
  },
  RPC_NO_CALLBACK: {
    vir: "INVALID_ARG",
    domain: "RPC",
    kind: "user",
    template: "callbackID {id} is not registered on this connection",
  },
  RPC_BAD_SAVE_PARAMS: { vir: "INVALID_ARG", domain: "RPC", kind: "user", template: "{what}" },
  // --- remote driver (client) ----------------------------------------------------------------
  RPC_CONNECT_SOCKET: {
    vir: "SYSTEM_ERROR",
    domain: "RPC",
    kind: "environment",
    template: "Failed to connect socket to '{path}': {reason}",
  },
  RPC_EOF: {
    vir: "SYSTEM_ERROR",
    domain: "RPC",
    kind: "environment",
    template: "End of file while reading data: {reason}",
  },
  RPC_SOCKET_CLOSED: {
    vir: "INTERNAL_ERROR",
    domain: "RPC",
    kind: "environment",
    template: "client socket is closed",
  },
  RPC_KEEPALIVE_TIMEOUT: {
    vir: "INTERNAL_ERROR",
    domain: "RPC",
    kind: "environment",
    template: "connection closed due to keepalive timeout",
  },
  RPC_BAD_REPLY: { vir: "RPC", domain: "RPC", kind: "environment", template: "{what}" },
  DAEMON_SOCKET_BUSY: {
    vir: "OPERATION_INVALID",
    domain: "RPC",
    kind: "environment",
    template: "socket '{path}' is in use by another running daemon",
  },
  DAEMON_RUNNING: {
    vir: "OPERATION_INVALID",
    domain: "RPC",
    kind: "environment",
    template: "another tvirtd (pid {pid}) already serves this instance (pid file '{path}')",
  },

  // === live tuning, statistics and QEMU monitor events ===
  TUNING_RPC_LIMIT: {
    vir: "RPC",
    domain: "RPC",
    kind: "user",
    template: "{what}",
  },
} as const satisfies Catalogue<"RPC">;
