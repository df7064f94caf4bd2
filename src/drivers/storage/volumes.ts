/**
 * File volumes of dir and fs pools: what a file is (format, capacity, backing store, qcow2
 * options, read from its header as libvirt's virStorageFileProbe does, without running
 * qemu-img, so a file a running QEMU holds locked is still read), and the file operations of
 * volumes: create (raw by hand, the other formats through qemu-img), wipe, resize.
 */
import { constants as C, promises as fsp, type Stats } from "node:fs";
import { basename, join } from "node:path";
import { VirtError, strerror } from "../../util/errors/index.ts";
import { runArgv } from "../../util/spawn.ts";
import type { PoolDef, VolumeDef, VolumeFeature } from "../../conf/storage/index.ts";

/** What the header of an image says. */
export interface ProbedImage {
  format: string;
  /** Virtual size (qcow2/qcow/qed/vmdk/vdi header), or undefined: the file's size. */
  capacity?: bigint;
  backing?: { path: string; format?: string };
  compat?: string;
  clusterSize?: bigint;
  features?: VolumeFeature[];
}

const QCOW_MAGIC = 0x514649fb;
const QED_MAGIC = 0x00444551; // "QED\0" little-endian
const HEADER_EXT_BACKING_FORMAT = 0xe2792aca;

/** Reads the first bytes of an open file (up to `n`). */
async function head(fh: fsp.FileHandle, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, 0);
  return buf.subarray(0, bytesRead);
}

/** Reads `len` bytes at `pos` (fewer at the end of the file). */
async function readAt(fh: fsp.FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, pos);
  return buf.subarray(0, bytesRead);
}

/** The backing format named in a qcow2 header extension, if any. */
async function qcow2BackingFormat(
  fh: fsp.FileHandle,
  h: Buffer,
  version: number,
): Promise<string | undefined> {
  let off = version >= 3 ? h.readUInt32BE(100) : 72;
  const limit = Math.min(Number(h.readBigUInt64BE(8) || 65536n), 65536);
  for (let i = 0; i < 64 && off + 8 <= limit; i++) {
    const e = await readAt(fh, off, 8);
    if (e.length < 8) return undefined;
    const type = e.readUInt32BE(0);
    const len = e.readUInt32BE(4);
    if (type === 0) return undefined;
    if (type === HEADER_EXT_BACKING_FORMAT) return (await readAt(fh, off + 8, len)).toString("utf8");
    off += 8 + Math.ceil(len / 8) * 8;
  }
  return undefined;
}

/** Probes an image file's format and what its header says (raw when it is no known format). */
export async function probeImage(path: string): Promise<ProbedImage> {
  const fh = await fsp.open(path, C.O_RDONLY | C.O_NONBLOCK);
  try {
    const h = await head(fh, 512);
    if (h.length >= 72 && h.readUInt32BE(0) === QCOW_MAGIC) {
      const version = h.readUInt32BE(4);
      const bOff = Number(h.readBigUInt64BE(8));
      const bLen = h.readUInt32BE(16);
      const backingPath = bOff > 0 && bLen > 0 ? (await readAt(fh, bOff, bLen)).toString("utf8") : undefined;
      if (version === 1) {
        const img: ProbedImage = { format: "qcow", capacity: h.readBigUInt64BE(24) };
        if (backingPath !== undefined) img.backing = { path: backingPath };
        return img;
      }
      const img: ProbedImage = {
        format: "qcow2",
        capacity: h.readBigUInt64BE(24),
        compat: version >= 3 ? "1.1" : "0.10",
        clusterSize: 1n << BigInt(h.readUInt32BE(20)),
      };
      if (version >= 3 && h.length >= 104) {
        const compatible = h.readBigUInt64BE(80);
        const incompatible = h.readBigUInt64BE(72);
        const features: VolumeFeature[] = [];
        if (compatible & 1n) features.push("lazy_refcounts");
        if (incompatible & 16n) features.push("extended_l2");
        img.features = features;
      }
      if (backingPath !== undefined) {
        img.backing = { path: backingPath };
        const f = await qcow2BackingFormat(fh, h, version);
        if (f !== undefined) img.backing.format = f;
      }
      return img;
    }
    if (h.length >= 64 && h.readUInt32LE(0) === QED_MAGIC)
      return { format: "qed", capacity: h.readBigUInt64LE(24) };
    if (h.length >= 4 && h.toString("latin1", 0, 4) === "KDMV") {
      return { format: "vmdk", capacity: h.readBigUInt64LE(12) * 512n };
    }
    if (h.length >= 8 && h.toString("latin1", 0, 8) === "conectix") return { format: "vpc" };
    if (h.length >= 0x180 && h.readUInt32LE(0x40) === 0xbeda107f) {
      return { format: "vdi", capacity: h.readBigUInt64LE(0x170) };
    }
    // ISO 9660 has its descriptor at 32 KiB.
    const iso = await readAt(fh, 0x8001, 5);
    if (iso.toString("latin1") === "CD001") return { format: "iso" };
    return { format: "raw" };
  } finally {
    await fh.close();
  }
}

/** A volume definition for a file found in (or created in) a file pool. */
export async function fileVolume(pool: PoolDef, path: string, st?: Stats): Promise<VolumeDef | undefined> {
  let s: Stats;
  try {
    s = st ?? (await fsp.stat(path));
  } catch {
    return undefined;
  }
  const perms = { mode: s.mode & 0o7777, owner: s.uid, group: s.gid };
  const timestamps = await statTimestamps(path);
  if (s.isDirectory()) {
    return {
      name: basename(path),
      key: path,
      type: "dir",
      capacity: BigInt(s.size),
      allocation: BigInt(s.blocks) * 512n,
      hasAllocation: true,
      target: { path, format: "dir", perms, nocow: false, ...(timestamps ? { timestamps } : {}) },
    };
  }
  if (!s.isFile() && !s.isBlockDevice()) return undefined;
  let img: ProbedImage;
  try {
    img = await probeImage(path);
  } catch {
    return undefined; // unreadable: libvirt skips such files on refresh
  }
  const size = s.isBlockDevice() ? await blockDeviceSize(path) : BigInt(s.size);
  const vol: VolumeDef = {
    name: basename(path),
    key: path,
    type: s.isBlockDevice() ? "block" : "file",
    capacity: img.capacity ?? size,
    allocation: s.isBlockDevice() ? size : BigInt(s.blocks) * 512n,
    hasAllocation: true,
    target: { path, format: img.format, perms, nocow: false, ...(timestamps ? { timestamps } : {}) },
  };
  if (s.isFile()) vol.physical = BigInt(s.size);
  if (img.compat !== undefined) vol.target.compat = img.compat;
  if (img.clusterSize !== undefined) vol.target.clusterSize = img.clusterSize;
  if (img.features !== undefined) vol.target.features = img.features;
  if (img.backing) {
    const b = img.backing;
    // A relative backing path is relative to the image's directory.
    const bpath = b.path.startsWith("/") ? b.path : join(pool.target?.path ?? "/", b.path);
    vol.backingStore = { path: bpath, perms: {} };
    if (b.format !== undefined) vol.backingStore.format = b.format;
    else {
      try {
        vol.backingStore.format = (await probeImage(bpath)).format;
      } catch {
        vol.backingStore.format = "raw";
      }
    }
  }
  return vol;
}

/** libvirt's time format: seconds, and `.nnnnnnnnn` when there are nanoseconds. */
function timeOf(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return frac === 0n ? String(sec) : `${sec}.${String(frac).padStart(9, "0")}`;
}

async function statTimestamps(
  path: string,
): Promise<{ atime: string; mtime: string; ctime: string } | undefined> {
  try {
    const b = await fsp.stat(path, { bigint: true });
    return { atime: timeOf(b.atimeNs), mtime: timeOf(b.mtimeNs), ctime: timeOf(b.ctimeNs) };
  } catch {
    return undefined;
  }
}

/** The size of a block device (the end of the device, as lseek(SEEK_END) gives it). */
export async function blockDeviceSize(path: string): Promise<bigint> {
  const r = await runArgv(["blockdev", "--getsize64", path]);
  if (r.code === 0 && /^\d+\s*$/.test(r.stdout)) return BigInt(r.stdout.trim());
  return 0n;
}

export function ioError(object: string, action: string, path: string, e: unknown): VirtError {
  return new VirtError("STORAGE_IO_FAILED", { object, action, path, reason: strerror(e) }, {}, { cause: e });
}

/** Runs a backend's command; a failure becomes STORAGE_COMMAND_FAILED with its stderr. */
export async function runChecked(
  object: string,
  argv: readonly string[],
  timeoutMs = 600_000,
  env?: Readonly<Record<string, string>>,
): Promise<string> {
  let r;
  try {
    r = await runArgv(argv, { timeoutMs, ...(env ? { env } : {}) });
  } catch (e) {
    throw new VirtError(
      "STORAGE_COMMAND_FAILED",
      { object, command: argv.join(" "), reason: `cannot run ${argv[0]}: ${strerror(e)}` },
      {},
      { cause: e },
    );
  }
  if (r.code !== 0) {
    const reason = r.stderr.trim() || r.stdout.trim() || `exit status ${r.code ?? r.signal ?? "?"}`;
    throw new VirtError("STORAGE_COMMAND_FAILED", { object, command: argv.join(" "), reason });
  }
  return r.stdout;
}

/** Allocates `[0, length)` of a file (fallocate(1); zeros written where it is not supported). */
export async function allocateFile(object: string, path: string, length: bigint): Promise<void> {
  if (length <= 0n) return;
  const r = await runArgv(["fallocate", "-l", String(length), path]).catch(() => undefined);
  if (r?.code === 0) return;
  await writeZeros(object, path, 0n, length, false);
}

const ZERO_CHUNK = 1 << 20;

/** Writes zeros over `[offset, offset+length)`; `sync` flushes them. */
export async function writeZeros(
  object: string,
  path: string,
  offset: bigint,
  length: bigint,
  sync: boolean,
): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, C.O_WRONLY);
  } catch (e) {
    throw ioError(object, "open", path, e);
  }
  try {
    const zero = Buffer.alloc(ZERO_CHUNK);
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const n = Number(end - pos < BigInt(ZERO_CHUNK) ? end - pos : BigInt(ZERO_CHUNK));
      await fh.write(zero, 0, n, Number(pos));
      pos += BigInt(n);
    }
    if (sync) await fh.sync();
  } catch (e) {
    throw ioError(object, "write zeros to", path, e);
  } finally {
    await fh.close();
  }
}

/** Punches a hole over `[offset, offset+length)` of a regular file (keeps its size). */
export async function punchHole(path: string, offset: bigint, length: bigint): Promise<boolean> {
  if (length <= 0n) return true;
  const r = await runArgv(["fallocate", "-p", "-o", String(offset), "-l", String(length), path]).catch(
    () => undefined,
  );
  return r?.code === 0;
}
