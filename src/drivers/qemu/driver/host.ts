/**
 * Host facts the QEMU driver reports: `virNodeGetInfo`, the host name, and the capabilities
 * XML (`virConnectGetCapabilities`) in libvirt's format: the host (CPU arch and topology, page
 * sizes, NUMA cells, security models) and one `<guest>` per architecture the emulator runs,
 * with its machine types and the domain types (`qemu` always, `kvm` only when KVM works).
 */
import { readdirSync, readFileSync } from "node:fs";
import { runArgvSync } from "../../../util/spawn.ts";
import { hostname as osHostname } from "node:os";
import { XmlWriter } from "../../../conf/xml.ts";
import type { NodeInfo } from "../../driver.ts";
import type { MachineInfo, QemuCaps } from "../capabilities/index.ts";

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Node's arch name → libvirt's. */
export function hostArch(): string {
  switch (process.arch) {
    case "x64":
      return "x86_64";
    case "arm64":
      return "aarch64";
    case "ia32":
      return "i686";
    case "ppc64":
      return "ppc64le";
    default:
      return process.arch;
  }
}

/** Parses a CPU list such as `0-3,8`. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    const end = b !== undefined && Number.isInteger(b) ? b : a;
    for (let i = a; i <= end; i++) out.push(i);
  }
  return out;
}

interface HostCpu {
  readonly id: number;
  readonly socket: number;
  readonly die: number;
  readonly core: number;
  readonly siblings: string;
  readonly node: number;
}

function hostCpus(): HostCpu[] {
  const online = parseCpuList(read("/sys/devices/system/cpu/online") ?? "0");
  const nodeOf = new Map<number, number>();
  for (const n of numaNodes()) {
    for (const c of parseCpuList(read(`/sys/devices/system/node/node${n}/cpulist`) ?? "")) nodeOf.set(c, n);
  }
  return online.map((id) => {
    const t = (f: string): string | undefined =>
      read(`/sys/devices/system/cpu/cpu${id}/topology/${f}`)?.trim();
    return {
      id,
      socket: Number(t("physical_package_id") ?? 0),
      die: Number(t("die_id") ?? 0),
      core: Number(t("core_id") ?? id),
      siblings: t("thread_siblings_list") ?? String(id),
      node: nodeOf.get(id) ?? 0,
    };
  });
}

function numaNodes(): number[] {
  try {
    return readdirSync("/sys/devices/system/node")
      .map((n) => /^node(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [0];
  }
}

function meminfoKiB(field: string, text = read("/proc/meminfo") ?? ""): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** `virNodeGetFreeMemory`: free memory in bytes. */
export function hostFreeMemoryBytes(): bigint {
  return BigInt(meminfoKiB("MemFree")) * 1024n;
}

/** `virNodeGetInfo` for this host. */
export function hostNodeInfo(): NodeInfo {
  const cpus = hostCpus();
  const cpuinfo = read("/proc/cpuinfo") ?? "";
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  const sockets = new Set(cpus.map((c) => `${c.node}:${c.socket}`)).size || 1;
  const nodes = numaNodes().length || 1;
  const coresPerSocket = Math.max(
    1,
    new Set(cpus.map((c) => `${c.socket}:${c.die}:${c.core}`)).size / sockets,
  );
  const threads = Math.max(1, Math.round(cpus.length / (sockets * coresPerSocket)));
  return {
    model: hostArch(),
    memory: meminfoKiB("MemTotal"),
    cpus: cpus.length,
    mhz: mhz ? Math.floor(Number(mhz[1])) : 0,
    nodes,
    sockets: Math.max(1, Math.floor(sockets / nodes)),
    cores: Math.round(coresPerSocket),
    threads,
  };
}

/** libvirt's virGetHostname: the node name, canonicalised through the resolver when short. */
export function hostName(): string {
  const name = osHostname();
  if (name.startsWith("localhost") || name.includes(".")) return name;
  try {
    const r = runArgvSync(["getent", "ahosts", name], { timeout: 2000 });
    if (r.status === 0) {
      const canon = r.stdout.split("\n")[0]?.trim().split(/\s+/)[2];
      if (canon && !canon.startsWith("localhost")) return canon;
    }
  } catch {
    // no resolver: keep the node name
  }
  return name;
}

function hugePageSizes(): number[] {
  try {
    return readdirSync("/sys/kernel/mm/hugepages")
      .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

function machineLines(w: XmlWriter, machines: readonly MachineInfo[]): void {
  for (const m of machines) {
    w.text("machine", m.name, { maxCpus: m.maxCpus, deprecated: m.deprecated ? "yes" : undefined });
    if (m.alias !== undefined) w.text("machine", m.alias, { canonical: m.name, maxCpus: m.maxCpus });
  }
}

/** The capabilities XML of this host for one emulator. */
export function hostCapabilitiesXML(caps: QemuCaps, options: { kvm: boolean; hostUuid?: string }): string {
  const cpus = hostCpus();
  const info = hostNodeInfo();
  const pageSizes = [4, ...hugePageSizes()];
  const meminfo = read("/proc/meminfo") ?? "";
  const w = new XmlWriter();
  w.elem("capabilities", undefined, () => {
    w.raw("");
    w.elem("host", undefined, () => {
      if (options.hostUuid !== undefined) w.text("uuid", options.hostUuid);
      w.elem("cpu", undefined, () => {
        w.text("arch", hostArch());
        w.empty("topology", {
          sockets: info.sockets * info.nodes,
          dies: 1,
          cores: info.cores,
          threads: info.threads,
        });
        for (const s of pageSizes) w.empty("pages", { unit: "KiB", size: s });
      });
      w.empty("power_management");
      w.empty("iommu", { support: hasIommu() ? "yes" : "no" });
      w.elem("migration_features", undefined, () => {
        w.empty("live");
        w.elem("uri_transports", undefined, () => {
          w.text("uri_transport", "tcp");
          w.text("uri_transport", "rdma");
        });
      });
      const nodes = numaNodes();
      w.elem("topology", undefined, () => {
        w.elem("cells", { num: nodes.length }, () => {
          for (const n of nodes) {
            const nodeMeminfo = read(`/sys/devices/system/node/node${n}/meminfo`) ?? "";
            const memKiB = Number(
              /MemTotal:\s+(\d+) kB/.exec(nodeMeminfo)?.[1] ?? meminfoKiB("MemTotal", meminfo),
            );
            w.elem("cell", { id: n }, () => {
              w.text("memory", memKiB, { unit: "KiB" });
              for (const s of pageSizes) {
                const count =
                  s === 4
                    ? Math.floor(memKiB / 4)
                    : Number(
                        read(
                          `/sys/devices/system/node/node${n}/hugepages/hugepages-${s}kB/nr_hugepages`,
                        )?.trim() ?? 0,
                      );
                w.text("pages", count, { unit: "KiB", size: s });
              }
              w.elem("distances", undefined, () => {
                const d = (read(`/sys/devices/system/node/node${n}/distance`) ?? "10").trim().split(/\s+/);
                nodes.forEach((m, i) => {
                  w.empty("sibling", { id: m, value: d[i] ?? "10" });
                });
              });
              const mine = cpus.filter((c) => c.node === n);
              w.elem("cpus", { num: mine.length }, () => {
                for (const c of mine) {
                  w.empty("cpu", {
                    id: c.id,
                    socket_id: c.socket,
                    die_id: c.die,
                    core_id: c.core,
                    siblings: c.siblings,
                  });
                }
              });
            });
          }
        });
      });
      w.elem("secmodel", undefined, () => {
        w.text("model", "none");
        w.text("doi", "0");
      });
    });
    w.raw("");
    const archs =
      caps.arch === "x86_64"
        ? [
            { name: "i686", wordsize: 32 },
            { name: "x86_64", wordsize: 64 },
          ]
        : [{ name: caps.arch, wordsize: 64 }];
    for (const a of archs) {
      w.elem("guest", undefined, () => {
        w.text("os_type", "hvm");
        w.elem("arch", { name: a.name }, () => {
          w.text("wordsize", a.wordsize);
          w.text("emulator", caps.emulator);
          machineLines(w, caps.accel.tcg?.machines ?? []);
          w.empty("domain", { type: "qemu" });
          if (options.kvm) w.empty("domain", { type: "kvm" });
        });
        w.elem("features", undefined, () => {
          if (a.name === "i686") {
            w.empty("pae");
            w.empty("nonpae");
          }
          w.empty("acpi", { default: "on", toggle: "yes" });
          w.empty("apic", { default: "on", toggle: "no" });
          w.empty("cpuselection");
          w.empty("deviceboot");
          w.empty("disksnapshot", { default: "on", toggle: "no" });
        });
      });
      w.raw("");
    }
  });
  // libvirt separates host and guests by empty lines.
  return w.toString().replace(/^ +$/gm, "");
}

function hasIommu(): boolean {
  try {
    return readdirSync("/sys/kernel/iommu_groups").length > 0;
  } catch {
    return false;
  }
}
