/**
 * A lock file for the guest cache, so that two test processes starting at once do not both
 * download and build. It only saves work: the cache stays consistent without it, because every
 * file enters the cache by an atomic rename of a complete file.
 *
 * The lock is a file created with O_EXCL holding the owner's pid. It is stale, and taken over,
 * when that pid is gone, or when it is older than `staleMs` (a build takes seconds).
 */
import { open, readFile, rm, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { GuestBuildError } from "./run.ts";

export interface LockOptions {
  /** Give up waiting after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** A lock older than this is stale whoever holds it. Default 20 minutes. */
  staleMs?: number;
  /** How often to look again. Default 200 ms. */
  pollMs?: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why the lock at `path` may be taken over, or undefined while its holder is live. */
async function staleReason(
  path: string,
  staleMs: number,
): Promise<{ stale: string | undefined; holder: string }> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(path, "utf8"), stat(path).then((s) => s.mtimeMs)]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { stale: "gone", holder: "nobody" };
    throw e;
  }
  const age = Date.now() - mtimeMs;
  const pid = Number.parseInt(text.trim(), 10);
  const holder = Number.isInteger(pid) ? `pid ${pid}` : "an unknown process";
  if (age > staleMs) return { stale: `older than ${Math.round(staleMs / 1000)} s`, holder };
  // A new lock is empty for an instant between create and write.
  if (!Number.isInteger(pid) || pid <= 0) return { stale: age > 10_000 ? "no pid in it" : undefined, holder };
  return { stale: pidAlive(pid) ? undefined : `pid ${pid} is gone`, holder };
}

/** Runs `fn` while holding the lock file `path`; waits for another holder to finish first. */
export async function withLockFile<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const staleMs = opts.staleMs ?? 20 * 60_000;
  const pollMs = opts.pollMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, "wx", 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const { stale, holder } = await staleReason(path, staleMs);
    // Released meanwhile: try again (removing it now could remove the next holder's new lock).
    if (stale === "gone") continue;
    if (stale !== undefined) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new GuestBuildError(
        "lock-timeout",
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for the lock ${path}, held by ${holder}; ` +
          `remove the file if that process is not building the test guest`,
      );
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
