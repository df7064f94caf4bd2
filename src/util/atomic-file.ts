/**
 * Crash-safe file updates (../shared/DESIGN.md "State on disk"): a file is written to a temp
 * file in the same directory, fsynced, renamed over the target, and the directory is fsynced,
 * so a crash at any instant leaves the old file or the new one, never a torn one. Removals and
 * symlinks are made durable the same way.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, symlink, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { VirtError } from "./errors/index.ts";

function errnoOf(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined;
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

async function fsyncDirNow(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

interface DirSyncState {
  running: Promise<void>;
  /** The next fsync, started when `running` settles; shared by every caller that came meanwhile. */
  next: Promise<void> | undefined;
}
const dirSyncs = new Map<string, DirSyncState>();

/**
 * fsyncs a directory, so that renames and unlinks inside it survive a crash. Concurrent calls
 * for one directory share fsyncs (group commit): a caller waits for an fsync that started after
 * it called, so everything it did in the directory before calling is covered.
 */
export function fsyncDir(dir: string): Promise<void> {
  const state = dirSyncs.get(dir);
  if (!state) {
    const running = fsyncDirNow(dir).finally(() => {
      const st = dirSyncs.get(dir);
      if (st?.running === running && st.next === undefined) dirSyncs.delete(dir);
    });
    dirSyncs.set(dir, { running, next: undefined });
    return running;
  }
  state.next ??= state.running
    .catch(() => undefined)
    .then(() => {
      const next = state.next!;
      state.running = next;
      state.next = undefined;
      return fsyncDirNow(dir);
    })
    .finally(() => {
      if (dirSyncs.get(dir) === state && state.next === undefined) dirSyncs.delete(dir);
    });
  return state.next;
}

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0o600). */
  mode?: number;
  /** Create missing parent directories with this mode (default: do not create). */
  mkdirMode?: number;
}

/**
 * Replaces `path` with `data` atomically. Throws `FILE_WRITE_FAILED` naming the path; on failure
 * the old file is untouched and no temp file is left.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = tempName(path);
  try {
    if (options.mkdirMode !== undefined) await mkdir(dir, { recursive: true, mode: options.mkdirMode });
    const fh = await open(tmp, "wx", options.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await fsyncDir(dir);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new VirtError(
      "FILE_WRITE_FAILED",
      { path, reason: reasonOf(e) },
      { errno: errnoOf(e) },
      { cause: e },
    );
  }
}

/** Removes `path` durably. A missing file is not an error. Returns whether a file was removed. */
export async function removeFileDurable(path: string): Promise<boolean> {
  try {
    await unlink(path);
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return false;
    throw new VirtError(
      "FILE_WRITE_FAILED",
      { path, reason: `cannot remove: ${reasonOf(e)}` },
      { errno: errnoOf(e) },
      { cause: e },
    );
  }
  await fsyncDir(dirname(path)).catch(() => undefined);
  return true;
}

/** Creates or replaces the symlink `path` → `target` atomically. */
export async function symlinkAtomic(target: string, path: string): Promise<void> {
  const tmp = tempName(path);
  try {
    await symlink(target, tmp);
    await rename(tmp, path);
    await fsyncDir(dirname(path));
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new VirtError(
      "FILE_WRITE_FAILED",
      { path, reason: reasonOf(e) },
      { errno: errnoOf(e) },
      { cause: e },
    );
  }
}

/** Temp files a crashed writer may have left in `dir` (`.<name>.tmp-*`), for cleanup at start. */
export function isAtomicTempName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}
