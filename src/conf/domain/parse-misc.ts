/**
 * Smaller devices: memballoon, rng, watchdog, redirdev, hub, panic, tpm, memory devices,
 * iommu, vsock.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { XmlElement } from "../xml.ts";
import type {
  HubDef,
  IommuDef,
  MemballoonDef,
  MemoryDeviceDef,
  PanicDef,
  RedirdevDef,
  SmartcardDef,
  RedirFilterRule,
  RngDef,
  TpmDef,
  TpmPcrBank,
  VsockDef,
  WatchdogDef,
} from "./types.ts";
import { TPM_MODELS, TPM_PCR_BANKS } from "./types.ts";
import { parseDeviceInfo, parseVirtioOptions } from "./parse-address.ts";
import { CHR_TYPES, parseChrSource } from "./parse-chr.ts";
import { formatBitmap, parseBitmap } from "./bitmap.ts";
import {
  enumAttr,
  invalidText,
  missingAttr,
  parseUInt,
  missingChild,
  onOff,
  reqEnum,
  reqUInt,
  sizeText,
  str,
  structural,
  uintAttr,
  uintText,
  unsupported,
  yesNo,
} from "./reader.ts";

export function parseMemballoon(el: XmlElement): MemballoonDef {
  const m: MemballoonDef = {
    model: reqEnum(el, "model", [
      "virtio",
      "xen",
      "none",
      "virtio-transitional",
      "virtio-non-transitional",
    ] as const),
  };
  const ad = onOff(el, "autodeflate");
  const fpr = onOff(el, "freePageReporting");
  if (ad !== undefined) m.autodeflate = ad;
  if (fpr !== undefined) m.freePageReporting = fpr;
  const stats = el.child("stats");
  if (stats) m.statsPeriod = reqUInt(stats, "period", { hex: false, max: 0x7fffffff });
  parseVirtioOptions(el.child("driver") ?? undefined, m);
  parseDeviceInfo(el, m);
  return m;
}

export function parseRng(el: XmlElement): RngDef {
  const model = reqEnum(el, "model", ["virtio", "virtio-transitional", "virtio-non-transitional"] as const);
  const b = el.child("backend");
  if (!b) throw missingChild(el, "backend");
  const backendModel = reqEnum(b, "model", ["random", "egd", "builtin"] as const);
  const rng: RngDef = { model, backend: { model: backendModel } };
  if (backendModel === "random") {
    const path = b.content;
    if (path !== "") rng.backend.path = path;
  } else if (backendModel === "egd") {
    const type = enumAttr(b, "type", CHR_TYPES) ?? "pty";
    rng.backend.type = type;
    const src = parseChrSource(b, type);
    if (src) rng.backend.source = src;
    const proto = b.child("protocol");
    if (proto) {
      const p = str(proto, "type");
      if (p !== undefined) rng.backend.protocol = p;
    }
  }
  parseVirtioOptions(el.child("driver") ?? undefined, rng);
  const rate = el.child("rate");
  if (rate) {
    rng.rate = { bytes: reqUInt(rate, "bytes", { hex: false, min: 1, max: 0xffffffff }) };
    const period = uintAttr(rate, "period", { hex: false, min: 1, max: 0xffffffff });
    if (period !== undefined) rng.rate.period = period;
  }
  parseDeviceInfo(el, rng);
  return rng;
}

export function parseWatchdog(el: XmlElement): WatchdogDef {
  const w: WatchdogDef = {
    model: reqEnum(el, "model", ["i6300esb", "ib700", "diag288", "itco"] as const),
    action:
      enumAttr(el, "action", [
        "reset",
        "shutdown",
        "poweroff",
        "pause",
        "dump",
        "none",
        "inject-nmi",
      ] as const) ?? "reset",
  };
  parseDeviceInfo(el, w);
  return w;
}

export function parseSmartcard(el: XmlElement): SmartcardDef {
  const mode = reqEnum(el, "mode", ["host", "host-certificates", "passthrough"] as const);
  const s: SmartcardDef = { mode };
  if (mode === "host-certificates") {
    const certs = el.all("certificate").map((c) => c.content);
    // QEMU's emulated card takes exactly three certificates (cert1..cert3)
    if (certs.length !== 3)
      throw structural(el, `host-certificates mode needs exactly three certificates, found ${certs.length}`);
    s.certificates = certs;
    const db = el.childText("database");
    if (db !== undefined) {
      if (!db.startsWith("/")) throw structural(el, `expecting absolute path for the database: ${db}`);
      s.database = db;
    }
  } else if (mode === "passthrough") {
    const type = reqEnum(el, "type", CHR_TYPES);
    s.type = type;
    const src = parseChrSource(el, type);
    if (src) s.source = src;
    // only a TCP chardev has a protocol
    const proto = type === "tcp" ? el.child("protocol") : undefined;
    if (proto) {
      const p = str(proto, "type");
      if (p !== undefined) s.protocol = p;
    }
  }
  parseDeviceInfo(el, s);
  if (s.address && s.address.type !== "ccid")
    throw structural(el, `smartcard needs an address of type 'ccid', not '${s.address.type}'`);
  return s;
}

export function parseRedirdev(el: XmlElement): RedirdevDef {
  reqEnum(el, "bus", ["usb"] as const);
  const type = reqEnum(el, "type", CHR_TYPES);
  const r: RedirdevDef = { bus: "usb", type };
  const src = parseChrSource(el, type);
  if (src) r.source = src;
  const proto = el.child("protocol");
  if (proto) {
    const p = str(proto, "type");
    if (p !== undefined) r.protocol = p;
  }
  parseDeviceInfo(el, r);
  return r;
}

export function parseHub(el: XmlElement): HubDef {
  const h: HubDef = { type: reqEnum(el, "type", ["usb"] as const) };
  parseDeviceInfo(el, h);
  return h;
}

export function parsePanic(el: XmlElement): PanicDef {
  const p: PanicDef = {};
  const model = enumAttr(el, "model", ["isa", "pseries", "hyperv", "s390", "pvpanic"] as const);
  if (model) p.model = model;
  parseDeviceInfo(el, p);
  return p;
}

/** libvirt's version helper: `major.minor` as BCD, a one-digit minor read as tenths (`9.4` is 9.40). */
function usbVersion(el: XmlElement, text: string): number {
  const m = /^(\d{1,2})\.(\d{1,2})$/.exec(text);
  if (!m) throw unsupported(el, `Cannot parse USB version ${text}`);
  const major = Number(m[1]);
  const minor = m[2]!.length === 1 ? Number(m[2]) * 10 : Number(m[2]);
  return (Math.floor(major / 10) << 12) | ((major % 10) << 8) | (Math.floor(minor / 10) << 4) | (minor % 10);
}

export function parseRedirFilter(el: XmlElement): RedirFilterRule[] {
  return el.all("usbdev").map((u) => {
    const rule: RedirFilterRule = { allow: false };
    const num = (name: string, max: number, what: string): number | undefined => {
      const v = str(u, name);
      if (v === undefined || v === "-1") return undefined;
      const n = parseUInt(v, true);
      if (n === undefined || n > max) throw unsupported(u, `Invalid USB ${what} 0x${(n ?? 0).toString(16)}`);
      return n;
    };
    const cls = num("class", 0xff, "Class code");
    if (cls !== undefined) rule.class = cls;
    const vendor = num("vendor", 0xffff, "vendor ID");
    if (vendor !== undefined) rule.vendor = vendor;
    const product = num("product", 0xffff, "product ID");
    if (product !== undefined) rule.product = product;
    const version = str(u, "version");
    if (version !== undefined && version !== "-1") rule.version = usbVersion(u, version);
    const allow = yesNo(u, "allow");
    if (allow === undefined) throw missingAttr(u, "allow");
    rule.allow = allow;
    return rule;
  });
}

export function parseTpm(el: XmlElement): TpmDef {
  const backends = el.all("backend");
  if (backends.length > 1) throw structural(backends[1]!, "only one TPM backend is supported");
  const b = backends[0];
  if (!b) {
    throw new VirtError(
      "DOMAIN_TPM_BACKEND_MISSING",
      {},
      { xpath: `${el.xpath}/backend`, line: el.line, column: el.column },
    );
  }
  const t: TpmDef = {
    backend: { type: reqEnum(b, "type", ["passthrough", "emulator", "external"] as const) },
  };
  const model = enumAttr(el, "model", TPM_MODELS);
  if (model !== undefined) t.model = model;
  const version = str(b, "version");
  if (version !== undefined) {
    if (version !== "1.2" && version !== "2.0") throw unsupported(b, `Unsupported TPM version '${version}'`);
    t.backend.version = version;
  }
  const tb = t.backend;
  switch (tb.type) {
    case "passthrough": {
      // libvirt keeps the host device's path, /dev/tpm0 when none is given
      const dev = b.child("device");
      tb.path = (dev ? str(dev, "path") : undefined) ?? "/dev/tpm0";
      break;
    }
    case "emulator": {
      const secret = b.child("encryption");
      if (secret) {
        const uuid = str(secret, "secret");
        if (uuid !== undefined) tb.secret = uuid;
      }
      const ps = yesNo(b, "persistent_state");
      if (ps !== undefined) tb.persistent_state = ps;
      const debug = uintAttr(b, "debug", { hex: false });
      if (debug !== undefined) tb.debug = debug;
      const src = b.child("source");
      if (src) {
        const type = reqEnum(src, "type", ["file", "dir"] as const);
        const path = str(src, "path");
        if (path === undefined) throw structural(src, "missing TPM source path");
        tb.source = { type, path };
      }
      const banks = b.child("active_pcr_banks");
      if (banks && tb.version !== "1.2") {
        const set = new Set<TpmPcrBank>();
        for (const c of banks.children) {
          const bank = TPM_PCR_BANKS.find((x) => x === c.name);
          if (bank === undefined) throw unsupported(c, `Unsupported PCR banks '${c.name}'`);
          set.add(bank);
        }
        if (banks.children.length > 0) tb.activePcrBanks = TPM_PCR_BANKS.filter((x) => set.has(x));
      }
      const profile = b.child("profile");
      if (profile) {
        const source = str(profile, "source");
        if (source === undefined) throw structural(profile, "missing profile source");
        tb.profile = { source };
        const rd = enumAttr(profile, "removeDisabled", ["check", "fips-host"] as const);
        if (rd !== undefined) tb.profile.removeDisabled = rd;
        const name = str(profile, "name");
        if (name !== undefined) tb.profile.name = name;
      }
      break;
    }
    case "external": {
      const src = b.child("source");
      const type = src ? str(src, "type") : undefined;
      if (!src || type === undefined) throw structural(b, "missing external TPM backend source type");
      if (!(CHR_TYPES as readonly string[]).includes(type))
        throw structural(src, `unknown backend source type '${type}' for external TPM`);
      if (type !== "unix")
        throw unsupported(src, `only source type 'unix' is supported for external TPM device`);
      const path = str(src, "path");
      if (path === undefined) throw missingAttr(src, "path");
      tb.socket = path;
      break;
    }
  }
  parseDeviceInfo(el, t);
  return t;
}

function parseMemTarget(el: XmlElement): MemoryDeviceDef["target"] {
  const size = el.child("size");
  const t: MemoryDeviceDef["target"] = { size: size ? sizeText(size) : 0 };
  const node = el.child("node");
  if (node) t.node = uintText(node, { hex: false, max: 0xffff });
  const label = el.child("label")?.child("size");
  if (label) t.labelSize = sizeText(label);
  const block = el.child("block");
  if (block) t.block = sizeText(block);
  const requested = el.child("requested");
  if (requested) t.requested = sizeText(requested);
  const current = el.child("current");
  if (current) t.current = sizeText(current);
  if (el.child("readonly")) t.readonly = true;
  const addr = el.child("address");
  if (addr) {
    const base = uintAttr(addr, "base");
    if (base !== undefined) t.address = base;
  }
  return t;
}

export function parseMemoryDevice(el: XmlElement): MemoryDeviceDef {
  const target = el.child("target");
  if (!target) throw missingChild(el, "target");
  const m: MemoryDeviceDef = {
    model: reqEnum(el, "model", ["dimm", "nvdimm", "virtio-pmem", "virtio-mem", "sgx-epc"] as const),
    target: parseMemTarget(target),
  };
  if (m.model === "virtio-mem") {
    const dynamicMemslots = yesNo(target, "dynamicMemslots");
    if (dynamicMemslots !== undefined) m.target.dynamicMemslots = dynamicMemslots;
  }
  const access = enumAttr(el, "access", ["shared", "private"] as const);
  if (access) m.access = access;
  const discard = yesNo(el, "discard");
  if (discard !== undefined) m.discard = discard;
  const uuid = el.childText("uuid");
  if (uuid !== undefined) m.uuid = uuid;
  const src = el.child("source");
  if (src) {
    m.source = {};
    const ps = src.child("pagesize");
    if (ps) m.source.pagesize = sizeText(ps);
    const nm = src.child("nodemask");
    if (nm) {
      const text = nm.content;
      const members = parseBitmap(text);
      if (!members) throw invalidText(nm, text, "expected a node set like '0-1'");
      m.source.nodemask = formatBitmap(members);
    }
    const path = src.childText("path");
    if (path !== undefined) m.source.path = path;
    const al = src.child("alignsize");
    if (al) m.source.alignsize = sizeText(al);
    if (src.child("pmem")) m.source.pmem = true;
  }
  parseDeviceInfo(el, m);
  return m;
}

export function parseIommu(el: XmlElement): IommuDef {
  const i: IommuDef = { model: reqEnum(el, "model", ["intel", "smmuv3", "virtio"] as const) };
  const d = el.child("driver");
  if (d) {
    const attrs: Record<string, string> = {};
    for (const k of [
      "intremap",
      "caching_mode",
      "eim",
      "iotlb",
      "aw_bits",
      "dma_translation",
      "xtsup",
      "passthrough",
    ] as const) {
      const v = str(d, k);
      if (v !== undefined) attrs[k] = v;
    }
    i.driver = attrs;
  }
  parseDeviceInfo(el, i);
  return i;
}

export function parseVsock(el: XmlElement): VsockDef {
  const v: VsockDef = {};
  const model = str(el, "model");
  if (model !== undefined) v.model = model;
  const cid = el.child("cid");
  if (cid) {
    v.cid = {};
    const auto = yesNo(cid, "auto");
    const address = uintAttr(cid, "address", { hex: false, min: 3, max: 0xffffffff });
    if (auto !== undefined) v.cid.auto = auto;
    if (address !== undefined) v.cid.address = address;
  }
  parseDeviceInfo(el, v);
  return v;
}
