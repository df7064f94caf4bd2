/**
 * A network definition → the dnsmasq configuration libvirt's network driver writes for it
 * (`<state dir>/<name>.conf`) and the DHCP static hosts file (`<name>.hostsfile`). Pure: paths
 * and the dnsmasq version come in a context; nothing is read or written here.
 */
import { VirtError } from "../../util/errors/index.ts";
import {
  ipPrefix,
  type DhcpHost,
  type IpDef,
  type LeaseDef,
  type NetworkDef,
} from "../../conf/network/index.ts";
import { ipDistance, parseIp, prefixNetmask, formatIp } from "../../conf/network/ip.ts";

export interface DnsmasqContext {
  /** Folder of the per-network files (libvirt: `/var/lib/libvirt/dnsmasq`). */
  stateDir: string;
  /** `pid-file=` line, when dnsmasq should write one. */
  pidFile?: string;
  /** dnsmasq's version as [major, minor]: decides bind-dynamic, ra-param and DHCPv6. */
  version: readonly [number, number];
}

export interface DnsmasqFiles {
  /** The `.conf` text. */
  conf: string;
  /** The `.hostsfile` text; undefined when there are no static DHCP hosts. */
  hostsFile?: string;
  hostsFilePath: string;
  /**
   * The `.addnhosts` text (DNS `<host>` records: address, a tab, each name followed by a tab;
   * records of the same address merged). Empty when there are none: libvirt still writes the
   * file, for names added at run time.
   */
  addnHosts: string;
  addnHostsPath: string;
}

function atLeast(v: readonly [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

/** dnsmasq's features by version, as libvirt decides them. */
export function dnsmasqCaps(version: readonly [number, number]): {
  bindDynamic: boolean;
  raParam: boolean;
  dhcpv6: boolean;
  ra: boolean;
} {
  return {
    bindDynamic: atLeast(version, 2, 63),
    raParam: atLeast(version, 2, 64),
    dhcpv6: atLeast(version, 2, 64),
    ra: atLeast(version, 2, 64),
  };
}

/** dnsmasq's lease time text: `infinite`, or the number and the unit's first letter. */
export function leaseText(l: LeaseDef): string {
  return l.expiry === 0 ? "infinite" : `${l.expiry}${l.unit[0]}`;
}

const HEADER = (name: string): string =>
  "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n" +
  "##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n" +
  `##    virsh net-edit ${name}\n` +
  "## or other application using the libvirt API.\n" +
  "##\n" +
  "## dnsmasq conf file created by libvirt\n";

function unsupported(what: string): VirtError {
  return new VirtError("NETWORK_CONFIG_UNSUPPORTED", { what });
}

function family(ip: IpDef): 4 | 6 {
  return ip.address.includes(":") ? 6 : 4;
}

/**
 * The reverse-lookup zone of an `<ip localPtr='yes'>` subnet (e.g. 122.168.192.in-addr.arpa);
 * only whole octets (IPv4) or nibbles (IPv6) can be delegated this way.
 */
export function ptrDomain(ip: IpDef, network: string): string {
  const a = parseIp(ip.address)!;
  const prefix = ipPrefix(ip) ?? 0;
  const unit = a.family === 4 ? 8 : 4;
  const max = a.family === 4 ? 32 : 128;
  if (prefix === 0 || prefix >= max || prefix % unit !== 0) {
    throw unsupported(
      `PTR domain for ${a.family === 4 ? "IPv4" : "IPv6"} network with prefix ${prefix} cannot be automatically created (network '${network}'): use a prefix that is a multiple of ${unit}`,
    );
  }
  const parts: string[] = [];
  if (a.family === 4) {
    for (let i = prefix / 8; i > 0; i--) parts.push(String(a.bytes[i - 1]));
    return `${parts.join(".")}.in-addr.arpa`;
  }
  for (let i = prefix / 4; i > 0; i--) {
    const byte = a.bytes[Math.floor((i - 1) / 2)]!;
    parts.push(((i - 1) % 2 === 0 ? byte >> 4 : byte & 0xf).toString(16));
  }
  return `${parts.join(".")}.ip6.arpa`;
}

function addnHostsText(def: NetworkDef): string {
  const byIp = new Map<string, string[]>();
  for (const h of def.dns.hosts) {
    const names = byIp.get(h.ip) ?? [];
    names.push(...h.hostnames);
    byIp.set(h.ip, names);
  }
  let text = "";
  for (const [ip, names] of byIp) text += `${ip}\t${names.map((n) => `${n}\t`).join("")}\n`;
  return text;
}

function hostLine(h: DhcpHost, v6: boolean): string | undefined {
  if (h.ip === undefined) return undefined;
  let s: string;
  if (v6) {
    const ip = `[${h.ip}]`;
    if (h.id !== undefined) s = h.name !== undefined ? `id:${h.id},${h.name},${ip}` : `id:${h.id},${ip}`;
    else if (h.name !== undefined) s = `${h.name},${ip}`;
    else return undefined;
  } else if (h.mac !== undefined) {
    s = h.name !== undefined ? `${h.mac},${h.ip},${h.name}` : `${h.mac},${h.ip}`;
  } else if (h.name !== undefined) {
    s = `${h.name},${h.ip}`;
  } else return undefined;
  return h.lease ? `${s},${leaseText(h.lease)}` : s;
}

/**
 * Builds dnsmasq's configuration for a network with a bridge of its own (nat, route, open,
 * isolated). The bridge name must have been assigned already.
 */
export function dnsmasqConfig(def: NetworkDef, ctx: DnsmasqContext): DnsmasqFiles {
  if (def.bridge === undefined) {
    throw unsupported(`network '${def.name}' has no bridge name: dnsmasq needs the interface to serve`);
  }
  const caps = dnsmasqCaps(ctx.version);
  const hostsFilePath = `${ctx.stateDir}/${def.name}.hostsfile`;
  const addnHostsPath = `${ctx.stateDir}/${def.name}.addnhosts`;
  const wantDNS = def.dns.enable !== false;
  const out: string[] = [];
  const line = (s: string): void => {
    out.push(s);
  };

  line("strict-order");
  if (!wantDNS) line("port=0");
  if (wantDNS && def.dns.forwarders.length) {
    let noResolv = false;
    for (const f of def.dns.forwarders) {
      let s = "server=";
      if (f.domain !== undefined) s += `/${f.domain}/`;
      if (f.addr !== undefined) {
        s += f.addr;
        if (f.domain === undefined) noResolv = true;
      } else s += "#";
      line(s);
    }
    if (noResolv) line("no-resolv");
  }
  if (def.domain) {
    if (def.domain.localOnly) line(`local=/${def.domain.name}/`);
    line(`domain=${def.domain.name}`);
    line("expand-hosts");
  }
  if (wantDNS) {
    for (const ip of def.ips) {
      if (ip.localPtr !== true) continue;
      line(`local=/${ptrDomain(ip, def.name)}/`);
    }
  }
  if (wantDNS && def.dns.forwardPlainNames === false) {
    line("domain-needed");
    line("local=//");
  }
  if (ctx.pidFile !== undefined) line(`pid-file=${ctx.pidFile}`);
  line("except-interface=lo");
  if (caps.bindDynamic) {
    line("bind-dynamic");
    line(`interface=${def.bridge}`);
  } else {
    line("bind-interfaces");
    for (const ip of def.ips) line(`listen-address=${ip.address}`);
  }
  if (!def.forward) {
    // Isolated: no default route for guests, and no forwarding of queries upstream.
    line("dhcp-option=3");
    line("no-resolv");
    if (caps.raParam) line("ra-param=*,0,0");
  }
  if (wantDNS) {
    for (const t of def.dns.txts) line(`txt-record=${t.name},${t.value}`);
    for (const s of def.dns.srvs) {
      let r = `srv-host=_${s.service}._${s.protocol}`;
      if (s.domain !== undefined) r += `.${s.domain}`;
      // A target of "." (or none) means "no such service": port, priority and weight do not
      // apply. They are positional, so an unset one before a set one gets its default.
      if (s.target !== undefined && s.target !== "" && s.target !== ".") {
        r += `,${s.target}`;
        if (s.port || s.priority || s.weight) r += `,${s.port || 1}`;
        if (s.priority || s.weight) r += `,${s.priority ?? 0}`;
        if (s.weight) r += `,${s.weight}`;
      }
      line(r);
    }
  }

  // TFTP is served on the (IPv4) addresses that ask for it.
  for (const ip of def.ips) {
    if (family(ip) === 4 && ip.tftpRoot !== undefined) {
      line("enable-tftp");
      line(`tftp-root=${ip.tftpRoot}`);
    }
  }

  // DHCP runs on the first IPv4 and the first IPv6 address that define it.
  let v4: IpDef | undefined;
  let v6: IpDef | undefined;
  let slaac = false;
  for (const ip of def.ips) {
    const dhcp = ip.ranges.length > 0 || ip.hosts.length > 0;
    if (family(ip) === 4 && dhcp) {
      if (v4) throw unsupported("For IPv4, multiple DHCP definitions cannot be specified.");
      v4 = ip;
    }
    if (family(ip) === 6) {
      if (dhcp) {
        if (!caps.dhcpv6) {
          throw unsupported(
            `The version of dnsmasq on this host (${ctx.version.join(".")}) doesn't support DHCPv6 (network '${def.name}'): 2.64 or later is required`,
          );
        }
        if (v6) throw unsupported("For IPv6, multiple DHCP definitions cannot be specified.");
        v6 = ip;
      } else slaac = true;
    }
  }

  let leases = 0n;
  const hosts: string[] = [];
  for (const ip of [v4, v6]) {
    if (!ip) continue;
    const is6 = family(ip) === 6;
    const prefix = ipPrefix(ip);
    if (prefix === undefined) {
      throw unsupported(`cannot determine the prefix of address '${ip.address}' in network '${def.name}'`);
    }
    for (const r of ip.ranges) {
      const lease = r.lease ? `,${leaseText(r.lease)}` : "";
      const mask = is6 ? String(prefix) : formatIp(prefixNetmask(4, prefix));
      line(`dhcp-range=${r.start},${r.end},${mask}${lease}`);
      leases += ipDistance(parseIp(r.end)!, parseIp(r.start)!) + 1n;
    }
    if (ip.ranges.length === 0 && ip.hosts.length > 0) {
      line(is6 ? `dhcp-range=${ip.address},static,${prefix}` : `dhcp-range=${ip.address},static`);
    }
    for (const h of ip.hosts) {
      const l = hostLine(h, is6);
      if (l !== undefined) hosts.push(l);
    }
    if (!is6) {
      line("dhcp-no-override");
      line("dhcp-authoritative");
      if (ip.bootp) {
        line(
          ip.bootp.server ? `dhcp-boot=${ip.bootp.file},,${ip.bootp.server}` : `dhcp-boot=${ip.bootp.file}`,
        );
      }
    }
  }
  if (leases > 0n) line(`dhcp-lease-max=${leases}`);
  if (v4 || v6) line(`dhcp-hostsfile=${hostsFilePath}`);
  if (wantDNS) line(`addn-hosts=${addnHostsPath}`);
  if (def.mtu) line(`dhcp-option=option:mtu,${def.mtu}`);
  if (caps.ra && v6) line("enable-ra");
  else if (caps.ra && slaac) {
    for (const ip of def.ips) if (family(ip) === 6) line(`dhcp-range=${ip.address},ra-only`);
  }
  for (const o of def.dnsmasqOptions) line(o);

  const files: DnsmasqFiles = {
    conf: HEADER(def.name) + out.map((s) => s + "\n").join(""),
    hostsFilePath,
    addnHosts: addnHostsText(def),
    addnHostsPath,
  };
  if (hosts.length) files.hostsFile = hosts.map((s) => s + "\n").join("");
  return files;
}
