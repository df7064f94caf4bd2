/**
 * The storage pools of `test:///default` (libvirt's test driver): in memory, shared by every
 * connection of the process, nothing on the host. Starts with the test driver's `default-pool`
 * (a running, persistent `dir` pool at `/default-pool`, no volumes, 100 GiB, not autostarted).
 *
 * Behaves as libvirt 9's test driver (`src/test/test_driver.c`) does, quirks included:
 * - every pool defined or created gets capacity 100 GiB, allocation 0, available 100 GiB, and
 *   the (re)definition resets the live counters (redefining a running pool zeroes its
 *   allocation while its volumes stay);
 * - build, delete and refresh only emit their events; destroy keeps the volumes, so they are
 *   back on the next start; a redefinition of a running pool is kept aside and never applied;
 * - creating a pool from XML over a defined, inactive one makes it transient (destroy removes
 *   it), as the test driver drops its config file;
 * - a volume's path and key are `TARGET/NAME`, its allocation counts against the pool's
 *   capacity; create-from looks the source volume up by name in the *target* pool;
 * - no wipe, resize, upload, download, target-path lookup or pool capabilities ("not
 *   supported by the connection driver"), and every flag argument but define's VALIDATE is
 *   refused.
 */
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import {
  formatPool,
  formatVolume,
  parsePool,
  parseVolume,
  POOL_TYPES,
  type PoolDef,
  type VolumeDef,
} from "../../conf/storage/index.ts";
import { parseXml } from "../../conf/xml.ts";
import { validateAgainstSchema } from "../../host/xml-schema.ts";
import { EventHub } from "../events.ts";
import {
  ConnectListStoragePoolsFlags,
  matchesStoragePoolListFlags,
  StoragePoolDefineFlags,
  StoragePoolEventId,
  StoragePoolEventLifecycleType as Ev,
  StoragePoolState,
  StorageVolType,
  type StoragePoolEvent,
  type StoragePoolInfo,
  type StoragePoolRef,
  type StorageDriverConnection,
  type StorageVolInfo,
  type StorageVolRef,
} from "../storage-driver.ts";
import { sharedWhileOpen } from "../shared-default.ts";
import { entry } from "../entry.ts";
import { poolEventEntries } from "./entries.ts";

/** libvirt's `defaultConnXML` pool of the test driver. */
export const TEST_DEFAULT_POOL_XML = `<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
`;

/** The capacity the test driver gives every pool (`defaultPoolCap`: 100 GiB). */
export const TEST_POOL_CAPACITY = 100n * 1024n * 1024n * 1024n;

/** The test driver's canned `find-storage-pool-sources logical` answer. */
const LOGICAL_SOURCES = `<sources>
  <source>
    <device path='/dev/sda20'/>
    <name>testvg1</name>
    <format type='lvm2'/>
  </source>
  <source>
    <device path='/dev/sda21'/>
    <name>testvg2</name>
    <format type='lvm2'/>
  </source>
</sources>
`;

function netfsSources(host: string): string {
  return `<sources>
  <source>
    <host name='${host.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;")}'/>
    <dir path='/testshare'/>
    <format type='nfs'/>
  </source>
</sources>
`;
}

interface MemPool {
  def: PoolDef;
  /** A redefinition made while running (libvirt's newDef; the test driver never applies it). */
  newDef?: PoolDef;
  active: boolean;
  /** libvirt: the pool has a config file. */
  persistent: boolean;
  autostart: boolean;
  vols: VolumeDef[];
}

function setDefaults(def: PoolDef): void {
  def.capacity = TEST_POOL_CAPACITY;
  def.allocation = 0n;
  def.available = TEST_POOL_CAPACITY;
}

function refOf(p: MemPool): StoragePoolRef {
  return { name: p.def.name, uuid: p.def.uuid };
}

function volRefOf(p: MemPool, v: VolumeDef): StorageVolRef {
  return { pool: p.def.name, name: v.name, key: v.key ?? "" };
}

/** The volume type the test driver reports for the volumes of a pool type. */
function volTypeFor(type: string): number {
  switch (type) {
    case "dir":
    case "fs":
    case "netfs":
    case "vstorage":
      return StorageVolType.FILE;
    case "sheepdog":
    case "iscsi-direct":
    case "gluster":
    case "rbd":
      return StorageVolType.NETWORK;
    default:
      return StorageVolType.BLOCK;
  }
}

function singleHostMatch(a: PoolDef, b: PoolDef): boolean {
  const ha = a.source.hosts[0];
  const hb = b.source.hosts[0];
  if (a.source.hosts.length !== 1 && b.source.hosts.length !== 1) return false;
  if (!ha || !hb) return false;
  if (hb.port && ha.port !== hb.port) return false;
  return ha.name === hb.name;
}

function sharesDevice(a: PoolDef, b: PoolDef): boolean {
  return a.source.devices.some((d) => b.source.devices.some((e) => e.path === d.path));
}

const DEVICE_TYPES = new Set(["iscsi", "fs", "logical", "disk", "zfs"]);

/** libvirt's virStoragePoolObjSourceFindDuplicateCb: does `def` use the source of `obj`? */
function sourceConflicts(obj: PoolDef, def: PoolDef): boolean {
  if (obj.name === def.name) return false;
  switch (obj.type) {
    case "dir":
      return def.type === "dir" && obj.target?.path === def.target?.path;
    case "gluster":
      return (
        def.type === "gluster" &&
        obj.source.name === def.source.name &&
        obj.source.dir === def.source.dir &&
        singleHostMatch(obj, def)
      );
    case "netfs":
      return def.type === "netfs" && obj.source.dir === def.source.dir && singleHostMatch(obj, def);
    case "scsi": {
      // Adapters: the same fc_host WWNs or the same scsi_host name (sysfs numbers are not read).
      const a = obj.source.adapter;
      const b = def.source.adapter;
      if (def.type !== "scsi" || !a || !b || a.type !== b.type) return false;
      if (a.type === "fc_host" && b.type === "fc_host") return a.wwnn === b.wwnn && a.wwpn === b.wwpn;
      if (a.type === "scsi_host" && b.type === "scsi_host") return a.name !== undefined && a.name === b.name;
      return false;
    }
    case "iscsi":
    case "fs":
    case "logical":
    case "disk":
    case "zfs":
      if (!DEVICE_TYPES.has(def.type)) return false;
      if (obj.type === "iscsi") {
        return (
          def.type === "iscsi" &&
          sharesDevice(obj, def) &&
          obj.source.initiatorIqn === def.source.initiatorIqn
        );
      }
      return def.type !== "iscsi" && sharesDevice(obj, def);
    case "sheepdog":
      return def.type === "sheepdog" && singleHostMatch(obj, def);
    case "mpath":
      return def.type === "mpath";
    case "vstorage":
      return def.type === "vstorage" && obj.source.name === def.source.name;
    default:
      return false;
  }
}

const ALL_LIST_FLAGS = Object.values(ConnectListStoragePoolsFlags).reduce((a, b) => a | b, 0);

export class MemoryStorageDriver {
  /** Pools in definition order (libvirt keeps a hash; callers sort). */
  readonly #pools = new Map<string, MemPool>();
  readonly events = new EventHub<StoragePoolEvent>();

  constructor(initial: readonly string[] = [TEST_DEFAULT_POOL_XML]) {
    for (const xml of initial) {
      const { def } = parsePool(xml);
      setDefaults(def);
      this.#pools.set(def.name, { def, active: true, persistent: true, autostart: false, vols: [] });
    }
  }

  #emit(p: MemPool, id: number, event: number): void {
    this.events.emit({ name: p.def.name, uuid: p.def.uuid, id: -1 }, { id, event, detail: 0 });
  }

  #lifecycle(p: MemPool, event: number): void {
    this.#emit(p, StoragePoolEventId.LIFECYCLE, event);
  }

  #byName(name: string): MemPool {
    const p = this.#pools.get(name);
    if (!p) throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "name", value: name });
    return p;
  }

  #byUUID(uuid: string): MemPool {
    const u = uuid.toLowerCase();
    const p = [...this.#pools.values()].find((x) => x.def.uuid === u);
    if (!p) throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "uuid", value: uuid });
    return p;
  }

  #active(name: string): MemPool {
    const p = this.#byName(name);
    if (!p.active) throw new VirtError("STORAGE_POOL_NOT_ACTIVE", { pool: name });
    return p;
  }

  #inactive(name: string): MemPool {
    const p = this.#byName(name);
    if (p.active) throw new VirtError("STORAGE_POOL_IS_ACTIVE", { pool: name });
    return p;
  }

  #vol(p: MemPool, name: string): VolumeDef {
    const v = p.vols.find((x) => x.name === name);
    if (!v)
      throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching name '${name}'` });
    return v;
  }

  /**
   * libvirt's virStoragePoolObjListAdd: a source clash with another pool, then a name/UUID
   * clash; an existing pool of the same name and UUID gets the definition (kept aside while
   * it runs); otherwise a new, inactive pool.
   */
  #add(def: PoolDef, checkLive: boolean): MemPool {
    for (const o of this.#pools.values()) {
      if (sourceConflicts(o.def, def))
        throw new VirtError("STORAGE_POOL_SOURCE_CONFLICT", { pool: o.def.name });
    }
    const sameUuid = [...this.#pools.values()].find((o) => o.def.uuid === def.uuid);
    if (sameUuid) {
      if (sameUuid.def.name !== def.name) {
        throw new VirtError("STORAGE_POOL_UUID_EXISTS", { pool: sameUuid.def.name, uuid: sameUuid.def.uuid });
      }
      if (checkLive && sameUuid.active)
        throw new VirtError("STORAGE_POOL_ALREADY_ACTIVE", { pool: def.name });
      if (sameUuid.active) sameUuid.newDef = def;
      else sameUuid.def = def;
      return sameUuid;
    }
    const sameName = this.#pools.get(def.name);
    if (sameName) throw new VirtError("STORAGE_POOL_EXISTS", { pool: def.name, uuid: sameName.def.uuid });
    const p: MemPool = { def, active: false, persistent: false, autostart: false, vols: [] };
    this.#pools.set(def.name, p);
    return p;
  }

  listAll(flags: number): StoragePoolRef[] {
    checkFlags(flags, ALL_LIST_FLAGS, "testConnectListAllStoragePools");
    return [...this.#pools.values()]
      .filter((p) =>
        matchesStoragePoolListFlags(flags, {
          active: p.active,
          persistent: p.persistent,
          autostart: p.autostart,
          type: p.def.type,
        }),
      )
      .map(refOf);
  }

  count(active: boolean): number {
    return [...this.#pools.values()].filter((p) => p.active === active).length;
  }

  lookupByName(name: string): StoragePoolRef {
    return refOf(this.#byName(name));
  }

  lookupByUUID(uuid: string): StoragePoolRef {
    return refOf(this.#byUUID(uuid));
  }

  async define(xml: string, flags: number): Promise<StoragePoolRef> {
    checkFlags(flags, StoragePoolDefineFlags.VALIDATE, "testStoragePoolDefineXML");
    if (flags & StoragePoolDefineFlags.VALIDATE) {
      await validateAgainstSchema(xml, "storagepool", { document: "(storage_pool_definition)" });
    }
    const { def } = parsePool(xml);
    setDefaults(def);
    const p = this.#add(def, false);
    p.persistent = true;
    // The test driver then resets the counters of the pool's current definition.
    setDefaults(p.def);
    this.#lifecycle(p, Ev.DEFINED);
    return refOf(p);
  }

  createXML(xml: string, flags: number): StoragePoolRef {
    checkFlags(flags, 0, "testStoragePoolCreateXML");
    const { def } = parsePool(xml);
    const p = this.#add(def, true);
    setDefaults(p.def);
    p.persistent = false;
    p.active = true;
    this.#lifecycle(p, Ev.STARTED);
    return refOf(p);
  }

  create(r: StoragePoolRef, flags: number): void {
    checkFlags(flags, 0, "testStoragePoolCreate");
    const p = this.#inactive(r.name);
    p.active = true;
    this.#lifecycle(p, Ev.STARTED);
  }

  undefine(r: StoragePoolRef): void {
    const p = this.#inactive(r.name);
    this.#pools.delete(p.def.name);
    this.#lifecycle(p, Ev.UNDEFINED);
  }

  build(r: StoragePoolRef, flags: number): void {
    checkFlags(flags, 0, "testStoragePoolBuild");
    this.#lifecycle(this.#inactive(r.name), Ev.CREATED);
  }

  destroy(r: StoragePoolRef): void {
    const p = this.#active(r.name);
    p.active = false;
    this.#lifecycle(p, Ev.STOPPED);
    if (!p.persistent) this.#pools.delete(p.def.name);
  }

  delete(r: StoragePoolRef, flags: number): void {
    checkFlags(flags, 0, "testStoragePoolDelete");
    this.#lifecycle(this.#inactive(r.name), Ev.DELETED);
  }

  refresh(r: StoragePoolRef, flags: number): void {
    checkFlags(flags, 0, "testStoragePoolRefresh");
    this.#emit(this.#active(r.name), StoragePoolEventId.REFRESH, 0);
  }

  info(r: StoragePoolRef): StoragePoolInfo {
    const p = this.#byName(r.name);
    return {
      state: p.active ? StoragePoolState.RUNNING : StoragePoolState.INACTIVE,
      capacity: Number(p.def.capacity),
      allocation: Number(p.def.allocation),
      available: Number(p.def.available),
    };
  }

  xmlDesc(r: StoragePoolRef, flags: number): string {
    checkFlags(flags, 0, "testStoragePoolGetXMLDesc");
    return formatPool(this.#byName(r.name).def);
  }

  getAutostart(r: StoragePoolRef): boolean {
    const p = this.#byName(r.name);
    return p.persistent && p.autostart;
  }

  setAutostart(r: StoragePoolRef, autostart: boolean): void {
    const p = this.#byName(r.name);
    if (!p.persistent) throw new VirtError("STORAGE_POOL_NO_CONFIG", {});
    p.autostart = autostart;
  }

  isActive(r: StoragePoolRef): boolean {
    return this.#byUUID(r.uuid).active;
  }

  isPersistent(r: StoragePoolRef): boolean {
    return this.#byUUID(r.uuid).persistent;
  }

  numOfVolumes(r: StoragePoolRef): number {
    return this.#active(r.name).vols.length;
  }

  listAllVolumes(r: StoragePoolRef, flags: number): StorageVolRef[] {
    checkFlags(flags, 0, "testStoragePoolListAllVolumes");
    const p = this.#byUUID(r.uuid);
    if (!p.active) throw new VirtError("STORAGE_POOL_LIST_NOT_ACTIVE", {});
    return p.vols.map((v) => volRefOf(p, v));
  }

  volLookupByName(r: StoragePoolRef, name: string): StorageVolRef {
    const p = this.#active(r.name);
    return volRefOf(p, this.#vol(p, name));
  }

  #search(key: "key" | "path", value: string): StorageVolRef {
    for (const p of this.#pools.values()) {
      if (!p.active) continue;
      const v = p.vols.find((x) => (key === "key" ? x.key : x.target.path) === value);
      if (v) return volRefOf(p, v);
    }
    throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching ${key} '${value}'` });
  }

  volLookupByKey(key: string): StorageVolRef {
    return this.#search("key", key);
  }

  volLookupByPath(path: string): StorageVolRef {
    return this.#search("path", path);
  }

  /** The common part of create and create-from once the new definition is read. */
  #addVolume(p: MemPool, vol: VolumeDef): StorageVolRef {
    if (p.def.allocation + vol.allocation > p.def.capacity) {
      throw new VirtError("STORAGE_TEST_NO_SPACE", { volume: vol.name });
    }
    const path = `${p.def.target?.path ?? "(null)"}/${vol.name}`;
    vol.target.path = path;
    vol.key = path;
    p.vols.push(vol);
    p.def.allocation += vol.allocation;
    p.def.available = p.def.capacity - p.def.allocation;
    return volRefOf(p, vol);
  }

  volCreateXML(r: StoragePoolRef, xml: string, flags: number): StorageVolRef {
    checkFlags(flags, 0, "testStorageVolCreateXML");
    const p = this.#active(r.name);
    const { def: vol } = parseVolume(xml, p.def);
    if (p.vols.some((x) => x.name === vol.name)) throw new VirtError("STORAGE_VOL_EXISTS_TEST", {});
    return this.#addVolume(p, vol);
  }

  volCreateXMLFrom(r: StoragePoolRef, xml: string, clone: StorageVolRef, flags: number): StorageVolRef {
    checkFlags(flags, 0, "testStorageVolCreateXMLFrom");
    const p = this.#active(r.name);
    const { def: vol } = parseVolume(xml, p.def);
    if (p.vols.some((x) => x.name === vol.name)) throw new VirtError("STORAGE_VOL_EXISTS_TEST", {});
    // The test driver looks the source up by name in the pool the new volume goes to.
    this.#vol(p, clone.name);
    return this.#addVolume(p, vol);
  }

  volDelete(r: StorageVolRef, flags: number): void {
    checkFlags(flags, 0, "testStorageVolDelete");
    const p = this.#active(r.pool);
    const v = this.#vol(p, r.name);
    p.def.allocation -= v.allocation;
    p.def.available = p.def.capacity - p.def.allocation;
    p.vols.splice(p.vols.indexOf(v), 1);
  }

  volInfo(r: StorageVolRef): StorageVolInfo {
    const p = this.#active(r.pool);
    const v = this.#vol(p, r.name);
    return {
      type: volTypeFor(p.def.type),
      capacity: Number(v.capacity ?? 0n),
      allocation: Number(v.allocation),
    };
  }

  volXMLDesc(r: StorageVolRef, flags: number): string {
    checkFlags(flags, 0, "testStorageVolGetXMLDesc");
    const p = this.#active(r.pool);
    return formatVolume(p.def, this.#vol(p, r.name));
  }

  volPath(r: StorageVolRef): string {
    const p = this.#active(r.pool);
    return this.#vol(p, r.name).target.path ?? "";
  }

  /** virConnectFindStoragePoolSources: canned answers for logical and netfs. */
  findSources(type: string, srcSpec: string | null, flags: number): string {
    checkFlags(flags, 0, "testConnectFindStoragePoolSources");
    // libvirt tests the type's enum value for 0, so `dir` (the first type) is "unknown".
    const idx = (POOL_TYPES as readonly string[]).indexOf(type);
    if (idx === 0) throw new VirtError("STORAGE_TEST_UNKNOWN_POOL_TYPE", { type });
    let host: string | undefined;
    if (srcSpec !== null) {
      // libvirt looks up the type's backend options before reading the specification.
      if (idx < 0) throw new VirtError("STORAGE_TEST_NO_BACKEND", { type: -1 });
      const root = parseXml(srcSpec, "(storage_source_specification)");
      if (root.name !== "source") throw new VirtError("STORAGE_SOURCE_SPEC_ROOT", { found: root.name });
      host = root.child("host")?.attr("name");
    }
    if (type === "logical") return LOGICAL_SOURCES;
    if (type === "netfs") {
      if (host === undefined) throw new VirtError("STORAGE_SOURCES_NEED_HOST", {});
      return netfsSources(host);
    }
    throw new VirtError("STORAGE_NO_DISCOVERY", { type });
  }

  connection(): StorageDriverConnection {
    return {
      ...poolEventEntries(this.events),
      connectNumOfStoragePools: entry(() => this.count(true)),
      connectNumOfDefinedStoragePools: entry(() => this.count(false)),
      connectListAllStoragePools: entry((flags: number) => this.listAll(flags)),
      connectFindStoragePoolSources: entry((type: string, spec: string | null, flags: number) =>
        this.findSources(type, spec, flags),
      ),
      storagePoolLookupByName: entry((name: string) => this.lookupByName(name)),
      storagePoolLookupByUUID: entry((uuid: string) => this.lookupByUUID(uuid)),
      storagePoolLookupByVolume: entry((vol: StorageVolRef) => this.lookupByName(vol.pool)),
      storagePoolDefineXML: entry((xml: string, flags: number) => this.define(xml, flags)),
      storagePoolCreateXML: entry((xml: string, flags: number) => this.createXML(xml, flags)),
      storagePoolBuild: entry((r: StoragePoolRef, flags: number) => {
        this.build(r, flags);
      }),
      storagePoolUndefine: entry((r: StoragePoolRef) => {
        this.undefine(r);
      }),
      storagePoolCreate: entry((r: StoragePoolRef, flags: number) => {
        this.create(r, flags);
      }),
      storagePoolDestroy: entry((r: StoragePoolRef) => {
        this.destroy(r);
      }),
      storagePoolDelete: entry((r: StoragePoolRef, flags: number) => {
        this.delete(r, flags);
      }),
      storagePoolRefresh: entry((r: StoragePoolRef, flags: number) => {
        this.refresh(r, flags);
      }),
      storagePoolGetInfo: entry((r: StoragePoolRef) => this.info(r)),
      storagePoolGetXMLDesc: entry((r: StoragePoolRef, flags: number) => this.xmlDesc(r, flags)),
      storagePoolGetAutostart: entry((r: StoragePoolRef) => this.getAutostart(r)),
      storagePoolSetAutostart: entry((r: StoragePoolRef, a: boolean) => {
        this.setAutostart(r, a);
      }),
      storagePoolIsActive: entry((r: StoragePoolRef) => this.isActive(r)),
      storagePoolIsPersistent: entry((r: StoragePoolRef) => this.isPersistent(r)),
      storagePoolNumOfVolumes: entry((r: StoragePoolRef) => this.numOfVolumes(r)),
      storagePoolListAllVolumes: entry((r: StoragePoolRef, flags: number) => this.listAllVolumes(r, flags)),
      storageVolLookupByName: entry((r: StoragePoolRef, name: string) => this.volLookupByName(r, name)),
      storageVolLookupByKey: entry((key: string) => this.volLookupByKey(key)),
      storageVolLookupByPath: entry((path: string) => this.volLookupByPath(path)),
      storageVolCreateXML: entry((r: StoragePoolRef, xml: string, flags: number) =>
        this.volCreateXML(r, xml, flags),
      ),
      storageVolCreateXMLFrom: entry((r: StoragePoolRef, xml: string, clone: StorageVolRef, flags: number) =>
        this.volCreateXMLFrom(r, xml, clone, flags),
      ),
      storageVolDelete: entry((r: StorageVolRef, flags: number) => {
        this.volDelete(r, flags);
      }),
      storageVolGetInfo: entry((r: StorageVolRef) => this.volInfo(r)),
      storageVolGetXMLDesc: entry((r: StorageVolRef, flags: number) => this.volXMLDesc(r, flags)),
      storageVolGetPath: entry((r: StorageVolRef) => this.volPath(r)),
    };
  }
}

const openShared = sharedWhileOpen(
  () => new MemoryStorageDriver(),
  (d) => d.connection(),
);

/**
 * The pools of `test:///default` for one more connection: shared while any connection is open,
 * back to the defaults once all are closed (as the test driver's domains and networks).
 */
export function testDefaultStorage(): StorageDriverConnection {
  return openShared();
}
