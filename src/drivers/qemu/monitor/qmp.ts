/**
 * QMP client: one connection to one QEMU monitor socket, for the whole life of a QEMU process.
 *
 * - `connectQmp()` opens the unix socket (retrying while QEMU has not created it yet), reads the
 *   greeting and leaves capabilities-negotiation mode with `qmp_capabilities`.
 * - `execute()` sends commands one at a time, each with its own id; a command waits in a queue
 *   until the reply to the previous one arrived, so replies can never be mismatched. A command
 *   has a timeout and can be cancelled with an AbortSignal; a reply that arrives after its
 *   command was given up is recognised by its id and dropped.
 * - QEMU's errors become `QEMU_COMMAND_FAILED` errors carrying QEMU's error class and text.
 * - Events are delivered to listeners synchronously, in the order QEMU sent them (also relative
 *   to command replies), or through an async iterator (`events()`) for consumers that handle
 *   each event with `await`.
 * - End of file, socket errors, malformed data and `close()` fail every waiting command with a
 *   clear error and release the socket and all timers.
 *
 * Numbers above 2^53 (some uint64 defaults of `device-list-properties`) lose precision, as with
 * any `JSON.parse`.
 */
import { createConnection, type Socket } from "node:net";
import { VirtError, type ErrorDetails } from "../../../util/errors/index.ts";
import { sendWithFds } from "../../../util/fdpass.ts";

export type QmpObject = Record<string, unknown>;

export interface QmpVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** `package` of the greeting, e.g. `Debian 1:7.2+dfsg-7+deb12u18+b3` or `v7.2.0`. */
  readonly package: string;
}

export interface QmpGreeting {
  readonly version: QmpVersion;
  /** Capabilities QEMU offers (`oob`); tvirt enables none. */
  readonly capabilities: readonly string[];
}

export interface QmpEvent {
  readonly event: string;
  readonly data: QmpObject;
  /** QEMU's timestamp of the event, in microseconds since the epoch (0 if absent). */
  readonly timestampUs: number;
  /** The message had a `data` member (libvirt passes no details for events without one). */
  readonly hasData?: boolean;
}

export interface QmpConnectOptions {
  /** Path of the QMP unix socket. */
  readonly path: string;
  /**
   * What this monitor belongs to, for messages: `domain 'vm1'`, `QEMU binary /usr/bin/…`.
   * Defaults to the socket path.
   */
  readonly name?: string;
  /** Time allowed for connecting, the greeting and `qmp_capabilities` together (default 10 s). */
  readonly timeoutMs?: number;
  /** Default timeout of `execute()` when the call gives none (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** Aborts connecting (for instance when the QEMU process exited meanwhile). */
  readonly signal?: AbortSignal;
  /** Retry while the socket does not exist yet or refuses connections (default true). */
  readonly retry?: boolean;
  /**
   * Called when an event listener throws. The default reports it with `process.emitWarning`;
   * a throwing listener never disturbs the connection or the other listeners.
   */
  readonly onListenerError?: (error: unknown, event: QmpEvent) => void;
  /** Largest accepted message in bytes (default 64 MiB); a larger one closes the connection. */
  readonly maxMessageBytes?: number;
}

export interface QmpExecuteOptions {
  /** Overrides the connection's default command timeout. `0` means no timeout. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface Unsubscribe {
  (): void;
}

interface PendingCommand {
  readonly id: string;
  readonly command: string;
  readonly line: string;
  /** A descriptor sent with the command's text (SCM_RIGHTS), as libvirt does for `getfd`. */
  readonly fd?: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: VirtError) => void;
  timer: NodeJS.Timeout | undefined;
  cleanupAbort: (() => void) | undefined;
  settled: boolean;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const RETRY_INTERVAL_MS = 10;
const MAX_ABANDONED_IDS = 1024;

function isObject(v: unknown): v is QmpObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1);
}

function errnoOf(e: unknown): string | undefined {
  return isObject(e) && typeof e.code === "string" ? e.code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message;
  if (typeof r === "string") return r;
  return "aborted by the caller";
}

function parseGreeting(msg: QmpObject): QmpGreeting | undefined {
  const qmp = msg.QMP;
  if (!isObject(qmp)) return undefined;
  const version = isObject(qmp.version) ? qmp.version : {};
  const qemu = isObject(version.qemu) ? version.qemu : {};
  const num = (v: unknown): number => (typeof v === "number" ? v : 0);
  const caps = Array.isArray(qmp.capabilities)
    ? qmp.capabilities.filter((c): c is string => typeof c === "string")
    : [];
  return {
    version: {
      major: num(qemu.major),
      minor: num(qemu.minor),
      micro: num(qemu.micro),
      package: typeof version.package === "string" ? version.package : "",
    },
    capabilities: caps,
  };
}

/**
 * Opens a unix socket, retrying ENOENT/ECONNREFUSED (QEMU not listening yet) until the deadline
 * or the signal. Resolves with a connected socket.
 */
async function openSocket(
  path: string,
  name: string,
  deadline: number,
  retry: boolean,
  signal: AbortSignal | undefined,
): Promise<Socket> {
  for (;;) {
    if (signal?.aborted) {
      throw new VirtError("QEMU_MONITOR_CONNECT_FAILED", { name, path, reason: abortReason(signal) });
    }
    const attempt = await new Promise<Socket | { error: unknown }>((resolve) => {
      const sock = createConnection({ path });
      const onError = (error: unknown): void => {
        sock.removeListener("connect", onConnect);
        sock.destroy();
        resolve({ error });
      };
      const onConnect = (): void => {
        sock.removeListener("error", onError);
        resolve(sock);
      };
      sock.once("error", onError);
      sock.once("connect", onConnect);
    });
    if (!("error" in attempt)) return attempt;
    const code = errnoOf(attempt.error);
    const transient = code === "ENOENT" || code === "ECONNREFUSED" || code === "EAGAIN";
    const remaining = deadline - Date.now();
    if (!retry || !transient || remaining <= 0) {
      const reason =
        remaining <= 0 && transient
          ? `${messageOf(attempt.error)} (gave up waiting)`
          : messageOf(attempt.error);
      throw new VirtError(
        "QEMU_MONITOR_CONNECT_FAILED",
        { name, path, reason },
        { errno: code },
        { cause: attempt.error },
      );
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(RETRY_INTERVAL_MS, remaining));
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * Connects to a QMP socket, reads the greeting and negotiates capabilities. The returned client
 * is ready for `execute()`. Every failure is a `VirtError` and leaves nothing open.
 */
export async function connectQmp(options: QmpConnectOptions): Promise<QmpClient> {
  const name = options.name ?? `the QEMU process at '${options.path}'`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const socket = await openSocket(options.path, name, deadline, options.retry ?? true, options.signal);
  const client = new QmpClient(socket, name, options);
  try {
    await client.handshake(Math.max(1, deadline - Date.now()), options.signal);
  } catch (e) {
    client.destroy();
    throw e;
  }
  return client;
}

/**
 * A connected QMP monitor. Create with `connectQmp()`. Release with `close()` (or `using`/
 * `await using`): it fails waiting commands, ends event iterators and frees the socket.
 */
export class QmpClient implements Disposable, AsyncDisposable {
  #socket: Socket;
  readonly name: string;
  #greeting: QmpGreeting | undefined;
  #greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: VirtError) => void } | undefined;
  #buffer = "";
  readonly #maxMessageBytes: number;
  readonly #commandTimeoutMs: number;
  readonly #onListenerError: (error: unknown, event: QmpEvent) => void;
  #nextId = 1;
  readonly #queue: PendingCommand[] = [];
  #inflight: PendingCommand | undefined;
  /** Ids of commands that were sent and then given up; their late replies are dropped. */
  readonly #abandoned = new Set<string>();
  readonly #eventListeners = new Set<(ev: QmpEvent) => void>();
  readonly #closeListeners = new Set<(error: VirtError | undefined) => void>();
  #closedError: VirtError | undefined;
  #closed = false;
  readonly #socketClosed: Promise<void>;

  /** @internal Use `connectQmp()`. */
  constructor(
    socket: Socket,
    name: string,
    options: Pick<QmpConnectOptions, "commandTimeoutMs" | "onListenerError" | "maxMessageBytes">,
  ) {
    this.#socket = socket;
    this.name = name;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#onListenerError =
      options.onListenerError ??
      ((error, event) => {
        process.emitWarning(
          `QMP event listener for ${event.event} on ${name} threw: ${messageOf(error)}`,
          "TvirtWarning",
        );
      });
    socket.setEncoding("utf8");
    this.#socketClosed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        resolve();
      });
    });
    socket.on("data", (chunk: string) => {
      this.#onData(chunk);
    });
    socket.on("end", () => {
      this.#fail("end of file from QEMU monitor");
    });
    socket.on("error", (err) => {
      this.#fail(`socket error: ${err.message}`, err);
    });
    socket.on("close", () => {
      this.#fail("connection closed");
    });
  }

  /** The greeting QEMU sent (available once connected). */
  get greeting(): QmpGreeting {
    if (!this.#greeting)
      throw new VirtError("BUG", { what: `QMP greeting of ${this.name} read before the handshake` });
    return this.#greeting;
  }

  /** True once the connection is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why the connection closed: undefined while open or when closed by `close()`. */
  get closeReason(): VirtError | undefined {
    return this.#closedError;
  }

  /** @internal Reads the greeting and sends `qmp_capabilities`. */
  async handshake(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      if (this.#closed) {
        reject(this.#closedError ?? this.#closedByUs());
        return;
      }
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new VirtError("QEMU_MONITOR_GREETING", {
            name: this.name,
            reason: `no greeting within ${seconds(timeoutMs)} s`,
          }),
        );
      }, timeoutMs);
      const onAbort = (): void => {
        cleanup();
        reject(
          new VirtError("QEMU_MONITOR_GREETING", {
            name: this.name,
            reason: signal ? abortReason(signal) : "aborted",
          }),
        );
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#greetingWaiter = undefined;
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#greetingWaiter = {
        resolve: (g) => {
          cleanup();
          resolve(g);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      // A greeting that arrived in the same chunk as the connect is already parsed.
      if (this.#greeting) this.#greetingWaiter.resolve(this.#greeting);
    });
    this.#greeting = greeting;
    await this.execute("qmp_capabilities", undefined, {
      timeoutMs: Math.max(1, deadline - Date.now()),
      signal,
    });
  }

  /**
   * Runs one QMP command and resolves with its `return` value. Commands are sent one at a time
   * in call order. Rejects with `QEMU_COMMAND_FAILED` (QEMU's class and desc in the details),
   * `QEMU_MONITOR_TIMEOUT`, `QEMU_MONITOR_ABORTED` or `QEMU_MONITOR_CLOSED`.
   */
  execute(command: string, args?: QmpObject, options: QmpExecuteOptions = {}): Promise<unknown> {
    return this.#enqueue(command, args, options, undefined);
  }

  /**
   * Runs one QMP command whose text carries descriptor `fd` (SCM_RIGHTS, util/fdpass): `getfd`,
   * `add-fd`. QEMU takes its own copy; the caller still owns `fd`. The command waits its turn as
   * any other, so nothing else is being written to the monitor while the descriptor travels.
   */
  executeWithFd(
    command: string,
    args: QmpObject | undefined,
    fd: number,
    options: QmpExecuteOptions = {},
  ): Promise<unknown> {
    return this.#enqueue(command, args, options, fd);
  }

  #enqueue(
    command: string,
    args: QmpObject | undefined,
    options: QmpExecuteOptions,
    fd: number | undefined,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedError ?? this.#closedByUs(command));
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(
        new VirtError("QEMU_MONITOR_ABORTED", { name: this.name, command, reason: abortReason(signal) }),
      );
    }
    const id = `tvirt-${this.#nextId++}`;
    const msg: QmpObject = { execute: command };
    if (args !== undefined) msg.arguments = args;
    msg.id = id;
    const line = JSON.stringify(msg) + "\n";
    const timeoutMs = options.timeoutMs ?? this.#commandTimeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      const pending: PendingCommand = {
        id,
        command,
        line,
        ...(fd !== undefined ? { fd } : {}),
        resolve,
        reject,
        timer: undefined,
        cleanupAbort: undefined,
        settled: false,
      };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          const queued = this.#queue.includes(pending);
          this.#giveUp(
            pending,
            new VirtError(
              "QEMU_MONITOR_TIMEOUT",
              { name: this.name, command, seconds: seconds(timeoutMs) },
              { queued, waitingFor: queued ? this.#inflight?.command : undefined },
            ),
          );
        }, timeoutMs);
      }
      if (signal) {
        const onAbort = (): void => {
          this.#giveUp(
            pending,
            new VirtError("QEMU_MONITOR_ABORTED", { name: this.name, command, reason: abortReason(signal) }),
          );
        };
        signal.addEventListener("abort", onAbort, { once: true });
        pending.cleanupAbort = () => {
          signal.removeEventListener("abort", onAbort);
        };
      }
      this.#queue.push(pending);
      this.#pump();
    });
  }

  /**
   * Calls `listener` for every event, in arrival order, synchronously as it is read. Returns a
   * function that removes the listener.
   */
  onEvent(listener: (event: QmpEvent) => void): Unsubscribe {
    const wrapped = (ev: QmpEvent): void => {
      listener(ev);
    };
    this.#eventListeners.add(wrapped);
    return () => {
      this.#eventListeners.delete(wrapped);
    };
  }

  /** Calls `listener` once when the connection closes, with the reason (undefined after `close()`). */
  onClose(listener: (error: VirtError | undefined) => void): Unsubscribe {
    if (this.#closed) {
      queueMicrotask(() => {
        listener(this.#closedError);
      });
      return () => undefined;
    }
    const wrapped = (e: VirtError | undefined): void => {
      listener(e);
    };
    this.#closeListeners.add(wrapped);
    return () => {
      this.#closeListeners.delete(wrapped);
    };
  }

  /**
   * Events as an async iterator, buffered from the moment of this call, in arrival order. Ends
   * when the connection closes or `signal` aborts; `break` stops it.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<QmpEvent> {
    const buffered: QmpEvent[] = [];
    let wake: (() => void) | undefined;
    let done = this.#closed || (options.signal?.aborted ?? false);
    const stop = (): void => {
      done = true;
      unsubscribeEvents();
      unsubscribeClose();
      options.signal?.removeEventListener("abort", stop);
      wake?.();
    };
    const unsubscribeEvents = this.onEvent((ev) => {
      buffered.push(ev);
      wake?.();
    });
    const unsubscribeClose = this.onClose(stop);
    options.signal?.addEventListener("abort", stop, { once: true });
    if (done) stop();
    const iterator: AsyncIterableIterator<QmpEvent> = {
      next: async (): Promise<IteratorResult<QmpEvent>> => {
        for (;;) {
          const ev = buffered.shift();
          if (ev) return { value: ev, done: false };
          if (done) return { value: undefined, done: true };
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      },
      return: (): Promise<IteratorResult<QmpEvent>> => {
        stop();
        buffered.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * Closes the connection: waiting and queued commands fail with `QEMU_MONITOR_CLOSED`, event
   * iterators end, the socket is destroyed. Resolves once the socket is fully closed. Idempotent.
   */
  async close(): Promise<void> {
    this.destroy();
    await this.#socketClosed;
  }

  /** Synchronous `close()`: releases everything now (the socket finishes closing in the background). */
  destroy(): void {
    if (!this.#closed) this.#shutdown(undefined);
    this.#socket.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #closedByUs(command?: string): VirtError {
    return new VirtError("QEMU_MONITOR_CLOSED", {
      name: this.name,
      reason: command
        ? `the monitor was closed by tvirt before command '${command}' got a reply`
        : "the monitor was closed by tvirt",
    });
  }

  #pump(): void {
    if (this.#inflight || this.#closed) return;
    const next = this.#queue.shift();
    if (!next) return;
    this.#inflight = next;
    if (next.fd === undefined) {
      this.#socket.write(next.line);
      return;
    }
    // Node has nothing else to write while this command is in flight (one at a time), so the
    // helper's bytes cannot interleave with another command's.
    sendWithFds(this.#socket, [{ data: Buffer.from(next.line), fds: [next.fd] }]).catch((e: unknown) => {
      if (this.#inflight !== next) return;
      this.#giveUp(
        next,
        e instanceof VirtError
          ? e
          : new VirtError("QEMU_COMMAND_FAILED", {
              name: this.name,
              command: next.command,
              reason: String(e),
            }),
      );
    });
  }

  #settle(p: PendingCommand): boolean {
    if (p.settled) return false;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    p.cleanupAbort?.();
    p.cleanupAbort = undefined;
    return true;
  }

  /** Timeout or abort: forget the command; if it was already sent, drop its reply when it comes. */
  #giveUp(p: PendingCommand, error: VirtError): void {
    if (!this.#settle(p)) return;
    const qi = this.#queue.indexOf(p);
    if (qi >= 0) this.#queue.splice(qi, 1);
    if (this.#inflight === p) {
      this.#inflight = undefined;
      this.#abandoned.add(p.id);
      if (this.#abandoned.size > MAX_ABANDONED_IDS) {
        const oldest = this.#abandoned.values().next().value;
        if (oldest !== undefined) this.#abandoned.delete(oldest);
      }
    }
    p.reject(error);
    this.#pump();
  }

  #onData(chunk: string): void {
    if (this.#closed) return;
    const buf = this.#buffer + chunk;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf("\n", start)) >= 0) {
      const line = buf.slice(start, nl).trim();
      start = nl + 1;
      if (line) this.#onLine(line);
      if (this.#isClosed()) return;
    }
    this.#buffer = buf.slice(start);
    if (Buffer.byteLength(this.#buffer) > this.#maxMessageBytes) {
      this.#protocolError(`a message exceeds ${this.#maxMessageBytes} bytes`);
    }
  }

  #isClosed(): boolean {
    return this.#closed;
  }

  #protocolError(reason: string): void {
    const err = new VirtError("QEMU_MONITOR_PROTOCOL", { name: this.name, reason });
    this.#shutdown(err);
    this.#socket.destroy();
  }

  #onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      this.#protocolError(`invalid JSON (${messageOf(e)}): ${line.slice(0, 200)}`);
      return;
    }
    if (!isObject(msg)) {
      this.#protocolError(`a message is not a JSON object: ${line.slice(0, 200)}`);
      return;
    }
    if ("QMP" in msg) {
      const g = parseGreeting(msg);
      if (!g) {
        this.#protocolError(`malformed greeting: ${line.slice(0, 200)}`);
        return;
      }
      this.#greeting ??= g;
      this.#greetingWaiter?.resolve(g);
      return;
    }
    if (typeof msg.event === "string") {
      this.#dispatchEvent(msg);
      return;
    }
    if ("return" in msg || "error" in msg) {
      this.#onReply(msg);
      return;
    }
    this.#protocolError(`unexpected message: ${line.slice(0, 200)}`);
  }

  #dispatchEvent(msg: QmpObject): void {
    const ts = isObject(msg.timestamp) ? msg.timestamp : {};
    const sec = typeof ts.seconds === "number" ? ts.seconds : 0;
    const usec = typeof ts.microseconds === "number" ? ts.microseconds : 0;
    const ev: QmpEvent = {
      event: msg.event as string,
      data: isObject(msg.data) ? msg.data : {},
      timestampUs: sec * 1_000_000 + usec,
      hasData: isObject(msg.data),
    };
    for (const l of [...this.#eventListeners]) {
      try {
        l(ev);
      } catch (e) {
        try {
          this.#onListenerError(e, ev);
        } catch {
          // The error handler itself failed; nothing sensible is left to do with it.
        }
      }
    }
  }

  #onReply(msg: QmpObject): void {
    const id = typeof msg.id === "string" ? msg.id : undefined;
    if (id !== undefined && this.#abandoned.delete(id)) return;
    const p = this.#inflight;
    if (!p || (id !== undefined && id !== p.id)) {
      // Not ours (QEMU answered something we did not ask, or a reply to a forgotten command).
      return;
    }
    this.#inflight = undefined;
    if (this.#settle(p)) {
      if ("error" in msg) {
        const err = isObject(msg.error) ? msg.error : {};
        const qemuClass = typeof err.class === "string" ? err.class : "GenericError";
        const desc = typeof err.desc === "string" ? err.desc : JSON.stringify(msg.error);
        p.reject(
          new VirtError(
            "QEMU_COMMAND_FAILED",
            { name: this.name, command: p.command, reason: desc },
            { qemuClass, qemuDesc: desc, command: p.command },
          ),
        );
      } else {
        p.resolve(msg.return);
      }
    }
    this.#pump();
  }

  #fail(reason: string, cause?: unknown): void {
    if (this.#closed) return;
    const details: ErrorDetails = {};
    const pendingCommand = this.#inflight?.command;
    if (pendingCommand) details.command = pendingCommand;
    const err = new VirtError(
      "QEMU_MONITOR_CLOSED",
      { name: this.name, reason },
      details,
      cause ? { cause } : undefined,
    );
    this.#shutdown(err);
    this.#socket.destroy();
  }

  #shutdown(error: VirtError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedError = error;
    const all = [...(this.#inflight ? [this.#inflight] : []), ...this.#queue];
    this.#inflight = undefined;
    this.#queue.length = 0;
    this.#abandoned.clear();
    this.#buffer = "";
    for (const p of all) {
      if (this.#settle(p)) p.reject(error ?? this.#closedByUs(p.command));
    }
    if (this.#greetingWaiter) this.#greetingWaiter.reject(error ?? this.#closedByUs());
    const listeners = [...this.#closeListeners];
    this.#closeListeners.clear();
    this.#eventListeners.clear();
    for (const l of listeners) {
      try {
        l(error);
      } catch {
        // A close listener cannot change anything any more.
      }
    }
  }
}
