/**
 * Host and domain commands over issue 20's calls (src/api/host-cpu.ts): nodecpumap,
 * nodecpustats, vcpuinfo, desc, domtime, inject-nmi, domifaddr — printed as `tools/virsh-host.c` (9.0) prints them.
 */
import {
  domainGetMetadata,
  domainGetTime,
  domainGetVcpus,
  domainInjectNMI,
  domainInterfaceAddresses,
  domainSetMetadata,
  domainSetTime,
  nodeGetCPUMap,
  nodeGetCPUStats,
  type VcpuInfo,
} from "../../api/host-cpu.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";
import { domJson, domainOpt } from "./domain.ts";
import { editTextOnce } from "../edit-flow.ts";

type Cmd = CmdDef<Ctx>;

/** virBitmapFormat: sorted bits as ranges, "0-3,5". */
function formatBits(bits: number[]): string {
  const s = [...bits].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(j === i ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** C's "%-15s". */
const label = (s: string): string => s.padEnd(15);

const nodecpumap: Cmd = {
  name: "nodecpumap",
  group: "host",
  help: "node cpu map",
  desc: "Displays the node's total number of CPUs, the number of online CPUs and the list of online CPUs.",
  opts: [{ name: "pretty", type: "bool", help: "return human readable output" }],
  async run(ctx, cmd) {
    const pretty = cmd.bool("pretty");
    let map: { cpus: number; online: number[] };
    try {
      map = await nodeGetCPUMap(ctx.connection());
    } catch (e) {
      return ctx.fail("Unable to get cpu map", e);
    }
    const online = new Set(map.online);
    let bits = "";
    if (pretty) bits = formatBits(map.online);
    else for (let i = 0; i < map.cpus; i++) bits += online.has(i) ? "y" : "-";
    ctx.print(
      `${label("CPUs present:")} ${map.cpus}\n${label("CPUs online:")} ${map.online.length}\n` +
        `${label("CPU map:")} ${bits}\n`,
    );
    ctx.emit({
      present: map.cpus,
      online: map.online.length,
      onlineCpus: [...map.online].sort((a, b) => a - b),
    });
    return true;
  },
};

interface CpuTimes {
  user: bigint;
  sys: bigint;
  idle: bigint;
  iowait: bigint;
  util?: bigint;
}

function cpuTimes(fields: { field: string; value: bigint }[]): CpuTimes {
  const t: CpuTimes = { user: 0n, sys: 0n, idle: 0n, iowait: 0n };
  for (const { field, value } of fields) {
    if (field === "kernel") t.sys = value;
    else if (field === "user") t.user = value;
    else if (field === "idle") t.idle = value;
    else if (field === "iowait") t.iowait = value;
    else if (field === "utilization") t.util = value;
  }
  return t;
}

/** C's "%5.1lf%%", glibc spelling 0/0 as -nan. */
function pct(v: number): string {
  return `${(Number.isNaN(v) ? "-nan" : v.toFixed(1)).padStart(5)}%`;
}

const nodecpustats: Cmd = {
  name: "nodecpustats",
  group: "host",
  help: "Prints cpu stats of the node.",
  desc: "Returns cpu stats of the node, in nanoseconds.",
  opts: [
    { name: "cpu", type: "int", help: "prints specified cpu statistics only." },
    { name: "percent", type: "bool", help: "prints by percentage during 1 second." },
  ],
  async run(ctx, cmd) {
    const cpu = ctx.optInt(cmd, "cpu");
    if (cpu === null) return false;
    const cpuNum = cpu ?? -1;
    const percent = cmd.bool("percent");
    const get = async (): Promise<CpuTimes | undefined> => {
      try {
        return cpuTimes(await nodeGetCPUStats(ctx.connection(), cpuNum));
      } catch (e) {
        ctx.fail("Unable to get node cpu stats", e);
        return undefined;
      }
    };
    const first = await get();
    if (!first) return false;
    if (!percent) {
      const rows: [string, bigint][] = [
        ["user:", first.user],
        ["system:", first.sys],
        ["idle:", first.idle],
        ["iowait:", first.iowait],
      ];
      ctx.print(rows.map(([k, v]) => `${label(k)} ${`${v}`.padStart(20)}\n`).join(""));
      ctx.emit({
        cpu: cpu ?? null,
        user: Number(first.user),
        system: Number(first.sys),
        idle: Number(first.idle),
        iowait: Number(first.iowait),
      });
      return true;
    }
    if (first.util !== undefined) {
      const usage = Number(first.util);
      ctx.print(`${label("usage:")} ${pct(usage)}\n${label("idle:")} ${pct(100 - usage)}\n`);
      ctx.emit({ cpu: cpu ?? null, percent: { usage, idle: 100 - usage } });
      return true;
    }
    // virsh samples twice, a second apart, and prints the shares of the difference
    await new Promise((r) => setTimeout(r, 1000));
    const second = await get();
    if (!second) return false;
    const user = Number(second.user - first.user);
    const sys = Number(second.sys - first.sys);
    const idle = Number(second.idle - first.idle);
    const iowait = Number(second.iowait - first.iowait);
    const total = user + sys + idle + iowait;
    const share = (v: number): number => (v / total) * 100;
    const p = {
      usage: share(user + sys),
      user: share(user),
      system: share(sys),
      idle: share(idle),
      iowait: share(iowait),
    };
    ctx.print(
      `${label("usage:")} ${pct(p.usage)}\n${label("user:")} ${pct(p.user)}\n` +
        `${label("system:")} ${pct(p.system)}\n${label("idle:")} ${pct(p.idle)}\n` +
        `${label("iowait:")} ${pct(p.iowait)}\n`,
    );
    // JSON has no NaN: an unchanged counter set (total 0) gives nulls
    const j = (v: number): number | null => (Number.isFinite(v) ? v : null);
    ctx.emit({
      cpu: cpu ?? null,
      percent: {
        usage: j(p.usage),
        user: j(p.user),
        system: j(p.system),
        idle: j(p.idle),
        iowait: j(p.iowait),
      },
    });
    return true;
  },
};

const VCPU_STATES = ["offline", "running", "blocked"];
const DOMAIN_SHUTOFF = 5;

const vcpuinfo: Cmd = {
  name: "vcpuinfo",
  group: "domain",
  help: "detailed domain vcpu information",
  desc: "Returns basic information about the domain virtual CPUs.",
  opts: [domainOpt(), { name: "pretty", type: "bool", help: "return human readable output" }],
  async run(ctx, cmd) {
    const pretty = cmd.bool("pretty");
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let hostCpus: number;
    let info: VcpuInfo[] | undefined;
    let affinity: number[][];
    try {
      hostCpus = (await nodeGetCPUMap(ctx.connection())).cpus;
      const dinfo = await dom.getInfo();
      try {
        const v = await domainGetVcpus(dom);
        info = v.info;
        affinity = v.affinity;
      } catch (e) {
        // virsh: an inactive domain has no vCPU threads, only its configured pinning
        if (dinfo.state !== DOMAIN_SHUTOFF) throw e;
        const maplen = Math.ceil(hostCpus / 8);
        const pins = await dom.getVcpuPinInfo(dinfo.nrVirtCpu, maplen, 2 /* AFFECT_CONFIG */);
        affinity = [];
        for (let n = 0; n < pins.num; n++) {
          const cpus: number[] = [];
          for (let c = 0; c < hostCpus; c++)
            if ((pins.cpumaps[n * maplen + (c >> 3)]! >> (c & 7)) & 1) cpus.push(c);
          affinity.push(cpus);
        }
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    let out = "";
    const vcpus = [];
    for (let n = 0; n < affinity.length; n++) {
      const v = info?.[n];
      // the maps are as wide as virsh asks: the host CPU count
      const cpus = (affinity[n] ?? []).filter((c) => c < hostCpus);
      out += `${label("VCPU:")} ${v ? v.number : n}\n`;
      if (v) {
        out += `${label("CPU:")} ${v.cpu}\n${label("State:")} ${VCPU_STATES[v.state] ?? "no state"}\n`;
        if (v.cpuTime !== 0n) out += `${label("CPU time:")} ${(Number(v.cpuTime) / 1e9).toFixed(1)}s\n`;
      } else {
        out += `${label("CPU:")} N/A\n${label("State:")} N/A\n${label("CPU time:")} N/A\n`;
      }
      let aff: string;
      if (pretty) aff = `${formatBits(cpus)} (out of ${hostCpus})`;
      else {
        const set = new Set(cpus);
        aff = "";
        for (let c = 0; c < hostCpus; c++) aff += set.has(c) ? "y" : "-";
      }
      // virsh separates the blocks by a blank line (none after the last)
      out += `${label("CPU Affinity:")} ${aff}\n${n < affinity.length - 1 ? "\n" : ""}`;
      vcpus.push({
        vcpu: v ? v.number : n,
        cpu: v ? v.cpu : null,
        state: v ? (VCPU_STATES[v.state] ?? "no state") : null,
        cpuTime: v ? Number(v.cpuTime) : null,
        affinity: [...cpus].sort((a, b) => a - b),
      });
    }
    ctx.print(out);
    ctx.emit({ domain: domJson(dom), hostCpus, vcpus });
    return true;
  },
};

// virDomainMetadataType, virDomainModificationImpact
const METADATA_DESCRIPTION = 0;
const METADATA_TITLE = 1;
const AFFECT_LIVE = 1;
const AFFECT_CONFIG = 2;

const desc: Cmd = {
  name: "desc",
  group: "domain",
  help: "show or set domain's description or title",
  desc: "Allows setting or modifying the description or title of a domain.",
  opts: [
    domainOpt(),
    { name: "live", type: "bool", help: "modify/get running state" },
    { name: "config", type: "bool", help: "modify/get persistent configuration" },
    { name: "current", type: "bool", help: "modify/get current state configuration" },
    { name: "title", type: "bool", help: "modify/get the title instead of description" },
    { name: "edit", type: "bool", help: "open an editor to modify the description" },
    { name: "new-desc", type: "argv", help: "message" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "current", "live")) return false;
    if (!ctx.exclusive(cmd, "current", "config")) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const title = cmd.bool("title");
    const config = cmd.bool("config");
    let flags = 0;
    if (config) flags |= AFFECT_CONFIG;
    if (cmd.bool("live")) flags |= AFFECT_LIVE;
    const type = title ? METADATA_TITLE : METADATA_DESCRIPTION;
    const what = title ? "title" : "description";
    // virsh joins the words with spaces; any word, even an empty one (which clears), means "set"
    const set = cmd.argv.length > 0;
    const text = cmd.argv.join(" ");
    let newText = text;
    if (cmd.bool("edit")) {
      // the current text in an editor (a trailing newline some editors add is dropped)
      const current = await domainGetMetadata(dom, type, null, config ? AFFECT_CONFIG : 0).catch(() => "");
      const edited = await editTextOnce(ctx, current, process.env);
      if (edited === undefined) return false;
      // virsh drops the newline editors add for a title only (a title has one line)
      newText = title && edited.endsWith("\n") ? edited.slice(0, -1) : edited;
      if (newText === current) {
        ctx.printExtra(`Domain ${what} not changed\n`);
        ctx.emit({ domain: domJson(dom), field: what, value: current, updated: false });
        return true;
      }
    }
    if (set || cmd.bool("edit")) {
      try {
        await domainSetMetadata(dom, type, newText, null, null, flags);
      } catch (e) {
        return ctx.fail(`Failed to set new domain ${what}`, e);
      }
      ctx.printExtra(`Domain ${what} updated successfully`);
      ctx.emit({ domain: domJson(dom), field: what, value: newText, updated: true });
      return true;
    }
    // virsh shows any failure to read the text as "no text"
    const current = await domainGetMetadata(dom, type, null, config ? AFFECT_CONFIG : 0).catch(() => "");
    if (current.length > 0) ctx.print(current);
    else ctx.printExtra(`No ${what} for domain: ${dom.name}`);
    ctx.emit({
      domain: domJson(dom),
      field: what,
      value: current.length > 0 ? current : null,
      updated: false,
    });
    return true;
  },
};

const METADATA_ELEMENT = 2;

const metadata: Cmd = {
  name: "metadata",
  group: "domain",
  help: "show or set domain's custom XML metadata",
  desc: "Shows or modifies the XML metadata of a domain.",
  opts: [
    domainOpt(),
    { name: "uri", type: "data", required: true, help: "URI of the namespace" },
    { name: "live", type: "bool", help: "modify/get running state" },
    { name: "config", type: "bool", help: "modify/get persistent configuration" },
    { name: "current", type: "bool", help: "modify/get current state configuration" },
    { name: "edit", type: "bool", help: "use an editor to change the metadata" },
    { name: "key", type: "string", help: "key to be used as a namespace identifier" },
    { name: "set", type: "string", help: "new metadata to set" },
    { name: "remove", type: "bool", help: "remove the metadata corresponding to an uri" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "current", "live")) return false;
    if (!ctx.exclusive(cmd, "current", "config")) return false;
    if (!ctx.exclusive(cmd, "edit", "set")) return false;
    if (!ctx.exclusive(cmd, "remove", "set")) return false;
    if (!ctx.exclusive(cmd, "remove", "edit")) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const uri = cmd.raw("uri") ?? "";
    const key = cmd.raw("key");
    const setText = cmd.raw("set");
    const config = cmd.bool("config");
    let flags = 0;
    if (config) flags |= AFFECT_CONFIG;
    if (cmd.bool("live")) flags |= AFFECT_LIVE;
    const edit = cmd.bool("edit");
    if ((setText !== undefined || edit) && key === undefined)
      return ctx.fail("namespace key is required when modifying metadata");
    const apply = async (text: string | null, done: string): Promise<boolean> => {
      try {
        await domainSetMetadata(dom, METADATA_ELEMENT, text, key ?? null, uri, flags);
      } catch (e) {
        return ctx.fail(undefined, e);
      }
      ctx.print(`${done}\n`);
      ctx.emit({ domain: domJson(dom), uri, key: key ?? null, metadata: text, updated: true });
      return true;
    };
    if (setText !== undefined) return apply(setText, "Metadata modified");
    if (cmd.bool("remove")) return apply(null, "Metadata removed");
    if (edit) {
      const current = await domainGetMetadata(dom, METADATA_ELEMENT, uri, flags).catch(() => "");
      const edited = await editTextOnce(ctx, current, process.env);
      if (edited === undefined) return false;
      if (edited === current) {
        ctx.print("Metadata not changed\n");
        ctx.emit({ domain: domJson(dom), uri, key: key ?? null, metadata: current, updated: false });
        return true;
      }
      return apply(edited, "Metadata modified");
    }
    let data: string;
    try {
      data = await domainGetMetadata(dom, METADATA_ELEMENT, uri, flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(`${data}\n`);
    ctx.emit({ domain: domJson(dom), uri, metadata: data });
    return true;
  },
};

const TIME_SYNC = 1; // VIR_DOMAIN_TIME_SYNC

const domtime: Cmd = {
  name: "domtime",
  group: "monitor", // virsh lists it under Domain Monitoring
  help: "domain time",
  desc: "Gets or sets the domain's system time",
  opts: [
    domainOpt(),
    { name: "now", type: "bool", help: "set to the time of the host running virsh" },
    { name: "pretty", type: "bool", help: "print domain's time in human readable form" },
    { name: "sync", type: "bool", help: "instead of setting given time, synchronize from domain's RTC" },
    { name: "time", type: "int", help: "time to set" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "time", "now")) return false;
    if (!ctx.exclusive(cmd, "time", "sync")) return false;
    if (!ctx.exclusive(cmd, "now", "sync")) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    // vshCommandOptLongLong: a signed 64-bit count of seconds
    const raw = cmd.raw("time");
    let seconds: bigint | undefined;
    if (raw !== undefined) {
      const n = /^\s*[+-]?\d+$/.test(raw) ? BigInt(raw.trim()) : undefined;
      if (n === undefined || n < -(2n ** 63n) || n >= 2n ** 63n) {
        return ctx.fail(`Numeric value '${raw}' for <time> option is malformed or out of range`);
      }
      seconds = n;
    }
    const now = cmd.bool("now");
    const sync = cmd.bool("sync");
    try {
      if (seconds !== undefined || now || sync) {
        if (now) seconds = BigInt(Math.floor(Date.now() / 1000));
        await domainSetTime(dom, seconds ?? 0n, 0, sync ? TIME_SYNC : 0);
        ctx.emit({ domain: domJson(dom), set: true, sync, seconds: sync ? null : Number(seconds ?? 0n) });
        return true;
      }
      const t = await domainGetTime(dom);
      if (cmd.bool("pretty")) {
        // virsh formats the guest's time as UTC
        const iso = new Date(Number(t.seconds) * 1000).toISOString();
        ctx.print(`Time: ${iso.slice(0, 10)} ${iso.slice(11, 19)}`);
      } else {
        ctx.print(`Time: ${t.seconds}`);
      }
      ctx.emit({ domain: domJson(dom), set: false, seconds: Number(t.seconds), nseconds: t.nseconds });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

const injectNmi: Cmd = {
  name: "inject-nmi",
  group: "domain",
  help: "Inject NMI to the guest",
  desc: "Inject NMI to the guest domain.",
  opts: [domainOpt()],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      await domainInjectNMI(dom);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ domain: domJson(dom), injected: true });
    return true;
  },
};

// virDomainInterfaceAddressesSource
const ADDR_SOURCES: Record<string, number> = { lease: 0, agent: 1, arp: 2 };

/** One row of domifaddr's table: " %-10s %-17s    %-12s %s". */
const ifRow = (name: string, mac: string, proto: string, addr: string): string =>
  ` ${name.padEnd(10)} ${mac.padEnd(17)}    ${proto.padEnd(12)} ${addr}\n`;

const domifaddr: Cmd = {
  name: "domifaddr",
  group: "monitor", // virsh lists it under Domain Monitoring
  help: "Get network interfaces' addresses for a running domain",
  desc: "Get network interfaces' addresses for a running domain",
  opts: [
    domainOpt(),
    { name: "interface", type: "string", help: "network interface name" },
    { name: "full", type: "bool", help: "always display names and MACs of interfaces" },
    { name: "source", type: "string", help: "address source: 'lease', 'agent', or 'arp'" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const ifname = ctx.optString(cmd, "interface");
    if (ifname === null) return false;
    const src = ctx.optString(cmd, "source");
    if (src === null) return false;
    let source = ADDR_SOURCES.lease!;
    if (src !== undefined) {
      const n = ADDR_SOURCES[src];
      if (n === undefined) return ctx.fail(`Unknown data source '${src}'`);
      source = n;
    }
    const full = cmd.bool("full");
    let ifaces;
    try {
      ifaces = await domainInterfaceAddresses(dom, source);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    let out = ifRow("Name", "MAC address", "Protocol", "Address") + "-".repeat(79) + "\n";
    const shown = ifaces.filter((i) => ifname === undefined || i.name === ifname);
    for (const i of shown) {
      const mac = i.hwaddr ?? "N/A";
      if (i.addrs.length === 0) {
        out += ifRow(i.name, mac, "N/A", "N/A");
        continue;
      }
      i.addrs.forEach((a, k) => {
        const first = k === 0 || full;
        out += ifRow(
          first ? i.name : "-",
          first ? mac : "-",
          a.type === 1 ? "ipv6" : "ipv4",
          `${a.addr}/${a.prefix}`,
        );
      });
    }
    ctx.print(out);
    ctx.emit({
      domain: domJson(dom),
      interfaces: shown.map((i) => ({
        name: i.name,
        mac: i.hwaddr,
        addresses: i.addrs.map((a) => ({
          type: a.type === 1 ? "ipv6" : "ipv4",
          address: a.addr,
          prefix: a.prefix,
        })),
      })),
    });
    return true;
  },
};

export const fleetCommands: Cmd[] = [
  nodecpumap,
  nodecpustats,
  vcpuinfo,
  desc,
  metadata,
  domtime,
  injectNmi,
  domifaddr,
];
