/**
 * Tap plugs of `<interface type='network'>` and `<interface type='bridge'>` (libvirt's
 * `qemuInterfaceBridgeConnect` with the network driver's port allocation, simplified): at start
 * the network is resolved through the network driver of the same state root (it must be
 * running: libvirt's "network 'X' is not active" otherwise), the live definition gets the
 * network's bridge (`<source network='default' bridge='virbr0'/>`) and a tap name (`vnetN`, the
 * lowest free, unless `<target dev=>` names one). QEMU opens (and so creates) the tap itself
 * (`-netdev tap,ifname=vnetN,script=no,downscript=no`): the kernel removes it when QEMU ends,
 * on stop, crash and start failure alike. Once QEMU runs (still paused), `attachTaps` gives the
 * tap the guest MAC with `fe` as first byte (as libvirt, so the bridge never takes the guest's
 * address), enslaves it to the bridge and sets it up.
 */
import { VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { DomainDef, InterfaceDef } from "../../../conf/domain/types.ts";
import { networkDriverFor } from "../../network/driver.ts";
import type { DriverRoot } from "../paths.ts";

export interface TapPlug {
  /** The interface's alias (`net0`). */
  readonly alias: string;
  readonly tap: string;
  readonly bridge: string;
  readonly mac: string | undefined;
}

/** What the command context needs: network name → bridge, alias → tap name. */
export interface PlugPlan {
  readonly plugs: readonly TapPlug[];
  readonly bridgeOf: ReadonlyMap<string, string>;
}

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

const plugged = (n: InterfaceDef): boolean => n.type === "network" || n.type === "bridge";

/**
 * Resolves the tap-based interfaces of `live` (aliases assigned) and fills their live source
 * bridge and target; nothing on the host changes yet.
 */
export async function planTapPlugs(root: DriverRoot, live: DomainDef): Promise<PlugPlan> {
  const ifaces = live.devices.interfaces.filter(plugged);
  const plugs: TapPlug[] = [];
  const bridgeOf = new Map<string, string>();
  if (ifaces.length === 0) return { plugs, bridgeOf };
  const used = await linkNames();
  let next = 0;
  for (const n of ifaces) {
    let bridge: string;
    if (n.type === "network") {
      const name = n.source?.network ?? "";
      const nd = await networkDriverFor(root);
      const ref = nd.lookupByName(name);
      if (!nd.isActive(ref)) throw new VirtError("NETWORK_PORT_NOT_ACTIVE", { network: name });
      bridge = nd.getBridgeName(ref);
      bridgeOf.set(name, bridge);
      n.source = { ...n.source, bridge };
    } else {
      bridge = n.source?.bridge ?? "";
    }
    let tap = n.target?.dev;
    if (tap === undefined || tap === "" || tap.startsWith("vnet")) {
      while (used.has(`vnet${next}`)) next++;
      tap = `vnet${next}`;
    }
    // checked before QEMU runs (libvirt fails the same way when it adds the port)
    if (!used.has(bridge))
      throw new VirtError("NETWORK_BRIDGE_ADD_PORT", { bridge, port: tap, reason: "No such device" });
    used.add(tap);
    n.target = { ...n.target, dev: tap };
    plugs.push({ alias: n.alias ?? "", tap, bridge, mac: n.mac?.address });
  }
  return { plugs, bridgeOf };
}

/** The tap's own MAC: the guest's with `fe` as first byte (libvirt's `VIR_MAC_PREFIX_RESERVED`). */
export function tapMac(guestMac: string): string {
  return `fe${guestMac.slice(2)}`;
}

/** Once QEMU has opened its taps: MAC, bridge, up. */
export async function attachTaps(plan: PlugPlan): Promise<void> {
  for (const p of plan.plugs) {
    if (p.mac !== undefined) await run(["ip", "link", "set", "dev", p.tap, "address", tapMac(p.mac)]);
    await run(["ip", "link", "set", "dev", p.tap, "master", p.bridge]);
    await run(["ip", "link", "set", "dev", p.tap, "up"]);
  }
}
