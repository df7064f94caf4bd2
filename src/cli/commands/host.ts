/**
 * Host and hypervisor commands (virsh's "Host and Hypervisor" group): uri, hostname, version,
 * nodeinfo, capabilities, domcapabilities — as `tools/virsh-host.c` (9.0) prints them.
 */
import { formatVersion, LIBVIRT_COMPAT_VERSION, type NodeInfo } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";

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

export const hostCommands: Cmd[] = [capabilities, domcapabilities, hostname, nodeinfo, uri, version];
