/**
 * Job control and migration tuning as virsh 9.0 prints them (`tools/virsh-domain.c`):
 * domjobinfo, domjobabort, migrate-setmaxdowntime, migrate-getmaxdowntime, migrate-setspeed,
 * migrate-getspeed, migrate-compcache.
 */
import {
  DomainAbortJobFlags,
  DomainGetJobStatsFlags as J,
  DomainJobType,
  DomainMigrateMaxSpeedFlags,
  toVirtError,
  TypedParameterType,
  VirErrorNumber,
  type Domain,
  type DomainJobInfo,
  type TypedParameter,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";
import { domJson, domainOpt } from "./domain.ts";
import { typedParamText } from "./tuning.ts";

type Cmd = CmdDef<Ctx>;

/** virshDomainJob names, by `DomainJobType`. */
export const jobTypeNames = ["None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled"];
/** virshDomainJobOperation names, by `DomainJobOperation`. */
export const jobOperationNames = [
  "Unknown",
  "Start",
  "Save",
  "Restore",
  "Incoming migration",
  "Outgoing migration",
  "Snapshot",
  "Snapshot revert",
  "Dump",
  "Backup",
  "Snapshot delete",
];

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/**
 * vshPrettyCapacity printed with `%.3lf %s`: the value in the largest binary unit below it,
 * three decimals, rounded as printf does (to nearest, ties to even).
 */
export function prettyCapacity3(bytes: bigint): string {
  let k = 0;
  while (k < 6 && bytes >= 1024n ** BigInt(k + 1)) k++;
  const div = 1024n ** BigInt(k);
  let q = (bytes * 1000n) / div;
  const r = (bytes * 1000n) % div;
  if (r * 2n > div || (r * 2n === div && q % 2n === 1n)) q++;
  const s = q.toString().padStart(4, "0");
  return `${s.slice(0, -3)}.${s.slice(-3)} ${UNITS[k]!}`;
}

/** `%-17s %-12s` and friends: virsh left-justifies in a field, never truncates. */
const col = (label: string, value: string, width = 12): string =>
  `${label.padEnd(17)} ${value.padEnd(width)}`;

/**
 * virsh's domjobinfo text from the job type and statistics (`info` as virDomainGetJobInfo
 * gives it, `params` empty when only that API answered). Pure.
 */
export function formatJobInfo(
  info: DomainJobInfo,
  params: readonly TypedParameter[],
  opts: { completed: boolean; anystats: boolean },
): string {
  const ull = (f: string): bigint | undefined => {
    const v = params.find((p) => p.field === f)?.value;
    return v?.type === TypedParameterType.ULLONG ? v.value : undefined;
  };
  const intOf = (f: string): number | undefined => {
    const v = params.find((p) => p.field === f)?.value;
    return v?.type === TypedParameterType.INT ? v.value : undefined;
  };
  let s = `${col("Job type:", jobTypeNames[info.type] ?? "unknown")}\n`;
  if (
    !opts.anystats &&
    info.type !== DomainJobType.BOUNDED &&
    info.type !== DomainJobType.UNBOUNDED &&
    (!opts.completed || info.type !== DomainJobType.COMPLETED)
  )
    return s;
  const op = intOf("operation") ?? 0;
  s += `${col("Operation:", jobOperationNames[op] ?? "unknown")}\n`;
  s += `${col("Time elapsed:", info.timeElapsed.toString())} ms\n`;
  const line = (label: string, v: bigint | undefined, suffix = "", width = 12): void => {
    if (v !== undefined) s += `${col(label, v.toString(), width)}${suffix}\n`;
  };
  const size = (label: string, v: bigint | undefined, suffix = ""): void => {
    if (v !== undefined) s += `${label.padEnd(17)} ${prettyCapacity3(v)}${suffix}\n`;
  };
  line("Time elapsed w/o network:", ull("time_elapsed_net"), " ms");
  if (info.type === DomainJobType.BOUNDED) line("Time remaining:", info.timeRemaining, " ms");
  if (info.dataTotal || info.dataRemaining || info.dataProcessed) {
    size("Data processed:", info.dataProcessed);
    size("Data remaining:", info.dataRemaining);
    size("Data total:", info.dataTotal);
  }
  if (info.memTotal || info.memRemaining || info.memProcessed) {
    size("Memory processed:", info.memProcessed);
    size("Memory remaining:", info.memRemaining);
    size("Memory total:", info.memTotal);
    const bps = ull("memory_bps");
    if (bps) size("Memory bandwidth:", bps, "/s");
    line("Dirty rate:", ull("memory_dirty_rate"), " pages/s");
    line("Page size:", ull("memory_page_size"), " bytes");
    line("Iteration:", ull("memory_iteration"));
    line("Postcopy requests:", ull("memory_postcopy_requests"));
  }
  if (info.fileTotal || info.fileRemaining || info.fileProcessed) {
    size("File processed:", info.fileProcessed);
    size("File remaining:", info.fileRemaining);
    size("File total:", info.fileTotal);
    const bps = ull("disk_bps");
    if (bps) size("File bandwidth:", bps, "/s");
  }
  line("Constant pages:", ull("memory_constant"));
  line("Normal pages:", ull("memory_normal"));
  size("Normal data:", ull("memory_normal_bytes"));
  const downtime = ull("downtime");
  if (downtime !== undefined)
    line(info.type === DomainJobType.COMPLETED ? "Total downtime:" : "Expected downtime:", downtime, " ms");
  line("Downtime w/o network:", ull("downtime_net"), " ms");
  line("Setup time:", ull("setup_time"), " ms");
  size("Compression cache:", ull("compression_cache"));
  size("Compressed data:", ull("compression_bytes"));
  line("Compressed pages:", ull("compression_pages"), "", 13);
  line("Compression cache misses:", ull("compression_cache_misses"), "", 13);
  line("Compression overflows:", ull("compression_overflow"), "", 13);
  const throttle = intOf("auto_converge_throttle");
  if (throttle !== undefined) s += `${col("Auto converge throttle:", String(throttle), 13)}\n`;
  size("Temporary disk space use:", ull("disk_temp_used"));
  size("Temporary disk space total:", ull("disk_temp_total"));
  const err = params.find((p) => p.field === "errmsg")?.value;
  if (err?.type === TypedParameterType.STRING) s += `${"Error message:".padEnd(17)} ${err.value}\n`;
  return s;
}

function jobInfoFromParams(type: number, params: readonly TypedParameter[]): DomainJobInfo {
  const get = (f: string): bigint => {
    const v = params.find((p) => p.field === f)?.value;
    return v?.type === TypedParameterType.ULLONG ? v.value : 0n;
  };
  return {
    type,
    timeElapsed: get("time_elapsed"),
    timeRemaining: get("time_remaining"),
    dataTotal: get("data_total"),
    dataProcessed: get("data_processed"),
    dataRemaining: get("data_remaining"),
    memTotal: get("memory_total"),
    memProcessed: get("memory_processed"),
    memRemaining: get("memory_remaining"),
    fileTotal: get("disk_total"),
    fileProcessed: get("disk_processed"),
    fileRemaining: get("disk_remaining"),
  };
}

function paramsJson(params: readonly TypedParameter[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const p of params)
    out[p.field] = typeof p.value.value === "bigint" ? p.value.value.toString() : p.value.value;
  return out;
}

const domjobinfo: Cmd = {
  name: "domjobinfo",
  group: "domain",
  help: "domain job information",
  desc: "Returns information about jobs running on a domain.",
  opts: [
    domainOpt(),
    { name: "completed", type: "bool", help: "return statistics of a recently completed job" },
    {
      name: "keep-completed",
      type: "bool",
      help: "don't destroy statistics of a recently completed job when reading",
    },
    { name: "anystats", type: "bool", help: "print statistics for any kind of job (even failed ones)" },
    { name: "rawstats", type: "bool", help: "print the raw data returned by libvirt" },
  ],
  async run(ctx, cmd) {
    if (cmd.bool("keep-completed") && !cmd.bool("completed"))
      return ctx.fail("Option --completed is required by option --keep-completed");
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let flags = 0;
    if (cmd.bool("completed")) flags |= J.COMPLETED;
    if (cmd.bool("keep-completed")) flags |= J.KEEP_COMPLETED;
    const rawstats = cmd.bool("rawstats");
    let info: DomainJobInfo;
    let params: TypedParameter[] = [];
    try {
      const r = await dom.getJobStats(flags);
      params = r.params;
      info = jobInfoFromParams(r.type, params);
    } catch (e) {
      if (toVirtError(e).virCode !== VirErrorNumber.NO_SUPPORT) return ctx.fail(undefined, e);
      if (flags !== 0 || rawstats)
        return ctx.fail("Optional flags or --rawstats are not supported by the daemon", e);
      try {
        info = await dom.getJobInfo();
      } catch (e2) {
        return ctx.fail(undefined, e2);
      }
    }
    if (rawstats) {
      let s = `Job type: ${info.type}\n\n`;
      for (const p of params) s += `${p.field}: ${typedParamText(p)}\n`;
      ctx.print(s);
    } else {
      ctx.print(
        formatJobInfo(info, params, {
          completed: (flags & J.COMPLETED) !== 0,
          anystats: cmd.bool("anystats"),
        }),
      );
    }
    ctx.emit({
      domain: domJson(dom),
      type: (jobTypeNames[info.type] ?? "unknown").toLowerCase(),
      stats: params.length > 0 ? paramsJson(params) : jobInfoJson(info),
    });
    return true;
  },
};

function jobInfoJson(info: DomainJobInfo): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(info)) out[k] = typeof v === "bigint" ? v.toString() : (v as number);
  return out;
}

const domjobabort: Cmd = {
  name: "domjobabort",
  group: "domain",
  help: "abort active domain job",
  desc: "Aborts the currently running domain job",
  opts: [domainOpt(), { name: "postcopy", type: "bool", help: "interrupt post-copy migration" }],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const flags = cmd.bool("postcopy") ? DomainAbortJobFlags.POSTCOPY : 0;
    try {
      if (flags === 0) await dom.abortJob();
      else await dom.abortJobFlags(flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ domain: domJson(dom), aborted: true, flags });
    return true;
  },
};

/** vshCommandOptULongLong: undefined when absent, null (error printed) when malformed. */
function optULL(ctx: Ctx, cmd: ParsedCmd<Ctx>, name: string, wrap = false): bigint | undefined | null {
  const v = cmd.raw(name);
  if (v === undefined) return undefined;
  const m = /^\s*([+-]?)(\d+)$/.exec(v);
  let n = m ? BigInt(m[2]!) : -1n;
  if (m?.[1] === "-") n = wrap && n <= 2n ** 64n ? (2n ** 64n - n) % 2n ** 64n : -1n;
  if (!m || n < 0n || n >= 2n ** 64n) {
    ctx.fail(`Numeric value '${v}' for <${name}> option is malformed or out of range`);
    return null;
  }
  return n;
}

async function withDomain(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  fn: (dom: Domain) => Promise<boolean>,
): Promise<boolean> {
  const dom = await ctx.domain(cmd);
  if (!dom) return false;
  try {
    return await fn(dom);
  } catch (e) {
    return ctx.fail(undefined, e);
  }
}

const setmaxdowntime: Cmd = {
  name: "migrate-setmaxdowntime",
  group: "domain",
  help: "set maximum tolerable downtime",
  desc: "Set maximum tolerable downtime of a domain which is being live-migrated to another host.",
  opts: [
    domainOpt(),
    {
      name: "downtime",
      type: "int",
      required: true,
      help: "maximum tolerable downtime (in milliseconds) for migration",
    },
  ],
  run: (ctx, cmd) =>
    withDomain(ctx, cmd, async (dom) => {
      const downtime = optULL(ctx, cmd, "downtime");
      if (downtime === null || downtime === undefined) return false;
      if (downtime < 1n) return ctx.fail("migrate: Invalid downtime");
      await dom.migrateSetMaxDowntime(downtime, 0);
      ctx.emit({ domain: domJson(dom), downtimeMs: downtime.toString() });
      return true;
    }),
};

const getmaxdowntime: Cmd = {
  name: "migrate-getmaxdowntime",
  group: "domain",
  help: "get maximum tolerable downtime",
  desc: "Get maximum tolerable downtime of a domain which is being live-migrated to another host.",
  opts: [domainOpt()],
  run: (ctx, cmd) =>
    withDomain(ctx, cmd, async (dom) => {
      const downtime = await dom.migrateGetMaxDowntime(0);
      ctx.print(`${downtime}\n`);
      ctx.emit({ domain: domJson(dom), downtimeMs: downtime.toString() });
      return true;
    }),
};

const setspeed: Cmd = {
  name: "migrate-setspeed",
  group: "domain",
  help: "Set the maximum migration bandwidth",
  desc: "Set the maximum migration bandwidth (in MiB/s) for a domain which is being migrated to another host.",
  opts: [
    domainOpt(),
    { name: "bandwidth", type: "int", required: true, help: "migration bandwidth limit in MiB/s" },
    { name: "postcopy", type: "bool", help: "set post-copy migration bandwidth" },
  ],
  run: (ctx, cmd) =>
    withDomain(ctx, cmd, async (dom) => {
      // vshCommandOptULWrap: a negative number wraps around (-1 is the largest value)
      const bandwidth = optULL(ctx, cmd, "bandwidth", true);
      if (bandwidth === null || bandwidth === undefined) return false;
      const flags = cmd.bool("postcopy") ? DomainMigrateMaxSpeedFlags.POSTCOPY : 0;
      await dom.migrateSetMaxSpeed(bandwidth, flags);
      ctx.emit({ domain: domJson(dom), bandwidthMiBs: bandwidth.toString(), flags });
      return true;
    }),
};

const getspeed: Cmd = {
  name: "migrate-getspeed",
  group: "domain",
  help: "Get the maximum migration bandwidth",
  desc: "Get the maximum migration bandwidth (in MiB/s) for a domain.",
  opts: [domainOpt(), { name: "postcopy", type: "bool", help: "get post-copy migration bandwidth" }],
  run: (ctx, cmd) =>
    withDomain(ctx, cmd, async (dom) => {
      const flags = cmd.bool("postcopy") ? DomainMigrateMaxSpeedFlags.POSTCOPY : 0;
      const bandwidth = await dom.migrateGetMaxSpeed(flags);
      ctx.print(`${bandwidth}\n`);
      ctx.emit({ domain: domJson(dom), bandwidthMiBs: bandwidth.toString(), flags });
      return true;
    }),
};

const compcache: Cmd = {
  name: "migrate-compcache",
  group: "domain",
  help: "get/set compression cache size",
  desc: "Get/set size of the cache (in bytes) used for compressing repeatedly transferred memory pages during live migration.",
  opts: [
    domainOpt(),
    { name: "size", type: "int", help: "requested size of the cache (in bytes) used for compression" },
  ],
  run: (ctx, cmd) =>
    withDomain(ctx, cmd, async (dom) => {
      const size = optULL(ctx, cmd, "size");
      if (size === null) return false;
      if (size !== undefined) await dom.migrateSetCompressionCache(size, 0);
      const now = await dom.migrateGetCompressionCache(0);
      // virsh prints this line without a newline of its own
      ctx.print(`Compression cache: ${prettyCapacity3(now)}`);
      ctx.emit({ domain: domJson(dom), cacheBytes: now.toString() });
      return true;
    }),
};

export const jobCommands: Cmd[] = [
  domjobinfo,
  domjobabort,
  setmaxdowntime,
  getmaxdowntime,
  compcache,
  setspeed,
  getspeed,
];
