/**
 * Per-guest AppArmor confinement, the pure part (what libvirt's virt-aa-helper computes): for a
 * domain definition, the profile `libvirt-<uuid>` (the same name libvirt gives it, so tools and
 * habits that know libvirt's profiles find ours), made of
 *
 * - a static part shared by every guest: the abstraction `tvirt-qemu` (our own rules for what any
 *   QEMU needs: its binary, firmware and ROM folders, /dev/kvm, ptys, /proc and /sys facts), with
 *   a local override `local/abstractions/tvirt-qemu`;
 * - the profile file itself: `#include <tunables/global>`, the profile header, the abstraction,
 *   the guest's files list and a local override `local/libvirt-<uuid>`;
 * - the dynamic part `libvirt-<uuid>.files`: one rule per file the guest needs, with the right
 *   permissions (disk images `rwk`, read-only disks and backing files `rk`, kernel/initrd `r`
 *   plus a silent `deny w`, sockets and character devices `rw`, shared folders recursively).
 *
 * Every path put in a rule is checked first: AppArmor reads `*?[]{}` as globs, `@{` as a
 * variable, `"` and `\` as quoting, so a path holding one of them would grant something else
 * than the file; such paths, relative paths, and paths under system folders (virt-aa-helper's
 * list: /etc, /usr/bin, /sys, ...) are refused with a catalogued error naming the device.
 *
 * Includes of our own files use absolute quoted paths, so the profile parses the same wherever
 * the profiles folder is (`/etc/apparmor.d` for the system daemon, `<root>/etc/apparmor.d` for an
 * embedded driver); only `tunables/global` and `abstractions/base` come from the apparmor package.
 */
import { join } from "node:path";
import type { ChrDef, DiskDef, DomainDef } from "../conf/domain/index.ts";
import { VirtError } from "../util/errors/index.ts";

/** libvirt's profile prefix (AA_PREFIX). */
export const PROFILE_PREFIX = "libvirt-";

/** The name of the shared abstraction (static part). */
export const ABSTRACTION = "tvirt-qemu";

/** Characters virt-aa-helper refuses in a domain name (valid_name), plus control characters. */
export const FORBIDDEN_NAME_CHARS = ["/", "[", "]", "{", "}", "?", "^", ",", '"', "*", "\\"] as const;

/** Characters a path in a rule may not hold: globs, quote, escape (control characters too). */
export const FORBIDDEN_PATH_CHARS = ['"', "\\", "*", "?", "[", "]", "{", "}", "^"] as const;

/** System folders no guest file may be under (virt-aa-helper's valid_path). */
const RESTRICTED = [
  "/bin/",
  "/etc/",
  "/lib",
  "/lost+found/",
  "/proc/",
  "/sbin/",
  "/selinux/",
  "/sys/",
  "/usr/bin/",
  "/usr/lib",
  "/usr/sbin/",
  "/usr/share/",
  "/usr/local/bin/",
  "/usr/local/etc/",
  "/usr/local/lib",
  "/usr/local/sbin/",
];

/** Folders a guest may read but not write: kernels and firmware. */
const RESTRICTED_RW = [
  "/boot/",
  "/vmlinuz",
  "/initrd",
  "/usr/share/edk2/",
  "/usr/share/edk2-ovmf/",
  "/usr/share/OVMF/",
  "/usr/share/ovmf/",
  "/usr/share/AAVMF/",
  "/usr/share/qemu-efi/",
  "/usr/share/qemu-efi-aarch64/",
  "/usr/share/qemu-efi-loongarch64/",
  "/usr/share/qemu-efi-riscv64/",
  "/usr/share/qemu/",
  "/usr/share/seabios/",
  "/usr/lib/u-boot/",
  "/usr/lib/riscv64-linux-gnu/opensbi",
];

/** Allowed whatever the lists above say (PCI device nodes in sysfs). */
const OVERRIDE = ["/sys/devices/pci", "/sys/kernel/config/target/vhost"];

/** One rule of the files list. */
export interface FileRule {
  /** Absolute path (checked), or a glob we generate ourselves (`generated`). */
  readonly path: string;
  /** AppArmor permissions: `r`, `rw`, `rwk`, `rk`, `w`, `rmix`, ... */
  readonly perms: string;
  /** A folder: the rule covers everything below it (`dir/**`) and reading the folder itself. */
  readonly recursive?: boolean;
  /** Read-only file: add a silent `deny ... w` so refused writes do not flood the audit log. */
  readonly denyWrite?: boolean;
  /** What needs it, for the comment after the rule (`disk 'vda'`, `kernel`, ...). */
  readonly what: string;
  /** A path or glob tvirt itself makes (not from the XML): no character or folder checks. */
  readonly generated?: boolean;
  /** A path of the host's own (emulator, runtime files): characters checked, folders not. */
  readonly system?: boolean;
}

/** Facts about a running guest the definition does not hold (from the driver). */
export interface GuestFiles {
  /** The domain's log file (QEMU writes it). */
  readonly logFile?: string;
  /** The runtime folder of this run (`domain-<id>-<name>`: monitor and virtiofs sockets, keys). */
  readonly domainDir?: string;
  /** QEMU's pid file. */
  readonly pidFile?: string;
  /** Folder of automatic unix channel sockets. */
  readonly channelDir?: string;
  /** Folder of file-backed guest memory. */
  readonly memoryDir?: string;
  /** The per-guest folders under hugetlbfs mounts. */
  readonly hugepageDirs?: readonly string[];
  /** Backing chains by disk target (`vda` → its backing files, nearest first). */
  readonly backingChains?: ReadonlyMap<string, readonly string[]>;
  /** IOMMU group numbers of PCI host devices by `dddd:bb:ss.f`. */
  readonly vfioGroups?: ReadonlyMap<string, number>;
  /** swtpm state folders (per TPM). */
  readonly tpmStateDirs?: readonly string[];
  /** Other files, e.g. a disk added by hotplug before the definition holds it. */
  readonly extra?: readonly FileRule[];
}

export interface ProfileOptions {
  /** The profiles folder: `/etc/apparmor.d` (system) or `<root>/etc/apparmor.d` (embedded). */
  readonly dir: string;
  /**
   * Maps a path to the one the kernel sees (symbolic links resolved, like virt-aa-helper's
   * realpath of the longest existing prefix). Default: the path as written.
   */
  readonly resolve?: (path: string) => string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `libvirt-<uuid>`; refuses a UUID that is not in canonical form. */
export function profileName(def: Pick<DomainDef, "name" | "uuid">): string {
  const uuid = def.uuid.toLowerCase();
  if (!UUID_RE.test(uuid)) throw new VirtError("APPARMOR_BAD_UUID", { name: def.name, uuid: def.uuid });
  return `${PROFILE_PREFIX}${uuid}`;
}

/** Where the files of a profiles folder go. */
export interface ProfilePaths {
  /** The shared abstraction. */
  readonly abstraction: string;
  /** Its local override (written by the administrator, never by tvirt). */
  readonly abstractionLocal: string;
  /** Folder of the per-guest profiles (`tvirt/`, beside libvirt's own `libvirt/`). */
  readonly guestDir: string;
}

export function profilePaths(dir: string): ProfilePaths {
  return {
    abstraction: join(dir, "abstractions", ABSTRACTION),
    abstractionLocal: join(dir, "local", "abstractions", ABSTRACTION),
    guestDir: join(dir, "tvirt"),
  };
}

/** The files of one guest's profile. */
export interface GuestProfilePaths {
  readonly name: string;
  /** The profile (what apparmor_parser loads). */
  readonly profile: string;
  /** Its files list (the dynamic part). */
  readonly files: string;
  /** The local override of this guest (administrator's). */
  readonly local: string;
}

export function guestProfilePaths(dir: string, def: Pick<DomainDef, "name" | "uuid">): GuestProfilePaths {
  const name = profileName(def);
  const guestDir = profilePaths(dir).guestDir;
  return {
    name,
    profile: join(guestDir, name),
    files: join(guestDir, `${name}.files`),
    local: join(dir, "local", name),
  };
}

/** A path quoted for an include or a rule (checked paths never hold `"` or `\`). */
function q(path: string): string {
  return `"${path}"`;
}

/**
 * The static part: what every QEMU needs whatever its devices. Our own rules (libvirt's
 * `abstractions/libvirt-qemu` is not copied); an administrator adds to them in the local file.
 */
export function abstractionText(dir: string): string {
  const p = profilePaths(dir);
  return `# tvirt: rules every confined QEMU guest needs (shared by all guests' profiles).
# Generated by tvirt; put additions in ${p.abstractionLocal}

  #include <abstractions/base>

  # signals and tracing from the managing daemon (unconfined)
  signal (receive) peer=unconfined,
  ptrace (readby, tracedby) peer=unconfined,

  # memory locking (<memoryBacking><locked/>), raised limits
  capability ipc_lock,
  capability sys_resource,

  # networking of user-mode NICs, migration, VNC/SPICE and chardev sockets
  network inet stream,
  network inet6 stream,
  network inet dgram,
  network inet6 dgram,
  network unix stream,
  network unix dgram,
  network netlink raw,

  # the emulator, its helpers and modules
  /usr/bin/qemu-system-* rmix,
  /usr/bin/qemu-kvm rmix,
  /usr/libexec/qemu-kvm rmix,
  /usr/lib/qemu/** rm,
  /usr/lib/@{multiarch}/qemu/*.so mr,
  /usr/lib64/qemu/*.so mr,

  # firmware, option ROMs, keymaps
  /usr/share/qemu/** r,
  /usr/share/seabios/** r,
  /usr/share/ovmf/** r,
  /usr/share/OVMF/** r,
  /usr/share/AAVMF/** r,
  /usr/share/qemu-efi/** r,
  /usr/share/qemu-efi-aarch64/** r,
  /usr/share/edk2/** r,
  /usr/share/ipxe/** r,
  /usr/lib/ipxe/** r,
  /usr/share/vgabios/** r,
  /usr/share/sgabios/** r,
  /usr/share/misc/sgabios.bin r,
  /usr/share/slof/** r,
  /usr/share/proll/** r,
  /etc/qemu/** r,

  # devices every guest may use
  /dev/kvm rw,
  /dev/net/tun rw,
  /dev/ptmx rw,
  /dev/pts/* rw,
  /dev/vhost-vsock rw,
  /dev/sev rw,
  /dev/hugepages/ r,
  /dev/shm/ r,

  # host facts QEMU reads
  @{PROC}/@{pid}/task/*/comm rw,
  @{PROC}/@{pid}/auxv r,
  @{PROC}/@{pid}/cmdline r,
  @{PROC}/@{pid}/statm r,
  @{PROC}/@{pid}/status r,
  @{PROC}/@{pid}/mounts r,
  @{PROC}/sys/vm/overcommit_memory r,
  @{PROC}/sys/kernel/cap_last_cap r,
  @{PROC}/meminfo r,
  @{PROC}/cpuinfo r,
  /sys/devices/system/cpu/** r,
  /sys/devices/system/node/** r,
  /sys/kernel/mm/transparent_hugepage/** r,
  /sys/kernel/mm/hugepages/** r,
  /sys/module/vhost/parameters/max_mem_regions r,
  /sys/fs/cgroup/** r,

  include if exists ${q(p.abstractionLocal)}
`;
}

/** The profile of one guest (the file apparmor_parser loads). */
export function profileText(def: Pick<DomainDef, "name" | "uuid">, dir: string): string {
  const g = guestProfilePaths(dir, def);
  checkName(def.name);
  return `# tvirt: AppArmor profile of domain '${def.name}' (uuid ${def.uuid.toLowerCase()}).
# Generated by tvirt; put additions in ${g.local}

#include <tunables/global>

profile ${g.name} flags=(attach_disconnected) {
  #include ${q(profilePaths(dir).abstraction)}
  #include ${q(g.files)}

  include if exists ${q(g.local)}
}
`;
}

/** Refuses a domain name AppArmor rules cannot hold (virt-aa-helper's valid_name). */
export function checkName(name: string): void {
  const bad = firstBad(name, FORBIDDEN_NAME_CHARS);
  if (name === "" || bad !== undefined)
    throw new VirtError("APPARMOR_BAD_NAME", {
      name,
      char: bad === undefined ? "nothing" : describeChar(bad),
      forbidden: FORBIDDEN_NAME_CHARS.join(" ") + " and control characters",
    });
}

function isControl(c: string): boolean {
  const n = c.charCodeAt(0);
  return n < 0x20 || n === 0x7f;
}

/** The first character of `s` that is a control character or in `set`. */
function firstBad(s: string, set: readonly string[]): string | undefined {
  for (const c of s) if (isControl(c) || set.includes(c)) return c;
  return undefined;
}

/** `s` with control characters shown as `?` (text put in a comment must stay on its line). */
function printable(s: string): string {
  let out = "";
  for (const c of s) out += isControl(c) ? "?" : c;
  return out;
}

function describeChar(c: string): string {
  return isControl(c) ? `the control character U+${c.charCodeAt(0).toString(16).padStart(4, "0")}` : `'${c}'`;
}

function startsWithAny(path: string, list: readonly string[]): string | undefined {
  return list.find((p) => path.startsWith(p));
}

/**
 * Checks one path of the definition; returns it resolved, or undefined for a relative path
 * (skipped like virt-aa-helper does: QEMU resolves it against its working folder `/`, which no
 * rule should name on the XML's say-so; the files list notes the skip).
 */
function checkPath(def: DomainDef, rule: FileRule, resolve: (p: string) => string): string | undefined {
  const raw = rule.path;
  const bad = firstBad(raw, FORBIDDEN_PATH_CHARS);
  if (bad !== undefined)
    throw new VirtError("APPARMOR_BAD_PATH", {
      what: rule.what,
      name: def.name,
      path: raw,
      char: describeChar(bad),
      forbidden: FORBIDDEN_PATH_CHARS.join(" ") + " and control characters",
    });
  if (!raw.startsWith("/")) return undefined;
  const path = normalize(resolve(raw));
  if (rule.system === true) return path;
  if (startsWithAny(path, OVERRIDE) !== undefined) return path;
  const writes = rule.perms.includes("w") || rule.perms.includes("a");
  const ro = startsWithAny(path, RESTRICTED_RW);
  if (!writes && ro !== undefined) return path;
  const restricted = startsWithAny(path, RESTRICTED) ?? ro;
  if (restricted !== undefined)
    throw new VirtError("APPARMOR_RESTRICTED_PATH", {
      what: rule.what,
      name: def.name,
      path: raw,
      restricted,
      access: writes ? "write" : "read",
    });
  return path;
}

/** `/a//b/./c/` → `/a/b/c` (AppArmor matches the kernel's path, which has no such parts). */
function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

function chrRules(chr: ChrDef, what: string): FileRule[] {
  const rules: FileRule[] = [];
  const path = chr.source?.path;
  if (path !== undefined && path !== "") {
    switch (chr.type) {
      case "pipe":
        // QEMU opens <path>.in and <path>.out when both exist, else <path> itself
        rules.push({ path: `${path}.in`, perms: "rw", what }, { path: `${path}.out`, perms: "rw", what });
        rules.push({ path, perms: "rw", what });
        break;
      // pty: QEMU allocates it after start (the live XML learns its path later); the shared
      // abstraction allows /dev/pts/*, so a hotplug does not add an earlier pty's rule
      case "dev":
      case "file":
      case "unix":
        rules.push({ path, perms: "rw", what });
        break;
      default:
        break;
    }
  }
  if (chr.log?.file !== undefined) rules.push({ path: chr.log.file, perms: "rw", what: `${what} log` });
  return rules;
}

function diskName(disk: DiskDef): string {
  return `disk '${disk.target.dev}'`;
}

/** The rules of one disk: its image, then its backing chain read-only. */
export function diskRules(disk: DiskDef, backing: readonly string[] = []): FileRule[] {
  const what = diskName(disk);
  const src = disk.source;
  if (!src) return [];
  const ro = disk.readonly === true || disk.device === "cdrom";
  const rules: FileRule[] = [];
  // a storage volume, once the driver resolved it, is the file, device or folder it names
  const type = disk.type === "volume" ? (src.actualType ?? "volume") : disk.type;
  switch (type) {
    case "file":
      if (src.file !== undefined) rules.push({ path: src.file, perms: ro ? "rk" : "rwk", what });
      break;
    case "block":
      if (src.dev !== undefined) rules.push({ path: src.dev, perms: ro ? "rk" : "rwk", what });
      break;
    case "dir":
      if (src.dir !== undefined)
        rules.push({ path: src.dir, perms: ro ? "rk" : "rwk", recursive: true, what });
      break;
    case "vhostvdpa":
      if (src.dev !== undefined) rules.push({ path: src.dev, perms: "rw", what });
      break;
    case "network":
      for (const h of src.hosts ?? [])
        if (h.transport === "unix" && h.socket !== undefined)
          rules.push({ path: h.socket, perms: "rw", what });
      break;
    case "nvme":
      rules.push(...vfioRules(what));
      break;
    default:
      break;
  }
  for (const b of backing) rules.push({ path: b, perms: "rk", what: `${what} backing file` });
  return rules;
}

function vfioRules(what: string, group?: number): FileRule[] {
  return [
    { path: "/dev/vfio/vfio", perms: "rw", what, generated: true },
    {
      path: group === undefined ? "/dev/vfio/[0-9]*" : `/dev/vfio/${group}`,
      perms: "rw",
      what,
      generated: true,
    },
  ];
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/**
 * Every file rule of a guest, in a stable order: the run's own files, then the devices in
 * definition order (so a hotplugged device adds its rules and nothing else changes).
 */
export function guestRules(def: DomainDef, guest: GuestFiles = {}): FileRule[] {
  const rules: FileRule[] = [];
  const add = (...r: FileRule[]): void => {
    rules.push(...r);
  };
  // the run itself: log, runtime folder (monitor, virtiofs and vhost-user sockets), pid file
  if (guest.logFile !== undefined) add({ path: guest.logFile, perms: "w", what: "domain log", system: true });
  if (guest.domainDir !== undefined)
    add({ path: guest.domainDir, perms: "rwk", recursive: true, what: "runtime folder", system: true });
  if (guest.pidFile !== undefined) add({ path: guest.pidFile, perms: "rwk", what: "pid file", system: true });
  if (guest.channelDir !== undefined && def.devices.channels.some((c) => c.type === "unix"))
    add({ path: guest.channelDir, perms: "rw", recursive: true, what: "channel sockets", system: true });
  if (guest.memoryDir !== undefined && def.memoryBacking?.source?.type === "file")
    add({ path: guest.memoryDir, perms: "rwk", recursive: true, what: "memory backing", system: true });
  for (const h of guest.hugepageDirs ?? [])
    add({ path: h, perms: "rwk", recursive: true, what: "huge pages", system: true });
  if (def.devices.emulator !== undefined)
    add({ path: def.devices.emulator, perms: "rmix", what: "emulator", system: true });

  // boot
  const os = def.os;
  if (os.kernel !== undefined) add({ path: os.kernel, perms: "r", denyWrite: true, what: "kernel" });
  if (os.initrd !== undefined) add({ path: os.initrd, perms: "r", denyWrite: true, what: "initrd" });
  if (os.shim !== undefined) add({ path: os.shim, perms: "r", denyWrite: true, what: "shim" });
  if (os.dtb !== undefined) add({ path: os.dtb, perms: "r", denyWrite: true, what: "dtb" });
  for (const t of os.acpiTables ?? []) add({ path: t.path, perms: "r", denyWrite: true, what: "ACPI table" });
  if (os.loader?.path !== undefined) {
    const ro = os.loader.readonly === true || os.loader.type === "rom";
    add({ path: os.loader.path, perms: ro ? "rk" : "rwk", what: "loader" });
  }
  if (os.nvram?.path !== undefined) add({ path: os.nvram.path, perms: "rwk", what: "nvram" });
  if (os.nvram?.template !== undefined) add({ path: os.nvram.template, perms: "r", what: "nvram template" });

  const d = def.devices;
  for (const disk of d.disks) add(...diskRules(disk, guest.backingChains?.get(disk.target.dev)));
  for (const fs of d.filesystems) {
    const what = `filesystem '${fs.target.dir}'`;
    const src = fs.source;
    if (!src) continue;
    if (fs.type === "mount" && src.dir !== undefined) {
      // shared folders: read-only ones get no deny rule (it would break mounting `/` read-only)
      add({ path: src.dir, perms: fs.readonly === true ? "r" : "rwl", recursive: true, what });
    } else if ((fs.type === "file" || fs.type === "block") && (src.file ?? src.dev) !== undefined) {
      add({ path: (src.file ?? src.dev) as string, perms: fs.readonly === true ? "r" : "rw", what });
    }
  }
  let vhostNet = false;
  for (const [i, net] of d.interfaces.entries()) {
    const what = `interface ${net.alias ?? String(i)}`;
    if (net.type === "vhostuser" && net.source?.path !== undefined)
      add({ path: net.source.path, perms: "rw", what });
    if (net.type === "vdpa" && net.source?.dev !== undefined)
      add({ path: net.source.dev, perms: "rw", what });
    if (net.backend?.tap !== undefined) add({ path: net.backend.tap, perms: "rw", what });
    if (net.backend?.vhost !== undefined) add({ path: net.backend.vhost, perms: "rw", what });
    if (net.backend?.logFile !== undefined)
      add({ path: net.backend.logFile, perms: "rw", what: `${what} log` });
    if (
      def.type === "kvm" &&
      (net.model === undefined || net.model.startsWith("virtio")) &&
      net.driver?.name !== "qemu"
    )
      vhostNet = true;
  }
  if (vhostNet) add({ path: "/dev/vhost-net", perms: "rw", what: "vhost-net", generated: true });
  for (const [i, chr] of d.serials.entries()) add(...chrRules(chr, `serial ${String(chr.target.port ?? i)}`));
  for (const [i, chr] of d.parallels.entries())
    add(...chrRules(chr, `parallel ${String(chr.target.port ?? i)}`));
  for (const [i, chr] of d.consoles.entries()) add(...chrRules(chr, `console ${String(i)}`));
  for (const [i, chr] of d.channels.entries())
    add(...chrRules(chr, `channel ${chr.target.name ?? chr.target.type ?? String(i)}`));
  for (const [i, r] of d.redirdevs.entries())
    if (r.source) add(...chrRules({ type: r.type, source: r.source, target: {} }, `redirdev ${String(i)}`));
  for (const [i, input] of d.inputs.entries()) {
    const path = input.source?.evdev ?? input.source?.dev;
    if ((input.type === "passthrough" || input.type === "evdev") && path !== undefined)
      add({ path, perms: "rw", what: `input ${String(i)}` });
  }
  for (const [i, g] of d.graphics.entries()) {
    const what = `graphics ${g.type} ${String(i)}`;
    for (const l of g.listens)
      if (l.type === "socket" && l.socket !== undefined && l.autoGenerated !== true)
        add({ path: l.socket, perms: "rw", what });
    if (g.socket !== undefined && !g.listens.some((l) => l.socket === g.socket))
      add({ path: g.socket, perms: "rw", what });
    if (g.gl?.enable === true)
      add(
        g.gl.rendernode !== undefined
          ? { path: g.gl.rendernode, perms: "rw", what }
          : { path: "/dev/dri/renderD[0-9]*", perms: "rw", what, generated: true },
      );
    if (g.type === "sdl" && g.xauth !== undefined) add({ path: g.xauth, perms: "r", denyWrite: true, what });
  }
  for (const v of d.videos) {
    const node = v.model.acceleration?.rendernode;
    if (node !== undefined) add({ path: node, perms: "rw", what: `video ${v.model.type}` });
  }
  for (const a of d.audios)
    if (a.type === "file" && a.path !== undefined)
      add({ path: a.path, perms: "rw", what: `audio ${String(a.id)}` });
  for (const [i, h] of d.hostdevs.entries()) {
    const what = `hostdev ${h.alias ?? String(i)}`;
    if (h.mode !== "subsystem") continue;
    if (h.type === "pci" && h.source.pciAddress) {
      const a = h.source.pciAddress;
      const addr = `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
      if (h.driver?.name === undefined || h.driver.name === "vfio")
        add(...vfioRules(what, guest.vfioGroups?.get(addr)));
      add({ path: `/sys/devices/pci*/**/${addr}/**`, perms: "rw", what, generated: true });
    } else if (h.type === "usb" && h.source.usbAddress) {
      const u = h.source.usbAddress;
      add({
        path: `/dev/bus/usb/${String(u.bus).padStart(3, "0")}/${String(u.device).padStart(3, "0")}`,
        perms: "rw",
        what,
        generated: true,
      });
    } else if (h.type === "mdev") {
      add(...vfioRules(what));
      if (h.source.mdevUuid !== undefined)
        add({ path: `/sys/devices/**/${h.source.mdevUuid}/**`, perms: "rw", what, generated: true });
    }
  }
  for (const [i, m] of d.memories.entries())
    if ((m.model === "nvdimm" || m.model === "virtio-pmem") && m.source?.path !== undefined)
      add({ path: m.source.path, perms: "rw", what: `memory ${m.model} ${String(i)}` });
    else if (m.model === "sgx-epc") {
      add({ path: "/dev/sgx_vepc", perms: "rw", what: "memory sgx-epc", generated: true });
      add({ path: "/dev/sgx_provision", perms: "r", what: "memory sgx-epc", generated: true });
    }
  for (const [i, rng] of d.rngs.entries()) {
    const what = `rng ${String(i)}`;
    if (rng.backend.model === "random") add({ path: rng.backend.path ?? "/dev/urandom", perms: "r", what });
    else if (rng.backend.model === "egd" && rng.backend.type !== undefined && rng.backend.source)
      add(...chrRules({ type: rng.backend.type, source: rng.backend.source, target: {} }, what));
  }
  for (const sh of d.shmems ?? []) {
    // virt-aa-helper's rule: the server socket named in the XML, else the device's default: a
    // plain region's /dev/shm file, a doorbell's ivshmem-server socket
    const what = `shmem ${sh.name}`;
    if (sh.server?.path !== undefined) add({ path: sh.server.path, perms: "rw", what });
    else if ((sh.model ?? "ivshmem-plain") === "ivshmem-plain")
      add({ path: `/dev/shm/${sh.name}`, perms: "rw", what });
    else add({ path: `/var/lib/libvirt/shmem-${sh.name}-sock`, perms: "rw", what });
  }
  for (const [i, tpm] of d.tpms.entries()) {
    const what = `tpm ${String(i)}`;
    if (tpm.backend.type === "passthrough") add({ path: tpm.backend.path ?? "/dev/tpm0", perms: "rw", what });
    else if (tpm.backend.type === "external" && tpm.backend.socket !== undefined)
      add({ path: tpm.backend.socket, perms: "rw", what });
  }
  for (const s of guest.tpmStateDirs ?? [])
    add({ path: s, perms: "rwk", recursive: true, what: "tpm state", system: true });
  for (const r of guest.extra ?? []) add(r);
  return rules;
}

/** One rule as profile lines (a trailing comment says what needs it). */
function ruleLines(path: string, r: FileRule, deny: boolean): string[] {
  const target = r.recursive === true ? `${path}/**` : path;
  // the comment holds XML text (aliases, target names): no line breaks may reach the profile
  const what = printable(r.what);
  const lines = [`  ${q(target)} ${r.perms},  # ${what}`];
  if (deny) lines.push(`  deny ${q(target)} w,  # ${what}: read-only, writes refused silently`);
  if (r.recursive === true) lines.push(`  ${q(`${path}/`)} r,  # ${what}`);
  return lines;
}

/**
 * The dynamic part (`libvirt-<uuid>.files`): the guest's rules, each path checked and resolved.
 * A path given write access anywhere gets no `deny w` elsewhere (a deny would win).
 */
export function filesText(
  def: DomainDef,
  guest: GuestFiles = {},
  options: Pick<ProfileOptions, "resolve"> = {},
): string {
  checkName(def.name);
  profileName(def);
  const resolve = options.resolve ?? ((p: string) => p);
  const checked = guestRules(def, guest).map((r) => ({
    r,
    path: r.generated === true ? r.path : checkPath(def, r, resolve),
  }));
  const written = new Set(checked.filter((c) => /[wa]/.test(c.r.perms)).map((c) => c.path));
  const seen = new Set<string>();
  const out = [
    `# tvirt: files of domain '${def.name}'. Generated; do not edit (see the profile's local file).`,
  ];
  for (const { r, path } of checked) {
    if (path === undefined) {
      out.push(`  # skipped ${r.what}: '${printable(r.path)}' is not an absolute path`);
      continue;
    }
    for (const line of ruleLines(path, r, r.denyWrite === true && !written.has(path))) {
      if (seen.has(line)) continue;
      seen.add(line);
      out.push(line);
    }
  }
  return out.join("\n") + "\n";
}
