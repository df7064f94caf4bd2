/**
 * A fake QMP server on a unix socket, for tests: speaks the QMP wire protocol (greeting,
 * negotiation, commands with ids, events) and answers commands through a handler, or by
 * replaying a recorded transcript such as libvirt's `caps_*.replies` files.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface FakeCommand {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
  readonly id?: unknown;
}

/** What the handler wants sent back for a command. */
export type FakeAnswer =
  | { readonly return: unknown }
  | { readonly error: { readonly class: string; readonly desc: string } }
  /** Send nothing (a command QEMU never answers). */
  | { readonly silent: true };

export type FakeHandler = (cmd: FakeCommand, session: FakeSession) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeQmpServerOptions {
  /** Socket path to listen on. */
  readonly path: string;
  /** The greeting's `QMP` member; defaults to QEMU 7.2.0 with the `oob` capability. */
  readonly greeting?: Record<string, unknown>;
  /** Sends the greeting when a client connects (default true). */
  readonly sendGreeting?: boolean;
  readonly handler: FakeHandler;
}

export class FakeSession {
  /** Commands received, in order (including `qmp_capabilities`). */
  readonly received: FakeCommand[] = [];
  /** Largest number of commands that were waiting for an answer at the same time. */
  maxInFlight = 0;
  #inFlight = 0;
  #buffer = "";

  constructor(
    readonly index: number,
    readonly socket: Socket,
    private readonly handler: FakeHandler,
  ) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      let nl: number;
      while ((nl = this.#buffer.indexOf("\n")) >= 0) {
        const line = this.#buffer.slice(0, nl).trim();
        this.#buffer = this.#buffer.slice(nl + 1);
        if (line) void this.#onLine(line);
      }
    });
    socket.on("error", () => {
      // The client went away; tests look at what happened through their own assertions.
    });
  }

  async #onLine(line: string): Promise<void> {
    let cmd: FakeCommand;
    try {
      cmd = JSON.parse(line) as FakeCommand;
    } catch {
      this.send({ error: { class: "GenericError", desc: "JSON parse error" } });
      return;
    }
    this.received.push(cmd);
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    let answer: FakeAnswer;
    try {
      answer = await this.handler(cmd, this);
    } catch (e) {
      answer = { error: { class: "GenericError", desc: e instanceof Error ? e.message : String(e) } };
    }
    this.#inFlight--;
    if ("silent" in answer) return;
    const reply: Record<string, unknown> = { ...answer };
    if (cmd.id !== undefined) reply.id = cmd.id;
    this.send(reply);
  }

  /** Writes one message (a JSON line, QEMU's `\r\n` ending). */
  send(msg: unknown): void {
    if (!this.socket.destroyed) this.socket.write(JSON.stringify(msg) + "\r\n");
  }

  /** Writes raw text as is (for split or malformed messages). */
  sendRaw(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  sendEvent(event: string, data: Record<string, unknown> = {}): void {
    const now = Date.now();
    this.send({
      event,
      data,
      timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
    });
  }

  /** Closes the connection from the server side (QEMU exiting). */
  end(): void {
    this.socket.end();
  }
}

export interface FakeQmpServer extends AsyncDisposable {
  readonly path: string;
  readonly sessions: FakeSession[];
  /** Resolves with the next session to connect (or the current one if it already connected). */
  session(index: number): Promise<FakeSession>;
  close(): Promise<void>;
}

export const DEFAULT_FAKE_GREETING = {
  version: { qemu: { micro: 0, minor: 2, major: 7 }, package: "v7.2.0" },
  capabilities: ["oob"],
};

/** Starts a fake QMP server listening on `options.path`. */
export async function startFakeQmpServer(options: FakeQmpServerOptions): Promise<FakeQmpServer> {
  const sessions: FakeSession[] = [];
  const waiters = new Map<number, ((s: FakeSession) => void)[]>();
  const server: Server = createServer((socket) => {
    const s = new FakeSession(sessions.length, socket, options.handler);
    sessions.push(s);
    if (options.sendGreeting ?? true) s.send({ QMP: options.greeting ?? DEFAULT_FAKE_GREETING });
    for (const w of waiters.get(s.index) ?? []) w(s);
    waiters.delete(s.index);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.path, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const close = async (): Promise<void> => {
    for (const s of sessions) s.socket.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  };
  return {
    path: options.path,
    sessions,
    session: (index) =>
      new Promise<FakeSession>((resolve) => {
        const existing = sessions[index];
        if (existing) {
          resolve(existing);
          return;
        }
        const list = waiters.get(index) ?? [];
        list.push(resolve);
        waiters.set(index, list);
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** One request and its reply from a recorded transcript. */
export interface RecordedExchange {
  readonly request: FakeCommand;
  readonly reply: Record<string, unknown>;
}

/**
 * Reads libvirt's `*.replies` format: pretty-printed JSON messages separated by blank lines,
 * alternating request and reply.
 */
export function parseQmpReplies(text: string): RecordedExchange[] {
  const messages: unknown[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    if (block.trim()) messages.push(JSON.parse(block));
  }
  const out: RecordedExchange[] = [];
  for (let i = 0; i + 1 < messages.length; i += 2) {
    out.push({ request: messages[i] as FakeCommand, reply: messages[i + 1] as Record<string, unknown> });
  }
  return out;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export interface ReplayHandler {
  readonly handler: FakeHandler;
  /** Commands that had no recorded reply, as `execute args-json` strings. */
  readonly misses: string[];
  /** The greeting matching the transcript's `query-version`. */
  readonly greeting: Record<string, unknown>;
}

/**
 * A handler that answers from a transcript. The transcript is cut into sessions at each
 * `qmp_capabilities`; the n-th connection replays the n-th session (libvirt probes once with
 * KVM and once more for TCG). A command is matched by name and arguments, in any order; an
 * unmatched command gets a `GenericError` and is listed in `misses`.
 */
export function replayHandler(exchanges: readonly RecordedExchange[]): ReplayHandler {
  const segments: RecordedExchange[][] = [];
  for (const ex of exchanges) {
    if (ex.request.execute === "qmp_capabilities" || segments.length === 0) segments.push([]);
    segments[segments.length - 1]!.push(ex);
  }
  const misses: string[] = [];
  const version = exchanges.find((e) => e.request.execute === "query-version")?.reply.return;
  const handler: FakeHandler = (cmd, session) => {
    const segment = segments[Math.min(session.index, segments.length - 1)] ?? [];
    const key = `${cmd.execute} ${canonical(cmd.arguments ?? {})}`;
    const found = segment.find((e) => `${e.request.execute} ${canonical(e.request.arguments ?? {})}` === key);
    if (!found) {
      misses.push(key);
      return { error: { class: "GenericError", desc: `no recorded reply for ${key}` } };
    }
    if ("error" in found.reply) return { error: found.reply.error as { class: string; desc: string } };
    return { return: found.reply.return };
  };
  return {
    handler,
    misses,
    greeting: { version: version ?? DEFAULT_FAKE_GREETING.version, capabilities: ["oob"] },
  };
}
