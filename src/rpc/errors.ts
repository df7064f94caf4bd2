/**
 * Errors across the wire: a `VirtError` becomes libvirt's `remote_error` (code, domain, message,
 * level, str1/str2 as libvirt's virReportErrorHelper fills them), and a received `remote_error`
 * becomes a `RemoteVirtError` that carries the daemon's number, domain and text unchanged, so
 * callers see exactly what the daemon (tvirtd or a real libvirtd) reported.
 */
import { toVirtError, VirErrorNumber, VirtError, type ErrorKind } from "../util/errors/index.ts";
import type { RemoteErrorPayload } from "./remote-protocol.ts";

/** `VIR_ERR_ERROR` */
export const ERR_LEVEL_ERROR = 2;

/** The `remote_error` libvirt's daemon would send for this error. */
export function toRemoteError(e: unknown): RemoteErrorPayload {
  const err = e instanceof VirtError ? e : toVirtError(e);
  const detail = err.detail;
  // libvirt: str1 is the message format ("Domain not found" or "...: %s"), str2 the detail.
  let str1: string | null = null;
  if (err.message !== detail) {
    if (detail === "" || !err.message.endsWith(detail)) str1 = err.message;
    else str1 = `${err.message.slice(0, err.message.length - detail.length)}%s`;
  }
  return {
    code: err.virCode,
    domain: err.virDomain,
    message: err.message,
    level: ERR_LEVEL_ERROR,
    dom: null,
    str1,
    str2: detail === "" ? null : detail,
    str3: null,
    int1: -1,
    int2: -1,
    net: null,
  };
}

const userCodes = new Set<number>([
  VirErrorNumber.INVALID_ARG,
  VirErrorNumber.NO_DOMAIN,
  VirErrorNumber.NO_NETWORK,
  VirErrorNumber.OPERATION_INVALID,
  VirErrorNumber.OPERATION_DENIED,
  VirErrorNumber.XML_ERROR,
  VirErrorNumber.XML_DETAIL,
  VirErrorNumber.CONFIG_UNSUPPORTED,
  VirErrorNumber.DOM_EXIST,
  VirErrorNumber.NO_CONNECT,
  VirErrorNumber.INVALID_DOMAIN,
]);

/** An error reported by the daemon: its libvirt number, domain and message, as received. */
export class RemoteVirtError extends VirtError<"RPC_REMOTE_ERROR"> {
  override readonly virCode: number;
  override readonly virDomain: number;
  override readonly kind: ErrorKind;
  override readonly detail: string;
  /** The raw `remote_error` received. */
  readonly remote: RemoteErrorPayload;

  constructor(payload: RemoteErrorPayload) {
    const message = payload.message ?? "unknown error";
    super("RPC_REMOTE_ERROR", { message }, { virCode: payload.code, virDomain: payload.domain });
    this.virCode = payload.code;
    this.virDomain = payload.domain;
    this.kind = userCodes.has(payload.code)
      ? "user"
      : payload.code === VirErrorNumber.INTERNAL_ERROR
        ? "bug"
        : "environment";
    this.detail = payload.str2 ?? message;
    this.message = message;
    this.remote = payload;
  }
}
