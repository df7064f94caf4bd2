/**
 * libvirt domain XML ⇄ typed definitions: the public surface of `conf/domain`.
 */
import type { XmlWarning } from "../xml.ts";
import type { DomainDef, DomainFacts } from "./types.ts";
import { parseDomain } from "./parse.ts";
import { formatDomain } from "./format.ts";
import { assignAliases as assignAliasesImpl } from "./aliases.ts";

export interface ParseDomainOptions {
  /** Names the input in error messages (a file name or "(domain_definition)"). */
  document?: string;
  /**
   * Hypervisor facts for defaults (machine aliases, default CPU model, ...); or a function
   * giving them for the definition as parsed, before defaults (e.g. for the emulator it names).
   */
  facts?: DomainFacts | ((def: DomainDef) => DomainFacts);
  /** Skip post-parse defaults and validation that depends on them. */
  noDefaults?: boolean;
  /**
   * libvirt's ABI_UPDATE parse flag (what define/create of a new domain use): NUMA memory sums
   * replace `<memory>`, and USB devices get addresses.
   */
  abiUpdate?: boolean;
  /**
   * A tvirt extension (libvirt refuses it): `<portForward>` on `<interface type='user'>` with
   * the default (SLIRP) backend, which the QEMU driver maps to `hostfwd=`. Off, the definition
   * gets libvirt's error, as on libvirt.
   */
  slirpPortForwards?: boolean;
  /**
   * libvirt's PARSE_STATUS: the live definition of a status file, whose device aliases (the
   * QEMU ids of the running process) are kept; otherwise only user aliases (`ua-*`) are.
   */
  status?: boolean;
}

/** Parses domain XML, fills libvirt's post-parse defaults and validates. Throws only VirtError. */
export function parseDomainXML(
  xml: string,
  options: ParseDomainOptions = {},
): { def: DomainDef; warnings: XmlWarning[] } {
  return parseDomain(xml, options);
}

/**
 * libvirt's canonical XML for a definition: the inactive form, or with `live` the form of a
 * running domain (`id=` on `<domain>`, every device's `<alias>`, pty paths). `secure` includes
 * passwords. `status` is the form of the driver's status file: live, plus internal facts such as
 * what a `type='volume'` disk resolved to.
 */
export function formatDomainXML(
  def: DomainDef,
  options: { secure?: boolean; live?: boolean; status?: boolean } = {},
): string {
  return formatDomain(def, options);
}

/** Fills `alias` of every device the way libvirt names them (idempotent). */
export function assignAliases(def: DomainDef): void {
  assignAliasesImpl(def);
}

export { assignUsbAddresses } from "./address-usb.ts";
export { parseBitmap, formatBitmap } from "./bitmap.ts";
export { defaultChannelPaths } from "./defaults-devices.ts";
export type * from "./types.ts";
export type { XmlWarning } from "../xml.ts";
export { formatRawElement } from "./format-general.ts";
export { rawElement } from "./parse-general.ts";
