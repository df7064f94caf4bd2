/**
 * `<cputune>` and `<blkiotune>` (libvirt's virDomainCputuneDefParse / virDomainBlkioDefParse and
 * their formatters). The cgroup values (shares, CFS periods and quotas, pins, block I/O weights
 * and throttles) are read into fields; the rest of `<cputune>` (vcpusched, iothreadpin,
 * iothreadsched, cachetune, memorytune) is kept verbatim in document order after them.
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import type { Blkiotune, BlkioDevice, Cputune, DomainDef, RawXmlElement, ThreadSched } from "./types.ts";
import { rawElement } from "./parse-general.ts";
import { parseBitmap } from "./bitmap.ts";
import {
  bitmapAttr,
  intAttr,
  invalidText,
  missingAttr,
  reqEnum,
  reqUInt,
  structural,
  uintText,
} from "./reader.ts";

/** libvirt's CFS bounds (qemu_driver.c QEMU_SCHED_*): period 1000..1000000 us, quota -1 or 1000..17592186044415. */
export const CFS_PERIOD_MIN = 1000;
export const CFS_PERIOD_MAX = 1000000;
export const CFS_QUOTA_MIN = 1000;
export const CFS_QUOTA_MAX = 17592186044415;

const PERIODS = ["period", "global_period", "emulator_period", "iothread_period"] as const;
const QUOTAS = ["quota", "global_quota", "emulator_quota", "iothread_quota"] as const;
const MODELLED = new Set<string>([
  "shares",
  ...PERIODS,
  ...QUOTAS,
  "vcpupin",
  "emulatorpin",
  "vcpusched",
  "iothreadsched",
]);

function signedText(el: XmlElement): number {
  const v = el.content;
  const n = /^-?[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw invalidText(el, v, "expected an integer");
  return n;
}

export function parseCputune(el: XmlElement): Cputune {
  const ct: Cputune = { vcpupin: [], other: [] };
  const shares = el.child("shares");
  if (shares) ct.shares = uintText(shares, { hex: false });
  for (const k of PERIODS) {
    const c = el.child(k);
    if (!c) continue;
    const n = uintText(c, { hex: false });
    // libvirt: a period is 0 (unset) or 1000..1000000
    if (n !== 0 && (n < CFS_PERIOD_MIN || n > CFS_PERIOD_MAX))
      throw invalidText(c, String(n), `expected 0 or a value from ${CFS_PERIOD_MIN} to ${CFS_PERIOD_MAX}`);
    ct[k] = n;
  }
  for (const k of QUOTAS) {
    const c = el.child(k);
    if (!c) continue;
    const n = signedText(c);
    // libvirt: 0 (unset), any negative (no limit, kept as written), or 1000..17592186044415
    if (n > 0 && (n < CFS_QUOTA_MIN || n > CFS_QUOTA_MAX))
      throw invalidText(
        c,
        String(n),
        `expected a negative value, 0 or a value from ${CFS_QUOTA_MIN} to ${CFS_QUOTA_MAX}`,
      );
    ct[k] = n;
  }
  const seen = new Set<number>();
  for (const p of el.all("vcpupin")) {
    const vcpu = reqUInt(p, "vcpu", { hex: false });
    if (seen.has(vcpu)) throw structural(p, `duplicate vcpupin for vcpu ${vcpu}`);
    seen.add(vcpu);
    const cpuset = bitmapAttr(p, "cpuset", 16383);
    if (cpuset === undefined) throw structural(p, "vcpupin needs a cpuset");
    ct.vcpupin.push({ vcpu, cpuset });
  }
  const ep = el.all("emulatorpin");
  if (ep.length > 1) throw structural(ep[1]!, "only one emulatorpin is supported");
  if (ep[0]) {
    const cpuset = bitmapAttr(ep[0], "cpuset", 16383);
    if (cpuset === undefined) throw structural(ep[0], "emulatorpin needs a cpuset");
    ct.emulatorpin = cpuset;
  }
  for (const c of el.children) if (!MODELLED.has(c.name)) ct.other.push(rawElement(c));
  return ct;
}

const SCHEDULERS = ["batch", "idle", "fifo", "rr"] as const;

/**
 * `<vcpusched>` and `<iothreadsched>` of `<cputune>` against the domain's vCPUs and I/O threads
 * (virDomainVcpuThreadSchedParse / virDomainIOThreadSchedParse): each element's set gives its
 * threads the scheduler; vCPUs beyond the maximum are ignored, an I/O thread that does not exist
 * is an error, and no thread may be named twice.
 */
export function parseThreadSched(el: XmlElement, def: DomainDef, iothreadIds?: readonly number[]): void {
  const ct = def.cputune;
  if (!ct) return;
  // the I/O threads are <iothreadids>' ids when given, else 1..<iothreads>
  const iothreads = new Set(iothreadIds ?? Array.from({ length: def.iothreads ?? 0 }, (_, i) => i + 1));
  const read = (kind: "vcpu" | "iothread"): ThreadSched[] => {
    const byId = new Map<number, ThreadSched>();
    for (const s of el.all(`${kind}sched`)) {
      const attr = `${kind}s`;
      if (!s.hasAttr(attr)) throw missingAttr(s, attr);
      const ids = parseBitmap(bitmapAttr(s, attr) ?? "") ?? [];
      const scheduler = reqEnum(s, "scheduler", SCHEDULERS);
      let priority: number | undefined;
      if (scheduler === "fifo" || scheduler === "rr") {
        if (!s.hasAttr("priority")) throw missingAttr(s, "priority");
        priority = intAttr(s, "priority", { min: -2147483648, max: 2147483647 });
      }
      for (const id of ids) {
        if (kind === "vcpu" && id >= def.vcpu.count) continue;
        if (kind === "iothread" && !iothreads.has(id))
          throw new VirtError("DOMAIN_IOTHREADSCHED_UNKNOWN", { id }, { xpath: s.xpath });
        if (byId.has(id))
          throw new VirtError(
            "DOMAIN_THREADSCHED_OVERLAP",
            { element: `${kind}sched`, attribute: attr },
            { xpath: s.xpath },
          );
        byId.set(id, { id, scheduler, ...(priority !== undefined ? { priority } : {}) });
      }
    }
    return [...byId.values()].sort((a, b) => a.id - b.id);
  };
  const vcpusched = read("vcpu");
  const iothreadsched = read("iothread");
  if (vcpusched.length > 0) ct.vcpusched = vcpusched;
  if (iothreadsched.length > 0) ct.iothreadsched = iothreadsched;
}

const DEVICE_FIELDS = [
  "weight",
  "read_iops_sec",
  "write_iops_sec",
  "read_bytes_sec",
  "write_bytes_sec",
] as const;

export function parseBlkiotune(el: XmlElement): Blkiotune {
  const bt: Blkiotune = { devices: [] };
  const weight = el.child("weight");
  if (weight) bt.weight = uintText(weight, { hex: false });
  for (const d of el.all("device")) {
    const path = d.child("path");
    if (!path || path.content === "") throw structural(d, "missing per-device path");
    if (bt.devices.some((o) => o.path === path.content))
      throw structural(d, `duplicate blkio device path '${path.content}'`);
    const dev: BlkioDevice = { path: path.content };
    for (const k of DEVICE_FIELDS) {
      const c = d.child(k);
      if (c) dev[k] = uintText(c, { hex: false });
    }
    bt.devices.push(dev);
  }
  return bt;
}

function formatRaw(w: XmlWriter, el: RawXmlElement): void {
  const attrs = Object.fromEntries(el.attrs.map((a) => [a.name, a.value]));
  const elems = el.children.filter((c): c is RawXmlElement => typeof c !== "string");
  const text = el.children.filter((c): c is string => typeof c === "string").join("");
  if (elems.length === 0 && text === "") w.empty(el.name, attrs);
  else if (elems.length === 0) w.text(el.name, text, attrs);
  else
    w.elem(el.name, attrs, () => {
      for (const c of elems) formatRaw(w, c);
    });
}

function cputuneEmpty(ct: Cputune): boolean {
  return (
    ct.shares === undefined &&
    [...PERIODS, ...QUOTAS].every((k) => !ct[k]) &&
    ct.vcpupin.length === 0 &&
    ct.emulatorpin === undefined &&
    (ct.vcpusched?.length ?? 0) === 0 &&
    (ct.iothreadsched?.length ?? 0) === 0 &&
    ct.other.length === 0
  );
}

/** Nothing when nothing is set (libvirt omits an empty `<cputune>`). */
export function formatCputune(w: XmlWriter, ct: Cputune): void {
  if (cputuneEmpty(ct)) return;
  w.elem("cputune", undefined, () => {
    if (ct.shares !== undefined) w.text("shares", ct.shares);
    // libvirt writes each period/quota pair in this order, zero meaning unset
    for (const [p, q] of [
      ["period", "quota"],
      ["global_period", "global_quota"],
      ["emulator_period", "emulator_quota"],
      ["iothread_period", "iothread_quota"],
    ] as const) {
      if (ct[p]) w.text(p, ct[p]);
      if (ct[q]) w.text(q, ct[q]);
    }
    for (const p of ct.vcpupin) w.empty("vcpupin", { vcpu: p.vcpu, cpuset: p.cpuset });
    if (ct.emulatorpin !== undefined) w.empty("emulatorpin", { cpuset: ct.emulatorpin });
    // libvirt: pins, then one scheduler element per thread, then cache and memory tuning
    const late = (o: RawXmlElement): boolean => o.name === "cachetune" || o.name === "memorytune";
    for (const o of ct.other) if (!late(o)) formatRaw(w, o);
    for (const [name, list] of [
      ["vcpu", ct.vcpusched],
      ["iothread", ct.iothreadsched],
    ] as const) {
      for (const t of list ?? [])
        w.empty(`${name}sched`, { [`${name}s`]: t.id, scheduler: t.scheduler, priority: t.priority });
    }
    for (const o of ct.other) if (late(o)) formatRaw(w, o);
  });
}

export function formatBlkiotune(w: XmlWriter, bt: Blkiotune): void {
  // elem() self-closes an empty body: libvirt writes nothing then
  if (!bt.weight && bt.devices.every((d) => DEVICE_FIELDS.every((k) => !d[k]))) return;
  w.elem("blkiotune", undefined, () => {
    if (bt.weight) w.text("weight", bt.weight);
    for (const d of bt.devices) {
      if (DEVICE_FIELDS.every((k) => !d[k])) continue;
      w.elem("device", undefined, () => {
        w.text("path", d.path);
        for (const k of DEVICE_FIELDS) if (d[k]) w.text(k, d[k]);
      });
    }
  });
}
