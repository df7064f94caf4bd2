/**
 * QEMU monitor events for clients (libvirt-qemu's `virConnectDomainQemuMonitorEventRegister`,
 * `virsh qemu-monitor-event`): every QMP event of every running domain of a driver, filtered by
 * domain and by event name (exact, or a regular expression with `REGEX`, case-insensitive with
 * `NOCASE`), delivered on a later turn of the event loop, in order.
 */
import { type DomainRef, type QemuMonitorEvent, type QemuMonitorEventCallback } from "../../driver.ts";
import { QemuMonitorEventRegisterFlags as F } from "../../enums.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { QmpEvent } from "../monitor/index.ts";
import type { QemuDomainObj } from "./domain.ts";

interface Registration {
  readonly owner: object;
  readonly domUuid: string | null;
  readonly match: (name: string) => boolean;
  readonly callback: QemuMonitorEventCallback;
}

class MonitorEventHub {
  #nextId = 1;
  readonly regs = new Map<number, Registration>();
  #queue: { ref: DomainRef; ev: QemuMonitorEvent }[] = [];
  private scheduledFlush: NodeJS.Immediate | undefined;

  emit(ref: DomainRef, ev: QemuMonitorEvent): void {
    if (this.regs.size === 0) return;
    this.#queue.push({ ref: { ...ref }, ev });
    this.scheduledFlush ??= setImmediate(() => {
      this.#flush();
    });
  }

  #flush(): void {
    this.scheduledFlush = undefined;
    const queue = this.#queue;
    this.#queue = [];
    for (const { ref, ev } of queue) {
      for (const reg of [...this.regs.values()]) {
        if (reg.domUuid !== null && reg.domUuid !== ref.uuid) continue;
        if (!reg.match(ev.event)) continue;
        try {
          reg.callback({ ...ref }, ev);
        } catch {
          // a callback's failure is its own
        }
      }
    }
  }

  add(reg: Registration): number {
    const id = this.#nextId++;
    this.regs.set(id, reg);
    return id;
  }
}

/** One hub per driver instance (keyed by the driver object). */
const hubs = new WeakMap<object, MonitorEventHub>();

function hubOf(drv: object): MonitorEventHub {
  let h = hubs.get(drv);
  if (!h) {
    h = new MonitorEventHub();
    hubs.set(drv, h);
  }
  return h;
}

/** Called for every QMP event of a running domain (from `attachMonitor`). */
export function dispatchMonitorEvent(drv: object, obj: QemuDomainObj, ev: QmpEvent): void {
  const h = hubs.get(drv);
  if (!h || h.regs.size === 0) return;
  const us = ev.timestampUs;
  h.emit(obj.ref(), {
    event: ev.event,
    seconds: BigInt(Math.floor(us / 1_000_000)),
    micros: us % 1_000_000,
    details: ev.hasData === false ? null : JSON.stringify(ev.data),
  });
}

function matcher(event: string | null, flags: number): (name: string) => boolean {
  if (event === null) return () => true;
  const nocase = (flags & F.NOCASE) !== 0;
  if (flags & F.REGEX) {
    let re: RegExp;
    try {
      re = new RegExp(event, nocase ? "i" : "");
    } catch (e) {
      throw new VirtError("TUNING_MONITOR_EVENT_REGEX", {
        regex: event,
        reason: e instanceof Error ? e.message : String(e),
      });
    }
    return (name) => re.test(name);
  }
  if (nocase) {
    const want = event.toLowerCase();
    return (name) => name.toLowerCase() === want;
  }
  return (name) => name === event;
}

export function registerMonitorEvents(
  drv: object,
  owner: object,
  domUuid: string | null,
  event: string | null,
  callback: QemuMonitorEventCallback,
  flags: number,
): number {
  checkFlags(flags, F.REGEX | F.NOCASE, "qemuConnectDomainQemuMonitorEventRegister");
  return hubOf(drv).add({ owner, domUuid, match: matcher(event, flags), callback });
}

export function deregisterMonitorEvents(drv: object, owner: object, id: number): void {
  const h = hubOf(drv);
  if (h.regs.get(id)?.owner !== owner) throw new VirtError("TUNING_MONITOR_EVENT_CALLBACK", { id });
  h.regs.delete(id);
}

/** Drops every registration of a closing connection. */
export function removeMonitorEventOwner(drv: object, owner: object): void {
  const h = hubs.get(drv);
  if (!h) return;
  for (const [id, reg] of h.regs) if (reg.owner === owner) h.regs.delete(id);
}
