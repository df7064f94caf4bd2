/**
 * `Network` (libvirt's `virNetworkPtr`): a handle on a virtual network by name and UUID, from
 * `Connection.listAllNetworks`, the lookups, `networkDefineXML` and `networkCreateXML`. Each
 * method is one libvirt call; create, destroy, undefine and setAutostart change the host and
 * are refused on a read-only connection.
 */
import type { NetworkDHCPLease, NetworkPortRef, NetworkRef } from "../drivers/network-driver.ts";
import type { Connection } from "./connection.ts";

export class Network {
  /** @internal Networks come from listings, lookups, define and create. */
  constructor(
    readonly connection: Connection,
    private readonly handle: NetworkRef,
  ) {}

  /** virNetworkGetName */
  get name(): string {
    return this.handle.name;
  }

  /** virNetworkGetUUIDString: lowercase 8-4-4-4-12. */
  get uuid(): string {
    return this.handle.uuid;
  }

  /** @internal The handle passed to drivers. */
  ref(): NetworkRef {
    return this.handle;
  }

  toJSON(): NetworkRef {
    return { ...this.handle };
  }

  /** virNetworkCreate: starts a defined network. */
  async create(): Promise<void> {
    await this.connection.invokeNetwork("virNetworkCreate", true, (n) => n.networkCreate?.(this.handle));
  }

  /** virNetworkDestroy: stops a running network (a transient one disappears). */
  async destroy(): Promise<void> {
    await this.connection.invokeNetwork("virNetworkDestroy", true, (n) => n.networkDestroy?.(this.handle));
  }

  /** virNetworkUndefine: removes the persistent definition (a running network goes on, transient). */
  async undefine(): Promise<void> {
    await this.connection.invokeNetwork("virNetworkUndefine", true, (n) => n.networkUndefine?.(this.handle));
  }

  /** virNetworkGetXMLDesc (`NetworkXMLFlags.INACTIVE`: the definition for the next start). */
  async getXMLDesc(flags = 0): Promise<string> {
    return this.connection.invokeNetwork("virNetworkGetXMLDesc", false, (n) =>
      n.networkGetXMLDesc?.(this.handle, flags),
    );
  }

  /** virNetworkIsActive */
  async isActive(): Promise<boolean> {
    return this.connection.invokeNetwork("virNetworkIsActive", false, (n) =>
      n.networkIsActive?.(this.handle),
    );
  }

  /** virNetworkIsPersistent */
  async isPersistent(): Promise<boolean> {
    return this.connection.invokeNetwork("virNetworkIsPersistent", false, (n) =>
      n.networkIsPersistent?.(this.handle),
    );
  }

  /** virNetworkGetAutostart */
  async getAutostart(): Promise<boolean> {
    return this.connection.invokeNetwork("virNetworkGetAutostart", false, (n) =>
      n.networkGetAutostart?.(this.handle),
    );
  }

  /** virNetworkSetAutostart */
  async setAutostart(autostart: boolean): Promise<void> {
    await this.connection.invokeNetwork("virNetworkSetAutostart", true, (n) =>
      n.networkSetAutostart?.(this.handle, autostart),
    );
  }

  /** virNetworkGetBridgeName */
  async getBridgeName(): Promise<string> {
    return this.connection.invokeNetwork("virNetworkGetBridgeName", false, (n) =>
      n.networkGetBridgeName?.(this.handle),
    );
  }

  /**
   * virNetworkUpdate: adds (`NetworkUpdateCommand.ADD_LAST`/`ADD_FIRST`), deletes or modifies
   * one entry (`xml`, e.g. `<host mac=… ip=…/>`) of a section (`NetworkUpdateSection`) in the
   * live state and/or the persistent config (`NetworkUpdateFlags`; 0 = live when running, else
   * config). `parentIndex` picks the `<ip>` for DHCP sections (-1 = the one that fits).
   */
  async update(command: number, section: number, parentIndex: number, xml: string, flags = 0): Promise<void> {
    await this.connection.invokeNetwork("virNetworkUpdate", true, (n) =>
      n.networkUpdate?.(this.handle, command, section, parentIndex, xml, flags),
    );
  }

  /** virNetworkListAllPorts: the ports (guest plugs) of the network. */
  async listAllPorts(flags = 0): Promise<NetworkPort[]> {
    const refs = await this.connection.invokeNetwork("virNetworkListAllPorts", false, (n) =>
      n.networkListAllPorts?.(this.handle, flags),
    );
    return refs.map((r) => new NetworkPort(this, r.uuid));
  }

  /** virNetworkPortLookupByUUID */
  async portLookupByUUID(uuid: string): Promise<NetworkPort> {
    const r = await this.connection.invokeNetwork("virNetworkPortLookupByUUID", false, (n) =>
      n.networkPortLookupByUUID?.(this.handle, uuid),
    );
    return new NetworkPort(this, r.uuid);
  }

  /** virNetworkPortCreateXML: plugs a port described by network port XML. */
  async portCreateXML(xml: string, flags = 0): Promise<NetworkPort> {
    const r = await this.connection.invokeNetwork("virNetworkPortCreateXML", true, (n) =>
      n.networkPortCreateXML?.(this.handle, xml, flags),
    );
    return new NetworkPort(this, r.uuid);
  }

  /** virNetworkGetDHCPLeases: the leases of a running network (`mac` null = all). */
  async getDHCPLeases(mac: string | null = null, flags = 0): Promise<NetworkDHCPLease[]> {
    return this.connection.invokeNetwork("virNetworkGetDHCPLeases", false, (n) =>
      n.networkGetDHCPLeases?.(this.handle, mac, flags),
    );
  }
}

/** `NetworkPort` (libvirt's `virNetworkPortPtr`): one port of a network, by UUID. */
export class NetworkPort {
  /** @internal Ports come from `Network.listAllPorts` and `Network.portLookupByUUID`. */
  constructor(
    readonly network: Network,
    readonly uuid: string,
  ) {}

  /** @internal The handle passed to drivers. */
  ref(): NetworkPortRef {
    return { net: this.network.ref(), uuid: this.uuid };
  }

  toJSON(): { network: NetworkRef; uuid: string } {
    return { network: this.network.toJSON(), uuid: this.uuid };
  }

  /** virNetworkPortDelete */
  async delete(flags = 0): Promise<void> {
    await this.network.connection.invokeNetwork("virNetworkPortDelete", true, (n) =>
      n.networkPortDelete?.(this.ref(), flags),
    );
  }

  /** virNetworkPortGetXMLDesc */
  async getXMLDesc(flags = 0): Promise<string> {
    return this.network.connection.invokeNetwork("virNetworkPortGetXMLDesc", false, (n) =>
      n.networkPortGetXMLDesc?.(this.ref(), flags),
    );
  }
}
