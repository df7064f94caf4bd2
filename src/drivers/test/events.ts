/**
 * Domain event registrations and delivery for the test driver (libvirt's `virObjectEventState`).
 * Events are queued while a call runs and delivered afterwards, in order, on a later turn of the
 * event loop, to every callback registered for the event id (and domain, if one was given) on
 * any connection sharing the driver state.
 */
import { type DomainEvent, type DomainEventCallback, type DomainRef } from "../driver.ts";
import { VirtError } from "../../util/errors/index.ts";

interface Registration {
  readonly owner: object;
  /** UUID of the domain the callback is limited to, or null for all domains. */
  readonly domUuid: string | null;
  readonly eventID: number;
  readonly callback: DomainEventCallback;
}

export class EventHub {
  private nextId = 1;
  private readonly regs = new Map<number, Registration>();
  private queue: { ref: DomainRef; event: DomainEvent }[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  register(owner: object, domUuid: string | null, eventID: number, callback: DomainEventCallback): number {
    const id = this.nextId++;
    this.regs.set(id, { owner, domUuid, eventID, callback });
    return id;
  }

  deregister(owner: object, id: number): void {
    const reg = this.regs.get(id);
    if (reg?.owner !== owner) {
      throw new VirtError("API_INVALID_ARG", { what: `could not find event callback ${id} for deletion` });
    }
    this.regs.delete(id);
  }

  /** Drops every registration of a connection (on close). */
  removeOwner(owner: object): void {
    for (const [id, reg] of this.regs) if (reg.owner === owner) this.regs.delete(id);
  }

  /** True while no callback is registered; events are then dropped right away. */
  get idle(): boolean {
    return this.regs.size === 0;
  }

  emit(ref: DomainRef, event: DomainEvent): void {
    if (this.idle) return;
    this.queue.push({ ref: { ...ref }, event });
    this.scheduled ??= setImmediate(() => {
      this.flush();
    });
  }

  /** Delivers queued events now (also used by tests). */
  flush(): void {
    this.scheduled = undefined;
    const queue = this.queue;
    this.queue = [];
    for (const { ref, event } of queue) {
      for (const reg of [...this.regs.values()]) {
        if (reg.eventID !== event.id) continue;
        if (reg.domUuid !== null && reg.domUuid !== ref.uuid) continue;
        try {
          reg.callback({ ...ref }, event);
        } catch {
          // A callback's failure is its own; the next callback still gets the event.
        }
      }
    }
  }

  /** Cancels pending delivery (the driver state is going away). */
  dispose(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.queue = [];
    this.regs.clear();
  }
}
