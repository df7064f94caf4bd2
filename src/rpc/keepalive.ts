/**
 * libvirt's keepalive protocol (`virkeepalive.c`), the same on both ends: when nothing has been
 * received for `interval` seconds, send a PING (program KEEPALIVE, type MESSAGE, empty payload);
 * every packet received resets the count; after `count` PINGs without anything received the
 * peer is dead and the connection is closed. A PING received is answered with a PONG.
 */
import { KeepAliveProc, MessageStatus, MessageType, PROTOCOL_VERSION, Program } from "./protocol.ts";
import { encodePacket, type Header } from "./packet.ts";

export interface KeepAliveOptions {
  /** Seconds of silence before a PING (libvirt's default: 5). */
  interval: number;
  /** PINGs without an answer before the peer is declared dead (libvirt's daemon default: 5). */
  count: number;
  send(packet: Buffer): void;
  onDead(): void;
  /** Whether the timer may keep the process alive (false for clients). */
  ref?: boolean;
  /**
   * True while we deliberately do not read from the peer (too many calls in progress): its
   * answers wait unread in the socket, so silence then proves nothing.
   */
  busy?: () => boolean;
}

export function keepAlivePacket(proc: number): Buffer {
  return encodePacket({
    prog: Program.KEEPALIVE,
    vers: PROTOCOL_VERSION,
    proc,
    type: MessageType.MESSAGE,
    serial: 0,
    status: MessageStatus.OK,
  });
}

const PING = keepAlivePacket(KeepAliveProc.PING);
const PONG = keepAlivePacket(KeepAliveProc.PONG);

/** True when the header is a keepalive message. */
export function isKeepAlive(h: Header): boolean {
  return h.prog === Program.KEEPALIVE && h.type === MessageType.MESSAGE;
}

export class KeepAlive {
  #timer: NodeJS.Timeout | undefined;
  #lastReceived = Date.now();
  #countToDeath: number;
  #stopped = false;

  constructor(private readonly opts: KeepAliveOptions) {
    this.#countToDeath = opts.count;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    if (this.#stopped || this.#timer || this.opts.interval <= 0) return;
    this.#lastReceived = Date.now();
    this.#schedule(this.opts.interval * 1000);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Any packet from the peer proves it alive. */
  received(): void {
    this.#lastReceived = Date.now();
    this.#countToDeath = this.opts.count;
  }

  /** Handles a keepalive message; returns true when it was one. */
  handle(h: Header): boolean {
    if (!isKeepAlive(h)) return false;
    if (h.proc === KeepAliveProc.PING) this.opts.send(PONG);
    return true;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#tick();
    }, ms);
    if (this.opts.ref === false) this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.opts.busy?.()) this.received();
    const idle = Date.now() - this.#lastReceived;
    const interval = this.opts.interval * 1000;
    if (idle < interval) {
      this.#schedule(interval - idle);
      return;
    }
    if (this.#countToDeath <= 0) {
      this.stop();
      this.opts.onDead();
      return;
    }
    this.#countToDeath--;
    this.opts.send(PING);
    this.#schedule(interval);
  }
}

/** Answers a PING without keepalive timers (peers that never asked for keepalive). */
export function answerPing(h: Header, send: (b: Buffer) => void): boolean {
  if (!isKeepAlive(h)) return false;
  if (h.proc === KeepAliveProc.PING) send(PONG);
  return true;
}
