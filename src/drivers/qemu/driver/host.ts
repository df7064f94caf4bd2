/**
 * The capabilities XML of the QEMU driver (`virConnectGetCapabilities`) in libvirt's format, made
 * from the host facts of `host/facts.ts`: the host (CPU arch and topology, page sizes, NUMA
 * cells, security models) and one `<guest>` per architecture the emulator runs, with its machine
 * types and the domain types (`qemu` always, `kvm` only when KVM works).
 */
import { XmlWriter } from "../../../conf/xml.ts";
import {
  hostArch,
  hostCpuId,
  hostCpus,
  hostHasIommu,
  hostNodeInfo,
  hugePageSizes,
  meminfoKiB,
  nodeDistances,
  nodeHugePages,
  nodeMemoryKiB,
  numaNodes,
  readMeminfo,
} from "../../../host/facts.ts";
import type { MachineInfo, QemuCaps } from "../capabilities/index.ts";
import { hostCpuFromCpuId } from "../capabilities/cpu-host-model.ts";

function machineLines(w: XmlWriter, machines: readonly MachineInfo[]): void {
  for (const m of machines) {
    w.text("machine", m.name, { maxCpus: m.maxCpus, deprecated: m.deprecated ? "yes" : undefined });
    if (m.alias !== undefined) w.text("machine", m.alias, { canonical: m.name, maxCpus: m.maxCpus });
  }
}

/** The capabilities XML of this host for one emulator. */
export function hostCapabilitiesXML(
  caps: QemuCaps,
  options: { kvm: boolean; hostUuid?: string; secmodel?: { model: string; doi: string } },
): string {
  const cpus = hostCpus();
  const info = hostNodeInfo();
  const pageSizes = [4, ...hugePageSizes()];
  const meminfo = readMeminfo();
  const w = new XmlWriter();
  w.elem("capabilities", undefined, () => {
    w.raw("");
    w.elem("host", undefined, () => {
      if (options.hostUuid !== undefined) w.text("uuid", options.hostUuid);
      w.elem("cpu", undefined, () => {
        const arch = hostArch();
        w.text("arch", arch);
        // model, vendor and extra features, as libvirt names the host CPU (x86 only)
        const cpu =
          arch === "x86_64" || arch === "i686"
            ? hostCpuFromCpuId(caps.cpuDefinitions, hostCpuId())
            : undefined;
        if (cpu) {
          w.text("model", cpu.model);
          if (cpu.vendor !== undefined) w.text("vendor", cpu.vendor);
        }
        w.empty("topology", {
          sockets: info.sockets * info.nodes,
          dies: 1,
          cores: info.cores,
          threads: info.threads,
        });
        for (const f of cpu?.features ?? []) w.empty("feature", { name: f });
        for (const s of pageSizes) w.empty("pages", { unit: "KiB", size: s });
      });
      w.empty("power_management");
      w.empty("iommu", { support: hostHasIommu() ? "yes" : "no" });
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
            const memKiB = nodeMemoryKiB(n, meminfoKiB("MemTotal", meminfo));
            w.elem("cell", { id: n }, () => {
              w.text("memory", memKiB, { unit: "KiB" });
              for (const s of pageSizes) {
                const count = s === 4 ? Math.floor(memKiB / 4) : nodeHugePages(n, s);
                w.text("pages", count, { unit: "KiB", size: s });
              }
              w.elem("distances", undefined, () => {
                const d = nodeDistances(n);
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
        w.text("model", options.secmodel?.model ?? "none");
        w.text("doi", options.secmodel?.doi ?? "0");
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
