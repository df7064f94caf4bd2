/**
 * Volume upload and download (virStorageVolUpload / virStorageVolDownload), sparse aware.
 *
 * Node has no lseek(SEEK_DATA/SEEK_HOLE), so a sparse download finds holes by reading: runs of
 * all-zero 4 KiB blocks become `StreamHole`s (the bytes are the same; a file's real holes read
 * as zeros). A sparse upload seeks over holes instead of writing them; where a hole covers old
 * data of a regular file it is punched out (fallocate -p) so it reads as zeros and stays
 * unallocated; on a block device a hole is written as zeros. A file shorter than where the
 * stream ends is extended (a trailing hole).
 */
import { constants as C, promises as fsp } from "node:fs";
import { VirtError } from "../../util/errors/index.ts";
import type { StreamHole, VolumeDownloadStream, VolumeUploadSink } from "../storage-driver.ts";
import { ioError, punchHole, writeZeros } from "./volumes.ts";

const CHUNK = 256 * 1024;
const BLOCK = 4096;
const ZERO = Buffer.alloc(CHUNK);

export interface StreamTarget {
  path: string;
  /** Names the volume in errors. */
  volume: string;
  /** Called once when the stream ends, however it ends. */
  done: () => void;
}

/** Splits a chunk into data and hole runs of whole zero blocks. */
function* splitZeros(buf: Buffer): Generator<Buffer | StreamHole> {
  let start = 0;
  let zeroStart = -1;
  for (let off = 0; off < buf.length; off += BLOCK) {
    const end = Math.min(off + BLOCK, buf.length);
    const zero = buf.subarray(off, end).equals(ZERO.subarray(0, end - off));
    if (zero && zeroStart < 0) zeroStart = off;
    if (!zero && zeroStart >= 0) {
      if (zeroStart > start) yield buf.subarray(start, zeroStart);
      yield { hole: off - zeroStart };
      start = off;
      zeroStart = -1;
    }
  }
  if (zeroStart >= 0) {
    if (zeroStart > start) yield buf.subarray(start, zeroStart);
    yield { hole: buf.length - zeroStart };
  } else if (start < buf.length) yield buf.subarray(start);
}

/** A download of `[offset, offset+length)` (length 0: to the end). */
export async function openDownload(
  t: StreamTarget,
  size: bigint,
  offset: bigint,
  length: bigint,
  sparse: boolean,
): Promise<VolumeDownloadStream> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(t.path, C.O_RDONLY);
  } catch (e) {
    t.done();
    throw ioError(`storage volume '${t.volume}'`, "open", t.path, e);
  }
  const end = length > 0n && offset + length < size ? offset + length : size;
  let closed = false;
  const finish = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => undefined);
    t.done();
  };
  async function* gen(): AsyncGenerator<Uint8Array | StreamHole> {
    let pos = offset;
    let pendingHole = 0;
    try {
      while (pos < end && !closed) {
        const want = Number(end - pos < BigInt(CHUNK) ? end - pos : BigInt(CHUNK));
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, Number(pos));
        if (bytesRead === 0) break;
        pos += BigInt(bytesRead);
        const chunk = buf.subarray(0, bytesRead);
        if (!sparse) {
          yield chunk;
          continue;
        }
        // Neighbouring holes are merged so the receiver gets one per zero run.
        for (const part of splitZeros(chunk)) {
          if ("hole" in part) pendingHole += part.hole;
          else {
            if (pendingHole > 0) yield { hole: pendingHole };
            pendingHole = 0;
            yield part;
          }
        }
      }
      if (pendingHole > 0 && !closed) yield { hole: pendingHole };
    } finally {
      await finish();
    }
  }
  const it = gen();
  return {
    [Symbol.asyncIterator]: () => it,
    close: async () => {
      await it.return(undefined);
      await finish();
    },
  };
}

/** An upload into `[offset, offset+length)` (length 0: no limit). */
export async function openUpload(
  t: StreamTarget,
  offset: bigint,
  length: bigint,
  sparse: boolean,
  block: boolean,
  onFinish: () => Promise<void>,
): Promise<VolumeUploadSink> {
  const object = `storage volume '${t.volume}'`;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(t.path, C.O_WRONLY);
  } catch (e) {
    t.done();
    throw ioError(object, "open", t.path, e);
  }
  let ended = false;
  const end = async (): Promise<void> => {
    if (ended) return;
    ended = true;
    await fh.close().catch(() => undefined);
    t.done();
  };
  // A hole over old data is punched (it must read as zeros, and have no blocks); a file with
  // no blocks at all (a new volume, the usual case) needs no punching.
  let oldSize = 0n;
  if (sparse && !block) {
    const st = await fh.stat();
    if (st.blocks > 0) oldSize = BigInt(st.size);
  }
  let pos = offset;
  const limit = length > 0n ? offset + length : undefined;
  const check = (n: number): void => {
    if (ended)
      throw new VirtError("STORAGE_STREAM_INVALID", { volume: t.volume, what: "the upload has ended" });
    if (limit !== undefined && pos + BigInt(n) > limit) {
      throw new VirtError("STORAGE_STREAM_INVALID", {
        volume: t.volume,
        what: `the upload sends more than the ${length} bytes it asked for`,
      });
    }
  };
  return {
    write: async (chunk) => {
      if (!(chunk instanceof Uint8Array)) {
        const n = chunk.hole;
        check(n);
        if (block) {
          let left = n;
          while (left > 0) {
            const k = Math.min(left, CHUNK);
            await fh.write(ZERO, 0, k, Number(pos));
            pos += BigInt(k);
            left -= k;
          }
        } else {
          if (pos < oldSize) {
            const len = pos + BigInt(n) < oldSize ? BigInt(n) : oldSize - pos;
            if (!(await punchHole(t.path, pos, len))) {
              // No hole punching here: zeros keep the bytes right, if not the sparseness.
              await writeZeros(object, t.path, pos, len, false);
            }
          }
          pos += BigInt(n);
        }
        return;
      }
      const data = chunk;
      check(data.length);
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, Number(pos) + done);
        done += bytesWritten;
      }
      pos += BigInt(data.length);
    },
    finish: async () => {
      try {
        if (!block) {
          const st = await fh.stat();
          if (BigInt(st.size) < pos) await fh.truncate(Number(pos));
        }
        await fh.sync();
      } catch (e) {
        await end();
        throw ioError(object, "finish the upload to", t.path, e);
      }
      await end();
      await onFinish();
    },
    abort: async () => {
      await end();
    },
  };
}
