/**
 * The in-memory state of a test driver node (libvirt's `testDriver`): domain objects, the next
 * domain id, events. All connections to `test:///default` in one process share one state while
 * at least one of them is open; when the last one closes the state is dropped, and the next
 * connection starts again from the default node (libvirt's `defaultPrivconn`).
 */
import type { DomainDef } from "../../conf/domain/index.ts";
import { type DomainRef, type NodeInfo } from "../driver.ts";
import { DomainEventId, DomainState, type DomainEventType } from "../enums.ts";
import { defaultNodeInfo } from "./capabilities.ts";
import { parseTestDomain } from "./domain-xml.ts";
import { DomainEventHub } from "../events.ts";

/** libvirt's `virDomainObj` for the test driver. */
export interface TestDomainObj {
  /** Current definition: the live one while running. */
  def: DomainDef;
  /** The persistent definition while running (libvirt's `newDef`). */
  newDef: DomainDef | undefined;
  /** -1 while inactive. */
  id: number;
  state: DomainState;
  reason: number;
  persistent: boolean;
  autostart: boolean;
  hasManagedSave: boolean;
  /**
   * Which of the test guest's two filesystems ("/" and "/boot") are frozen (libvirt's
   * `testDomainObjPrivate.frozen`); kept across stop and start, as libvirt keeps it.
   */
  frozen?: [boolean, boolean];
}

export function isActive(obj: TestDomainObj): boolean {
  return obj.id !== -1;
}

export function refOf(obj: TestDomainObj): DomainRef {
  return { name: obj.def.name, uuid: obj.def.uuid, id: obj.id };
}

/** The default domain of `test:///default`, as libvirt formats it (so it round-trips). */
export const defaultDomainXML = `<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

export class TestState {
  /** Domains by UUID, in the order they were added. */
  readonly domains = new Map<string, TestDomainObj>();
  readonly events = new DomainEventHub();
  readonly nodeInfo: NodeInfo = { ...defaultNodeInfo };
  nextDomID = 1;
  /** Open connections sharing this state. */
  refs = 0;

  /** A node with libvirt's default objects: the running domain `test`. */
  static createDefault(): TestState {
    const state = new TestState();
    const def = parseTestDomain(defaultDomainXML);
    const obj: TestDomainObj = {
      def,
      newDef: undefined,
      id: -1,
      state: DomainState.SHUTOFF,
      reason: 0,
      persistent: true,
      autostart: false,
      hasManagedSave: false,
    };
    state.domains.set(def.uuid, obj);
    state.startState(obj, 0);
    // testParseDomains sets the state again with reason 0: `running (unknown)`.
    obj.reason = 0;
    return state;
  }

  findByName(name: string): TestDomainObj | undefined {
    for (const obj of this.domains.values()) if (obj.def.name === name) return obj;
    return undefined;
  }

  findById(id: number): TestDomainObj | undefined {
    if (id < 0) return undefined;
    for (const obj of this.domains.values()) if (obj.id === id) return obj;
    return undefined;
  }

  /** testDomainStartState: running, a new id, the persistent config kept aside. */
  startState(obj: TestDomainObj, reason: number): void {
    obj.state = DomainState.RUNNING;
    obj.reason = reason;
    obj.id = this.nextDomID++;
    if (obj.persistent && !obj.newDef) obj.newDef = structuredClone(obj.def);
    obj.hasManagedSave = false;
  }

  /** testDomainShutdownState: shut off, the persistent config back in place. */
  shutdownState(obj: TestDomainObj, reason: number, dom?: DomainRef): void {
    if (obj.newDef) {
      obj.def = obj.newDef;
      obj.newDef = undefined;
    }
    obj.state = DomainState.SHUTOFF;
    obj.reason = reason;
    obj.id = -1;
    if (dom) dom.id = -1;
  }

  /** Removes a domain that is neither persistent nor running. */
  removeIfTransient(obj: TestDomainObj): void {
    if (!obj.persistent) this.domains.delete(obj.def.uuid);
  }

  lifecycle(obj: TestDomainObj, event: DomainEventType, detail: number): void {
    this.events.emit(refOf(obj), { id: DomainEventId.LIFECYCLE, event, detail });
  }

  dispose(): void {
    this.events.dispose();
    this.domains.clear();
  }
}

let defaultState: TestState | undefined;

/** The shared state of `test:///default`, created on first use. Pair with `releaseDefault`. */
export function acquireDefault(): TestState {
  defaultState ??= TestState.createDefault();
  defaultState.refs++;
  return defaultState;
}

export function releaseDefault(state: TestState): void {
  state.refs--;
  if (state.refs <= 0 && state === defaultState) {
    defaultState = undefined;
    state.dispose();
  }
}
