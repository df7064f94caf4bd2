/**
 * Helpers for errors raised the way libvirt raises them: `checkFlags` (virCheckFlags) and
 * `strerror` (glibc's texts for system errors).
 */
import { VirtError } from "./index.ts";

/** Refuses flag bits outside `supported`, naming the driver function (libvirt's virCheckFlags). */
export function checkFlags(flags: number, supported: number, func: string): void {
  const extra = flags & ~supported;
  if (extra !== 0) throw new VirtError("UNSUPPORTED_FLAGS", { flags: (extra >>> 0).toString(16), func });
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
