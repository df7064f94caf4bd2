/**
 * The `logical` backend (libvirt's storage_backend_logical.c): a pool is an LVM volume group,
 * its volumes are logical volumes. Build = pvcreate + vgcreate, delete = vgremove + pvremove,
 * start/stop = vgchange -aly/-aln (`commands.ts`); volumes are lvcreate/lvremove/lvresize; the
 * pool and its volumes are read from `vgs`/`lvs` JSON reports (`--reportformat json`).
 */
import { escapeXml } from "../../conf/xml.ts";
import type { PoolDef, VolumeDef } from "../../conf/storage/index.ts";
import { VirtError } from "../../util/errors/index.ts";
import { runArgv } from "../../util/spawn.ts";
import { logicalBuildCommands, logicalChangeCommand, logicalDeleteCommands } from "./commands.ts";
import {
  noSupport,
  poolObject,
  volObject,
  type PoolBackend,
  type PoolScan,
  type PoolSizes,
} from "./backend.ts";
import { StoragePoolBuildFlags, StorageVolResizeFlags } from "../storage-driver.ts";
import { probeFsType } from "./backend-fs.ts";
import { runChecked, writeZeros } from "./volumes.ts";

const REPORT = ["--reportformat", "json", "--units", "b", "--nosuffix"];

/**
 * LVM's environment: C locale, and no warning about descriptors the daemon's children inherit
 * (LVM complains on stderr about every one, which would drown the error that matters).
 */
const LVM_ENV = {
  PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  LC_ALL: "C",
  LVM_SUPPRESS_FD_WARNINGS: "1",
};

/** Runs an LVM command (or qemu-img on an LV); a failure is STORAGE_COMMAND_FAILED. */
function lvm(object: string, argv: readonly string[]): Promise<string> {
  return runChecked(object, argv, 600_000, LVM_ENV);
}

type Row = Record<string, string>;

/** The rows of an LVM JSON report (`{"report":[{"vg":[...]}]}`). */
function reportRows(text: string, key: string): Row[] {
  const j = JSON.parse(text) as { report?: Record<string, Row[]>[] };
  return j.report?.flatMap((r) => r[key] ?? []) ?? [];
}

function vgOf(def: PoolDef): string {
  return def.source.name ?? def.name;
}

const big = (s: string | undefined): bigint => (s && /^\d+$/.test(s.trim()) ? BigInt(s.trim()) : 0n);

/** LVM refuses names with these; libvirt's name rules are looser, so say it first. */
function checkLvName(def: PoolDef, name: string): void {
  if (
    !/^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/.test(name) ||
    name === "." ||
    name === ".." ||
    name.startsWith("snapshot")
  ) {
    throw new VirtError("STORAGE_INVALID_NAME", {
      kind: `logical volume (pool '${def.name}')`,
      name,
      reason: "LVM allows only letters, digits and + _ . - (not starting with '-' or 'snapshot')",
    });
  }
}

export class LogicalBackend implements PoolBackend {
  readonly createFormats = undefined;

  async #vg(def: PoolDef): Promise<Row | undefined> {
    const r = await runArgv(["vgs", ...REPORT, "-o", "vg_name,vg_size,vg_free,vg_extent_size", vgOf(def)], {
      env: LVM_ENV,
    });
    if (r.code !== 0) return undefined;
    return reportRows(r.stdout, "vg")[0];
  }

  async checkDefinition(def: PoolDef): Promise<void> {
    if (def.source.devices.length === 0 && def.source.name === undefined) {
      throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
        pool: def.name,
        what: "a logical pool needs a source volume group name or source devices",
      });
    }
    return Promise.resolve();
  }

  async isRunning(def: PoolDef): Promise<boolean> {
    return (await this.#vg(def)) !== undefined;
  }

  async build(def: PoolDef, flags: number): Promise<void> {
    const B = StoragePoolBuildFlags;
    if (flags & B.OVERWRITE && flags & B.NO_OVERWRITE) {
      throw new VirtError("STORAGE_POOL_BUILD_REFUSED", {
        what: "Overwrite and no overwrite flags are mutually exclusive",
      });
    }
    if (def.source.devices.length === 0) {
      throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
        pool: def.name,
        what: "building a logical pool needs source devices (<source><device path='...'/>)",
      });
    }
    if (!(flags & B.OVERWRITE)) {
      for (const d of def.source.devices) {
        const found = await probeFsType(d.path);
        if (found !== undefined) {
          throw new VirtError("STORAGE_POOL_BUILD_REFUSED", {
            what: `Device '${d.path}' already holds '${found}' data: build with --overwrite to write over it`,
          });
        }
      }
    }
    const object = poolObject(def);
    const cmds = logicalBuildCommands(def);
    const created: string[] = [];
    try {
      for (const c of cmds) {
        // pvcreate -ff -y writes over an old label when overwriting is asked for.
        const argv =
          c[0] === "pvcreate" && flags & B.OVERWRITE ? ["pvcreate", "-ff", "-y", ...c.slice(1)] : c;
        await lvm(object, argv);
        if (c[0] === "pvcreate") created.push(c[1]!);
      }
    } catch (e) {
      for (const d of created) await runArgv(["pvremove", "-y", d], { env: LVM_ENV }).catch(() => undefined);
      throw e;
    }
  }

  async start(def: PoolDef): Promise<void> {
    if (!(await this.#vg(def))) {
      throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
        pool: def.name,
        what: `volume group '${vgOf(def)}' not found; build the pool first (pool-build)`,
      });
    }
    await lvm(poolObject(def), logicalChangeCommand(def, true));
  }

  async stop(def: PoolDef): Promise<void> {
    if (!(await this.#vg(def))) return;
    await lvm(poolObject(def), logicalChangeCommand(def, false));
  }

  async delete(def: PoolDef): Promise<void> {
    const object = poolObject(def);
    const [vgremove, ...pvremoves] = logicalDeleteCommands(def);
    if (await this.#vg(def)) await lvm(object, vgremove!);
    for (const c of pvremoves) await lvm(object, c);
  }

  async refresh(def: PoolDef): Promise<PoolScan> {
    const object = poolObject(def);
    const vg = await this.#vg(def);
    if (!vg) {
      throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
        pool: def.name,
        what: `volume group '${vgOf(def)}' not found`,
      });
    }
    const out = await lvm(object, [
      "lvs",
      ...REPORT,
      "-o",
      "lv_name,lv_uuid,lv_size,lv_path,lv_attr,origin,seg_size_pe",
      vgOf(def),
    ]);
    const extent = big(vg.vg_extent_size);
    const seen = new Map<string, VolumeDef>();
    for (const r of reportRows(out, "lv")) {
      const name = r.lv_name ?? "";
      // Thin pools and hidden/internal LVs ([name]) are no volumes, as in libvirt.
      if (name === "" || name.startsWith("[") || r.lv_attr?.startsWith("t")) continue;
      const prev = seen.get(name);
      const segAlloc = big(r.seg_size_pe) * extent;
      if (prev) {
        prev.allocation += segAlloc;
        continue;
      }
      const path = r.lv_path || `/dev/${vgOf(def)}/${name}`;
      const vol: VolumeDef = {
        name,
        key: r.lv_uuid ?? path,
        type: "block",
        capacity: big(r.lv_size),
        allocation: segAlloc > 0n ? segAlloc : big(r.lv_size),
        hasAllocation: true,
        target: { path, perms: {}, nocow: false },
      };
      if (r.origin) vol.backingStore = { path: `/dev/${vgOf(def)}/${r.origin}`, perms: {} };
      seen.set(name, vol);
    }
    const size = big(vg.vg_size);
    const free = big(vg.vg_free);
    return { capacity: size, allocation: size - free, available: free, volumes: [...seen.values()] };
  }

  async sizes(def: PoolDef): Promise<PoolSizes> {
    const vg = await this.#vg(def);
    if (!vg) {
      throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
        pool: def.name,
        what: `volume group '${vgOf(def)}' not found`,
      });
    }
    const size = big(vg.vg_size);
    const free = big(vg.vg_free);
    return { capacity: size, allocation: size - free, available: free };
  }

  async refreshVolume(def: PoolDef, vol: VolumeDef): Promise<VolumeDef | undefined> {
    return (await this.refresh(def)).volumes.find((v) => v.name === vol.name);
  }

  volumeTarget(def: PoolDef, name: string): { path: string; key: string } {
    const path = `/dev/${vgOf(def)}/${name}`;
    // The key of an LV is its UUID, known once lvcreate made it; the path stands in until then.
    return { path, key: path };
  }

  allocationNeeded(vol: VolumeDef): bigint {
    return vol.capacity ?? 0n;
  }

  async createVolume(def: PoolDef, vol: VolumeDef): Promise<void> {
    checkLvName(def, vol.name);
    if (vol.target.encryption) {
      throw new VirtError("STORAGE_VOL_ENCRYPTION_REFUSED", {
        volume: vol.name,
        format: vol.target.encryption.format,
      });
    }
    if (vol.backingStore) {
      throw new VirtError("STORAGE_VOL_FORMAT_UNSUPPORTED", {
        pool: def.name,
        type: def.type,
        volume: vol.name,
        what: "with a backing store (LVM snapshots are not made by tvirt)",
        allowed: "plain logical volumes",
      });
    }
    const kib = ((vol.capacity ?? 0n) + 1023n) / 1024n;
    await lvm(volObject(def, vol), [
      "lvcreate",
      "--yes",
      "--wipesignatures",
      "y",
      "--name",
      vol.name,
      "-L",
      `${kib}K`,
      vgOf(def),
    ]);
  }

  async createVolumeFrom(def: PoolDef, vol: VolumeDef, _inputPool: PoolDef, input: VolumeDef): Promise<void> {
    if (vol.capacity === undefined || (input.capacity !== undefined && vol.capacity < input.capacity)) {
      vol.capacity = input.capacity ?? 0n;
    }
    await this.createVolume(def, vol);
    const fmt = input.type === "block" ? "raw" : (input.target.format ?? "raw");
    try {
      await lvm(volObject(def, vol), [
        "qemu-img",
        "convert",
        "-n",
        "-f",
        fmt,
        "-O",
        "raw",
        input.target.path!,
        vol.target.path!,
      ]);
    } catch (e) {
      await this.deleteVolume(def, vol).catch(() => undefined);
      throw e;
    }
  }

  async deleteVolume(def: PoolDef, vol: VolumeDef): Promise<void> {
    await lvm(volObject(def, vol), ["lvremove", "-f", `${vgOf(def)}/${vol.name}`]);
  }

  async resizeVolume(def: PoolDef, vol: VolumeDef, capacity: bigint, flags: number): Promise<void> {
    const kib = (capacity + 1023n) / 1024n;
    const argv = ["lvresize", "--yes", "-L", `${kib}K`];
    if (capacity < (vol.capacity ?? 0n)) argv.push("-f");
    if (flags & StorageVolResizeFlags.DELTA) throw noSupport("bug: resize delta reached the backend");
    argv.push(`${vgOf(def)}/${vol.name}`);
    await lvm(volObject(def, vol), argv);
  }

  async wipeVolume(def: PoolDef, vol: VolumeDef): Promise<void> {
    await writeZeros(volObject(def, vol), vol.target.path!, 0n, vol.capacity ?? 0n, true);
  }

  /** Physical volumes and their volume groups (libvirt reads `pvs` the same way). */
  async findSources(): Promise<string> {
    const out = await lvm("find storage pool sources (logical)", [
      "pvs",
      "--reportformat",
      "json",
      "-o",
      "pv_name,vg_name",
    ]);
    const groups = new Map<string, string[]>();
    for (const r of reportRows(out, "pv")) {
      const vg = r.vg_name ?? "";
      if (vg === "") continue;
      const list = groups.get(vg) ?? [];
      list.push(r.pv_name ?? "");
      groups.set(vg, list);
    }
    let xml = "<sources>\n";
    for (const [vg, pvs] of groups) {
      xml += "  <source>\n";
      for (const p of pvs) xml += `    <device path='${escapeXml(p)}'/>\n`;
      xml += `    <name>${escapeXml(vg)}</name>\n    <format type='lvm2'/>\n  </source>\n`;
    }
    return `${xml}</sources>\n`;
  }
}
