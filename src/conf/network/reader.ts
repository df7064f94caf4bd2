/**
 * Typed reads of network XML values. Every failure is a catalogued VirtError of the network
 * domain naming the network, the XPath, line and column of the bad node and what is allowed.
 */
import type { XmlElement } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import { typedReads } from "../typed-read.ts";
import { formatIp, parseIp, type IpAddr } from "./ip.ts";

/** What every read needs to know: the network's name (for messages). */
export interface Ctx {
  network: string;
}

const reads = typedReads<Ctx>({
  invalid: (ctx, values, details) =>
    new VirtError("NETWORK_INVALID_VALUE", { ...values, network: ctx.network }, details),
  missing: (ctx, values, details) =>
    new VirtError("NETWORK_MISSING", { ...values, network: ctx.network }, details),
  xmlInvalid: (what, details) => new VirtError("NETWORK_XML_INVALID", { what }, details),
  unsupported: (what, details) => new VirtError("NETWORK_CONFIG_UNSUPPORTED", { what }, details),
});

export const { invalid, missing, structural, unsupported, enumAttr, yesNo } = reads;

export function reqAttr(ctx: Ctx, el: XmlElement, name: string): string {
  return reads.reqAttr(ctx, el, name, `attribute '${name}' of <${el.name}>`);
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
