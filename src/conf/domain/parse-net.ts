/**
 * `<interface>`.
 */
import type { XmlElement } from "../xml.ts";
import type {
  Bandwidth,
  InterfaceDef,
  InterfaceIp,
  InterfaceRoute,
  InterfaceSource,
  InterfaceType,
  PortForward,
  VirtualPort,
  Vlan,
} from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";
import { parseDeviceInfo, parsePciAddress, parseVirtioOptions, parsingStatus } from "./parse-address.ts";
import {
  enumAttr,
  invalidAttr,
  missingAttr,
  onOff,
  reqEnum,
  reqStr,
  reqUInt,
  str,
  structural,
  uintAttr,
  uintText,
  yesNo,
} from "./reader.ts";

const TYPES = [
  "user",
  "ethernet",
  "vhostuser",
  "server",
  "client",
  "mcast",
  "network",
  "bridge",
  "internal",
  "direct",
  "hostdev",
  "udp",
  "vdpa",
  "null",
  "vds",
] as const;

/** Canonical (lowercase, zero-padded) MAC, or undefined when malformed. */
export function parseMac(text: string): string | undefined {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) return undefined;
  return parts.map((p) => p.toLowerCase().padStart(2, "0")).join(":");
}

function parseSource(el: XmlElement, type: InterfaceType): InterfaceSource {
  const s: InterfaceSource = {};
  const set = (
    k: "network" | "portgroup" | "portid" | "bridge" | "dev" | "mode" | "type" | "path" | "address",
  ): void => {
    const v = str(el, k);
    if (v !== undefined) s[k] = v;
  };
  switch (type) {
    case "network":
      set("network");
      set("portgroup");
      set("portid");
      // the running network's bridge, kept in status documents only (libvirt: `<actual>`)
      if (parsingStatus()) set("bridge");
      break;
    case "bridge":
      set("bridge");
      break;
    case "direct":
      set("dev");
      set("mode");
      break;
    case "vdpa":
    case "user":
      set("dev");
      break;
    case "ethernet": {
      // the host side of the tap: its addresses and routes
      const ips = el.all("ip").map(parseIp);
      const routes = el.all("route").map(parseRoute);
      if (ips.length > 0) s.hostIps = ips;
      if (routes.length > 0) s.hostRoutes = routes;
      break;
    }
    case "vhostuser": {
      set("type");
      set("path");
      set("mode");
      // a passt backend's host interface
      set("dev");
      const rc = el.child("reconnect");
      if (rc) {
        s.reconnect = { enabled: yesNo(rc, "enabled") ?? false };
        const timeout = uintAttr(rc, "timeout", { hex: false });
        if (timeout !== undefined) s.reconnect.timeout = timeout;
      }
      break;
    }
    case "server":
    case "client":
    case "mcast":
    case "udp": {
      set("address");
      const port = uintAttr(el, "port", { hex: false, max: 65535 });
      if (port !== undefined) s.port = port;
      const local = el.child("local");
      if (local) {
        s.local = {};
        const a = str(local, "address");
        const p = uintAttr(local, "port", { hex: false, max: 65535 });
        if (a !== undefined) s.local.address = a;
        if (p !== undefined) s.local.port = p;
      }
      break;
    }
    case "hostdev": {
      const addr = el.child("address");
      if (addr) {
        const t = str(addr, "type") ?? "pci";
        if (t !== "pci") throw invalidAttr(addr, "type", t, "expected a PCI address", ["pci"]);
        s.hostAddress = parsePciAddress(addr);
      }
      break;
    }
    default:
      break;
  }
  return s;
}

function parseIp(ip: XmlElement): InterfaceIp {
  const out: InterfaceIp = { address: reqStr(ip, "address") };
  const family = str(ip, "family");
  const prefix = uintAttr(ip, "prefix", { hex: false, max: 128 });
  const peer = str(ip, "peer");
  if (family !== undefined) out.family = family;
  if (prefix !== undefined) out.prefix = prefix;
  if (peer !== undefined) out.peer = peer;
  return out;
}

function parseRoute(el: XmlElement): InterfaceRoute {
  const r: InterfaceRoute = { address: reqStr(el, "address"), gateway: reqStr(el, "gateway") };
  const family = str(el, "family");
  const netmask = str(el, "netmask");
  const prefix = uintAttr(el, "prefix", { hex: false, max: 128 });
  const metric = uintAttr(el, "metric", { hex: false });
  if (family !== undefined) r.family = family;
  if (netmask !== undefined) r.netmask = netmask;
  if (prefix !== undefined) r.prefix = prefix;
  if (metric !== undefined) r.metric = metric;
  return r;
}

function parseVirtualPort(el: XmlElement): VirtualPort {
  const vp: VirtualPort = {};
  const type = str(el, "type");
  if (type !== undefined) vp.type = type;
  const p = el.child("parameters");
  if (p) {
    const params: NonNullable<VirtualPort["parameters"]> = {};
    const managerid = uintAttr(p, "managerid", { hex: false, max: 255 });
    const typeid = uintAttr(p, "typeid", { hex: false, max: 0xffffff });
    const tv = uintAttr(p, "typeidversion", { hex: false, max: 255 });
    if (managerid !== undefined) params.managerid = managerid;
    if (typeid !== undefined) params.typeid = typeid;
    if (tv !== undefined) params.typeidversion = tv;
    for (const k of ["instanceid", "interfaceid", "profileid"] as const) {
      const v = str(p, k);
      if (v !== undefined) params[k] = v;
    }
    vp.parameters = params;
  }
  return vp;
}

function parseVlan(el: XmlElement): Vlan {
  const tags = el.all("tag").map((t) => {
    const tag: Vlan["tags"][number] = { id: reqUInt(t, "id", { hex: false, max: 4095 }) };
    const nm = enumAttr(t, "nativeMode", ["tagged", "untagged"] as const);
    if (nm) tag.nativeMode = nm;
    return tag;
  });
  if (tags.length === 0) throw structural(el, "vlan needs at least one <tag>");
  const vlan: Vlan = { tags };
  const trunk = yesNo(el, "trunk");
  if (trunk !== undefined) vlan.trunk = trunk;
  if (tags.length > 1 && trunk === false) throw structural(el, "vlan with several tags must be a trunk");
  return vlan;
}

function parseBandwidth(el: XmlElement): Bandwidth {
  const bw: Bandwidth = {};
  const inb = el.child("inbound");
  if (inb) {
    bw.inbound = {};
    for (const k of ["average", "peak", "burst", "floor"] as const) {
      const v = uintAttr(inb, k, { hex: false });
      if (v !== undefined) bw.inbound[k] = v;
    }
  }
  const out = el.child("outbound");
  if (out) {
    bw.outbound = {};
    for (const k of ["average", "peak", "burst"] as const) {
      const v = uintAttr(out, k, { hex: false });
      if (v !== undefined) bw.outbound[k] = v;
    }
  }
  return bw;
}

export const HOST_OFFLOADS = ["csum", "gso", "tso4", "tso6", "ecn", "ufo", "mrg_rxbuf"] as const;
export const GUEST_OFFLOADS = ["csum", "tso4", "tso6", "ecn", "ufo"] as const;

/** libvirt's virDomainNetProto (`none` is its unset value, never written). */
const PORT_FORWARD_PROTOS = ["tcp", "udp"] as const;

function parsePortForward(el: XmlElement): PortForward {
  const pf: PortForward = { proto: reqEnum(el, "proto", PORT_FORWARD_PROTOS), ranges: [] };
  const address = str(el, "address");
  const dev = str(el, "dev");
  if (address !== undefined) pf.address = address;
  if (dev !== undefined) pf.dev = dev;
  for (const r of el.all("range")) {
    const range: PortForward["ranges"][number] = {
      start: reqUInt(r, "start", { hex: false, min: 1, max: 65535 }),
    };
    const end = uintAttr(r, "end", { hex: false, min: 1, max: 65535 });
    const to = uintAttr(r, "to", { hex: false, min: 1, max: 65535 });
    const exclude = yesNo(r, "exclude");
    if (end !== undefined) range.end = end;
    if (to !== undefined) range.to = to;
    if (exclude !== undefined) range.exclude = exclude;
    pf.ranges.push(range);
  }
  return pf;
}

/** An unsigned attribute refused in libvirt's words (its virXMLPropUInt), as its tests expect. */
function propUInt(el: XmlElement, name: string): number | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  const t = v.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) {
    const xpath = `${el.xpath}/@${name}`;
    throw new VirtError(
      "XML_PROP_NOT_UINT",
      { attr: name, element: el.name, value: v },
      { xpath, line: el.line, column: el.column },
    );
  }
  return n;
}

function parseDriver(el: XmlElement): NonNullable<InterfaceDef["driver"]> {
  const d: NonNullable<InterfaceDef["driver"]> = {};
  const name = str(el, "name");
  const txmode = str(el, "txmode");
  if (name !== undefined) d.name = name;
  if (txmode !== undefined) d.txmode = txmode;
  for (const k of ["ioeventfd", "event_idx", "rss", "rss_hash_report"] as const) {
    const v = onOff(el, k);
    if (v !== undefined) d[k] = v;
  }
  const queues = propUInt(el, "queues");
  // one queue is the default: libvirt keeps only a multiqueue count
  if (queues !== undefined && queues > 1) d.queues = queues;
  for (const k of ["rx_queue_size", "tx_queue_size"] as const) {
    const v = uintAttr(el, k, { hex: false, max: 0xffffffff });
    if (v !== undefined) d[k] = v;
  }
  const host = el.child("host");
  if (host) {
    d.host = {};
    for (const k of HOST_OFFLOADS) {
      const v = onOff(host, k);
      if (v !== undefined) d.host[k] = v;
    }
  }
  const guest = el.child("guest");
  if (guest) {
    d.guest = {};
    for (const k of GUEST_OFFLOADS) {
      const v = onOff(guest, k);
      if (v !== undefined) d.guest[k] = v;
    }
  }
  return d;
}

/**
 * libvirt's virDomainNetModel names: a model matching one of them in any case is that model
 * (libvirt compares case-insensitively); any other name is kept as written.
 */
const KNOWN_MODELS = [
  "netfront",
  "rtl8139",
  "virtio",
  "e1000",
  "e1000e",
  "igb",
  "virtio-transitional",
  "virtio-non-transitional",
  "usb-net",
  "spapr-vlan",
  "lan9118",
  "smc91c111",
  "vlance",
  "vmxnet",
  "vmxnet2",
  "vmxnet3",
  "Am79C970A",
  "Am79C973",
  "82540EM",
  "82545EM",
  "82543GC",
] as const;

function parseModel(el: XmlElement, iface: InterfaceDef): void {
  const model = el.child("model");
  if (!model) return;
  const t = reqStr(model, "type");
  if (!/^[A-Za-z0-9_.+-]+$/.test(t))
    throw invalidAttr(model, "type", t, "expected a NIC model name like virtio or e1000");
  iface.model = KNOWN_MODELS.find((m) => m.toLowerCase() === t.toLowerCase()) ?? t;
}

function isVirtioModel(model: string | undefined): boolean {
  return model === "virtio" || model === "virtio-transitional" || model === "virtio-non-transitional";
}

function parseSimple(el: XmlElement, iface: InterfaceDef): void {
  const target = el.child("target");
  if (target) {
    iface.target = { dev: reqStr(target, "dev") };
    const managed = yesNo(target, "managed");
    if (managed !== undefined) iface.target.managed = managed;
  }
  const script = el.child("script");
  if (script) iface.script = reqStr(script, "path");
  const downscript = el.child("downscript");
  if (downscript) iface.downscript = reqStr(downscript, "path");
  const backend = el.child("backend");
  if (backend) {
    iface.backend = {};
    // a vhost device path means something for virtio NICs only (libvirt reads it for them only)
    const keys = isVirtioModel(iface.model)
      ? (["type", "tap", "vhost", "logFile"] as const)
      : (["type", "tap", "logFile"] as const);
    for (const k of keys) {
      const v = str(backend, k);
      if (v !== undefined) iface.backend[k] = v;
    }
  }
  const tune = el.child("tune");
  if (tune) {
    iface.tune = {};
    const sndbuf = tune.child("sndbuf");
    if (sndbuf) iface.tune.sndbuf = uintText(sndbuf, { hex: false });
  }
  const link = el.child("link");
  if (link) iface.link = { state: reqEnum(link, "state", ["up", "down"] as const) };
  const teaming = el.child("teaming");
  if (teaming) {
    iface.teaming = { type: reqEnum(teaming, "type", ["persistent", "transient"] as const) };
    const p = str(teaming, "persistent");
    if (p !== undefined) iface.teaming.persistent = p;
  }
  const mtu = el.child("mtu");
  if (mtu) iface.mtu = reqUInt(mtu, "size", { hex: false, min: 1, max: 65535 });
}

export function parseInterface(el: XmlElement): InterfaceDef {
  const type = reqEnum(el, "type", TYPES);
  const iface: InterfaceDef = { type };
  const managed = yesNo(el, "managed");
  if (managed !== undefined) iface.managed = managed;
  const trf = yesNo(el, "trustGuestRxFilters");
  if (trf !== undefined) iface.trustGuestRxFilters = trf;
  const mac = el.child("mac");
  if (mac) {
    const raw = str(mac, "address");
    if (raw === undefined) throw missingAttr(mac, "address");
    const addr = parseMac(raw);
    if (!addr) throw invalidAttr(mac, "address", raw, "expected a MAC address like 52:54:00:12:34:56");
    if (parseInt(addr.slice(0, 2), 16) & 1)
      throw invalidAttr(mac, "address", raw, "expected a unicast MAC address (first byte even)");
    iface.mac = { address: addr };
    const t = str(mac, "type");
    if (t !== undefined) iface.mac.type = t;
    const check = yesNo(mac, "check");
    if (check !== undefined) iface.mac.check = check;
  }
  const source = el.child("source");
  if (source) iface.source = parseSource(source, type);
  if (type === "network" && !iface.source?.network) throw missingAttr(source ?? el, "network");
  if (type === "bridge" && !iface.source?.bridge) throw missingAttr(source ?? el, "bridge");
  const vp = el.child("virtualport");
  if (vp) iface.virtualport = parseVirtualPort(vp);
  const vlan = el.child("vlan");
  if (vlan) iface.vlan = parseVlan(vlan);
  const bw = el.child("bandwidth");
  if (bw) iface.bandwidth = parseBandwidth(bw);
  const port = el.child("port");
  if (port) {
    const isolated = yesNo(port, "isolated");
    if (isolated !== undefined) iface.isolatedPort = isolated;
  }
  parseModel(el, iface);
  // libvirt reads <driver> for virtio NICs that are not host devices only (other NICs have no
  // such tuning), and ignores it elsewhere
  const driver = el.child("driver");
  if (type !== "hostdev" && isVirtioModel(iface.model)) {
    if (driver) iface.driver = parseDriver(driver);
    parseVirtioOptions(driver, iface);
  }
  const filter = el.child("filterref");
  // packet filters apply to tap-backed types only: libvirt drops the element on the others
  if (filter && (type === "ethernet" || type === "network" || type === "bridge")) {
    iface.filterref = { filter: reqStr(filter, "filter") };
    const params = filter
      .all("parameter")
      .map((p) => ({ name: reqStr(p, "name"), value: reqStr(p, "value") }));
    if (params.length > 0) iface.filterref.parameters = params;
  }
  parseSimple(el, iface);
  const ips = el.all("ip").map(parseIp);
  if (ips.length > 0) iface.ips = ips;
  const routes = el.all("route").map(parseRoute);
  if (routes.length > 0) iface.routes = routes;
  const pfs = el.all("portForward").map(parsePortForward);
  if (pfs.length > 0) iface.portForwards = pfs;
  const coalesce = el.child("coalesce");
  if (coalesce) {
    const frames = coalesce.child("rx")?.child("frames");
    const max = frames ? uintAttr(frames, "max", { hex: false, max: 0xffffffff }) : undefined;
    iface.coalesce = max === undefined ? {} : { rxFramesMax: max };
  }
  parseDeviceInfo(el, iface);
  return iface;
}
