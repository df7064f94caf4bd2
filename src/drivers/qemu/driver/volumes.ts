/**
 * `<disk type='volume'><source pool='P' volume='V'/>` (libvirt's
 * `virDomainDiskTranslateSourcePool`): at start and at hotplug each such disk is resolved through
 * the storage driver of the same state root to the volume's path, type (file, block device,
 * directory) and format. The live definition keeps `type='volume'` with the pool and volume, as
 * libvirt's live XML does; the resolution goes into the source's `actualType` and path (written
 * only into the status file, libvirt's `actualType=`), which the command builders and the start
 * checks use.
 *
 * The lookup is a seam (`VolumeResolver`) the driver is given (`QemuDriverOptions.resolveVolume`).
 * Until the storage driver (`drivers/storage/`) serves it, the default reads the pool's
 * definition from the root's storage config dir (`storageConfigDir`) and finds the volume under
 * the pool's target path.
 */
import { open, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parsePool } from "../../../conf/storage/index.ts";
import type { DiskDef, DomainDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { DriverRoot } from "../paths.ts";

/** What a pool's volume is on the host. */
export interface ResolvedVolume {
  /** The volume's path (file, block device or directory). */
  readonly path: string;
  readonly type: "file" | "block" | "dir";
  /** The image format (`raw`, `qcow2`, ...). */
  readonly format: string;
  /** The type of the pool the volume is in (`dir`, `fs`, `logical`, `iscsi`, ...). */
  readonly poolType: string;
}

/**
 * Resolves a volume by pool and volume name. Throws `QEMU_VOLUME_NO_POOL` /
 * `QEMU_VOLUME_NO_VOLUME` (or the storage driver's own errors) when there is no such thing.
 */
export type VolumeResolver = (pool: string, volume: string) => Promise<ResolvedVolume>;

/**
 * Where a root keeps its storage pool definitions (`<pool>.xml`), beside the QEMU and network
 * configs: libvirt's `/etc/libvirt/storage/`.
 */
export function storageConfigDir(root: DriverRoot): string {
  switch (root.kind) {
    case "system":
      return "/etc/tvirt/storage";
    case "session": {
      const x = process.env.XDG_CONFIG_HOME;
      return join(x !== undefined && x !== "" ? x : join(homedir(), ".config"), "tvirt", "storage");
    }
    case "embed":
      return join(root.root, "etc", "storage");
  }
}

/** The format of an image file, from its header (what the dir backend's refresh reports). */
export async function probeImageFormat(path: string): Promise<string> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) return "qcow2";
    if (head.subarray(0, 4).toString("latin1") === "QED\0") return "qed";
    if (head.subarray(0, 4).toString("latin1") === "KDMV") return "vmdk";
    return "raw";
  } finally {
    await fh.close();
  }
}

function errnoOf(e: unknown): string {
  return typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
}

/**
 * The default lookup for a root without a storage driver: the pool's definition from
 * `storageConfigDir(root)`, the volume `<target path>/<volume>` (dir, fs, netfs: file or
 * directory, format from the header; logical: the LV's block device, raw).
 */
export function localVolumeResolver(root: DriverRoot): VolumeResolver {
  const dir = storageConfigDir(root);
  return async (pool, volume) => {
    if (pool === "" || pool.includes("/") || pool.startsWith("."))
      throw new VirtError("QEMU_VOLUME_NO_POOL", { pool });
    let xml: string;
    try {
      xml = await readFile(join(dir, `${pool}.xml`), "utf8");
    } catch (e) {
      if (errnoOf(e) === "ENOENT") throw new VirtError("QEMU_VOLUME_NO_POOL", { pool });
      throw e;
    }
    const { def } = parsePool(xml);
    const path = def.target?.path;
    const supported = ["dir", "fs", "netfs", "logical"];
    if (!supported.includes(def.type) || path === undefined) {
      throw new VirtError("QEMU_VOLUME_POOL_UNSUPPORTED", {
        pool,
        poolType: def.type,
        reason: `the local lookup knows pools of type ${supported.join(", ")}`,
      });
    }
    // a volume is a name in the pool's directory, never a path out of it
    if (volume === "" || volume.includes("/") || volume === "." || volume === "..")
      throw new VirtError("QEMU_VOLUME_NO_VOLUME", { pool, volume });
    const volPath = join(path, volume);
    let st;
    try {
      st = await stat(volPath);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") throw new VirtError("QEMU_VOLUME_NO_VOLUME", { pool, volume });
      throw e;
    }
    if (st.isBlockDevice()) return { path: volPath, type: "block", format: "raw", poolType: def.type };
    if (st.isDirectory()) return { path: volPath, type: "dir", format: "dir", poolType: def.type };
    return { path: volPath, type: "file", format: await probeImageFormat(volPath), poolType: def.type };
  };
}

/**
 * Resolves one `type='volume'` disk in place (a live definition's disk): its source gets
 * `actualType` and the path, and a disk without `<driver type=>` the volume's format. Other
 * disks are left alone.
 */
export async function resolveDiskVolume(resolve: VolumeResolver, disk: DiskDef): Promise<void> {
  const s = disk.source;
  if (disk.type !== "volume" || s?.pool === undefined || s.volume === undefined) return;
  const target = disk.target.dev;
  const r = await resolve(s.pool, s.volume);
  if (s.mode !== undefined && r.poolType !== "iscsi")
    throw new VirtError("QEMU_VOLUME_MODE", { target, pool: s.pool, poolType: r.poolType });
  if (s.mode === "direct") throw new VirtError("QEMU_VOLUME_MODE_UNSUPPORTED", { target, mode: s.mode });
  if (s.startupPolicy !== undefined && r.type !== "file")
    throw new VirtError("QEMU_VOLUME_STARTUP_POLICY", { target, volume: s.volume, type: r.type });
  delete s.file;
  delete s.dev;
  delete s.dir;
  s.actualType = r.type;
  if (r.type === "file") s.file = r.path;
  else if (r.type === "block") s.dev = r.path;
  else s.dir = r.path;
  const t = disk.driver?.type;
  if (r.type !== "dir" && (t === undefined || t === "" || t === "auto"))
    disk.driver = { name: "qemu", ...(disk.driver ?? {}), type: r.format };
}

/** Resolves every `type='volume'` disk of a live definition (before its command line is built). */
export async function resolveDomainVolumes(resolve: VolumeResolver, live: DomainDef): Promise<void> {
  for (const disk of live.devices.disks) await resolveDiskVolume(resolve, disk);
}
