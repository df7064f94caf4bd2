/**
 * Per-guest AppArmor confinement, the host part: is AppArmor enabled in the running kernel,
 * where the profiles live, writing them atomically, and loading, replacing and removing them
 * with `apparmor_parser` (argv, never a shell). Without AppArmor (this machine: no module in the
 * kernel) profiles are still written, so they can be read and checked, but never loaded; the
 * answer says why ("AppArmor is unavailable on this host: ...").
 */
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, readSync, realpathSync } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import type { DomainDef } from "../conf/domain/index.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { VirtError } from "../util/errors/index.ts";
import { runArgv } from "../util/spawn.ts";
import {
  abstractionText,
  filesText,
  guestProfilePaths,
  profilePaths,
  profileText,
  type GuestFiles,
  type GuestProfilePaths,
} from "./apparmor.ts";

/** Whether AppArmor confines processes on this host, and if not, why. */
export type AppArmorState = { readonly enabled: true } | { readonly enabled: false; readonly reason: string };

/** `/sys/module/apparmor/parameters/enabled` is `Y` (`sysRoot` for tests). */
export function appArmorState(sysRoot = "/sys"): AppArmorState {
  const file = join(sysRoot, "module", "apparmor", "parameters", "enabled");
  let v: string;
  try {
    v = readFileSync(file, "utf8").trim();
  } catch {
    return { enabled: false, reason: `the kernel has no AppArmor module (${file} is missing)` };
  }
  if (v === "Y") return { enabled: true };
  return { enabled: false, reason: `AppArmor is disabled in the kernel (${file} is '${v}')` };
}

/** The error for a host without AppArmor. */
export function appArmorUnavailable(state: AppArmorState & { enabled: false }): VirtError {
  return new VirtError("APPARMOR_UNAVAILABLE", { reason: state.reason });
}

/** The profiles folder: `/etc/apparmor.d` for the system daemon, `<root>/etc/apparmor.d` embedded. */
export function profilesDir(
  root: { kind: "system" } | { kind: "session" } | { kind: "embed"; root: string },
): string {
  if (root.kind === "embed") return join(root.root, "etc", "apparmor.d");
  if (root.kind === "system") return "/etc/apparmor.d";
  // a session daemon cannot load profiles (root only); it keeps them beside its other state
  const base = process.env.XDG_CONFIG_HOME ?? join(process.env.HOME ?? "/", ".config");
  return join(base, "tvirt", "apparmor.d");
}

/**
 * The path the kernel sees: symbolic links of the longest existing prefix resolved and the rest
 * kept (QEMU creates some files later), like virt-aa-helper.
 */
export function resolveHostPath(path: string): string {
  let dir = path;
  while (dir !== "/" && !existsSync(dir)) dir = dirname(dir);
  if (dir === "/") return path;
  try {
    const real = realpathSync(dir);
    return real + path.slice(dir.length);
  } catch {
    return path;
  }
}

/** The most backing files followed (QEMU's own limit is about as deep). */
const MAX_BACKING_DEPTH = 200;

/** The backing file a qcow2 header names, or undefined (not qcow2, no backing file, unreadable). */
export function qcow2BackingFile(image: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(image, "r");
    const h = Buffer.alloc(20);
    if (readSync(fd, h, 0, 20, 0) < 20 || h.readUInt32BE(0) !== 0x514649fb) return undefined;
    const offset = h.readBigUInt64BE(8);
    const size = h.readUInt32BE(16);
    if (offset === 0n || size === 0 || size > 4096) return undefined;
    const name = Buffer.alloc(size);
    if (readSync(fd, name, 0, size, Number(offset)) < size) return undefined;
    const file = name.toString("utf8");
    // protocol backing files (nbd:, json:) are not local files
    if (/^[a-z+]+:/.test(file)) return undefined;
    return isAbsolute(file) ? file : join(dirname(image), file);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The backing chain of a local image, nearest first, read from qcow2 headers (virt-aa-helper
 * probes it the same way): every file the guest's QEMU opens read-only below the image.
 */
export function backingChain(image: string): string[] {
  const chain: string[] = [];
  for (let f = qcow2BackingFile(image); f !== undefined && chain.length < MAX_BACKING_DEPTH;) {
    if (chain.includes(f) || f === image) break; // a loop: QEMU refuses it anyway
    chain.push(f);
    f = qcow2BackingFile(f);
  }
  return chain;
}

/** Backing chains of a definition's file disks, by target (for `GuestFiles.backingChains`). */
export function diskBackingChains(def: DomainDef): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of def.devices.disks) {
    const type = d.type === "volume" ? d.source?.actualType : d.type;
    const path = type === "file" ? d.source?.file : type === "block" ? d.source?.dev : undefined;
    if (path === undefined || (d.driver?.type !== undefined && d.driver.type !== "qcow2")) continue;
    const chain = backingChain(path);
    if (chain.length > 0) out.set(d.target.dev, chain);
  }
  return out;
}

/**
 * IOMMU groups of a definition's PCI host devices (`bus/pci/devices/<addr>/iommu_group` links
 * under `sysfsRoot`), by `dddd:bb:ss.f`, so that a profile names `/dev/vfio/<group>` rather
 * than every group. Devices without the link are left out (the profile then allows any group).
 */
export function pciIommuGroups(def: DomainDef, sysfsRoot = "/sys"): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of def.devices.hostdevs) {
    const a = h.source.pciAddress;
    if (h.type !== "pci" || !a) continue;
    const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
    const addr = `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
    try {
      const group = Number(
        basename(readlinkSync(join(sysfsRoot, "bus", "pci", "devices", addr, "iommu_group"))),
      );
      if (Number.isInteger(group)) out.set(addr, group);
    } catch {
      // no such device or no IOMMU: left to the glob
    }
  }
  return out;
}

/** The parser binary (Debian: /sbin/apparmor_parser, merged /usr: /usr/sbin). */
export function parserPath(): string {
  for (const p of ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"]) if (existsSync(p)) return p;
  return "apparmor_parser";
}

async function parser(args: readonly string[], action: string, profile: string): Promise<void> {
  let r;
  try {
    r = await runArgv([parserPath(), ...args]);
  } catch (e) {
    throw new VirtError(
      "APPARMOR_PARSER_FAILED",
      { action, profile, reason: `could not be run: ${e instanceof Error ? e.message : String(e)}` },
      {},
      { cause: e },
    );
  }
  if (r.code !== 0) {
    const msg = r.stderr
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("Cache read/write disabled"))
      .join("; ");
    throw new VirtError("APPARMOR_PARSER_FAILED", {
      action,
      profile,
      reason: `exited with status ${String(r.code ?? r.signal)}${msg !== "" ? `: ${msg}` : ""}`,
    });
  }
}

/** Parses profile files without loading them (`apparmor_parser -Q`); works without AppArmor in the kernel. */
export async function checkProfiles(files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  await parser(["-Q", "-K", ...files], "check", files.join(" "));
}

/** One guest's profile on disk, and whether it is loaded. */
export interface GuestProfile extends GuestProfilePaths {
  readonly loaded: boolean;
  /** Why it is not loaded (AppArmor unavailable). */
  readonly unavailable?: string;
}

export interface ProfileManagerOptions {
  /** The profiles folder (see `profilesDir`). */
  readonly dir: string;
  /** AppArmor's state (default: read from /sys). */
  readonly state?: AppArmorState;
  /** Resolve symbolic links of the guest's paths (default: yes, `resolveHostPath`). */
  readonly resolve?: (path: string) => string;
}

/**
 * Writes, loads, refreshes and removes guests' profiles in one profiles folder. Where AppArmor
 * is unavailable the files are written and kept (they pass `apparmor_parser -Q`), nothing is
 * loaded, and each answer carries the reason.
 */
export class AppArmorProfiles {
  readonly dir: string;
  readonly state: AppArmorState;
  readonly #resolve: (path: string) => string;

  constructor(options: ProfileManagerOptions) {
    this.dir = options.dir;
    this.state = options.state ?? appArmorState();
    this.#resolve = options.resolve ?? resolveHostPath;
  }

  /** The shared abstraction, written when missing or different. */
  async writeAbstraction(): Promise<string> {
    const p = profilePaths(this.dir).abstraction;
    const text = abstractionText(this.dir);
    if (!existsSync(p) || readFileSync(p, "utf8") !== text)
      await writeFileAtomic(p, text, { mode: 0o644, mkdirMode: 0o755 });
    return p;
  }

  /**
   * Generates the guest's profile and files list (checked before anything is written: a path
   * AppArmor cannot hold refuses the whole profile) and loads or replaces it when AppArmor is
   * enabled. The files list is only rewritten when it changed.
   */
  async write(def: DomainDef, guest: GuestFiles): Promise<GuestProfile> {
    const g = guestProfilePaths(this.dir, def);
    const files = filesText(def, guest, { resolve: this.#resolve });
    const profile = profileText(def, this.dir);
    await this.writeAbstraction();
    for (const [path, text] of [
      [g.files, files],
      [g.profile, profile],
    ] as const) {
      if (existsSync(path) && readFileSync(path, "utf8") === text) continue;
      await writeFileAtomic(path, text, { mode: 0o644, mkdirMode: 0o755 });
    }
    if (!this.state.enabled) return { ...g, loaded: false, unavailable: this.state.reason };
    // -r loads a new profile or replaces a loaded one (the kernel swaps it under a running QEMU)
    await parser(["-r", g.profile], "load", g.name);
    return { ...g, loaded: true };
  }

  /** Unloads (when AppArmor is enabled) and deletes the guest's profile and files list. */
  async remove(def: Pick<DomainDef, "name" | "uuid">): Promise<void> {
    const g = guestProfilePaths(this.dir, def);
    if (this.state.enabled && existsSync(g.profile)) {
      try {
        await parser(["-R", g.profile], "remove", g.name);
      } catch (e) {
        // not loaded (an earlier failed start): nothing to unload
        if (!(e instanceof VirtError) || !/status 234\b/.test(e.message)) throw e;
      }
    }
    await rm(g.profile, { force: true });
    await rm(g.files, { force: true });
  }
}
