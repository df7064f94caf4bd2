/**
 * One connection to a QEMU driver instance (libvirt's `virConnectPtr` on the QEMU driver): the
 * `HypervisorDriver` entries, mapping handles to domain objects and back. It owns its event
 * callbacks and the domains it started with AUTODESTROY; closing it releases both (destroying
 * those domains) and then its reference to the driver instance.
 */
import type { Socket } from "node:net";
import { allocPages, freePages } from "../../../host/hugepage-pool.ts";
import { KNOWN_ARCHES } from "../../../conf/arch.ts";
import { baselineHypervisorCpu, compareHypervisorCpu } from "../capabilities/cpu-baseline.ts";
import { cpuDataFromCpuId, type VirtType } from "../capabilities/cpu-host-model.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import {
  type ConsoleStream,
  type DomainEventCallback,
  type DomainCapabilitiesQuery,
  type DomainInfo,
  type DomainRef,
  type DomainStateInfo,
  type HypervisorDriver,
  type HypervisorCpuQuery,
  type NodeInfo,
  type SecurityLabel,
  type SecurityModel,
  // tuning and statistics
  type BlockStats,
  type DomainStatsRecord,
  type InterfaceStats,
  type MemoryStat,
  type QemuMonitorEventCallback,
  type TypedParameter,
  type DomainJobInfo, // job control
  // graphical consoles
  bufferStream,
  type Screenshot,
  type DomainInterfaceAddrs,
  type GuestFSInfo,
  type LeaseLookup,
  type VcpuInfo,
  type BlockJobInfo,
} from "../../driver.ts";
import {
  ConnectListDomainsFilters,
  DomainEventId,
  domainEventIdNames,
  DomainMessageType,
  taintMessages,
  DomainModificationImpact,
  DomainVcpuFlags,
  DomainMemoryModFlags,
  NodeAllocPagesFlags,
  MigrateFlags,
} from "../../enums.ts";
import { checkFlags } from "../../../util/errors/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { shellJoin, shellQuote } from "../../../util/shell-quote.ts";
import { assignAliases } from "../../../conf/domain/index.ts";
import { buildQemuCommand } from "../command/index.ts";
import { hostCommandContext } from "../command/context.ts";
import { pretendPort } from "../command/graphics.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { findConsoleDevice, openChardevStream } from "./console.ts";
import { hostCpuId, hostFreeMemoryBytes, hostNodeInfo } from "../../../host/facts.ts";
import { hostCapabilitiesXML } from "./host.ts";
import { domainCapabilitiesXML } from "./domcaps.ts";
import * as ops from "./operations.ts";
import * as migration from "./migration.ts";
import * as recovery from "./migration-recovery.ts";
import { domainMonitorCommand } from "./monitor-command.ts";
import * as nodedev from "../../nodedev/ops.ts";
import { Sysfs } from "../../../host/sysfs/sysfs.ts";
import * as hotplug from "./hotplug.ts";
// tuning and statistics
import * as tuning from "./tuning.ts";
import * as tune from "./tune-params.ts";
import * as misc from "./fleet-misc.ts";
import * as agent from "./agent-calls.ts";
import * as blockjobs from "./blockjobs.ts";
import * as snaps from "./snapshots.ts";
import { snapshotReads } from "../../snapshot-list.ts";
import * as stats from "./stats.ts";
import * as graphics from "./graphics.ts"; // graphical consoles
import * as jobs from "./jobs.ts"; // job control (issue 15)
import { deregisterMonitorEvents, registerMonitorEvents, removeMonitorEventOwner } from "./monitor-events.ts";
import { securityLabel, securityModel } from "./apparmor.ts";
import { resolveDomainVolumes } from "./volumes.ts";

// virConnectBaselineCPUFlags and virConnectCompareCPUFlags
const BASELINE_EXPAND_FEATURES = 1 << 0;
const BASELINE_MIGRATABLE = 1 << 1;
const COMPARE_FAIL_INCOMPATIBLE = 1 << 0;
const COMPARE_VALIDATE_XML = 1 << 1;

/** Runs `fn` and returns its result as a promise: a throw becomes a rejection, never a sync throw. */
function attempt<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

export class QemuConnection implements HypervisorDriver {
  readonly name = "QEMU";
  #closed = false;
  /** Console streams this connection opened (closed with it). */
  readonly #streams = new Set<{ dispose(): void }>();

  constructor(
    readonly driver: QemuDriver,
    private readonly uri: string,
    private readonly release: (conn: QemuConnection) => Promise<void>,
  ) {}

  // --- connection ---------------------------------------------------------------------------

  async connectClose(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.driver.events.removeOwner(this);
    removeMonitorEventOwner(this.driver, this);
    for (const stream of [...this.#streams]) stream.dispose();
    // incoming migrations this connection prepared and never finished (libvirt's close callback)
    await migration.abandonIncoming(this.driver, this).catch(() => undefined);
    // AUTODESTROY domains end with the connection that started them.
    for (const obj of this.driver.domains.all()) {
      const run = obj.run;
      if (run?.autodestroyOwner === this) await ops.destroyRunIfCurrent(this.driver, obj, run);
    }
    await this.release(this);
  }

  connectGetType(): Promise<string> {
    return Promise.resolve("QEMU");
  }

  async connectGetVersion(): Promise<number> {
    return (await this.driver.caps()).version;
  }

  async connectSupportsFeature(feature: number): Promise<boolean> {
    return Promise.resolve(migration.migrationFeatures().includes(feature));
  }

  // --- migration (migration.ts) ----------------------------------------------------------------

  domainMigrateBegin3Params(
    dom: DomainRef,
    params: TypedParameter[],
    flags: number,
  ): Promise<{ cookieOut: Uint8Array; xml: string }> {
    if (flags & MigrateFlags.POSTCOPY_RESUME)
      return this.onDomain(dom, (obj) => recovery.resumeBegin(this.driver, obj, flags));
    return this.onDomain(dom, (obj) => migration.migrateBegin(this.driver, obj, params, flags));
  }

  domainMigratePrepare3Params(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
  ): Promise<{ cookieOut: Uint8Array; uriOut: string | null }> {
    if (flags & MigrateFlags.POSTCOPY_RESUME)
      return recovery.resumePrepare(this.driver, params, cookieIn, flags);
    // this connection owns the incoming migration until finish (closed before: abandoned)
    return migration.migratePrepare(this.driver, params, cookieIn, flags, this);
  }

  domainMigratePerform3Params(
    dom: DomainRef,
    dconnuri: string | null,
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
  ): Promise<{ cookieOut: Uint8Array }> {
    if (flags & MigrateFlags.POSTCOPY_RESUME)
      return this.onDomain(dom, (obj) => recovery.resumePerform(this.driver, obj, dconnuri, params, flags));
    return this.onDomain(dom, (obj) =>
      migration.migratePerform(this.driver, obj, dconnuri, params, cookieIn, flags),
    );
  }

  async domainMigrateFinish3Params(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
    cancelled: boolean,
  ): Promise<{ dom: DomainRef; cookieOut: Uint8Array }> {
    const obj =
      flags & MigrateFlags.POSTCOPY_RESUME
        ? await recovery.resumeFinish(this.driver, params, cookieIn, flags, cancelled)
        : await migration.migrateFinish(this.driver, params, cookieIn, flags, cancelled);
    return { dom: obj.ref(), cookieOut: new Uint8Array() };
  }

  domainMigrateConfirm3Params(
    dom: DomainRef,
    _params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
    cancelled: boolean,
  ): Promise<void> {
    const confirm = flags & MigrateFlags.POSTCOPY_RESUME ? recovery.resumeConfirmInternal : undefined;
    return this.onDomain(dom, (obj) =>
      migration.migrateConfirm(this.driver, obj, cookieIn, flags, cancelled, confirm),
    );
  }

  domainMigrateStartPostCopy(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => migration.migrateStartPostCopy(this.driver, obj, flags));
  }

  connectGetHostname(): Promise<string> {
    return Promise.resolve(this.driver.hostname());
  }

  connectGetURI(): Promise<string> {
    return Promise.resolve(this.uri);
  }

  async connectGetCapabilities(): Promise<string> {
    const caps = await this.driver.caps();
    const kvm = await this.driver.kvm(caps.emulator);
    return hostCapabilitiesXML(caps, { kvm: kvm.usable, secmodel: securityModel(this.driver) });
  }

  connectGetDomainCapabilities(query: DomainCapabilitiesQuery, flags: number): Promise<string> {
    return domainCapabilitiesXML(this.driver, query, flags);
  }

  async connectGetCPUModelNames(arch: string, flags: number): Promise<string[]> {
    checkFlags(flags, 0, "qemuConnectGetCPUModelNames");
    const caps = await this.driver.caps();
    if (!KNOWN_ARCHES.has(arch)) throw new VirtError("CPU_ARCH_UNKNOWN", { arch });
    if (arch !== caps.arch && !(arch === "i686" && caps.arch === "x86_64")) return [];
    // the CPU map of the QEMU binary: its named models, as QEMU lists them
    const seen = new Set<string>();
    for (const m of [...(caps.accel.kvm?.cpuModels ?? []), ...(caps.accel.tcg?.cpuModels ?? [])]) {
      if (m.name !== "host" && m.name !== "max" && m.name !== "base") seen.add(m.name);
    }
    return [...seen];
  }

  async connectBaselineHypervisorCPU(
    query: HypervisorCpuQuery,
    xmlCPUs: readonly string[],
    flags: number,
  ): Promise<string> {
    checkFlags(flags, BASELINE_EXPAND_FEATURES | BASELINE_MIGRATABLE, "qemuConnectBaselineHypervisorCPU");
    const { caps, virtType } = await this.hypervisorCpuCaps(query);
    return baselineHypervisorCpu(caps, virtType, xmlCPUs, {
      expandFeatures: (flags & BASELINE_EXPAND_FEATURES) !== 0,
      migratable: (flags & BASELINE_MIGRATABLE) !== 0,
    });
  }

  async connectCompareHypervisorCPU(query: HypervisorCpuQuery, xml: string, flags: number): Promise<number> {
    checkFlags(flags, COMPARE_FAIL_INCOMPATIBLE | COMPARE_VALIDATE_XML, "qemuConnectCompareHypervisorCPU");
    const { caps, virtType } = await this.hypervisorCpuCaps(query);
    return compareHypervisorCpu(caps, virtType, xml, (flags & COMPARE_FAIL_INCOMPATIBLE) !== 0);
  }

  /**
   * virConnectBaselineCPU, the older call Nova makes with its host CPU (EXPAND_FEATURES) to
   * list the host's features. libvirt answers it from its CPU map alone; tvirt's map is
   * QEMU's, every model of it a candidate whatever the accelerator says.
   */
  async connectBaselineCPU(xmlCPUs: readonly string[], flags: number): Promise<string> {
    checkFlags(flags, BASELINE_EXPAND_FEATURES | BASELINE_MIGRATABLE, "qemuConnectBaselineCPU");
    const { caps, virtType } = await this.hypervisorCpuCaps({});
    return baselineHypervisorCpu(caps, virtType, xmlCPUs, {
      expandFeatures: (flags & BASELINE_EXPAND_FEATURES) !== 0,
      migratable: (flags & BASELINE_MIGRATABLE) !== 0,
      anyModel: true,
    });
  }

  /** virConnectCompareCPU: a CPU definition against the host's own CPU (/proc/cpuinfo). */
  async connectCompareCPU(xml: string, flags: number): Promise<number> {
    checkFlags(flags, COMPARE_FAIL_INCOMPATIBLE | COMPARE_VALIDATE_XML, "qemuConnectCompareCPU");
    const { caps, virtType } = await this.hypervisorCpuCaps({});
    return compareHypervisorCpu(
      caps,
      virtType,
      xml,
      (flags & COMPARE_FAIL_INCOMPATIBLE) !== 0,
      cpuDataFromCpuId(hostCpuId()),
    );
  }

  /** The capabilities and accelerator the hypervisor-CPU calls are about (libvirt's defaults). */
  private async hypervisorCpuCaps(
    query: HypervisorCpuQuery,
  ): Promise<{ caps: QemuCaps; virtType: VirtType }> {
    const caps = await this.driver.caps(query.emulator ?? undefined);
    if (query.arch && query.arch !== caps.arch)
      throw new VirtError("CPU_HOST_UNKNOWN", { virttype: query.virttype ?? "kvm", arch: query.arch });
    const vt = (query.virttype ?? "").toLowerCase();
    let virtType: VirtType;
    if (vt === "kvm" || vt === "qemu") virtType = vt;
    else if (vt === "") virtType = (await this.driver.kvm(caps.emulator)).usable ? "kvm" : "qemu";
    else throw new VirtError("API_INVALID_ARG", { what: `unknown virttype: ${query.virttype ?? ""}` });
    if (!caps.accel[virtType === "kvm" ? "kvm" : "tcg"])
      throw new VirtError("CPU_HOST_UNKNOWN", { virttype: virtType, arch: caps.arch });
    return { caps, virtType };
  }

  connectGetMaxVcpus(type: string | null): Promise<number> {
    return attempt(() => {
      if (type !== null && type.toLowerCase() !== "qemu" && type.toLowerCase() !== "kvm") {
        throw new VirtError("API_INVALID_ARG", { what: `unknown type '${type}'` });
      }
      return type?.toLowerCase() === "kvm" ? 255 : 16;
    });
  }

  connectIsAlive(): Promise<boolean> {
    return Promise.resolve(!this.#closed);
  }

  connectIsSecure(): Promise<boolean> {
    return Promise.resolve(true);
  }

  connectIsEncrypted(): Promise<boolean> {
    return Promise.resolve(false);
  }

  nodeGetInfo(): Promise<NodeInfo> {
    return Promise.resolve(hostNodeInfo());
  }

  nodeGetFreeMemory(): Promise<bigint> {
    return Promise.resolve(hostFreeMemoryBytes());
  }

  nodeGetFreePages(
    pages: readonly number[],
    startCell: number,
    cellCount: number,
    flags: number,
  ): Promise<bigint[]> {
    checkFlags(flags, 0, "virNodeGetFreePages");
    return Promise.resolve(freePages(pages, startCell, cellCount));
  }

  nodeAllocPages(
    pageSizes: readonly number[],
    pageCounts: readonly bigint[],
    startCell: number,
    cellCount: number,
    flags: number,
  ): Promise<number> {
    checkFlags(flags, NodeAllocPagesFlags.ADD, "virNodeAllocPages");
    const add = (flags & NodeAllocPagesFlags.ADD) !== 0;
    return Promise.resolve(allocPages(pageSizes, pageCounts, startCell, cellCount, add));
  }

  nodeGetSecurityModel(): Promise<SecurityModel> {
    return Promise.resolve(securityModel(this.driver));
  }

  // --- listing and lookups ------------------------------------------------------------------

  connectListAllDomains(flags: number): Promise<DomainRef[]> {
    return attempt(() => {
      checkFlags(flags, ConnectListDomainsFilters.ALL, "qemuConnectListAllDomains");
      const keep = ops.listFilter(this.driver, flags);
      return this.driver.domains
        .all()
        .filter(keep)
        .map((o) => o.ref());
    });
  }

  connectNumOfDomains(): Promise<number> {
    return Promise.resolve(this.driver.domains.all().filter((o) => o.isActive()).length);
  }

  connectListDomains(maxids: number): Promise<number[]> {
    return Promise.resolve(
      this.driver.domains
        .all()
        .filter((o) => o.isActive())
        .map((o) => o.id)
        .slice(0, maxids),
    );
  }

  connectNumOfDefinedDomains(): Promise<number> {
    return Promise.resolve(this.driver.domains.all().filter((o) => !o.isActive()).length);
  }

  connectListDefinedDomains(maxnames: number): Promise<string[]> {
    return Promise.resolve(
      this.driver.domains
        .all()
        .filter((o) => !o.isActive())
        .map((o) => o.name)
        .slice(0, maxnames),
    );
  }

  domainLookupByID(id: number): Promise<DomainRef> {
    return attempt(() => {
      const obj = this.driver.domains.byId(id);
      if (!obj) throw new VirtError("QEMU_NO_DOMAIN_ID", { id }, { id });
      return obj.ref();
    });
  }

  domainLookupByName(name: string): Promise<DomainRef> {
    return attempt(() => {
      const obj = this.driver.domains.byName(name);
      if (!obj) throw new VirtError("QEMU_NO_DOMAIN_NAME", { name }, { name });
      return obj.ref();
    });
  }

  domainLookupByUUID(uuid: string): Promise<DomainRef> {
    return attempt(() => {
      const obj = this.driver.domains.byUuid(uuid);
      if (!obj) throw new VirtError("QEMU_NO_DOMAIN_UUID", { uuid }, { uuid });
      return obj.ref();
    });
  }

  /** qemuDomainObjFromDomain: the object behind a handle (by UUID). */
  private obj(dom: DomainRef): QemuDomainObj {
    const obj = this.driver.domains.byUuid(dom.uuid);
    if (!obj)
      throw new VirtError(
        "QEMU_NO_DOMAIN_HANDLE",
        { uuid: dom.uuid, name: dom.name },
        { uuid: dom.uuid, name: dom.name },
      );
    return obj;
  }

  /** Runs an operation and then updates the caller's handle (its id). */
  private async onDomain<T>(dom: DomainRef, fn: (obj: QemuDomainObj) => Promise<T>): Promise<T> {
    const obj = this.obj(dom);
    try {
      return await fn(obj);
    } finally {
      dom.id = obj.removed && !obj.isActive() ? -1 : obj.id;
    }
  }

  // --- define, create, undefine ---------------------------------------------------------------

  domainDefineXML(xml: string): Promise<DomainRef> {
    return this.domainDefineXMLFlags(xml, 0);
  }

  async domainDefineXMLFlags(xml: string, flags: number): Promise<DomainRef> {
    return (await ops.defineDomain(this.driver, xml, flags)).ref();
  }

  domainUndefine(dom: DomainRef): Promise<void> {
    return this.domainUndefineFlags(dom, 0);
  }

  domainUndefineFlags(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, async (obj) => {
      // libvirt's check comes before the domain's own (an inactive domain with snapshot metadata)
      if (obj.persistent) await snaps.undefineSnapshots(this.driver, obj, flags);
      await ops.undefineDomain(this.driver, obj, flags);
    });
  }

  async domainCreateXML(xml: string, flags: number): Promise<DomainRef> {
    return (await ops.createTransient(this.driver, xml, flags, this)).ref();
  }

  domainCreate(dom: DomainRef): Promise<void> {
    return this.domainCreateWithFlags(dom, 0);
  }

  domainCreateWithFlags(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.startDomain(this.driver, obj, flags, this));
  }

  // --- life cycle ---------------------------------------------------------------------------

  domainShutdown(dom: DomainRef): Promise<void> {
    return this.domainShutdownFlags(dom, 0);
  }

  domainShutdownFlags(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.shutdownDomain(this.driver, obj, flags));
  }

  /**
   * tvirt extension: waits until the domain is shut off, e.g. after `domainShutdown`. Rejects
   * with `QEMU_SHUTDOWN_IGNORED` when the guest still runs after `timeoutMs` (it ignores the
   * ACPI power button).
   */
  domainWaitForShutoff(dom: DomainRef, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.onDomain(dom, (obj) => ops.waitForShutoff(obj, timeoutMs, signal));
  }

  domainReboot(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.rebootDomain(this.driver, obj, flags));
  }

  domainReset(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.resetDomain(this.driver, obj, flags));
  }

  domainDestroy(dom: DomainRef): Promise<void> {
    return this.domainDestroyFlags(dom, 0);
  }

  domainDestroyFlags(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.destroyDomain(this.driver, obj, flags));
  }

  domainSuspend(dom: DomainRef): Promise<void> {
    return this.onDomain(dom, async (obj) => {
      // during an outgoing migration (virsh migrate --timeout) suspend runs beside its job
      if (await migration.suspendDuringMigration(this.driver, obj)) return;
      await ops.suspendDomain(this.driver, obj);
    });
  }

  domainResume(dom: DomainRef): Promise<void> {
    return this.onDomain(dom, (obj) => ops.resumeDomain(this.driver, obj));
  }

  /** The QEMU program's monitor command (`rpc/qemu-monitor.ts`'s `QemuMonitorCommandDriver`). */
  domainQemuMonitorCommand(dom: DomainRef, cmd: string, flags: number): Promise<string> {
    return this.onDomain(dom, (obj) => domainMonitorCommand(this.driver, obj, cmd, flags));
  }

  // --- device hotplug (hotplug.ts) ----------------------------------------------------------

  domainAttachDevice(dom: DomainRef, xml: string): Promise<void> {
    return this.domainAttachDeviceFlags(dom, xml, hotplug.LEGACY_FLAGS);
  }

  domainAttachDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => hotplug.attachDevice(this.driver, obj, xml, flags));
  }

  domainDetachDevice(dom: DomainRef, xml: string): Promise<void> {
    return this.domainDetachDeviceFlags(dom, xml, hotplug.LEGACY_FLAGS);
  }

  domainDetachDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => hotplug.detachDevice(this.driver, obj, xml, flags));
  }

  domainUpdateDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => hotplug.updateDevice(this.driver, obj, xml, flags));
  }

  // --- save, restore, managed save ----------------------------------------------------------

  domainSave(dom: DomainRef, path: string): Promise<void> {
    return this.domainSaveFlags(dom, path, null, 0);
  }

  domainSaveFlags(dom: DomainRef, path: string, dxml: string | null, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.saveDomain(this.driver, obj, path, dxml, flags));
  }

  domainRestore(path: string): Promise<void> {
    return this.domainRestoreFlags(path, null, 0);
  }

  async domainRestoreFlags(path: string, dxml: string | null, flags: number): Promise<void> {
    await ops.restoreDomain(this.driver, path, dxml, flags);
  }

  domainSaveImageGetXMLDesc(path: string, flags: number): Promise<string> {
    return ops.saveImageGetXMLDesc(this.driver, path, flags);
  }

  domainManagedSave(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.managedSaveDomain(this.driver, obj, flags));
  }

  domainHasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean> {
    return attempt(() => {
      checkFlags(flags, 0, "qemuDomainHasManagedSaveImage");
      return this.driver.hasManagedSave(this.obj(dom));
    });
  }

  domainManagedSaveRemove(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => ops.managedSaveRemove(this.driver, obj, flags));
  }

  // --- queries and settings -----------------------------------------------------------------

  domainGetAutostart(dom: DomainRef): Promise<boolean> {
    return attempt(() => this.obj(dom).autostart);
  }

  domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void> {
    return this.onDomain(dom, (obj) => ops.setAutostart(this.driver, obj, autostart));
  }

  domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    return attempt(() => ops.domainXMLDesc(this.obj(dom), flags));
  }

  domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    return attempt(() => ops.domainInfo(this.obj(dom)));
  }

  domainGetState(dom: DomainRef, flags: number): Promise<DomainStateInfo> {
    return attempt(() => {
      checkFlags(flags, 0, "qemuDomainGetState");
      const obj = this.obj(dom);
      return { state: obj.state, reason: obj.reason };
    });
  }

  domainGetOSType(dom: DomainRef): Promise<string> {
    return attempt(() => this.obj(dom).def.os.type);
  }

  domainGetMaxMemory(dom: DomainRef): Promise<number> {
    return attempt(() => this.obj(dom).def.memory);
  }

  domainGetSecurityLabel(dom: DomainRef): Promise<SecurityLabel> {
    return attempt(() => securityLabel(this.driver, this.obj(dom)));
  }

  domainIsActive(dom: DomainRef): Promise<boolean> {
    return attempt(() => this.obj(dom).isActive());
  }

  domainIsPersistent(dom: DomainRef): Promise<boolean> {
    return attempt(() => this.obj(dom).persistent);
  }

  domainIsUpdated(dom: DomainRef): Promise<boolean> {
    return attempt(() => {
      this.obj(dom);
      return false;
    });
  }

  async connectDomainXMLToNative(format: string, xml: string, flags: number): Promise<string> {
    checkFlags(flags, 0, "qemuConnectDomainXMLToNative");
    if (format !== "qemu-argv") throw new VirtError("QEMU_NATIVE_FORMAT", { format });
    const def = await this.driver.parseDomain(xml);
    assignAliases(def);
    // volume disks become their path, as at start
    await resolveDomainVolumes(this.driver.options.resolveVolume, def);
    const caps = await this.driver.caps(def.devices.emulator);
    // graphics with autoport get libvirt's pretend ports
    const cmd = buildQemuCommand(def, {
      ...hostCommandContext(caps, def.name, this.driver.root),
      allocatePort: pretendPort,
    });
    return [...cmd.env.map(([k, v]) => `${k}=${shellQuote(v)}`), shellJoin([cmd.emulator, ...cmd.args])].join(
      " ",
    );
  }

  async domainOpenConsole(dom: DomainRef, devname: string | null, flags: number): Promise<ConsoleStream> {
    const SAFE = 2;
    const FORCE = 1;
    checkFlags(flags, SAFE | FORCE, "qemuDomainOpenConsole");
    const obj = this.obj(dom);
    const run = obj.run;
    if (!obj.isActive() || !run) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
    const { chr, alias } = findConsoleDevice(obj.def, devname);
    const old = run.consoles.get(alias);
    if (old) {
      if (!(flags & FORCE)) throw new VirtError("QEMU_CONSOLE_BUSY", {}, { alias });
      old.dispose();
    }
    const stream = await openChardevStream(chr, alias, () => {
      if (run.consoles.get(alias) === stream) run.consoles.delete(alias);
      this.#streams.delete(stream);
      run.store.delete(stream);
    });
    run.consoles.set(alias, stream);
    run.store.add(stream);
    this.#streams.add(stream);
    return stream;
  }

  // --- graphical consoles (issue 19) --------------------------------------------------------

  domainScreenshot(dom: DomainRef, screen: number, flags: number): Promise<Screenshot> {
    return this.onDomain(dom, async (obj) => {
      const { mime, data } = await graphics.screenshot(this.driver, obj, screen, flags);
      return { mime, stream: bufferStream(data) };
    });
  }

  domainOpenGraphics(dom: DomainRef, idx: number, fd: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => graphics.openGraphics(obj, idx, fd, flags));
  }

  domainOpenGraphicsFd(dom: DomainRef, idx: number, flags: number): Promise<Socket> {
    return this.onDomain(dom, (obj) => graphics.openGraphicsFd(obj, idx, flags));
  }

  domainSendKey(
    dom: DomainRef,
    codeset: number,
    holdtime: number,
    keycodes: readonly number[],
    flags: number,
  ): Promise<void> {
    return this.onDomain(dom, (obj) => graphics.sendKey(obj, codeset, holdtime, keycodes, flags));
  }

  // --- events -------------------------------------------------------------------------------

  connectDomainEventRegisterAny(
    dom: DomainRef | null,
    eventID: number,
    callback: DomainEventCallback,
  ): Promise<number> {
    return attempt(() => {
      if (eventID < 0 || eventID >= domainEventIdNames.length) {
        throw new VirtError("API_INVALID_ARG", {
          what: `eventID in virConnectDomainEventRegisterAny must be less than ${domainEventIdNames.length}`,
        });
      }
      if (dom) this.obj(dom);
      return this.driver.events.register(this, dom ? dom.uuid : null, eventID, callback);
    });
  }

  connectDomainEventDeregisterAny(callbackID: number): Promise<void> {
    return attempt(() => {
      this.driver.events.deregister(this, callbackID);
    });
  }

  // --- node devices (the host's devices under the driver's sysfs root) ------------------------

  #sysfs(): Sysfs {
    return new Sysfs(this.driver.options.sysfsRoot);
  }

  connectListAllNodeDevices(flags: number): Promise<string[]> {
    return attempt(() =>
      nodedev.listAllNodeDeviceNames(this.#sysfs(), flags, "qemuConnectListAllNodeDevices"),
    );
  }

  nodeDeviceLookupByName(name: string): Promise<string> {
    return attempt(() => nodedev.lookupNodeDevice(this.#sysfs(), name).name);
  }

  nodeDeviceGetXMLDesc(name: string, flags: number): Promise<string> {
    return attempt(() => nodedev.nodeDeviceXML(this.#sysfs(), name, flags, "nodeDeviceGetXMLDesc"));
  }

  nodeDeviceGetParent(name: string): Promise<string | null> {
    return attempt(() => nodedev.nodeDeviceParent(this.#sysfs(), name));
  }

  nodeDeviceNumOfCaps(name: string): Promise<number> {
    return attempt(() => nodedev.nodeDeviceCapNames(this.#sysfs(), name).length);
  }

  nodeDeviceListCaps(name: string): Promise<string[]> {
    return attempt(() => nodedev.nodeDeviceCapNames(this.#sysfs(), name));
  }

  nodeDeviceDetachFlags(name: string, driverName: string | null, flags: number): Promise<void> {
    return attempt(() => {
      nodedev.nodeDeviceDetach(this.#sysfs(), name, driverName, flags);
    });
  }

  // --- issue 20: block jobs ------------------------------------------------------------------

  domainGetBlockJobInfo(dom: DomainRef, disk: string, flags: number): Promise<BlockJobInfo | null> {
    return this.onDomain(dom, (obj) => blockjobs.getBlockJobInfo(obj, disk, flags));
  }

  domainBlockJobAbort(dom: DomainRef, disk: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => blockjobs.blockJobAbort(this.driver, obj, disk, flags));
  }

  domainBlockJobSetSpeed(dom: DomainRef, disk: string, bandwidth: bigint, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => blockjobs.blockJobSetSpeed(obj, disk, bandwidth, flags));
  }

  domainBlockPull(dom: DomainRef, disk: string, bandwidth: bigint, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => blockjobs.blockPull(this.driver, obj, disk, bandwidth, flags));
  }

  domainBlockRebase(
    dom: DomainRef,
    disk: string,
    base: string | null,
    bandwidth: bigint,
    flags: number,
  ): Promise<void> {
    return this.onDomain(dom, (obj) => blockjobs.blockRebase(this.driver, obj, disk, base, bandwidth, flags));
  }

  domainBlockCopy(
    dom: DomainRef,
    disk: string,
    destxml: string,
    params: TypedParameter[],
    flags: number,
  ): Promise<void> {
    return this.onDomain(dom, (obj) => blockjobs.blockCopy(this.driver, obj, disk, destxml, params, flags));
  }

  domainBlockCommit(
    dom: DomainRef,
    disk: string,
    base: string | null,
    top: string | null,
    bandwidth: bigint,
    flags: number,
  ): Promise<void> {
    return this.onDomain(dom, (obj) =>
      blockjobs.blockCommit(this.driver, obj, disk, base, top, bandwidth, flags),
    );
  }

  domainBlockResize(dom: DomainRef, disk: string, size: bigint, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => blockjobs.blockResize(obj, disk, size, flags));
  }

  // --- issue 20: host CPU, vCPU threads, metadata, NMI, guest time, addresses, nodedev life --

  nodeGetCPUMap(flags: number): Promise<{ cpus: number; online: number[] }> {
    return attempt(() => misc.nodeGetCPUMap(flags));
  }

  nodeGetCPUStats(cpuNum: number, flags: number): Promise<{ field: string; value: bigint }[]> {
    return attempt(() => misc.nodeGetCPUStats(cpuNum, flags));
  }

  domainGetVcpus(dom: DomainRef): Promise<{ info: VcpuInfo[]; affinity: number[][]; hostCpus: number }> {
    return this.onDomain(dom, (obj) => misc.getVcpus(obj));
  }

  domainSetMetadata(
    dom: DomainRef,
    type: number,
    metadata: string | null,
    key: string | null,
    uri: string | null,
    flags: number,
  ): Promise<void> {
    return this.onDomain(dom, async (obj) => {
      await misc.setMetadata(this.driver, obj, type, metadata, uri, flags, key);
      this.driver.events.emit(obj.ref(), { id: DomainEventId.METADATA_CHANGE, type, nsuri: uri });
    });
  }

  domainGetMetadata(dom: DomainRef, type: number, uri: string | null, flags: number): Promise<string> {
    return attempt(() => misc.getMetadata(this.obj(dom), type, uri, flags));
  }

  domainInjectNMI(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => misc.injectNMI(obj, flags));
  }

  domainGetTime(dom: DomainRef, flags: number): Promise<{ seconds: bigint; nseconds: number }> {
    return this.onDomain(dom, (obj) => agent.getTime(obj, flags));
  }

  domainSetTime(dom: DomainRef, seconds: bigint, nseconds: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => agent.setTime(obj, seconds, nseconds, flags));
  }

  domainFSFreeze(dom: DomainRef, mountpoints: readonly string[], flags: number): Promise<number> {
    return this.onDomain(dom, (obj) => agent.fsFreeze(obj, mountpoints, flags));
  }

  domainFSThaw(dom: DomainRef, mountpoints: readonly string[], flags: number): Promise<number> {
    return this.onDomain(dom, (obj) => agent.fsThaw(obj, mountpoints, flags));
  }

  domainGetFSInfo(dom: DomainRef, flags: number): Promise<GuestFSInfo[]> {
    return this.onDomain(dom, (obj) => agent.getFSInfo(obj, flags));
  }

  domainGetGuestInfo(dom: DomainRef, types: number, flags: number): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => agent.getGuestInfo(obj, types, flags));
  }

  domainSetUserPassword(dom: DomainRef, user: string, password: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => agent.setUserPassword(obj, user, password, flags));
  }

  domainGetGuestVcpus(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => agent.getGuestVcpus(obj, flags));
  }

  domainSetGuestVcpus(dom: DomainRef, cpumap: string, state: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => agent.setGuestVcpus(obj, cpumap, state, flags));
  }

  domainAgentSetResponseTimeout(dom: DomainRef, timeout: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => {
      agent.setResponseTimeout(obj, timeout, flags);
      return Promise.resolve();
    });
  }

  domainQemuAgentCommand(dom: DomainRef, cmd: string, timeout: number, flags: number): Promise<string> {
    return this.onDomain(dom, (obj) => agent.agentCommand(obj, cmd, timeout, flags));
  }

  domainInterfaceAddresses(
    dom: DomainRef,
    source: number,
    flags: number,
    leases?: LeaseLookup,
  ): Promise<DomainInterfaceAddrs[]> {
    return this.onDomain(dom, (obj) => misc.interfaceAddresses(obj, source, flags, leases));
  }

  nodeDeviceIsActive(name: string): Promise<boolean> {
    // Every device tvirt lists is one the host has now (no defined-but-inactive mdevs yet).
    return attempt(() => {
      nodedev.lookupNodeDevice(this.#sysfs(), name);
      return true;
    });
  }

  nodeDeviceIsPersistent(name: string): Promise<boolean> {
    // udev-discovered devices are not defined through libvirt: not persistent, as libvirt says.
    return attempt(() => {
      nodedev.lookupNodeDevice(this.#sysfs(), name);
      return false;
    });
  }

  nodeDeviceGetAutostart(name: string): Promise<boolean> {
    return attempt(() => {
      nodedev.lookupNodeDevice(this.#sysfs(), name);
      return false;
    });
  }

  nodeDeviceSetAutostart(name: string): Promise<void> {
    return attempt(() => {
      nodedev.lookupNodeDevice(this.#sysfs(), name);
      throw new VirtError("NODEDEV_NOT_MDEV", { api: "virNodeDeviceSetAutostart", name });
    });
  }

  nodeDeviceCreate(name: string, flags: number): Promise<void> {
    return attempt(() => {
      checkFlags(flags, 0, "nodeDeviceCreate");
      nodedev.lookupNodeDevice(this.#sysfs(), name);
      throw new VirtError("NODEDEV_NOT_MDEV", { api: "virNodeDeviceCreate", name });
    });
  }

  nodeDeviceCreateXML(_xml: string, flags: number): Promise<string> {
    return attempt(() => misc.refuseMdev(this.driver.options.sysfsRoot, "virNodeDeviceCreateXML", flags));
  }

  nodeDeviceDefineXML(_xml: string, flags: number): Promise<string> {
    return attempt(() => misc.refuseMdev(this.driver.options.sysfsRoot, "virNodeDeviceDefineXML", flags));
  }

  nodeDeviceDettach(name: string): Promise<void> {
    return this.nodeDeviceDetachFlags(name, null, 0);
  }

  nodeDeviceReAttach(name: string): Promise<void> {
    return attempt(() => {
      nodedev.nodeDeviceReAttach(this.#sysfs(), name);
    });
  }

  nodeDeviceReset(name: string): Promise<void> {
    return attempt(() => {
      nodedev.nodeDeviceReset(this.#sysfs(), name);
    });
  }

  // --- tuning and statistics (setmem, setvcpus, dommemstat, domblkstat, domifstat, domstats,
  // qemu-monitor-event) ------------------------------------------------------------------------

  domainSetMemory(dom: DomainRef, memory: number): Promise<void> {
    return this.domainSetMemoryFlags(dom, memory, DomainModificationImpact.LIVE);
  }

  domainSetMaxMemory(dom: DomainRef, memory: number): Promise<void> {
    return this.domainSetMemoryFlags(dom, memory, DomainMemoryModFlags.MAXIMUM);
  }

  domainSetMemoryFlags(dom: DomainRef, memory: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tuning.setMemoryFlags(this.driver, obj, memory, flags));
  }

  domainSetVcpus(dom: DomainRef, nvcpus: number): Promise<void> {
    return this.domainSetVcpusFlags(dom, nvcpus, DomainModificationImpact.LIVE);
  }

  domainSetVcpusFlags(dom: DomainRef, nvcpus: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tuning.setVcpusFlags(this.driver, obj, nvcpus, flags));
  }

  domainGetVcpusFlags(dom: DomainRef, flags: number): Promise<number> {
    return attempt(() => tuning.getVcpusFlags(this.obj(dom), flags));
  }

  domainGetMaxVcpus(dom: DomainRef): Promise<number> {
    return attempt(() => {
      const obj = this.obj(dom);
      return tuning.getVcpusFlags(obj, (obj.isActive() ? 1 : 2) | DomainVcpuFlags.MAXIMUM);
    });
  }

  domainBlockStats(dom: DomainRef, path: string): Promise<BlockStats> {
    return this.onDomain(dom, (obj) => stats.blockStats(obj, path));
  }

  domainBlockStatsFlags(dom: DomainRef, path: string, flags: number): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => stats.blockStatsFlags(obj, path, flags));
  }

  domainInterfaceStats(dom: DomainRef, device: string): Promise<InterfaceStats> {
    return attempt(() => stats.interfaceStats(this.obj(dom), device));
  }

  domainMemoryStats(dom: DomainRef, nrStats: number, flags: number): Promise<MemoryStat[]> {
    return this.onDomain(dom, (obj) => stats.memoryStats(obj, nrStats, flags));
  }

  domainSetMemoryStatsPeriod(dom: DomainRef, period: number, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tuning.setMemoryStatsPeriod(this.driver, obj, period, flags));
  }
  // --- jobs and migration tuning (issue 15) ---------------------------------------------------
  domainGetJobInfo(dom: DomainRef): Promise<DomainJobInfo> {
    return this.onDomain(dom, (obj) => jobs.getJobInfo(obj));
  }
  domainGetJobStats(dom: DomainRef, flags: number): Promise<{ type: number; params: TypedParameter[] }> {
    return this.onDomain(dom, (obj) => jobs.getJobStats(obj, flags));
  }
  domainAbortJob(dom: DomainRef): Promise<void> {
    return this.onDomain(dom, (obj) => jobs.abortJob(obj, 0));
  }
  domainAbortJobFlags(dom: DomainRef, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => jobs.abortJob(obj, flags));
  }
  domainMigrateSetMaxDowntime(dom: DomainRef, downtime: bigint, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => jobs.setMaxDowntime(obj, downtime, flags));
  }
  domainMigrateGetMaxDowntime(dom: DomainRef, flags: number): Promise<bigint> {
    return this.onDomain(dom, (obj) => jobs.getMaxDowntime(obj, flags));
  }
  domainMigrateSetMaxSpeed(dom: DomainRef, bandwidth: bigint, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => jobs.setMaxSpeed(obj, bandwidth, flags));
  }
  domainMigrateGetMaxSpeed(dom: DomainRef, flags: number): Promise<bigint> {
    return this.onDomain(dom, (obj) => jobs.getMaxSpeed(obj, flags));
  }
  domainMigrateSetCompressionCache(dom: DomainRef, cacheSize: bigint, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => jobs.setCompressionCache(obj, cacheSize, flags));
  }
  domainMigrateGetCompressionCache(dom: DomainRef, flags: number): Promise<bigint> {
    return this.onDomain(dom, (obj) => jobs.getCompressionCache(obj, flags));
  }

  // --- cgroup tuning ---------------------------------------------------------------------------

  domainGetMemoryParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => tune.getMemoryParameters(this.driver, obj, flags));
  }

  domainSetMemoryParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tune.setMemoryParameters(this.driver, obj, params, flags));
  }

  domainGetSchedulerType(dom: DomainRef): Promise<{ type: string; nparams: number }> {
    return this.onDomain(dom, (obj) => Promise.resolve(tune.getSchedulerType(this.driver, obj)));
  }

  domainGetSchedulerParameters(dom: DomainRef): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => tune.getSchedulerParameters(this.driver, obj, 0));
  }

  domainSetSchedulerParameters(dom: DomainRef, params: TypedParameter[]): Promise<void> {
    return this.onDomain(dom, (obj) => tune.setSchedulerParameters(this.driver, obj, params, 0));
  }

  domainGetSchedulerParametersFlags(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => tune.getSchedulerParameters(this.driver, obj, flags));
  }

  domainSetSchedulerParametersFlags(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tune.setSchedulerParameters(this.driver, obj, params, flags));
  }

  domainGetBlkioParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return this.onDomain(dom, (obj) => tune.getBlkioParameters(this.driver, obj, flags));
  }

  domainSetBlkioParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tune.setBlkioParameters(this.driver, obj, params, flags));
  }

  domainPinVcpuFlags(dom: DomainRef, vcpu: number, cpumap: Uint8Array, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tune.pinVcpu(this.driver, obj, vcpu, cpumap, flags));
  }

  domainPinEmulator(dom: DomainRef, cpumap: Uint8Array, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => tune.pinEmulator(this.driver, obj, cpumap, flags));
  }

  domainGetVcpuPinInfo(
    dom: DomainRef,
    ncpumaps: number,
    maplen: number,
    flags: number,
  ): Promise<{ num: number; cpumaps: Uint8Array }> {
    return this.onDomain(dom, (obj) => Promise.resolve(tune.getVcpuPinInfo(obj, ncpumaps, maplen, flags)));
  }

  domainGetEmulatorPinInfo(
    dom: DomainRef,
    maplen: number,
    flags: number,
  ): Promise<{ ret: number; cpumap: Uint8Array }> {
    return this.onDomain(dom, (obj) => Promise.resolve(tune.getEmulatorPinInfo(obj, maplen, flags)));
  }

  async connectGetAllDomainStats(
    doms: DomainRef[],
    statsWanted: number,
    flags: number,
  ): Promise<DomainStatsRecord[]> {
    const groups = stats.checkStatsRequest(statsWanted, flags);
    let objs;
    if (doms.length > 0) {
      if (flags & 0xff) {
        throw new VirtError("API_INVALID_ARG", {
          what: "filtering is not supported by virDomainListGetStats",
        });
      }
      objs = doms.map((d) => this.obj(d));
    } else {
      const filter = ops.listFilter(this.driver, flags & 0xff);
      objs = this.driver.domains.all().filter(filter);
    }
    const out: DomainStatsRecord[] = [];
    for (const obj of objs) {
      if (obj.removed) continue;
      out.push({ dom: obj.ref(), params: await stats.domainStatsRecord(obj, groups) });
    }
    return out;
  }

  connectDomainQemuMonitorEventRegister(
    dom: DomainRef | null,
    event: string | null,
    callback: QemuMonitorEventCallback,
    flags: number,
  ): Promise<number> {
    return attempt(() => {
      if (dom) this.obj(dom);
      return registerMonitorEvents(this.driver, this, dom ? dom.uuid : null, event, callback, flags);
    });
  }

  domainGetMessages(dom: DomainRef, flags: number): Promise<string[]> {
    return attempt(() => {
      checkFlags(flags, DomainMessageType.DEPRECATION | DomainMessageType.TAINTING, "qemuDomainGetMessages");
      const obj = this.obj(dom);
      if (flags !== 0 && !(flags & DomainMessageType.TAINTING)) return [];
      const taints = obj.isActive() && obj.run ? [...obj.run.taints] : [];
      return taints.map((t) => `tainted: ${taintMessages[t] ?? t}`);
    });
  }

  connectDomainQemuMonitorEventDeregister(callbackID: number): Promise<void> {
    return attempt(() => {
      deregisterMonitorEvents(this.driver, this, callbackID);
    });
  }

  // --- snapshots (qemu_snapshot.c) ----------------------------------------------------------

  domainSnapshotCreateXML(dom: DomainRef, xml: string, flags: number): Promise<string> {
    return this.onDomain(dom, (obj) => snaps.snapshotCreate(this.driver, obj, xml, flags));
  }

  private async snapList(dom: DomainRef) {
    return snaps.snapshotsOf(this.driver, this.obj(dom));
  }

  async domainListAllSnapshots(dom: DomainRef, flags: number): Promise<string[]> {
    return snapshotReads.listAll(await this.snapList(dom), flags, "qemuDomainListAllSnapshots");
  }

  async domainSnapshotListAllChildren(dom: DomainRef, snap: string, flags: number): Promise<string[]> {
    return snapshotReads.listChildren(
      await this.snapList(dom),
      snap,
      flags,
      "qemuDomainSnapshotListAllChildren",
    );
  }

  async domainSnapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    return snapshotReads.lookup(await this.snapList(dom), name, flags, "qemuDomainSnapshotLookupByName");
  }

  async domainHasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean> {
    return snapshotReads.hasCurrent(await this.snapList(dom), flags, "qemuDomainHasCurrentSnapshot");
  }

  async domainSnapshotCurrent(dom: DomainRef, flags: number): Promise<string> {
    return snapshotReads.current(await this.snapList(dom), flags, "qemuDomainSnapshotCurrent");
  }

  async domainSnapshotGetParent(dom: DomainRef, snap: string, flags: number): Promise<string> {
    return snapshotReads.parent(await this.snapList(dom), snap, flags, "qemuDomainSnapshotGetParent");
  }

  domainSnapshotGetXMLDesc(dom: DomainRef, snap: string, flags: number): Promise<string> {
    return this.onDomain(dom, (obj) => snaps.snapshotXML(this.driver, obj, snap, flags));
  }

  async domainSnapshotIsCurrent(dom: DomainRef, snap: string, flags: number): Promise<boolean> {
    return snapshotReads.isCurrent(await this.snapList(dom), snap, flags, "qemuDomainSnapshotIsCurrent");
  }

  async domainSnapshotHasMetadata(dom: DomainRef, snap: string, flags: number): Promise<boolean> {
    return snapshotReads.hasMetadata(await this.snapList(dom), snap, flags, "qemuDomainSnapshotHasMetadata");
  }

  domainRevertToSnapshot(dom: DomainRef, snap: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => snaps.snapshotRevert(this.driver, obj, snap, flags));
  }

  domainSnapshotDelete(dom: DomainRef, snap: string, flags: number): Promise<void> {
    return this.onDomain(dom, (obj) => snaps.snapshotDelete(this.driver, obj, snap, flags));
  }
}
