/**
 * `event`: list event types, or wait for domain events and print them as virsh 9.0 does
 * (`tools/virsh-domain.c` cmdEvent): one event and stop, or `--loop` until `--timeout` or
 * Ctrl-C; then "events received: N". No event received is a failure (exit status 1).
 */
import {
  DomainEventId,
  domainEventIdNames,
  eventDetailId,
  eventDetailWord,
  eventId,
  eventWord,
  type Domain,
  type DomainEvent,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";
import { domJson } from "./domain.ts";
import { EventWait, eventTimeout, eventTimestamp, eventWaitOpts } from "./event-loop.ts";

/** virsh's words for `virDomainEventIOErrorAction`. */
function ioErrorAction(action: number): string {
  return ["none", "pause", "report"][action] ?? "unknown";
}

/** virsh's words for `virDomainEventTrayChangeReason`. */
function trayReason(reason: number): string {
  return ["opened", "closed"][reason] ?? "unknown";
}

/** virsh's words for `virDomainMetadataType`. */
function metadataType(type: number): string {
  return ["description", "title", "element"][type] ?? "unknown";
}
/** virsh's names of `virDomainBlockJobType` and `virConnectDomainEventBlockJobStatus`. */
const blockJobName = (t: number): string =>
  ["Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup"][t] ??
  "Unknown job";
const blockJobStatus = (s: number): string => ["completed", "failed", "canceled", "ready"][s] ?? "unknown";

/** virsh's words for `virConnectDomainEventAgentLifecycleState` and its reasons. */
function agentState(state: number): string {
  return ["unknown", "connected", "disconnected"][state] ?? "unknown";
}
function agentReason(reason: number): string {
  return ["unknown", "domain started", "channel event"][reason] ?? "unknown";
}

function describe(name: string, dom: Domain, ev: DomainEvent): string {
  switch (ev.id) {
    case DomainEventId.LIFECYCLE:
      return `event 'lifecycle' for domain '${dom.name}': ${eventWord(ev.event)} ${eventDetailWord(ev.event, ev.detail)}\n`;
    case DomainEventId.RTC_CHANGE:
      return `event 'rtc-change' for domain '${dom.name}': ${ev.utcoffset}\n`;
    case DomainEventId.BALLOON_CHANGE:
      return `event 'balloon-change' for domain '${dom.name}': ${ev.actual}KiB\n`;
    case DomainEventId.DEVICE_REMOVED:
      return `event 'device-removed' for domain '${dom.name}': ${ev.devAlias}\n`;
    case DomainEventId.DEVICE_ADDED:
      return `event 'device-added' for domain '${dom.name}': ${ev.devAlias}\n`;
    case DomainEventId.IO_ERROR_REASON:
      return `event 'io-error-reason' for domain '${dom.name}': ${ev.srcPath} (${ev.devAlias}) ${ioErrorAction(ev.action)} due to ${ev.reason}\n`;
    case DomainEventId.TRAY_CHANGE:
      return `event 'tray-change' for domain '${dom.name}' disk ${ev.devAlias}: ${trayReason(ev.reason)}\n`;
    case DomainEventId.DEVICE_REMOVAL_FAILED:
      return `event 'device-removal-failed' for domain '${dom.name}': ${ev.devAlias}\n`;
    case DomainEventId.METADATA_CHANGE:
      return `event 'metadata-change' for domain '${dom.name}': type ${metadataType(ev.type)}, uri ${ev.nsuri ?? "<null>"}\n`;
    case DomainEventId.AGENT_LIFECYCLE:
      return `event 'agent-lifecycle' for domain '${dom.name}': state: '${agentState(ev.state)}' reason: '${agentReason(ev.reason)}'\n`;
    case DomainEventId.BLOCK_JOB:
    case DomainEventId.BLOCK_JOB_2:
      // virshEventBlockJobPrint
      return `event '${name}' for domain '${dom.name}': ${blockJobName(ev.type)} for ${ev.disk} ${blockJobStatus(ev.status)}\n`;
    case DomainEventId.MIGRATION_ITERATION:
      return `event 'migration-iteration' for domain '${dom.name}': iteration: '${ev.iteration}'\n`;
    default:
      return `event '${name}' for domain '${dom.name}'\n`;
  }
}

function eventJson(
  name: string,
  dom: Domain,
  ev: DomainEvent,
  ts: string | undefined,
): Record<string, unknown> {
  const base: Record<string, unknown> = {
    event: name,
    eventId: ev.id,
    domain: domJson(dom),
    ...(ts ? { timestamp: ts } : {}),
  };
  if (ev.id === DomainEventId.LIFECYCLE) {
    base.lifecycle = {
      event: eventId(ev.event),
      eventCode: ev.event,
      detail: eventDetailId(ev.event, ev.detail),
      detailCode: ev.detail,
    };
  } else if (ev.id === DomainEventId.RTC_CHANGE) base.utcoffset = ev.utcoffset.toString();
  else if (ev.id === DomainEventId.BALLOON_CHANGE) base.actualKiB = ev.actual.toString();
  else if (ev.id === DomainEventId.DEVICE_ADDED || ev.id === DomainEventId.DEVICE_REMOVED)
    base.devAlias = ev.devAlias;
  else if (ev.id === DomainEventId.TRAY_CHANGE) {
    base.devAlias = ev.devAlias;
    base.tray = trayReason(ev.reason);
  } else if (ev.id === DomainEventId.DEVICE_REMOVAL_FAILED) base.devAlias = ev.devAlias;
  else if (ev.id === DomainEventId.METADATA_CHANGE) {
    base.metadata = { type: metadataType(ev.type), uri: ev.nsuri };
  } else if (ev.id === DomainEventId.AGENT_LIFECYCLE) {
    base.agent = { state: agentState(ev.state), reason: agentReason(ev.reason) };
  } else if (ev.id === DomainEventId.BLOCK_JOB || ev.id === DomainEventId.BLOCK_JOB_2)
    base.blockJob = { disk: ev.disk, type: blockJobName(ev.type), status: blockJobStatus(ev.status) };
  else if (ev.id === DomainEventId.MIGRATION_ITERATION) base.iteration = ev.iteration;
  else if (ev.id === DomainEventId.IO_ERROR_REASON) {
    base.ioError = {
      srcPath: ev.srcPath,
      devAlias: ev.devAlias,
      action: ioErrorAction(ev.action),
      reason: ev.reason,
    };
  }
  return base;
}

export const event: CmdDef<Ctx> = {
  name: "event",
  group: "domain",
  help: "Domain Events",
  desc: "List event types, or wait for domain events to occur",
  opts: [
    { name: "domain", type: "string", help: "filter by domain name, id or uuid", complete: "domain" },
    { name: "event", type: "string", help: "which event type to wait for", complete: "event" },
    { name: "all", type: "bool", help: "wait for all events instead of just one type" },
    ...eventWaitOpts,
  ],
  async run(ctx, cmd) {
    const all = cmd.bool("all");
    const loop = cmd.bool("loop");
    const stamp = cmd.bool("timestamp");
    if (
      !ctx.exclusive(cmd, "all", "event") ||
      !ctx.exclusive(cmd, "list", "all") ||
      !ctx.exclusive(cmd, "list", "event")
    )
      return false;
    if (cmd.bool("list")) {
      for (const n of domainEventIdNames) ctx.print(`${n}\n`);
      ctx.emit({ eventTypes: [...domainEventIdNames] });
      return true;
    }
    const eventName = ctx.optString(cmd, "event");
    if (eventName === null) return false;
    if (eventName === undefined && !all)
      return ctx.fail("one of --list, --all, or --event <type> is required");
    const ids = domainEventIdNames
      .map((n, i) => ({ n, i }))
      .filter(({ n }) => eventName === undefined || n === eventName);
    if (ids.length === 0) return ctx.fail(`unknown event type ${eventName ?? ""}`);
    const timeoutS = eventTimeout(ctx, cmd);
    if (timeoutS === null) return false;
    let dom: Domain | null = null;
    if (cmd.has("domain")) {
      const d = await ctx.domain(cmd);
      if (!d) return false;
      dom = d;
    }
    const conn = ctx.connection();
    const w = new EventWait(loop);
    const regs: number[] = [];
    try {
      for (const [k, { n, i }] of ids.entries()) {
        try {
          regs.push(
            await conn.domainEventRegisterAny(dom, i, (d, ev) => {
              if (!w.accepts()) return;
              const ts = stamp ? eventTimestamp() : undefined;
              ctx.print(`${ts ? `${ts}: ` : ""}${describe(n, d, ev)}`);
              w.record(eventJson(n, d, ev, ts));
            }),
          );
        } catch (e) {
          // Later registrations may fail on older servers; only the first one matters.
          if (k === 0) return ctx.fail(undefined, e);
        }
      }
      await w.wait(ctx, timeoutS);
    } finally {
      for (const id of regs) await conn.domainEventDeregisterAny(id).catch(() => undefined);
    }
    return w.count > 0;
  },
};
