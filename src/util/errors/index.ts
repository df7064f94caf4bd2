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

export type { CatalogueEntry, ErrorKind } from "./types.ts";
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

export type ErrorValues = Readonly<Record<string, string | number | bigint>>;

function fill(template: string, values: ErrorValues): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = values[name];
    return v === undefined ? whole : String(v);
  });
}

/** The one error class of tvirt. `code` is stable; `message` is what virsh would print. */
export class VirtError extends Error {
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
    const prefix = entry.prefix ?? virErrorPrefix[entry.vir];
    super(prefix === undefined ? detail : `${prefix}: ${detail}`, options);
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

export function isVirtError(e: unknown): e is VirtError {
  return e instanceof VirtError;
}

/** Wraps anything thrown that is not a VirtError as a bug (internal error), keeping the cause. */
export function toVirtError(e: unknown): VirtError {
  if (e instanceof VirtError) return e;
  const what = e instanceof Error ? e.message : String(e);
  return new VirtError("BUG", { what }, {}, { cause: e });
}

export { libvirtError, fixLibvirtMessage, checkFlags, strerror } from "./libvirt.ts";
