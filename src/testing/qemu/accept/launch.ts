/**
 * Starts QEMU (through the namespace and tap helper prefix) and waits for its QMP greeting on
 * the monitor socket QEMU creates; then `qmp_capabilities` + `quit`, or SIGKILL by PID.
 * Also starts virtiofsd daemons. Every process is owned by a Cleanup and ended by its PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Cleanup } from "./cleanup.ts";

export interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stderr so far (capped). */
  stderr(): string;
  isRunning(): boolean;
}

const STDERR_CAP = 64 * 1024;

/** Sends a signal to a process this module started; a process that just exited is not an error. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/** Spawns argv (no shell), captures stderr; the Cleanup ends the PID if it still runs. */
export function startProcess(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cleanup: Cleanup,
  what: string,
): Started {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("startProcess: empty argv");
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let running = true;
  child.stdout.resume();
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    if (err.length < STDERR_CAP) err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("error", (e) => {
      err += `\nspawn ${cmd}: ${e.message}`;
      running = false;
      resolve({ code: null, signal: null });
    });
    child.on("exit", (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const pid = child.pid ?? -1;
  const started: Started = { child, pid, exited, stderr: () => err, isRunning: () => running };
  cleanup.defer(`${what} (pid ${pid})`, () => stopProcess(started));
  return started;
}

/** Ends a process we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(p: Started, graceMs = 3000): Promise<void> {
  if (!p.isRunning() || p.pid <= 0) return;
  signal(p.pid, "SIGTERM");
  const done = await Promise.race([p.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done && p.isRunning()) {
    signal(p.pid, "SIGKILL");
    await p.exited;
  }
}

export type GreetOutcome =
  | { kind: "greeted"; greeting: unknown; ms: number; version: string; status: string }
  | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null; ms: number; afterGreeting: boolean }
  | { kind: "timeout"; ms: number; afterGreeting: boolean };

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", () => {
      s.destroy();
      resolve(undefined);
    });
  });
}

/** Reads newline-delimited JSON messages from a socket. */
class LineReader {
  private buf = "";
  private waiters: ((line: string | undefined) => void)[] = [];
  private lines: string[] = [];
  private closed = false;

  constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf("\n"); i >= 0; i = this.buf.indexOf("\n")) {
        this.push(this.buf.slice(0, i).trim());
        this.buf = this.buf.slice(i + 1);
      }
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    socket.on("close", end);
    socket.on("error", end);
  }

  private push(line: string): void {
    if (line === "") return;
    const w = this.waiters.shift();
    if (w) w(line);
    else this.lines.push(line);
  }

  next(timeoutMs: number): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (line: string | undefined): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(done);
    });
  }
}

/** Waits for a JSON message having one of `keys` (skipping events and anything else). */
async function expectMessage(
  r: LineReader,
  keys: readonly string[],
  timeoutMs: number,
): Promise<Record<string, unknown> | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const line = await r.next(Math.max(1, until - Date.now()));
    if (line === undefined) return undefined;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof msg === "object" && msg !== null && keys.some((k) => k in msg))
      return msg as Record<string, unknown>;
  }
}

/**
 * Waits until QEMU is up and paused: its QMP greeting on `monitorPath`, then answers to
 * `qmp_capabilities` and `query-status`. The greeting alone proves little: QEMU sends it from
 * the monitor I/O thread while the main thread may still be processing (and rejecting) the
 * rest of the command line; commands are answered only once the main loop runs, i.e. after
 * every option was accepted. Then `quit`; QEMU is killed by PID if it lingers.
 */
export async function awaitGreeting(
  p: Started,
  monitorPath: string,
  timeoutMs: number,
): Promise<GreetOutcome> {
  const t0 = Date.now();
  const left = (): number => Math.max(1, timeoutMs - (Date.now() - t0));
  const gone = async (afterGreeting: boolean): Promise<GreetOutcome> => {
    if (!p.isRunning() || afterGreeting) {
      // A closed monitor means QEMU is exiting: give it a moment to report how.
      await Promise.race([p.exited, sleep(2000)]);
    }
    if (!p.isRunning()) {
      const e = await p.exited;
      return { kind: "exited", code: e.code, signal: e.signal, ms: Date.now() - t0, afterGreeting };
    }
    return { kind: "timeout", ms: Date.now() - t0, afterGreeting };
  };
  let socket: Socket | undefined;
  while (socket === undefined) {
    if (!p.isRunning()) return gone(false);
    if (Date.now() - t0 > timeoutMs) return { kind: "timeout", ms: Date.now() - t0, afterGreeting: false };
    if (existsSync(monitorPath)) socket = await tryConnect(monitorPath);
    if (socket === undefined) await sleep(20);
  }
  try {
    const r = new LineReader(socket);
    const greeting = await expectMessage(r, ["QMP"], left());
    if (greeting === undefined) return await gone(false);
    const qmp = greeting.QMP as
      { version?: { qemu?: { major?: number; minor?: number; micro?: number } } } | undefined;
    const v = qmp?.version?.qemu;
    const version = v ? `${String(v.major)}.${String(v.minor)}.${String(v.micro)}` : "?";
    socket.write('{"execute":"qmp_capabilities"}\n');
    const caps = await expectMessage(r, ["return", "error"], left());
    if (caps === undefined) return await gone(true);
    const ms = Date.now() - t0;
    socket.write('{"execute":"query-status"}\n');
    const st = await expectMessage(r, ["return", "error"], left());
    if (st === undefined) return await gone(true);
    const ret = st.return as { status?: unknown } | undefined;
    const status = typeof ret?.status === "string" ? ret.status : JSON.stringify(st);
    socket.write('{"execute":"quit"}\n');
    await Promise.race([p.exited, sleep(5000)]);
    return { kind: "greeted", greeting, ms, version, status };
  } finally {
    socket.destroy();
    if (p.isRunning()) {
      signal(p.pid, "SIGKILL");
      await p.exited;
    }
  }
}

/** Waits until a path exists (a daemon's socket), the process exits, or the timeout. */
export async function waitForPath(path: string, p: Started, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(path)) return true;
    if (!p.isRunning()) return false;
    await sleep(20);
  }
  return existsSync(path);
}
