/**
 * The QEMU process of a domain (libvirt's `qemu_process.c`): start (checks, runtime dir, argv,
 * detached spawn, QMP, `cont`), stop (reap, release, state), the monitor of a run (its events go
 * to `monitor.ts`, its closing starts the exit check), the exit check that turns a QEMU that went
 * away into "shut off (crashed)" or "shut off (shutdown)", and reconnection to processes started
 * by an earlier driver instance.
 *
 * Callers hold the domain's job (modify for start, destroy for stop) unless noted.
 */
import { attachAgent, prepareChannelPaths } from "./agent.ts";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { prepareFirmware } from "./firmware.ts";
import { assignAliases, type DomainDef } from "../../../conf/domain/index.ts";
import { kvmUnavailableError } from "../../../host/kvm.ts";
import { DisposableStore } from "../../../util/disposable.ts";
import { VirtError, isVirtError, type ErrorDetails } from "../../../util/errors/index.ts";
import {
  isProcessAlive,
  readProcCmdline,
  readProcStat,
  signalProcess,
  spawnArgv,
  waitForProcessExit,
} from "../../../util/spawn.ts";
import {
  DomainEventStoppedDetail,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
} from "../../enums.ts";
import { buildQemuCommand, type CommandContext } from "../command/index.ts";
import { connectQmp, type QmpClient } from "../monitor/index.ts";
import { hostCommandContext } from "../command/context.ts";
import {
  attachTaps,
  closeMacvtapFds,
  createMacvtaps,
  macvtapsOf,
  planTapPlugs,
  releaseMacvtaps,
} from "./net-plug.ts";
import { domainPaths } from "../paths.ts";
import { QemuRun, type QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { appendLog, logTail, mainError, openDomainLog, startHeader, stopLine } from "./log.ts";
import {
  adoptDomainHostdevs,
  prepareDomainHostdevs,
  releaseDomainHostdevs,
  resolveDomainUsbHostdevs,
} from "./hostdev-prepare.ts";
import { hostDrmRenderNode } from "../../../host/facts.ts";
import {
  adoptGraphicsPorts,
  graphicsContext,
  initGraphicsPasswords,
  reserveGraphicsPorts,
} from "./graphics.ts";
import { fakeReboot, handleMonitorEvent } from "./monitor.ts";
import { readBackingChains } from "./blockjobs.ts";
import { dispatchMonitorEvent } from "./monitor-events.ts";
import { setupDiskThrottling } from "./disk-throttle.ts";
import { checkVcpuOrder, setupBalloon, setupHotpluggableVcpus } from "./tuning.ts";
import { SAVE_PARTIAL } from "./save-image.ts";
import type { StatusRecord } from "./status-xml.ts";
import { startVirtiofsd, virtiofsFilesystems, type VirtiofsDaemon } from "./virtiofs.ts";
import { hostScsiGenericDevice } from "./hostdev-prepare.ts";
import {
  emulatorTpms,
  hostTpmCancelPath,
  removeTpmStates,
  startSwtpm,
  stopSwtpms,
  swtpmSocketPath,
} from "./swtpm.ts";
import { checkHugepageSupply, hugepageNeeds, makeHugepageDirs, removeHugepageDirs } from "./hugepages.ts";
import { usableHugetlbfsMounts } from "../../../host/hugetlbfs.ts";
import { checkAddressBits, checkAgainstCaps, checkFiles, checkMemory, checkObjectName } from "./validate.ts";
import { confineArgv, rememberRunFiles, removeProfile, runFiles, writeStartProfile } from "./apparmor.ts";
import { resolveDomainVolumes } from "./volumes.ts";
import { adoptDomainCgroup, removeCgroupOfGone, setupDomainCgroup } from "./cgroup.ts";
import { adoptVirtiofsDaemons, stopWithGuest, watchVirtiofsd } from "./virtiofs-watch.ts";
import {
  checkKvmAccess,
  checkTunAccess,
  dacFilesOf,
  dacLabel,
  dacRestore,
  dirsBetween,
  resolveRunAs,
  type DacIdentity,
  type DacTap,
} from "./dac.ts";

export interface StartOptions {
  /** The API that starts the domain (for messages). */
  readonly api: string;
  /** Leave the CPUs stopped (state paused, reason user). */
  readonly paused: boolean;
  /** `VIR_DOMAIN_START_AUTODESTROY`: the connection whose close destroys the domain. */
  readonly autodestroyOwner?: object;
  /** Restore: QEMU starts with `-incoming defer`; this loads the state before `cont`. */
  readonly incoming?: (run: QemuRun, qmp: QmpClient) => Promise<void>;
  /** Reason of the running state after `cont` (booted, restored). */
  readonly runningReason: number;
  /**
   * The persistent definition to keep while the domain runs, when `obj.def` (what boots) is
   * another one (createXML or restore of a defined domain). Default: `obj.def`.
   */
  readonly persistentDef?: DomainDef;
  /** The error for a QEMU that ended while starting (default `QEMU_START_FAILED`). */
  readonly failure?: (reason: string, details: ErrorDetails, cause: unknown) => VirtError;
}

/** Kills a process of ours at once and waits for it to be gone. */
async function killNow(run: QemuRun): Promise<void> {
  if (signalProcess(run.pid, "SIGKILL", run.starttime))
    await waitForProcessExit(run.pid, 5000, run.starttime);
}

/** Fills the pty paths QEMU allocated into the live definition. */
async function refreshChardevs(qmp: QmpClient, live: DomainDef): Promise<void> {
  const list = (await qmp.execute("query-chardev")) as { label?: unknown; filename?: unknown }[];
  const byLabel = new Map<string, string>();
  for (const c of list)
    if (typeof c.label === "string" && typeof c.filename === "string") byLabel.set(c.label, c.filename);
  const d = live.devices;
  for (const chr of [...d.serials, ...d.parallels, ...d.channels, ...d.consoles]) {
    if (chr.type !== "pty" || chr.alias === undefined) continue;
    const f = byLabel.get(`char${chr.alias}`);
    if (f?.startsWith("pty:")) chr.source = { ...chr.source, path: f.slice(4) };
  }
}

/**
 * Starts QEMU for `obj` (inactive; the caller holds a modify job). On success the domain is
 * running (or paused) with its status file written; on failure nothing is left: no process, no
 * runtime dir, no status file, and the error carries the tail of QEMU's log.
 */
export async function startProcess(drv: QemuDriver, obj: QemuDomainObj, opts: StartOptions): Promise<void> {
  const def = obj.def;
  checkObjectName("domain", def.name);
  checkMemory(def, drv.options.minMemoryKiB);
  const caps = await drv.caps(def.devices.emulator);
  checkAgainstCaps(def, caps);
  checkAddressBits(def);
  checkVcpuOrder(def);
  if (def.type === "kvm") {
    const kvm = await drv.kvm(caps.emulator);
    if (!kvm.usable) throw kvmUnavailableError(kvm);
  }
  const live = structuredClone(def);
  // firmware: selected again, the variable store made from its template when missing
  await prepareFirmware(drv.root, drv.paths, live);
  // <disk type='volume'>: the storage driver's path, type and format, before the file checks
  await resolveDomainVolumes(drv.options.resolveVolume, live);
  await checkFiles(live);

  assignAliases(live);
  const id = drv.allocateId();
  live.id = id;
  const dp = domainPaths(drv.paths, id, def.name);
  const monitorPath = join(dp.domainDir, "monitor.sock");
  const pidfile = join(drv.paths.stateDir, `${def.name}.pid`);
  const logPath = drv.logPath(def.name);
  // network, bridge and ethernet interfaces: the network's bridge and a tap name in the live XML
  const plugs = await planTapPlugs(drv.root, live, drv.options.bridgeHelper);
  // QEMU as an unprivileged user (system instance): who (a missing user is an error here)
  const runAs = drv.options.runAs !== undefined ? resolveRunAs(drv.options.runAs) : undefined;
  // an existing tap (managed='no') is the admin's: QEMU's user must own it already
  if (runAs !== undefined && def.type === "kvm") await checkKvmAccess(runAs, def.name);
  if (runAs !== undefined && plugs.plugs[0] !== undefined)
    await checkTunAccess(runAs, { alias: plugs.plugs[0].alias, name: def.name });
  const tapOf = new Map(plugs.plugs.map((p) => [p.alias, p.tap]));
  // direct interfaces: their macvtap devices are made just before QEMU runs and passed to it as
  // fd 3, 4, ... in interface order
  const directAliases = live.devices.interfaces.filter((n) => n.type === "direct").map((n) => n.alias ?? "");
  // the domain's master key: disk secrets on the command line are encrypted with it
  const masterKey = randomBytes(32);
  const ctx: CommandContext = {
    ...hostCommandContext(caps, def.name, drv.root),
    ...(directAliases.length > 0
      ? {
          interfaceFds: (alias: string) => {
            const i = directAliases.indexOf(alias);
            return i < 0 ? undefined : { tap: [String(3 + i)], vhost: [] };
          },
        }
      : {}),
    ...(plugs.plugs.length > 0 || plugs.helpers.size > 0
      ? {
          interfaceTapName: (alias: string) => tapOf.get(alias),
          interfaceBridgeHelper: (alias: string) => plugs.helpers.get(alias),
          // QEMU forks the helper, which the seccomp sandbox's spawn=deny punishes with SIGSYS
          // (and no_new_privs would void its setuid bit): no sandbox for such a guest
          ...(plugs.helpers.size > 0 ? { seccompSandbox: false } : {}),
          resolveNetwork: (name: string) => {
            const bridge = plugs.bridgeOf.get(name);
            return bridge === undefined ? undefined : { type: "bridge" as const, bridge };
          },
        }
      : {}),
    domainId: id,
    paths: dp,
    hugetlbfs: usableHugetlbfsMounts(drv.options.hugetlbfsMounts),
    masterKey,
    monitor: { path: monitorPath },
    // emulated TPMs: the swtpm started below listens here; passthrough: QEMU opens the host TPM
    tpmEmulatorSocket: (alias: string) => swtpmSocketPath(dp.domainDir, alias),
    // <hostdev type='scsi'>: the adapter's device's SCSI generic node, from sysfs
    scsiGenericDevice: (adapter: string, bus: number, target: number, unit: number) =>
      hostScsiGenericDevice(drv.options.sysfsRoot, adapter, bus, target, unit),
    tpmPassthrough: (_alias: string, path: string) => ({
      cancelPath: hostTpmCancelPath(path, drv.options.sysfsRoot),
    }),
    graphics: graphicsContext(drv.options.graphics),
    ...(() => {
      const node = hostDrmRenderNode();
      return node !== undefined ? { drmRenderNode: node } : {};
    })(),
    accel: def.type === "kvm" ? "kvm" : "tcg",
    ...(opts.incoming ? { incoming: "defer" } : {}),
  };
  resolveDomainUsbHostdevs(drv.options.sysfsRoot, live);
  // graphics ports: reserved before the command line, given back on failure and at stop
  const graphicsPorts = await reserveGraphicsPorts(drv, live, {
    spiceTLS: ctx.graphics?.spiceTLS === true,
    domainDir: dp.domainDir,
  });
  prepareChannelPaths(live, dp.channelDir);
  let cmd;
  let hugepages;
  try {
    cmd = buildQemuCommand(live, ctx);
    hugepages = hugepageNeeds(cmd.args, ctx.hugetlbfs);
    checkHugepageSupply(def.name, hugepages);
  } catch (e) {
    graphicsPorts.release();
    throw e;
  }
  const argv = [cmd.emulator, ...cmd.args, "-pidfile", pidfile];

  // what each step made, undone newest first if a later one fails
  const undo = new DisposableStore();
  undo.addFn(() => {
    graphicsPorts.release();
  });
  let run: QemuRun | undefined;
  let logOffset = 0;
  let exitStatus: (() => { code: number | null; signal: NodeJS.Signals | null } | undefined) | undefined;
  try {
    await rm(dp.domainDir, { recursive: true, force: true });
    undo.addFn(() => rm(dp.domainDir, { recursive: true, force: true }));
    await mkdir(dp.domainDir, { recursive: true, mode: 0o750 });
    if (live.memoryBacking?.source?.type === "file") {
      undo.addFn(() => rm(dp.memoryDir, { recursive: true, force: true }));
      await mkdir(dp.memoryDir, { recursive: true, mode: 0o750 });
    }
    const hugepageDirs = await makeHugepageDirs(hugepages);
    for (const dir of hugepageDirs) {
      undo.addFn(() => rm(dir, { recursive: true, force: true }));
    }
    if (live.devices.channels.some((c) => c.type === "unix")) {
      undo.addFn(() => rm(dp.channelDir, { recursive: true, force: true }));
      await mkdir(dp.channelDir, { recursive: true, mode: 0o750 });
    }
    await writeFile(dp.masterKeyFile, masterKey, { mode: 0o600 });
    // virtiofs: one virtiofsd per shared folder, listening before QEMU connects
    const fsDaemons: VirtiofsDaemon[] = [];
    for (const fs of virtiofsFilesystems(live)) {
      const alias = fs.alias ?? "";
      const d = await startVirtiofsd({
        domain: def.name,
        fs,
        alias,
        socket: join(dp.domainDir, `${alias}-fs.sock`),
        logPath: drv.logPath(`${def.name}-${alias}-virtiofsd`),
      });
      undo.addFn(() => d.stop());
      fsDaemons.push(d);
    }
    // emulated TPMs: their state prepared (made once by swtpm_setup) and swtpm listening
    for (const tpm of emulatorTpms(live)) {
      const d = await startSwtpm({
        paths: drv.paths,
        def: live,
        tpm,
        domainDir: dp.domainDir,
        logFile: drv.logPath(`${def.name}-swtpm`),
      });
      undo.addFn(() => d.stop());
    }
    await rm(pidfile, { force: true });
    undo.addFn(() => rm(pidfile, { force: true }));
    if (runAs !== undefined) {
      undo.addFn(() => restoreOwners(drv, def.name));
      const taps = plugs.plugs
        .filter((p) => p.managed)
        .map((p) => ({
          name: p.tap,
          multiQueue: (live.devices.interfaces.find((n) => n.alias === p.alias)?.driver?.queues ?? 0) > 1,
        }));
      await labelForRunAs(
        drv,
        live,
        runAs,
        dp,
        pidfile,
        hugepages.map((h) => h.dir),
        taps,
      );
    }
    // host devices: managed PCI ones bound to vfio-pci, given back on failure and at stop
    undo.addFn(() => releaseDomainHostdevs(obj));
    await prepareDomainHostdevs(drv.options.sysfsRoot, obj, live);

    // AppArmor: the guest's profile (generated always, loaded where AppArmor is enabled)
    const aaFiles = runFiles(drv, live, id, { pidfile, hugepageDirs });
    undo.addFn(() => removeProfile(drv, live));
    const profile = await writeStartProfile(drv, live, aaFiles);
    const macvtaps = await createMacvtaps(live);
    let macvtapFdsOpen = true;
    const closeFds = (): void => {
      // once only: a closed descriptor's number may be reused
      if (macvtapFdsOpen) closeMacvtapFds(macvtaps);
      macvtapFdsOpen = false;
    };
    undo.addFn(async () => {
      closeFds();
      await releaseMacvtaps(macvtaps.map((m) => ({ dev: m.dev })));
    });

    const log = await openDomainLog(
      logPath,
      startHeader({
        version: drv.version,
        qemuVersion: caps.package || String(caps.version),
        hostname: drv.hostname(),
        env: cmd.env,
        argv,
      }),
    );
    logOffset = log.offset;
    let child;
    try {
      child = await spawnArgv(confineArgv(profile, argv), {
        env: cmd.env,
        stdout: log.fd,
        stderr: log.fd,
        detached: true,
        cwd: "/",
        extraFds: macvtaps.map((m) => m.fd),
        ...(runAs !== undefined ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
    } finally {
      await log.close();
      // QEMU holds its own copies now
      closeFds();
    }
    child.process.unref();
    const spawned = child;
    exitStatus = () => spawned.exitStatus();
    const stat = readProcStat(child.pid);
    const newRun = new QemuRun(
      child.pid,
      stat?.starttime ?? 0,
      monitorPath,
      dp.domainDir,
      pidfile,
      caps.version,
      Date.now(),
    );
    run = newRun;
    rememberRunFiles(newRun, aaFiles);
    newRun.store.addFn(() => {
      graphicsPorts.release();
    });
    newRun.autodestroyOwner = opts.autodestroyOwner;
    for (const d of fsDaemons) {
      newRun.store.addFn(stopWithGuest(newRun, d));
      newRun.virtiofsDaemons.set(d.alias, d);
      watchVirtiofsd(drv, obj, newRun, d);
    }
    undo.addFn(() => killNow(newRun));
    const exited = new AbortController();
    void child.exited.then(() => {
      exited.abort(new Error("QEMU exited"));
      if (!newRun.ended && !newRun.detached && obj.run === newRun) scheduleExitCheck(drv, obj, newRun);
    });

    // From here the domain is active: it has an id, shows in lists, and has a status file.
    const persistentDef = opts.persistentDef ?? def;
    obj.run = newRun;
    obj.id = id;
    obj.def = live;
    obj.newDef = obj.persistent ? persistentDef : undefined;
    obj.setState(DomainState.PAUSED, DomainPausedReason.STARTING_UP);
    undo.addFn(async () => {
      await newRun.store.dispose().catch(() => undefined);
      await drv.removeStatus(obj).catch(() => undefined);
      obj.run = undefined;
      obj.id = -1;
      obj.def = persistentDef;
      obj.newDef = undefined;
      obj.setState(DomainState.SHUTOFF, DomainShutoffReason.FAILED);
    });
    await drv.saveStatus(obj);

    const qmp = await connectQmp({
      path: monitorPath,
      name: `domain '${def.name}'`,
      timeoutMs: drv.options.monitorTimeoutMs,
      signal: exited.signal,
    });
    attachMonitor(drv, obj, newRun, qmp);
    // the enabled hotpluggable vCPUs (not in -smp), before their threads get their cgroups
    await setupHotpluggableVcpus(qmp, live);
    // the guest's cgroup and its <memtune>/<cputune>/<blkiotune>, before the vCPUs run
    await setupDomainCgroup(drv, newRun, live, qmp);
    await attachTaps(plugs);
    await refreshChardevs(qmp, live);
    // the live <backingStore> of each disk, from the chain QEMU opened
    await readBackingChains(qmp, live);
    await initGraphicsPasswords(qmp, live, drv.options.graphics);
    await setupBalloon(qmp, live);
    await setupDiskThrottling(qmp, live);
    if (caps.flags.has("set-action") && live.onReboot === "destroy") {
      await qmp.execute("set-action", { reboot: "shutdown" });
    }
    if (opts.incoming) await opts.incoming(newRun, qmp);
    if (!opts.paused) {
      newRun.runningReason = opts.runningReason;
      await qmp.execute("cont");
      if (obj.state !== DomainState.RUNNING) obj.setState(DomainState.RUNNING, opts.runningReason);
    } else {
      obj.setState(DomainState.PAUSED, DomainPausedReason.USER);
    }
    await drv.saveStatus(obj);
    undo.forgetAll();
  } catch (e) {
    if (run) run.stopping ??= { reason: DomainShutoffReason.FAILED, detail: DomainEventStoppedDetail.FAILED };
    // every undo runs even when one fails
    await undo.dispose().catch(() => undefined);
    if (run) {
      run.ended = true;
      await appendLog(logPath, stopLine("failed"));
    }
    throw await startError(def.name, logPath, logOffset, e, exitStatus?.(), opts.failure);
  }
}

/**
 * Before QEMU runs as `id`: the run's own dirs and files (runtime dir and all in it, the
 * pidfile QEMU writes, channel, memory and huge page dirs) become the user's, the dirs above them
 * traversable, and with dynamic ownership the files the definition names are handed over with
 * their owners recorded (`dac.ts`).
 */
async function labelForRunAs(
  drv: QemuDriver,
  live: DomainDef,
  id: DacIdentity,
  dp: ReturnType<typeof domainPaths>,
  pidfile: string,
  hugepageDirs: readonly string[],
  taps: readonly DacTap[],
): Promise<void> {
  // QEMU writes its pidfile into a dir of ours: made here, the user's
  await writeFile(pidfile, "", { mode: 0o644 });
  const owned = [dp.domainDir, pidfile];
  for (const f of await readdir(dp.domainDir)) owned.push(join(dp.domainDir, f));
  const p = drv.paths;
  const traverse = [p.stateDir, dirname(p.stateDir), p.libDir, dirname(p.libDir)];
  for (const dir of [dp.memoryDir, dp.channelDir]) {
    if (!existsSync(dir)) continue;
    owned.push(dir);
    traverse.push(...dirsBetween(dirname(dir), p.libDir));
  }
  for (const dir of hugepageDirs) {
    owned.push(dir);
    const mount = dir.endsWith(`/${dp.hugepageSubdir}`) ? dir.slice(0, -dp.hugepageSubdir.length - 1) : dir;
    traverse.push(...dirsBetween(dirname(dir), mount));
  }
  const targets = drv.options.dynamicOwnership ? dacFilesOf(live) : [];
  await dacLabel(p.stateDir, live.name, id, targets, owned, traverse, taps);
}

/** The error of a failed start: QEMU's own message when it exited, with the log tail. */
async function startError(
  name: string,
  logPath: string,
  offset: number,
  e: unknown,
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined,
  failure: StartOptions["failure"],
): Promise<unknown> {
  const monitorFailure =
    isVirtError(e) &&
    (e.code === "QEMU_MONITOR_CONNECT_FAILED" ||
      e.code === "QEMU_MONITOR_CLOSED" ||
      e.code === "QEMU_MONITOR_GREETING");
  if (!monitorFailure && exit === undefined) return e;
  const tail = await logTail(logPath, offset);
  // a command that failed had the undo kill QEMU: that kill is not the reason, the command's error is
  const how =
    exit && monitorFailure
      ? exit.signal !== null
        ? `killed by signal ${exit.signal}`
        : `exit status ${String(exit.code)}`
      : undefined;
  const reason =
    mainError(tail) ||
    (how !== undefined ? `QEMU ended with ${how}` : e instanceof Error ? e.message : String(e));
  const details = {
    logTail: tail,
    logFile: logPath,
    ...(exit ? { exitCode: exit.code, signal: exit.signal } : {}),
  };
  if (failure) return failure(reason, details, e);
  return new VirtError("QEMU_START_FAILED", { name, reason }, details, { cause: e });
}

/**
 * libvirt's qemuProcessStop: makes sure the process is gone, releases everything the run owned
 * (monitor, consoles, timers, status file, runtime dir, pidfile) and marks the domain shut off.
 * A transient domain leaves the list. The caller emits the lifecycle event.
 */
export async function stopProcess(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  reason: number,
  logReason: string,
): Promise<void> {
  if (run.ended) return;
  run.ended = true;
  if (obj.run !== run) return;
  await killNow(run);
  await releaseDomainHostdevs(obj);
  // macvtap devices outlive QEMU: named in the live XML, so found after a daemon restart too
  await releaseMacvtaps(macvtapsOf(obj.def));
  await run.store.dispose().catch(() => undefined);
  await drv.removeStatus(obj).catch(() => undefined);
  // swtpm ends with QEMU (--terminate); made sure of here, before its folder goes
  await stopSwtpms(run.domainDir, obj.def).catch(() => undefined);
  await rm(run.domainDir, { recursive: true, force: true }).catch(() => undefined);
  if (run.pidfile !== "") await rm(run.pidfile, { force: true }).catch(() => undefined);
  const dp = domainPaths(drv.paths, obj.id, obj.def.name);
  await rm(dp.memoryDir, { recursive: true, force: true }).catch(() => undefined);
  await rm(dp.channelDir, { recursive: true, force: true }).catch(() => undefined);
  await removeHugepageDirs(usableHugetlbfsMounts(drv.options.hugetlbfsMounts), dp.hugepageSubdir);
  await removeProfile(drv, obj.def).catch(() => undefined);
  await restoreOwners(drv, obj.def.name);
  await appendLog(drv.logPath(obj.def.name), stopLine(logReason));
  obj.run = undefined;
  obj.id = -1;
  if (obj.newDef) {
    obj.def = obj.newDef;
    obj.newDef = undefined;
  } else {
    delete obj.def.id;
  }
  obj.setState(DomainState.SHUTOFF, reason);
  if (!obj.persistent) await removeTransient(drv, obj);
}

/** Makes `qmp` the monitor of `run`: events go to the domain, a close starts the exit check. */
export function attachMonitor(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, qmp: QmpClient): void {
  run.qmp = qmp;
  const offEvent = qmp.onEvent((ev) => {
    if (obj.run !== run || run.ended) return;
    handleMonitorEvent(drv, obj, run, ev);
    dispatchMonitorEvent(drv, obj, ev);
  });
  attachAgent(drv, obj, run, qmp);
  const offClose = qmp.onClose(() => {
    if (run.qmp === qmp) run.qmp = undefined;
    if (run.detached || run.ended || obj.run !== run) return;
    scheduleExitCheck(drv, obj, run);
  });
  run.store.addFn(async () => {
    offEvent();
    offClose();
    if (run.qmp === qmp) run.qmp = undefined;
    await qmp.close();
  });
}

/**
 * The monitor closed or the process exited: once the process is gone, the domain is shut off
 * (reason shutdown if the guest had shut down, crashed otherwise) with a STOPPED event. A
 * monitor that closed while QEMU still runs is reconnected instead. Nothing happens when tvirt
 * itself is stopping the process (destroy, save): the one stopping it cleans up.
 */
export function scheduleExitCheck(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun): void {
  if (run.exitCheck || run.ended || run.detached) return;
  // (a function, not the fields: they change while this waits)
  const settled = (): boolean => run.detached || run.ended || run.stopping !== undefined;
  run.exitCheck = (async () => {
    // QEMU closes its monitor a moment before it exits.
    const gone = await waitForProcessExit(run.pid, 1000, run.starttime);
    if (settled()) return;
    if (!gone) {
      try {
        const qmp = await connectQmp({
          path: run.monitorPath,
          name: `domain '${obj.name}'`,
          timeoutMs: 5000,
        });
        if (settled()) {
          await qmp.close();
          return;
        }
        attachMonitor(drv, obj, run, qmp);
        run.exitCheck = undefined;
        return;
      } catch {
        // The monitor cannot be had back: a QEMU that cannot be managed is ended (as libvirt).
        if (!settled()) await killNow(run);
      }
    }
    if (settled()) return;
    let job;
    try {
      job = await obj.job.acquire("destroy", "the QEMU exit handler", { cancelReason: "QEMU exited" });
    } catch {
      return;
    }
    try {
      if (obj.run !== run || settled()) return;
      const shutdown = obj.state === DomainState.SHUTDOWN;
      await stopProcess(
        drv,
        obj,
        run,
        shutdown ? DomainShutoffReason.SHUTDOWN : DomainShutoffReason.CRASHED,
        shutdown ? "shutdown" : "crashed",
      );
      drv.lifecycle(
        obj,
        DomainEventType.STOPPED,
        shutdown ? DomainEventStoppedDetail.SHUTDOWN : DomainEventStoppedDetail.FAILED,
      );
    } finally {
      job.release();
    }
  })().catch(() => undefined);
}

/** Lets go of a process without stopping it (the driver closes; the guest keeps running). */
export async function detachRun(run: QemuRun): Promise<void> {
  run.detached = true;
  await run.store.dispose().catch(() => undefined);
}

/**
 * Takes over a QEMU process an earlier driver instance started (libvirt's qemuProcessReconnect):
 * checks that the pid is alive and is that QEMU, reconnects the monitor, refreshes the state.
 * A process that is gone becomes shut off; a process that is not ours is never signalled.
 */
export async function reconnectProcess(
  drv: QemuDriver,
  obj: QemuDomainObj,
  status: StatusRecord,
): Promise<void> {
  const run = new QemuRun(
    status.pid,
    status.starttime,
    status.monitorPath,
    status.domainDir,
    status.pidfile,
    status.qemuVersion,
    status.startedAt,
  );
  run.autodestroy = status.autodestroy;
  run.fakeReboot = status.fakeReboot;
  for (const t of status.taints ?? []) run.taints.add(t);
  run.asyncJob = status.asyncJob;
  obj.run = run;
  obj.id = status.domainId ?? drv.allocateId();
  obj.def.id = obj.id;
  drv.noteId(obj.id);
  obj.setState(status.state, status.reason);
  adoptDomainHostdevs(drv.options.sysfsRoot, obj, obj.def);
  const graphicsPorts = adoptGraphicsPorts(drv, obj.def);
  run.store.addFn(() => {
    graphicsPorts.release();
  });

  const cmdline = readProcCmdline(status.pid);
  const ours =
    isProcessAlive(status.pid, status.starttime) &&
    cmdline !== undefined &&
    cmdline.some((a) => a.includes(status.monitorPath));
  if (!ours) {
    // Gone (or the pid now belongs to someone else, which is never touched).
    run.stopping = { reason: DomainShutoffReason.CRASHED, detail: DomainEventStoppedDetail.FAILED };
    const shutdown = status.state === DomainState.SHUTDOWN;
    await stopProcessOfGone(drv, obj, run, shutdown);
    return;
  }
  await adoptDomainCgroup(drv, obj, run).catch(() => undefined);
  let qmp: QmpClient;
  try {
    qmp = await connectQmp({
      path: status.monitorPath,
      name: `domain '${obj.name}'`,
      timeoutMs: drv.options.monitorTimeoutMs,
    });
  } catch {
    // libvirt: the monitor cannot be had back, so the VM must not run unmanaged.
    run.stopping = { reason: DomainShutoffReason.CRASHED, detail: DomainEventStoppedDetail.FAILED };
    await stopProcess(drv, obj, run, DomainShutoffReason.CRASHED, "crashed");
    return;
  }
  attachMonitor(drv, obj, run, qmp);
  // virtiofs: the daemons an earlier instance started, watched again (or reported gone)
  await adoptVirtiofsDaemons(drv, obj, run).catch(() => undefined);
  const st = (await qmp.execute("query-status").catch(() => undefined)) as
    { status?: unknown; running?: unknown } | undefined;
  const qemuStatus = typeof st?.status === "string" ? st.status : "unknown";
  const interruptedSave = run.asyncJob?.kind === "save";
  const partialImage = run.asyncJob?.path;
  // a migration job stays for the driver's recovery (migration-recovery.ts), which decides by phase
  if (!run.asyncJob?.kind.startsWith("migration")) run.asyncJob = undefined;
  if (interruptedSave && partialImage !== undefined) await removePartialImage(partialImage);
  if (qemuStatus === "shutdown") {
    // The guest shut down while nobody watched; -no-shutdown kept QEMU waiting for us.
    obj.setState(DomainState.SHUTDOWN, 0);
    run.gotShutdown = true;
    if (run.fakeReboot) fakeReboot(drv, obj, run);
    else signalProcess(run.pid, "SIGTERM", run.starttime);
  } else if (st?.running === true) {
    if (obj.state !== DomainState.RUNNING) obj.setState(DomainState.RUNNING, DomainRunningReason.UNPAUSED);
  } else if (interruptedSave && status.asyncJob?.wasRunning === true) {
    // A save was cut short by the restart: give the guest its CPUs back.
    run.runningReason = DomainRunningReason.SAVE_CANCELED;
    await qmp.execute("cont").catch(() => undefined);
    if (obj.state !== DomainState.RUNNING)
      obj.setState(DomainState.RUNNING, DomainRunningReason.SAVE_CANCELED);
  } else if (qemuStatus === "guest-panicked") {
    obj.setState(DomainState.CRASHED, 1);
  } else if (obj.state === DomainState.RUNNING) {
    obj.setState(DomainState.PAUSED, DomainPausedReason.UNKNOWN);
  }
  await drv.saveStatus(obj);
}

/** Removes a save image an interrupted save left, if it is still marked partial. */
async function removePartialImage(path: string): Promise<void> {
  try {
    const fh = await open(path, "r");
    const head = Buffer.alloc(16);
    try {
      await fh.read(head, 0, 16, 0);
    } finally {
      await fh.close();
    }
    if (head.toString("latin1") === SAVE_PARTIAL) await rm(path, { force: true });
  } catch {
    // nothing there
  }
}

async function stopProcessOfGone(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  shutdown: boolean,
): Promise<void> {
  // Never signal: the pid is dead or belongs to another process now.
  run.ended = true;
  await releaseDomainHostdevs(obj);
  await run.store.dispose().catch(() => undefined);
  await drv.removeStatus(obj).catch(() => undefined);
  await stopSwtpms(run.domainDir, obj.def).catch(() => undefined);
  await rm(run.domainDir, { recursive: true, force: true }).catch(() => undefined);
  if (run.pidfile !== "") await rm(run.pidfile, { force: true }).catch(() => undefined);
  await removeHugepageDirs(
    usableHugetlbfsMounts(drv.options.hugetlbfsMounts),
    domainPaths(drv.paths, obj.id, obj.def.name).hugepageSubdir,
  );
  await removeProfile(drv, obj.def).catch(() => undefined);
  await removeCgroupOfGone(drv, obj.id, obj.def.name).catch(() => undefined);
  await restoreOwners(drv, obj.def.name);
  await appendLog(drv.logPath(obj.def.name), stopLine(shutdown ? "shutdown" : "crashed"));
  obj.run = undefined;
  obj.id = -1;
  if (obj.newDef) {
    obj.def = obj.newDef;
    obj.newDef = undefined;
  } else {
    delete obj.def.id;
  }
  obj.setState(DomainState.SHUTOFF, shutdown ? DomainShutoffReason.SHUTDOWN : DomainShutoffReason.CRASHED);
  if (!obj.persistent) await removeTransient(drv, obj);
}

/** A transient domain that stopped leaves the list, and its TPM states go (libvirt's qemuDomainRemoveInactive). */
async function removeTransient(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  drv.removeDomain(obj, "the transient domain stopped");
  await removeTpmStates(drv.paths, obj.def, 0).catch(() => undefined);
}

/** Gives back the owners a run as another user changed (no record: nothing to do). */
export async function restoreOwners(drv: QemuDriver, name: string): Promise<void> {
  for (const problem of await dacRestore(drv.paths.stateDir, name)) drv.warn(problem);
}
