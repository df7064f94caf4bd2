/**
 * Network commands (virsh's "Networking" group, `tools/virsh-network.c` 9.0): net-list,
 * net-info, net-define, net-create, net-undefine, net-start, net-destroy, net-autostart,
 * net-dumpxml, net-dhcp-leases, net-uuid, net-name. Texts and tables are virsh's.
 * With `--json`: `{networks: [{name, uuid, active, persistent, autostart}]}` (net-list, whatever
 * the presentation options), `{name, uuid, active, persistent, autostart, bridge}` (net-info),
 * `{action, network: {name, uuid}[, file]}` for the changes, `{xml}`, `{leases: [...]}`,
 * `{uuid}`, `{name}`.
 */
import {
  ConnectListNetworksFlags as L,
  IPAddrType,
  NetworkXMLFlags,
  type Network,
  type NetworkDHCPLease,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { formatTable } from "../table.ts";
import { dumpXPath } from "../xpath-output.ts";

type Cmd = CmdDef<Ctx>;

const networkOpt = (help = "network name or uuid"): OptDef => ({
  name: "network",
  type: "data",
  required: true,
  help,
});
const fileOpt: OptDef = {
  name: "file",
  type: "data",
  required: true,
  help: "file containing an XML network description",
  complete: "file",
};
const validateOpt: OptDef = { name: "validate", type: "bool", help: "validate the XML against the schema" };

const BYUUID = 1;
const BYNAME = 2;

/** virshCommandOptNetworkBy: by UUID (36 characters) then by name; "failed to get network 'x'". */
async function findNetwork(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  by = BYUUID | BYNAME,
): Promise<Network | undefined> {
  const name = ctx.optString(cmd, "network");
  if (name === null) return undefined;
  if (name === undefined) {
    ctx.fail(`command '${cmd.def.name}' requires <network> option`);
    return undefined;
  }
  const conn = ctx.connection();
  let net: Network | undefined;
  let err: unknown;
  if (by & BYUUID && name.length === 36) {
    net = await conn.networkLookupByUUID(name).catch((e: unknown) => {
      err = e;
      return undefined;
    });
  }
  if (!net && by & BYNAME) {
    net = await conn.networkLookupByName(name).catch((e: unknown) => {
      err = e;
      return undefined;
    });
  }
  if (!net) ctx.fail(`failed to get network '${name}'`, err);
  return net;
}

function netJson(n: Network): { name: string; uuid: string } {
  return { name: n.name, uuid: n.uuid };
}

/** vshStrcasecmp order. */
function byName(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const yesNo = (b: boolean): string => (b ? "yes" : "no");

const netList: Cmd = {
  name: "net-list",
  group: "network",
  help: "list networks",
  desc: "Returns list of networks.",
  opts: [
    { name: "inactive", type: "bool", help: "list inactive networks" },
    { name: "all", type: "bool", help: "list inactive & active networks" },
    { name: "persistent", type: "bool", help: "list persistent networks" },
    { name: "transient", type: "bool", help: "list transient networks" },
    { name: "autostart", type: "bool", help: "list networks with autostart enabled" },
    { name: "no-autostart", type: "bool", help: "list networks with autostart disabled" },
    { name: "uuid", type: "bool", help: "list uuid's only" },
    { name: "name", type: "bool", help: "list network names only" },
    { name: "table", type: "bool", help: "list table (default)" },
  ],
  async run(ctx, cmd) {
    const optName = cmd.bool("name");
    const optUUID = cmd.bool("uuid");
    let optTable = cmd.bool("table");
    if (Number(optTable) + Number(optName) + Number(optUUID) > 1) {
      return ctx.fail("Only one argument from --table, --name and --uuid may be specified.");
    }
    if (!optUUID && !optName) optTable = true;
    let flags = 0;
    if (cmd.bool("all")) flags |= L.ACTIVE | L.INACTIVE;
    else if (cmd.bool("inactive")) flags |= L.INACTIVE;
    else flags |= L.ACTIVE;
    if (cmd.bool("persistent")) flags |= L.PERSISTENT;
    if (cmd.bool("transient")) flags |= L.TRANSIENT;
    if (cmd.bool("autostart")) flags |= L.AUTOSTART;
    if (cmd.bool("no-autostart")) flags |= L.NO_AUTOSTART;
    let rows: {
      name: string;
      uuid: string;
      active: boolean;
      persistent: boolean;
      autostart: boolean | null;
    }[];
    try {
      const nets = await ctx.connection().listAllNetworks(flags);
      nets.sort((a, b) => byName(a.name, b.name));
      rows = [];
      for (const n of nets) {
        rows.push({
          ...netJson(n),
          active: await n.isActive(),
          persistent: await n.isPersistent(),
          autostart: await n.getAutostart().catch(() => null),
        });
      }
    } catch (e) {
      return ctx.fail("Failed to list networks", e);
    }
    if (optTable) {
      ctx.print(
        formatTable(
          ["Name", "State", "Autostart", "Persistent"],
          rows.map((r) => [
            r.name,
            r.active ? "active" : "inactive",
            r.autostart === null ? "no autostart" : yesNo(r.autostart),
            yesNo(r.persistent),
          ]),
          ctx.opts.quiet,
        ),
      );
    } else {
      ctx.print(rows.map((r) => `${optUUID ? r.uuid : r.name}\n`).join(""));
    }
    ctx.emit({ networks: rows });
    return true;
  },
};

const netInfo: Cmd = {
  name: "net-info",
  group: "network",
  help: "network information",
  desc: "Returns basic information about the network",
  opts: [networkOpt()],
  async run(ctx, cmd) {
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    let active: boolean, persistent: boolean, autostart: boolean | null, bridge: string | null;
    try {
      active = await net.isActive();
      persistent = await net.isPersistent();
      autostart = await net.getAutostart().catch(() => null);
      bridge = await net.getBridgeName().catch(() => null);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const line = (k: string, v: string): string => `${k.padEnd(15)} ${v}\n`;
    let s = line("Name:", net.name) + line("UUID:", net.uuid);
    s += line("Active:", yesNo(active)) + line("Persistent:", yesNo(persistent));
    s += line("Autostart:", autostart === null ? "no autostart" : yesNo(autostart));
    if (bridge !== null) s += line("Bridge:", bridge);
    ctx.print(s);
    ctx.emit({ ...netJson(net), active, persistent, autostart, bridge });
    return true;
  },
};

function defineLike(kind: "define" | "create"): Cmd {
  const define = kind === "define";
  return {
    name: `net-${kind}`,
    group: "network",
    help: define
      ? "define an inactive persistent virtual network or modify an existing persistent one from an XML file"
      : "create a network from an XML file",
    desc: define ? "Define or modify a persistent virtual network." : "Create a network.",
    opts: [fileOpt, validateOpt],
    async run(ctx, cmd) {
      const from = ctx.optString(cmd, "file");
      if (!from) return false;
      const xml = await ctx.readFile(from);
      if (xml === undefined) return false;
      let net: Network;
      try {
        const conn = ctx.connection();
        // virsh calls the Flags form only with --validate.
        if (cmd.bool("validate")) {
          net = define ? await conn.networkDefineXMLFlags(xml, 1) : await conn.networkCreateXMLFlags(xml, 1);
        } else {
          net = define ? await conn.networkDefineXML(xml) : await conn.networkCreateXML(xml);
        }
      } catch (e) {
        return ctx.fail(`Failed to ${kind} network from ${from}`, e);
      }
      ctx.printExtra(`Network ${net.name} ${define ? "defined" : "created"} from ${from}\n`);
      ctx.emit({ action: define ? "defined" : "created", network: netJson(net), file: from });
      return true;
    },
  };
}

function simpleAction(
  name: string,
  help: string,
  desc: string,
  verb: string,
  done: string,
  act: (n: Network) => Promise<void>,
): Cmd {
  return {
    name,
    group: "network",
    help,
    desc,
    opts: [networkOpt()],
    async run(ctx, cmd) {
      const net = await findNetwork(ctx, cmd);
      if (!net) return false;
      try {
        await act(net);
      } catch (e) {
        return ctx.fail(`Failed to ${verb} network ${net.name}`, e);
      }
      ctx.printExtra(`Network ${net.name} ${done}\n`);
      ctx.emit({ action: done.replace(/^has been /, ""), network: netJson(net) });
      return true;
    },
  };
}

const netAutostart: Cmd = {
  name: "net-autostart",
  group: "network",
  help: "autostart a network",
  desc: "Configure a network to be automatically started at boot.",
  opts: [networkOpt(), { name: "disable", type: "bool", help: "disable autostarting" }],
  async run(ctx, cmd) {
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    const on = !cmd.bool("disable");
    try {
      await net.setAutostart(on);
    } catch (e) {
      return ctx.fail(`failed to ${on ? "mark" : "unmark"} network ${net.name} as autostarted`, e);
    }
    ctx.printExtra(`Network ${net.name} ${on ? "marked" : "unmarked"} as autostarted\n`);
    ctx.emit({ action: on ? "autostart-enabled" : "autostart-disabled", network: netJson(net) });
    return true;
  },
};

const netDumpxml: Cmd = {
  name: "net-dumpxml",
  group: "network",
  help: "network information in XML",
  desc: "Output the network information as an XML dump to stdout.",
  opts: [
    networkOpt(),
    { name: "inactive", type: "bool", help: "show inactive defined XML" },
    { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
    { name: "wrap", type: "bool", help: "wrap xpath results in an common root element" },
  ],
  async run(ctx, cmd) {
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    let xml: string;
    try {
      xml = await net.getXMLDesc(cmd.bool("inactive") ? NetworkXMLFlags.INACTIVE : 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

/** strftime("%Y-%m-%d %H:%M:%S", localtime(t)) */
function localTime(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number): string => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

const netDhcpLeases: Cmd = {
  name: "net-dhcp-leases",
  group: "network",
  help: "print lease info for a given network",
  desc: "Print lease info for a given network",
  opts: [networkOpt(), { name: "mac", type: "string", help: "MAC address" }],
  async run(ctx, cmd) {
    const mac = ctx.optString(cmd, "mac");
    if (mac === null) return false;
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    let leases: NetworkDHCPLease[];
    try {
      leases = await net.getDHCPLeases(mac ?? null, 0);
    } catch (e) {
      return ctx.fail(`Failed to get leases info for ${net.name}`, e);
    }
    leases.sort((a, b) => byName(a.mac ?? "", b.mac ?? ""));
    const dash = (s: string | null): string => s ?? "-";
    const rows = leases.map((l) => [
      localTime(l.expirytime),
      dash(l.mac),
      l.type === IPAddrType.IPV4 ? "ipv4" : l.type === IPAddrType.IPV6 ? "ipv6" : "",
      `${l.ipaddr}/${l.prefix}`,
      dash(l.hostname),
      dash(l.clientid),
    ]);
    ctx.print(
      formatTable(
        ["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID"],
        rows,
        ctx.opts.quiet,
      ),
    );
    ctx.emit({ network: netJson(net), leases });
    return true;
  },
};

const netUuid: Cmd = {
  name: "net-uuid",
  group: "network",
  help: "convert a network name to network UUID",
  desc: "",
  opts: [networkOpt("network name")],
  async run(ctx, cmd) {
    const net = await findNetwork(ctx, cmd, BYNAME);
    if (!net) return false;
    ctx.print(`${net.uuid}\n`);
    ctx.emit({ uuid: net.uuid, name: net.name });
    return true;
  },
};

const netName: Cmd = {
  name: "net-name",
  group: "network",
  help: "convert a network UUID to network name",
  desc: "",
  opts: [networkOpt("network uuid")],
  async run(ctx, cmd) {
    const net = await findNetwork(ctx, cmd, BYUUID);
    if (!net) return false;
    ctx.print(`${net.name}\n`);
    ctx.emit({ name: net.name, uuid: net.uuid });
    return true;
  },
};

export const networkCommands: Cmd[] = [
  netAutostart,
  defineLike("create"),
  defineLike("define"),
  simpleAction(
    "net-destroy",
    "destroy (stop) a network",
    "Forcefully stop a given network.",
    "destroy",
    "destroyed",
    (n) => n.destroy(),
  ),
  netDhcpLeases,
  netDumpxml,
  netInfo,
  netList,
  netName,
  simpleAction(
    "net-start",
    "start a (previously defined) inactive network",
    "Start a network.",
    "start",
    "started",
    (n) => n.create(),
  ),
  simpleAction(
    "net-undefine",
    "undefine a persistent network",
    "Undefine the configuration for a persistent network.",
    "undefine",
    "has been undefined",
    (n) => n.undefine(),
  ),
  netUuid,
];
