/**
 * The `dir` backend (libvirt's storage_backend_fs.c, type dir): a pool is a directory, its
 * volumes are the files in it. Raw volumes are made by hand (ftruncate for the size, fallocate
 * for the allocation, as libvirt's createRaw); the other formats and copies go through qemu-img
 * (`commands.ts`). The `fs` backend (`backend-fs.ts`) reuses all of it and adds the mount.
 */
import { constants as C, promises as fsp, type Stats } from "node:fs";
import { join } from "node:path";
import { VirtError } from "../../util/errors/index.ts";
import type { PoolDef, VolumeDef } from "../../conf/storage/index.ts";
import { checkVolumeCreatable, qemuImgCommands } from "./commands.ts";
import {
  noSupport,
  poolObject,
  volObject,
  type PoolBackend,
  type PoolScan,
  type PoolSizes,
} from "./backend.ts";
import { StoragePoolBuildFlags, StorageVolCreateFlags, StorageVolResizeFlags } from "../storage-driver.ts";
import { allocateFile, fileVolume, ioError, probeImage, runChecked, writeZeros } from "./volumes.ts";

/** Formats qemu-img creates (libvirt also knows formats it only reads: iso, bochs, cloop, …). */
export const FILE_CREATE_FORMATS = ["raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vpc"] as const;

function targetOf(def: PoolDef): string {
  if (!def.target) throw noSupport(`storage pool '${def.name}' has no target path`);
  return def.target.path;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

async function targetIsDir(def: PoolDef): Promise<boolean> {
  const st = await statOrUndefined(targetOf(def)).catch(() => undefined);
  return st?.isDirectory() ?? false;
}

function kindOf(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isBlockDevice()) return "a block device";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  return "not a directory";
}

export class DirBackend implements PoolBackend {
  readonly createFormats: readonly string[] = FILE_CREATE_FORMATS;

  async checkDefinition(def: PoolDef): Promise<void> {
    const path = targetOf(def);
    let st: Stats | undefined;
    try {
      st = await statOrUndefined(path);
    } catch (e) {
      throw ioError(poolObject(def), "stat", path, e);
    }
    if (st && !st.isDirectory()) {
      throw new VirtError("STORAGE_POOL_TARGET_NOT_DIR", { pool: def.name, path, found: kindOf(st) });
    }
  }

  isRunning(def: PoolDef): Promise<boolean> {
    return targetIsDir(def);
  }

  /** mkdir of the target with the pool's permissions (libvirt: virDirCreate). */
  async build(def: PoolDef, flags: number): Promise<void> {
    if (flags & StoragePoolBuildFlags.OVERWRITE && flags & StoragePoolBuildFlags.NO_OVERWRITE) {
      throw new VirtError("STORAGE_POOL_BUILD_REFUSED", {
        what: "Overwrite and no overwrite flags are mutually exclusive",
      });
    }
    await this.checkDefinition(def);
    const path = targetOf(def);
    const perms = def.target?.perms ?? {};
    try {
      const made = await fsp.mkdir(path, { recursive: true, mode: perms.mode ?? 0o711 });
      if (made !== undefined || perms.mode !== undefined) await fsp.chmod(path, perms.mode ?? 0o711);
      if (perms.owner !== undefined || perms.group !== undefined) {
        await fsp.chown(path, perms.owner ?? -1, perms.group ?? -1);
      }
    } catch (e) {
      throw ioError(poolObject(def), "create directory", path, e);
    }
  }

  async start(def: PoolDef): Promise<void> {
    await this.checkDefinition(def);
    const path = targetOf(def);
    if (!(await targetIsDir(def))) {
      throw new VirtError("STORAGE_POOL_TARGET_MISSING", { pool: def.name, path });
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- a directory has nothing to stop
  async stop(def: PoolDef): Promise<void> {}

  /** rmdir of the target: only an empty one (libvirt's rule). */
  async delete(def: PoolDef): Promise<void> {
    const path = targetOf(def);
    try {
      await fsp.rmdir(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw ioError(poolObject(def), "remove directory", path, e);
    }
  }

  async refresh(def: PoolDef): Promise<PoolScan> {
    const path = targetOf(def);
    let names: string[];
    let st: Stats;
    try {
      st = await fsp.stat(path);
      names = await fsp.readdir(path);
    } catch (e) {
      throw ioError(poolObject(def), "read directory", path, e);
    }
    const volumes: VolumeDef[] = [];
    for (const n of names.sort()) {
      const v = await fileVolume(def, join(path, n));
      if (v) volumes.push(v);
    }
    return {
      ...(await this.sizes(def)),
      volumes,
      targetPerms: { mode: st.mode & 0o7777, owner: st.uid, group: st.gid },
    };
  }

  /** The file system's sizes (statvfs), as libvirt: allocation = used blocks, available = bavail. */
  async sizes(def: PoolDef): Promise<PoolSizes> {
    const path = targetOf(def);
    let fs;
    try {
      fs = await fsp.statfs(path);
    } catch (e) {
      throw ioError(poolObject(def), "statfs", path, e);
    }
    const bsize = BigInt(fs.bsize);
    const capacity = BigInt(fs.blocks) * bsize;
    return {
      capacity,
      allocation: capacity - BigInt(fs.bfree) * bsize,
      available: BigInt(fs.bavail) * bsize,
    };
  }

  refreshVolume(def: PoolDef, vol: VolumeDef): Promise<VolumeDef | undefined> {
    return fileVolume(def, vol.target.path ?? join(targetOf(def), vol.name));
  }

  volumeTarget(def: PoolDef, name: string): { path: string; key: string } {
    const path = join(targetOf(def), name);
    return { path, key: path };
  }

  allocationNeeded(vol: VolumeDef, flags: number): bigint {
    const fmt = vol.target.format ?? "raw";
    if (fmt === "raw") return vol.allocation < (vol.capacity ?? 0n) ? vol.allocation : (vol.capacity ?? 0n);
    // qemu-img images start small; metadata/falloc preallocation takes what the allocation says.
    if (flags & StorageVolCreateFlags.PREALLOC_METADATA) return vol.allocation;
    return 0n;
  }

  #checkFormat(def: PoolDef, vol: VolumeDef): void {
    const fmt = vol.target.format ?? "raw";
    if (!this.createFormats.includes(fmt)) {
      throw new VirtError("STORAGE_VOL_FORMAT_UNSUPPORTED", {
        pool: def.name,
        type: def.type,
        volume: vol.name,
        what: `in format '${fmt}'`,
        allowed: this.createFormats.join(", "),
      });
    }
  }

  async #fillBacking(def: PoolDef, vol: VolumeDef): Promise<void> {
    const b = vol.backingStore;
    if (!b) return;
    try {
      await fsp.access(b.path, C.R_OK);
    } catch (e) {
      throw ioError(volObject(def, vol), "read backing store", b.path, e);
    }
    // The volume parser fills the pool's default format; probe when the file says otherwise.
    const probed = await probeImage(b.path).catch(() => undefined);
    if (probed && (b.format === undefined || b.format === "raw")) b.format = probed.format;
    if (vol.capacity === undefined && probed?.capacity !== undefined) vol.capacity = probed.capacity;
    if (vol.capacity === undefined) vol.capacity = BigInt((await fsp.stat(b.path)).size);
  }

  async #applyPerms(def: PoolDef, vol: VolumeDef): Promise<void> {
    const path = vol.target.path!;
    const p = vol.target.perms;
    try {
      await fsp.chmod(path, p.mode ?? 0o600);
      if (p.owner !== undefined || p.group !== undefined) await fsp.chown(path, p.owner ?? -1, p.group ?? -1);
    } catch (e) {
      throw ioError(volObject(def, vol), "set permissions of", path, e);
    }
  }

  async createVolume(def: PoolDef, vol: VolumeDef, flags: number): Promise<void> {
    checkVolumeCreatable(vol);
    this.#checkFormat(def, vol);
    await this.#fillBacking(def, vol);
    const path = vol.target.path!;
    const fmt = vol.target.format ?? "raw";
    const object = volObject(def, vol);
    if (fmt === "raw" && !vol.backingStore) {
      if (flags & StorageVolCreateFlags.PREALLOC_METADATA) {
        throw new VirtError("STORAGE_CONFIG_UNSUPPORTED", {
          what: `storage volume '${vol.name}': metadata preallocation only available with qcow2`,
        });
      }
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL, vol.target.perms.mode ?? 0o600);
      } catch (e) {
        // A file the pool has not listed yet (made outside, no refresh since) is still taken.
        if ((e as NodeJS.ErrnoException).code === "EEXIST") {
          throw new VirtError("STORAGE_VOL_EXISTS", { volume: vol.name });
        }
        throw ioError(object, "create", path, e);
      }
      try {
        await fh.truncate(Number(vol.capacity ?? 0n));
        await fh.close();
        const alloc = vol.allocation < (vol.capacity ?? 0n) ? vol.allocation : (vol.capacity ?? 0n);
        await allocateFile(object, path, alloc);
        await this.#applyPerms(def, vol);
      } catch (e) {
        await fh.close().catch(() => undefined);
        await fsp.rm(path, { force: true });
        throw e;
      }
      return;
    }
    const cmds = qemuImgCommands({
      pool: def,
      vol,
      preallocMetadata: (flags & StorageVolCreateFlags.PREALLOC_METADATA) !== 0,
    });
    await this.#runCreate(def, vol, cmds);
  }

  async #runCreate(def: PoolDef, vol: VolumeDef, cmds: string[][]): Promise<void> {
    const path = vol.target.path!;
    try {
      await fsp.access(path);
      throw new VirtError("STORAGE_VOL_EXISTS", { volume: vol.name });
    } catch (e) {
      if (e instanceof VirtError) throw e;
    }
    try {
      for (const c of cmds) await runChecked(volObject(def, vol), c);
      await this.#applyPerms(def, vol);
    } catch (e) {
      await fsp.rm(path, { force: true });
      throw e;
    }
  }

  async createVolumeFrom(
    def: PoolDef,
    vol: VolumeDef,
    inputPool: PoolDef,
    input: VolumeDef,
    flags: number,
  ): Promise<void> {
    checkVolumeCreatable(vol, input);
    this.#checkFormat(def, vol);
    const inputVol: VolumeDef = {
      ...input,
      target: { ...input.target, format: input.type === "block" ? "raw" : (input.target.format ?? "raw") },
    };
    // qemu-img convert gets no size: a larger capacity is a resize after the copy.
    const cmds = qemuImgCommands({
      pool: def,
      vol: { ...vol, backingStore: undefined },
      inputPool,
      inputVol,
      preallocMetadata: (flags & StorageVolCreateFlags.PREALLOC_METADATA) !== 0,
    });
    await this.#runCreate(def, vol, cmds);
    const fmt = vol.target.format ?? "raw";
    if (vol.capacity !== undefined && input.capacity !== undefined && vol.capacity > input.capacity) {
      try {
        await runChecked(volObject(def, vol), [
          "qemu-img",
          "resize",
          "-f",
          fmt,
          vol.target.path!,
          String(vol.capacity),
        ]);
      } catch (e) {
        await fsp.rm(vol.target.path!, { force: true });
        throw e;
      }
    }
  }

  async deleteVolume(def: PoolDef, vol: VolumeDef): Promise<void> {
    const path = vol.target.path!;
    try {
      if (vol.type === "dir") await fsp.rmdir(path);
      else await fsp.unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw ioError(volObject(def, vol), "remove", path, e);
    }
  }

  async resizeVolume(def: PoolDef, vol: VolumeDef, capacity: bigint, flags: number): Promise<void> {
    const path = vol.target.path!;
    const fmt = vol.target.format ?? "raw";
    const object = volObject(def, vol);
    const shrink = capacity < (vol.capacity ?? 0n);
    if (fmt === "raw") {
      try {
        await fsp.truncate(path, Number(capacity));
      } catch (e) {
        throw ioError(object, "resize", path, e);
      }
      if (flags & StorageVolResizeFlags.ALLOCATE) await allocateFile(object, path, capacity);
      return;
    }
    if (!["qcow2", "qed", "vmdk", "vdi", "vpc", "qcow"].includes(fmt)) {
      throw noSupport(`storage volume '${vol.name}': resizing volumes of format '${fmt}' is not supported`);
    }
    const argv = ["qemu-img", "resize", "-f", fmt];
    if (shrink) argv.push("--shrink");
    if (flags & StorageVolResizeFlags.ALLOCATE) argv.push("--preallocation=falloc");
    argv.push(path, String(capacity));
    await runChecked(object, argv);
  }

  /**
   * Zeros the volume. A raw file that is sparse is truncated to nothing and back to its size
   * (libvirt's shortcut: the same zeros, no blocks); other raw files get zeros written. An image
   * format is made anew, empty, with the same size and options: zeros over its header would
   * leave a raw file where the volume's format says otherwise.
   */
  async wipeVolume(def: PoolDef, vol: VolumeDef): Promise<void> {
    const path = vol.target.path!;
    const object = volObject(def, vol);
    const fmt = vol.target.format ?? "raw";
    if (vol.type === "dir") throw noSupport(`storage volume '${vol.name}': directories cannot be wiped`);
    const st = await fsp.stat(path).catch((e: unknown) => {
      throw ioError(object, "stat", path, e);
    });
    if (fmt === "raw" || vol.type === "block") {
      if (st.isFile() && st.blocks * 512 < st.size) {
        try {
          await fsp.truncate(path, 0);
          await fsp.truncate(path, st.size);
        } catch (e) {
          throw ioError(object, "wipe", path, e);
        }
        return;
      }
      const size = st.isFile() ? BigInt(st.size) : (vol.capacity ?? 0n);
      await writeZeros(object, path, 0n, size, true);
      return;
    }
    const tmp = `${path}.tvirt-wipe`;
    const fresh: VolumeDef = { ...vol, target: { ...vol.target, path: tmp } };
    try {
      for (const c of qemuImgCommands({ pool: def, vol: fresh })) await runChecked(object, c);
      await fsp.chmod(tmp, st.mode & 0o7777);
      await fsp.chown(tmp, st.uid, st.gid);
      await fsp.rename(tmp, path);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }
}
