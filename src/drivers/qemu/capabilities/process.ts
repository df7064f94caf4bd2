/**
 * A short-lived QEMU process for asking questions over QMP: `-machine none`, paused, no
 * devices, its QMP socket in a private temp directory. Used by the capabilities probe and by
 * tests. `stop()` (also on `await using`) asks QEMU to quit, kills it if it does not, waits for
 * it to exit and removes the directory: nothing is left behind on any path.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectQmp, type QmpClient } from "../monitor/qmp.ts";
import { VirtError, isVirtError } from "../../../util/errors/index.ts";
import { startArgv, type ChildProcess } from "../../../util/spawn.ts";
import type { Accel } from "./types.ts";

export interface QmpProcessOptions {
  readonly binary: string;
  /** Accelerators in order of preference (`-accel kvm -accel tcg`); default `tcg`. */
  readonly accel?: readonly Accel[];
  /** Extra arguments (argv items, never parsed by a shell). */
  readonly extraArgs?: readonly string[];
  /** Time allowed for QEMU to start and answer the QMP greeting (default 30 s). */
  readonly timeoutMs?: number;
  /** Default timeout of each QMP command (default 30 s). */
  readonly commandTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Name used in monitor errors (default `QEMU binary <path>`). */
  readonly name?: string;
}

export interface QmpProcess extends AsyncDisposable {
  readonly pid: number;
  readonly qmp: QmpClient;
  /** Last part of QEMU's stderr (up to 8 KiB). */
  stderr(): string;
  /** Resolves when QEMU exited, with its code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Quits QEMU (kills it after a grace period), closes the monitor, removes the temp dir. */
  stop(): Promise<void>;
}

const STDERR_KEEP = 8192;

/** Escapes a value for QEMU's `key=value,...` option syntax. */
function optValue(v: string): string {
  return v.replace(/,/g, ",,");
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `QEMU was killed by signal ${signal}` : `QEMU exited with status ${String(code)}`;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

function reasonText(r: unknown): string {
  return r instanceof Error ? r.message : String(r);
}

/** Starts QEMU with `-machine none` and a QMP socket, and connects to it. */
export async function startQmpProcess(options: QmpProcessOptions): Promise<QmpProcess> {
  const { binary } = options;
  if (options.signal?.aborted) {
    throw new VirtError("QEMU_PROBE_START_FAILED", {
      binary,
      reason: `cancelled: ${reasonText(options.signal.reason)}`,
    });
  }
  const dir = await mkdtemp(join(tmpdir(), "tvirt-qemu-"));
  const socketPath = join(dir, "qmp.sock");
  const accel = options.accel ?? ["tcg"];
  const args = [
    "-S",
    "-no-user-config",
    "-nodefaults",
    "-display",
    "none",
    "-machine",
    "none",
    ...accel.flatMap((a) => ["-accel", a]),
    "-chardev",
    `socket,id=qmp,path=${optValue(socketPath)},server=on,wait=off`,
    "-mon",
    "chardev=qmp,mode=control",
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess;
  try {
    child = startArgv([binary, ...args], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        LC_ALL: "C",
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        XDG_DATA_HOME: join(dir, ".local", "share"),
        XDG_CACHE_HOME: join(dir, ".cache"),
        XDG_CONFIG_HOME: join(dir, ".config"),
      },
    });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new VirtError(
      "QEMU_PROBE_START_FAILED",
      { binary, reason: e instanceof Error ? e.message : String(e) },
      {},
      { cause: e },
    );
  }

  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP);
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (err) => {
      spawnError = err;
      // 'exit' does not always follow a spawn failure; 'close' does.
    });
    child.once("close", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  const died = new AbortController();
  void exited.then(({ code, signal }) => {
    const why = spawnError ? spawnError.message : describeExit(code, signal);
    const tail = lastLine(stderr);
    died.abort(new Error(tail ? `${why}: ${tail}` : why));
  });
  const signal = options.signal ? AbortSignal.any([options.signal, died.signal]) : died.signal;

  let stopped: Promise<void> | undefined;
  let qmp: QmpClient | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (qmp && !qmp.closed && !exitInfo) {
        await qmp.execute("quit", undefined, { timeoutMs: 2000 }).catch(() => undefined);
      }
      if (!exitInfo && child.pid !== undefined) {
        const grace = new Promise<"timeout">((resolve) => {
          const t = setTimeout(() => {
            resolve("timeout");
          }, 2000);
          void exited.then(() => {
            clearTimeout(t);
          });
        });
        if ((await Promise.race([exited, grace])) === "timeout") child.kill("SIGKILL");
      }
      if (child.pid !== undefined || spawnError === undefined) await exited;
      await qmp?.close();
      child.stderr?.destroy();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    qmp = await connectQmp({
      path: socketPath,
      name: options.name ?? `QEMU binary ${binary}`,
      timeoutMs: options.timeoutMs ?? 30_000,
      commandTimeoutMs: options.commandTimeoutMs,
      signal,
    });
  } catch (e) {
    await stop();
    const tail = stderr.trim();
    const reason = options.signal?.aborted
      ? `cancelled: ${reasonText(options.signal.reason)}`
      : died.signal.aborted
        ? reasonText(died.signal.reason)
        : isVirtError(e)
          ? e.detail
          : String(e);
    throw new VirtError(
      "QEMU_PROBE_START_FAILED",
      { binary, reason },
      { logTail: tail, argv: [binary, ...args] },
      { cause: e },
    );
  }
  const connected = qmp;
  return {
    pid: child.pid ?? -1,
    qmp: connected,
    stderr: () => stderr,
    exited,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
