/**
 * Capabilities cache: probing a binary takes a QEMU start or two, so the result is kept
 *
 * - in memory, per binary path, while the binary's ctime stays the same (concurrent callers
 *   share one probe), and
 * - on disk, one JSON file per binary under `cacheDir`, written atomically
 *   (util/atomic-file.ts). A file is used only if it names the same binary, the same
 *   ctime, the same cache format and the same presence of `/dev/kvm`; anything else (stale,
 *   unreadable, corrupt, another format) is probed again and rewritten.
 *
 * Failing to write the cache never fails the caller; it is reported through `onWarning`.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { writeFileAtomic } from "../../../util/atomic-file.ts";
import { fnv1a64 } from "../../../util/hash.ts";
import { checkBinary, probeQemuCaps, type ProbeOptions } from "./probe.ts";
import type { Accel, AccelCaps, CpuDefinition, QemuCaps } from "./types.ts";

/** Bumped whenever the probe or the file layout changes what a cached file means. */
export const CACHE_FORMAT_VERSION = 2;

export interface GetQemuCapsOptions {
  /** Directory of the on-disk cache; without it only the in-memory cache is used. */
  readonly cacheDir?: string;
  readonly probe?: ProbeOptions;
  /** Called with what went wrong when the cache could not be read or written. */
  readonly onWarning?: (message: string, error?: unknown) => void;
  /** Replaces the probe (tests). */
  readonly probeFn?: (binary: string, options: ProbeOptions) => Promise<QemuCaps>;
}

interface CacheFile {
  readonly format: number;
  readonly binary: string;
  readonly binaryCtime: number;
  readonly kvmDevice: boolean;
  readonly caps: SerializedCaps;
}

interface SerializedCaps extends Omit<QemuCaps, "flags" | "objectTypes"> {
  readonly flags: readonly string[];
  readonly objectTypes?: readonly string[];
}

interface MemoEntry {
  readonly ctime: number;
  readonly kvmDevice: boolean;
  readonly caps: Promise<QemuCaps>;
}

const memo = new Map<string, MemoEntry>();

/** Forgets every in-memory result (the disk cache stays). */
export function clearQemuCapsMemory(): void {
  memo.clear();
}

function kvmDevicePresent(): boolean {
  return existsSync("/dev/kvm");
}

/** The cache file of a binary: readable name plus a hash of the full path. */
export function capsCacheFile(cacheDir: string, binary: string): string {
  const name = basename(binary).replace(/[^A-Za-z0-9._-]/g, "_");
  return join(cacheDir, `${name}-${fnv1a64(binary)}.json`);
}

export function serializeCaps(caps: QemuCaps): SerializedCaps {
  const { flags, objectTypes, ...rest } = caps;
  return {
    ...rest,
    flags: [...flags].sort(),
    ...(objectTypes ? { objectTypes: [...objectTypes].sort() } : {}),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function validAccel(v: unknown): v is AccelCaps {
  return isRecord(v) && Array.isArray(v.machines) && Array.isArray(v.cpuModels);
}

/** Rebuilds `QemuCaps` from its JSON form; undefined when the data does not have that shape. */
export function deserializeCaps(v: unknown): QemuCaps | undefined {
  if (!isRecord(v)) return undefined;
  const { flags, objectTypes, accel } = v;
  if (
    typeof v.emulator !== "string" ||
    typeof v.version !== "number" ||
    typeof v.package !== "string" ||
    typeof v.arch !== "string" ||
    typeof v.binaryCtime !== "number" ||
    !isStringArray(flags) ||
    !isStringArray(v.migrationCapabilities) ||
    (objectTypes !== undefined && !isStringArray(objectTypes)) ||
    !isRecord(accel)
  ) {
    return undefined;
  }
  const accelOut: Partial<Record<Accel, AccelCaps>> = {};
  for (const [k, a] of Object.entries(accel)) {
    if ((k !== "kvm" && k !== "tcg") || !validAccel(a)) return undefined;
    accelOut[k] = a;
  }
  return {
    emulator: v.emulator,
    version: v.version,
    package: v.package,
    arch: v.arch,
    flags: new Set(flags),
    accel: accelOut,
    migrationCapabilities: v.migrationCapabilities,
    binaryCtime: v.binaryCtime,
    ...(objectTypes ? { objectTypes: new Set(objectTypes) } : {}),
    ...(Array.isArray(v.cpuDefinitions) ? { cpuDefinitions: v.cpuDefinitions as CpuDefinition[] } : {}),
  };
}

async function readCacheFile(
  file: string,
  binary: string,
  ctime: number,
  kvmDevice: boolean,
  warn: (m: string, e?: unknown) => void,
): Promise<QemuCaps | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (!(isRecord(e) && e.code === "ENOENT")) warn(`cannot read QEMU capabilities cache '${file}'`, e);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    warn(`QEMU capabilities cache '${file}' is corrupt; probing again`, e);
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const f = parsed as Partial<CacheFile>;
  if (
    f.format !== CACHE_FORMAT_VERSION ||
    f.binary !== binary ||
    f.binaryCtime !== ctime ||
    f.kvmDevice !== kvmDevice
  ) {
    return undefined;
  }
  const caps = deserializeCaps(f.caps);
  if (!caps) warn(`QEMU capabilities cache '${file}' has an unexpected layout; probing again`);
  return caps;
}

async function loadOrProbe(
  binary: string,
  ctime: number,
  kvmDevice: boolean,
  options: GetQemuCapsOptions,
): Promise<QemuCaps> {
  const warn = options.onWarning ?? (() => undefined);
  const file = options.cacheDir !== undefined ? capsCacheFile(options.cacheDir, binary) : undefined;
  if (file) {
    const cached = await readCacheFile(file, binary, ctime, kvmDevice, warn);
    if (cached) return cached;
  }
  const probe = options.probeFn ?? probeQemuCaps;
  const caps = await probe(binary, options.probe ?? {});
  if (file && options.cacheDir !== undefined) {
    const content: CacheFile = {
      format: CACHE_FORMAT_VERSION,
      binary,
      binaryCtime: ctime,
      kvmDevice,
      caps: serializeCaps(caps),
    };
    try {
      await mkdir(options.cacheDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, JSON.stringify(content) + "\n");
    } catch (e) {
      warn(`cannot write QEMU capabilities cache '${file}'`, e);
    }
  }
  return caps;
}

/**
 * The capabilities of `binary`: from memory, else from the disk cache, else by probing.
 * Throws `QEMU_BINARY_MISSING`/`QEMU_BINARY_NOT_EXECUTABLE` for a bad binary and the probe's
 * errors when probing fails (a failed probe is not remembered).
 */
export async function getQemuCaps(binary: string, options: GetQemuCapsOptions = {}): Promise<QemuCaps> {
  const ctime = await checkBinary(binary);
  const kvmDevice = kvmDevicePresent();
  const key = `${options.cacheDir ?? ""}\0${binary}`;
  const hit = memo.get(key);
  if (hit && hit.ctime === ctime && hit.kvmDevice === kvmDevice) return hit.caps;
  const caps = loadOrProbe(binary, ctime, kvmDevice, options);
  memo.set(key, { ctime, kvmDevice, caps });
  try {
    return await caps;
  } catch (e) {
    if (memo.get(key)?.caps === caps) memo.delete(key);
    throw e;
  }
}
