/**
 * Snapshots of the test driver (libvirt's testDomainSnapshot* in test_driver.c): metadata in
 * memory, a snapshot saves the domain's definition and state, revert puts them back with
 * libvirt's events. Nothing is written to disk; the default node forgets them on last close.
 */
import { VirtError, checkFlags } from "../../util/errors/index.ts";
import { parseSnapshotXML, formatSnapshotXML } from "../../conf/snapshot/xml.ts";
import type { SnapshotDef } from "../../conf/snapshot/types.ts";
import { SnapshotList, snapshotStateName } from "../snapshot-list.ts";
import {
  DomainEventDefinedDetail,
  DomainEventResumedDetail,
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
  DomainXMLFlags,
} from "../enums.ts";
import { formatTestDomain, parseTestDomain } from "./domain-xml.ts";
import { isActive, type TestDomainObj, type TestState } from "./state.ts";

const snapLists = new WeakMap<TestState, Map<string, SnapshotList>>();

/** The snapshot list of a domain (by UUID) of this node. */
export function testSnapshots(state: TestState, obj: TestDomainObj): SnapshotList {
  let m = snapLists.get(state);
  if (!m) {
    m = new Map();
    snapLists.set(state, m);
  }
  let l = m.get(obj.def.uuid);
  if (!l) {
    l = new SnapshotList();
    m.set(obj.def.uuid, l);
  }
  return l;
}

/** Drops a domain's snapshots (undefine). */
export function forgetTestSnapshots(state: TestState, uuid: string): void {
  snapLists.get(state)?.delete(uuid);
}

export async function testSnapshotCreate(
  state: TestState,
  obj: TestDomainObj,
  xml: string,
  flags: number,
): Promise<string> {
  checkFlags(flags, C.REDEFINE | C.CURRENT | C.HALT, "testDomainSnapshotCreateXML");
  const list = testSnapshots(state, obj);
  const redefine = (flags & C.REDEFINE) !== 0;
  if (flags & C.CURRENT && !redefine) {
    throw new VirtError("API_INVALID_ARG", { what: "current flag requires redefine flag" });
  }
  const def = parseSnapshotXML(xml, { redefine });
  const now = Math.floor(Date.now() / 1000);
  if (redefine) {
    if (def.name === "")
      throw new VirtError("SNAPSHOT_UNSUPPORTED", { what: "a redefined snapshot must have a name" });
    if (def.parent !== undefined && !list.has(def.parent)) {
      throw new VirtError("SNAPSHOT_NOT_FOUND", { name: def.parent });
    }
    def.creationTime ??= now;
    def.state ??= snapshotStateName(obj.state);
    def.domainXML ??= formatTestDomain(obj.def, { id: -1, secure: true });
    if (list.has(def.name)) {
      // redefinition replaces the metadata of an existing snapshot, keeping its place
      const old = list.get(def.name);
      Object.assign(old, def);
      if (flags & C.CURRENT) await list.setCurrent(def.name);
      return def.name;
    }
    await list.add(def, (flags & C.CURRENT) !== 0);
    return def.name;
  }
  def.creationTime = now;
  if (def.name === "") def.name = String(now);
  if (list.has(def.name)) throw new VirtError("SNAPSHOT_EXISTS", { name: def.name });
  const running = isActive(obj);
  def.state = snapshotStateName(obj.state);
  def.memory ??= { snapshot: running ? "internal" : "no" };
  // every disk the request did not name gets an internal snapshot (virDomainSnapshotAlignDisks)
  const named = new Map((def.disks ?? []).map((d) => [d.name, d]));
  def.disks = obj.def.devices.disks.map((disk) => {
    const d = named.get(disk.target.dev);
    return { name: disk.target.dev, snapshot: d?.snapshot ?? "internal" };
  });
  def.domainXML = formatTestDomain(obj.def, { id: -1, secure: true });
  const cur = list.current;
  if (cur) def.parent = cur.name;
  await list.add(def, true);
  if (flags & C.HALT && running) {
    state.shutdownState(obj, DomainShutoffReason.FROM_SNAPSHOT);
    state.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT);
    state.removeIfTransient(obj);
  }
  return def.name;
}

export function testSnapshotXML(state: TestState, obj: TestDomainObj, snap: string, flags: number): string {
  checkFlags(flags, DomainXMLFlags.SECURE, "testDomainSnapshotGetXMLDesc");
  const def = testSnapshots(state, obj).get(snap);
  let out: SnapshotDef = def;
  if (!(flags & DomainXMLFlags.SECURE) && def.domainXML !== undefined) {
    out = { ...def, domainXML: formatTestDomain(parseTestDomain(def.domainXML), { id: -1, secure: false }) };
  }
  return formatSnapshotXML(out);
}

/** testDomainRevertToSnapshot: the saved definition and state come back, with libvirt's events. */
export async function testSnapshotRevert(
  state: TestState,
  obj: TestDomainObj,
  snap: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, R.RUNNING | R.PAUSED | R.FORCE, "testDomainRevertToSnapshot");
  if ((flags & (R.RUNNING | R.PAUSED)) === (R.RUNNING | R.PAUSED)) {
    throw new VirtError("API_INVALID_ARG", {
      what: "flags 'running' and 'paused' in testDomainRevertToSnapshot are mutually exclusive",
    });
  }
  const list = testSnapshots(state, obj);
  const def = list.get(snap);
  if (def.domainXML === undefined) {
    throw new VirtError("SNAPSHOT_UNSUPPORTED", {
      what: `snapshot '${snap}' lacks domain '${obj.def.name}' rollback info`,
    });
  }
  const saved = parseTestDomain(def.domainXML);
  saved.uuid = obj.def.uuid;
  const wasRunning = def.state === "running" || def.state === "paused" || def.state === "blocked";
  if (wasRunning) {
    // the domain ends up running (or paused) with the saved definition
    if (isActive(obj)) {
      obj.def = saved;
      if (obj.persistent) obj.newDef = structuredClone(saved);
      if (obj.state === DomainState.PAUSED && !(flags & R.PAUSED) && def.state !== "paused") {
        obj.state = DomainState.RUNNING;
        obj.reason = DomainRunningReason.FROM_SNAPSHOT;
        state.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.FROM_SNAPSHOT);
      }
    } else {
      obj.def = saved;
      state.startState(obj, DomainRunningReason.FROM_SNAPSHOT);
      state.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT);
    }
    const pause = (flags & R.PAUSED) !== 0 || (def.state === "paused" && !(flags & R.RUNNING));
    if (pause && obj.state !== DomainState.PAUSED) {
      obj.state = DomainState.PAUSED;
      obj.reason = DomainPausedReason.FROM_SNAPSHOT;
      state.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.FROM_SNAPSHOT);
    } else if (!pause && obj.state === DomainState.PAUSED) {
      obj.state = DomainState.RUNNING;
      obj.reason = DomainRunningReason.FROM_SNAPSHOT;
      state.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.FROM_SNAPSHOT);
    } else if (!pause) {
      obj.reason = DomainRunningReason.FROM_SNAPSHOT;
    }
  } else {
    // an inactive snapshot: stop the domain, put the definition back, maybe start it again
    if (isActive(obj)) {
      state.shutdownState(obj, DomainShutoffReason.FROM_SNAPSHOT);
      state.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT);
    }
    obj.def = saved;
    obj.newDef = undefined;
    state.lifecycle(obj, DomainEventType.DEFINED, DomainEventDefinedDetail.FROM_SNAPSHOT);
    if (flags & (R.RUNNING | R.PAUSED)) {
      state.startState(obj, DomainRunningReason.FROM_SNAPSHOT);
      state.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT);
      if (flags & R.PAUSED) {
        obj.state = DomainState.PAUSED;
        obj.reason = DomainPausedReason.FROM_SNAPSHOT;
        state.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.FROM_SNAPSHOT);
      }
    }
  }
  await list.setCurrent(snap);
}

export async function testSnapshotDelete(
  state: TestState,
  obj: TestDomainObj,
  snap: string,
  flags: number,
): Promise<void> {
  // libvirt's test driver does not take METADATA_ONLY ("unsupported flags (0x2)")
  checkFlags(flags, D.CHILDREN | D.CHILDREN_ONLY, "testDomainSnapshotDelete");
  const list = testSnapshots(state, obj);
  const gone = list.plannedDeletion(snap, (flags & D.CHILDREN) !== 0, (flags & D.CHILDREN_ONLY) !== 0);
  await list.remove(gone);
}
