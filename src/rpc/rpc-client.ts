/**
 * The client end of the wire (libvirt's `virNetClient`): one socket, calls matched to replies by
 * serial (the first call is serial 0, then +1 per call, as libvirt's client does), asynchronous
 * MESSAGE packets handed to a listener (events), STREAM packets handed to the stream opened by
 * the call with that serial, keepalive. When the socket goes away every pending call fails with
 * libvirt's "End of file while reading data" and later calls with "client socket is closed".
 */
import { createConnection, type Socket } from "node:net";
import { VirtError } from "../util/errors/index.ts";
import { sendWithFds } from "../util/fdpass.ts";
import { RemoteVirtError } from "./errors.ts";
import { KeepAlive, answerPing, isKeepAlive } from "./keepalive.ts";
import { encodePacket, FrameError, PacketDecoder, type Header, type Packet } from "./packet.ts";
import { MessageStatus, MessageType, PROTOCOL_VERSION, STREAM_CHUNK } from "./protocol.ts";
import { remoteError, streamHole, type ProcDef } from "./remote-protocol.ts";
import { XdrReader } from "./xdr.ts";

interface PendingCall {
  readonly def: ProcDef<unknown, unknown>;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Receives the STREAM packets of one call's serial. */
export interface StreamSink {
  data(payload: Buffer): void;
  /** Status OK: end of data, or the confirmation of our finish/abort. */
  end(): void;
  /** Status ERROR with the daemon's error. */
  error(e: VirtError): void;
  /**
   * A STREAM_HOLE packet (sparse volume download): `length` bytes of zeros to skip. Without
   * this entry a hole is an error of the stream, as for a libvirt stream opened without
   * VIR_STREAM_NONBLOCK's sparse support.
   */
  hole?(length: bigint): void;
}

/** Bytes queued on the socket above which a stream sender waits (`drain`). */
const STREAM_HIGH_WATER = 4 * STREAM_CHUNK;

export type MessageListener = (h: Header, payload: Buffer) => void;

export interface ConnectSocketOptions {
  /** Give up connecting after this long (ms). */
  timeoutMs?: number;
}

/** Connects a UNIX socket; libvirt's "Failed to connect socket to 'PATH': reason" on failure. */
export function connectUnix(path: string, opts: ConnectSocketOptions = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new VirtError("RPC_CONNECT_SOCKET", { path, reason: "Connection timed out" }));
    }, opts.timeoutMs ?? 30_000);
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      s.destroy();
      reject(new VirtError("RPC_CONNECT_SOCKET", { path, reason: errnoText(e) }, { errno: e.code }));
    });
  });
}

const errnoTexts: Record<string, string> = {
  ENOENT: "No such file or directory",
  ECONNREFUSED: "Connection refused",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  ECONNRESET: "Connection reset by peer",
  EPIPE: "Broken pipe",
  ENOTSOCK: "Socket operation on non-socket",
};

function errnoText(e: NodeJS.ErrnoException): string {
  return (e.code !== undefined ? errnoTexts[e.code] : undefined) ?? e.message;
}

export class RpcClient {
  #serial = 0;
  readonly #pending = new Map<number, PendingCall>();
  readonly #streams = new Map<number, StreamSink>();
  readonly #decoder = new PacketDecoder();
  readonly #closeListeners = new Set<(reason: VirtError | null) => void>();
  #messageListener: MessageListener | undefined;
  #keepalive: KeepAlive | undefined;
  #closed = false;
  /** Why the connection ended (null = closed by us). */
  #closeReason: VirtError | null = null;

  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#onData(chunk);
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      this.#shutdown(new VirtError("RPC_EOF", { reason: errnoText(e) }));
    });
    socket.on("close", () => {
      this.#shutdown(new VirtError("RPC_EOF", { reason: "Input/output error" }));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Number of calls waiting for a reply. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  onMessage(listener: MessageListener): void {
    this.#messageListener = listener;
  }

  /** Called once when the connection ends: with the error, or null when `close()` ended it. */
  onClose(listener: (reason: VirtError | null) => void): void {
    this.#closeListeners.add(listener);
  }

  /** Starts libvirt's keepalive towards the server. */
  startKeepAlive(interval: number, count: number): void {
    if (this.#keepalive || interval <= 0) return;
    this.#keepalive = new KeepAlive({
      interval,
      count,
      ref: false,
      send: (b) => {
        this.#write(b);
      },
      onDead: () => {
        this.#shutdown(new VirtError("RPC_KEEPALIVE_TIMEOUT"));
      },
    });
    this.#keepalive.start();
  }

  /** Sends a CALL and waits for its REPLY; the daemon's ERROR reply becomes a RemoteVirtError. */
  call<A, R>(def: ProcDef<A, R>, args: A, stream?: StreamSink): Promise<R> {
    return this.#callTyped(def, args, stream, []);
  }

  /**
   * A CALL_WITH_FDS: descriptors `fds` (of this process; the caller keeps them) travel after the
   * packet, one byte each, as libvirt sends them (util/fdpass). Everything else written meanwhile
   * waits behind them. Only on a UNIX socket whose daemon answered FD_PASSING.
   */
  callWithFds<A, R>(def: ProcDef<A, R>, args: A, fds: readonly number[]): Promise<R> {
    return this.#callTyped(def, args, undefined, fds);
  }

  #callTyped<A, R>(
    def: ProcDef<A, R>,
    args: A,
    stream: StreamSink | undefined,
    fds: readonly number[],
  ): Promise<R> {
    if (this.#closed) return Promise.reject(this.#closeReason ?? new VirtError("RPC_SOCKET_CLOSED"));
    const serial = this.#serial;
    this.#serial = (this.#serial + 1) >>> 0;
    let packet: Buffer;
    try {
      packet = encodePacket(
        {
          prog: def.prog,
          vers: PROTOCOL_VERSION,
          proc: def.num,
          type: fds.length > 0 ? MessageType.CALL_WITH_FDS : MessageType.CALL,
          serial,
          status: MessageStatus.OK,
        },
        (w) => {
          if (fds.length > 0) w.uint(fds.length);
          def.args.enc(w, args);
        },
      );
    } catch (e) {
      return Promise.reject(
        new VirtError("RPC_ENCODE_FAILED", { reason: e instanceof Error ? e.message : String(e) }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(serial, { def: def, resolve: resolve, reject });
      if (stream) this.#streams.set(serial, stream);
      if (fds.length === 0) {
        this.#write(packet);
        return;
      }
      this.#held ??= [];
      this.#fdPending++;
      this.#fdSends = this.#fdSends.then(async () => {
        try {
          await sendWithFds(this.socket, [
            { data: packet },
            ...fds.map((fd) => ({ data: Buffer.from([0]), fds: [fd] })),
          ]);
        } catch (e) {
          // half a message went out: the connection cannot be trusted any more
          this.#shutdown(e instanceof VirtError ? e : new VirtError("RPC_SOCKET_CLOSED"));
        } finally {
          if (--this.#fdPending === 0) {
            const held = this.#held ?? [];
            this.#held = undefined;
            for (const b of held) this.#write(b);
          }
        }
      });
    });
  }

  /** Packets written while calls' descriptors are being sent (they must not come between). */
  #held: Buffer[] | undefined;
  #fdPending = 0;
  #fdSends: Promise<void> = Promise.resolve();

  /** The serial the next call will use (to bind a stream before the call is sent). */
  get nextSerial(): number {
    return this.#serial;
  }

  /** Sends stream data for the call `serial` (split in libvirt-sized packets). */
  streamSend(def: ProcDef<unknown, unknown>, serial: number, data: Uint8Array): void {
    for (let off = 0; off < data.length; off += STREAM_CHUNK) {
      this.#streamPacket(def, serial, MessageStatus.CONTINUE, data.subarray(off, off + STREAM_CHUNK));
    }
  }

  /**
   * Sends a STREAM_HOLE (libvirt's `virNetClientStreamSendHole`: status CONTINUE, payload
   * `virNetStreamHole` with flags 0) for a sparse upload.
   */
  streamSendHole(def: ProcDef<unknown, unknown>, serial: number, length: bigint): void {
    if (this.#closed) return;
    this.#write(
      encodePacket(
        {
          prog: def.prog,
          vers: PROTOCOL_VERSION,
          proc: def.num,
          type: MessageType.STREAM_HOLE,
          serial,
          status: MessageStatus.CONTINUE,
        },
        (w) => {
          streamHole.enc(w, { length, flags: 0 });
        },
      ),
    );
  }

  /**
   * Resolves once the socket's send queue is below a few packets (or the connection is gone),
   * so a stream sender never queues a whole volume in memory.
   */
  drain(): Promise<void> {
    if (this.#closed || this.socket.writableLength <= STREAM_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  /**
   * Stops (or resumes) reading the socket: a stream receiver whose consumer is slower than the
   * daemon holds the daemon back this way (TCP/UNIX flow control) instead of buffering.
   */
  pauseReading(pause: boolean): void {
    if (this.#closed) return;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** Sends finish (OK) or abort (ERROR) for a stream; the daemon confirms with a STREAM OK. */
  streamEnd(def: ProcDef<unknown, unknown>, serial: number, abort: boolean): void {
    this.#streamPacket(def, serial, abort ? MessageStatus.ERROR : MessageStatus.OK);
  }

  /** Routes the STREAM packets of `serial` to `sink`. */
  streamBind(serial: number, sink: StreamSink): void {
    if (!this.#closed) this.#streams.set(serial, sink);
  }

  streamRemove(serial: number): void {
    this.#streams.delete(serial);
  }

  #streamPacket(def: ProcDef<unknown, unknown>, serial: number, status: number, data?: Uint8Array): void {
    if (this.#closed) return;
    this.#write(
      encodePacket(
        { prog: def.prog, vers: PROTOCOL_VERSION, proc: def.num, type: MessageType.STREAM, serial, status },
        data,
      ),
    );
  }

  #write(b: Buffer): void {
    if (this.#held) {
      this.#held.push(b);
      return;
    }
    if (!this.#closed && !this.socket.destroyed) this.socket.write(b);
  }

  #onData(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch (e) {
      this.#shutdown(
        new VirtError("RPC_BAD_REPLY", { what: e instanceof FrameError ? e.message : String(e) }),
      );
      return;
    }
    for (const p of packets) {
      if (this.#closed) return;
      this.#keepalive?.received();
      this.#onPacket(p);
    }
  }

  #onPacket(p: Packet): void {
    const h = p.header;
    if (isKeepAlive(h)) {
      if (this.#keepalive) this.#keepalive.handle(h);
      else
        answerPing(h, (b) => {
          this.#write(b);
        });
      return;
    }
    switch (h.type) {
      case MessageType.REPLY: {
        const call = this.#pending.get(h.serial);
        if (!call || call.def.prog !== h.prog || call.def.num !== h.proc) return; // not ours: ignored
        this.#pending.delete(h.serial);
        if (h.status === MessageStatus.OK) {
          try {
            call.resolve(call.def.ret.dec(new XdrReader(p.payload)));
          } catch (e) {
            call.reject(
              new VirtError("RPC_BAD_REPLY", {
                what: `Unable to decode reply of ${call.def.name}: ${e instanceof Error ? e.message : String(e)}`,
              }),
            );
          }
        } else {
          this.#streams.delete(h.serial);
          call.reject(this.#decodeError(p.payload));
        }
        return;
      }
      case MessageType.MESSAGE:
        try {
          this.#messageListener?.(h, p.payload);
        } catch {
          // a listener's failure is its own
        }
        return;
      case MessageType.STREAM: {
        const sink = this.#streams.get(h.serial);
        if (!sink) return;
        if (h.status === MessageStatus.CONTINUE) sink.data(Buffer.from(p.payload));
        else if (h.status === MessageStatus.OK) {
          this.#streams.delete(h.serial);
          sink.end();
        } else {
          this.#streams.delete(h.serial);
          sink.error(this.#decodeError(p.payload));
        }
        return;
      }
      case MessageType.STREAM_HOLE: {
        const sink = this.#streams.get(h.serial);
        if (!sink) return;
        let length: bigint;
        try {
          length = streamHole.dec(new XdrReader(p.payload)).length;
        } catch (e) {
          this.#streams.delete(h.serial);
          sink.error(
            new VirtError("RPC_BAD_REPLY", {
              what: `Unable to decode stream hole: ${e instanceof Error ? e.message : String(e)}`,
            }),
          );
          return;
        }
        if (sink.hole) sink.hole(length);
        else {
          this.#streams.delete(h.serial);
          sink.error(new VirtError("RPC_STREAM_ABORTED", { reason: "Unexpected stream hole" }));
        }
        return;
      }
      default:
        return; // CALLs from a server, fds: not part of what tvirt's client speaks
    }
  }

  #decodeError(payload: Buffer): VirtError {
    try {
      return new RemoteVirtError(remoteError.dec(new XdrReader(payload)));
    } catch (e) {
      return new VirtError("RPC_BAD_REPLY", {
        what: `Unable to decode error reply: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }

  #shutdown(reason: VirtError | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#keepalive?.stop();
    this.socket.destroy();
    const err = reason ?? new VirtError("RPC_SOCKET_CLOSED");
    for (const call of this.#pending.values()) call.reject(err);
    this.#pending.clear();
    for (const s of this.#streams.values()) s.error(err);
    this.#streams.clear();
    for (const l of this.#closeListeners) {
      try {
        l(reason);
      } catch {
        // ignore
      }
    }
    this.#closeListeners.clear();
  }

  /** Closes the socket (pending calls fail with "client socket is closed"). */
  close(): void {
    this.#shutdown(null);
  }
}
