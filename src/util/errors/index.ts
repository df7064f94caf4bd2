/**
 * The one error catalogue. Every error tvirt reports has a stable code (a key below), libvirt's
 * numeric error number and domain, a kind (user, environment, bug), a message template with
 * named values, and structured details. Areas keep their entries in their own
 * `catalogue-*.ts` file; this module joins them (index.test.ts checks that no code is defined twice).
 */
import { coreErrors } from "./catalogue-core.ts";
import { xmlErrors } from "./catalogue-xml.ts";
import { qemuErrors } from "./catalogue-qemu.ts";
import { apiErrors } from "./catalogue-api.ts";
import { qemuDriverErrors } from "./catalogue-qemu-driver.ts";
import { rpcErrors } from "./catalogue-rpc.ts";
import { editErrors } from "./catalogue-edit.ts";
import { hostdevErrors } from "./catalogue-hostdev.ts";
import { hotplugErrors } from "./catalogue-hotplug.ts";
import { tuningErrors } from "./catalogue-tuning.ts";
import type { CatalogueEntry, ErrorKind } from "./types.ts";
import { VirErrorDomain, VirErrorNumber, virErrorPrefix } from "./virerror.ts";

export type { CatalogueEntry, ErrorKind, MessageForm } from "./types.ts";
export { VirErrorDomain, VirErrorNumber } from "./virerror.ts";

const parts = [
  coreErrors,
  xmlErrors,
  qemuErrors,
  apiErrors,
  qemuDriverErrors,
  rpcErrors,
  editErrors,
  hostdevErrors,
  hotplugErrors,
  tuningErrors,
] as const;

export const catalogue = Object.freeze(Object.assign({}, ...parts)) as typeof coreErrors &
  typeof xmlErrors &
  typeof qemuErrors &
  typeof apiErrors &
  typeof qemuDriverErrors &
  typeof rpcErrors &
  typeof editErrors &
  typeof hostdevErrors &
  typeof hotplugErrors &
  typeof tuningErrors;

export type ErrorCode = keyof typeof catalogue;

/** The per-area catalogue files, for checks. */
export const catalogueParts: readonly object[] = parts;

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

export { libvirtError, checkFlags, strerror } from "./libvirt.ts";
