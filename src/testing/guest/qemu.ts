/**
 * Boots the tiny test guest under raw QEMU (no tvirt in between), for tests of the guest itself
 * and as a baseline for driver tests. TCG only (KVM does not work on our hosts), serial console
 * on a stdout pipe, `-no-reboot`, no default devices.
 *
 * Every QEMU started here is killed by pid when the test process exits, whatever happens to
 * the test; tests should still call {@link RawGuest.kill} in `finally`.
 */
import { spawn } from "node:child_process";
import { guestCmdline } from "./domain-xml.ts";
import type { GuestMode } from "./init-script.ts";
import { tail } from "./run.ts";

export const QEMU_BINARY = "qemu-system-x86_64";

export interface RawBootOptions {
  kernel: string;
  initrd: string;
  mode: GuestMode;
  memoryMiB?: number;
  extraCmdline?: string;
  /** More QEMU arguments (e.g. `-qmp unix:…,server=on,wait=off`). */
  extraArgs?: readonly string[];
  qemu?: string;
}

export interface RawGuestExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RawGuest {
  readonly pid: number;
  /** Milliseconds since spawn. */
  elapsedMs(): number;
  /** Serial console output so far. */
  output(): string;
  /** QEMU's own stderr so far. */
  stderr(): string;
  /**
   * Resolves with the first match of `re` in the complete lines of the console output (up to
   * the last newline, so `\S+` never matches half a word that is still arriving; lines end in
   * `\r\n`). Rejects on timeout, or when QEMU exits without a match.
   */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Resolves when QEMU has exited. */
  readonly exited: Promise<RawGuestExit>;
  /** Resolves with the exit, or rejects if QEMU still runs after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<RawGuestExit>;
  /** SIGKILL by pid (if still running) and wait for the exit. */
  kill(): Promise<RawGuestExit>;
}

const live = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of live) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** The QEMU argv (without the binary) for booting the tiny guest. */
export function rawQemuArgs(opts: RawBootOptions): string[] {
  return [
    "-accel",
    "tcg",
    "-machine",
    "pc",
    "-m",
    String(opts.memoryMiB ?? 128),
    "-smp",
    "1",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-kernel",
    opts.kernel,
    "-initrd",
    opts.initrd,
    "-append",
    guestCmdline(opts.mode, opts.extraCmdline),
    ...(opts.extraArgs ?? []),
  ];
}

/** Starts QEMU on the tiny guest. */
export function bootRawQemu(opts: RawBootOptions): Promise<RawGuest> {
  installExitHook();
  const started = Date.now();
  const child = spawn(opts.qemu ?? QEMU_BINARY, rawQemuArgs(opts), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  child.stdout.on("data", (s: string) => {
    out += s;
    notify();
  });
  child.stderr.on("data", (s: string) => {
    err += s;
  });
  let exitInfo: RawGuestExit | undefined;
  const exited = new Promise<RawGuestExit>((resolve) => {
    child.on("close", (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid);
      exitInfo = { code, signal };
      resolve(exitInfo);
      notify();
    });
  });

  const describe = (): string => {
    const serial = tail(out.replace(/\r/g, ""), 20);
    const qemuErr = tail(err, 10);
    return `\n--- serial (tail) ---\n${serial}${qemuErr === "" ? "" : `\n--- qemu stderr ---\n${qemuErr}`}`;
  };

  return new Promise((resolve, reject) => {
    child.once("error", (e) => {
      reject(new Error(`${opts.qemu ?? QEMU_BINARY} could not be started: ${e.message}`, { cause: e }));
    });
    child.once("spawn", () => {
      const pid = child.pid!;
      live.add(pid);
      const guest: RawGuest = {
        pid,
        elapsedMs: () => Date.now() - started,
        output: () => out,
        stderr: () => err,
        exited,
        waitFor(re, timeoutMs) {
          return new Promise((res, rej) => {
            const check = (): boolean => {
              const complete = exitInfo ? out : out.slice(0, out.lastIndexOf("\n") + 1);
              const m = new RegExp(re.source, re.flags.replace("g", "")).exec(complete);
              if (m) {
                done();
                res(m);
                return true;
              }
              if (exitInfo) {
                done();
                rej(
                  new Error(
                    `QEMU (pid ${pid}) exited (code ${exitInfo.code ?? "-"}, signal ${exitInfo.signal ?? "-"}) before the console showed ${re}${describe()}`,
                  ),
                );
                return true;
              }
              return false;
            };
            const timer = setTimeout(() => {
              done();
              rej(
                new Error(
                  `timed out after ${timeoutMs} ms waiting for ${re} on the console of QEMU pid ${pid}${describe()}`,
                ),
              );
            }, timeoutMs);
            const listener = (): void => {
              check();
            };
            const done = (): void => {
              clearTimeout(timer);
              listeners.delete(listener);
            };
            if (!check()) listeners.add(listener);
          });
        },
        async waitExit(timeoutMs) {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, rej) => {
            timer = setTimeout(() => {
              rej(new Error(`QEMU pid ${pid} still runs after ${timeoutMs} ms${describe()}`));
            }, timeoutMs);
          });
          try {
            return await Promise.race([exited, timeout]);
          } finally {
            clearTimeout(timer);
          }
        },
        async kill() {
          if (!exitInfo) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // exited meanwhile
            }
          }
          return exited;
        },
      };
      resolve(guest);
    });
  });
}
