/**
 * A storage driver whose one pool is a directory of plain files, for the RPC tests of volume
 * streams (test:///default's pools live in memory and, as libvirt's test driver, cannot upload
 * or download). Volumes are the directory's files; upload writes into them at an offset, with
 * holes skipped (the file keeps them sparse); download reads them, reporting runs of zero
 * blocks as holes when the caller asked for a sparse stream. Reached as `filevol:///` through
 * `fileStorageConnectDriver` (register it with `registerDriver`).
 */
import { open, readdir, stat, truncate, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { ConnectDriver, HypervisorDriver } from "../../drivers/driver.ts";
import {
  StoragePoolState,
  StorageVolDownloadFlags,
  StorageVolType,
  StorageVolUploadFlags,
  type StorageDriver,
  type StoragePoolInfo,
  type StoragePoolRef,
  type StorageVolInfo,
  type StorageVolRef,
  type StreamHole,
  type VolumeDownloadStream,
  type VolumeUploadSink,
} from "../../drivers/storage-driver.ts";
import { checkFlags, VirtError } from "../../util/errors/index.ts";

export const filePool: StoragePoolRef = { name: "files", uuid: "6f1e0c1a-7b8e-4d7c-9a55-3c0b8f4a2e19" };

/** Where the pool's files are (set by the test before connecting). */
export const fileStorage = {
  dir: "",
  blockSize: 64 * 1024,
  /** A slow volume: each upload write takes this long (flow-control tests). */
  writeDelayMs: 0,
};

/** What the driver saw (the tests check holes arrived as holes). */
export const fileStorageLog = { holesReceived: 0, holesSent: 0, openStreams: 0 };

const isZero = (b: Uint8Array): boolean => {
  for (const x of b) if (x !== 0) return false;
  return true;
};

class FileStorageDriver implements HypervisorDriver, StorageDriver {
  readonly name = "FILEVOL";

  connectClose(): Promise<void> {
    return Promise.resolve();
  }

  #pool(ref: StoragePoolRef): void {
    if (ref.name !== filePool.name)
      throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "name", value: ref.name });
  }
  #vol(name: string): StorageVolRef {
    if (name.includes("/") || name === "" || name.startsWith("."))
      throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching name '${name}'` });
    const path = join(fileStorage.dir, name);
    return { pool: filePool.name, name, key: path };
  }
  async #existing(vol: StorageVolRef): Promise<string> {
    const ref = this.#vol(vol.name);
    try {
      await stat(ref.key);
    } catch {
      throw new VirtError("STORAGE_VOL_NOT_FOUND", {
        what: `no storage vol with matching name '${vol.name}'`,
      });
    }
    return ref.key;
  }

  connectListAllStoragePools(): Promise<StoragePoolRef[]> {
    return Promise.resolve([{ ...filePool }]);
  }
  async storagePoolLookupByName(name: string): Promise<StoragePoolRef> {
    this.#pool({ name, uuid: "" });
    return Promise.resolve({ ...filePool });
  }
  async storagePoolGetInfo(pool: StoragePoolRef): Promise<StoragePoolInfo> {
    this.#pool(pool);
    let allocation = 0;
    for (const v of await this.storagePoolListAllVolumes(pool))
      allocation += (await this.storageVolGetInfo(v)).allocation;
    const capacity = 1024 * 1024 * 1024;
    return { state: StoragePoolState.RUNNING, capacity, allocation, available: capacity - allocation };
  }
  async storagePoolGetXMLDesc(pool: StoragePoolRef): Promise<string> {
    this.#pool(pool);
    return Promise.resolve(
      `<pool type='dir'>\n  <name>${filePool.name}</name>\n  <uuid>${filePool.uuid}</uuid>\n` +
        `  <target>\n    <path>${fileStorage.dir}</path>\n  </target>\n</pool>\n`,
    );
  }
  storagePoolIsActive(): Promise<boolean> {
    return Promise.resolve(true);
  }
  storagePoolIsPersistent(): Promise<boolean> {
    return Promise.resolve(true);
  }
  storagePoolGetAutostart(): Promise<boolean> {
    return Promise.resolve(false);
  }
  async storagePoolListAllVolumes(pool: StoragePoolRef): Promise<StorageVolRef[]> {
    this.#pool(pool);
    return (await readdir(fileStorage.dir)).sort().map((n) => this.#vol(n));
  }
  async storagePoolNumOfVolumes(pool: StoragePoolRef): Promise<number> {
    return (await this.storagePoolListAllVolumes(pool)).length;
  }
  async storageVolLookupByName(pool: StoragePoolRef, name: string): Promise<StorageVolRef> {
    this.#pool(pool);
    const ref = this.#vol(name);
    await this.#existing(ref);
    return ref;
  }
  async storageVolLookupByPath(path: string): Promise<StorageVolRef> {
    for (const v of await this.storagePoolListAllVolumes(filePool)) if (v.key === path) return v;
    throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching path '${path}'` });
  }
  storageVolLookupByKey(key: string): Promise<StorageVolRef> {
    return this.storageVolLookupByPath(key);
  }
  async storagePoolLookupByVolume(vol: StorageVolRef): Promise<StoragePoolRef> {
    await this.#existing(vol);
    return { ...filePool };
  }
  async storageVolCreateXML(pool: StoragePoolRef, xml: string): Promise<StorageVolRef> {
    this.#pool(pool);
    const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1] ?? "";
    const capacity = Number(/<capacity[^>]*>(\d+)<\/capacity>/.exec(xml)?.[1] ?? "0");
    const ref = this.#vol(name);
    const fh = await open(ref.key, "wx");
    await fh.truncate(capacity);
    await fh.close();
    return ref;
  }
  async storageVolDelete(vol: StorageVolRef): Promise<void> {
    await unlink(await this.#existing(vol));
  }
  async storageVolGetInfo(vol: StorageVolRef): Promise<StorageVolInfo> {
    const st = await stat(await this.#existing(vol));
    return { type: StorageVolType.FILE, capacity: st.size, allocation: st.blocks * 512 };
  }
  async storageVolGetPath(vol: StorageVolRef): Promise<string> {
    return this.#existing(vol);
  }
  async storageVolGetXMLDesc(vol: StorageVolRef): Promise<string> {
    const path = await this.#existing(vol);
    const info = await this.storageVolGetInfo(vol);
    return (
      `<volume type='file'>\n  <name>${vol.name}</name>\n  <key>${path}</key>\n` +
      `  <capacity unit='bytes'>${info.capacity}</capacity>\n` +
      `  <allocation unit='bytes'>${info.allocation}</allocation>\n` +
      `  <target>\n    <path>${path}</path>\n    <format type='raw'/>\n  </target>\n</volume>\n`
    );
  }

  async storageVolUpload(
    vol: StorageVolRef,
    offset: bigint,
    length: bigint,
    flags: number,
  ): Promise<VolumeUploadSink> {
    checkFlags(flags, StorageVolUploadFlags.SPARSE_STREAM, "fileVolUpload");
    const path = await this.#existing(vol);
    const fh = await open(path, "r+");
    fileStorageLog.openStreams++;
    let pos = Number(offset);
    const end = length === 0n ? Infinity : Number(offset + length);
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      fileStorageLog.openStreams--;
      await fh.close();
    };
    return {
      write: async (chunk: Uint8Array | StreamHole): Promise<void> => {
        if (closed) throw new VirtError("RPC_STREAM_ABORTED", { reason: "upload closed" });
        const n = chunk instanceof Uint8Array ? chunk.length : chunk.hole;
        if (pos + n > end)
          throw new VirtError("API_INVALID_ARG", { what: `upload beyond the requested length ${length}` });
        if (fileStorage.writeDelayMs > 0) await new Promise((r) => setTimeout(r, fileStorage.writeDelayMs));
        if (chunk instanceof Uint8Array) await fh.write(chunk, 0, chunk.length, pos);
        else fileStorageLog.holesReceived++;
        pos += n;
      },
      finish: async (): Promise<void> => {
        // a hole at the end extends the file, as lseek + ftruncate do
        if ((await fh.stat()).size < pos) await fh.truncate(pos);
        await fh.sync();
        await close();
      },
      abort: close,
    };
  }

  async storageVolDownload(
    vol: StorageVolRef,
    offset: bigint,
    length: bigint,
    flags: number,
  ): Promise<VolumeDownloadStream> {
    checkFlags(flags, StorageVolDownloadFlags.SPARSE_STREAM, "fileVolDownload");
    const sparse = (flags & StorageVolDownloadFlags.SPARSE_STREAM) !== 0;
    const path = await this.#existing(vol);
    const fh: FileHandle = await open(path, "r");
    fileStorageLog.openStreams++;
    const size = (await fh.stat()).size;
    const end = length === 0n ? size : Math.min(size, Number(offset + length));
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      fileStorageLog.openStreams--;
      await fh.close();
    };
    async function* items(): AsyncGenerator<Uint8Array | StreamHole> {
      try {
        let hole = 0;
        for (let pos = Number(offset); pos < end && !closed;) {
          const n = Math.min(fileStorage.blockSize, end - pos);
          const buf = Buffer.alloc(n);
          const { bytesRead } = await fh.read(buf, 0, n, pos);
          if (bytesRead === 0) break;
          const data = buf.subarray(0, bytesRead);
          pos += bytesRead;
          if (sparse && isZero(data)) {
            hole += bytesRead;
            continue;
          }
          if (hole > 0) {
            fileStorageLog.holesSent++;
            yield { hole };
            hole = 0;
          }
          yield data;
        }
        if (hole > 0 && !closed) {
          fileStorageLog.holesSent++;
          yield { hole };
        }
      } finally {
        await close();
      }
    }
    const it = items();
    return { [Symbol.asyncIterator]: () => it, close };
  }
}

export const fileStorageConnectDriver: ConnectDriver = {
  name: "filevol",
  uriSchemes: ["filevol"],
  localOnly: true,
  open: () => Promise.resolve(new FileStorageDriver()),
};

/** Creates an empty file volume of `size` bytes (sparse) for a test. */
export async function makeFileVolume(name: string, size: number): Promise<string> {
  const path = join(fileStorage.dir, name);
  const fh = await open(path, "w");
  await fh.close();
  await truncate(path, size);
  return path;
}
