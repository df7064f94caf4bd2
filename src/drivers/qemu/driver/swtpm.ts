/**
 * Emulated TPMs (libvirt's `qemu_tpm.c`): one swtpm per `<tpm><backend type='emulator'>`,
 * started before QEMU and stopped after it.
 *
 * - The state lives under the root's `swtpm/<uuid>/tpm2` (`tpm1.2` for a TPM 1.2; libvirt's
 *   `/var/lib/libvirt/swtpm/<uuid>/tpm2`), or where `<source type='dir'|'file' path=>` says.
 *   A state that does not exist yet is made by `swtpm_setup` once (endorsement key and its
 *   certificate, platform certificate, NVRAM locked), as libvirt's qemuTPMEmulatorRunSetup.
 * - swtpm listens on `<alias>-swtpm.sock` in the domain's runtime folder, where the command
 *   line's `-chardev socket,id=chrtpm` points; `--terminate` ends it when QEMU goes away, and
 *   the driver stops it too (found by its pid file, so also after a driver restart).
 * - The state is removed with the domain (undefine, or a transient domain that stops) as
 *   libvirt's qemuTPMEmulatorCleanupHost: unless `persistent_state='yes'` or `--keep-tpm`;
 *   `--tpm` removes it even with `persistent_state='yes'`.
 */
import { existsSync } from "node:fs";
import { mkdir, open, readFile, readdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DomainDef, TpmDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import {
  isProcessAlive,
  readProcCmdline,
  readProcStat,
  runArgv,
  spawnArgv,
  terminateProcess,
} from "../../../util/spawn.ts";
import { DomainUndefineFlags } from "../../enums.ts";
import type { DriverPaths } from "../paths.ts";
import { waitForHelperSocket } from "./helper-daemon.ts";

export const SWTPM = "/usr/bin/swtpm";
export const SWTPM_SETUP = "/usr/bin/swtpm_setup";

const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };

/** The emulator TPMs of a definition (those the driver runs a swtpm for). */
export function emulatorTpms(def: DomainDef): TpmDef[] {
  return def.devices.tpms.filter((t) => t.backend.type === "emulator");
}

/** The root of the default TPM states: `<lib>/swtpm` beside the QEMU driver's folder. */
export function swtpmStorageRoot(paths: DriverPaths): string {
  return join(dirname(paths.libDir), "swtpm");
}

/** Where a TPM's state is kept: a folder (swtpm's `dir=`) or one file (`backend-uri=file://`). */
export interface TpmStateLocation {
  readonly kind: "dir" | "file";
  readonly path: string;
  /** The default location (made and removed by the driver), not one the definition names. */
  readonly owned: boolean;
}

export function tpmStateLocation(paths: DriverPaths, uuid: string, tpm: TpmDef): TpmStateLocation {
  const src = tpm.backend.source;
  if (src) return { kind: src.type, path: src.path, owned: false };
  const sub = tpm.backend.version === "1.2" ? "tpm1.2" : "tpm2";
  return { kind: "dir", path: join(swtpmStorageRoot(paths), uuid, sub), owned: true };
}

/** The control socket of a TPM's swtpm in the domain's runtime folder. */
export function swtpmSocketPath(domainDir: string, alias: string): string {
  return join(domainDir, `${alias}-swtpm.sock`);
}

function swtpmPidPath(domainDir: string, alias: string): string {
  return join(domainDir, `${alias}-swtpm.pid`);
}

function stateArg(loc: TpmStateLocation): string {
  return loc.kind === "dir" ? loc.path : `file://${loc.path}`;
}

/** swtpm_setup's command line that makes a new state (libvirt's qemuTPMEmulatorRunSetup). */
export function swtpmSetupArgv(
  tpm: TpmDef,
  loc: TpmStateLocation,
  vm: { name: string; uuid: string },
  logFile: string,
): string[] {
  const argv = [SWTPM_SETUP];
  if (tpm.backend.version !== "1.2") argv.push("--tpm2");
  argv.push(
    "--tpm-state",
    stateArg(loc),
    "--vmid",
    `${vm.name}:${vm.uuid}`,
    "--logfile",
    logFile,
    "--createek",
    "--create-ek-cert",
    "--create-platform-cert",
    "--lock-nvram",
    "--not-overwrite",
  );
  const banks = tpm.backend.activePcrBanks;
  if (tpm.backend.version !== "1.2" && banks !== undefined && banks.length > 0)
    argv.push("--pcr-banks", banks.join(","));
  return argv;
}

/** swtpm's command line (libvirt's qemuTPMEmulatorBuildCommand, run in the foreground). */
export function swtpmArgv(
  tpm: TpmDef,
  loc: TpmStateLocation,
  socket: string,
  logFile: string,
  pidFile: string,
): string[] {
  const argv = [SWTPM, "socket", "--ctrl", `type=unixio,path=${socket},mode=0600`, "--tpmstate"];
  argv.push(loc.kind === "dir" ? `dir=${loc.path},mode=0600` : `backend-uri=file://${loc.path}`);
  const debug = tpm.backend.debug ?? 0;
  argv.push("--log", debug > 0 ? `file=${logFile},level=${String(debug)}` : `file=${logFile}`);
  // swtpm ends when QEMU closes the connection
  argv.push("--terminate");
  if (tpm.backend.version !== "1.2") argv.push("--tpm2");
  argv.push("--pid", `file=${pidFile}`);
  return argv;
}

/** Whether a state exists at `loc` (swtpm's `tpm2-00.permall` / `tpm-00.permall`, or the file). */
async function stateExists(loc: TpmStateLocation): Promise<boolean> {
  try {
    if (loc.kind === "file") return (await stat(loc.path)).size > 0;
    const names = await readdir(loc.path);
    return names.some((n) => n.endsWith(".permall"));
  } catch {
    return false;
  }
}

/** What the definition asks that this driver cannot give yet, as a clear refusal. */
function checkSupported(domain: string, alias: string, tpm: TpmDef): void {
  const fail = (what: string): never => {
    throw new VirtError("QEMU_TPM_UNSUPPORTED", { domain, alias, what });
  };
  if (tpm.backend.secret !== undefined)
    fail(
      "an encrypted state (<encryption secret=...>) is not supported yet; remove <encryption> to start it",
    );
  if (tpm.backend.profile !== undefined)
    fail("TPM profiles (<profile>) are not supported by this swtpm (no 'cmdarg-profile' in swtpm_setup)");
}

/** A running swtpm. */
export interface SwtpmDaemon {
  readonly alias: string;
  readonly pid: number;
  readonly socket: string;
  /** SIGTERM (then SIGKILL) and wait; removes the socket and pid file. */
  stop(): Promise<void>;
}

/**
 * Prepares the state of `tpm` (made by swtpm_setup when missing) and starts its swtpm, waiting
 * for the control socket. Errors name the TPM and point at swtpm's log.
 */
export async function startSwtpm(opts: {
  readonly paths: DriverPaths;
  readonly def: DomainDef;
  readonly tpm: TpmDef;
  readonly domainDir: string;
  readonly logFile: string;
}): Promise<SwtpmDaemon> {
  const { def, tpm } = opts;
  const alias = tpm.alias ?? "tpm0";
  checkSupported(def.name, alias, tpm);
  for (const binary of [SWTPM, SWTPM_SETUP])
    if (!existsSync(binary)) throw new VirtError("QEMU_SWTPM_MISSING", { alias, domain: def.name, binary });
  const loc = tpmStateLocation(opts.paths, def.uuid, tpm);
  if (loc.owned) {
    // others may pass through the root and the domain's folder, the state itself is private
    await mkdir(dirname(dirname(loc.path)), { recursive: true, mode: 0o711 });
    await mkdir(dirname(loc.path), { recursive: true, mode: 0o711 });
  }
  if (loc.kind === "dir") await mkdir(loc.path, { recursive: true, mode: 0o700 });
  else await mkdir(dirname(loc.path), { recursive: true, mode: 0o700 });
  if (!(await stateExists(loc))) {
    const r = await runArgv(swtpmSetupArgv(tpm, loc, def, opts.logFile), { env: ENV, timeoutMs: 120_000 });
    if (r.code !== 0)
      throw new VirtError("QEMU_SWTPM_SETUP_FAILED", {
        binary: SWTPM_SETUP,
        status: String(r.code ?? r.signal ?? "?"),
        log: opts.logFile,
      });
  }
  const socket = swtpmSocketPath(opts.domainDir, alias);
  const pidFile = swtpmPidPath(opts.domainDir, alias);
  await rm(socket, { force: true });
  const log = await open(opts.logFile, "a", 0o600);
  let child;
  try {
    child = await spawnArgv(swtpmArgv(tpm, loc, socket, opts.logFile, pidFile), {
      env: ENV,
      stdout: log.fd,
      stderr: log.fd,
      detached: true,
      cwd: "/",
    });
  } finally {
    await log.close();
  }
  child.process.unref();
  const pid = child.pid;
  const starttime = readProcStat(pid)?.starttime;
  const early = await waitForHelperSocket(
    { pid, starttime, exited: child.exited },
    socket,
    10_000,
    (seconds) => new VirtError("QEMU_SWTPM_TIMEOUT", { path: socket, seconds }),
  );
  if (early)
    throw new VirtError("QEMU_SWTPM_FAILED", {
      alias,
      status: early.signal ?? `status ${String(early.code)}`,
      log: opts.logFile,
    });
  return {
    alias,
    pid,
    socket,
    async stop(): Promise<void> {
      await terminateProcess(pid, { starttime, graceMs: 3000 });
      await rm(socket, { force: true });
      await rm(pidFile, { force: true });
    },
  };
}

/**
 * Stops the swtpm processes of a guest whose runtime folder is `domainDir`, by their pid files
 * (so also those an earlier driver instance started). A pid is only signalled while it is a
 * swtpm serving that folder's socket.
 */
export async function stopSwtpms(domainDir: string, def: DomainDef): Promise<void> {
  for (const tpm of emulatorTpms(def)) {
    const alias = tpm.alias ?? "tpm0";
    const pidFile = swtpmPidPath(domainDir, alias);
    const socket = swtpmSocketPath(domainDir, alias);
    let pid: number;
    try {
      pid = Number((await readFile(pidFile, "utf8")).trim());
    } catch {
      continue;
    }
    const argv = Number.isInteger(pid) && pid > 0 ? readProcCmdline(pid) : undefined;
    const ours =
      argv !== undefined &&
      argv[0]?.endsWith("swtpm") === true &&
      argv.some((a) => a.includes(`path=${socket},`)) &&
      isProcessAlive(pid);
    if (ours) await terminateProcess(pid, { starttime: readProcStat(pid)?.starttime, graceMs: 3000 });
    await rm(socket, { force: true });
    await rm(pidFile, { force: true });
  }
}

/**
 * Removes the TPM states of a domain that goes away (libvirt's qemuTPMEmulatorCleanupHost):
 * with `persistent_state='yes'` only for `VIR_DOMAIN_UNDEFINE_TPM`, otherwise unless
 * `VIR_DOMAIN_UNDEFINE_KEEP_TPM`. The default location goes with its `<uuid>` folder; a state
 * the definition placed is removed itself, never the folder around it.
 */
export async function removeTpmStates(paths: DriverPaths, def: DomainDef, flags: number): Promise<void> {
  const U = DomainUndefineFlags;
  for (const tpm of emulatorTpms(def)) {
    const persistent = tpm.backend.persistent_state === true;
    const remove = persistent ? (flags & U.TPM) !== 0 : (flags & U.KEEP_TPM) === 0;
    if (!remove) continue;
    const loc = tpmStateLocation(paths, def.uuid, tpm);
    await rm(loc.owned ? dirname(loc.path) : loc.path, { recursive: true, force: true });
  }
}

/**
 * The sysfs cancel file of a host TPM for a passthrough TPM (libvirt's virTPMCreateCancelPath):
 * `/sys/class/tpm/<dev>/device/cancel`, or the older `/sys/class/misc/<dev>/device/cancel`.
 */
export function hostTpmCancelPath(devicePath: string, sysfsRoot = "/sys"): string {
  const dev = devicePath.slice(devicePath.lastIndexOf("/") + 1);
  for (const cls of ["tpm", "misc"]) {
    const p = join(sysfsRoot, "class", cls, dev, "device", "cancel");
    if (existsSync(p)) return p;
  }
  throw new VirtError("QEMU_TPM_CANCEL_PATH", { path: devicePath });
}
