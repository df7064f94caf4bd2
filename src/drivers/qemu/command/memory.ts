/**
 * Guest memory: `-m`, the machine's default RAM backend, per-NUMA-cell backends and `-numa`,
 * memory devices (dimm, nvdimm, virtio-mem, virtio-pmem) and their backends, hugepage mounts,
 * shared/private access, preallocation and host NUMA binding (`host-nodes`/`policy`).
 */
import type { MemoryDeviceDef, NumaCache, NumaMode } from "../../../conf/domain/types.ts";
import { parseBitmap } from "../../../conf/domain/bitmap.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail } from "./build.ts";
import { Props } from "./escape.ts";

/** libvirt aligns guest memory to 1 MiB on x86 (256 MiB on ppc64). */
export function memoryAlignmentKiB(b: Build): number {
  return b.arch.startsWith("ppc64") ? 256 * 1024 : 1024;
}

/** Memory modules (dimm, nvdimm...) are aligned to 2 MiB on x86. */
export function memoryModuleAlignmentKiB(b: Build): number {
  return b.arch.startsWith("ppc64") ? 256 * 1024 : 2048;
}

export function alignUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}

export function numaCells(b: Build): readonly {
  id: number;
  cpus?: string;
  memory: number;
  memAccess?: "shared" | "private";
  discard?: boolean;
  distances?: { id: number; value: number }[];
  caches?: readonly NumaCache[];
}[] {
  const cells = b.def.cpu?.numa?.cells ?? [];
  return [...cells].sort((x, y) => x.id - y.id);
}

export function cellMemoryKiB(b: Build, index: number): number {
  return alignUp(numaCells(b)[index]?.memory ?? 0, memoryAlignmentKiB(b));
}

/** Initial memory after libvirt's start-time alignment (KiB). */
export function initialMemoryKiB(b: Build): number {
  const cells = numaCells(b);
  if (cells.length > 0) {
    let sum = 0;
    for (let i = 0; i < cells.length; i++) sum += cellMemoryKiB(b, i);
    return sum;
  }
  return alignUp(b.def.memory, memoryAlignmentKiB(b));
}

/**
 * libvirt's start-time check that the memory sizes still fit once aligned (NUMA cells, initial
 * and maximum memory, then memory modules): a size above LLONG_MAX bytes is refused.
 */
export function checkAlignedMemorySizes(b: Build): void {
  const max = Number.MAX_SAFE_INTEGER; // LLONG_MAX >> 10 KiB
  const over = (kib: number, align: number): boolean => alignUp(kib, align) > max;
  const align = memoryAlignmentKiB(b);
  numaCells(b).forEach((c, i) => {
    if (over(c.memory, align))
      fail("QEMU_CMD_MEMORY_ALIGN_OVERFLOW", { what: `memory size of NUMA node '${i}'` });
  });
  if (initialMemoryKiB(b) > max) fail("QEMU_CMD_MEMORY_ALIGN_OVERFLOW", { what: "initial memory size" });
  if (over(b.def.maxMemory?.size ?? 0, align))
    fail("QEMU_CMD_MEMORY_ALIGN_OVERFLOW", { what: "maximum memory size" });
  b.def.devices.memories.forEach((m, i) => {
    if (m.model !== "nvdimm" && over(m.target.size, memoryModuleAlignmentKiB(b)))
      fail("QEMU_CMD_MEMORY_ALIGN_OVERFLOW", { what: `size of memory module '${i}'` });
  });
}

export function hasMemoryHotplug(b: Build): boolean {
  return (b.def.maxMemory?.size ?? 0) > 0;
}

const POLICY: Record<NumaMode, string> = {
  strict: "bind",
  preferred: "preferred",
  interleave: "interleave",
  restrictive: "restrictive",
};

function systemPageSizeKiB(b: Build): number {
  return b.ctx.systemPageSizeKiB ?? 4;
}

function defaultHugepageSize(b: Build): number {
  const mounts = b.ctx.hugetlbfs;
  if (mounts.length === 0) return fail("QEMU_CMD_HUGETLBFS_MISSING", {});
  return (mounts.find((m) => m.default) ?? mounts[0]!).sizeKiB;
}

/** Path below the hugetlbfs mount of `pagesize` where this domain's memory files go. */
export function hugepagePath(b: Build, pagesize: number): string {
  const mounts = b.ctx.hugetlbfs;
  if (mounts.length === 0) return fail("QEMU_CMD_HUGETLBFS_MISSING", {});
  const m = mounts.find((x) => x.sizeKiB === pagesize);
  if (!m) {
    return fail(
      "QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE",
      { size: pagesize, available: mounts.map((x) => `${x.sizeKiB} KiB`).join(", ") },
      { xpath: "/domain/memoryBacking/hugepages", allowed: mounts.map((x) => `${x.sizeKiB}`) },
    );
  }
  return `${m.path}/${b.ctx.paths.hugepageSubdir}`;
}

interface MemSpec {
  /** Backend alias (`pc.ram`, `ram-node0`, `memdimm0`). */
  alias: string;
  sizeKiB: number;
  /** Guest NUMA node, or -1. */
  targetNode: number;
  device?: MemoryDeviceDef;
}

interface PageInfo {
  pagesize: number;
  needHugepage: boolean;
  useHugepage: boolean;
  prealloc: boolean;
}

function pageInfo(b: Build, mem: MemSpec): PageInfo {
  const dev = mem.device;
  let pagesize = 0;
  let nvdimmPath: string | undefined;
  if (dev?.model === "dimm" || dev?.model === "virtio-mem") pagesize = dev.source?.pagesize ?? 0;
  if (dev?.model === "nvdimm" || dev?.model === "virtio-pmem") nvdimmPath = dev.source?.path;
  let needHugepage = pagesize !== 0;
  let useHugepage = pagesize !== 0;
  const hp = b.def.memoryBacking?.hugepages;
  if (pagesize === 0 && hp) {
    const pages = hp.pages.length > 0 ? hp.pages : [{ size: 0, nodeset: undefined }];
    let master: { size: number } | undefined;
    let found: { size: number } | undefined;
    for (const p of pages) {
      if (p.nodeset === undefined) {
        master = p;
        continue;
      }
      if (mem.targetNode < 0) continue;
      if ((parseBitmap(p.nodeset) ?? []).includes(mem.targetNode)) {
        needHugepage = true;
        found = p;
        break;
      }
    }
    const chosen = found ?? master;
    if (chosen) {
      pagesize = chosen.size;
      useHugepage = true;
    }
  }
  if (pagesize === systemPageSizeKiB(b)) {
    pagesize = 0;
    needHugepage = false;
    useHugepage = false;
  } else if (useHugepage && pagesize === 0) {
    pagesize = defaultHugepageSize(b);
  }
  let prealloc = b.def.memoryBacking?.allocation?.mode === "immediate";
  if (nvdimmPath !== undefined) {
    if (dev?.model === "nvdimm" && dev.source?.pmem !== true) prealloc = true;
  } else if (useHugepage) {
    prealloc = true;
  }
  return { pagesize, needHugepage, useHugepage, prealloc };
}

function numatuneNodeset(b: Build, targetNode: number): number[] | undefined {
  const nt = b.def.numatune;
  if (!nt) return undefined;
  if (targetNode >= 0) {
    const mn = nt.memnodes.find((m) => m.cellid === targetNode);
    if (mn) return parseBitmap(mn.nodeset);
  }
  if (nt.memory?.placement === "auto") return b.ctx.autoNodeset ? [...b.ctx.autoNodeset] : undefined;
  return nt.memory?.nodeset !== undefined ? parseBitmap(nt.memory.nodeset) : undefined;
}

function numatuneMode(b: Build, targetNode: number): NumaMode {
  const nt = b.def.numatune;
  const mn = targetNode >= 0 ? nt?.memnodes.find((m) => m.cellid === targetNode) : undefined;
  return mn?.mode ?? nt?.memory?.mode ?? "strict";
}

function checkHostNodes(b: Build, nodes: readonly number[], element: string): void {
  const host = b.ctx.hostNumaNodes;
  if (!host) return;
  for (const n of nodes) {
    if (!host.includes(n)) {
      fail("QEMU_CMD_NUMA_NODE_UNAVAILABLE", { node: n }, { element, available: host.join(",") || "none" });
    }
  }
}

export interface BackendResult {
  props: Props;
  /** false when plain `-m`/`-numa mem=` would give the same guest (libvirt's rc 1). */
  needed: boolean;
  nodemask?: number[];
}

/** libvirt's qemuBuildMemoryBackendProps. */
export function memoryBackendProps(
  b: Build,
  mem: MemSpec,
  force: boolean,
  systemMemory: boolean,
): BackendResult {
  const dev = mem.device;
  const def = b.def;
  const cells = numaCells(b);
  let access = dev?.access;
  let discard = dev?.discard;
  if (mem.targetNode >= 0) {
    const cell = cells[mem.targetNode];
    access ??= cell?.memAccess;
    discard ??= cell?.discard;
  }
  access ??= def.memoryBacking?.access?.mode;
  discard ??= def.memoryBacking?.discard;
  const mode = numatuneMode(b, mem.targetNode);
  const { pagesize, needHugepage, useHugepage, prealloc } = pageInfo(b, mem);
  const nodeSpecified =
    mem.targetNode >= 0 && (def.numatune?.memnodes.some((m) => m.cellid === mem.targetNode) ?? false);
  const source = def.memoryBacking?.source?.type;

  const props = new Props();
  let nodemask: number[] | undefined;
  let nvdimmPath: string | undefined;
  if (
    (dev?.model === "dimm" || dev?.model === "virtio-mem" || dev?.model === "sgx-epc") &&
    dev.source?.nodemask !== undefined
  ) {
    nodemask = parseBitmap(dev.source.nodemask);
  }
  if (dev?.model === "nvdimm" || dev?.model === "virtio-pmem") nvdimmPath = dev.source?.path;
  const hasSourceNodes = nodemask !== undefined;

  let backendType = "memory-backend-file";
  let disableCanonicalPath = false;
  if (dev?.model === "sgx-epc") {
    backendType = "memory-backend-epc";
  } else if (nvdimmPath === undefined && source === "memfd") {
    backendType = "memory-backend-memfd";
    if (useHugepage) props.set("hugetlb", true).set("hugetlbsize", pagesize * 1024);
    if (access) props.set("share", access === "shared");
    if (systemMemory) disableCanonicalPath = true;
  } else if (useHugepage || nvdimmPath !== undefined || access !== undefined || source === "file") {
    let memPath: string;
    if (nvdimmPath !== undefined) memPath = nvdimmPath;
    else if (useHugepage) memPath = hugepagePath(b, pagesize);
    // a memory device's file is named after the device, not its backend (memdimm0 → dimm0)
    else memPath = `${b.ctx.paths.memoryDir}/${dev?.alias ?? mem.alias}`;
    props.set("mem-path", memPath);
    if (nvdimmPath === undefined) props.opt("discard-data", discard);
    if (access) props.set("share", access === "shared");
    if (systemMemory) disableCanonicalPath = true;
  } else {
    backendType = "memory-backend-ram";
  }

  if (disableCanonicalPath && b.has("memory-backend-file.x-use-canonical-path-for-ramblock-id")) {
    props.set("x-use-canonical-path-for-ramblock-id", false);
  }

  if (dev?.model === "virtio-mem") {
    if (b.has("memory-backend-file.reserve")) props.set("reserve", false);
  } else {
    // SGX EPC memory is always preallocated (libvirt's memory-backend-epc)
    props.onlyTrue("prealloc", prealloc || dev?.model === "sgx-epc");
    props.pos("prealloc-threads", def.memoryBacking?.allocation?.threads);
  }
  props.set("size", BigInt(mem.sizeKiB) * 1024n);
  if (dev?.model === "nvdimm") {
    props.pos("align", (dev.source?.alignsize ?? 0) * 1024);
    if (dev.source?.pmem) {
      if (!b.has("memory-backend-file.pmem")) {
        fail("QEMU_CMD_CAPABILITY_MISSING", {
          element: "nvdimm pmem",
          flag: "memory-backend-file.pmem",
          binary: b.ctx.caps.emulator,
        });
      }
      props.set("pmem", true);
    }
  }

  if (!hasSourceNodes) nodemask = numatuneNodeset(b, mem.targetNode);
  if (nodemask) {
    checkHostNodes(b, nodemask, `memory backend ${mem.alias}`);
    if (mode !== "restrictive") props.set("host-nodes", nodemask).set("policy", POLICY[mode]);
  }

  const needed =
    needHugepage ||
    hasSourceNodes ||
    nodeSpecified ||
    nvdimmPath !== undefined ||
    access !== undefined ||
    source === "file" ||
    source === "memfd" ||
    force;
  if (needed && backendType === "memory-backend-memfd" && !b.has("memory-backend-memfd")) {
    fail("QEMU_CMD_CAPABILITY_MISSING", {
      element: "memoryBacking source type 'memfd'",
      flag: "memory-backend-memfd",
      binary: b.ctx.caps.emulator,
    });
  }
  props.prepend("id", mem.alias).prepend("qom-type", backendType);
  return { props, needed, nodemask };
}

/**
 * `thread-context` object for preallocation bound to host nodes; adds `prealloc-context`. When
 * the emulator is pinned (`<vcpu cpuset=>`), the threads stay on the pinned CPUs' nodes.
 */
function threadContext(b: Build, mem: Props, nodemask: number[] | undefined): Props | undefined {
  if (!b.has("thread-context") || !nodemask) return undefined;
  if (mem.get("prealloc") !== true) return undefined;
  const pin = b.def.vcpu.cpuset !== undefined ? parseBitmap(b.def.vcpu.cpuset) : undefined;
  const cpuNode = b.ctx.hostCpuNode;
  if (pin && cpuNode) {
    const pinned = new Set(pin.map((c) => cpuNode(c)).filter((n): n is number => n !== undefined));
    nodemask = nodemask.filter((n) => pinned.has(n));
    if (nodemask.length === 0) return undefined;
  }
  const memId = mem.get("id");
  const id = `tc-${typeof memId === "string" ? memId : ""}`;
  mem.set("prealloc-context", id);
  return new Props().set("qom-type", "thread-context").set("id", id).set("node-affinity", nodemask);
}

function emitBackend(b: Build, r: BackendResult): void {
  const tc = threadContext(b, r.props, r.nodemask);
  if (tc) b.addJson("-object", tc);
  b.addJson("-object", r.props);
}

/** Legacy `-mem-prealloc`/`-mem-path` for QEMUs without a default RAM id. */
function buildMemPath(b: Build): void {
  const hp = b.def.memoryBacking?.hugepages;
  let memPath: string | undefined;
  let prealloc = false;
  const first = hp ? (hp.pages[0]?.size ?? 0) : undefined;
  if (first !== undefined && first !== systemPageSizeKiB(b)) {
    memPath = hugepagePath(b, first === 0 ? defaultHugepageSize(b) : first);
    prealloc = true;
  } else if (b.def.memoryBacking?.source?.type === "file") {
    memPath = `${b.ctx.paths.memoryDir}/ram`;
  }
  if (b.def.memoryBacking?.allocation?.mode === "immediate") prealloc = true;
  if (prealloc) b.add("-mem-prealloc");
  if (memPath !== undefined) b.add("-mem-path", memPath);
}

/** `-m`, the default RAM backend and `-overcommit`. */
export function buildMemory(b: Build): void {
  let size = initialMemoryKiB(b);
  const hotplug = hasMemoryHotplug(b);
  if (!hotplug) size = size - (size % 512);
  let m = `size=${size}k`;
  if (hotplug) {
    const slots = b.def.maxMemory?.slots ?? 0;
    if (slots > 0) m += `,slots=${slots}`;
    m += `,maxmem=${alignUp(b.def.maxMemory?.size ?? 0, memoryAlignmentKiB(b))}k`;
  }
  b.add("-m", m);
  const ramId = b.machine?.defaultRAMid;
  const hasNuma = numaCells(b).length > 0;
  if (ramId !== undefined) {
    if (!hasNuma) {
      emitBackend(
        b,
        memoryBackendProps(b, { alias: ramId, sizeKiB: initialMemoryKiB(b), targetNode: -1 }, false, true),
      );
    }
  } else if (!hasNuma) {
    buildMemPath(b);
  }
  b.add("-overcommit", `mem-lock=${b.def.memoryBacking?.locked === true ? "on" : "off"}`);
}

/** Whether the guest NUMA has HMAT data: memory side caches or interconnects. */
function hasHmat(b: Build): boolean {
  return (
    (b.def.cpu?.numa?.interconnects?.length ?? 0) > 0 || numaCells(b).some((c) => (c.caches?.length ?? 0) > 0)
  );
}

/**
 * The initiator of a NUMA node for HMAT (virDomainNumaGetNodeInitiator): itself when it has
 * vCPUs, else the node with the lowest latency to it, else the one with the largest bandwidth;
 * a node nothing reaches is given node 0, as libvirt's output shows.
 */
function nodeInitiator(b: Build, node: number): number {
  const cell = numaCells(b)[node];
  if (cell?.cpus !== undefined && cell.cpus !== "") return node;
  let latency: { value: number; initiator: number } | undefined;
  let bandwidth: { value: number; initiator: number } | undefined;
  for (const l of b.def.cpu?.numa?.interconnects ?? []) {
    if (l.target !== node) continue;
    if (l.kind === "latency" && (!latency || l.value < latency.value)) latency = l;
    if (l.kind === "bandwidth" && l.value > (bandwidth?.value ?? 0)) bandwidth = l;
  }
  return latency?.initiator ?? bandwidth?.initiator ?? 0;
}

const HMAT_HIERARCHY = ["memory", "first-level", "second-level", "third-level"];
const HMAT_POLICY: Record<string, string> = {
  none: "none",
  writeback: "write-back",
  writethrough: "write-through",
};

/** `-numa hmat-lb` for each interconnect and `-numa hmat-cache` for each cell's cache. */
function buildHmat(b: Build): void {
  for (const l of b.def.cpu?.numa?.interconnects ?? []) {
    const hierarchy = HMAT_HIERARCHY[l.cache] ?? `level-${l.cache}`;
    const data = `${l.type}-${l.kind}`;
    const value = l.kind === "latency" ? `latency=${l.value}` : `bandwidth=${l.value}K`;
    b.add(
      "-numa",
      `hmat-lb,initiator=${l.initiator},target=${l.target},hierarchy=${hierarchy},data-type=${data},${value}`,
    );
  }
  numaCells(b).forEach((c, i) => {
    for (const k of c.caches ?? []) {
      let arg = `hmat-cache,node-id=${i},size=${k.size}K,level=${k.level},associativity=${k.associativity},policy=${HMAT_POLICY[k.policy]}`;
      if (k.line) arg += `,line=${k.line}`;
      b.add("-numa", arg);
    }
  });
}

/** `-numa` nodes with their memory backends. */
export function buildNuma(b: Build): void {
  const cells = numaCells(b);
  if (cells.length === 0) return;
  let needBackend = b.machine?.numaMemSupported !== true;
  const backends = cells.map((_, i) => {
    const r = memoryBackendProps(
      b,
      { alias: `ram-node${i}`, sizeKiB: cellMemoryKiB(b, i), targetNode: i },
      false,
      false,
    );
    if (r.needed) needBackend = true;
    return r;
  });
  if (!needBackend) buildMemPath(b);
  if (!cells.some((c) => c.cpus !== undefined && c.cpus !== "")) {
    fail("QEMU_CMD_UNSUPPORTED", {
      element: "guest NUMA",
      reason: "at least one NUMA node has to have CPUs",
    });
  }
  cells.forEach((cell, i) => {
    if (needBackend) emitBackend(b, backends[i]!);
    let arg = `node,nodeid=${i}`;
    if (cell.cpus !== undefined && cell.cpus !== "") {
      for (const part of cell.cpus.split(",")) arg += `,cpus=${part}`;
    }
    if (hasHmat(b)) arg += `,initiator=${nodeInitiator(b, i)}`;
    if (needBackend) arg += `,memdev=ram-node${i}`;
    else arg += `,mem=${Math.floor(cellMemoryKiB(b, i) / 1024)}`;
    b.add("-numa", arg);
  });
  if (cells.some((c) => (c.distances ?? []).length > 0)) {
    cells.forEach((c, i) => {
      cells.forEach((d, j) => {
        const v = c.distances?.find((x) => x.id === d.id)?.value ?? (i === j ? 10 : 20);
        b.add("-numa", `dist,src=${i},dst=${j},val=${v}`);
      });
    });
  }
  if (hasHmat(b)) buildHmat(b);
}

/** libvirt's start-time slot numbers for DIMMs of a domain with memory hotplug (mutates `def`). */
export function assignMemorySlots(b: Build): void {
  if (!hasMemoryHotplug(b)) return;
  const mems = b.def.devices.memories;
  const used = new Set<number>();
  for (const m of mems)
    if (m.address?.type === "dimm" && m.address.slot !== undefined) used.add(m.address.slot);
  for (const m of mems) {
    if (m.model !== "dimm" && m.model !== "nvdimm") continue;
    if (m.address?.type === "dimm" && m.address.slot !== undefined) continue;
    let slot = 0;
    while (used.has(slot)) slot++;
    used.add(slot);
    m.address = {
      type: "dimm",
      slot,
      ...(m.address?.type === "dimm" && m.address.base !== undefined ? { base: m.address.base } : {}),
    };
  }
}

const MEMDEV_DRIVERS: Record<string, string> = {
  dimm: "pc-dimm",
  nvdimm: "nvdimm",
  "virtio-pmem": "virtio-pmem-pci",
  "virtio-mem": "virtio-mem-pci",
};

/** Memory devices and their backends. */
export function buildMemoryDevices(b: Build): void {
  const align = memoryModuleAlignmentKiB(b);
  for (const dev of b.def.devices.memories) {
    const alias = dev.alias ?? "";
    const size = dev.model === "nvdimm" ? dev.target.size : alignUp(dev.target.size, align);
    const r = memoryBackendProps(
      b,
      { alias: `mem${alias}`, sizeKiB: alignUp(size, align), targetNode: dev.target.node ?? -1, device: dev },
      true,
      false,
    );
    emitBackend(b, r);
    if (dev.model === "sgx-epc") continue;
    const driver = MEMDEV_DRIVERS[dev.model];
    if (!driver)
      fail("QEMU_CMD_UNSUPPORTED", {
        element: `memory device model '${dev.model}'`,
        reason: "QEMU has no such device",
      });
    let prealloc = false;
    if (dev.model === "virtio-mem" && b.has("virtio-mem-pci.prealloc")) {
      prealloc = pageInfo(b, {
        alias,
        sizeKiB: size,
        targetNode: dev.target.node ?? -1,
        device: dev,
      }).prealloc;
    }
    const p = new Props()
      .set("driver", driver)
      .opt("node", dev.target.node !== undefined && dev.target.node >= 0 ? dev.target.node : undefined)
      .pos("label-size", (dev.target.labelSize ?? 0) * 1024)
      .pos("block-size", (dev.target.block ?? 0) * 1024)
      .pos("requested-size", (dev.target.requested ?? 0) * 1024)
      .opt("uuid", dev.uuid);
    if (dev.target.readonly === true) p.set("unarmed", true);
    p.set("memdev", `mem${alias}`).onlyTrue("prealloc", prealloc).pos("memaddr", dev.target.address);
    if (dev.target.dynamicMemslots !== undefined) {
      if (!b.has("virtio-mem-pci.dynamic-memslots")) {
        fail("QEMU_CMD_CAPABILITY_MISSING", {
          element: "virtio-mem dynamicMemslots",
          flag: "virtio-mem-pci.dynamic-memslots",
          binary: b.ctx.caps.emulator,
        });
      }
      p.set("dynamic-memslots", dev.target.dynamicMemslots);
    }
    p.set("id", alias);
    addAddressProps(b, p, dev, `memory device ${alias}`);
    b.addJson("-device", p);
  }
}

/** `nvdimm=on` and `sgx-epc` bits of `-machine`. */
export function machineMemoryParams(b: Build): string {
  let s = "";
  if (b.def.devices.memories.some((m) => m.model === "nvdimm")) s += ",nvdimm=on";
  if (hasHmat(b)) {
    if (!b.has("numa.hmat"))
      fail("QEMU_CMD_CAPABILITY_MISSING", {
        element: "HMAT",
        flag: "numa.hmat",
        binary: b.ctx.caps.emulator,
      });
    s += ",hmat=on";
  }
  let epc = 0;
  for (const m of b.def.devices.memories) {
    if (m.model !== "sgx-epc") continue;
    const node = m.target.node !== undefined && m.target.node >= 0 ? m.target.node : 0;
    s += `,sgx-epc.${epc}.memdev=mem${m.alias ?? ""},sgx-epc.${epc}.node=${node}`;
    epc++;
  }
  return s;
}
