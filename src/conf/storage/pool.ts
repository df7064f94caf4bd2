/**
 * Storage pool XML ⇄ `PoolDef`, with libvirt 11.3's parse-time rules (its storage_conf.c) and its
 * canonical output. Unread XML comes back as warnings. Only `VirtError`s leave this module.
 */
import { randomUUID } from "node:crypto";
import { XmlWriter, type XmlElement, type XmlWarning } from "../xml.ts";
import { readDocument } from "../typed-read.ts";
import { VirtError } from "../../util/errors/index.ts";
import {
  DISK_FORMATS,
  FS_FORMATS,
  LOGICAL_FORMATS,
  NETFS_FORMATS,
  POOL_TYPES,
  type AdapterDef,
  type AuthDef,
  type Permissions,
  type PoolDef,
  type PoolSource,
  type PoolType,
} from "./types.ts";
import {
  enumAttr,
  invalid,
  checkName,
  missing,
  parsePerms,
  reqAttr,
  sanitizePath,
  structural,
  uintAttr,
  unsupported,
  yesNo,
  type Ctx,
} from "./reader.ts";

export const FS_NS = "http://libvirt.org/schemas/storagepool/fs/1.0";
export const RBD_NS = "http://libvirt.org/schemas/storagepool/rbd/1.0";

/** Which parts of `<source>` a pool type uses (libvirt's per-type pool options). */
interface PoolOptions {
  host?: boolean;
  device?: boolean;
  dir?: boolean;
  adapter?: boolean;
  name?: boolean;
  initiator?: boolean;
  /** Network pools have no local target. */
  network?: boolean;
  formats?: readonly string[];
  defaultFormat?: string;
}

const OPTIONS: Readonly<Record<PoolType, PoolOptions>> = {
  dir: {},
  fs: { device: true, formats: FS_FORMATS, defaultFormat: "auto" },
  netfs: { host: true, dir: true, formats: NETFS_FORMATS, defaultFormat: "auto" },
  logical: { name: true, device: true, formats: LOGICAL_FORMATS, defaultFormat: "lvm2" },
  disk: { device: true, formats: DISK_FORMATS, defaultFormat: "unknown" },
  iscsi: { host: true, device: true, initiator: true },
  "iscsi-direct": { host: true, device: true, network: true, initiator: true },
  scsi: { adapter: true },
  mpath: {},
  rbd: { host: true, network: true, name: true },
  sheepdog: { host: true, network: true, name: true },
  gluster: { host: true, network: true, name: true, dir: true },
  zfs: { name: true, device: true },
  vstorage: { name: true },
};

/** Whether the pool type has only `device` among its source parts (then a device is required). */
function deviceOnly(o: PoolOptions): boolean {
  return !!o.device && !o.host && !o.dir && !o.adapter && !o.name && !o.initiator && !o.network;
}

export interface ParsePoolOptions {
  /** Names the input in syntax errors. */
  document?: string;
  /** UUID for a definition without `<uuid>` (default: a random one, as libvirt). */
  makeUuid?: () => string;
}

function nsPrefix(root: XmlElement, uri: string): string | undefined {
  for (const a of root.attrs) {
    if (a.name.startsWith("xmlns:") && a.value === uri) return a.name.slice(6);
  }
  return undefined;
}

const UUID_HELP = "expected a UUID like 70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2";

/** A UUID in canonical lower-case form, or undefined when `raw` is not one. */
export function normUuid(raw: string): string | undefined {
  const hex = raw.replace(/[-\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function parseUuid(ctx: Ctx, el: XmlElement): string {
  const raw = el.content;
  const u = normUuid(raw);
  if (u === undefined) throw invalid(ctx, el, undefined, raw, UUID_HELP);
  return u;
}

/** `<auth>` of a pool source (libvirt: virStorageAuthDefParse; type 'none' is refused for pools). */
function parseAuth(ctx: Ctx, el: XmlElement): AuthDef {
  const type = enumAttr(ctx, el, "type", ["none", "chap", "ceph"] as const);
  const username = reqAttr(ctx, el, "username", "missing username for auth");
  const secret = el.child("secret");
  if (!secret) throw missing(ctx, el, "Missing <secret> element in auth", "secret");
  const uuidRaw = secret.attr("uuid");
  const usage = secret.attr("usage");
  if (uuidRaw !== undefined && usage !== undefined) {
    throw structural(secret, "either secret uuid or usage expected");
  }
  if (uuidRaw === undefined && usage === undefined) {
    throw missing(ctx, secret, "either secret uuid or usage expected", "@uuid");
  }
  if (type === undefined || type === "none") {
    throw unsupported(el, "storage pool missing auth type");
  }
  const auth: AuthDef = { type, username, secret: {} };
  const st = secret.attr("type");
  if (st !== undefined) auth.secretType = st;
  if (uuidRaw !== undefined) {
    const u = normUuid(uuidRaw);
    if (u === undefined) throw invalid(ctx, secret, "uuid", uuidRaw, UUID_HELP);
    auth.secret.uuid = u;
  } else if (usage !== undefined) auth.secret.usage = usage;
  return auth;
}

const WWN_RE = /^(0x)?[0-9a-fA-F]{16}$/;

function wwn(ctx: Ctx, el: XmlElement, name: string): string | undefined {
  const v = el.attr(name);
  if (v === undefined) return undefined;
  if (!WWN_RE.test(v)) throw invalid(ctx, el, name, v, "expected a WWN of 16 hexadecimal digits");
  return v;
}

function parseAdapter(ctx: Ctx, el: XmlElement): AdapterDef {
  let type = enumAttr(ctx, el, "type", ["scsi_host", "fc_host"] as const);
  const name = el.attr("name");
  if (type === undefined) {
    // The legacy form: <adapter name='host0'/> is a scsi_host adapter.
    if (name === undefined) throw missing(ctx, el, "missing storage pool source adapter", "@type");
    type = "scsi_host";
  }
  if (type === "scsi_host") {
    const pa = el.child("parentaddr");
    if (name !== undefined && pa) {
      throw structural(
        el,
        "Use of 'name' and 'parentaddr' attribute in the 'scsi_host' adapter is mutually exclusive",
      );
    }
    if (name === undefined && !pa) {
      throw missing(
        ctx,
        el,
        "Either 'name' or 'parentaddr' must be specified for the 'scsi_host' adapter",
        "@name",
      );
    }
    if (pa) {
      const addrEl = pa.child("address");
      if (!addrEl) throw missing(ctx, pa, "Missing scsi_host PCI address element", "address");
      const uid = uintAttr(ctx, pa, "unique_id", 0x7fffffff);
      const pci = {
        domain: uintAttr(ctx, addrEl, "domain", 0xffff) ?? 0,
        bus: uintAttr(ctx, addrEl, "bus", 0xff) ?? 0,
        slot: uintAttr(ctx, addrEl, "slot", 0x1f) ?? 0,
        function: uintAttr(ctx, addrEl, "function", 7) ?? 0,
      };
      // An address type (always pci here) is accepted and not written, as libvirt does.
      addrEl.attr("type");
      return { type, parentAddr: uid === undefined ? { address: pci } : { uniqueId: uid, address: pci } };
    }
    return { type, name: name as string };
  }
  if (name !== undefined) throw structural(el, "Use of 'name' is not allowed for the 'fc_host' adapter");
  const wwnn = wwn(ctx, el, "wwnn");
  const wwpn = wwn(ctx, el, "wwpn");
  if (wwnn === undefined || wwpn === undefined) {
    throw missing(
      ctx,
      el,
      "'wwnn' and 'wwpn' must be specified for the 'fc_host' adapter",
      wwnn === undefined ? "@wwnn" : "@wwpn",
    );
  }
  const fc: AdapterDef = { type, wwnn, wwpn };
  const parent = el.attr("parent");
  if (parent !== undefined) fc.parent = parent;
  const pwwnn = wwn(ctx, el, "parent_wwnn");
  const pwwpn = wwn(ctx, el, "parent_wwpn");
  if ((pwwnn === undefined) !== (pwwpn === undefined)) {
    throw structural(el, "must supply both parent_wwnn and parent_wwpn not just one or the other");
  }
  if (pwwnn !== undefined && pwwpn !== undefined) {
    fc.parentWwnn = pwwnn;
    fc.parentWwpn = pwwpn;
  }
  const fabric = wwn(ctx, el, "parent_fabric_wwn");
  if (fabric !== undefined) fc.parentFabricWwn = fabric;
  const managed = yesNo(ctx, el, "managed");
  if (managed !== undefined) fc.managed = managed;
  return fc;
}

function parseSource(ctx: Ctx, type: PoolType, el: XmlElement): PoolSource {
  const o = OPTIONS[type];
  const src: PoolSource = { hosts: [], devices: [] };
  // Only the parts this pool type has are read (libvirt reads all, then drops the others when
  // formatting): what is left unread comes back as a warning instead of vanishing.
  const name = o.name ? el.child("name") : undefined;
  if (name) src.name = name.content;
  if (type === "rbd" && src.name === undefined) {
    throw missing(ctx, el, "element 'name' is mandatory for RBD pool", "name");
  }
  if (o.formats) {
    const f = el.child("format");
    const v = f?.attr("type");
    if (f && v !== undefined) {
      if (!o.formats.includes(v)) {
        throw invalid(
          ctx,
          f,
          "type",
          v,
          `unknown pool format type: expected one of ${o.formats.join(", ")}`,
          o.formats,
        );
      }
      src.format = v;
    } else src.format = o.defaultFormat;
  }
  for (const h of o.host ? el.all("host") : []) {
    const hn = reqAttr(ctx, h, "name", "missing storage pool host name");
    src.hosts.push({ name: hn, port: uintAttr(ctx, h, "port", 65535) ?? 0 });
  }
  const init = o.initiator ? el.child("initiator") : undefined;
  if (init) {
    const iqn = init.child("iqn");
    if (iqn) src.initiatorIqn = reqAttr(ctx, iqn, "name", "missing initiator IQN name");
  }
  for (const d of o.device ? el.all("device") : []) {
    const path = reqAttr(ctx, d, "path", "missing storage pool source device path");
    const dev: PoolSource["devices"][number] = { path };
    const ps = yesNo(ctx, d, "part_separator");
    if (ps !== undefined) dev.partSeparator = ps;
    // Free extents are filled by the driver on refresh; the parser reads none (as libvirt).
    for (const fe of d.all("freeExtent")) fe.markAllUsed();
    src.devices.push(dev);
  }
  const dir = o.dir ? el.child("dir") : undefined;
  const dirPath = dir?.attr("path");
  if (dirPath !== undefined) src.dir = sanitizePath(dirPath);
  if (src.dir === undefined && type === "gluster") src.dir = "/";
  const adapter = o.adapter ? el.child("adapter") : undefined;
  if (adapter) src.adapter = parseAdapter(ctx, adapter);
  const auth = el.child("auth");
  if (auth) src.auth = parseAuth(ctx, auth);
  const proto = el.child("protocol");
  const ver = proto?.attr("ver");
  if (proto && ver !== undefined) {
    if (type !== "netfs" || (src.format !== "nfs" && src.format !== "auto")) {
      throw unsupported(proto, `storage pool protocol ver unsupported for pool type '${src.format ?? type}'`);
    }
    if (!/^[0-9]+(\.[0-9]+)?$/.test(ver)) {
      throw invalid(
        ctx,
        proto,
        "ver",
        ver,
        "storage pool protocol ver is malformed: expected a version like 3, 4 or 4.1",
      );
    }
    src.protocolVer = ver;
  }
  const vendor = el.child("vendor");
  if (vendor) {
    const v = vendor.attr("name");
    if (v !== undefined) src.vendor = v;
  }
  const product = el.child("product");
  if (product) {
    const v = product.attr("name");
    if (v !== undefined) src.product = v;
  }
  return src;
}

/** Reads a parsed `<pool>` element. */
export function readPool(root: XmlElement, options: ParsePoolOptions = {}): PoolDef {
  if (root.name !== "pool") {
    throw new VirtError(
      "STORAGE_UNEXPECTED_ROOT",
      { found: root.name, expected: "pool" },
      { xpath: `/${root.name}`, line: root.line, column: root.column },
    );
  }
  const nameEl = root.child("name");
  const ctx: Ctx = { object: `storage pool '${nameEl?.content ?? ""}'` };
  const typeRaw = root.attr("type");
  if (typeRaw === undefined) {
    throw missing(ctx, root, `missing pool type: expected one of ${POOL_TYPES.join(", ")}`, "@type");
  }
  if (!(POOL_TYPES as readonly string[]).includes(typeRaw)) {
    throw invalid(
      ctx,
      root,
      "type",
      typeRaw,
      `unknown pool type: expected one of ${POOL_TYPES.join(", ")}`,
      POOL_TYPES,
    );
  }
  const type = typeRaw as PoolType;
  const o = OPTIONS[type];
  const srcEl = root.child("source");
  const source: PoolSource = srcEl
    ? parseSource(ctx, type, srcEl)
    : { hosts: [], devices: [], ...(o.defaultFormat ? { format: o.defaultFormat } : {}) };
  if (type === "gluster" && source.dir === undefined) source.dir = "/";

  let name = nameEl?.content;
  if (name === undefined && o.name) name = source.name;
  if (name === undefined) throw missing(ctx, root, "missing pool source name element", "name");
  checkName("storage pool", name, nameEl);
  ctx.object = `storage pool '${name}'`;

  const uuidEl = root.child("uuid");
  const uuid = uuidEl ? parseUuid(ctx, uuidEl) : (options.makeUuid ?? randomUUID)();

  // Sizes are the driver's (filled on refresh); libvirt's parser ignores them.
  for (const n of ["capacity", "allocation", "available"]) root.child(n)?.markAllUsed();

  const def: PoolDef = { type, name, uuid, capacity: 0n, allocation: 0n, available: 0n, source };

  const features = root.child("features");
  const cow = features?.child("cow");
  if (cow) {
    const state = yesNo(ctx, cow, "state");
    if (state !== undefined) {
      if (type !== "fs" && type !== "dir") {
        throw new VirtError(
          "STORAGE_NO_SUPPORT",
          { what: "cow feature may only be used for 'fs' and 'dir' pools" },
          {
            xpath: cow.xpath,
            line: cow.line,
            column: cow.column,
          },
        );
      }
      def.cow = state;
    }
  }

  const srcMissing = (what: string, sub: string): VirtError =>
    srcEl ? missing(ctx, srcEl, what, sub) : missing(ctx, root, what, `source/${sub}`);
  if (o.host && source.hosts.length === 0) {
    throw srcMissing("missing storage pool source host name", "host");
  }
  if (o.dir && source.dir === undefined) {
    throw srcMissing("missing storage pool source path", "dir/@path");
  }
  if (o.name && source.name === undefined) source.name = name;
  if (o.adapter && !source.adapter) {
    throw srcMissing("missing storage pool source adapter", "adapter");
  }
  if (deviceOnly(o) && source.devices.length === 0) {
    throw srcMissing("missing storage pool source device name", "device");
  }

  const targetEl = root.child("target");
  if (!o.network) {
    let path: string | undefined;
    if (type === "logical") path = `/dev/${source.name ?? ""}`;
    else if (type === "zfs") path = `/dev/zvol/${source.name ?? ""}`;
    else path = targetEl?.childText("path");
    if (type === "logical" || type === "zfs") targetEl?.child("path")?.markAllUsed();
    if (path === undefined) {
      throw targetEl
        ? missing(ctx, targetEl, "missing storage pool target path", "path")
        : missing(ctx, root, "missing storage pool target path", "target/path");
    }
    const perms: Permissions = parsePerms(ctx, targetEl?.child("permissions"));
    def.target = { path: sanitizePath(path), perms };
  }

  if (type === "iscsi-direct" && source.initiatorIqn === undefined) {
    throw unsupported(srcEl ?? root, "missing initiator IQN");
  }

  const refresh = root.child("refresh");
  const vol = refresh?.child("volume");
  if (vol) {
    const a = enumAttr(ctx, vol, "allocation", ["default", "capacity"] as const);
    if (a !== undefined) def.refreshVolumeAllocation = a;
  }

  if (type === "fs" || type === "netfs") {
    const p = nsPrefix(root, FS_NS);
    if (p !== undefined) {
      const opts: string[] = [];
      for (const mo of root.all(`${p}:mount_opts`)) {
        for (const opt of mo.all(`${p}:option`)) opts.push(reqAttr(ctx, opt, "name"));
      }
      if (opts.length) def.mountOpts = opts;
    }
  }
  if (type === "rbd") {
    const p = nsPrefix(root, RBD_NS);
    if (p !== undefined) {
      const opts: { name: string; value: string }[] = [];
      for (const co of root.all(`${p}:config_opts`)) {
        for (const opt of co.all(`${p}:option`)) {
          opts.push({ name: reqAttr(ctx, opt, "name"), value: reqAttr(ctx, opt, "value") });
        }
      }
      if (opts.length) def.rbdConfigOpts = opts;
    }
  }
  return def;
}

/** Parses pool XML text into a definition plus warnings for XML that was not understood. */
export function parsePool(
  xml: string,
  options: ParsePoolOptions = {},
): { def: PoolDef; warnings: XmlWarning[] } {
  return readDocument(xml, options.document ?? "(storage_pool_definition)", (root) =>
    readPool(root, options),
  );
}

/** Whether volumes of this pool type have a format (and which ones, with the default). */
export function poolHasSourceFormat(type: PoolType): boolean {
  return OPTIONS[type].formats !== undefined;
}

/** Pool types without a local target (network pools). */
export function poolIsNetwork(type: PoolType): boolean {
  return !!OPTIONS[type].network;
}

const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, "0")}`;

/** Writes `<permissions>` when anything is set (libvirt's rule). */
export function formatPerms(w: XmlWriter, p: Permissions): void {
  if (p.mode === undefined && p.owner === undefined && p.group === undefined && p.label === undefined) return;
  w.elem("permissions", undefined, () => {
    if (p.mode !== undefined) w.text("mode", `0${p.mode.toString(8)}`);
    // libvirt prints ids as signed ints (3000000000 comes out negative and cannot be read
    // back); ours stay unsigned so that what we write parses again.
    if (p.owner !== undefined) w.text("owner", p.owner);
    if (p.group !== undefined) w.text("group", p.group);
    if (p.label !== undefined) w.text("label", p.label);
  });
}

function formatAdapter(w: XmlWriter, a: AdapterDef): void {
  if (a.type === "fc_host") {
    w.empty("adapter", {
      type: a.type,
      parent: a.parent,
      parent_wwnn: a.parentWwnn,
      parent_wwpn: a.parentWwpn,
      parent_fabric_wwn: a.parentFabricWwn,
      managed: a.managed === undefined ? undefined : a.managed ? "yes" : "no",
      wwnn: a.wwnn,
      wwpn: a.wwpn,
    });
    return;
  }
  if (a.name !== undefined) {
    w.empty("adapter", { type: a.type, name: a.name });
    return;
  }
  const pa = a.parentAddr;
  w.elem("adapter", { type: a.type }, () => {
    if (!pa) return;
    w.elem("parentaddr", { unique_id: pa.uniqueId }, () => {
      w.empty("address", {
        domain: hex(pa.address.domain, 4),
        bus: hex(pa.address.bus, 2),
        slot: hex(pa.address.slot, 2),
        function: hex(pa.address.function, 1),
      });
    });
  });
}

function formatSource(w: XmlWriter, def: PoolDef): void {
  const o = OPTIONS[def.type];
  const s = def.source;
  // libvirt writes <source> with an end tag even when it is empty.
  w.raw("<source>");
  const inner = new XmlWriter();
  if (o.host) for (const h of s.hosts) inner.empty("host", { name: h.name, port: h.port || undefined });
  if (o.device) {
    for (const d of s.devices) {
      inner.empty("device", {
        path: d.path,
        part_separator: d.partSeparator === undefined ? undefined : d.partSeparator ? "yes" : "no",
      });
    }
  }
  if (o.dir && s.dir !== undefined) inner.empty("dir", { path: s.dir });
  if (o.adapter && s.adapter) formatAdapter(inner, s.adapter);
  if (o.name && s.name !== undefined) inner.text("name", s.name);
  if (o.initiator && s.initiatorIqn !== undefined) {
    inner.elem("initiator", undefined, () => inner.empty("iqn", { name: s.initiatorIqn }));
  }
  if (o.formats && s.format !== undefined) inner.empty("format", { type: s.format });
  if (s.auth) {
    const a = s.auth;
    inner.elem("auth", { type: a.type, username: a.username }, () => {
      inner.empty("secret", {
        type: a.secretType,
        uuid: a.secret.uuid,
        usage: a.secret.uuid ? undefined : a.secret.usage,
      });
    });
  }
  if (s.protocolVer !== undefined) inner.empty("protocol", { ver: s.protocolVer });
  if (s.vendor !== undefined) inner.empty("vendor", { name: s.vendor });
  if (s.product !== undefined) inner.empty("product", { name: s.product });
  const body = inner.toString();
  if (body !== "\n") for (const line of body.slice(0, -1).split("\n")) w.raw(`  ${line}`);
  w.raw("</source>");
}

/** `PoolDef` → libvirt 11.3's canonical pool XML. */
export function formatPool(def: PoolDef): string {
  const w = new XmlWriter();
  const withFs = def.mountOpts !== undefined && def.mountOpts.length > 0;
  const withRbd = def.rbdConfigOpts !== undefined && def.rbdConfigOpts.length > 0;
  const attrs: Record<string, string> = { type: def.type };
  if (withFs) attrs["xmlns:fs"] = FS_NS;
  if (withRbd) attrs["xmlns:rbd"] = RBD_NS;
  w.elem("pool", attrs, () => {
    w.text("name", def.name);
    w.text("uuid", def.uuid);
    w.text("capacity", def.capacity, { unit: "bytes" });
    w.text("allocation", def.allocation, { unit: "bytes" });
    w.text("available", def.available, { unit: "bytes" });
    if (def.cow !== undefined) {
      w.elem("features", undefined, () => w.empty("cow", { state: def.cow ? "yes" : "no" }));
    }
    formatSource(w, def);
    if (def.target && !OPTIONS[def.type].network) {
      const t = def.target;
      w.elem("target", undefined, () => {
        w.text("path", t.path);
        formatPerms(w, t.perms);
      });
    }
    if (def.refreshVolumeAllocation !== undefined) {
      w.elem("refresh", undefined, () => w.empty("volume", { allocation: def.refreshVolumeAllocation }));
    }
    if (withFs) {
      w.elem("fs:mount_opts", undefined, () => {
        for (const o of def.mountOpts ?? []) w.empty("fs:option", { name: o });
      });
    }
    if (withRbd) {
      w.elem("rbd:config_opts", undefined, () => {
        for (const o of def.rbdConfigOpts ?? []) w.empty("rbd:option", { name: o.name, value: o.value });
      });
    }
  });
  return w.toString();
}
