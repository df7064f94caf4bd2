/**
 * What a pool type's backend does on the host (libvirt's `virStorageBackend`): the driver
 * (`driver.ts`) keeps definitions, state, locks and events; a backend builds, starts, stops,
 * deletes and lists a pool and creates, copies, deletes, resizes and wipes its volumes.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { PoolDef, VolumeDef } from "../../conf/storage/index.ts";

export interface PoolSizes {
  capacity: bigint;
  allocation: bigint;
  available: bigint;
}

/** What a refresh finds. */
export interface PoolScan extends PoolSizes {
  volumes: VolumeDef[];
  /** The target's permissions as they are on the host (dir/fs pools). */
  targetPerms?: { mode: number; owner: number; group: number };
}

export interface PoolBackend {
  /** Volume formats the backend can create (undefined: its volumes have no format). */
  readonly createFormats?: readonly string[];
  /** Checks a definition against the host before it is defined or created (nothing changes). */
  checkDefinition(def: PoolDef): Promise<void>;
  /** Whether a pool recorded as running still runs (after a restart of the driver). */
  isRunning(def: PoolDef): Promise<boolean>;
  build(def: PoolDef, flags: number): Promise<void>;
  start(def: PoolDef): Promise<void>;
  stop(def: PoolDef): Promise<void>;
  delete(def: PoolDef, flags: number): Promise<void>;
  refresh(def: PoolDef): Promise<PoolScan>;
  /** The pool's sizes alone (after a volume changed: no scan of every volume). */
  sizes(def: PoolDef): Promise<PoolSizes>;
  /** A fresh look at one volume (undefined: it is gone). */
  refreshVolume(def: PoolDef, vol: VolumeDef): Promise<VolumeDef | undefined>;
  /** Path and key of a new volume named `name`. */
  volumeTarget(def: PoolDef, name: string): { path: string; key: string };
  /** Bytes the new volume takes from the pool's free space at creation. */
  allocationNeeded(vol: VolumeDef, flags: number): bigint;
  createVolume(def: PoolDef, vol: VolumeDef, flags: number): Promise<void>;
  createVolumeFrom(
    def: PoolDef,
    vol: VolumeDef,
    inputPool: PoolDef,
    input: VolumeDef,
    flags: number,
  ): Promise<void>;
  deleteVolume(def: PoolDef, vol: VolumeDef, flags: number): Promise<void>;
  resizeVolume(def: PoolDef, vol: VolumeDef, capacity: bigint, flags: number): Promise<void>;
  /** Overwrites the volume's data with zeros (the volume stays usable). */
  wipeVolume(def: PoolDef, vol: VolumeDef): Promise<void>;
  /** virConnectFindStoragePoolSources: a `<sources>` document. */
  findSources?(srcSpec: PoolDef | undefined): Promise<string>;
}

export function noSupport(what: string): VirtError {
  return new VirtError("STORAGE_NO_SUPPORT", { what });
}

export const poolObject = (def: PoolDef): string => `storage pool '${def.name}'`;
export const volObject = (def: PoolDef, vol: VolumeDef): string =>
  `storage volume '${vol.name}' in pool '${def.name}'`;
