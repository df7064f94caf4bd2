/**
 * The host facts `doctor.ts` judges, gathered in the caller's network namespace: forwarding
 * sysctls, iptables' filter chains (`iptables -S`), nftables' base chains on the forward hook
 * (`nft -j list ruleset`), addresses, routes and links (`ip -j`), and the dnsmasq processes of
 * this namespace (`/proc`). A tool that is missing or refuses just contributes nothing: the
 * doctor reports what it can see.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { readProcCmdline, runArgv } from "../../util/spawn.ts";
import { LIBVIRT_NFT_TABLE } from "./host.ts";
import { parseIptablesS, parseNftForwardDrop, type DoctorFacts, type ForwardDropChain } from "./doctor.ts";

async function output(argv: string[]): Promise<string | undefined> {
  try {
    const r = await runArgv(argv, { timeoutMs: 15_000 });
    return r.code === 0 ? r.stdout : undefined;
  } catch {
    return undefined;
  }
}

function sysctlFlag(path: string): boolean | undefined {
  try {
    return readFileSync(path, "utf8").trim() !== "0";
  } catch {
    return undefined;
  }
}

function netnsOf(pid: number | "self"): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** `--conf-file=` of every dnsmasq process in this network namespace. */
export function dnsmasqConfFiles(): string[] {
  const mine = netnsOf("self");
  const out: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const p of pids) {
    const argv = readProcCmdline(Number(p));
    if (!argv || !/(^|\/)dnsmasq$/.test(argv[0] ?? "")) continue;
    if (mine !== undefined && netnsOf(Number(p)) !== mine) continue;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a.startsWith("--conf-file=")) out.push(a.slice("--conf-file=".length));
      else if ((a === "--conf-file" || a === "-C") && argv[i + 1] !== undefined) out.push(argv[i + 1]!);
    }
  }
  return out;
}

/** Gathers the facts; `ownTables` are the network drivers' nft tables (tvirt's, libvirt's). */
export async function gatherDoctorFacts(
  ownTables: readonly string[] = ["tvirt_network"],
): Promise<DoctorFacts> {
  const forwardDropChains: ForwardDropChain[] = [];
  let iptablesChains: string[] = [];
  const ipt = await output(["iptables", "-w", "-S"]);
  if (ipt !== undefined) {
    const p = parseIptablesS(ipt);
    iptablesChains = p.chains;
    if (p.forwardPolicy === "DROP" || p.forwardPolicy === "REJECT") {
      forwardDropChains.push({
        source: "iptables",
        family: "ip",
        table: "filter",
        chain: "FORWARD",
        rules: p.forwardRules,
      });
    }
  }
  const nft = await output(["nft", "-j", "list", "ruleset"]);
  if (nft !== undefined) forwardDropChains.push(...parseNftForwardDrop(nft));

  const addresses: { dev: string; cidr: string }[] = [];
  const addrJson = await output(["ip", "-j", "addr", "show"]);
  for (const l of JSON.parse(addrJson ?? "[]") as {
    ifname?: string;
    addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
  }[]) {
    for (const a of l.addr_info ?? []) {
      if (a.local === undefined || a.prefixlen === undefined || a.scope === "host") continue;
      if (a.scope === "link") continue;
      addresses.push({ dev: l.ifname ?? "?", cidr: `${a.local}/${a.prefixlen}` });
    }
  }
  const routes: { dev: string; dst: string }[] = [];
  for (const fam of ["-4", "-6"]) {
    const j = await output(["ip", "-j", fam, "route", "show"]);
    for (const r of JSON.parse(j ?? "[]") as { dst?: string; dev?: string }[]) {
      if (r.dst === undefined || r.dst === "default") continue;
      if (fam === "-6" && r.dst.startsWith("fe80:")) continue;
      routes.push({
        dev: r.dev ?? "?",
        dst: r.dst.includes("/") ? r.dst : `${r.dst}/${fam === "-4" ? 32 : 128}`,
      });
    }
  }
  const links = new Map<string, { up: boolean }>();
  for (const l of JSON.parse((await output(["ip", "-j", "link", "show"])) ?? "[]") as {
    ifname?: string;
    flags?: string[];
  }[]) {
    if (l.ifname !== undefined) links.set(l.ifname, { up: (l.flags ?? []).includes("UP") });
  }
  return {
    ipv4Forward: sysctlFlag("/proc/sys/net/ipv4/ip_forward"),
    ipv6Forward: sysctlFlag("/proc/sys/net/ipv6/conf/all/forwarding"),
    forwardDropChains,
    iptablesChains,
    addresses,
    routes,
    links,
    dnsmasqConfFiles: dnsmasqConfFiles(),
    ownTables: [...new Set([...ownTables, LIBVIRT_NFT_TABLE])],
  };
}
