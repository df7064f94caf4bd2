/**
 * virtiofs: one virtiofsd per `<filesystem><driver type='virtiofs'/>`, started before QEMU with
 * its socket in the domain's runtime directory (where the command line's chardev points), its
 * output in a log of its own beside the domain's, watched while the guest runs, and stopped with
 * the guest. Without `<binary path>`, the Rust daemon (`/usr/libexec/virtiofsd`) is preferred
 * and the C one QEMU 7.2 ships (`/usr/lib/qemu/virtiofsd`) used otherwise; both take these
 * options (`--socket-path`, `-o source=`, `-o cache=`, …).
 *
 * A virtiofsd that exits while its guest runs leaves the guest's mount dead (QEMU keeps running);
 * the driver reports it: a line in the domain's log and an `io-error-reason` event naming the
 * shared directory, the device and why.
 */
import { constants as fsConstants } from "node:fs";
import { access, open, rm, stat } from "node:fs/promises";
import type { DomainDef, FilesystemDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { readdirSync } from "node:fs";
import {
  isProcessAlive,
  readProcCmdline,
  spawnArgv,
  terminateProcess,
  readProcStat,
  type ExitStatus,
} from "../../../util/spawn.ts";
import { waitForHelperSocket } from "./helper-daemon.ts";

/** Where virtiofsd is looked for when the XML names no binary, in order. */
export const VIRTIOFSD_PATHS = ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"] as const;

/** The filesystems served by virtiofsd (not those with an externally started daemon's socket). */
export function virtiofsFilesystems(def: DomainDef): FilesystemDef[] {
  return def.devices.filesystems.filter(
    (f) => f.driver?.type === "virtiofs" && f.source?.socket === undefined,
  );
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The virtiofsd binary for a filesystem, or a catalogued error listing where it was looked for. */
export async function findVirtiofsd(
  fs: FilesystemDef,
  candidates: readonly string[] = VIRTIOFSD_PATHS,
): Promise<string> {
  const tried = fs.binary?.path !== undefined ? [fs.binary.path] : candidates;
  for (const p of tried) if (await executable(p)) return p;
  throw new VirtError("QEMU_VIRTIOFSD_MISSING", { tag: fs.target.dir, tried: tried.join(", ") });
}

/** virtiofsd's command line for `fs`, listening on `socket`. */
export function virtiofsdArgv(binary: string, fs: FilesystemDef, socket: string): string[] {
  const argv = [binary, `--socket-path=${socket}`, "-o", `source=${fs.source?.dir ?? ""}`];
  const b = fs.binary;
  if (b?.cache) argv.push("-o", `cache=${b.cache.mode === "never" ? "none" : b.cache.mode}`);
  if (b?.xattr === true) argv.push("-o", "xattr");
  if (b?.xattr === false) argv.push("-o", "no_xattr");
  if (b?.sandbox) argv.push(`--sandbox=${b.sandbox.mode}`);
  if (b?.lock?.posix === true) argv.push("-o", "posix_lock");
  if (b?.lock?.posix === false) argv.push("-o", "no_posix_lock");
  if (b?.lock?.flock === true) argv.push("-o", "flock");
  if (b?.lock?.flock === false) argv.push("-o", "no_flock");
  if (b?.threadPool) argv.push(`--thread-pool-size=${String(b.threadPool.size)}`);
  if (b?.openfiles) argv.push(`--rlimit-nofile=${String(b.openfiles.max)}`);
  return argv;
}

/** A running virtiofsd. */
export interface VirtiofsDaemon {
  readonly alias: string;
  readonly tag: string;
  readonly source: string;
  readonly pid: number;
  readonly socket: string;
  readonly exited: Promise<ExitStatus>;
  /** `stop()` was called: its exit is no news. */
  readonly stopping: boolean;
  /** SIGTERM (then SIGKILL) and wait; removes the socket. */
  stop(): Promise<void>;
}

/**
 * Starts virtiofsd for `fs` and waits for its socket. Refuses a source that is not a directory.
 * On failure the daemon's own words (its log's last line) are in the error.
 */
export async function startVirtiofsd(opts: {
  readonly domain: string;
  readonly fs: FilesystemDef;
  readonly alias: string;
  readonly socket: string;
  readonly logPath: string;
  readonly candidates?: readonly string[];
}): Promise<VirtiofsDaemon> {
  const { fs, socket } = opts;
  const source = fs.source?.dir ?? "";
  let isDir: boolean;
  try {
    isDir = (await stat(source)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir)
    throw new VirtError("QEMU_VIRTIOFS_SOURCE", { domain: opts.domain, tag: fs.target.dir, source });
  const binary = await findVirtiofsd(fs, opts.candidates);
  await rm(socket, { force: true });
  const log = await open(opts.logPath, "a", 0o600);
  let child;
  try {
    child = await spawnArgv(virtiofsdArgv(binary, fs, socket), {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
      stdout: log.fd,
      stderr: log.fd,
      detached: true,
      cwd: "/",
    });
  } finally {
    await log.close();
  }
  child.process.unref();
  const starttime = readProcStat(child.pid)?.starttime;
  const pid = child.pid;
  const exited = child.exited;
  const early = await waitForHelperSocket(
    { pid, starttime, exited },
    socket,
    10_000,
    (seconds) => new VirtError("QEMU_VIRTIOFSD_TIMEOUT", { tag: fs.target.dir, path: socket, seconds }),
  );
  if (early) {
    throw new VirtError("QEMU_VIRTIOFSD_FAILED", {
      tag: fs.target.dir,
      status: early.signal ?? `status ${String(early.code)}`,
      log: opts.logPath,
    });
  }
  let stopping = false;
  return {
    alias: opts.alias,
    tag: fs.target.dir,
    source,
    pid,
    socket,
    exited,
    get stopping() {
      return stopping;
    },
    async stop(): Promise<void> {
      stopping = true;
      await terminateProcess(pid, { starttime, graceMs: 5000 });
      await rm(socket, { force: true });
    },
  };
}

/**
 * After a driver restart: the virtiofsd an earlier instance started for `fs` (found by its
 * socket in /proc; the topmost one where the C daemon forked a sandboxed child). Not our child,
 * so its exit is noticed by polling. Undefined when no such process runs any more.
 */
export function adoptVirtiofsd(
  fs: FilesystemDef,
  alias: string,
  socket: string,
  pollMs = 500,
): VirtiofsDaemon | undefined {
  const want = `--socket-path=${socket}`;
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const argv = readProcCmdline(Number(d));
    if (argv?.[0]?.endsWith("virtiofsd") === true && argv.includes(want)) pids.push(Number(d));
  }
  const top = pids.find((p) => !pids.includes(readProcStat(p)?.ppid ?? -1));
  if (top === undefined) return undefined;
  const starttime = readProcStat(top)?.starttime;
  let stopping = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    const timer = setInterval(() => {
      if (isProcessAlive(top, starttime)) return;
      clearInterval(timer);
      // the exit status of a process that is not our child is unknown
      resolve({ code: null, signal: null });
    }, pollMs);
    timer.unref();
  });
  return {
    alias,
    tag: fs.target.dir,
    source: fs.source?.dir ?? "",
    pid: top,
    socket,
    exited,
    get stopping() {
      return stopping;
    },
    async stop(): Promise<void> {
      stopping = true;
      await terminateProcess(top, { ...(starttime !== undefined ? { starttime } : {}), graceMs: 5000 });
      await rm(socket, { force: true });
    },
  };
}
