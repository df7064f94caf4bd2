/**
 * The storage pool capabilities document (libvirt's `<storagepoolCapabilities>`, what
 * virConnectGetStoragePoolCapabilities returns): every pool type in libvirt's order, whether the
 * driver runs it, its source formats (fs, netfs, logical, disk) and the volume formats with the
 * default one. Pure: the driver says which types it supports.
 */
import { XmlWriter } from "../xml.ts";
import {
  DISK_FORMATS,
  FILE_FORMATS,
  FS_FORMATS,
  LOGICAL_FORMATS,
  NETFS_FORMATS,
  POOL_TYPES,
} from "./types.ts";
import { volumeFormats } from "./volume.ts";

/** Source formats and the default, of the pool types that have them. */
function sourceFormats(type: string): { formats: readonly string[]; default: string } | undefined {
  switch (type) {
    case "fs":
      return { formats: FS_FORMATS, default: "auto" };
    case "netfs":
      return { formats: NETFS_FORMATS, default: "auto" };
    case "logical":
      return { formats: LOGICAL_FORMATS, default: "lvm2" };
    case "disk":
      return { formats: DISK_FORMATS, default: "unknown" };
    default:
      return undefined;
  }
}

/** Volume formats as the capabilities list them: file formats with libvirt's `none` first; rbd none. */
function capVolumeFormats(
  type: (typeof POOL_TYPES)[number],
): { formats: readonly string[]; default: string } | undefined {
  const v = volumeFormats(type);
  if (!v) return undefined;
  // rbd volumes are raw images; libvirt lists no target formats for them.
  if (type === "rbd") return { formats: [], default: v.default };
  return v.formats === FILE_FORMATS ? { formats: ["none", ...FILE_FORMATS], default: v.default } : v;
}

/** `<storagepoolCapabilities>` with `supported='yes'` for the pool types in `supported`. */
export function formatPoolCapabilities(supported: ReadonlySet<string>): string {
  const w = new XmlWriter();
  w.elem("storagepoolCapabilities", undefined, () => {
    for (const type of POOL_TYPES) {
      const src = sourceFormats(type);
      const vol = capVolumeFormats(type);
      const attrs = { type, supported: supported.has(type) ? "yes" : "no" };
      // libvirt writes an empty pool element with an end tag on its own line.
      if (!src && !vol) {
        w.raw(`<pool type='${type}' supported='${attrs.supported}'>`).raw("</pool>");
        continue;
      }
      w.elem("pool", attrs, () => {
        if (src) {
          w.elem("poolOptions", undefined, () => {
            w.empty("defaultFormat", { type: src.default });
            w.elem("enum", { name: "sourceFormatType" }, () => {
              for (const f of src.formats) w.text("value", f);
            });
          });
        }
        if (vol) {
          w.elem("volOptions", undefined, () => {
            w.empty("defaultFormat", { type: vol.default });
            if (vol.formats.length === 0) w.raw("<enum name='targetFormatType'>").raw("</enum>");
            else
              w.elem("enum", { name: "targetFormatType" }, () => {
                for (const f of vol.formats) w.text("value", f);
              });
          });
        }
      });
    }
  });
  return w.toString();
}
