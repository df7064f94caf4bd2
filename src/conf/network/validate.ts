/**
 * Cross-field rules of a network definition, checked after reading (libvirt checks these at
 * parse time too, so a bad definition is never stored). Messages keep libvirt's wording; the
 * details place them in the document.
 */
import type { XmlElement } from "../xml.ts";
import { structural, unsupported } from "./reader.ts";
import { parseIp, sameSubnet } from "./ip.ts";
import { ipPrefix } from "./ip-prefix.ts";
import type { NetworkDef } from "./types.ts";

export function validateNetwork(def: NetworkDef, root: XmlElement): void {
  const at = (name: string): XmlElement | undefined => root.children.find((c) => c.name === name);
  const name = def.name;

  // Static route gateways must be reachable through one of the network's own addresses.
  def.routes.forEach((r, i) => {
    const gw = parseIp(r.gateway)!;
    const ok = def.ips.some((ip) => {
      const a = parseIp(ip.address)!;
      const prefix = ipPrefix(ip);
      return a.family === gw.family && prefix !== undefined && sameSubnet(a, gw, prefix);
    });
    if (!ok) {
      throw unsupported(
        root.children.filter((c) => c.name === "route")[i],
        `unreachable static route gateway '${r.gateway}' specified for network '${name}'`,
      );
    }
  });

  const mode = def.forward?.mode;
  const fwdEl = at("forward");
  const bridgeEl = at("bridge");
  switch (mode) {
    case undefined:
      break;
    case "route":
    case "nat":
    case "open":
      if (def.ips.length === 0) {
        throw structural(
          fwdEl,
          `${mode} forwarding requested, but no IP address provided for network '${name}'`,
        );
      }
      if (def.forward!.interfaces.length > 1) {
        throw structural(
          fwdEl,
          `multiple forwarding interfaces specified for network '${name}', only one is supported`,
        );
      }
      if (mode === "open" && def.forward!.interfaces.length > 0) {
        throw structural(fwdEl, `forward dev not allowed for network '${name}' with forward mode='${mode}'`);
      }
      break;
    case "private":
    case "vepa":
    case "passthrough":
    case "hostdev":
    case "bridge":
      if (mode !== "bridge") {
        if (def.bridge !== undefined) {
          throw structural(bridgeEl, `bridge name not allowed in ${mode} mode (network '${name}')`);
        }
        if (def.bridgeZone !== undefined) {
          throw structural(bridgeEl, `bridge zone not allowed in ${mode} mode (network '${name}')`);
        }
        if (def.macTableManager !== undefined) {
          throw structural(
            bridgeEl,
            `bridge macTableManager setting not allowed in ${mode} mode (network '${name}')`,
          );
        }
      }
      if (def.delay !== 0 || bridgeEl?.hasAttr("stp") || def.bridgeZone !== undefined) {
        throw structural(
          bridgeEl,
          `bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in ${mode} (network '${name}')`,
        );
      }
      if (def.bridge !== undefined && (def.forward!.interfaces.length > 0 || def.forward!.pf !== undefined)) {
        throw structural(
          fwdEl,
          `A network with forward mode='${mode}' can specify a bridge name or a forward dev, but not both (network '${name}')`,
        );
      }
      break;
  }
  if (def.mtu !== undefined && mode !== undefined && mode !== "nat" && mode !== "route" && mode !== "open") {
    throw structural(
      at("mtu"),
      `mtu size only allowed in open, route, nat, and isolated mode, not in ${mode} (network '${name}')`,
    );
  }

  const pgNames = new Set<string>();
  let defaults = 0;
  def.portgroups.forEach((pg, i) => {
    const el = root.children.filter((c) => c.name === "portgroup")[i];
    if (pgNames.has(pg.name)) {
      throw structural(
        el,
        `Multiple <portgroup> elements with the same name (${pg.name}) in network '${name}'`,
      );
    }
    pgNames.add(pg.name);
    if (pg.isDefault && ++defaults > 1) {
      throw structural(el, `Multiple default <portgroup> elements in network '${name}': only one is allowed`);
    }
  });
}

/**
 * Rules libvirt's network driver applies when a network is defined or started (not at parse
 * time, so the XML round trip of such a definition still works): a network whose guests
 * connect to an existing device has no addresses, DNS or domain of its own.
 */
export function checkNetworkForDriver(def: NetworkDef, root?: XmlElement): void {
  const at = (name: string): XmlElement | undefined => root?.children.find((c) => c.name === name);
  const name = def.name;
  const mode = def.forward?.mode;
  const fwdEl = at("forward");
  if (
    mode === "bridge" ||
    mode === "private" ||
    mode === "vepa" ||
    mode === "passthrough" ||
    mode === "hostdev"
  ) {
    if (def.ips.length > 0) {
      throw unsupported(at("ip"), `Unsupported <ip> element in network ${name} with forward mode='${mode}'`);
    }
    if (def.dns.forwarders.length || def.dns.hosts.length || def.dns.srvs.length || def.dns.txts.length) {
      throw unsupported(
        at("dns"),
        `Unsupported <dns> element in network ${name} with forward mode='${mode}'`,
      );
    }
    if (def.domain) {
      throw unsupported(
        at("domain"),
        `Unsupported <domain> element in network ${name} with forward mode='${mode}'`,
      );
    }
  }
  if (mode !== "hostdev" && def.forward?.addresses.length) {
    throw structural(
      fwdEl,
      `PCI <address> elements in <forward> are only allowed with mode='hostdev' (network '${name}')`,
    );
  }
}
