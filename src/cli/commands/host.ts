/**
 * Host and hypervisor commands (virsh's "Host and Hypervisor" group): uri, hostname, version,
 * nodeinfo, capabilities, domcapabilities — as `tools/virsh-host.c` (9.0) prints them.
 */
import {
  formatVersion,
  LIBVIRT_COMPAT_VERSION,
  NodeAllocPagesFlags,
  parseXmlTree,
  selectNodes,
  selectValue,
  type NodeInfo,
  type XElement,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";
import { parseScaled } from "./tuning.ts";

type Cmd = CmdDef<Ctx>;

const uri: Cmd = {
  name: "uri",
  group: "host",
  help: "print the hypervisor canonical URI",
  opts: [],
  async run(ctx) {
    let u: string;
    try {
      u = await ctx.connection().getURI();
    } catch (e) {
      return ctx.fail("failed to get URI", e);
    }
    ctx.print(`${u}\n`);
    ctx.emit({ uri: u });
    return true;
  },
};

const hostname: Cmd = {
  name: "hostname",
  group: "host",
  help: "print the hypervisor hostname",
  opts: [],
  async run(ctx) {
    let h: string;
    try {
      h = await ctx.connection().getHostname();
    } catch (e) {
      return ctx.fail("failed to get hostname", e);
    }
    ctx.print(`${h}\n`);
    ctx.emit({ hostname: h });
    return true;
  },
};

const version: Cmd = {
  name: "version",
  group: "host",
  help: "show version",
  desc: "Display the system version information.",
  opts: [{ name: "daemon", type: "bool", help: "report daemon version too" }],
  async run(ctx, cmd) {
    const conn = ctx.connection();
    const lib = formatVersion(LIBVIRT_COMPAT_VERSION);
    ctx.print(`Compiled against library: libvirt ${lib}\n`);
    let type: string;
    try {
      type = await conn.getType();
    } catch (e) {
      return ctx.fail("failed to get the library version", e);
    }
    ctx.print(`Using library: libvirt ${lib}\n`);
    ctx.print(`Using API: ${type} ${lib}\n`);
    let hv: number;
    try {
      hv = await conn.getVersion();
    } catch (e) {
      return ctx.fail("failed to get the hypervisor version", e);
    }
    if (hv === 0) ctx.print(`Cannot extract running ${type} hypervisor version\n`);
    else ctx.print(`Running hypervisor: ${type} ${formatVersion(hv)}\n`);
    const json: Record<string, unknown> = {
      compiledAgainst: lib,
      library: lib,
      api: { type, version: lib },
      hypervisor: { type, version: hv === 0 ? null : formatVersion(hv) },
    };
    if (cmd.bool("daemon")) {
      try {
        const d = await conn.getLibVersion();
        ctx.print(`Running against daemon: ${formatVersion(d)}\n`);
        json.daemon = formatVersion(d);
      } catch (e) {
        ctx.fail("failed to get the daemon version", e);
        // virsh reports it and carries on
        ctx.lastError = undefined;
      }
    }
    ctx.emit(json);
    return true;
  },
};

const nodeinfo: Cmd = {
  name: "nodeinfo",
  group: "host",
  help: "node information",
  desc: "Returns basic information about the node.",
  opts: [],
  async run(ctx) {
    let info: NodeInfo;
    try {
      info = await ctx.connection().nodeGetInfo();
    } catch (e) {
      return ctx.fail("failed to get node information", e);
    }
    const l = (label: string, value: string): string => `${label.padEnd(20)} ${value}\n`;
    let out = l("CPU model:", info.model) + l("CPU(s):", String(info.cpus));
    if (info.mhz) out += l("CPU frequency:", `${info.mhz} MHz`);
    out += l("CPU socket(s):", String(info.sockets));
    out += l("Core(s) per socket:", String(info.cores));
    out += l("Thread(s) per core:", String(info.threads));
    out += l("NUMA cell(s):", String(info.nodes));
    out += l("Memory size:", `${info.memory} KiB`);
    ctx.print(out);
    ctx.emit({
      cpuModel: info.model,
      cpus: info.cpus,
      mhz: info.mhz,
      sockets: info.sockets,
      coresPerSocket: info.cores,
      threadsPerCore: info.threads,
      numaCells: info.nodes,
      memoryKiB: info.memory,
    });
    return true;
  },
};

const capabilities: Cmd = {
  name: "capabilities",
  group: "host",
  help: "capabilities",
  desc: "Returns capabilities of hypervisor/driver.",
  opts: [],
  async run(ctx) {
    let caps: string;
    try {
      caps = await ctx.connection().getCapabilities();
    } catch (e) {
      return ctx.fail("failed to get capabilities", e);
    }
    ctx.print(`${caps}\n`);
    ctx.emit({ xml: caps });
    return true;
  },
};

const domcapabilities: Cmd = {
  name: "domcapabilities",
  group: "host",
  help: "domain capabilities",
  desc: "Returns capabilities of emulator with respect to host and libvirt.",
  opts: [
    { name: "virttype", type: "string", help: "virtualization type (/domain/@type)" },
    {
      name: "emulatorbin",
      type: "string",
      help: "path to emulator binary (/domain/devices/emulator)",
      complete: "file",
    },
    { name: "arch", type: "string", help: "domain architecture (/domain/os/type/@arch)" },
    { name: "machine", type: "string", help: "machine type (/domain/os/type/@machine)" },
  ],
  async run(ctx, cmd) {
    const q: Record<string, string> = {};
    for (const k of ["virttype", "emulatorbin", "arch", "machine"]) {
      const v = ctx.optString(cmd, k);
      if (v === null) return false;
      if (v !== undefined) q[k] = v;
    }
    let caps: string;
    try {
      caps = await ctx.connection().getDomainCapabilities(q, 0);
    } catch (e) {
      return ctx.fail("failed to get emulator capabilities", e);
    }
    ctx.print(`${caps}\n`);
    ctx.emit({ xml: caps });
    return true;
  },
};

/** A numeric attribute of every element `xpath` selects. */
function numbers(doc: XElement, xpath: string, attr: string): number[] {
  return selectNodes(doc, xpath).flatMap((n) =>
    n.kind === "element" ? [Number(selectValue(n, `./@${attr}`) ?? 0)] : [],
  );
}

/** `--pagesize` as virsh reads it: a scaled integer, default KiB, printed back in KiB. */
function pageSizeKiB(ctx: Ctx, cmd: ParsedCmd<Ctx>): number | undefined | null {
  const raw = cmd.raw("pagesize");
  if (raw === undefined) return undefined;
  const bytes = parseScaled(raw, 1024n, 4294967295n * 1024n);
  if (bytes === null) {
    ctx.fail(`Scaled numeric value '${raw}' for <pagesize> option is malformed or out of range`);
    return null;
  }
  return Number(bytes / 1024n);
}

const freepages: Cmd = {
  name: "freepages",
  group: "host",
  help: "NUMA free pages",
  desc: "display available free pages for the NUMA cell.",
  opts: [
    { name: "cellno", type: "int", help: "NUMA cell number" },
    { name: "pagesize", type: "int", help: "page size (in kibibytes)" },
    { name: "all", type: "bool", help: "show free pages for all NUMA cells" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "all", "cellno")) return false;
    const size = pageSizeKiB(ctx, cmd);
    if (size === null) return false;
    const conn = ctx.connection();
    const cells: { cell: number; pages: { sizeKiB: number; free: string }[] }[] = [];
    try {
      if (cmd.bool("all")) {
        const caps = parseXmlTree(await conn.getCapabilities());
        const sizes = size !== undefined ? [size] : numbers(caps, "./host/cpu/pages", "size");
        const ids = numbers(caps, "./host/topology/cells/cell", "id");
        for (const id of ids) {
          const counts = await conn.nodeGetFreePages(sizes, id, 1, 0);
          cells.push({
            cell: id,
            pages: sizes.map((s, i) => ({ sizeKiB: s, free: String(counts[i] ?? 0n) })),
          });
        }
        for (const c of cells) {
          ctx.print(`Node ${String(c.cell)}:\n`);
          for (const p of c.pages) ctx.print(`${String(p.sizeKiB)}KiB: ${p.free}\n`);
          ctx.print("\n");
        }
      } else {
        const cell = ctx.optInt(cmd, "cellno");
        if (cell === null) return false;
        if (cell === undefined) return ctx.fail("missing cellno argument");
        if (size === undefined) return ctx.fail("missing pagesize argument");
        const counts = await conn.nodeGetFreePages([size], cell, 1, 0);
        cells.push({ cell, pages: [{ sizeKiB: size, free: String(counts[0] ?? 0n) }] });
        ctx.print(`${String(size)}KiB: ${String(counts[0] ?? 0n)}\n`);
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ cells });
    return true;
  },
};

const allocpages: Cmd = {
  name: "allocpages",
  group: "host",
  help: "Manipulate pages pool size",
  desc: "Allocate or free some pages in the pool for NUMA cell.",
  opts: [
    { name: "pagesize", type: "int", required: true, help: "page size (in kibibytes)" },
    { name: "pagecount", type: "int", required: true, help: "page count" },
    { name: "cellno", type: "int", help: "NUMA cell number" },
    { name: "add", type: "bool", help: "instead of setting new pool size add pages to it" },
    { name: "all", type: "bool", help: "set on all NUMA cells" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "all", "cellno")) return false;
    const size = pageSizeKiB(ctx, cmd);
    if (size === null || size === undefined) return false;
    const raw = cmd.raw("pagecount") ?? "";
    if (!/^\d+$/.test(raw)) {
      return ctx.fail(`Scaled numeric value '${raw}' for <pagecount> option is malformed or out of range`);
    }
    const count = BigInt(raw);
    const cell = ctx.optInt(cmd, "cellno");
    if (cell === null) return false;
    const flags = cmd.bool("add") ? NodeAllocPagesFlags.ADD : 0;
    const conn = ctx.connection();
    const done: number[] = [];
    try {
      if (cmd.bool("all")) {
        const caps = parseXmlTree(await conn.getCapabilities());
        for (const id of numbers(caps, "./host/topology/cells/cell", "id")) {
          await conn.nodeAllocPages([size], [count], id, 1, flags);
          done.push(id);
        }
      } else {
        await conn.nodeAllocPages([size], [count], cell ?? -1, 1, flags);
        done.push(cell ?? -1);
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ pageSizeKiB: size, pageCount: count.toString(), add: flags !== 0, cells: done });
    return true;
  },
};

export const hostCommands: Cmd[] = [
  allocpages,
  freepages,
  capabilities,
  domcapabilities,
  hostname,
  nodeinfo,
  uri,
  version,
];
