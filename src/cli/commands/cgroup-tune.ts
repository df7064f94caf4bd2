/**
 * cgroup tuning commands as virsh 9.0 prints them (`tools/virsh-domain.c`): memtune, schedinfo,
 * blkiotune.
 */
import { TypedParameterType as TP, type Domain, type TypedParameter } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";
import { domJson, domainOpt } from "./domain.ts";
import { configOpt, currentOpt, liveOpt, scopeOf } from "./scope.ts";
import { parseScaled, typedParamText } from "./tuning.ts";

type Cmd = CmdDef<Ctx>;

/** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED */
const UNLIMITED = 9007199254740991n;
const LLONG_MAX = 9223372036854775807n;
/** VIR_TYPED_PARAM_STRING_OKAY */
const STRING_OKAY = 4;

function paramJson(p: TypedParameter): string | number | boolean {
  return typeof p.value.value === "bigint" ? p.value.value.toString() : p.value.value;
}

/** virshMemtuneGetSize: KiB; a negative number is unlimited; undefined = not given; null = bad. */
function memtuneSize(cmd: ParsedCmd<Ctx>, name: string): bigint | undefined | null {
  const raw = cmd.raw(name);
  if (raw === undefined) return undefined;
  if (/^\s*-\d+/.test(raw)) return UNLIMITED;
  const bytes = parseScaled(raw, 1024n, LLONG_MAX);
  if (bytes === null) return null;
  return (bytes + 1023n) / 1024n;
}

const memtune: Cmd = {
  name: "memtune",
  group: "domain",
  help: "Get or set memory parameters",
  desc:
    "Get or set the current memory parameters for a guest domain.\n" +
    "    To get the memory parameters use following command: \n\n    virsh # memtune <domain>",
  opts: [
    domainOpt(),
    { name: "hard-limit", type: "string", help: "Max memory, as scaled integer (default KiB)" },
    { name: "soft-limit", type: "string", help: "Memory during contention, as scaled integer (default KiB)" },
    {
      name: "swap-hard-limit",
      type: "string",
      help: "Max memory plus swap, as scaled integer (default KiB)",
    },
    { name: "min-guarantee", type: "string", help: "Min guaranteed memory, as scaled integer (default KiB)" },
    configOpt,
    liveOpt,
    currentOpt,
  ],
  async run(ctx, cmd) {
    const scope = scopeOf(ctx, cmd);
    if (!scope) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const params: TypedParameter[] = [];
    for (const [opt, field] of [
      ["hard-limit", "hard_limit"],
      ["soft-limit", "soft_limit"],
      ["swap-hard-limit", "swap_hard_limit"],
      ["min-guarantee", "min_guarantee"],
    ] as const) {
      const v = memtuneSize(cmd, opt);
      if (v === null) return ctx.fail(`Unable to parse integer parameter ${opt}`);
      if (v !== undefined) params.push({ field, value: { type: TP.ULLONG, value: v } });
    }
    if (params.length > 0) {
      try {
        await dom.setMemoryParameters(params, scope.flags);
      } catch (e) {
        return ctx.fail("Unable to change memory parameters", e);
      }
      ctx.emit({ domain: domJson(dom), set: Object.fromEntries(params.map((p) => [p.field, paramJson(p)])) });
      return true;
    }
    let got: TypedParameter[];
    try {
      got = await dom.getMemoryParameters(scope.flags);
    } catch (e) {
      return ctx.fail("Unable to get number of memory parameters", e);
    }
    let out = "";
    const json: Record<string, string | number | boolean | null> = {};
    for (const p of got) {
      const unlimited = p.value.type === TP.ULLONG && p.value.value === UNLIMITED;
      out += `${p.field.padEnd(15)}: ${unlimited ? "unlimited" : typedParamText(p)}\n`;
      json[p.field] = unlimited ? null : paramJson(p);
    }
    ctx.print(out);
    ctx.emit({ domain: domJson(dom), parameters: json, unit: "KiB" });
    return true;
  },
};

/** virTypedParameterAssignFromStr for the types schedinfo meets. */
function assignFromString(p: TypedParameter, text: string): TypedParameter | string {
  const t = text.trim();
  switch (p.value.type) {
    case TP.INT:
    case TP.UINT: {
      if (!/^-?\d+$/.test(t))
        return `invalid argument: Invalid value for field '${p.field}': expected ${p.value.type === TP.INT ? "int" : "unsigned int"}`;
      return { field: p.field, value: { type: p.value.type, value: Number(t) } };
    }
    case TP.LLONG:
    case TP.ULLONG: {
      if (!/^-?\d+$/.test(t) || (p.value.type === TP.ULLONG && t.startsWith("-")))
        return `invalid argument: Invalid value for field '${p.field}': expected ${p.value.type === TP.LLONG ? "long long" : "unsigned long long"}`;
      return { field: p.field, value: { type: p.value.type, value: BigInt(t) } };
    }
    case TP.DOUBLE:
      return { field: p.field, value: { type: TP.DOUBLE, value: Number(t) } };
    case TP.BOOLEAN:
      return { field: p.field, value: { type: TP.BOOLEAN, value: t === "1" || t.toLowerCase() === "yes" } };
    default:
      return { field: p.field, value: { type: TP.STRING, value: text } };
  }
}

const schedinfo: Cmd = {
  name: "schedinfo",
  group: "domain",
  help: "show/set scheduler parameters",
  desc: "Show/Set scheduler parameters.",
  opts: [
    domainOpt(),
    { name: "weight", type: "int", named: true, help: "weight for XEN_CREDIT" },
    { name: "cap", type: "int", named: true, help: "cap for XEN_CREDIT" },
    currentOpt,
    configOpt,
    liveOpt,
    { name: "set", type: "argv", help: "parameter=value" },
  ],
  async run(ctx, cmd) {
    const scope = scopeOf(ctx, cmd);
    if (!scope) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const live = cmd.bool("live");
    const config = cmd.bool("config");
    const queryFlags = live && config ? 0 : scope.flags;
    let type: { type: string; nparams: number };
    try {
      type = await dom.getSchedulerType();
    } catch (e) {
      return ctx.fail("Failed to get scheduler type", e);
    }
    let out = `${"Scheduler".padEnd(15)}: ${type.type}\n`;
    // virsh: the legacy calls without a scope, the flags calls with one
    const get = (d: Domain): Promise<TypedParameter[]> =>
      scope.any ? d.getSchedulerParametersFlags(queryFlags) : d.getSchedulerParameters();
    let params: TypedParameter[] = [];
    if (type.nparams > 0) {
      try {
        params = await get(dom);
      } catch (e) {
        ctx.print(out);
        return ctx.fail(undefined, e);
      }
      const updates: TypedParameter[] = [];
      const wanted: [string, string][] = [];
      for (const set of cmd.argv) {
        const eq = set.indexOf("=");
        if (eq < 0) {
          ctx.print(out);
          return ctx.fail(`Invalid syntax for --set, expecting name=value`);
        }
        wanted.push([set.slice(0, eq), set.slice(eq + 1)]);
      }
      for (const legacy of ["weight", "cap"]) {
        const v = cmd.raw(legacy);
        if (v !== undefined) wanted.push([legacy, v]);
      }
      for (const [name, value] of wanted) {
        const p = params.find((x) => x.field === name);
        if (!p) {
          ctx.print(out);
          return ctx.fail(`invalid scheduler option: ${name}`);
        }
        const u = assignFromString(p, value);
        if (typeof u === "string") {
          ctx.print(out);
          return ctx.fail(u);
        }
        updates.push(u);
      }
      if (updates.length > 0) {
        try {
          if (scope.any) await dom.setSchedulerParametersFlags(updates, scope.flags);
          else await dom.setSchedulerParameters(updates);
          params = await get(dom);
        } catch (e) {
          ctx.print(out);
          return ctx.fail(undefined, e);
        }
      } else if (live && config) {
        ctx.print(out);
        return ctx.fail("cannot query both live and config at once");
      }
    }
    for (const p of params) out += `${p.field.padEnd(15)}: ${typedParamText(p)}\n`;
    ctx.print(out);
    ctx.emit({
      domain: domJson(dom),
      scheduler: type.type,
      parameters: Object.fromEntries(params.map((p) => [p.field, paramJson(p)])),
    });
    return true;
  },
};

const blkiotune: Cmd = {
  name: "blkiotune",
  group: "domain",
  help: "Get or set blkio parameters",
  desc:
    "Get or set the current blkio parameters for a guest domain.\n" +
    "    To get the blkio parameters use following command: \n\n    virsh # blkiotune <domain>",
  opts: [
    domainOpt(),
    { name: "weight", type: "int", help: "IO Weight" },
    {
      name: "device-weights",
      type: "string",
      help: "per-device IO Weights, in the form of /path/to/device,weight,...",
    },
    {
      name: "device-read-iops-sec",
      type: "string",
      help: "per-device read I/O limit per second, in the form of /path/to/device,read_iops_sec,...",
    },
    {
      name: "device-write-iops-sec",
      type: "string",
      help: "per-device write I/O limit per second, in the form of /path/to/device,write_iops_sec,...",
    },
    {
      name: "device-read-bytes-sec",
      type: "string",
      help: "per-device bytes read per second, in the form of /path/to/device,read_bytes_sec,...",
    },
    {
      name: "device-write-bytes-sec",
      type: "string",
      help: "per-device bytes wrote per second, in the form of /path/to/device,write_bytes_sec,...",
    },
    configOpt,
    liveOpt,
    currentOpt,
  ],
  async run(ctx, cmd) {
    const scope = scopeOf(ctx, cmd);
    if (!scope) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const params: TypedParameter[] = [];
    const weight = ctx.optInt(cmd, "weight");
    if (weight === null) return false;
    if (weight !== undefined) {
      if (weight <= 0) return ctx.fail(`Invalid value of ${weight} for I/O weight`);
      params.push({ field: "weight", value: { type: TP.UINT, value: weight } });
    }
    for (const [opt, field] of [
      ["device-weights", "device_weight"],
      ["device-read-iops-sec", "device_read_iops_sec"],
      ["device-write-iops-sec", "device_write_iops_sec"],
      ["device-read-bytes-sec", "device_read_bytes_sec"],
      ["device-write-bytes-sec", "device_write_bytes_sec"],
    ] as const) {
      const v = ctx.optString(cmd, opt);
      if (v === null) return false;
      if (v !== undefined) params.push({ field, value: { type: TP.STRING, value: v } });
    }
    if (params.length > 0) {
      try {
        await dom.setBlkioParameters(params, scope.flags);
      } catch (e) {
        return ctx.fail("Unable to change blkio parameters", e);
      }
      ctx.emit({ domain: domJson(dom), set: Object.fromEntries(params.map((p) => [p.field, paramJson(p)])) });
      return true;
    }
    let got: TypedParameter[];
    try {
      got = await dom.getBlkioParameters(scope.flags | STRING_OKAY);
    } catch (e) {
      return ctx.fail("Unable to get number of blkio parameters", e);
    }
    ctx.print(got.map((p) => `${p.field.padEnd(15)}: ${typedParamText(p)}\n`).join(""));
    ctx.emit({
      domain: domJson(dom),
      parameters: Object.fromEntries(got.map((p) => [p.field, paramJson(p)])),
    });
    return true;
  },
};

export const cgroupTuneCommands: Cmd[] = [memtune, schedinfo, blkiotune];
