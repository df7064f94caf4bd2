/**
 * Storage volume XML ⇄ `VolumeDef`, with libvirt 11.3's parse-time rules and canonical output.
 * A volume is read in the context of its pool: the pool type decides which formats the volume
 * may have and its default one. Unread XML comes back as warnings.
 */
import { XmlWriter, type XmlElement, type XmlWarning } from "../xml.ts";
import { readDocument } from "../typed-read.ts";
import { VirtError } from "../../util/errors/index.ts";
import {
  ENCRYPTION_FORMATS,
  FILE_FORMATS,
  PARTITION_FORMATS,
  VOLUME_FEATURES,
  VOLUME_TYPES,
  type EncryptionDef,
  type PoolDef,
  type PoolType,
  type VolumeDef,
  type VolumeFeature,
} from "./types.ts";
import {
  LLONG_MAX,
  ULLONG_MAX,
  checkName,
  enumAttr,
  invalid,
  missing,
  parsePerms,
  reqAttr,
  scaledSize,
  structural,
  uintAttr,
  type Ctx,
} from "./reader.ts";
import { formatPerms, normUuid } from "./pool.ts";

export interface ParseVolumeOptions {
  document?: string;
  /** `<capacity>` may be absent (libvirt's VIR_VOL_XML_PARSE_NO_CAPACITY: create-from). */
  noCapacity?: boolean;
  /** `<capacity>` may be absent when there is a backing store (VIR_VOL_XML_PARSE_OPT_CAPACITY). */
  optCapacity?: boolean;
}

/** The volume formats of a pool type and the default, or undefined where volumes have none. */
export function volumeFormats(type: PoolType): { formats: readonly string[]; default: string } | undefined {
  switch (type) {
    case "dir":
    case "fs":
    case "netfs":
    case "gluster":
    case "vstorage":
    case "rbd":
      return { formats: FILE_FORMATS, default: "raw" };
    case "disk":
      return { formats: PARTITION_FORMATS, default: "none" };
    default:
      return undefined;
  }
}

function formatOf(ctx: Ctx, parent: XmlElement | undefined, pool: PoolDef): string | undefined {
  const f = volumeFormats(pool.type);
  if (!f) return undefined;
  const el = parent?.child("format");
  const v = el?.attr("type");
  if (el === undefined || v === undefined) return f.default;
  if (!f.formats.includes(v)) {
    throw invalid(
      ctx,
      el,
      "type",
      v,
      `unknown volume format type for a ${pool.type} pool: expected one of ${f.formats.join(", ")}`,
      f.formats,
    );
  }
  return v;
}

function parseEncryption(ctx: Ctx, el: XmlElement): EncryptionDef {
  const format = enumAttr(ctx, el, "format", ENCRYPTION_FORMATS);
  if (format === undefined) throw missing(ctx, el, "unknown volume encryption format ''", "@format");
  const enc: EncryptionDef = { format, secrets: [] };
  for (const s of el.all("secret")) {
    const type = enumAttr(ctx, s, "type", ["passphrase"] as const);
    if (type === undefined) throw missing(ctx, s, "unknown volume encryption secret type ''", "@type");
    const u = s.attr("uuid");
    const usage = s.attr("usage");
    if ((u === undefined) === (usage === undefined)) {
      throw structural(s, "either secret uuid or usage expected");
    }
    const sec: EncryptionDef["secrets"][number] = { type };
    if (u !== undefined) {
      const n = normUuid(u);
      if (n === undefined)
        throw invalid(ctx, s, "uuid", u, "expected a UUID like f52a81b2-424e-490c-823d-6bd4235bc572");
      sec.uuid = n;
    } else sec.usage = usage;
    enc.secrets.push(sec);
  }
  const cipher = el.child("cipher");
  if (cipher) {
    const name = reqAttr(ctx, cipher, "name", "cipher element missing name attribute");
    const size = uintAttr(ctx, cipher, "size", 0xffffffff);
    if (size === undefined) throw missing(ctx, cipher, "cipher element missing size attribute", "@size");
    enc.cipher = { name, size };
    const mode = cipher.attr("mode");
    if (mode !== undefined) enc.cipher.mode = mode;
    const hash = cipher.attr("hash");
    if (hash !== undefined) enc.cipher.hash = hash;
  }
  const ivgen = el.child("ivgen");
  if (ivgen) {
    enc.ivgen = { name: reqAttr(ctx, ivgen, "name", "missing ivgen element name") };
    const hash = ivgen.attr("hash");
    if (hash !== undefined) enc.ivgen.hash = hash;
  }
  return enc;
}

/** Reads a parsed `<volume>` element in the context of its pool. */
export function readVolume(root: XmlElement, pool: PoolDef, options: ParseVolumeOptions = {}): VolumeDef {
  if (root.name !== "volume") {
    throw new VirtError(
      "STORAGE_UNEXPECTED_ROOT",
      { found: root.name, expected: "volume" },
      { xpath: `/${root.name}`, line: root.line, column: root.column },
    );
  }
  const nameEl = root.child("name");
  const ctx: Ctx = { object: `storage volume '${nameEl?.content ?? ""}' in pool '${pool.name}'` };
  if (!nameEl) throw missing(ctx, root, "missing volume name element", "name");
  const name = nameEl.content;
  checkName("storage volume", name, nameEl);

  const type = enumAttr(ctx, root, "type", VOLUME_TYPES) ?? "file";
  const vol: VolumeDef = {
    name,
    type,
    allocation: 0n,
    hasAllocation: false,
    target: { perms: {}, nocow: false },
  };
  const key = root.child("key");
  if (key) vol.key = key.content;
  // The source extents are the driver's (filled on refresh); libvirt's parser reads none.
  root.child("source")?.markAllUsed();

  const bs = root.child("backingStore");
  const bsPath = bs?.childText("path");
  if (bs && bsPath !== undefined) {
    const b: NonNullable<VolumeDef["backingStore"]> = { path: bsPath, perms: {} };
    const f = formatOf(ctx, bs, pool);
    if (f !== undefined) b.format = f;
    b.perms = parsePerms(ctx, bs.child("permissions"));
    vol.backingStore = b;
  }

  const cap = root.child("capacity");
  if (cap) vol.capacity = scaledSize(ctx, cap, LLONG_MAX);
  else if (!options.noCapacity && !(options.optCapacity && vol.backingStore)) {
    throw missing(ctx, root, "missing capacity element", "capacity");
  }
  // <physical> is output only (what the driver reports); libvirt's parser reads none.
  root.child("physical")?.markAllUsed();
  const alloc = root.child("allocation");
  if (alloc) {
    vol.allocation = scaledSize(ctx, alloc, LLONG_MAX);
    vol.hasAllocation = true;
  } else vol.allocation = vol.capacity ?? 0n;

  const target = root.child("target");
  const path = target?.childText("path");
  if (path !== undefined) vol.target.path = path;
  const fmt = formatOf(ctx, target, pool);
  if (fmt !== undefined) vol.target.format = fmt;
  vol.target.perms = parsePerms(ctx, target?.child("permissions"));
  // Timestamps are the driver's (from stat on refresh); libvirt's parser reads none.
  target?.child("timestamps")?.markAllUsed();
  const enc = target?.child("encryption");
  if (enc) vol.target.encryption = parseEncryption(ctx, enc);
  const compat = target?.child("compat");
  if (compat) {
    const c = compat.content;
    if (!/^[0-9]+\.[0-9]+$/.test(c)) {
      throw invalid(
        ctx,
        compat,
        undefined,
        c,
        "forbidden characters in 'compat' attribute: expected a version like 0.10 or 1.1",
      );
    }
    vol.target.compat = c;
  }
  if (target?.child("nocow")) vol.target.nocow = true;
  const cs = target?.child("clusterSize");
  if (cs) vol.target.clusterSize = scaledSize(ctx, cs, ULLONG_MAX);
  const features = target?.child("features");
  if (features) {
    vol.target.compat ??= "1.1";
    const set = new Set<VolumeFeature>();
    for (const f of features.all()) {
      if (!(VOLUME_FEATURES as readonly string[]).includes(f.name)) {
        throw new VirtError(
          "STORAGE_CONFIG_UNSUPPORTED",
          { what: `unsupported feature ${f.name}: expected one of ${VOLUME_FEATURES.join(", ")}` },
          { xpath: f.xpath, line: f.line, column: f.column, allowed: VOLUME_FEATURES },
        );
      }
      set.add(f.name as VolumeFeature);
    }
    vol.target.features = VOLUME_FEATURES.filter((f) => set.has(f));
  }
  return vol;
}

/** Parses volume XML text (for a volume of `pool`) into a definition plus warnings. */
export function parseVolume(
  xml: string,
  pool: PoolDef,
  options: ParseVolumeOptions = {},
): { def: VolumeDef; warnings: XmlWarning[] } {
  return readDocument(xml, options.document ?? "(storage_volume_definition)", (root) =>
    readVolume(root, pool, options),
  );
}

function formatEncryption(w: XmlWriter, e: EncryptionDef): void {
  w.elem("encryption", { format: e.format }, () => {
    for (const s of e.secrets)
      w.empty("secret", { type: s.type, uuid: s.uuid, usage: s.uuid ? undefined : s.usage });
    if (e.cipher)
      w.empty("cipher", {
        name: e.cipher.name,
        size: e.cipher.size,
        mode: e.cipher.mode,
        hash: e.cipher.hash,
      });
    if (e.ivgen) w.empty("ivgen", { name: e.ivgen.name, hash: e.ivgen.hash });
  });
}

/** `VolumeDef` → libvirt 11.3's canonical volume XML (in the context of its pool). */
export function formatVolume(pool: PoolDef, vol: VolumeDef): string {
  const w = new XmlWriter();
  const hasFormats = volumeFormats(pool.type) !== undefined;
  w.elem("volume", { type: vol.type }, () => {
    w.text("name", vol.name);
    if (vol.key !== undefined) w.text("key", vol.key);
    w.text("capacity", vol.capacity ?? 0n, { unit: "bytes" });
    w.text("allocation", vol.allocation, { unit: "bytes" });
    if (vol.physical !== undefined && vol.physical > 0n) w.text("physical", vol.physical, { unit: "bytes" });
    const t = vol.target;
    // libvirt writes <target> with an end tag even when it is empty.
    const empty =
      t.path === undefined &&
      !(hasFormats && t.format !== undefined) &&
      t.perms.mode === undefined &&
      t.perms.owner === undefined &&
      t.perms.group === undefined &&
      t.perms.label === undefined &&
      !t.timestamps &&
      !t.encryption &&
      t.compat === undefined &&
      !(t.clusterSize !== undefined && t.clusterSize > 0n) &&
      !t.features;
    if (empty) w.raw("<target>").raw("</target>");
    else
      w.elem("target", undefined, () => {
        if (t.path !== undefined) w.text("path", t.path);
        if (hasFormats && t.format !== undefined) w.empty("format", { type: t.format });
        formatPerms(w, t.perms);
        const ts = t.timestamps;
        if (ts) {
          w.elem("timestamps", undefined, () => {
            w.text("atime", ts.atime).text("mtime", ts.mtime).text("ctime", ts.ctime);
          });
        }
        if (t.encryption) formatEncryption(w, t.encryption);
        if (t.compat !== undefined) w.text("compat", t.compat);
        if (t.clusterSize !== undefined && t.clusterSize > 0n)
          w.text("clusterSize", t.clusterSize, { unit: "B" });
        if (t.features) {
          const feats = t.features;
          w.elem("features", undefined, () => {
            for (const f of feats) w.empty(f);
          });
        }
      });
    const b = vol.backingStore;
    if (b) {
      w.elem("backingStore", undefined, () => {
        w.text("path", b.path);
        if (hasFormats && b.format !== undefined) w.empty("format", { type: b.format });
        formatPerms(w, b.perms);
      });
    }
  });
  return w.toString();
}
