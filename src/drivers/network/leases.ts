/**
 * dnsmasq's lease file (`dhcp-leasefile`) → libvirt's DHCP lease records. Pure.
 *
 * IPv4 lines: `<expiry> <mac> <ip> <hostname|*> <client-id|*>`. A `duid <server duid>` line
 * starts the IPv6 part, whose lines are `<expiry> <iaid> <ip> <hostname|*> <client duid|*>`.
 */
import { IPAddrType, type NetworkDHCPLease } from "../network-driver.ts";
import { ipPrefix, type NetworkDef } from "../../conf/network/index.ts";
import { parseIp, sameSubnet } from "../../conf/network/ip.ts";

/** The prefix of the network address that holds `ip` (libvirt reports the subnet's). */
function prefixFor(def: NetworkDef, ip: string): number {
  const a = parseIp(ip);
  if (!a) return 0;
  for (const d of def.ips) {
    const b = parseIp(d.address);
    const p = ipPrefix(d);
    if (b && p !== undefined && sameSubnet(a, b, p)) return p;
  }
  return a.family === 4 ? 24 : 64;
}

export function parseLeaseFile(text: string, def: NetworkDef, mac: string | null = null): NetworkDHCPLease[] {
  const out: NetworkDHCPLease[] = [];
  let v6 = false;
  const iface = def.bridge ?? "";
  const want = mac?.toLowerCase() ?? null;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2 || f[0] === "") continue;
    if (f[0] === "duid") {
      v6 = true;
      continue;
    }
    if (f.length < 4) continue;
    const [expiry, second, ip, host, client] = f as [string, string, string, string, string?];
    const hostname = host === "*" ? null : host;
    const clientid = client === undefined || client === "*" ? null : client;
    const lease: NetworkDHCPLease = v6
      ? {
          iface,
          expirytime: Number(expiry),
          type: IPAddrType.IPV6,
          mac: null,
          iaid: second,
          ipaddr: ip,
          prefix: prefixFor(def, ip),
          hostname,
          clientid,
        }
      : {
          iface,
          expirytime: Number(expiry),
          type: IPAddrType.IPV4,
          mac: second.toLowerCase(),
          iaid: null,
          ipaddr: ip,
          prefix: prefixFor(def, ip),
          hostname,
          clientid,
        };
    if (want !== null && lease.mac !== want) continue;
    out.push(lease);
  }
  return out;
}
