/**
 * Formatting of `<interface>`.
 */
import type { XmlWriter } from "../xml.ts";
import type { InterfaceDef, InterfaceIp, InterfaceRoute } from "./types.ts";
import { formatAddress, formatInfo, liveWriters, onOff, yesNo, virtioAttrs } from "./format-info.ts";
import { GUEST_OFFLOADS, HOST_OFFLOADS } from "./parse-net.ts";

function formatSource(w: XmlWriter, n: InterfaceDef): void {
  const s = n.source;
  switch (n.type) {
    case "network":
      // bridge: the running network's, in the live XML only (libvirt's actual bridge)
      // portid: the port the running network gave the interface, never in the inactive XML
      if (s)
        w.empty("source", {
          network: s.network,
          portgroup: s.portgroup,
          portid: liveWriters.has(w) ? s.portid : undefined,
          bridge: s.bridge,
        });
      return;
    case "bridge":
      if (s) w.empty("source", { bridge: s.bridge });
      return;
    case "direct":
      if (s) w.empty("source", { dev: s.dev, mode: s.mode ?? "vepa" });
      return;
    case "vdpa":
    case "user":
      if (s?.dev !== undefined) w.empty("source", { dev: s.dev });
      return;
    case "vhostuser":
      if (s && (s.type ?? s.path ?? s.mode ?? s.dev) !== undefined) {
        w.elem("source", { type: s.type, path: s.path, mode: s.mode, dev: s.dev }, () => {
          const r = s.reconnect;
          if (r) w.empty("reconnect", { enabled: yesNo(r.enabled), timeout: r.timeout });
        });
      }
      return;
    case "ethernet":
      if (s && (s.hostIps ?? s.hostRoutes) !== undefined) {
        w.elem("source", undefined, () => {
          formatIps(w, s.hostIps, s.hostRoutes);
        });
      }
      return;
    case "hostdev":
      if (s?.hostAddress) {
        const a = s.hostAddress;
        w.elem("source", undefined, () => {
          formatAddress(w, a);
        });
      }
      return;
    case "server":
    case "client":
    case "mcast":
    case "udp":
      if (s) {
        w.elem("source", { address: s.address, port: s.port }, () => {
          if (s.local) w.empty("local", { address: s.local.address, port: s.local.port });
        });
      }
      return;
    default:
      return;
  }
}

function formatIps(w: XmlWriter, ips: InterfaceIp[] | undefined, routes: InterfaceRoute[] | undefined): void {
  for (const ip of ips ?? []) {
    const family = ip.family ?? (ip.address.includes(":") ? "ipv6" : "ipv4");
    w.empty("ip", { address: ip.address, family, prefix: ip.prefix, peer: ip.peer });
  }
  for (const r of routes ?? [])
    w.empty("route", {
      family: r.family,
      address: r.address,
      netmask: r.netmask,
      prefix: r.prefix,
      gateway: r.gateway,
      metric: r.metric,
    });
}

function formatBandwidth(w: XmlWriter, n: InterfaceDef): void {
  const bw = n.bandwidth;
  if (!bw) return;
  w.elem("bandwidth", undefined, () => {
    if (bw.inbound) w.empty("inbound", { ...bw.inbound });
    if (bw.outbound) w.empty("outbound", { ...bw.outbound });
  });
}

export function formatInterface(w: XmlWriter, n: InterfaceDef): void {
  const attrs = {
    type: n.type,
    managed: n.type === "hostdev" ? yesNo(n.managed) : undefined,
    trustGuestRxFilters: yesNo(n.trustGuestRxFilters),
  };
  w.elem("interface", attrs, () => {
    if (n.mac) w.empty("mac", { address: n.mac.address, type: n.mac.type, check: yesNo(n.mac.check) });
    formatSource(w, n);
    formatIps(w, n.ips, n.routes);
    for (const pf of n.portForwards ?? []) {
      w.elem("portForward", { proto: pf.proto, address: pf.address, dev: pf.dev }, () => {
        for (const r of pf.ranges)
          w.empty("range", { start: r.start, end: r.end, to: r.to, exclude: yesNo(r.exclude) });
      });
    }
    if (n.vlan) {
      const v = n.vlan;
      w.elem("vlan", { trunk: v.trunk ? "yes" : undefined }, () => {
        for (const t of v.tags) w.empty("tag", { id: t.id, nativeMode: t.nativeMode });
      });
    }
    if (n.virtualport) {
      const vp = n.virtualport;
      w.elem("virtualport", { type: vp.type }, () => {
        if (vp.parameters) w.empty("parameters", { ...vp.parameters });
      });
    }
    formatBandwidth(w, n);
    if (n.isolatedPort !== undefined) w.empty("port", { isolated: yesNo(n.isolatedPort) });
    if (n.script !== undefined) w.empty("script", { path: n.script });
    if (n.downscript !== undefined) w.empty("downscript", { path: n.downscript });
    if (n.target) w.empty("target", { dev: n.target.dev, managed: yesNo(n.target.managed) });
    if (n.model !== undefined) w.empty("model", { type: n.model });
    const d = n.driver;
    if (d) {
      w.elem(
        "driver",
        {
          name: d.name,
          txmode: d.txmode,
          ioeventfd: onOff(d.ioeventfd),
          event_idx: onOff(d.event_idx),
          queues: d.queues,
          rx_queue_size: d.rx_queue_size,
          tx_queue_size: d.tx_queue_size,
          rss: onOff(d.rss),
          rss_hash_report: onOff(d.rss_hash_report),
          ...virtioAttrs(n),
        },
        () => {
          if (d.host) w.empty("host", Object.fromEntries(HOST_OFFLOADS.map((k) => [k, onOff(d.host?.[k])])));
          if (d.guest)
            w.empty("guest", Object.fromEntries(GUEST_OFFLOADS.map((k) => [k, onOff(d.guest?.[k])])));
        },
      );
    }
    if (n.backend)
      w.empty("backend", {
        type: n.backend.type,
        tap: n.backend.tap,
        vhost: n.backend.vhost,
        logFile: n.backend.logFile,
      });
    if (n.filterref) {
      const f = n.filterref;
      w.elem("filterref", { filter: f.filter }, () => {
        for (const p of f.parameters ?? []) w.empty("parameter", { name: p.name, value: p.value });
      });
    }
    if (n.tune) {
      const tune = n.tune;
      w.elem("tune", undefined, () => {
        if (tune.sndbuf !== undefined) w.text("sndbuf", tune.sndbuf);
      });
    }
    if (n.teaming) w.empty("teaming", { type: n.teaming.type, persistent: n.teaming.persistent });
    if (n.link) w.empty("link", { state: n.link.state });
    if (n.mtu !== undefined) w.empty("mtu", { size: n.mtu });
    // a zero frame count is no coalescing at all: libvirt leaves the element out
    if (n.coalesce?.rxFramesMax !== undefined && n.coalesce.rxFramesMax > 0) {
      const max = n.coalesce.rxFramesMax;
      w.elem("coalesce", undefined, () => w.elem("rx", undefined, () => w.empty("frames", { max })));
    }
    formatInfo(w, n);
  });
}
