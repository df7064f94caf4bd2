/**
 * Network commands (virsh's "Networking" group, `tools/virsh-network.c` 9.0): net-list,
 * net-info, net-define, net-create, net-undefine, net-start, net-destroy, net-autostart,
 * net-dumpxml, net-dhcp-leases, net-uuid, net-name, net-edit, net-update, net-event. Texts and
 * tables are virsh's.
 * With `--json`: `{networks: [{name, uuid, active, persistent, autostart}]}` (net-list, whatever
 * the presentation options), `{name, uuid, active, persistent, autostart, bridge}` (net-info),
 * `{action, network: {name, uuid}[, file]}` for the changes, `{xml}`, `{leases: [...]}`,
 * `{uuid}`, `{name}`; net-edit `{action: "edited"|"unchanged", network}`, net-update
 * `{action: "updated", network, command, section, live, config}`, net-event
 * `{events: [...], count, ended}`.
 */
import {
  ConnectListNetworksFlags as L,
  IPAddrType,
  NETWORK_UPDATE_COMMAND_NAMES,
  NETWORK_UPDATE_SECTION_NAMES,
  NetworkEventId,
  NetworkPortCreateFlags,
  NetworkUpdateCommand,
  NetworkUpdateFlags,
  NetworkXMLFlags,
  VirErrorNumber,
  toVirtError,
  type Network,
  type NetworkPort,
  type NetworkDHCPLease,
  type NetworkLifecycleEvent,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import { runEditFlow } from "../edit-flow.ts";
import { EventWait, chosenEventType, eventTimeout, eventTimestamp, eventWaitOpts } from "./event-loop.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { formatTable } from "../table.ts";
import { dumpXPath } from "../xpath-output.ts";

type Cmd = CmdDef<Ctx>;

const networkOpt = (help = "network name or uuid"): OptDef => ({
  name: "network",
  type: "data",
  required: true,
  help,
  complete: "network",
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
  reportCause = true,
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
  if (!net) ctx.fail(`failed to get network '${name}'`, reportCause || ctx.json ? err : undefined);
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

/** virshNetworkGetXMLDesc: the inactive XML, or the live one where the driver has no such flag. */
async function editableXML(net: Network): Promise<string> {
  try {
    return await net.getXMLDesc(NetworkXMLFlags.INACTIVE);
  } catch (e) {
    if (toVirtError(e).virCode !== VirErrorNumber.INVALID_ARG) throw e;
    return net.getXMLDesc(0);
  }
}

const netEdit: Cmd = {
  name: "net-edit",
  group: "network",
  help: "edit XML configuration for a network",
  desc: "Edit the XML configuration for a network.",
  opts: [networkOpt()],
  async run(ctx, cmd) {
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    let edited: Network | undefined;
    const outcome = await runEditFlow(
      ctx,
      {
        object: "network",
        name: net.name,
        getXML: () => editableXML(net),
        // virsh defines networks without schema validation and offers no "i".
        validate: false,
        canRelax: false,
        async define(xml) {
          edited = await ctx.connection().networkDefineXML(xml);
        },
        notChangedMessage: `Network ${net.name} XML configuration not changed.\n`,
      },
      process.env,
    );
    if (outcome.result === "failed") return false;
    if (outcome.result === "unchanged" || !edited) {
      ctx.emit({ action: "unchanged", network: netJson(net) });
      return true;
    }
    ctx.printExtra(`Network ${edited.name} XML configuration edited.\n`);
    ctx.emit({ action: "edited", network: netJson(edited) });
    return true;
  },
};

const netUpdate: Cmd = {
  name: "net-update",
  group: "network",
  help: "update parts of an existing network's configuration",
  desc: "",
  opts: [
    networkOpt(),
    {
      name: "command",
      type: "data",
      required: true,
      help: "type of update (add-first, add-last (add), delete, or modify)",
    },
    {
      name: "section",
      type: "data",
      required: true,
      help: "which section of network configuration to update",
    },
    {
      name: "xml",
      type: "data",
      required: true,
      help: "name of file containing xml (or, if it starts with '<', the complete xml element itself) to add/modify, or to be matched for search",
    },
    { name: "parent-index", type: "int", help: "which parent object to search through" },
    { name: "config", type: "bool", help: "affect next network startup" },
    { name: "live", type: "bool", help: "affect running network" },
    { name: "current", type: "bool", help: "affect current state of network" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "current", "live") || !ctx.exclusive(cmd, "current", "config")) return false;
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    const commandName = ctx.optString(cmd, "command");
    if (!commandName) return false;
    const command =
      commandName === "add"
        ? NetworkUpdateCommand.ADD_LAST
        : (NETWORK_UPDATE_COMMAND_NAMES as readonly string[]).indexOf(commandName);
    if (command <= 0) return ctx.fail(`unrecognized command name '${commandName}'`);
    const sectionName = ctx.optString(cmd, "section");
    if (!sectionName) return false;
    const section = (NETWORK_UPDATE_SECTION_NAMES as readonly string[]).indexOf(sectionName);
    if (section <= 0) return ctx.fail(`unrecognized section name '${sectionName}'`);
    const parentIndex = ctx.optInt(cmd, "parent-index");
    if (parentIndex === null) return false;
    const given = ctx.optString(cmd, "xml");
    if (!given) return false;
    // "<…" is the element itself; anything else names a file holding it.
    const xml = given.startsWith("<") ? given : await ctx.readFile(given);
    if (xml === undefined) return false;
    const config = cmd.bool("config");
    const live = cmd.bool("live");
    let flags = NetworkUpdateFlags.AFFECT_CURRENT;
    if (config) flags |= NetworkUpdateFlags.AFFECT_CONFIG;
    if (live) flags |= NetworkUpdateFlags.AFFECT_LIVE;
    try {
      await net.update(command, section, parentIndex ?? -1, xml, flags);
    } catch (e) {
      return ctx.fail(`Failed to update network ${net.name}`, e);
    }
    let affected: { live: boolean; config: boolean };
    if (config || live) affected = { live, config };
    else {
      // virsh asks after the fact which one "current" was.
      const active = await net.isActive().catch(() => false);
      affected = { live: active, config: !active };
    }
    const what = affected.config
      ? affected.live
        ? "persistent config and live state"
        : "persistent config"
      : "live state";
    // virsh ends the line with the newline it prints after every command.
    ctx.printExtra(`Updated network ${net.name} ${what}`);
    ctx.emit({
      action: "updated",
      network: netJson(net),
      command: NETWORK_UPDATE_COMMAND_NAMES[command],
      section: sectionName,
      ...affected,
    });
    return true;
  },
};

/** virshNetworkEventToString */
const NET_EVENT_WORDS = ["Defined", "Undefined", "Started", "Stopped"] as const;
const netEventWord = (event: number): string => NET_EVENT_WORDS[event] ?? "unknown";

const netEvent: Cmd = {
  name: "net-event",
  group: "network",
  help: "Network Events",
  desc: "List event types, or wait for network events to occur",
  opts: [
    { name: "network", type: "string", help: "filter by network name or uuid", complete: "network" },
    { name: "event", type: "string", help: "which event type to wait for" },
    ...eventWaitOpts,
  ],
  async run(ctx, cmd) {
    const names = ["lifecycle"];
    const chosen = chosenEventType(ctx, cmd, names);
    if (chosen === "listed") return true;
    if (chosen === null) return false;
    const eventName = chosen.name;
    const loop = cmd.bool("loop");
    const stamp = cmd.bool("timestamp");
    const timeoutS = eventTimeout(ctx, cmd);
    if (timeoutS === null) return false;
    // As virsh: a network that is not found is reported, and the wait covers every network.
    const net = cmd.has("network") ? ((await findNetwork(ctx, cmd)) ?? null) : null;
    const conn = ctx.connection();
    const w = new EventWait(loop);
    let reg: number | undefined;
    try {
      try {
        reg = await conn.networkEventRegisterAny(
          net,
          NetworkEventId.LIFECYCLE,
          (n: Network, ev: NetworkLifecycleEvent) => {
            if (!w.accepts()) return;
            const ts = stamp ? eventTimestamp() : undefined;
            ctx.print(
              `${ts ? `${ts}: ` : ""}event '${eventName}' for network ${n.name}: ${netEventWord(ev.event)}\n`,
            );
            w.record({
              event: eventName,
              network: netJson(n),
              lifecycle: { event: netEventWord(ev.event).toLowerCase(), eventCode: ev.event },
              ...(ts ? { timestamp: ts } : {}),
            });
          },
        );
      } catch (e) {
        return ctx.fail(undefined, e);
      }
      await w.wait(ctx, timeoutS);
    } finally {
      if (reg !== undefined) await conn.networkEventDeregisterAny(reg).catch(() => undefined);
    }
    return w.count > 0;
  },
};

const portOpt: OptDef = { name: "port", type: "data", required: true, help: "port UUID" };

/** virshCommandOptNetworkPort: by UUID; "failed to get network port 'x'" (virsh shows no more). */
async function findPort(ctx: Ctx, cmd: ParsedCmd<Ctx>, net: Network): Promise<NetworkPort | undefined> {
  const uuid = ctx.optString(cmd, "port");
  if (!uuid) return undefined;
  try {
    return await net.portLookupByUUID(uuid);
  } catch (e) {
    // virsh 9.0 reports no more than this line here (and exits 0: tvirsh exits 1).
    ctx.fail(`failed to get network port '${uuid}'`, ctx.json ? e : undefined);
    return undefined;
  }
}

const portJson = (p: NetworkPort): { network: { name: string; uuid: string }; uuid: string } => ({
  network: netJson(p.network),
  uuid: p.uuid,
});

const netPortList: Cmd = {
  name: "net-port-list",
  group: "network",
  listAfter: 1,
  help: "list network ports",
  desc: "Returns list of network ports.",
  opts: [
    networkOpt(),
    { name: "uuid", type: "bool", help: "list uuid's only" },
    { name: "table", type: "bool", help: "list table (default)" },
  ],
  async run(ctx, cmd) {
    const optUUID = cmd.bool("uuid");
    if (cmd.bool("table") && optUUID) {
      return ctx.fail("Only one argument from --table and --uuid may be specified.");
    }
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    let ports: NetworkPort[];
    try {
      ports = await net.listAllPorts(0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ports.sort((a, b) => byName(a.uuid, b.uuid));
    if (optUUID) ctx.print(ports.map((p) => `${p.uuid}\n`).join(""));
    else
      ctx.print(
        formatTable(
          ["UUID"],
          ports.map((p) => [p.uuid]),
          ctx.opts.quiet,
        ),
      );
    ctx.emit({ network: netJson(net), ports: ports.map((p) => p.uuid) });
    return true;
  },
};

const netPortCreate: Cmd = {
  name: "net-port-create",
  group: "network",
  listAfter: 2,
  help: "create a network port from an XML file",
  desc: "Create a network port.",
  opts: [
    networkOpt(),
    {
      name: "file",
      type: "data",
      required: true,
      help: "file containing an XML network port description",
      complete: "file",
    },
    validateOpt,
  ],
  async run(ctx, cmd) {
    const net = await findNetwork(ctx, cmd);
    if (!net) return false;
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    let port: NetworkPort;
    try {
      port = await net.portCreateXML(xml, cmd.bool("validate") ? NetworkPortCreateFlags.VALIDATE : 0);
    } catch (e) {
      // virsh's wording ("network", not "network port").
      return ctx.fail(`Failed to create network from ${from}`, e);
    }
    ctx.printExtra(`Network port ${port.uuid} created from ${from}\n`);
    ctx.emit({ action: "created", port: portJson(port), file: from });
    return true;
  },
};

const netPortDumpxml: Cmd = {
  name: "net-port-dumpxml",
  group: "network",
  listAfter: 3,
  help: "network port information in XML",
  desc: "Output the network port information as an XML dump to stdout.",
  opts: [
    networkOpt(),
    portOpt,
    { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
    { name: "wrap", type: "bool", help: "wrap xpath results in an common root element" },
  ],
  async run(ctx, cmd) {
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    // As virsh 9.0: the lookup's own error is not shown for these two.
    const net = await findNetwork(ctx, cmd, BYUUID | BYNAME, false);
    if (!net) return false;
    const port = await findPort(ctx, cmd, net);
    if (!port) return false;
    let xml: string;
    try {
      xml = await port.getXMLDesc(0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

const netPortDelete: Cmd = {
  name: "net-port-delete",
  group: "network",
  listAfter: 4,
  help: "delete the specified network port",
  desc: "Delete the specified network port.",
  opts: [networkOpt(), portOpt],
  async run(ctx, cmd) {
    // As virsh 9.0: the lookup's own error is not shown for these two.
    const net = await findNetwork(ctx, cmd, BYUUID | BYNAME, false);
    if (!net) return false;
    const port = await findPort(ctx, cmd, net);
    if (!port) return false;
    try {
      await port.delete(0);
    } catch (e) {
      return ctx.fail(`Failed to delete network port ${port.uuid}`, e);
    }
    ctx.printExtra(`Network port ${port.uuid} deleted\n`);
    ctx.emit({ action: "deleted", port: portJson(port) });
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
  netEdit,
  netEvent,
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
  netUpdate,
  netUuid,
  // virsh lists the port commands after the others, in this order.
  netPortList,
  netPortCreate,
  netPortDumpxml,
  netPortDelete,
];
