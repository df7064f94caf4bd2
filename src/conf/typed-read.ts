/**
 * The core of the typed XML reads that the network, storage and domain readers share: where a
 * node sits (XPath, line, column), enumeration and yes/no attributes, and the catalogued errors
 * of a format whose messages name the object being read. Each format supplies its own catalogue
 * codes (`typedReads`); the checks and the wording of what is expected are the same for all.
 */
import { parseXml, unusedWarnings, type XmlElement, type XmlWarning } from "./xml.ts";
import { toVirtError, type ErrorDetails, type VirtError } from "../util/errors/index.ts";

/**
 * XML text read into a definition by `read`, plus warnings for whatever `read` did not consume.
 * `document` names the text in syntax errors; every failure is a VirtError.
 */
export function readDocument<T>(
  xml: string,
  document: string,
  read: (root: XmlElement) => T,
): { def: T; warnings: XmlWarning[] } {
  try {
    const root = parseXml(xml, document);
    const def = read(root);
    return { def, warnings: unusedWarnings(root) };
  } catch (e) {
    throw toVirtError(e);
  }
}

/** Where a value sits, for messages and `details`. */
export type Place = {
  xpath: string;
  line: number;
  column: number;
};

/** The place of `el`, or of its attribute `attr` (the element's line when it has none of its own). */
export function placeOf(el: XmlElement, attr?: string): Place {
  if (attr === undefined) return { xpath: el.xpath, line: el.line, column: el.column };
  const a = el.attrNode(attr);
  return { xpath: `${el.xpath}/@${attr}`, line: a?.line ?? el.line, column: a?.column ?? el.column };
}

/**
 * An enumerated attribute: undefined when absent, the value when allowed, otherwise the error
 * `invalid` makes of the value, libvirt-style "expected one of …" and the allowed values.
 */
export function readEnumAttr<T extends string>(
  el: XmlElement,
  name: string,
  allowed: readonly T[],
  invalid: (value: string, expected: string, allowed: readonly T[]) => VirtError,
): T | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw invalid(v, `expected one of ${allowed.join(", ")}`, allowed);
}

/** The values of a format's "invalid value" error, less the object's name. */
export interface InvalidValues {
  value: string;
  xpath: string;
  line: number;
  expected: string;
}

/** The values of a format's "missing part" error, less the object's name. */
export interface MissingValues {
  what: string;
  xpath: string;
  line: number;
}

/** A format's catalogued errors; `Ctx` names the object being read. */
export interface ReadErrors<Ctx> {
  invalid(ctx: Ctx, values: InvalidValues, details: ErrorDetails): VirtError;
  missing(ctx: Ctx, values: MissingValues, details: ErrorDetails): VirtError;
  /** A structural rule is broken (`what` is libvirt's wording). */
  xmlInvalid(what: string, details: ErrorDetails): VirtError;
  /** Valid XML the configuration cannot support (`what` is libvirt's wording). */
  unsupported(what: string, details: ErrorDetails): VirtError;
}

/** The typed reads of one format, failing with that format's catalogued errors. */
export interface TypedReads<Ctx> {
  invalid: (
    ctx: Ctx,
    el: XmlElement,
    attr: string | undefined,
    value: string,
    expected: string,
    allowed?: readonly string[],
  ) => VirtError;
  /** A required part is absent; `what` is libvirt's wording, `sub` the missing part's XPath step. */
  missing: (ctx: Ctx, el: XmlElement, what: string, sub: string) => VirtError;
  /** A structural error with libvirt's wording, placed at `el`. */
  structural: (el: XmlElement | undefined, what: string) => VirtError;
  unsupported: (el: XmlElement | undefined, what: string) => VirtError;
  /** A required attribute; `what` names it in the error when it is absent. */
  reqAttr: (ctx: Ctx, el: XmlElement, name: string, what: string) => string;
  enumAttr: <T extends string>(
    ctx: Ctx,
    el: XmlElement,
    name: string,
    allowed: readonly T[],
  ) => T | undefined;
  yesNo: (ctx: Ctx, el: XmlElement, name: string) => boolean | undefined;
}

export function typedReads<Ctx>(errors: ReadErrors<Ctx>): TypedReads<Ctx> {
  const reads: TypedReads<Ctx> = {
    invalid(ctx, el, attr, value, expected, allowed) {
      const p = placeOf(el, attr);
      const details: Record<string, unknown> = { ...p };
      if (allowed) details.allowed = allowed;
      return errors.invalid(ctx, { value, xpath: p.xpath, line: p.line, expected }, details);
    },
    missing(ctx, el, what, sub) {
      const xpath = `${el.xpath}/${sub}`;
      return errors.missing(ctx, { what, xpath, line: el.line }, { xpath, line: el.line, column: el.column });
    },
    structural: (el, what) => errors.xmlInvalid(what, el ? placeOf(el) : {}),
    unsupported: (el, what) => errors.unsupported(what, el ? placeOf(el) : {}),
    reqAttr(ctx, el, name, what) {
      const v = el.attr(name);
      if (v === undefined) throw reads.missing(ctx, el, what, `@${name}`);
      return v;
    },
    enumAttr: (ctx, el, name, allowed) =>
      readEnumAttr(el, name, allowed, (v, expected) => reads.invalid(ctx, el, name, v, expected, allowed)),
    yesNo(ctx, el, name) {
      const v = reads.enumAttr(ctx, el, name, ["yes", "no"] as const);
      return v === undefined ? undefined : v === "yes";
    },
  };
  return reads;
}
