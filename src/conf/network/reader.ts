/**
 * Typed reads of network XML values. Every failure is a catalogued VirtError of the network
 * domain naming the network, the XPath, line and column of the bad node and what is allowed.
 */
import type { XmlElement } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import { formatIp, parseIp, type IpAddr } from "./ip.ts";

/** What every read needs to know: the network's name (for messages). */
export interface Ctx {
  network: string;
}

function place(el: XmlElement, attr?: string): { xpath: string; line: number; column: number } {
  if (attr === undefined) return { xpath: el.xpath, line: el.line, column: el.column };
  const a = el.attrNode(attr);
  return { xpath: `${el.xpath}/@${attr}`, line: a?.line ?? el.line, column: a?.column ?? el.column };
}

export function invalid(
  ctx: Ctx,
  el: XmlElement,
  attr: string | undefined,
  value: string,
  expected: string,
  allowed?: readonly string[],
): VirtError {
  const p = place(el, attr);
  const details: Record<string, unknown> = { ...p };
  if (allowed) details.allowed = allowed;
  return new VirtError(
    "NETWORK_INVALID_VALUE",
    { value, xpath: p.xpath, line: p.line, network: ctx.network, expected },
    details,
  );
}

export function missing(ctx: Ctx, el: XmlElement, what: string, sub: string): VirtError {
  const xpath = `${el.xpath}/${sub}`;
  return new VirtError(
    "NETWORK_MISSING",
    { what, xpath, line: el.line, network: ctx.network },
    { xpath, line: el.line, column: el.column },
  );
}

/** A structural error with libvirt's wording, placed at `el`. */
export function structural(el: XmlElement | undefined, what: string): VirtError {
  return new VirtError("NETWORK_XML_INVALID", { what }, el ? place(el) : {});
}

export function unsupported(el: XmlElement | undefined, what: string): VirtError {
  return new VirtError("NETWORK_CONFIG_UNSUPPORTED", { what }, el ? place(el) : {});
}

export function reqAttr(ctx: Ctx, el: XmlElement, name: string): string {
  const v = el.attr(name);
  if (v === undefined) throw missing(ctx, el, `attribute '${name}' of <${el.name}>`, `@${name}`);
  return v;
}

export function enumAttr<T extends string>(
  ctx: Ctx,
  el: XmlElement,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw invalid(ctx, el, name, v, `expected one of ${allowed.join(", ")}`, allowed);
}

export function yesNo(ctx: Ctx, el: XmlElement, name: string): boolean | undefined {
  const v = enumAttr(ctx, el, name, ["yes", "no"] as const);
  return v === undefined ? undefined : v === "yes";
}

/** Unsigned decimal integer attribute within [min, max]. */
export function uintAttr(
  ctx: Ctx,
  el: XmlElement,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const t = v.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw invalid(ctx, el, name, v, `expected ${range}`);
  }
  return n;
}

/** An IP address attribute of the given family (either when undefined). */
export function ipAttr(ctx: Ctx, el: XmlElement, name: string, family?: 4 | 6): IpAddr | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const a = parseIp(v.trim());
  const want = family === 4 ? "an IPv4 address" : family === 6 ? "an IPv6 address" : "an IP address";
  if (!a || (family !== undefined && a.family !== family))
    throw invalid(ctx, el, name, v, `expected ${want}`);
  return a;
}

export function reqIpAttr(ctx: Ctx, el: XmlElement, name: string, family?: 4 | 6): IpAddr {
  const a = ipAttr(ctx, el, name, family);
  if (!a) throw missing(ctx, el, `attribute '${name}' of <${el.name}>`, `@${name}`);
  return a;
}

export { formatIp };

const MAC_RE = /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/;

/** A MAC address attribute in lower-case canonical form. */
export function macAttr(ctx: Ctx, el: XmlElement, name: string): string | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  if (!MAC_RE.test(v)) throw invalid(ctx, el, name, v, "expected a MAC address like 52:54:00:12:34:56");
  return v
    .split(":")
    .map((x) => x.toLowerCase().padStart(2, "0"))
    .join(":");
}
