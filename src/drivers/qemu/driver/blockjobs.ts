/**
 * Block jobs of running domains (libvirt's qemu_blockjob.c and the block job entry points of
 * qemu_driver.c): commit (inactive layers and the active one), pull, copy (blockdev-mirror to a
 * new or reused image), resize, job info, speed and abort/pivot, with the BLOCK_JOB and
 * BLOCK_JOB_2 events.
 *
 * tvirt's command line opens each disk as `-blockdev` storage and format nodes named
 * `libvirt-N-storage`/`libvirt-N-format` and leaves the backing chain to QEMU, which opens it
 * from the image headers with nodes of its own names; the chain and its node names are read
 * back from `query-block` and `query-named-block-nodes` when a job starts. Jobs run with
 * `auto-dismiss: false`: when QEMU reports the end (BLOCK_JOB_COMPLETED / _CANCELLED) the job is
 * dismissed (`job-dismiss`), the live definition follows the new chain (source after a pivot,
 * `<backingStore>`, `<mirror>` while a copy or active commit runs), the persistent definition
 * takes the new source after a pivot, and the events go out. Jobs live with the QEMU process:
 * they are not recovered after a daemon restart.
 */
import { existsSync, statSync, unlinkSync } from "node:fs";
import { parseXml } from "../../../conf/xml.ts";
import type { DiskBackingLayer, DiskBackingStore, DiskDef, DomainDef } from "../../../conf/domain/types.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { BlockJobInfo, TypedParameter } from "../../driver.ts";
import {
  DomainBlockCommitFlags as CommitF,
  DomainBlockCopyFlags as CopyF,
  DomainBlockJobAbortFlags as AbortF,
  DomainBlockJobStatus,
  DomainBlockJobType,
  DomainBlockPullFlags,
  DomainBlockRebaseFlags as RebaseF,
  DomainBlockResizeFlags,
  DomainEventId,
} from "../../enums.ts";
import type { QmpClient, QmpEvent } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";

/** One image of a running disk's chain, top first, with the node QEMU reads it through. */
interface Layer extends DiskBackingLayer {
  node: string;
  virtualSize: number;
}

interface Job {
  readonly id: string;
  readonly disk: DiskDef;
  readonly type: number;
  readonly chain: Layer[];
  ready: boolean;
  /** What the user asked at the end: pivot (block-job-complete) or cancel. */
  ending: "pivot" | "cancel" | undefined;
  /** Last figures QEMU reported (kept for the moment between its end and the dismissal). */
  cur: number;
  end: number;
  speed: number;
  readonly finished: Promise<void>;
  resolve: () => void;
  /** Applies the job's result to the definitions; `pivoted` when the disk moved to the new image. */
  apply(outcome: "completed" | "cancelled" | "failed"): Promise<void>;
  /** Nodes to close when the copy is abandoned. */
  cleanupNodes: string[];
}

/** Jobs of one QEMU process, by disk target. */
const runJobs = new WeakMap<QemuRun, Map<string, Job>>();

const LLONG_MAX = (1n << 63n) - 1n;

let jobCounter = 0;
/** QEMU job ids must be unique in the process and may not start with '#' (its own node names). */
function jobId(kind: string, dev: string): string {
  return `tvirt-${kind}-${dev}-${++jobCounter}`;
}

function live(obj: QemuDomainObj): { run: QemuRun; qmp: QmpClient } {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended || !run.qmp)
    throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return { run, qmp: run.qmp };
}

function jobsOf(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, qmp: QmpClient): Map<string, Job> {
  let m = runJobs.get(run);
  if (!m) {
    const jobs = new Map<string, Job>();
    m = jobs;
    runJobs.set(run, jobs);
    const unsub = qmp.onEvent((ev) => {
      onQmpEvent(drv, obj, qmp, jobs, ev);
    });
    run.store.add({ dispose: unsub });
    // QEMU gone: a caller waiting for a job's end (abort without ASYNC) must not wait forever
    run.store.add({
      dispose: () => {
        for (const j of jobs.values()) j.resolve();
        jobs.clear();
      },
    });
  }
  return m;
}

/** The disk a block job call names: by target (`vda`) or by its source path. */
function findDisk(def: DomainDef, name: string): DiskDef {
  const d =
    def.devices.disks.find((x) => x.target.dev === name) ??
    def.devices.disks.find((x) => name !== "" && (x.source?.file === name || x.source?.dev === name));
  if (!d) throw new VirtError("BLOCKJOB_DISK_NOT_FOUND", { disk: name });
  return d;
}

function sourcePath(d: DiskDef): string {
  return d.source?.file ?? d.source?.dev ?? "";
}

interface QueryBlockImage {
  filename: string;
  format: string;
  "virtual-size": number;
  "backing-image"?: QueryBlockImage;
}

/** The disk's chain in the running QEMU, top first. */
async function readChain(qmp: QmpClient, disk: DiskDef): Promise<Layer[]> {
  const alias = disk.alias ?? "";
  const blocks = (await qmp.execute("query-block")) as {
    qdev?: string;
    inserted?: { "node-name": string; image: QueryBlockImage };
  }[];
  const b = blocks.find(
    (x) => x.qdev === alias || (x.qdev ?? "").startsWith(`/machine/peripheral/${alias}/`),
  );
  if (!b?.inserted)
    throw new VirtError("BLOCKJOB_UNSUPPORTED", { what: `disk '${disk.target.dev}' has no medium in QEMU` });
  const nodes = (await qmp.execute("query-named-block-nodes", { flat: true })) as {
    "node-name": string;
    file: string;
    drv: string;
  }[];
  const protocol = new Set(["file", "host_device", "host_cdrom"]);
  const out: Layer[] = [];
  let img: QueryBlockImage | undefined = b.inserted.image;
  let node = b.inserted["node-name"];
  for (let depth = 0; img; depth++) {
    if (depth > 0) {
      const filename = img.filename;
      const n =
        nodes.find((x) => x.file === filename && !protocol.has(x.drv)) ??
        nodes.find((x) => x.file === filename);
      node = n?.["node-name"] ?? "";
    }
    const block = existsSync(img.filename) && statSync(img.filename).isBlockDevice();
    out.push({
      type: block ? "block" : "file",
      format: img.format,
      path: img.filename,
      node,
      virtualSize: img["virtual-size"],
    });
    img = img["backing-image"];
  }
  return out;
}

/** Keeps the live `<backingStore>` in step with what QEMU has open. */
function setChain(disk: DiskDef, chain: readonly Layer[]): void {
  let below: DiskBackingStore | undefined;
  for (const l of chain.slice(1).reverse()) {
    const layer: DiskBackingStore = {
      type: l.type,
      format: l.format,
      source: l.type === "block" ? { dev: l.path } : { file: l.path },
    };
    if (below) layer.backingStore = below;
    else layer.end = true;
    below = layer;
  }
  if (below) disk.backingStore = below;
  else delete disk.backingStore;
}

/** At start: each local disk's `<backingStore>` as QEMU opened it (best effort: never fails a start). */
export async function readBackingChains(qmp: QmpClient, def: DomainDef): Promise<void> {
  for (const disk of def.devices.disks) {
    if (disk.device !== "disk" || (disk.type !== "file" && disk.type !== "block") || !disk.source) continue;
    try {
      setChain(disk, await readChain(qmp, disk));
    } catch {
      // a disk QEMU does not show (empty) keeps no chain
    }
  }
}

function speedBytes(bandwidth: bigint, bytes: boolean): number {
  if (!bytes) {
    const max = LLONG_MAX >> 20n;
    if (bandwidth > max) throw new VirtError("BLOCKJOB_SPEED_OVERFLOW", { max: String(max + 1n) });
    return Number(bandwidth << 20n);
  }
  if (bandwidth > LLONG_MAX) throw new VirtError("BLOCKJOB_SPEED_OVERFLOW", { max: String(LLONG_MAX) });
  return Number(bandwidth);
}

function emit(drv: QemuDriver, obj: QemuDomainObj, job: Job, status: number): void {
  const ref = obj.ref();
  drv.events.emit(ref, { id: DomainEventId.BLOCK_JOB, disk: sourcePath(job.disk), type: job.type, status });
  drv.events.emit(ref, { id: DomainEventId.BLOCK_JOB_2, disk: job.disk.target.dev, type: job.type, status });
}

function onQmpEvent(
  drv: QemuDriver,
  obj: QemuDomainObj,
  qmp: QmpClient,
  jobs: Map<string, Job>,
  ev: QmpEvent,
): void {
  const device = typeof ev.data.device === "string" ? ev.data.device : undefined;
  const job = [...jobs.values()].find((j) => j.id === device);
  if (!job) return;
  const num = (k: string): number | undefined => (typeof ev.data[k] === "number" ? ev.data[k] : undefined);
  job.cur = num("offset") ?? job.cur;
  job.end = num("len") ?? job.end;
  switch (ev.event) {
    case "BLOCK_JOB_READY":
      job.ready = true;
      if (job.disk.mirror) job.disk.mirror.ready = "yes";
      drv.saveStatusLater(obj);
      emit(drv, obj, job, DomainBlockJobStatus.READY);
      return;
    case "BLOCK_JOB_COMPLETED":
    case "BLOCK_JOB_CANCELLED": {
      const failed = ev.event === "BLOCK_JOB_COMPLETED" && typeof ev.data.error === "string";
      const outcome = failed ? "failed" : ev.event === "BLOCK_JOB_CANCELLED" ? "cancelled" : "completed";
      void finish(drv, obj, qmp, jobs, job, outcome);
      return;
    }
    default:
      return;
  }
}

async function finish(
  drv: QemuDriver,
  obj: QemuDomainObj,
  qmp: QmpClient,
  jobs: Map<string, Job>,
  job: Job,
  outcome: "completed" | "cancelled" | "failed",
): Promise<void> {
  try {
    await qmp.execute("job-dismiss", { id: job.id });
  } catch {
    // already gone (QEMU exiting): nothing to dismiss
  }
  try {
    await job.apply(outcome);
  } finally {
    jobs.delete(job.disk.target.dev);
    delete job.disk.mirror;
    await drv.saveStatus(obj).catch(() => undefined);
    // libvirt reports an abort the user asked for as CANCELED even when QEMU completed the
    // mirror without pivoting (block-job-cancel of a ready job).
    const status =
      outcome === "failed"
        ? DomainBlockJobStatus.FAILED
        : job.ending === "cancel" || outcome === "cancelled"
          ? DomainBlockJobStatus.CANCELED
          : DomainBlockJobStatus.COMPLETED;
    emit(drv, obj, job, status);
    job.resolve();
  }
}

/** The persistent definition's disk that still names the image the live disk left. */
function persistentDisk(obj: QemuDomainObj, disk: DiskDef, oldPath: string): DiskDef | undefined {
  if (!obj.persistent) return undefined;
  const def = obj.persistentDef();
  if (def === obj.def) return undefined;
  const d = def.devices.disks.find((x) => x.target.dev === disk.target.dev);
  return d && sourcePath(d) === oldPath ? d : undefined;
}

/** Points a disk at a new image (after a pivot). */
function moveSource(d: DiskDef, to: DiskBackingLayer): void {
  d.type = to.type;
  d.source =
    to.type === "block"
      ? { ...d.source, dev: to.path, file: undefined }
      : { ...d.source, file: to.path, dev: undefined };
  if (d.source.file === undefined) delete d.source.file;
  if (d.source.dev === undefined) delete d.source.dev;
  d.driver = { ...d.driver, type: to.format };
}

/**
 * Closes a top node the command line or a copy added (`*-format`, then its `*-storage`); nodes
 * QEMU opened itself for a backing chain go with their parents. Best effort.
 */
async function closeTop(qmp: QmpClient, node: string): Promise<void> {
  await qmp.execute("blockdev-del", { "node-name": node }).catch(() => undefined);
  if (node.endsWith("-format"))
    await qmp
      .execute("blockdev-del", { "node-name": node.replace(/-format$/, "-storage") })
      .catch(() => undefined);
}

function newJob(
  id: string,
  disk: DiskDef,
  type: number,
  chain: Layer[],
  apply: Job["apply"],
  cleanupNodes: string[] = [],
): Job {
  let resolve!: () => void;
  const finished = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    id,
    disk,
    type,
    chain,
    ready: false,
    ending: undefined,
    cur: 0,
    end: 0,
    speed: 0,
    finished,
    resolve,
    apply,
    cleanupNodes,
  };
}

/** A prepared job and the QMP command that starts it. */
interface JobStart {
  job: Job;
  command: string;
  args: Record<string, unknown>;
  rollback?: () => Promise<void>;
}

async function startJob(
  drv: QemuDriver,
  obj: QemuDomainObj,
  api: string,
  diskName: string,
  start: (ctx: { qmp: QmpClient; disk: DiskDef; chain: Layer[] }) => Promise<JobStart> | JobStart,
): Promise<void> {
  const lock = await obj.job.acquire("modify", api);
  try {
    const { run, qmp } = live(obj);
    const disk = findDisk(obj.def, diskName);
    const jobs = jobsOf(drv, obj, run, qmp);
    if (jobs.has(disk.target.dev)) throw new VirtError("BLOCKJOB_ACTIVE", { disk: disk.target.dev });
    const chain = await readChain(qmp, disk);
    setChain(disk, chain);
    const { job, command, args, rollback } = await start({ qmp, disk, chain });
    // QEMU may finish a short job (and send its events) before it answers the command: the
    // job must be known before the command goes out
    jobs.set(disk.target.dev, job);
    try {
      await qmp.execute(command, args);
    } catch (e) {
      jobs.delete(disk.target.dev);
      await rollback?.();
      throw e;
    }
    await drv.saveStatus(obj);
  } finally {
    lock.release();
  }
}

function layerIndex(chain: readonly Layer[], name: string, disk: DiskDef, below: string): number {
  const i = chain.findIndex((l) => l.path === name);
  if (i < 0) throw new VirtError("BLOCKJOB_NOT_IN_CHAIN", { image: name, disk: below, dev: disk.target.dev });
  return i;
}

// --- commit ----------------------------------------------------------------------------------

export async function blockCommit(
  drv: QemuDriver,
  obj: QemuDomainObj,
  diskName: string,
  base: string | null,
  top: string | null,
  bandwidth: bigint,
  flags: number,
): Promise<void> {
  checkFlags(
    flags,
    CommitF.SHALLOW | CommitF.DELETE | CommitF.ACTIVE | CommitF.RELATIVE | CommitF.BANDWIDTH_BYTES,
    "qemuDomainBlockCommit",
  );
  const speed = speedBytes(bandwidth, (flags & CommitF.BANDWIDTH_BYTES) !== 0);
  await startJob(drv, obj, "virDomainBlockCommit", diskName, ({ qmp, disk, chain }) => {
    const dev = disk.target.dev;
    const topIdx = top ? layerIndex(chain, top, disk, sourcePath(disk)) : 0;
    const topLayer = chain[topIdx]!;
    if (topIdx + 1 >= chain.length)
      throw new VirtError("BLOCKJOB_BAD_ARG", {
        what: `top '${topLayer.path}' in chain for '${dev}' has no backing file`,
      });
    let baseIdx: number;
    if (base) {
      baseIdx = layerIndex(chain, base, disk, topLayer.path);
      if (baseIdx <= topIdx)
        throw new VirtError("BLOCKJOB_NOT_IN_CHAIN", { image: base, disk: topLayer.path, dev });
      if (flags & CommitF.SHALLOW && baseIdx !== topIdx + 1)
        throw new VirtError("BLOCKJOB_BAD_ARG", {
          what: `base '${base}' is not immediately below '${topLayer.path}' in chain for '${dev}'`,
        });
    } else baseIdx = flags & CommitF.SHALLOW ? topIdx + 1 : chain.length - 1;
    const active = topIdx === 0;
    if (active && !(flags & CommitF.ACTIVE))
      throw new VirtError("BLOCKJOB_BAD_ARG", {
        what: `commit of '${dev}' active layer requires active flag`,
      });
    if (!active && flags & CommitF.ACTIVE)
      throw new VirtError("BLOCKJOB_BAD_ARG", {
        what: `active commit requested but '${topLayer.path}' is not active`,
      });
    const baseLayer = chain[baseIdx]!;
    const id = jobId("commit", dev);
    const args: Record<string, unknown> = {
      "job-id": id,
      device: chain[0]!.node,
      "base-node": baseLayer.node,
      speed,
      "auto-dismiss": false,
    };
    if (!active) args["top-node"] = topLayer.node;
    const removed = chain.slice(topIdx, baseIdx);
    const job = newJob(
      id,
      disk,
      active ? DomainBlockJobType.ACTIVE_COMMIT : DomainBlockJobType.COMMIT,
      chain,
      async (outcome) => {
        if (outcome === "failed") return;
        if (active) {
          if (job.ending !== "pivot" || outcome !== "completed") return;
          const old = sourcePath(disk);
          moveSource(disk, baseLayer);
          setChain(disk, chain.slice(baseIdx));
          // the committed top still holds the base as its backing child: until it is closed the
          // base is no root node (a later copy of the disk needs one)
          await closeTop(qmp, chain[0]!.node);
          const pd = persistentDisk(obj, disk, old);
          if (pd) {
            moveSource(pd, baseLayer);
            await drv.saveConfig(obj);
          }
        } else if (outcome === "completed") {
          setChain(disk, [...chain.slice(0, topIdx), ...chain.slice(baseIdx)]);
        } else return;
        if (flags & CommitF.DELETE)
          for (const l of removed) {
            try {
              if (l.type === "file") unlinkSync(l.path);
            } catch {
              // libvirt only warns when a committed image cannot be removed
            }
          }
      },
    );
    if (active)
      disk.mirror = {
        type: baseLayer.type,
        format: baseLayer.format,
        path: baseLayer.path,
        job: "active-commit",
      };
    job.speed = speed;
    return {
      job,
      command: "block-commit",
      args,
      rollback: () => {
        delete disk.mirror;
        return Promise.resolve();
      },
    };
  });
}

// --- pull ------------------------------------------------------------------------------------

async function blockPullTo(
  drv: QemuDriver,
  obj: QemuDomainObj,
  api: string,
  diskName: string,
  base: string | null,
  speed: number,
): Promise<void> {
  await startJob(drv, obj, api, diskName, ({ disk, chain }) => {
    const dev = disk.target.dev;
    let baseIdx = chain.length;
    if (base) {
      baseIdx = layerIndex(chain, base, disk, sourcePath(disk));
      if (baseIdx === 0)
        throw new VirtError("BLOCKJOB_NOT_IN_CHAIN", { image: base, disk: sourcePath(disk), dev });
    }
    const baseLayer = chain[baseIdx];
    const id = jobId("pull", dev);
    const args: Record<string, unknown> = {
      "job-id": id,
      device: chain[0]!.node,
      speed,
      "auto-dismiss": false,
    };
    if (baseLayer) args["base-node"] = baseLayer.node;
    const job = newJob(id, disk, DomainBlockJobType.PULL, chain, (outcome) => {
      if (outcome === "completed") setChain(disk, [chain[0]!, ...chain.slice(baseIdx)]);
      return Promise.resolve();
    });
    job.speed = speed;
    return { job, command: "block-stream", args };
  });
}

export async function blockPull(
  drv: QemuDriver,
  obj: QemuDomainObj,
  diskName: string,
  bandwidth: bigint,
  flags: number,
): Promise<void> {
  checkFlags(flags, DomainBlockPullFlags.BANDWIDTH_BYTES, "qemuDomainBlockPull");
  const speed = speedBytes(bandwidth, (flags & DomainBlockPullFlags.BANDWIDTH_BYTES) !== 0);
  await blockPullTo(drv, obj, "virDomainBlockPull", diskName, null, speed);
}

// --- copy ------------------------------------------------------------------------------------

interface CopyDest {
  type: "file" | "block";
  path: string;
  format: string | undefined;
}

async function blockCopyTo(
  drv: QemuDriver,
  obj: QemuDomainObj,
  api: string,
  diskName: string,
  dest: CopyDest,
  speed: number,
  granularity: number | undefined,
  bufSize: number | undefined,
  shallow: boolean,
  reuse: boolean,
): Promise<void> {
  await startJob(drv, obj, api, diskName, async ({ qmp, disk, chain }) => {
    const dev = disk.target.dev;
    const top = chain[0]!;
    // libvirt: without a format the copy has the source's format
    const format = dest.format ?? top.format;
    const backing = shallow ? chain[1] : undefined;
    if (chain.some((l) => l.path === dest.path))
      throw new VirtError("BLOCKJOB_BAD_ARG", {
        what: `destination '${dest.path}' is part of the chain of disk '${dev}'`,
      });
    if (reuse) {
      if (!existsSync(dest.path))
        throw new VirtError("BLOCKJOB_UNSUPPORTED", {
          what: `missing destination file for disk ${dev}: ${dest.path}`,
        });
    } else if (dest.type === "file") {
      // libvirt creates the destination; qemu-img makes it the size (and backing) it needs
      const argv = ["qemu-img", "create", "-q", "-f", format];
      if (backing && format !== "raw") argv.push("-F", backing.format, "-b", backing.path);
      argv.push(dest.path);
      if (!backing || format === "raw") argv.push(String(top.virtualSize));
      const r = await runArgv(argv);
      if (r.code !== 0)
        throw new VirtError("BLOCKJOB_FAILED", {
          what: `cannot create copy destination '${dest.path}': ${r.stderr.trim()}`,
        });
    }
    // node names live as long as the process: a second copy of the disk needs new ones
    const n = ++jobCounter;
    const storage = `tvirt-copy${n}-storage`;
    const fmtNode = `tvirt-copy${n}-format`;
    await qmp.execute("blockdev-add", {
      driver: dest.type === "block" ? "host_device" : "file",
      filename: dest.path,
      "node-name": storage,
      "auto-read-only": true,
      discard: "unmap",
    });
    const fmtArgs: Record<string, unknown> = {
      driver: format,
      file: storage,
      "node-name": fmtNode,
      "read-only": false,
    };
    if (format !== "raw") fmtArgs.backing = backing ? backing.node : null;
    try {
      await qmp.execute("blockdev-add", fmtArgs);
    } catch (e) {
      await qmp.execute("blockdev-del", { "node-name": storage }).catch(() => undefined);
      throw e;
    }
    const id = jobId("copy", dev);
    const args: Record<string, unknown> = {
      "job-id": id,
      device: top.node,
      target: fmtNode,
      sync: shallow ? "top" : "full",
      speed,
      "auto-dismiss": false,
    };
    if (granularity) args.granularity = granularity;
    if (bufSize) args["buf-size"] = bufSize;
    const destLayer: DiskBackingLayer = { type: dest.type, format, path: dest.path };
    const oldNodes = [top.node];
    const job = newJob(
      id,
      disk,
      DomainBlockJobType.COPY,
      chain,
      async (outcome) => {
        if (job.ending === "pivot" && outcome === "completed") {
          const old = sourcePath(disk);
          moveSource(disk, destLayer);
          setChain(disk, [
            { ...destLayer, node: fmtNode, virtualSize: top.virtualSize },
            ...(backing ? chain.slice(1) : []),
          ]);
          const pd = persistentDisk(obj, disk, old);
          if (pd) {
            moveSource(pd, destLayer);
            await drv.saveConfig(obj);
          }
          // the old top is closed as libvirt does (its backing stays where the copy shares it)
          for (const n of oldNodes) await closeTop(qmp, n);
        } else {
          await qmp.execute("blockdev-del", { "node-name": fmtNode }).catch(() => undefined);
          await qmp.execute("blockdev-del", { "node-name": storage }).catch(() => undefined);
        }
      },
      [fmtNode, storage],
    );
    disk.mirror = { type: dest.type, format, path: dest.path, job: "copy" };
    job.speed = speed;
    return {
      job,
      command: "blockdev-mirror",
      args,
      rollback: async () => {
        delete disk.mirror;
        await qmp.execute("blockdev-del", { "node-name": fmtNode }).catch(() => undefined);
        await qmp.execute("blockdev-del", { "node-name": storage }).catch(() => undefined);
      },
    };
  });
}

export async function blockRebase(
  drv: QemuDriver,
  obj: QemuDomainObj,
  diskName: string,
  base: string | null,
  bandwidth: bigint,
  flags: number,
): Promise<void> {
  checkFlags(
    flags,
    RebaseF.SHALLOW |
      RebaseF.REUSE_EXT |
      RebaseF.COPY_RAW |
      RebaseF.COPY |
      RebaseF.RELATIVE |
      RebaseF.COPY_DEV |
      RebaseF.BANDWIDTH_BYTES,
    "qemuDomainBlockRebase",
  );
  const speed = speedBytes(bandwidth, (flags & RebaseF.BANDWIDTH_BYTES) !== 0);
  if (flags & RebaseF.COPY) {
    if (!base) throw new VirtError("BLOCKJOB_BAD_ARG", { what: "block copy needs a destination (base)" });
    const dest: CopyDest = {
      type: flags & RebaseF.COPY_DEV ? "block" : "file",
      path: base,
      format: flags & RebaseF.COPY_RAW ? "raw" : undefined,
    };
    await blockCopyTo(
      drv,
      obj,
      "virDomainBlockRebase",
      diskName,
      dest,
      speed,
      undefined,
      undefined,
      (flags & RebaseF.SHALLOW) !== 0,
      (flags & RebaseF.REUSE_EXT) !== 0,
    );
    return;
  }
  if (flags & (RebaseF.SHALLOW | RebaseF.REUSE_EXT | RebaseF.COPY_RAW | RebaseF.COPY_DEV))
    throw new VirtError("BLOCKJOB_BAD_ARG", {
      what: "flags SHALLOW, REUSE_EXT, COPY_RAW and COPY_DEV are only valid with COPY",
    });
  await blockPullTo(drv, obj, "virDomainBlockRebase", diskName, base, speed);
}

function parseDest(xml: string): CopyDest {
  const root = parseXml(xml, "(destination_definition)");
  if (root.name !== "disk")
    throw new VirtError("BLOCKJOB_BAD_ARG", {
      what: `the copy destination must be a <disk> element, not <${root.name}>`,
    });
  const type = root.attr("type") ?? "file";
  if (type !== "file" && type !== "block")
    throw new VirtError("BLOCKJOB_UNSUPPORTED", {
      what: `copy destination of type '${type}' is not supported (file and block are)`,
    });
  const src = root.child("source");
  const path = type === "block" ? src?.attr("dev") : src?.attr("file");
  if (!path)
    throw new VirtError("BLOCKJOB_BAD_ARG", {
      what: `the copy destination <disk type='${type}'> needs <source ${type === "block" ? "dev" : "file"}='...'/>`,
    });
  return { type, path, format: root.child("driver")?.attr("type") ?? root.child("format")?.attr("type") };
}

export async function blockCopy(
  drv: QemuDriver,
  obj: QemuDomainObj,
  diskName: string,
  destxml: string,
  params: TypedParameter[],
  flags: number,
): Promise<void> {
  checkFlags(
    flags,
    CopyF.SHALLOW | CopyF.REUSE_EXT | CopyF.TRANSIENT_JOB | CopyF.SYNCHRONOUS_WRITES,
    "qemuDomainBlockCopy",
  );
  let speed = 0;
  let granularity: number | undefined;
  let bufSize: number | undefined;
  for (const p of params) {
    const v = p.value.value;
    const n = typeof v === "bigint" ? v : typeof v === "number" ? BigInt(v) : undefined;
    if (n === undefined)
      throw new VirtError("BLOCKJOB_BAD_ARG", { what: `parameter '${p.field}' must be a number` });
    if (p.field === "bandwidth") speed = speedBytes(n, true);
    else if (p.field === "granularity") granularity = Number(n);
    else if (p.field === "buf-size") bufSize = Number(n);
    else
      throw new VirtError("BLOCKJOB_BAD_ARG", {
        what: `unknown block copy parameter '${p.field}' (bandwidth, granularity and buf-size are known)`,
      });
  }
  if (
    granularity !== undefined &&
    (granularity < 512 || granularity > 64 << 20 || (granularity & (granularity - 1)) !== 0)
  )
    throw new VirtError("BLOCKJOB_BAD_ARG", {
      what: "granularity must be power of 2 between 512 and 64 MiB",
    });
  const dest = parseDest(destxml);
  await blockCopyTo(
    drv,
    obj,
    "virDomainBlockCopy",
    diskName,
    dest,
    speed,
    granularity,
    bufSize,
    (flags & CopyF.SHALLOW) !== 0,
    (flags & CopyF.REUSE_EXT) !== 0,
  );
}

// --- info, speed, abort ---------------------------------------------------------------------

function jobOf(
  obj: QemuDomainObj,
  diskName: string,
): { disk: DiskDef; job: Job | undefined; qmp: QmpClient } {
  const { run, qmp } = live(obj);
  const disk = findDisk(obj.def, diskName);
  return { disk, job: runJobs.get(run)?.get(disk.target.dev), qmp };
}

export async function getBlockJobInfo(
  obj: QemuDomainObj,
  diskName: string,
  flags: number,
): Promise<BlockJobInfo | null> {
  checkFlags(flags, 1, "qemuDomainGetBlockJobInfo");
  const { job, qmp } = jobOf(obj, diskName);
  if (!job) return null;
  const list = (await qmp.execute("query-block-jobs")) as {
    device: string;
    len: number;
    offset: number;
    speed: number;
    ready: boolean;
  }[];
  const q = list.find((x) => x.device === job.id);
  if (q) {
    job.cur = q.offset;
    job.end = q.len;
    job.speed = q.speed;
    job.ready = job.ready || q.ready;
  }
  let cur = BigInt(job.cur);
  let end = BigInt(job.end);
  // libvirt's qemuBlockJobInfoTranslate: a job that has not started reports 0/1 (1/1 once
  // ready), and one that is not ready never reports cur == end (callers poll for that).
  if (cur === 0n && end === 0n) {
    end = 1n;
    if (job.ready) cur = 1n;
  }
  if (!job.ready && cur === end && cur > 0n) cur -= 1n;
  if (job.ready) cur = end;
  const speed = BigInt(job.speed);
  const bandwidth = flags & 1 ? speed : (speed + (1n << 20n) - 1n) >> 20n;
  return { type: job.type, bandwidth, cur, end };
}

export async function blockJobSetSpeed(
  obj: QemuDomainObj,
  diskName: string,
  bandwidth: bigint,
  flags: number,
): Promise<void> {
  checkFlags(flags, 1, "qemuDomainBlockJobSetSpeed");
  const speed = speedBytes(bandwidth, (flags & 1) !== 0);
  const { disk, job, qmp } = jobOf(obj, diskName);
  if (!job) throw new VirtError("BLOCKJOB_NONE", { disk: disk.target.dev });
  await qmp.execute("block-job-set-speed", { device: job.id, speed });
  job.speed = speed;
}

export async function blockJobAbort(
  drv: QemuDriver,
  obj: QemuDomainObj,
  diskName: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, AbortF.ASYNC | AbortF.PIVOT, "qemuDomainBlockJobAbort");
  const lock = await obj.job.acquire("modify", "virDomainBlockJobAbort");
  let job: Job | undefined;
  try {
    const found = jobOf(obj, diskName);
    job = found.job;
    const dev = found.disk.target.dev;
    if (!job || job.ending) throw new VirtError("BLOCKJOB_NONE", { disk: dev });
    if (flags & AbortF.PIVOT) {
      if (job.type !== DomainBlockJobType.COPY && job.type !== DomainBlockJobType.ACTIVE_COMMIT)
        throw new VirtError("BLOCKJOB_PIVOT_TYPE", { disk: dev });
      if (!job.ready) throw new VirtError("BLOCKJOB_NOT_READY", { disk: dev });
      job.ending = "pivot";
      if (job.disk.mirror) job.disk.mirror.ready = "pivot";
      await found.qmp.execute("block-job-complete", { device: job.id });
    } else {
      job.ending = "cancel";
      if (job.disk.mirror) job.disk.mirror.ready = "abort";
      await found.qmp.execute("block-job-cancel", { device: job.id, force: false });
    }
    drv.saveStatusLater(obj);
  } catch (e) {
    if (job && job.ending !== undefined && e instanceof VirtError && e.code !== "BLOCKJOB_NONE")
      job.ending = undefined;
    throw e;
  } finally {
    lock.release();
  }
  if (!(flags & AbortF.ASYNC)) await job.finished;
}

// --- resize ----------------------------------------------------------------------------------

export async function blockResize(
  obj: QemuDomainObj,
  diskName: string,
  size: bigint,
  flags: number,
): Promise<void> {
  // CAPACITY came with libvirt 10.0; virsh 9.0 never sends it
  checkFlags(flags, DomainBlockResizeFlags.BYTES, "qemuDomainBlockResize");
  let bytes = size;
  if (!(flags & DomainBlockResizeFlags.BYTES)) {
    if (size > LLONG_MAX / 1024n)
      throw new VirtError("BLOCKJOB_SPEED_OVERFLOW", { max: String(LLONG_MAX / 1024n) });
    bytes = size * 1024n;
  }
  const lock = await obj.job.acquire("modify", "virDomainBlockResize");
  try {
    const { qmp } = live(obj);
    const disk = findDisk(obj.def, diskName);
    const chain = await readChain(qmp, disk);
    const top = chain[0]!;
    // libvirt rounds qcow2 sizes up to a whole sector
    if (top.format === "qcow2" || top.format === "qed") bytes = (bytes + 511n) & ~511n;
    await qmp.execute("block_resize", { "node-name": top.node, size: Number(bytes) });
  } finally {
    lock.release();
  }
}
