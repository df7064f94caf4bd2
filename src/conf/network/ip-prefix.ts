/** The effective prefix length of a network's `<ip>`: its prefix, its netmask's, or the class default. */
import { VirtError } from "../../util/errors/index.ts";
import { defaultPrefix, netmaskPrefix, parseIp, type IpAddr } from "./ip.ts";
import type { IpDef } from "./types.ts";

export function ipPrefix(ip: IpDef): number | undefined {
  if (ip.prefix !== undefined) return ip.prefix;
  const addr = parseIpOrThrow(ip.address);
  if (ip.netmask !== undefined) return netmaskPrefix(parseIpOrThrow(ip.netmask));
  return defaultPrefix(addr);
}

function parseIpOrThrow(text: string): IpAddr {
  const a = parseIp(text);
  if (!a) throw new VirtError("BUG", { what: `address '${text}' was stored without being valid` });
  return a;
}
