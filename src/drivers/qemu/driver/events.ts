/**
 * Domain event registrations and delivery for one QEMU driver instance (libvirt's
 * `virObjectEventState`): callbacks of every connection sharing the driver. Events are queued
 * when they happen and delivered on a later turn of the event loop, in order, so a callback
 * never runs inside the operation that caused it.
 */
import { type DomainEvent, type DomainEventCallback, type DomainRef } from "../../driver.ts";
import { VirtError } from "../../../util/errors/index.ts";

interface Registration {
  readonly owner: object;
  readonly domUuid: string | null;
  readonly eventID: number;
  readonly callback: DomainEventCallback;
}

export class EventHub {
  #nextId = 1;
  readonly #regs = new Map<number, Registration>();
  #queue: { ref: DomainRef; event: DomainEvent }[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  /** Optional observer of every event (tests, logs); called at delivery time. */
  tap: ((ref: DomainRef, event: DomainEvent) => void) | undefined;

  register(owner: object, domUuid: string | null, eventID: number, callback: DomainEventCallback): number {
    const id = this.#nextId++;
    this.#regs.set(id, { owner, domUuid, eventID, callback });
    return id;
  }

  deregister(owner: object, id: number): void {
    const reg = this.#regs.get(id);
    if (reg?.owner !== owner) {
      throw new VirtError("API_INVALID_ARG", { what: `could not find event callback ${id} for deletion` });
    }
    this.#regs.delete(id);
  }

  removeOwner(owner: object): void {
    for (const [id, reg] of this.#regs) if (reg.owner === owner) this.#regs.delete(id);
  }

  emit(ref: DomainRef, event: DomainEvent): void {
    if (this.#regs.size === 0 && this.tap === undefined) return;
    this.#queue.push({ ref: { ...ref }, event });
    this.#scheduled ??= setImmediate(() => {
      this.flush();
    });
  }

  flush(): void {
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
        if (reg.eventID !== event.id) continue;
        if (reg.domUuid !== null && reg.domUuid !== ref.uuid) continue;
        try {
          reg.callback({ ...ref }, event);
        } catch {
          // a callback's failure is its own
        }
      }
    }
  }

  dispose(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#queue = [];
    this.#regs.clear();
  }
}
