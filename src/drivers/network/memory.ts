/**
 * The networks of `test:///default` (libvirt's test driver): in memory, shared by every
 * connection of the process, nothing on the host. Starts with libvirt's test-driver `default`
 * network (active, persistent, not autostarted). Behaves as libvirt 9's test driver does: no
 * bridge names or MACs assigned, no DHCP leases entry, no `--inactive` XML, destroying an
 * inactive network is accepted, a running network cannot be undefined, and transient networks
 * may be marked autostart. As there, a definition saved while the network runs (`next`,
 * libvirt's `newDef`) is what net-update --config changes, and stopping the network does not
 * bring it into effect (libvirt 9's test driver never swaps it in).
 */
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import { formatNetwork, parseNetwork, type NetworkDef } from "../../conf/network/index.ts";
import { EventHub } from "../events.ts";
import {
  bridgeNameOf,
  emitLifecycle,
  eventEntries,
  existingFor,
  findByName,
  findByUUID,
  planNetworkUpdate,
  refOf,
  type NetworkUpdateArgs,
  validateNetworkXML,
} from "./common.ts";
import { entry } from "../entry.ts";
import {
  NetworkEventLifecycleType as Ev,
  type NetworkLifecycleEvent,
  ConnectListNetworksFlags,
  matchesNetworkListFlags,
  type NetworkDriverConnection,
  type NetworkRef,
} from "../network-driver.ts";
import { sharedWhileOpen } from "../shared-default.ts";

/** libvirt's `defaultConnXML` network of the test driver (`src/test/test_driver.c`). */
export const TEST_DEFAULT_NETWORK_XML = `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

interface MemNetwork {
  /** The current definition (the live one while running). */
  def: NetworkDef;
  /** The persistent definition saved while running (libvirt's `newDef`). */
  next?: NetworkDef;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
}

export class MemoryNetworkDriver {
  readonly #nets = new Map<string, MemNetwork>();
  readonly events = new EventHub<NetworkLifecycleEvent>();

  #emit(n: MemNetwork, event: number): void {
    emitLifecycle(this.events, n, event);
  }

  constructor(initial: readonly string[] = [TEST_DEFAULT_NETWORK_XML]) {
    for (const xml of initial) {
      const { def } = parseNetwork(xml);
      this.#nets.set(def.name, { def, active: true, persistent: true, autostart: false });
    }
  }

  #get(net: NetworkRef): MemNetwork {
    const n = [...this.#nets.values()].find((x) => x.def.uuid === net.uuid);
    if (!n) throw new VirtError("NETWORK_NOT_FOUND", { key: "uuid", value: net.uuid });
    return n;
  }

  #parse(xml: string): { def: NetworkDef; existing?: MemNetwork } {
    const { def } = parseNetwork(xml);
    const existing = existingFor(this.#nets, def);
    return existing ? { def, existing } : { def };
  }

  listAll(flags: number): NetworkRef[] {
    const all = Object.values(ConnectListNetworksFlags).reduce((a, b) => a | b, 0);
    checkFlags(flags, all, "testConnectListAllNetworks");
    return [...this.#nets.values()].filter((n) => matchesNetworkListFlags(flags, n)).map((n) => refOf(n));
  }

  lookupByName(name: string): NetworkRef {
    return refOf(findByName(this.#nets, name));
  }

  lookupByUUID(uuid: string): NetworkRef {
    return refOf(findByUUID(this.#nets, uuid));
  }

  define(xml: string): NetworkRef {
    const { def, existing } = this.#parse(xml);
    if (existing) {
      if (existing.active) existing.next = def;
      else {
        existing.def = def;
        existing.next = undefined;
      }
      existing.persistent = true;
      this.#emit(existing, Ev.DEFINED);
      return refOf(existing);
    }
    const n: MemNetwork = { def, active: false, persistent: true, autostart: false };
    this.#nets.set(def.name, n);
    this.#emit(n, Ev.DEFINED);
    return refOf(n);
  }

  createXML(xml: string): NetworkRef {
    const { def, existing } = this.#parse(xml);
    if (existing?.active) throw new VirtError("NETWORK_TEST_ALREADY_RUNNING", { network: def.name });
    if (existing) {
      existing.next ??= existing.def;
      existing.def = def;
      existing.active = true;
      this.#emit(existing, Ev.STARTED);
      return refOf(existing);
    }
    const n: MemNetwork = { def, active: true, persistent: false, autostart: false };
    this.#nets.set(def.name, n);
    this.#emit(n, Ev.STARTED);
    return refOf(n);
  }

  create(net: NetworkRef): void {
    const n = this.#get(net);
    if (n.active) throw new VirtError("NETWORK_TEST_ALREADY_RUNNING", { network: n.def.name });
    n.active = true;
    this.#emit(n, Ev.STARTED);
  }

  destroy(net: NetworkRef): void {
    const n = this.#get(net);
    n.active = false;
    if (!n.persistent) this.#nets.delete(n.def.name);
    this.#emit(n, Ev.STOPPED);
  }

  undefine(net: NetworkRef): void {
    const n = this.#get(net);
    if (n.active) throw new VirtError("NETWORK_TEST_STILL_RUNNING", { network: n.def.name });
    this.#nets.delete(n.def.name);
    this.#emit(n, Ev.UNDEFINED);
  }

  /** testNetworkUpdate: virNetworkObjUpdate on the in-memory definitions. */
  update(net: NetworkRef, a: NetworkUpdateArgs): void {
    const n = this.#get(net);
    const plan = planNetworkUpdate(
      { name: n.def.name, active: n.active, persistent: n.persistent },
      n.def,
      n.next ?? n.def,
      a,
      "testNetworkUpdate",
    );
    if (plan.config) {
      if (n.active) n.next = plan.config;
      else n.def = plan.config;
    }
    if (plan.live) n.def = plan.live;
  }

  connection(): NetworkDriverConnection {
    return {
      ...eventEntries(this.events),
      connectListAllNetworks: entry((flags: number) => this.listAll(flags)),
      networkLookupByName: entry((name: string) => this.lookupByName(name)),
      networkLookupByUUID: entry((uuid: string) => this.lookupByUUID(uuid)),
      networkDefineXML: entry((xml: string) => this.define(xml)),
      networkCreateXML: entry((xml: string) => this.createXML(xml)),
      networkDefineXMLFlags: async (xml: string, flags: number) => {
        checkFlags(flags, 1, "testNetworkDefineXMLFlags");
        if (flags & 1) await validateNetworkXML(xml);
        return entry((x: string) => this.define(x))(xml);
      },
      networkCreateXMLFlags: async (xml: string, flags: number) => {
        checkFlags(flags, 1, "testNetworkCreateXMLFlags");
        if (flags & 1) await validateNetworkXML(xml);
        return entry((x: string) => this.createXML(x))(xml);
      },
      networkUndefine: entry((r: NetworkRef) => {
        this.undefine(r);
      }),
      networkCreate: entry((r: NetworkRef) => {
        this.create(r);
      }),
      networkDestroy: entry((r: NetworkRef) => {
        this.destroy(r);
      }),
      networkGetXMLDesc: entry((r: NetworkRef, flags: number) => {
        checkFlags(flags, 0, "testNetworkGetXMLDesc");
        return formatNetwork(this.#get(r).def);
      }),
      networkIsActive: entry((r: NetworkRef) => this.#get(r).active),
      networkIsPersistent: entry((r: NetworkRef) => this.#get(r).persistent),
      networkGetAutostart: entry((r: NetworkRef) => this.#get(r).autostart),
      networkSetAutostart: entry((r: NetworkRef, a: boolean) => {
        this.#get(r).autostart = a;
      }),
      networkUpdate: entry(
        (
          r: NetworkRef,
          command: number,
          section: number,
          parentIndex: number,
          xml: string,
          flags: number,
        ) => {
          this.update(r, { command, section, parentIndex, xml, flags });
        },
      ),
      networkGetBridgeName: entry((r: NetworkRef) => {
        const n = this.#get(r);
        return bridgeNameOf(n.def.name, n.def);
      }),
    };
  }
}

const openShared = sharedWhileOpen(
  () => new MemoryNetworkDriver(),
  (d) => d.connection(),
);

/**
 * The networks of `test:///default` for one more connection: shared while any connection is
 * open, back to the defaults once all are closed (as the test driver's domains).
 */
export function testDefaultNetworks(): NetworkDriverConnection {
  return openShared();
}
