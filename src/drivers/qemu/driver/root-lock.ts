/**
 * One process at a time manages a driver root (libvirt takes `driver.pid` in its state dir the
 * same way): a lock file holding the owner's pid and start time. A lock whose owner is gone
 * (killed, crashed) is stale and taken over; a live owner makes the open fail with a clear error.
 */
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../../util/atomic-file.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { isProcessAlive, readProcStat } from "../../../util/spawn.ts";

export const LOCK_FILE = "driver.lock";

function parseLock(text: string): { pid: number; starttime: number } | undefined {
  const [pid, starttime] = text.trim().split(/\s+/).map(Number);
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, starttime: starttime !== undefined && Number.isInteger(starttime) ? starttime : -1 };
}

export class RootLock {
  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  /** Takes the lock of `stateDir`, or throws `QEMU_ROOT_IN_USE` naming the owner. */
  static async acquire(stateDir: string): Promise<RootLock> {
    const path = join(stateDir, LOCK_FILE);
    const me = readProcStat(process.pid);
    const content = `${process.pid} ${me?.starttime ?? -1}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(path, "wx", 0o600);
        try {
          // Not fsynced: the lock only means something while its holder lives, and a lock
          // left by a crash is recognised as stale by its PID and start time.
          await fh.writeFile(content);
        } finally {
          await fh.close();
        }
        return new RootLock(path, content);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const holder = parseLock(await readFile(path, "utf8").catch(() => ""));
      if (
        holder &&
        holder.pid !== process.pid &&
        isProcessAlive(holder.pid, holder.starttime >= 0 ? holder.starttime : undefined)
      ) {
        throw new VirtError("QEMU_ROOT_IN_USE", { dir: stateDir, pid: holder.pid }, { lockFile: path });
      }
      // Stale (its owner is gone) or ours from an earlier instance: take it over.
      await writeFileAtomic(path, content);
      const now = await readFile(path, "utf8").catch(() => "");
      if (now === content) return new RootLock(path, content);
    }
    throw new VirtError("QEMU_ROOT_IN_USE", { dir: stateDir, pid: "unknown" }, { lockFile: path });
  }

  async release(): Promise<void> {
    const now = await readFile(this.path, "utf8").catch(() => "");
    if (now === this.content) await rm(this.path, { force: true });
  }
}
