/**
 * The networks of `test:///default` (libvirt's test driver): in memory, shared by every
 * connection of the process, nothing on the host. Starts with libvirt's test-driver `default`
 * network (active, persistent, not autostarted); like libvirt's test driver it assigns no
 * bridge names or MACs and has no DHCP leases.
 */
import { VirtError, toVirtError } from "../../util/errors/index.ts";
import { formatNetwork, parseNetwork, type NetworkDef } from "../../conf/network/index.ts";
import { checkFlags } from "../driver.ts";
import {
  ConnectListNetworksFlags,
  NetworkXMLFlags,
  matchesNetworkListFlags,
  type NetworkDriverConnection,
  type NetworkRef,
} from "../network-driver.ts";

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
  def: NetworkDef;
  next?: NetworkDef;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
}

export class MemoryNetworkDriver {
  readonly #nets = new Map<string, MemNetwork>();

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
    const existing = this.#nets.get(def.name);
    if (existing && existing.def.uuid !== def.uuid) {
      throw new VirtError("NETWORK_EXISTS", { name: def.name, uuid: existing.def.uuid });
    }
    const other = [...this.#nets.values()].find((n) => n.def.uuid === def.uuid && n.def.name !== def.name);
    if (other) throw new VirtError("NETWORK_UUID_EXISTS", { name: other.def.name, uuid: def.uuid });
    return existing ? { def, existing } : { def };
  }

  listAll(flags: number): NetworkRef[] {
    const all = Object.values(ConnectListNetworksFlags).reduce((a, b) => a | b, 0);
    checkFlags(flags, all, "testConnectListAllNetworks");
    return [...this.#nets.values()].filter((n) => matchesNetworkListFlags(flags, n)).map((n) => refOf(n));
  }

  lookupByName(name: string): NetworkRef {
    const n = this.#nets.get(name);
    if (!n) throw new VirtError("NETWORK_NOT_FOUND", { key: "name", value: name });
    return refOf(n);
  }

  lookupByUUID(uuid: string): NetworkRef {
    const n = [...this.#nets.values()].find((x) => x.def.uuid === uuid.toLowerCase());
    if (!n) throw new VirtError("NETWORK_NOT_FOUND", { key: "uuid", value: uuid });
    return refOf(n);
  }

  define(xml: string): NetworkRef {
    const { def, existing } = this.#parse(xml);
    if (existing) {
      if (existing.active) existing.next = def;
      else existing.def = def;
      existing.persistent = true;
      return refOf(existing);
    }
    const n: MemNetwork = { def, active: false, persistent: true, autostart: false };
    this.#nets.set(def.name, n);
    return refOf(n);
  }

  createXML(xml: string): NetworkRef {
    const { def, existing } = this.#parse(xml);
    if (existing?.active) throw new VirtError("NETWORK_ALREADY_ACTIVE");
    if (existing) {
      existing.next = existing.def;
      existing.def = def;
      existing.active = true;
      return refOf(existing);
    }
    const n: MemNetwork = { def, active: true, persistent: false, autostart: false };
    this.#nets.set(def.name, n);
    return refOf(n);
  }

  create(net: NetworkRef): void {
    const n = this.#get(net);
    if (n.active) throw new VirtError("NETWORK_ALREADY_ACTIVE");
    n.active = true;
  }

  destroy(net: NetworkRef): void {
    const n = this.#get(net);
    if (!n.active) throw new VirtError("NETWORK_NOT_ACTIVE");
    n.active = false;
    if (n.next) {
      n.def = n.next;
      n.next = undefined;
    }
    if (!n.persistent) this.#nets.delete(n.def.name);
  }

  undefine(net: NetworkRef): void {
    const n = this.#get(net);
    if (!n.persistent) throw new VirtError("NETWORK_TRANSIENT", { what: "can't undefine transient network" });
    n.persistent = false;
    n.autostart = false;
    n.next = undefined;
    if (!n.active) this.#nets.delete(n.def.name);
  }

  connection(): NetworkDriverConnection {
    const wrap =
      <A extends unknown[], T>(fn: (...a: A) => T) =>
      (...a: A): Promise<T> => {
        try {
          return Promise.resolve(fn(...a));
        } catch (e) {
          return Promise.reject(toVirtError(e));
        }
      };
    return {
      close: () => Promise.resolve(),
      connectListAllNetworks: wrap((flags: number) => this.listAll(flags)),
      networkLookupByName: wrap((name: string) => this.lookupByName(name)),
      networkLookupByUUID: wrap((uuid: string) => this.lookupByUUID(uuid)),
      networkDefineXML: wrap((xml: string) => this.define(xml)),
      networkCreateXML: wrap((xml: string) => this.createXML(xml)),
      networkUndefine: wrap((r: NetworkRef) => {
        this.undefine(r);
      }),
      networkCreate: wrap((r: NetworkRef) => {
        this.create(r);
      }),
      networkDestroy: wrap((r: NetworkRef) => {
        this.destroy(r);
      }),
      networkGetXMLDesc: wrap((r: NetworkRef, flags: number) => {
        checkFlags(flags, NetworkXMLFlags.INACTIVE, "testNetworkGetXMLDesc");
        const n = this.#get(r);
        return formatNetwork(flags & NetworkXMLFlags.INACTIVE ? (n.next ?? n.def) : n.def);
      }),
      networkIsActive: wrap((r: NetworkRef) => this.#get(r).active),
      networkIsPersistent: wrap((r: NetworkRef) => this.#get(r).persistent),
      networkGetAutostart: wrap((r: NetworkRef) => this.#get(r).autostart),
      networkSetAutostart: wrap((r: NetworkRef, a: boolean) => {
        const n = this.#get(r);
        if (!n.persistent) {
          throw new VirtError("NETWORK_TRANSIENT", { what: "cannot set autostart for transient network" });
        }
        n.autostart = a;
      }),
      networkGetBridgeName: wrap((r: NetworkRef) => {
        const n = this.#get(r);
        if (n.def.bridge === undefined) {
          throw new VirtError("NETWORK_CONFIG_UNSUPPORTED", {
            what: `network '${n.def.name}' does not have a bridge name.`,
          });
        }
        return n.def.bridge;
      }),
      networkGetDHCPLeases: wrap((r: NetworkRef, _mac: string | null, flags: number) => {
        checkFlags(flags, 0, "testNetworkGetDHCPLeases");
        if (!this.#get(r).active) throw new VirtError("NETWORK_NOT_ACTIVE");
        return [];
      }),
    };
  }
}

function refOf(n: MemNetwork): NetworkRef {
  return { name: n.def.name, uuid: n.def.uuid };
}

let shared: MemoryNetworkDriver | undefined;

/** The networks of `test:///default`, one set per process (as its domains). */
export function testDefaultNetworks(): MemoryNetworkDriver {
  shared ??= new MemoryNetworkDriver();
  return shared;
}
