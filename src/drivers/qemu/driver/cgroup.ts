/**
 * A guest's cgroup on the QEMU driver (libvirt's `qemu_cgroup.c`, qemuProcessSetupVcpus /
 * qemuProcessSetupEmulator, qemuConnectCgroup, qemuRemoveCgroup).
 *
 * Privileged drivers only (option `cgroups`, see driver.ts). After QEMU opens its monitor and
 * before `cont`: the machine group `<partition>/qemu-ID-NAME.libvirt-qemu` with `emulator` and
 * one `vcpuN` per online vCPU; the process goes in (its threads into `emulator`), each vCPU
 * thread (`query-cpus-fast`) into its `vcpuN`; then `<memtune>` (hard/soft/swap_hard),
 * `<blkiotune>` (weight, per-device weight and throttles), `<cputune>` (shares and the global
 * CFS pair on the machine group, period/quota on each vcpuN, emulator_period/quota on emulator,
 * vcpupin / emulatorpin as the groups' cpuset). Removed when the run's resources are released
 * (QEMU gone); found again from `/proc/PID/cgroup` after a daemon restart.
 */
import { readdir } from "node:fs/promises";
import type { DomainDef } from "../../../conf/domain/index.ts";
import {
  blockDeviceNumber,
  detectMachineCgroup,
  hostCgroupLayout,
  machineGroupPath,
  machineName,
  MachineCgroup,
  MEMORY_UNLIMITED_KIB,
  type BlkioDeviceField,
  type CgroupLayout,
} from "../../../host/cgroup.ts";
import { isProcessAlive, signalProcess, waitForProcessExit } from "../../../util/spawn.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";

/** The machine group's leaf name (`qemu-1-vm.libvirt-qemu`, or the systemd scope). */
function leafOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The cgroup a guest with this id and name gets, or undefined when the driver uses none. */
export function plannedCgroup(
  drv: QemuDriver,
  id: number,
  name: string,
  layout?: CgroupLayout,
): MachineCgroup | undefined {
  const o = drv.options.cgroups;
  if (!o) return undefined;
  const l = layout ?? hostCgroupLayout();
  if (!l) return undefined;
  return new MachineCgroup(l, machineGroupPath(o.partition, machineName(id, name), o.layout));
}

/** Whether the definition asks for anything a cgroup gives. */
function wantsTuning(def: DomainDef): boolean {
  const mt = def.memtune;
  return (
    (mt !== undefined && (mt.hard_limit ?? mt.soft_limit ?? mt.swap_hard_limit) !== undefined) ||
    (def.blkiotune !== undefined &&
      (def.blkiotune.weight !== undefined || def.blkiotune.devices.length > 0)) ||
    def.cputune !== undefined
  );
}

/** vCPU index → host thread id, from QEMU. */
export async function vcpuThreads(qmp: QmpClient): Promise<Map<number, number>> {
  const cpus = await qmp.execute("query-cpus-fast");
  const out = new Map<number, number>();
  for (const c of Array.isArray(cpus) ? (cpus as Record<string, unknown>[]) : []) {
    const index = Number(c["cpu-index"]);
    const tid = Number(c["thread-id"]);
    if (Number.isInteger(index) && Number.isInteger(tid) && tid > 0) out.set(index, tid);
  }
  return out;
}

/**
 * Makes the guest's cgroup, moves QEMU into it and applies the definition's tuning. The removal
 * is registered on the run (after QEMU is gone; never when the driver only detaches).
 */
export async function setupDomainCgroup(
  drv: QemuDriver,
  run: QemuRun,
  live: DomainDef,
  qmp: QmpClient,
): Promise<void> {
  const layout = hostCgroupLayout();
  const cg = layout && plannedCgroup(drv, live.id ?? 0, live.name, layout);
  if (!cg) {
    // libvirt: no cgroups mounted, no cgroup (the tuning then stays in the XML only)
    if (drv.options.cgroups && wantsTuning(live))
      drv.warn(
        `domain '${live.name}': no cgroup hierarchy is mounted; <memtune>/<cputune>/<blkiotune> are not applied`,
      );
    return;
  }
  const threads = await vcpuThreads(qmp);
  const groups = ["emulator", ...[...threads.keys()].sort((a, b) => a - b).map((i) => `vcpu${i}`)];
  run.cgroup = cg;
  run.store.addFn(() => releaseCgroup(run, cg));
  await cg.create(groups);
  if (layout.version === 1) {
    await cg.addProcess(run.pid, "emulator");
  } else {
    await cg.addProcess(run.pid);
    for (const tid of await taskIds(run.pid)) await cg.addThread("emulator", tid).catch(() => undefined);
  }
  for (const [index, tid] of threads) await cg.addThread(`vcpu${index}`, tid);
  await applyTuning(cg, live, threads);
}

async function taskIds(pid: number): Promise<number[]> {
  try {
    return (await readdir(`/proc/${pid}/task`)).map(Number).filter((n) => Number.isInteger(n));
  } catch {
    return [];
  }
}

/** Removes the group once QEMU is gone (the driver letting go of a running guest keeps it). */
async function releaseCgroup(run: QemuRun, cg: MachineCgroup): Promise<void> {
  if (run.detached) return;
  // a failed start disposes the run before it kills QEMU: the group only goes once it is empty
  if (isProcessAlive(run.pid, run.starttime)) {
    signalProcess(run.pid, "SIGKILL", run.starttime);
    await waitForProcessExit(run.pid, 5000, run.starttime);
  }
  await cg.remove();
}

/** A guest's `<memtune>`, `<blkiotune>`, `<cputune>` written into its groups. */
export async function applyTuning(
  cg: MachineCgroup,
  def: DomainDef,
  threads: Map<number, number>,
): Promise<void> {
  const mt = def.memtune;
  if (mt) {
    const k = (v: number | undefined): bigint | undefined => (v === undefined ? undefined : BigInt(v));
    const limits = { hard: k(mt.hard_limit), soft: k(mt.soft_limit), swap: k(mt.swap_hard_limit) };
    if (limits.hard !== undefined || limits.soft !== undefined || limits.swap !== undefined)
      await cg.setMemoryLimits(limits);
  }
  const bt = def.blkiotune;
  if (bt) {
    if (bt.weight) await cg.setBlkioWeight(bt.weight);
    for (const d of bt.devices) await applyBlkioDevice(cg, d.path, d);
  }
  const ct = def.cputune;
  if (!ct) return;
  if (ct.shares !== undefined) await cg.setCpuShares(ct.shares);
  const cfs = (
    period: number | undefined,
    quota: number | undefined,
  ): { period?: number; quota?: number } => ({
    ...(period ? { period } : {}),
    ...(quota ? { quota } : {}),
  });
  if (ct.global_period || ct.global_quota) await cg.setCfs(undefined, cfs(ct.global_period, ct.global_quota));
  if (ct.emulator_period || ct.emulator_quota)
    await cg.setCfs("emulator", cfs(ct.emulator_period, ct.emulator_quota));
  for (const index of threads.keys()) {
    if (ct.period || ct.quota) await cg.setCfs(`vcpu${index}`, cfs(ct.period, ct.quota));
    const pin = ct.vcpupin.find((p) => p.vcpu === index);
    if (pin) await cg.setCpus(`vcpu${index}`, pin.cpuset);
  }
  if (ct.emulatorpin !== undefined) await cg.setCpus("emulator", ct.emulatorpin);
}

const BLKIO_FIELDS: readonly [
  keyof Omit<NonNullable<DomainDef["blkiotune"]>["devices"][number], "path">,
  BlkioDeviceField,
][] = [
  ["weight", "weight"],
  ["read_bytes_sec", "read_bps"],
  ["write_bytes_sec", "write_bps"],
  ["read_iops_sec", "read_iops"],
  ["write_iops_sec", "write_iops"],
];

/** One `<blkiotune><device>`: each field that is set (0 clears). */
export async function applyBlkioDevice(
  cg: MachineCgroup,
  path: string,
  d: Partial<
    Record<"weight" | "read_bytes_sec" | "write_bytes_sec" | "read_iops_sec" | "write_iops_sec", number>
  >,
): Promise<void> {
  const devno = await blockDeviceNumber(path);
  for (const [field, cgField] of BLKIO_FIELDS) {
    const v = d[field];
    if (v !== undefined) await cg.setBlkioDevice(devno, cgField, BigInt(v));
  }
}

/** After a daemon restart: the group QEMU is in, if it is the one this guest would get. */
export async function adoptDomainCgroup(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun): Promise<void> {
  const layout = hostCgroupLayout();
  const planned = layout && plannedCgroup(drv, obj.id, obj.name, layout);
  if (!planned) return;
  const cg = await detectMachineCgroup(planned.layout, run.pid, leafOf(planned.path));
  if (!cg) return;
  run.cgroup = cg;
  run.store.addFn(() => releaseCgroup(run, cg));
}

/** After a restart that finds QEMU gone: the group it left, if any. */
export async function removeCgroupOfGone(drv: QemuDriver, id: number, name: string): Promise<void> {
  const cg = plannedCgroup(drv, id, name);
  if (cg?.exists()) await cg.remove(1000);
}

export { MEMORY_UNLIMITED_KIB };
