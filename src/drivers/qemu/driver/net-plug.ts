/**
 * Tap plugs of `<interface type='network'>`, `type='bridge'` and `type='ethernet'` (libvirt's
 * `qemuInterfaceBridgeConnect` and `qemuInterfaceEthernetConnect` with the network driver's port
 * allocation, simplified): at start the network is resolved through the network driver of the
 * same state root (it must be running: libvirt's "network 'X' is not active" otherwise), the
 * live definition gets the network's bridge (`<source network='default' bridge='virbr0'/>`) and
 * a tap name (`vnetN`, the lowest free, unless `<target dev=>` names one). QEMU opens (and so
 * creates) the tap itself (`-netdev tap,ifname=vnetN,script=no,downscript=no`): the kernel
 * removes it when QEMU ends, on stop, crash and start failure alike. Once QEMU runs (still
 * paused), `attachTaps` gives the tap the guest MAC with `fe` as first byte (as libvirt, so the
 * bridge never takes the guest's address), enslaves it to the bridge (not for ethernet) and
 * sets it up.
 *
 * - `type='ethernet'` with `<target dev='X' managed='no'/>` uses an existing tap as it is (it
 *   must exist; QEMU does not remove a persistent tap); otherwise the tap is made as above and
 *   a named one must not exist yet (else it would outlive the guest).
 * - Unprivileged (not root, or `bridgeHelper.use='always'`), bridges are reached through
 *   qemu-bridge-helper (`-netdev bridge,br=,helper=`), which creates and enslaves the tap for
 *   QEMU; its ACL file is checked first so a refused bridge gets an error that says which line
 *   to add, instead of the helper's "access denied by acl file" in QEMU's log.
 */
import { closeSync, openSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { DomainDef, InterfaceDef } from "../../../conf/domain/types.ts";
import { networkDriverFor } from "../../network/driver.ts";
import type { DriverRoot } from "../paths.ts";

export interface TapPlug {
  /** The interface's alias (`net0`). */
  readonly alias: string;
  readonly tap: string;
  /** The bridge it joins; undefined for ethernet. */
  readonly bridge: string | undefined;
  readonly mac: string | undefined;
  /** False for an existing tap the definition names with managed='no': left as it is. */
  readonly managed: boolean;
}

/** An interface QEMU connects through qemu-bridge-helper. */
export interface HelperPlug {
  readonly bridge: string;
  readonly helper: string;
}

/** What the command context needs: network name → bridge, alias → tap name or helper. */
export interface PlugPlan {
  readonly plugs: readonly TapPlug[];
  readonly bridgeOf: ReadonlyMap<string, string>;
  readonly helpers: ReadonlyMap<string, HelperPlug>;
}

export interface BridgeHelperOptions {
  /**
   * `auto` (default): a tap when this process is root, else qemu-bridge-helper (libvirt's
   * unprivileged session driver); `always`/`never` force one way.
   */
  readonly use: "auto" | "always" | "never";
  /** The helper QEMU runs (default `/usr/lib/qemu/qemu-bridge-helper`). */
  readonly helper: string;
  /** The helper's ACL file, checked before QEMU starts (default `/etc/qemu/bridge.conf`). */
  readonly conf: string;
}

export const DEFAULT_BRIDGE_HELPER: BridgeHelperOptions = {
  use: "auto",
  helper: "/usr/lib/qemu/qemu-bridge-helper",
  conf: "/etc/qemu/bridge.conf",
};

async function run(argv: readonly string[]): Promise<string> {
  let r;
  try {
    r = await runArgv(argv, { timeoutMs: 30_000 });
  } catch (e) {
    throw new VirtError(
      "COMMAND_FAILED",
      { command: argv.join(" "), reason: e instanceof Error ? e.message : String(e) },
      {},
      { cause: e },
    );
  }
  if (r.code !== 0) {
    throw new VirtError("COMMAND_FAILED", {
      command: argv.join(" "),
      reason: r.stderr.trim() || `exit status ${r.code ?? r.signal ?? "?"}`,
    });
  }
  return r.stdout;
}

/** Names of this namespace's links. */
async function linkNames(): Promise<Set<string>> {
  const list = JSON.parse((await run(["ip", "-j", "link", "show"])) || "[]") as { ifname?: string }[];
  return new Set(list.map((l) => l.ifname ?? "").filter((n) => n !== ""));
}

/** Interface types this file plugs. */
export const PLUGGED_TYPES: readonly string[] = ["network", "bridge", "ethernet"];

const plugged = (n: InterfaceDef): boolean => PLUGGED_TYPES.includes(n.type);

/** What qemu-bridge-helper's ACL file says about a bridge. */
export interface AclVerdict {
  readonly allowed: boolean;
  readonly reason: string;
}

/**
 * Reads the helper's ACL file as the helper does: `allow NAME|all`, `deny NAME|all`,
 * `include FILE`, `#` comments; deny rules win over allow rules; no rule means denied.
 */
export async function bridgeAclVerdict(conf: string, bridge: string): Promise<AclVerdict> {
  const allows: string[] = [];
  const denies: string[] = [];
  const seen = new Set<string>();
  const read = async (file: string, depth: number): Promise<string | undefined> => {
    if (seen.has(file) || depth > 8) return undefined;
    seen.add(file);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === "ENOENT" ? `${file} does not exist` : `${file} cannot be read (${code ?? String(e)})`;
    }
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (line === "") continue;
      const [cmd, arg = ""] = line.split(/\s+/, 2);
      if (cmd === "allow") allows.push(arg);
      else if (cmd === "deny") denies.push(arg);
      else if (cmd === "include") {
        const err = await read(arg, depth + 1);
        if (err !== undefined) return err;
      }
    }
    return undefined;
  };
  const err = await read(conf, 0);
  if (err !== undefined) return { allowed: false, reason: err };
  if (denies.includes("all") || denies.includes(bridge)) {
    const rule = denies.includes(bridge) ? bridge : "all";
    return { allowed: false, reason: `${conf} has 'deny ${rule}', which wins over any allow line` };
  }
  if (allows.includes("all") || allows.includes(bridge)) return { allowed: true, reason: "" };
  return { allowed: false, reason: `${conf} has no 'allow ${bridge}' or 'allow all' line` };
}

function useHelper(opts: BridgeHelperOptions): boolean {
  if (opts.use === "always") return true;
  if (opts.use === "never") return false;
  return process.getuid?.() !== 0;
}

async function checkHelper(n: InterfaceDef, bridge: string, opts: BridgeHelperOptions): Promise<void> {
  const mac = n.mac?.address ?? n.alias ?? "";
  let st;
  try {
    st = await stat(opts.helper);
  } catch {
    throw new VirtError("QEMU_NET_BRIDGE_HELPER_MISSING", {
      mac,
      bridge,
      helper: opts.helper,
      reason: "does not exist (install qemu-system-common)",
    });
  }
  // the helper creates the tap with root's rights: setuid root when QEMU is not root
  if (process.getuid?.() !== 0 && (st.uid !== 0 || (st.mode & 0o4000) === 0)) {
    throw new VirtError("QEMU_NET_BRIDGE_HELPER_MISSING", {
      mac,
      bridge,
      helper: opts.helper,
      reason: "is not setuid root (as root: chmod u+s on it)",
    });
  }
  const v = await bridgeAclVerdict(opts.conf, bridge);
  if (!v.allowed)
    throw new VirtError("QEMU_NET_BRIDGE_HELPER_DENIED", { mac, bridge, reason: v.reason, conf: opts.conf });
}

/**
 * Resolves the tap-based interfaces of `live` (aliases assigned) and fills their live source
 * bridge and target; nothing on the host changes yet.
 */
export async function planTapPlugs(
  root: DriverRoot,
  live: DomainDef,
  helperOpts: BridgeHelperOptions = DEFAULT_BRIDGE_HELPER,
): Promise<PlugPlan> {
  const ifaces = live.devices.interfaces.filter(plugged);
  const plugs: TapPlug[] = [];
  const bridgeOf = new Map<string, string>();
  const helpers = new Map<string, HelperPlug>();
  if (ifaces.length === 0) return { plugs, bridgeOf, helpers };
  const used = await linkNames();
  let next = 0;
  for (const n of ifaces) {
    const mac = n.mac?.address ?? n.alias ?? "";
    let bridge: string | undefined;
    if (n.type === "network") {
      const name = n.source?.network ?? "";
      const nd = await networkDriverFor(root);
      const ref = nd.lookupByName(name);
      if (!nd.isActive(ref)) throw new VirtError("NETWORK_PORT_NOT_ACTIVE", { network: name });
      bridge = nd.getBridgeName(ref);
      bridgeOf.set(name, bridge);
      n.source = { ...n.source, bridge };
    } else if (n.type === "bridge") {
      bridge = n.source?.bridge ?? "";
    }
    if (n.type === "ethernet" && n.target?.managed === false) {
      // an existing tap, used as it is and left behind at stop (libvirt's managed='no')
      const dev = n.target.dev;
      if (dev === "") throw new VirtError("QEMU_NET_UNMANAGED_TAP_NO_DEV", {}, { mac });
      if (!used.has(dev)) throw new VirtError("QEMU_NET_UNMANAGED_TAP_MISSING", {}, { mac, dev });
      plugs.push({ alias: n.alias ?? "", tap: dev, bridge: undefined, mac: n.mac?.address, managed: false });
      continue;
    }
    if (bridge !== undefined && useHelper(helperOpts)) {
      // the helper makes the tap: no target in the live XML, QEMU alone knows its name
      await checkHelper(n, bridge, helperOpts);
      helpers.set(n.alias ?? "", { bridge, helper: helperOpts.helper });
      continue;
    }
    let tap = n.target?.dev;
    if (tap === undefined || tap === "" || tap.startsWith("vnet")) {
      while (used.has(`vnet${next}`)) next++;
      tap = `vnet${next}`;
    } else if (used.has(tap)) {
      // QEMU would attach to it and then leave it behind at stop
      throw new VirtError("QEMU_NET_TAP_EXISTS", { mac, dev: tap });
    }
    // checked before QEMU runs (libvirt fails the same way when it adds the port)
    if (bridge !== undefined && !used.has(bridge))
      throw new VirtError("NETWORK_BRIDGE_ADD_PORT", { bridge, port: tap, reason: "No such device" });
    used.add(tap);
    n.target = { ...n.target, dev: tap };
    plugs.push({ alias: n.alias ?? "", tap, bridge, mac: n.mac?.address, managed: true });
  }
  return { plugs, bridgeOf, helpers };
}

/** The tap's own MAC: the guest's with `fe` as first byte (libvirt's `VIR_MAC_PREFIX_RESERVED`). */
export function tapMac(guestMac: string): string {
  return `fe${guestMac.slice(2)}`;
}

/** Once QEMU has opened its taps: MAC, bridge, up (an unmanaged tap is left as it is). */
export async function attachTaps(plan: PlugPlan): Promise<void> {
  for (const p of plan.plugs) {
    if (!p.managed) continue;
    if (p.mac !== undefined) await run(["ip", "link", "set", "dev", p.tap, "address", tapMac(p.mac)]);
    if (p.bridge !== undefined) await run(["ip", "link", "set", "dev", p.tap, "master", p.bridge]);
    await run(["ip", "link", "set", "dev", p.tap, "up"]);
  }
}

// ---------------------------------------------------------------------------------------------
// type='direct': a macvtap device on a host interface, opened here and passed to QEMU
// ---------------------------------------------------------------------------------------------

/** `<source mode=>` of a direct interface → `ip link ... type macvtap mode X`. */
const MACVTAP_MODES: Readonly<Record<string, string>> = {
  vepa: "vepa",
  bridge: "bridge",
  private: "private",
  passthrough: "passthru",
};

export interface MacvtapPlug {
  readonly alias: string;
  readonly dev: string;
  /** The open `/dev/tapN`; closed by the caller once QEMU has it. */
  readonly fd: number;
}

/**
 * Creates the macvtap device of every `type='direct'` interface of `live` (libvirt's
 * `qemuInterfaceDirectConnect`): `macvtapN` (or the `<target dev>` named) on `<source dev>` in
 * `<source mode>` (default vepa) with the guest's MAC, up, its character device opened. The
 * live definition gets the device name. On failure whatever was made is removed again.
 */
export async function createMacvtaps(live: DomainDef): Promise<MacvtapPlug[]> {
  const ifaces = live.devices.interfaces.filter((n) => n.type === "direct");
  const made: MacvtapPlug[] = [];
  if (ifaces.length === 0) return made;
  try {
    const used = await linkNames();
    let next = 0;
    for (const n of ifaces) {
      const mac = n.mac?.address ?? "";
      const parent = n.source?.dev ?? "";
      const mode = n.source?.mode ?? "vepa";
      const fail = (reason: string): never => {
        throw new VirtError("QEMU_NET_DIRECT_FAILED", { mac, mode, parent, reason });
      };
      const kmode = MACVTAP_MODES[mode];
      if (kmode === undefined) fail(`mode must be one of ${Object.keys(MACVTAP_MODES).join(", ")}`);
      if (parent === "") fail("<source dev=> names no host interface");
      if (!used.has(parent)) fail(`host interface '${parent}' does not exist`);
      let dev = n.target?.dev;
      if (dev === undefined || dev === "" || dev.startsWith("macvtap")) {
        while (used.has(`macvtap${next}`)) next++;
        dev = `macvtap${next}`;
      } else if (used.has(dev)) fail(`device '${dev}' already exists`);
      const add = ["ip", "link", "add", "link", parent, "name", dev];
      if (mac !== "") add.push("address", mac);
      add.push("type", "macvtap", "mode", kmode!);
      try {
        await run(add);
      } catch (e) {
        fail(e instanceof VirtError ? String(e.values.reason ?? e.message) : String(e));
      }
      used.add(dev);
      let fd: number | undefined;
      try {
        await run(["ip", "link", "set", "dev", dev, "up"]);
        const info = JSON.parse(await run(["ip", "-j", "link", "show", "dev", dev])) as {
          ifindex?: number;
        }[];
        const ifindex = info[0]?.ifindex;
        if (ifindex === undefined) fail(`no ifindex for '${dev}'`);
        // the kernel names the character device after the link's index (devtmpfs)
        const path = `/dev/tap${ifindex!}`;
        try {
          fd = openSync(path, "r+");
        } catch (e) {
          fail(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
      } catch (e) {
        await run(["ip", "link", "del", "dev", dev]).catch(() => undefined);
        throw e;
      }
      n.target = { ...n.target, dev };
      made.push({ alias: n.alias ?? "", dev, fd: fd! });
    }
    return made;
  } catch (e) {
    await releaseMacvtaps(made);
    throw e;
  }
}

/** Closes the descriptors tvirt holds (QEMU has its own copies once it runs). */
export function closeMacvtapFds(plugs: readonly MacvtapPlug[]): void {
  for (const p of plugs) {
    try {
      closeSync(p.fd);
    } catch {
      // already closed
    }
  }
}

/** Closes and deletes the macvtap devices (they outlive QEMU otherwise). */
export async function releaseMacvtaps(plugs: readonly { dev: string; fd?: number }[]): Promise<void> {
  for (const p of plugs) {
    if (p.fd !== undefined) {
      try {
        closeSync(p.fd);
      } catch {
        // already closed
      }
    }
    await run(["ip", "link", "del", "dev", p.dev]).catch(() => undefined);
  }
}

/** The macvtap devices of a live definition (what stop deletes, also after a daemon restart). */
export function macvtapsOf(live: DomainDef): { dev: string }[] {
  return live.devices.interfaces
    .filter((n) => n.type === "direct" && (n.target?.dev ?? "") !== "")
    .map((n) => ({ dev: n.target!.dev }));
}
