/**
 * `NetworkDef` → libvirt's canonical network XML (inactive form), in libvirt 11.3's element and
 * attribute order.
 */
import { XmlWriter } from "../xml.ts";
import { DNSMASQ_NS } from "./parse.ts";
import { formatMetadata } from "../domain/format-general.ts";
import type {
  BandwidthDef,
  DnsDef,
  IpDef,
  LeaseDef,
  NetworkDef,
  PciAddress,
  PortGroupDef,
  VirtualPortDef,
  VlanDef,
} from "./types.ts";

const yn = (b: boolean | undefined): string | undefined => (b === undefined ? undefined : b ? "yes" : "no");
const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, "0")}`;

function formatPci(w: XmlWriter, a: PciAddress): void {
  w.empty("address", {
    type: "pci",
    domain: hex(a.domain, 4),
    bus: hex(a.bus, 2),
    slot: hex(a.slot, 2),
    function: hex(a.function, 1),
  });
}

function formatForward(w: XmlWriter, def: NetworkDef): void {
  const f = def.forward;
  if (!f) return;
  const nat = f.nat;
  const natBody =
    nat !== undefined &&
    (nat.addressStart !== undefined || nat.portStart !== undefined || nat.portEnd !== undefined);
  const natAny = nat !== undefined && (natBody || nat.ipv6 !== undefined);
  w.elem(
    "forward",
    {
      dev: f.pf === undefined ? f.interfaces[0] : undefined,
      mode: f.mode,
      managed: f.mode === "hostdev" ? (f.managed ? "yes" : "no") : undefined,
    },
    () => {
      if (f.driverName || f.driverModel) w.empty("driver", { name: f.driverName, model: f.driverModel });
      if (f.mode === "nat" && nat && natAny) {
        w.elem("nat", { ipv6: yn(nat.ipv6) }, () => {
          if (nat.addressStart !== undefined) {
            w.empty("address", { start: nat.addressStart, end: nat.addressEnd });
          }
          if (nat.portStart !== undefined || nat.portEnd !== undefined) {
            w.empty("port", { start: nat.portStart ?? 0, end: nat.portEnd || undefined });
          }
        });
      }
      if (f.pf !== undefined) w.empty("pf", { dev: f.pf });
      for (const d of f.interfaces) w.empty("interface", { dev: d });
      for (const a of f.addresses) formatPci(w, a);
    },
  );
}

function formatLease(w: XmlWriter, l: LeaseDef): void {
  w.empty("lease", { expiry: l.expiry, unit: l.expiry ? l.unit : undefined });
}

function formatIpDef(w: XmlWriter, ip: IpDef): void {
  // libvirt always writes <ip> with an end tag, even when it has no children.
  w.raw(
    `<ip${attrs({
      family: ip.family,
      address: ip.address,
      netmask: ip.netmask,
      prefix: ip.prefix,
      localPtr: yn(ip.localPtr),
    })}>`,
  );
  const inner = new XmlWriter();
  if (ip.tftpRoot !== undefined) inner.empty("tftp", { root: ip.tftpRoot });
  if (ip.ranges.length || ip.hosts.length) {
    inner.elem("dhcp", undefined, () => {
      for (const r of ip.ranges) {
        inner.elem("range", { start: r.start, end: r.end }, () => {
          if (r.lease) formatLease(inner, r.lease);
        });
      }
      for (const h of ip.hosts) {
        inner.elem("host", { mac: h.mac, id: h.id, name: h.name, ip: h.ip }, () => {
          if (h.lease) formatLease(inner, h.lease);
        });
      }
      if (ip.bootp) inner.empty("bootp", { file: ip.bootp.file, server: ip.bootp.server });
    });
  }
  indentInto(w, inner);
  w.raw("</ip>");
}

function attrs(a: Readonly<Record<string, string | number | undefined>>): string {
  const probe = new XmlWriter().empty("x", a).toString();
  return probe.slice(2, -3);
}

function formatDns(w: XmlWriter, dns: DnsDef): void {
  const any = dns.forwarders.length + dns.hosts.length + dns.srvs.length + dns.txts.length > 0;
  if (!any && dns.enable === undefined && dns.forwardPlainNames === undefined) return;
  w.elem("dns", { enable: yn(dns.enable), forwardPlainNames: yn(dns.forwardPlainNames) }, () => {
    for (const f of dns.forwarders) w.empty("forwarder", { domain: f.domain, addr: f.addr });
    for (const t of dns.txts) w.empty("txt", { name: t.name, value: t.value });
    for (const s of dns.srvs) {
      w.empty("srv", {
        service: s.service,
        protocol: s.protocol,
        domain: s.domain,
        target: s.target,
        port: s.port || undefined,
        priority: s.priority || undefined,
        weight: s.weight || undefined,
      });
    }
    for (const h of dns.hosts) {
      w.elem("host", { ip: h.ip }, () => {
        for (const n of h.hostnames) w.text("hostname", n);
      });
    }
  });
}

function formatVlan(w: XmlWriter, v: VlanDef | undefined): void {
  if (!v) return;
  w.elem("vlan", { trunk: v.trunk ? "yes" : undefined }, () => {
    for (const t of v.tags) w.empty("tag", { id: t.id, nativeMode: t.nativeMode });
  });
}

function formatBandwidth(w: XmlWriter, b: BandwidthDef | undefined): void {
  if (!b || (!b.inbound && !b.outbound)) return;
  w.elem("bandwidth", undefined, () => {
    for (const dir of ["inbound", "outbound"] as const) {
      const r = b[dir];
      if (!r) continue;
      w.empty(dir, {
        average: r.average || undefined,
        peak: r.peak || undefined,
        floor: r.floor || undefined,
        burst: r.burst || undefined,
      });
    }
  });
}

function formatVirtualPort(w: XmlWriter, vp: VirtualPortDef | undefined): void {
  if (!vp) return;
  const p = vp.parameters;
  if (vp.type === undefined && Object.keys(p).length === 0) return;
  w.elem("virtualport", { type: vp.type }, () => {
    if (Object.keys(p).length > 0) {
      w.empty("parameters", {
        managerid: p.managerid,
        typeid: p.typeid,
        typeidversion: p.typeidversion,
        instanceid: p.instanceid,
        interfaceid: p.interfaceid,
        profileid: p.profileid,
      });
    }
  });
}

/** libvirt writes `<portgroup>` with an end tag even when it has no children. */
function formatPortGroup(w: XmlWriter, pg: PortGroupDef): void {
  w.raw(
    `<portgroup${attrs({
      name: pg.name,
      default: pg.isDefault ? "yes" : undefined,
      trustGuestRxFilters: yn(pg.trustGuestRxFilters),
    })}>`,
  );
  const inner = new XmlWriter();
  formatVlan(inner, pg.vlan);
  formatVirtualPort(inner, pg.virtualport);
  formatBandwidth(inner, pg.bandwidth);
  indentInto(w, inner);
  w.raw("</portgroup>");
}

function indentInto(w: XmlWriter, inner: XmlWriter): void {
  const body = inner.toString();
  if (body !== "\n") for (const line of body.trimEnd().split("\n")) w.raw(`  ${line}`);
}

export function formatNetwork(def: NetworkDef): string {
  const w = new XmlWriter();
  const mode = def.forward?.mode;
  const l3 = mode === undefined || mode === "nat" || mode === "route" || mode === "open";
  w.elem(
    "network",
    {
      "xmlns:dnsmasq": def.dnsmasqOptions.length ? DNSMASQ_NS : undefined,
      ipv6: def.ipv6NoGateway ? "yes" : undefined,
      trustGuestRxFilters: yn(def.trustGuestRxFilters),
    },
    () => {
      w.text("name", def.name);
      w.text("uuid", def.uuid);
      if (def.title !== undefined) w.text("title", def.title);
      if (def.description !== undefined) w.text("description", def.description);
      if (def.metadata?.length) formatMetadata(w, def.metadata);
      formatForward(w, def);
      if (l3 || def.bridge !== undefined || def.macTableManager !== undefined) {
        w.empty("bridge", {
          name: def.bridge,
          zone: def.bridgeZone,
          stp: l3 ? (def.stp ? "on" : "off") : undefined,
          delay: l3 ? def.delay : undefined,
          macTableManager: def.macTableManager,
        });
      }
      if (def.mtu) w.empty("mtu", { size: def.mtu });
      if (def.mac !== undefined) w.empty("mac", { address: def.mac });
      if (def.domain) {
        w.empty("domain", {
          name: def.domain.name,
          localOnly: yn(def.domain.localOnly),
        });
      }
      formatDns(w, def.dns);
      formatVlan(w, def.vlan);
      formatBandwidth(w, def.bandwidth);
      if (def.isolatedPort !== undefined) w.empty("port", { isolated: yn(def.isolatedPort) });
      for (const ip of def.ips) formatIpDef(w, ip);
      for (const r of def.routes) {
        w.empty("route", {
          family: r.family,
          address: r.address,
          netmask: r.netmask,
          prefix: r.prefix,
          gateway: r.gateway,
          metric: r.metric,
        });
      }
      formatVirtualPort(w, def.virtualport);
      for (const pg of def.portgroups) formatPortGroup(w, pg);
      if (def.dnsmasqOptions.length) {
        w.elem("dnsmasq:options", undefined, () => {
          for (const o of def.dnsmasqOptions) w.empty("dnsmasq:option", { value: o });
        });
      }
    },
  );
  return w.toString();
}
