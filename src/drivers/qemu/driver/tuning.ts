/**
 * Live and persistent tuning of memory and vCPUs on the QEMU driver (libvirt's
 * `qemuDomainSetMemoryFlags`, `qemuDomainSetVcpusFlags`, `qemuDomainGetVcpusFlags`,
 * `qemuDomainSetMemoryStatsPeriod`, `qemuProcessSetupBalloon`, `qemuProcessHandleBalloonChange`).
 *
 * - Memory: the live size moves through the virtio balloon (`balloon` QMP command); the live
 *   definition's `<currentMemory>` follows QEMU's BALLOON_CHANGE events (and the balloon's size
 *   right after the command), and is written to the status file. `--config` changes the
 *   persistent definition. The maximum (`<memory>`) changes only in the persistent definition.
 * - vCPUs: online vCPUs of a running x86 guest are added with `device_add` of the CPU objects
 *   `query-hotpluggable-cpus` lists (libvirt's "hotpluggable vcpus") and removed with
 *   `device_del` (which the guest must acknowledge). The maximum changes only in the config.
 *   At start the enabled hotpluggable vCPUs of `<vcpus>` (not in `-smp`) are plugged the same
 *   way, in their `order`, before the guest runs or an incoming state loads.
 */
import type { DomainDef } from "../../../conf/domain/index.ts";
import type { Job } from "../../../util/job-lock.ts";
import { DomainEventId, DomainMemoryModFlags, DomainVcpuFlags } from "../../enums.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";

const LIVE = 1;
const CONFIG = 2;

/** virDomainObjGetDefs: the definitions a LIVE/CONFIG/CURRENT request affects. */
export function affectedDefs(
  obj: QemuDomainObj,
  flags: number,
): { live: DomainDef | undefined; config: DomainDef | undefined } {
  let f = flags & (LIVE | CONFIG);
  if (f === 0) f = obj.isActive() ? LIVE : CONFIG;
  if (f & LIVE && !obj.isActive()) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  if (f & CONFIG && !obj.persistent) throw new VirtError("TUNING_NOT_PERSISTENT", {}, { name: obj.name });
  return {
    live: f & LIVE ? obj.def : undefined,
    config: f & CONFIG ? obj.persistentDef() : undefined,
  };
}

async function withModifyJob<T>(obj: QemuDomainObj, api: string, fn: (job: Job) => Promise<T>): Promise<T> {
  const job = await obj.job.acquire("modify", api);
  try {
    return await fn(job);
  } finally {
    job.release();
  }
}

function liveRun(obj: QemuDomainObj): { run: QemuRun; qmp: QmpClient } {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended || !run.qmp)
    throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return { run, qmp: run.qmp };
}

/** `virDomainDefHasMemballoon` */
export function hasBalloon(def: DomainDef): boolean {
  const m = def.devices.memballoon;
  return m !== undefined && m.model !== "none" && m.model !== "xen";
}

/** QOM path of the balloon device (its `-device id=` is the alias). */
export function balloonPath(def: DomainDef): string {
  return `/machine/peripheral/${def.devices.memballoon?.alias ?? "balloon0"}`;
}

/** The balloon's size now (`query-balloon`), KiB; undefined when QEMU has no balloon. */
export async function queryBalloonKiB(qmp: QmpClient): Promise<number | undefined> {
  try {
    const r = (await qmp.execute("query-balloon")) as { actual?: unknown } | undefined;
    return typeof r?.actual === "number" ? Math.floor(r.actual / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * qemuProcessSetupBalloon: after QMP connects and before `cont`, the stats polling period and a
 * balloon target below the maximum are applied.
 */
export async function setupBalloon(qmp: QmpClient, def: DomainDef): Promise<void> {
  if (!hasBalloon(def)) return;
  const period = def.devices.memballoon?.statsPeriod;
  if (period !== undefined && period > 0) {
    await qmp.execute("qom-set", {
      path: balloonPath(def),
      property: "guest-stats-polling-interval",
      value: period,
    });
  }
  if (def.currentMemory < def.memory) await qmp.execute("balloon", { value: def.currentMemory * 1024 });
}

/** qemuProcessHandleBalloonChange: QEMU's BALLOON_CHANGE (`actual` in bytes). */
export function balloonChanged(drv: QemuDriver, obj: QemuDomainObj, actualBytes: number): void {
  const kib = Math.floor(actualBytes / 1024);
  obj.def.currentMemory = kib;
  drv.events.emit(obj.ref(), { id: DomainEventId.BALLOON_CHANGE, actual: BigInt(kib) });
  drv.saveStatusLater(obj);
}

// ---------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------

export async function setMemoryFlags(
  drv: QemuDriver,
  obj: QemuDomainObj,
  kib: number,
  flags: number,
): Promise<void> {
  const M = DomainMemoryModFlags;
  checkFlags(flags, M.LIVE | M.CONFIG | M.MAXIMUM, "qemuDomainSetMemoryFlags");
  if (!Number.isSafeInteger(kib) || kib < 1)
    throw new VirtError("TUNING_MEMORY_ZERO", { name: obj.name, value: kib }, { name: obj.name });
  await withModifyJob(obj, "virDomainSetMemoryFlags", async () => {
    const { live, config } = affectedDefs(obj, flags);
    if (flags & M.MAXIMUM) {
      if (live) throw new VirtError("TUNING_MAX_MEMORY_LIVE", {}, { name: obj.name });
      if (config) {
        config.memory = kib;
        if (config.currentMemory > kib) config.currentMemory = kib;
        await drv.saveConfig(obj);
      }
      return;
    }
    if (live && kib > live.memory) throw new VirtError("TUNING_MEMORY_ABOVE_MAX", {}, { name: obj.name });
    if (config && kib > config.memory) throw new VirtError("TUNING_MEMORY_ABOVE_MAX", {}, { name: obj.name });
    if (live) {
      if (!hasBalloon(live)) throw new VirtError("TUNING_NO_BALLOON", {}, { name: obj.name });
      const { qmp } = liveRun(obj);
      await qmp.execute("balloon", { value: kib * 1024 });
      // The guest moves the balloon on its own time: BALLOON_CHANGE events update the size.
      const now = await queryBalloonKiB(qmp);
      if (now !== undefined) live.currentMemory = now;
      await drv.saveStatus(obj);
    }
    if (config) {
      config.currentMemory = kib;
      await drv.saveConfig(obj);
    }
  });
}

export async function setMemoryStatsPeriod(
  drv: QemuDriver,
  obj: QemuDomainObj,
  period: number,
  flags: number,
): Promise<void> {
  checkFlags(flags, LIVE | CONFIG, "qemuDomainSetMemoryStatsPeriod");
  if (!Number.isInteger(period) || period < 0)
    throw new VirtError("TUNING_BAD_PERIOD", { period }, { name: obj.name });
  await withModifyJob(obj, "virDomainSetMemoryStatsPeriod", async () => {
    const { live, config } = affectedDefs(obj, flags);
    for (const def of [live, config]) {
      if (def && !hasBalloon(def)) throw new VirtError("TUNING_NO_BALLOON_PERIOD", {}, { name: obj.name });
    }
    if (live) {
      const { qmp } = liveRun(obj);
      await qmp.execute("qom-set", {
        path: balloonPath(live),
        property: "guest-stats-polling-interval",
        value: period,
      });
      const m = live.devices.memballoon;
      if (m) m.statsPeriod = period;
      await drv.saveStatus(obj);
    }
    if (config) {
      const m = config.devices.memballoon;
      if (m) m.statsPeriod = period;
      await drv.saveConfig(obj);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// vCPUs
// ---------------------------------------------------------------------------------------------

/** `virDomainDefGetVcpus`: online vCPUs of a definition. */
export function onlineVcpus(def: DomainDef): number {
  return def.vcpu.current ?? def.vcpu.count;
}

/**
 * The live `<vcpus>` after a hot(un)plug, from what QEMU has: a present vCPU is enabled (one a
 * `device_add` made is hotpluggable; a vCPU that was already enabled keeps its flags and order,
 * a newly enabled one is ordered after the others so that a migration destination plugs them in
 * the same sequence), an absent one disabled and hotpluggable. `current` follows.
 */
function setPresent(def: DomainDef, present: readonly boolean[], plugged: readonly boolean[]): void {
  const n = present.filter(Boolean).length;
  if (n >= def.vcpu.count) delete def.vcpu.current;
  else def.vcpu.current = n;
  // a guest that had no <vcpus> gets one once a vCPU was plugged in (libvirt's individualvcpus,
  // which its vCPU hotplug turns on), so that a migration destination starts it the same way:
  // the boot vCPUs in -smp, the plugged ones device_add'ed
  const old =
    def.vcpu.vcpus ??
    (plugged.some((p, i) => p && present[i])
      ? Array.from({ length: def.vcpu.count }, (_, i) =>
          present[i] && !plugged[i]
            ? { enabled: true, hotpluggable: false, order: i + 1 }
            : { enabled: false, hotpluggable: true },
        )
      : undefined);
  if (!old) return;
  const ordered = old.some((v) => v.enabled && v.order !== undefined);
  let next = Math.max(0, ...old.map((v) => (v.enabled ? (v.order ?? 0) : 0)));
  def.vcpu.vcpus = old.map((v, i) => {
    if (!present[i]) return { enabled: false, hotpluggable: true };
    if (v.enabled) return { ...v, hotpluggable: v.hotpluggable || (plugged[i] ?? false) };
    const s: { enabled: boolean; hotpluggable: boolean; order?: number } = {
      enabled: true,
      hotpluggable: true,
    };
    if (ordered) s.order = ++next;
    return s;
  });
}

function setOnline(def: DomainDef, n: number): void {
  if (n >= def.vcpu.count) delete def.vcpu.current;
  else def.vcpu.current = n;
  // virDomainDefSetVcpus: the first n vCPUs are the enabled ones, in no particular order
  // (a disabled vCPU must stay hot-pluggable); the orders go, as libvirt's
  // qemuDomainSetVcpusConfig clears them (they may no longer fit)
  def.vcpu.vcpus = def.vcpu.vcpus?.map((v, i) => ({
    enabled: i < n,
    hotpluggable: i < n ? v.hotpluggable : true,
  }));
  if (!def.vcpu.vcpus) delete def.vcpu.vcpus;
}

export function getVcpusFlags(obj: QemuDomainObj, flags: number): number {
  const V = DomainVcpuFlags;
  checkFlags(flags, V.LIVE | V.CONFIG | V.MAXIMUM | V.GUEST, "qemuDomainGetVcpusFlags");
  if (flags & V.GUEST) {
    if (!obj.isActive()) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
    throw new VirtError("TUNING_GUEST_AGENT", {}, { name: obj.name });
  }
  const { live, config } = affectedDefs(obj, flags);
  if (live && config) {
    throw new VirtError("API_INVALID_ARG", {
      what: "flags 'affect live' and 'affect config' in qemuDomainGetVcpusFlags are mutually exclusive",
    });
  }
  const def = live ?? config ?? obj.def;
  return flags & V.MAXIMUM ? def.vcpu.count : onlineVcpus(def);
}

/** One entry of `query-hotpluggable-cpus`. */
interface HotpluggableCpu {
  type: string;
  props: Record<string, number>;
  qomPath: string | undefined;
}

async function hotpluggableCpus(qmp: QmpClient): Promise<HotpluggableCpu[]> {
  const list: unknown = await qmp.execute("query-hotpluggable-cpus");
  if (!Array.isArray(list)) return [];
  const out: HotpluggableCpu[] = [];
  for (const e of list as Record<string, unknown>[]) {
    const props: Record<string, number> = {};
    for (const [k, v] of Object.entries((e.props ?? {}) as Record<string, unknown>))
      if (typeof v === "number") props[k] = v;
    out.push({
      type: String(e.type),
      props,
      qomPath: typeof e["qom-path"] === "string" ? e["qom-path"] : undefined,
    });
  }
  const key = (c: HotpluggableCpu): number[] => [
    c.props["node-id"] ?? 0,
    c.props["socket-id"] ?? 0,
    c.props["die-id"] ?? 0,
    c.props["core-id"] ?? 0,
    c.props["thread-id"] ?? 0,
  ];
  // QEMU lists the last CPU first; libvirt's vcpu order is topology order.
  return out.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return (ka[i] ?? 0) - (kb[i] ?? 0);
    return 0;
  });
}

/**
 * qemuProcessValidateHotpluggableVcpus (the part that needs no QEMU, checked before QEMU runs):
 * with vCPUs to plug at start, each vCPU's order is unique and within the vCPU count.
 */
export function checkVcpuOrder(def: DomainDef): void {
  const listed = def.vcpu.vcpus;
  if (!listed?.some((v) => v.enabled && v.hotpluggable)) return;
  const seen = new Set<number>();
  for (const v of listed) {
    if (v.order === undefined) continue;
    if (seen.has(v.order))
      throw new VirtError("QEMU_VCPU_ORDER_DUPLICATE", { order: v.order }, { name: def.name });
    if (v.order > def.vcpu.count)
      throw new VirtError("QEMU_VCPU_ORDER_RANGE", { order: v.order }, { name: def.name });
    seen.add(v.order);
  }
}

/**
 * qemuProcessSetupHotpluggableVcpus: QEMU starts with only the vCPUs that are enabled and not
 * hotpluggable (`-smp`); the enabled hotpluggable ones of `<vcpus>` are plugged here, while QEMU
 * is still paused (before the guest runs and before an incoming migration or restore loads the
 * state that expects them), in their `order`, with the ids `vcpuN` a later unplug names and the
 * topology ids QEMU lists for vCPU N.
 */
export async function setupHotpluggableVcpus(qmp: QmpClient, def: DomainDef): Promise<void> {
  const listed = def.vcpu.vcpus;
  if (!listed) return;
  const boot = [...listed.entries()].filter(([, v]) => v.enabled && v.hotpluggable);
  if (boot.length === 0) return;
  checkVcpuOrder(def);
  const fail = (id: number, reason: string): VirtError =>
    new VirtError("QEMU_VCPU_BOOT_HOTPLUG", { id, name: def.name, reason }, { name: def.name });
  let cpus: HotpluggableCpu[];
  try {
    cpus = await hotpluggableCpus(qmp);
  } catch (e) {
    throw fail(
      boot[0]![0],
      `QEMU lists no hotpluggable CPUs (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  // a vCPU without an order goes first, the others by order (qemuProcessVcpusSortOrder; stable)
  boot.sort(([, a], [, b]) => (a.order ?? 0) - (b.order ?? 0));
  for (const [id] of boot) {
    const c = cpus[id];
    if (!c) {
      throw fail(
        id,
        `machine type '${def.os.machine ?? ""}' offers ${cpus.length} hotpluggable CPU slots for ${def.vcpu.count} vcpus`,
      );
    }
    if (c.qomPath !== undefined) throw fail(id, `QEMU already has it at ${c.qomPath}`);
    try {
      await qmp.execute("device_add", { driver: c.type, id: `vcpu${id}`, ...c.props });
    } catch (e) {
      throw fail(id, e instanceof Error ? e.message : String(e));
    }
    c.qomPath = `/machine/peripheral/vcpu${id}`;
  }
}

function waitDeviceDeleted(qmp: QmpClient, id: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const off = qmp.onEvent((ev) => {
      if (ev.event === "DEVICE_DELETED" && ev.data.device === id) {
        clearTimeout(timer);
        off();
        resolve(true);
      }
    });
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, timeoutMs);
  });
}

/** Milliseconds libvirt waits for a guest to release an unplugged vCPU. */
export const VCPU_UNPLUG_TIMEOUT_MS = 5000;

async function setLiveVcpus(drv: QemuDriver, obj: QemuDomainObj, def: DomainDef, n: number): Promise<void> {
  const { qmp } = liveRun(obj);
  let cpus: HotpluggableCpu[];
  try {
    cpus = await hotpluggableCpus(qmp);
  } catch (e) {
    throw new VirtError(
      "TUNING_VCPU_HOTPLUG_UNSUPPORTED",
      {
        name: obj.name,
        count: n,
        reason: `QEMU lists no hotpluggable CPUs (${e instanceof Error ? e.message : String(e)})`,
      },
      { name: obj.name },
    );
  }
  if (cpus.length < def.vcpu.count) {
    throw new VirtError(
      "TUNING_VCPU_HOTPLUG_UNSUPPORTED",
      {
        name: obj.name,
        count: n,
        reason: `machine type '${def.os.machine ?? ""}' offers ${cpus.length} hotpluggable CPU slots for ${def.vcpu.count} vcpus`,
      },
      { name: obj.name },
    );
  }
  const present = (): number => cpus.filter((c) => c.qomPath !== undefined).length;
  let online = present();
  try {
    if (n > online) {
      for (const [i, c] of cpus.entries()) {
        if (online >= n) break;
        if (c.qomPath !== undefined) continue;
        try {
          await qmp.execute("device_add", { driver: c.type, id: `vcpu${i}`, ...c.props });
        } catch (e) {
          throw new VirtError(
            "TUNING_VCPU_HOTPLUG_UNSUPPORTED",
            {
              name: obj.name,
              count: n,
              reason: `QEMU refused to add vcpu ${i} (${e instanceof Error ? e.message : String(e)})`,
            },
            { name: obj.name },
          );
        }
        c.qomPath = `/machine/peripheral/vcpu${i}`;
        online++;
      }
    } else if (n < online) {
      for (let i = cpus.length - 1; i >= 0 && online > n; i--) {
        const c = cpus[i];
        if (c?.qomPath === undefined) continue;
        const m = /^\/machine\/peripheral\/(vcpu\d+)$/.exec(c.qomPath);
        if (!m?.[1]) {
          throw new VirtError(
            "TUNING_VCPU_HOTPLUG_UNSUPPORTED",
            { name: obj.name, count: n, reason: `vcpu ${i} was present at boot and cannot be unplugged` },
            { name: obj.name },
          );
        }
        unplugging.add(obj);
        const deleted = waitDeviceDeleted(qmp, m[1], VCPU_UNPLUG_TIMEOUT_MS);
        await qmp.execute("device_del", { id: m[1] });
        if (!(await deleted)) throw new VirtError("TUNING_VCPU_UNPLUG_TIMEOUT", {}, { name: obj.name });
        c.qomPath = undefined;
        online--;
      }
    }
  } finally {
    unplugging.delete(obj);
    setPresent(
      def,
      cpus.map((c) => c.qomPath !== undefined),
      cpus.map((c) => c.qomPath?.startsWith("/machine/peripheral/") ?? false),
    );
    await drv.saveStatus(obj);
  }
}

/** Domains with a vCPU unplug being waited for (that wait counts the DEVICE_DELETED itself). */
const unplugging = new WeakSet<QemuDomainObj>();

/**
 * qemuDomainRemoveVcpuAlias: a DEVICE_DELETED of a vCPU that arrives after `setvcpus` gave up
 * waiting (the guest was slow) still takes it offline in the live definition.
 */
export function vcpuDeleted(drv: QemuDriver, obj: QemuDomainObj, alias: string): void {
  const m = /^vcpu(\d+)$/.exec(alias);
  if (!m || unplugging.has(obj)) return;
  const def = obj.def;
  const online = onlineVcpus(def);
  if (online <= 1) return;
  const id = Number(m[1]);
  const listed = def.vcpu.vcpus;
  if (listed?.[id]?.enabled) {
    setPresent(
      def,
      listed.map((v, i) => v.enabled && i !== id),
      listed.map(() => false),
    );
  } else {
    setOnline(def, online - 1);
  }
  drv.saveStatusLater(obj);
}

/** The largest vCPU count the domain's machine type allows (QEMU's `cpu-max`). */
async function machineMaxVcpus(drv: QemuDriver, def: DomainDef): Promise<number> {
  try {
    const caps = await drv.caps(def.devices.emulator);
    const accel = def.type === "kvm" ? caps.accel.kvm : caps.accel.tcg;
    const want = def.os.machine ?? "";
    const m = accel?.machines.find((x) => x.name === want || x.alias === want);
    if (m && m.maxCpus > 0) return m.maxCpus;
  } catch {
    // no facts: the common x86 limit
  }
  return 255;
}

export async function setVcpusFlags(
  drv: QemuDriver,
  obj: QemuDomainObj,
  n: number,
  flags: number,
): Promise<void> {
  const V = DomainVcpuFlags;
  checkFlags(flags, V.LIVE | V.CONFIG | V.MAXIMUM | V.GUEST | V.HOTPLUGGABLE, "qemuDomainSetVcpusFlags");
  if (!Number.isInteger(n) || n < 1)
    throw new VirtError("TUNING_VCPU_ZERO", { func: "virDomainSetVcpusFlags" });
  await withModifyJob(obj, "virDomainSetVcpusFlags", async () => {
    const { live, config } = affectedDefs(obj, flags);
    if (flags & V.GUEST) {
      if (!live) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
      throw new VirtError("TUNING_GUEST_AGENT", {}, { name: obj.name });
    }
    if (flags & V.MAXIMUM) {
      if (live) throw new VirtError("TUNING_VCPU_MAX_LIVE", {}, { name: obj.name });
      if (!config) return;
      const max = await machineMaxVcpus(drv, config);
      if (n > max) throw new VirtError("TUNING_VCPU_ABOVE_HYPERVISOR", { count: n, max }, { name: obj.name });
      const t = config.cpu?.topology;
      if (t && t.sockets > 0) {
        const total = t.sockets * (t.dies || 1) * (t.clusters || 1) * t.cores * t.threads;
        if (total !== n) throw new VirtError("TUNING_VCPU_TOPOLOGY", { name: obj.name, total, count: n });
      }
      const online = onlineVcpus(config);
      config.vcpu.count = n;
      setOnline(config, Math.min(online, n));
      await drv.saveConfig(obj);
      return;
    }
    if (live && n > live.vcpu.count)
      throw new VirtError("TUNING_VCPU_ABOVE_MAX", { which: "live", count: n, max: live.vcpu.count });
    if (config && n > config.vcpu.count)
      throw new VirtError("TUNING_VCPU_ABOVE_MAX", { which: "persistent", count: n, max: config.vcpu.count });
    if (live && n !== onlineVcpus(live)) await setLiveVcpus(drv, obj, live, n);
    if (config) {
      setOnline(config, n);
      await drv.saveConfig(obj);
    }
  });
}
