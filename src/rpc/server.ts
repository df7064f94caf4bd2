/**
 * The RPC server (libvirt's `virNetServer` + `virNetServerClient` + `virNetServerProgram`):
 * UNIX sockets (read-write and read-only), one `ServerClient` per accepted connection with its
 * own open `Connection`, event callbacks and streams, framing with libvirt's limits, keepalive,
 * and dispatch of CALLs to the procedure table of `dispatch.ts`.
 *
 * Faults stay with the client that caused them: a bad length word or an undecodable frame closes
 * that connection only; a bad payload, an unknown program or procedure, an unexpected type or
 * status gets an ERROR reply and the connection stays usable; a handler's failure is its reply.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { connect, isRemoteURI, parseURI, type Connection } from "../api/index.ts";
import { findDriver } from "../api/registry.ts";
import { toVirtError, VirtError } from "../util/errors/index.ts";
import {
  fdPassingAvailable,
  sendWithFds,
  socketFd,
  startFdReader,
  type FdReader,
  type ReceivedFd,
} from "../util/fdpass.ts";
import type { Codec } from "./codec.ts";
import { daemonBackedDrivers } from "./client.ts";
import { buildDispatchTable, type DispatchEntry } from "./dispatch.ts";
import { toRemoteError } from "./errors.ts";
import { KeepAlive, answerPing, isKeepAlive } from "./keepalive.ts";
import { encodePacket, FrameError, PacketDecoder, type Header, type Packet } from "./packet.ts";
import { remoteProcedureNames } from "./procedure-names.ts";
import { MessageStatus, MessageType, PROTOCOL_VERSION, Program } from "./protocol.ts";
import { remoteError, streamHole, type MsgDef } from "./remote-protocol.ts";
import { XdrReader, type XdrWriter } from "./xdr.ts";

export interface RpcLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const silent: RpcLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface RpcServerOptions {
  /** URI opened when a client sends CONNECT_OPEN with no name (libvirt's probe). */
  defaultURI: string;
  /** Opens the connection a client asked for (default: `connect()` of `api/`, local URIs only). */
  openConnection?: (uri: string, readonly: boolean) => Promise<Connection>;
  /** Clients beyond this many are disconnected at once (libvirtd's `max_clients`, 5000). */
  maxClients?: number;
  /** Calls of one client processed at once; more wait unread (`max_client_requests`, 5). */
  maxClientRequests?: number;
  /** Keepalive towards clients that asked for it (`keepalive_interval`/`keepalive_count`). */
  keepaliveInterval?: number;
  keepaliveCount?: number;
  /** A client whose unsent replies exceed this many bytes is disconnected (slow reader). */
  maxQueuedBytes?: number;
  log?: RpcLogger;
  /** Called whenever the number of connected clients changes. */
  onClientCount?: (n: number) => void;
}

export interface ListenOptions {
  /** Clients of this socket get read-only connections (libvirt's `-sock-ro`). */
  readonly?: boolean;
  /** Socket file mode (default 0600 read-write, 0666 read-only). */
  mode?: number;
  /** Group owning the socket file (libvirt's `unix_sock_group`). */
  gid?: number;
}

/** A UNIX socket path in use: is a daemon answering there? */
export function socketAlive(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Opens a local URI through `api/`, refusing URIs that would go to the remote driver. */
export async function openLocal(uri: string, readonly: boolean): Promise<Connection> {
  const parsed = parseURI(uri);
  let remote: boolean;
  try {
    remote = daemonBackedDrivers.has(findDriver(parsed));
  } catch {
    remote = false; // connect() reports "no connection driver available"
  }
  if (remote)
    throw isRemoteURI(parsed)
      ? new VirtError("RPC_NOT_SERVED", { uri })
      : new VirtError("API_NO_CONNECT", { uri });
  return connect(uri, { readonly });
}

let nextClientId = 1;

/** A server-side stream (console, screenshot, volume) bound to the serial of the call that opened it. */
export interface ServerStream {
  readonly proc: number;
  readonly prog: number;
  /**
   * Data from the client. A promise holds the client's further packets back until it settles
   * (flow control: the client's data counts as a request in flight while it is being written,
   * so a slow volume stops the server reading the socket); a rejection aborts the stream and
   * is sent to the client as the stream's error.
   */
  write(data: Buffer): void | Promise<void>;
  /**
   * A STREAM_HOLE from the client (sparse upload), in order with the data. Absent: a hole is
   * refused with "Unexpected stream hole", as libvirtd does for a stream opened without
   * VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM.
   */
  hole?(length: bigint): void | Promise<void>;
  /**
   * The client's finish (status OK) after all its data was written: a failure is sent as the
   * stream's error instead of the confirmation (libvirt's `virStreamFinish` in
   * daemonStreamHandleFinish). Absent: `close` stands for it.
   */
  finish?(): Promise<void>;
  /** The client aborted (status ERROR) or went away: release the device side. */
  close(): Promise<void>;
}

/** Bytes queued to a client above which a stream sender waits (`ServerClient.drained`). */
const STREAM_HIGH_WATER = 1024 * 1024;

/** One accepted connection. */
export class ServerClient {
  readonly id = nextClientId++;
  conn: Connection | null = null;
  /** CONNECT_OPEN in progress. */
  opening = false;
  closed = false;
  keepalive: KeepAlive | null = null;
  closeCallbackRegistered = false;
  /** Driver callback ids registered through CALLBACK_REGISTER_ANY (316). */
  readonly eventCallbacks = new Set<number>();
  /** Legacy registrations: 105 (lifecycle) and 167 (per event id) → driver callback id. */
  legacyLifecycle: number | null = null;
  readonly legacyAny = new Map<number, number>();
  readonly streams = new Map<number, ServerStream>();
  readonly decoder = new PacketDecoder();
  inflight = 0;
  #paused = false;

  constructor(
    readonly server: RpcServer,
    readonly socket: Socket,
    readonly readonly: boolean,
  ) {}

  get label(): string {
    return `client ${this.id}${this.readonly ? " (ro)" : ""}`;
  }

  /** Packets queued while a reply with descriptors is being sent by the helper. */
  #held: Buffer[] | undefined;
  #fdSends: Promise<void> = Promise.resolve();

  /**
   * True when descriptors can be passed to this client: a UNIX socket, and the SCM_RIGHTS helper
   * works here (util/fdpass). Answers FD_PASSING.
   */
  async fdPassing(): Promise<boolean> {
    if (this.socket.remoteFamily !== undefined || socketFd(this.socket) === undefined) return false;
    return fdPassingAvailable();
  }

  /** The helper reading this client's socket once descriptors may come (util/fdpass). */
  #fdReader: FdReader | undefined;
  #fdReaderStarting: Promise<boolean> | undefined;
  /** Where the bytes read go (the server's framing); set by the server at accept. */
  onInput: (chunk: Buffer) => void = () => undefined;

  /** True once descriptors sent by the client are received (CALL_WITH_FDS is served). */
  get receivesFds(): boolean {
    return this.#fdReader !== undefined;
  }

  /**
   * Makes the client's descriptors receivable: the socket's reading moves from libuv to the
   * receiving helper (util/fdpass `startFdReader`). Done when the client asks FD_PASSING, before
   * the answer goes out: a libvirt client sends descriptors only after that answer, so none can
   * reach libuv's read(2), which would drop them. False when it cannot be done (not a UNIX
   * socket, no helper, bytes already read and not yet handled).
   */
  enableFdReceiving(): Promise<boolean> {
    this.#fdReaderStarting ??= (async () => {
      if (this.closed || !(await this.fdPassing())) return false;
      let reader: FdReader | undefined;
      try {
        reader = await startFdReader(this.socket);
      } catch (e) {
        this.server.log.warn(`${this.label}: cannot receive descriptors: ${String(e)}`);
        return false;
      }
      if (!reader) return false;
      // closed while the helper started
      if (this.socket.destroyed) {
        reader.close();
        return false;
      }
      this.#fdReader = reader;
      if (this.#paused) reader.data.pause();
      reader.data.on("data", (chunk: Buffer) => {
        this.onInput(chunk);
      });
      // node no longer reads the socket, so the peer's close is seen here
      reader.data.on("end", () => {
        this.close();
      });
      reader.data.on("error", () => {
        this.close();
      });
      return true;
    })();
    return this.#fdReaderStarting;
  }

  /** The next descriptor the client sent (a CALL_WITH_FDS announces how many). */
  async takeFd(): Promise<ReceivedFd | undefined> {
    if (!this.#fdReader) throw new VirtError("FD_PASSING_FAILED", { reason: "descriptors are not received" });
    return this.#fdReader.takeFd(10_000);
  }

  send(buf: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.#held) {
      this.#held.push(buf);
      return;
    }
    this.socket.write(buf);
    if (this.socket.writableLength > this.server.maxQueuedBytes) {
      this.server.log.warn(
        `${this.label}: ${this.socket.writableLength} bytes unsent, disconnecting a client that does not read`,
      );
      this.close();
    }
  }

  /**
   * Sends `packet` (a *_WITH_FDS message) and then each descriptor on a byte of its own, as
   * libvirt's virNetSocketSendFD does: the client reads the packet exactly and then one byte per
   * descriptor with recvmsg. Everything else sent meanwhile waits, so nothing can come between.
   * The sockets are closed here (the client has its own copies). A failure closes the connection:
   * the client would wait for a descriptor forever.
   */
  sendWithFds(packet: Buffer, sockets: readonly Socket[]): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed || this.socket.destroyed) return;
      const fds = sockets.map((s) => socketFd(s));
      const held: Buffer[] = [];
      this.#held = held;
      try {
        if (fds.some((fd) => fd === undefined))
          throw new VirtError("FD_PASSING_FAILED", { reason: "a socket to pass is closed" });
        await sendWithFds(this.socket, [
          { data: packet },
          ...fds.map((fd) => ({ data: Buffer.from([0]), fds: [fd as number] })),
        ]);
      } catch (e) {
        this.server.log.warn(
          `${this.label}: ${e instanceof Error ? e.message : String(e)}; closing the connection`,
        );
        this.close();
      } finally {
        for (const s of sockets) s.destroy();
        this.#held = undefined;
        for (const b of held) this.send(b);
      }
    };
    this.#fdSends = this.#fdSends.then(run);
    return this.#fdSends;
  }

  /** Sends an event MESSAGE. */
  sendMessage<M>(def: MsgDef<M>, value: M): void {
    this.#sendPacket(
      {
        prog: def.prog,
        vers: PROTOCOL_VERSION,
        proc: def.num,
        type: MessageType.MESSAGE,
        serial: 1,
        status: MessageStatus.OK,
      },
      (w) => {
        def.msg.enc(w, value);
      },
    );
  }

  /** Sends stream data (CONTINUE), end (OK, empty) or an error (ERROR + remote_error). */
  sendStream(
    prog: number,
    proc: number,
    serial: number,
    status: number,
    body?: Uint8Array | ((w: XdrWriter) => void),
  ): void {
    this.#sendPacket({ prog, vers: PROTOCOL_VERSION, proc, type: MessageType.STREAM, serial, status }, body);
  }

  /** Sends a STREAM_HOLE (sparse download): status CONTINUE, `virNetStreamHole` with flags 0. */
  sendStreamHole(prog: number, proc: number, serial: number, length: bigint): void {
    this.#sendPacket(
      {
        prog,
        vers: PROTOCOL_VERSION,
        proc,
        type: MessageType.STREAM_HOLE,
        serial,
        status: MessageStatus.CONTINUE,
      },
      (w) => {
        streamHole.enc(w, { length, flags: 0 });
      },
    );
  }

  #sendPacket(h: Header, body?: Uint8Array | ((w: XdrWriter) => void)): void {
    if (this.closed) return;
    let buf: Buffer;
    try {
      buf = encodePacket(h, body);
    } catch (e) {
      this.server.log.error(`${this.label}: cannot encode ${h.prog.toString(16)}:${h.proc}: ${String(e)}`);
      return;
    }
    this.send(buf);
  }

  /**
   * Resolves once the bytes queued to the client are below a few stream packets (or the client
   * is gone): a download waits here so that it never exceeds `maxQueuedBytes`.
   */
  drained(): Promise<void> {
    if (this.closed || this.socket.destroyed || this.socket.writableLength <= STREAM_HIGH_WATER)
      return Promise.resolve();
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

  /** True while reading is paused for max_client_requests. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stops reading while too many calls run (libvirt's max_client_requests). */
  updateFlow(): void {
    const over = this.inflight >= this.server.maxClientRequests;
    if (over && !this.#paused) {
      this.#paused = true;
      (this.#fdReader?.data ?? this.socket).pause();
    } else if (!over && this.#paused) {
      this.#paused = false;
      (this.#fdReader?.data ?? this.socket).resume();
    }
  }

  /** Releases everything the client holds: streams, event callbacks, the connection. */
  async releaseConnection(): Promise<void> {
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const st of streams) await st.close().catch(() => undefined);
    const conn = this.conn;
    this.conn = null;
    this.eventCallbacks.clear();
    this.legacyAny.clear();
    this.legacyLifecycle = null;
    if (conn)
      await conn.close().catch((e: unknown) => {
        this.server.log.warn(`${this.label}: closing connection: ${String(e)}`);
      });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.keepalive?.stop();
    this.socket.destroy();
    // the helper holds a copy of the socket: the peer sees the close only once it is gone
    this.#fdReader?.close();
  }
}

/** The RPC server: sockets, clients, dispatch. */
export class RpcServer {
  readonly log: RpcLogger;
  readonly maxClients: number;
  readonly maxClientRequests: number;
  readonly maxQueuedBytes: number;
  readonly keepaliveInterval: number;
  readonly keepaliveCount: number;
  readonly defaultURI: string;
  readonly openConnection: (uri: string, readonly: boolean) => Promise<Connection>;
  /** `owned`: the socket file is ours to remove at close (not one a service manager passed). */
  readonly #listeners: { server: Server; path: string; owned: boolean }[] = [];
  readonly #clients = new Set<ServerClient>();
  readonly #table: Map<string, DispatchEntry>;
  readonly #pending = new Set<Promise<unknown>>();
  #callsInFlight = 0;
  #closing = false;

  constructor(private readonly opts: RpcServerOptions) {
    this.log = opts.log ?? silent;
    this.maxClients = opts.maxClients ?? 5000;
    this.maxClientRequests = opts.maxClientRequests ?? 5;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.keepaliveInterval = opts.keepaliveInterval ?? 5;
    this.keepaliveCount = opts.keepaliveCount ?? 5;
    this.defaultURI = opts.defaultURI;
    this.openConnection = opts.openConnection ?? openLocal;
    this.#table = buildDispatchTable();
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  /** Calls being served, over all clients. */
  get callsInFlight(): number {
    return this.#callsInFlight;
  }

  /** Socket paths listened on. */
  get paths(): string[] {
    return this.#listeners.map((l) => l.path);
  }

  /**
   * Listens on a UNIX socket. A stale socket file (nobody answering) is replaced; a live one is
   * refused with DAEMON_SOCKET_BUSY. The file gets `mode` (and `gid`) before anyone can connect.
   */
  async listen(path: string, lo: ListenOptions = {}): Promise<void> {
    const readonly = lo.readonly ?? false;
    const mode = lo.mode ?? (readonly ? 0o666 : 0o600);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    if (isSocketFile(path)) {
      if (await socketAlive(path)) throw new VirtError("DAEMON_SOCKET_BUSY", { path });
      unlinkSync(path); // stale: its daemon is gone
    } else if (existsSync(path)) {
      throw new VirtError("DAEMON_SOCKET_BUSY", { path });
    }
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => {
      this.#accept(socket, readonly);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // The socket is created with no permission for anyone but us, then opened up by chmod.
      const old = process.umask(0o077);
      try {
        server.listen(path, () => {
          server.off("error", reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    server.on("error", (e) => {
      this.log.error(`socket ${path}: ${e.message}`);
    });
    try {
      if (lo.gid !== undefined) chownSync(path, -1, lo.gid);
      chmodSync(path, mode);
    } catch (e) {
      server.close();
      throw e;
    }
    this.#listeners.push({ server, path, owned: true });
    this.log.info(
      `listening on ${path} (${readonly ? "read-only" : "read-write"}, mode ${mode.toString(8).padStart(4, "0")})`,
    );
  }

  /**
   * Serves a listening socket someone else bound and passed to us (systemd's socket activation):
   * its file, mode and group are the passer's, and it stays in place when we close, so that
   * connections arriving after we exit wait in its backlog for the next start.
   */
  async listenFd(fd: number, lo: { readonly?: boolean; label?: string } = {}): Promise<string> {
    const readonly = lo.readonly ?? false;
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => {
      this.#accept(socket, readonly);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ fd }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // address() is empty for a socket bound elsewhere: the caller's label names it
    const addr = server.address();
    const path = lo.label ?? (typeof addr === "string" && addr !== "" ? addr : `fd ${fd}`);
    server.on("error", (e) => {
      this.log.error(`socket ${path}: ${e.message}`);
    });
    this.#listeners.push({ server, path, owned: false });
    this.log.info(
      `listening on ${path} (${readonly ? "read-only" : "read-write"}, passed by the service manager)`,
    );
    return path;
  }

  /** Serves an already connected socket (tests, socketpair). */
  serveSocket(socket: Socket, readonly = false): ServerClient | undefined {
    return this.#accept(socket, readonly);
  }

  #accept(socket: Socket, readonly: boolean): ServerClient | undefined {
    if (this.#closing) {
      socket.destroy();
      return undefined;
    }
    if (this.#clients.size >= this.maxClients) {
      this.log.warn(`Too many active clients (${this.#clients.size}), dropping connection`);
      socket.destroy();
      return undefined;
    }
    const client = new ServerClient(this, socket, readonly);
    this.#clients.add(client);
    this.log.debug(`${client.label}: connected`);
    this.opts.onClientCount?.(this.#clients.size);
    client.onInput = (chunk) => {
      this.#onData(client, chunk);
    };
    socket.on("data", (chunk: Buffer) => {
      this.#onData(client, chunk);
    });
    socket.on("error", (e) => {
      this.log.debug(`${client.label}: ${e.message}`);
    });
    socket.on("close", () => {
      this.#onClose(client);
    });
    return client;
  }

  #onClose(client: ServerClient): void {
    client.close();
    if (!this.#clients.delete(client)) return;
    this.log.debug(`${client.label}: disconnected`);
    this.#track(client.releaseConnection());
    this.opts.onClientCount?.(this.#clients.size);
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  #onData(client: ServerClient, chunk: Buffer): void {
    if (client.closed) return;
    let packets: Packet[];
    try {
      packets = client.decoder.push(chunk);
    } catch (e) {
      this.log.warn(
        `${client.label}: ${e instanceof FrameError ? e.message : String(e)}; closing the connection`,
      );
      client.close();
      return;
    }
    for (const p of packets) {
      if (client.socket.destroyed) return;
      client.keepalive?.received();
      this.#onPacket(client, p);
    }
  }

  #onPacket(client: ServerClient, p: Packet): void {
    const h = p.header;
    if (isKeepAlive(h)) {
      if (client.keepalive) client.keepalive.handle(h);
      else
        answerPing(h, (b) => {
          client.send(b);
        });
      return;
    }
    let payload = p.payload;
    /** The descriptors of a CALL_WITH_FDS, taken in packet order whatever becomes of the call. */
    let incoming: Promise<(ReceivedFd | undefined)[]> | undefined;
    const discard = (): void => {
      void incoming?.then((list) => {
        for (const f of list) f?.close();
      });
    };
    switch (h.type) {
      case MessageType.STREAM:
      case MessageType.STREAM_HOLE:
        this.#onStreamPacket(client, p);
        return;
      case MessageType.CALL:
        break;
      case MessageType.CALL_WITH_FDS:
        if (!client.receivesFds) {
          this.#replyError(client, h, new VirtError("RPC_FDS_UNSUPPORTED", { proc: h.proc }));
          return;
        }
        {
          // the count comes before the payload (the decoder checked it against the maximum)
          const nfds = payload.length >= 4 ? payload.readUInt32BE(0) : 0;
          payload = payload.subarray(4);
          const takes = Array.from({ length: nfds }, () => client.takeFd());
          incoming = Promise.allSettled(takes).then((rs) => {
            const got = rs.map((r) => (r.status === "fulfilled" ? r.value : undefined));
            const failed = rs.find((r) => r.status === "rejected");
            if (failed) {
              for (const f of got) f?.close();
              throw failed.reason;
            }
            return got;
          });
          incoming.catch(() => undefined);
        }
        break;
      default:
        this.#replyError(client, h, new VirtError("RPC_UNEXPECTED_TYPE", { type: h.type }));
        return;
    }
    if ((h.prog !== Program.REMOTE && h.prog !== Program.QEMU) || h.vers !== PROTOCOL_VERSION) {
      this.#replyError(client, h, new VirtError("RPC_UNKNOWN_PROGRAM", { prog: h.prog, vers: h.vers }));
      discard();
      return;
    }
    if (h.status !== MessageStatus.OK) {
      this.#replyError(client, h, new VirtError("RPC_UNEXPECTED_STATUS", { status: h.status }));
      discard();
      return;
    }
    const entry = this.#table.get(`${h.prog}:${h.proc}`);
    if (!entry) {
      const name = h.prog === Program.REMOTE ? remoteProcedureNames.get(h.proc) : undefined;
      this.log.debug(`${client.label}: unsupported procedure ${h.proc}${name ? ` (${name})` : ""}`);
      this.#replyError(client, h, new VirtError("RPC_UNKNOWN_PROCEDURE", { proc: h.proc }));
      discard();
      return;
    }
    let args: unknown;
    try {
      args = entry.def.args.dec(new XdrReader(payload));
    } catch (e) {
      discard();
      this.#replyError(
        client,
        h,
        new VirtError("RPC_DECODE_FAILED", { reason: e instanceof Error ? e.message : String(e) }),
      );
      return;
    }
    client.inflight++;
    this.#callsInFlight++;
    client.updateFlow();
    const after: (() => void)[] = [];
    const fds: Socket[] = [];
    const run = (async (): Promise<void> => {
      let received: (ReceivedFd | undefined)[] = [];
      try {
        if (incoming) received = await incoming;
        const ret = await entry.fn(
          {
            client,
            header: h,
            conn: () => {
              if (!client.conn) throw new VirtError("RPC_CONNECTION_NOT_OPEN");
              return client.conn;
            },
            afterReply: (fn) => after.push(fn),
            replyFds: (sockets) => fds.push(...sockets),
            receivedFds: received.map((f) => f?.fd),
          },
          args,
        );
        if (fds.length > 0) await this.#replyWithFds(client, h, entry.def.ret, ret, fds.splice(0));
        else this.#reply(client, h, entry.def.ret, ret);
        for (const fn of after) fn();
      } catch (e) {
        for (const s of fds) s.destroy();
        if (!(e instanceof VirtError))
          this.log.error(
            `${client.label}: ${entry.def.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
          );
        this.#replyError(client, h, e);
      } finally {
        // the handler has handed them on (QEMU has its own copies) or did not want them
        for (const f of received) f?.close();
        client.inflight--;
        this.#callsInFlight--;
        client.updateFlow();
      }
    })();
    this.#track(run);
  }

  #reply(client: ServerClient, h: Header, codec: Codec<unknown>, value: unknown): void {
    let buf: Buffer;
    try {
      buf = encodePacket({ ...h, type: MessageType.REPLY, status: MessageStatus.OK }, (w) => {
        codec.enc(w, value);
      });
    } catch (e) {
      this.#replyError(
        client,
        h,
        new VirtError("RPC_ENCODE_FAILED", { reason: e instanceof Error ? e.message : String(e) }),
      );
      return;
    }
    client.send(buf);
  }

  /** REPLY_WITH_FDS: the descriptor count before the payload, the descriptors after the packet. */
  async #replyWithFds(
    client: ServerClient,
    h: Header,
    codec: Codec<unknown>,
    value: unknown,
    sockets: readonly Socket[],
  ): Promise<void> {
    let buf: Buffer;
    try {
      buf = encodePacket({ ...h, type: MessageType.REPLY_WITH_FDS, status: MessageStatus.OK }, (w) => {
        w.uint(sockets.length);
        codec.enc(w, value);
      });
    } catch (e) {
      for (const s of sockets) s.destroy();
      this.#replyError(
        client,
        h,
        new VirtError("RPC_ENCODE_FAILED", { reason: e instanceof Error ? e.message : String(e) }),
      );
      return;
    }
    await client.sendWithFds(buf, sockets);
  }

  #replyError(client: ServerClient, h: Header, e: unknown): void {
    const err = e instanceof VirtError ? e : toVirtError(e);
    const buf = encodePacket({ ...h, type: MessageType.REPLY, status: MessageStatus.ERROR }, (w) => {
      remoteError.enc(w, toRemoteError(err));
    });
    client.send(buf);
  }

  /** Each stream's writes in order: the packets of one stream are handled one after the other. */
  readonly #streamQueues = new WeakMap<ServerStream, Promise<void>>();
  /** Streams finished, aborted or failed: their queued packets are dropped. */
  readonly #streamsEnded = new WeakSet<ServerStream>();

  #onStreamPacket(client: ServerClient, p: Packet): void {
    const h = p.header;
    const st = client.streams.get(h.serial);
    if (!st || st.proc !== h.proc || st.prog !== h.prog) {
      // Data may still arrive after a stream was closed: dropped, as libvirt does.
      this.log.debug(`${client.label}: ignoring stream data for serial ${h.serial}`);
      return;
    }
    const fail = (e: unknown): void => {
      if (this.#streamsEnded.has(st)) return;
      this.#streamsEnded.add(st);
      if (client.streams.get(h.serial) === st) client.streams.delete(h.serial);
      this.#track(st.close().catch(() => undefined));
      client.sendStream(h.prog, h.proc, h.serial, MessageStatus.ERROR, (w) => {
        remoteError.enc(w, toRemoteError(e instanceof VirtError ? e : toVirtError(e)));
      });
    };
    /** Runs `step` after the stream's earlier packets, counting it as a request in flight. */
    const queue = (step: () => void | Promise<void>): void => {
      const prev = this.#streamQueues.get(st) ?? Promise.resolve();
      client.inflight++;
      client.updateFlow();
      const next = prev.then(async () => {
        try {
          if (!this.#streamsEnded.has(st)) await step();
        } catch (e) {
          fail(e);
        } finally {
          client.inflight--;
          client.updateFlow();
        }
      });
      this.#streamQueues.set(st, next);
      this.#track(next);
    };
    if (h.type === MessageType.STREAM_HOLE) {
      const hole = st.hole?.bind(st);
      if (!hole) {
        fail(new VirtError("RPC_STREAM_ABORTED", { reason: "Unexpected stream hole" }));
        return;
      }
      let length: bigint;
      try {
        length = streamHole.dec(new XdrReader(p.payload)).length;
      } catch (e) {
        fail(new VirtError("RPC_DECODE_FAILED", { reason: e instanceof Error ? e.message : String(e) }));
        return;
      }
      queue(() => hole(length));
      return;
    }
    if (h.status === MessageStatus.CONTINUE) {
      if (p.payload.length > 0) {
        // The payload is a view of the packet's own bytes (a fresh buffer per socket read or per
        // reassembled packet, never reused): kept as is, without a copy per chunk, which for a
        // volume upload halved what the garbage collector had to reclaim.
        const data = p.payload;
        queue(() => st.write(data));
      }
      return;
    }
    const finish = st.finish?.bind(st);
    if (h.status === MessageStatus.OK && finish) {
      // finish: after the data written so far; its failure is the stream's error
      queue(async () => {
        await finish();
        this.#streamsEnded.add(st);
        if (client.streams.get(h.serial) === st) client.streams.delete(h.serial);
        client.sendStream(h.prog, h.proc, h.serial, MessageStatus.OK);
      });
      return;
    }
    // OK = finish (after the data written so far), ERROR = abort (queued data dropped): both
    // release the device side and are confirmed empty.
    client.streams.delete(h.serial);
    const abort = h.status !== MessageStatus.OK;
    if (abort) this.#streamsEnded.add(st);
    const prev = abort ? Promise.resolve() : (this.#streamQueues.get(st) ?? Promise.resolve());
    this.#track(
      prev
        .then(() => {
          this.#streamsEnded.add(st);
          return st.close();
        })
        .finally(() => {
          client.sendStream(h.prog, h.proc, h.serial, MessageStatus.OK);
        }),
    );
  }

  /** Stops listening, disconnects every client and releases their connections. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      this.#listeners.map(
        (l) =>
          new Promise<void>((resolve) => {
            l.server.close(() => {
              resolve();
            });
          }),
      ),
    );
    for (const l of this.#listeners) {
      try {
        if (l.owned && isSocketFile(l.path)) unlinkSync(l.path);
      } catch {
        // already gone
      }
    }
    this.#listeners.length = 0;
    for (const c of [...this.#clients]) {
      c.close();
      this.#onClose(c);
    }
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

function isSocketFile(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}
