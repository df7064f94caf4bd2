/**
 * Node device commands (virsh's "Node Device" group, `tools/virsh-nodedev.c` 9.0): nodedev-list
 * (flat, `--cap` filter, `--tree` as `vshTreePrint` draws it), nodedev-dumpxml, nodedev-detach,
 * nodedev-reattach, nodedev-reset. With `--json`: `{devices: [{name, parent}]}` (plus `tree`
 * with nested children for `--tree`), `{xml}`, `{device, detached|reattached|reset: true}`.
 */
import { nodeDevCapNames, type Connection, type NodeDevice } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";
import { dumpXPath } from "../xpath-output.ts";

type Cmd = CmdDef<Ctx>;

const LIST_INACTIVE = 1 << 30;
const LIST_ACTIVE = 2 ** 31;

/** vshStrcasecmp order (virshNodeDeviceSorter). */
function byName(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** libvirt's vshTreePrint for one root. */
export function treeLines(
  names: readonly string[],
  parents: readonly (string | null)[],
  root: number,
): string {
  let out = "";
  const walk = (devid: number, lastdev: number, isRoot: boolean, indent: string): void => {
    const dev = names[devid]!;
    out += `${indent}${isRoot ? "" : "+- "}${dev}\n`;
    let ind = indent;
    if (!isRoot) ind += devid === lastdev ? "  " : "| ";
    let nextlast = -1;
    for (let i = 0; i < names.length; i++) if (parents[i] === dev) nextlast = i;
    if (nextlast !== -1) out += `${ind}  |\n`;
    for (let i = 0; i < names.length; i++) if (parents[i] === dev) walk(i, nextlast, false, `${ind}  `);
    if (nextlast === -1 && devid === lastdev) out += `${ind}\n`;
  };
  walk(root, root, true, "");
  return out;
}

interface TreeNode {
  name: string;
  children: TreeNode[];
}

const nodedevList: Cmd = {
  name: "nodedev-list",
  group: "nodedev",
  help: "enumerate devices on this host",
  desc: "",
  opts: [
    { name: "tree", type: "bool", help: "list devices in a tree" },
    { name: "cap", type: "string", help: "capability names, separated by comma" },
    { name: "inactive", type: "bool", help: "list inactive devices" },
    { name: "all", type: "bool", help: "list inactive & active devices" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "all", "inactive")) return false;
    const tree = cmd.bool("tree");
    const capStr = ctx.optString(cmd, "cap");
    if (capStr === null) return false;
    let flags = 0;
    if (capStr !== undefined) {
      if (tree) return ctx.fail("Options --tree and --cap are incompatible");
      for (const c of capStr.split(",").filter((x) => x !== "")) {
        const i = (nodeDevCapNames as readonly string[]).indexOf(c);
        if (i < 0) return ctx.fail("Invalid capability type");
        flags |= 2 ** i;
      }
    }
    if (cmd.bool("inactive")) flags |= LIST_INACTIVE;
    else if (cmd.bool("all")) flags |= LIST_INACTIVE | LIST_ACTIVE;
    else flags |= LIST_ACTIVE;
    let devs: NodeDevice[];
    const conn: Connection = ctx.connection();
    try {
      devs = await conn.listAllNodeDevices(flags >>> 0);
    } catch (e) {
      return ctx.fail("Failed to list node devices", e);
    }
    devs.sort((a, b) => byName(a.name, b.name));
    const names = devs.map((d) => d.name);
    if (!tree) {
      ctx.print(names.map((n) => `${n}\n`).join(""));
      ctx.emit({ devices: names.map((name) => ({ name })) });
      return true;
    }
    const parents: (string | null)[] = [];
    try {
      for (const d of devs) parents.push(d.name === "computer" ? null : await d.getParent());
    } catch (e) {
      return ctx.fail("Failed to list node devices", e);
    }
    let text = "";
    for (let i = 0; i < names.length; i++) if (parents[i] === null) text += treeLines(names, parents, i);
    ctx.print(text);
    const build = (i: number): TreeNode => ({
      name: names[i]!,
      children: names.flatMap((_, j) => (parents[j] === names[i] ? [build(j)] : [])),
    });
    ctx.emit({
      devices: names.map((name, i) => ({ name, parent: parents[i] ?? null })),
      tree: names.flatMap((_, i) => (parents[i] === null ? [build(i)] : [])),
    });
    return true;
  },
};

async function findDevice(ctx: Ctx, name: string): Promise<NodeDevice | undefined> {
  try {
    return await ctx.connection().lookupNodeDeviceByName(name);
  } catch (e) {
    ctx.fail(`Could not find matching device '${name}'`, e);
    return undefined;
  }
}

const deviceOpt = (help: string) => ({ name: "device", type: "data" as const, required: true, help });

const nodedevDumpxml: Cmd = {
  name: "nodedev-dumpxml",
  group: "nodedev",
  help: "node device details in XML",
  desc: "Output the node device details as an XML dump to stdout.",
  opts: [
    deviceOpt("device name or wwn pair in 'wwnn,wwpn' format"),
    { name: "inactive", type: "bool", help: "show inactive defined XML" },
    { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
    { name: "wrap", type: "bool", help: "wrap xpath results in an common root element" },
  ],
  async run(ctx, cmd) {
    const name = ctx.optString(cmd, "device");
    const xpath = ctx.optString(cmd, "xpath");
    if (name === null || name === undefined || xpath === null) return false;
    const dev = await findDevice(ctx, name);
    if (!dev) return false;
    let xml: string;
    try {
      xml = await dev.getXMLDesc(cmd.bool("inactive") ? 1 : 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

function deviceAction(
  name: string,
  help: string,
  desc: string,
  done: string,
  failed: string,
  key: string,
  act: (dev: NodeDevice, driver: string | undefined) => Promise<void>,
  extra: CmdDef<Ctx>["opts"] = [],
): Cmd {
  return {
    name,
    group: "nodedev",
    help,
    desc,
    opts: [deviceOpt("device key"), ...extra],
    async run(ctx, cmd) {
      const devName = ctx.optString(cmd, "device");
      if (devName === null || devName === undefined) return false;
      const driver = extra.length > 0 ? ctx.optString(cmd, "driver") : undefined;
      if (driver === null) return false;
      const dev = await findDevice(ctx, devName);
      if (!dev) return false;
      try {
        await act(dev, driver);
      } catch (e) {
        return ctx.fail(`${failed} ${devName}`, e);
      }
      ctx.printExtra(`Device ${devName} ${done}\n`);
      ctx.emit({ device: devName, [key]: true });
      return true;
    },
  };
}

const nodedevDetach = deviceAction(
  "nodedev-detach",
  "detach node device from its device driver",
  "Detach node device from its device driver before assigning to a domain.",
  "detached",
  "Failed to detach device",
  "detached",
  (dev, driver) => (driver !== undefined ? dev.detachFlags(driver, 0) : dev.dettach()),
  [{ name: "driver", type: "string", help: "pci device assignment backend driver (e.g. 'vfio' or 'xen')" }],
);

const nodedevReattach = deviceAction(
  "nodedev-reattach",
  "reattach node device to its device driver",
  "Reattach node device to its device driver once released by the domain.",
  "re-attached",
  "Failed to re-attach device",
  "reattached",
  (dev) => dev.reAttach(),
);

const nodedevReset = deviceAction(
  "nodedev-reset",
  "reset node device",
  "Reset node device before or after assigning to a domain.",
  "reset",
  "Failed to reset device",
  "reset",
  (dev) => dev.reset(),
);

export const nodedevCommands: Cmd[] = [
  nodedevDetach,
  nodedevDumpxml,
  nodedevList,
  nodedevReattach,
  nodedevReset,
];
