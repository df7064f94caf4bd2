/**
 * Event registrations and delivery for one driver instance (libvirt's `virObjectEventState`),
 * shared by the QEMU and test drivers: callbacks of every connection sharing the driver, each
 * limited to one domain or not. Events are queued when they happen and delivered on a later turn
 * of the event loop, in order, so a callback never runs inside the operation that caused it.
 * Callback ids count from 1 per hub; a callback that throws does not keep the event from the
 * next one.
 *
 * `EventHub<E>` is the generic queue (the QEMU driver also uses it for QMP monitor events);
 * `DomainEventHub` adds libvirt's domain event registration by event id.
 */
import type { DomainEvent, DomainEventCallback, DomainRef } from "./driver.ts";
import { VirtError } from "../util/errors/index.ts";

interface Registration<E> {
  /** The connection that registered (its close removes the registration). */
  readonly owner: object;
  /** UUID of the domain the callback is limited to, or null for all domains. */
  readonly domUuid: string | null;
  /** Whether the callback wants this event (event id, event name). */
  readonly wants: (event: E) => boolean;
  readonly callback: (ref: DomainRef, event: E) => void;
}

export class EventHub<E> {
  #nextId = 1;
  readonly #regs = new Map<number, Registration<E>>();
  #queue: { ref: DomainRef; event: E }[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  /** Optional observer of every event (tests, logs); called at delivery time. */
  tap: ((ref: DomainRef, event: E) => void) | undefined;

  /** Registers a callback and returns its id. */
  add(
    owner: object,
    domUuid: string | null,
    wants: (event: E) => boolean,
    callback: (ref: DomainRef, event: E) => void,
  ): number {
    const id = this.#nextId++;
    this.#regs.set(id, { owner, domUuid, wants, callback });
    return id;
  }

  /** Removes registration `id` of `owner`; false (and nothing removed) if `owner` has none such. */
  remove(owner: object, id: number): boolean {
    if (this.#regs.get(id)?.owner !== owner) return false;
    return this.#regs.delete(id);
  }

  /** Drops every registration of a connection (on close). */
  removeOwner(owner: object): void {
    for (const [id, reg] of this.#regs) if (reg.owner === owner) this.#regs.delete(id);
  }

  /** True while no callback is registered; events are then dropped right away (unless tapped). */
  get idle(): boolean {
    return this.#regs.size === 0;
  }

  /** Queues `event` of the domain `ref` for delivery on a later turn of the event loop. */
  emit(ref: DomainRef, event: E): void {
    if (this.idle && this.tap === undefined) return;
    this.#queue.push({ ref: { ...ref }, event });
    this.#scheduled ??= setImmediate(() => {
      this.flush();
    });
  }

  /** Delivers queued events now, in order. */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const queue = this.#queue;
    this.#queue = [];
    for (const { ref, event } of queue) {
      try {
        this.tap?.({ ...ref }, event);
      } catch {
        // observers cannot disturb delivery
      }
      for (const reg of [...this.#regs.values()]) {
        if (reg.domUuid !== null && reg.domUuid !== ref.uuid) continue;
        if (!reg.wants(event)) continue;
        try {
          reg.callback({ ...ref }, event);
        } catch {
          // A callback's failure is its own; the next callback still gets the event.
        }
      }
    }
  }

  /** Cancels pending delivery and drops every registration (the driver is going away). */
  dispose(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#queue = [];
    this.#regs.clear();
  }
}

/** Domain events (`virConnectDomainEventRegisterAny`): callbacks registered per event id. */
export class DomainEventHub extends EventHub<DomainEvent> {
  register(owner: object, domUuid: string | null, eventID: number, callback: DomainEventCallback): number {
    return this.add(owner, domUuid, (event) => event.id === eventID, callback);
  }

  /** libvirt's error for an id that is not a callback of this connection. */
  deregister(owner: object, id: number): void {
    if (!this.remove(owner, id)) {
      throw new VirtError("API_INVALID_ARG", { what: `could not find event callback ${id} for deletion` });
    }
  }
}
