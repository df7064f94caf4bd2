/**
 * `StoragePool` (libvirt's `virStoragePoolPtr`) and `StorageVol` (`virStorageVolPtr`): handles
 * on a pool (name + UUID) and on a volume (pool name + name + key), from the connection's
 * listings, lookups, define and create. Each method is one libvirt call on the connection's
 * storage driver; the calls libvirt's `libvirt-storage.c` refuses on a read-only connection
 * (every change, and the volume streams) are refused here too.
 */
import type {
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
  VolumeDownloadStream,
  VolumeUploadSink,
} from "../drivers/storage-driver.ts";
import type { Connection } from "./connection.ts";

export class StoragePool {
  /** @internal Pools come from listings, lookups, define and create. */
  constructor(
    readonly connection: Connection,
    private readonly handle: StoragePoolRef,
  ) {}

  /** virStoragePoolGetName */
  get name(): string {
    return this.handle.name;
  }

  /** virStoragePoolGetUUIDString: lowercase 8-4-4-4-12. */
  get uuid(): string {
    return this.handle.uuid;
  }

  /** @internal The handle passed to drivers. */
  ref(): StoragePoolRef {
    return this.handle;
  }

  toJSON(): StoragePoolRef {
    return { ...this.handle };
  }

  /** virStoragePoolCreate: starts a defined pool (`StoragePoolCreateFlags`). */
  async create(flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolCreate", true, (s) =>
      s.storagePoolCreate?.(this.handle, flags),
    );
  }

  /** virStoragePoolBuild (`StoragePoolBuildFlags`). */
  async build(flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolBuild", true, (s) =>
      s.storagePoolBuild?.(this.handle, flags),
    );
  }

  /** virStoragePoolDestroy: stops a running pool (a transient one disappears). */
  async destroy(): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolDestroy", true, (s) =>
      s.storagePoolDestroy?.(this.handle),
    );
  }

  /** virStoragePoolDelete: removes the pool's storage (`StoragePoolDeleteFlags`). */
  async delete(flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolDelete", true, (s) =>
      s.storagePoolDelete?.(this.handle, flags),
    );
  }

  /** virStoragePoolUndefine: removes the persistent definition of an inactive pool. */
  async undefine(): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolUndefine", true, (s) =>
      s.storagePoolUndefine?.(this.handle),
    );
  }

  /** virStoragePoolRefresh: rescans the pool's volumes. */
  async refresh(flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolRefresh", true, (s) =>
      s.storagePoolRefresh?.(this.handle, flags),
    );
  }

  /** virStoragePoolGetInfo: state and sizes in bytes. */
  async getInfo(): Promise<StoragePoolInfo> {
    return this.connection.invokeStorage("virStoragePoolGetInfo", false, (s) =>
      s.storagePoolGetInfo?.(this.handle),
    );
  }

  /** virStoragePoolGetXMLDesc (`StorageXMLFlags.INACTIVE`: the definition for the next start). */
  async getXMLDesc(flags = 0): Promise<string> {
    return this.connection.invokeStorage("virStoragePoolGetXMLDesc", false, (s) =>
      s.storagePoolGetXMLDesc?.(this.handle, flags),
    );
  }

  /** virStoragePoolGetAutostart */
  async getAutostart(): Promise<boolean> {
    return this.connection.invokeStorage("virStoragePoolGetAutostart", false, (s) =>
      s.storagePoolGetAutostart?.(this.handle),
    );
  }

  /** virStoragePoolSetAutostart */
  async setAutostart(autostart: boolean): Promise<void> {
    await this.connection.invokeStorage("virStoragePoolSetAutostart", true, (s) =>
      s.storagePoolSetAutostart?.(this.handle, autostart),
    );
  }

  /** virStoragePoolIsActive */
  async isActive(): Promise<boolean> {
    return this.connection.invokeStorage("virStoragePoolIsActive", false, (s) =>
      s.storagePoolIsActive?.(this.handle),
    );
  }

  /** virStoragePoolIsPersistent */
  async isPersistent(): Promise<boolean> {
    return this.connection.invokeStorage("virStoragePoolIsPersistent", false, (s) =>
      s.storagePoolIsPersistent?.(this.handle),
    );
  }

  /** virStoragePoolNumOfVolumes */
  async numOfVolumes(): Promise<number> {
    return this.connection.invokeStorage("virStoragePoolNumOfVolumes", false, (s) =>
      s.storagePoolNumOfVolumes?.(this.handle),
    );
  }

  /** virStoragePoolListAllVolumes (no flags defined). */
  async listAllVolumes(flags = 0): Promise<StorageVol[]> {
    const refs = await this.connection.invokeStorage("virStoragePoolListAllVolumes", false, (s) =>
      s.storagePoolListAllVolumes?.(this.handle, flags),
    );
    return refs.map((r) => new StorageVol(this.connection, r));
  }

  /** virStorageVolLookupByName */
  async storageVolLookupByName(name: string): Promise<StorageVol> {
    const ref = await this.connection.invokeStorage("virStorageVolLookupByName", false, (s) =>
      s.storageVolLookupByName?.(this.handle, name),
    );
    return new StorageVol(this.connection, ref);
  }

  /** virStorageVolCreateXML (`StorageVolCreateFlags`). */
  async storageVolCreateXML(xml: string, flags = 0): Promise<StorageVol> {
    const ref = await this.connection.invokeStorage("virStorageVolCreateXML", true, (s) =>
      s.storageVolCreateXML?.(this.handle, xml, flags),
    );
    return new StorageVol(this.connection, ref);
  }

  /** virStorageVolCreateXMLFrom: a new volume in this pool with `clonevol`'s data. */
  async storageVolCreateXMLFrom(xml: string, clonevol: StorageVol, flags = 0): Promise<StorageVol> {
    const ref = await this.connection.invokeStorage("virStorageVolCreateXMLFrom", true, (s) =>
      s.storageVolCreateXMLFrom?.(this.handle, xml, clonevol.ref(), flags),
    );
    return new StorageVol(this.connection, ref);
  }
}

export class StorageVol {
  /** @internal Volumes come from listings, lookups and create. */
  constructor(
    readonly connection: Connection,
    private readonly handle: StorageVolRef,
  ) {}

  /** virStorageVolGetName */
  get name(): string {
    return this.handle.name;
  }

  /** virStorageVolGetKey */
  get key(): string {
    return this.handle.key;
  }

  /** The name of the volume's pool (libvirt's `vol->pool`). */
  get pool(): string {
    return this.handle.pool;
  }

  /** @internal The handle passed to drivers. */
  ref(): StorageVolRef {
    return this.handle;
  }

  toJSON(): StorageVolRef {
    return { ...this.handle };
  }

  /** virStoragePoolLookupByVolume */
  async lookupPool(): Promise<StoragePool> {
    return this.connection.storagePoolLookupByVolume(this);
  }

  /** virStorageVolGetInfo: type and sizes in bytes. */
  async getInfo(): Promise<StorageVolInfo> {
    return this.connection.invokeStorage("virStorageVolGetInfo", false, (s) =>
      s.storageVolGetInfo?.(this.handle),
    );
  }

  /** virStorageVolGetInfoFlags (`StorageVolInfoFlags.PHYSICAL`: the host's size, not the capacity). */
  async getInfoFlags(flags: number): Promise<StorageVolInfo> {
    return this.connection.invokeStorage("virStorageVolGetInfoFlags", false, (s) =>
      s.storageVolGetInfoFlags?.(this.handle, flags),
    );
  }

  /** virStorageVolGetXMLDesc */
  async getXMLDesc(flags = 0): Promise<string> {
    return this.connection.invokeStorage("virStorageVolGetXMLDesc", false, (s) =>
      s.storageVolGetXMLDesc?.(this.handle, flags),
    );
  }

  /** virStorageVolGetPath */
  async getPath(): Promise<string> {
    return this.connection.invokeStorage("virStorageVolGetPath", false, (s) =>
      s.storageVolGetPath?.(this.handle),
    );
  }

  /** virStorageVolDelete (`StorageVolDeleteFlags`). */
  async delete(flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStorageVolDelete", true, (s) =>
      s.storageVolDelete?.(this.handle, flags),
    );
  }

  /** virStorageVolWipe: overwrites the volume with zeros. */
  async wipe(flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStorageVolWipe", true, (s) =>
      s.storageVolWipe?.(this.handle, flags),
    );
  }

  /** virStorageVolWipePattern (`StorageVolWipeAlgorithm`). */
  async wipePattern(algorithm: number, flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStorageVolWipePattern", true, (s) =>
      s.storageVolWipePattern?.(this.handle, algorithm, flags),
    );
  }

  /** virStorageVolResize: `capacity` in bytes (`StorageVolResizeFlags`: DELTA, SHRINK, ALLOCATE). */
  async resize(capacity: bigint, flags = 0): Promise<void> {
    await this.connection.invokeStorage("virStorageVolResize", true, (s) =>
      s.storageVolResize?.(this.handle, capacity, flags),
    );
  }

  /** virStorageVolDownload: the volume's bytes from `offset` (`length` 0 = to the end). */
  async download(offset: bigint, length: bigint, flags = 0): Promise<VolumeDownloadStream> {
    return this.connection.invokeStorage("virStorageVolDownload", true, (s) =>
      s.storageVolDownload?.(this.handle, offset, length, flags),
    );
  }

  /** virStorageVolUpload: a sink writing into the volume from `offset` (`length` 0 = to the end). */
  async upload(offset: bigint, length: bigint, flags = 0): Promise<VolumeUploadSink> {
    return this.connection.invokeStorage("virStorageVolUpload", true, (s) =>
      s.storageVolUpload?.(this.handle, offset, length, flags),
    );
  }
}
