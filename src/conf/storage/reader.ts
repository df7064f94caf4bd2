/**
 * Typed reads shared by the pool and volume parsers. Every failure is a catalogued VirtError of
 * the storage domain naming the object ("storage pool 'x'"), the XPath and line of the node and
 * what is allowed.
 */
import type { XmlElement } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import { placeOf, typedReads } from "../typed-read.ts";
import type { Permissions } from "./types.ts";

/** Names the object being read, for messages: `storage pool 'default'`. */
export interface Ctx {
  object: string;
}

const reads = typedReads<Ctx>({
  invalid: (ctx, values, details) =>
    new VirtError("STORAGE_INVALID_VALUE", { ...values, object: ctx.object }, details),
  missing: (ctx, values, details) =>
    new VirtError("STORAGE_MISSING", { ...values, object: ctx.object }, details),
  xmlInvalid: (what, details) => new VirtError("STORAGE_XML_INVALID", { what }, details),
  unsupported: (what, details) => new VirtError("STORAGE_CONFIG_UNSUPPORTED", { what }, details),
});

export const { invalid, missing, structural, unsupported, enumAttr, yesNo } = reads;

export function reqAttr(ctx: Ctx, el: XmlElement, name: string, what?: string): string {
  return reads.reqAttr(ctx, el, name, what ?? `missing attribute '${name}' of <${el.name}>`);
}

/** A pool or volume name libvirt accepts (it becomes a file name), or STORAGE_INVALID_NAME. */
export function checkName(
  kind: "storage pool" | "storage volume",
  name: string,
  el: XmlElement | undefined,
): void {
  let reason: string | undefined;
  if (name === "") reason = "it must not be empty";
  else if (name.includes("/")) reason = "it must not contain '/'";
  else if (name === "." || name === "..") reason = "'.' and '..' are not allowed";
  // eslint-disable-next-line no-control-regex
  else if (/[\x00-\x1f\x7f]/.test(name)) reason = "it must not contain control characters";
  if (reason) {
    throw new VirtError("STORAGE_INVALID_NAME", { kind, name, reason }, el ? placeOf(el) : {});
  }
}

export function uintAttr(ctx: Ctx, el: XmlElement, name: string, max: number): number | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const t = v.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : NaN;
  if (!Number.isSafeInteger(n) || n > max)
    throw invalid(ctx, el, name, v, `expected an integer from 0 to ${max}`);
  return n;
}

/**
 * libvirt's path clean-up (virFileSanitizePath): runs of '/' become one (a leading '//' that is
 * not '///' stays), a trailing '/' goes.
 */
export function sanitizePath(path: string): string {
  let out = "";
  let i = 0;
  if (path.startsWith("//") && path[2] !== "/") {
    out = "//";
    i = 2;
  }
  for (; i < path.length; i++) {
    const c = path.charAt(i);
    if (c === "/" && path.charAt(i + 1) === "/") continue;
    out += c;
  }
  if (out.length > 1 && out.endsWith("/")) out = out.slice(0, -1);
  return out;
}

const POWERS: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/** The accepted unit spellings, for messages. */
export const UNITS_HELP =
  "b, byte, bytes; k, KiB, KB; M, MiB, MB; G, GiB, GB; T, TiB, TB; P, PiB, PB; E, EiB, EB (case-insensitive)";

/** Bytes per unit as libvirt's virScaleInteger reads them, or undefined for an unknown unit. */
export function unitScale(unit: string | undefined): bigint | undefined {
  if (unit === undefined || unit === "") return 1n;
  const u = unit.toLowerCase();
  if (u === "b" || u === "byte" || u === "bytes") return 1n;
  const power = POWERS[u[0] ?? ""];
  if (power === undefined) return undefined;
  const rest = u.slice(1);
  const base = rest === "" || rest === "ib" ? 1024n : rest === "b" ? 1000n : undefined;
  if (base === undefined) return undefined;
  return base ** BigInt(power);
}

export const LLONG_MAX = 2n ** 63n - 1n;
export const ULLONG_MAX = 2n ** 64n - 1n;

/**
 * A scaled size: the element's decimal text times its `unit` attribute, at most `limit` bytes.
 */
export function scaledSize(ctx: Ctx, el: XmlElement, limit: bigint): bigint {
  const raw = el.content;
  const unitAttr = el.attr("unit");
  if (!/^[0-9]+$/.test(raw)) {
    throw invalid(
      ctx,
      el,
      undefined,
      raw,
      "expected a non-negative decimal integer (with an optional unit attribute)",
    );
  }
  const scale = unitScale(unitAttr);
  if (scale === undefined) {
    throw invalid(ctx, el, "unit", unitAttr ?? "", `unknown unit: expected one of ${UNITS_HELP}`);
  }
  const n = BigInt(raw) * scale;
  if (n > limit) {
    throw invalid(
      ctx,
      el,
      undefined,
      raw,
      `the size ${raw}${unitAttr ? " " + unitAttr : ""} is larger than the maximum of ${limit} bytes`,
    );
  }
  return n;
}

const UID_UNSET = 4294967295;

function idElement(ctx: Ctx, el: XmlElement): number | undefined {
  const raw = el.content;
  const t = raw.trim();
  const n = /^-?[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < -1 || n > UID_UNSET) {
    throw invalid(ctx, el, undefined, raw, "expected a numeric id from 0 to 4294967294 (-1 means unset)");
  }
  return n === -1 || n === UID_UNSET ? undefined : n;
}

/** `<permissions>` (libvirt: virStorageDefParsePerms). */
export function parsePerms(ctx: Ctx, el: XmlElement | undefined): Permissions {
  const perms: Permissions = {};
  if (!el) return perms;
  const mode = el.child("mode");
  if (mode) {
    const raw = mode.content;
    const n = /^[0-7]+$/.test(raw) ? parseInt(raw, 8) : NaN;
    if (Number.isNaN(n) || n > 0o777)
      throw invalid(ctx, mode, undefined, raw, "expected an octal mode from 0 to 0777");
    perms.mode = n;
  }
  const owner = el.child("owner");
  if (owner) {
    const v = idElement(ctx, owner);
    if (v !== undefined) perms.owner = v;
  }
  const group = el.child("group");
  if (group) {
    const v = idElement(ctx, group);
    if (v !== undefined) perms.group = v;
  }
  const label = el.child("label");
  if (label) perms.label = label.content;
  return perms;
}
