/**
 * The one error catalogue. Every error tvirt reports has a stable code (a key below), libvirt's
 * numeric error number and domain, a kind (user, environment, bug), a message template with
 * named values, libvirt's message form, and structured details. The entries are kept in one
 * `catalogue-<domain>.ts` file per libvirt error domain (`VIR_FROM_QEMU` in `catalogue-qemu.ts`,
 * ...); this module joins them (index.test.ts checks that no code is defined twice and that
 * each file holds only its domain's entries).
 *
 * Templates reproduce libvirt's wording where libvirt has a message for the same failure, so
 * that tvirsh (and stock virsh through tvirtd) prints what virsh prints; the rest say what
 * failed, on which object, and what is expected instead. Some libvirt messages use "internal
 * error" for what is really a refused request (the test driver's "domain 'x' not running"):
 * those keep libvirt's number, so the text matches, but are classified `user`.
 */
import { noneErrors } from "./catalogue-none.ts";
import { domainErrors } from "./catalogue-domain.ts";
import { qemuErrors } from "./catalogue-qemu.ts";
import { testErrors } from "./catalogue-test.ts";
import { rpcErrors } from "./catalogue-rpc.ts";
import { remoteErrors } from "./catalogue-remote.ts";
import { xmlErrors } from "./catalogue-xml.ts";
import { nodedevErrors } from "./catalogue-nodedev.ts";
import { uriErrors } from "./catalogue-uri.ts";
import { streamsErrors } from "./catalogue-streams.ts";
import { confErrors } from "./catalogue-conf.ts";
import { networkErrors } from "./catalogue-network.ts";
import { storageErrors } from "./catalogue-storage.ts";
import { securityErrors } from "./catalogue-security.ts";
import { cgroupErrors } from "./catalogue-cgroup.ts";
import { cpuErrors } from "./catalogue-cpu.ts";
import type { Catalogue, CatalogueEntry, ErrorKind } from "./types.ts";
import { VirErrorDomain, VirErrorNumber, virErrorPrefix, type VirErrorDomainName } from "./virerror.ts";

export type { CatalogueEntry, ErrorKind, MessageForm } from "./types.ts";
export { VirErrorDomain, VirErrorNumber } from "./virerror.ts";

const parts = {
  NONE: noneErrors,
  DOMAIN: domainErrors,
  QEMU: qemuErrors,
  TEST: testErrors,
  RPC: rpcErrors,
  REMOTE: remoteErrors,
  XML: xmlErrors,
  NODEDEV: nodedevErrors,
  URI: uriErrors,
  STREAMS: streamsErrors,
  CONF: confErrors,
  NETWORK: networkErrors,
  STORAGE: storageErrors,
  SECURITY: securityErrors,
  CGROUP: cgroupErrors,
  CPU: cpuErrors,
} as const;

export const catalogue = Object.freeze(Object.assign({}, ...Object.values(parts))) as typeof noneErrors &
  typeof domainErrors &
  typeof qemuErrors &
  typeof testErrors &
  typeof rpcErrors &
  typeof remoteErrors &
  typeof xmlErrors &
  typeof nodedevErrors &
  typeof uriErrors &
  typeof streamsErrors &
  typeof confErrors &
  typeof networkErrors &
  typeof storageErrors &
  typeof securityErrors &
  typeof cgroupErrors &
  typeof cpuErrors;

export type ErrorCode = keyof typeof catalogue;

/** The catalogue files by the libvirt error domain they hold, for checks. */
export const catalogueParts: Readonly<Partial<Record<VirErrorDomainName, Catalogue>>> = parts;

/** Structured facts that travel with an error (JSON output, RPC, logs). */
export interface ErrorDetails {
  /** XPath of the offending XML node, e.g. `/domain/devices/disk[2]/target/@bus`. */
  xpath?: string;
  /** 1-based line and column in the input document. */
  line?: number;
  column?: number;
  /** The values that would have been accepted. */
  allowed?: readonly string[];
  /** Last lines of the QEMU log, for start failures. */
  logTail?: string;
  /** Anything else worth showing. */
  [key: string]: unknown;
}

/** A value put into a message template. */
export type ErrorValue = string | number | bigint;

export type ErrorValues = Readonly<Record<string, ErrorValue>>;

/** The names of the `{name}` placeholders of a message template, as a union of literal types. */
export type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** The placeholder names of an error code's template. */
export type ErrorPlaceholders<C extends ErrorCode> = Placeholders<(typeof catalogue)[C]["template"]>;

/**
 * The values an error code's template needs: exactly its placeholders. A code without
 * placeholders takes no values (any name given is a type error).
 */
export type ValuesOf<C extends ErrorCode> = [ErrorPlaceholders<C>] extends [never]
  ? { readonly [name: string]: never }
  : { readonly [Name in ErrorPlaceholders<C>]: ErrorValue };

/** The arguments after the code: values (required when the template has placeholders), details, options. */
export type ErrorArgs<C extends ErrorCode> = [ErrorPlaceholders<C>] extends [never]
  ? [values?: ValuesOf<C>, details?: ErrorDetails, options?: ErrorOptions]
  : [values: ValuesOf<C>, details?: ErrorDetails, options?: ErrorOptions];

function fill(template: string, values: ErrorValues): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = values[name];
    return v === undefined ? whole : String(v);
  });
}

/** The message of an error in its entry's form (see `MessageForm`). */
function formatMessage(entry: CatalogueEntry, detail: string): string {
  const form = entry.form ?? "prefixed";
  const prefix = entry.prefix ?? virErrorPrefix[entry.vir];
  if (form === "bare" || prefix === undefined) return detail;
  if (detail === "") return form === "spaced" ? prefix.replace(/ (in|for)$/, "") : prefix;
  return form === "spaced" ? `${prefix} ${detail}` : `${prefix}: ${detail}`;
}

/**
 * The one error class of tvirt, and the one way to make an error: `new VirtError(code, values)`.
 * `code` is stable; `message` is what virsh would print, in the form the catalogue entry gives.
 * The constructor's type checks the values against the code's template (`ErrorArgs`).
 */
class VirtErrorClass extends Error {
  override readonly name = "VirtError";
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  /** libvirt's virErrorNumber. */
  readonly virCode: number;
  /** libvirt's virErrorDomain. */
  readonly virDomain: number;
  readonly values: ErrorValues;
  readonly details: ErrorDetails;
  /** The detail without libvirt's prefix. */
  readonly detail: string;

  constructor(code: ErrorCode, values: ErrorValues = {}, details: ErrorDetails = {}, options?: ErrorOptions) {
    const entry: CatalogueEntry = catalogue[code];
    const detail = fill(entry.template, values);
    super(formatMessage(entry, detail), options);
    this.code = code;
    this.kind = entry.kind;
    this.virCode = VirErrorNumber[entry.vir];
    this.virDomain = VirErrorDomain[entry.domain];
    this.values = values;
    this.details = details;
    this.detail = detail;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      virCode: this.virCode,
      virDomain: this.virDomain,
      details: this.details,
    };
  }
}

/** `VirtError`'s constructor: the values are checked against the code's template. */
export interface VirtErrorConstructor {
  new <C extends ErrorCode>(code: C, ...args: ErrorArgs<C>): VirtErrorClass;
  readonly prototype: VirtErrorClass;
}

export type VirtError = VirtErrorClass;
export const VirtError = VirtErrorClass as VirtErrorConstructor;

export function isVirtError(e: unknown): e is VirtError {
  return e instanceof VirtError;
}

/** Wraps anything thrown that is not a VirtError as a bug (internal error), keeping the cause. */
export function toVirtError(e: unknown): VirtError {
  if (e instanceof VirtError) return e;
  const what = e instanceof Error ? e.message : String(e);
  return new VirtError("BUG", { what }, {}, { cause: e });
}

// Errors raised the way libvirt raises them: `checkFlags` (virCheckFlags) and `strerror`
// (glibc's texts for system errors).

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
