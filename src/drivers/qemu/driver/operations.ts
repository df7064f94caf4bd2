/**
 * The domain operations of the QEMU driver, with libvirt's checks, jobs, state transitions,
 * reasons, events and messages (`qemu_driver.c`). Every operation that changes a domain holds
 * its job: modify jobs for most, an async job for save (queries still answer meanwhile), and
 * destroy, which kills the process first and then takes the lock ahead of every waiter.
 */
import { agentChannel, agentOf } from "./agent.ts";
import { agentPower } from "./agent-calls.ts";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { formatDomainXML, type DomainDef } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { validateAgainstSchema } from "../../../host/xml-schema.ts";
import type { Job } from "../../../util/job-lock.ts";
import { CLOCK_TICKS, isProcessAlive, readProcStat, terminateProcess } from "../../../util/spawn.ts";
import { type DomainInfo } from "../../driver.ts";
import {
  DomainCreateFlags,
  DomainDefineFlags,
  DomainDestroyFlags,
  DomainEventDefinedDetail,
  DomainEventStartedDetail,
  DomainEventStoppedDetail,
  DomainEventSuspendedDetail,
  DomainEventType,
  DomainEventUndefinedDetail,
  DomainPausedReason,
  DomainRunningReason,
  DomainSaveRestoreFlags,
  DomainShutdownFlags,
  DomainShutoffReason,
  DomainState,
  DomainUndefineFlags,
  DomainXMLFlags,
} from "../../enums.ts";
import { matchesListFlags } from "../../list-filter.ts";
import { checkFlags } from "../../../util/errors/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import type { QemuCaps } from "../capabilities/index.ts";
import { startProcess, stopProcess } from "./process.ts";
import { hasSnapshotMetadata } from "./snapshots.ts";
import { restoreFromImage, saveToImage } from "./save.ts";
import { beginStreamJob, endStreamJob, type QueryMigrate } from "./jobs.ts";
import { readSaveImage, type SaveImageInfo } from "./save-image.ts";
import { checkAgainstCaps, checkMemory, checkObjectName } from "./validate.ts";
import { removeTpmStates } from "./swtpm.ts";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

async function withJob<T>(
  obj: QemuDomainObj,
  kind: "query" | "modify" | "async",
  api: string,
  fn: (job: Job) => Promise<T>,
): Promise<T> {
  const job = await obj.job.acquire(kind, api);
  try {
    return await fn(job);
  } finally {
    job.release();
  }
}

/** The state now (after an await, TypeScript's narrowing of `obj.state` no longer holds). */
function stateOf(obj: QemuDomainObj): DomainState {
  return obj.state;
}

function checkActive(obj: QemuDomainObj): QemuRun {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return run;
}

/** The monitor of a running domain (it may be reconnecting after a monitor failure). */
function monitorOf(obj: QemuDomainObj, run: QemuRun, operation: string) {
  if (!run.qmp) {
    // Being destroyed (its monitor closed before the process is gone): as libvirt, not running.
    if (run.stopping) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
    if (isProcessAlive(run.pid, run.starttime))
      throw new VirtError("QEMU_MONITOR_UNAVAILABLE", { name: obj.name, operation });
    throw new VirtError("QEMU_GUEST_QUIT", { name: obj.name, operation });
  }
  return run.qmp;
}

/**
 * Checks a new definition against the emulator before anything is stored (`caps`: those of its
 * emulator when the caller has them already).
 */
async function validateNewDef(drv: QemuDriver, def: DomainDef, caps?: QemuCaps): Promise<void> {
  checkObjectName("domain", def.name);
  checkMemory(def, drv.options.minMemoryKiB);
  checkAgainstCaps(def, caps ?? (await drv.caps(def.devices.emulator)));
}

/**
 * virDomainObjListAdd with the LIVE and CHECK_LIVE flags (createXML, restore): a new transient
 * object, or an inactive persistent one whose live definition becomes `def`.
 */
function addLive(drv: QemuDriver, def: DomainDef): { obj: QemuDomainObj; created: boolean } {
  const existing = drv.domains.byUuid(def.uuid);
  if (existing) {
    if (existing.name !== def.name) {
      throw new VirtError(
        "DOMAIN_UUID_EXISTS",
        { name: existing.name, uuid: existing.uuid },
        { uuid: def.uuid },
      );
    }
    if (existing.isActive()) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: existing.name });
    if (!existing.persistent || existing.starting)
      throw new VirtError("DOMAIN_BEING_STARTED", { name: existing.name });
    return { obj: existing, created: false };
  }
  const byName = drv.domains.byName(def.name);
  if (byName)
    throw new VirtError("DOMAIN_NAME_EXISTS", { name: def.name, uuid: byName.uuid }, { name: def.name });
  const obj = drv.newDomainObj(def);
  obj.starting = true;
  drv.domains.add(obj);
  return { obj, created: true };
}

/**
 * Under the job of an existing (persistent) domain: re-checks it is still inactive and persistent,
 * makes `def` what boots, and returns the persistent definition to keep aside.
 */
function takeLiveDef(obj: QemuDomainObj, def: DomainDef): DomainDef {
  if (obj.isActive()) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: obj.name });
  if (obj.removed || !obj.persistent) throw new VirtError("DOMAIN_BEING_STARTED", { name: obj.name });
  const previous = obj.def;
  obj.def = def;
  return previous;
}

// ---------------------------------------------------------------------------------------------
// define, undefine
// ---------------------------------------------------------------------------------------------

export async function defineDomain(drv: QemuDriver, xml: string, flags: number): Promise<QemuDomainObj> {
  checkFlags(flags, DomainDefineFlags.VALIDATE, "qemuDomainDefineXMLFlags");
  if (flags & DomainDefineFlags.VALIDATE)
    await validateAgainstSchema(xml, "domain", { document: "(domain_definition)" });
  const { def, caps } = await drv.parseDomainWithCaps(xml, { abiUpdate: true });
  await validateNewDef(drv, def, caps);
  const existing = drv.domains.byUuid(def.uuid);
  if (existing) {
    if (existing.name !== def.name) {
      throw new VirtError(
        "DOMAIN_UUID_EXISTS",
        { name: existing.name, uuid: existing.uuid },
        { uuid: def.uuid },
      );
    }
    return withJob(existing, "modify", "virDomainDefineXML", async () => {
      if (existing.removed) return defineDomain(drv, xml, flags);
      const old = { def: existing.def, newDef: existing.newDef, persistent: existing.persistent };
      if (existing.isActive()) existing.newDef = def;
      else existing.def = def;
      existing.persistent = true;
      try {
        await drv.saveConfig(existing);
      } catch (e) {
        existing.def = old.def;
        existing.newDef = old.newDef;
        existing.persistent = old.persistent;
        throw e;
      }
      drv.lifecycle(existing, DomainEventType.DEFINED, DomainEventDefinedDetail.UPDATED);
      return existing;
    });
  }
  const byName = drv.domains.byName(def.name);
  if (byName)
    throw new VirtError("DOMAIN_NAME_EXISTS", { name: def.name, uuid: byName.uuid }, { name: def.name });
  const obj = drv.newDomainObj(def);
  obj.persistent = true;
  drv.domains.add(obj);
  try {
    await drv.saveConfig(obj);
  } catch (e) {
    drv.removeDomain(obj, "its definition could not be saved");
    await drv.deleteConfig(obj).catch(() => undefined);
    throw e;
  }
  drv.lifecycle(obj, DomainEventType.DEFINED, DomainEventDefinedDetail.ADDED);
  return obj;
}

export async function undefineDomain(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  const U = DomainUndefineFlags;
  checkFlags(
    flags,
    U.MANAGED_SAVE |
      U.SNAPSHOTS_METADATA |
      U.NVRAM |
      U.KEEP_NVRAM |
      U.CHECKPOINTS_METADATA |
      U.TPM |
      U.KEEP_TPM,
    "qemuDomainUndefineFlags",
  );
  if (flags & U.NVRAM && flags & U.KEEP_NVRAM) {
    throw new VirtError("API_INVALID_ARG", {
      what: "Flags 'VIR_DOMAIN_UNDEFINE_KEEP_NVRAM' and 'VIR_DOMAIN_UNDEFINE_NVRAM' are mutually exclusive",
    });
  }
  if (flags & U.TPM && flags & U.KEEP_TPM) {
    throw new VirtError("API_INVALID_ARG", {
      what: "Flags 'VIR_DOMAIN_UNDEFINE_TPM' and 'VIR_DOMAIN_UNDEFINE_KEEP_TPM' are mutually exclusive",
    });
  }
  await withJob(obj, "modify", "virDomainUndefine", async () => {
    if (obj.removed) throw new VirtError("QEMU_NO_DOMAIN_HANDLE", { uuid: obj.uuid, name: obj.name });
    if (!obj.persistent) throw new VirtError("QEMU_UNDEFINE_TRANSIENT");
    const managed = drv.managedSavePath(obj.name);
    if (existsSync(managed)) {
      if (!(flags & U.MANAGED_SAVE)) throw new VirtError("DOMAIN_MANAGED_SAVE_EXISTS");
      await rm(managed, { force: true });
    }
    const nvram = obj.persistentDef().os.nvram?.path;
    if (nvram !== undefined && !obj.isActive() && existsSync(nvram)) {
      if (flags & U.NVRAM) await rm(nvram, { force: true });
      else if (!(flags & U.KEEP_NVRAM)) throw new VirtError("QEMU_UNDEFINE_NVRAM");
    }
    await drv.deleteConfig(obj);
    drv.lifecycle(obj, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED);
    obj.autostart = false;
    obj.persistent = false;
    if (obj.isActive()) obj.newDef = undefined;
    else {
      drv.removeDomain(obj, "the domain was undefined");
      // emulated TPMs' states go with the domain unless kept (an active domain's go when it stops)
      await removeTpmStates(drv.paths, obj.def, flags);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// start
// ---------------------------------------------------------------------------------------------

function startedEvents(drv: QemuDriver, obj: QemuDomainObj, detail: number, paused: boolean): void {
  drv.lifecycle(obj, DomainEventType.STARTED, detail);
  if (paused) drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED);
}

export async function createTransient(
  drv: QemuDriver,
  xml: string,
  flags: number,
  owner: object,
): Promise<QemuDomainObj> {
  const C = DomainCreateFlags;
  checkFlags(
    flags,
    C.START_PAUSED | C.START_AUTODESTROY | C.START_BYPASS_CACHE | C.START_VALIDATE,
    "qemuDomainCreateXML",
  );
  if (flags & C.START_VALIDATE)
    await validateAgainstSchema(xml, "domain", { document: "(domain_definition)" });
  const { def, caps } = await drv.parseDomainWithCaps(xml, { abiUpdate: true });
  await validateNewDef(drv, def, caps);
  const { obj, created } = addLive(drv, def);
  let previous: DomainDef | undefined;
  try {
    await withJob(obj, "modify", "virDomainCreateXML", async () => {
      if (!created) previous = takeLiveDef(obj, def);
      await startProcess(drv, obj, {
        api: "virDomainCreateXML",
        paused: (flags & C.START_PAUSED) !== 0,
        ...(flags & C.START_AUTODESTROY ? { autodestroyOwner: owner } : {}),
        ...(previous ? { persistentDef: previous } : {}),
        runningReason: DomainRunningReason.BOOTED,
      });
    });
  } catch (e) {
    if (created) drv.removeDomain(obj, "it failed to start");
    else if (previous && !obj.isActive()) obj.def = previous;
    throw e;
  } finally {
    obj.starting = false;
  }
  startedEvents(drv, obj, DomainEventStartedDetail.BOOTED, (flags & C.START_PAUSED) !== 0);
  return obj;
}

/** virDomainCreateWithFlags: boots a defined domain, or restores its managed save image. */
export async function startDomain(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
  owner: object | undefined,
  api = "virDomainCreateWithFlags",
): Promise<void> {
  const C = DomainCreateFlags;
  checkFlags(
    flags,
    C.START_PAUSED |
      C.START_AUTODESTROY |
      C.START_BYPASS_CACHE |
      C.START_FORCE_BOOT |
      C.START_VALIDATE |
      C.START_RESET_NVRAM,
    "qemuDomainCreateWithFlags",
  );
  const paused = (flags & C.START_PAUSED) !== 0;
  await withJob(obj, "modify", api, async () => {
    if (obj.removed) throw new VirtError("QEMU_NO_DOMAIN_HANDLE", { uuid: obj.uuid, name: obj.name });
    if (obj.isActive()) throw new VirtError("QEMU_DOMAIN_ALREADY_RUNNING", {}, { name: obj.name });
    const managed = drv.managedSavePath(obj.name);
    if (existsSync(managed)) {
      if (flags & C.START_FORCE_BOOT) {
        await rm(managed, { force: true });
      } else {
        const image = await readSaveImage(managed);
        const persistent = obj.def;
        const saved = await replacementDef(drv, persistent, image.xml);
        obj.def = saved;
        try {
          await restoreInto(
            drv,
            obj,
            managed,
            image,
            paused ? DomainSaveRestoreFlags.PAUSED : 0,
            api,
            owner && flags & C.START_AUTODESTROY ? owner : undefined,
            persistent,
          );
        } catch (e) {
          if (!obj.isActive()) obj.def = persistent;
          throw e;
        }
        await rm(managed, { force: true });
        return;
      }
    }
    const opts = {
      api,
      paused,
      ...(owner && flags & C.START_AUTODESTROY ? { autodestroyOwner: owner } : {}),
      runningReason: DomainRunningReason.BOOTED,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await startProcess(drv, obj, opts);
        break;
      } catch (e) {
        // an autoport display port that another process bound between the port check and
        // QEMU's listen: the start undid everything, and a new try reserves other ports
        if (attempt >= 3 || !autoportTaken(obj, e)) throw e;
      }
    }
    startedEvents(drv, obj, DomainEventStartedDetail.BOOTED, paused);
  });
}

/** Whether a start failed because QEMU could not listen on a display port tvirt picked. */
function autoportTaken(obj: QemuDomainObj, e: unknown): boolean {
  const picked = obj.def.devices.graphics.some((g) => g.autoport === true);
  return picked && !obj.isActive() && e instanceof Error && /Address already in use/.test(e.message);
}

// ---------------------------------------------------------------------------------------------
// shutdown, reboot, reset, destroy
// ---------------------------------------------------------------------------------------------

function powerFlags(flags: number, func: string): void {
  const F = DomainShutdownFlags;
  checkFlags(flags, F.ACPI_POWER_BTN | F.GUEST_AGENT, func);
}

/**
 * Shutdown and reboot through the guest agent, as libvirt chooses: asked for, or no mode given
 * and the domain has an agent channel. Returns true when the agent took the request; false
 * when the power button should be pressed instead (agent not asked for alone, or it failed and
 * the button is allowed).
 */
async function viaAgent(obj: QemuDomainObj, flags: number, mode: "powerdown" | "reboot"): Promise<boolean> {
  const F = DomainShutdownFlags;
  const acpi = (flags & F.ACPI_POWER_BTN) !== 0;
  const forced = (flags & F.GUEST_AGENT) !== 0 && !acpi;
  const wanted = (flags & F.GUEST_AGENT) !== 0 || (!acpi && agentChannel(obj.def) !== undefined);
  if (!wanted) return false;
  try {
    agentOf(obj);
  } catch (e) {
    if (forced) throw e;
    return false;
  }
  try {
    await agentPower(obj, mode);
    return true;
  } catch (e) {
    if (forced) throw e;
    return false;
  }
}

export async function shutdownDomain(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  powerFlags(flags, "qemuDomainShutdownFlags");
  await withJob(obj, "modify", "virDomainShutdown", async () => {
    const run = checkActive(obj);
    if (obj.state !== DomainState.RUNNING)
      throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name, state: obj.state });
    run.fakeReboot = false;
    if (!(await viaAgent(obj, flags, "powerdown")))
      await monitorOf(obj, run, "shutdown").execute("system_powerdown");
    await drv.saveStatus(obj);
  });
}

/**
 * Waits until a domain asked to shut down is shut off. Rejects with `QEMU_SHUTDOWN_IGNORED`
 * (saying whether QEMU delivered the power button) when it still runs after `timeoutMs`.
 */
export function waitForShutoff(obj: QemuDomainObj, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolvePromise, reject) => {
    if (!obj.isActive()) {
      resolvePromise();
      return;
    }
    const run = obj.run;
    const cleanup = (): void => {
      off();
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const off = obj.onStateChange(() => {
      if (!obj.isActive() || obj.run !== run) {
        cleanup();
        resolvePromise();
      }
    });
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new VirtError(
          "QEMU_SHUTDOWN_IGNORED",
          { name: obj.name, seconds: Math.round(timeoutMs / 100) / 10 },
          { powerButtonDelivered: run?.powerdownAt !== undefined, state: obj.state, reason: obj.reason },
        ),
      );
    }, timeoutMs);
    const onAbort = (): void => {
      cleanup();
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export async function rebootDomain(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  powerFlags(flags, "qemuDomainReboot");
  await withJob(obj, "modify", "virDomainReboot", async () => {
    const run = checkActive(obj);
    // on_reboot destroy/preserve: a reboot request is a shutdown (libvirt's isReboot = false).
    run.fakeReboot = obj.def.onReboot !== "destroy" && obj.def.onReboot !== "preserve";
    await drv.saveStatus(obj);
    if (await viaAgent(obj, flags, "reboot")) {
      // the guest reboots by itself: no fake reboot needed
      run.fakeReboot = false;
      return;
    }
    await monitorOf(obj, run, "reboot").execute("system_powerdown");
  });
}

export async function resetDomain(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  checkFlags(flags, 0, "qemuDomainReset");
  await withJob(obj, "modify", "virDomainReset", async () => {
    const run = checkActive(obj);
    await monitorOf(obj, run, "reset").execute("system_reset");
    if (obj.state === DomainState.CRASHED) obj.setState(DomainState.PAUSED, DomainPausedReason.CRASHED);
    await drv.saveStatus(obj);
  });
}

export async function destroyDomain(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  checkFlags(flags, DomainDestroyFlags.GRACEFUL | DomainDestroyFlags.REMOVE_LOGS, "qemuDomainDestroyFlags");
  const run = checkActive(obj);
  const graceful = (flags & DomainDestroyFlags.GRACEFUL) !== 0;
  // Kill first (libvirt's qemuProcessBeginStopJob): whatever holds the job then ends quickly.
  const mine = run.stopping === undefined;
  if (mine)
    run.stopping = { reason: DomainShutoffReason.DESTROYED, detail: DomainEventStoppedDetail.DESTROYED };
  obj.job.cancelWaiters("virDomainDestroy was called");
  const result = await terminateProcess(run.pid, {
    starttime: run.starttime,
    graceMs: drv.options.destroyGraceMs,
    force: !graceful,
  });
  if (result === "alive") {
    if (mine) run.stopping = undefined;
    throw new VirtError("QEMU_DESTROY_FAILED", { pid: run.pid, signal: graceful ? "SIGTERM" : "SIGKILL" });
  }
  const job = await obj.job.acquire("destroy", "virDomainDestroy");
  try {
    if (obj.run !== run || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
    await stopProcess(drv, obj, run, DomainShutoffReason.DESTROYED, "destroyed");
    drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.DESTROYED);
    if (flags & DomainDestroyFlags.REMOVE_LOGS) await rm(drv.logPath(obj.name), { force: true });
  } finally {
    job.release();
  }
}

/** Destroys a domain if it still runs the given process (autodestroy on connection close). */
export async function destroyRunIfCurrent(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun): Promise<void> {
  if (obj.run !== run || run.ended) return;
  await destroyDomain(drv, obj, 0).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// suspend, resume
// ---------------------------------------------------------------------------------------------

export async function suspendDomain(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  await withJob(obj, "modify", "virDomainSuspend", async () => {
    const run = checkActive(obj);
    if (obj.state === DomainState.PMSUSPENDED) throw new VirtError("QEMU_DOMAIN_PMSUSPENDED");
    if (obj.state !== DomainState.PAUSED) {
      run.pausedReason = DomainPausedReason.USER;
      await monitorOf(obj, run, "suspend").execute("stop");
      if (obj.state === DomainState.RUNNING) {
        run.pausedReason = undefined;
        obj.setState(DomainState.PAUSED, DomainPausedReason.USER);
        drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED);
      }
    }
    await drv.saveStatus(obj);
  });
}

export async function resumeDomain(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  await withJob(obj, "modify", "virDomainResume", async () => {
    const run = checkActive(obj);
    if (obj.state === DomainState.PMSUSPENDED) throw new VirtError("QEMU_DOMAIN_PMSUSPENDED");
    if (obj.state === DomainState.RUNNING) throw new VirtError("QEMU_DOMAIN_ALREADY_RUNNING");
    if (obj.state === DomainState.PAUSED || obj.state === DomainState.CRASHED) {
      run.runningReason = DomainRunningReason.UNPAUSED;
      await monitorOf(obj, run, "resume").execute("cont");
      if (stateOf(obj) !== DomainState.RUNNING)
        obj.setState(DomainState.RUNNING, DomainRunningReason.UNPAUSED);
    }
    await drv.saveStatus(obj);
  });
}

// ---------------------------------------------------------------------------------------------
// save, restore, managed save
// ---------------------------------------------------------------------------------------------

function saveFlags(flags: number, func: string): void {
  const S = DomainSaveRestoreFlags;
  checkFlags(flags, S.BYPASS_CACHE | S.RUNNING | S.PAUSED, func);
  if (flags & S.RUNNING && flags & S.PAUSED) {
    throw new VirtError("API_INVALID_ARG", {
      what: "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive",
    });
  }
}

/** The definition a save image gets: `dxml` when it describes the same domain. */
async function replacementDef(drv: QemuDriver, original: DomainDef, dxml: string | null): Promise<DomainDef> {
  if (dxml === null) return original;
  const def = await drv.parseDomain(dxml);
  if (def.uuid !== original.uuid) {
    throw new VirtError("QEMU_SAVE_XML_MISMATCH", {
      reason: `target domain uuid ${def.uuid} does not match source ${original.uuid}`,
    });
  }
  if (def.name !== original.name) {
    throw new VirtError("QEMU_SAVE_XML_MISMATCH", {
      reason: `target domain name '${def.name}' does not match source '${original.name}'`,
    });
  }
  return def;
}

async function saveInternal(
  drv: QemuDriver,
  obj: QemuDomainObj,
  path: string,
  dxml: string | null,
  flags: number,
  api: string,
): Promise<void> {
  const S = DomainSaveRestoreFlags;
  await withJob(obj, "async", api, async () => {
    const run = checkActive(obj);
    if (obj.state === DomainState.PMSUSPENDED) throw new VirtError("QEMU_DOMAIN_PMSUSPENDED");
    const def = await replacementDef(drv, obj.def, dxml);
    const qmp = monitorOf(obj, run, "save");
    const wasRunning = obj.state === DomainState.RUNNING;
    if (wasRunning) {
      run.pausedReason = DomainPausedReason.SAVE;
      await qmp.execute("stop");
      if (obj.state === DomainState.RUNNING) {
        obj.setState(DomainState.PAUSED, DomainPausedReason.SAVE);
        drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED);
      }
    }
    run.asyncJob = { kind: "save", wasRunning, path };
    await drv.saveStatus(obj);
    const headerRunning = flags & S.RUNNING ? true : flags & S.PAUSED ? false : wasRunning;
    const streamJob = beginStreamJob(obj, run, "save");
    try {
      await saveToImage(run, qmp, {
        name: obj.name,
        path,
        xml: formatDomainXML(def, { secure: true }),
        wasRunning: headerRunning,
      });
      // QEMU keeps the finished migration's numbers until the next one: the job's statistics
      const final = (await qmp.execute("query-migrate").catch(() => undefined)) as QueryMigrate | undefined;
      endStreamJob(drv, obj, streamJob, "completed", final);
    } catch (e) {
      // an abort by the client (domjobabort) is reported as libvirt does: "canceled by client"
      const aborted = endStreamJob(
        drv,
        obj,
        streamJob,
        "failed",
        undefined,
        e instanceof Error ? e.message : String(e),
      );
      run.asyncJob = undefined;
      if (wasRunning && obj.run === run && !run.ended && run.qmp) {
        run.runningReason = DomainRunningReason.SAVE_CANCELED;
        await run.qmp.execute("cont").catch(() => undefined);
        if (obj.state !== DomainState.RUNNING && obj.run === run)
          obj.setState(DomainState.RUNNING, DomainRunningReason.SAVE_CANCELED);
      }
      await drv.saveStatus(obj).catch(() => undefined);
      if (obj.run !== run || run.ended)
        throw new VirtError("QEMU_GUEST_QUIT", { name: obj.name, operation: "save" }, {}, { cause: e });
      throw aborted ?? e;
    }
    run.stopping ??= { reason: DomainShutoffReason.SAVED, detail: DomainEventStoppedDetail.SAVED };
    await stopProcess(drv, obj, run, DomainShutoffReason.SAVED, "saved");
    drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.SAVED);
  });
}

export async function saveDomain(
  drv: QemuDriver,
  obj: QemuDomainObj,
  path: string,
  dxml: string | null,
  flags: number,
): Promise<void> {
  saveFlags(flags, "qemuDomainSaveFlags");
  await saveInternal(drv, obj, resolve(path), dxml, flags, "virDomainSaveFlags");
}

export async function managedSaveDomain(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  saveFlags(flags, "qemuDomainManagedSave");
  if (!obj.persistent) throw new VirtError("DOMAIN_MANAGED_SAVE_TRANSIENT", {}, { name: obj.name });
  await saveInternal(drv, obj, drv.managedSavePath(obj.name), null, flags, "virDomainManagedSave");
}

/** Starts QEMU for `obj` from a save image (the caller holds a modify job). */
async function restoreInto(
  drv: QemuDriver,
  obj: QemuDomainObj,
  path: string,
  image: SaveImageInfo,
  flags: number,
  api: string,
  autodestroyOwner?: object,
  persistentDef?: DomainDef,
): Promise<void> {
  const S = DomainSaveRestoreFlags;
  await startProcess(drv, obj, {
    api,
    paused: true,
    ...(autodestroyOwner ? { autodestroyOwner } : {}),
    ...(persistentDef ? { persistentDef } : {}),
    incoming: restoreFromImage({ name: obj.name, path, streamOffset: image.streamOffset }),
    failure: (reason, details, cause) =>
      new VirtError("QEMU_RESTORE_FAILED", { name: obj.name, path, reason }, details, { cause }),
    runningReason: DomainRunningReason.RESTORED,
  });
  drv.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.RESTORED);
  const run = obj.run;
  const running = flags & S.RUNNING ? true : flags & S.PAUSED ? false : image.header.wasRunning;
  if (running && run?.qmp) {
    run.runningReason = DomainRunningReason.RESTORED;
    await run.qmp.execute("cont");
    if (obj.state !== DomainState.RUNNING) obj.setState(DomainState.RUNNING, DomainRunningReason.RESTORED);
  } else {
    drv.lifecycle(
      obj,
      DomainEventType.SUSPENDED,
      flags & S.PAUSED ? DomainEventSuspendedDetail.PAUSED : DomainEventSuspendedDetail.RESTORED,
    );
  }
  await drv.saveStatus(obj);
}

export async function restoreDomain(
  drv: QemuDriver,
  path: string,
  dxml: string | null,
  flags: number,
): Promise<QemuDomainObj> {
  const S = DomainSaveRestoreFlags;
  checkFlags(flags, S.BYPASS_CACHE | S.RUNNING | S.PAUSED | S.RESET_NVRAM, "qemuDomainRestoreFlags");
  saveFlags(flags & ~S.RESET_NVRAM, "qemuDomainRestoreFlags");
  const file = resolve(path);
  const image = await readSaveImage(file);
  const saved = await drv.parseDomain(image.xml, { document: file });
  const def = await replacementDef(drv, saved, dxml);
  await validateNewDef(drv, def);
  const { obj, created } = addLive(drv, def);
  let previous: DomainDef | undefined;
  try {
    await withJob(obj, "modify", "virDomainRestoreFlags", async () => {
      if (!created) previous = takeLiveDef(obj, def);
      await restoreInto(drv, obj, file, image, flags, "virDomainRestoreFlags", undefined, previous);
    });
  } catch (e) {
    if (created && !obj.isActive()) drv.removeDomain(obj, "its restore failed");
    else if (previous && !obj.isActive()) obj.def = previous;
    throw e;
  } finally {
    obj.starting = false;
  }
  return obj;
}

export async function managedSaveRemove(drv: QemuDriver, obj: QemuDomainObj, flags: number): Promise<void> {
  checkFlags(flags, 0, "qemuDomainManagedSaveRemove");
  await withJob(obj, "modify", "virDomainManagedSaveRemove", async () => {
    await rm(drv.managedSavePath(obj.name), { force: true });
  });
}

export async function saveImageGetXMLDesc(drv: QemuDriver, path: string, flags: number): Promise<string> {
  checkFlags(flags, DomainXMLFlags.SECURE, "qemuDomainSaveImageGetXMLDesc");
  const image = await readSaveImage(resolve(path));
  const def = await drv.parseDomain(image.xml, { document: path });
  return formatDomainXML(def, { secure: (flags & DomainXMLFlags.SECURE) !== 0 });
}

// ---------------------------------------------------------------------------------------------
// autostart, queries
// ---------------------------------------------------------------------------------------------

export async function setAutostart(drv: QemuDriver, obj: QemuDomainObj, on: boolean): Promise<void> {
  if (!obj.persistent) throw new VirtError("QEMU_AUTOSTART_TRANSIENT");
  await withJob(obj, "modify", "virDomainSetAutostart", async () => {
    if (!obj.persistent) throw new VirtError("QEMU_AUTOSTART_TRANSIENT");
    if (obj.autostart === on) return;
    await drv.setAutostartLink(obj, on);
    obj.autostart = on;
  });
}

export function domainXMLDesc(obj: QemuDomainObj, flags: number): string {
  const X = DomainXMLFlags;
  checkFlags(flags, X.SECURE | X.INACTIVE | X.UPDATE_CPU | X.MIGRATABLE, "qemuDomainGetXMLDesc");
  const inactive = (flags & X.INACTIVE) !== 0;
  const def = inactive && obj.newDef ? obj.newDef : obj.def;
  const live = obj.isActive() && !inactive && !(flags & X.MIGRATABLE);
  return formatDomainXML(def, { secure: (flags & X.SECURE) !== 0, live });
}

export function domainInfo(obj: QemuDomainObj): DomainInfo {
  const def = obj.def;
  let cpuTime = 0n;
  const run = obj.run;
  if (obj.isActive() && run) {
    const st = readProcStat(run.pid);
    if (st && st.starttime === run.starttime)
      cpuTime = (BigInt(st.utime + st.stime) * 1_000_000_000n) / BigInt(CLOCK_TICKS);
  }
  return {
    state: obj.state,
    maxMem: def.memory,
    memory: def.currentMemory,
    nrVirtCpu: def.vcpu.current ?? def.vcpu.count,
    cpuTime,
  };
}

export function listFilter(drv: QemuDriver, flags: number): (obj: QemuDomainObj) => boolean {
  return (obj) =>
    matchesListFlags(flags, {
      active: obj.isActive(),
      persistent: obj.persistent,
      state: obj.state,
      autostart: obj.autostart,
      hasManagedSave: () => drv.hasManagedSave(obj),
      hasSnapshots: () => hasSnapshotMetadata(drv, obj),
    });
}

/** Autostart at driver open: every persistent, inactive domain marked so (in parallel). */
export async function autostartDomains(drv: QemuDriver): Promise<void> {
  const todo = drv.domains.all().filter((o) => o.persistent && o.autostart && !o.isActive());
  await Promise.all(
    todo.map((obj) =>
      startDomain(drv, obj, 0, undefined, "autostart").catch((e: unknown) => {
        drv.warn(`Failed to autostart VM '${obj.name}': ${e instanceof Error ? e.message : String(e)}`);
      }),
    ),
  );
}
