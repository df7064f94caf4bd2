/**
 * A network definition → the host firewall commands libvirt's network driver runs when the
 * network starts, for its two backends: iptables/ip6tables (chains LIBVIRT_INP, LIBVIRT_OUT,
 * LIBVIRT_FWO, LIBVIRT_FWI, LIBVIRT_FWX, LIBVIRT_PRT) and nftables (libvirt's own
 * `libvirt_network` tables, chains guest_output, guest_input, guest_cross, guest_nat).
 *
 * Pure: each command is an argv array (program first), in libvirt's order. Nothing here runs
 * anything; the driver executes them (never through a shell) and undoes them on failure.
 */
import { VirtError } from "../../util/errors/index.ts";
import { ipPrefix, type IpDef, type NetworkDef } from "../../conf/network/index.ts";
import { formatIp, maskByPrefix, parseIp } from "../../conf/network/ip.ts";

export type FirewallBackend = "iptables" | "nftables";
export const FIREWALL_BACKENDS: readonly FirewallBackend[] = ["iptables", "nftables"];

export type Argv = readonly string[];

type Family = 4 | 6;

const NFT_TABLE = "libvirt_network";
const BROADCAST_V4 = "255.255.255.255/32";
const MULTICAST_V4 = "224.0.0.0/24";
const MULTICAST_V6 = "ff02::/16";

function unsupported(what: string): VirtError {
  return new VirtError("NETWORK_CONFIG_UNSUPPORTED", { what });
}

// ---------------------------------------------------------------------------------------------
// One-time global setup (the first network that needs a firewall triggers it)
// ---------------------------------------------------------------------------------------------

/**
 * The global chains, created once before any network's rules. libvirt first lists the tables
 * (the listing commands lead each family) and creates what is missing; this is the sequence
 * for a host where nothing exists yet.
 */
export function firewallSetupCommands(backend: FirewallBackend): Argv[] {
  const out: Argv[] = [];
  if (backend === "iptables") {
    for (const prog of ["iptables", "ip6tables"]) {
      for (const table of ["filter", "nat", "mangle"])
        out.push([prog, "-w", "--table", table, "--list-rules"]);
      const chains: [string, string, string][] = [
        ["filter", "LIBVIRT_INP", "INPUT"],
        ["filter", "LIBVIRT_OUT", "OUTPUT"],
        ["filter", "LIBVIRT_FWO", "FORWARD"],
        ["filter", "LIBVIRT_FWI", "FORWARD"],
        ["filter", "LIBVIRT_FWX", "FORWARD"],
        ["nat", "LIBVIRT_PRT", "POSTROUTING"],
        ["mangle", "LIBVIRT_PRT", "POSTROUTING"],
      ];
      for (const [table, chain, parent] of chains) {
        out.push([prog, "-w", "--table", table, "--new-chain", chain]);
        out.push([prog, "-w", "--table", table, "--insert", parent, "--jump", chain]);
      }
    }
    return out;
  }
  for (const fam of ["ip", "ip6"]) {
    out.push(["nft", "list", "table", fam, NFT_TABLE]);
    out.push(["nft", "add", "table", fam, NFT_TABLE]);
    out.push(["nft", "add", "chain", fam, NFT_TABLE, "forward", nftHook("filter", "forward", 0)]);
    for (const chain of ["guest_output", "guest_input", "guest_cross"]) {
      out.push(["nft", "add", "chain", fam, NFT_TABLE, chain]);
      out.push(["nft", "insert", "rule", fam, NFT_TABLE, "forward", "counter", "jump", chain]);
    }
    out.push(["nft", "add", "chain", fam, NFT_TABLE, "guest_nat", nftHook("nat", "postrouting", 100)]);
  }
  return out;
}

/** The spec of an nft base chain (one argument, as libvirt passes it). */
function nftHook(type: string, hook: string, priority: number): string {
  return `{ type ${type} hook ${hook} priority ${priority}; policy accept; }`;
}

// ---------------------------------------------------------------------------------------------
// Rule builders, one per backend
// ---------------------------------------------------------------------------------------------

interface NatRange {
  addressStart?: string;
  addressEnd?: string;
  portStart: number;
  portEnd: number;
}

/** What a backend knows how to write; the sequence is shared. */
interface Rules {
  input(fam: Family, bridge: string, proto: "tcp" | "udp", port: number): Argv | undefined;
  output(fam: Family, bridge: string, proto: "tcp" | "udp", port: number): Argv | undefined;
  rejectOut(fam: Family, bridge: string): Argv;
  rejectIn(fam: Family, bridge: string): Argv;
  allowCross(fam: Family, bridge: string): Argv;
  allowOut(fam: Family, net: string, bridge: string, dev: string | undefined): Argv;
  allowRelatedIn(fam: Family, net: string, bridge: string, dev: string | undefined): Argv;
  allowIn(fam: Family, net: string, bridge: string, dev: string | undefined): Argv;
  masquerade(fam: Family, net: string, dev: string | undefined, nat: NatRange, proto?: "udp" | "tcp"): Argv;
  dontMasquerade(fam: Family, net: string, dev: string | undefined, dest: string): Argv;
  /** Commands that fix DHCP reply checksums, and whether they lead (true) or close the list. */
  checksum(bridge: string): { argv: Argv[]; first: boolean; needsDhcp: boolean };
}

/**
 * The SNAT range (when `<nat><address>` is given and of the rule's family: it is IPv4 only)
 * or the masquerade port range; protocol rules default to ports 1024-65535.
 */
function natTarget(fam: Family, nat: NatRange, proto: string | undefined): { snat?: string; ports?: string } {
  let ports: string | undefined;
  if (proto !== undefined) {
    let { portStart: s, portEnd: e } = nat;
    if (s === 0 && e === 0) {
      s = 1024;
      e = 65535;
    }
    if (!(s < e && e < 65536)) {
      throw unsupported(
        `Invalid port range '${s}-${e}': the start must be below the end, and the end at most 65535`,
      );
    }
    ports = `${s}-${e}`;
  }
  if (nat.addressStart !== undefined && fam === 4) {
    const range = nat.addressEnd !== undefined ? `${nat.addressStart}-${nat.addressEnd}` : nat.addressStart;
    return { snat: ports !== undefined ? `${range}:${ports}` : range };
  }
  return ports !== undefined ? { ports } : {};
}

const iptables: Rules = {
  input: (fam, br, proto, port) => iptHostPort(fam, "LIBVIRT_INP", "--in-interface", br, proto, port),
  output: (fam, br, proto, port) => iptHostPort(fam, "LIBVIRT_OUT", "--out-interface", br, proto, port),
  rejectOut: (fam, br) => [...ipt(fam, "filter", "LIBVIRT_FWO"), "--in-interface", br, "--jump", "REJECT"],
  rejectIn: (fam, br) => [...ipt(fam, "filter", "LIBVIRT_FWI"), "--out-interface", br, "--jump", "REJECT"],
  allowCross: (fam, br) => [
    ...ipt(fam, "filter", "LIBVIRT_FWX"),
    "--in-interface",
    br,
    "--out-interface",
    br,
    "--jump",
    "ACCEPT",
  ],
  allowOut: (fam, net, br, dev) => [
    ...ipt(fam, "filter", "LIBVIRT_FWO"),
    "--source",
    net,
    "--in-interface",
    br,
    ...(dev !== undefined ? ["--out-interface", dev] : []),
    "--jump",
    "ACCEPT",
  ],
  allowRelatedIn: (fam, net, br, dev) =>
    iptAllowIn(fam, net, br, dev, ["--match", "conntrack", "--ctstate", "ESTABLISHED,RELATED"]),
  allowIn: (fam, net, br, dev) => iptAllowIn(fam, net, br, dev, []),
  masquerade: (fam, net, dev, nat, proto) => {
    const t = natTarget(fam, nat, proto);
    return [
      ...ipt(fam, "nat", "LIBVIRT_PRT"),
      "--source",
      net,
      ...(proto !== undefined ? ["-p", proto] : []),
      "!",
      "--destination",
      net,
      ...(dev !== undefined ? ["--out-interface", dev] : []),
      ...(t.snat !== undefined
        ? ["--jump", "SNAT", "--to-source", t.snat]
        : ["--jump", "MASQUERADE", ...(t.ports !== undefined ? ["--to-ports", t.ports] : [])]),
    ];
  },
  dontMasquerade: (fam, net, dev, dest) => [
    ...ipt(fam, "nat", "LIBVIRT_PRT"),
    ...(dev !== undefined ? ["--out-interface", dev] : []),
    "--source",
    net,
    "--destination",
    dest,
    "--jump",
    "RETURN",
  ],
  checksum: (br) => ({
    argv: [
      [
        ...ipt(4, "mangle", "LIBVIRT_PRT"),
        "--out-interface",
        br,
        "--protocol",
        "udp",
        "--destination-port",
        "68",
        "--jump",
        "CHECKSUM",
        "--checksum-fill",
      ],
    ],
    first: false,
    needsDhcp: true,
  }),
};

function ipt(fam: Family, table: string, chain: string): string[] {
  return [fam === 4 ? "iptables" : "ip6tables", "-w", "--table", table, "--insert", chain];
}

/** Accepts one protocol and port between the bridge (`side` of the host) and the host. */
function iptHostPort(
  fam: Family,
  chain: string,
  side: "--in-interface" | "--out-interface",
  br: string,
  proto: string,
  port: number,
): Argv {
  return [
    ...ipt(fam, "filter", chain),
    side,
    br,
    "--protocol",
    proto,
    "--destination-port",
    String(port),
    "--jump",
    "ACCEPT",
  ];
}

/** Accepts forwarded traffic to the subnet `net` on the bridge (from `dev` when given). */
function iptAllowIn(fam: Family, net: string, br: string, dev: string | undefined, match: string[]): Argv {
  return [
    ...ipt(fam, "filter", "LIBVIRT_FWI"),
    "--destination",
    net,
    ...(dev !== undefined ? ["--in-interface", dev] : []),
    "--out-interface",
    br,
    ...match,
    "--jump",
    "ACCEPT",
  ];
}

function nft(fam: Family, chain: string): string[] {
  return ["nft", "-ae", "insert", "rule", fam === 4 ? "ip" : "ip6", NFT_TABLE, chain];
}

const addr = (fam: Family): string => (fam === 4 ? "ip" : "ip6");

const nftables: Rules = {
  // libvirt's own nftables table cannot open the host's input path, so no input/output rules.
  input: () => undefined,
  output: () => undefined,
  rejectOut: (fam, br) => [...nft(fam, "guest_output"), "iif", br, "counter", "reject"],
  rejectIn: (fam, br) => [...nft(fam, "guest_input"), "oif", br, "counter", "reject"],
  allowCross: (fam, br) => [...nft(fam, "guest_cross"), "iif", br, "oif", br, "counter", "accept"],
  allowOut: (fam, net, br, dev) => [
    ...nft(fam, "guest_output"),
    addr(fam),
    "saddr",
    net,
    "iif",
    br,
    ...(dev !== undefined ? ["oifname", dev] : []),
    "counter",
    "accept",
  ],
  allowRelatedIn: (fam, net, br, dev) => [
    ...nft(fam, "guest_input"),
    ...(dev !== undefined ? ["iifname", dev] : []),
    "oif",
    br,
    addr(fam),
    "daddr",
    net,
    "ct",
    "state",
    "related,established",
    "counter",
    "accept",
  ],
  allowIn: (fam, net, br, dev) => [
    ...nft(fam, "guest_input"),
    addr(fam),
    "daddr",
    net,
    ...(dev !== undefined ? ["iifname", dev] : []),
    "oif",
    br,
    "counter",
    "accept",
  ],
  masquerade: (fam, net, dev, nat, proto) => {
    const t = natTarget(fam, nat, proto);
    return [
      ...nft(fam, "guest_nat"),
      ...(proto !== undefined ? ["meta", "l4proto", proto] : []),
      addr(fam),
      "saddr",
      net,
      addr(fam),
      "daddr",
      "!=",
      net,
      ...(dev !== undefined ? ["oifname", dev] : []),
      "counter",
      ...(t.snat !== undefined
        ? ["snat", "to", t.snat]
        : ["masquerade", ...(t.ports !== undefined ? ["to", `:${t.ports}`] : [])]),
    ];
  },
  dontMasquerade: (fam, net, dev, dest) => [
    ...nft(fam, "guest_nat"),
    ...(dev !== undefined ? ["oifname", dev] : []),
    addr(fam),
    "saddr",
    net,
    addr(fam),
    "daddr",
    dest,
    "counter",
    "return",
  ],
  // With nftables the DHCP checksum fix-up is a tc filter on the bridge. The first command is a
  // probe: the driver adds the root qdisc only when the bridge has no handle 1: yet.
  checksum: (br) => ({
    argv: [
      ["tc", "qdisc", "show", "dev", br, "handle", "1:"],
      ["tc", "qdisc", "add", "dev", br, "root", "handle", "1:", "htb", "default", "2"],
      [
        "tc",
        "filter",
        "add",
        "dev",
        br,
        "prio",
        "2",
        "protocol",
        "ip",
        "parent",
        "1:",
        "u32",
        "match",
        "ip",
        "dport",
        "68",
        "ffff",
        "action",
        "csum",
        "ip",
        "and",
        "udp",
      ],
    ],
    first: true,
    needsDhcp: false,
  }),
};

// ---------------------------------------------------------------------------------------------
// The sequence for one network
// ---------------------------------------------------------------------------------------------

function familyOf(ip: IpDef): Family {
  return ip.address.includes(":") ? 6 : 4;
}

/** `address/prefix` of the subnet an `<ip>` serves, e.g. 192.168.122.0/24. */
export function subnetOf(ip: IpDef, network: string): string {
  const prefix = ipPrefix(ip);
  const a = parseIp(ip.address);
  if (prefix === undefined || !a) {
    throw unsupported(`Invalid prefix or netmask for '${ip.address}' in network '${network}'`);
  }
  return `${formatIp(maskByPrefix(a, prefix))}/${prefix}`;
}

/**
 * The firewall commands that start a network, in libvirt's order: general rules for IPv4
 * (DHCP, DNS and TFTP to the host; reject forwarding except between guests), the same for IPv6
 * when the network has IPv6, then per address the forwarding (route) or masquerading (nat)
 * rules, and the DHCP checksum fix-up. Open networks and networks on host devices (bridge,
 * macvtap, hostdev modes) get none.
 */
export function networkFirewallCommands(def: NetworkDef, backend: FirewallBackend): Argv[] {
  const mode = def.forward?.mode;
  if (mode !== undefined && mode !== "nat" && mode !== "route") return [];
  const br = def.bridge;
  if (br === undefined) {
    throw unsupported(`network '${def.name}' has no bridge name: firewall rules need the bridge`);
  }
  const R = backend === "iptables" ? iptables : nftables;
  const out: Argv[] = [];
  const push = (a: Argv | undefined): void => {
    if (a) out.push(a);
  };
  /** The host's service on `port`, over TCP and UDP (`dir`: to the host or from it). */
  const tcpUdp = (dir: "input" | "output", fam: Family, port: number): void => {
    for (const proto of ["tcp", "udp"] as const) push(R[dir](fam, br, proto, port));
  };
  /** No forwarding to or from the bridge except between its guests. */
  const isolate = (fam: Family): void => {
    push(R.rejectOut(fam, br));
    push(R.rejectIn(fam, br));
    push(R.allowCross(fam, br));
  };
  const v4 = def.ips.filter((ip) => familyOf(ip) === 4);
  const v6 = def.ips.filter((ip) => familyOf(ip) === 6);
  const dev = def.forward?.interfaces[0];

  const checksum = R.checksum(br);
  const v4dhcp = v4.find((ip) => ip.ranges.length > 0 || ip.hosts.length > 0);
  const wantChecksum = !checksum.needsDhcp || v4dhcp !== undefined;
  if (wantChecksum && checksum.first) out.push(...checksum.argv);

  // General IPv4 rules.
  tcpUdp("input", 4, 67);
  tcpUdp("output", 4, 68);
  tcpUdp("input", 4, 53);
  tcpUdp("output", 4, 53);
  const tftp = v4.find((ip) => ip.ranges.length > 0 || ip.hosts.length > 0 || ip.tftpRoot !== undefined);
  if (tftp?.tftpRoot !== undefined) {
    push(R.input(4, br, "udp", 69));
    push(R.output(4, br, "udp", 69));
  }
  isolate(4);

  // General IPv6 rules.
  if (v6.length > 0 || def.ipv6NoGateway) {
    isolate(6);
    if (v6.length > 0) {
      tcpUdp("input", 6, 53);
      tcpUdp("output", 6, 53);
      push(R.input(6, br, "udp", 547));
      push(R.output(6, br, "udp", 546));
    }
  }

  // Per address.
  const natCfg = def.forward?.nat;
  const nat: NatRange = {
    ...(natCfg?.addressStart !== undefined ? { addressStart: natCfg.addressStart } : {}),
    ...(natCfg?.addressEnd !== undefined ? { addressEnd: natCfg.addressEnd } : {}),
    portStart: natCfg?.portStart ?? 0,
    portEnd: natCfg?.portEnd ?? 0,
  };
  for (const ip of def.ips) {
    const fam = familyOf(ip);
    const net = subnetOf(ip, def.name);
    const masquerade = mode === "nat" && (fam === 4 || natCfg?.ipv6 === true);
    const route = mode === "route" || (mode === "nat" && !masquerade);
    if (masquerade) {
      push(R.allowOut(fam, net, br, dev));
      push(R.allowRelatedIn(fam, net, br, dev));
      for (const proto of [undefined, "udp", "tcp"] as const) push(R.masquerade(fam, net, dev, nat, proto));
      if (fam === 4) push(R.dontMasquerade(fam, net, dev, BROADCAST_V4));
      push(R.dontMasquerade(fam, net, dev, fam === 4 ? MULTICAST_V4 : MULTICAST_V6));
    } else if (route) {
      push(R.allowOut(fam, net, br, dev));
      push(R.allowIn(fam, net, br, dev));
    }
  }

  if (wantChecksum && !checksum.first) out.push(...checksum.argv);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Undoing: what removes a command's effect (the driver runs these in reverse order on failure
// and when the network stops, as libvirt's saved fwRemoval list does)
// ---------------------------------------------------------------------------------------------

/**
 * True for commands whose failure libvirt tolerates: the iptables CHECKSUM rule (not every
 * iptables has the target) and the `tc qdisc show` probe.
 */
export function isBestEffort(argv: Argv): boolean {
  return argv.includes("CHECKSUM") || (argv[0] === "tc" && argv[2] === "show");
}

/**
 * The command that undoes an iptables rule insertion (`--insert` → `--delete`, same rule), or
 * undefined for commands that change nothing (`tc qdisc show`, listings).
 */
export function iptablesUndo(argv: Argv): Argv | undefined {
  const i = argv.indexOf("--insert");
  if (i < 0 || (argv[0] !== "iptables" && argv[0] !== "ip6tables")) return undefined;
  return [...argv.slice(0, i), "--delete", ...argv.slice(i + 1)];
}

/**
 * The command that removes an nft rule added with `nft -ae insert rule <family> <table>
 * <chain> ...`, given the handle nft echoed for it (libvirt reads `# handle N` from the output).
 */
export function nftUndo(argv: Argv, handle: number): Argv | undefined {
  if (argv[0] !== "nft" || argv[1] !== "-ae" || argv[2] !== "insert" || argv[3] !== "rule") return undefined;
  const [family, table, chain] = [argv[4], argv[5], argv[6]];
  if (family === undefined || table === undefined || chain === undefined) return undefined;
  if (!Number.isSafeInteger(handle) || handle < 0) {
    throw new VirtError("BUG", { what: `nft rule handle ${handle} is not a non-negative integer` });
  }
  return ["nft", "delete", "rule", family, table, chain, "handle", String(handle)];
}

/** The rule handle in nft's echo output (`... # handle 5309`), or undefined. */
export function nftHandleFromEcho(output: string): number | undefined {
  const m = /#\s*handle\s+(\d+)\s*$/m.exec(output);
  return m ? Number(m[1]) : undefined;
}
