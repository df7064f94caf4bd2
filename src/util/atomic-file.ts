/**
 * Crash-safe file updates (../shared/DESIGN.md "State on disk"): a file is written to a temp
 * file in the same directory, fsynced, and renamed over the target, so a crash at any instant
 * leaves the old file or the new one, never a torn one.
 *
 * The rename (and a removal, and a new symlink) is in the kernel when the call returns, so a
 * crash of the process loses nothing. Against a crash of the whole machine, the directory is
 * fsynced too, within DIR_SYNC_DELAY_MS: one fsync per directory covers every change made in it
 * meanwhile, and `flushDirSyncs()` (the drivers' close, and any exit of the process) does the
 * ones still pending at once. libvirt fsyncs the file and never the directory, which leaves the
 * rename to the file system's own commit (ext4: up to 5 s); waiting for a directory fsync on
 * every call would triple the fsyncs of a define+undefine.
 *
 * Opening, writing a few KiB, renaming and unlinking are synchronous calls: they take
 * microseconds, while each asynchronous one costs two hand-offs between threads. The fsync,
 * which waits for the disk, runs on libuv's threads, unless the process says nothing else waits
 * for its event loop meanwhile (`setInlineSync`): then it runs on the calling thread, which
 * saves the two wake-ups (about 0.4 ms a define on this 2-vCPU VM, more than the fsync itself).
 */
import {
  closeSync,
  fsync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { VirtError } from "./errors/index.ts";

function errnoOf(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined;
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let tempSerial = 0;
/**
 * A temp name for `path`: unique among this process's writers by the serial, and among
 * processes by the pid. Exported for tests.
 */
export function tempName(path: string): string {
  tempSerial = (tempSerial + 1) >>> 0;
  const serial = tempSerial.toString(16).padStart(8, "0");
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${serial}`);
}

/**
 * Makes a temp file next to `path` with `create`, under a fresh name while one is taken (a
 * leftover of a crashed process that had this pid).
 */
function createTemp<T>(path: string, create: (tmp: string) => T): { tmp: string; made: T } {
  for (let attempt = 1; ; attempt++) {
    const tmp = tempName(path);
    try {
      return { tmp, made: create(tmp) };
    } catch (e) {
      if (errnoOf(e) !== "EEXIST" || attempt >= 16) throw e;
    }
  }
}

const neverInline = (): boolean => false;
let inlineSync: () => boolean = neverInline;

/**
 * Lets file fsyncs run on the calling thread whenever `policy()` says so at that moment. tvirtd
 * allows it while it serves no other call: blocking its loop then delays no one's reply, and a
 * call arriving meanwhile waits one fsync at most. By default (a library inside someone's
 * program) an fsync never blocks the caller's thread. Returns what puts the default back.
 */
export function setInlineSync(policy: () => boolean): () => void {
  inlineSync = policy;
  // The undo of whoever set it: a later policy stays in place.
  return () => {
    if (inlineSync === policy) inlineSync = neverInline;
  };
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

/** How long a rename may wait for its directory's fsync. */
export const DIR_SYNC_DELAY_MS = 100;
const pendingDirs = new Set<string>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;
let exitHook = false;

/** Directories with changes whose fsync is still to come (for tests). */
export function pendingDirSyncs(): string[] {
  return [...pendingDirs];
}

/** fsyncs `dir` within DIR_SYNC_DELAY_MS, together with every other change in it by then. */
export function fsyncDirSoon(dir: string): void {
  pendingDirs.add(dir);
  if (!exitHook) {
    exitHook = true;
    // A process that ends (normally, or on an uncaught error) syncs what is pending first.
    process.once("exit", () => {
      for (const d of pendingDirs) {
        try {
          const fd = openSync(d, "r");
          try {
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
        } catch {
          // The directory is gone: nothing left to make durable in it.
        }
      }
      pendingDirs.clear();
    });
  }
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    void flushDirSyncs();
  }, DIR_SYNC_DELAY_MS).unref();
}

/** fsyncs now every directory with changes not synced yet. */
export async function flushDirSyncs(): Promise<void> {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  const dirs = [...pendingDirs];
  pendingDirs.clear();
  await Promise.all(
    dirs.map((d) =>
      fsyncDir(d).catch((e: unknown) => {
        if (errnoOf(e) !== "ENOENT") process.emitWarning(`cannot fsync directory '${d}': ${reasonOf(e)}`);
      }),
    ),
  );
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
  let tmp: string | undefined;
  try {
    if (options.mkdirMode !== undefined) mkdirSync(dir, { recursive: true, mode: options.mkdirMode });
    const temp = createTemp(path, (t) => openSync(t, "wx", options.mode ?? 0o600));
    tmp = temp.tmp;
    const fd = temp.made;
    try {
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      if (inlineSync()) fsyncSync(fd);
      else
        await new Promise<void>((resolve, reject) => {
          fsync(fd, (e) => {
            if (e) reject(e);
            else resolve();
          });
        });
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDirSoon(dir);
  } catch (e) {
    if (tmp !== undefined) rmSync(tmp, { force: true });
    throw new VirtError(
      "FILE_WRITE_FAILED",
      { path, reason: reasonOf(e) },
      { errno: errnoOf(e) },
      { cause: e },
    );
  }
}

/** Removes `path` durably. A missing file is not an error. Returns whether a file was removed. */
export function removeFileDurable(path: string): Promise<boolean> {
  try {
    return Promise.resolve(removeNow(path));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function removeNow(path: string): boolean {
  // Looked at first: an absent file is the common case (autostart links), and a failed unlink
  // costs an exception with a stack trace.
  if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return false;
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return false;
    throw new VirtError(
      "FILE_WRITE_FAILED",
      { path, reason: `cannot remove: ${reasonOf(e)}` },
      { errno: errnoOf(e) },
      { cause: e },
    );
  }
  fsyncDirSoon(dirname(path));
  return true;
}

/** Creates or replaces the symlink `path` → `target` atomically. */
export function symlinkAtomic(target: string, path: string): Promise<void> {
  try {
    symlinkNow(target, path);
    return Promise.resolve();
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function symlinkNow(target: string, path: string): void {
  let tmp: string | undefined;
  try {
    tmp = createTemp(path, (t) => {
      symlinkSync(target, t);
    }).tmp;
    renameSync(tmp, path);
    fsyncDirSoon(dirname(path));
  } catch (e) {
    if (tmp !== undefined) rmSync(tmp, { force: true });
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
