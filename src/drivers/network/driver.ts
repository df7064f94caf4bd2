/**
 * The network driver (libvirt's `bridge_driver.c`) for one state root: virtual networks
 * defined (`<name>.xml` in the config dir, `autostart/` links), started (bridge, addresses,
 * firewall rules, one dnsmasq per network) and destroyed (the same in reverse), with a status
 * file per running network so a restarted driver finds it again and never kills it.
 *
 * Supported to run: L3 networks (nat, route, open, isolated). Other modes can be defined but
 * not started yet. Modifying operations of one driver run one at a time.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import { DisposableStore } from "../../util/disposable.ts";
import { removeFileDurable, symlinkAtomic, writeFileAtomic } from "../../util/atomic-file.ts";
import {
  isProcessAlive,
  readProcCmdline,
  readProcStat,
  runArgv,
  signalProcess,
  terminateProcess,
} from "../../util/spawn.ts";
import { escapeXml, parseXml } from "../../conf/xml.ts";
import {
  assignBridgeName,
  checkNetworkForDriver,
  formatNetwork,
  generateBridgeMac,
  isL3,
  parseNetwork,
  readNetwork,
  type NetworkDef,
} from "../../conf/network/index.ts";
import {
  NetworkXMLFlags,
  NetworkEventLifecycleType as Ev,
  type NetworkLifecycleEvent,
  NetworkCreateFlags,
  NetworkDefineFlags,
  ConnectListNetworksFlags,
  matchesNetworkListFlags,
  type NetworkDHCPLease,
  type NetworkDriverConnection,
  type NetworkRef,
} from "../network-driver.ts";
import {
  bridgeNameOf,
  emitLifecycle,
  eventEntries,
  existingFor,
  findByName,
  findByUUID,
  planNetworkUpdate,
  refOf as ref,
  validateNetworkXML,
  type NetworkUpdateArgs,
} from "./common.ts";
import { entry } from "../entry.ts";
import { dnsmasqConfig } from "./dnsmasq.ts";
import { EventHub } from "../events.ts";
import type { Argv, FirewallBackend } from "./firewall.ts";
import {
  applyFirewall,
  bridgeCommands,
  dropEmptyNftTables,
  enableForwarding,
  ensureFirewallSetup,
  hostRoutes,
  linkNames,
  networkSubnets,
  parseSubnet,
  runOrFail,
  runUndo,
  subnetsOverlap,
} from "./host.ts";
import { parseLeaseFile } from "./leases.ts";

export type NetworkRoot =
  | { readonly kind: "system" }
  | { readonly kind: "session" }
  | { readonly kind: "embed"; readonly root: string };

export interface NetworkPaths {
  /** Persistent definitions (`<name>.xml`). */
  readonly configDir: string;
  /** `<name>.xml` links to the definitions of networks started with the driver. */
  readonly autostartDir: string;
  /** Status files of running networks. */
  readonly stateDir: string;
  /** dnsmasq's files per network: `.conf`, `.hostsfile`, `.addnhosts`, `.pid`, `.leases`. */
  readonly dnsmasqDir: string;
}

export function networkPaths(root: NetworkRoot): NetworkPaths {
  let etc: string, run: string, lib: string;
  switch (root.kind) {
    case "system":
      etc = "/etc/tvirt/qemu/networks";
      run = "/run/tvirt/network";
      lib = "/var/lib/tvirt/dnsmasq";
      break;
    case "session": {
      const home = homedir();
      const env = (n: string, f: string): string => {
        const v = process.env[n];
        return v !== undefined && v !== "" ? v : f;
      };
      etc = join(env("XDG_CONFIG_HOME", join(home, ".config")), "tvirt", "qemu", "networks");
      run = join(env("XDG_RUNTIME_DIR", join(home, ".cache", "tvirt", "run")), "tvirt", "network");
      lib = join(env("XDG_DATA_HOME", join(home, ".local", "share")), "tvirt", "dnsmasq");
      break;
    }
    case "embed":
      etc = join(root.root, "etc", "qemu", "networks");
      run = join(root.root, "run", "network");
      lib = join(root.root, "lib", "dnsmasq");
      break;
  }
  return { configDir: etc, autostartDir: join(etc, "autostart"), stateDir: run, dnsmasqDir: lib };
}

export interface NetworkDriverOptions {
  /** Firewall backend (default nftables). */
  firewallBackend?: FirewallBackend;
  /** nftables table of the driver's rules (default `tvirt_network`, apart from libvirt's). */
  nftTable?: string;
  /**
   * Define libvirt's `default` network (virbr0, 192.168.122.0/24) and mark it autostart on the
   * system daemon's first start: when the root has no `DEFAULT_NETWORK_MARKER` yet and no
   * definitions.
   */
  defineDefaultNetwork?: boolean;
  /** Start the autostart networks that are not running when the driver loads. */
  autostart?: boolean;
  /** Told about an autostart network that could not start (the daemon logs it). */
  onAutostartFailure?: (network: string, error: unknown) => void;
  /** The dnsmasq program (default `dnsmasq` from PATH). */
  dnsmasq?: string;
  /**
   * How often (ms) the driver checks that the dnsmasq of each running network still runs, and
   * restarts it when it died (default 2000; 0: never).
   */
  dnsmasqWatchMs?: number;
}

/**
 * The file in the config dir saying the `default` network was installed (by the first start
 * of the system daemon); not a `.xml`, so never read as a definition.
 */
export const DEFAULT_NETWORK_MARKER = ".default-network-installed";

/** libvirt's stock `default` network (`src/network/default.xml.in`). */
export const DEFAULT_NETWORK_XML = `<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

/** What a running network holds on the host, kept in its status file. */
interface Runtime {
  backend: FirewallBackend;
  table: string;
  /** Commands undoing the firewall rules (run in reverse order). */
  undo: Argv[];
  dnsmasqPid?: number;
  dnsmasqStart?: number;
  /** The network namespace it runs in (`net:[inode]`), so no other namespace touches it. */
  netns?: string;
}

/** This process's network namespace, as `net:[inode]`. */
function currentNetns(): string {
  try {
    return readlinkSync("/proc/self/ns/net");
  } catch {
    return "net:[?]";
  }
}

interface NetworkObj {
  /** The persistent definition, or the live one of a transient network. */
  def: NetworkDef;
  /** The live definition while running. */
  live?: NetworkDef;
  /** A definition saved while running, applied at the next start. */
  next?: NetworkDef;
  persistent: boolean;
  autostart: boolean;
  runtime?: Runtime;
}

/** A name that is safe as a file name: no separators, no control characters. */
function badName(name: string): boolean {
  if (name === "." || name === ".." || name.includes("/") || name.includes("\\")) return true;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) < 0x20) return true;
  return false;
}

/** The driver state of one root, shared by the connections opened on it. */
export class NetworkDriver {
  readonly paths: NetworkPaths;
  readonly backend: FirewallBackend;
  readonly table: string;
  readonly #dnsmasq: string;
  readonly #objs = new Map<string, NetworkObj>();
  #queue: Promise<unknown> = Promise.resolve();
  #dnsmasqVersion: [number, number] | undefined;
  /** The dnsmasq watcher's timer, set while a network of this namespace needs dnsmasq. */
  #watch: NodeJS.Timeout | undefined;
  #watching = false;
  /** Lifecycle events for the connections of every process-local user of this root. */
  readonly events = new EventHub<NetworkLifecycleEvent>();

  private constructor(
    paths: NetworkPaths,
    private readonly options: NetworkDriverOptions,
  ) {
    this.paths = paths;
    this.backend = options.firewallBackend ?? "nftables";
    this.table = options.nftTable ?? "tvirt_network";
    this.#dnsmasq = options.dnsmasq ?? "dnsmasq";
  }

  /** Loads the definitions and status files of a root, reconnecting running networks. */
  static async load(paths: NetworkPaths, options: NetworkDriverOptions = {}): Promise<NetworkDriver> {
    const d = new NetworkDriver(paths, options);
    for (const dir of [paths.configDir, paths.autostartDir, paths.stateDir, paths.dnsmasqDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    }
    // dnsmasq reads its files as an unprivileged user: the directory holding its own (an embed
    // root's lib/, which the QEMU driver may have made 0750) must let others through.
    const parent = dirname(paths.dnsmasqDir);
    const mode = statSync(parent).mode & 0o7777;
    if ((mode & 0o001) === 0) chmodSync(parent, mode | 0o011);
    d.#loadConfigs();
    if (options.defineDefaultNetwork) await d.#installDefaultNetwork();
    await d.#loadStatus();
    d.#updateWatch();
    if (options.autostart) {
      for (const o of [...d.#objs.values()]) {
        if (o.autostart && !o.runtime) {
          try {
            await d.create(ref(o));
          } catch (e) {
            // a network that cannot start stays inactive; the others still start
            options.onAutostartFailure?.(o.def.name, e);
          }
        }
      }
    }
    return d;
  }

  /**
   * The system daemon's first start (libvirt's packaging installs `default.xml` and its
   * autostart link once, at install time): define libvirt's `default` network and mark it
   * autostart, then leave a marker so that a later start never brings it back after the admin
   * undefined it. A root that already holds definitions (an upgrade, networks defined before
   * the daemon ever ran) gets only the marker.
   */
  async #installDefaultNetwork(): Promise<void> {
    const marker = join(this.paths.configDir, DEFAULT_NETWORK_MARKER);
    if (existsSync(marker)) return;
    if (this.#objs.size === 0) {
      const net = await this.defineXML(DEFAULT_NETWORK_XML);
      await this.setAutostart(net, true);
    }
    await writeFileAtomic(
      marker,
      "tvirtd installed libvirt's default network in this directory once; it does not again.\n",
      { mode: 0o644 },
    );
  }

  #emit(o: NetworkObj, event: number): void {
    emitLifecycle(this.events, o, event);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  #configPath(name: string): string {
    return join(this.paths.configDir, `${name}.xml`);
  }
  #autostartPath(name: string): string {
    return join(this.paths.autostartDir, `${name}.xml`);
  }
  #statusPath(name: string): string {
    return join(this.paths.stateDir, `${name}.xml`);
  }
  #dnsmasqFile(name: string, ext: string): string {
    return join(this.paths.dnsmasqDir, `${name}.${ext}`);
  }

  #loadConfigs(): void {
    for (const f of readdirSync(this.paths.configDir)) {
      if (!f.endsWith(".xml")) continue;
      const path = join(this.paths.configDir, f);
      try {
        const { def } = parseNetwork(readFileSync(path, "utf8"), { document: path });
        if (`${def.name}.xml` !== f) continue;
        this.#objs.set(def.name, {
          def,
          persistent: true,
          autostart: existsSync(this.#autostartPath(def.name)),
        });
      } catch {
        // an unreadable definition is skipped, as libvirt does (it logs it)
      }
    }
  }

  async #loadStatus(): Promise<void> {
    let links: Set<string> | undefined;
    for (const f of readdirSync(this.paths.stateDir)) {
      if (!f.endsWith(".xml")) continue;
      const path = join(this.paths.stateDir, f);
      let live: NetworkDef, runtime: Runtime;
      try {
        const root = parseXml(readFileSync(path, "utf8"), path);
        runtime = JSON.parse(root.child("runtime")?.content ?? "{}") as Runtime;
        live = readNetwork(root.child("network")!);
      } catch {
        continue;
      }
      links ??= await linkNames();
      let o = this.#objs.get(live.name);
      if (!o) {
        o = { def: live, persistent: false, autostart: false };
        this.#objs.set(live.name, o);
      }
      o.live = live;
      o.runtime = runtime;
      // Started from another namespace: active, but nothing of it is ours to check or touch.
      if (runtime.netns !== undefined && runtime.netns !== currentNetns()) continue;
      if (live.bridge === undefined || !links.has(live.bridge)) {
        // The bridge is gone (host reboot, someone deleted it): the network is not running.
        await this.#teardown(o);
        continue;
      }
      if (this.#needsDnsmasq(live) && !this.#dnsmasqAlive(live.name, runtime)) {
        try {
          await this.#startDnsmasq(live, runtime);
          await this.#writeStatus(o);
        } catch {
          // stays active without DHCP/DNS; net-destroy + net-start recovers
        }
      }
    }
  }

  // --- lookups --------------------------------------------------------------------------------

  #byRef(net: NetworkRef): NetworkObj {
    const o = this.#objs.get(net.name);
    if (!o || o.def.uuid !== net.uuid) {
      const byUuid = [...this.#objs.values()].find((x) => x.def.uuid === net.uuid);
      if (byUuid) return byUuid;
      throw new VirtError("NETWORK_NOT_FOUND", { key: "uuid", value: net.uuid });
    }
    return o;
  }

  listAll(flags: number): NetworkRef[] {
    const L = ConnectListNetworksFlags;
    checkFlags(
      flags,
      Object.values(L).reduce((a, b) => a | b, 0),
      "networkConnectListAllNetworks",
    );
    return [...this.#objs.values()]
      .filter((o) =>
        matchesNetworkListFlags(flags, {
          active: o.runtime !== undefined,
          persistent: o.persistent,
          autostart: o.autostart,
        }),
      )
      .map(ref);
  }

  lookupByName(name: string): NetworkRef {
    return ref(findByName(this.#objs, name));
  }

  lookupByUUID(uuid: string): NetworkRef {
    return ref(findByUUID(this.#objs, uuid));
  }

  getXMLDesc(net: NetworkRef, flags: number): string {
    checkFlags(flags, NetworkXMLFlags.INACTIVE, "networkGetXMLDesc");
    const o = this.#byRef(net);
    const def = flags & NetworkXMLFlags.INACTIVE ? (o.next ?? o.def) : (o.live ?? o.def);
    return formatNetwork(def);
  }

  isActive(net: NetworkRef): boolean {
    return this.#byRef(net).runtime !== undefined;
  }
  isPersistent(net: NetworkRef): boolean {
    return this.#byRef(net).persistent;
  }
  getAutostart(net: NetworkRef): boolean {
    return this.#byRef(net).autostart;
  }
  getBridgeName(net: NetworkRef): string {
    const o = this.#byRef(net);
    return bridgeNameOf(o.def.name, o.live ?? o.def);
  }

  getDHCPLeases(net: NetworkRef, mac: string | null, flags: number): NetworkDHCPLease[] {
    checkFlags(flags, 0, "networkGetDHCPLeases");
    const o = this.#byRef(net);
    if (!o.runtime || !o.live) throw new VirtError("NETWORK_NOT_ACTIVE");
    let text: string;
    try {
      text = readFileSync(this.#dnsmasqFile(o.def.name, "leases"), "utf8");
    } catch {
      return [];
    }
    const now = Math.floor(Date.now() / 1000);
    return parseLeaseFile(text, o.live, mac).filter((l) => l.expirytime === 0 || l.expirytime > now);
  }

  // --- define / undefine ------------------------------------------------------------------------

  /** Parses and checks a definition, fills the bridge name and MAC, checks name/UUID clashes. */
  #prepare(xml: string): { def: NetworkDef; existing?: NetworkObj } {
    const { def } = parseNetwork(xml);
    if (badName(def.name)) {
      throw new VirtError("NETWORK_INVALID_NAME", {
        name: def.name,
        reason: "no '/', '\\' or control characters, and not '.' or '..'",
      });
    }
    checkNetworkForDriver(def);
    const existing = existingFor(this.#objs, def);
    const bridges = new Set<string>();
    for (const o of this.#objs.values()) {
      if (o === existing) continue;
      for (const d of [o.def, o.live, o.next]) if (d?.bridge !== undefined) bridges.add(d.bridge);
    }
    if (def.bridge !== undefined && !def.bridge.includes("%d") && bridges.has(def.bridge)) {
      const by = [...this.#objs.values()].find(
        (o) => o !== existing && [o.def, o.live, o.next].some((d) => d?.bridge === def.bridge),
      );
      throw new VirtError("NETWORK_BRIDGE_IN_USE", {
        bridge: def.bridge,
        network: def.name,
        by: by ? ` by network '${by.def.name}'` : "",
      });
    }
    if (def.bridge === undefined && existing) def.bridge = (existing.next ?? existing.def).bridge;
    assignBridgeName(def, bridges);
    if (def.mac === undefined && existing) def.mac = (existing.next ?? existing.def).mac;
    generateBridgeMac(def, () => [...randomBytes(3)]);
    return existing ? { def, existing } : { def };
  }

  defineXML(xml: string, flags = 0): Promise<NetworkRef> {
    checkFlags(flags, NetworkDefineFlags.VALIDATE, "networkDefineXMLFlags");
    return this.#serial(async () => {
      if (flags & NetworkDefineFlags.VALIDATE) {
        await validateNetworkXML(xml);
      }
      const { def, existing } = this.#prepare(xml);
      await writeFileAtomic(this.#configPath(def.name), formatNetwork(def), { mode: 0o600 });
      if (existing) {
        if (existing.runtime) existing.next = def;
        else existing.def = def;
        existing.persistent = true;
        this.#emit(existing, Ev.DEFINED);
        return ref(existing);
      }
      const o: NetworkObj = { def, persistent: true, autostart: false };
      this.#objs.set(def.name, o);
      this.#emit(o, Ev.DEFINED);
      return ref(o);
    });
  }

  undefine(net: NetworkRef): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(net);
      if (!o.persistent)
        throw new VirtError("NETWORK_TRANSIENT", { what: "can't undefine transient network" });
      await removeFileDurable(this.#autostartPath(o.def.name));
      await removeFileDurable(this.#configPath(o.def.name));
      o.autostart = false;
      o.persistent = false;
      o.next = undefined;
      if (!o.runtime) this.#objs.delete(o.def.name);
      this.#emit(o, Ev.UNDEFINED);
    });
  }

  setAutostart(net: NetworkRef, autostart: boolean): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(net);
      if (!o.persistent) {
        throw new VirtError("NETWORK_TRANSIENT", { what: "cannot set autostart for transient network" });
      }
      const link = this.#autostartPath(o.def.name);
      if (autostart) await symlinkAtomic(this.#configPath(o.def.name), link);
      else await removeFileDurable(link);
      o.autostart = autostart;
    });
  }

  // --- start / create / destroy -----------------------------------------------------------------

  createXML(xml: string, flags = 0): Promise<NetworkRef> {
    checkFlags(flags, NetworkCreateFlags.VALIDATE, "networkCreateXMLFlags");
    return this.#serial(async () => {
      if (flags & NetworkCreateFlags.VALIDATE) {
        await validateNetworkXML(xml);
      }
      const { def, existing } = this.#prepare(xml);
      if (existing?.runtime) throw new VirtError("NETWORK_ALREADY_ACTIVE");
      const o: NetworkObj = existing ?? { def, persistent: false, autostart: false };
      if (!existing) this.#objs.set(def.name, o);
      try {
        await this.#start(o, def);
      } catch (e) {
        if (!existing) this.#objs.delete(def.name);
        throw e;
      }
      return ref(o);
    });
  }

  create(net: NetworkRef): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(net);
      if (o.runtime) throw new VirtError("NETWORK_ALREADY_ACTIVE");
      await this.#start(o, o.def);
    });
  }

  destroy(net: NetworkRef): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(net);
      if (!o.runtime) throw new VirtError("NETWORK_NOT_ACTIVE");
      await this.#teardown(o);
      this.#emit(o, Ev.STOPPED);
    });
  }

  #needsDnsmasq(def: NetworkDef): boolean {
    return def.dns.enable !== false || def.ips.some((ip) => ip.ranges.length > 0 || ip.hosts.length > 0);
  }

  /** Refuses a start whose bridge exists or whose subnets overlap a running network or a route. */
  async #checkFree(def: NetworkDef): Promise<void> {
    const links = await linkNames();
    if (links.has(def.bridge!)) {
      throw new VirtError("NETWORK_BRIDGE_IN_USE", {
        bridge: def.bridge!,
        network: def.name,
        by: " on this host",
      });
    }
    const mine = networkSubnets(def);
    for (const o of this.#objs.values()) {
      if (!o.runtime || !o.live || o.def.name === def.name) continue;
      for (const s of networkSubnets(o.live)) {
        const hit = mine.find((m) => subnetsOverlap(m, s));
        if (hit) {
          throw new VirtError("NETWORK_RANGE_IN_USE", {
            subnet: hit.text,
            network: def.name,
            user: `network '${o.def.name}' (${s.text})`,
          });
        }
      }
    }
    for (const r of await hostRoutes()) {
      const s = parseSubnet(r.dst);
      if (!s || s.prefix === 0) continue;
      const hit = mine.find((m) => subnetsOverlap(m, s));
      if (hit) {
        throw new VirtError("NETWORK_RANGE_IN_USE", {
          subnet: hit.text,
          network: def.name,
          user: `interface ${r.dev} (route ${r.dst})`,
        });
      }
    }
  }

  async #start(o: NetworkObj, def: NetworkDef): Promise<void> {
    if (!isL3(def)) {
      throw new VirtError("NETWORK_MODE_UNSUPPORTED", { network: def.name, mode: def.forward!.mode });
    }
    await this.#checkFree(def);
    const name = def.name;
    const runtime: Runtime = { backend: this.backend, table: this.table, undo: [], netns: currentNetns() };
    const undo = new DisposableStore();
    try {
      // The bridge: deleting it also removes its addresses, routes and tc filters.
      undo.addFn(async () => {
        await runArgv(["ip", "link", "del", "dev", def.bridge!]);
      });
      for (const cmd of bridgeCommands(def)) await runOrFail(name, cmd);
      enableForwarding(def);
      if (def.forward?.mode !== "open") {
        await ensureFirewallSetup(name, this.backend, this.table);
        undo.addFn(async () => {
          if (this.backend === "nftables") await dropEmptyNftTables(this.table);
        });
        runtime.undo = await applyFirewall(def, this.backend, this.table);
        undo.addFn(() => runUndo(runtime.undo));
      }
      if (this.#needsDnsmasq(def)) {
        undo.addFn(() => this.#stopDnsmasq(name, runtime));
        await this.#startDnsmasq(def, runtime);
      }
      o.live = def;
      o.runtime = runtime;
      undo.addFn(() => {
        o.live = undefined;
        o.runtime = undefined;
      });
      await this.#writeStatus(o);
      undo.forgetAll();
    } catch (e) {
      await undo.dispose().catch(() => undefined);
      throw e;
    }
    this.#updateWatch();
    this.#emit(o, Ev.STARTED);
  }

  async #writeStatus(o: NetworkObj): Promise<void> {
    const xml =
      "<networkstatus>\n" +
      `  <runtime>${escapeXml(JSON.stringify(o.runtime))}</runtime>\n` +
      formatNetwork(o.live!) +
      "</networkstatus>\n";
    await writeFileAtomic(this.#statusPath(o.def.name), xml, { mode: 0o600 });
  }

  /** Stops what a running network holds, in reverse order of the start, and forgets its state. */
  async #teardown(o: NetworkObj): Promise<void> {
    const runtime = o.runtime!;
    const def = o.live ?? o.def;
    const here = currentNetns();
    if (runtime.netns !== undefined && runtime.netns !== here) {
      throw new VirtError("NETWORK_OTHER_NAMESPACE", {
        network: def.name,
        theirs: runtime.netns,
        ours: here,
      });
    }
    // Other driver instances on this root (another process, a reloaded driver) watch dnsmasq
    // too: a status file naming no dnsmasq tells them it stops on purpose, not that it died.
    const dns = { ...runtime };
    if (runtime.dnsmasqPid !== undefined && o.live !== undefined) {
      runtime.dnsmasqPid = undefined;
      runtime.dnsmasqStart = undefined;
      await this.#writeStatus(o).catch(() => undefined);
    }
    await this.#stopDnsmasq(def.name, dns);
    await runUndo(runtime.undo);
    if (def.bridge !== undefined) await runArgv(["ip", "link", "del", "dev", def.bridge]);
    if (runtime.backend === "nftables" && runtime.undo.length > 0) await dropEmptyNftTables(runtime.table);
    await removeFileDurable(this.#statusPath(def.name));
    o.runtime = undefined;
    o.live = undefined;
    if (o.next) {
      o.def = o.next;
      o.next = undefined;
    }
    if (!o.persistent) this.#objs.delete(o.def.name);
    this.#updateWatch();
  }

  // --- dnsmasq ----------------------------------------------------------------------------------

  async #version(): Promise<[number, number]> {
    if (this.#dnsmasqVersion) return this.#dnsmasqVersion;
    let r;
    try {
      r = await runArgv([this.#dnsmasq, "--version"]);
    } catch (e) {
      throw new VirtError(
        "NETWORK_DNSMASQ_FAILED",
        {
          network: "-",
          reason: `cannot run '${this.#dnsmasq}' (${e instanceof Error ? e.message : String(e)}): install dnsmasq (Debian: dnsmasq-base)`,
        },
        {},
        { cause: e },
      );
    }
    const m = /version (\d+)\.(\d+)/i.exec(r.stdout);
    if (r.code !== 0 || !m) {
      throw new VirtError("NETWORK_DNSMASQ_FAILED", {
        network: "-",
        reason: `cannot run '${this.#dnsmasq} --version': ${r.stderr.trim() || `exit status ${r.code}`}`,
      });
    }
    this.#dnsmasqVersion = [Number(m[1]), Number(m[2])];
    return this.#dnsmasqVersion;
  }

  /** True when the recorded dnsmasq runs and is this network's (pid, start time and argv). */
  #dnsmasqAlive(name: string, runtime: Runtime): boolean {
    const pid = runtime.dnsmasqPid;
    if (pid === undefined || !isProcessAlive(pid, runtime.dnsmasqStart)) return false;
    const argv = readProcCmdline(pid) ?? [];
    return argv.includes(`--conf-file=${this.#dnsmasqFile(name, "conf")}`);
  }

  async #startDnsmasq(def: NetworkDef, runtime: Runtime): Promise<void> {
    const name = def.name;
    const version = await this.#version();
    const pidFile = this.#dnsmasqFile(name, "pid");
    const files = dnsmasqConfig(def, { stateDir: this.paths.dnsmasqDir, pidFile, version });
    const confPath = this.#dnsmasqFile(name, "conf");
    await writeFileAtomic(confPath, files.conf, { mode: 0o644 });
    await writeFileAtomic(files.hostsFilePath, files.hostsFile ?? "", { mode: 0o644 });
    await writeFileAtomic(files.addnHostsPath, files.addnHosts, { mode: 0o644 });
    rmSync(pidFile, { force: true });
    // dnsmasq forks into the background (its own session, so it outlives the driver) and its
    // first process exits once the daemon is ready, or with the reason it is not.
    const argv = [
      this.#dnsmasq,
      `--conf-file=${confPath}`,
      `--dhcp-leasefile=${this.#dnsmasqFile(name, "leases")}`,
    ];
    // dnsmasq drops root for its build's default user (Debian: `dnsmasq`, which dnsmasq-base
    // creates); where that user is missing it would refuse to start, so use nobody there.
    const user = hasUser("dnsmasq") ? "dnsmasq" : "nobody";
    if (user === "nobody") argv.push("--user=nobody");
    // It reads the hosts files as that user (at start and on SIGHUP): a directory on the way it
    // cannot search would silently drop every static host. Refuse instead.
    if ((files.hostsFile ?? "") !== "" || files.addnHosts !== "") {
      const blocked = unsearchableDir(this.paths.dnsmasqDir, user);
      if (blocked) {
        throw new VirtError("NETWORK_DNSMASQ_UNREACHABLE", {
          network: name,
          user,
          dir: blocked.dir,
          mode: blocked.mode.toString(8).padStart(4, "0"),
        });
      }
    }
    const r = await runArgv(argv, { timeoutMs: 30_000 });
    if (r.code !== 0) {
      let reason = r.stderr.trim() || `exit status ${r.code ?? r.signal ?? "?"}`;
      // The config file goes with the failed start: quote the line dnsmasq complains about.
      const at = /at line (\d+) of /.exec(reason);
      const bad = at ? files.conf.split("\n")[Number(at[1]) - 1] : undefined;
      if (bad !== undefined) reason += ` ('${bad}')`;
      throw new VirtError("NETWORK_DNSMASQ_FAILED", { network: name, reason });
    }
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined; i++) {
      try {
        const n = Number(readFileSync(pidFile, "utf8").trim());
        if (Number.isSafeInteger(n) && n > 0) pid = n;
      } catch {
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    if (pid === undefined) {
      throw new VirtError("NETWORK_DNSMASQ_FAILED", { network: name, reason: `no pid in ${pidFile}` });
    }
    runtime.dnsmasqPid = pid;
    runtime.dnsmasqStart = readProcStat(pid)?.starttime;
  }

  async #stopDnsmasq(name: string, runtime: Runtime): Promise<void> {
    if (this.#dnsmasqAlive(name, runtime)) {
      await terminateProcess(runtime.dnsmasqPid!, {
        graceMs: 5_000,
        ...(runtime.dnsmasqStart !== undefined ? { starttime: runtime.dnsmasqStart } : {}),
      });
    }
    runtime.dnsmasqPid = undefined;
    runtime.dnsmasqStart = undefined;
    for (const ext of ["conf", "hostsfile", "addnhosts", "pid", "leases"]) {
      rmSync(this.#dnsmasqFile(name, ext), { force: true });
    }
  }

  // --- update (virNetworkUpdate) ---------------------------------------------------------------

  /**
   * networkUpdate (libvirt's bridge_driver.c): one entry of a section changed in the live state
   * and/or the persistent config. The live change reaches dnsmasq first (a failure there changes
   * nothing), then the config file is written; a failed write puts dnsmasq back as it was.
   */
  update(net: NetworkRef, a: NetworkUpdateArgs): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(net);
      const active = o.runtime !== undefined;
      const plan = planNetworkUpdate(
        { name: o.def.name, active, persistent: o.persistent },
        o.live ?? o.def,
        o.next ?? o.def,
        a,
        "networkUpdate",
      );
      const before = o.live;
      if (plan.live) await this.#updateLive(o, plan.live);
      if (plan.config) {
        try {
          await writeFileAtomic(this.#configPath(o.def.name), formatNetwork(plan.config), { mode: 0o600 });
        } catch (e) {
          if (plan.live && before) await this.#updateLive(o, before).catch(() => undefined);
          throw new VirtError(
            "NETWORK_STATE_IO",
            {
              network: o.def.name,
              action: "write",
              path: this.#configPath(o.def.name),
              reason: e instanceof Error ? e.message : String(e),
            },
            {},
            { cause: e },
          );
        }
        if (active) o.next = plan.config;
        else o.def = plan.config;
      }
    });
  }

  /**
   * Brings a running network to a new live definition that differs in DHCP/DNS entries (or in
   * what the host does not see, like portgroups): dnsmasq's files are rewritten; when its
   * configuration stays the same (static hosts, DNS hosts) a SIGHUP makes it read the hosts
   * files again, as libvirt does; when the configuration changes (ranges, TXT/SRV records,
   * DHCP switched on or off) dnsmasq is restarted, keeping its leases. Then the status file.
   */
  async #updateLive(o: NetworkObj, live: NetworkDef): Promise<void> {
    const runtime = o.runtime!;
    const name = live.name;
    const here = currentNetns();
    if (runtime.netns !== undefined && runtime.netns !== here) {
      throw new VirtError("NETWORK_OTHER_NAMESPACE", { network: name, theirs: runtime.netns, ours: here });
    }
    const had = this.#dnsmasqAlive(name, runtime);
    const wants = this.#needsDnsmasq(live);
    if (wants) {
      const version = await this.#version();
      const pidFile = this.#dnsmasqFile(name, "pid");
      const files = dnsmasqConfig(live, { stateDir: this.paths.dnsmasqDir, pidFile, version });
      let current: string | undefined;
      try {
        current = readFileSync(this.#dnsmasqFile(name, "conf"), "utf8");
      } catch {
        // no configuration written: dnsmasq starts afresh
      }
      if (had && current === files.conf) {
        await writeFileAtomic(files.hostsFilePath, files.hostsFile ?? "", { mode: 0o644 });
        await writeFileAtomic(files.addnHostsPath, files.addnHosts, { mode: 0o644 });
        // Gone meanwhile: the restart below brings it back with the new files.
        if (!signalProcess(runtime.dnsmasqPid!, "SIGHUP", runtime.dnsmasqStart)) {
          await this.#startDnsmasq(live, runtime);
        }
      } else {
        if (had) {
          // As destroy does: a status file naming no dnsmasq tells the watchers of other driver
          // instances on this root that it stops on purpose (they adopt the new one later).
          const old = { ...runtime };
          runtime.dnsmasqPid = undefined;
          runtime.dnsmasqStart = undefined;
          await this.#writeStatus(o).catch(() => undefined);
          await this.#killDnsmasq(old);
        }
        try {
          await this.#startDnsmasq(live, runtime);
        } catch (e) {
          // The old configuration again, so the network keeps its DHCP and DNS.
          if (had && o.live) await this.#startDnsmasq(o.live, runtime).catch(() => undefined);
          throw e;
        }
      }
    } else if (had) {
      const old = { ...runtime };
      runtime.dnsmasqPid = undefined;
      runtime.dnsmasqStart = undefined;
      await this.#writeStatus(o).catch(() => undefined);
      await this.#stopDnsmasq(name, old);
    }
    o.live = live;
    await this.#writeStatus(o);
    this.#updateWatch();
  }

  /** Stops a network's dnsmasq and keeps its files (the leases above all) for the next one. */
  async #killDnsmasq(runtime: Runtime): Promise<void> {
    await terminateProcess(runtime.dnsmasqPid!, {
      graceMs: 5_000,
      ...(runtime.dnsmasqStart !== undefined ? { starttime: runtime.dnsmasqStart } : {}),
    });
    runtime.dnsmasqPid = undefined;
    runtime.dnsmasqStart = undefined;
  }

  // --- dnsmasq watcher ---------------------------------------------------------------------------

  /**
   * The running networks whose dnsmasq is this process's to look after: started in this
   * namespace (another namespace's processes are not visible or not ours) and needing DHCP/DNS.
   */
  #watched(): NetworkObj[] {
    const here = currentNetns();
    return [...this.#objs.values()].filter(
      (o) =>
        o.runtime !== undefined &&
        o.live !== undefined &&
        (o.runtime.netns === undefined || o.runtime.netns === here) &&
        this.#needsDnsmasq(o.live),
    );
  }

  /**
   * dnsmasq forks away from the driver (it must outlive a daemon restart), so it is no child to
   * wait for and Node has no pidfd: the watcher polls its pid and start time instead. The timer
   * runs only while some network needs it and never keeps the process alive.
   */
  #updateWatch(): void {
    const ms = this.options.dnsmasqWatchMs ?? 2000;
    const wanted = ms > 0 && this.#watched().length > 0;
    if (wanted && this.#watch === undefined) {
      this.#watch = setInterval(() => void this.#checkDnsmasq(), ms);
      this.#watch.unref();
    } else if (!wanted && this.#watch !== undefined) {
      clearInterval(this.#watch);
      this.#watch = undefined;
    }
  }

  /**
   * Restarts the dnsmasq of every watched network whose dnsmasq is gone, with the same
   * configuration (the live definition; the lease file is kept), records the new pid in the
   * status file and emits a lifecycle STARTED event (libvirt has no dnsmasq event; see the
   * README). A restart that fails is tried again at the next tick.
   */
  async #checkDnsmasq(): Promise<void> {
    if (this.#watching) return;
    const dead = this.#watched().filter((o) => !this.#dnsmasqAlive(o.live!.name, o.runtime!));
    if (dead.length === 0) return;
    this.#watching = true;
    try {
      await this.#serial(async () => {
        for (const o of dead) {
          // destroyed, restarted or replaced meanwhile: nothing to do
          const runtime = o.runtime;
          const live = o.live;
          if (!runtime || !live || this.#dnsmasqAlive(live.name, runtime)) continue;
          // Another driver instance on the same root (a daemon, an embed command, a reloaded
          // driver) may be stopping or have destroyed the network (status file gone, or naming
          // no dnsmasq, or bridge gone: not ours to revive), or may have restarted its dnsmasq
          // (adopt the one the status file names rather than start a second one).
          const theirs = this.#statusRuntime(live.name);
          if (theirs?.dnsmasqPid === undefined || live.bridge === undefined) continue;
          if (!(await linkNames()).has(live.bridge)) continue;
          if (theirs.dnsmasqPid !== runtime.dnsmasqPid) {
            if (this.#dnsmasqAlive(live.name, theirs)) {
              runtime.dnsmasqPid = theirs.dnsmasqPid;
              runtime.dnsmasqStart = theirs.dnsmasqStart;
            }
            continue;
          }
          try {
            await this.#startDnsmasq(live, runtime);
            await this.#writeStatus(o);
          } catch {
            continue;
          }
          this.#emit(o, Ev.STARTED);
        }
      });
    } finally {
      this.#watching = false;
    }
  }

  /** The runtime record of a network's status file, or undefined when it is unreadable. */
  #statusRuntime(name: string): Runtime | undefined {
    try {
      const path = this.#statusPath(name);
      const root = parseXml(readFileSync(path, "utf8"), path);
      return JSON.parse(root.child("runtime")?.content ?? "{}") as Runtime;
    } catch {
      return undefined;
    }
  }

  // --- connections ------------------------------------------------------------------------------

  /** The driver entries for one connection (closing it leaves the driver and its networks). */
  connection(): NetworkDriverConnection {
    return {
      ...eventEntries(this.events),
      connectListAllNetworks: entry((flags: number) => this.listAll(flags)),
      networkLookupByName: entry((name: string) => this.lookupByName(name)),
      networkLookupByUUID: entry((uuid: string) => this.lookupByUUID(uuid)),
      networkDefineXML: entry((xml: string) => this.defineXML(xml)),
      networkCreateXML: entry((xml: string) => this.createXML(xml)),
      networkDefineXMLFlags: entry((xml: string, flags: number) => this.defineXML(xml, flags)),
      networkCreateXMLFlags: entry((xml: string, flags: number) => this.createXML(xml, flags)),
      networkUndefine: entry((n: NetworkRef) => this.undefine(n)),
      networkCreate: entry((n: NetworkRef) => this.create(n)),
      networkDestroy: entry((n: NetworkRef) => this.destroy(n)),
      networkGetXMLDesc: entry((n: NetworkRef, flags: number) => this.getXMLDesc(n, flags)),
      networkIsActive: entry((n: NetworkRef) => this.isActive(n)),
      networkIsPersistent: entry((n: NetworkRef) => this.isPersistent(n)),
      networkGetAutostart: entry((n: NetworkRef) => this.getAutostart(n)),
      networkSetAutostart: entry((n: NetworkRef, a: boolean) => this.setAutostart(n, a)),
      networkGetBridgeName: entry((n: NetworkRef) => this.getBridgeName(n)),
      networkUpdate: entry(
        (n: NetworkRef, command: number, section: number, parentIndex: number, xml: string, flags: number) =>
          this.update(n, { command, section, parentIndex, xml, flags }),
      ),
      networkGetDHCPLeases: entry((n: NetworkRef, mac: string | null, flags: number) =>
        this.getDHCPLeases(n, mac, flags),
      ),
    };
  }
}

/** True when `/etc/passwd` has the user (dnsmasq's default user may be missing). */
/** The uid and gid of a user from /etc/passwd. */
function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${name}:`));
    const f = line?.split(":");
    return f ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
  } catch {
    return undefined;
  }
}

/** The first directory from `/` down to `dir` that `user` cannot search, with its mode. */
function unsearchableDir(dir: string, user: string): { dir: string; mode: number } | undefined {
  const ids = userIds(user);
  if (!ids || ids.uid === 0) return undefined;
  const parts = dir.split("/").filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const d = "/" + parts.slice(0, i).join("/");
    let st;
    try {
      st = statSync(d);
    } catch {
      return undefined;
    }
    const mode = st.mode & 0o7777;
    const bit = st.uid === ids.uid ? 0o100 : st.gid === ids.gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) return { dir: d, mode };
  }
  return undefined;
}

function hasUser(name: string): boolean {
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .some((l) => l.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

const loaded = new Map<string, Promise<NetworkDriver>>();

/** The driver of a root, loaded once per process (later options are ignored). */
export function networkDriverFor(
  root: NetworkRoot,
  options: NetworkDriverOptions = {},
): Promise<NetworkDriver> {
  const paths = networkPaths(root);
  let d = loaded.get(paths.configDir);
  if (!d) {
    d = NetworkDriver.load(paths, options);
    loaded.set(paths.configDir, d);
    d.catch(() => loaded.delete(paths.configDir));
  }
  return d;
}
