import type { VirErrorDomainName, VirErrorNumberName } from "./virerror.ts";

/**
 * Who is at fault:
 * - `user`: bad input from the caller (XML, names, arguments). Fix the input.
 * - `environment`: the host lacks something or refused (no KVM, missing file, QEMU failed).
 * - `bug`: an invariant of tvirt broke. Only these are reported as "internal error".
 */
export type ErrorKind = "user" | "environment" | "bug";

export interface CatalogueEntry {
  /** libvirt's error number, sent over the wire and used by virsh. */
  readonly vir: VirErrorNumberName;
  /** libvirt's error domain (the subsystem that reports). */
  readonly domain: VirErrorDomainName;
  readonly kind: ErrorKind;
  /**
   * Message detail with `{name}` placeholders, filled from the error's values. libvirt's
   * prefix for `vir` is put in front ("unsupported configuration: ...").
   * Style: say what failed, on which object, and what is expected instead.
   */
  readonly template: string;
  /**
   * Overrides libvirt's prefix for `vir`. For the few errors where libvirt reports a user or
   * host problem as "internal error": the number stays libvirt's (clients that test codes keep
   * working) while the text says what kind of problem it is.
   */
  readonly prefix?: string;
}

export type Catalogue = Readonly<Record<string, CatalogueEntry>>;
