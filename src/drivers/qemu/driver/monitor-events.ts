/**
 * QEMU monitor events for clients (libvirt-qemu's `virConnectDomainQemuMonitorEventRegister`,
 * `virsh qemu-monitor-event`): every QMP event of every running domain of a driver, filtered by
 * domain and by event name (exact, or a regular expression with `REGEX`, case-insensitive with
 * `NOCASE`), delivered on a later turn of the event loop, in order.
 */
import { type QemuMonitorEvent, type QemuMonitorEventCallback } from "../../driver.ts";
import { QemuMonitorEventRegisterFlags as F } from "../../enums.ts";
import { EventHub } from "../../events.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { QmpEvent } from "../monitor/index.ts";
import type { QemuDomainObj } from "./domain.ts";

/** One hub per driver instance (keyed by the driver object). */
const hubs = new WeakMap<object, EventHub<QemuMonitorEvent>>();

function hubOf(drv: object): EventHub<QemuMonitorEvent> {
  let h = hubs.get(drv);
  if (!h) {
    h = new EventHub<QemuMonitorEvent>();
    hubs.set(drv, h);
  }
  return h;
}

/** Called for every QMP event of a running domain (from `attachMonitor`). */
export function dispatchMonitorEvent(drv: object, obj: QemuDomainObj, ev: QmpEvent): void {
  const h = hubs.get(drv);
  if (!h || h.idle) return;
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
  const match = matcher(event, flags);
  return hubOf(drv).add(owner, domUuid, (ev) => match(ev.event), callback);
}

export function deregisterMonitorEvents(drv: object, owner: object, id: number): void {
  if (!hubOf(drv).remove(owner, id)) throw new VirtError("TUNING_MONITOR_EVENT_CALLBACK", { id });
}

/** Drops every registration of a closing connection. */
export function removeMonitorEventOwner(drv: object, owner: object): void {
  hubs.get(drv)?.removeOwner(owner);
}
