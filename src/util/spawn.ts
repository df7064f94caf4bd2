/**
 * Running external programs and watching processes, with the safety rules of
 * ../shared/DESIGN.md: argv arrays only (never a shell), explicit environment, and signals sent
 * only to processes the caller started (identified by pid *and* start time, so a recycled pid is
 * never hit). This is the one module of the product that imports `node:child_process` (lint
 * enforces it): `spawnArgv`/`runArgv` for most callers, `startArgv`/`runArgvSync` where a caller
 * needs node's own child object or a synchronous run.
 */
import {
  spawn,
  spawnSync,
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
  type SpawnOptions,
  type SpawnSyncOptions,
  type SpawnSyncReturns,
  type StdioOptions,
} from "node:child_process";
import { readFileSync } from "node:fs";
import { VirtError } from "./errors/index.ts";

export interface ExitStatus {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnArgvOptions {
  /** The whole environment of the child (nothing is inherited). */
  readonly env?: Readonly<Record<string, string>> | readonly (readonly [string, string])[];
  readonly cwd?: string;
  /** `ignore` (default), `pipe`, or an open file descriptor. */
  readonly stdin?: "ignore" | "pipe" | number;
  readonly stdout?: "ignore" | "pipe" | number;
  readonly stderr?: "ignore" | "pipe" | number;
  /** Own session and process group (`setsid`): the child outlives its parent's group. */
  readonly detached?: boolean;
  /** Open descriptors the child inherits as fd 3, 4, ... (e.g. a macvtap device for QEMU). */
  readonly extraFds?: readonly number[];
  /**
   * A node IPC channel after the extra descriptors (the child finds it in NODE_CHANNEL_FD):
   * `process.on("message")` receives what the child sends, sockets it passes included.
   */
  readonly ipc?: boolean;
  /**
   * Run the child as this user / group id (setuid/setgid before exec; the caller must be root).
   * node drops the supplementary groups when either is given.
   */
  readonly uid?: number;
  readonly gid?: number;
}

/** A started child process. */
export interface SpawnedChild {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves when the child has exited (and was reaped). */
  readonly exited: Promise<ExitStatus>;
  /** The exit status once known. */
  exitStatus(): ExitStatus | undefined;
  /** Sends a signal if the child is still running. */
  kill(signal?: NodeJS.Signals): boolean;
}

function envRecord(env: SpawnArgvOptions["env"]): Record<string, string> {
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    const out: Record<string, string> = {};
    for (const [k, v] of env as readonly (readonly [string, string])[]) out[k] = v;
    return out;
  }
  return { ...(env as Readonly<Record<string, string>>) };
}

/**
 * Starts `argv[0]` with `argv[1..]` (no shell). Resolves once the process exists; rejects with
 * `COMMAND_FAILED` when it cannot be started (missing binary, permissions).
 */
export function spawnArgv(argv: readonly string[], options: SpawnArgvOptions = {}): Promise<SpawnedChild> {
  const [file, ...args] = argv;
  if (file === undefined || file === "")
    return Promise.reject(new VirtError("BUG", { what: "spawnArgv: empty argv" }));
  const stdio: StdioOptions = [
    options.stdin ?? "ignore",
    options.stdout ?? "ignore",
    options.stderr ?? "ignore",
    ...(options.extraFds ?? []),
    ...(options.ipc === true ? (["ipc"] as const) : []),
  ];
  return new Promise<SpawnedChild>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        env: envRecord(options.env),
        cwd: options.cwd,
        stdio,
        detached: options.detached ?? false,
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
        shell: false,
        windowsHide: true,
      });
    } catch (e) {
      reject(
        new VirtError(
          "COMMAND_FAILED",
          { command: file, reason: e instanceof Error ? e.message : String(e) },
          {},
          { cause: e },
        ),
      );
      return;
    }
    let status: ExitStatus | undefined;
    const exited = new Promise<ExitStatus>((res) => {
      child.once("exit", (code, signal) => {
        status = { code, signal };
        res(status);
      });
    });
    const onError = (e: Error): void => {
      reject(
        new VirtError(
          "COMMAND_FAILED",
          { command: file, reason: e.message },
          { errno: (e as NodeJS.ErrnoException).code },
          { cause: e },
        ),
      );
    };
    child.once("error", onError);
    child.once("spawn", () => {
      child.removeListener("error", onError);
      // Later errors (a failed kill) must not become uncaught exceptions.
      child.on("error", () => undefined);
      const pid = child.pid;
      if (pid === undefined) {
        reject(new VirtError("BUG", { what: `spawned ${file} has no pid` }));
        return;
      }
      resolve({
        pid,
        process: child,
        exited,
        exitStatus: () => status,
        kill: (signal: NodeJS.Signals = "SIGTERM") => (status === undefined ? child.kill(signal) : false),
      });
    });
  });
}

export interface RunArgvOptions extends Pick<SpawnArgvOptions, "env" | "cwd"> {
  /** Kill (SIGKILL) after this long; default 60 s. */
  readonly timeoutMs?: number;
  /** Text written to stdin. */
  readonly input?: string;
}

export interface RunResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion and collects its output (for short helper commands). */
export async function runArgv(argv: readonly string[], options: RunArgvOptions = {}): Promise<RunResult> {
  const child = await spawnArgv(argv, {
    env: options.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
    cwd: options.cwd,
    stdin: options.input === undefined ? "ignore" : "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.process.stdout?.on("data", (b: Buffer) => out.push(b));
  child.process.stderr?.on("data", (b: Buffer) => err.push(b));
  if (options.input !== undefined) child.process.stdin?.end(options.input);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  try {
    const st = await child.exited;
    // 'exit' may come before the pipes drained.
    await new Promise<void>((resolve) => {
      if (child.process.stdout?.readableEnded !== false && child.process.stderr?.readableEnded !== false)
        resolve();
      else
        child.process.once("close", () => {
          resolve();
        });
    });
    return {
      ...st,
      stdout: Buffer.concat(out).toString("utf8"),
      stderr: Buffer.concat(err).toString("utf8"),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** node's child process (what `startArgv` returns), for callers' declarations. */
export type { ChildProcess };

/** node's spawn options as `startArgv` takes them: never a shell, `argv[0]` is the program. */
export type StartArgvOptions = Omit<SpawnOptions, "shell" | "argv0" | "windowsVerbatimArguments">;

/**
 * Starts `argv[0]` with `argv[1..]` (no shell) and returns node's child at once, for a caller that
 * drives the child's pipes and events itself (an editor on the terminal, a probe talking on
 * stdio, a daemon left running). As with node's `spawn`: a program that cannot start is the
 * child's `error` event, and without `env` the child inherits this process's environment.
 */
export function startArgv(
  argv: readonly string[],
  options: StartArgvOptions & { readonly stdio: "pipe" | readonly ["pipe", "pipe", "pipe"] },
): ChildProcessWithoutNullStreams;
export function startArgv(argv: readonly string[], options?: StartArgvOptions): ChildProcess;
export function startArgv(argv: readonly string[], options: StartArgvOptions = {}): ChildProcess {
  const [file = "", ...args] = argv;
  return spawn(file, args, { ...options, shell: false });
}

/** node's spawnSync options as `runArgvSync` takes them: never a shell; output is UTF-8 text. */
export type RunArgvSyncOptions = Omit<
  SpawnSyncOptions,
  "shell" | "argv0" | "windowsVerbatimArguments" | "encoding"
>;

/**
 * Runs `argv[0]` with `argv[1..]` (no shell) to completion, blocking, for the few callers that
 * cannot wait (a synchronous host fact, a script). node's `spawnSync` result with text output; a
 * program that cannot start sets `error`. Without `env` the child inherits the environment.
 */
export function runArgvSync(
  argv: readonly string[],
  options: RunArgvSyncOptions = {},
): SpawnSyncReturns<string> {
  const [file = "", ...args] = argv;
  return spawnSync(file, args, { ...options, encoding: "utf8", shell: false });
}

// ---------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------

/** What tvirt reads from `/proc/PID/stat`. */
export interface ProcStat {
  readonly pid: number;
  /** One letter: R, S, D, Z (zombie), T, X... */
  readonly state: string;
  readonly ppid: number;
  /** User and system CPU time in clock ticks. */
  readonly utime: number;
  readonly stime: number;
  /** Start time after boot in clock ticks: with the pid, identifies one process for good. */
  readonly starttime: number;
}

/** Clock ticks per second of /proc times (USER_HZ; 100 on every Linux architecture tvirt runs on). */
export const CLOCK_TICKS = 100;

export function parseProcStat(text: string): ProcStat | undefined {
  // comm may contain spaces and parentheses: split after the last ')'.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state); field n is f[n - 3].
  const num = (n: number): number => Number(f[n - 3]);
  const st: ProcStat = {
    pid,
    state: f[0] ?? "?",
    ppid: num(4),
    utime: num(14),
    stime: num(15),
    starttime: num(22),
  };
  return Number.isFinite(st.starttime) ? st : undefined;
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** The argv of a process (from `/proc/PID/cmdline`), or undefined when it is gone. */
export function readProcCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (raw === "") return undefined;
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/**
 * True while the process runs: it exists, is not a zombie, and (when given) has this start
 * time, so a pid reused by another process does not count.
 */
export function isProcessAlive(pid: number, starttime?: number): boolean {
  const st = readProcStat(pid);
  if (!st) return false;
  if (st.state === "Z" || st.state === "X") return false;
  return starttime === undefined || st.starttime === starttime;
}

/** Polls until the process is gone; resolves true when it is, false at the deadline. */
export async function waitForProcessExit(
  pid: number,
  timeoutMs: number,
  starttime?: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isProcessAlive(pid, starttime)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Sends a signal to a process identified by pid and start time. False when it is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals, starttime?: number): boolean {
  if (!isProcessAlive(pid, starttime)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface TerminateOptions {
  /** Start time from `/proc/PID/stat`, so only that process is signalled. */
  readonly starttime?: number;
  /** Time to wait after SIGTERM (default 10 s, as libvirt). */
  readonly graceMs?: number;
  /** Send SIGKILL when SIGTERM was not enough (default true). */
  readonly force?: boolean;
  /** Time to wait after SIGKILL (default 5 s). */
  readonly killWaitMs?: number;
}

/**
 * libvirt's virProcessKillPainfully: SIGTERM, wait, then (with `force`) SIGKILL and wait again.
 * Resolves with how the process ended, or `alive` if it survived.
 */
export async function terminateProcess(
  pid: number,
  options: TerminateOptions = {},
): Promise<"gone" | "terminated" | "killed" | "alive"> {
  const { starttime } = options;
  if (!signalProcess(pid, "SIGTERM", starttime)) return "gone";
  if (await waitForProcessExit(pid, options.graceMs ?? 10_000, starttime)) return "terminated";
  if (options.force === false) return "alive";
  signalProcess(pid, "SIGKILL", starttime);
  if (await waitForProcessExit(pid, options.killWaitMs ?? 5_000, starttime)) return "killed";
  return "alive";
}
