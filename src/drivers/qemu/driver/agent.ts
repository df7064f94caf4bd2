/**
 * The guest agent of a running domain (libvirt's qemuConnectAgent / processSerialChangedEvent /
 * qemuDomainAgentAvailable):
 *
 * - the agent channel is the `<channel type='unix'>` with virtio target
 *   `org.qemu.guest_agent.0`; without a source path it gets libvirt's automatic one,
 *   `<channelDir>/domain-<id>-<name>/org.qemu.guest_agent.0` (`mode='bind'`: QEMU listens);
 * - whether qemu-ga has the guest end open comes from QEMU: `query-chardev`'s `frontend-open`
 *   when the monitor attaches, then VSERPORT_CHANGE events. The live XML shows it as the
 *   target's `state='connected'|'disconnected'`, and each change is an AGENT_LIFECYCLE event
 *   (reason "channel");
 * - calls need the domain running, the channel configured ("QEMU guest agent is not
 *   configured") and connected ("Guest agent is not responding: QEMU guest agent is not
 *   connected").
 */
import type { ChrDef, DomainDef } from "../../../conf/domain/types.ts";
import { DomainEventId } from "../../enums.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { AgentClient } from "../agent/client.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";

export const AGENT_CHANNEL_NAME = "org.qemu.guest_agent.0";

/** virConnectDomainEventAgentLifecycleState / Reason */
export const AgentLifecycleState = { CONNECTED: 1, DISCONNECTED: 2 } as const;
export const AgentLifecycleReason = { UNKNOWN: 0, DOMAIN_STARTED: 1, CHANNEL: 2 } as const;

export function agentChannel(def: DomainDef): ChrDef | undefined {
  return def.devices.channels.find(
    (c) => c.type === "unix" && c.target.type === "virtio" && c.target.name === AGENT_CHANNEL_NAME,
  );
}

/** Gives unix virtio channels without a path libvirt's automatic one, in the live definition. */
export function prepareChannelPaths(live: DomainDef, channelDir: string): void {
  for (const c of live.devices.channels) {
    if (c.type !== "unix" || c.target.type !== "virtio" || c.target.name === undefined) continue;
    if (c.source?.path !== undefined && c.source.path !== "") continue;
    c.source = { ...c.source, mode: c.source?.mode ?? "bind", path: `${channelDir}/${c.target.name}` };
  }
}

interface AgentLink {
  client: AgentClient | undefined;
  /** virDomainAgentSetResponseTimeout (seconds, or -2 block / -1 default / 0 nowait). */
  timeout: number;
}

const links = new WeakMap<QemuRun, AgentLink>();

function setConnected(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, open: boolean, emit: boolean): void {
  const ch = agentChannel(obj.def);
  if (!ch) return;
  let link = links.get(run);
  if (!link) {
    link = { client: undefined, timeout: -2 };
    links.set(run, link);
  }
  const was = ch.target.state === "connected";
  ch.target.state = open ? "connected" : "disconnected";
  if (open && !link.client && ch.source?.path) link.client = new AgentClient(ch.source.path);
  if (!open && link.client) {
    link.client.close();
    link.client = undefined;
  }
  if (emit && was !== open)
    drv.events.emit(obj.ref(), {
      id: DomainEventId.AGENT_LIFECYCLE,
      state: open ? AgentLifecycleState.CONNECTED : AgentLifecycleState.DISCONNECTED,
      reason: AgentLifecycleReason.CHANNEL,
    });
  drv.saveStatusLater(obj);
}

/** Follows the agent channel of `run` through `qmp` (called whenever a monitor attaches). */
export function attachAgent(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, qmp: QmpClient): void {
  const ch = agentChannel(obj.def);
  if (!ch) return;
  const alias = ch.alias ?? "";
  const off = qmp.onEvent((ev) => {
    if (ev.event !== "VSERPORT_CHANGE" || obj.run !== run || run.ended) return;
    if (ev.data.id !== alias) return;
    setConnected(drv, obj, run, ev.data.open === true, true);
  });
  run.store.addFn(() => {
    off();
    const link = links.get(run);
    link?.client?.close();
    links.delete(run);
  });
  // The state now: qemu-ga may have opened the port before this monitor attached.
  void (async () => {
    try {
      const list = (await qmp.execute("query-chardev")) as { label: string; "frontend-open"?: boolean }[];
      const c = list.find((x) => x.label === `char${alias}`);
      if (c && obj.run === run && !run.ended) setConnected(drv, obj, run, c["frontend-open"] === true, false);
    } catch {
      // the monitor went away: the domain is stopping
    }
  })();
}

/** The agent of a running domain, or libvirt's error for why there is none. */
export function agentOf(obj: QemuDomainObj): AgentClient {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  const ch = agentChannel(obj.def);
  if (!ch) throw new VirtError("QEMU_AGENT_NOT_CONFIGURED", {}, { name: obj.name });
  const link = links.get(run);
  if (!link?.client || ch.target.state !== "connected")
    throw new VirtError("QEMU_AGENT_NOT_CONNECTED", {}, { name: obj.name });
  return link.client;
}

export function agentTimeout(obj: QemuDomainObj): number {
  const run = obj.run;
  return (run && links.get(run)?.timeout) ?? -2;
}

export function setAgentTimeout(obj: QemuDomainObj, timeout: number): void {
  const run = obj.run;
  const link = run && links.get(run);
  if (link) link.timeout = timeout;
}
