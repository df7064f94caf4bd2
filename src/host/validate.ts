/**
 * Is this host ready to run QEMU guests, and if not, what fixes it? (libvirt's
 * `virt-host-validate qemu`, Ubuntu's `kvm-ok`.) Two halves:
 *
 * - `gatherValidateFacts` reads what it needs from /proc, /sys and /dev under a root (a fake
 *   tree in tests), looks up the binaries, and asks QEMU whether KVM really runs a vCPU
 *   (`probeKvm`: a `/dev/kvm` that exists is not enough, PVM's variant opens but cannot run a
 *   normal guest);
 * - `evaluateHost` turns those facts into checks, pure. The checks libvirt's tool has come
 *   first, in its order, with its texts, so the lines read the same; tvirt's own checks (KVM
 *   usable, binaries, huge pages, AppArmor, seccomp) follow. Every check that does not pass
 *   carries a `fix`: the command or setting that makes it pass.
 */
import { constants as fsConstants, readdirSync, readFileSync, statSync } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { parseHugetlbfsMounts, defaultHugepageSizeKiB, type HugetlbfsMountInfo } from "./hugetlbfs.ts";
import { probeKvm, type KvmDeviceState, type KvmProbeResult } from "./kvm.ts";
import { hostArch } from "./facts.ts";

export type CheckResult = "PASS" | "WARN" | "FAIL" | "NOTE";

export interface HostCheck {
  /** Stable identifier (`hw-virt`, `kvm-usable`, `cgroup-memory`, …). */
  readonly id: string;
  /** `QEMU` for libvirt's checks (as its tool prints), `TVIRT` for tvirt's own. */
  readonly hypervisor: "QEMU" | "TVIRT";
  /** The sentence after the prefix: `Checking for hardware virtualization`. */
  readonly check: string;
  readonly result: CheckResult;
  /** Why it did not pass (libvirt's text where libvirt has one). */
  readonly detail?: string;
  /** What to do about it (a command or a setting). */
  readonly fix?: string;
}

/** The huge pages of one size the kernel has. */
export interface HugePagePool {
  readonly sizeKiB: number;
  readonly total: number;
  readonly free: number;
}

export interface HostValidateFacts {
  /** libvirt's architecture name (`x86_64`). */
  readonly arch: string;
  /** The flags of the first CPU in /proc/cpuinfo. */
  readonly cpuFlags: readonly string[];
  readonly kvmDevice: KvmDeviceState;
  /** What QEMU said when asked to run a KVM vCPU (absent when /dev/kvm is missing). */
  readonly kvm?: KvmProbeResult;
  readonly vhostNet: boolean;
  readonly tun: boolean;
  /** 1 or 2; 0 when no cgroup file system is mounted. */
  readonly cgroupVersion: 0 | 1 | 2;
  /** Controllers mounted (v1) or enabled at the root (v2). */
  readonly cgroupControllers: readonly string[];
  /** ACPI DMAR (Intel) / IVRS (AMD) tables present. */
  readonly acpiDmar: boolean;
  readonly acpiIvrs: boolean;
  /** Entries of /sys/kernel/iommu_groups. */
  readonly iommuGroups: number;
  /** kvm_amd's `sev` parameter (`1`/`Y`), undefined when the module is not loaded. */
  readonly sevParameter?: string;
  readonly sevDevice: boolean;
  readonly hugePages: readonly HugePagePool[];
  readonly hugetlbfs: readonly HugetlbfsMountInfo[];
  /** /sys/module/apparmor/parameters/enabled (`Y`/`N`), undefined without the module. */
  readonly apparmorEnabled?: string;
  /** /proc/sys/kernel/seccomp/actions_avail, undefined without seccomp filters. */
  readonly seccompActions?: readonly string[];
  /** Binary name → path found (undefined: not found). */
  readonly binaries: Readonly<Record<string, string | undefined>>;
}

/** The binaries looked for, where (PATH plus these directories), and what they are for. */
export const VALIDATED_BINARIES: readonly {
  readonly name: string;
  readonly dirs: readonly string[];
  readonly required: boolean;
  readonly purpose: string;
  readonly pkg: string;
}[] = [
  {
    name: "qemu-system-x86_64",
    dirs: [],
    required: true,
    purpose: "runs the guests",
    pkg: "qemu-system-x86",
  },
  {
    name: "qemu-img",
    dirs: [],
    required: true,
    purpose: "disk images",
    pkg: "qemu-utils",
  },
  {
    name: "dnsmasq",
    dirs: ["/usr/sbin", "/sbin"],
    required: false,
    purpose: "DHCP and DNS of virtual networks",
    pkg: "dnsmasq-base",
  },
  {
    name: "nft",
    dirs: ["/usr/sbin", "/sbin"],
    required: false,
    purpose: "NAT rules of virtual networks",
    pkg: "nftables",
  },
  {
    name: "virtiofsd",
    dirs: ["/usr/lib/qemu", "/usr/libexec"],
    required: false,
    purpose: "virtiofs folder sharing",
    pkg: "virtiofsd (or qemu-system-common on Debian 12)",
  },
  {
    name: "qemu-bridge-helper",
    dirs: ["/usr/lib/qemu", "/usr/libexec"],
    required: false,
    purpose: "session guests on bridges",
    pkg: "qemu-system-common",
  },
  {
    name: "swtpm",
    dirs: ["/usr/bin"],
    required: false,
    purpose: "emulated TPMs",
    pkg: "swtpm",
  },
];

export interface GatherOptions {
  /** Root of /proc, /sys and /dev (default `/`). */
  readonly root?: string;
  /** Ask QEMU whether KVM runs a vCPU (default true; off for fake roots). */
  readonly probe?: boolean;
  /** PATH to search (default `process.env.PATH`). */
  readonly path?: string;
  /** QEMU binary for the KVM probe. */
  readonly qemuBinary?: string;
}

function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

function exists(root: string, path: string): boolean {
  try {
    statSync(join(root, path));
    return true;
  } catch {
    return false;
  }
}

function listDir(root: string, path: string): string[] {
  try {
    return readdirSync(join(root, path));
  } catch {
    return [];
  }
}

/** The flags of the first processor in /proc/cpuinfo. */
export function parseCpuFlags(cpuinfo: string): string[] {
  const m = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo);
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
}

/** Cgroup version and controllers from /proc/mounts and (v2) the root's cgroup.controllers. */
export function parseCgroups(
  mounts: string,
  v2Controllers: string | undefined,
): { version: 0 | 1 | 2; controllers: string[] } {
  const v1 = new Set<string>();
  let v2 = false;
  for (const line of mounts.split("\n")) {
    const f = line.split(" ");
    if (f[2] === "cgroup2" && f[1] === "/sys/fs/cgroup") v2 = true;
    if (f[2] === "cgroup") for (const o of (f[3] ?? "").split(",")) v1.add(o);
  }
  if (v1.size > 0) {
    const known = ["cpu", "cpuacct", "cpuset", "memory", "devices", "blkio", "freezer", "pids", "net_cls"];
    return { version: 1, controllers: known.filter((c) => v1.has(c)) };
  }
  if (v2) return { version: 2, controllers: (v2Controllers ?? "").trim().split(/\s+/).filter(Boolean) };
  return { version: 0, controllers: [] };
}

/** Huge page pools from /sys/kernel/mm/hugepages (`hugepages-2048kB/nr_hugepages`, `free_hugepages`). */
function hugePagePools(root: string): HugePagePool[] {
  const out: HugePagePool[] = [];
  for (const dir of listDir(root, "sys/kernel/mm/hugepages")) {
    const m = /^hugepages-(\d+)kB$/.exec(dir);
    if (!m) continue;
    const num = (f: string): number => Number(read(root, `sys/kernel/mm/hugepages/${dir}/${f}`)?.trim() ?? 0);
    out.push({ sizeKiB: Number(m[1]), total: num("nr_hugepages"), free: num("free_hugepages") });
  }
  return out.sort((a, b) => a.sizeKiB - b.sizeKiB);
}

async function findBinary(name: string, dirs: readonly string[], path: string): Promise<string | undefined> {
  for (const dir of [...path.split(":").filter(Boolean), ...dirs]) {
    const file = join(dir, name);
    try {
      await access(file, fsConstants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Reads the facts `evaluateHost` needs. Never throws for a missing file: it is a fact too. */
export async function gatherValidateFacts(opts: GatherOptions = {}): Promise<HostValidateFacts> {
  const root = opts.root ?? "/";
  const probe = opts.probe ?? root === "/";
  const path = opts.path ?? process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin";
  const binaries: Record<string, string | undefined> = {};
  await Promise.all(
    VALIDATED_BINARIES.map(async (b) => {
      binaries[b.name] = await findBinary(b.name, b.dirs, path);
    }),
  );
  const kvmPath = join(root, "dev/kvm");
  let kvmDevice: KvmDeviceState;
  try {
    const st = statSync(kvmPath);
    kvmDevice = st.isCharacterDevice() ? "present" : "not-a-device";
    if (kvmDevice === "present")
      await access(kvmPath, fsConstants.R_OK | fsConstants.W_OK).catch(() => {
        kvmDevice = "inaccessible";
      });
  } catch {
    kvmDevice = "missing";
  }
  const qemuBinary = opts.qemuBinary ?? binaries["qemu-system-x86_64"];
  const kvm =
    probe && kvmDevice !== "missing" && qemuBinary !== undefined
      ? await probeKvm({ binary: qemuBinary, device: kvmPath })
      : undefined;
  const mounts = read(root, "proc/mounts") ?? "";
  const cg = parseCgroups(mounts, read(root, "sys/fs/cgroup/cgroup.controllers"));
  const sev = read(root, "sys/module/kvm_amd/parameters/sev")?.trim();
  const apparmor = read(root, "sys/module/apparmor/parameters/enabled")?.trim();
  const seccomp = read(root, "proc/sys/kernel/seccomp/actions_avail");
  return {
    arch: hostArch(),
    cpuFlags: parseCpuFlags(read(root, "proc/cpuinfo") ?? ""),
    kvmDevice,
    ...(kvm ? { kvm } : {}),
    vhostNet: exists(root, "dev/vhost-net"),
    tun: exists(root, "dev/net/tun"),
    cgroupVersion: cg.version,
    cgroupControllers: cg.controllers,
    acpiDmar: exists(root, "sys/firmware/acpi/tables/DMAR"),
    acpiIvrs: exists(root, "sys/firmware/acpi/tables/IVRS"),
    iommuGroups: listDir(root, "sys/kernel/iommu_groups").length,
    ...(sev !== undefined ? { sevParameter: sev } : {}),
    sevDevice: exists(root, "dev/sev"),
    hugePages: hugePagePools(root),
    hugetlbfs: parseHugetlbfsMounts(mounts, defaultHugepageSizeKiB(read(root, "proc/meminfo") ?? "")),
    ...(apparmor !== undefined ? { apparmorEnabled: apparmor } : {}),
    ...(seccomp !== undefined ? { seccompActions: seccomp.trim().split(/\s+/) } : {}),
    binaries,
  };
}

const KVM_HINT = "Check that CPU and firmware supports virtualization and kvm module is loaded";

function sizeText(kib: number): string {
  return kib % (1024 * 1024) === 0 ? `${String(kib / 1024 / 1024)} GiB` : `${String(kib / 1024)} MiB`;
}

/** Where a hugetlbfs of a page size is usually mounted (`/dev/hugepages`, `/dev/hugepages1G`). */
function hugeDir(kib: number): string {
  if (kib === 2048) return "/dev/hugepages";
  return kib % (1024 * 1024) === 0
    ? `/dev/hugepages${String(kib / 1024 / 1024)}G`
    : `/dev/hugepages${String(kib / 1024)}M`;
}

/** The checks for a set of facts, in the order they print. Pure. */
export function evaluateHost(f: HostValidateFacts): HostCheck[] {
  const out: HostCheck[] = [];
  const q = (id: string, check: string, result: CheckResult, detail?: string, fix?: string): void => {
    out.push({
      id,
      hypervisor: "QEMU",
      check,
      result,
      ...(detail ? { detail } : {}),
      ...(fix ? { fix } : {}),
    });
  };
  const t = (id: string, check: string, result: CheckResult, detail?: string, fix?: string): void => {
    out.push({
      id,
      hypervisor: "TVIRT",
      check,
      result,
      ...(detail ? { detail } : {}),
      ...(fix ? { fix } : {}),
    });
  };
  const x86 = f.arch === "x86_64" || f.arch === "i686";
  const vmx = f.cpuFlags.includes("vmx");
  const svm = f.cpuFlags.includes("svm");

  // libvirt's checks, its order and texts.
  if (!x86 || vmx || svm) {
    q("hw-virt", "Checking for hardware virtualization", "PASS");
  } else {
    q(
      "hw-virt",
      "Checking for hardware virtualization",
      "FAIL",
      "Host not compatible with KVM; HW virtualization CPU features not found. Only emulated CPUs are available; performance will be significantly limited",
      "enable VT-x (Intel) or AMD-V (AMD) in the firmware setup; inside a VM, enable nested virtualization on the outer hypervisor. Until then guests run under TCG: <domain type='qemu'>",
    );
  }
  const kvmExists = f.kvmDevice !== "missing" && f.kvmDevice !== "not-a-device";
  q(
    "kvm-device",
    "Checking if device /dev/kvm exists",
    kvmExists ? "PASS" : "FAIL",
    kvmExists ? undefined : KVM_HINT,
    kvmExists
      ? undefined
      : vmx
        ? "modprobe kvm_intel"
        : svm
          ? "modprobe kvm_amd"
          : "modprobe kvm_intel (Intel) or kvm_amd (AMD)",
  );
  if (kvmExists) {
    const ok = f.kvmDevice === "present";
    q(
      "kvm-access",
      "Checking if device /dev/kvm is accessible",
      ok ? "PASS" : "FAIL",
      ok ? undefined : "Check /dev/kvm is world writable or you are in a group that is allowed to access it",
      ok ? undefined : 'usermod -aG kvm "$USER" (then log in again)',
    );
  }
  // tvirt's real probe: does KVM run a vCPU?
  if (f.kvm?.usable) {
    t("kvm-usable", "Checking if KVM can run a guest vCPU", "PASS");
  } else if (kvmExists && f.kvm) {
    t(
      "kvm-usable",
      "Checking if KVM can run a guest vCPU",
      "FAIL",
      `/dev/kvm is present, but KVM is unusable: ${f.kvm.reason ?? "QEMU could not run a KVM vCPU"}`,
      "guests run under TCG instead (<domain type='qemu'>, much slower); for KVM, run on a host (or a VM with nested virtualization) whose /dev/kvm runs standard guests",
    );
  } else if (kvmExists) {
    t(
      "kvm-usable",
      "Checking if KVM can run a guest vCPU",
      "WARN",
      "not probed: no QEMU binary found to ask",
      "apt-get install qemu-system-x86",
    );
  } else {
    t(
      "kvm-usable",
      "Checking if KVM can run a guest vCPU",
      "FAIL",
      "/dev/kvm does not exist",
      "guests run under TCG instead (<domain type='qemu'>, much slower)",
    );
  }
  q(
    "vhost-net",
    "Checking if device /dev/vhost-net exists",
    f.vhostNet ? "PASS" : "WARN",
    f.vhostNet ? undefined : "Load the 'vhost_net' module to improve performance of virtio networking",
    f.vhostNet ? undefined : "modprobe vhost_net",
  );
  q(
    "tun",
    "Checking if device /dev/net/tun exists",
    f.tun ? "PASS" : "FAIL",
    f.tun ? undefined : "Load the 'tun' module to enable networking for QEMU guests",
    f.tun ? undefined : "modprobe tun",
  );
  // cgroup controllers: on v2, cpuacct is part of cpu, blkio is io, devices is a BPF program.
  const v2Name: Record<string, string | null> = { cpuacct: "cpu", blkio: "io", devices: null };
  for (const c of ["cpu", "cpuacct", "cpuset", "memory", "devices", "blkio"]) {
    const have =
      f.cgroupVersion === 1
        ? f.cgroupControllers.includes(c)
        : f.cgroupVersion === 2
          ? v2Name[c] === null || f.cgroupControllers.includes(v2Name[c] ?? c)
          : false;
    q(
      `cgroup-${c}`,
      `Checking for cgroup '${c}' controller support`,
      have ? "PASS" : "WARN",
      have
        ? undefined
        : `Enable '${c}' in kernel Kconfig file or mount/enable cgroup controller in your system`,
      have
        ? undefined
        : f.cgroupVersion === 2
          ? `echo +${v2Name[c] ?? c} > /sys/fs/cgroup/cgroup.subtree_control`
          : `mount -t cgroup -o ${c} ${c} /sys/fs/cgroup/${c}`,
    );
  }
  // IOMMU: the ACPI table of the vendor, then whether the kernel made groups.
  if (x86 && (vmx || svm)) {
    const table = vmx ? "DMAR" : "IVRS";
    const has = vmx ? f.acpiDmar : f.acpiIvrs;
    q(
      "iommu",
      "Checking for device assignment IOMMU support",
      has ? "PASS" : "WARN",
      has
        ? undefined
        : `No ACPI ${table} table found, IOMMU either disabled in BIOS or not supported by this hardware platform`,
      has ? undefined : "enable VT-d / AMD-Vi (IOMMU) in the firmware setup",
    );
    if (has) {
      const on = f.iommuGroups > 0;
      q(
        "iommu-kernel",
        "Checking if IOMMU is enabled by kernel",
        on ? "PASS" : "WARN",
        on
          ? undefined
          : `IOMMU appears to be disabled in kernel. Add ${vmx ? "intel_iommu=on" : "amd_iommu=on"} to kernel cmdline arguments`,
        on
          ? undefined
          : `add ${vmx ? "intel_iommu=on" : "amd_iommu=on"} to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub, reboot`,
      );
    }
  } else {
    q(
      "iommu",
      "Checking for device assignment IOMMU support",
      "WARN",
      "Unknown if this platform has IOMMU support",
      "PCI passthrough needs an IOMMU (VT-d / AMD-Vi) exposed by the firmware; not available here",
    );
  }
  if (f.cpuFlags.includes("sev")) {
    const on = (f.sevParameter === "1" || f.sevParameter === "Y") && f.sevDevice;
    q(
      "secure-guest",
      "Checking for secure guest support",
      on ? "PASS" : "WARN",
      on
        ? undefined
        : "AMD Secure Encrypted Virtualization appears to be disabled in kernel. Add kvm_amd.sev=1 to the kernel cmdline arguments",
      on ? undefined : "add kvm_amd.sev=1 to the kernel command line",
    );
  } else {
    q(
      "secure-guest",
      "Checking for secure guest support",
      "WARN",
      "Unknown if this platform has Secure Guest support",
      "secure guests need AMD SEV (or IBM Secure Execution); this CPU does not report it",
    );
  }

  // tvirt's own checks.
  for (const b of VALIDATED_BINARIES) {
    const found = f.binaries[b.name];
    t(
      `binary-${b.name}`,
      `Checking for ${b.name} (${b.purpose})`,
      found ? "PASS" : b.required ? "FAIL" : "WARN",
      found ? undefined : `${b.name} not found in PATH${b.dirs.length ? ` or ${b.dirs.join(", ")}` : ""}`,
      found ? undefined : `apt-get install ${b.pkg}`,
    );
  }
  const reserved = f.hugePages.filter((p) => p.total > 0);
  if (reserved.length === 0) {
    t(
      "hugepages",
      "Checking for reserved huge pages",
      "NOTE",
      `none reserved; only guests with <memoryBacking><hugepages/> need them; page sizes offered: ${f.hugePages.map((p) => sizeText(p.sizeKiB)).join(", ") || "none"}`,
      "echo 64 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
    );
  } else {
    t(
      "hugepages",
      "Checking for reserved huge pages",
      "PASS",
      reserved.map((p) => `${sizeText(p.sizeKiB)}: ${String(p.free)} of ${String(p.total)} free`).join("; "),
    );
    for (const p of reserved) {
      const mount = f.hugetlbfs.find((m) => m.sizeKiB === p.sizeKiB);
      t(
        `hugetlbfs-${String(p.sizeKiB)}`,
        `Checking for a hugetlbfs mount of ${sizeText(p.sizeKiB)} pages`,
        mount ? "PASS" : "FAIL",
        mount
          ? `mounted at ${mount.path}`
          : `${String(p.total)} pages of ${sizeText(p.sizeKiB)} are reserved but no hugetlbfs of that size is mounted`,
        mount
          ? undefined
          : `mkdir -p ${hugeDir(p.sizeKiB)} && mount -t hugetlbfs -o pagesize=${String(p.sizeKiB)}k none ${hugeDir(p.sizeKiB)}`,
      );
    }
  }
  if (f.apparmorEnabled === "Y") {
    t("apparmor", "Checking for AppArmor confinement of guests", "PASS");
  } else {
    t(
      "apparmor",
      "Checking for AppArmor confinement of guests",
      "NOTE",
      f.apparmorEnabled === undefined
        ? "AppArmor is not available in this kernel: guests are not confined by per-guest profiles"
        : "AppArmor is disabled: guests are not confined by per-guest profiles",
      "boot a kernel with AppArmor enabled (apparmor=1 security=apparmor) and apt-get install apparmor",
    );
  }
  const seccompOk = f.seccompActions?.includes("kill_process") ?? false;
  t(
    "seccomp",
    "Checking for seccomp filters (QEMU's sandbox)",
    seccompOk ? "PASS" : "WARN",
    seccompOk ? undefined : "the kernel has no seccomp filter support: QEMU's -sandbox cannot be turned on",
    seccompOk ? undefined : "use a kernel built with CONFIG_SECCOMP_FILTER=y",
  );
  return out;
}

/** The line virt-host-validate prints for a check (no colour, no trailing newline). */
export function formatCheck(c: HostCheck, colour = false): string {
  const paint = (s: string): string => {
    if (!colour) return s;
    const code = c.result === "PASS" ? "32" : c.result === "FAIL" ? "31" : c.result === "WARN" ? "33" : "34";
    return `\x1b[${code}m${s}\x1b[0m`;
  };
  const head = `${c.hypervisor.padStart(6)}: ${c.check.padEnd(69)}: `;
  return head + paint(c.result) + (c.detail ? ` (${c.detail})` : "");
}

/** The host's overall verdict: FAIL when any check failed (the tool then exits 1). */
export function overallResult(checks: readonly HostCheck[]): CheckResult {
  return checks.some((c) => c.result === "FAIL")
    ? "FAIL"
    : checks.some((c) => c.result === "WARN")
      ? "WARN"
      : "PASS";
}
