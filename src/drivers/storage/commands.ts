/**
 * The external commands of the storage driver, as argv arrays (never shell strings), built from
 * pool and volume definitions: pure functions, golden-tested against libvirt 11.3's
 * storagepoolxml2argv and storagevolxml2argv data.
 *
 * - pools: `mount` for fs/netfs pools, `umount`, `vgchange -aly/-aln` for logical pools, and
 *   the build/delete commands (`mkfs`, `pvcreate`, `vgcreate`, `vgremove`, `pvremove`,
 *   `parted mklabel`);
 * - volumes: `qemu-img create` and `qemu-img convert` (create-from), with format,
 *   preallocation, nocow, compat, cluster size, lazy_refcounts/extended_l2, backing store and
 *   LUKS encryption (one command, or create + convert when encryption meets an input volume).
 *
 * Program names are bare (`mount`, `qemu-img`); the driver resolves them. Secret files are the
 * driver's to write; their paths come in as arguments.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { PoolDef, VolumeDef } from "../../conf/storage/index.ts";

export type Argv = string[];

/** Program names (or paths) to use; bare names by default. */
export interface Programs {
  mount?: string;
  umount?: string;
  vgchange?: string;
  vgcreate?: string;
  vgremove?: string;
  pvcreate?: string;
  pvremove?: string;
  mkfs?: string;
  parted?: string;
  qemuImg?: string;
}

function unsupported(what: string): VirtError {
  return new VirtError("STORAGE_CONFIG_UNSUPPORTED", { what });
}

// ---------------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------------

/** What `mount` mounts for an fs/netfs pool: the device, `host:dir` or `//host/dir` (cifs). */
export function poolMountSource(pool: PoolDef): string {
  const s = pool.source;
  if (pool.type === "fs") {
    const dev = s.devices[0];
    if (!dev) throw unsupported(`storage pool '${pool.name}': missing source device`);
    return dev.path;
  }
  if (pool.type === "netfs") {
    const host = s.hosts[0];
    if (!host || s.dir === undefined) {
      throw unsupported(`storage pool '${pool.name}': missing source host or source dir`);
    }
    return s.format === "cifs" ? `//${host.name}/${s.dir}` : `${host.name}:${s.dir}`;
  }
  throw unsupported(
    `storage pool '${pool.name}' of type '${pool.type}' is not mounted: only fs and netfs pools are`,
  );
}

function targetPath(pool: PoolDef): string {
  if (!pool.target)
    throw unsupported(`storage pool '${pool.name}' of type '${pool.type}' has no target path`);
  return pool.target.path;
}

/** Which host's mount options: Linux and FreeBSD mount pools nosuid,noexec (Linux also nodev). */
export type MountPlatform = "linux" | "freebsd" | "other";

const BASE_MOUNT_OPTIONS: Readonly<Record<MountPlatform, readonly string[]>> = {
  linux: ["nodev", "nosuid", "noexec"],
  freebsd: ["nosuid", "noexec"],
  other: [],
};

/** `mount [-o nodev,nosuid,noexec,...] [-t type] source target`. */
export function poolMountCommand(
  pool: PoolDef,
  programs: Programs = {},
  platform: MountPlatform = "linux",
): Argv {
  const src = poolMountSource(pool);
  const opts = [...BASE_MOUNT_OPTIONS[platform]];
  const fmt = pool.source.format ?? "auto";
  if (pool.type === "netfs") {
    if (pool.source.protocolVer !== undefined) opts.push(`nfsvers=${pool.source.protocolVer}`);
    if (fmt === "glusterfs") opts.push("direct-io-mode=1");
    if (fmt === "cifs") opts.push("guest");
  }
  opts.push(...(pool.mountOpts ?? []));
  const argv: Argv = [programs.mount ?? "mount"];
  if (opts.length) argv.push("-o", opts.join(","));
  // A netfs pool of format 'auto' lets mount choose; an fs pool names its type (auto included).
  if (!(pool.type === "netfs" && fmt === "auto")) argv.push("-t", fmt);
  argv.push(src, targetPath(pool));
  return argv;
}

/** `umount target` for fs/netfs pools. */
export function poolUnmountCommand(pool: PoolDef, programs: Programs = {}): Argv {
  if (pool.type !== "fs" && pool.type !== "netfs") {
    throw unsupported(
      `storage pool '${pool.name}' of type '${pool.type}' is not mounted: only fs and netfs pools are`,
    );
  }
  return [programs.umount ?? "umount", targetPath(pool)];
}

function vgName(pool: PoolDef): string {
  if (pool.type !== "logical") {
    throw unsupported(`storage pool '${pool.name}' of type '${pool.type}' is not an LVM volume group`);
  }
  return pool.source.name ?? pool.name;
}

/** `vgchange -aly NAME` (activate) or `vgchange -aln NAME` for logical pools. */
export function logicalChangeCommand(pool: PoolDef, activate: boolean, programs: Programs = {}): Argv {
  return [programs.vgchange ?? "vgchange", activate ? "-aly" : "-aln", vgName(pool)];
}

/** The commands that start a pool (empty for pools that need none, e.g. dir). */
export function poolStartCommands(pool: PoolDef, programs: Programs = {}): Argv[] {
  if (pool.type === "fs" || pool.type === "netfs") return [poolMountCommand(pool, programs)];
  if (pool.type === "logical") return [logicalChangeCommand(pool, true, programs)];
  return [];
}

/** The commands that stop a pool. */
export function poolStopCommands(pool: PoolDef, programs: Programs = {}): Argv[] {
  if (pool.type === "fs" || pool.type === "netfs") return [poolUnmountCommand(pool, programs)];
  if (pool.type === "logical") return [logicalChangeCommand(pool, false, programs)];
  return [];
}

/**
 * `mkfs -t FORMAT [force] DEVICE` for an fs pool: mkfs.xfs needs `-f`, mkfs.ext2/3/4 `-F` and
 * mkfs.vfat `-I` to write over an existing file system.
 */
export function mkfsCommand(pool: PoolDef, programs: Programs = {}): Argv {
  if (pool.type !== "fs") throw unsupported(`storage pool '${pool.name}': mkfs is for fs pools only`);
  const fmt = pool.source.format ?? "auto";
  if (fmt === "auto") {
    throw unsupported(
      `storage pool '${pool.name}': building an fs pool needs a source format other than 'auto'`,
    );
  }
  const argv: Argv = [programs.mkfs ?? "mkfs", "-t", fmt];
  if (fmt === "xfs") argv.push("-f");
  else if (fmt === "ext2" || fmt === "ext3" || fmt === "ext4") argv.push("-F");
  else if (fmt === "vfat") argv.push("-I");
  argv.push(poolMountSource(pool));
  return argv;
}

/**
 * `parted DEVICE mklabel --script LABEL` for a disk pool: `dos` is parted's `msdos`, and a pool
 * of format `unknown` gets a dos label (as libvirt builds it).
 */
export function diskLabelCommand(pool: PoolDef, programs: Programs = {}): Argv {
  if (pool.type !== "disk") throw unsupported(`storage pool '${pool.name}': mklabel is for disk pools only`);
  const dev = pool.source.devices[0];
  if (!dev) throw unsupported(`storage pool '${pool.name}': missing source device`);
  const fmt = pool.source.format ?? "unknown";
  const label = fmt === "unknown" || fmt === "dos" ? "msdos" : fmt;
  return [programs.parted ?? "parted", dev.path, "mklabel", "--script", label];
}

/** `pvcreate DEV` for each source device, then `vgcreate NAME DEV...` for a logical pool. */
export function logicalBuildCommands(pool: PoolDef, programs: Programs = {}): Argv[] {
  const name = vgName(pool);
  const devs = pool.source.devices.map((d) => d.path);
  if (devs.length === 0)
    throw unsupported(`storage pool '${pool.name}': building a logical pool needs source devices`);
  return [
    ...devs.map((d) => [programs.pvcreate ?? "pvcreate", d]),
    [programs.vgcreate ?? "vgcreate", name, ...devs],
  ];
}

/** `vgremove -f NAME`, then `pvremove DEV` for each source device of a logical pool. */
export function logicalDeleteCommands(pool: PoolDef, programs: Programs = {}): Argv[] {
  const name = vgName(pool);
  return [
    [programs.vgremove ?? "vgremove", "-f", name],
    ...pool.source.devices.map((d) => [programs.pvremove ?? "pvremove", d.path]),
  ];
}

// ---------------------------------------------------------------------------------------------
// Volumes: qemu-img
// ---------------------------------------------------------------------------------------------

/**
 * Refuses what tvirt's storage driver does not create although the XML layer keeps it: volume
 * encryption. (The argv builders below still produce libvirt's commands for it, as its tests do.)
 */
export function checkVolumeCreatable(vol: VolumeDef, inputVol?: VolumeDef): void {
  for (const v of inputVol ? [vol, inputVol] : [vol]) {
    const enc = v.target.encryption;
    if (enc) throw new VirtError("STORAGE_VOL_ENCRYPTION_REFUSED", { volume: v.name, format: enc.format });
  }
}

export interface QemuImgRequest {
  pool: PoolDef;
  vol: VolumeDef;
  /** Create-from: the volume to copy and its pool. */
  inputPool?: PoolDef;
  inputVol?: VolumeDef;
  /** libvirt's VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA. */
  preallocMetadata?: boolean;
  /** File holding the new volume's secret (LUKS). */
  secretPath?: string;
  /** File holding the input volume's secret (LUKS). */
  inputSecretPath?: string;
  programs?: Programs;
}

/** What qemu-img is told about one image. */
interface ImgInfo {
  /** libvirt's file format after the raw rules (block and iso volumes are raw). */
  format: string;
  /** qemu-img's format name: `luks` for a LUKS-encrypted raw image. */
  driver: string;
  path: string;
  secretAlias?: string;
}

function imgInfo(vol: VolumeDef, what: string): ImgInfo {
  const path = vol.target.path;
  if (path === undefined) throw unsupported(`storage volume '${vol.name}': missing ${what} target path`);
  let format = vol.target.format ?? "raw";
  if (vol.type === "block" || format === "iso" || format === "none") format = "raw";
  const enc = vol.target.encryption;
  const info: ImgInfo = { format, driver: format, path };
  if (enc) {
    if (format === "raw") {
      if (enc.format !== "luks") {
        throw unsupported(`storage volume '${vol.name}': only luks encryption is supported for raw files`);
      }
      info.driver = "luks";
    } else if (format === "qcow2" || format === "qcow") {
      if (enc.format === "qcow" || enc.format === "default") {
        throw unsupported(`storage volume '${vol.name}': creation of qcow2 encrypted image is not supported`);
      }
      if (enc.format !== "luks" || format !== "qcow2") {
        throw unsupported(
          `storage volume '${vol.name}': volume encryption format '${enc.format}' unsupported with format ${format}`,
        );
      }
    } else {
      throw unsupported(`storage volume '${vol.name}': volume encryption unsupported with format ${format}`);
    }
    if (enc.secrets.length > 1) {
      throw unsupported(`storage volume '${vol.name}': too many secrets for luks encryption`);
    }
    if (enc.secrets.length === 0) {
      throw unsupported(`storage volume '${vol.name}': no secret provided for luks encryption`);
    }
    info.secretAlias = `${vol.name}_encrypt0`;
  }
  return info;
}

/** QEMU option values escape commas by doubling them. */
const esc = (v: string): string => v.replaceAll(",", ",,");

function secretObject(alias: string, file: string | undefined, vol: string): string {
  if (file === undefined) {
    throw new VirtError("BUG", {
      what: `qemu-img for encrypted volume '${vol}' was asked for without a secret file`,
    });
  }
  return `secret,id=${alias},file=${esc(file)}`;
}

/** The `-o` options of qemu-img create/convert, in libvirt's order. */
function createOptions(req: QemuImgRequest, out: ImgInfo, withBacking: boolean): string[] {
  const { vol } = req;
  const t = vol.target;
  const opts: string[] = [];
  const enc = t.encryption;
  if (withBacking && vol.backingStore) opts.push(`backing_fmt=${vol.backingStore.format ?? "raw"}`);
  if (enc && out.secretAlias !== undefined) {
    // LUKS options: bare on a raw (luks) image, under `encrypt.` on a qcow2 one.
    const p = out.format === "qcow2" ? "encrypt." : "";
    if (p) opts.push("encrypt.format=luks");
    opts.push(`${p}key-secret=${out.secretAlias}`);
    if (enc.cipher) {
      opts.push(`${p}cipher-alg=${esc(enc.cipher.name)}-${enc.cipher.size}`);
      if (enc.cipher.mode !== undefined) opts.push(`${p}cipher-mode=${esc(enc.cipher.mode)}`);
      if (enc.cipher.hash !== undefined) opts.push(`${p}hash-alg=${esc(enc.cipher.hash)}`);
      if (enc.ivgen) {
        opts.push(`${p}ivgen-alg=${esc(enc.ivgen.name)}`);
        if (enc.ivgen.hash !== undefined) opts.push(`${p}ivgen-hash-alg=${esc(enc.ivgen.hash)}`);
      }
    }
  }
  if (req.preallocMetadata) {
    // Metadata only when the allocation is below the capacity (both in KiB), else falloc.
    const kib = (n: bigint): bigint => (n + 1023n) / 1024n;
    opts.push(
      kib(vol.capacity ?? 0n) > kib(vol.allocation) ? "preallocation=metadata" : "preallocation=falloc",
    );
  }
  if (t.nocow) opts.push("nocow=on");
  const compat = t.compat ?? (out.format === "qcow2" ? "1.1" : undefined);
  if (compat !== undefined) opts.push(`compat=${compat}`);
  if (t.clusterSize !== undefined && t.clusterSize > 0n) opts.push(`cluster_size=${t.clusterSize}`);
  if (t.features && out.format === "qcow2") {
    for (const f of t.features) {
      if (compat === "0.10") {
        throw unsupported(`storage volume '${vol.name}': ${f} not supported with compat level ${compat}`);
      }
      opts.push(f === "lazy_refcounts" ? "lazy_refcounts" : `${f}=on`);
    }
  }
  return opts;
}

function checkBacking(req: QemuImgRequest, out: ImgInfo): void {
  const b = req.vol.backingStore;
  if (!b) return;
  if (out.format === "raw")
    throw unsupported(`storage volume '${req.vol.name}': cannot set backing store for raw volume`);
  if (req.preallocMetadata) {
    throw unsupported(
      `storage volume '${req.vol.name}': metadata preallocation conflicts with backing store`,
    );
  }
  const ib = req.inputVol?.backingStore;
  if (ib && ib.path !== b.path) {
    throw unsupported(
      `storage volume '${req.vol.name}': a different backing store than the input volume's cannot be specified`,
    );
  }
}

/** `driver=FMT,file.filename=PATH[,key-secret=|encrypt.key-secret=ALIAS]` for --image-opts. */
function imageOpts(info: ImgInfo): string {
  let s = `driver=${info.driver},file.filename=${esc(info.path)}`;
  if (info.secretAlias !== undefined) {
    s +=
      info.driver === "luks" ? `,key-secret=${info.secretAlias}` : `,encrypt.key-secret=${info.secretAlias}`;
  }
  return s;
}

/**
 * The qemu-img commands that create `vol` (libvirt's virStorageBackendCreateQemuImgCmdFromVol):
 * one `create` or `convert`, or, when encryption meets an input volume, a `create` of the new
 * image followed by a `convert -n` into it with --image-opts.
 */
export function qemuImgCommands(req: QemuImgRequest): Argv[] {
  const { vol, inputVol } = req;
  const tool = req.programs?.qemuImg ?? "qemu-img";
  const out = imgInfo(vol, "volume");
  const input = inputVol ? imgInfo(inputVol, "input volume") : undefined;
  if (inputVol?.target.encryption && inputVol.target.encryption.format !== "luks") {
    throw unsupported(`storage volume '${inputVol.name}': encryption format of inputvol must be LUKS`);
  }
  if (req.preallocMetadata && out.format !== "qcow2") {
    throw unsupported(`storage volume '${vol.name}': metadata preallocation only available with qcow2`);
  }
  if (vol.target.compat !== undefined && out.format !== "qcow2") {
    throw unsupported(`storage volume '${vol.name}': compatibility option only available with qcow2`);
  }
  if (vol.target.features !== undefined && out.format !== "qcow2") {
    throw unsupported(`storage volume '${vol.name}': format features only available with qcow2`);
  }
  checkBacking(req, out);
  const twoStep = input !== undefined && (out.secretAlias !== undefined || input.secretAlias !== undefined);

  const first: Argv = [tool];
  const convert = input !== undefined && !twoStep;
  // The backing store is left out when converting, including the create step of a two-step copy.
  const withBacking = !convert && !twoStep && vol.backingStore !== undefined;
  if (convert) first.push("convert", "-f", input.format, "-O", out.driver);
  else first.push("create", "-f", out.driver);
  if (withBacking && vol.backingStore) first.push("-b", vol.backingStore.path);
  if (out.secretAlias !== undefined)
    first.push("--object", secretObject(out.secretAlias, req.secretPath, vol.name));
  const opts = createOptions(req, out, withBacking);
  if (opts.length) first.push("-o", opts.join(","));
  if (convert) first.push(input.path);
  first.push(out.path);
  const sizeKiB = ((vol.capacity ?? 0n) + 1023n) / 1024n;
  if (!convert && (sizeKiB > 0n || !withBacking)) first.push(`${sizeKiB}K`);
  if (!twoStep) return [first];

  const second: Argv = [tool, "convert", "--image-opts", "-n", "--target-image-opts"];
  if (out.secretAlias !== undefined)
    second.push("--object", secretObject(out.secretAlias, req.secretPath, vol.name));
  if (input.secretAlias !== undefined && inputVol) {
    second.push("--object", secretObject(input.secretAlias, req.inputSecretPath, inputVol.name));
  }
  second.push(imageOpts(input), imageOpts(out));
  return [first, second];
}
