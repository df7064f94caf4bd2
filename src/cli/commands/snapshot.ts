/**
 * Snapshot commands (virsh's "Snapshot" group, `tools/virsh-snapshot.c` 9.0): snapshot-create,
 * snapshot-create-as, snapshot-current, snapshot-delete, snapshot-dumpxml, snapshot-info,
 * snapshot-list, snapshot-parent, snapshot-revert. Texts, tables and the tree are virsh's.
 * With `--json`: `{action, domain, snapshot}` for changes, `{xml}`, `{snapshots: [{name,
 * creationTime, state, parent}]}` (snapshot-list), `{name, domain, current, state, location,
 * parent, children, descendants, metadata}` (snapshot-info), `{name}` (current --name, parent).
 */
import {
  DomainSnapshotCreateFlags as C,
  DomainSnapshotDeleteFlags as D,
  DomainSnapshotListFlags as L,
  DomainSnapshotRevertFlags as R,
  DomainXMLFlags,
  parseXmlTree,
  selectNodes,
  selectValue,
  type Domain,
  type DomainSnapshot,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { formatTable } from "../table.ts";
import { dumpXPath } from "../xpath-output.ts";
import { domainOpt } from "./domain.ts";

type Cmd = CmdDef<Ctx>;

/** The XML escaping virsh's virBufferEscapeString applies to attribute and text values. */
function escapeXml(v: string): string {
  return v
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;")
    .replace(/"/g, "&quot;");
}

const snapNameOpt = (help = "snapshot name"): OptDef => ({ name: "snapshotname", type: "string", help });
const bool = (name: string, help: string): OptDef => ({ name, type: "bool", help });

function domJson(dom: Domain): { name: string; uuid: string } {
  return { name: dom.name, uuid: dom.uuid };
}

/** virshLookupSnapshot: `--snapshotname`, or `--current` (or neither: current when allowed). */
async function lookupSnapshot(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  dom: Domain,
): Promise<DomainSnapshot | undefined> {
  const name = ctx.optString(cmd, "snapshotname");
  if (name === null) return undefined;
  if (!ctx.exclusive(cmd, "snapshotname", "current")) return undefined;
  try {
    if (name !== undefined) return await dom.snapshotLookupByName(name);
    // --current, or no name at all: the current snapshot (virshLookupSnapshot)
    if (!(await dom.hasCurrentSnapshot())) {
      ctx.fail(`domain '${dom.name}' has no current snapshot`);
      return undefined;
    }
    return await dom.snapshotCurrent();
  } catch (e) {
    ctx.fail(undefined, e);
    return undefined;
  }
}

// --- create ----------------------------------------------------------------------------------

const createFlagOpts: OptDef[] = [
  bool("no-metadata", "take snapshot but create no metadata"),
  bool("halt", "halt domain after snapshot is created"),
  bool("disk-only", "capture disk state but not vm state"),
  bool("reuse-external", "reuse any existing external files"),
  bool("quiesce", "quiesce guest's file systems"),
  bool("atomic", "require atomic operation"),
  bool("live", "take a live snapshot"),
  bool("validate", "validate the XML against the schema"),
];

function createFlags(cmd: ParsedCmd<Ctx>): number {
  let f = 0;
  if (cmd.bool("redefine")) f |= C.REDEFINE;
  if (cmd.bool("current")) f |= C.CURRENT;
  if (cmd.bool("no-metadata")) f |= C.NO_METADATA;
  if (cmd.bool("halt")) f |= C.HALT;
  if (cmd.bool("disk-only")) f |= C.DISK_ONLY;
  if (cmd.bool("reuse-external")) f |= C.REUSE_EXT;
  if (cmd.bool("quiesce")) f |= C.QUIESCE;
  if (cmd.bool("atomic")) f |= C.ATOMIC;
  if (cmd.bool("live")) f |= C.LIVE;
  if (cmd.bool("validate")) f |= C.VALIDATE;
  return f;
}

/** virshSnapshotCreate: create, then "Domain snapshot NAME created" (or "... from 'FILE'"). */
async function doCreate(
  ctx: Ctx,
  dom: Domain,
  xml: string,
  flags: number,
  from: string | undefined,
): Promise<boolean> {
  let snap: DomainSnapshot;
  try {
    snap = await dom.snapshotCreateXML(xml, flags);
  } catch (e) {
    return ctx.fail(undefined, e);
  }
  if (flags & C.NO_METADATA) ctx.print(`Domain snapshot ${snap.name} created`);
  else if (from !== undefined) ctx.print(`Domain snapshot ${snap.name} created from '${from}'`);
  else ctx.print(`Domain snapshot ${snap.name} created`);
  ctx.emit({ action: "created", domain: domJson(dom), snapshot: snap.name });
  return true;
}

const snapshotCreate: Cmd = {
  name: "snapshot-create",
  group: "snapshot",
  help: "Create a snapshot from XML",
  desc: "Create a snapshot (disk and RAM) from XML",
  opts: [
    domainOpt(),
    { name: "xmlfile", type: "string", help: "domain snapshot XML" },
    bool("redefine", "redefine metadata for existing snapshot"),
    bool("current", "with redefine, set current snapshot"),
    ...createFlagOpts,
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const from = ctx.optString(cmd, "xmlfile");
    if (from === null) return false;
    let xml = "<domainsnapshot/>";
    if (from !== undefined) {
      const text = await ctx.readFile(from);
      if (text === undefined) return false;
      xml = text;
    }
    return doCreate(ctx, dom, xml, createFlags(cmd), from);
  },
};

const snapshotCreateAs: Cmd = {
  name: "snapshot-create-as",
  group: "snapshot",
  help: "Create a snapshot from a set of args",
  desc: "Create a snapshot (disk and RAM) from arguments",
  opts: [
    domainOpt(),
    { name: "name", type: "string", help: "name of snapshot" },
    { name: "description", type: "string", help: "description of snapshot" },
    bool("print-xml", "print XML document rather than create"),
    ...createFlagOpts,
    { name: "memspec", type: "string", named: true, help: "memory attributes: [file=]name[,snapshot=type]" },
    {
      name: "diskspec",
      type: "argv",
      help: "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]",
    },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const name = ctx.optString(cmd, "name");
    const desc = ctx.optString(cmd, "description");
    if (name === null || desc === null) return false;
    let xml = "<domainsnapshot>\n";
    if (name !== undefined) xml += `  <name>${escapeXml(name)}</name>\n`;
    if (desc !== undefined) xml += `  <description>${escapeXml(desc)}</description>\n`;
    const mem = ctx.optString(cmd, "memspec");
    if (mem === null) return false;
    if (mem !== undefined) {
      const parts = mem.split(",");
      let file: string | undefined;
      let snap: string | undefined;
      for (const p of parts) {
        if (p.startsWith("snapshot=")) snap = p.slice(9);
        else if (p.startsWith("file=")) file = p.slice(5);
        else file = p;
      }
      xml += `  <memory${snap !== undefined ? ` snapshot='${escapeXml(snap)}'` : ""}${file !== undefined ? ` file='${escapeXml(file)}'` : ""}/>\n`;
    }
    const disks = cmd.argv;
    if (disks.length > 0) {
      xml += "  <disks>\n";
      for (const spec of disks) {
        const [disk, ...rest] = spec.split(",");
        const kv = new Map(rest.map((r) => [r.slice(0, r.indexOf("=")), r.slice(r.indexOf("=") + 1)]));
        const snapAttr = kv.has("snapshot") ? ` snapshot='${escapeXml(kv.get("snapshot") ?? "")}'` : "";
        const stype = kv.get("stype");
        const file = kv.get("file");
        const driver = kv.get("driver");
        if (file === undefined && driver === undefined) {
          xml += `    <disk name='${escapeXml(disk ?? "")}'${snapAttr}/>\n`;
        } else {
          xml += `    <disk name='${escapeXml(disk ?? "")}'${snapAttr}${stype ? ` type='${escapeXml(stype)}'` : ""}>\n`;
          if (driver !== undefined) xml += `      <driver type='${escapeXml(driver)}'/>\n`;
          if (file !== undefined) xml += `      <source file='${escapeXml(file)}'/>\n`;
          xml += "    </disk>\n";
        }
      }
      xml += "  </disks>\n";
    }
    xml += "</domainsnapshot>\n";
    if (cmd.bool("print-xml")) {
      ctx.print(xml + "\n");
      ctx.emit({ xml });
      return true;
    }
    return doCreate(ctx, dom, xml, createFlags(cmd), undefined);
  },
};

// --- current, parent, info, dumpxml ----------------------------------------------------------

const snapshotCurrent: Cmd = {
  name: "snapshot-current",
  group: "snapshot",
  help: "Get or set the current snapshot",
  desc: "Get or set the current snapshot",
  opts: [
    domainOpt(),
    bool("name", "list the name, rather than the full xml"),
    bool("security-info", "include security sensitive information in XML dump"),
    { name: "snapshotname", type: "string", help: "name of existing snapshot to make current" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const setName = ctx.optString(cmd, "snapshotname");
    if (setName === null) return false;
    try {
      if (setName !== undefined) {
        if (cmd.bool("name") || cmd.bool("security-info")) {
          return ctx.fail(
            `Options --snapshotname and --${cmd.bool("name") ? "name" : "security-info"} are mutually exclusive`,
          );
        }
        const snap = await dom.snapshotLookupByName(setName);
        const xml = await snap.getXMLDesc(DomainXMLFlags.SECURE);
        await dom.snapshotCreateXML(xml, C.REDEFINE | C.CURRENT);
        ctx.print(`Snapshot ${setName} set as current`);
        ctx.emit({ action: "set-current", domain: domJson(dom), snapshot: setName });
        return true;
      }
      if (!(await dom.hasCurrentSnapshot())) {
        return ctx.fail(`domain '${dom.name}' has no current snapshot`);
      }
      const snap = await dom.snapshotCurrent();
      if (cmd.bool("name")) {
        ctx.print(snap.name);
        ctx.emit({ name: snap.name });
        return true;
      }
      const xml = await snap.getXMLDesc(cmd.bool("security-info") ? DomainXMLFlags.SECURE : 0);
      ctx.print(xml);
      ctx.emit({ xml });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

/** virshGetSnapshotParent: the parent's name, or undefined for a root. */
async function parentName(snap: DomainSnapshot): Promise<string | undefined> {
  try {
    return (await snap.getParent()).name;
  } catch (e) {
    if ((e as { virCode?: number }).virCode === 72) return undefined;
    throw e;
  }
}

const snapshotParent: Cmd = {
  name: "snapshot-parent",
  group: "snapshot",
  help: "Get the name of the parent of a snapshot",
  desc: "Extract the snapshot's parent, if any",
  opts: [
    domainOpt(),
    snapNameOpt("find parent of snapshot name"),
    bool("current", "find parent of current snapshot"),
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const snap = await lookupSnapshot(ctx, cmd, dom);
    if (!snap) return false;
    try {
      const p = await parentName(snap);
      if (p === undefined) return ctx.fail(`snapshot '${snap.name}' has no parent`);
      ctx.print(p);
      ctx.emit({ name: p });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

const snapshotInfo: Cmd = {
  name: "snapshot-info",
  group: "snapshot",
  help: "snapshot information",
  desc: "Returns basic information about a snapshot.",
  opts: [domainOpt(), snapNameOpt(), bool("current", "info on current snapshot")],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const snap = await lookupSnapshot(ctx, cmd, dom);
    if (!snap) return false;
    try {
      const current = await snap.isCurrent();
      const doc = parseXmlTree(await snap.getXMLDesc());
      const state = selectValue(doc, "/domainsnapshot/state") ?? "";
      const external =
        selectNodes(doc, "/domainsnapshot/memory[@snapshot='external']").length +
        selectNodes(doc, "/domainsnapshot/disks/disk[@snapshot='external']").length;
      const location = state === "disk-snapshot" || external > 0 ? "external" : "internal";
      const parent = await parentName(snap);
      const children = await snap.numChildren();
      const descendants = await snap.numChildren(L.DESCENDANTS);
      const metadata = await snap.hasMetadata();
      let out = "";
      const row = (k: string, v: string): void => {
        out += `${(k + ":").padEnd(15)} ${v}\n`;
      };
      row("Name", snap.name);
      row("Domain", dom.name);
      row("Current", current ? "yes" : "no");
      row("State", state);
      row("Location", location);
      row("Parent", parent ?? "-");
      row("Children", String(children));
      row("Descendants", String(descendants));
      row("Metadata", metadata ? "yes" : "no");
      ctx.print(out);
      ctx.emit({
        name: snap.name,
        domain: domJson(dom),
        current,
        state,
        location,
        parent: parent ?? null,
        children,
        descendants,
        metadata,
      });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

const snapshotDumpxml: Cmd = {
  name: "snapshot-dumpxml",
  group: "snapshot",
  help: "Dump XML for a domain snapshot",
  desc: "Snapshot Dump XML",
  opts: [
    domainOpt(),
    { name: "snapshotname", type: "data", required: true, help: "snapshot name" },
    bool("security-info", "include security sensitive information in XML dump"),
    { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
    bool("wrap", "wrap xpath results in an common root element"),
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const name = ctx.optString(cmd, "snapshotname");
    if (!name) return false;
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    try {
      const snap = await dom.snapshotLookupByName(name);
      const xml = await snap.getXMLDesc(cmd.bool("security-info") ? DomainXMLFlags.SECURE : 0);
      return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

// --- revert, delete --------------------------------------------------------------------------

const snapshotRevert: Cmd = {
  name: "snapshot-revert",
  group: "snapshot",
  help: "Revert a domain to a snapshot",
  desc: "Revert domain to snapshot",
  opts: [
    domainOpt(),
    snapNameOpt(),
    bool("current", "revert to current snapshot"),
    bool("running", "after reverting, change state to running"),
    bool("paused", "after reverting, change state to paused"),
    bool("force", "try harder on risky reverts"),
    bool("reset-nvram", "re-initialize NVRAM from its pristine template"),
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let flags = 0;
    if (cmd.bool("running")) flags |= R.RUNNING;
    if (cmd.bool("paused")) flags |= R.PAUSED;
    if (cmd.bool("force")) flags |= R.FORCE;
    if (cmd.bool("reset-nvram")) flags |= R.RESET_NVRAM;
    const snap = await lookupSnapshot(ctx, cmd, dom);
    if (!snap) return false;
    try {
      await snap.revert(flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(`Domain snapshot ${snap.name} reverted\n`);
    ctx.emit({ action: "reverted", domain: domJson(dom), snapshot: snap.name });
    return true;
  },
};

const snapshotDelete: Cmd = {
  name: "snapshot-delete",
  group: "snapshot",
  help: "Delete a domain snapshot",
  desc: "Snapshot Delete",
  opts: [
    domainOpt(),
    snapNameOpt(),
    bool("current", "delete current snapshot"),
    bool("children", "delete snapshot and all children"),
    bool("children-only", "delete children but not snapshot"),
    bool("metadata", "delete only libvirt metadata, leaving snapshot contents behind"),
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const snap = await lookupSnapshot(ctx, cmd, dom);
    if (!snap) return false;
    let flags = 0;
    if (cmd.bool("children")) flags |= D.CHILDREN;
    if (cmd.bool("children-only")) flags |= D.CHILDREN_ONLY;
    if (cmd.bool("metadata")) flags |= D.METADATA_ONLY;
    try {
      await snap.delete(flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const what =
      flags & D.CHILDREN_ONLY
        ? `Domain snapshot ${snap.name} children deleted`
        : `Domain snapshot ${snap.name} deleted`;
    ctx.print(`${what}\n`);
    ctx.emit({ action: "deleted", domain: domJson(dom), snapshot: snap.name, flags });
    return true;
  },
};

// --- list ------------------------------------------------------------------------------------

interface Row {
  name: string;
  parent: string | undefined;
  creationTime: number;
  state: string;
}

/** vshTreePrint: each root, its children below with `+- ` and `|` rails. */
function treeText(rows: readonly Row[]): string {
  let out = "";
  const last = rows.length - 1;
  const walk = (i: number, lastdev: number, root: boolean, indent: string): void => {
    const me = rows[i];
    if (!me) return;
    out += `${indent}${root ? "" : "+- "}${me.name}\n`;
    let ind = indent;
    if (!root) ind += (i === lastdev ? " " : "|") + " ";
    let nextLast = -1;
    rows.forEach((r, j) => {
      if (r.parent === me.name) nextLast = j;
    });
    if (nextLast !== -1) out += `${ind}  |\n`;
    rows.forEach((r, j) => {
      if (r.parent === me.name) walk(j, nextLast, false, ind + "  ");
    });
    if (nextLast === -1 && i === lastdev) out += `${ind}\n`;
  };
  rows.forEach((r, i) => {
    if (r.parent === undefined) walk(i, last, true, "");
  });
  return out;
}

function timeText(secs: number): string {
  const d = new Date(secs * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number): string => String(n).padStart(2, "0");
  const sign = off >= 0 ? "+" : "-";
  const a = Math.abs(off);
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(a / 60))}${p(a % 60)}`
  );
}

const listFilterOpts: [string, string, number][] = [
  ["leaves", "list only snapshots without children", L.LEAVES],
  ["no-leaves", "list only snapshots that are not leaves (with children)", L.NO_LEAVES],
  ["metadata", "list only snapshots that have metadata that would prevent undefine", L.METADATA],
  ["no-metadata", "list only snapshots that have no metadata managed by libvirt", L.NO_METADATA],
  ["inactive", "filter by snapshots taken while inactive", L.INACTIVE],
  ["active", "filter by snapshots taken while active (full system snapshots)", L.ACTIVE],
  ["disk-only", "filter by disk-only snapshots", L.DISK_ONLY],
  ["internal", "filter by internal snapshots", L.INTERNAL],
  ["external", "filter by external snapshots", L.EXTERNAL],
];

const snapshotList: Cmd = {
  name: "snapshot-list",
  group: "snapshot",
  help: "List snapshots for a domain",
  desc: "Snapshot List",
  opts: [
    domainOpt(),
    bool("parent", "add a column showing parent snapshot"),
    bool("roots", "list only snapshots without parents"),
    ...listFilterOpts.map(([n, h]) => bool(n, h)),
    bool("tree", "list snapshots in a tree"),
    { name: "from", type: "string", named: true, help: "limit list to children of given snapshot" },
    bool("current", "limit list to children of current snapshot"),
    bool("descendants", "with --from, list all descendants"),
    bool("name", "list snapshot names only"),
    bool("topological", "sort list topologically rather than by name"),
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    for (const [a, b] of [
      ["tree", "name"],
      ["parent", "roots"],
      ["parent", "tree"],
      ["roots", "tree"],
      ["roots", "from"],
      ["roots", "current"],
      ["from", "current"],
    ] as const) {
      if (!ctx.exclusive(cmd, a, b)) return false;
    }
    let flags = 0;
    for (const [n, , f] of listFilterOpts) if (cmd.bool(n)) flags |= f;
    if (cmd.bool("topological")) flags |= L.TOPOLOGICAL;
    const fromName = ctx.optString(cmd, "from");
    if (fromName === null) return false;
    let snaps: DomainSnapshot[];
    let base: DomainSnapshot | undefined;
    const tree = cmd.bool("tree");
    try {
      if (fromName !== undefined || cmd.bool("current")) {
        base = fromName !== undefined ? await dom.snapshotLookupByName(fromName) : undefined;
        if (!base) {
          if (!(await dom.hasCurrentSnapshot()))
            return ctx.fail(`domain '${dom.name}' has no current snapshot`);
          base = await dom.snapshotCurrent();
        }
        const desc = cmd.bool("descendants") || tree ? L.DESCENDANTS : 0;
        snaps = await base.listAllChildren(flags | desc);
        if (tree) snaps = [base, ...snaps];
      } else {
        if (cmd.bool("roots")) flags |= L.ROOTS;
        snaps = await dom.listAllSnapshots(flags);
      }
      const rows: Row[] = [];
      for (const s of snaps) {
        const doc = parseXmlTree(await s.getXMLDesc());
        const parent = selectValue(doc, "/domainsnapshot/parent/name") || undefined;
        rows.push({
          name: s.name,
          parent: base && s.name === base.name && tree ? undefined : parent,
          creationTime: Number(selectValue(doc, "/domainsnapshot/creationTime") ?? 0),
          state: selectValue(doc, "/domainsnapshot/state") ?? "",
        });
      }
      if (!(flags & L.TOPOLOGICAL)) {
        rows.sort((a, b) =>
          a.name.toLowerCase() < b.name.toLowerCase()
            ? -1
            : a.name.toLowerCase() > b.name.toLowerCase()
              ? 1
              : 0,
        );
      }
      // a parent outside the listing makes the row a root of the tree
      const names = new Set(rows.map((r) => r.name));
      if (tree)
        for (const r of rows) if (r.parent !== undefined && !names.has(r.parent)) r.parent = undefined;
      ctx.emit({
        snapshots: rows.map((r) => ({
          name: r.name,
          creationTime: r.creationTime,
          state: r.state,
          parent: r.parent ?? null,
        })),
      });
      if (tree) {
        ctx.print(treeText(rows));
        return true;
      }
      if (cmd.bool("name")) {
        ctx.print(rows.map((r) => `${r.name}\n`).join(""));
        return true;
      }
      const withParent = cmd.bool("parent");
      const header = withParent
        ? ["Name", "Creation Time", "State", "Parent"]
        : ["Name", "Creation Time", "State"];
      ctx.print(
        formatTable(
          header,
          rows.map((r) => {
            const base = [r.name, timeText(r.creationTime), r.state];
            return withParent ? [...base, r.parent ?? ""] : base;
          }),
          false,
        ),
      );
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

export const snapshotCommands: Cmd[] = [
  snapshotCreate,
  snapshotCreateAs,
  snapshotCurrent,
  snapshotDelete,
  snapshotDumpxml,
  snapshotInfo,
  snapshotList,
  snapshotParent,
  snapshotRevert,
];
