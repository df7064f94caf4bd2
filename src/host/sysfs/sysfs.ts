/**
 * The one door to sysfs. Every read and write of host device state (PCI, USB, network and block
 * devices, IOMMU groups, DMI) goes through a `Sysfs` object made for one root directory: `/sys`
 * on a real host, a temp directory in tests (a fake tree the test builds). Paths given to the
 * methods are relative to the root (`bus/pci/devices/0000:00:02.0/vendor`); nothing here ever
 * touches a path outside it, except the mount table (`mountsFile`, default `/proc/self/mounts`),
 * which says whether a block device holds a mounted file system.
 *
 * Writes are the only way tvirt changes host device bindings; each one is offered to
 * `onWrite` first (tests record the sequence; a fake tree uses it to play the kernel's part).
 */
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { basename, isAbsolute, join, normalize, relative } from "node:path";
import { VirtError } from "../../util/errors/index.ts";

export const DEFAULT_SYSFS_ROOT = "/sys";

const reasons: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EINVAL: "Invalid argument",
  EBUSY: "Device or resource busy",
  ENODEV: "No such device",
  EIO: "Input/output error",
  EROFS: "Read-only file system",
};

function reasonOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && reasons[code] !== undefined) return reasons[code];
  return e instanceof Error ? e.message : String(e);
}

export interface SysfsOptions {
  /** The mount table (default `/proc/self/mounts`). */
  readonly mountsFile?: string;
  /** Called after each successful write, with the path relative to the root. */
  readonly onWrite?: (rel: string, value: string) => void;
}

/** Observers of writes, by root (a fake tree's kernel model; write recorders in tests). */
const observers = new Map<string, Set<(rel: string, value: string) => void>>();

/**
 * Calls `fn` after every write under `root`, by any `Sysfs` of that root (the driver's, the
 * node device calls'). Returns the function that stops it.
 */
export function observeSysfsWrites(root: string, fn: (rel: string, value: string) => void): () => void {
  let set = observers.get(root);
  if (!set) {
    set = new Set();
    observers.set(root, set);
  }
  set.add(fn);
  return () => {
    set.delete(fn);
    if (set.size === 0) observers.delete(root);
  };
}

export class Sysfs {
  readonly root: string;
  readonly mountsFile: string;
  readonly #onWrite: ((rel: string, value: string) => void) | undefined;

  constructor(root: string = DEFAULT_SYSFS_ROOT, options: SysfsOptions = {}) {
    if (!isAbsolute(root)) throw new VirtError("HOSTDEV_SYSFS_ROOT", { root });
    const n = normalize(root);
    this.root = n.length > 1 ? n.replace(/\/+$/, "") : n;
    this.mountsFile = options.mountsFile ?? "/proc/self/mounts";
    this.#onWrite = options.onWrite;
  }

  /** True for the host's own `/sys`. */
  get isHost(): boolean {
    return this.root === DEFAULT_SYSFS_ROOT;
  }

  /** Absolute path of `rel` under the root (`..` cannot leave the root). */
  path(rel: string): string {
    const p = normalize(join("/", rel));
    return p === "/" ? this.root : join(this.root, p);
  }

  /** The path as the host would show it (`/sys/...`), for XML and messages. */
  display(abs: string): string {
    const r = relative(this.root, abs);
    return r === "" ? "/sys" : join("/sys", r);
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  isDir(rel: string): boolean {
    try {
      return lstatSync(this.path(rel)).isDirectory();
    } catch {
      return false;
    }
  }

  isLink(rel: string): boolean {
    try {
      return lstatSync(this.path(rel)).isSymbolicLink();
    } catch {
      return false;
    }
  }

  /** An attribute's text without the trailing newline, or undefined when unreadable. */
  read(rel: string): string | undefined {
    try {
      return readFileSync(this.path(rel), "utf8").replace(/\n+$/, "");
    } catch {
      return undefined;
    }
  }

  /** The last path component a symlink points to (`driver` → `vfio-pci`), or undefined. */
  linkName(rel: string): string | undefined {
    try {
      return basename(readlinkSync(this.path(rel)));
    } catch {
      return undefined;
    }
  }

  /** Resolved absolute path (symlinks followed), or undefined when it does not exist. */
  realpath(rel: string): string | undefined {
    try {
      return realpathSync(this.path(rel));
    } catch {
      return undefined;
    }
  }

  /** Directory entries, sorted; [] when absent. */
  list(rel: string): string[] {
    try {
      return readdirSync(this.path(rel)).sort();
    } catch {
      return [];
    }
  }

  /**
   * Writes an attribute (the file must exist: sysfs never creates files on write). Failures
   * are an `HOSTDEV_SYSFS_WRITE` error naming the file and the system's reason.
   */
  write(rel: string, value: string): void {
    const abs = this.path(rel);
    try {
      if (!existsSync(abs)) {
        const e = new Error("ENOENT") as Error & { code: string };
        e.code = "ENOENT";
        throw e;
      }
      writeFileSync(abs, value);
    } catch (e) {
      throw new VirtError(
        "HOSTDEV_SYSFS_WRITE",
        { value: JSON.stringify(value), file: this.display(abs), reason: reasonOf(e) },
        {},
        { cause: e },
      );
    }
    this.#onWrite?.(rel, value);
    for (const fn of observers.get(this.root) ?? []) fn(normalize(join("/", rel)).slice(1), value);
  }

  /** Mount sources (`/dev/vda1`, ...) of the mount table; [] when it cannot be read. */
  mountSources(): string[] {
    try {
      return readFileSync(this.mountsFile, "utf8")
        .split("\n")
        .map((l) => l.split(" ")[0] ?? "")
        .filter((s) => s.startsWith("/dev/"));
    } catch {
      return [];
    }
  }
}

/** A parsed PCI address `DDDD:BB:SS.F`. */
export interface PciAddr {
  readonly domain: number;
  readonly bus: number;
  readonly slot: number;
  readonly function: number;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, "0");

/** `0000:00:1f.2` */
export function formatPciAddr(a: PciAddr): string {
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.function.toString(16)}`;
}

/** Parses `DDDD:BB:SS.F` (as sysfs names devices); undefined when it is not one. */
export function parsePciAddr(text: string): PciAddr | undefined {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(text);
  if (!m) return undefined;
  const [d, b, s, f] = [m[1]!, m[2]!, m[3]!, m[4]!].map((x) => parseInt(x, 16)) as [
    number,
    number,
    number,
    number,
  ];
  if (s > 0x1f) return undefined;
  return { domain: d, bus: b, slot: s, function: f };
}
