/**
 * CPU model commands of virsh's "Host and Hypervisor" group: cpu-models, cpu-baseline,
 * cpu-compare, hypervisor-cpu-baseline, hypervisor-cpu-compare — as `tools/virsh-host.c` (9.0)
 * prints them. CPU definitions are read from a file holding `<cpu>` elements, a domain XML,
 * host capabilities or domain capabilities (vshExtractCPUDefXMLs).
 */
import { parseXmlTree, selectNodes, serializeNode, type XNode } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";

type Cmd = CmdDef<Ctx>;

// virConnectBaselineCPUFlags, virConnectCompareCPUFlags
const BASELINE_EXPAND_FEATURES = 1;
const BASELINE_MIGRATABLE = 2;
const COMPARE_FAIL_INCOMPATIBLE = 1;
const COMPARE_VALIDATE_XML = 2;

const CPU_PATHS =
  "/container/cpu|/container/domain/cpu|/container/capabilities/host/cpu|" +
  "/container/domainCapabilities/cpu/mode[@name='host-model']";

/** The `<cpu>` definitions in a file, each as its own document; undefined after an error. */
async function extractCpus(ctx: Ctx, file: string): Promise<string[] | undefined> {
  const text = await ctx.readFile(file);
  if (text === undefined) return undefined;
  let nodes: XNode[];
  try {
    const body = text.replace(/^\s*<\?xml[^>]*\?>/, "");
    nodes = selectNodes(parseXmlTree(`<container>${body}</container>`), CPU_PATHS);
  } catch (e) {
    ctx.fail(`Failed to parse XML in ${file}`, e);
    return undefined;
  }
  if (nodes.length === 0) {
    ctx.fail(
      `File '${file}' does not contain any <cpu> element or valid domain XML, host capabilities XML, or domain capabilities XML`,
    );
    return undefined;
  }
  return nodes.map((n) => {
    const xml = serializeNode(n);
    // a domain capabilities host-model is a CPU definition under another name
    return n.kind === "element" && n.name === "mode"
      ? xml.replace(/^<mode\b[^>]*>/, "<cpu>").replace(/<\/mode>$/, "</cpu>")
      : xml;
  });
}

const fileOpt = (help: string): OptDef => ({
  name: "file",
  type: "data",
  required: true,
  help,
  complete: "file",
});
const hvOpts: OptDef[] = [
  { name: "virttype", type: "string", help: "virtualization type (/domain/@type)" },
  { name: "emulator", type: "string", help: "path to emulator binary (/domain/devices/emulator)" },
  { name: "arch", type: "string", help: "CPU architecture (/domain/os/type/@arch)" },
  { name: "machine", type: "string", help: "machine type (/domain/os/type/@machine)" },
];

/** The hypervisor query options; null after an error. */
function hvQuery(ctx: Ctx, cmd: ParsedCmd<Ctx>): Record<string, string> | null {
  const q: Record<string, string> = {};
  for (const k of ["virttype", "emulator", "arch", "machine"]) {
    const v = ctx.optString(cmd, k);
    if (v === null) return null;
    if (v !== undefined) q[k] = v;
  }
  return q;
}

const cpuModels: Cmd = {
  name: "cpu-models",
  group: "host",
  help: "CPU models",
  desc: "Get the CPU models for an arch.",
  opts: [{ name: "arch", type: "data", required: true, help: "architecture" }],
  async run(ctx, cmd) {
    const arch = ctx.optString(cmd, "arch");
    if (!arch) return false;
    let models: string[];
    try {
      models = await ctx.connection().getCPUModelNames(arch, 0);
    } catch (e) {
      return ctx.fail("failed to get CPU model names", e);
    }
    if (models.length === 0) ctx.printExtra("all CPU models are accepted\n");
    else for (const m of models) ctx.print(`${m}\n`);
    ctx.emit({ arch, models, anyModel: models.length === 0 });
    return true;
  },
};

const cpuBaseline: Cmd = {
  name: "cpu-baseline",
  group: "host",
  help: "compute baseline CPU",
  desc: "Compute baseline CPU for a set of given CPUs.",
  opts: [
    fileOpt("file containing XML CPU descriptions"),
    { name: "features", type: "bool", help: "Show features that are part of the CPU model type" },
    { name: "migratable", type: "bool", help: "Do not include features that block migration" },
  ],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    let flags = 0;
    if (cmd.bool("features")) flags |= BASELINE_EXPAND_FEATURES;
    if (cmd.bool("migratable")) flags |= BASELINE_MIGRATABLE;
    const cpus = await extractCpus(ctx, from);
    if (!cpus) return false;
    let result: string;
    try {
      result = await ctx.connection().baselineCPU(cpus, flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(result);
    ctx.emit({ xml: result });
    return true;
  },
};

const hypervisorCpuBaseline: Cmd = {
  name: "hypervisor-cpu-baseline",
  group: "host",
  help: "compute baseline CPU usable by a specific hypervisor",
  desc: "Compute baseline CPU for a set of given CPUs. The result will be tailored to the specified hypervisor.",
  opts: [
    { name: "file", type: "string", help: "file containing XML CPU descriptions", complete: "file" },
    ...hvOpts,
    { name: "features", type: "bool", help: "Show features that are part of the CPU model type" },
    { name: "migratable", type: "bool", help: "Do not include features that block migration" },
    {
      name: "model",
      type: "string",
      help: "Shortcut for calling the command with a single CPU model and no additional features",
    },
  ],
  async run(ctx, cmd) {
    let flags = 0;
    if (cmd.bool("features")) flags |= BASELINE_EXPAND_FEATURES;
    if (cmd.bool("migratable")) flags |= BASELINE_MIGRATABLE;
    const from = ctx.optString(cmd, "file");
    if (from === null) return false;
    const q = hvQuery(ctx, cmd);
    if (q === null) return false;
    const model = ctx.optString(cmd, "model");
    if (model === null) return false;
    if (from !== undefined && model !== undefined)
      return ctx.fail("Options --file and --model are mutually exclusive");
    if (from === undefined && model === undefined)
      return ctx.fail("Either --file or --model must be provided");
    let cpus: string[];
    if (from !== undefined) {
      const list = await extractCpus(ctx, from);
      if (!list) return false;
      cpus = list;
    } else {
      cpus = [`<cpu><model>${model ?? ""}</model></cpu>`];
    }
    let result: string;
    try {
      result = await ctx.connection().baselineHypervisorCPU(q, cpus, flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(result);
    ctx.emit({ xml: result });
    return true;
  },
};

/** The text of a comparison result, or undefined for an error. */
function compareText(result: number, file: string, hypervisor: boolean): string | undefined {
  const host = hypervisor ? "the CPU provided by hypervisor on the host" : "host CPU";
  switch (result) {
    case 0:
      return `CPU described in ${file} is incompatible with ${host}\n`;
    case 1:
      return `CPU described in ${file} is identical to ${host}\n`;
    case 2:
      return hypervisor
        ? `The CPU provided by hypervisor on the host is a superset of CPU described in ${file}\n`
        : `Host CPU is a superset of CPU described in ${file}\n`;
    default:
      return undefined;
  }
}

const RESULT = ["incompatible", "identical", "superset"] as const;

function compareCmd(hypervisor: boolean): Cmd {
  return {
    name: hypervisor ? "hypervisor-cpu-compare" : "cpu-compare",
    group: "host",
    help: hypervisor
      ? "compare a CPU with the CPU created by a hypervisor on the host"
      : "compare host CPU with a CPU described by an XML file",
    desc: hypervisor ? "compare CPU with hypervisor CPU" : "compare CPU with host CPU",
    opts: [
      fileOpt("file containing an XML CPU description"),
      ...(hypervisor ? hvOpts : []),
      { name: "error", type: "bool", help: "report error if CPUs are incompatible" },
      { name: "validate", type: "bool", help: "validate the XML document against schema" },
    ],
    async run(ctx, cmd) {
      let flags = 0;
      if (cmd.bool("error")) flags |= COMPARE_FAIL_INCOMPATIBLE;
      if (cmd.bool("validate")) flags |= COMPARE_VALIDATE_XML;
      const from = ctx.optString(cmd, "file");
      if (!from) return false;
      const q = hypervisor ? hvQuery(ctx, cmd) : {};
      if (q === null) return false;
      const cpus = await extractCpus(ctx, from);
      if (!cpus) return false;
      const failed = hypervisor
        ? `Failed to compare hypervisor CPU with ${from}`
        : `Failed to compare host CPU with ${from}`;
      let result: number;
      try {
        const conn = ctx.connection();
        result = hypervisor
          ? await conn.compareHypervisorCPU(q, cpus[0]!, flags)
          : await conn.compareCPU(cpus[0]!, flags);
      } catch (e) {
        return ctx.fail(failed, e);
      }
      const text = compareText(result, from, hypervisor);
      if (text === undefined) return ctx.fail(failed);
      ctx.print(text);
      ctx.emit({ file: from, result: RESULT[result] });
      return result !== 0;
    },
  };
}

export const cpuCommands: Cmd[] = [
  cpuBaseline,
  compareCmd(false),
  cpuModels,
  hypervisorCpuBaseline,
  compareCmd(true),
];
