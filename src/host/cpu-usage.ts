/**
 * Host CPU usage as libvirt's virHostCPUGetMap / virHostCPUGetStats read it, and the per-thread
 * figures of qemuDomainGetVcpus (virProcessGetStatInfo, virProcessGetAffinity): all from
 * /sys/devices/system/cpu and /proc, so the answers are the host's own.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCpuList } from "./facts.ts";

/** Clock ticks of /proc (USER_HZ is 100 on every Linux ABI tvirt runs on) in nanoseconds. */
const TICK_NS = 10_000_000n;

function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

/** virNodeGetCPUMap: CPUs present (highest present id + 1) and the online ones. */
export function hostCpuMap(root = "/"): { cpus: number; online: number[] } {
  const present = parseCpuList(read(root, "/sys/devices/system/cpu/present") ?? "0");
  const online = parseCpuList(read(root, "/sys/devices/system/cpu/online") ?? "0");
  return { cpus: Math.max(-1, ...present, ...online) + 1, online };
}

/**
 * virNodeGetCPUStats: `user` (user + nice), `kernel` (system + irq + softirq), `idle`,
 * `iowait` in ns, of all CPUs (`cpuNum` -1) or one; undefined when that CPU has no line.
 */
export function hostCpuStats(cpuNum: number, root = "/"): { field: string; value: bigint }[] | undefined {
  const want = cpuNum < 0 ? "cpu" : `cpu${cpuNum}`;
  for (const line of (read(root, "/proc/stat") ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== want) continue;
    const n = (i: number): bigint => BigInt(f[i] ?? "0");
    return [
      { field: "kernel", value: (n(3) + n(6) + n(7)) * TICK_NS },
      { field: "user", value: (n(1) + n(2)) * TICK_NS },
      { field: "idle", value: n(4) * TICK_NS },
      { field: "iowait", value: n(5) * TICK_NS },
    ];
  }
  return undefined;
}

/** One thread's state letter, CPU time (utime + stime, ns) and the CPU it last ran on. */
export function threadStat(
  pid: number,
  tid: number,
  root = "/",
): { state: string; cpuTime: bigint; lastCpu: number } | undefined {
  const text = read(root, `/proc/${pid}/task/${tid}/stat`);
  if (text === undefined) return undefined;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state); utime/stime are fields 14/15, processor field 39.
  return {
    state: f[0] ?? "?",
    cpuTime: (BigInt(f[11] ?? "0") + BigInt(f[12] ?? "0")) * TICK_NS,
    lastCpu: Number(f[36] ?? "0"),
  };
}

/** The CPUs a thread may run on (`Cpus_allowed_list` of its status). */
export function threadAffinity(pid: number, tid: number, root = "/"): number[] | undefined {
  const text = read(root, `/proc/${pid}/task/${tid}/status`);
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(text ?? "");
  return m ? parseCpuList(m[1]!) : undefined;
}
