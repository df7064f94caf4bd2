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
import { existsSync } from "node:fs";
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
  /**
   * An iSCSI pool's source, for a disk with `mode='direct'` (QEMU's own initiator): its portal
   * hosts (port 0: the default), the target IQN (the pool's source device path) and the
   * initiator IQN. A lookup that cannot tell leaves it out, and such disks are refused.
   */
  readonly iscsi?: {
    readonly hosts: readonly { readonly name: string; readonly port: number }[];
    readonly target: string;
    readonly initiatorIqn?: string;
    /** The pool's CHAP credentials (`<auth username=><secret usage=|uuid=/>`). */
    readonly auth?: { readonly username: string; readonly secret: { uuid?: string; usage?: string } };
  };
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

/**
 * Where the storage driver of a root records its active pools (`<pool>.xml`, libvirt's
 * `/run/libvirt/storage/`): the same folder `drivers/storage` writes.
 */
export function storageStateDir(root: DriverRoot): string {
  switch (root.kind) {
    case "system":
      return "/run/tvirt/storage";
    case "session": {
      const x = process.env.XDG_RUNTIME_DIR;
      return join(
        x !== undefined && x !== "" ? x : join(homedir(), ".cache", "tvirt", "run"),
        "tvirt",
        "storage",
      );
    }
    case "embed":
      return join(root.root, "run", "storage");
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
    // once the root's storage driver has run, a pool without its state file is not started
    // (libvirt's virStoragePoolIsActive); before that, a defined pool is taken as it is
    const state = storageStateDir(root);
    if (existsSync(state) && !existsSync(join(state, `${pool}.xml`)))
      throw new VirtError("QEMU_VOLUME_POOL_INACTIVE", { pool, volume });
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
 * Fills one `type='volume'` disk in place (a live definition's disk) from what its volume
 * resolved to: the source gets `actualType` and the path, and a disk without `<driver type=>`
 * the volume's format (libvirt's `virDomainDiskTranslateSourcePool` once the lookup is done).
 */
export function applyResolvedVolume(disk: DiskDef, r: ResolvedVolume): void {
  const s = disk.source;
  if (disk.type !== "volume" || s?.pool === undefined || s.volume === undefined) return;
  const target = disk.target.dev;
  if (s.mode !== undefined && r.poolType !== "iscsi")
    throw new VirtError("QEMU_VOLUME_MODE", { target, pool: s.pool, poolType: r.poolType });
  // the translation starts from a clean source: a disk's own <auth> is not used for a volume
  // (only a direct iSCSI LUN gets credentials, the pool's)
  delete disk.auth;
  delete s.auth;
  if (s.mode === "direct") {
    if (r.iscsi === undefined) throw new VirtError("QEMU_VOLUME_MODE_UNSUPPORTED", { target, mode: s.mode });
    applyIscsiDirect(disk, r.iscsi);
    return;
  }
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

/**
 * `mode='direct'` on an iSCSI pool (libvirt's `virDomainDiskTranslateISCSIDirect`): the disk
 * becomes QEMU's own iSCSI client of the pool's portal, target `<pool device>/<LUN>` where the
 * LUN is the last field of the volume's `unit:B:T:LUN` name.
 */
function applyIscsiDirect(disk: DiskDef, iscsi: NonNullable<ResolvedVolume["iscsi"]>): void {
  const s = disk.source!;
  const fields = (s.volume ?? "").split(":");
  if (fields.length !== 4)
    throw new VirtError("QEMU_VOLUME_NO_VOLUME", { pool: s.pool ?? "", volume: s.volume ?? "" });
  delete s.file;
  delete s.dev;
  delete s.dir;
  s.actualType = "network";
  s.protocol = "iscsi";
  s.name = `${iscsi.target}/${fields[3]}`;
  s.hosts = iscsi.hosts.map((h) => ({ name: h.name, port: h.port === 0 ? 3260 : h.port, transport: "tcp" }));
  if (s.initiatorIqn === undefined && iscsi.initiatorIqn !== undefined) s.initiatorIqn = iscsi.initiatorIqn;
  if (iscsi.auth !== undefined)
    s.auth = { username: iscsi.auth.username, secret: { type: "iscsi", ...iscsi.auth.secret } };
}

/**
 * A volume that could not be resolved at a cold boot (no pool, an inactive pool, no volume):
 * with `startupPolicy='optional'` libvirt starts without it (`qemuDomainCheckDiskStartupPolicy`):
 * a CD-ROM or floppy is left empty, any other disk is taken out of the live definition. Any other
 * policy keeps the error. Returns whether the failure was absorbed.
 */
function dropOptionalVolume(live: DomainDef, disk: DiskDef, coldBoot: boolean): boolean {
  if (disk.source?.startupPolicy !== "optional") return false;
  const removable = disk.device === "cdrom" || disk.device === "floppy";
  // once started with it, QEMU's migration stream has a section for a fixed disk: only a cold
  // boot may drop one
  if (!coldBoot && !removable) return false;
  if (removable) {
    delete disk.source;
    disk.type = "file";
  } else {
    const i = live.devices.disks.indexOf(disk);
    if (i >= 0) live.devices.disks.splice(i, 1);
  }
  return true;
}

/** Resolves one `type='volume'` disk in place (see `applyResolvedVolume`); other disks are left alone. */
export async function resolveDiskVolume(resolve: VolumeResolver, disk: DiskDef): Promise<void> {
  const s = disk.source;
  if (disk.type !== "volume" || s?.pool === undefined || s.volume === undefined) return;
  applyResolvedVolume(disk, await resolve(s.pool, s.volume));
}

/**
 * Resolves every `type='volume'` disk of a live definition (before its command line is built);
 * an optional one whose volume is not there is dropped on a cold boot (`dropOptionalVolume`).
 */
export async function resolveDomainVolumes(
  resolve: VolumeResolver,
  live: DomainDef,
  coldBoot = true,
): Promise<void> {
  for (const disk of [...live.devices.disks]) {
    const s = disk.source;
    if (disk.type !== "volume" || s?.pool === undefined || s.volume === undefined) continue;
    let r: ResolvedVolume;
    try {
      r = await resolve(s.pool, s.volume);
    } catch (e) {
      if (dropOptionalVolume(live, disk, coldBoot)) continue;
      throw e;
    }
    applyResolvedVolume(disk, r);
  }
}

/** `resolveDomainVolumes` with a lookup that answers at once (a fixed table, a test's fake pools). */
export function resolveDomainVolumesSync(
  resolve: (pool: string, volume: string) => ResolvedVolume,
  live: DomainDef,
  coldBoot = true,
): void {
  for (const disk of [...live.devices.disks]) {
    const s = disk.source;
    if (disk.type !== "volume" || s?.pool === undefined || s.volume === undefined) continue;
    let r: ResolvedVolume;
    try {
      r = resolve(s.pool, s.volume);
    } catch (e) {
      if (dropOptionalVolume(live, disk, coldBoot)) continue;
      throw e;
    }
    applyResolvedVolume(disk, r);
  }
}
