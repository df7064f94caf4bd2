/**
 * A client of the QEMU guest agent (`qemu-ga`) on the host end of its virtio-serial channel:
 * the unix socket QEMU listens on for `<channel type='unix'>` with target
 * `org.qemu.guest_agent.0`. As libvirt's qemu_agent.c:
 *
 * - one command at a time; each is preceded by `guest-sync-delimited` with a random id, and
 *   replies are read until the one carrying that id: the agent answers the sync with a 0xFF
 *   byte first, which also drops whatever a previous, timed-out exchange left in the pipe;
 * - replies are JSON objects one per line; `{"error": …}` becomes "unable to execute QEMU
 *   agent command '<name>': <desc>";
 * - a command with no answer in time fails with "Guest agent is not responding: Guest agent
 *   not available for now", and the connection is dropped and made again for the next one (a
 *   late reply must not be taken for the next command's);
 * - `guest-shutdown` (and `guest-suspend-*`) may never answer: those are sent with
 *   `{ noReply: true }` and succeed when written.
 */
import { randomBytes } from "node:crypto";
import { createConnection, type Socket } from "node:net";
import { VirtError } from "../../../util/errors/index.ts";

/** libvirt's QEMU_AGENT_WAIT_TIME: the sync exchange, and commands with the default timeout. */
export const AGENT_WAIT_SECONDS = 5;
/** VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK / _DEFAULT / _NOWAIT (timeouts in seconds otherwise). */
export const AGENT_TIMEOUT_BLOCK = -2;
export const AGENT_TIMEOUT_DEFAULT = -1;
export const AGENT_TIMEOUT_NOWAIT = 0;

export interface AgentCommandOptions {
  /** Seconds, or one of the AGENT_TIMEOUT_* values. Default: block. */
  timeout?: number;
  /** The command does not answer when it works (guest-shutdown). */
  noReply?: boolean;
}

interface Waiter {
  accept: (reply: Record<string, unknown>) => boolean;
  resolve: (reply: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class AgentClient {
  #sock: Socket | undefined;
  #buf = Buffer.alloc(0);
  #waiter: Waiter | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    readonly path: string,
    /** Block-forever commands still end after this long (a hung guest must not hang tvirt). */
    private readonly blockCapMs = 300_000,
  ) {}

  /** Runs `execute` with `args`, returns the reply's `return` value. */
  command(execute: string, args?: Record<string, unknown>, opts: AgentCommandOptions = {}): Promise<unknown> {
    const cmd: Record<string, unknown> = { execute };
    if (args !== undefined) cmd.arguments = args;
    return this.#enqueue(async () => {
      const reply = await this.#exchange(cmd, execute, opts);
      return reply?.return;
    });
  }

  /** Sends `text` (a JSON command) as is and returns the whole reply as JSON text. */
  raw(text: string, opts: AgentCommandOptions = {}): Promise<string> {
    let cmd: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(text);
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
      cmd = v as Record<string, unknown>;
    } catch (e) {
      throw new VirtError("QEMU_AGENT_BAD_JSON", {
        text,
        reason: e instanceof Error ? e.message : String(e),
      });
    }
    const name = typeof cmd.execute === "string" ? cmd.execute : "";
    return this.#enqueue(async () => {
      const reply = await this.#exchange(cmd, name, opts);
      return reply === undefined ? "" : JSON.stringify(reply);
    });
  }

  close(): void {
    this.#closed = true;
    this.#drop(new VirtError("QEMU_AGENT_NOT_CONNECTED", {}));
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  async #exchange(
    cmd: Record<string, unknown>,
    name: string,
    opts: AgentCommandOptions,
  ): Promise<Record<string, unknown> | undefined> {
    if (this.#closed) throw new VirtError("QEMU_AGENT_NOT_CONNECTED", {});
    const sock = await this.#connect();
    const id = randomBytes(4).readUInt32BE(0) + 1;
    const sync = this.#wait((r) => r.return === id, AGENT_WAIT_SECONDS * 1000);
    sock.write(`${JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } })}\n`);
    await sync;
    const t = opts.timeout ?? AGENT_TIMEOUT_BLOCK;
    if (opts.noReply || t === AGENT_TIMEOUT_NOWAIT) {
      sock.write(`${JSON.stringify(cmd)}\n`);
      return undefined;
    }
    const ms =
      t === AGENT_TIMEOUT_BLOCK
        ? this.blockCapMs
        : t === AGENT_TIMEOUT_DEFAULT
          ? AGENT_WAIT_SECONDS * 1000
          : t * 1000;
    // After the sync, the next object on the line is this command's reply.
    const reply = this.#wait(() => true, ms);
    sock.write(`${JSON.stringify(cmd)}\n`);
    const r = await reply;
    if (r.error !== undefined) {
      const err = r.error as { class?: unknown; desc?: unknown };
      const desc = typeof err.desc === "string" ? err.desc : JSON.stringify(r.error);
      throw new VirtError("QEMU_AGENT_COMMAND_FAILED", { command: name, reason: desc });
    }
    if (!("return" in r))
      throw new VirtError("QEMU_AGENT_BAD_REPLY", { command: name, reason: "no 'return' member" });
    return r;
  }

  #connect(): Promise<Socket> {
    if (this.#sock && !this.#sock.destroyed) return Promise.resolve(this.#sock);
    return new Promise((resolve, reject) => {
      const s = createConnection(this.path);
      const fail = (e: Error): void => {
        s.destroy();
        reject(new VirtError("QEMU_AGENT_NOT_CONNECTED", {}, { path: this.path, reason: e.message }));
      };
      s.once("error", fail);
      s.once("connect", () => {
        s.off("error", fail);
        this.#sock = s;
        this.#buf = Buffer.alloc(0);
        s.on("data", (d: Buffer) => {
          this.#onData(d);
        });
        s.on("error", () => undefined);
        s.on("close", () => {
          if (this.#sock === s) {
            this.#sock = undefined;
            this.#failWaiter(new VirtError("QEMU_AGENT_EOF", {}));
          }
        });
        resolve(s);
      });
    });
  }

  #onData(d: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, d]);
    // 0xFF: the agent's delimiter before a guest-sync-delimited answer; what came before is stale.
    const ff = this.#buf.lastIndexOf(0xff);
    if (ff >= 0) this.#buf = this.#buf.subarray(ff + 1);
    for (;;) {
      const nl = this.#buf.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.#buf.subarray(0, nl).toString("utf8").trim();
      this.#buf = this.#buf.subarray(nl + 1);
      if (line === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        continue; // garbage from before a sync
      }
      if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
      const w = this.#waiter;
      if (w?.accept(v as Record<string, unknown>)) {
        this.#waiter = undefined;
        w.resolve(v as Record<string, unknown>);
      }
    }
  }

  #wait(accept: Waiter["accept"], ms: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#waiter !== w) return;
        this.#waiter = undefined;
        // A late answer would be read as the next command's: start over with a new connection.
        this.#drop(undefined);
        reject(new VirtError("QEMU_AGENT_TIMEOUT", {}));
      }, ms);
      const w: Waiter = {
        accept,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiter = w;
    });
  }

  #failWaiter(e: Error): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(e);
  }

  #drop(e: Error | undefined): void {
    const s = this.#sock;
    this.#sock = undefined;
    s?.destroy();
    if (e) this.#failWaiter(e);
  }
}
