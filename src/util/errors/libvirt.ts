/**
 * libvirt's message forms and helpers for errors raised the way libvirt raises them:
 * `libvirtError` (virErrorMsg's forms), `checkFlags` (virCheckFlags) and `strerror` (glibc's
 * texts for system errors).
 */
import { VirtError, type ErrorCode, type ErrorDetails, type ErrorValues } from "./index.ts";
import { VirErrorNumber } from "./virerror.ts";

/**
 * libvirt formats an error as `virErrorMsg(code, detail)`. For most codes that is
 * `"<prefix>: <detail>"`, which `VirtError` already produces, but:
 * - with no detail it is the prefix alone ("Domain not found");
 * - a few codes put the detail after a space ("no connection driver available for <uri>");
 * - errors raised with `virRaiseErrorFull` directly (`virCheckFlags`, `virReportInvalidArg`)
 *   carry the detail alone, with no prefix.
 * `libvirtError` builds a VirtError and fixes its message accordingly.
 */
const spaceJoined = new Set<number>([
  VirErrorNumber.NO_CONNECT,
  VirErrorNumber.INVALID_CONN,
  VirErrorNumber.INVALID_DOMAIN,
  VirErrorNumber.NO_SOURCE,
  VirErrorNumber.NO_TARGET,
  VirErrorNumber.NO_NAME,
]);

/** Catalogue codes whose message is the detail alone (raised without virErrorMsg). */
const bareCodes = new Set<string>([
  "UNSUPPORTED_FLAGS",
  "API_INVALID_UUID",
  "CLI_USAGE",
  "CLI_FAILED",
  "CLI_DOMAIN_NOT_FOUND",
  "CLI_CONNECT_FAILED",
  "CLI_NO_CONNECTION",
]);

export function libvirtError(
  code: ErrorCode,
  values: ErrorValues = {},
  details: ErrorDetails = {},
  options?: ErrorOptions,
): VirtError {
  const err = new VirtError(code, values, details, options);
  fixLibvirtMessage(err);
  return err;
}

/** Applies libvirt's message form to an existing error (see `libvirtError`). */
export function fixLibvirtMessage(err: VirtError): VirtError {
  if (bareCodes.has(err.code)) {
    err.message = err.detail;
    return err;
  }
  const colon = err.message.length - err.detail.length - 2;
  if (colon <= 0 || err.message.slice(colon) !== `: ${err.detail}`) return err;
  const prefix = err.message.slice(0, colon);
  // With no detail libvirt drops the joining word: "missing name information".
  if (err.detail === "")
    err.message = spaceJoined.has(err.virCode) ? prefix.replace(/ (in|for)$/, "") : prefix;
  else if (spaceJoined.has(err.virCode)) err.message = `${prefix} ${err.detail}`;
  return err;
}

/** Refuses flag bits outside `supported`, naming the driver function (libvirt's virCheckFlags). */
export function checkFlags(flags: number, supported: number, func: string): void {
  const extra = flags & ~supported;
  if (extra !== 0) throw libvirtError("UNSUPPORTED_FLAGS", { flags: (extra >>> 0).toString(16), func });
}

const strerrors: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  EXDEV: "Invalid cross-device link",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  EFBIG: "File too large",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  ENOTEMPTY: "Directory not empty",
  ECONNREFUSED: "Connection refused",
  ETIMEDOUT: "Connection timed out",
};

/** glibc's strerror() text for a Node system error (`e.code`), for libvirt-style messages. */
export function strerror(e: unknown): string {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
  const known = strerrors[code];
  if (known !== undefined) return known;
  if (e instanceof Error) return e.message;
  return String(e);
}
