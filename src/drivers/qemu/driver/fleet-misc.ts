/**
 * Issue 20's calls on the QEMU driver: the host's CPU map and counters (libvirt's
 * virHostCPUGetMap / virHostCPUGetStats), per-vCPU thread figures (qemuDomainGetVcpus: thread
 * ids from `query-cpus-fast`, CPU time and last CPU from /proc/PID/task/TID/stat, affinity from
 * its status), description and title (qemuDomainSetMetadata), `inject-nmi` and interface
 * addresses from the network's DHCP leases, the host's ARP table or the guest agent
 * (agent-calls.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getDefMetadata, setDefMetadata } from "../../metadata.ts";
import { hostCpuMap, hostCpuStats, threadAffinity, threadStat } from "../../../host/cpu-usage.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { DomainInterfaceAddrs, LeaseLookup, VcpuInfo } from "../../driver.ts";
import type { QemuDomainObj } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { affectedDefs } from "./tuning.ts";
import { guestInterfaces } from "./agent-calls.ts";
import type { QmpClient } from "../monitor/index.ts";

const LIVE = 1;
const CONFIG = 2;

export function nodeGetCPUMap(flags: number): { cpus: number; online: number[] } {
  checkFlags(flags, 0, "virHostCPUGetMap");
  return hostCpuMap();
}

export function nodeGetCPUStats(cpuNum: number, flags: number): { field: string; value: bigint }[] {
  checkFlags(flags, 0, "virHostCPUGetStats");
  const stats = hostCpuStats(cpuNum);
  if (!stats) {
    const e = new VirtError("API_INVALID_ARG", {
      what: `Invalid cpuNum in virHostCPUGetStatsLinux: ${cpuNum}`,
    });
    throw e;
  }
  return stats;
}

function liveQmp(obj: QemuDomainObj): { pid: number; qmp: QmpClient } {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended || !run.qmp)
    throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return { pid: run.pid, qmp: run.qmp };
}

async function withJob<T>(obj: QemuDomainObj, api: string, fn: () => Promise<T>): Promise<T> {
  const job = await obj.job.acquire("modify", api);
  try {
    return await fn();
  } finally {
    job.release();
  }
}

export async function getVcpus(
  obj: QemuDomainObj,
): Promise<{ info: VcpuInfo[]; affinity: number[][]; hostCpus: number }> {
  if (!obj.isActive()) throw new VirtError("DOMAIN_VCPUS_INACTIVE", {}, { name: obj.name });
  const { pid, qmp } = liveQmp(obj);
  const cpus = (await qmp.execute("query-cpus-fast")) as { "cpu-index": number; "thread-id": number }[];
  const host = hostCpuMap();
  const all = Array.from({ length: host.cpus }, (_, i) => i);
  const info: VcpuInfo[] = [];
  const affinity: number[][] = [];
  for (const c of [...cpus].sort((a, b) => a["cpu-index"] - b["cpu-index"])) {
    const st = threadStat(pid, c["thread-id"]);
    // libvirt reports every online vCPU as running; the thread's own state is not used.
    info.push({ number: c["cpu-index"], state: 1, cpuTime: st?.cpuTime ?? 0n, cpu: st?.lastCpu ?? -1 });
    affinity.push(threadAffinity(pid, c["thread-id"]) ?? all);
  }
  return { info, affinity, hostCpus: host.cpus };
}

export async function setMetadata(
  drv: QemuDriver,
  obj: QemuDomainObj,
  type: number,
  metadata: string | null,
  uri: string | null,
  flags: number,
  key: string | null = null,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainSetMetadata");
  await withJob(obj, "virDomainSetMetadata", async () => {
    const { live, config } = affectedDefs(obj, flags);
    if (live) {
      setDefMetadata(live, type, metadata, uri, "Set", key);
      await drv.saveStatus(obj);
    }
    if (config) {
      setDefMetadata(config, type, metadata, uri, "Set", key);
      await drv.saveConfig(obj);
    }
  });
}

export function getMetadata(obj: QemuDomainObj, type: number, uri: string | null, flags: number): string {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainGetMetadata");
  if ((flags & (LIVE | CONFIG)) === (LIVE | CONFIG))
    throw new VirtError("API_INVALID_ARG", {
      what: "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
    });
  const { live, config } = affectedDefs(obj, flags);
  return getDefMetadata((live ?? config)!, type, uri);
}

export async function injectNMI(obj: QemuDomainObj, flags: number): Promise<void> {
  checkFlags(flags, 0, "qemuDomainInjectNMI");
  await withJob(obj, "virDomainInjectNMI", async () => {
    await liveQmp(obj).qmp.execute("inject-nmi");
  });
}

/** /proc/net/arp: IPv4 addresses by MAC. */
function arpTable(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let text: string;
  try {
    text = readFileSync("/proc/net/arp", "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // IP address, HW type, Flags, HW address, Mask, Device; flags 0x0 = incomplete
    if (f.length < 6 || f[2] === "0x0") continue;
    const mac = f[3]!.toLowerCase();
    out.set(mac, [...(out.get(mac) ?? []), f[0]!]);
  }
  return out;
}

export async function interfaceAddresses(
  obj: QemuDomainObj,
  source: number,
  flags: number,
  leases: LeaseLookup | undefined,
): Promise<DomainInterfaceAddrs[]> {
  checkFlags(flags, 0, "qemuDomainInterfaceAddresses");
  liveQmp(obj);
  const nics = obj.def.devices.interfaces;
  const name = (i: number): string => nics[i]!.target?.dev ?? `vnet${i}`;
  if (source === 0) {
    // libvirt's virDomainNetDHCPInterfaces: interfaces on a libvirt network, their leases.
    const out: DomainInterfaceAddrs[] = [];
    for (const [i, nic] of nics.entries()) {
      const net = nic.type === "network" ? nic.source?.network : undefined;
      const mac = nic.mac?.address;
      if (!net || !mac || !leases) continue;
      const ls = (await leases(net, mac)) ?? [];
      if (ls.length === 0) continue;
      out.push({
        name: name(i),
        hwaddr: mac,
        addrs: ls.map((l) => ({ type: l.type, addr: l.ipaddr, prefix: l.prefix })),
      });
    }
    return out;
  }
  if (source === 2) {
    const arp = arpTable();
    const out: DomainInterfaceAddrs[] = [];
    for (const [i, nic] of nics.entries()) {
      const mac = nic.mac?.address;
      const ips = mac ? arp.get(mac.toLowerCase()) : undefined;
      if (!mac || !ips) continue;
      out.push({ name: name(i), hwaddr: mac, addrs: ips.map((addr) => ({ type: 0, addr, prefix: 0 })) });
    }
    return out;
  }
  if (source === 1) return guestInterfaces(obj);
  throw new VirtError("DOMAIN_ADDR_SOURCE", { source });
}

/**
 * virNodeDeviceCreateXML / DefineXML make mediated devices: with no mdev-capable parent on the
 * host (nothing under /sys/class/mdev_bus) the refusal says so; with one, tvirt still lacks
 * mdev creation and says that instead.
 */
export function refuseMdev(sysfsRoot: string, api: string, flags: number): never {
  checkFlags(flags, 0, api);
  let parents: string[];
  try {
    parents = readdirSync(join(sysfsRoot, "class/mdev_bus"));
  } catch {
    parents = [];
  }
  if (parents.length === 0) throw new VirtError("NODEDEV_NO_MDEV", { api });
  throw new VirtError("API_NO_SUPPORT", { api: `${api} (mediated device creation not in tvirt yet)` });
}
