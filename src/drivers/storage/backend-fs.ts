/**
 * The `fs` backend (libvirt's storage_backend_fs.c, type fs): a block device (or image) with a
 * file system, mounted on the pool's target; its volumes are files as in a dir pool. Build
 * makes the target directory and, with `--overwrite` (or `--no-overwrite` when the device holds
 * no file system yet), the file system (`mkfs`). Mount and unmount are `commands.ts`'s argv.
 */
import { promises as fsp } from "node:fs";
import { VirtError } from "../../util/errors/index.ts";
import { escapeXml } from "../../conf/xml.ts";
import { FS_FORMATS, type PoolDef } from "../../conf/storage/index.ts";
import { runArgv } from "../../util/spawn.ts";
import { mkfsCommand, poolMountCommand, poolUnmountCommand } from "./commands.ts";
import { poolObject } from "./backend.ts";
import { DirBackend } from "./backend-dir.ts";
import { StoragePoolBuildFlags } from "../storage-driver.ts";
import { runChecked } from "./volumes.ts";

/** `\040`-style escapes of /proc/self/mountinfo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Whether something is mounted on `target` (this process's mount namespace). */
export async function isMountPoint(target: string): Promise<boolean> {
  let text: string;
  try {
    text = await fsp.readFile("/proc/self/mountinfo", "utf8");
  } catch {
    return false;
  }
  const want = target.replace(/\/+$/, "") || "/";
  return text.split("\n").some((l) => {
    const f = l.split(" ");
    return f.length > 4 && unescapeMount(f[4]!) === want;
  });
}

/** The file system type blkid finds on a device, or undefined when it finds none. */
export async function probeFsType(dev: string): Promise<string | undefined> {
  const r = await runArgv(["blkid", "-p", "-o", "value", "-s", "TYPE", dev]);
  const t = r.stdout.trim();
  return r.code === 0 && t !== "" ? t : undefined;
}

function sourceDevice(def: PoolDef): string {
  const dev = def.source.devices[0]?.path;
  if (dev === undefined) {
    throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
      pool: def.name,
      what: "missing source device: an fs pool needs <source><device path='...'/></source>",
    });
  }
  return dev;
}

export class FsBackend extends DirBackend {
  override async checkDefinition(def: PoolDef): Promise<void> {
    sourceDevice(def);
    await super.checkDefinition(def);
  }

  override async isRunning(def: PoolDef): Promise<boolean> {
    return def.target !== undefined && (await isMountPoint(def.target.path));
  }

  override async build(def: PoolDef, flags: number): Promise<void> {
    const B = StoragePoolBuildFlags;
    if (flags & B.OVERWRITE && flags & B.NO_OVERWRITE) {
      throw new VirtError("STORAGE_POOL_BUILD_REFUSED", {
        what: "Overwrite and no overwrite flags are mutually exclusive",
      });
    }
    const dev = sourceDevice(def);
    let mkfs = (flags & B.OVERWRITE) !== 0;
    if (flags & B.NO_OVERWRITE) {
      const found = await probeFsType(dev);
      if (found !== undefined) {
        throw new VirtError("STORAGE_POOL_BUILD_REFUSED", {
          what: `Format of device '${dev}' does not match the expected format '${def.source.format ?? "auto"}', forced overwrite is necessary (it holds ${found})`,
        });
      }
      mkfs = true;
    }
    if (mkfs && (await this.isRunning(def))) {
      throw new VirtError("STORAGE_POOL_ACTIVE_STATE", {
        what: `storage pool '${def.name}': '${def.target!.path}' is mounted; destroy the pool before building its file system`,
      });
    }
    await super.build(def, flags);
    if (mkfs) await runChecked(poolObject(def), mkfsCommand(def));
  }

  override async start(def: PoolDef): Promise<void> {
    const dev = sourceDevice(def);
    await super.start(def);
    try {
      await fsp.access(dev);
    } catch {
      throw new VirtError("STORAGE_POOL_SOURCE_INVALID", {
        pool: def.name,
        what: `source device '${dev}' does not exist`,
      });
    }
    if (await this.isRunning(def)) return;
    await runChecked(poolObject(def), poolMountCommand(def));
  }

  override async stop(def: PoolDef): Promise<void> {
    if (!(await this.isRunning(def))) return;
    await runChecked(poolObject(def), poolUnmountCommand(def));
  }

  /**
   * Block devices with a file system of a type fs pools know (`<sources>`): the devices of the
   * spec, or every block device lsblk lists, each probed with blkid (lsblk's own FSTYPE needs
   * udev's database, which containers often lack).
   */
  async findSources(spec: PoolDef | undefined): Promise<string> {
    let devs = spec?.source.devices.map((d) => d.path) ?? [];
    if (devs.length === 0) {
      const out = await runChecked("find storage pool sources (fs)", ["lsblk", "-J", "-p", "-o", "NAME"]);
      const walk = (nodes: unknown): void => {
        if (!Array.isArray(nodes)) return;
        for (const n of nodes as { name?: string; children?: unknown }[]) {
          if (n.name !== undefined) devs.push(n.name);
          walk(n.children);
        }
      };
      devs = [];
      walk((JSON.parse(out) as { blockdevices?: unknown }).blockdevices);
    }
    let xml = "<sources>\n";
    for (const dev of devs) {
      const fs = await probeFsType(dev).catch(() => undefined);
      if (fs === undefined || !(FS_FORMATS as readonly string[]).includes(fs)) continue;
      xml += `  <source>\n    <device path='${escapeXml(dev)}'/>\n    <format type='${escapeXml(fs)}'/>\n  </source>\n`;
    }
    return `${xml}</sources>\n`;
  }
}
