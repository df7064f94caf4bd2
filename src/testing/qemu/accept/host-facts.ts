/**
 * What this machine has and lacks, read from the machine itself (device nodes, sysfs, the QEMU
 * binary), so the acceptance test decides "not runnable here" from facts, not from a hand list.
 */
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { probeKvm } from "../../../host/kvm.ts";
import { run } from "./run.ts";

export interface HostFacts {
  readonly qemu: string;
  /** KVM runs a vCPU here (the product's real probe, `host/kvm.ts`), not just `/dev/kvm` opens. */
  readonly kvm: boolean;
  /** `/dev/vfio/vfio` exists and the kernel has IOMMU groups. */
  readonly vfio: boolean;
  /** `/dev/sev` exists (AMD SEV firmware interface). */
  readonly sev: boolean;
  /** `/dev/vhost-net` exists. */
  readonly vhostNet: boolean;
  /** `ovs-vsctl` is on PATH (Open vSwitch installed). */
  readonly openvswitch: boolean;
  /** `/sys/bus/usb` exists (the host has a USB bus at all). */
  readonly usbBus: boolean;
  /** Device names from `qemu-system-x86_64 -device help`. */
  readonly qemuDevices: ReadonlySet<string>;
  /** Huge page sizes the kernel offers (KiB), from `/sys/kernel/mm/hugepages`. */
  readonly hugepageSizesKiB: readonly number[];
  /** Default huge page size (KiB), from `/proc/meminfo`. */
  readonly defaultHugepageKiB: number | undefined;
  /** Host NUMA nodes, from `/sys/devices/system/node`. */
  readonly numaNodes: readonly number[];
  /** IPv6 is enabled (needed to listen on an IPv6 address inside the namespace). */
  readonly ipv6: boolean;
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

export function onPath(program: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  for (const d of dirs) {
    if (d === "") continue;
    const p = join(d, program);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Parses `-device help` output: lines `name "virtio-net-pci", bus PCI, ...`. */
export function parseDeviceHelp(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^name "([^"]+)"(?:.*alias "([^"]+)")?/gm)) {
    if (m[1] !== undefined) out.add(m[1]);
    if (m[2] !== undefined) out.add(m[2]);
  }
  return out;
}

export async function readHostFacts(qemu: string): Promise<HostFacts> {
  const help = await run([qemu, "-device", "help"], { check: false, timeoutMs: 20_000 });
  let meminfo = "";
  try {
    meminfo = readFileSync("/proc/meminfo", "utf8");
  } catch {
    /* no meminfo */
  }
  const dm = /^Hugepagesize:\s+(\d+) kB$/m.exec(meminfo);
  return {
    qemu,
    kvm: (await probeKvm({ binary: qemu })).usable,
    vfio: existsSync("/dev/vfio/vfio") && listDir("/sys/kernel/iommu_groups").length > 0,
    sev: existsSync("/dev/sev"),
    vhostNet: existsSync("/dev/vhost-net"),
    openvswitch: onPath("ovs-vsctl") !== undefined,
    usbBus: existsSync("/sys/bus/usb/devices"),
    qemuDevices: parseDeviceHelp(help.stdout + help.stderr),
    hugepageSizesKiB: listDir("/sys/kernel/mm/hugepages")
      .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b),
    defaultHugepageKiB: dm?.[1] !== undefined ? Number(dm[1]) : undefined,
    numaNodes: listDir("/sys/devices/system/node")
      .map((d) => /^node(\d+)$/.exec(d)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b),
    ipv6: existsSync("/proc/net/if_inet6"),
  };
}

const fsdriverCache = new Map<string, string | undefined>();

/**
 * Whether QEMU has a 9p fsdev driver (`local`, `handle`, `proxy`, `synth`): starts it with
 * `-machine none` and that `-fsdev`, and quits over QMP on stdin. Returns undefined when it
 * has the driver, else QEMU's error line (e.g. `fsdev: fsdriver handle not found`).
 */
export async function missingFsdriver(qemu: string, driver: string): Promise<string | undefined> {
  if (fsdriverCache.has(driver)) return fsdriverCache.get(driver);
  const dir = mkdtempSync(join(tmpdir(), "tvirt-fsprobe-"));
  try {
    const r = await run(
      [
        qemu,
        "-machine",
        "none",
        "-nodefaults",
        "-display",
        "none",
        "-S",
        "-fsdev",
        `${driver},id=probe,path=${dir},security_model=none`,
        "-qmp",
        "stdio",
      ],
      { check: false, timeoutMs: 20_000, input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' },
    );
    const last = r.stderr.trim().split("\n").at(-1) ?? "";
    // QEMU echoes the option before its message: "qemu-system-x86_64: -fsdev handle,...: fsdev: ...".
    const at = last.lastIndexOf(": fsdev: ");
    const why =
      r.code === 0 ? undefined : (at >= 0 ? last.slice(at + 2) : last) || `exit status ${String(r.code)}`;
    fsdriverCache.set(driver, why);
    return why;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
