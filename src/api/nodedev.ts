/**
 * `NodeDevice` (libvirt's `virNodeDevicePtr`): a handle on a host device by name, from
 * `Connection.listAllNodeDevices` or `Connection.lookupNodeDeviceByName`. Detach, re-attach and
 * reset change the host and are refused on a read-only connection.
 */
import type { Connection } from "./connection.ts";

export class NodeDevice {
  #parent: string | null | undefined;

  /** @internal Node devices come from listings and lookups. */
  constructor(
    readonly connection: Connection,
    /** `pci_0000_00_1f_2`, `usb_1_2`, `computer` … */
    readonly name: string,
  ) {}

  toJSON(): { name: string } {
    return { name: this.name };
  }

  /** virNodeDeviceGetXMLDesc */
  async getXMLDesc(flags = 0): Promise<string> {
    return this.connection.invoke("virNodeDeviceGetXMLDesc", false, (d) =>
      d.nodeDeviceGetXMLDesc?.(this.name, flags),
    );
  }

  /** virNodeDeviceGetParent: the parent's name, null for the root (asked once, then kept). */
  async getParent(): Promise<string | null> {
    if (this.#parent !== undefined) return this.#parent;
    this.#parent = await this.connection.invoke("virNodeDeviceGetParent", false, (d) =>
      d.nodeDeviceGetParent?.(this.name),
    );
    return this.#parent;
  }

  /** virNodeDeviceNumOfCaps */
  async numOfCaps(): Promise<number> {
    return this.connection.invoke("virNodeDeviceNumOfCaps", false, (d) => d.nodeDeviceNumOfCaps?.(this.name));
  }

  /** virNodeDeviceListCaps */
  async listCaps(): Promise<string[]> {
    return this.connection.invoke("virNodeDeviceListCaps", false, (d) => d.nodeDeviceListCaps?.(this.name));
  }

  /** virNodeDeviceDetachFlags: binds a PCI device to vfio-pci (`driverName` null or `vfio`). */
  async detachFlags(driverName: string | null = null, flags = 0): Promise<void> {
    await this.connection.invoke("virNodeDeviceDetachFlags", true, (d) =>
      d.nodeDeviceDetachFlags?.(this.name, driverName, flags),
    );
  }

  /** virNodeDeviceDettach (libvirt's spelling): `detachFlags(null, 0)`. */
  async dettach(): Promise<void> {
    await this.connection.invoke("virNodeDeviceDettach", true, (d) =>
      d.nodeDeviceDettach ? d.nodeDeviceDettach(this.name) : d.nodeDeviceDetachFlags?.(this.name, null, 0),
    );
  }

  /** virNodeDeviceReAttach: gives the device back to its host driver. */
  async reAttach(): Promise<void> {
    await this.connection.invoke("virNodeDeviceReAttach", true, (d) => d.nodeDeviceReAttach?.(this.name));
  }

  /** virNodeDeviceReset */
  async reset(): Promise<void> {
    await this.connection.invoke("virNodeDeviceReset", true, (d) => d.nodeDeviceReset?.(this.name));
  }
}
export { nodeDevCapNames } from "../host/nodedev/enumerate.ts";
