/**
 * Tuning and statistics commands as virsh 9.0 prints them (`tools/virsh-domain.c`,
 * `tools/virsh-domain-monitor.c`): setmem, setmaxmem, setvcpus, vcpucount, dommemstat,
 * domblkstat, domifstat, domstats, and qemu-monitor-event (libvirt-qemu).
 */
import {
  DomainMemoryModFlags as M,
  DomainStatsTypes as S,
  DomainVcpuFlags as V,
  GetAllDomainStatsFlags as G,
  memoryStatTagNames,
  QemuMonitorEventRegisterFlags,
  TypedParameterType,
  type Domain,
  type TypedParameter,
  VirErrorNumber,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";
import { domJson, domainOpt } from "./domain.ts";
import { EventWait, eventTimeout, eventTimestamp } from "./event-loop.ts";
import { configOpt, currentOpt, liveOpt, scopeOf } from "./scope.ts";

type Cmd = CmdDef<Ctx>;

/** virScaleInteger's suffixes (a bare number is in `scale` units). */
const units: Record<string, bigint> = {
  b: 1n,
  byte: 1n,
  bytes: 1n,
  k: 1024n,
  kib: 1024n,
  kb: 1000n,
  m: 1024n ** 2n,
  mib: 1024n ** 2n,
  mb: 1000n ** 2n,
  g: 1024n ** 3n,
  gib: 1024n ** 3n,
  gb: 1000n ** 3n,
  t: 1024n ** 4n,
  tib: 1024n ** 4n,
  tb: 1000n ** 4n,
  p: 1024n ** 5n,
  pib: 1024n ** 5n,
  pb: 1000n ** 5n,
  e: 1024n ** 6n,
  eib: 1024n ** 6n,
  eb: 1000n ** 6n,
};

/** vshCommandOptScaledInt: bytes, or null (error printed) when malformed or above `max`. */
export function parseScaled(text: string, scale: bigint, max: bigint): bigint | null {
  const m = /^\s*(\d+)\s*([A-Za-z]*)$/.exec(text);
  if (!m?.[1]) return null;
  const suffix = (m[2] ?? "").toLowerCase();
  const mult = suffix === "" ? scale : units[suffix];
  if (mult === undefined) return null;
  const v = BigInt(m[1]) * mult;
  return v > max ? null : v;
}

const ULONG_MAX = 2n ** 64n - 1n;

function scaledKiB(ctx: Ctx, cmd: ParsedCmd<Ctx>, name: string): number | null {
  const raw = cmd.raw(name) ?? "";
  const bytes = parseScaled(raw, 1024n, ULONG_MAX);
  if (bytes === null) {
    ctx.fail(`Scaled numeric value '${raw}' for <${name}> option is malformed or out of range`);
    return null;
  }
  return Number((bytes + 1023n) / 1024n);
}

const setmem: Cmd = {
  name: "setmem",
  group: "domain",
  help: "change memory allocation",
  desc: "Change the current memory allocation in the guest domain.",
  opts: [
    domainOpt(),
    { name: "size", type: "int", required: true, help: "new memory size, as scaled integer (default KiB)" },
    configOpt,
    liveOpt,
    currentOpt,
  ],
  async run(ctx, cmd) {
    const a = scopeOf(ctx, cmd);
    if (!a) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const kib = scaledKiB(ctx, cmd, "size");
    if (kib === null) return false;
    try {
      if (a.any) await dom.setMemoryFlags(kib, a.flags);
      else await dom.setMemory(kib);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ domain: domJson(dom), memoryKiB: kib, flags: a.flags });
    return true;
  },
};

const setmaxmem: Cmd = {
  name: "setmaxmem",
  group: "domain",
  help: "change maximum memory limit",
  desc: "Change the maximum memory allocation limit in the guest domain.",
  opts: [
    domainOpt(),
    {
      name: "size",
      type: "int",
      required: true,
      help: "new maximum memory size, as scaled integer (default KiB)",
    },
    configOpt,
    liveOpt,
    currentOpt,
  ],
  async run(ctx, cmd) {
    const a = scopeOf(ctx, cmd);
    if (!a) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const kib = scaledKiB(ctx, cmd, "size");
    if (kib === null) return false;
    try {
      if (a.any) await dom.setMemoryFlags(kib, a.flags | M.MAXIMUM);
      else await dom.setMaxMemory(kib);
    } catch (e) {
      return ctx.fail("Unable to change MaxMemorySize", e);
    }
    ctx.emit({ domain: domJson(dom), maxMemoryKiB: kib, flags: a.flags });
    return true;
  },
};

/** vshCommandOptUInt: undefined when absent, null (error printed) when malformed. */
function optUInt(ctx: Ctx, cmd: ParsedCmd<Ctx>, name: string): number | undefined | null {
  const v = cmd.raw(name);
  if (v === undefined) return undefined;
  const n = /^\s*\+?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n > 4294967295) {
    ctx.fail(`Numeric value '${v}' for <${name}> option is malformed or out of range`);
    return null;
  }
  return n;
}

const setvcpus: Cmd = {
  name: "setvcpus",
  group: "domain",
  help: "change number of virtual CPUs",
  desc: "Change the number of virtual CPUs in the guest domain.",
  opts: [
    domainOpt(),
    { name: "count", type: "int", required: true, help: "number of virtual CPUs" },
    { name: "maximum", type: "bool", help: "set maximum limit on next boot" },
    configOpt,
    liveOpt,
    currentOpt,
    { name: "guest", type: "bool", help: "modify cpu state in the guest" },
    { name: "hotpluggable", type: "bool", help: "make added vcpus hot(un)pluggable" },
  ],
  async run(ctx, cmd) {
    if (
      !ctx.exclusive(cmd, "current", "live") ||
      !ctx.exclusive(cmd, "current", "config") ||
      !ctx.exclusive(cmd, "guest", "config")
    )
      return false;
    if (cmd.bool("maximum") && !cmd.bool("config"))
      return ctx.fail("Option --config is required by option --maximum");
    let flags = 0;
    if (cmd.bool("config")) flags |= V.CONFIG;
    if (cmd.bool("live")) flags |= V.LIVE;
    if (cmd.bool("guest")) flags |= V.GUEST;
    if (cmd.bool("maximum")) flags |= V.MAXIMUM;
    if (cmd.bool("hotpluggable")) flags |= V.HOTPLUGGABLE;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const count = optUInt(ctx, cmd, "count");
    if (count === null || count === undefined) return false;
    if (count === 0) return ctx.fail(`Can't set ${count} processors for a VM`);
    try {
      if (!cmd.bool("current") && flags === 0) await dom.setVcpus(count);
      else await dom.setVcpusFlags(count, flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ domain: domJson(dom), count, flags });
    return true;
  },
};

const vcpucount: Cmd = {
  name: "vcpucount",
  group: "domain",
  help: "domain vcpu counts",
  desc: "Returns the number of virtual CPUs used by the domain.",
  opts: [
    domainOpt(),
    { name: "maximum", type: "bool", help: "get maximum count of vcpus" },
    { name: "active", type: "bool", help: "get number of currently active vcpus" },
    { name: "live", type: "bool", help: "get value from running domain" },
    { name: "config", type: "bool", help: "get value to be used on next boot" },
    { name: "current", type: "bool", help: "get value according to current domain state" },
    { name: "guest", type: "bool", help: "retrieve vcpu count from the guest instead of the hypervisor" },
  ],
  async run(ctx, cmd) {
    const maximum = cmd.bool("maximum");
    const active = cmd.bool("active");
    const config = cmd.bool("config");
    const live = cmd.bool("live");
    const current = cmd.bool("current");
    const guest = cmd.bool("guest");
    const all = !maximum && !active && !current && !live && !config && !guest;
    if (
      !ctx.exclusive(cmd, "current", "live") ||
      !ctx.exclusive(cmd, "current", "config") ||
      !ctx.exclusive(cmd, "active", "maximum") ||
      !ctx.exclusive(cmd, "guest", "config")
    )
      return false;
    if (cmd.bool("live") && cmd.bool("config"))
      return ctx.fail("Options --live and --config are mutually exclusive");
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const collect = async (flags: number, checkState: boolean): Promise<number> => {
      if (checkState) {
        if (flags & V.LIVE && !(await dom.isActive())) return -1;
        if (flags & V.CONFIG && !(await dom.isPersistent())) return -1;
      }
      if (!(flags & (V.LIVE | V.CONFIG)) && (await dom.isActive())) flags |= V.LIVE;
      return dom.getVcpusFlags(flags);
    };
    try {
      if (all) {
        const confMax = await collect(V.CONFIG | V.MAXIMUM, true);
        const confCur = await collect(V.CONFIG, true);
        const liveMax = await collect(V.LIVE | V.MAXIMUM, true);
        const liveCur = await collect(V.LIVE, true);
        let out = "";
        const row = (v: number, which: string, state: string): void => {
          if (v > 0) out += `${which.padEnd(12)} ${state.padEnd(12)} ${String(v).padStart(3)}\n`;
        };
        row(confMax, "maximum", "config");
        row(liveMax, "maximum", "live");
        row(confCur, "current", "config");
        row(liveCur, "current", "live");
        ctx.print(out);
        const n = (v: number): number | null => (v > 0 ? v : null);
        ctx.emit({
          domain: domJson(dom),
          maximum: { config: n(confMax), live: n(liveMax) },
          current: { config: n(confCur), live: n(liveCur) },
        });
        return true;
      }
      let flags = 0;
      if (maximum) flags |= V.MAXIMUM;
      if (live) flags |= V.LIVE;
      if (config) flags |= V.CONFIG;
      if (guest) flags |= V.GUEST;
      let count: number;
      try {
        count = await collect(flags, false);
      } catch (e) {
        if (guest) return ctx.fail("Failed to retrieve vCPU count from the guest", e);
        throw e;
      }
      ctx.print(`${count}\n`);
      ctx.emit({ domain: domJson(dom), count, flags });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

const dommemstat: Cmd = {
  name: "dommemstat",
  group: "monitor",
  help: "get memory statistics for a domain",
  desc: "Get memory statistics for a running domain.",
  opts: [
    domainOpt(),
    { name: "period", type: "int", help: "period in seconds to set collection" },
    configOpt,
    liveOpt,
    currentOpt,
  ],
  async run(ctx, cmd) {
    const a = scopeOf(ctx, cmd);
    if (!a) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let flags = a.flags;
    if (!a.any && (await dom.isActive().catch(() => false))) flags |= M.LIVE;
    const period = ctx.optInt(cmd, "period");
    if (period === null) return false;
    if (period !== undefined) {
      if (period < 0) return ctx.fail(`Invalid collection period value '${period}'`);
      try {
        await dom.setMemoryStatsPeriod(period, flags);
      } catch (e) {
        return ctx.fail("Unable to change balloon collection period.", e);
      }
      ctx.emit({ domain: domJson(dom), period, flags });
      return true;
    }
    let stats;
    try {
      stats = await dom.memoryStats(13, 0);
    } catch (e) {
      return ctx.fail(`Failed to get memory statistics for domain ${dom.name}`, e);
    }
    let out = "";
    const json: Record<string, string> = {};
    for (const s of stats) {
      const name = memoryStatTagNames[s.tag];
      if (name === undefined) continue;
      out += `${name} ${s.val}\n`;
      json[name] = s.val.toString();
    }
    ctx.print(out);
    ctx.emit({ domain: domJson(dom), stats: json });
    return true;
  },
};

/** vshGetTypedParamValue */
export function typedParamText(p: TypedParameter): string {
  const v = p.value;
  switch (v.type) {
    case TypedParameterType.DOUBLE:
      return v.value.toFixed(6);
    case TypedParameterType.BOOLEAN:
      return v.value ? "yes" : "no";
    default:
      return String(v.value);
  }
}

function typedParamJson(p: TypedParameter): string | number | boolean {
  const v = p.value;
  return typeof v.value === "bigint" ? v.value.toString() : v.value;
}

/** virsh's domblkstat_output: field, legacy name, human text. */
const blkFields: [string, string | null, string][] = [
  ["rd_operations", "rd_req", "number of read operations:"],
  ["rd_bytes", "rd_bytes", "number of bytes read:"],
  ["wr_operations", "wr_req", "number of write operations:"],
  ["wr_bytes", "wr_bytes", "number of bytes written:"],
  ["errs", "errs", "error count:"],
  ["flush_operations", null, "number of flush operations:"],
  ["rd_total_times", null, "total duration of reads (ns):"],
  ["wr_total_times", null, "total duration of writes (ns):"],
  ["flush_total_times", null, "total duration of flushes (ns):"],
];

const domblkstat: Cmd = {
  name: "domblkstat",
  group: "monitor",
  help: "get device block stats for a domain",
  desc: "Get device block stats for a running domain. See man page or use --human for explanation of fields",
  opts: [
    domainOpt(),
    { name: "device", type: "string", help: "block device" },
    { name: "human", type: "bool", help: "print a more human readable output" },
  ],
  async run(ctx, cmd) {
    const human = cmd.bool("human");
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const given = ctx.optString(cmd, "device");
    if (given === null) return false;
    let device = given ?? "";
    const json: Record<string, string> = {};
    let out = "";
    let params: TypedParameter[] | undefined;
    try {
      params = await dom.blockStatsFlags(device, 0);
    } catch (e) {
      if ((e as { virCode?: number }).virCode !== VirErrorNumber.NO_SUPPORT) return ctx.fail(undefined, e);
    }
    if (params === undefined) {
      let st;
      try {
        st = await dom.blockStats(device);
      } catch (e) {
        return ctx.fail(`Failed to get block stats ${dom.name} ${device}`, e);
      }
      if (human) {
        out += `Device: ${device}\n`;
        device = "";
      }
      const legacy: [number, bigint][] = [
        [0, st.rdReq],
        [1, st.rdBytes],
        [2, st.wrReq],
        [3, st.wrBytes],
        [4, st.errs],
      ];
      for (const [i, v] of legacy) {
        const f = blkFields[i];
        if (!f || v < 0n) continue;
        const name = human ? f[2] : (f[1] ?? f[0]);
        out += `${device} ${human ? name.padEnd(31) : name} ${v}\n`;
        json[f[0]] = v.toString();
      }
    } else {
      if (human) {
        out += `Device: ${device}\n`;
        device = "";
      }
      const printed = new Set<number>();
      for (const [field, legacy, text] of blkFields) {
        const i = params.findIndex((p, k) => !printed.has(k) && p.field === field);
        const par = params[i];
        if (!par) continue;
        printed.add(i);
        const name = human ? text : (legacy ?? field);
        out += `${device} ${human ? name.padEnd(31) : name} ${typedParamText(par)}\n`;
        json[field] = String(typedParamJson(par));
      }
      for (const [k, par] of params.entries()) {
        if (printed.has(k)) continue;
        out += `${device} ${par.field} ${typedParamText(par)}\n`;
        json[par.field] = String(typedParamJson(par));
      }
    }
    ctx.print(out);
    ctx.emit({ domain: domJson(dom), device: given ?? "", stats: json });
    return true;
  },
};

const domifstat: Cmd = {
  name: "domifstat",
  group: "monitor",
  help: "get network interface stats for a domain",
  desc: "Get network interface stats for a running domain.",
  opts: [
    domainOpt(),
    {
      name: "interface",
      type: "data",
      required: true,
      help: "interface device specified by name or MAC Address",
    },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const device = ctx.optString(cmd, "interface");
    if (device === null || device === undefined) return false;
    let st;
    try {
      st = await dom.interfaceStats(device);
    } catch (e) {
      return ctx.fail(`Failed to get interface stats ${dom.name} ${device}`, e);
    }
    const rows: [string, bigint][] = [
      ["rx_bytes", st.rxBytes],
      ["rx_packets", st.rxPackets],
      ["rx_errs", st.rxErrs],
      ["rx_drop", st.rxDrop],
      ["tx_bytes", st.txBytes],
      ["tx_packets", st.txPackets],
      ["tx_errs", st.txErrs],
      ["tx_drop", st.txDrop],
    ];
    let out = "";
    const json: Record<string, string> = {};
    for (const [n, v] of rows) {
      if (v < 0n) continue;
      out += `${device} ${n} ${v}\n`;
      json[n] = v.toString();
    }
    ctx.print(out);
    ctx.emit({ domain: domJson(dom), interface: device, stats: json });
    return true;
  },
};

const statGroups: [string, number, string][] = [
  ["state", S.STATE, "report domain state"],
  ["cpu-total", S.CPU_TOTAL, "report domain physical cpu usage"],
  ["balloon", S.BALLOON, "report domain balloon statistics"],
  ["vcpu", S.VCPU, "report domain virtual cpu information"],
  ["interface", S.INTERFACE, "report domain network interface information"],
  ["block", S.BLOCK, "report domain block device statistics"],
  ["perf", S.PERF, "report domain perf event statistics"],
  ["iothread", S.IOTHREAD, "report domain IOThread information"],
  ["memory", S.MEMORY, "report domain memory usage"],
  ["dirtyrate", S.DIRTYRATE, "report domain dirty rate information"],
  ["vm", S.VM, "report hypervisor-specific statistics"],
];

const statLists: [string, number, string][] = [
  ["list-active", G.ACTIVE, "list only active domains"],
  ["list-inactive", G.INACTIVE, "list only inactive domains"],
  ["list-persistent", G.PERSISTENT, "list only persistent domains"],
  ["list-transient", G.TRANSIENT, "list only transient domains"],
  ["list-running", G.RUNNING, "list only running domains"],
  ["list-paused", G.PAUSED, "list only paused domains"],
  ["list-shutoff", G.SHUTOFF, "list only shutoff domains"],
  ["list-other", G.OTHER, "list only domains in other states"],
];

const domstats: Cmd = {
  name: "domstats",
  group: "monitor",
  help: "get statistics about one or multiple domains",
  desc: "Gets statistics about one or more (or all) domains",
  opts: [
    ...statGroups.map(([name, , help]) => ({ name, type: "bool" as const, help })),
    ...statLists.map(([name, , help]) => ({ name, type: "bool" as const, help })),
    { name: "raw", type: "bool", help: "do not pretty-print the fields" },
    { name: "enforce", type: "bool", help: "enforce requested stats parameters" },
    { name: "backing", type: "bool", help: "add backing chain information to block stats" },
    { name: "nowait", type: "bool", help: "report only stats that are accessible instantly" },
    { name: "domain", type: "argv", help: "list of domains to get stats for", complete: "domain" },
  ],
  async run(ctx, cmd) {
    let stats = 0;
    for (const [name, bit] of statGroups) if (cmd.bool(name)) stats |= bit;
    let flags = 0;
    for (const [name, bit] of statLists) if (cmd.bool(name)) flags |= bit;
    if (cmd.bool("enforce")) flags = (flags | G.ENFORCE_STATS) >>> 0;
    if (cmd.bool("backing")) flags |= G.BACKING;
    if (cmd.bool("nowait")) flags |= G.NOWAIT;
    let records;
    try {
      if (cmd.argv.length > 0) {
        const doms: Domain[] = [];
        for (const name of cmd.argv) {
          const d = await ctx.lookupDomain(name);
          if (!d) return false;
          doms.push(d);
        }
        records = await ctx.connection().domainListGetStats(doms, stats, flags);
      } else {
        records = await ctx.connection().getAllDomainStats(stats, flags);
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    // virsh separates records with a blank line (none after the last).
    const out = records
      .map(
        (r) =>
          `Domain: '${r.dom.name}'\n${r.params.map((p) => `  ${p.field}=${typedParamText(p)}\n`).join("")}`,
      )
      .join("\n");
    ctx.print(out);
    ctx.emit({
      domains: records.map((r) => ({
        domain: domJson(r.dom),
        stats: Object.fromEntries(r.params.map((p) => [p.field, typedParamJson(p)])),
      })),
    });
    return true;
  },
};

const qemuMonitorEvent: Cmd = {
  name: "qemu-monitor-event",
  group: "domain",
  help: "QEMU Monitor Events",
  desc: "Listen for QEMU Monitor Events",
  opts: [
    { name: "domain", type: "string", help: "filter by domain name, id or uuid", complete: "domain" },
    { name: "event", type: "string", help: "filter by event name" },
    { name: "pretty", type: "bool", help: "pretty-print any JSON output" },
    { name: "loop", type: "bool", help: "loop until timeout or interrupt, rather than one-shot" },
    { name: "timeout", type: "int", help: "timeout seconds" },
    { name: "regex", type: "bool", help: "treat event as a regex rather than literal filter" },
    { name: "no-case", type: "bool", help: "treat event case-insensitively" },
    { name: "timestamp", type: "bool", help: "show timestamp for each printed event" },
  ],
  async run(ctx, cmd) {
    const loop = cmd.bool("loop");
    const pretty = cmd.bool("pretty");
    const stamp = cmd.bool("timestamp");
    let flags = 0;
    if (cmd.bool("regex")) flags |= QemuMonitorEventRegisterFlags.REGEX;
    if (cmd.bool("no-case")) flags |= QemuMonitorEventRegisterFlags.NOCASE;
    const timeoutS = eventTimeout(ctx, cmd, 2147483);
    if (timeoutS === null) return false;
    const event = ctx.optString(cmd, "event");
    if (event === null) return false;
    let dom: Domain | null = null;
    if (cmd.has("domain")) {
      const d = await ctx.domain(cmd);
      if (!d) return false;
      dom = d;
    }
    const conn = ctx.connection();
    const w = new EventWait(loop);
    let id: number;
    try {
      id = await conn.qemuMonitorEventRegister(
        dom,
        event ?? null,
        (d, ev) => {
          if (!w.accepts()) return;
          let details = ev.details;
          if (pretty && details !== null) {
            try {
              details = JSON.stringify(JSON.parse(details), null, 2);
            } catch {
              // printed as it came
            }
          }
          const micros = String(ev.micros).padStart(6, "0");
          ctx.print(
            stamp
              ? `${eventTimestamp()}: event ${ev.event} for domain '${d.name}': ${details ?? "<null>"}\n`
              : `event ${ev.event} at ${ev.seconds}.${micros} for domain '${d.name}': ${details ?? "<null>"}\n`,
          );
          w.record({
            event: ev.event,
            seconds: ev.seconds.toString(),
            micros: ev.micros,
            domain: domJson(d),
            details: ev.details === null ? null : (JSON.parse(ev.details) as unknown),
          });
        },
        flags,
      );
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    try {
      await w.wait(ctx, timeoutS);
    } finally {
      await conn.qemuMonitorEventDeregister(id).catch(() => undefined);
    }
    return w.count > 0;
  },
};

export const tuningCommands: Cmd[] = [
  setmem,
  setmaxmem,
  setvcpus,
  vcpucount,
  dommemstat,
  domblkstat,
  domifstat,
  domstats,
  qemuMonitorEvent,
];
