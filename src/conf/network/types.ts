import type { RawXmlElement } from "../domain/types.ts";

/**
 * A libvirt virtual network definition (`<network>`), typed. Addresses are kept in canonical
 * text form (as libvirt formats them); MAC addresses in lower case.
 */

export const FORWARD_MODES = [
  "nat",
  "route",
  "open",
  "bridge",
  "private",
  "vepa",
  "passthrough",
  "hostdev",
] as const;
export type ForwardMode = (typeof FORWARD_MODES)[number];

/** Modes where libvirt itself runs a bridge with addresses (plus isolated: no `<forward>`). */
export const L3_MODES: readonly ForwardMode[] = ["nat", "route", "open"];

export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export interface NatDef {
  addressStart?: string;
  addressEnd?: string;
  portStart?: number;
  portEnd?: number;
  /** `<nat ipv6=>`: yes masquerades IPv6 too (kept as given, libvirt formats both values). */
  ipv6?: boolean;
}

export interface ForwardDef {
  mode: ForwardMode;
  /** hostdev only: `managed` (libvirt always formats it for hostdev). */
  managed?: boolean;
  /** `<driver name=>` (hostdev). */
  driverName?: "kvm" | "vfio";
  /** `<driver model=>` (hostdev): the VFIO variant driver, e.g. `vfio-pci-igb`. */
  driverModel?: string;
  nat?: NatDef;
  /** Network devices: `dev=` and `<interface dev=>`, the first one being `dev`. */
  interfaces: string[];
  /** `<pf dev=>` (at most one). */
  pf?: string;
  /** hostdev pools: PCI addresses of VFs. */
  addresses: PciAddress[];
}

export type LeaseUnit = "seconds" | "minutes" | "hours";

export interface LeaseDef {
  /** 0 means infinite. */
  expiry: number;
  unit: LeaseUnit;
}

export interface DhcpRange {
  start: string;
  end: string;
  lease?: LeaseDef;
}

export interface DhcpHost {
  mac?: string;
  /** DHCPv6 client id (DUID). */
  id?: string;
  name?: string;
  ip?: string;
  lease?: LeaseDef;
}

export interface IpDef {
  /** As written (`ipv4`/`ipv6`), formatted only when given. */
  family?: "ipv4" | "ipv6";
  address: string;
  netmask?: string;
  prefix?: number;
  localPtr?: boolean;
  tftpRoot?: string;
  ranges: DhcpRange[];
  hosts: DhcpHost[];
  bootp?: { file: string; server?: string };
}

export interface RouteDef {
  family?: "ipv4" | "ipv6";
  address: string;
  netmask?: string;
  prefix?: number;
  gateway: string;
  metric?: number;
}

export interface DnsForwarder {
  domain?: string;
  addr?: string;
}

export interface DnsHost {
  ip: string;
  hostnames: string[];
}

export interface DnsSrv {
  service: string;
  /** Usually tcp or udp. */
  protocol: string;
  domain?: string;
  target?: string;
  port?: number;
  priority?: number;
  weight?: number;
}

export interface DnsTxt {
  name: string;
  value: string;
}

export interface DnsDef {
  enable?: boolean;
  forwardPlainNames?: boolean;
  forwarders: DnsForwarder[];
  txts: DnsTxt[];
  srvs: DnsSrv[];
  hosts: DnsHost[];
}

export interface BandwidthRate {
  average?: number;
  peak?: number;
  floor?: number;
  burst?: number;
}

export interface BandwidthDef {
  inbound?: BandwidthRate;
  outbound?: BandwidthRate;
}

export interface VlanDef {
  trunk: boolean;
  tags: { id: number; nativeMode?: "tagged" | "untagged" }[];
}

export const VIRTUALPORT_TYPES = ["802.1Qbg", "802.1Qbh", "openvswitch", "midonet"] as const;

export interface VirtualPortDef {
  type?: (typeof VIRTUALPORT_TYPES)[number];
  parameters: {
    managerid?: number;
    typeid?: number;
    typeidversion?: number;
    instanceid?: string;
    interfaceid?: string;
    profileid?: string;
  };
}

export interface PortGroupDef {
  name: string;
  isDefault: boolean;
  trustGuestRxFilters?: boolean;
  vlan?: VlanDef;
  virtualport?: VirtualPortDef;
  bandwidth?: BandwidthDef;
}

export interface NetworkDef {
  name: string;
  uuid: string;
  /** `<network ipv6='yes'>`: guest-to-guest IPv6 without a gateway address. */
  ipv6NoGateway: boolean;
  trustGuestRxFilters?: boolean;
  title?: string;
  description?: string;
  /** `<metadata>` children, kept verbatim. */
  metadata?: RawXmlElement[];
  /** Absent: an isolated network. */
  forward?: ForwardDef;
  bridge?: string;
  bridgeZone?: string;
  stp: boolean;
  delay: number;
  macTableManager?: "kernel" | "libvirt";
  mtu?: number;
  mac?: string;
  domain?: { name: string; localOnly?: boolean };
  dns: DnsDef;
  vlan?: VlanDef;
  bandwidth?: BandwidthDef;
  /** `<port isolated=>`. */
  isolatedPort?: boolean;
  ips: IpDef[];
  routes: RouteDef[];
  virtualport?: VirtualPortDef;
  portgroups: PortGroupDef[];
  /** `<dnsmasq:options>` lines, passed to dnsmasq verbatim. */
  dnsmasqOptions: string[];
}

/** True for the modes where libvirt manages a bridge with addresses (nat, route, open, isolated). */
export function isL3(def: NetworkDef): boolean {
  return !def.forward || L3_MODES.includes(def.forward.mode);
}
