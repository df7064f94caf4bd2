/**
 * `<cpu>` (guest CPU: mode, model, topology, features, maxphysaddr, guest NUMA cells).
 */
import type { XmlElement } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import { placeOf } from "../typed-read.ts";
import type { CpuDef, CpuFeature, CpuTopology, NumaCache, NumaCell, NumaInterconnect } from "./types.ts";
import {
  bitmapAttr,
  enumAttr,
  invalidAttr,
  missingAttr,
  missingChild,
  onOff,
  parseUInt,
  reqEnum,
  reqStr,
  reqUInt,
  sizeAttr,
  toBytes,
  toKiB,
  str,
  structural,
  uintAttr,
  unsupported,
  yesNo,
} from "./reader.ts";

const MODES = ["custom", "host-model", "host-passthrough", "maximum"] as const;
const POLICIES = ["force", "require", "optional", "disable", "forbid"] as const;

function parseTopology(el: XmlElement): CpuTopology {
  const rule = { hex: false, min: 1, max: 0xffffffff };
  return {
    sockets: reqUInt(el, "sockets", rule),
    dies: uintAttr(el, "dies", rule) ?? 1,
    clusters: uintAttr(el, "clusters", rule) ?? 1,
    cores: reqUInt(el, "cores", rule),
    threads: reqUInt(el, "threads", rule),
  };
}

function parseFeature(el: XmlElement, seen: Set<string>): CpuFeature {
  const name = str(el, "name");
  if (name === undefined || name === "") throw missingAttr(el, "name");
  if (seen.has(name)) throw structural(el, `CPU feature '${name}' is specified more than once`);
  seen.add(name);
  return { policy: enumAttr(el, "policy", POLICIES) ?? "require", name };
}

function parseMaxPhysAddr(el: XmlElement): NonNullable<CpuDef["maxphysaddr"]> {
  const mode = reqEnum(el, "mode", ["emulate", "passthrough"] as const);
  const bits = uintAttr(el, "bits", { hex: false, max: 255 });
  const limit = uintAttr(el, "limit", { hex: false, max: 255 });
  if (mode === "passthrough" && bits !== undefined) {
    throw unsupported(
      el,
      "CPU maximum physical address bits number specification cannot be used with mode='passthrough'",
    );
  }
  // mode='emulate' without bits leaves the width to QEMU (host-phys-bits=off), as libvirt 11 does
  if (mode === "emulate" && limit !== undefined) {
    throw unsupported(
      el,
      "CPU maximum physical address limit specification cannot be used with mode='emulate'",
    );
  }
  const out: NonNullable<CpuDef["maxphysaddr"]> = { mode };
  if (bits !== undefined) out.bits = bits;
  if (limit !== undefined) out.limit = limit;
  return out;
}

function parseCell(el: XmlElement, index: number, seen: Set<number>, count: number): NumaCell {
  const id = uintAttr(el, "id", { hex: false, max: 0xffff }) ?? index;
  // Cells are indexed by id: ids 0..n-1, each once, in any order (virDomainNumaDefParseXML).
  if (id >= count) throw new VirtError("DOMAIN_NUMA_CELL_ID_RANGE", {}, { ...placeOf(el, "id") });
  if (seen.has(id)) throw new VirtError("DOMAIN_NUMA_CELL_ID_DUPLICATE", { id }, { ...placeOf(el, "id") });
  seen.add(id);
  const memory = sizeAttr(el, "memory");
  if (memory === undefined) throw missingAttr(el, "memory");
  const cell: NumaCell = { id, memory };
  const cpus = bitmapAttr(el, "cpus");
  if (cpus !== undefined) cell.cpus = cpus;
  const accessValue = el.attr("memAccess");
  if (accessValue !== undefined) {
    if (accessValue !== "shared" && accessValue !== "private") {
      throw new VirtError(
        "DOMAIN_XML_ATTR_ENUM_INVALID",
        { attribute: "memAccess", element: "cell", value: accessValue },
        { ...placeOf(el, "memAccess") },
      );
    }
    cell.memAccess = accessValue;
  }
  const discard = yesNo(el, "discard");
  if (discard !== undefined) cell.discard = discard;
  const caches = el.all("cache").map(parseNumaCache);
  if (caches.length > 0) cell.caches = caches;
  const dist = el.child("distances");
  if (dist) {
    cell.distances = dist.all("sibling").map((s) => {
      const sibling = reqUInt(s, "id", { hex: false, max: 0xffff });
      if (sibling >= count) {
        throw new VirtError("DOMAIN_NUMA_SIBLING_UNKNOWN", { sibling, cell: id }, { ...placeOf(s, "id") });
      }
      return { id: sibling, value: reqUInt(s, "value", { hex: false, min: 10, max: 255 }) };
    });
  }
  return cell;
}

/** A cell's `<cache>` (virNumaCacheParse): size scaled to KiB, line to bytes. */
function parseNumaCache(el: XmlElement): NumaCache {
  const level = reqUInt(el, "level", { hex: false });
  const associativity = reqEnum(el, "associativity", ["none", "direct", "full"] as const);
  const policy = reqEnum(el, "policy", ["none", "writeback", "writethrough"] as const);
  const sizeEl = el.child("size");
  if (!sizeEl) throw missingChild(el, "size");
  const sizeValue = reqStr(sizeEl, "value");
  const size = toKiB(sizeValue, sizeEl.attr("unit"));
  if (size === undefined) throw invalidAttr(sizeEl, "value", sizeValue, "expected a size");
  let line = 0;
  const lineEl = el.child("line");
  if (lineEl) {
    const v = reqStr(lineEl, "value");
    const b = toBytes(v, lineEl.attr("unit"));
    if (b === undefined) throw invalidAttr(lineEl, "value", v, "expected a size");
    line = b;
  }
  return { level, associativity, policy, size, line };
}

/** `<interconnects>`' latencies and bandwidths in document order (bandwidth scaled to KiB). */
function parseInterconnects(el: XmlElement, cells: readonly NumaCell[]): NumaInterconnect[] {
  const out: NumaInterconnect[] = [];
  for (const c of el.children) {
    if (c.name !== "latency" && c.name !== "bandwidth") continue;
    const initiator = reqUInt(c, "initiator", { hex: false });
    const target = reqUInt(c, "target", { hex: false });
    const cache = uintAttr(c, "cache", { hex: false }) ?? 0;
    const type = reqEnum(c, "type", ["access", "read", "write"] as const);
    const raw = reqStr(c, "value");
    const value = c.name === "bandwidth" ? toKiB(raw, c.attr("unit")) : parseUInt(raw, false);
    if (value === undefined) throw invalidAttr(c, "value", raw, "expected a non-negative number");
    if (initiator >= cells.length || target >= cells.length)
      throw structural(c, `'${c.name}' names a NUMA cell that does not exist`);
    if (cache > 0 && !(cells.find((x) => x.id === target)?.caches ?? []).some((k) => k.level === cache))
      throw structural(c, `'cache' of '${c.name}' names a cache level the target cell does not have`);
    out.push({ kind: c.name, initiator, target, cache, type, value });
  }
  return out;
}

/**
 * libvirt's distance table (virDomainNumaDefNodeDistanceParseXML): a cell that has distances,
 * or is named as a sibling, gets its local distance 10; a distance given one way is taken the
 * other way too unless that one is given; each cell's list is written by sibling id. Cells are
 * read in document order, as libvirt does.
 */
function fillNumaDistances(cells: NumaCell[]): void {
  const table = new Map<number, Map<number, number>>();
  const row = (id: number): Map<number, number> => {
    let r = table.get(id);
    if (!r) {
      r = new Map([[id, 10]]);
      table.set(id, r);
    }
    return r;
  };
  for (const c of cells) {
    for (const d of c.distances ?? []) {
      row(c.id).set(d.id, d.value);
      const back = row(d.id);
      if (!back.has(c.id)) back.set(c.id, d.value);
    }
  }
  for (const c of cells) {
    const r = table.get(c.id);
    if (r) c.distances = [...r].sort((a, b) => a[0] - b[0]).map(([id, value]) => ({ id, value }));
  }
}

export function parseCpu(el: XmlElement): CpuDef {
  const modelEl = el.child("model");
  const cpu: CpuDef = { mode: enumAttr(el, "mode", MODES) ?? "custom", features: [] };
  const modelName = modelEl?.content;
  if (cpu.mode === "custom") {
    const match = enumAttr(el, "match", ["minimum", "exact", "strict"] as const);
    if (match) cpu.match = match;
    else if (modelName) cpu.match = "exact";
  }
  const check = enumAttr(el, "check", ["none", "partial", "full"] as const);
  if (check) cpu.check = check;
  const migratable = onOff(el, "migratable");
  if (migratable !== undefined) cpu.migratable = migratable;
  const df = onOff(el, "deprecated_features");
  if (df !== undefined) cpu.deprecated_features = df;
  if (modelEl) {
    cpu.model = {};
    if (modelName) cpu.model.name = modelName;
    const fallback = enumAttr(modelEl, "fallback", ["allow", "forbid"] as const);
    cpu.model.fallback = fallback ?? "allow";
    const vid = str(modelEl, "vendor_id");
    if (vid !== undefined) {
      if (!/^[\x20-\x7e]{12}$/.test(vid))
        throw invalidAttr(modelEl, "vendor_id", vid, "expected exactly 12 printable characters");
      cpu.model.vendor_id = vid;
    }
  }
  const vendor = el.childText("vendor");
  if (vendor !== undefined) {
    if (!modelName) throw structural(el, "CPU vendor specified without CPU model");
    cpu.vendor = vendor;
  }
  const topo = el.child("topology");
  if (topo) cpu.topology = parseTopology(topo);
  const cache = el.child("cache");
  if (cache) {
    const level = uintAttr(cache, "level", { hex: false, min: 1, max: 3 });
    cpu.cache = { mode: reqEnum(cache, "mode", ["emulate", "passthrough", "disable"] as const) };
    if (level !== undefined) cpu.cache.level = level;
  }
  const mpa = el.child("maxphysaddr");
  if (mpa) {
    cpu.maxphysaddr = parseMaxPhysAddr(mpa);
    if (cpu.maxphysaddr.mode === "passthrough" && cpu.mode !== "host-passthrough") {
      throw unsupported(
        mpa,
        "CPU maximum physical address bits mode 'passthrough' can only be used with 'host-passthrough' CPUs",
      );
    }
  }
  const seen = new Set<string>();
  for (const f of el.all("feature")) cpu.features.push(parseFeature(f, seen));
  if (cpu.features.length > 0 && cpu.mode === "custom" && !modelName) {
    throw structural(el, "Non-empty feature list specified without CPU model");
  }
  const numa = el.child("numa");
  if (numa) {
    const ids = new Set<number>();
    const els = numa.all("cell");
    const parsed = els.map((c, i) => parseCell(c, i, ids, els.length));
    fillNumaDistances(parsed);
    const cells = parsed.sort((a, b) => a.id - b.id);
    if (cells.length === 0) throw structural(numa, "<numa> needs at least one <cell>");
    cpu.numa = { cells };
    const ic = numa.child("interconnects");
    if (ic) {
      const interconnects = parseInterconnects(ic, cells);
      if (interconnects.length > 0) cpu.numa.interconnects = interconnects;
    }
  }
  return cpu;
}
