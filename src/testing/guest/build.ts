/**
 * Builds the tiny test guest from Debian packages and caches it outside the repository:
 * the current cloud kernel (`boot/vmlinuz-<version>` of the package that
 * `linux-image-cloud-amd64` depends on) and a busybox initramfs with the virtio, fuse and ACPI
 * modules and the `/init` of `init-script.ts`. Nothing is installed on the host: the two
 * packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` in a temp dir.
 *
 * Cache layout (base = `opts.cacheDir`, else `$TVIRT_GUEST_CACHE`, else
 * `${XDG_CACHE_HOME:-~/.cache}/tvirt/test-guest`):
 *
 *   <base>/<kernel-version>/vmlinuz
 *   <base>/<kernel-version>/initrd-<recipe>.img      cpio newc, gzip
 *   <base>/<kernel-version>/manifest-<recipe>.json   packages, modules, sizes
 *   <base>/current-<recipe>.json                     which kernel version the last build used
 *   <base>/.lock                                     held while building
 *
 * `<recipe>` is a hash of the init script, the handler and the module list, so a change to
 * them builds a new initrd beside the old one. Every file enters the cache by rename of a
 * complete, fsynced file, so a reader never sees a torn file, whatever runs concurrently.
 * The lock only keeps two processes from building the same thing twice.
 *
 * Once built, a call reads `current-<recipe>.json` and checks two files: no apt, no lock. To
 * move to a newer kernel, pass `refresh: true` (or delete the cache).
 */
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip as gzipCb, constants as zlibConstants } from "node:zlib";
import { writeCpio, type CpioEntry } from "./cpio.ts";
import {
  CHPASSWD_SCRIPT,
  SHUTDOWN_SCRIPT,
  GUEST_ETC_FILES,
  GUEST_MODULES,
  INIT_SCRIPT,
  POWER_BUTTON_HANDLER,
} from "./init-script.ts";
import { withLockFile } from "./lock.ts";
import { moduleDir, selectModules, type ModuleSelection } from "./modules.ts";
import { GuestBuildError, run, tail } from "./run.ts";

const gzip = promisify(gzipCb);

/** Bump when the initramfs layout changes in a way the hashed texts do not show. */
const FORMAT = 1;

export const KERNEL_META_PACKAGE = "linux-image-cloud-amd64";
export const BUSYBOX_PACKAGE = "busybox-static";

export interface TestGuest {
  /** Absolute path of the kernel image (bzImage). */
  kernel: string;
  /** Absolute path of the initramfs (gzip-compressed cpio newc). */
  initrd: string;
  /** Kernel release, e.g. `6.1.0-56-cloud-amd64`. */
  version: string;
}

export interface EnsureTestGuestOptions {
  /** Cache base directory (kernel versions are folders in it). */
  cacheDir?: string;
  /** Ask apt for the current kernel even when a build is cached; build if it changed. */
  refresh?: boolean;
  /** Progress lines (download, unpack, …); default silent. */
  log?: (line: string) => void;
}

/** What a build wrote beside the initrd (`manifest-<recipe>.json`). */
export interface GuestManifest {
  recipe: string;
  version: string;
  kernelPackage: string;
  kernelPackageVersion: string;
  busyboxPackageVersion: string;
  modules: string[];
  builtinModules: string[];
  missingModules: string[];
  initrdBytes: number;
  builtAt: string;
  buildMs: number;
}

/**
 * The host's guest agent (Debian's `qemu-guest-agent`, installed by scripts/setup): copied into
 * the initramfs with the libraries `ldd` names and the loader. Its size and mtime are part of
 * the recipe, so installing, upgrading or removing it builds a new initrd.
 */
export const QEMU_GA_PATH = "/usr/sbin/qemu-ga";

function agentFingerprint(): string {
  try {
    const st = statSync(QEMU_GA_PATH);
    return `${st.size}:${Math.trunc(st.mtimeMs)}`;
  } catch {
    return "absent";
  }
}

/** Hash of everything that goes into the initramfs besides the packages. */
export const RECIPE = createHash("sha256")
  .update(
    JSON.stringify({
      FORMAT,
      INIT_SCRIPT,
      POWER_BUTTON_HANDLER,
      GUEST_MODULES,
      GUEST_ETC_FILES,
      CHPASSWD_SCRIPT,
      SHUTDOWN_SCRIPT,
      agent: agentFingerprint(),
    }),
  )
  .digest("hex")
  .slice(0, 12);

/** The cache base directory for `opts`. */
export function guestCacheDir(opts: { cacheDir?: string } = {}): string {
  if (opts.cacheDir !== undefined && opts.cacheDir !== "") return opts.cacheDir;
  const env = process.env.TVIRT_GUEST_CACHE;
  if (env !== undefined && env !== "") return env;
  const xdg = process.env.XDG_CACHE_HOME;
  const cacheHome = xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache");
  return join(cacheHome, "tvirt", "test-guest");
}

function pathsFor(base: string, version: string): TestGuest & { manifest: string; dir: string } {
  const dir = join(base, version);
  return {
    dir,
    version,
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, `initrd-${RECIPE}.img`),
    manifest: join(dir, `manifest-${RECIPE}.json`),
  };
}

const pointerPath = (base: string): string => join(base, `current-${RECIPE}.json`);

/** Kernel releases are file names here: allow only what Debian uses. */
function checkVersion(v: unknown): v is string {
  return typeof v === "string" && /^[0-9][\w.+~-]*$/.test(v) && !v.includes("..");
}

/** The cached guest named by the pointer file, if both files are there. */
async function fromPointer(base: string): Promise<TestGuest | undefined> {
  let version: unknown;
  try {
    version = (JSON.parse(await readFile(pointerPath(base), "utf8")) as { version?: unknown }).version;
  } catch {
    return undefined;
  }
  if (!checkVersion(version)) return undefined;
  return complete(pathsFor(base, version));
}

function complete(p: TestGuest): TestGuest | undefined {
  return existsSync(p.kernel) && existsSync(p.initrd)
    ? { kernel: p.kernel, initrd: p.initrd, version: p.version }
    : undefined;
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `tmpDir/<name>` and fsyncs it, for a later rename into place. */
async function writeSynced(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, "w", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Atomic small-file write: temp file in the same folder, fsync, rename. */
async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeSynced(tmp, data);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** apt's words for "no network / no mirror". */
export const NETWORK_TROUBLE =
  /Could not resolve|Temporary failure resolving|Unable to connect|Could not connect|Connection (?:timed out|refused|failed)|Network is unreachable|No route to host|Unable to fetch some archives|Failed to fetch/i;

/** Re-labels an apt failure: stale package lists (404) or no network. */
function aptError(e: unknown, what: string): unknown {
  if (!(e instanceof GuestBuildError) || e.reason !== "command-failed") return e;
  const text = e.outputTail ?? e.message;
  if (/\b404\b/.test(text))
    return new GuestBuildError(
      "apt-no-package",
      `${what}: the package lists are out of date (404): ${e.message}`,
      { command: e.command, outputTail: e.outputTail, cause: e },
    );
  if (NETWORK_TROUBLE.test(text))
    return new GuestBuildError("apt-unreachable", `${what}: cannot reach the Debian mirror: ${e.message}`, {
      command: e.command,
      outputTail: e.outputTail,
      cause: e,
    });
  return e;
}

/**
 * `apt-get update`. It exits 0 even when no mirror answered (only warnings), so its output is
 * kept: {@link resolveKernelPackage} reports such a failure as `apt-unreachable`.
 */
async function aptUpdate(log: (l: string) => void): Promise<string> {
  if (process.getuid?.() !== 0)
    throw new GuestBuildError(
      "apt-no-package",
      "apt's package lists need `apt-get update`, which needs root; run it once and retry",
    );
  log("apt-get update");
  try {
    const { stdout, stderr } = await run(["apt-get", "update"], { timeoutMs: 5 * 60_000 });
    return `${stdout}\n${stderr}`;
  } catch (e) {
    throw aptError(e, "apt-get update failed");
  }
}

/** The kernel package `linux-image-cloud-amd64` depends on, from the local apt lists. */
async function kernelPackageFromApt(): Promise<string | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run(["apt-cache", "depends", KERNEL_META_PACKAGE], { timeoutMs: 60_000 }));
  } catch (e) {
    // rc 100 and "E: No packages found" when the lists do not know the package (yet).
    if (e instanceof GuestBuildError && /No packages found/.test(e.outputTail ?? "")) return undefined;
    throw e;
  }
  const m = /^\s*Depends:\s*(linux-image-[0-9]\S*)\s*$/m.exec(stdout);
  return m?.[1];
}

/** Resolves the current cloud kernel package, running `apt-get update` once if apt knows none. */
async function resolveKernelPackage(log: (l: string) => void, updated: { done: boolean }): Promise<string> {
  let pkg = await kernelPackageFromApt();
  let updateOutput = "";
  if (pkg === undefined && !updated.done) {
    updated.done = true;
    updateOutput = await aptUpdate(log);
    pkg = await kernelPackageFromApt();
  }
  if (pkg === undefined && NETWORK_TROUBLE.test(updateOutput))
    throw new GuestBuildError(
      "apt-unreachable",
      `apt knows no ${KERNEL_META_PACKAGE} and apt-get update cannot reach the Debian mirror:\n${tail(updateOutput, 5)}`,
      { command: ["apt-get", "update"], outputTail: tail(updateOutput) },
    );
  if (pkg === undefined)
    throw new GuestBuildError(
      "apt-no-package",
      `apt-cache depends ${KERNEL_META_PACKAGE} names no linux-image-<version> package; is a Debian amd64 source configured?`,
    );
  return pkg;
}

const versionOfPackage = (pkg: string): string => pkg.replace(/^linux-image-/, "").replace(/-unsigned$/, "");

const inFlight = new Map<string, Promise<TestGuest>>();

/**
 * Returns the kernel and initrd of the tiny test guest, building them on first use (download
 * about 28 MB, a few seconds) and from the cache afterwards (milliseconds). Safe to call
 * concurrently, from one process or several.
 */
export async function ensureTestGuest(opts: EnsureTestGuestOptions = {}): Promise<TestGuest> {
  const base = guestCacheDir(opts);
  if (opts.refresh !== true) {
    const hit = await fromPointer(base);
    if (hit) return hit;
  }
  const key = `${base}\0${opts.refresh === true ? "refresh" : ""}`;
  let p = inFlight.get(key);
  if (!p) {
    p = slowPath(base, opts).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function slowPath(base: string, opts: EnsureTestGuestOptions): Promise<TestGuest> {
  const log = opts.log ?? (() => undefined);
  await mkdir(base, { recursive: true });
  return withLockFile(join(base, ".lock"), async () => {
    if (opts.refresh !== true) {
      const hit = await fromPointer(base); // built by whoever held the lock before us
      if (hit) return hit;
    }
    await removeStaleBuilds(base);
    const updated = { done: false };
    const pkg = await resolveKernelPackage(log, updated);
    const version = versionOfPackage(pkg);
    if (!checkVersion(version)) throw new GuestBuildError("layout", `unexpected kernel package name ${pkg}`);
    const target = pathsFor(base, version);
    let guest = complete(target);
    if (!guest) {
      log(`building test guest for kernel ${version} in ${target.dir}`);
      guest = await build(base, pkg, version, log, updated);
    }
    await writeFileAtomic(pointerPath(base), `${JSON.stringify({ version, recipe: RECIPE }, null, 2)}\n`);
    return guest;
  });
}

/** Removes `.build-*` folders left by a process that died mid-build (older than an hour). */
async function removeStaleBuilds(base: string): Promise<void> {
  for (const name of await readdir(base)) {
    if (!name.startsWith(".build-")) continue;
    const p = join(base, name);
    try {
      if (Date.now() - (await stat(p)).mtimeMs > 3_600_000) await rm(p, { recursive: true, force: true });
    } catch {
      // another process removed it
    }
  }
}

async function findDeb(dir: string, prefix: string): Promise<string> {
  const hit = (await readdir(dir)).find((n) => n.startsWith(prefix) && n.endsWith(".deb"));
  if (hit === undefined)
    throw new GuestBuildError("layout", `apt-get download left no ${prefix}*.deb in ${dir}`);
  return join(dir, hit);
}

async function debField(deb: string, field: string): Promise<string> {
  return (await run(["dpkg-deb", "--field", deb, field])).stdout.trim();
}

async function build(
  base: string,
  pkg: string,
  version: string,
  log: (l: string) => void,
  updated: { done: boolean },
): Promise<TestGuest> {
  const started = Date.now();
  const tmp = await mkdtemp(join(base, ".build-"));
  try {
    const debs = join(tmp, "debs");
    await mkdir(debs);
    log(`apt-get download ${pkg} ${BUSYBOX_PACKAGE}`);
    const download = (): Promise<unknown> =>
      run(["apt-get", "download", pkg, BUSYBOX_PACKAGE], { cwd: debs, timeoutMs: 10 * 60_000 }).catch(
        (e: unknown) => {
          throw aptError(e, "downloading the test guest packages failed");
        },
      );
    try {
      await download();
    } catch (e) {
      // Lists older than the mirror: the package was superseded. Update once and retry.
      if (!(e instanceof GuestBuildError && e.reason === "apt-no-package") || updated.done) throw e;
      updated.done = true;
      await aptUpdate(log);
      const newPkg = await resolveKernelPackage(log, updated);
      if (newPkg !== pkg) {
        await rm(tmp, { recursive: true, force: true });
        return await build(base, newPkg, versionOfPackage(newPkg), log, updated);
      }
      await download();
    }

    const kernelDeb = await findDeb(debs, `${pkg}_`);
    const busyboxDeb = await findDeb(debs, `${BUSYBOX_PACKAGE}_`);
    const kroot = join(tmp, "kernel");
    const broot = join(tmp, "busybox");
    log("dpkg-deb -x");
    await Promise.all([
      run(["dpkg-deb", "-x", kernelDeb, kroot]),
      run(["dpkg-deb", "-x", busyboxDeb, broot]),
    ]);

    const vmlinuz = join(kroot, "boot", `vmlinuz-${version}`);
    if (!existsSync(vmlinuz)) throw new GuestBuildError("layout", `${pkg} has no boot/vmlinuz-${version}`);
    const mdir = moduleDir(kroot, version);
    if (mdir === undefined) throw new GuestBuildError("layout", `${pkg} has no lib/modules/${version}`);
    const busybox = ["bin/busybox", "usr/bin/busybox"].map((p) => join(broot, p)).find((p) => existsSync(p));
    if (busybox === undefined) throw new GuestBuildError("layout", `${BUSYBOX_PACKAGE} has no bin/busybox`);

    const sel = await selectModules(mdir, GUEST_MODULES);
    log(`modules: ${sel.modules.map((m) => m.name).join(" ")}`);
    const cpio = writeCpio(await initramfsEntries(busybox, sel));
    const initrdData = await gzip(cpio, { level: zlibConstants.Z_BEST_COMPRESSION });

    const target = pathsFor(base, version);
    const stagedKernel = join(tmp, "vmlinuz");
    await rename(vmlinuz, stagedKernel);
    await fsyncPath(stagedKernel);
    const stagedInitrd = join(tmp, "initrd.img");
    await writeSynced(stagedInitrd, initrdData);
    const manifest: GuestManifest = {
      recipe: RECIPE,
      version,
      kernelPackage: pkg,
      kernelPackageVersion: await debField(kernelDeb, "Version"),
      busyboxPackageVersion: await debField(busyboxDeb, "Version"),
      modules: sel.modules.map((m) => m.name),
      builtinModules: sel.builtin,
      missingModules: sel.missing,
      initrdBytes: initrdData.length,
      builtAt: new Date().toISOString(),
      buildMs: Date.now() - started,
    };
    const stagedManifest = join(tmp, "manifest.json");
    await writeSynced(stagedManifest, `${JSON.stringify(manifest, null, 2)}\n`);

    await mkdir(target.dir, { recursive: true });
    // Kernel first: a reader checks the kernel and the initrd, and the initrd lands last.
    await rename(stagedKernel, target.kernel);
    await rename(stagedManifest, target.manifest);
    await rename(stagedInitrd, target.initrd);
    await fsyncPath(target.dir);
    log(`built in ${manifest.buildMs} ms: ${target.kernel} ${target.initrd}`);
    return { kernel: target.kernel, initrd: target.initrd, version };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * qemu-ga and the shared objects it loads, as `ldd` lists them on the host (the guest runs the
 * host's Debian userland for this one program). Empty when the host has no qemu-ga.
 */
async function agentEntries(): Promise<CpioEntry[]> {
  if (!existsSync(QEMU_GA_PATH)) return [];
  const { stdout } = await run(["ldd", QEMU_GA_PATH]);
  const libs = new Set<string>();
  for (const line of stdout.split("\n")) {
    // "libx.so.1 => /lib/x86_64-linux-gnu/libx.so.1 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) libs.add(m[1]!);
  }
  const dirs = new Set<string>();
  const entries: CpioEntry[] = [];
  for (const lib of [...libs].sort()) {
    const parts = lib.slice(1).split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d) && !BASE_DIRS.includes(d)) {
        dirs.add(d);
        entries.push({ type: "dir", name: d, mode: 0o755 });
      }
    }
    entries.push({ type: "file", name: lib.slice(1), data: await readFile(lib), mode: 0o755 });
  }
  entries.push({
    type: "file",
    name: QEMU_GA_PATH.slice(1),
    data: await readFile(QEMU_GA_PATH),
    mode: 0o755,
  });
  return entries;
}

const BASE_DIRS = [
  "bin",
  "dev",
  "etc",
  "etc/acpi",
  "etc/acpi/PWRF",
  "lib",
  "lib/modules",
  "mnt",
  "proc",
  "root",
  "run",
  "sbin",
  "sys",
  "usr",
  "usr/bin",
  "usr/sbin",
  "var",
  "var/log",
];

/** The initramfs tree: busybox, `/init`, the modules, the acpid handler, the guest agent. */
async function initramfsEntries(busyboxPath: string, sel: ModuleSelection): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = BASE_DIRS.map((name) => ({
    type: "dir",
    name,
    mode: name === "root" ? 0o700 : 0o755,
  }));
  entries.push(
    { type: "dir", name: "tmp", mode: 0o1777 },
    { type: "chardev", name: "dev/console", major: 5, minor: 1, mode: 0o600 },
    { type: "file", name: "init", data: INIT_SCRIPT, mode: 0o755 },
    { type: "file", name: "bin/busybox", data: await readFile(busyboxPath), mode: 0o755 },
    { type: "symlink", name: "bin/sh", target: "busybox" },
    { type: "file", name: "etc/acpi/PWRF/00000080", data: POWER_BUTTON_HANDLER, mode: 0o755 },
    { type: "file", name: "etc/tvirt-modules", data: `${sel.modules.map((m) => m.name).join(" ")}\n` },
    { type: "symlink", name: "var/run", target: "../run" },
    ...GUEST_ETC_FILES.map((f): CpioEntry => ({ type: "file", name: f.name, data: f.data, mode: f.mode })),
  );
  const agent = await agentEntries();
  if (agent.length > 0)
    entries.push(
      ...agent,
      { type: "file", name: "usr/sbin/chpasswd", data: CHPASSWD_SCRIPT, mode: 0o755 },
      { type: "file", name: "sbin/shutdown", data: SHUTDOWN_SCRIPT, mode: 0o755 },
    );
  for (const m of sel.modules)
    entries.push({ type: "file", name: `lib/modules/${m.name}.ko`, data: await readFile(m.path) });
  return entries;
}

/** The manifest of a cached guest (for the CLI and for diagnostics). */
export async function readManifest(guest: TestGuest): Promise<GuestManifest | undefined> {
  try {
    return JSON.parse(
      await readFile(join(guest.initrd, "..", `manifest-${RECIPE}.json`), "utf8"),
    ) as GuestManifest;
  } catch {
    return undefined;
  }
}
