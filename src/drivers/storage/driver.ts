/**
 * The local storage driver (libvirt's storage_driver.c) for one state root: pools defined
 * (`<name>.xml` in the config dir, `autostart/` links), started and stopped through their
 * backend (`backend-dir.ts`, `backend-fs.ts`, `backend-logical.ts`), with a status file per
 * running pool so a restarted driver finds it again; volumes listed on refresh, created,
 * copied, deleted, wiped, resized, uploaded and downloaded.
 *
 * Concurrency: pool-level changes run one at a time (a queue); a volume change marks the volume
 * busy for its duration (a second change, or a download during an upload, gets a clear
 * STORAGE_VOL_BUSY error, as libvirt's "still in use"/"still being allocated"), and a pool with
 * volume jobs running cannot be destroyed, deleted or undefined. A hook (`setVolumeUsers`)
 * tells which running guests use a volume: those volumes cannot be deleted, wiped or shrunk.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { promises as fsp } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import { removeFileDurable, symlinkAtomic, writeFileAtomic } from "../../util/atomic-file.ts";
import {
  formatPoolCapabilities,
  formatPool,
  formatVolume,
  parsePool,
  parseVolume,
  type PoolDef,
  type VolumeDef,
} from "../../conf/storage/index.ts";
import { validateAgainstSchema } from "../../host/xml-schema.ts";
import { EventHub } from "../events.ts";
import {
  ConnectListStoragePoolsFlags,
  matchesStoragePoolListFlags,
  StoragePoolBuildFlags,
  StoragePoolCreateFlags,
  StoragePoolDefineFlags,
  StoragePoolDeleteFlags,
  StoragePoolEventId,
  StoragePoolEventLifecycleType as Ev,
  StoragePoolState,
  StorageVolCreateFlags,
  StorageVolDeleteFlags,
  StorageVolDownloadFlags,
  StorageVolInfoFlags,
  StorageVolResizeFlags,
  StorageVolType,
  StorageVolUploadFlags,
  StorageVolWipeAlgorithm,
  StorageXMLFlags,
  type StorageDriverConnection,
  type StoragePoolEvent,
  type StoragePoolInfo,
  type StoragePoolRef,
  type StorageVolInfo,
  type StorageVolRef,
  type VolumeDownloadStream,
  type VolumeUploadSink,
} from "../storage-driver.ts";
import { noSupport, type PoolBackend } from "./backend.ts";
import { DirBackend } from "./backend-dir.ts";
import { FsBackend } from "./backend-fs.ts";
import { LogicalBackend } from "./backend-logical.ts";
import { entry } from "../entry.ts";
import { poolEventEntries } from "./entries.ts";
import { openDownload, openUpload } from "./stream.ts";
import { ioError } from "./volumes.ts";

export type StorageRoot =
  | { readonly kind: "system" }
  | { readonly kind: "session" }
  | { readonly kind: "embed"; readonly root: string };

export interface StoragePaths {
  /** Persistent pool definitions (`<name>.xml`). */
  readonly configDir: string;
  /** `<name>.xml` links to the definitions of pools started with the driver. */
  readonly autostartDir: string;
  /** Status files of running pools. */
  readonly stateDir: string;
  /** The target of the `default` pool. */
  readonly defaultPoolDir: string;
  /** Written once the first start's `default` pool was defined: undefining it sticks. */
  readonly firstStartMarker: string;
}

function xdg(name: string, fallback: string): string {
  const v = process.env[name];
  return v !== undefined && v !== "" ? v : fallback;
}

export function storagePaths(root: StorageRoot): StoragePaths {
  let etc: string, run: string, images: string;
  switch (root.kind) {
    case "system":
      etc = "/etc/tvirt/storage";
      run = "/run/tvirt/storage";
      images = "/var/lib/tvirt/images";
      break;
    case "session": {
      const home = homedir();
      etc = join(xdg("XDG_CONFIG_HOME", join(home, ".config")), "tvirt", "storage");
      run = join(xdg("XDG_RUNTIME_DIR", join(home, ".cache", "tvirt", "run")), "tvirt", "storage");
      images = join(xdg("XDG_DATA_HOME", join(home, ".local", "share")), "tvirt", "images");
      break;
    }
    case "embed":
      etc = join(root.root, "etc", "storage");
      run = join(root.root, "run", "storage");
      images = join(root.root, "images");
      break;
  }
  return {
    configDir: etc,
    autostartDir: join(etc, "autostart"),
    stateDir: run,
    defaultPoolDir: images,
    firstStartMarker: join(etc, ".tvirt-first-start"),
  };
}

/** libvirt's packaged `default` pool: a directory of images. */
export function defaultPoolXML(path: string): string {
  return `<pool type='dir'>\n  <name>default</name>\n  <target>\n    <path>${path}</path>\n  </target>\n</pool>\n`;
}

export interface StorageDriverOptions {
  /** Define the `default` dir pool (autostart) on the root's first start. */
  defineDefaultPool?: boolean;
  /** Start the autostart pools that are not running when the driver loads. */
  autostart?: boolean;
}

/**
 * Which running guests use any of `paths` (a volume's path and key): the QEMU driver's answer,
 * names of guests. Without a hook no volume is in use.
 */
export type VolumeUsers = (paths: readonly string[]) => readonly string[] | Promise<readonly string[]>;

interface VolObj {
  def: VolumeDef;
  /** The change running on the volume (creation, upload, …), if any. */
  writer?: string;
  /** Downloads running. */
  readers: number;
}

interface PoolObj {
  /** The persistent definition, or the live one of a transient pool. */
  def: PoolDef;
  /** The running pool's definition with sizes and target permissions. */
  live?: PoolDef;
  persistent: boolean;
  autostart: boolean;
  active: boolean;
  volumes: Map<string, VolObj>;
  /** Volume jobs running (creations, uploads, downloads, wipes, resizes, deletions). */
  jobs: number;
}

const VOL_TYPE: Readonly<Record<string, number>> = {
  file: StorageVolType.FILE,
  block: StorageVolType.BLOCK,
  dir: StorageVolType.DIR,
  network: StorageVolType.NETWORK,
  netdir: StorageVolType.NETDIR,
  ploop: StorageVolType.PLOOP,
};

const mask = (o: Readonly<Record<string, number>>): number => Object.values(o).reduce((a, b) => a | b, 0);

const refOf = (o: PoolObj): StoragePoolRef => ({ name: o.def.name, uuid: o.def.uuid });

/** The driver state of one root, shared by the connections opened on it. */
export class StorageDriver {
  readonly paths: StoragePaths;
  readonly #objs = new Map<string, PoolObj>();
  readonly #backends = new Map<string, PoolBackend>();
  #queue: Promise<unknown> = Promise.resolve();
  #users: VolumeUsers | undefined;
  /** Pool events for the connections of every process-local user of this root. */
  readonly events = new EventHub<StoragePoolEvent>();

  private constructor(paths: StoragePaths) {
    this.paths = paths;
    this.#backends.set("dir", new DirBackend());
    this.#backends.set("fs", new FsBackend());
    this.#backends.set("logical", new LogicalBackend());
  }

  /** Loads the definitions and status files of a root; see `StorageDriverOptions`. */
  static async load(paths: StoragePaths, options: StorageDriverOptions = {}): Promise<StorageDriver> {
    const d = new StorageDriver(paths);
    for (const dir of [paths.configDir, paths.autostartDir, paths.stateDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    }
    d.#loadConfigs();
    await d.#loadStatus();
    if (options.defineDefaultPool && !existsSync(paths.firstStartMarker)) {
      if (!d.#objs.has("default")) {
        try {
          const ref = await d.defineXML(defaultPoolXML(paths.defaultPoolDir), 0);
          await d.setAutostart(ref, true);
          await d.build(ref, 0);
        } catch {
          // a default pool that cannot be made (its dir is a file, …) is left to the admin
        }
      }
      writeFileSync(paths.firstStartMarker, "the default storage pool was defined on the first start\n");
    }
    if (options.autostart) {
      for (const o of [...d.#objs.values()]) {
        if (o.autostart && !o.active) {
          try {
            await d.create(refOf(o), 0);
          } catch {
            // a pool that cannot start stays inactive; the others still start
          }
        }
      }
    }
    return d;
  }

  /** The QEMU driver's hook: which running guests use a volume. */
  setVolumeUsers(fn: VolumeUsers | undefined): void {
    this.#users = fn;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  #backend(def: PoolDef): PoolBackend {
    const b = this.#backends.get(def.type);
    if (!b) {
      throw noSupport(
        `storage pool '${def.name}' of type '${def.type}': tvirt's storage driver runs dir, fs and logical pools`,
      );
    }
    return b;
  }

  #emit(o: PoolObj, id: number, event: number): void {
    this.events.emit({ name: o.def.name, uuid: o.def.uuid, id: -1 }, { id, event, detail: 0 });
  }

  #configPath(name: string): string {
    return join(this.paths.configDir, `${name}.xml`);
  }
  #autostartPath(name: string): string {
    return join(this.paths.autostartDir, `${name}.xml`);
  }
  #statusPath(name: string): string {
    return join(this.paths.stateDir, `${name}.xml`);
  }

  #loadConfigs(): void {
    for (const f of readdirSync(this.paths.configDir)) {
      if (!f.endsWith(".xml")) continue;
      const path = join(this.paths.configDir, f);
      try {
        const { def } = parsePool(readFileSync(path, "utf8"), { document: path });
        if (`${def.name}.xml` !== f) continue;
        this.#objs.set(def.name, {
          def,
          persistent: true,
          autostart: existsSync(this.#autostartPath(def.name)),
          active: false,
          volumes: new Map(),
          jobs: 0,
        });
      } catch {
        // an unreadable definition is skipped, as libvirt does (it logs it)
      }
    }
  }

  async #loadStatus(): Promise<void> {
    for (const f of readdirSync(this.paths.stateDir)) {
      if (!f.endsWith(".xml")) continue;
      const path = join(this.paths.stateDir, f);
      let live: PoolDef;
      try {
        live = parsePool(readFileSync(path, "utf8"), { document: path }).def;
      } catch {
        continue;
      }
      let o = this.#objs.get(live.name);
      if (!o) {
        o = { def: live, persistent: false, autostart: false, active: false, volumes: new Map(), jobs: 0 };
        this.#objs.set(live.name, o);
      }
      let running: boolean;
      try {
        running = await this.#backend(live).isRunning(live);
      } catch {
        running = false;
      }
      if (!running) {
        // Unmounted, VG gone, directory removed: the pool is not running any more.
        await removeFileDurable(path);
        if (!o.persistent) this.#objs.delete(live.name);
        continue;
      }
      o.active = true;
      o.live = live;
      try {
        await this.#refresh(o);
      } catch {
        // stays active with the sizes it had; pool-refresh tells what is wrong
      }
    }
  }

  // --- lookups --------------------------------------------------------------------------------

  #byRef(pool: StoragePoolRef): PoolObj {
    const o = this.#objs.get(pool.name);
    if (o && o.def.uuid === pool.uuid) return o;
    const byUuid = [...this.#objs.values()].find((x) => x.def.uuid === pool.uuid);
    if (byUuid) return byUuid;
    throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "uuid", value: pool.uuid });
  }

  #active(pool: StoragePoolRef): PoolObj {
    const o = this.#byRef(pool);
    if (!o.active) throw new VirtError("STORAGE_POOL_NOT_ACTIVE", { pool: o.def.name });
    return o;
  }

  #volRef(o: PoolObj, v: VolObj): StorageVolRef {
    return { pool: o.def.name, name: v.def.name, key: v.def.key ?? v.def.target.path ?? v.def.name };
  }

  /** The volume of a reference (in its pool, which must be running). */
  #vol(ref: StorageVolRef): { o: PoolObj; v: VolObj } {
    const o = this.#objs.get(ref.pool);
    if (!o) throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "name", value: ref.pool });
    if (!o.active) throw new VirtError("STORAGE_POOL_NOT_ACTIVE", { pool: o.def.name });
    const v = o.volumes.get(ref.name);
    if (!v || v.writer === "creation") {
      throw new VirtError("STORAGE_VOL_NOT_FOUND", {
        what: `no storage vol with matching name '${ref.name}'`,
      });
    }
    return { o, v };
  }

  listAll(flags: number): StoragePoolRef[] {
    checkFlags(flags, mask(ConnectListStoragePoolsFlags), "storageConnectListAllStoragePools");
    return [...this.#objs.values()]
      .filter((o) =>
        matchesStoragePoolListFlags(flags, {
          active: o.active,
          persistent: o.persistent,
          autostart: o.autostart,
          type: o.def.type,
        }),
      )
      .sort((a, b) => (a.def.name < b.def.name ? -1 : a.def.name > b.def.name ? 1 : 0))
      .map(refOf);
  }

  numOfPools(active: boolean): number {
    return [...this.#objs.values()].filter((o) => o.active === active).length;
  }

  lookupByName(name: string): StoragePoolRef {
    const o = this.#objs.get(name);
    if (!o) throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "name", value: name });
    return refOf(o);
  }

  lookupByUUID(uuid: string): StoragePoolRef {
    const u = uuid.toLowerCase();
    const o = [...this.#objs.values()].find((x) => x.def.uuid === u);
    if (!o) throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "uuid", value: uuid });
    return refOf(o);
  }

  lookupByVolume(vol: StorageVolRef): StoragePoolRef {
    return this.lookupByName(vol.pool);
  }

  lookupByTargetPath(path: string): StoragePoolRef {
    const want = resolve(path);
    const o = [...this.#objs.values()].find(
      (x) => x.active && x.def.target !== undefined && resolve(x.def.target.path) === want,
    );
    if (!o) throw new VirtError("STORAGE_POOL_NOT_FOUND", { key: "target path", value: path });
    return refOf(o);
  }

  // --- define / undefine / create -------------------------------------------------------------

  async #parse(xml: string, flags: number, validateFlag: number): Promise<PoolDef> {
    if (flags & validateFlag)
      await validateAgainstSchema(xml, "storagepool", { document: "(storage_pool_definition)" });
    const { def } = parsePool(xml);
    const backend = this.#backend(def);
    await backend.checkDefinition(def);
    return def;
  }

  /**
   * The pool `def` replaces (same name and UUID), if any; libvirt's duplicate errors when the
   * name or UUID belongs to another pool, or another pool has the same target or source.
   */
  #existingFor(def: PoolDef, forCreate: boolean): PoolObj | undefined {
    const same = this.#objs.get(def.name);
    if (same && same.def.uuid !== def.uuid) {
      throw new VirtError("STORAGE_POOL_DUPLICATE", {
        what: `pool '${def.name}' already exists with uuid ${same.def.uuid}`,
      });
    }
    if (same && forCreate && same.active) {
      throw new VirtError("STORAGE_POOL_ACTIVE_STATE", { what: `pool is already active as '${def.name}'` });
    }
    for (const o of this.#objs.values()) {
      if (o === same) continue;
      if (o.def.uuid === def.uuid) {
        throw new VirtError("STORAGE_POOL_DUPLICATE", {
          what: `pool '${o.def.name}' is already defined with uuid ${o.def.uuid}`,
        });
      }
      if (sameSource(o.def, def)) {
        throw new VirtError("STORAGE_POOL_DUPLICATE", {
          what: `Storage source conflict with pool: '${o.def.name}'`,
        });
      }
    }
    return same;
  }

  defineXML(xml: string, flags: number): Promise<StoragePoolRef> {
    return this.#serial(async () => {
      checkFlags(flags, StoragePoolDefineFlags.VALIDATE, "storagePoolDefineXML");
      const def = await this.#parse(xml, flags, StoragePoolDefineFlags.VALIDATE);
      const existing = this.#existingFor(def, false);
      await writeFileAtomic(this.#configPath(def.name), formatPool(def), { mode: 0o600 });
      if (existing) {
        existing.def = def;
        existing.persistent = true;
      } else {
        this.#objs.set(def.name, {
          def,
          persistent: true,
          autostart: false,
          active: false,
          volumes: new Map(),
          jobs: 0,
        });
      }
      const o = this.#objs.get(def.name)!;
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.DEFINED);
      return refOf(o);
    });
  }

  createXML(xml: string, flags: number): Promise<StoragePoolRef> {
    return this.#serial(async () => {
      const F = StoragePoolCreateFlags;
      checkFlags(
        flags,
        F.WITH_BUILD | F.WITH_BUILD_OVERWRITE | F.WITH_BUILD_NO_OVERWRITE,
        "storagePoolCreateXML",
      );
      const def = await this.#parse(xml, 0, 0);
      const existing = this.#existingFor(def, true);
      if (existing) {
        throw new VirtError("STORAGE_POOL_DUPLICATE", { what: `pool '${def.name}' is already defined` });
      }
      const o: PoolObj = {
        def,
        persistent: false,
        autostart: false,
        active: false,
        volumes: new Map(),
        jobs: 0,
      };
      await this.#buildFor(o, flags);
      this.#objs.set(def.name, o);
      try {
        await this.#start(o);
      } catch (e) {
        this.#objs.delete(def.name);
        throw e;
      }
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.STARTED);
      return refOf(o);
    });
  }

  undefine(pool: StoragePoolRef): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(pool);
      if (o.active) {
        throw new VirtError("STORAGE_POOL_ACTIVE_STATE", {
          what: `storage pool '${o.def.name}' is still active`,
        });
      }
      // A transient pool is always active, so the check above already refused it (as libvirt).
      if (o.jobs > 0) throw new VirtError("STORAGE_POOL_BUSY", { pool: o.def.name });
      await removeFileDurable(this.#autostartPath(o.def.name));
      await removeFileDurable(this.#configPath(o.def.name));
      this.#objs.delete(o.def.name);
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.UNDEFINED);
    });
  }

  // --- build / start / stop / delete / refresh ----------------------------------------------------

  async #buildFor(o: PoolObj, createFlags: number): Promise<void> {
    const F = StoragePoolCreateFlags;
    const B = StoragePoolBuildFlags;
    if (createFlags & F.WITH_BUILD_OVERWRITE && createFlags & F.WITH_BUILD_NO_OVERWRITE) {
      throw new VirtError("STORAGE_POOL_BUILD_REFUSED", {
        what: "Overwrite and no overwrite flags are mutually exclusive",
      });
    }
    let buildFlags = -1;
    if (createFlags & F.WITH_BUILD) buildFlags = 0;
    if (createFlags & F.WITH_BUILD_OVERWRITE) buildFlags = B.OVERWRITE;
    if (createFlags & F.WITH_BUILD_NO_OVERWRITE) buildFlags = B.NO_OVERWRITE;
    if (buildFlags >= 0) await this.#backend(o.def).build(o.def, buildFlags);
  }

  build(pool: StoragePoolRef, flags: number): Promise<void> {
    return this.#serial(async () => {
      const B = StoragePoolBuildFlags;
      checkFlags(flags, B.REPAIR | B.RESIZE | B.NO_OVERWRITE | B.OVERWRITE, "storagePoolBuild");
      const o = this.#byRef(pool);
      if (o.active) {
        throw new VirtError("STORAGE_POOL_ACTIVE_STATE", {
          what: `storage pool '${o.def.name}' is already active`,
        });
      }
      if (flags & (B.REPAIR | B.RESIZE)) {
        throw noSupport(`storage pool '${o.def.name}': build --repair/--resize is not supported`);
      }
      await this.#backend(o.def).build(o.def, flags);
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.CREATED);
    });
  }

  async #start(o: PoolObj): Promise<void> {
    const backend = this.#backend(o.def);
    await backend.start(o.def);
    o.active = true;
    o.live = structuredClone(o.def);
    try {
      await this.#refresh(o);
      await writeFileAtomic(this.#statusPath(o.def.name), formatPool(o.live), { mode: 0o600 });
    } catch (e) {
      o.active = false;
      o.live = undefined;
      o.volumes.clear();
      await backend.stop(o.def).catch(() => undefined);
      throw e;
    }
  }

  create(pool: StoragePoolRef, flags: number): Promise<void> {
    return this.#serial(async () => {
      const F = StoragePoolCreateFlags;
      checkFlags(
        flags,
        F.WITH_BUILD | F.WITH_BUILD_OVERWRITE | F.WITH_BUILD_NO_OVERWRITE,
        "storagePoolCreate",
      );
      const o = this.#byRef(pool);
      if (o.active) {
        throw new VirtError("STORAGE_POOL_ACTIVE_STATE", {
          what: `storage pool '${o.def.name}' is already active`,
        });
      }
      await this.#buildFor(o, flags);
      await this.#start(o);
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.STARTED);
    });
  }

  destroy(pool: StoragePoolRef): Promise<void> {
    return this.#serial(async () => {
      const o = this.#active(pool);
      if (o.jobs > 0) throw new VirtError("STORAGE_POOL_BUSY", { pool: o.def.name });
      // Inactive from here on, so no volume job starts while the backend stops the pool.
      o.active = false;
      try {
        await this.#backend(o.def).stop(o.live ?? o.def);
      } catch (e) {
        o.active = true;
        throw e;
      }
      await removeFileDurable(this.#statusPath(o.def.name));
      o.live = undefined;
      o.volumes.clear();
      if (!o.persistent) this.#objs.delete(o.def.name);
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.STOPPED);
    });
  }

  delete(pool: StoragePoolRef, flags: number): Promise<void> {
    return this.#serial(async () => {
      checkFlags(flags, StoragePoolDeleteFlags.ZEROED, "storagePoolDelete");
      const o = this.#byRef(pool);
      if (o.active) {
        throw new VirtError("STORAGE_POOL_ACTIVE_STATE", {
          what: `storage pool '${o.def.name}' is still active`,
        });
      }
      if (o.jobs > 0) throw new VirtError("STORAGE_POOL_BUSY", { pool: o.def.name });
      await this.#backend(o.def).delete(o.def, flags);
      this.#emit(o, StoragePoolEventId.LIFECYCLE, Ev.DELETED);
    });
  }

  /** Re-reads sizes and volumes, keeping the volumes that have a job running. */
  async #refresh(o: PoolObj): Promise<void> {
    const scan = await this.#backend(o.def).refresh(o.live ?? o.def);
    const live = o.live ?? structuredClone(o.def);
    live.capacity = scan.capacity;
    live.allocation = scan.allocation;
    live.available = scan.available;
    if (scan.targetPerms && live.target) live.target.perms = { ...live.target.perms, ...scan.targetPerms };
    o.live = live;
    const next = new Map<string, VolObj>();
    for (const v of scan.volumes) {
      const old = o.volumes.get(v.name);
      if (old && old.writer === "creation") continue;
      if (old) {
        old.def = v;
        next.set(v.name, old);
      } else next.set(v.name, { def: v, readers: 0 });
    }
    for (const [name, old] of o.volumes) {
      if (next.has(name)) continue;
      if (old.writer !== undefined || old.readers > 0) next.set(name, old);
      // Made by an operation that ended while the scan ran: still there, so still listed.
      else if (
        await this.#backend(o.def)
          .refreshVolume(live, old.def)
          .catch(() => undefined)
      )
        next.set(name, old);
    }
    o.volumes = new Map([...next].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }

  refresh(pool: StoragePoolRef, flags: number): Promise<void> {
    return this.#serial(async () => {
      checkFlags(flags, 0, "storagePoolRefresh");
      const o = this.#active(pool);
      if (o.jobs > 0) throw new VirtError("STORAGE_POOL_BUSY", { pool: o.def.name });
      await this.#refresh(o);
      this.#emit(o, StoragePoolEventId.REFRESH, 0);
    });
  }

  /**
   * Sizes after a volume changed (the pool's free space moved). The volume list is kept by the
   * volume operations themselves: a full scan here could race another operation and drop the
   * volume it just made.
   */
  async #afterVolumeChange(o: PoolObj): Promise<void> {
    if (!o.active || !o.live) return;
    try {
      const s = await this.#backend(o.def).sizes(o.live);
      o.live.capacity = s.capacity;
      o.live.allocation = s.allocation;
      o.live.available = s.available;
    } catch {
      // the next pool-refresh reports it
    }
  }

  getInfo(pool: StoragePoolRef): StoragePoolInfo {
    const o = this.#byRef(pool);
    const d = o.live ?? o.def;
    return {
      state: o.active ? StoragePoolState.RUNNING : StoragePoolState.INACTIVE,
      capacity: Number(o.active ? d.capacity : 0n),
      allocation: Number(o.active ? d.allocation : 0n),
      available: Number(o.active ? d.available : 0n),
    };
  }

  getXMLDesc(pool: StoragePoolRef, flags: number): string {
    checkFlags(flags, StorageXMLFlags.INACTIVE, "storagePoolGetXMLDesc");
    const o = this.#byRef(pool);
    return formatPool(flags & StorageXMLFlags.INACTIVE || !o.live ? o.def : o.live);
  }

  getAutostart(pool: StoragePoolRef): boolean {
    return this.#byRef(pool).autostart;
  }

  setAutostart(pool: StoragePoolRef, autostart: boolean): Promise<void> {
    return this.#serial(async () => {
      const o = this.#byRef(pool);
      if (!o.persistent) {
        throw new VirtError("STORAGE_POOL_TRANSIENT", { what: "pool has no config file" });
      }
      if (autostart) await symlinkAtomic(this.#configPath(o.def.name), this.#autostartPath(o.def.name));
      else await removeFileDurable(this.#autostartPath(o.def.name));
      o.autostart = autostart;
    });
  }

  isActive(pool: StoragePoolRef): boolean {
    return this.#byRef(pool).active;
  }
  isPersistent(pool: StoragePoolRef): boolean {
    return this.#byRef(pool).persistent;
  }

  #visible(o: PoolObj): VolObj[] {
    return [...o.volumes.values()].filter((v) => v.writer !== "creation");
  }

  numOfVolumes(pool: StoragePoolRef): number {
    return this.#visible(this.#active(pool)).length;
  }

  listAllVolumes(pool: StoragePoolRef, flags: number): StorageVolRef[] {
    checkFlags(flags, 0, "storagePoolListAllVolumes");
    const o = this.#active(pool);
    return this.#visible(o).map((v) => this.#volRef(o, v));
  }

  async findSources(type: string, srcSpec: string | null, flags: number): Promise<string> {
    checkFlags(flags, 0, "storageConnectFindStoragePoolSources");
    const backend = this.#backends.get(type);
    if (!backend?.findSources) {
      throw noSupport(`pool type '${type}' does not support source discovery`);
    }
    let spec: PoolDef | undefined;
    if (srcSpec !== null && srcSpec.trim() !== "") {
      // The spec is a <source> element: read it as the source of a pool of that type.
      const xml = `<pool type='${type}'><name>find-sources</name>${srcSpec}<target><path>/</path></target></pool>`;
      spec = parsePool(xml, { document: "(storage_source_specification)" }).def;
    }
    return backend.findSources(spec);
  }

  // --- volumes ------------------------------------------------------------------------------------

  volLookupByName(pool: StoragePoolRef, name: string): StorageVolRef {
    const o = this.#active(pool);
    const v = o.volumes.get(name);
    if (!v || v.writer === "creation") {
      throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching name '${name}'` });
    }
    return this.#volRef(o, v);
  }

  volLookupByKey(key: string): StorageVolRef {
    for (const o of this.#objs.values()) {
      if (!o.active) continue;
      for (const v of this.#visible(o)) if (v.def.key === key) return this.#volRef(o, v);
    }
    throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching key ${key}` });
  }

  volLookupByPath(path: string): StorageVolRef {
    const want = resolve(path);
    for (const o of this.#objs.values()) {
      if (!o.active) continue;
      for (const v of this.#visible(o)) {
        if (v.def.target.path !== undefined && resolve(v.def.target.path) === want) return this.#volRef(o, v);
      }
    }
    throw new VirtError("STORAGE_VOL_NOT_FOUND", { what: `no storage vol with matching path '${path}'` });
  }

  /** Marks a volume busy with `op` (refusing when something else runs on it). */
  #take(o: PoolObj, v: VolObj, op: string, reader = false): () => void {
    if (v.writer !== undefined || (!reader && v.readers > 0)) {
      const running = v.writer ?? "download";
      throw new VirtError("STORAGE_VOL_BUSY", { volume: v.def.name, pool: o.def.name, op: running });
    }
    if (reader) v.readers++;
    else v.writer = op;
    o.jobs++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (reader) v.readers--;
      else v.writer = undefined;
      o.jobs--;
    };
  }

  async #checkUsers(o: PoolObj, v: VolObj, op: string): Promise<void> {
    if (!this.#users) return;
    const paths = [...new Set([v.def.target.path, v.def.key].filter((p): p is string => p !== undefined))];
    const guests = await this.#users(paths);
    if (guests.length > 0) {
      throw new VirtError("STORAGE_VOL_IN_USE", {
        volume: `${o.def.name}/${v.def.name}`,
        path: v.def.target.path ?? v.def.name,
        guests: guests.map((g) => `'${g}'`).join(", "),
        op,
      });
    }
  }

  /** Reads a new volume's XML and checks what the driver checks before anything is created. */
  #newVolume(o: PoolObj, xml: string, forClone: boolean, flags: number): VolumeDef {
    const live = o.live ?? o.def;
    const { def: vol } = parseVolume(xml, live, forClone ? { noCapacity: true } : { optCapacity: true });
    if (vol.name.includes("/")) {
      throw new VirtError("STORAGE_INVALID_NAME", {
        kind: "storage volume",
        name: vol.name,
        reason: "volume name cannot contain '/'",
      });
    }
    const existing = o.volumes.get(vol.name);
    if (existing) throw new VirtError("STORAGE_VOL_EXISTS", { volume: vol.name });
    if (vol.capacity === 0n) {
      throw new VirtError("STORAGE_VOL_BAD_SIZE", {
        volume: vol.name,
        pool: o.def.name,
        what: "capacity 0 is not a size a volume can have: give <capacity> of at least 1 byte",
      });
    }
    const backend = this.#backend(o.def);
    const fmts = backend.createFormats;
    const fmt = vol.target.format;
    if (fmts && fmt !== undefined && !fmts.includes(fmt)) {
      throw new VirtError("STORAGE_VOL_FORMAT_UNSUPPORTED", {
        pool: o.def.name,
        type: o.def.type,
        volume: vol.name,
        what: `in format '${fmt}'`,
        allowed: fmts.join(", "),
      });
    }
    const t = backend.volumeTarget(live, vol.name);
    vol.target.path = t.path;
    vol.key = t.key;
    if (vol.capacity !== undefined) {
      const needed = backend.allocationNeeded(vol, flags);
      if (needed > live.available) {
        throw new VirtError("STORAGE_NO_SPACE", {
          pool: o.def.name,
          volume: vol.name,
          needed,
          available: live.available,
        });
      }
    }
    return vol;
  }

  /** Registers a volume being created; returns the release. */
  #reserve(o: PoolObj, vol: VolumeDef): () => void {
    const v: VolObj = { def: vol, readers: 0, writer: "creation" };
    o.volumes.set(vol.name, v);
    o.jobs++;
    return () => {
      o.jobs--;
      if (o.volumes.get(vol.name) === v) o.volumes.delete(vol.name);
    };
  }

  async #finishCreate(o: PoolObj, vol: VolumeDef, release: () => void): Promise<StorageVolRef> {
    release();
    const fresh = (await this.#backend(o.def).refreshVolume(o.live ?? o.def, vol)) ?? vol;
    const v: VolObj = { def: fresh, readers: 0 };
    o.volumes.set(vol.name, v);
    await this.#afterVolumeChange(o);
    return this.#volRef(o, o.volumes.get(vol.name) ?? v);
  }

  async volCreateXML(pool: StoragePoolRef, xml: string, flags: number): Promise<StorageVolRef> {
    const F = StorageVolCreateFlags;
    checkFlags(flags, F.PREALLOC_METADATA | F.VALIDATE, "storageVolCreateXML");
    if (flags & F.VALIDATE)
      await validateAgainstSchema(xml, "storagevol", { document: "(storage_volume_definition)" });
    const o = this.#active(pool);
    const vol = this.#newVolume(o, xml, false, flags);
    const release = this.#reserve(o, vol);
    try {
      await this.#backend(o.def).createVolume(o.live ?? o.def, vol, flags);
    } catch (e) {
      release();
      throw e;
    }
    return this.#finishCreate(o, vol, release);
  }

  async volCreateXMLFrom(
    pool: StoragePoolRef,
    xml: string,
    clonevol: StorageVolRef,
    flags: number,
  ): Promise<StorageVolRef> {
    const F = StorageVolCreateFlags;
    checkFlags(flags, F.PREALLOC_METADATA | F.VALIDATE, "storageVolCreateXMLFrom");
    if (flags & F.VALIDATE)
      await validateAgainstSchema(xml, "storagevol", { document: "(storage_volume_definition)" });
    const o = this.#active(pool);
    const src = this.#vol(clonevol);
    const vol = this.#newVolume(o, xml, true, flags);
    if (
      vol.capacity === undefined ||
      (src.v.def.capacity !== undefined && vol.capacity < src.v.def.capacity)
    ) {
      vol.capacity = src.v.def.capacity;
    }
    // A copy takes at least what the source has allocated (qemu-img convert keeps zeros sparse).
    const byDef = this.#backend(o.def).allocationNeeded(vol, flags);
    const needed = byDef > src.v.def.allocation ? byDef : src.v.def.allocation;
    const live = o.live ?? o.def;
    if (needed > live.available) {
      throw new VirtError("STORAGE_NO_SPACE", {
        pool: o.def.name,
        volume: vol.name,
        needed,
        available: live.available,
      });
    }
    const releaseSrc = this.#take(src.o, src.v, "copy", true);
    const release = this.#reserve(o, vol);
    try {
      await this.#backend(o.def).createVolumeFrom(live, vol, src.o.live ?? src.o.def, src.v.def, flags);
    } catch (e) {
      release();
      releaseSrc();
      throw e;
    }
    releaseSrc();
    return this.#finishCreate(o, vol, release);
  }

  async volDelete(ref: StorageVolRef, flags: number): Promise<void> {
    checkFlags(flags, StorageVolDeleteFlags.ZEROED, "storageVolDelete");
    const { o, v } = this.#vol(ref);
    const release = this.#take(o, v, "deletion");
    try {
      await this.#checkUsers(o, v, "delete");
      const backend = this.#backend(o.def);
      if (flags & StorageVolDeleteFlags.ZEROED) await backend.wipeVolume(o.live ?? o.def, v.def);
      await backend.deleteVolume(o.live ?? o.def, v.def, flags);
      o.volumes.delete(v.def.name);
    } finally {
      release();
    }
    await this.#afterVolumeChange(o);
  }

  async volWipePattern(ref: StorageVolRef, algorithm: number, flags: number): Promise<void> {
    checkFlags(flags, 0, "storageVolWipePattern");
    const { o, v } = this.#vol(ref);
    if (algorithm !== StorageVolWipeAlgorithm.ZERO) {
      const name = Object.entries(StorageVolWipeAlgorithm).find(([, n]) => n === algorithm)?.[0];
      if (name === undefined) {
        throw new VirtError("API_INVALID_ARG", { what: `wiping algorithm ${algorithm} not supported` });
      }
      throw noSupport(
        `storage volume '${v.def.name}': wipe algorithm '${name.toLowerCase()}' is not supported by tvirt (it would need scrub); use 'zero'`,
      );
    }
    const release = this.#take(o, v, "wipe");
    try {
      await this.#checkUsers(o, v, "wipe");
      await this.#backend(o.def).wipeVolume(o.live ?? o.def, v.def);
      await this.#refreshVol(o, v);
    } finally {
      release();
    }
    await this.#afterVolumeChange(o);
  }

  async #refreshVol(o: PoolObj, v: VolObj): Promise<void> {
    const fresh = await this.#backend(o.def).refreshVolume(o.live ?? o.def, v.def);
    if (fresh) v.def = fresh;
  }

  async volGetInfo(ref: StorageVolRef, flags: number): Promise<StorageVolInfo> {
    checkFlags(flags, StorageVolInfoFlags.PHYSICAL, "storageVolGetInfoFlags");
    const { o, v } = this.#vol(ref);
    await this.#refreshVol(o, v);
    let allocation = v.def.allocation;
    if (flags & StorageVolInfoFlags.PHYSICAL && v.def.type === "file" && v.def.target.path !== undefined) {
      allocation = BigInt((await fsp.stat(v.def.target.path)).size);
    }
    return {
      type: VOL_TYPE[v.def.type] ?? StorageVolType.FILE,
      capacity: Number(v.def.capacity ?? 0n),
      allocation: Number(allocation),
    };
  }

  async volGetXMLDesc(ref: StorageVolRef, flags: number): Promise<string> {
    checkFlags(flags, 0, "storageVolGetXMLDesc");
    const { o, v } = this.#vol(ref);
    await this.#refreshVol(o, v);
    return formatVolume(o.live ?? o.def, v.def);
  }

  volGetPath(ref: StorageVolRef): string {
    const { v } = this.#vol(ref);
    return v.def.target.path ?? "";
  }

  async volResize(ref: StorageVolRef, capacity: bigint, flags: number): Promise<void> {
    const R = StorageVolResizeFlags;
    checkFlags(flags, R.ALLOCATE | R.DELTA | R.SHRINK, "storageVolResize");
    const { o, v } = this.#vol(ref);
    const cur = v.def.capacity ?? 0n;
    let want = capacity;
    if (flags & R.DELTA) want = flags & R.SHRINK ? cur - capacity : cur + capacity;
    if (want <= 0n) {
      throw new VirtError("STORAGE_VOL_BAD_SIZE", {
        volume: v.def.name,
        pool: o.def.name,
        what: `cannot resize to ${want} bytes: a volume needs a capacity of at least 1 byte`,
      });
    }
    if (want < cur && !(flags & R.SHRINK)) {
      throw new VirtError("STORAGE_VOL_SHRINK_REFUSED", {
        volume: v.def.name,
        current: cur,
        requested: want,
      });
    }
    if (want === cur) return;
    const live = o.live ?? o.def;
    const growBy =
      flags & R.ALLOCATE || o.def.type === "logical"
        ? want - (v.def.allocation > want ? want : v.def.allocation)
        : 0n;
    if (want > cur && growBy > live.available) {
      throw new VirtError("STORAGE_NO_SPACE", {
        pool: o.def.name,
        volume: v.def.name,
        needed: growBy,
        available: live.available,
      });
    }
    const release = this.#take(o, v, "resize");
    try {
      if (want < cur) await this.#checkUsers(o, v, "shrink");
      await this.#backend(o.def).resizeVolume(live, v.def, want, flags & ~R.DELTA);
      await this.#refreshVol(o, v);
    } finally {
      release();
    }
    await this.#afterVolumeChange(o);
  }

  async volDownload(
    ref: StorageVolRef,
    offset: bigint,
    length: bigint,
    flags: number,
  ): Promise<VolumeDownloadStream> {
    checkFlags(flags, StorageVolDownloadFlags.SPARSE_STREAM, "storageVolDownload");
    const { o, v } = this.#vol(ref);
    const path = v.def.target.path!;
    const release = this.#take(o, v, "download", true);
    let size: bigint;
    try {
      const st = await fsp.stat(path);
      size = st.isBlockDevice() ? (v.def.capacity ?? 0n) : BigInt(st.size);
    } catch (e) {
      release();
      throw ioError(`storage volume '${v.def.name}'`, "stat", path, e);
    }
    return openDownload(
      { path, volume: v.def.name, done: release },
      size,
      offset,
      length,
      (flags & StorageVolDownloadFlags.SPARSE_STREAM) !== 0,
    );
  }

  async volUpload(
    ref: StorageVolRef,
    offset: bigint,
    length: bigint,
    flags: number,
  ): Promise<VolumeUploadSink> {
    checkFlags(flags, StorageVolUploadFlags.SPARSE_STREAM, "storageVolUpload");
    const { o, v } = this.#vol(ref);
    const release = this.#take(o, v, "upload");
    return openUpload(
      { path: v.def.target.path!, volume: v.def.name, done: release },
      offset,
      length,
      (flags & StorageVolUploadFlags.SPARSE_STREAM) !== 0,
      v.def.type === "block",
      async () => {
        await this.#refreshVol(o, v).catch(() => undefined);
        await this.#afterVolumeChange(o);
      },
    );
  }

  // --- connections ------------------------------------------------------------------------------

  /** The driver entries for one connection (closing it leaves the driver and its pools). */
  connection(): StorageDriverConnection {
    return {
      ...poolEventEntries(this.events),
      connectNumOfStoragePools: entry(() => this.numOfPools(true)),
      connectNumOfDefinedStoragePools: entry(() => this.numOfPools(false)),
      connectListAllStoragePools: entry((flags: number) => this.listAll(flags)),
      connectGetStoragePoolCapabilities: entry((flags: number) => {
        checkFlags(flags, 0, "storageConnectGetStoragePoolCapabilities");
        return formatPoolCapabilities(new Set(this.#backends.keys()));
      }),
      connectFindStoragePoolSources: entry((type: string, spec: string | null, flags: number) =>
        this.findSources(type, spec, flags),
      ),
      storagePoolLookupByName: entry((name: string) => this.lookupByName(name)),
      storagePoolLookupByUUID: entry((uuid: string) => this.lookupByUUID(uuid)),
      storagePoolLookupByVolume: entry((vol: StorageVolRef) => this.lookupByVolume(vol)),
      storagePoolLookupByTargetPath: entry((path: string) => this.lookupByTargetPath(path)),
      storagePoolDefineXML: entry((xml: string, flags: number) => this.defineXML(xml, flags)),
      storagePoolCreateXML: entry((xml: string, flags: number) => this.createXML(xml, flags)),
      storagePoolBuild: entry((p: StoragePoolRef, flags: number) => this.build(p, flags)),
      storagePoolUndefine: entry((p: StoragePoolRef) => this.undefine(p)),
      storagePoolCreate: entry((p: StoragePoolRef, flags: number) => this.create(p, flags)),
      storagePoolDestroy: entry((p: StoragePoolRef) => this.destroy(p)),
      storagePoolDelete: entry((p: StoragePoolRef, flags: number) => this.delete(p, flags)),
      storagePoolRefresh: entry((p: StoragePoolRef, flags: number) => this.refresh(p, flags)),
      storagePoolGetInfo: entry((p: StoragePoolRef) => this.getInfo(p)),
      storagePoolGetXMLDesc: entry((p: StoragePoolRef, flags: number) => this.getXMLDesc(p, flags)),
      storagePoolGetAutostart: entry((p: StoragePoolRef) => this.getAutostart(p)),
      storagePoolSetAutostart: entry((p: StoragePoolRef, a: boolean) => this.setAutostart(p, a)),
      storagePoolIsActive: entry((p: StoragePoolRef) => this.isActive(p)),
      storagePoolIsPersistent: entry((p: StoragePoolRef) => this.isPersistent(p)),
      storagePoolNumOfVolumes: entry((p: StoragePoolRef) => this.numOfVolumes(p)),
      storagePoolListAllVolumes: entry((p: StoragePoolRef, flags: number) => this.listAllVolumes(p, flags)),
      storageVolLookupByName: entry((p: StoragePoolRef, name: string) => this.volLookupByName(p, name)),
      storageVolLookupByKey: entry((key: string) => this.volLookupByKey(key)),
      storageVolLookupByPath: entry((path: string) => this.volLookupByPath(path)),
      storageVolCreateXML: entry((p: StoragePoolRef, xml: string, flags: number) =>
        this.volCreateXML(p, xml, flags),
      ),
      storageVolCreateXMLFrom: entry((p: StoragePoolRef, xml: string, clone: StorageVolRef, flags: number) =>
        this.volCreateXMLFrom(p, xml, clone, flags),
      ),
      storageVolDelete: entry((v: StorageVolRef, flags: number) => this.volDelete(v, flags)),
      storageVolWipe: entry((v: StorageVolRef, flags: number) =>
        this.volWipePattern(v, StorageVolWipeAlgorithm.ZERO, flags),
      ),
      storageVolWipePattern: entry((v: StorageVolRef, alg: number, flags: number) =>
        this.volWipePattern(v, alg, flags),
      ),
      storageVolGetInfo: entry((v: StorageVolRef) => this.volGetInfo(v, 0)),
      storageVolGetInfoFlags: entry((v: StorageVolRef, flags: number) => this.volGetInfo(v, flags)),
      storageVolGetXMLDesc: entry((v: StorageVolRef, flags: number) => this.volGetXMLDesc(v, flags)),
      storageVolGetPath: entry((v: StorageVolRef) => this.volGetPath(v)),
      storageVolResize: entry((v: StorageVolRef, cap: bigint, flags: number) =>
        this.volResize(v, cap, flags),
      ),
      storageVolDownload: entry((v: StorageVolRef, off: bigint, len: bigint, flags: number) =>
        this.volDownload(v, off, len, flags),
      ),
      storageVolUpload: entry((v: StorageVolRef, off: bigint, len: bigint, flags: number) =>
        this.volUpload(v, off, len, flags),
      ),
    };
  }
}

/** Whether two pools would use the same storage (libvirt's virStoragePoolObjSourceFindDuplicate). */
function sameSource(a: PoolDef, b: PoolDef): boolean {
  const localTarget = (d: PoolDef): string | undefined =>
    d.type === "dir" || d.type === "fs" || d.type === "netfs" ? d.target?.path : undefined;
  const ta = localTarget(a);
  if (ta !== undefined && ta === localTarget(b)) return true;
  if (a.type === "fs" && b.type === "fs") {
    const da = a.source.devices[0]?.path;
    if (da !== undefined && da === b.source.devices[0]?.path) return true;
  }
  if (a.type === "logical" && b.type === "logical") {
    if ((a.source.name ?? a.name) === (b.source.name ?? b.name)) return true;
  }
  return false;
}

const loaded = new Map<string, Promise<StorageDriver>>();

/** The driver of a root, loaded once per process (later options are ignored). */
export function storageDriverFor(
  root: StorageRoot,
  options: StorageDriverOptions = {},
): Promise<StorageDriver> {
  const paths = storagePaths(root);
  let d = loaded.get(paths.configDir);
  if (!d) {
    d = StorageDriver.load(paths, options);
    loaded.set(paths.configDir, d);
    d.catch(() => loaded.delete(paths.configDir));
  }
  return d;
}
