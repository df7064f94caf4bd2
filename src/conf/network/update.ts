/**
 * One `virNetworkUpdate` on a network definition (libvirt's `virNetworkDefUpdateSection`): add,
 * delete or modify one entry of a section (a DHCP host or range, a DNS host, TXT or SRV record)
 * given as an XML element. Pure: returns the changed copy, the input stays as it was, and the
 * copy is formatted and parsed again so nothing the parser would refuse gets in. Matching rules
 * and error texts are libvirt's.
 */
import { VirtError } from "../../util/errors/index.ts";
import { parseXml, type XmlElement } from "../xml.ts";
import { formatNetwork } from "./format.ts";
import { parseIp, type IpAddr } from "./ip.ts";
import { ipPrefix } from "./ip-prefix.ts";
import { parseDhcpHost, parseDhcpRange, parseDnsHost, parseNetwork, parsePortGroup } from "./parse.ts";
import type { Ctx } from "./reader.ts";
import { reqAttr } from "./reader.ts";
import type { DhcpHost, DnsSrv, DnsTxt, IpDef, NetworkDef } from "./types.ts";

/** `virNetworkUpdateCommand` */
export const NetworkUpdateCommand = { NONE: 0, MODIFY: 1, DELETE: 2, ADD_LAST: 3, ADD_FIRST: 4 } as const;

/** `virNetworkUpdateSection` */
export const NetworkUpdateSection = {
  NONE: 0,
  BRIDGE: 1,
  DOMAIN: 2,
  IP: 3,
  IP_DHCP_HOST: 4,
  IP_DHCP_RANGE: 5,
  FORWARD: 6,
  FORWARD_INTERFACE: 7,
  FORWARD_PF: 8,
  PORTGROUP: 9,
  DNS_HOST: 10,
  DNS_TXT: 11,
  DNS_SRV: 12,
} as const;

/** virsh's names of the sections, by number (index 0 = none). */
export const NETWORK_UPDATE_SECTION_NAMES = [
  "none",
  "bridge",
  "domain",
  "ip",
  "ip-dhcp-host",
  "ip-dhcp-range",
  "forward",
  "forward-interface",
  "forward-pf",
  "portgroup",
  "dns-host",
  "dns-txt",
  "dns-srv",
] as const;

/** virsh's names of the commands, by number ("add" is virsh's synonym of add-last). */
export const NETWORK_UPDATE_COMMAND_NAMES = ["none", "modify", "delete", "add-last", "add-first"] as const;

const C = NetworkUpdateCommand;
const S = NetworkUpdateSection;

const familyOf = (address: string): 4 | 6 => (address.includes(":") ? 6 : 4);

/** virNetworkDefGetIPByIndex: the n-th `<ip>` of a family (undefined = any). */
function ipByIndex(def: NetworkDef, family: 4 | 6 | undefined, n: number): IpDef | undefined {
  return def.ips.filter((ip) => family === undefined || familyOf(ip.address) === family)[n];
}

/** The `<ip>` whose DHCP entries an update changes (libvirt's virNetworkIPDefByIndex). */
function dhcpIp(def: NetworkDef, parentIndex: number): IpDef {
  if (parentIndex >= 0) {
    const ip = ipByIndex(def, undefined, parentIndex);
    if (!ip)
      throw new VirtError("NETWORK_UPDATE_NO_IP", { at: ` at index ${parentIndex}`, network: def.name });
    return ip;
  }
  // -1: the one <ip> that has DHCP, else the first IPv4, else the first IPv6.
  const ip =
    def.ips.find((i) => i.ranges.length > 0 || i.hosts.length > 0) ??
    ipByIndex(def, 4, 0) ??
    ipByIndex(def, 6, 0);
  if (!ip) throw new VirtError("NETWORK_UPDATE_NO_IP", { at: "", network: def.name });
  return ip;
}

/** libvirt allows DHCP on one `<ip>` per family. */
function checkMultiDhcp(def: NetworkDef, ip: IpDef): void {
  const family = familyOf(ip.address);
  for (const other of def.ips) {
    if (other === ip || familyOf(other.address) !== family) continue;
    if (other.ranges.length > 0 || other.hosts.length > 0) {
      throw new VirtError("NETWORK_UPDATE_MULTI_DHCP", { family: family === 4 ? "IPv4" : "IPv6" });
    }
  }
}

function checkElement(def: NetworkDef, el: XmlElement, expected: string): void {
  if (el.name !== expected) {
    throw new VirtError("NETWORK_UPDATE_WRONG_ELEMENT", { found: el.name, expected, network: def.name });
  }
}

function insert<T>(list: T[], command: number, item: T): void {
  if (command === C.ADD_FIRST) list.unshift(item);
  else list.push(item);
}

/** virMacAddrCompare: equal as addresses (case and leading zeros aside). */
function sameMac(a: string, b: string): boolean {
  const norm = (m: string): string =>
    m
      .split(":")
      .map((x) => x.toLowerCase().padStart(2, "0"))
      .join(":");
  return norm(a) === norm(b);
}

function sameIp(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const x = parseIp(a);
  const y = parseIp(b);
  return !!x && !!y && x.family === y.family && x.bytes.every((v, i) => v === y.bytes[i]);
}

/** printf's rendering of a C string that may be NULL. */
const cstr = (s: string | undefined): string => s ?? "(null)";

function updateDhcpHost(def: NetworkDef, command: number, parentIndex: number, el: XmlElement): void {
  checkElement(def, el, "host");
  const ip = dhcpIp(def, parentIndex);
  const ctx: Ctx = { network: def.name };
  const partial = command === C.DELETE;
  const host = parseDhcpHost(ctx, el, familyOf(ip.address), partial ? "match" : "update");
  if (!partial && (host.ip === undefined || familyOf(host.ip) !== familyOf(ip.address))) {
    throw new VirtError("NETWORK_UPDATE_FAMILY", { entry: "host entry IP" });
  }
  const anyMatch = (h: DhcpHost): boolean =>
    (host.mac !== undefined && h.mac !== undefined && sameMac(host.mac, h.mac)) ||
    sameIp(host.ip, h.ip) ||
    (host.name !== undefined && host.name === h.name);
  const described = `"mac='${host.mac ?? "unknown"}'" "name='${cstr(host.name)}'" "ip='${host.ip ?? "unknown"}'"`;
  if (command === C.MODIFY) {
    const i = ip.hosts.findIndex(anyMatch);
    if (i < 0) {
      throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
        what: `couldn't locate an existing dhcp host entry with ${described} in network '${def.name}'`,
      });
    }
    ip.hosts[i] = host;
  } else if (command === C.ADD_FIRST || command === C.ADD_LAST) {
    checkMultiDhcp(def, ip);
    if (ip.hosts.some(anyMatch)) {
      throw new VirtError("NETWORK_UPDATE_EXISTS", {
        what: `there is an existing dhcp host entry in network '${def.name}' that matches "<host mac='${host.mac ?? "unknown"}' name='${cstr(host.name)}' ip='${host.ip ?? "unknown"}'/>"`,
      });
    }
    insert(ip.hosts, command, host);
  } else if (command === C.DELETE) {
    // Every attribute given must match.
    const i = ip.hosts.findIndex(
      (h) =>
        (host.mac === undefined || h.mac === undefined || sameMac(host.mac, h.mac)) &&
        (host.name === undefined || host.name === h.name) &&
        (host.ip === undefined || sameIp(host.ip, h.ip)),
    );
    if (i < 0) {
      throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
        what: `couldn't locate a matching dhcp host entry in network '${def.name}'`,
      });
    }
    ip.hosts.splice(i, 1);
  } else {
    throw new VirtError("NETWORK_UPDATE_COMMAND_UNKNOWN", { command });
  }
}

function updateDhcpRange(def: NetworkDef, command: number, parentIndex: number, el: XmlElement): void {
  checkElement(def, el, "range");
  const ip = dhcpIp(def, parentIndex);
  if (command === C.MODIFY) {
    throw new VirtError("NETWORK_UPDATE_NO_MODIFY", {
      what: "dhcp ranges cannot be modified, only added or deleted",
    });
  }
  const ctx: Ctx = { network: def.name };
  const addr = parseIp(ip.address) as IpAddr;
  const start = parseIp(el.attr("start")?.trim() ?? "");
  if (start && start.family !== addr.family) {
    throw new VirtError("NETWORK_UPDATE_FAMILY", { entry: "dhcp range" });
  }
  const range = parseDhcpRange(ctx, el, addr, ipPrefix(ip));
  const i = ip.ranges.findIndex((r) => sameIp(r.start, range.start) && sameIp(r.end, range.end));
  if (command === C.ADD_FIRST || command === C.ADD_LAST) {
    checkMultiDhcp(def, ip);
    if (i >= 0) {
      throw new VirtError("NETWORK_UPDATE_EXISTS", {
        what: `there is an existing dhcp range entry in network '${def.name}' that matches "<range start='${range.start}' end='${range.end}'/>"`,
      });
    }
    insert(ip.ranges, command, range);
  } else if (command === C.DELETE) {
    if (i < 0) {
      throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
        what: `couldn't locate a matching dhcp range entry in network '${def.name}'`,
      });
    }
    ip.ranges.splice(i, 1);
  } else {
    throw new VirtError("NETWORK_UPDATE_COMMAND_UNKNOWN", { command });
  }
}

function updateDnsHost(def: NetworkDef, command: number, el: XmlElement): void {
  const isAdd = command === C.ADD_FIRST || command === C.ADD_LAST;
  if (command === C.MODIFY) {
    throw new VirtError("NETWORK_UPDATE_NO_MODIFY", {
      what: "DNS HOST records cannot be modified, only added or deleted",
    });
  }
  checkElement(def, el, "host");
  const host = parseDnsHost({ network: def.name }, el, !isAdd);
  // Adding checks the address only: one name on several addresses is legitimate.
  const found = def.dns.hosts
    .map((h, i) => ({ h, i }))
    .filter(
      ({ h }) => sameIp(host.ip, h.ip) || (!isAdd && host.hostnames.some((n) => h.hostnames.includes(n))),
    );
  if (isAdd) {
    if (found.length > 0) {
      throw new VirtError("NETWORK_UPDATE_EXISTS", {
        what: `there is already at least one DNS HOST record with a matching field in network ${def.name}`,
      });
    }
    insert(def.dns.hosts, command, { ip: host.ip!, hostnames: host.hostnames });
  } else if (command === C.DELETE) {
    if (found.length !== 1) {
      throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
        what:
          found.length === 0
            ? `couldn't locate a matching DNS HOST record in network ${def.name}`
            : `multiple matching DNS HOST records were found in network ${def.name}`,
      });
    }
    def.dns.hosts.splice(found[0]!.i, 1);
  } else {
    throw new VirtError("NETWORK_UPDATE_COMMAND_UNKNOWN", { command });
  }
}

function updateDnsTxt(def: NetworkDef, command: number, el: XmlElement): void {
  const isAdd = command === C.ADD_FIRST || command === C.ADD_LAST;
  if (command === C.MODIFY) {
    throw new VirtError("NETWORK_UPDATE_NO_MODIFY", {
      what: "DNS TXT records cannot be modified, only added or deleted",
    });
  }
  checkElement(def, el, "txt");
  const ctx: Ctx = { network: def.name };
  const name = reqAttr(ctx, el, "name");
  const value = el.attr("value");
  const i = def.dns.txts.findIndex((t) => t.name === name);
  if (isAdd) {
    const txt: DnsTxt = { name, value: value ?? reqAttr(ctx, el, "value") };
    if (i >= 0) {
      throw new VirtError("NETWORK_UPDATE_EXISTS", {
        what: `there is already a DNS TXT record with name '${name}' in network ${def.name}`,
      });
    }
    insert(def.dns.txts, command, txt);
  } else if (command === C.DELETE) {
    if (i < 0) {
      throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
        what: `couldn't locate a matching DNS TXT record in network ${def.name}`,
      });
    }
    def.dns.txts.splice(i, 1);
  } else {
    throw new VirtError("NETWORK_UPDATE_COMMAND_UNKNOWN", { command });
  }
}

function updateDnsSrv(def: NetworkDef, command: number, el: XmlElement): void {
  const isAdd = command === C.ADD_FIRST || command === C.ADD_LAST;
  if (command === C.MODIFY) {
    throw new VirtError("NETWORK_UPDATE_NO_MODIFY", {
      what: "DNS SRV records cannot be modified, only added or deleted",
    });
  }
  checkElement(def, el, "srv");
  const ctx: Ctx = { network: def.name };
  const given = {
    service: isAdd ? reqAttr(ctx, el, "service") : el.attr("service"),
    protocol: isAdd ? reqAttr(ctx, el, "protocol") : el.attr("protocol"),
    domain: el.attr("domain"),
    target: el.attr("target"),
  };
  const found = def.dns.srvs
    .map((s, i) => ({ s, i }))
    .filter(
      ({ s }) =>
        (given.domain === undefined || given.domain === s.domain) &&
        (given.service === undefined || given.service === s.service) &&
        (given.protocol === undefined || given.protocol === s.protocol) &&
        (given.target === undefined || given.target === s.target),
    );
  if (isAdd) {
    if (found.length > 0) {
      throw new VirtError("NETWORK_UPDATE_EXISTS", {
        what: `there is already at least one DNS SRV record matching all specified fields in network ${def.name}`,
      });
    }
    // The full record is read by the network parser when the copy is parsed again.
    const srv: DnsSrv = { service: given.service!, protocol: given.protocol! };
    if (given.domain !== undefined) srv.domain = given.domain;
    if (given.target !== undefined) srv.target = given.target;
    for (const k of ["port", "priority", "weight"] as const) {
      const v = el.attr(k);
      if (v !== undefined) srv[k] = Number(v);
    }
    insert(def.dns.srvs, command, srv);
  } else if (command === C.DELETE) {
    if (found.length !== 1) {
      throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
        what:
          found.length === 0
            ? `couldn't locate a matching DNS SRV record in network ${def.name}`
            : `multiple DNS SRV records matching all specified fields were found in network ${def.name}`,
      });
    }
    def.dns.srvs.splice(found[0]!.i, 1);
  } else {
    throw new VirtError("NETWORK_UPDATE_COMMAND_UNKNOWN", { command });
  }
}

function updatePortGroup(def: NetworkDef, command: number, el: XmlElement): void {
  checkElement(def, el, "portgroup");
  const pg = parsePortGroup({ network: def.name }, el);
  const foundName = def.portgroups.findIndex((p) => p.name === pg.name);
  const foundDefault = def.portgroups.findIndex((p) => p.isDefault);
  const isAdd = command === C.ADD_FIRST || command === C.ADD_LAST;
  if (foundName < 0 && (command === C.MODIFY || command === C.DELETE)) {
    throw new VirtError("NETWORK_UPDATE_NO_MATCH", {
      what: `couldn't find a portgroup entry in network '${def.name}' matching <portgroup name='${pg.name}'>`,
    });
  }
  if (foundName >= 0 && isAdd) {
    throw new VirtError("NETWORK_UPDATE_EXISTS", {
      what: `there is an existing portgroup entry in network '${def.name}' that matches "<portgroup name='${pg.name}'>"`,
    });
  }
  if (command !== C.DELETE && pg.isDefault && foundDefault >= 0 && foundDefault !== foundName) {
    throw new VirtError("NETWORK_UPDATE_EXISTS", {
      what: `a different portgroup entry in network '${def.name}' is already set as the default. Only one default is allowed.`,
    });
  }
  if (command === C.MODIFY) def.portgroups[foundName] = pg;
  else if (isAdd) insert(def.portgroups, command, pg);
  else if (command === C.DELETE) def.portgroups.splice(foundName, 1);
  else throw new VirtError("NETWORK_UPDATE_COMMAND_UNKNOWN", { command });
}

/**
 * Applies one update to a copy of `def` and returns the copy. Throws libvirt's errors: XML
 * syntax (document "network_update_xml"), wrong element, no such entry, duplicate entry,
 * unsupported section or command.
 */
export function updateNetworkDef(
  def: NetworkDef,
  command: number,
  section: number,
  parentIndex: number,
  xml: string,
): NetworkDef {
  const el = parseXml(xml, "network_update_xml");
  const copy = structuredClone(def);
  switch (section) {
    case S.BRIDGE:
    case S.DOMAIN:
    case S.IP:
    case S.FORWARD:
      throw new VirtError("NETWORK_UPDATE_SECTION_UNSUPPORTED", {
        section: NETWORK_UPDATE_SECTION_NAMES[section],
        network: def.name,
      });
    case S.FORWARD_PF:
      throw new VirtError("NETWORK_UPDATE_SECTION_UNSUPPORTED", { section: "forward pf", network: def.name });
    case S.IP_DHCP_HOST:
      updateDhcpHost(copy, command, parentIndex, el);
      break;
    case S.IP_DHCP_RANGE:
      updateDhcpRange(copy, command, parentIndex, el);
      break;
    case S.DNS_HOST:
      updateDnsHost(copy, command, el);
      break;
    case S.DNS_TXT:
      updateDnsTxt(copy, command, el);
      break;
    case S.DNS_SRV:
      updateDnsSrv(copy, command, el);
      break;
    case S.PORTGROUP:
      updatePortGroup(copy, command, el);
      break;
    case S.FORWARD_INTERFACE:
      throw new VirtError("NETWORK_UPDATE_SECTION_NOT_YET", {
        section: NETWORK_UPDATE_SECTION_NAMES[section],
        network: def.name,
      });
    default:
      throw new VirtError("NETWORK_UPDATE_SECTION_UNKNOWN");
  }
  // As libvirt's format/parse round trip: what the parser would refuse does not get in.
  return parseNetwork(formatNetwork(copy), { makeUuid: () => def.uuid }).def;
}
