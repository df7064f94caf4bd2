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
  // === the web face (src/web, issue 16): HTTP clients authenticate with bearer tokens ===
  WEB_AUTH_REQUIRED: {
    vir: "AUTH_FAILED",
    domain: "REMOTE",
    kind: "user",
    template:
      "authentication required: send 'Authorization: Bearer TOKEN' with a token from 'tvirsh web-token create'",
  },
  WEB_AUTH_FAILED: {
    vir: "AUTH_FAILED",
    domain: "REMOTE",
    kind: "user",
    template: "authentication failed: the bearer token is not valid (unknown or revoked)",
  },
  WEB_AUTH_RATE_LIMITED: {
    vir: "AUTH_FAILED",
    domain: "REMOTE",
    kind: "user",
    template: "too many failed authentications from {client}: try again in {seconds} seconds",
  },
  WEB_READ_ONLY_TOKEN: {
    vir: "OPERATION_DENIED",
    domain: "REMOTE",
    kind: "user",
    template: "token '{token}' is read-only: {method} {path} would change something",
  },
  WEB_BAD_REQUEST: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template: "bad request {method} {path}: {reason}",
  },
  WEB_NO_ROUTE: {
    vir: "NO_SUPPORT",
    domain: "REMOTE",
    kind: "user",
    template: "no such resource: {method} {path} (see /api/openapi.json)",
  },
  WEB_TICKET: {
    vir: "AUTH_FAILED",
    domain: "REMOTE",
    kind: "user",
    template:
      "console ticket not valid for {kind} of domain '{domain}': unknown, already used or expired (get one from POST /api/tickets; it serves one connection within {seconds} seconds)",
  },
  WEB_PAGE_NOT_BUILT: {
    vir: "NO_SUPPORT",
    domain: "REMOTE",
    kind: "environment",
    template: "the web page is not built ({file} is missing): run 'npm run build'",
  },
  WEB_TOKEN_EXISTS: {
    vir: "OPERATION_INVALID",
    domain: "REMOTE",
    kind: "user",
    template: "web token '{name}' already exists in {file}",
  },
  WEB_NO_TOKEN: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template: "no web token named '{name}' in {file}",
  },
  WEB_TOKEN_NAME: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template: "invalid web token name '{name}': use 1 to 64 of letters, digits, '.', '_', '-', '@'",
  },
  WEB_TOKEN_FILE: {
    vir: "CONF_SYNTAX",
    domain: "REMOTE",
    kind: "user",
    template: "{file}: not a tvirt web token file: {reason}",
  },
  WEB_TLS: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template: "cannot serve TLS with certificate {cert} and key {key}: {reason}",
  },
  /**
   * Plain HTTP beyond loopback, refused alike by `tvirsh web` and tvirtd's configuration
   * check (there as the reason of DAEMON_CONFIG_VALUE, naming the file and key).
   */
  WEB_LISTEN_CLEAR: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template:
      "'{listen}' is not a loopback address: set {tls} (bearer tokens must not cross the network in clear), or listen on 127.0.0.1{insecure}",
  },
  WEB_LISTEN: {
    vir: "INVALID_ARG",
    domain: "REMOTE",
    kind: "user",
    template: "invalid --listen '{listen}': {reason} (ADDR:PORT, [ADDR6]:PORT, PORT or unix:PATH)",
  },
} as const satisfies Catalogue<"REMOTE">;
