/**
 * `network doctor`: what usually keeps a NAT network's guests off the outside world, found
 * from facts about the host (gathered by `doctor-facts.ts`) by pure functions, each finding
 * with the commands that fix it:
 *
 * - IP forwarding off (`/proc/sys/net/ipv4/ip_forward` 0, or IPv6's for IPv6 networks);
 * - another firewall's forward hook with policy drop that does not accept the bridge's traffic
 *   (Docker and ufw set iptables' FORWARD policy to DROP; a packet must pass every base chain on
 *   the forward hook, so tvirt's own accept rules do not help when nftables is the backend);
 * - a network's address range clashing with a host address or route on another interface, or
 *   with another network;
 * - an active network whose dnsmasq is not running (no DHCP, no DNS for its guests);
 * - an active network whose bridge is down or gone.
 */
import { ipPrefix, type NetworkDef } from "../../conf/network/index.ts";
import { formatIp, maskByPrefix, parseIp, type IpAddr } from "../../conf/network/ip.ts";

/** One network as the doctor sees it: its (live, when active) definition. */
export interface DoctorNetwork {
  readonly def: NetworkDef;
  readonly active: boolean;
}

/** A base chain on the forward hook whose policy is drop. */
export interface ForwardDropChain {
  /** Where it was seen: iptables' FORWARD (`iptables -S`) or an nftables base chain. */
  readonly source: "iptables" | "nftables";
  /** nft family (`ip`, `ip6`, `inet`); `ip` for iptables. */
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  /** The chain's rules as text (iptables `-A` lines, or nft rules as JSON), to look for accepts. */
  readonly rules: readonly string[];
}

export interface DoctorFacts {
  /** `/proc/sys/net/ipv4/ip_forward` and `/proc/sys/net/ipv6/conf/all/forwarding` (undefined: unreadable). */
  readonly ipv4Forward: boolean | undefined;
  readonly ipv6Forward: boolean | undefined;
  readonly forwardDropChains: readonly ForwardDropChain[];
  /** iptables chains that exist (filter table): tells Docker's DOCKER-USER or ufw's chains. */
  readonly iptablesChains: readonly string[];
  /** Addresses of the host's interfaces, `addr/prefix`. */
  readonly addresses: readonly { readonly dev: string; readonly cidr: string }[];
  /** Routes of the main table without default routes, `dst/prefix`. */
  readonly routes: readonly { readonly dev: string; readonly dst: string }[];
  /** Interfaces and whether they are administratively up. */
  readonly links: ReadonlyMap<string, { readonly up: boolean }>;
  /** `--conf-file=` paths of the dnsmasq processes running in this network namespace. */
  readonly dnsmasqConfFiles: readonly string[];
  /** The nftables tables of the network driver (tvirt's and libvirt's): their chains are ours. */
  readonly ownTables: readonly string[];
}

export type FindingKind =
  | "ip-forward-off"
  | "forward-policy-drop"
  | "address-clash"
  | "dnsmasq-not-running"
  | "bridge-down"
  | "bridge-missing";

export interface DoctorFinding {
  readonly kind: FindingKind;
  /** error: guests' traffic breaks; warning: it will once the network (re)starts. */
  readonly severity: "error" | "warning";
  /** The networks it concerns. */
  readonly networks: readonly string[];
  readonly message: string;
  /** Commands that fix it, in order (text for a root shell). */
  readonly fix: readonly string[];
}

const FORWARDING_MODES = new Set(["nat", "route", "open"]);

function forwards(def: NetworkDef): boolean {
  return def.forward !== undefined && FORWARDING_MODES.has(def.forward.mode);
}

function hasFamily(def: NetworkDef, v6: boolean): boolean {
  return def.ips.some((ip) => ip.address.includes(":") === v6);
}

interface Subnet {
  readonly text: string;
  readonly addr: IpAddr;
  readonly prefix: number;
}

function subnet(text: string): Subnet | undefined {
  const [a, p] = text.split("/");
  const addr = parseIp(a ?? "");
  const prefix = p === undefined ? (addr?.family === 6 ? 128 : 32) : Number(p);
  if (!addr || !Number.isInteger(prefix)) return undefined;
  const net = maskByPrefix(addr, prefix);
  return { text: `${formatIp(net)}/${prefix}`, addr: net, prefix };
}

function overlap(a: Subnet, b: Subnet): boolean {
  if (a.addr.family !== b.addr.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  return formatIp(maskByPrefix(a.addr, p)) === formatIp(maskByPrefix(b.addr, p));
}

function subnetsOf(def: NetworkDef): Subnet[] {
  const out: Subnet[] = [];
  for (const ip of def.ips) {
    let prefix: number | undefined;
    try {
      prefix = ipPrefix(ip);
    } catch {
      continue;
    }
    const s = prefix === undefined ? undefined : subnet(`${ip.address}/${prefix}`);
    if (s) out.push(s);
  }
  return out;
}

/** True when a chain's rules accept (or hand to the network driver's chains) the bridge's traffic. */
function acceptsBridge(c: ForwardDropChain, bridge: string): boolean {
  return c.rules.some((r) => {
    if (/LIBVIRT_FW[IOX]/.test(r)) return true;
    if (!/accept/i.test(r)) return false;
    return c.source === "iptables"
      ? new RegExp(`(^|\\s)-[io] ${escapeRe(bridge)}(\\s|$)`).test(r)
      : r.includes(`"${bridge}"`);
  });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A free `192.168.N.0/24` for a network whose range clashes, or undefined. */
export function freeSubnet(taken: readonly Subnet[]): string | undefined {
  for (let n = 122; n < 256; n++) {
    const s = subnet(`192.168.${n}.0/24`)!;
    if (!taken.some((t) => overlap(s, t))) return s.text;
  }
  return undefined;
}

function forwardDropFix(c: ForwardDropChain, bridge: string, iptablesChains: readonly string[]): string[] {
  if (c.source === "iptables" || (c.family === "ip" && c.table === "filter" && c.chain === "FORWARD")) {
    // ufw and Docker keep chains of their own for the admin's rules, which survive their reloads.
    if (iptablesChains.some((n) => n.startsWith("ufw-"))) {
      return [`ufw route allow in on ${bridge}`, `ufw route allow out on ${bridge}`];
    }
    const chain = iptablesChains.includes("DOCKER-USER") ? "DOCKER-USER" : "FORWARD";
    return [
      `iptables -I ${chain} -i ${bridge} -j ACCEPT`,
      `iptables -I ${chain} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ];
  }
  return [
    `nft insert rule ${c.family} ${c.table} ${c.chain} iifname "${bridge}" accept`,
    `nft insert rule ${c.family} ${c.table} ${c.chain} oifname "${bridge}" ct state related,established accept`,
  ];
}

/** The findings for `networks` (the ones asked about; `all` every defined one, for clashes). */
export function diagnoseNetworks(
  facts: DoctorFacts,
  networks: readonly DoctorNetwork[],
  all: readonly DoctorNetwork[] = networks,
): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  const restart = (n: string): string[] => [`tvirsh net-destroy ${n}`, `tvirsh net-start ${n}`];

  // Forwarding: one finding per family, naming the networks that need it.
  for (const v6 of [false, true]) {
    const on = v6 ? facts.ipv6Forward : facts.ipv4Forward;
    if (on !== false) continue;
    const need = networks.filter((n) => {
      const m = n.def.forward?.mode;
      return (m === "nat" || m === "route") && hasFamily(n.def, v6);
    });
    if (need.length === 0) continue;
    const file = v6 ? "/proc/sys/net/ipv6/conf/all/forwarding" : "/proc/sys/net/ipv4/ip_forward";
    const key = v6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward";
    out.push({
      kind: "ip-forward-off",
      severity: need.some((n) => n.active) ? "error" : "warning",
      networks: need.map((n) => n.def.name),
      message: `IPv${v6 ? 6 : 4} forwarding is off (${file} is 0): guests of ${v6 ? "IPv6 " : ""}NAT and routed networks cannot reach beyond the host`,
      fix: [`sysctl -w ${key}=1`, `echo '${key} = 1' > /etc/sysctl.d/60-tvirt-forward.conf`],
    });
  }

  // Other firewalls' forward hooks with policy drop. iptables-nft's FORWARD shows twice (in
  // `iptables -S` and in nft's ruleset): once is enough.
  const seen = new Set<string>();
  const chains = facts.forwardDropChains.filter((c) => {
    if (c.family !== "bridge" && facts.ownTables.includes(c.table)) return false;
    const key = `${c.family} ${c.table} ${c.chain}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const c of chains) {
    const hit = networks.filter(
      (n) => forwards(n.def) && n.def.bridge !== undefined && !acceptsBridge(c, n.def.bridge),
    );
    if (hit.length === 0) continue;
    const where =
      c.source === "iptables"
        ? `iptables' ${c.chain} chain`
        : `nftables chain ${c.family} ${c.table} ${c.chain}`;
    const owner = facts.iptablesChains.some((n) => n.startsWith("ufw-"))
      ? " (ufw's)"
      : facts.iptablesChains.includes("DOCKER-USER")
        ? " (Docker's)"
        : "";
    out.push({
      kind: "forward-policy-drop",
      severity: hit.some((n) => n.active) ? "error" : "warning",
      networks: hit.map((n) => n.def.name),
      message: `${where}${owner} has policy drop on the forward hook and does not accept the traffic of ${hit.map((n) => n.def.bridge!).join(", ")}: guests' forwarded packets are dropped there, whatever the network's own rules accept`,
      fix: hit.flatMap((n) => forwardDropFix(c, n.def.bridge!, facts.iptablesChains)),
    });
  }

  // Address clashes: with the host's addresses and routes on other interfaces, and between networks.
  const hostSubnets = [
    ...facts.addresses.map((a) => ({ dev: a.dev, s: subnet(a.cidr), what: `address ${a.cidr}` })),
    ...facts.routes.map((r) => ({ dev: r.dev, s: subnet(r.dst), what: `route ${r.dst}` })),
  ].filter((x): x is { dev: string; s: Subnet; what: string } => x.s !== undefined && x.s.prefix > 0);
  const allSubnets: Subnet[] = [...hostSubnets.map((h) => h.s), ...all.flatMap((n) => subnetsOf(n.def))];
  for (const n of networks) {
    const mine = subnetsOf(n.def);
    const clashes: string[] = [];
    for (const m of mine) {
      for (const h of hostSubnets) {
        if (h.dev === n.def.bridge && n.active) continue;
        if (overlap(m, h.s)) clashes.push(`${m.text} overlaps ${h.what} on ${h.dev}`);
      }
      for (const o of all) {
        if (o.def.name === n.def.name) continue;
        for (const s of subnetsOf(o.def)) {
          if (overlap(m, s)) clashes.push(`${m.text} overlaps network '${o.def.name}' (${s.text})`);
        }
      }
    }
    if (clashes.length === 0) continue;
    const free = freeSubnet(allSubnets);
    out.push({
      kind: "address-clash",
      severity: "error",
      networks: [n.def.name],
      message: `network '${n.def.name}': ${[...new Set(clashes)].join("; ")}${n.active ? "" : ": it will not start"}`,
      fix: [
        `tvirsh net-edit ${n.def.name}   # move its <ip> and <dhcp><range> to a free range${free !== undefined ? `, e.g. ${free}` : ""}`,
        ...(n.active ? restart(n.def.name) : []),
      ],
    });
  }

  // Active networks: bridge and dnsmasq.
  for (const n of networks) {
    if (!n.active) continue;
    const name = n.def.name;
    const br = n.def.bridge;
    if (br !== undefined) {
      const link = facts.links.get(br);
      if (!link) {
        out.push({
          kind: "bridge-missing",
          severity: "error",
          networks: [name],
          message: `network '${name}' is active but its bridge ${br} does not exist`,
          fix: restart(name),
        });
      } else if (!link.up) {
        out.push({
          kind: "bridge-down",
          severity: "error",
          networks: [name],
          message: `bridge ${br} of network '${name}' is down`,
          fix: [`ip link set dev ${br} up`],
        });
      }
    }
    if (needsDnsmasq(n.def) && !facts.dnsmasqConfFiles.some((f) => f.endsWith(`/${name}.conf`))) {
      out.push({
        kind: "dnsmasq-not-running",
        severity: "error",
        networks: [name],
        message: `network '${name}' is active but no dnsmasq runs for it: its guests get no DHCP lease and no DNS`,
        fix: restart(name),
      });
    }
  }
  return out;
}

/** Whether the network driver runs a dnsmasq for a network (DNS on, or DHCP ranges/hosts). */
export function needsDnsmasq(def: NetworkDef): boolean {
  if (def.forward !== undefined && !FORWARDING_MODES.has(def.forward.mode)) return false;
  return def.dns.enable !== false || def.ips.some((ip) => ip.ranges.length > 0 || ip.hosts.length > 0);
}

// --- parsers of the gathered outputs (pure) ----------------------------------------------------

/**
 * `iptables -S` (filter table): chain names, and FORWARD's policy and rules, with the rules of
 * the chains it jumps to (Docker's DOCKER-USER, ufw's ufw-user-forward) where admins put their
 * accepts.
 */
export function parseIptablesS(text: string): {
  chains: string[];
  forwardPolicy: string | undefined;
  forwardRules: string[];
} {
  const chains: string[] = [];
  let forwardPolicy: string | undefined;
  const rules = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "-P" || f[0] === "-N") {
      if (f[1] !== undefined) chains.push(f[1]);
      if (f[0] === "-P" && f[1] === "FORWARD") forwardPolicy = f[2];
    } else if (f[0] === "-A" && f[1] !== undefined) {
      const list = rules.get(f[1]) ?? [];
      list.push(line.trim());
      rules.set(f[1], list);
    }
  }
  const forwardRules: string[] = [];
  const seen = new Set<string>();
  const walk = (chain: string): void => {
    if (seen.has(chain)) return;
    seen.add(chain);
    for (const r of rules.get(chain) ?? []) {
      forwardRules.push(r);
      const jump = /\s-[jg] (\S+)/.exec(r)?.[1];
      if (jump !== undefined && rules.has(jump)) walk(jump);
    }
  };
  walk("FORWARD");
  return { chains, forwardPolicy, forwardRules };
}

interface NftJsonItem {
  chain?: { family: string; table: string; name: string; hook?: string; policy?: string; type?: string };
  rule?: { family: string; table: string; chain: string; expr?: unknown };
}

/** `nft -j list ruleset`: the base chains on the forward hook with policy drop, with their rules. */
export function parseNftForwardDrop(json: string): ForwardDropChain[] {
  let items: NftJsonItem[];
  try {
    items = (JSON.parse(json) as { nftables?: NftJsonItem[] }).nftables ?? [];
  } catch {
    return [];
  }
  const out: { family: string; table: string; chain: string; rules: string[] }[] = [];
  for (const it of items) {
    const c = it.chain;
    if (c && c.hook === "forward" && c.policy === "drop") {
      out.push({ family: c.family, table: c.table, chain: c.name, rules: [] });
    }
  }
  for (const it of items) {
    const r = it.rule;
    if (!r) continue;
    const c = out.find((x) => x.family === r.family && x.table === r.table && x.chain === r.chain);
    c?.rules.push(JSON.stringify(r.expr ?? []));
  }
  return out.map((c) => ({ source: "nftables" as const, ...c }));
}
