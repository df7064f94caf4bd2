/**
 * Network XML → `NetworkDef`, with libvirt's parse-time rules (those of its network_conf.c):
 * values are checked as they are read, the cross-field rules in `validate.ts`. Unread XML is
 * returned as warnings. Only `VirtError`s leave this module.
 */
import { randomUUID } from "node:crypto";
import type { XmlElement, XmlWarning } from "../xml.ts";
import { readDocument } from "../typed-read.ts";
import { VirtError } from "../../util/errors/index.ts";
import {
  FORWARD_MODES,
  VIRTUALPORT_TYPES,
  type BandwidthDef,
  type BandwidthRate,
  type DhcpHost,
  type DhcpRange,
  type DnsDef,
  type ForwardDef,
  type IpDef,
  type LeaseDef,
  type NetworkDef,
  type PciAddress,
  type PortGroupDef,
  type RouteDef,
  type VirtualPortDef,
  type VlanDef,
} from "./types.ts";
import { formatIp, ipDistance, netmaskPrefix, maskByPrefix, sameSubnet, type IpAddr } from "./ip.ts";
import {
  enumAttr,
  invalid,
  ipAttr,
  macAttr,
  missing,
  reqAttr,
  reqIpAttr,
  structural,
  uintAttr,
  yesNo,
  type Ctx,
} from "./reader.ts";
import { validateNetwork } from "./validate.ts";
import { ipPrefix } from "./ip-prefix.ts";
import { rawElement } from "../domain/parse-general.ts";

export const DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0";

export interface ParseNetworkOptions {
  /** Names the input in syntax errors (a file name or "(network_definition)"). */
  document?: string;
  /** UUID for a definition without `<uuid>` (default: a random one, as libvirt). */
  makeUuid?: () => string;
}

function parseName(root: XmlElement): string {
  const el = root.child("name");
  const name = el?.content ?? "";
  if (!el || name === "") {
    throw new VirtError(
      "NETWORK_NO_NAME",
      {},
      { xpath: "/network/name", line: root.line, column: root.column },
    );
  }
  let reason: string | undefined;
  if (name.includes("/")) reason = "it must not contain '/'";
  else if (name === "." || name === "..") reason = "'.' and '..' are not allowed";
  // eslint-disable-next-line no-control-regex
  else if (/[\x00-\x1f\x7f]/.test(name)) reason = "it must not contain control characters";
  if (reason) {
    throw new VirtError(
      "NETWORK_INVALID_NAME",
      { name, reason },
      { xpath: el.xpath, line: el.line, column: el.column },
    );
  }
  return name;
}

function parseUuid(ctx: Ctx, el: XmlElement): string {
  const raw = el.content;
  const hex = raw.replace(/[-\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    throw invalid(ctx, el, undefined, raw, "expected a UUID like 81ff0d90-c91e-6742-64da-4a736edb9a9b");
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function hexAttr(ctx: Ctx, el: XmlElement, name: string, max: number): number {
  const v = el.attr(name);
  if (v === undefined) return 0;
  const t = v.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n > max) {
    throw invalid(ctx, el, name, v, `expected an integer from 0 to 0x${max.toString(16)}`);
  }
  return n;
}

function parsePci(ctx: Ctx, el: XmlElement): PciAddress {
  return {
    domain: hexAttr(ctx, el, "domain", 0xffff),
    bus: hexAttr(ctx, el, "bus", 0xff),
    slot: hexAttr(ctx, el, "slot", 0x1f),
    function: hexAttr(ctx, el, "function", 7),
  };
}

function parseNat(ctx: Ctx, el: XmlElement): ForwardDef["nat"] {
  const nat: NonNullable<ForwardDef["nat"]> = {};
  const v6 = yesNo(ctx, el, "ipv6");
  if (v6 !== undefined) nat.ipv6 = v6;
  const a = atMostOne(
    el,
    "address",
    `Only one <address> element is allowed in <nat> in <forward> in network ${ctx.network}`,
  );
  if (a) {
    const start = reqIpAttr(ctx, a, "start", 4);
    const end = reqIpAttr(ctx, a, "end", 4);
    if (ipDistance(end, start) < 0n) {
      throw structural(
        a,
        `NAT address range start '${formatIp(start)}' is after end '${formatIp(end)}' in network ${ctx.network}`,
      );
    }
    nat.addressStart = formatIp(start);
    nat.addressEnd = formatIp(end);
  }
  const p = atMostOne(
    el,
    "port",
    `Only one <port> element is allowed in <nat> in <forward> in network ${ctx.network}`,
  );
  if (p) {
    const start = uintAttr(ctx, p, "start", 0, 65535);
    if (start === undefined) throw missing(ctx, p, "attribute 'start' of <port> in <nat>", "@start");
    const end = uintAttr(ctx, p, "end", 0, 65535);
    if (end === undefined) throw missing(ctx, p, "attribute 'end' of <port> in <nat>", "@end");
    if (end < start) throw invalid(ctx, p, "end", String(end), `expected a port >= start (${start})`);
    nat.portStart = start;
    nat.portEnd = end;
  }
  return nat;
}

function parseForward(ctx: Ctx, el: XmlElement): ForwardDef {
  const fwd: ForwardDef = {
    mode: enumAttr(ctx, el, "mode", FORWARD_MODES) ?? "nat",
    interfaces: [],
    addresses: [],
  };
  const managed = yesNo(ctx, el, "managed");
  if (managed !== undefined) fwd.managed = managed;
  const drv = el.child("driver");
  if (drv) {
    const n = enumAttr(ctx, drv, "name", ["kvm", "vfio", "default"] as const);
    if (n === "kvm" || n === "vfio") fwd.driverName = n;
    // libvirt 11's `model` names the VFIO variant driver (e.g. vfio-pci-igb) for hostdev pools.
    const model = drv.attr("model");
    if (model !== undefined && model !== "") fwd.driverModel = model;
  }
  const pfs = el.all("pf");
  const addrs = el.all("address");
  const ifs = el.all("interface");
  const natEl = atMostOne(
    el,
    "nat",
    `Only one <nat> element is allowed in <forward> of network ${ctx.network}`,
  );
  if (natEl) {
    if (fwd.mode !== "nat") {
      throw structural(
        natEl,
        `The <nat> element can only be used when <forward> 'mode' is 'nat' in network ${ctx.network}`,
      );
    }
    const nat = parseNat(ctx, natEl);
    if (nat && Object.keys(nat).length) fwd.nat = nat;
  }
  const dev = el.attr("dev");
  if (dev !== undefined && (addrs.length > 0 || pfs.length > 0)) {
    throw structural(
      el,
      `the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network ${ctx.network}`,
    );
  }
  if (ifs.length > 0 || dev !== undefined) {
    if (dev !== undefined) fwd.interfaces.push(dev);
    ifs.forEach((ifel, i) => {
      const d = reqAttr(ctx, ifel, "dev");
      if (i === 0 && dev !== undefined) {
        if (d !== dev) {
          throw structural(
            ifel,
            `<forward dev='${dev}'> must match first <interface dev='${d}'/> in network ${ctx.network}`,
          );
        }
        return;
      }
      if (fwd.interfaces.includes(d)) {
        throw structural(ifel, `interface '${d}' can only be listed once in network ${ctx.network}`);
      }
      fwd.interfaces.push(d);
    });
  } else if (addrs.length > 0) {
    for (const a of addrs) {
      const type = reqAttr(ctx, a, "type");
      if (type !== "pci") throw invalid(ctx, a, "type", type, "expected 'pci'", ["pci"]);
      const pci = parsePci(ctx, a);
      const dup = fwd.addresses.some(
        (x) =>
          x.domain === pci.domain && x.bus === pci.bus && x.slot === pci.slot && x.function === pci.function,
      );
      if (dup) {
        const s = `${pci.domain.toString(16).padStart(4, "0")}:${pci.bus.toString(16).padStart(2, "0")}:${pci.slot.toString(16).padStart(2, "0")}.${pci.function.toString(16)}`;
        throw structural(a, `PCI device '${s}' can only be listed once in network ${ctx.network}`);
      }
      fwd.addresses.push(pci);
    }
  } else if (pfs.length > 1) {
    throw structural(pfs[1], `Only one <pf> element is allowed in <forward> of network ${ctx.network}`);
  } else if (pfs[0]) {
    fwd.pf = reqAttr(ctx, pfs[0], "dev");
  }
  return fwd;
}

function parseLease(ctx: Ctx, parent: XmlElement): LeaseDef | undefined {
  const el = parent.child("lease");
  if (!el) return undefined;
  const expiry = uintAttr(ctx, el, "expiry");
  const unit = enumAttr(ctx, el, "unit", ["seconds", "minutes", "hours"] as const) ?? "minutes";
  // libvirt: a <lease> without expiry is no lease at all.
  if (expiry === undefined) return undefined;
  if (expiry > 0 && ((unit === "seconds" && expiry < 120) || (unit === "minutes" && expiry < 2))) {
    throw new VirtError(
      "NETWORK_CONFIG_UNSUPPORTED",
      { what: "The minimum lease time should be greater than 2 minutes" },
      { xpath: `${el.xpath}/@expiry`, line: el.line, column: el.column, network: ctx.network },
    );
  }
  return { expiry, unit };
}

/** One `<range>` of an `<ip>`'s `<dhcp>` (`prefix`: the `<ip>`'s prefix in effect). */
export function parseDhcpRange(ctx: Ctx, r: XmlElement, addr: IpAddr, prefix: number | undefined): DhcpRange {
  const start = reqIpAttr(ctx, r, "start", addr.family);
  const end = reqIpAttr(ctx, r, "end", addr.family);
  if (prefix !== undefined) {
    for (const [name, a] of [
      ["start", start],
      ["end", end],
    ] as const) {
      if (!sameSubnet(a, addr, prefix)) {
        throw invalid(
          ctx,
          r,
          name,
          formatIp(a),
          `expected an address in the network ${formatIp(addr)}/${prefix}`,
        );
      }
    }
  }
  if (ipDistance(end, start) < 0n) {
    throw structural(
      r,
      `Invalid dhcp range '${formatIp(start)}' to '${formatIp(end)}' in network '${ctx.network}': the start is after the end`,
    );
  }
  const range: DhcpRange = { start: formatIp(start), end: formatIp(end) };
  const lease = parseLease(ctx, r);
  if (lease) range.lease = lease;
  return range;
}

/**
 * One static `<host>` of a `<dhcp>` under an `<ip>` of the given family. `match` (a net-update
 * delete, which matches on what is given) drops the "which host, which address" requirements;
 * `update` (a net-update add or modify) leaves the address's family to the caller's check.
 */
export function parseDhcpHost(
  ctx: Ctx,
  h: XmlElement,
  family: 4 | 6,
  mode: "def" | "update" | "match" = "def",
): DhcpHost {
  const partial = mode === "match";
  const host: DhcpHost = {};
  const mac = h.attr("mac");
  const id = h.attr("id");
  const name = h.attr("name");
  const hip = ipAttr(ctx, h, "ip", mode === "def" ? family : undefined);
  if (mac !== undefined) {
    if (family === 6) {
      throw structural(
        h,
        `Invalid to specify MAC address '${mac}' in network '${ctx.network}' IPv6 static host definition`,
      );
    }
    const canon = macAttr(ctx, h, "mac")!;
    if (parseInt(canon.slice(0, 2), 16) & 1) {
      throw invalid(
        ctx,
        h,
        "mac",
        mac,
        "expected a unicast MAC address (the first octet's lowest bit clear)",
      );
    }
    // libvirt keeps a static host's MAC as written.
    host.mac = mac;
  }
  if (id !== undefined) {
    if (!/^[0-9a-fA-F:]+$/.test(id)) {
      throw invalid(ctx, h, "id", id, "expected a DHCP client id of hex digits and ':'");
    }
    host.id = id;
  }
  if (name !== undefined) {
    if (!/^[A-Za-z0-9]/.test(name)) {
      throw invalid(ctx, h, "name", name, "expected a host name starting with a letter or digit");
    }
    host.name = name;
  }
  if (!partial) {
    if (family === 4 && host.mac === undefined && host.name === undefined) {
      throw missing(ctx, h, "attribute 'mac' or 'name' of a static IPv4 <host>", "@mac");
    }
    if (family === 6 && host.id === undefined && host.name === undefined) {
      throw missing(ctx, h, "attribute 'id' or 'name' of a static IPv6 <host>", "@id");
    }
    if (!hip) throw missing(ctx, h, "attribute 'ip' of <host>", "@ip");
  }
  if (hip) host.ip = formatIp(hip);
  const lease = parseLease(ctx, h);
  if (lease) host.lease = lease;
  return host;
}

/** Prefix in effect for an `<ip>` (given, from the netmask, or libvirt's default). */
function parseDhcp(ctx: Ctx, el: XmlElement, ip: IpDef, addr: IpAddr, prefix: number | undefined): void {
  for (const r of el.all("range")) ip.ranges.push(parseDhcpRange(ctx, r, addr, prefix));
  for (const h of el.all("host")) ip.hosts.push(parseDhcpHost(ctx, h, addr.family));
  // libvirt reads <bootp> for IPv4 only; elsewhere it stays unread and is reported.
  const bootp = addr.family === 4 ? el.child("bootp") : undefined;
  if (bootp) {
    const file = reqAttr(ctx, bootp, "file");
    const server = ipAttr(ctx, bootp, "server", 4);
    ip.bootp = server ? { file, server: formatIp(server) } : { file };
  }
}

function parseIpEl(ctx: Ctx, el: XmlElement): IpDef {
  const family = enumAttr(ctx, el, "family", ["ipv4", "ipv6"] as const);
  const want = family === "ipv4" ? 4 : family === "ipv6" ? 6 : undefined;
  const addr = ipAttr(ctx, el, "address", want);
  if (!addr) throw missing(ctx, el, "attribute 'address' of <ip>", "@address");
  const ip: IpDef = { address: formatIp(addr), ranges: [], hosts: [] };
  if (family) ip.family = family;
  const mask = ipAttr(ctx, el, "netmask", 4);
  const prefixText = el.attr("prefix");
  if (mask && prefixText !== undefined) {
    throw structural(el, `Network '${ctx.network}' IP address cannot have both a prefix and a netmask`);
  }
  if (mask) {
    if (addr.family !== 4) {
      throw invalid(
        ctx,
        el,
        "netmask",
        formatIp(mask),
        "a netmask is only allowed with an IPv4 address: use prefix for IPv6",
      );
    }
    if (netmaskPrefix(mask) === undefined) {
      throw invalid(
        ctx,
        el,
        "netmask",
        formatIp(mask),
        "expected a netmask with contiguous bits, like 255.255.255.0",
      );
    }
    ip.netmask = formatIp(mask);
  }
  const prefix = uintAttr(ctx, el, "prefix", 0, addr.family === 4 ? 32 : 128);
  if (prefix !== undefined && prefix > 0) ip.prefix = prefix;
  const lp = yesNo(ctx, el, "localPtr");
  if (lp !== undefined) ip.localPtr = lp;
  const eff = ipPrefix(ip);
  const tftp = el.child("tftp");
  if (tftp) {
    if (addr.family !== 4)
      throw structural(tftp, `Unsupported <tftp> element in an IPv6 element in network '${ctx.network}'`);
    ip.tftpRoot = reqAttr(ctx, tftp, "root");
  }
  // libvirt reads the first <dhcp> only; any other stays unread and is reported.
  const dhcp = el.child("dhcp");
  if (dhcp) parseDhcp(ctx, dhcp, ip, addr, eff);
  return ip;
}

function parseRoute(ctx: Ctx, el: XmlElement): RouteDef {
  const family = enumAttr(ctx, el, "family", ["ipv4", "ipv6"] as const);
  // Without family='ipv6' a route is IPv4 (libvirt's rule).
  const want = family === "ipv6" ? 6 : 4;
  const addr = reqIpAttr(ctx, el, "address", want);
  const gw = reqIpAttr(ctx, el, "gateway", want);
  const route: RouteDef = { address: formatIp(addr), gateway: formatIp(gw) };
  if (family) route.family = family;
  const mask = want === 4 ? ipAttr(ctx, el, "netmask", 4) : undefined;
  if (want === 6 && el.hasAttr("netmask")) {
    throw invalid(
      ctx,
      el,
      "netmask",
      el.attr("netmask")!,
      "a netmask is only allowed for IPv4 routes: use prefix",
    );
  }
  const prefix = uintAttr(ctx, el, "prefix", 0, want === 4 ? 32 : 128);
  if (mask && prefix !== undefined) {
    throw structural(el, `${ctx.network}: Route definition cannot have both a prefix and a netmask`);
  }
  let bits = prefix ?? 0;
  if (mask) {
    const n = netmaskPrefix(mask);
    if (n === undefined)
      throw invalid(ctx, el, "netmask", formatIp(mask), "expected a netmask with contiguous bits");
    bits = n;
    route.netmask = formatIp(mask);
  }
  if (prefix !== undefined) route.prefix = prefix;
  if (formatIp(maskByPrefix(addr, bits)) !== route.address) {
    throw structural(
      el,
      `${ctx.network}: Address '${route.address}' in route definition is not a network address`,
    );
  }
  const metric = uintAttr(ctx, el, "metric", 1, 0xffffffff);
  if (metric !== undefined) route.metric = metric;
  return route;
}

/**
 * One DNS `<host>` (an address and its names). `partial` (a net-update delete, matching on what
 * is given) needs only one of the two.
 */
export function parseDnsHost(
  ctx: Ctx,
  h: XmlElement,
  partial = false,
): { ip: string | undefined; hostnames: string[] } {
  const ip = partial ? ipAttr(ctx, h, "ip") : reqIpAttr(ctx, h, "ip");
  const names = h.all("hostname").map((n) => n.content);
  if (names.some((n) => n === "") || (names.length === 0 && (!partial || !ip))) {
    throw missing(ctx, h, "a non-empty <hostname> in DNS <host>", "hostname");
  }
  return { ip: ip ? formatIp(ip) : undefined, hostnames: names };
}

function parseDns(ctx: Ctx, el: XmlElement): DnsDef {
  const dns: DnsDef = { forwarders: [], txts: [], srvs: [], hosts: [] };
  const enable = yesNo(ctx, el, "enable");
  if (enable !== undefined) dns.enable = enable;
  const fpn = yesNo(ctx, el, "forwardPlainNames");
  if (fpn !== undefined) dns.forwardPlainNames = fpn;
  for (const f of el.all("forwarder")) {
    const addr = ipAttr(ctx, f, "addr");
    const domain = f.attr("domain");
    if (!addr && domain === undefined) {
      throw missing(ctx, f, "attribute 'addr' or 'domain' of <forwarder>", "@addr");
    }
    dns.forwarders.push({
      ...(domain !== undefined ? { domain } : {}),
      ...(addr ? { addr: formatIp(addr) } : {}),
    });
  }
  for (const h of el.all("host")) {
    const host = parseDnsHost(ctx, h);
    dns.hosts.push({ ip: host.ip!, hostnames: host.hostnames });
  }
  for (const s of el.all("srv")) {
    const service = reqAttr(ctx, s, "service");
    if (service.length > 15) {
      throw invalid(ctx, s, "service", service, "expected a service name of at most 15 characters");
    }
    if (!/^[A-Za-z0-9_\-+/*]+$/.test(service)) {
      throw invalid(ctx, s, "service", service, "expected letters, digits and _ - + / * only");
    }
    const protocol = reqAttr(ctx, s, "protocol");
    if (!/^[A-Za-z0-9\-+/]+$/.test(protocol)) {
      throw invalid(
        ctx,
        s,
        "protocol",
        protocol,
        "expected a protocol name like tcp or udp (letters, digits, - + /)",
      );
    }
    const srv: DnsDef["srvs"][number] = { service, protocol };
    const domain = s.attr("domain");
    if (domain !== undefined) srv.domain = domain;
    const target = s.attr("target");
    if (target !== undefined) srv.target = target;
    for (const [k, min] of [
      ["port", 1],
      ["priority", 0],
      ["weight", 0],
    ] as const) {
      if (s.hasAttr(k) && target === undefined) {
        throw structural(
          s,
          `DNS SRV ${k} attribute not permitted without target for service '${service}' in network '${ctx.network}'`,
        );
      }
      const v = uintAttr(ctx, s, k, min, 65535);
      if (v !== undefined) srv[k] = v;
    }
    dns.srvs.push(srv);
  }
  for (const t of el.all("txt")) {
    const name = reqAttr(ctx, t, "name");
    if (/[ ,]/.test(name)) {
      throw invalid(ctx, t, "name", name, "expected a TXT record name without spaces or commas");
    }
    const value = reqAttr(ctx, t, "value");
    dns.txts.push({ name, value });
  }
  if (
    dns.enable === false &&
    (dns.forwarders.length || dns.hosts.length || dns.srvs.length || dns.txts.length)
  ) {
    throw structural(el, `Extra data in disabled network '${ctx.network}'`);
  }
  return dns;
}

function parseRate(ctx: Ctx, el: XmlElement): BandwidthRate {
  const r: BandwidthRate = {};
  const average = uintAttr(ctx, el, "average");
  const peak = uintAttr(ctx, el, "peak");
  const burst = uintAttr(ctx, el, "burst");
  const floor = uintAttr(ctx, el, "floor");
  if (floor !== undefined) {
    throw invalid(
      ctx,
      el,
      "floor",
      String(floor),
      "floor is set on a guest's interface, not on a network or portgroup",
    );
  }
  if (average === undefined) throw missing(ctx, el, `attribute 'average' of <${el.name}>`, "@average");
  r.average = average;
  if (peak !== undefined) r.peak = peak;
  if (burst !== undefined) r.burst = burst;
  return r;
}

/** The `<name>` child of `el`, if any; a second one is the structural error `message` (libvirt's wording). */
function atMostOne(el: XmlElement, name: string, message: string): XmlElement | undefined {
  const all = el.all(name);
  if (all.length > 1) throw structural(all[1], message);
  return all[0];
}

function parseBandwidth(ctx: Ctx, el: XmlElement): BandwidthDef {
  const bw: BandwidthDef = {};
  for (const dir of ["inbound", "outbound"] as const) {
    const rate = atMostOne(
      el,
      dir,
      `Only one child <${dir}> element allowed in <bandwidth> of network '${ctx.network}'`,
    );
    if (rate) bw[dir] = parseRate(ctx, rate);
  }
  return bw;
}

function parseVlan(ctx: Ctx, el: XmlElement): VlanDef {
  const tags = el.all("tag").map((t) => {
    const id = uintAttr(ctx, t, "id", 0, 4095);
    if (id === undefined) throw missing(ctx, t, "attribute 'id' of <tag>", "@id");
    const nativeMode = enumAttr(ctx, t, "nativeMode", ["tagged", "untagged"] as const);
    return nativeMode ? { id, nativeMode } : { id };
  });
  if (tags.length === 0) {
    throw structural(el, "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement");
  }
  if (tags.filter((t) => t.nativeMode !== undefined).length > 1) {
    throw structural(el, "duplicate native vlan setting");
  }
  let trunk = tags.length > 1;
  const trunkText = el.attr("trunk");
  if (trunkText !== undefined) {
    trunk = trunkText.toLowerCase() === "yes";
    if (!trunk) {
      if (tags.length > 1) {
        throw invalid(ctx, el, "trunk", trunkText, "trunk='yes' is required for more than one vlan tag");
      }
      if (tags.some((t) => t.nativeMode !== undefined)) {
        throw invalid(ctx, el, "trunk", trunkText, "trunk='no' is not allowed with a native vlan id");
      }
      if (trunkText.toLowerCase() !== "no")
        throw invalid(ctx, el, "trunk", trunkText, "expected yes or no", ["yes", "no"]);
    }
  }
  return { trunk, tags };
}

const VPORT_PARAMS: Readonly<Record<string, readonly string[]>> = {
  "802.1Qbg": ["managerid", "typeid", "typeidversion", "instanceid"],
  "802.1Qbh": ["profileid"],
  openvswitch: ["interfaceid", "profileid"],
  midonet: ["interfaceid"],
};

function parseVirtualPort(ctx: Ctx, el: XmlElement, requireType: boolean): VirtualPortDef {
  const type = enumAttr(ctx, el, "type", VIRTUALPORT_TYPES);
  if (requireType && !type) throw missing(ctx, el, "attribute 'type' of <virtualport>", "@type");
  const vp: VirtualPortDef = { parameters: {} };
  if (type) vp.type = type;
  const p = el.child("parameters");
  if (!p) return vp;
  const num = (k: "managerid" | "typeid" | "typeidversion", max: number): void => {
    const v = p.attr(k);
    if (v === undefined) return;
    const t = v.trim();
    const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^[0-9]+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n > max)
      throw invalid(ctx, p, k, v, `expected an integer from 0 to ${max}`);
    vp.parameters[k] = n;
  };
  num("managerid", 0xff);
  num("typeid", 0xffffff);
  num("typeidversion", 0xff);
  for (const k of ["instanceid", "interfaceid"] as const) {
    const v = p.attr(k);
    if (v === undefined) continue;
    const hex = v.replace(/[-\s]/g, "").toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) throw invalid(ctx, p, k, v, "expected a UUID");
    vp.parameters[k] =
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  const profile = p.attr("profileid");
  if (profile !== undefined) {
    if (profile.length > 39) throw invalid(ctx, p, "profileid", profile, "expected at most 39 characters");
    vp.parameters.profileid = profile;
  }
  if (type) {
    const allowed = VPORT_PARAMS[type]!;
    for (const k of Object.keys(vp.parameters)) {
      if (!allowed.includes(k)) {
        throw invalid(ctx, p, k, p.attr(k) ?? "", `not allowed for <virtualport type='${type}'>`, allowed);
      }
    }
  }
  return vp;
}

/** One `<portgroup>`. */
export function parsePortGroup(ctx: Ctx, el: XmlElement): PortGroupDef {
  const pg: PortGroupDef = { name: reqAttr(ctx, el, "name"), isDefault: yesNo(ctx, el, "default") ?? false };
  const trust = yesNo(ctx, el, "trustGuestRxFilters");
  if (trust !== undefined) pg.trustGuestRxFilters = trust;
  const vlan = el.child("vlan");
  if (vlan) pg.vlan = parseVlan(ctx, vlan);
  const vp = el.child("virtualport");
  if (vp) pg.virtualport = parseVirtualPort(ctx, vp, false);
  const bw = el.child("bandwidth");
  if (bw) pg.bandwidth = parseBandwidth(ctx, bw);
  return pg;
}

function dnsmasqPrefix(root: XmlElement): string | undefined {
  const a = root.attrs.find((x) => x.name.startsWith("xmlns:") && x.value === DNSMASQ_NS);
  if (a) a.used = true;
  return a?.name.slice("xmlns:".length);
}

/** Reads the `<network>` element (defaults that libvirt's parser fills are filled here too). */
export function readNetwork(root: XmlElement, options: ParseNetworkOptions = {}): NetworkDef {
  if (root.name !== "network") {
    throw new VirtError(
      "NETWORK_UNEXPECTED_ROOT",
      { found: root.name },
      { xpath: `/${root.name}`, line: root.line, column: root.column },
    );
  }
  const name = parseName(root);
  const ctx: Ctx = { network: name };
  const uuidEl = root.child("uuid");
  const def: NetworkDef = {
    name,
    uuid: uuidEl ? parseUuid(ctx, uuidEl) : (options.makeUuid ?? randomUUID)(),
    ipv6NoGateway: yesNo(ctx, root, "ipv6") ?? false,
    stp: true,
    delay: 0,
    dns: { forwarders: [], txts: [], srvs: [], hosts: [] },
    ips: [],
    routes: [],
    portgroups: [],
    dnsmasqOptions: [],
  };
  const trust = yesNo(ctx, root, "trustGuestRxFilters");
  if (trust !== undefined) def.trustGuestRxFilters = trust;
  const title = root.child("title");
  if (title) {
    title.used = true;
    // Kept as written (libvirt does not trim it), but on one line.
    if (title.text.includes("\n")) {
      throw invalid(ctx, title, undefined, title.text, "Network title can't contain newlines");
    }
    def.title = title.text;
  }
  const description = root.child("description");
  if (description) {
    description.used = true;
    def.description = description.text;
  }
  const metadata = root.child("metadata");
  if (metadata) def.metadata = metadata.children.map(rawElement);
  const domain = root.child("domain");
  if (domain) {
    def.domain = { name: reqAttr(ctx, domain, "name") };
    const lo = yesNo(ctx, domain, "localOnly");
    if (lo !== undefined) def.domain.localOnly = lo;
  }
  const bw = root.child("bandwidth");
  if (bw) def.bandwidth = parseBandwidth(ctx, bw);
  const vlan = root.child("vlan");
  if (vlan) def.vlan = parseVlan(ctx, vlan);
  const bridge = root.child("bridge");
  if (bridge) {
    const bn = bridge.attr("name");
    if (bn !== undefined) {
      if (bn === "" || bn.length > 15 || /[/\s]/.test(bn)) {
        throw invalid(
          ctx,
          bridge,
          "name",
          bn,
          "expected an interface name of 1 to 15 characters without '/' or spaces",
        );
      }
      def.bridge = bn;
    }
    const zone = bridge.attr("zone");
    if (zone !== undefined) def.bridgeZone = zone;
    const stp = enumAttr(ctx, bridge, "stp", ["on", "off"] as const);
    def.stp = stp !== "off";
    def.delay = uintAttr(ctx, bridge, "delay") ?? 0;
    const mtm = enumAttr(ctx, bridge, "macTableManager", ["kernel", "libvirt"] as const);
    if (mtm) def.macTableManager = mtm;
  }
  const macEl = root.child("mac");
  if (macEl) {
    const mac = macAttr(ctx, macEl, "address");
    if (mac === undefined) throw missing(ctx, macEl, "attribute 'address' of <mac>", "@address");
    if (parseInt(mac.slice(0, 2), 16) & 1) {
      throw invalid(
        ctx,
        macEl,
        "address",
        mac,
        "expected a unicast MAC address: a bridge cannot have a multicast one",
      );
    }
    def.mac = mac;
  }
  const mtu = root.child("mtu");
  if (mtu) {
    const size = uintAttr(ctx, mtu, "size", 1, 0xffffffff);
    if (size === undefined) throw missing(ctx, mtu, "attribute 'size' of <mtu>", "@size");
    def.mtu = size;
  }
  const dns = root.child("dns");
  if (dns) def.dns = parseDns(ctx, dns);
  const vp = root.child("virtualport");
  if (vp) def.virtualport = parseVirtualPort(ctx, vp, true);
  def.portgroups = root.all("portgroup").map((p) => parsePortGroup(ctx, p));
  def.ips = root.all("ip").map((i) => parseIpEl(ctx, i));
  def.routes = root.all("route").map((r) => parseRoute(ctx, r));
  const port = root.child("port");
  if (port) {
    const iso = yesNo(ctx, port, "isolated");
    if (iso !== undefined) def.isolatedPort = iso;
  }
  const fwd = root.child("forward");
  if (fwd) def.forward = parseForward(ctx, fwd);
  const p = dnsmasqPrefix(root);
  if (p !== undefined) {
    for (const opts of root.all(`${p}:options`)) {
      for (const o of opts.all(`${p}:option`)) def.dnsmasqOptions.push(reqAttr(ctx, o, "value"));
    }
  }
  validateNetwork(def, root);
  return def;
}

/** Parses network XML text into a definition plus warnings for XML that was not understood. */
export function parseNetwork(
  xml: string,
  options: ParseNetworkOptions = {},
): { def: NetworkDef; warnings: XmlWarning[] } {
  return readDocument(xml, options.document ?? "(network_definition)", (root) => readNetwork(root, options));
}
