/**
 * One QEMU driver instance per URI root (libvirt's `virQEMUDriver`): the domain list, the files
 * of that root (persistent configs, autostart links, status files, logs, managed save images),
 * QEMU capabilities, the event hub, and the domain ids. Root-agnostic: embedded mode opens it
 * for `qemu:///embed?root=DIR` in the caller's process, the daemon for system and session.
 *
 * Opening it loads the configs and status files, reconnects to every QEMU still running (none is
 * killed), and autostarts what is marked so. Closing it lets go of monitors and timers but never
 * stops a guest.
 */
import { hostHasSystemd } from "../../../host/cgroup.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  assignAliases,
  defaultChannelPaths,
  formatDomainXML,
  parseDomainXML,
  type DomainDef,
} from "../../../conf/domain/index.ts";
import type { HostAudioFacts } from "../../../conf/domain/types.ts";
import { probeKvm, type KvmProbeResult } from "../../../host/kvm.ts";
import { PortAllocator, type PortRange } from "../../../host/ports.ts";
import {
  flushDirSyncs,
  isAtomicTempName,
  removeFileDurable,
  symlinkAtomic,
  writeFileAtomic,
} from "../../../util/atomic-file.ts";
import { DisposableStore } from "../../../util/disposable.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { DomainEventId, type DomainEventType } from "../../enums.ts";
import { domainFactsFromCaps, getQemuCaps, type QemuCaps } from "../capabilities/index.ts";
import { defaultEmulator } from "../command/context.ts";
import { slirpHostForwards } from "../command/net.ts";
import { defineFirmware } from "./firmware.ts";
import { driverPaths, type DriverPaths, type DriverRoot } from "../paths.ts";
import { DomainList, QemuDomainObj, type LazyDef } from "./domain.ts";
import { DomainEventHub } from "../../events.ts";
import { hostName } from "../../../host/facts.ts";
import { recoverMigrationJob } from "./migration-recovery.ts";
import { detachRun, reconnectProcess } from "./process.ts";
import { forgetSnapshots } from "./snapshots.ts";
import { ConfigCache, factsHash, statKey } from "./config-cache.ts";
import { DEFAULT_BRIDGE_HELPER, type BridgeHelperOptions } from "./net-plug.ts";
import { RootLock } from "./root-lock.ts";
import { DAC_RECORD_SUFFIX, DEFAULT_QEMU_USER, dacRestore, type RunAsConfig } from "./dac.ts";
import { formatStatusXML, parseStatusXML } from "./status-xml.ts";
import { localVolumeResolver, type VolumeResolver } from "./volumes.ts";
import { localDiskPath } from "../command/disk.ts";
import { checkObjectName, DEFAULT_MIN_MEMORY_KIB } from "./validate.ts";
import { securityModel } from "./apparmor.ts";

/**
 * qemu.conf's graphics settings (tvirtd.conf carries the same keys): where VNC and SPICE listen
 * when the XML names no address, the default passwords of a graphics device without `passwd`,
 * SPICE and VNC TLS (with their certificate dirs: `ca-cert.pem`, `server-cert.pem`,
 * `server-key.pem`) and SASL, and a UNIX socket when the XML names no address.
 */
export interface GraphicsOptions {
  readonly vncListen?: string;
  readonly spiceListen?: string;
  readonly vncPassword?: string;
  readonly spicePassword?: string;
  readonly spiceTLS?: boolean;
  readonly spiceTLSx509certdir?: string;
  readonly spiceSASL?: boolean;
  readonly spiceSASLdir?: string;
  readonly spiceAutoUnixSocket?: boolean;
  readonly vncAutoUnixSocket?: boolean;
  readonly vncTLS?: boolean;
  readonly vncTLSx509certdir?: string;
  readonly vncTLSx509verify?: boolean;
  readonly vncSASL?: boolean;
  readonly vncSASLdir?: string;
  /** qemu.conf vnc_allow_host_audio / nographics_allow_host_audio (the default `<audio>`) */
  readonly vncAllowHostAudio?: boolean;
  readonly nogfxAllowHostAudio?: boolean;
}

/** What picks the default `<audio>`: qemu.conf's keys and this daemon's audio environment. */
function hostAudioFacts(g: GraphicsOptions): HostAudioFacts {
  const env: Record<string, string> = {};
  for (const k of ["QEMU_AUDIO_DRV", "SDL_AUDIODRIVER", "QEMU_PA_SERVER"]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return {
    ...(g.vncAllowHostAudio === true ? { vncAllowHostAudio: true } : {}),
    ...(g.nogfxAllowHostAudio === true ? { nogfxAllowHostAudio: true } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
  };
}

export interface QemuDriverOptions {
  /** Emulator for domains whose XML names none (default `/usr/bin/qemu-system-x86_64`). */
  readonly emulator?: string;
  /** Where probed capabilities are cached (default: the root's cache dir). */
  readonly capsCacheDir?: string;
  /** How long an API waits for a domain's job lock (default 30 s, as libvirt). */
  readonly jobTimeoutMs?: number;
  /** Smallest guest memory accepted (KiB, default 16 MiB). */
  readonly minMemoryKiB?: number;
  /** destroy: wait after SIGTERM before SIGKILL (default 10 s, as libvirt). */
  readonly destroyGraceMs?: number;
  /** Time QEMU has to open its monitor at start and on reconnect (default 30 s). */
  readonly monitorTimeoutMs?: number;
  /** Start autostart domains when the driver opens (default true). */
  readonly autostart?: boolean;
  /**
   * Autostart once per host boot (libvirt's `virDriverShouldAutostart`, the daemon's choice):
   * the first instance leaves `AUTOSTART_MARKER` in the root's state dir, which lives on a
   * tmpfs cleared at boot (`/run`), and later instances find it and start nothing, so a daemon
   * started again (socket activation, a restart) does not bring back autostart guests the admin
   * shut down. Default false: each process's first instance autostarts (embedded use).
   */
  readonly autostartOncePerBoot?: boolean;
  /** KVM check (default: `probeKvm`, asking QEMU). */
  readonly probeKvm?: (binary: string) => Promise<KvmProbeResult>;
  /** Host devices: the sysfs root read and written for node devices and hostdevs (default `/sys`; tests give a fake tree). */
  readonly sysfsRoot?: string;
  /** Ports for VNC and SPICE with autoport (qemu.conf `remote_display_port_min/max`, default 5900-65535). */
  readonly displayPorts?: PortRange;
  /** Ports for VNC websockets (qemu.conf `remote_websocket_port_min/max`, default 5700-65535). */
  readonly websocketPorts?: PortRange;
  /** qemu.conf's graphics settings (default: none set, listening on 127.0.0.1). */
  readonly graphics?: GraphicsOptions;
  /**
   * `<portForward>` on SLIRP `type='user'` interfaces, mapped to QEMU's `hostfwd` (a tvirt
   * extension, default true; false gives libvirt's error: port forwards need passt).
   */
  readonly slirpPortForwards?: boolean;
  /**
   * qemu.conf `hugetlbfs_mount`: the hugetlbfs mount points guests' huge pages come from (the
   * first of each page size is its default). Default: every mounted hugetlbfs file system.
   */
  readonly hugetlbfsMounts?: readonly string[];
  /** How a guest reaches a bridge (`type='bridge'`, or a network's bridge). */
  readonly bridgeHelper?: Partial<BridgeHelperOptions>;
  /**
   * How `<disk type='volume'>` finds its volume's path, type and format (at start and hotplug):
   * the storage driver of the same root. Default: `localVolumeResolver(root)`, the pool
   * definitions of the root's storage config dir read directly.
   */
  readonly resolveVolume?: VolumeResolver;
  /**
   * The user (and group) QEMU runs as (qemu.conf's `user`/`group`; libvirt's DAC driver).
   * Default: `tvirt-qemu` for a `system` root when this process is root, else none (`null`:
   * QEMU runs as the caller, as for embed and session roots). tvirtd's system instance with
   * `state_root` passes it explicitly, since its root is an embed-layout one.
   */
  readonly runAs?: RunAsConfig | null;
  /**
   * With `runAs`: hand the files QEMU opens to that user before start and give the original
   * owners back at stop (qemu.conf's `dynamic_ownership`, default true).
   */
  readonly dynamicOwnership?: boolean;
  /**
   * Per-guest cgroups (qemu.conf `cgroup_controllers`, the domain's `<resource><partition>`):
   * the partition guests go under (default `/machine`). Default: on for a `system` root when
   * this process is root, off otherwise (`null`: off; the session driver never uses them, as
   * libvirt's). An embed root opts in by passing it (tests pass a private partition).
   */
  readonly cgroups?: CgroupOptions | null;
}

/** Where guests' cgroups go. */
export interface CgroupOptions {
  /** Resource partition (default `/machine`). */
  readonly partition?: string;
  /** Names as libvirt with machined (`machine.slice/machine-qemu\x2d…scope`) or without (default: systemd as init → systemd). */
  readonly layout?: "plain" | "systemd";
}

export interface ResolvedDriverOptions {
  readonly emulator: string;
  readonly capsCacheDir: string;
  readonly jobTimeoutMs: number;
  readonly minMemoryKiB: number;
  readonly destroyGraceMs: number;
  readonly monitorTimeoutMs: number;
  readonly autostart: boolean;
  readonly autostartOncePerBoot: boolean;
  readonly probeKvm: (binary: string) => Promise<KvmProbeResult>;
  readonly sysfsRoot: string;
  readonly displayPorts: PortRange;
  readonly websocketPorts: PortRange;
  readonly graphics: GraphicsOptions;
  readonly slirpPortForwards: boolean;
  readonly bridgeHelper: BridgeHelperOptions;
  readonly resolveVolume: VolumeResolver;
  readonly hugetlbfsMounts: readonly string[] | undefined;
  readonly runAs: RunAsConfig | undefined;
  readonly dynamicOwnership: boolean;
  readonly cgroups: Required<CgroupOptions> | undefined;
}

function resolveCgroupOptions(
  root: DriverRoot,
  o: CgroupOptions | null | undefined,
): Required<CgroupOptions> | undefined {
  if (o === null || root.kind === "session") return undefined;
  if (o === undefined && !(root.kind === "system" && process.getuid?.() === 0)) return undefined;
  return {
    partition: o?.partition ?? "/machine",
    layout: o?.layout ?? (hostHasSystemd() ? "systemd" : "plain"),
  };
}

const CONFIG_HEADER = `<!--
WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:
  tvirsh edit NAME
or other application using the tvirt API.
-->

`;

type CapsAndFacts = { caps: QemuCaps; facts: ReturnType<typeof domainFactsFromCaps>; hash: string };
type CapsMemo = Map<string, CapsAndFacts>;

export class QemuDriver {
  readonly paths: DriverPaths;
  readonly options: ResolvedDriverOptions;
  readonly domains = new DomainList();
  readonly events = new DomainEventHub();
  readonly store = new DisposableStore();
  /** Problems met while loading state (bad files, failed autostarts): also emitted as warnings. */
  readonly warnings: string[] = [];
  /** libvirt's remotePorts and webSocketPorts: graphics ports held by this driver's guests. */
  readonly ports: { readonly display: PortAllocator; readonly websocket: PortAllocator };
  readonly version = "0.1.0";
  #nextId = 1;
  readonly #kvm = new Map<string, Promise<KvmProbeResult>>();
  #lock: RootLock | undefined;
  #closed = false;
  /** A status file could not be read at load: its guest's runtime dir must not be swept. */
  #statusIgnored = false;
  #hostname: string | undefined;
  /** Defaults derived from each capabilities object (a new probe gives a new object). */
  readonly #factsByCaps = new WeakMap<QemuCaps, CapsAndFacts>();

  private constructor(
    readonly root: DriverRoot,
    options: QemuDriverOptions,
  ) {
    this.paths = driverPaths(root);
    this.options = {
      emulator: options.emulator ?? defaultEmulator,
      capsCacheDir: options.capsCacheDir ?? this.paths.cacheDir,
      jobTimeoutMs: options.jobTimeoutMs ?? 30_000,
      minMemoryKiB: options.minMemoryKiB ?? DEFAULT_MIN_MEMORY_KIB,
      destroyGraceMs: options.destroyGraceMs ?? 10_000,
      monitorTimeoutMs: options.monitorTimeoutMs ?? 30_000,
      autostart: options.autostart ?? true,
      autostartOncePerBoot: options.autostartOncePerBoot ?? false,
      probeKvm: options.probeKvm ?? ((binary) => probeKvm({ binary })),
      sysfsRoot: options.sysfsRoot ?? "/sys",
      displayPorts: options.displayPorts ?? { min: 5900, max: 65535 },
      websocketPorts: options.websocketPorts ?? { min: 5700, max: 65535 },
      graphics: options.graphics ?? {},
      slirpPortForwards: options.slirpPortForwards ?? true,
      bridgeHelper: {
        use: options.bridgeHelper?.use ?? DEFAULT_BRIDGE_HELPER.use,
        helper: options.bridgeHelper?.helper ?? DEFAULT_BRIDGE_HELPER.helper,
        conf: options.bridgeHelper?.conf ?? DEFAULT_BRIDGE_HELPER.conf,
      },
      resolveVolume: options.resolveVolume ?? localVolumeResolver(root),
      hugetlbfsMounts: options.hugetlbfsMounts,
      runAs:
        options.runAs === null
          ? undefined
          : (options.runAs ??
            (root.kind === "system" && process.getuid?.() === 0 ? { user: DEFAULT_QEMU_USER } : undefined)),
      dynamicOwnership: options.dynamicOwnership ?? true,
      cgroups: resolveCgroupOptions(root, options.cgroups),
    };
    this.ports = {
      display: new PortAllocator("display", this.options.displayPorts),
      websocket: new PortAllocator("webSocket", this.options.websocketPorts),
    };
  }

  /** Opens the driver of a root: state dirs, lock, configs, status files, reconnection. */
  static async open(root: DriverRoot, options: QemuDriverOptions = {}): Promise<QemuDriver> {
    const drv = new QemuDriver(root, options);
    await drv.#init();
    return drv;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // --- paths ---------------------------------------------------------------------------------

  configPath(name: string): string {
    return join(this.paths.configDir, `${name}.xml`);
  }

  autostartLink(name: string): string {
    return join(this.paths.autostartDir, `${name}.xml`);
  }

  statusPath(name: string): string {
    return join(this.paths.stateDir, `${name}.xml`);
  }

  logPath(name: string): string {
    return join(this.paths.logDir, `${name}.log`);
  }

  managedSavePath(name: string): string {
    return join(this.paths.saveDir, `${name}.save`);
  }

  hasManagedSave(obj: QemuDomainObj): boolean {
    return existsSync(this.managedSavePath(obj.name));
  }

  hostname(): string {
    this.#hostname ??= hostName();
    return this.#hostname;
  }

  // --- ids, capabilities, parsing -----------------------------------------------------------

  allocateId(): number {
    return this.#nextId++;
  }

  /** Keeps ids unique after reconnecting to a domain with this id. */
  noteId(id: number): void {
    if (id >= this.#nextId) this.#nextId = id + 1;
  }

  caps(emulator?: string): Promise<QemuCaps> {
    return getQemuCaps(emulator ?? this.options.emulator, { cacheDir: this.options.capsCacheDir });
  }

  kvm(binary: string): Promise<KvmProbeResult> {
    let p = this.#kvm.get(binary);
    if (!p) {
      p = this.options.probeKvm(binary);
      this.#kvm.set(binary, p);
    }
    return p;
  }

  /**
   * Parses domain XML with libvirt's post-parse defaults for the emulator it names (probing that
   * emulator's capabilities). `abiUpdate` for new definitions (define, create).
   */
  async parseDomain(
    xml: string,
    options: { document?: string; abiUpdate?: boolean; noDefaults?: boolean; status?: boolean } = {},
  ): Promise<DomainDef> {
    return (await this.parseDomainWithCaps(xml, options)).def;
  }

  /** parseDomain, and the capabilities its defaults came from (none with `noDefaults`). */
  async parseDomainWithCaps(
    xml: string,
    options: { document?: string; abiUpdate?: boolean; noDefaults?: boolean; status?: boolean } = {},
  ): Promise<{ def: DomainDef; caps?: QemuCaps }> {
    const document = options.document ?? "(domain_definition)";
    if (options.noDefaults)
      return {
        def: parseDomainXML(xml, { document, noDefaults: true, status: options.status ?? false }).def,
      };
    // The default emulator's defaults go in first: then a definition that names no emulator or
    // the default one (the usual case) is parsed in one pass. Failing to get them is an error
    // only for such a definition, and then #parseWithFacts asks again and reports it.
    const memo: CapsMemo = new Map();
    await this.#capsFacts(this.options.emulator, memo).catch(() => undefined);
    const { def, emulator } = await this.#parseWithFacts(xml, document, memo, options.abiUpdate ?? false);
    // SLIRP port forwards SLIRP cannot do are refused at define, not only when QEMU starts
    for (const n of def.devices.interfaces) {
      if (n.type === "user" && n.backend?.type !== "passt") slirpHostForwards(n);
    }
    return { def, caps: memo.get(emulator)?.caps };
  }

  /**
   * Parses with the defaults of the emulator the definition names, taken from `memo` (one pass
   * when they are there; else they are added and the XML is parsed again). Loading configs
   * shares one memo, so each emulator is looked up once per load.
   */
  async #parseWithFacts(
    xml: string,
    document: string,
    memo: CapsMemo,
    abiUpdate = false,
  ): Promise<{ def: DomainDef; emulator: string; hash: string }> {
    for (;;) {
      let used: CapsAndFacts | undefined;
      let missing: string | undefined;
      let key = this.options.emulator;
      try {
        const { def } = parseDomainXML(xml, {
          document,
          abiUpdate,
          slirpPortForwards: this.options.slirpPortForwards,
          facts: (bare) => {
            key = bare.devices.emulator ?? this.options.emulator;
            used = memo.get(key);
            if (used) return used.facts;
            missing = key;
            throw new Error(`no capabilities of '${key}' yet`);
          },
        });
        def.devices.emulator ??= used!.caps.emulator;
        return { def, emulator: key, hash: used!.hash };
      } catch (e) {
        if (missing === undefined) throw e;
        await this.#capsFacts(missing, memo);
      }
    }
  }

  /**
   * The capabilities of `emulator` and the domain defaults derived from them: from `memo`, else
   * looked up (the defaults are derived once per capabilities object, that is once per probe).
   */
  async #capsFacts(emulator: string, memo: CapsMemo): Promise<CapsAndFacts> {
    let got = memo.get(emulator);
    if (!got) {
      const caps = await this.caps(emulator);
      got = this.#factsByCaps.get(caps);
      if (!got) {
        const facts = {
          ...domainFactsFromCaps(caps),
          fillFirmware: defineFirmware(this.root, this.paths),
          hostAudio: hostAudioFacts(this.options.graphics),
          libDir: this.paths.libDir,
          // asked at parse time: AppArmor's state is looked up once, on first use
          hostSecurityModel: () => securityModel(this).model,
          // channel sockets at a path this driver generates are dropped, as libvirt does
          isDefaultChannelPath: defaultChannelPaths(this.paths.channelDir, [
            dirname(this.paths.channelDir),
            join(this.paths.stateDir, "channel"),
          ]),
        };
        got = { caps, facts, hash: factsHash(facts) };
        this.#factsByCaps.set(caps, got);
      }
      memo.set(emulator, got);
    }
    return got;
  }

  // --- events ----------------------------------------------------------------------------------

  lifecycle(obj: QemuDomainObj, event: DomainEventType, detail: number): void {
    this.events.emit(obj.ref(), { id: DomainEventId.LIFECYCLE, event, detail });
  }

  // --- domain list -------------------------------------------------------------------------

  newDomainObj(def: DomainDef | LazyDef): QemuDomainObj {
    return new QemuDomainObj(def, this.options.jobTimeoutMs);
  }

  removeDomain(obj: QemuDomainObj, why: string): void {
    this.domains.remove(obj);
    obj.job.dispose(why);
    forgetSnapshots(this, obj).catch((e: unknown) => {
      this.warn(
        `cannot remove the snapshot metadata of '${obj.name}': ${e instanceof Error ? e.message : String(e)}`,
      );
    });
  }

  // --- files (each domain's writes run in order; each writes the state current when it runs) --

  /** Writes the persistent definition of `obj` to `<name>.xml`. */
  saveConfig(obj: QemuDomainObj): Promise<void> {
    return obj.queueFileOp(async () => {
      if (!obj.persistent || obj.removed) return;
      checkObjectName("domain", obj.name);
      const xml = formatDomainXML(obj.persistentDef(), { secure: true });
      await writeFileAtomic(this.configPath(obj.name), CONFIG_HEADER.replace("NAME", obj.name) + xml, {
        mode: 0o600,
      });
    });
  }

  /** Removes `<name>.xml` and its autostart link. */
  deleteConfig(obj: QemuDomainObj, name = obj.name): Promise<void> {
    return obj.queueFileOp(async () => {
      await removeFileDurable(this.autostartLink(name));
      await removeFileDurable(this.configPath(name));
    });
  }

  setAutostartLink(obj: QemuDomainObj, on: boolean): Promise<void> {
    return obj.queueFileOp(async () => {
      if (on) await symlinkAtomic(this.configPath(obj.name), this.autostartLink(obj.name));
      else await removeFileDurable(this.autostartLink(obj.name));
    });
  }

  /**
   * Which running guests use which host paths as disk sources (files, block devices,
   * directories, `type='volume'` disks as resolved at start or hotplug): for the storage driver
   * of the same root, which refuses to delete or shrink a volume in use and names the guests.
   * Paths are as the live definitions give them; a path used by several guests lists each.
   */
  domainsUsingPaths(): Map<string, string[]> {
    const users = new Map<string, string[]>();
    for (const obj of this.domains.all()) {
      if (!obj.isActive()) continue;
      for (const disk of obj.def.devices.disks) {
        const path = localDiskPath(disk);
        if (path === undefined) continue;
        const names = users.get(path) ?? [];
        if (!names.includes(obj.name)) names.push(obj.name);
        users.set(path, names);
      }
    }
    return users;
  }

  /** Writes the status file of an active domain (no-op once it stopped). */
  saveStatus(obj: QemuDomainObj): Promise<void> {
    return obj.queueFileOp(async () => {
      const run = obj.run;
      if (!run || run.ended) return;
      const xml = formatStatusXML({
        state: obj.state,
        reason: obj.reason,
        pid: run.pid,
        starttime: run.starttime,
        monitorPath: run.monitorPath,
        pidfile: run.pidfile,
        domainDir: run.domainDir,
        qemuVersion: run.qemuVersion,
        startedAt: run.startedAt,
        autodestroy: run.autodestroyOwner !== undefined || run.autodestroy,
        fakeReboot: run.fakeReboot,
        taints: [...run.taints],
        ...(run.asyncJob ? { asyncJob: run.asyncJob } : {}),
        domainXML: formatDomainXML(obj.def, { secure: true, live: true, status: true }),
      });
      await writeFileAtomic(this.statusPath(obj.name), xml, { mode: 0o600 });
    });
  }

  /** `saveStatus` from event handlers: failures become warnings. */
  saveStatusLater(obj: QemuDomainObj): void {
    this.saveStatus(obj).catch((e: unknown) => {
      this.warn(
        `cannot write the status of domain '${obj.name}': ${e instanceof Error ? e.message : String(e)}`,
      );
    });
  }

  removeStatus(obj: QemuDomainObj): Promise<void> {
    return obj.queueFileOp(async () => {
      await removeFileDurable(this.statusPath(obj.name));
    });
  }

  warn(message: string): void {
    this.warnings.push(message);
    process.emitWarning(message, "TvirtWarning");
  }

  // --- start-up and shut-down -----------------------------------------------------------------

  async #init(): Promise<void> {
    const p = this.paths;
    for (const dir of [p.configDir, p.autostartDir, p.stateDir, p.libDir, p.logDir, p.saveDir]) {
      await mkdir(dir, { recursive: true, mode: 0o750 });
    }
    this.#lock = await RootLock.acquire(p.stateDir);
    try {
      await this.#removeTempFiles();
      await this.#loadConfigs();
      await this.#loadStatus();
      await this.#restoreStaleOwners();
      await this.#removeStaleRuntimeDirs();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /**
   * Ownership records of domains that are not running (a start or stop cut short by a crash of
   * the driver): their files get their owners back.
   */
  async #restoreStaleOwners(): Promise<void> {
    for (const f of await readdir(this.paths.stateDir).catch(() => [] as string[])) {
      if (!f.endsWith(DAC_RECORD_SUFFIX)) continue;
      const name = f.slice(0, -DAC_RECORD_SUFFIX.length);
      if (this.domains.byName(name)?.run !== undefined) continue;
      for (const problem of await dacRestore(this.paths.stateDir, name)) this.warn(problem);
    }
  }

  /**
   * Per-domain runtime dirs (`domain-<id>-<name>`: monitor socket, master key; memory backing
   * and channel dirs) of no running domain: left by guests whose QEMU died with the driver away,
   * or by a host that lost power (their status files went with /run, the dirs under the lib
   * dir stayed). Nothing else uses them once their QEMU is gone, and a later guest with that
   * id would otherwise find another's files.
   */
  async #removeStaleRuntimeDirs(): Promise<void> {
    // An unreadable status file may belong to a QEMU that still runs: keep every dir then.
    if (this.#statusIgnored) return;
    const live = new Set<string>();
    for (const obj of this.domains.all()) {
      const dir = obj.run?.domainDir;
      if (dir !== undefined) live.add(dir.slice(dir.lastIndexOf("/") + 1 + "domain-".length));
    }
    const p = this.paths;
    const sweep = async (dir: string, prefix: string): Promise<void> => {
      for (const f of await readdir(dir).catch(() => [] as string[])) {
        if (!f.startsWith(prefix) || !/^\d+-/.test(f.slice(prefix.length))) continue;
        if (live.has(f.slice(prefix.length))) continue;
        await rm(join(dir, f), { recursive: true, force: true }).catch((e: unknown) => {
          this.warn(
            `cannot remove stale runtime dir '${join(dir, f)}': ${e instanceof Error ? e.message : String(e)}`,
          );
        });
      }
    };
    await sweep(p.libDir, "domain-");
    await sweep(p.channelDir, "domain-");
    await sweep(p.memoryBackingDir, "");
  }

  async #removeTempFiles(): Promise<void> {
    for (const dir of [this.paths.configDir, this.paths.autostartDir, this.paths.stateDir]) {
      for (const f of await readdir(dir).catch(() => [] as string[])) {
        if (isAtomicTempName(f)) await rm(join(dir, f), { force: true });
      }
    }
  }

  async #loadConfigs(): Promise<void> {
    const files = (await readdir(this.paths.configDir)).filter((f) => f.endsWith(".xml")).sort();
    // One capabilities check per emulator, one readdir for the autostart links (a link counts
    // when its target exists, as before); definitions parsed before come from the cache.
    const capsMemo: CapsMemo = new Map();
    const links = new Set(await readdir(this.paths.autostartDir).catch(() => [] as string[]));
    const names = new Set<string>();
    const cache = ConfigCache.open(join(this.paths.cacheDir, "configs.json"));
    for (const emulator of cache.emulators()) {
      const hash = await this.#capsFacts(emulator, capsMemo).then(
        (c) => c.hash,
        () => "",
      );
      cache.checkFacts(emulator, hash);
    }
    for (const f of files) await this.#loadConfig(f, cache, capsMemo, links, names);
    await cache.save();
  }

  async #loadConfig(
    f: string,
    cache: ConfigCache,
    capsMemo: CapsMemo,
    links: Set<string>,
    names: Set<string>,
  ): Promise<void> {
    const path = `${this.paths.configDir}/${f}`;
    const name = f.slice(0, -4);
    try {
      checkObjectName("domain", name);
      const key = statKey(statSync(path));
      let def: DomainDef | LazyDef | undefined = cache.get(f, key);
      if (!def) {
        const parsed = await this.#parseWithFacts(readFileSync(path, "utf8"), path, capsMemo);
        def = parsed.def;
        cache.set(f, key, parsed.emulator, parsed.hash, def);
      }
      if (def.name !== name) throw new Error(`it defines domain '${def.name}', not '${name}'`);
      // Only configs are loaded so far, so the names seen are the names loaded.
      if (this.domains.byUuid(def.uuid) || names.has(def.name))
        throw new Error("a domain with that name or UUID is already loaded");
      const obj = this.newDomainObj(def);
      obj.persistent = true;
      obj.autostart = links.has(f) && existsSync(this.autostartLink(name));
      names.add(def.name);
      this.domains.add(obj);
    } catch (e) {
      this.warn(`ignoring domain config '${path}': ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async #loadStatus(): Promise<void> {
    const files = (await readdir(this.paths.stateDir)).filter((f) => f.endsWith(".xml")).sort();
    const reconnects: Promise<void>[] = [];
    for (const f of files) {
      const path = join(this.paths.stateDir, f);
      try {
        const status = parseStatusXML(await readFile(path, "utf8"), path);
        const live = await this.parseDomain(status.domainXML, {
          document: path,
          noDefaults: true,
          status: true,
        });
        // The device aliases are the QEMU ids of the running process, kept from the status file;
        // a device without one (a status file of an older tvirt) gets libvirt's usual name.
        assignAliases(live);
        let obj = this.domains.byUuid(live.uuid);
        if (obj && obj.name !== live.name)
          throw new Error(`its domain '${live.name}' has the UUID of domain '${obj.name}'`);
        if (obj) {
          obj.newDef = obj.def;
          obj.def = live;
        } else {
          if (this.domains.byName(live.name))
            throw new Error(`domain '${live.name}' is defined with another UUID`);
          obj = this.newDomainObj(live);
          this.domains.add(obj);
        }
        if (status.domainId !== undefined) this.noteId(status.domainId);
        const target = obj;
        reconnects.push(
          reconnectProcess(this, target, status)
            // a migration the earlier instance left half done: finished or rolled back by phase
            .then(() => recoverMigrationJob(this, target))
            .catch((e: unknown) => {
              this.warn(
                `cannot reconnect to domain '${target.name}': ${e instanceof Error ? e.message : String(e)}`,
              );
            }),
        );
      } catch (e) {
        this.#statusIgnored = true;
        this.warn(`ignoring status file '${path}': ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    await Promise.all(reconnects);
  }

  /**
   * Lets go of everything: monitors, timers, event callbacks, the root lock. Guests keep
   * running; the next driver instance for this root reconnects to them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const obj of this.domains.all()) {
      if (obj.run) await detachRun(obj.run);
      obj.job.dispose("the driver closed");
    }
    await Promise.all(this.domains.all().map((o) => o.fileQueue));
    this.events.dispose();
    await this.store.dispose().catch(() => undefined);
    // Directory fsyncs still pending from this driver's writes (see util/atomic-file.ts).
    await flushDirSyncs();
    await this.#lock?.release().catch(() => undefined);
    this.#lock = undefined;
  }

  /** Checks that the driver can still be used. */
  checkOpen(): void {
    if (this.#closed) throw new VirtError("BUG", { what: "the QEMU driver was used after it closed" });
  }
}
