/**
 * A disk's backing chain in the domain definition and in QEMU: what an external snapshot does
 * to a disk (its source becomes the new overlay and the old source moves into `<backingStore>`)
 * and its inverse (a block commit or pull folds the top away). Shared by snapshots and block
 * jobs, so both leave the definition the way libvirt does.
 */
import type { DiskBackingStore, DiskDef, DomainDef } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import { actualDiskType, localDiskPath } from "../command/disk.ts";
import type { QmpClient } from "../monitor/index.ts";

/** The disk of `def` with target `dev` (or whose local source is the path `dev`). */
export function findDisk(def: DomainDef, dev: string): DiskDef | undefined {
  return (
    def.devices.disks.find((d) => d.target.dev === dev) ??
    def.devices.disks.find((d) => localDiskPath(d) === dev)
  );
}

/** The image format of a disk (`raw` when unset, as QEMU opens it). */
export function diskFormat(disk: DiskDef): string {
  const t = disk.driver?.type;
  return t === undefined || t === "" || t === "auto" ? "raw" : t;
}

/**
 * Puts `overlay` (a `format` image, a file) on top of the disk `dev` of `def`: the current source
 * becomes the first `<backingStore>`. Returns false when `def` has no such disk (a persistent
 * definition that no longer has it).
 */
export function pushDiskOverlay(def: DomainDef, dev: string, overlay: string, format = "qcow2"): boolean {
  const disk = def.devices.disks.find((d) => d.target.dev === dev);
  const path = disk ? localDiskPath(disk) : undefined;
  if (!disk || path === undefined) return false;
  const type = actualDiskType(disk) === "block" ? "block" : "file";
  const below: DiskBackingStore = {
    type,
    format: diskFormat(disk),
    source: type === "block" ? { dev: path } : { file: path },
  };
  if (disk.backingStore) below.backingStore = disk.backingStore;
  // a chain known to end below the disk now ends below its new first layer
  if (disk.backingStoreEnd === true) below.end = true;
  delete disk.backingStoreEnd;
  disk.type = "file";
  disk.source = {
    ...(disk.source?.startupPolicy ? { startupPolicy: disk.source.startupPolicy } : {}),
    file: overlay,
  };
  disk.driver = { ...disk.driver, name: disk.driver?.name ?? "qemu", type: format };
  disk.backingStore = below;
  return true;
}

/**
 * The inverse of `pushDiskOverlay`: the disk's source becomes its first `<backingStore>` (after
 * a commit into it or with `keep` layers below). Returns false without a backing store.
 */
export function popDiskOverlay(def: DomainDef, dev: string): boolean {
  const disk = def.devices.disks.find((d) => d.target.dev === dev);
  const below = disk?.backingStore;
  if (!disk || !below) return false;
  disk.type = below.type;
  disk.source = below.type === "block" ? { dev: below.source.dev ?? "" } : { file: below.source.file ?? "" };
  if (below.format !== undefined)
    disk.driver = { ...disk.driver, name: disk.driver?.name ?? "qemu", type: below.format };
  if (below.backingStore) disk.backingStore = below.backingStore;
  else {
    delete disk.backingStore;
    if (below.end === true) disk.backingStoreEnd = true;
  }
  return true;
}

export interface BlockNode {
  /** The device's qdev id / path (`query-block` `qdev`). */
  readonly qdev: string;
  /** Top node of the device. */
  readonly node: string;
  /** The top image's file name. */
  readonly file: string;
  /** Its format driver (`qcow2`, `raw`, `file` for a protocol node used directly). */
  readonly drv: string;
}

/** The top node of every device with a medium, from `query-block`. */
export async function blockNodes(qmp: QmpClient): Promise<BlockNode[]> {
  const list = (await qmp.execute("query-block")) as {
    qdev?: unknown;
    device?: unknown;
    inserted?: { "node-name"?: unknown; file?: unknown; drv?: unknown };
  }[];
  const out: BlockNode[] = [];
  for (const b of list) {
    const ins = b.inserted;
    if (!ins || typeof ins["node-name"] !== "string" || typeof ins.file !== "string") continue;
    out.push({
      qdev: typeof b.qdev === "string" ? b.qdev : typeof b.device === "string" ? b.device : "",
      node: ins["node-name"],
      file: ins.file,
      drv: typeof ins.drv === "string" ? ins.drv : "",
    });
  }
  return out;
}

/** The top node QEMU uses for the disk whose image is `path` (a running domain). */
export function nodeForPath(nodes: readonly BlockNode[], path: string, what: string): BlockNode {
  const n = nodes.find((x) => x.file === path);
  if (!n) {
    throw new VirtError("QEMU_SNAPSHOT_INVALID", {
      what: `${what}: QEMU has no block node with the image '${path}' (was the disk changed outside tvirt?)`,
    });
  }
  return n;
}

/** `qemu-img info` of an image (read with `-U`, so an image a running QEMU holds is readable). */
export async function imageInfo(path: string): Promise<{ format: string; virtualSize: number }> {
  const r = await runArgv(["qemu-img", "info", "-U", "--output=json", path]);
  if (r.code !== 0) {
    throw new VirtError("QEMU_SNAPSHOT_IMG_FAILED", {
      what: "reading the image",
      name: "-",
      path,
      reason: r.stderr.trim() || `qemu-img exited with ${String(r.code)}`,
    });
  }
  const j = JSON.parse(r.stdout) as { format?: string; "virtual-size"?: number };
  return { format: j.format ?? "raw", virtualSize: j["virtual-size"] ?? 0 };
}

/**
 * Creates a qcow2 overlay on `backing` (format `backingFormat`) without opening the backing image
 * (`-u`: a running QEMU holds its lock), sized as the backing image.
 */
export async function createOverlay(overlay: string, backing: string, backingFormat: string): Promise<void> {
  const { virtualSize } = await imageInfo(backing);
  const r = await runArgv([
    "qemu-img",
    "create",
    "-q",
    "-f",
    "qcow2",
    "-F",
    backingFormat,
    "-b",
    backing,
    "-u",
    overlay,
    String(virtualSize),
  ]);
  if (r.code !== 0) {
    throw new VirtError("QEMU_SNAPSHOT_IMG_FAILED", {
      what: "creating the overlay",
      name: "-",
      path: overlay,
      reason: r.stderr.trim() || `qemu-img exited with ${String(r.code)}`,
    });
  }
}
