import type { Catalogue } from "./types.ts";

/**
 * Errors of the RPC layer (`rpc/`: wire protocol, server dispatch, remote driver) and of the
 * daemon (`daemon/`). Where libvirt's daemon or remote driver has a message for the same
 * failure, the template is libvirt's wording (`virnetserverprogram.c`, `remote_daemon_dispatch.c`,
 * `virnetclient.c`), so stock virsh and tvirsh print the same text.
 */
export const rpcErrors = {
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
  RPC_STREAM_ABORTED: {
    vir: "RPC",
    domain: "STREAMS",
    kind: "environment",
    template: "stream aborted: {reason}",
  },

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
} as const satisfies Catalogue;
