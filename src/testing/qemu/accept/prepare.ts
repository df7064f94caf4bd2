/**
 * Turns a corpus definition into one that can start on this machine without touching host
 * resources: every path that names a host resource is swapped for a temporary one *in the
 * definition* (disk images created with qemu-img, block devices become files, shared dirs,
 * sockets, kernel/initrd), and what the domain needs from the host is checked against facts.
 * Each swap is recorded as a human-readable note for the test's diagnostics.
 */
import { copyFileSync, existsSync, mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChrDef, ChrSource, DomainDef, FilesystemDef } from "../../../conf/domain/types.ts";
import { parseBitmap } from "../../../conf/domain/bitmap.ts";
import type { HostFacts } from "./host-facts.ts";
import { missingFsdriver } from "./host-facts.ts";
import { run } from "./run.ts";

/** A reason a case cannot run on this machine: a stable code (for the expectation list) and text. */
export interface Need {
  readonly code: NeedCode;
  readonly reason: string;
  /** What exactly is lacking, where QEMU's own error names it (a device or fsdriver name). */
  readonly subject?: string;
}

export type NeedCode =
  | "kvm"
  | "sev"
  | "vfio"
  | "usb-host"
  | "openvswitch"
  | "vhost-net"
  | "hugepage-size"
  | "hugepage-amount"
  | "hugepage-pool"
  | "host-numa"
  | "qemu-device"
  | "qemu-fsdriver"
  | "memory-amount"
  | "negative";

/** Per-case scratch space: unique names under one temp dir. */
export class TempArea {
  private n = 0;
  constructor(readonly root: string) {}

  /** A fresh path (not created) `<root>/<stem>-<n><ext>`. */
  path(stem: string, ext = ""): string {
    this.n++;
    return join(this.root, `${stem.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 24)}-${this.n}${ext}`);
  }

  dir(stem: string): string {
    const p = this.path(stem);
    mkdirSync(p, { recursive: true });
    return p;
  }

  emptyFile(stem: string, ext = ""): string {
    const p = this.path(stem, ext);
    writeFileSync(p, "");
    return p;
  }
}

/** Disk image formats qemu-img can create empty; others become raw. */
const CREATABLE_FORMATS = new Set(["raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vpc", "vhdx"]);

export interface VirtiofsShare {
  /** Device alias (`fs0`) for driver-managed daemons; undefined for an external socket. */
  readonly alias: string | undefined;
  readonly socket: string;
  readonly sourceDir: string;
}

export interface Prepared {
  /** What was changed, for the diagnostics. */
  readonly notes: string[];
  /** virtiofsd daemons to start before QEMU. */
  readonly virtiofs: VirtiofsShare[];
  /** Addresses QEMU listens on that must exist on `lo` in the namespace. */
  readonly listenAddresses: string[];
  /** Unix socket paths QEMU connects to as a client: the test listens on them first. */
  readonly unixListeners: string[];
}

export interface PrepareOptions {
  readonly qemu: string;
  /** The tiny guest's kernel and initrd, if available. */
  readonly guest?: { kernel: string; initrd: string };
  /** Domain runtime dir (virtiofsd sockets of driver-managed shares go there). */
  readonly domainDir: string;
  /** A folder where each empty image (format, size) is made once and then copied. */
  readonly imageTemplates?: string;
}

const templates = new Map<string, Promise<string>>();

/** An empty `fmt` image of `size` at `path`: made with qemu-img, or copied from a template. */
async function emptyImage(
  path: string,
  fmt: string,
  size: string,
  templateDir: string | undefined,
): Promise<void> {
  if (templateDir === undefined) {
    await run(["qemu-img", "create", "-q", "-f", fmt, path, size]);
    return;
  }
  const t = join(templateDir, `empty-${size}.${fmt}`);
  let made = templates.get(t);
  if (made === undefined) {
    made = (async () => {
      mkdirSync(templateDir, { recursive: true });
      if (!existsSync(t)) await run(["qemu-img", "create", "-q", "-f", fmt, t, size]);
      return t;
    })();
    templates.set(t, made);
  }
  // copy_file_range keeps the holes of a sparse raw image
  copyFileSync(await made, path);
}

/** A zero-filled file of `bytes` (sparse): firmware flash must be a non-zero multiple of 4 KiB. */
function zeroFile(path: string, bytes: number): void {
  writeFileSync(path, "");
  truncateSync(path, bytes);
}

function isLocalListen(addr: string): boolean {
  return (
    addr === "" ||
    addr === "127.0.0.1" ||
    addr === "::1" ||
    addr === "0.0.0.0" ||
    addr === "::" ||
    addr === "localhost"
  );
}

function describeDisk(d: { target: { dev: string } }): string {
  return `disk ${d.target.dev}`;
}

async function swapChr(
  kind: string,
  c: { type: string; source?: ChrSource; log?: { file: string } },
  area: TempArea,
  p: Prepared,
): Promise<void> {
  const s = c.source;
  if (c.log) {
    const f = area.path(`${kind}-log`, ".log");
    p.notes.push(`${kind} log file ${c.log.file} → ${f}`);
    c.log.file = f;
  }
  if (!s) return;
  switch (c.type) {
    case "unix":
      if (s.path !== undefined) {
        const sock = area.path(kind, ".sock");
        p.notes.push(`${kind} unix socket ${s.path} → ${sock}`);
        s.path = sock;
        if (s.mode !== "bind") p.unixListeners.push(sock);
      }
      break;
    case "file":
    case "pipe":
      if (s.path !== undefined) {
        const f = area.path(kind, ".out");
        if (c.type === "pipe") await run(["mkfifo", f]);
        p.notes.push(`${kind} ${c.type} ${s.path} → ${f}`);
        s.path = f;
      }
      break;
    default:
      break;
  }
}

function swapFilesystem(fs: FilesystemDef, area: TempArea, p: Prepared, opts: PrepareOptions): void {
  const src = fs.source ?? (fs.source = {});
  if (src.dir !== undefined) {
    const d = area.dir("share");
    p.notes.push(`filesystem ${fs.target.dir}: source dir ${src.dir} → ${d}`);
    src.dir = d;
  }
  if (src.file !== undefined) {
    const f = area.emptyFile("fsfile");
    p.notes.push(`filesystem ${fs.target.dir}: source file ${src.file} → ${f}`);
    src.file = f;
  }
  if (fs.driver?.type === "virtiofs") {
    if (src.socket !== undefined) {
      const sock = area.path("virtiofsd", ".sock");
      const dir = area.dir("vfs-share");
      p.notes.push(
        `filesystem ${fs.target.dir}: external virtiofsd socket ${src.socket} → ${sock} (the test starts /usr/lib/qemu/virtiofsd on ${dir})`,
      );
      src.socket = sock;
      p.virtiofs.push({ alias: undefined, socket: sock, sourceDir: dir });
    } else {
      const alias = fs.alias ?? `fs${p.virtiofs.length}`;
      const sock = join(opts.domainDir, `${alias}-fs.sock`);
      p.virtiofs.push({ alias, socket: sock, sourceDir: src.dir ?? area.dir("vfs-share") });
      p.notes.push(`filesystem ${fs.target.dir}: virtiofsd started by the test on ${sock}`);
    }
  }
}

/**
 * Swaps host resources in `def` for temporary ones under `area`. Block devices become files
 * (`type='file'`), disk images are created with `qemu-img create -f <format>`.
 */
export async function prepareDefinition(
  def: DomainDef,
  area: TempArea,
  opts: PrepareOptions,
): Promise<Prepared> {
  const p: Prepared = { notes: [], virtiofs: [], listenAddresses: [], unixListeners: [] };
  const d = def.devices;
  if (d.emulator !== undefined && d.emulator !== opts.qemu)
    p.notes.push(`emulator ${d.emulator} → ${opts.qemu}`);
  d.emulator = opts.qemu;

  for (const disk of d.disks) {
    const src = disk.source;
    if (!src) continue;
    const fmtIn = disk.driver?.type ?? "raw";
    const fmt = CREATABLE_FORMATS.has(fmtIn) ? fmtIn : "raw";
    if (disk.type === "block" || disk.type === "file") {
      const old = disk.type === "block" ? src.dev : src.file;
      if (old === undefined) continue;
      const img = area.path(disk.target.dev, `.${fmt}`);
      await emptyImage(img, fmt, disk.device === "cdrom" ? "1M" : "16M", opts.imageTemplates);
      if (disk.type === "block") {
        p.notes.push(
          `${describeDisk(disk)}: block device ${old} → ${fmt} image ${img} (disk switched to type='file')`,
        );
        disk.type = "file";
        delete src.dev;
      } else {
        p.notes.push(`${describeDisk(disk)}: ${old} → ${fmt} image ${img}`);
      }
      src.file = img;
      if (fmt !== fmtIn)
        p.notes.push(`${describeDisk(disk)}: format ${fmtIn} cannot be created empty; image is raw`);
    }
  }

  for (const fs of d.filesystems) swapFilesystem(fs, area, p, opts);

  const chrs: [string, ChrDef[]][] = [
    ["serial", d.serials],
    ["parallel", d.parallels],
    ["console", d.consoles],
    ["channel", d.channels],
  ];
  for (const [kind, list] of chrs) for (const c of list) await swapChr(kind, c, area, p);
  for (const r of d.redirdevs) await swapChr("redirdev", r, area, p);
  for (const r of d.rngs)
    if (r.backend.model === "egd" && r.backend.type !== undefined)
      await swapChr(
        "rng",
        { type: r.backend.type, ...(r.backend.source ? { source: r.backend.source } : {}) },
        area,
        p,
      );

  for (const g of d.graphics) {
    for (const l of g.listens) {
      if (l.type === "socket" && l.socket !== undefined) {
        const sock = area.path(g.type, ".sock");
        p.notes.push(`graphics ${g.type}: listen socket ${l.socket} → ${sock}`);
        if (g.socket === l.socket) g.socket = sock;
        l.socket = sock;
      }
      if (l.type === "address" && l.address !== undefined && !isLocalListen(l.address))
        p.listenAddresses.push(l.address);
    }
    if (g.socket !== undefined && !g.socket.startsWith(area.root)) {
      const sock = area.path(g.type, ".sock");
      p.notes.push(`graphics ${g.type}: socket ${g.socket} → ${sock}`);
      g.socket = sock;
    }
  }

  for (const m of d.memories) {
    if (m.source?.path !== undefined) {
      const f = area.path(m.model, ".mem");
      p.notes.push(`memory ${m.model}: backing path ${m.source.path} → ${f}`);
      m.source.path = f;
    }
  }

  const os = def.os;
  if (os.kernel !== undefined) {
    const k = opts.guest?.kernel ?? area.emptyFile("kernel");
    p.notes.push(`kernel ${os.kernel} → ${k}${opts.guest ? " (tiny test guest)" : " (empty file)"}`);
    os.kernel = k;
  }
  if (os.initrd !== undefined) {
    const i = opts.guest?.initrd ?? area.emptyFile("initrd");
    p.notes.push(`initrd ${os.initrd} → ${i}${opts.guest ? " (tiny test guest)" : " (empty file)"}`);
    os.initrd = i;
  }
  for (const k of ["shim", "dtb"] as const) {
    const v = os[k];
    if (v !== undefined) {
      const f = area.emptyFile(k);
      p.notes.push(`${k} ${v} → ${f} (empty file)`);
      os[k] = f;
    }
  }
  if (os.nvram?.path !== undefined) {
    const f = area.path("nvram");
    zeroFile(f, 128 * 1024);
    p.notes.push(`nvram ${os.nvram.path} → ${f} (128 KiB of zeros)`);
    os.nvram.path = f;
  }
  if (os.loader?.path !== undefined && !existsSync(os.loader.path)) {
    const f = area.path("loader");
    zeroFile(f, 2 * 1024 * 1024);
    p.notes.push(`loader ${os.loader.path} (absent here) → ${f} (2 MiB of zeros; QEMU is never unpaused)`);
    os.loader.path = f;
  }
  for (const t of os.acpiTables ?? []) {
    const f = area.emptyFile("acpi-table");
    p.notes.push(`acpi table ${t.path} → ${f}`);
    t.path = f;
  }
  return p;
}

/** Network XML of an `<interface type='network'>` source (corpus: `"<network>;<port>"`). */
export type NetworkLookup = (network: string) => string | undefined;

function nodesOf(set: string | undefined): number[] {
  return set !== undefined ? (parseBitmap(set) ?? []) : [];
}

/** Huge page sizes (KiB) the definition asks for. */
export function hugepageSizesNeeded(def: DomainDef, facts: HostFacts): number[] {
  const sizes = new Set<number>();
  const hp = def.memoryBacking?.hugepages;
  if (hp) {
    if (hp.pages.length === 0 && facts.defaultHugepageKiB !== undefined) sizes.add(facts.defaultHugepageKiB);
    for (const pg of hp.pages) sizes.add(pg.size);
  }
  for (const m of def.devices.memories) if (m.source?.pagesize !== undefined) sizes.add(m.source.pagesize);
  return [...sizes].sort((a, b) => a - b);
}

/**
 * What the definition needs from this host that the host lacks (KVM for host CPU modes, SEV,
 * VFIO, host USB devices, Open vSwitch, vhost-net, huge page sizes, host NUMA nodes, 9p
 * drivers). Devices QEMU lacks and huge page amounts are checked on the argv (see case.ts).
 */
export async function hostNeeds(
  def: DomainDef,
  facts: HostFacts,
  networkXml: NetworkLookup,
): Promise<Need[]> {
  const needs: Need[] = [];
  const d = def.devices;
  const cpuMode = def.cpu?.mode;
  if (def.type === "kvm" && !facts.kvm && (cpuMode === "host-passthrough" || cpuMode === "host-model")) {
    needs.push({
      code: "kvm",
      reason: `needs KVM: <cpu mode='${cpuMode}'> takes the host CPU, which only KVM provides (KVM does not run a vCPU here)`,
    });
  }
  const ls = def.launchSecurity;
  if (ls && (ls.type === "sev" || ls.type === "sev-snp") && !facts.sev) {
    needs.push({
      code: "sev",
      reason: `needs AMD ${ls.type.toUpperCase()} (launchSecurity): /dev/sev is absent${facts.kvm ? "" : ", and it runs only under KVM"}`,
    });
  }
  const pciHostdevs = d.hostdevs.filter(
    (h) => h.mode === "subsystem" && (h.type === "pci" || h.type === "mdev"),
  );
  const hostdevNics = d.interfaces.filter((i) => i.type === "hostdev");
  if ((pciHostdevs.length > 0 || hostdevNics.length > 0) && !facts.vfio) {
    const what = [
      pciHostdevs.length > 0 ? `${pciHostdevs.length} PCI hostdev(s)` : "",
      hostdevNics.length > 0 ? `${hostdevNics.length} <interface type='hostdev'>` : "",
    ].filter((s) => s !== "");
    needs.push({
      code: "vfio",
      reason: `needs VFIO device assignment for ${what.join(" and ")}: no /dev/vfio/vfio and no IOMMU groups`,
    });
  }
  for (const h of d.hostdevs.filter((x) => x.mode === "subsystem" && x.type === "usb")) {
    const a = h.source.usbAddress;
    if (a) {
      const node = `/dev/bus/usb/${String(a.bus).padStart(3, "0")}/${String(a.device).padStart(3, "0")}`;
      if (!existsSync(node))
        needs.push({
          code: "usb-host",
          reason: `needs host USB device bus ${a.bus} device ${a.device}: ${node} is absent${facts.usbBus ? "" : " (this host has no USB bus)"}`,
        });
    } else if (!facts.usbBus) {
      needs.push({ code: "usb-host", reason: "needs a host USB device: this host has no USB bus" });
    }
  }
  let ovs = d.interfaces.some((i) => i.virtualport?.type === "openvswitch");
  for (const i of d.interfaces) {
    const net = i.type === "network" ? i.source?.network : undefined;
    if (net === undefined) continue;
    const xml = networkXml(net);
    if (xml !== undefined && /<virtualport\s+type=["']openvswitch["']/.test(xml)) ovs = true;
    if (i.driver?.name === "vhost" && !facts.vhostNet)
      needs.push({
        code: "vhost-net",
        reason: "needs vhost-net (<driver name='vhost'/>): /dev/vhost-net is absent",
      });
  }
  if (ovs && !facts.openvswitch)
    needs.push({
      code: "openvswitch",
      reason: "needs Open vSwitch (openvswitch virtualport): ovs-vsctl is not installed",
    });

  const missingSizes = hugepageSizesNeeded(def, facts).filter((s) => !facts.hugepageSizesKiB.includes(s));
  if (missingSizes.length > 0) {
    needs.push({
      code: "hugepage-size",
      reason: `needs ${missingSizes.map((s) => `${s} KiB`).join(", ")} huge pages: the kernel offers ${facts.hugepageSizesKiB.map((s) => `${s} KiB`).join(", ") || "none"}`,
    });
  }

  const wanted = new Set<number>();
  const nt = def.numatune;
  if (nt?.memory && nt.memory.placement !== "auto") for (const n of nodesOf(nt.memory.nodeset)) wanted.add(n);
  for (const mn of nt?.memnodes ?? []) for (const n of nodesOf(mn.nodeset)) wanted.add(n);
  for (const m of d.memories) for (const n of nodesOf(m.source?.nodemask)) wanted.add(n);
  const absent = [...wanted].filter((n) => !facts.numaNodes.includes(n)).sort((a, b) => a - b);
  if (absent.length > 0) {
    needs.push({
      code: "host-numa",
      reason: `needs host NUMA node(s) ${absent.join(",")} (numatune/nodemask): this host has node(s) ${facts.numaNodes.join(",")}`,
    });
  }

  const drivers = new Set<string>();
  for (const fs of d.filesystems) {
    if (fs.type !== "mount" || fs.driver?.type === "virtiofs") continue;
    const t = fs.driver?.type ?? "path";
    if (t === "path") drivers.add("local");
    else if (t === "handle") drivers.add("handle");
  }
  for (const drv of drivers) {
    const why = await missingFsdriver(facts.qemu, drv);
    if (why !== undefined)
      needs.push({
        code: "qemu-fsdriver",
        reason: `needs the 9p '${drv}' fsdriver, which this QEMU lacks (${why})`,
        subject: drv,
      });
  }
  return needs;
}
