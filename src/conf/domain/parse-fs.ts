/**
 * `<filesystem>` (virtiofs, 9p and container mounts).
 */
import type { XmlElement } from "../xml.ts";
import type { FilesystemBinary, FilesystemDef, IdMapEntry } from "./types.ts";
import { parseDeviceInfo, parseVirtioOptions } from "./parse-address.ts";
import {
  enumAttr,
  invalidAttr,
  missingChild,
  onOff,
  reqEnum,
  reqStr,
  reqUInt,
  sizeText,
  str,
  uintAttr,
} from "./reader.ts";

const TYPES = ["mount", "block", "file", "template", "ram", "bind", "volume"] as const;
const DRIVERS = ["path", "handle", "loop", "nbd", "ploop", "virtiofs", "mtp"] as const;

function parseBinary(el: XmlElement): FilesystemBinary {
  const b: FilesystemBinary = {};
  const path = str(el, "path");
  if (path !== undefined) b.path = path;
  const xattr = onOff(el, "xattr");
  if (xattr !== undefined) b.xattr = xattr;
  const cache = el.child("cache");
  if (cache)
    b.cache = { mode: reqEnum(cache, "mode", ["none", "always", "auto", "never", "metadata"] as const) };
  const sandbox = el.child("sandbox");
  if (sandbox) b.sandbox = { mode: reqEnum(sandbox, "mode", ["namespace", "chroot"] as const) };
  const lock = el.child("lock");
  if (lock) {
    b.lock = {};
    const posix = onOff(lock, "posix");
    const flock = onOff(lock, "flock");
    if (posix !== undefined) b.lock.posix = posix;
    if (flock !== undefined) b.lock.flock = flock;
  }
  const tp = el.child("thread_pool");
  if (tp) b.threadPool = { size: reqUInt(tp, "size", { hex: false, max: 0x7fffffff }) };
  const of = el.child("openfiles");
  if (of) b.openfiles = { max: reqUInt(of, "max", { hex: false }) };
  return b;
}

export function idmapEntries(el: XmlElement, name: string): IdMapEntry[] {
  return el.all(name).map((e) => ({
    start: reqUInt(e, "start", { hex: false, max: 0xffffffff }),
    target: reqUInt(e, "target", { hex: false, max: 0xffffffff }),
    count: reqUInt(e, "count", { hex: false, min: 1, max: 0xffffffff }),
  }));
}

function octalAttr(el: XmlElement, name: string): number | undefined {
  const v = str(el, name);
  if (v === undefined) return undefined;
  if (!/^[0-7]{1,4}$/.test(v)) throw invalidAttr(el, name, v, "expected an octal mode like 0644");
  return parseInt(v, 8);
}

export function parseFilesystem(el: XmlElement): FilesystemDef {
  const type = enumAttr(el, "type", TYPES) ?? "mount";
  const target = el.child("target");
  if (!target) throw missingChild(el, "target");
  const fs: FilesystemDef = { type, target: { dir: reqStr(target, "dir") } };
  const am = enumAttr(el, "accessmode", ["default", "passthrough", "mapped", "squash"] as const);
  if (am && am !== "default") fs.accessmode = am;
  const model = str(el, "model");
  if (model !== undefined) fs.model = model;
  const md = enumAttr(el, "multidevs", ["default", "remap", "forbid", "warn"] as const);
  if (md) fs.multidevs = md;
  const fmode = octalAttr(el, "fmode");
  const dmode = octalAttr(el, "dmode");
  if (fmode !== undefined) fs.fmode = fmode;
  if (dmode !== undefined) fs.dmode = dmode;
  const driver = el.child("driver");
  if (driver) {
    const d: NonNullable<FilesystemDef["driver"]> = {};
    const dt = enumAttr(driver, "type", DRIVERS);
    const format = str(driver, "format");
    const wr = enumAttr(driver, "wrpolicy", ["immediate"] as const);
    const queue = uintAttr(driver, "queue", { hex: false, min: 1, max: 0xffffffff });
    if (dt) d.type = dt;
    if (format !== undefined) d.format = format;
    if (wr) d.wrpolicy = wr;
    if (queue !== undefined) d.queue = queue;
    fs.driver = d;
  }
  parseVirtioOptions(driver, fs);
  const binary = el.child("binary");
  if (binary) fs.binary = parseBinary(binary);
  const idmap = el.child("idmap");
  if (idmap) fs.idmap = { uids: idmapEntries(idmap, "uid"), gids: idmapEntries(idmap, "gid") };
  const source = el.child("source");
  if (source) {
    const s: NonNullable<FilesystemDef["source"]> = {};
    for (const k of ["dir", "file", "dev", "name", "socket"] as const) {
      const v = str(source, k);
      if (v !== undefined) s[k] = v;
    }
    const usage = uintAttr(source, "usage", { hex: false });
    if (usage !== undefined) s.usage = usage;
    str(source, "units");
    fs.source = s;
  }
  if (el.child("readonly")) fs.readonly = true;
  const hard = el.child("space_hard_limit");
  if (hard) fs.spaceHardLimit = sizeText(hard);
  const soft = el.child("space_soft_limit");
  if (soft) fs.spaceSoftLimit = sizeText(soft);
  parseDeviceInfo(el, fs);
  return fs;
}
