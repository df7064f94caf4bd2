/**
 * The migration preflight (issue 15, point 4): before the destination starts anything, it checks
 * what would make the incoming guest fail on this host and reports every problem at once, in one
 * error (`MIGRATE_PREFLIGHT`), instead of the first one QEMU trips over:
 *
 * - the emulator binary is missing, or older than the source's;
 * - the machine type is not offered by this host's emulator;
 * - the CPU model is unknown to it or not usable on this host;
 * - a disk (or kernel, initrd, loader) path is not reachable, unless its storage is copied
 *   (`--copy-storage-all`: then only the disks' paths are exempt);
 * - huge pages of the size the guest uses are not available, or too few are free;
 * - another domain of the same name (other UUID) or the same UUID (other name, or running) exists;
 * - devices that cannot migrate at all: virtiofs file systems and host devices (libvirt's
 *   qemuMigrationSrcIsAllowed texts; `sourceProblems` for the source side to ask in begin).
 *
 * `preflightProblems` is pure (the host comes in as `DestinationFacts`), so every rule has a unit
 * test; `destinationFacts` reads the facts of a `QemuDriver`'s host and domains.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DomainDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { defaultHugepageSizeKiB } from "../../../host/hugetlbfs.ts";
import type { QemuCaps } from "../capabilities/index.ts";
import type { QemuDriver } from "./driver.ts";

/** What the destination offers through one emulator binary. */
export interface EmulatorFacts {
  readonly path: string;
  /** libvirt's encoding (7.2.0 → 7002000). */
  readonly version: number;
  /** Machine names and aliases of the accelerator the guest uses. */
  readonly machines: readonly string[];
  readonly cpuModels: readonly {
    readonly name: string;
    readonly usable: boolean;
    readonly blockers?: readonly string[];
  }[];
}

/** The destination host as the preflight sees it. */
export interface DestinationFacts {
  /** The emulator at `path`, or undefined when it is not installed. */
  emulator(path: string): EmulatorFacts | undefined;
  /** Whether a file or device the guest opens exists here. */
  pathReachable(path: string): boolean;
  /** Free huge pages of `sizeKiB`, or undefined when the host has no pool of that size. */
  freeHugepages(sizeKiB: number): number | undefined;
  /** The host's default huge page size (KiB), for `<hugepages/>` without a size. */
  readonly defaultHugepageKiB: number | undefined;
  readonly domains: readonly { readonly name: string; readonly uuid: string; readonly active: boolean }[];
}

export interface PreflightOptions {
  /**
   * `--copy-storage-all` / `--copy-storage-inc`: disk images come with the guest (all writable
   * ones, or the targets listed: `--migrate-disks`). A copied image missing here is created, so
   * only its directory must exist.
   */
  readonly copyStorage?: boolean | readonly string[];
  /** `--offline`: only the definition moves (no emulator, memory or disk needs). */
  readonly offline?: boolean;
  /** The source's emulator version (from its cookie), to refuse migrating to an older QEMU. */
  readonly sourceVersion?: number;
}

const versionText = (v: number): string =>
  `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;

/** Devices that cannot migrate whatever the destination (libvirt's qemuMigrationSrcIsAllowed). */
export function sourceProblems(def: DomainDef): string[] {
  const out: string[] = [];
  if (def.devices.filesystems.some((fs) => fs.driver?.type === "virtiofs"))
    out.push("migration with virtiofs device is not supported");
  for (const h of def.devices.hostdevs) {
    out.push(`cannot migrate a domain with <hostdev mode='${h.mode}' type='${h.type}'>`);
  }
  return out;
}

/** Every reason the guest `def` could not run on the destination `dest` (empty: go ahead). */
export function preflightProblems(
  def: DomainDef,
  dest: DestinationFacts,
  opts: PreflightOptions = {},
): string[] {
  const out: string[] = [];

  // name and UUID clashes (libvirt's virDomainObjListAddLocked texts)
  for (const d of dest.domains) {
    if (d.uuid === def.uuid && d.name !== def.name)
      out.push(`domain '${d.name}' is already defined with uuid ${d.uuid}`);
    else if (d.uuid !== def.uuid && d.name === def.name)
      out.push(`domain '${d.name}' already exists with uuid ${d.uuid}`);
    else if (d.uuid === def.uuid && d.active) out.push(`domain '${d.name}' is already active`);
  }
  out.push(...sourceProblems(def));
  if (opts.offline) return out;

  // the emulator, its machine types and CPU models
  const path = def.devices.emulator;
  if (path !== undefined) {
    const emu = dest.emulator(path);
    if (!emu) out.push(`emulator '${path}' is not installed on this host`);
    else {
      if (opts.sourceVersion !== undefined && emu.version < opts.sourceVersion)
        out.push(
          `emulator '${path}' is QEMU ${versionText(emu.version)} here, older than QEMU ${versionText(opts.sourceVersion)} on the source`,
        );
      const machine = def.os.machine;
      if (machine !== undefined && !emu.machines.includes(machine))
        out.push(`machine type '${machine}' is not supported by emulator '${path}' on this host`);
      const model = def.cpu?.mode === "custom" ? def.cpu.model?.name : undefined;
      if (model !== undefined) {
        const m = emu.cpuModels.find((c) => c.name === model);
        if (!m) out.push(`CPU model '${model}' is not supported by emulator '${path}' on this host`);
        else if (!m.usable && def.cpu?.model?.fallback !== "allow")
          out.push(
            `CPU model '${model}' is not usable on this host` +
              (m.blockers && m.blockers.length > 0 ? ` (missing features: ${m.blockers.join(", ")})` : ""),
          );
      }
    }
  }

  // files the guest opens
  for (const disk of def.devices.disks) {
    const src = disk.source?.file ?? disk.source?.dev;
    if (src === undefined || src === "" || disk.source?.protocol !== undefined) continue;
    const copied =
      opts.copyStorage === true
        ? disk.device !== "cdrom" && disk.device !== "floppy" && !disk.readonly
        : Array.isArray(opts.copyStorage) && opts.copyStorage.includes(disk.target.dev);
    if (copied) {
      const dir = dirname(src);
      if (!dest.pathReachable(src) && !dest.pathReachable(dir))
        out.push(
          `disk '${disk.target.dev}' source '${src}' cannot be created on this host: directory '${dir}' does not exist`,
        );
      continue;
    }
    if (!dest.pathReachable(src))
      out.push(
        `disk '${disk.target.dev}' source '${src}' is not reachable on this host` +
          (opts.copyStorage !== undefined && opts.copyStorage !== false
            ? ""
            : " (use --copy-storage-all to copy it)"),
      );
  }
  for (const [what, p] of [
    ["kernel", def.os.kernel],
    ["initrd", def.os.initrd],
    ["loader", def.os.loader?.path],
  ] as const) {
    if (p !== undefined && p !== "" && !dest.pathReachable(p))
      out.push(`${what} '${p}' is not reachable on this host`);
  }

  // huge pages for the guest's memory
  const hp = def.memoryBacking?.hugepages;
  if (hp) {
    const sizes = hp.pages.length > 0 ? [...new Set(hp.pages.map((p) => p.size))] : [dest.defaultHugepageKiB];
    for (const size of sizes) {
      if (size === undefined) {
        out.push("huge pages are not available on this host");
        continue;
      }
      const free = dest.freeHugepages(size);
      const need = Math.ceil(def.memory / size);
      if (free === undefined) out.push(`huge page size ${size} KiB is not available on this host`);
      else if (free < need)
        out.push(
          `${need} huge pages of ${size} KiB are needed for ${def.memory} KiB of memory, ${free} are free`,
        );
    }
  }
  return out;
}

/** Throws one `MIGRATE_PREFLIGHT` error naming every problem (the list is in `details.problems`). */
export function checkPreflight(def: DomainDef, dest: DestinationFacts, opts: PreflightOptions = {}): void {
  const problems = preflightProblems(def, dest, opts);
  if (problems.length === 0) return;
  throw new VirtError("MIGRATE_PREFLIGHT", { name: def.name, problems: problems.join("; ") }, { problems });
}

/** `EmulatorFacts` from probed capabilities, for the accelerator of `virtType`. */
export function emulatorFactsOf(caps: QemuCaps, virtType: string): EmulatorFacts {
  const accel = caps.accel[virtType === "kvm" ? "kvm" : "tcg"] ?? { machines: [], cpuModels: [] };
  return {
    path: caps.emulator,
    version: caps.version,
    machines: accel.machines.flatMap((m) => (m.alias ? [m.name, m.alias] : [m.name])),
    cpuModels: accel.cpuModels.map((c) => ({
      name: c.name,
      usable: c.usable,
      ...(c.blockers ? { blockers: c.blockers } : {}),
    })),
  };
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The facts of the host and domains `drv` manages, for the definition `def` (its emulator is
 * probed, or taken from the capability cache, before the pure check runs).
 */
export async function destinationFacts(
  drv: QemuDriver,
  def: DomainDef,
  opts: { sysfsRoot?: string; procRoot?: string } = {},
): Promise<DestinationFacts> {
  const sys = opts.sysfsRoot ?? "/sys";
  const proc = opts.procRoot ?? "/proc";
  const emulators = new Map<string, EmulatorFacts | undefined>();
  const path = def.devices.emulator;
  if (path !== undefined) {
    let facts: EmulatorFacts | undefined;
    if (existsSync(path)) {
      try {
        facts = emulatorFactsOf(await drv.caps(path), def.type);
      } catch {
        facts = undefined; // not a QEMU that answers: as good as missing
      }
    }
    emulators.set(path, facts);
  }
  let meminfo = "";
  try {
    meminfo = readFileSync(join(proc, "meminfo"), "utf8");
  } catch {
    // no /proc: no default size
  }
  return {
    emulator: (p) => emulators.get(p),
    pathReachable: (p) => existsSync(p),
    freeHugepages: (size) =>
      readNumber(join(sys, "kernel/mm/hugepages", `hugepages-${size}kB`, "free_hugepages")),
    defaultHugepageKiB: defaultHugepageSizeKiB(meminfo),
    domains: drv.domains.all().map((o) => ({ name: o.name, uuid: o.uuid, active: o.isActive() })),
  };
}
