/**
 * One connection to the test driver: libvirt's `testHypervisorDriver` entries, with the same
 * checks, state transitions, reasons, events and messages as libvirt 9.0's `test_driver.c`.
 * Every call runs to completion without awaiting in the middle of a state change, so concurrent
 * calls on one domain see each other's results whole.
 */
/* eslint-disable @typescript-eslint/require-await -- driver entries are async by contract (errors
   become rejections); the in-memory ones have nothing to await. */
import type { DomainDef, LifecycleAction } from "../../conf/domain/index.ts";
import {
  type DomainEventCallback,
  type DomainInfo,
  type DomainRef,
  type DomainStateInfo,
  type HypervisorDriver,
  type NodeInfo,
  type SecurityLabel,
  type SecurityModel,
  type DomainStatsRecord,
  // tuning and statistics
  type BlockStats,
  type TypedParameter,
  // graphical consoles
  bufferStream,
  type Screenshot,
  type DomainInterfaceAddrs,
  type GuestFSInfo,
  type VcpuInfo,
} from "../driver.ts";
import { keycodeSetName, translateKeycode } from "../../conf/keycodes.ts";
import { testScreenshot } from "./screenshot.ts";
import {
  ConnectListDomainsFilters,
  DomainCreateFlags,
  DomainDefineFlags,
  DomainDestroyFlags,
  DomainEventDefinedDetail,
  DomainEventResumedDetail,
  DomainEventStartedDetail,
  DomainEventStoppedDetail,
  DomainEventSuspendedDetail,
  DomainEventType,
  DomainEventUndefinedDetail,
  DomainPausedReason,
  DomainRebootFlags,
  DomainRunningReason,
  DomainSaveRestoreFlags,
  DomainShutoffReason,
  DomainState,
  DomainUndefineFlags,
  DomainXMLFlags,
  DrvFeature,
  DomainEventId,
  domainEventIdNames,
} from "../enums.ts";
import { matchesListFlags } from "../list-filter.ts";
import { checkFlags, VirtError } from "../../util/errors/index.ts";

/** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB) */
const MEMORY_UNLIMITED = 9007199254740991;
import { defaultCells, testCapabilitiesXML } from "./capabilities.ts";
import { testBaselineCpu, testCpuModelNames } from "./cpu-models.ts";
import { formatTestDomain, parseTestDomain } from "./domain-xml.ts";
import { hostName } from "../../host/facts.ts";
import { validateAgainstSchema } from "../../host/xml-schema.ts";
import { readSaveImage, writeSaveImage } from "./save-image.ts";
import { getDefMetadata, setDefMetadata } from "../metadata.ts";
import { isActive, refOf, releaseDefault, type TestDomainObj, type TestState } from "./state.ts";
import { snapshotReads as snaps } from "../snapshot-list.ts";
import {
  forgetTestSnapshots,
  testSnapshotCreate,
  testSnapshotDelete,
  testSnapshotRevert,
  testSnapshotXML,
  testSnapshots,
} from "./snapshots.ts";

/** libvirt's virGetHostname (the host name the test driver reports, as libvirt's does). */
export { hostName as virGetHostname };

type ObjFlagsFilter = (obj: TestDomainObj) => boolean;

function listFilter(flags: number, state: TestState): ObjFlagsFilter {
  return (obj) =>
    matchesListFlags(flags, {
      active: isActive(obj),
      persistent: obj.persistent,
      state: obj.state,
      autostart: obj.autostart,
      hasManagedSave: () => obj.hasManagedSave,
      hasSnapshots: () => testSnapshots(state, obj).size > 0,
    });
}

export class TestConnection implements HypervisorDriver {
  readonly name = "TEST";
  private closed = false;

  constructor(
    private readonly state: TestState,
    private readonly uri: string,
  ) {}

  // --- connection ---------------------------------------------------------------------------

  async connectClose(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.state.events.removeOwner(this);
      releaseDefault(this.state);
    }
    return;
  }

  async connectGetType(): Promise<string> {
    return "TEST";
  }

  async connectGetVersion(): Promise<number> {
    return 2;
  }

  async connectGetHostname(): Promise<string> {
    return hostName();
  }

  async connectGetURI(): Promise<string> {
    return this.uri;
  }

  async connectGetCapabilities(): Promise<string> {
    return testCapabilitiesXML();
  }

  async connectGetSysinfo(flags: number): Promise<string> {
    checkFlags(flags, 0, "testConnectGetSysinfo");
    return (
      "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>LENOVO</entry>\n" +
      "    <entry name='version'>G4ETA1WW (2.61 )</entry>\n    <entry name='date'>05/07/2014</entry>\n" +
      "    <entry name='release'>2.61</entry>\n  </bios>\n</sysinfo>\n"
    );
  }

  async connectGetMaxVcpus(): Promise<number> {
    return 32;
  }

  async connectGetCPUModelNames(arch: string, flags: number): Promise<string[]> {
    checkFlags(flags, 0, "testConnectGetCPUModelNames");
    return testCpuModelNames(arch);
  }

  async connectBaselineCPU(xmlCPUs: readonly string[], flags: number): Promise<string> {
    // VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES | VIR_CONNECT_BASELINE_CPU_MIGRATABLE
    checkFlags(flags, 3, "testConnectBaselineCPU");
    return testBaselineCpu(xmlCPUs);
  }

  async connectIsAlive(): Promise<boolean> {
    return !this.closed;
  }

  async connectSupportsFeature(feature: number): Promise<boolean> {
    return (
      feature === DrvFeature.TYPED_PARAM_STRING || feature === DrvFeature.NETWORK_UPDATE_HAS_CORRECT_ORDER
    );
  }

  async connectIsSecure(): Promise<boolean> {
    return true;
  }

  async connectIsEncrypted(): Promise<boolean> {
    return false;
  }

  async nodeGetInfo(): Promise<NodeInfo> {
    return { ...this.state.nodeInfo };
  }

  async nodeGetSecurityModel(): Promise<SecurityModel> {
    return { model: "testSecurity", doi: "" };
  }

  async nodeGetFreePages(
    pages: readonly number[],
    _startCell: number,
    cellCount: number,
    flags: number,
  ): Promise<bigint[]> {
    checkFlags(flags, 0, "virNodeGetFreePages");
    // libvirt's test driver makes the counts up: a series that starts at 19 (x = 2x + 7).
    const out: bigint[] = [];
    let x = 6n;
    for (let i = 0; i < cellCount * pages.length; i++) {
      x = x * 2n + 7n;
      out.push(x);
    }
    return out;
  }

  async nodeGetFreeMemory(): Promise<bigint> {
    // libvirt sums freeMem (KiB) into an unsigned int and returns it as bytes-less count.
    return BigInt(defaultCells.reduce((s, c) => s + c.freeMem, 0));
  }

  // --- listing and lookups ------------------------------------------------------------------

  async connectListAllDomains(flags: number): Promise<DomainRef[]> {
    checkFlags(flags, ConnectListDomainsFilters.ALL, "testConnectListAllDomains");
    const keep = listFilter(flags, this.state);
    return [...this.state.domains.values()].filter(keep).map(refOf);
  }

  async connectNumOfDomains(): Promise<number> {
    return [...this.state.domains.values()].filter(isActive).length;
  }

  async connectListDomains(maxids: number): Promise<number[]> {
    return [...this.state.domains.values()]
      .filter(isActive)
      .map((o) => o.id)
      .slice(0, maxids);
  }

  async connectNumOfDefinedDomains(): Promise<number> {
    return [...this.state.domains.values()].filter((o) => !isActive(o)).length;
  }

  async connectListDefinedDomains(maxnames: number): Promise<string[]> {
    return [...this.state.domains.values()]
      .filter((o) => !isActive(o))
      .map((o) => o.def.name)
      .slice(0, maxnames);
  }

  async domainLookupByID(id: number): Promise<DomainRef> {
    const obj = this.state.findById(id);
    if (!obj) throw new VirtError("DOMAIN_NOT_FOUND", {}, { id });
    return refOf(obj);
  }

  async domainLookupByName(name: string): Promise<DomainRef> {
    const obj = this.state.findByName(name);
    if (!obj) throw new VirtError("DOMAIN_NOT_FOUND", {}, { name });
    return refOf(obj);
  }

  async domainLookupByUUID(uuid: string): Promise<DomainRef> {
    const obj = this.state.domains.get(uuid.toLowerCase());
    if (!obj) throw new VirtError("DOMAIN_NOT_FOUND", {}, { uuid });
    return refOf(obj);
  }

  /** testDomObjFromDomain: the object behind a handle, by UUID. */
  private obj(dom: DomainRef): TestDomainObj {
    const obj = this.state.domains.get(dom.uuid);
    if (!obj)
      throw new VirtError(
        "DOMAIN_NOT_FOUND_UUID",
        { uuid: dom.uuid, name: dom.name },
        { uuid: dom.uuid, name: dom.name },
      );
    return obj;
  }

  private activeObj(dom: DomainRef): TestDomainObj {
    const obj = this.obj(dom);
    if (!isActive(obj)) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.def.name });
    return obj;
  }

  // --- define, create, undefine ---------------------------------------------------------------

  /**
   * virDomainObjListAdd: refuses a UUID used under another name and a name used under another
   * UUID; with `live`, refuses a running domain; then installs the definition.
   */
  private addObj(def: DomainDef, live: boolean): { obj: TestDomainObj; replaced: boolean } {
    const existing = this.state.domains.get(def.uuid);
    if (existing) {
      if (existing.def.name !== def.name) {
        throw new VirtError(
          "DOMAIN_UUID_EXISTS",
          { name: existing.def.name, uuid: existing.def.uuid },
          { uuid: def.uuid },
        );
      }
      if (live) {
        if (isActive(existing)) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: existing.def.name });
        if (!existing.persistent) throw new VirtError("DOMAIN_BEING_STARTED", { name: existing.def.name });
      }
      // virDomainObjAssignDef
      if (isActive(existing)) {
        existing.newDef = def;
      } else if (live) {
        existing.newDef ??= existing.def;
        existing.def = def;
      } else {
        existing.def = def;
      }
      return { obj: existing, replaced: true };
    }
    const byName = this.state.findByName(def.name);
    if (byName) {
      throw new VirtError(
        "DOMAIN_NAME_EXISTS",
        { name: def.name, uuid: byName.def.uuid },
        { name: def.name },
      );
    }
    const obj: TestDomainObj = {
      def,
      newDef: undefined,
      id: -1,
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.UNKNOWN,
      persistent: false,
      autostart: false,
      hasManagedSave: false,
    };
    this.state.domains.set(def.uuid, obj);
    return { obj, replaced: false };
  }

  async domainDefineXMLFlags(xml: string, flags: number): Promise<DomainRef> {
    checkFlags(flags, DomainDefineFlags.VALIDATE, "testDomainDefineXMLFlags");
    if (flags & DomainDefineFlags.VALIDATE)
      await validateAgainstSchema(xml, "domain", { document: "(domain_definition)" });
    const def = parseTestDomain(xml);
    const { obj, replaced } = this.addObj(def, false);
    // libvirt reports "updated" when an old definition was replaced.
    obj.persistent = true;
    this.state.lifecycle(
      obj,
      DomainEventType.DEFINED,
      replaced ? DomainEventDefinedDetail.UPDATED : DomainEventDefinedDetail.ADDED,
    );
    return refOf(obj);
  }

  async domainCreateXML(xml: string, flags: number): Promise<DomainRef> {
    checkFlags(flags, DomainCreateFlags.START_VALIDATE, "testDomainCreateXML");
    if (flags & DomainCreateFlags.START_VALIDATE)
      await validateAgainstSchema(xml, "domain", { document: "(domain_definition)" });
    const def = parseTestDomain(xml);
    const { obj } = this.addObj(def, true);
    this.state.startState(obj, DomainRunningReason.BOOTED);
    this.state.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED);
    return refOf(obj);
  }

  async domainCreateWithFlags(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainCreateWithFlags");
    const obj = this.obj(dom);
    if (obj.state !== DomainState.SHUTOFF)
      throw new VirtError("TEST_DOMAIN_ALREADY_RUNNING", { name: dom.name });
    this.state.startState(obj, DomainRunningReason.BOOTED);
    dom.id = obj.id;
    this.state.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED);
    return;
  }

  async domainUndefineFlags(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(
      flags,
      DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA,
      "testDomainUndefineFlags",
    );
    const obj = this.obj(dom);
    if (obj.hasManagedSave && !(flags & DomainUndefineFlags.MANAGED_SAVE))
      throw new VirtError("DOMAIN_MANAGED_SAVE_EXISTS");
    const nsnaps = testSnapshots(this.state, obj).size;
    if (nsnaps > 0 && !isActive(obj) && !(flags & DomainUndefineFlags.SNAPSHOTS_METADATA)) {
      throw new VirtError("SNAPSHOT_UNDEFINE_HAS_SNAPSHOTS", { count: nsnaps });
    }
    if (!isActive(obj)) forgetTestSnapshots(this.state, obj.def.uuid);
    this.state.lifecycle(obj, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED);
    obj.hasManagedSave = false;
    if (isActive(obj)) obj.persistent = false;
    else this.state.domains.delete(obj.def.uuid);
    return;
  }

  // --- life cycle ---------------------------------------------------------------------------

  async domainDestroyFlags(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, DomainDestroyFlags.GRACEFUL, "testDomainDestroyFlags");
    const obj = this.activeObj(dom);
    this.state.shutdownState(obj, DomainShutoffReason.DESTROYED, dom);
    this.state.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.DESTROYED);
    this.state.removeIfTransient(obj);
    return;
  }

  /** testDomainActionSetState, then the stop that follows when the action powers off. */
  private lifecycleAction(obj: TestDomainObj, dom: DomainRef, action: LifecycleAction): void {
    if (action === "restart" || action === "rename-restart") {
      obj.state = DomainState.RUNNING;
      obj.reason = DomainRunningReason.BOOTED;
      return;
    }
    obj.state = DomainState.SHUTOFF;
    obj.reason = DomainShutoffReason.SHUTDOWN;
    this.state.shutdownState(obj, DomainShutoffReason.SHUTDOWN, dom);
    this.state.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.SHUTDOWN);
    this.state.removeIfTransient(obj);
  }

  async domainShutdownFlags(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainShutdownFlags");
    const obj = this.obj(dom);
    if (obj.state === DomainState.SHUTOFF) throw new VirtError("TEST_DOMAIN_NOT_RUNNING", { name: dom.name });
    this.lifecycleAction(obj, dom, obj.def.onPoweroff);
    return;
  }

  async domainReboot(dom: DomainRef, flags: number): Promise<void> {
    const all =
      DomainRebootFlags.ACPI_POWER_BTN |
      DomainRebootFlags.GUEST_AGENT |
      DomainRebootFlags.INITCTL |
      DomainRebootFlags.SIGNAL |
      DomainRebootFlags.PARAVIRT;
    checkFlags(flags, all, "testDomainReboot");
    const obj = this.activeObj(dom);
    this.lifecycleAction(obj, dom, obj.def.onReboot);
    return;
  }

  async domainReset(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainReset");
    this.activeObj(dom);
    return;
  }

  async domainSuspend(dom: DomainRef): Promise<void> {
    const obj = this.obj(dom);
    if (obj.state === DomainState.SHUTOFF || obj.state === DomainState.PAUSED) {
      throw new VirtError("TEST_DOMAIN_NOT_RUNNING", { name: dom.name });
    }
    obj.state = DomainState.PAUSED;
    obj.reason = DomainPausedReason.USER;
    this.state.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED);
    return;
  }

  async domainResume(dom: DomainRef): Promise<void> {
    const obj = this.obj(dom);
    if (obj.state !== DomainState.PAUSED) throw new VirtError("TEST_DOMAIN_NOT_PAUSED", { name: dom.name });
    obj.state = DomainState.RUNNING;
    obj.reason = DomainRunningReason.UNPAUSED;
    this.state.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.UNPAUSED);
    return;
  }

  // --- save, restore, managed save ----------------------------------------------------------

  async domainSaveFlags(dom: DomainRef, path: string, dxml: string | null, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainSaveFlags");
    if (dxml !== null) throw new VirtError("DOMAIN_XML_MODIFICATION_UNSUPPORTED");
    const obj = this.activeObj(dom);
    const xml = formatTestDomain(obj.def, { id: obj.id, secure: true });
    const id = obj.id;
    await writeSaveImage(path, dom.name, xml);
    // The domain may have changed while the image was written: only stop what was saved.
    if (this.state.domains.get(obj.def.uuid) !== obj || obj.id !== id) {
      throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: dom.name });
    }
    this.state.shutdownState(obj, DomainShutoffReason.SAVED, dom);
    this.state.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.SAVED);
    this.state.removeIfTransient(obj);
  }

  async domainRestoreFlags(path: string, dxml: string | null, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainRestoreFlags");
    if (dxml !== null) throw new VirtError("DOMAIN_XML_MODIFICATION_UNSUPPORTED");
    const xml = await readSaveImage(path);
    const def = parseTestDomain(xml);
    const { obj } = this.addObj(def, true);
    this.state.startState(obj, DomainRunningReason.RESTORED);
    this.state.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.RESTORED);
  }

  async domainSaveImageGetXMLDesc(path: string, flags: number): Promise<string> {
    checkFlags(flags, DomainXMLFlags.SECURE, "testDomainSaveImageGetXMLDesc");
    const def = parseTestDomain(await readSaveImage(path));
    return formatTestDomain(def, { secure: true });
  }

  async domainSaveImageDefineXML(path: string, dxml: string, flags: number): Promise<void> {
    checkFlags(
      flags,
      DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
      "testDomainSaveImageDefineXML",
    );
    parseTestDomain(await readSaveImage(path));
    const def = parseTestDomain(dxml);
    await writeSaveImage(path, def.name, formatTestDomain(def, { secure: true }));
  }

  async domainManagedSave(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(
      flags,
      DomainSaveRestoreFlags.BYPASS_CACHE | DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
      "testDomainManagedSave",
    );
    const obj = this.activeObj(dom);
    if (!obj.persistent) throw new VirtError("DOMAIN_MANAGED_SAVE_TRANSIENT", {}, { name: dom.name });
    this.state.shutdownState(obj, DomainShutoffReason.SAVED, dom);
    this.state.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.SAVED);
    obj.hasManagedSave = true;
    return;
  }

  async domainHasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean> {
    checkFlags(flags, 0, "testDomainHasManagedSaveImage");
    return this.obj(dom).hasManagedSave;
  }

  async domainManagedSaveRemove(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainManagedSaveRemove");
    this.obj(dom).hasManagedSave = false;
    return;
  }

  // --- queries and settings -----------------------------------------------------------------

  async domainGetAutostart(dom: DomainRef): Promise<boolean> {
    return this.obj(dom).autostart;
  }

  async domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void> {
    this.obj(dom).autostart = autostart;
    return;
  }

  async domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    checkFlags(
      flags,
      DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.MIGRATABLE,
      "testDomainGetXMLDesc",
    );
    const obj = this.obj(dom);
    const inactive = (flags & DomainXMLFlags.INACTIVE) !== 0;
    const def = inactive && obj.newDef ? obj.newDef : obj.def;
    const id = inactive ? -1 : obj.id;
    return formatTestDomain(def, { id, secure: (flags & DomainXMLFlags.SECURE) !== 0 });
  }

  async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    const obj = this.obj(dom);
    return {
      state: obj.state,
      memory: obj.def.currentMemory,
      maxMem: obj.def.memory,
      nrVirtCpu: obj.def.vcpu.current ?? obj.def.vcpu.count,
      // libvirt reports the wall clock as CPU time: g_get_real_time() * 1000.
      cpuTime: BigInt(Date.now()) * 1_000_000n,
    };
  }

  async domainGetState(dom: DomainRef, flags: number): Promise<DomainStateInfo> {
    checkFlags(flags, 0, "testDomainGetState");
    const obj = this.obj(dom);
    return { state: obj.state, reason: obj.reason };
  }

  async domainGetOSType(dom: DomainRef): Promise<string> {
    this.obj(dom);
    return "linux";
  }

  async domainGetMaxMemory(dom: DomainRef): Promise<number> {
    return this.obj(dom).def.memory;
  }

  async domainGetSecurityLabel(dom: DomainRef): Promise<SecurityLabel> {
    const obj = this.obj(dom);
    return isActive(obj) ? { label: "libvirt-test", enforcing: true } : { label: "", enforcing: false };
  }

  async domainIsActive(dom: DomainRef): Promise<boolean> {
    return isActive(this.obj(dom));
  }

  async domainIsPersistent(dom: DomainRef): Promise<boolean> {
    return this.obj(dom).persistent;
  }

  async domainIsUpdated(dom: DomainRef): Promise<boolean> {
    this.obj(dom);
    return false;
  }

  // --- events -------------------------------------------------------------------------------

  async connectDomainEventRegisterAny(
    dom: DomainRef | null,
    eventID: number,
    callback: DomainEventCallback,
  ): Promise<number> {
    if (eventID < 0 || eventID >= domainEventIdNames.length) {
      throw new VirtError("API_INVALID_ARG", {
        what: `eventID in virConnectDomainEventRegisterAny must be less than ${domainEventIdNames.length}`,
      });
    }
    if (dom) this.obj(dom);
    return this.state.events.register(this, dom ? dom.uuid : null, eventID, callback);
  }

  async connectDomainEventDeregisterAny(callbackID: number): Promise<void> {
    this.state.events.deregister(this, callbackID);
    return;
  }

  // --- tuning and statistics (setmem, setmaxmem, setvcpus, vcpucount, dommemstat --period,
  // domstats: libvirt's test driver) ---------------------------------------------------------

  /** virDomainObjGetDefs: the live and/or persistent definition a LIVE/CONFIG/CURRENT call touches. */
  #tuningDefs(obj: TestDomainObj, flags: number): { live?: DomainDef; config?: DomainDef } {
    let f = flags & 3;
    if (f === 0) f = isActive(obj) ? 1 : 2;
    if (f & 1 && !isActive(obj)) throw new VirtError("DOMAIN_NOT_RUNNING");
    if (f & 2 && !obj.persistent) throw new VirtError("TUNING_NOT_PERSISTENT");
    let config: DomainDef | undefined;
    if (f & 2) {
      if (isActive(obj)) {
        if (!obj.newDef || obj.newDef === obj.def) obj.newDef = structuredClone(obj.def);
        config = obj.newDef;
      } else config = obj.def;
    }
    return { ...(f & 1 ? { live: obj.def } : {}), ...(config ? { config } : {}) };
  }

  /** virDomainObjGetOneDef: LIVE and CONFIG together are refused. */
  #tuningOneDef(obj: TestDomainObj, flags: number): DomainDef {
    if ((flags & 3) === 3) {
      const e = new VirtError("API_INVALID_ARG", {
        what: "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
      });
      e.message = e.detail;
      throw e;
    }
    const d = this.#tuningDefs(obj, flags);
    return d.live ?? d.config ?? obj.def;
  }

  async domainSetMemoryFlags(dom: DomainRef, memory: number, flags: number): Promise<void> {
    checkFlags(flags, 1 | 2 | 4, "testDomainSetMemoryFlags");
    const obj = this.obj(dom);
    const def = this.#tuningOneDef(obj, flags);
    if (flags & 4) {
      if (def === obj.def && isActive(obj)) throw new VirtError("TUNING_MAX_MEMORY_LIVE");
      if (memory < def.currentMemory) def.currentMemory = memory;
      def.memory = memory;
      return;
    }
    if (memory > def.memory) throw new VirtError("TUNING_MEMORY_ABOVE_MAX");
    def.currentMemory = memory;
  }

  async domainSetMemory(dom: DomainRef, memory: number): Promise<void> {
    return this.domainSetMemoryFlags(dom, memory, 1);
  }

  async domainSetMaxMemory(dom: DomainRef, memory: number): Promise<void> {
    return this.domainSetMemoryFlags(dom, memory, 4);
  }

  async domainSetVcpusFlags(dom: DomainRef, nvcpus: number, flags: number): Promise<void> {
    checkFlags(flags, 1 | 2 | 4, "testDomainSetVcpusFlags");
    const max = await this.connectGetMaxVcpus();
    if (nvcpus > max) {
      throw new VirtError("API_INVALID_ARG", {
        what: `requested cpu amount exceeds maximum supported amount (${nvcpus} > ${max})`,
      });
    }
    const obj = this.obj(dom);
    const { live, config } = this.#tuningDefs(obj, flags);
    const exceeds = (d: DomainDef): void => {
      if (d.vcpu.count < nvcpus)
        throw new VirtError("API_INVALID_ARG", {
          what: `requested cpu amount exceeds maximum (${nvcpus} > ${d.vcpu.count})`,
        });
    };
    if (live) exceeds(live);
    if (config && !(flags & 4)) exceeds(config);
    const setOnline = (d: DomainDef, n: number): void => {
      if (n >= d.vcpu.count) delete d.vcpu.current;
      else d.vcpu.current = n;
    };
    if (live) setOnline(live, nvcpus);
    if (config) {
      if (flags & 4) {
        const online = config.vcpu.current ?? config.vcpu.count;
        config.vcpu.count = nvcpus;
        setOnline(config, Math.min(online, nvcpus));
      } else setOnline(config, nvcpus);
    }
  }

  async domainSetVcpus(dom: DomainRef, nvcpus: number): Promise<void> {
    return this.domainSetVcpusFlags(dom, nvcpus, 1);
  }

  async domainGetVcpusFlags(dom: DomainRef, flags: number): Promise<number> {
    checkFlags(flags, 1 | 2 | 4, "testDomainGetVcpusFlags");
    const def = this.#tuningOneDef(this.obj(dom), flags);
    return flags & 4 ? def.vcpu.count : (def.vcpu.current ?? def.vcpu.count);
  }

  async domainGetMaxVcpus(dom: DomainRef): Promise<number> {
    const obj = this.obj(dom);
    return this.domainGetVcpusFlags(dom, (isActive(obj) ? 1 : 2) | 4);
  }

  async domainSetMemoryStatsPeriod(dom: DomainRef, period: number, flags: number): Promise<void> {
    checkFlags(flags, 1 | 2, "testDomainSetMemoryStatsPeriod");
    if (period < 0) throw new VirtError("TUNING_BAD_PERIOD", { period });
    const { live, config } = this.#tuningDefs(this.obj(dom), flags);
    for (const d of [live, config]) {
      const m = d?.devices.memballoon;
      if (m) m.statsPeriod = period;
    }
  }

  // --- cgroup tuning as libvirt's test driver: values live in the definition only ----------

  /** testDomainGetMemoryParameters */
  async domainGetMemoryParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    checkFlags(flags, 1 | 2 | 4, "testDomainGetMemoryParameters");
    const def = this.#tuningOneDef(this.obj(dom), flags & 3);
    const mt = def.memtune;
    return (["hard_limit", "soft_limit", "swap_hard_limit"] as const).map((field) => ({
      field,
      value: { type: 4 as const, value: BigInt(mt?.[field] ?? MEMORY_UNLIMITED) },
    }));
  }

  /** testDomainSetMemoryParameters */
  async domainSetMemoryParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    checkFlags(flags, 1 | 2, "testDomainSetMemoryParameters");
    const def = this.#tuningOneDef(this.obj(dom), flags);
    const allowed = ["hard_limit", "soft_limit", "swap_hard_limit"];
    for (const p of params) {
      if (!allowed.includes(p.field))
        throw new VirtError("TUNE_PARAM_UNKNOWN", { field: p.field }, { expected: allowed.join(", ") });
      if (p.value.type !== 4)
        throw new VirtError("TUNE_PARAM_TYPE", { field: p.field, got: String(p.value.type), want: "ullong" });
    }
    const get = (f: string, cur: number | undefined): number => {
      const p = params.find((x) => x.field === f);
      return p ? Number(p.value.value) : (cur ?? MEMORY_UNLIMITED);
    };
    const mt = def.memtune ?? {};
    const hard = get("hard_limit", mt.hard_limit);
    const swap = get("swap_hard_limit", mt.swap_hard_limit);
    if (hard > swap) throw new VirtError("TUNE_HARD_ABOVE_SWAP", {});
    for (const p of params) {
      const v = Math.min(Number(p.value.value), MEMORY_UNLIMITED);
      const k = p.field as "hard_limit" | "soft_limit" | "swap_hard_limit";
      if (v >= MEMORY_UNLIMITED) Reflect.deleteProperty(mt, k);
      else mt[k] = v;
    }
    def.memtune = mt;
  }

  /** testDomainGetSchedulerType: the "fair" scheduler with one parameter. */
  async domainGetSchedulerType(dom: DomainRef): Promise<{ type: string; nparams: number }> {
    this.obj(dom);
    return { type: "fair", nparams: 1 };
  }

  /** testDomainGetSchedulerParameters */
  async domainGetSchedulerParameters(dom: DomainRef): Promise<TypedParameter[]> {
    return this.domainGetSchedulerParametersFlags(dom, 0);
  }

  /** testDomainSetSchedulerParameters */
  async domainSetSchedulerParameters(dom: DomainRef, params: TypedParameter[]): Promise<void> {
    return this.domainSetSchedulerParametersFlags(dom, params, 0);
  }

  /** testDomainGetSchedulerParametersFlags: weight 50, always (no flags taken, as libvirt's). */
  async domainGetSchedulerParametersFlags(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    checkFlags(flags, 0, "testDomainGetSchedulerParametersFlags");
    this.obj(dom);
    return [{ field: "weight", value: { type: 2, value: 50 } }];
  }

  /** testDomainSetSchedulerParametersFlags: checks the parameter and keeps nothing (as libvirt's). */
  async domainSetSchedulerParametersFlags(
    dom: DomainRef,
    params: TypedParameter[],
    flags: number,
  ): Promise<void> {
    checkFlags(flags, 0, "testDomainSetSchedulerParametersFlags");
    this.obj(dom);
    for (const p of params) {
      if (p.field !== "weight")
        throw new VirtError("TUNE_PARAM_UNKNOWN", { field: p.field }, { expected: "weight" });
      if (p.value.type !== 2)
        throw new VirtError("TUNE_PARAM_TYPE", { field: p.field, got: String(p.value.type), want: "uint" });
    }
  }

  /** testDomainGetBlkioParameters */
  async domainGetBlkioParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    checkFlags(flags, 1 | 2 | 4, "testDomainGetBlkioParameters");
    const def = this.#tuningOneDef(this.obj(dom), flags & 3);
    const bt = def.blkiotune;
    const out: TypedParameter[] = [{ field: "weight", value: { type: 2, value: bt?.weight ?? 0 } }];
    if (!(flags & 4)) return out;
    for (const [field, k] of [
      ["device_weight", "weight"],
      ["device_read_iops_sec", "read_iops_sec"],
      ["device_write_iops_sec", "write_iops_sec"],
      ["device_read_bytes_sec", "read_bytes_sec"],
      ["device_write_bytes_sec", "write_bytes_sec"],
    ] as const) {
      const text = (bt?.devices ?? [])
        .filter((d) => d[k])
        .map((d) => `${d.path},${String(d[k])}`)
        .join(",");
      out.push({ field, value: { type: 7, value: text } });
    }
    return out;
  }

  /** testDomainSetBlkioParameters: the weight into the definition. */
  async domainSetBlkioParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    checkFlags(flags, 1 | 2, "testDomainSetBlkioParameters");
    const def = this.#tuningOneDef(this.obj(dom), flags);
    for (const p of params) {
      if (p.field !== "weight") continue;
      // libvirt's test driver takes any weight
      (def.blkiotune ??= { devices: [] }).weight = Number(p.value.value);
    }
  }

  /** testDomainBlockStats: numbers from the wall clock ("just enough to mix it up"). */
  async domainBlockStats(dom: DomainRef, path: string): Promise<BlockStats> {
    const obj = this.obj(dom);
    if (path === "") throw new VirtError("TUNING_BLOCK_SUMMARY");
    if (!obj.def.devices.disks.some((d) => d.target.dev === path))
      throw new VirtError("TUNING_BLOCK_PATH", { path });
    const us = BigInt(Date.now()) * 1000n;
    return {
      rdReq: us / 10n,
      rdBytes: us / 20n,
      wrReq: us / 30n,
      wrBytes: us / 40n,
      errs: us / 1_000_000n / 2n,
    };
  }

  async connectGetAllDomainStats(
    doms: DomainRef[],
    stats: number,
    flags: number,
  ): Promise<DomainStatsRecord[]> {
    checkFlags(flags, 0xff | (2 ** 29) | (2 ** 30) | (2 ** 31), "testConnectGetAllDomainStats");
    const supported = 1; // VIR_DOMAIN_STATS_STATE
    const unknown = stats & ~supported;
    if (flags & (2 ** 31) && unknown !== 0)
      throw new VirtError("TUNING_STATS_BAD_GROUP", { bits: (unknown >>> 0).toString(16) });
    const want = stats === 0 ? supported : stats;
    const objs =
      doms.length > 0
        ? doms.map((d) => this.obj(d))
        : [...this.state.domains.values()].filter(listFilter(flags & 0xff, this.state));
    return objs.map((o) => ({
      dom: refOf(o),
      params:
        want & supported
          ? [
              { field: "state.state", value: { type: 1 as const, value: o.state } },
              { field: "state.reason", value: { type: 1 as const, value: o.reason } },
            ]
          : [],
    }));
  }

  // --- graphical consoles (testDomainScreenshot, testDomainSendKey) ---------------------------

  async domainScreenshot(dom: DomainRef, _screen: number, flags: number): Promise<Screenshot> {
    checkFlags(flags, 0, "testDomainScreenshot");
    // libvirt's test driver answers for an inactive domain too
    this.obj(dom);
    return { mime: "image/png", stream: bufferStream(testScreenshot()) };
  }

  // --- snapshots (libvirt's testDomainSnapshot*) ---------------------------------------------

  async domainSnapshotCreateXML(dom: DomainRef, xml: string, flags: number): Promise<string> {
    const obj = this.obj(dom);
    const name = await testSnapshotCreate(this.state, obj, xml, flags);
    dom.id = obj.id;
    return name;
  }

  async domainListAllSnapshots(dom: DomainRef, flags: number): Promise<string[]> {
    return snaps.listAll(testSnapshots(this.state, this.obj(dom)), flags, "testDomainListAllSnapshots");
  }

  async domainSnapshotListAllChildren(dom: DomainRef, snap: string, flags: number): Promise<string[]> {
    const list = testSnapshots(this.state, this.obj(dom));
    return snaps.listChildren(list, snap, flags, "testDomainSnapshotListAllChildren");
  }

  async domainSnapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    return snaps.lookup(
      testSnapshots(this.state, this.obj(dom)),
      name,
      flags,
      "testDomainSnapshotLookupByName",
    );
  }

  async domainHasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean> {
    return snaps.hasCurrent(testSnapshots(this.state, this.obj(dom)), flags, "testDomainHasCurrentSnapshot");
  }

  async domainSnapshotCurrent(dom: DomainRef, flags: number): Promise<string> {
    return snaps.current(testSnapshots(this.state, this.obj(dom)), flags, "testDomainSnapshotCurrent");
  }

  async domainSnapshotGetParent(dom: DomainRef, snap: string, flags: number): Promise<string> {
    return snaps.parent(testSnapshots(this.state, this.obj(dom)), snap, flags, "testDomainSnapshotGetParent");
  }

  async domainSnapshotGetXMLDesc(dom: DomainRef, snap: string, flags: number): Promise<string> {
    return testSnapshotXML(this.state, this.obj(dom), snap, flags);
  }

  async domainSnapshotIsCurrent(dom: DomainRef, snap: string, flags: number): Promise<boolean> {
    return snaps.isCurrent(
      testSnapshots(this.state, this.obj(dom)),
      snap,
      flags,
      "testDomainSnapshotIsCurrent",
    );
  }

  async domainSnapshotHasMetadata(dom: DomainRef, snap: string, flags: number): Promise<boolean> {
    const list = testSnapshots(this.state, this.obj(dom));
    return snaps.hasMetadata(list, snap, flags, "testDomainSnapshotHasMetadata");
  }

  async domainRevertToSnapshot(dom: DomainRef, snap: string, flags: number): Promise<void> {
    const obj = this.obj(dom);
    await testSnapshotRevert(this.state, obj, snap, flags);
    dom.id = obj.id;
  }

  async domainSnapshotDelete(dom: DomainRef, snap: string, flags: number): Promise<void> {
    await testSnapshotDelete(this.state, this.obj(dom), snap, flags);
  }

  async domainSendKey(
    dom: DomainRef,
    codeset: number,
    _holdtime: number,
    keycodes: readonly number[],
    flags: number,
  ): Promise<void> {
    checkFlags(flags, 0, "testDomainSendKey");
    this.activeObj(dom);
    for (const k of keycodes) {
      if (translateKeycode(codeset, codeset, k) === undefined)
        throw new VirtError("TEST_SENDKEY_INVALID", { keycode: k, codeset: keycodeSetName(codeset) });
    }
  }

  // --- issue 20: host CPU, vCPUs, metadata, NMI, time, addresses (libvirt's test driver) ------

  async nodeGetCPUMap(flags: number): Promise<{ cpus: number; online: number[] }> {
    checkFlags(flags, 0, "testNodeGetCPUMap");
    // libvirt's test host: 8 CPUs present, 0, 2 and 4 online.
    return { cpus: 8, online: [0, 2, 4] };
  }

  async nodeGetCPUStats(_cpuNum: number, flags: number): Promise<{ field: string; value: bigint }[]> {
    checkFlags(flags, 0, "testNodeGetCPUStats");
    return [
      { field: "user", value: 9797400000n },
      { field: "kernel", value: 34678723400000n },
      { field: "idle", value: 87264900000n },
      { field: "iowait", value: 763600000n },
    ];
  }

  async domainGetVcpus(
    dom: DomainRef,
  ): Promise<{ info: VcpuInfo[]; affinity: number[][]; hostCpus: number }> {
    const obj = this.obj(dom);
    if (!isActive(obj)) throw new VirtError("DOMAIN_VCPUS_INACTIVE");
    const n = obj.def.vcpu.current ?? obj.def.vcpu.count;
    // libvirt's test driver reports the time of day as every vCPU's CPU time (µs / 10 as ns)
    // and the last of its 16 host CPUs as the one each runs on, pinned to all of them.
    const cpuTime = BigInt(Date.now()) * 100n;
    const all = Array.from({ length: 16 }, (_, i) => i);
    return {
      info: Array.from({ length: n }, (_, i) => ({ number: i, state: 1, cpuTime, cpu: 15 })),
      affinity: Array.from({ length: n }, () => all),
      hostCpus: 16,
    };
  }

  async domainSetMetadata(
    dom: DomainRef,
    type: number,
    metadata: string | null,
    key: string | null,
    uri: string | null,
    flags: number,
  ): Promise<void> {
    checkFlags(flags, 1 | 2, "testDomainSetMetadata");
    const obj = this.obj(dom);
    const { live, config } = this.#tuningDefs(obj, flags);
    for (const def of [live, config]) if (def) setDefMetadata(def, type, metadata, uri, "Set", key);
    this.state.events.emit(refOf(obj), { id: DomainEventId.METADATA_CHANGE, type, nsuri: uri });
  }

  async domainGetMetadata(dom: DomainRef, type: number, uri: string | null, flags: number): Promise<string> {
    checkFlags(flags, 1 | 2, "testDomainGetMetadata");
    return getDefMetadata(this.#tuningOneDef(this.obj(dom), flags), type, uri);
  }

  async domainInjectNMI(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, "testDomainInjectNMI");
    if (!isActive(this.obj(dom))) throw new VirtError("DOMAIN_NOT_RUNNING");
  }

  async domainGetTime(dom: DomainRef, flags: number): Promise<{ seconds: bigint; nseconds: number }> {
    checkFlags(flags, 0, "testDomainGetTime");
    if (!isActive(this.obj(dom))) throw new VirtError("DOMAIN_NOT_RUNNING");
    // libvirt's test driver answers a fixed guest time.
    return { seconds: 627319920n, nseconds: 0 };
  }

  async domainSetTime(dom: DomainRef, _seconds: bigint, _nseconds: number, flags: number): Promise<void> {
    checkFlags(flags, 1, "testDomainSetTime");
    if (!isActive(this.obj(dom))) throw new VirtError("DOMAIN_NOT_RUNNING");
  }

  async domainInterfaceAddresses(
    dom: DomainRef,
    source: number,
    flags: number,
  ): Promise<DomainInterfaceAddrs[]> {
    checkFlags(flags, 0, "testDomainInterfaceAddresses");
    if (source < 0 || source > 2) throw new VirtError("DOMAIN_ADDR_SOURCE", { source });
    const obj = this.obj(dom);
    if (!isActive(obj)) throw new VirtError("DOMAIN_NOT_RUNNING");
    // libvirt's test driver makes one IPv4 address up per interface, whatever the source.
    return obj.def.devices.interfaces.map((nic, i) => ({
      name: `testnet${i}`,
      hwaddr: nic.mac?.address ?? null,
      addrs: [{ type: 0, addr: `192.168.122.${3 + i}`, prefix: 24 }],
    }));
  }

  // --- the guest agent's calls, as libvirt's test driver answers them: a made-up guest with
  // "/" and "/boot" on the first disk, whose freeze state the domain keeps.

  /** The filesystems `mountpoints` names (both when empty), or libvirt's error for a stranger. */
  #fsTargets(mountpoints: readonly string[]): boolean[] {
    const want = [mountpoints.length === 0, mountpoints.length === 0];
    for (const m of mountpoints) {
      const i = TEST_MOUNTPOINTS.indexOf(m);
      if (i < 0) throw new VirtError("TEST_FS_MOUNTPOINT", { mountpoint: m });
      want[i] = true;
    }
    return want;
  }

  #fsSetFrozen(dom: DomainRef, mountpoints: readonly string[], frozen: boolean): number {
    const obj = this.obj(dom);
    if (!isActive(obj)) throw new VirtError("DOMAIN_NOT_RUNNING");
    const want = this.#fsTargets(mountpoints);
    const state = (obj.frozen ??= [false, false]);
    let changed = 0;
    want.forEach((w, i) => {
      if (w && state[i] !== frozen) {
        state[i] = frozen;
        changed++;
      }
    });
    return changed;
  }

  async domainFSFreeze(dom: DomainRef, mountpoints: readonly string[], flags: number): Promise<number> {
    checkFlags(flags, 0, "testDomainFSFreeze");
    return this.#fsSetFrozen(dom, mountpoints, true);
  }

  async domainFSThaw(dom: DomainRef, mountpoints: readonly string[], flags: number): Promise<number> {
    checkFlags(flags, 0, "testDomainFSThaw");
    return this.#fsSetFrozen(dom, mountpoints, false);
  }

  async domainGetFSInfo(dom: DomainRef, flags: number): Promise<GuestFSInfo[]> {
    checkFlags(flags, 0, "testDomainGetFSInfo");
    const obj = this.obj(dom);
    if (!isActive(obj)) throw new VirtError("DOMAIN_NOT_RUNNING");
    // both filesystems are partitions of the first hard disk; without one the guest has none
    const disk = obj.def.devices.disks.find((d) => d.device === "disk");
    if (!disk) return [];
    const dev = disk.target.dev;
    return TEST_MOUNTPOINTS.map((mountpoint, i) => ({
      mountpoint,
      name: `${dev}${i + 1}`,
      fstype: "ext4",
      devAliases: [dev],
    }));
  }

  async domainSetUserPassword(
    dom: DomainRef,
    _user: string,
    _password: string,
    flags: number,
  ): Promise<void> {
    checkFlags(flags, 1 /* VIR_DOMAIN_PASSWORD_ENCRYPTED */, "testDomainSetUserPassword");
    if (!isActive(this.obj(dom))) throw new VirtError("DOMAIN_NOT_RUNNING");
  }
}

/** The test guest's filesystems, in the order libvirt's test driver lists them. */
const TEST_MOUNTPOINTS = ["/", "/boot"];
