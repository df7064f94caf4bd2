/**
 * Typed reads of attributes and element text with libvirt's value rules. Every failure is a
 * catalogued VirtError naming the line, column and XPath of the bad node and, for enumerations,
 * the accepted values (`details.allowed`).
 */
import type { XmlElement } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import { placeOf, readEnumAttr, type Place } from "../typed-read.ts";
import { formatBitmap, parseBitmapMembers } from "./bitmap.ts";

export function invalid(
  place: Place,
  value: string,
  expected: string,
  allowed?: readonly string[],
): VirtError {
  const details: Record<string, unknown> = { xpath: place.xpath, line: place.line, column: place.column };
  if (allowed) details.allowed = allowed;
  return new VirtError(
    "XML_INVALID_VALUE",
    { value, xpath: place.xpath, line: place.line, expected },
    details,
  );
}

export function invalidAttr(
  el: XmlElement,
  name: string,
  value: string,
  expected: string,
  allowed?: readonly string[],
): VirtError {
  return invalid(placeOf(el, name), value, expected, allowed);
}

export function invalidText(
  el: XmlElement,
  value: string,
  expected: string,
  allowed?: readonly string[],
): VirtError {
  return invalid(placeOf(el), value, expected, allowed);
}

export function missingAttr(el: XmlElement, name: string): VirtError {
  const xpath = `${el.xpath}/@${name}`;
  return new VirtError(
    "XML_MISSING",
    { what: `attribute '${name}' of <${el.name}>`, xpath, line: el.line },
    { xpath, line: el.line, column: el.column },
  );
}

export function missingChild(el: XmlElement, name: string): VirtError {
  const xpath = `${el.xpath}/${name}`;
  return new VirtError(
    "XML_MISSING",
    { what: `element <${name}> in <${el.name}>`, xpath, line: el.line },
    { xpath, line: el.line, column: el.column },
  );
}

/** A structural error at an element (duplicates, bad combinations). */
export function structural(el: XmlElement, what: string): VirtError {
  return new VirtError(
    "XML_INVALID",
    { what, xpath: el.xpath, line: el.line },
    { xpath: el.xpath, line: el.line, column: el.column },
  );
}

/** `CONFIG_UNSUPPORTED` with libvirt's exact message, placed at an element. */
export function unsupported(el: XmlElement | undefined, what: string): VirtError {
  const details = el ? { xpath: el.xpath, line: el.line, column: el.column } : {};
  return new VirtError("CONFIG_UNSUPPORTED", { what }, details);
}

// ---------------------------------------------------------------------------------------------
// Strings and enumerations
// ---------------------------------------------------------------------------------------------

export function str(el: XmlElement, name: string): string | undefined {
  return el.attr(name);
}

export function reqStr(el: XmlElement, name: string): string {
  const v = el.attr(name);
  if (v === undefined) throw missingAttr(el, name);
  return v;
}

/** A non-empty string attribute (empty counts as absent where libvirt treats it so). */
export function nonEmpty(el: XmlElement, name: string): string | undefined {
  const v = el.attr(name);
  return v === undefined || v === "" ? undefined : v;
}

export function enumAttr<T extends string>(
  el: XmlElement,
  name: string,
  allowed: readonly T[],
): T | undefined {
  return readEnumAttr(el, name, allowed, (v, expected) => invalidAttr(el, name, v, expected, allowed));
}

export function reqEnum<T extends string>(el: XmlElement, name: string, allowed: readonly T[]): T {
  const v = enumAttr(el, name, allowed);
  if (v === undefined) throw missingAttr(el, name);
  return v;
}

export function enumText<T extends string>(el: XmlElement, allowed: readonly T[]): T {
  const v = el.content;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw invalidText(el, v, `expected one of ${allowed.join(", ")}`, allowed);
}

// ---------------------------------------------------------------------------------------------
// Booleans
// ---------------------------------------------------------------------------------------------

const YES_NO = ["yes", "no"] as const;
const ON_OFF = ["on", "off"] as const;

/** `yes`/`no` attribute (virTristateBool). */
export function yesNo(el: XmlElement, name: string): boolean | undefined {
  const v = enumAttr(el, name, YES_NO);
  return v === undefined ? undefined : v === "yes";
}

/** `on`/`off` attribute (virTristateSwitch). */
export function onOff(el: XmlElement, name: string): boolean | undefined {
  const v = enumAttr(el, name, ON_OFF);
  return v === undefined ? undefined : v === "on";
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

export interface IntRule {
  /** Accept `0x` hex as libvirt's base-0 parse does (default true). */
  hex?: boolean;
  min?: number;
  max?: number;
}

/** Parses an unsigned integer as libvirt's base-0/10 parsers do; undefined if malformed. */
export function parseUInt(text: string, hex = true): number | undefined {
  const t = text.trim();
  let n: number;
  if (hex && /^0x[0-9a-f]+$/i.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^[0-9]+$/.test(t)) n = parseInt(t, 10);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

function describe(rule: IntRule): string {
  const lo = rule.min ?? 0;
  return rule.max === undefined
    ? `expected an integer >= ${lo}`
    : `expected an integer from ${lo} to ${rule.max}`;
}

function checkRange(n: number | undefined, rule: IntRule): boolean {
  return n !== undefined && n >= (rule.min ?? 0) && (rule.max === undefined || n <= rule.max);
}

export function uintAttr(el: XmlElement, name: string, rule: IntRule = {}): number | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const n = parseUInt(v, rule.hex ?? true);
  if (!checkRange(n, rule)) throw invalidAttr(el, name, v, describe(rule));
  return n;
}

export function reqUInt(el: XmlElement, name: string, rule: IntRule = {}): number {
  const n = uintAttr(el, name, rule);
  if (n === undefined) throw missingAttr(el, name);
  return n;
}

export function uintText(el: XmlElement, rule: IntRule = {}): number {
  const v = el.content;
  const n = parseUInt(v, rule.hex ?? true);
  if (!checkRange(n, rule)) throw invalidText(el, v, describe(rule));
  return n!;
}

/** A signed integer attribute (e.g. VNC `port='-1'`). */
export function intAttr(
  el: XmlElement,
  name: string,
  rule: { min?: number; max?: number } = {},
): number | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const t = v.trim();
  const n = /^-?[0-9]+$/.test(t) ? parseInt(t, 10) : NaN;
  const lo = rule.min ?? Number.MIN_SAFE_INTEGER;
  const hi = rule.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(n) || n < lo || n > hi) {
    throw invalidAttr(
      el,
      name,
      v,
      rule.max === undefined ? "expected an integer" : `expected an integer from ${lo} to ${hi}`,
    );
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Scaled sizes (memory): value + unit → KiB, rounded up as libvirt does
// ---------------------------------------------------------------------------------------------

export const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  bytes: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  pb: 1000 ** 5,
  e: 1024 ** 6,
  eib: 1024 ** 6,
  eb: 1000 ** 6,
};

export const UNITS = [
  "b",
  "bytes",
  "k",
  "KiB",
  "KB",
  "M",
  "MiB",
  "MB",
  "G",
  "GiB",
  "GB",
  "T",
  "TiB",
  "TB",
  "P",
  "PiB",
  "PB",
  "E",
  "EiB",
  "EB",
] as const;

/**
 * The largest KiB value we accept: libvirt's limit, a byte count that fits a signed 64-bit
 * integer (LLONG_MAX >> 10, which is also the largest exact JavaScript integer).
 */
const MAX_KIB = Number.MAX_SAFE_INTEGER;

/**
 * Converts `value` in `unit` (default KiB) to KiB, rounding up. Returns undefined for a bad unit
 * or a value out of range.
 */
export function toKiB(value: string, unit: string | undefined): number | undefined {
  const u = (unit ?? "KiB").toLowerCase();
  const factor = UNIT_BYTES[u];
  const n = parseUInt(value, false);
  if (factor === undefined || n === undefined) return undefined;
  const bytes = BigInt(n) * BigInt(factor);
  const kib = (bytes + 1023n) / 1024n;
  if (kib > BigInt(MAX_KIB)) return undefined;
  return Number(kib);
}

/** `value` in `unit` (default bytes) as bytes, or undefined for a bad unit or number. */
export function toBytes(value: string, unit: string | undefined): number | undefined {
  const factor = UNIT_BYTES[(unit ?? "b").toLowerCase()];
  const n = parseUInt(value, false);
  if (factor === undefined || n === undefined || n * factor > Number.MAX_SAFE_INTEGER) return undefined;
  return n * factor;
}

/** `<el unit=...>N</el>` → KiB. `unitAttr` names the unit attribute (default `unit`). */
export function sizeText(el: XmlElement, unitAttr = "unit"): number {
  const unit = el.attr(unitAttr);
  if (unit !== undefined && UNIT_BYTES[unit.toLowerCase()] === undefined) {
    throw invalidAttr(el, unitAttr, unit, "expected a size unit", UNITS);
  }
  const v = el.content;
  const k = toKiB(v, unit);
  if (k === undefined) throw invalidText(el, v, "expected a non-negative size");
  return k;
}

/** libvirt's VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB): a `<memtune>` limit this large means none. */
export const MEMORY_UNLIMITED_KIB = 9007199254740991;

/** A `<memtune>` limit → KiB, capped at unlimited as libvirt's virDomainParseMemoryLimit does. */
export function limitText(el: XmlElement, unitAttr = "unit"): number {
  const unit = el.attr(unitAttr);
  const factor = UNIT_BYTES[(unit ?? "KiB").toLowerCase()];
  if (factor === undefined) throw invalidAttr(el, unitAttr, unit ?? "", "expected a size unit", UNITS);
  const v = el.content;
  if (!/^[0-9]+$/.test(v)) throw invalidText(el, v, "expected a non-negative size");
  const kib = (BigInt(v) * BigInt(factor) + 1023n) / 1024n;
  return kib >= BigInt(MEMORY_UNLIMITED_KIB) ? MEMORY_UNLIMITED_KIB : Number(kib);
}

/** `size='N' unit='U'` style (sizes in attributes) → KiB. */
export function sizeAttr(el: XmlElement, name: string, unitAttr = "unit"): number | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const unit = el.attr(unitAttr);
  if (unit !== undefined && UNIT_BYTES[unit.toLowerCase()] === undefined) {
    throw invalidAttr(el, unitAttr, unit, "expected a size unit", UNITS);
  }
  const k = toKiB(v, unit);
  if (k === undefined) throw invalidAttr(el, name, v, "expected a non-negative size");
  return k;
}

// ---------------------------------------------------------------------------------------------
// Children
// ---------------------------------------------------------------------------------------------

/** The single child with this name; a second one is an error where libvirt allows only one. */
export function only(el: XmlElement, name: string): XmlElement | undefined {
  return el.child(name);
}

export function reqChild(el: XmlElement, name: string): XmlElement {
  const c = el.child(name);
  if (!c) throw missingChild(el, name);
  return c;
}

/**
 * A CPU/node set attribute in canonical form. A malformed set is refused as libvirt's
 * virBitmapParse refuses it; a well-formed but empty one (`0,^0`) with `empty`, or the same.
 */
export function bitmapAttr(
  el: XmlElement,
  name: string,
  max?: number,
  empty?: () => VirtError,
): string | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const members = parseBitmapMembers(v, max);
  const place = placeOf(el, name);
  if (members?.length === 0 && empty) throw empty();
  if (!members || members.length === 0) {
    throw new VirtError(
      "DOMAIN_BITMAP_INVALID",
      { value: v },
      { ...place, expected: "a set like '0-3,^2,8'" },
    );
  }
  return formatBitmap(members);
}
