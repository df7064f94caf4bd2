/**
 * What the QEMU driver's helper daemons (swtpm, virtiofsd) share once spawned: waiting for the
 * socket QEMU will connect to, while noticing an early exit, and ending the daemon (by PID and
 * start time, so a recycled PID is never hit) when it never listens.
 */
import { stat } from "node:fs/promises";
import type { VirtError } from "../../../util/errors/index.ts";
import { terminateProcess, type ExitStatus } from "../../../util/spawn.ts";

export interface HelperSpawned {
  readonly pid: number;
  readonly starttime: number | undefined;
  readonly exited: Promise<ExitStatus>;
}

/**
 * Waits up to `timeoutMs` for a Unix socket at `path`. Resolves `undefined` once it is there, or
 * the exit status when the daemon ended first. On timeout the daemon is ended and `onTimeout`'s
 * error (the caller's catalogued one) is thrown.
 */
export async function waitForHelperSocket(
  daemon: HelperSpawned,
  path: string,
  timeoutMs: number,
  onTimeout: (seconds: string) => VirtError,
): Promise<ExitStatus | undefined> {
  let status: ExitStatus | undefined;
  void daemon.exited.then((s) => {
    status = s;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (status) return status;
    try {
      if ((await stat(path)).isSocket()) return undefined;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  await terminateProcess(daemon.pid, { starttime: daemon.starttime, graceMs: 1000 });
  throw onTimeout(String(timeoutMs / 1000));
}
