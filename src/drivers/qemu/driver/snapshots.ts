/**
 * Snapshots of the QEMU driver (libvirt's qemu_snapshot.c): metadata per domain in
 * `<libDir>/snapshot/<domain>/<snap>.xml` (atomic writes, the current one marked, parent links;
 * read back by a restarted daemon on first use), and the data:
 *
 * - internal snapshots of a running guest through QEMU's `snapshot-save` / `snapshot-load` /
 *   `snapshot-delete` jobs (QEMU ≥ 6.0; the memory state goes into the first qcow2 disk, as
 *   libvirt 11 does), of a shut-off guest through `qemu-img snapshot -c/-a/-d`;
 * - external disk-only snapshots: a new qcow2 overlay per disk (made with `qemu-img create -u`,
 *   so a running QEMU's lock on the backing image does not matter), put on top with
 *   `blockdev-add` + `blockdev-snapshot` in one `transaction`; the definition's disk source
 *   becomes the overlay with the old source as its `<backingStore>` (`disk-chain.ts`);
 * - external snapshots with memory (`--memspec`): the guest's state migrated into a save image
 *   as `virsh save` does (while the CPUs are stopped), then the disk overlays.
 *
 * Reverting puts back the state the snapshot recorded (running, paused or shut off; `--running`,
 * `--paused` override), with libvirt's events. Deleting removes the internal snapshot from the
 * images; `--children`, `--children-only`, `--metadata` as libvirt.
 */
import { existsSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { formatDomainXML, type DiskDef, type DomainDef } from "../../../conf/domain/index.ts";
import { formatSnapshotXML, parseSnapshotXML } from "../../../conf/snapshot/xml.ts";
import type { SnapshotDef, SnapshotDiskDef } from "../../../conf/snapshot/types.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import { validateAgainstSchema } from "../../../host/xml-schema.ts";
import {
  DomainEventDefinedDetail,
  DomainEventStartedDetail,
  DomainEventStoppedDetail,
  DomainEventSuspendedDetail,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainSnapshotCreateFlags as C,
  DomainSnapshotDeleteFlags as D,
  DomainSnapshotRevertFlags as R,
  DomainState,
  DomainUndefineFlags,
  DomainXMLFlags,
} from "../../enums.ts";
import { SnapshotList, snapshotLocation, snapshotStateName } from "../../snapshot-list.ts";
import { isEmptyDisk, localDiskPath } from "../command/disk.ts";
import type { QmpClient } from "../monitor/index.ts";
import {
  blockNodes,
  createOverlay,
  diskFormat,
  findDisk,
  imageInfo,
  nodeForPath,
  pushDiskOverlay,
  type BlockNode,
} from "./disk-chain.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { startProcess, stopProcess } from "./process.ts";
import { dacLabel, resolveRunAs } from "./dac.ts";
import { saveToImage } from "./save.ts";

// ---------------------------------------------------------------------------------------------
// metadata
// ---------------------------------------------------------------------------------------------

const lists = new WeakMap<QemuDriver, Map<string, Promise<SnapshotList>>>();

/** Where a domain's snapshot metadata lives. */
export function snapshotDir(drv: QemuDriver, name: string): string {
  return join(drv.paths.libDir, "snapshot", name);
}

/** The snapshot list of a domain, read from its directory on first use. */
export function snapshotsOf(drv: QemuDriver, obj: QemuDomainObj): Promise<SnapshotList> {
  let m = lists.get(drv);
  if (!m) {
    m = new Map();
    lists.set(drv, m);
  }
  let p = m.get(obj.uuid);
  if (!p) {
    const list = new SnapshotList(snapshotDir(drv, obj.name));
    p = list.load().then(() => list);
    // a failed read is tried again next time
    p.catch(() => m.delete(obj.uuid));
    m.set(obj.uuid, p);
  }
  return p;
}

/**
 * A domain that is gone (a transient one stopped, an undefined one): its snapshot metadata goes
 * with it, as libvirt's qemuDomainRemoveInactive does, so a later domain of that name starts
 * with none.
 */
export async function forgetSnapshots(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  lists.get(drv)?.delete(obj.uuid);
  await rm(snapshotDir(drv, obj.name), { recursive: true, force: true });
}

/** Whether a domain has snapshot metadata (list filters: read from its directory, synchronously). */
export function hasSnapshotMetadata(drv: QemuDriver, obj: QemuDomainObj): boolean {
  try {
    return readdirSync(snapshotDir(drv, obj.name)).some((f) => f.endsWith(".xml"));
  } catch {
    return false;
  }
}

/**
 * libvirt's undefine rule: an inactive domain with snapshot metadata is undefined only with
 * `SNAPSHOTS_METADATA`, which drops the metadata (the images keep their internal snapshots).
 */
export async function undefineSnapshots(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  const list = await snapshotsOf(drv, obj);
  if (list.size === 0) return;
  if (!(flags & DomainUndefineFlags.SNAPSHOTS_METADATA)) {
    if (!obj.isActive()) throw new VirtError("SNAPSHOT_UNDEFINE_HAS_SNAPSHOTS", { count: list.size });
    return;
  }
  await list.clear();
  lists.get(drv)?.delete(obj.uuid);
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** The state now (after an await, TypeScript's narrowing of `obj.state` no longer holds). */
function stateOf(obj: QemuDomainObj): DomainState {
  return obj.state;
}

async function withJob<T>(obj: QemuDomainObj, api: string, fn: () => Promise<T>): Promise<T> {
  const job = await obj.job.acquire("modify", api);
  try {
    return await fn();
  } finally {
    job.release();
  }
}

function liveRun(obj: QemuDomainObj): { run: QemuRun; qmp: QmpClient } | undefined {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended) return undefined;
  if (!run.qmp) throw new VirtError("QEMU_MONITOR_UNAVAILABLE", { name: obj.name, operation: "snapshot" });
  return { run, qmp: run.qmp };
}

let jobCounter = 0;

/** Runs a QMP snapshot job to its end (`query-jobs` until concluded), then dismisses it. */
async function runSnapshotJob(
  qmp: QmpClient,
  cmd: "snapshot-save" | "snapshot-load" | "snapshot-delete",
  args: Record<string, unknown>,
  names: { name: string; domain: string },
): Promise<void> {
  const id = `${cmd}-${process.pid}-${++jobCounter}`;
  const fail = (reason: string): VirtError =>
    new VirtError("QEMU_SNAPSHOT_JOB_FAILED", { job: cmd, ...names, reason });
  await qmp.execute(cmd, { "job-id": id, ...args });
  let delay = 10;
  for (;;) {
    const jobs = (await qmp.execute("query-jobs")) as { id?: unknown; status?: unknown; error?: unknown }[];
    const job = jobs.find((j) => j.id === id);
    if (!job) throw fail("the job disappeared");
    if (job.status === "concluded" || job.status === "null") {
      await qmp.execute("job-dismiss", { id }).catch(() => undefined);
      if (typeof job.error === "string") throw fail(job.error);
      return;
    }
    await new Promise<void>((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** `qemu-img snapshot -c|-a|-d NAME PATH` on a shut-off guest's image. */
async function qemuImgSnapshot(op: "-c" | "-a" | "-d", name: string, path: string): Promise<void> {
  const r = await runArgv(["qemu-img", "snapshot", op, name, path]);
  if (r.code !== 0) {
    const what = op === "-c" ? "creating" : op === "-a" ? "applying" : "deleting";
    throw new VirtError("QEMU_SNAPSHOT_IMG_FAILED", {
      what: `${what} the internal snapshot`,
      name,
      path,
      reason: r.stderr.trim() || `qemu-img exited with ${String(r.code)}`,
    });
  }
}

/** libvirt's default external file name: the source's suffix replaced by the snapshot's name. */
function defaultOverlayName(path: string, snap: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  return dot > slash ? `${path.slice(0, dot)}.${snap}` : `${path}.${snap}`;
}

interface DiskPlan {
  readonly disk: DiskDef;
  readonly path: string;
  readonly loc: "internal" | "external";
  /** external: the new overlay */
  readonly overlay?: string;
}

/**
 * libvirt's virDomainSnapshotAlignDisks and the QEMU checks: every disk of the domain gets a
 * location (the request's, the disk's own `snapshot=`, external for disk-only or external
 * memory, else internal; read-only and empty disks none), internal ones must be qcow2, external
 * ones get their overlay's name. Fills `def.disks` as libvirt records them.
 */
function planDisks(def: SnapshotDef, dom: DomainDef, external: boolean, reuse: boolean): DiskPlan[] {
  const requested = new Map<DiskDef, SnapshotDiskDef>();
  for (const d of def.disks ?? []) {
    const disk = findDisk(dom, d.name);
    if (!disk) throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: `no disk named '${d.name}'` });
    if (requested.has(disk))
      throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: `disk '${disk.target.dev}' specified twice` });
    requested.set(disk, d);
  }
  const plans: DiskPlan[] = [];
  const recorded: SnapshotDiskDef[] = [];
  for (const disk of dom.devices.disks) {
    const req = requested.get(disk);
    const fixedNo =
      disk.readonly === true || disk.device === "cdrom" || disk.device === "floppy" || isEmptyDisk(disk);
    let loc = req?.snapshot ?? (disk.snapshot as SnapshotDiskDef["snapshot"] | undefined);
    if (loc === undefined || loc === "default") loc = fixedNo ? "no" : external ? "external" : "internal";
    const dev = disk.target.dev;
    if (loc === "no" || loc === "manual") {
      recorded.push({ name: dev, snapshot: loc });
      continue;
    }
    const path = localDiskPath(disk);
    if (path === undefined) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: `snapshots are not supported for disk '${dev}' of type '${disk.type}'`,
      });
    }
    if (loc === "internal") {
      const fmt = diskFormat(disk);
      if (fmt !== "qcow2") {
        throw new VirtError("SNAPSHOT_UNSUPPORTED", {
          what: `internal snapshot for disk ${dev} unsupported for storage type ${fmt}`,
        });
      }
      plans.push({ disk, path, loc });
      recorded.push({ name: dev, snapshot: "internal" });
      continue;
    }
    const drvType = req?.driverType ?? "qcow2";
    if (drvType !== "qcow2") {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: `external snapshot format for disk ${dev} is unsupported: ${drvType}`,
      });
    }
    const overlay = resolve(req?.sourceFile ?? defaultOverlayName(path, def.name));
    if (!reuse && existsSync(overlay)) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: `external snapshot file for disk ${dev} already exists and is not a block device: ${overlay}`,
      });
    }
    if (reuse && !existsSync(overlay)) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: `missing existing file for disk ${dev}: ${overlay}`,
      });
    }
    plans.push({ disk, path, loc: "external", overlay });
    recorded.push({ name: dev, snapshot: "external", driverType: "qcow2", sourceFile: overlay });
  }
  const kinds = new Set(plans.map((p) => p.loc));
  if (kinds.size > 1) {
    throw new VirtError("SNAPSHOT_UNSUPPORTED", {
      what: "mixing internal and external targets for a snapshot is not yet supported",
    });
  }
  def.disks = recorded;
  return plans;
}

function vmstateArgs(plans: readonly DiskPlan[], nodes: readonly BlockNode[], what: string) {
  const devices = plans.map((p) => nodeForPath(nodes, p.path, what).node);
  return { vmstate: devices[0], devices };
}

/** Pauses a running guest for a snapshot (reason `snapshot`), as libvirt does. */
async function pauseFor(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, qmp: QmpClient, reason: number) {
  if (obj.state !== DomainState.RUNNING) return false;
  run.pausedReason = reason;
  await qmp.execute("stop");
  // the STOP event may have done it already (operations.ts's stateOf, same reason)
  if (stateOf(obj) === DomainState.RUNNING) {
    run.pausedReason = undefined;
    obj.setState(DomainState.PAUSED, reason);
    drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED);
  }
  return true;
}

async function resumeAfter(obj: QemuDomainObj, run: QemuRun, qmp: QmpClient, reason: number): Promise<void> {
  run.runningReason = reason;
  await qmp.execute("cont");
  if (stateOf(obj) !== DomainState.RUNNING && obj.run === run) obj.setState(DomainState.RUNNING, reason);
}

/** Stops QEMU for a snapshot (HALT, or a revert to an inactive snapshot). */
async function stopForSnapshot(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun): Promise<void> {
  run.stopping ??= {
    reason: DomainShutoffReason.FROM_SNAPSHOT,
    detail: DomainEventStoppedDetail.FROM_SNAPSHOT,
  };
  await stopProcess(drv, obj, run, DomainShutoffReason.FROM_SNAPSHOT, "snapshot");
  drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT);
}

/** Updates the disks of the live and persistent definitions after external overlays. */
async function applyOverlays(drv: QemuDriver, obj: QemuDomainObj, plans: readonly DiskPlan[]): Promise<void> {
  for (const p of plans) {
    if (p.loc !== "external" || p.overlay === undefined) continue;
    const dev = p.disk.target.dev;
    pushDiskOverlay(obj.def, dev, p.overlay);
    // the persistent definition follows where its disk is still the same image
    const pers = obj.newDef;
    if (pers) {
      const pd = pers.devices.disks.find((d) => d.target.dev === dev);
      if (pd && localDiskPath(pd) === p.path) pushDiskOverlay(pers, dev, p.overlay);
    }
  }
  if (obj.isActive()) await drv.saveStatus(obj);
  if (obj.persistent) await drv.saveConfig(obj);
}

/** The DAC handover for new files of a running guest, where QEMU runs as another user. */
function dacOf(drv: QemuDriver, obj: QemuDomainObj) {
  const runAs = drv.options.runAs;
  return runAs !== undefined && drv.options.dynamicOwnership ? { drv, obj, runAs } : undefined;
}

/** Creates the overlays and, for a running guest, puts them on top in one transaction. */
async function externalDisks(
  live: { qmp: QmpClient } | undefined,
  plans: readonly DiskPlan[],
  reuse: boolean,
  snap: string,
  dac?: { drv: QemuDriver; obj: QemuDomainObj; runAs: NonNullable<QemuDriver["options"]["runAs"]> },
): Promise<void> {
  const made: string[] = [];
  const added: string[] = [];
  try {
    for (const p of plans) {
      if (!reuse) {
        await createOverlay(p.overlay!, p.path, (await imageInfo(p.path)).format);
        made.push(p.overlay!);
      }
    }
    if (!live) return;
    // QEMU running as another user (system instance) opens the overlays as that user
    if (dac) {
      await dacLabel(
        dac.drv.paths.stateDir,
        dac.obj.name,
        resolveRunAs(dac.runAs),
        plans.map((p) => ({ path: p.overlay! })),
        [],
        [],
      );
    }
    const nodes = await blockNodes(live.qmp);
    const actions: unknown[] = [];
    for (const [i, p] of plans.entries()) {
      const top = nodeForPath(nodes, p.path, `external snapshot '${snap}' of disk ${p.disk.target.dev}`);
      const node = `tvirt-snap-${process.pid}-${++jobCounter}-${i}`;
      await live.qmp.execute("blockdev-add", {
        driver: "qcow2",
        "node-name": node,
        file: { driver: "file", filename: p.overlay, "node-name": `${node}-storage` },
        backing: null,
      });
      added.push(node);
      actions.push({ type: "blockdev-snapshot", data: { node: top.node, overlay: node } });
    }
    await live.qmp.execute("transaction", { actions });
    added.length = 0;
    made.length = 0;
  } finally {
    for (const n of added) await live?.qmp.execute("blockdev-del", { "node-name": n }).catch(() => undefined);
    for (const f of made) await runArgv(["rm", "-f", "--", f]).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------------------------

const CREATE_FLAGS =
  C.REDEFINE |
  C.CURRENT |
  C.NO_METADATA |
  C.HALT |
  C.DISK_ONLY |
  C.REUSE_EXT |
  C.ATOMIC |
  C.LIVE |
  C.VALIDATE;

export async function snapshotCreate(
  drv: QemuDriver,
  obj: QemuDomainObj,
  xml: string,
  flags: number,
): Promise<string> {
  checkFlags(flags, CREATE_FLAGS, "qemuDomainSnapshotCreateXML");
  const redefine = (flags & C.REDEFINE) !== 0;
  if (flags & C.CURRENT && !redefine)
    throw new VirtError("API_INVALID_ARG", { what: "current flag requires redefine flag" });
  if (redefine && flags & (C.HALT | C.DISK_ONLY | C.NO_METADATA | C.REUSE_EXT)) {
    throw new VirtError("API_INVALID_ARG", {
      what: "redefine flag cannot be combined with halt, disk-only, no-metadata or reuse-external",
    });
  }
  if (flags & C.VALIDATE) {
    await validateAgainstSchema(xml, "domainsnapshot", { document: "(domain_snapshot)" });
  }
  const def = parseSnapshotXML(xml, { redefine });
  return withJob(obj, "virDomainSnapshotCreateXML", async () => {
    if (obj.removed) throw new VirtError("QEMU_NO_DOMAIN_HANDLE", { uuid: obj.uuid, name: obj.name });
    const list = await snapshotsOf(drv, obj);
    const now = Math.floor(Date.now() / 1000);
    if (redefine) return redefineSnapshot(obj, list, def, flags, now);
    if (!obj.persistent && flags & C.HALT) {
      throw new VirtError("QEMU_SNAPSHOT_INVALID", {
        what: "transient domain needs to remain running after a snapshot with the halt flag",
      });
    }
    def.creationTime = now;
    if (def.name === "") def.name = String(now);
    if (list.has(def.name)) throw new VirtError("SNAPSHOT_EXISTS", { name: def.name });
    const live = liveRun(obj);
    const diskOnly = (flags & C.DISK_ONLY) !== 0;
    if (obj.state === DomainState.PMSUSPENDED)
      throw new VirtError("QEMU_SNAPSHOT_INVALID", {
        what: "qemu doesn't support taking snapshots of PMSUSPENDED guests",
      });
    // the memory: internal for a running guest, external with --memspec, none otherwise
    if (def.memory?.snapshot === "external" && def.memory.file === undefined)
      throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: "memory snapshot file path must be provided" });
    if (def.memory && def.memory.snapshot !== "no" && (!live || diskOnly)) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: "memory state cannot be saved with offline or disk-only snapshot",
      });
    }
    def.memory ??= { snapshot: live && !diskOnly ? "internal" : "no" };
    if (def.memory.snapshot === "default") def.memory.snapshot = live && !diskOnly ? "internal" : "no";
    const memExternal = def.memory.snapshot === "external";
    const plans = planDisks(def, obj.def, diskOnly || memExternal, (flags & C.REUSE_EXT) !== 0);
    const external = plans.some((p) => p.loc === "external");
    if (def.memory.snapshot === "internal" && external) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: "mixing internal and external targets for a snapshot is not yet supported",
      });
    }
    if (diskOnly && plans.length > 0 && !external) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: "disk-only snapshots of a domain need external disk targets",
      });
    }
    if (def.memory.snapshot === "internal" && plans.length === 0) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: `internal snapshot of running domain '${obj.name}' needs a qcow2 disk to hold its memory state`,
      });
    }
    if (plans.length === 0 && def.memory.snapshot === "no") {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: "nothing selected for snapshot",
      });
    }
    def.state = live && diskOnly ? "disk-snapshot" : snapshotStateName(obj.state);
    def.domainXML = formatDomainXML(obj.def, { secure: true });
    const cur = list.current;
    if (cur) def.parent = cur.name;
    const names = { name: def.name, domain: obj.name };
    if (live) {
      const { run, qmp } = live;
      if (external) {
        if (memExternal) {
          const wasRunning = await pauseFor(drv, obj, run, qmp, DomainPausedReason.SNAPSHOT);
          try {
            await saveToImage(run, qmp, {
              name: obj.name,
              path: resolve(def.memory.file!),
              xml: formatDomainXML(obj.def, { secure: true }),
              wasRunning,
            });
            def.memory.file = resolve(def.memory.file!);
            await externalDisks(live, plans, (flags & C.REUSE_EXT) !== 0, def.name, dacOf(drv, obj));
          } finally {
            if (wasRunning && !(flags & C.HALT) && obj.run === run && !run.ended)
              await resumeAfter(obj, run, qmp, DomainRunningReason.UNPAUSED);
          }
        } else {
          await externalDisks(live, plans, (flags & C.REUSE_EXT) !== 0, def.name, dacOf(drv, obj));
        }
        await applyOverlays(drv, obj, plans);
      } else {
        const nodes = await blockNodes(qmp);
        const args = vmstateArgs(plans, nodes, `internal snapshot '${def.name}'`);
        const wasRunning = await pauseFor(drv, obj, run, qmp, DomainPausedReason.SNAPSHOT);
        try {
          await runSnapshotJob(qmp, "snapshot-save", { tag: def.name, ...args }, names);
        } finally {
          if (wasRunning && !(flags & C.HALT) && obj.run === run && !run.ended)
            await resumeAfter(obj, run, qmp, DomainRunningReason.UNPAUSED);
        }
      }
      if (flags & C.HALT && obj.run === run && !run.ended) await stopForSnapshot(drv, obj, run);
      else await drv.saveStatus(obj);
    } else if (external) {
      await externalDisks(undefined, plans, (flags & C.REUSE_EXT) !== 0, def.name);
      await applyOverlays(drv, obj, plans);
    } else {
      const done: string[] = [];
      try {
        for (const p of plans) {
          await qemuImgSnapshot("-c", def.name, p.path);
          done.push(p.path);
        }
      } catch (e) {
        for (const path of done) await qemuImgSnapshot("-d", def.name, path).catch(() => undefined);
        throw e;
      }
    }
    if (!(flags & C.NO_METADATA)) await list.add(def, true);
    return def.name;
  });
}

async function redefineSnapshot(
  obj: QemuDomainObj,
  list: SnapshotList,
  def: SnapshotDef,
  flags: number,
  now: number,
): Promise<string> {
  if (def.name === "")
    throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: "a redefined snapshot must have a name" });
  if (def.parent !== undefined && !list.has(def.parent))
    throw new VirtError("SNAPSHOT_NOT_FOUND", { name: def.parent });
  if (def.parent === def.name)
    throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: `snapshot '${def.name}' cannot be its own parent` });
  def.creationTime ??= now;
  def.state ??= snapshotStateName(obj.state);
  def.domainXML ??= formatDomainXML(obj.def, { secure: true });
  if (list.has(def.name)) {
    Object.assign(list.get(def.name), def);
    await list.setCurrent(flags & C.CURRENT ? def.name : list.current?.name);
    return def.name;
  }
  await list.add(def, (flags & C.CURRENT) !== 0);
  return def.name;
}

// ---------------------------------------------------------------------------------------------
// XML, revert, delete
// ---------------------------------------------------------------------------------------------

export async function snapshotXML(
  drv: QemuDriver,
  obj: QemuDomainObj,
  snap: string,
  flags: number,
): Promise<string> {
  checkFlags(flags, DomainXMLFlags.SECURE, "qemuDomainSnapshotGetXMLDesc");
  const def = (await snapshotsOf(drv, obj)).get(snap);
  if (flags & DomainXMLFlags.SECURE || def.domainXML === undefined) return formatSnapshotXML(def);
  const dom = await drv.parseDomain(def.domainXML, { noDefaults: true });
  return formatSnapshotXML({ ...def, domainXML: formatDomainXML(dom, { secure: false }) });
}

/** Every qcow2 node QEMU has open (backing images included), with its image's file name. */
async function formatNodes(qmp: QmpClient): Promise<{ node: string; file: string }[]> {
  const list = (await qmp.execute("query-named-block-nodes", { flat: true })) as {
    "node-name"?: unknown;
    file?: unknown;
    drv?: unknown;
  }[];
  return list.flatMap((n) =>
    n.drv === "qcow2" && typeof n["node-name"] === "string" && typeof n.file === "string"
      ? [{ node: n["node-name"], file: n.file }]
      : [],
  );
}

/** The internal-snapshot images of a snapshot: its internal disks' paths in `dom`. */
function internalPaths(def: SnapshotDef, dom: DomainDef): string[] {
  const out: string[] = [];
  for (const d of def.disks ?? []) {
    if (d.snapshot !== "internal") continue;
    const disk = findDisk(dom, d.name);
    const path = disk ? localDiskPath(disk) : undefined;
    if (path !== undefined) out.push(path);
  }
  return out;
}

export async function snapshotRevert(
  drv: QemuDriver,
  obj: QemuDomainObj,
  snap: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, R.RUNNING | R.PAUSED | R.FORCE, "qemuDomainRevertToSnapshot");
  if ((flags & (R.RUNNING | R.PAUSED)) === (R.RUNNING | R.PAUSED)) {
    throw new VirtError("API_INVALID_ARG", {
      what: "flags 'running' and 'paused' in qemuDomainRevertToSnapshot are mutually exclusive",
    });
  }
  await withJob(obj, "virDomainRevertToSnapshot", async () => {
    if (obj.removed) throw new VirtError("QEMU_NO_DOMAIN_HANDLE", { uuid: obj.uuid, name: obj.name });
    const list = await snapshotsOf(drv, obj);
    const def = list.get(snap);
    if (snapshotLocation(def) === "external" || def.state === "disk-snapshot") {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: "revert to external snapshot not supported yet" });
    }
    if (def.domainXML === undefined) {
      throw new VirtError("SNAPSHOT_UNSUPPORTED", {
        what: `snapshot '${snap}' lacks domain '${obj.name}' rollback info`,
      });
    }
    const saved = await drv.parseDomain(def.domainXML);
    saved.uuid = obj.uuid;
    saved.name = obj.name;
    const active = def.state === "running" || def.state === "paused" || def.state === "blocked";
    if (!active && !obj.persistent && !(flags & (R.RUNNING | R.PAUSED))) {
      throw new VirtError("QEMU_SNAPSHOT_INVALID", {
        what: "transient domain needs to request run or pause to revert to inactive snapshot",
      });
    }
    const names = { name: snap, domain: obj.name };
    const pause = (flags & R.PAUSED) !== 0 || (def.state === "paused" && !(flags & R.RUNNING));
    if (active) {
      let wasRunning = false;
      let live = liveRun(obj);
      if (live) {
        // the snapshot is in images the guest no longer runs on (an external snapshot put an
        // overlay on them since): QEMU starts again with the snapshot's definition
        const top = await blockNodes(live.qmp);
        const moved = internalPaths(def, saved).find((p) => !top.some((n) => n.file === p));
        if (moved !== undefined) {
          if (!obj.persistent) {
            throw new VirtError("QEMU_SNAPSHOT_INVALID", {
              what: `internal snapshot '${snap}' is in '${moved}', which transient domain '${obj.name}' no longer runs on`,
            });
          }
          await stopForSnapshot(drv, obj, live.run);
          live = undefined;
        }
      }
      if (!live) {
        // start QEMU paused with the snapshot's definition, then load the state into it
        const persistent = obj.def;
        obj.def = saved;
        try {
          await startProcess(drv, obj, {
            api: "virDomainRevertToSnapshot",
            paused: true,
            runningReason: DomainRunningReason.FROM_SNAPSHOT,
          });
        } catch (e) {
          if (!obj.isActive()) obj.def = persistent;
          throw e;
        }
        if (obj.persistent) {
          obj.newDef = structuredClone(saved);
          await drv.saveConfig(obj);
        }
        drv.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT);
        live = liveRun(obj);
        if (!live) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
      } else {
        wasRunning = await pauseFor(drv, obj, live.run, live.qmp, DomainPausedReason.FROM_SNAPSHOT);
      }
      const { run, qmp } = live;
      const nodes = await blockNodes(qmp);
      const devices = internalPaths(def, saved).map((p) => nodeForPath(nodes, p, `revert to '${snap}'`).node);
      if (devices.length === 0)
        throw new VirtError("SNAPSHOT_UNSUPPORTED", {
          what: `snapshot '${snap}' has no internal disk snapshot`,
        });
      try {
        await runSnapshotJob(qmp, "snapshot-load", { tag: snap, vmstate: devices[0], devices }, names);
      } catch (e) {
        // the guest goes on as it was (QEMU loads nothing when the job fails early)
        if (wasRunning && obj.run === run && !run.ended)
          await resumeAfter(obj, run, qmp, DomainRunningReason.UNPAUSED).catch(() => undefined);
        throw e;
      }
      if (pause) {
        obj.setState(DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT);
        drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.FROM_SNAPSHOT);
      } else {
        await resumeAfter(obj, run, qmp, DomainRunningReason.FROM_SNAPSHOT);
      }
      await drv.saveStatus(obj);
    } else {
      const live = liveRun(obj);
      if (live) await stopForSnapshot(drv, obj, live.run);
      for (const p of internalPaths(def, saved)) await qemuImgSnapshot("-a", snap, p);
      obj.def = saved;
      obj.newDef = undefined;
      if (obj.persistent) await drv.saveConfig(obj);
      drv.lifecycle(obj, DomainEventType.DEFINED, DomainEventDefinedDetail.FROM_SNAPSHOT);
      if (flags & (R.RUNNING | R.PAUSED)) {
        await startProcess(drv, obj, {
          api: "virDomainRevertToSnapshot",
          paused: pause,
          runningReason: DomainRunningReason.FROM_SNAPSHOT,
        });
        drv.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT);
        if (pause) {
          obj.setState(DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT);
          drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.FROM_SNAPSHOT);
          await drv.saveStatus(obj);
        }
      }
    }
    await list.setCurrent(snap);
  });
}

export async function snapshotDelete(
  drv: QemuDriver,
  obj: QemuDomainObj,
  snap: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, D.CHILDREN | D.METADATA_ONLY | D.CHILDREN_ONLY, "qemuDomainSnapshotDelete");
  await withJob(obj, "virDomainSnapshotDelete", async () => {
    const list = await snapshotsOf(drv, obj);
    const gone = list.plannedDeletion(snap, (flags & D.CHILDREN) !== 0, (flags & D.CHILDREN_ONLY) !== 0);
    if (!(flags & D.METADATA_ONLY)) {
      const external = gone.filter((d) => snapshotLocation(d) === "external");
      if (external.length > 0) {
        throw new VirtError("SNAPSHOT_UNSUPPORTED", {
          what: `deletion of ${external.length} external disk snapshots not supported yet`,
        });
      }
      const live = liveRun(obj);
      const nodes = live ? await formatNodes(live.qmp) : [];
      const top = live ? await blockNodes(live.qmp) : [];
      for (const d of gone) {
        // the images the snapshot went into: those of its own definition (an external snapshot
        // taken since may have put an overlay on top of them)
        const dom =
          d.domainXML !== undefined ? await drv.parseDomain(d.domainXML, { noDefaults: true }) : obj.def;
        const paths = internalPaths(d, dom);
        if (live) {
          const below = paths.find((p) => !top.some((n) => n.file === p));
          if (below !== undefined) {
            throw new VirtError("QEMU_SNAPSHOT_INVALID", {
              what: `internal snapshot '${d.name}' is in '${below}', which the running domain '${obj.name}' uses as a read-only backing image: delete it while the domain is shut off, or with --metadata`,
            });
          }
          const devices = paths.flatMap((p) => nodes.filter((n) => n.file === p).map((n) => n.node));
          if (devices.length > 0)
            await runSnapshotJob(
              live.qmp,
              "snapshot-delete",
              { tag: d.name, devices },
              { name: d.name, domain: obj.name },
            );
        } else {
          // as libvirt: every image is tried, a missing snapshot in one of them is no failure
          for (const p of paths) await qemuImgSnapshot("-d", d.name, p).catch(() => undefined);
        }
      }
    }
    await list.remove(gone);
  });
}
