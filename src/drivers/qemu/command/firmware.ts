/**
 * Old-style UEFI: the firmware code and its variable store as pflash `-blockdev` nodes, wired
 * to the machine with `pflash0=`/`pflash1=`.
 */
import type { DiskDef, DiskSource } from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import { Props } from "./escape.ts";
import { storageProps } from "./disk.ts";
import type { DiskNodes } from "./disk.ts";
import { buildDiskSecrets } from "./disk-secrets.ts";

interface Flash {
  path: string;
  readonly: boolean;
  format: string;
  index: 0 | 1;
  /** A variable store on a network disk (`<nvram type='network'>`). */
  network?: DiskSource;
}

/** A network variable store as the writable disk its storage node is built from. */
function networkFlashDisk(f: Flash, source: DiskSource): DiskDef {
  return { type: "network", device: "disk", target: { dev: `pflash${f.index}` }, source };
}

function flashes(b: Build): Flash[] {
  const os = b.def.os;
  const l = os.loader;
  if (l?.type !== "pflash" || l.path === undefined) return [];
  const out: Flash[] = [{ path: l.path, readonly: l.readonly === true, format: l.format ?? "raw", index: 0 }];
  if (os.nvram?.type === "network" && os.nvram.source)
    out.push({
      path: "",
      readonly: false,
      format: os.nvram.format ?? "raw",
      index: 1,
      network: os.nvram.source,
    });
  else if (os.nvram?.path !== undefined)
    out.push({ path: os.nvram.path, readonly: false, format: os.nvram.format ?? "raw", index: 1 });
  return out;
}

/**
 * The code image is opened through a format node, as are non-raw images and any image when
 * QEMU cannot mask the protocol layer; a raw variable store is the storage node itself.
 */
function needsFormatLayer(b: Build, f: Flash): boolean {
  return f.format !== "raw" || f.index === 0 || !b.has("blockjob.backing-mask-protocol");
}

/** Node names the machine refers to; fills `b.pflash`. */
export function preparePflash(b: Build): void {
  for (const f of flashes(b)) {
    const base = `libvirt-pflash${f.index}`;
    const formatLayer = needsFormatLayer(b, f);
    const node = formatLayer ? `${base}-format` : `${base}-storage`;
    if (f.index === 0) b.pflash.code = node;
    else b.pflash.vars = node;
  }
}

export function buildPflash(b: Build): void {
  for (const f of flashes(b)) {
    const base = `libvirt-pflash${f.index}`;
    const formatLayer = needsFormatLayer(b, f);
    if (f.network) {
      // its secrets and protocol node as a disk's (the format node below is the flash's own)
      const disk = networkFlashDisk(f, f.network);
      const nodes: DiskNodes = { storage: `${base}-storage` };
      if (formatLayer) nodes.format = `${base}-format`;
      buildDiskSecrets(b, disk, nodes);
      b.addJson("-blockdev", storageProps(b, disk, nodes));
    } else {
      const storage = new Props()
        .set("driver", "file")
        .set("filename", f.path)
        .set("node-name", `${base}-storage`);
      if (formatLayer) storage.set("auto-read-only", true).set("discard", "unmap");
      else storage.set("read-only", f.readonly);
      b.addJson("-blockdev", storage);
    }
    if (formatLayer) {
      b.addJson(
        "-blockdev",
        new Props()
          .set("node-name", `${base}-format`)
          .set("read-only", f.readonly)
          .set("driver", f.format)
          .set("file", `${base}-storage`)
          // a qcow2 image's own backing chain is never opened
          .opt("backing", f.format === "qcow2" ? null : undefined),
      );
    }
  }
}
