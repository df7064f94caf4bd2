/**
 * TCP port ranges handed out to guests (libvirt's virportallocator.c): the QEMU driver keeps one
 * for displays (VNC and SPICE, `remote_display_port_min/max`, default 5900–65535) and one for VNC
 * websockets (`remote_websocket_port_min/max`, default 5700–65535).
 *
 * A port is free when this allocator has not handed it out and nothing on the host holds it:
 * like libvirt, the allocator tries to bind it (here on the address the guest will listen on,
 * default 127.0.0.1) and skips it when the bind fails. So two allocators of separate processes
 * (two `qemu:///embed` roots) do not hand out a port a running guest of the other holds.
 *
 * Reservations are synchronous before the first await, so concurrent starts never get the same
 * port from one allocator.
 */
import { createServer } from "node:net";
import { VirtError } from "../util/errors/index.ts";

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** Whether `port` can be bound on `address` now (the test bind is closed again at once). */
export function canBindPort(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => {
      resolve(false);
    });
    srv.listen({ port, host: address, exclusive: true }, () => {
      srv.close(() => {
        resolve(true);
      });
    });
  });
}

export class PortAllocator {
  readonly #used = new Set<number>();

  constructor(
    /** libvirt's range name, shown in the exhaustion error (`display`, `webSocket`). */
    readonly name: string,
    readonly range: PortRange,
    /** The host check (tests may replace it). */
    private readonly isFree: (port: number, address: string) => Promise<boolean> = canBindPort,
  ) {
    if (!Number.isInteger(range.min) || !Number.isInteger(range.max) || range.min < 1 || range.max > 65535)
      throw new RangeError(`port range '${name}' ${range.min}-${range.max} is not within 1-65535`);
    if (range.min > range.max)
      throw new RangeError(`port range '${name}' has min ${range.min} > max ${range.max}`);
  }

  /**
   * The lowest port of the range not handed out and bindable on `address`, reserved until
   * `release`. Fails with `PORT_RANGE_EXHAUSTED` when none is left.
   */
  async acquire(address = "127.0.0.1"): Promise<number> {
    for (let port = this.range.min; port <= this.range.max; port++) {
      if (this.#used.has(port)) continue;
      this.#used.add(port);
      if (await this.isFree(port, address)) return port;
      this.#used.delete(port);
    }
    throw new VirtError("PORT_RANGE_EXHAUSTED", {
      range: this.name,
      min: this.range.min,
      max: this.range.max,
      address,
    });
  }

  /**
   * Marks a port as held (a port written in the XML, or one a running guest holds after a
   * restart). Ports outside the range are ignored, as libvirt does. Returns whether this call
   * reserved it (false: outside the range or already held).
   */
  setUsed(port: number): boolean {
    if (port < this.range.min || port > this.range.max || this.#used.has(port)) return false;
    this.#used.add(port);
    return true;
  }

  /** Gives a port back; a port not held is ignored. */
  release(port: number): void {
    this.#used.delete(port);
  }

  has(port: number): boolean {
    return this.#used.has(port);
  }

  /** The ports held now, ascending. */
  held(): number[] {
    return [...this.#used].sort((a, b) => a - b);
  }
}
