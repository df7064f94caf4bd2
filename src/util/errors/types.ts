import type { VirErrorDomainName, VirErrorNumberName } from "./virerror.ts";

/**
 * Who is at fault:
 * - `user`: bad input from the caller (XML, names, arguments). Fix the input.
 * - `environment`: the host lacks something or refused (no KVM, missing file, QEMU failed).
 * - `bug`: an invariant of tvirt broke. Only these are reported as "internal error".
 */
export type ErrorKind = "user" | "environment" | "bug";

/**
 * How libvirt joins the prefix of an error number and the detail (`virErrorMsg`, virerror.c):
 * - `prefixed`: `"<prefix>: <detail>"`, or the prefix alone when the detail is empty
 *   ("Domain not found"); the detail alone for numbers without a prefix.
 * - `spaced`: `"<prefix> <detail>"`, for the numbers whose prefix reads on into the detail
 *   ("no connection driver available for <uri>"); with an empty detail the prefix alone,
 *   without its trailing " in"/" for" ("missing name information").
 * - `bare`: the detail alone, for errors libvirt raises with its own full text rather than
 *   through virErrorMsg (`virCheckFlags`, `virReportInvalidArg`, virsh's own messages).
 */
export type MessageForm = "prefixed" | "spaced" | "bare";

export interface CatalogueEntry {
  /** libvirt's error number, sent over the wire and used by virsh. */
  readonly vir: VirErrorNumberName;
  /** libvirt's error domain (the subsystem that reports). */
  readonly domain: VirErrorDomainName;
  readonly kind: ErrorKind;
  /**
   * Message detail with `{name}` placeholders, filled from the error's values (the names are
   * checked at compile time: constructing the error without one of them, or with a name the
   * template lacks, does not compile). `form` says how libvirt's prefix for `vir` is joined.
   * Style: say what failed, on which object, and what is expected instead.
   */
  readonly template: string;
  /** How the message is made from prefix and detail; `prefixed` when absent. */
  readonly form?: MessageForm;
  /**
   * Overrides libvirt's prefix for `vir`. For the few errors where libvirt reports a user or
   * host problem as "internal error": the number stays libvirt's (clients that test codes keep
   * working) while the text says what kind of problem it is.
   */
  readonly prefix?: string;
}

/** A catalogue file: entries of one libvirt error domain `D`. */
export type Catalogue<D extends VirErrorDomainName = VirErrorDomainName> = Readonly<
  Record<string, CatalogueEntry & { readonly domain: D }>
>;
