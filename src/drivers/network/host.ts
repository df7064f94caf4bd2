/**
 * The host actions of the network driver: bridges and addresses (`ip`), firewall commands
 * (`nft`, `iptables`, `tc`) with what undoes each, routes in use, IP forwarding. Every program
 * runs from an argv array (util/spawn); every failure is a catalogued error naming the network
 * and the command. Everything acts on the caller's network namespace (`ip`, `/proc/sys/net`
 * and `/proc/net` are per namespace), which is how tests keep off the host's interfaces.
 */
import { writeFileSync } from "node:fs";
import { VirtError } from "../../util/errors/index.ts";
import { runArgv, type RunResult } from "../../util/spawn.ts";
import { ipPrefix, type NetworkDef } from "../../conf/network/index.ts";
import {
  formatIp,
  maskByPrefix,
  netmaskPrefix,
  parseIp,
  prefixNetmask,
  type IpAddr,
} from "../../conf/network/ip.ts";
import {
  firewallSetupCommands,
  iptablesUndo,
  isBestEffort,
  networkFirewallCommands,
  nftHandleFromEcho,
  nftUndo,
  type Argv,
  type FirewallBackend,
} from "./firewall.ts";

/** libvirt's nftables table name; the driver may use its own (see `NetworkDriverOptions`). */
export const LIBVIRT_NFT_TABLE = "libvirt_network";

function commandText(argv: Argv): string {
  return argv.join(" ");
}

/** Runs a command; a non-zero exit is `NETWORK_COMMAND_FAILED` with its stderr. */
export async function runOrFail(network: string, argv: Argv): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await runArgv(argv, { timeoutMs: 30_000 });
  } catch (e) {
    throw new VirtError(
      "NETWORK_COMMAND_FAILED",
      { network, command: commandText(argv), reason: e instanceof Error ? e.message : String(e) },
      {},
      { cause: e },
    );
  }
  if (r.code !== 0) {
    const reason = r.stderr.trim() || r.stdout.trim() || `exit status ${r.code ?? r.signal ?? "?"}`;
    throw new VirtError("NETWORK_COMMAND_FAILED", { network, command: commandText(argv), reason });
  }
  return r;
}

/** Names of the network interfaces of this namespace (`ip -j link show`). */
export async function linkNames(): Promise<Set<string>> {
  const r = await runOrFail("-", ["ip", "-j", "link", "show"]);
  const list = JSON.parse(r.stdout || "[]") as { ifname?: string }[];
  return new Set(list.map((l) => l.ifname ?? "").filter((n) => n !== ""));
}

export interface HostRoute {
  /** `a.b.c.d/p` */
  readonly dst: string;
  readonly dev: string;
}

/** The routes of the main tables (IPv4 and IPv6), without default routes. */
export async function hostRoutes(): Promise<HostRoute[]> {
  const out: HostRoute[] = [];
  for (const fam of ["-4", "-6"]) {
    const r = await runOrFail("-", ["ip", "-j", fam, "route", "show"]);
    const list = JSON.parse(r.stdout || "[]") as { dst?: string; dev?: string }[];
    for (const e of list) {
      if (e.dst === undefined || e.dst === "default") continue;
      const dst = e.dst.includes("/") ? e.dst : `${e.dst}/${fam === "-4" ? 32 : 128}`;
      out.push({ dst, dev: e.dev ?? "?" });
    }
  }
  return out;
}

/** Parses `addr/prefix` text. */
export function parseSubnet(text: string): { addr: IpAddr; prefix: number } | undefined {
  const [a, p] = text.split("/");
  const addr = parseIp(a ?? "");
  const prefix = Number(p);
  if (!addr || !Number.isInteger(prefix)) return undefined;
  return { addr: maskByPrefix(addr, prefix), prefix };
}

/** True when two subnets share an address (one contains the other). */
export function subnetsOverlap(
  a: { addr: IpAddr; prefix: number },
  b: { addr: IpAddr; prefix: number },
): boolean {
  if (a.addr.family !== b.addr.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  return formatIp(maskByPrefix(a.addr, p)) === formatIp(maskByPrefix(b.addr, p));
}

/** The subnets (`addr/prefix`, network address) of a definition's addresses. */
export function networkSubnets(def: NetworkDef): { text: string; addr: IpAddr; prefix: number }[] {
  const out: { text: string; addr: IpAddr; prefix: number }[] = [];
  for (const ip of def.ips) {
    const a = parseIp(ip.address);
    const prefix = ipPrefix(ip);
    if (!a || prefix === undefined) continue;
    const net = maskByPrefix(a, prefix);
    out.push({ text: `${formatIp(net)}/${prefix}`, addr: net, prefix });
  }
  return out;
}

/** The commands that create and configure the bridge of an L3 network, in order. */
export function bridgeCommands(def: NetworkDef): Argv[] {
  const br = def.bridge!;
  const add = ["ip", "link", "add", "name", br];
  if (def.mac !== undefined) add.push("address", def.mac);
  if (def.mtu !== undefined) add.push("mtu", String(def.mtu));
  // The delay first, with STP still off: the kernel refuses a delay below 2 s once STP is on.
  add.push("type", "bridge", "forward_delay", String(def.delay * 100));
  const out: Argv[] = [add];
  if (def.stp) out.push(["ip", "link", "set", "dev", br, "type", "bridge", "stp_state", "1"]);
  for (const ip of def.ips) {
    const a = parseIp(ip.address);
    const prefix = ipPrefix(ip);
    if (!a || prefix === undefined) continue;
    const cmd = ["ip", "addr", "add", `${ip.address}/${prefix}`];
    if (a.family === 4) {
      const mask = prefixNetmask(4, prefix);
      const net = maskByPrefix(a, prefix);
      const bcast = net.bytes.map((b, i) => (b | (~mask.bytes[i]! & 0xff)) & 0xff);
      cmd.push("broadcast", formatIp({ family: 4, bytes: bcast }));
    }
    cmd.push("dev", br);
    out.push(cmd);
  }
  out.push(["ip", "link", "set", "dev", br, "up"]);
  for (const r of def.routes) {
    const mask = r.netmask !== undefined ? parseIp(r.netmask) : undefined;
    const prefix = r.prefix ?? (mask ? netmaskPrefix(mask) : undefined);
    const dst = prefix !== undefined ? `${r.address}/${prefix}` : r.address;
    const cmd = ["ip", "route", "add", dst, "via", r.gateway, "dev", br];
    if (r.metric !== undefined) cmd.push("metric", String(r.metric));
    out.push(cmd);
  }
  return out;
}

/** Turns on IPv4 (and, for IPv6 addresses, IPv6) forwarding, as libvirt does for nat and route. */
export function enableForwarding(def: NetworkDef): void {
  const mode = def.forward?.mode;
  if (mode !== "nat" && mode !== "route") return;
  const has6 = def.ips.some((ip) => ip.address.includes(":"));
  const has4 = def.ips.some((ip) => !ip.address.includes(":"));
  try {
    if (has4) writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n");
    if (has6) writeFileSync("/proc/sys/net/ipv6/conf/all/forwarding", "1\n");
  } catch (e) {
    throw new VirtError(
      "NETWORK_COMMAND_FAILED",
      {
        network: def.name,
        command: "enable IP forwarding",
        reason: e instanceof Error ? e.message : String(e),
      },
      {},
      { cause: e },
    );
  }
}

/** Replaces libvirt's nft table name by `table` in a command. */
function withTable(argv: Argv, table: string): Argv {
  return table === LIBVIRT_NFT_TABLE ? argv : argv.map((a) => (a === LIBVIRT_NFT_TABLE ? table : a));
}

/**
 * Creates the global chains of a backend where they are missing: for nftables per family
 * (`nft list table` tells), for iptables per program (its `--list-rules` output tells).
 */
export async function ensureFirewallSetup(
  network: string,
  backend: FirewallBackend,
  table: string,
): Promise<void> {
  const cmds = firewallSetupCommands(backend).map((c) => withTable(c, table));
  if (backend === "nftables") {
    for (const fam of ["ip", "ip6"]) {
      const mine = cmds.filter((c) => c[3] === fam);
      const probe = await runArgv(mine[0]!);
      if (probe.code === 0) continue;
      for (const c of mine.slice(1)) await runOrFail(network, c);
    }
    return;
  }
  for (const prog of ["iptables", "ip6tables"]) {
    const mine = cmds.filter((c) => c[0] === prog);
    const listing = await runOrFail(network, [prog, "-w", "--table", "filter", "--list-rules"]);
    if (listing.stdout.includes("-N LIBVIRT_INP")) continue;
    for (const c of mine) if (!c.includes("--list-rules")) await runOrFail(network, c);
  }
}

/**
 * Runs a network's firewall commands in order and returns what undoes them (to run in reverse
 * order). On a failure the commands already run are undone before the error is thrown.
 */
export async function applyFirewall(
  def: NetworkDef,
  backend: FirewallBackend,
  table: string,
): Promise<Argv[]> {
  const undo: Argv[] = [];
  let skipQdiscAdd = false;
  try {
    for (const raw of networkFirewallCommands(def, backend)) {
      const argv = withTable(raw, table);
      if (argv[0] === "tc" && argv[2] === "show") {
        const r = await runArgv(argv);
        skipQdiscAdd = r.code === 0 && r.stdout.trim() !== "";
        continue;
      }
      if (argv[0] === "tc" && argv[1] === "qdisc" && argv[2] === "add" && skipQdiscAdd) continue;
      let r: RunResult;
      try {
        r = await runOrFail(def.name, argv);
      } catch (e) {
        // The DHCP checksum fix-up is best effort too: a kernel without the act_csum module
        // refuses the tc filter, and most guests do not need it.
        if (isBestEffort(argv) || argv[0] === "tc") continue;
        throw e;
      }
      const u =
        argv[0] === "nft"
          ? (() => {
              const h = nftHandleFromEcho(r.stdout);
              return h === undefined ? undefined : nftUndo(argv, h);
            })()
          : iptablesUndo(argv);
      if (u !== undefined) undo.push(u);
    }
  } catch (e) {
    await runUndo(undo);
    throw e;
  }
  return undo;
}

/** Runs undo commands in reverse order, best effort (a rule already gone is not an error). */
export async function runUndo(undo: readonly Argv[]): Promise<void> {
  for (const argv of [...undo].reverse()) {
    try {
      await runArgv(argv, { timeoutMs: 30_000 });
    } catch {
      // best effort: the rule may be gone already
    }
  }
}

/**
 * Removes the driver's nft tables (both families) when no network has a rule left in either
 * (the setup's chains then hold only their jump rules). A network of any root that still uses
 * the table, even in one family only, keeps both.
 */
export async function dropEmptyNftTables(table: string): Promise<void> {
  const present: string[] = [];
  for (const fam of ["ip", "ip6"]) {
    const r = await runArgv(["nft", "-j", "list", "table", fam, table]);
    if (r.code !== 0) continue;
    let doc: { nftables?: { rule?: { chain?: string } }[] };
    try {
      doc = JSON.parse(r.stdout) as typeof doc;
    } catch {
      return;
    }
    const own = (doc.nftables ?? []).filter((o) => o.rule !== undefined && o.rule.chain !== "forward");
    if (own.length > 0) return;
    present.push(fam);
  }
  for (const fam of present) await runArgv(["nft", "delete", "table", fam, table]);
}
