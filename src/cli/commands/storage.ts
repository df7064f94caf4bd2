/**
 * Storage pool and volume commands (virsh's "Storage Pool" and "Storage Volume" groups,
 * `tools/virsh-pool.c` and `tools/virsh-volume.c` 9.0): pool-* and vol-*, plus
 * find-storage-pool-sources(-as). Texts, tables, option checks and the order in which virsh
 * makes its calls (which decides which error comes first) are virsh's.
 *
 * With `--json`: pool-list `{pools: [...]}`, pool-info `{name, uuid, state, ...}`, the pool
 * changes `{action, pool: {name, uuid}[, file]}`, vol-list `{pool, volumes: [...]}`, vol-info
 * `{volume: {pool, name, key}, type, capacity, allocation}`, the volume changes `{action,
 * volume[, ...]}`, `--print-xml` and the XML dumps `{xml}` (or `{xpath, nodes}`), the name and
 * key conversions `{name|uuid|key|path, ...}`; sizes are bytes.
 */
import { open, unlink } from "node:fs/promises";
import {
  ConnectListStoragePoolsFlags as L,
  parseXmlTree,
  serializeNode,
  StoragePoolBuildFlags,
  StoragePoolCreateFlags,
  StoragePoolDefineFlags,
  StoragePoolEventId,
  StoragePoolState,
  StorageVolCreateFlags,
  StorageVolDeleteFlags,
  StorageVolDownloadFlags,
  StorageVolInfoFlags,
  StorageVolResizeFlags,
  StorageVolUploadFlags,
  StorageVolWipeAlgorithm,
  VirtError,
  type StoragePool,
  type StoragePoolEvent,
  type StoragePoolInfo,
  type StorageVol,
  type StorageVolInfo,
  type XElement,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { formatTable } from "../table.ts";
import { dumpXPath } from "../xpath-output.ts";
import { runEditFlow } from "../edit-flow.ts";
import { EventWait, chosenEventType, eventTimeout, eventTimestamp, eventWaitOpts } from "./event-loop.ts";

type Cmd = CmdDef<Ctx>;

const BYUUID = 1;
const BYNAME = 2;

// --- options ---------------------------------------------------------------------------------

const poolOpt = (help = "pool name or uuid"): OptDef => ({
  name: "pool",
  type: "data",
  required: true,
  help,
  complete: "pool",
});
/** VIRSH_COMMON_OPT_POOL_OPTIONAL */
const poolOptional: OptDef = { name: "pool", type: "string", help: "pool name or uuid", complete: "pool" };
const volOpt = (help = "vol name, key or path"): OptDef => ({
  name: "vol",
  type: "data",
  required: true,
  help,
});
const fileOpt = (help: string): OptDef => ({
  name: "file",
  type: "data",
  required: true,
  help,
  complete: "file",
});
const validateOpt: OptDef = { name: "validate", type: "bool", help: "validate the XML against the schema" };
const buildOpt: OptDef = { name: "build", type: "bool", help: "build the pool as normal" };
const noOverwriteOpt: OptDef = {
  name: "no-overwrite",
  type: "bool",
  help: "do not overwrite any existing data",
};
const overwriteOpt: OptDef = { name: "overwrite", type: "bool", help: "overwrite any existing data" };
const preallocOpt: OptDef = {
  name: "prealloc-metadata",
  type: "bool",
  help: "preallocate metadata (for qcow2 instead of full allocation)",
};
const reflinkOpt: OptDef = { name: "reflink", type: "bool", help: "use btrfs COW lightweight copy" };
const xpathOpts: OptDef[] = [
  { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
  { name: "wrap", type: "bool", help: "wrap xpath results in an common root element" },
];

/** VIRSH_COMMON_OPT_POOL_X_AS (pool-define-as, pool-create-as) */
const poolXAsOpts: OptDef[] = [
  { name: "name", type: "data", required: true, help: "name of the pool" },
  { name: "type", type: "data", required: true, help: "type of the pool" },
  { name: "print-xml", type: "bool", help: "print XML document, but don't define/create" },
  { name: "source-host", type: "string", help: "source-host for underlying storage" },
  { name: "source-path", type: "string", help: "source path for underlying storage" },
  { name: "source-dev", type: "string", help: "source device for underlying storage" },
  { name: "source-name", type: "string", help: "source name for underlying storage" },
  { name: "target", type: "string", help: "target for underlying storage" },
  { name: "source-format", type: "string", help: "format for underlying storage" },
  { name: "auth-type", type: "string", help: "auth type to be used for underlying storage" },
  { name: "auth-username", type: "string", help: "auth username to be used for underlying storage" },
  { name: "secret-usage", type: "string", help: "auth secret usage to be used for underlying storage" },
  { name: "secret-uuid", type: "string", help: "auth secret UUID to be used for underlying storage" },
  { name: "adapter-name", type: "string", help: "adapter name to be used for underlying storage" },
  { name: "adapter-wwnn", type: "string", help: "adapter wwnn to be used for underlying storage" },
  { name: "adapter-wwpn", type: "string", help: "adapter wwpn to be used for underlying storage" },
  {
    name: "adapter-parent",
    type: "string",
    help: "adapter parent scsi_hostN to be used for underlying vHBA storage",
  },
  {
    name: "adapter-parent-wwnn",
    type: "string",
    help: "adapter parent scsi_hostN wwnn to be used for underlying vHBA storage",
  },
  {
    name: "adapter-parent-wwpn",
    type: "string",
    help: "adapter parent scsi_hostN wwpn to be used for underlying vHBA storage",
  },
  {
    name: "adapter-parent-fabric-wwn",
    type: "string",
    help: "adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage",
  },
  { name: "source-protocol-ver", type: "string", help: "nfsvers value for NFS pool mount option" },
  { name: "source-initiator", type: "string", help: "initiator iqn for underlying storage" },
];

// --- helpers ---------------------------------------------------------------------------------

/** The pool types in libvirt's order (virStoragePoolTypeFromString). */
const POOL_TYPE_NAMES = [
  "dir",
  "fs",
  "netfs",
  "logical",
  "disk",
  "iscsi",
  "iscsi-direct",
  "scsi",
  "mpath",
  "rbd",
  "sheepdog",
  "gluster",
  "zfs",
  "vstorage",
] as const;

const POOL_TYPE_FLAG: Record<(typeof POOL_TYPE_NAMES)[number], number> = {
  dir: L.DIR,
  fs: L.FS,
  netfs: L.NETFS,
  logical: L.LOGICAL,
  disk: L.DISK,
  iscsi: L.ISCSI,
  "iscsi-direct": L.ISCSI_DIRECT,
  scsi: L.SCSI,
  mpath: L.MPATH,
  rbd: L.RBD,
  sheepdog: L.SHEEPDOG,
  gluster: L.GLUSTER,
  zfs: L.ZFS,
  vstorage: L.VSTORAGE,
};

const POOL_STATES = ["inactive", "building", "running", "degraded", "inaccessible"];
const VOL_TYPES = ["file", "block", "dir", "network", "netdir", "ploop"];
const WIPE_ALGORITHMS = [
  "zero",
  "nnsa",
  "dod",
  "bsi",
  "gutmann",
  "schneier",
  "pfitzner7",
  "pfitzner33",
  "random",
  "trim",
];
const POOL_EVENTS = ["Defined", "Undefined", "Started", "Stopped", "Created", "Deleted"];
const POOL_EVENT_TYPES = ["lifecycle", "refresh"];

const poolState = (s: number): string => POOL_STATES[s] ?? "unknown";
const volType = (t: number): string => VOL_TYPES[t] ?? "unknown";
const yesNo = (b: boolean): string => (b ? "yes" : "no");

/** vshStrcasecmp order. */
function byName(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/**
 * vshPrettyCapacity with `%.2lf`: the value in the largest binary unit below it, two decimals,
 * rounded as printf does (to nearest, ties to even: `1152` bytes is `1.12 KiB`).
 */
export function prettyCapacity(bytes: number | bigint): string {
  const v = BigInt(bytes);
  let k = 0;
  while (k < 6 && v >= 1024n ** BigInt(k + 1)) k++;
  const div = 1024n ** BigInt(k);
  let q = (v * 100n) / div;
  const r = (v * 100n) % div;
  if (r * 2n > div || (r * 2n === div && q % 2n === 1n)) q++;
  const s = q.toString().padStart(3, "0");
  return `${s.slice(0, -2)}.${s.slice(-2)} ${UNITS[k]!}`;
}

const ULLONG_MAX = 2n ** 64n - 1n;

/**
 * virshVolSize: virStrToLong_ullp (leading blanks, an optional `+`, no `-`) then
 * virScaleInteger (suffixes b, k/KiB, KB, ... e/EiB, EB; a bare number is bytes). Returns the
 * bytes, `"malformed"` (bad number), or the libvirt error virScaleInteger reports.
 */
export function volSize(text: string): bigint | "malformed" | VirtError {
  const m = /^[\t\n\v\f\r ]*\+?(\d+)([\s\S]*)$/.exec(text);
  if (!m) return "malformed";
  const n = BigInt(m[1]!);
  if (n > ULLONG_MAX) return "malformed";
  const suffix = m[2]!;
  let scale: bigint;
  const low = suffix.toLowerCase();
  if (suffix === "" || low === "b" || low === "byte" || low === "bytes") scale = 1n;
  else {
    const exp = "kmgtpe".indexOf(low[0]!);
    let base: bigint | undefined;
    if (suffix.length === 1 || low.slice(1) === "ib") base = 1024n;
    else if (low.slice(1) === "b") base = 1000n;
    if (exp < 0 || base === undefined) return new VirtError("SCALE_UNKNOWN_SUFFIX", { suffix });
    scale = base ** BigInt(exp + 1);
  }
  if (n > ULLONG_MAX / scale) return new VirtError("SCALE_OVERFLOW", { value: text });
  return n * scale;
}

/**
 * vshCommandOptULongLong(Wrap): undefined when absent, null (error printed) when malformed;
 * `wrap` accepts a negative number as its unsigned two's complement (`--length -1`).
 */
function optULongLong(ctx: Ctx, cmd: ParsedCmd<Ctx>, name: string, wrap: boolean): bigint | undefined | null {
  const raw = cmd.raw(name);
  if (raw === undefined) return undefined;
  const m = /^[\t\n\v\f\r ]*([+-]?)(\d+)$/.exec(raw);
  let v: bigint | undefined;
  if (m) {
    const n = BigInt(m[2]!);
    if (n <= ULLONG_MAX) {
      if (m[1] !== "-") v = n;
      else if (wrap) v = (ULLONG_MAX + 1n - n) % (ULLONG_MAX + 1n);
    }
  }
  if (v === undefined) {
    const message = `Numeric value '${raw}' for <${name}> option is malformed or out of range`;
    ctx.fail(message);
    if (ctx.json) ctx.lastError = new VirtError("CLI_USAGE", { message });
    return null;
  }
  return v;
}

function poolJson(p: StoragePool): { name: string; uuid: string } {
  return { name: p.name, uuid: p.uuid };
}

function volJson(v: StorageVol): { pool: string; name: string; key: string } {
  return { pool: v.pool, name: v.name, key: v.key };
}

/** virshCommandOptPoolBy: by UUID (36 characters) then by name; "failed to get pool 'x'". */
async function findPool(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  optName = "pool",
  by = BYUUID | BYNAME,
): Promise<{ pool: StoragePool; name: string } | undefined> {
  const name = ctx.optString(cmd, optName);
  if (name === null) return undefined;
  if (name === undefined) {
    ctx.fail(`command '${cmd.def.name}' requires <${optName}> option`);
    return undefined;
  }
  const conn = ctx.connection();
  let pool: StoragePool | undefined;
  let err: unknown;
  if (by & BYUUID && name.length === 36) {
    pool = await conn.storagePoolLookupByUUID(name).catch((e: unknown) => {
      err = e;
      return undefined;
    });
  }
  if (!pool && by & BYNAME) {
    pool = await conn.storagePoolLookupByName(name).catch((e: unknown) => {
      err = e;
      return undefined;
    });
  }
  if (!pool) {
    ctx.fail(`failed to get pool '${name}'`, err);
    return undefined;
  }
  return { pool, name };
}

/**
 * virshCommandOptVolBy: with `--<poolOpt>` the volume is looked up by name in that (running)
 * pool, else (and then) by key and by path; a volume found elsewhere than the pool given is
 * refused. Returns the volume and the option's text (virsh's `name`).
 */
async function findVol(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  optName = "vol",
  poolOpt: string | null = "pool",
  by = BYUUID | BYNAME,
): Promise<{ vol: StorageVol; name: string } | undefined> {
  const n = ctx.optString(cmd, optName);
  if (n === null) return undefined;
  if (n === undefined) {
    ctx.fail(`command '${cmd.def.name}' requires <${optName}> option`);
    return undefined;
  }
  let pool: StoragePool | undefined;
  if (poolOpt !== null) {
    const p = ctx.optString(cmd, poolOpt);
    if (p === null) return undefined;
    if (p !== undefined) {
      const found = await findPool(ctx, cmd, poolOpt, by);
      if (!found) return undefined;
      pool = found.pool;
      if (!(await pool.isActive().catch(() => false))) {
        ctx.fail(`pool '${p}' is not active`);
        return undefined;
      }
    }
  }
  const conn = ctx.connection();
  let vol: StorageVol | undefined;
  let err: unknown;
  const attempt = async (f: () => Promise<StorageVol>): Promise<void> => {
    vol = await f().catch((e: unknown) => {
      err = e;
      return undefined;
    });
  };
  if (pool && by & BYNAME) {
    const inPool = pool;
    await attempt(() => inPool.storageVolLookupByName(n));
  }
  if (!vol && by & BYUUID) await attempt(() => conn.storageVolLookupByKey(n));
  if (!vol && by & BYUUID) await attempt(() => conn.storageVolLookupByPath(n));
  if (!vol) {
    ctx.fail(
      pool || poolOpt === null
        ? `failed to get vol '${n}'`
        : `failed to get vol '${n}', specifying --${poolOpt} might help`,
      err,
    );
    return undefined;
  }
  if (pool) {
    const volPool = await conn.storagePoolLookupByVolume(vol).catch(() => undefined);
    if (volPool && volPool.name !== pool.name) {
      ctx.fail(`Requested volume '${n}' is not in pool '${pool.name}'`);
      return undefined;
    }
  }
  return { vol, name: n };
}

// --- pools -----------------------------------------------------------------------------------

interface PoolRow {
  name: string;
  uuid: string;
  state: string;
  active: boolean;
  persistent: boolean | null;
  autostart: boolean | null;
  capacity: number | null;
  allocation: number | null;
  available: number | null;
}

const poolList: Cmd = {
  name: "pool-list",
  group: "pool",
  help: "list pools",
  desc: "Returns list of pools.",
  opts: [
    { name: "inactive", type: "bool", help: "list inactive pools" },
    { name: "all", type: "bool", help: "list inactive & active pools" },
    { name: "transient", type: "bool", help: "list transient pools" },
    { name: "persistent", type: "bool", help: "list persistent pools" },
    { name: "autostart", type: "bool", help: "list pools with autostart enabled" },
    { name: "no-autostart", type: "bool", help: "list pools with autostart disabled" },
    { name: "type", type: "string", help: "only list pool of specified type(s) (if supported)" },
    { name: "details", type: "bool", help: "display extended details for pools" },
    { name: "uuid", type: "bool", help: "list UUID of active pools only" },
    { name: "name", type: "bool", help: "list name of active pools only" },
  ],
  async run(ctx, cmd) {
    const details = cmd.bool("details");
    const inactive = cmd.bool("inactive");
    const all = cmd.bool("all");
    if (!ctx.exclusive(cmd, "all", "inactive")) return false;
    let flags: number = L.ACTIVE;
    if (inactive) flags = L.INACTIVE;
    if (all) flags = L.ACTIVE | L.INACTIVE;
    if (cmd.bool("autostart")) flags |= L.AUTOSTART;
    if (cmd.bool("no-autostart")) flags |= L.NO_AUTOSTART;
    if (cmd.bool("persistent")) flags |= L.PERSISTENT;
    if (cmd.bool("transient")) flags |= L.TRANSIENT;
    const optUUID = cmd.bool("uuid");
    const optName = cmd.bool("name");
    const type = ctx.optString(cmd, "type");
    if (type === null) return false;
    if (!ctx.exclusive(cmd, "details", "uuid") || !ctx.exclusive(cmd, "details", "name")) return false;
    if (type !== undefined) {
      for (const t of splitList(type)) {
        const i = (POOL_TYPE_NAMES as readonly string[]).indexOf(t);
        if (i < 0) return ctx.fail(`Invalid pool type '${t}'`);
        flags |= POOL_TYPE_FLAG[POOL_TYPE_NAMES[i]!];
      }
    }
    let pools: StoragePool[];
    try {
      pools = await ctx.connection().listAllStoragePools(flags);
    } catch (e) {
      return ctx.fail("Failed to list pools", e);
    }
    pools.sort((a, b) => byName(a.name, b.name));
    const rows: PoolRow[] = [];
    for (const p of pools) {
      const autostart = await p.getAutostart().catch(() => null);
      const persistent = details || ctx.json ? await p.isPersistent().catch(() => null) : null;
      let info: StoragePoolInfo | undefined;
      try {
        info = await p.getInfo();
      } catch {
        ctx.error("Could not retrieve pool information");
      }
      const sized =
        info !== undefined &&
        (info.state === StoragePoolState.RUNNING || info.state === StoragePoolState.DEGRADED);
      let state: string;
      let active = false;
      if (!info) state = "unknown";
      else if (details) state = poolState(info.state);
      else {
        active = await p.isActive().catch(() => true);
        state = active ? "active" : "inactive";
      }
      if (details || ctx.json) active = await p.isActive().catch(() => false);
      rows.push({
        ...poolJson(p),
        state,
        active,
        persistent,
        autostart,
        capacity: sized ? info!.capacity : null,
        allocation: sized ? info!.allocation : null,
        available: sized ? info!.available : null,
      });
    }
    const autostartText = (r: PoolRow): string =>
      r.autostart === null ? "no autostart" : yesNo(r.autostart);
    const size = (v: number | null, r: PoolRow): string =>
      r.state === "unknown" ? "unknown" : v === null ? "-" : prettyCapacity(v);
    if (!details) {
      if (optUUID || optName) {
        let s = "";
        for (const r of rows) {
          if (optUUID) s += `${r.uuid.padEnd(36)}${optName ? " " : "\n"}`;
          if (optName) s += `${r.name.padEnd(20)}\n`;
        }
        ctx.print(s);
      } else {
        ctx.print(
          formatTable(
            ["Name", "State", "Autostart"],
            rows.map((r) => [r.name, r.state, autostartText(r)]),
            ctx.opts.quiet,
          ),
        );
      }
    } else {
      ctx.print(
        formatTable(
          ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"],
          rows.map((r) => [
            r.name,
            r.state,
            autostartText(r),
            r.persistent === null ? "unknown" : yesNo(r.persistent),
            size(r.capacity, r),
            size(r.allocation, r),
            size(r.available, r),
          ]),
          ctx.opts.quiet,
        ),
      );
    }
    ctx.emit({ pools: rows });
    return true;
  },
};

/** vshStringToArray: comma-separated, `,,` is a literal comma. */
function splitList(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === ",") {
      if (s[i + 1] === ",") {
        cur += ",";
        i++;
        continue;
      }
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const poolInfo: Cmd = {
  name: "pool-info",
  group: "pool",
  help: "storage pool information",
  desc: "Returns basic information about the storage pool.",
  opts: [poolOpt(), { name: "bytes", type: "bool", help: "Return pool info in bytes" }],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    const { pool } = found;
    const bytes = cmd.bool("bytes");
    const line = (k: string, v: string): string => `${k.padEnd(15)} ${v}\n`;
    ctx.print(line("Name:", pool.name) + line("UUID:", pool.uuid));
    let info: StoragePoolInfo;
    try {
      info = await pool.getInfo();
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const persistent = await pool.isPersistent().catch(() => null);
    const autostart = await pool.getAutostart().catch(() => null);
    let s = line("State:", poolState(info.state));
    s += line("Persistent:", persistent === null ? "unknown" : yesNo(persistent));
    s += line("Autostart:", autostart === null ? "no autostart" : yesNo(autostart));
    const sized = info.state === StoragePoolState.RUNNING || info.state === StoragePoolState.DEGRADED;
    if (sized) {
      const v = (n: number): string => (bytes ? String(n) : prettyCapacity(n));
      s += line("Capacity:", v(info.capacity)) + line("Allocation:", v(info.allocation));
      s += line("Available:", v(info.available));
    }
    ctx.print(s);
    ctx.emit({
      ...poolJson(pool),
      state: poolState(info.state),
      persistent,
      autostart,
      capacity: sized ? info.capacity : null,
      allocation: sized ? info.allocation : null,
      available: sized ? info.available : null,
    });
    return true;
  },
};

const poolDefine: Cmd = {
  name: "pool-define",
  group: "pool",
  help: "define an inactive persistent storage pool or modify an existing persistent one from an XML file",
  desc: "Define or modify a persistent storage pool.",
  opts: [fileOpt("file containing an XML pool description"), validateOpt],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const flags = cmd.bool("validate") ? StoragePoolDefineFlags.VALIDATE : 0;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    let pool: StoragePool;
    try {
      pool = await ctx.connection().storagePoolDefineXML(xml, flags);
    } catch (e) {
      return ctx.fail(`Failed to define pool from ${from}`, e);
    }
    ctx.printExtra(`Pool ${pool.name} defined from ${from}\n`);
    ctx.emit({ action: "defined", pool: poolJson(pool), file: from });
    return true;
  },
};

/** --build / --overwrite / --no-overwrite as virStoragePoolCreate flags; null when both overwrites. */
function createFlags(ctx: Ctx, cmd: ParsedCmd<Ctx>): number | null {
  if (!ctx.exclusive(cmd, "overwrite", "no-overwrite")) return null;
  let flags = 0;
  if (cmd.bool("build")) flags |= StoragePoolCreateFlags.WITH_BUILD;
  if (cmd.bool("overwrite")) flags |= StoragePoolCreateFlags.WITH_BUILD_OVERWRITE;
  if (cmd.bool("no-overwrite")) flags |= StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE;
  return flags;
}

const poolCreate: Cmd = {
  name: "pool-create",
  group: "pool",
  help: "create a pool from an XML file",
  desc: "Create a pool.",
  opts: [fileOpt("file containing an XML pool description"), buildOpt, noOverwriteOpt, overwriteOpt],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const flags = createFlags(ctx, cmd);
    if (flags === null) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    let pool: StoragePool;
    try {
      pool = await ctx.connection().storagePoolCreateXML(xml, flags);
    } catch (e) {
      return ctx.fail(`Failed to create pool from ${from}`, e);
    }
    ctx.printExtra(`Pool ${pool.name} created from ${from}\n`);
    ctx.emit({ action: "created", pool: poolJson(pool), file: from });
    return true;
  },
};

/** virshBuildPoolXML: the values go in as given, unescaped, as virsh does. */
function buildPoolXML(ctx: Ctx, cmd: ParsedCmd<Ctx>): { name: string; xml: string } | undefined {
  if (!ctx.exclusive(cmd, "secret-usage", "secret-uuid")) return undefined;
  const names = [
    "name",
    "type",
    "source-host",
    "source-path",
    "source-dev",
    "source-name",
    "source-format",
    "target",
    "auth-type",
    "auth-username",
    "secret-usage",
    "secret-uuid",
    "adapter-name",
    "adapter-wwnn",
    "adapter-wwpn",
    "adapter-parent",
    "adapter-parent-wwnn",
    "adapter-parent-wwpn",
    "adapter-parent-fabric-wwn",
    "source-protocol-ver",
    "source-initiator",
  ];
  const v: Record<string, string | undefined> = {};
  for (const n of names) {
    const s = ctx.optString(cmd, n);
    if (s === null) return undefined;
    v[n] = s;
  }
  const name = v.name!;
  let x = `<pool type='${v.type!}'>\n  <name>${name}</name>\n`;
  const wwn = v["adapter-wwnn"] !== undefined && v["adapter-wwpn"] !== undefined;
  if (
    v["source-host"] !== undefined ||
    v["source-path"] !== undefined ||
    v["source-dev"] !== undefined ||
    v["source-initiator"] !== undefined ||
    v["source-format"] !== undefined ||
    v["source-name"] !== undefined ||
    wwn ||
    v["adapter-name"] !== undefined
  ) {
    x += "  <source>\n";
    if (v["source-host"] !== undefined) x += `    <host name='${v["source-host"]}'/>\n`;
    if (v["source-path"] !== undefined) x += `    <dir path='${v["source-path"]}'/>\n`;
    if (v["source-dev"] !== undefined) x += `    <device path='${v["source-dev"]}'/>\n`;
    if (v["source-initiator"] !== undefined)
      x += `    <initiator>\n      <iqn name='${v["source-initiator"]}'/>\n    </initiator>\n`;
    if (wwn) {
      x += "    <adapter type='fc_host'";
      if (v["adapter-parent"] !== undefined) x += ` parent='${v["adapter-parent"]}'`;
      else if (v["adapter-parent-wwnn"] !== undefined && v["adapter-parent-wwpn"] !== undefined)
        x += ` parent_wwnn='${v["adapter-parent-wwnn"]}' parent_wwpn='${v["adapter-parent-wwpn"]}'`;
      else if (v["adapter-parent-fabric-wwn"] !== undefined)
        x += ` parent_fabric_wwn='${v["adapter-parent-fabric-wwn"]}'`;
      x += ` wwnn='${v["adapter-wwnn"]!}' wwpn='${v["adapter-wwpn"]!}'/>\n`;
    } else if (v["adapter-name"] !== undefined) {
      x += `    <adapter type='scsi_host' name='${v["adapter-name"]}'/>\n`;
    }
    if (
      v["auth-type"] !== undefined &&
      v["auth-username"] !== undefined &&
      (v["secret-usage"] !== undefined || v["secret-uuid"] !== undefined)
    ) {
      x += `    <auth type='${v["auth-type"]}' username='${v["auth-username"]}'>\n`;
      x +=
        v["secret-usage"] !== undefined
          ? `      <secret usage='${v["secret-usage"]}'/>\n`
          : `      <secret uuid='${v["secret-uuid"]!}'/>\n`;
      x += "    </auth>\n";
    }
    if (v["source-format"] !== undefined) x += `    <format type='${v["source-format"]}'/>\n`;
    if (v["source-name"] !== undefined) x += `    <name>${v["source-name"]}</name>\n`;
    if (v["source-protocol-ver"] !== undefined) x += `    <protocol ver='${v["source-protocol-ver"]}'/>\n`;
    x += "  </source>\n";
  }
  if (v.target !== undefined) x += `  <target>\n    <path>${v.target}</path>\n  </target>\n`;
  x += "</pool>\n";
  return { name, xml: x };
}

function poolXAs(kind: "define" | "create"): Cmd {
  const define = kind === "define";
  return {
    name: `pool-${kind}-as`,
    group: "pool",
    help: `${kind} a pool from a set of args`,
    desc: `${define ? "Define" : "Create"} a pool.`,
    opts: define ? poolXAsOpts : [...poolXAsOpts, buildOpt, noOverwriteOpt, overwriteOpt],
    async run(ctx, cmd) {
      const printXML = cmd.bool("print-xml");
      let flags = 0;
      if (!define) {
        const f = createFlags(ctx, cmd);
        if (f === null) return false;
        flags = f;
      }
      const built = buildPoolXML(ctx, cmd);
      if (!built) return false;
      if (printXML) {
        ctx.print(built.xml);
        ctx.emit({ xml: built.xml });
        return true;
      }
      let pool: StoragePool;
      try {
        const conn = ctx.connection();
        pool = define
          ? await conn.storagePoolDefineXML(built.xml, 0)
          : await conn.storagePoolCreateXML(built.xml, flags);
      } catch (e) {
        return ctx.fail(`Failed to ${kind} pool ${built.name}`, e);
      }
      ctx.printExtra(`Pool ${built.name} ${define ? "defined" : "created"}\n`);
      ctx.emit({ action: define ? "defined" : "created", pool: poolJson(pool) });
      return true;
    },
  };
}

/** A command on one pool: look it up, act, "Pool NAME <done>" or "Failed to <verb> pool NAME". */
function poolAction(
  name: string,
  help: string,
  desc: string,
  extraOpts: OptDef[],
  verb: string,
  done: string,
  act: (p: StoragePool, ctx: Ctx, cmd: ParsedCmd<Ctx>) => Promise<void> | null,
): Cmd {
  return {
    name,
    group: "pool",
    help,
    desc,
    opts: [poolOpt(), ...extraOpts],
    async run(ctx, cmd) {
      const found = await findPool(ctx, cmd);
      if (!found) return false;
      try {
        const p = act(found.pool, ctx, cmd);
        if (p === null) return false;
        await p;
      } catch (e) {
        return ctx.fail(`Failed to ${verb} pool ${found.name}`, e);
      }
      ctx.printExtra(`Pool ${found.name} ${done}\n`);
      ctx.emit({ action: done.replace(/^has been /, ""), pool: poolJson(found.pool) });
      return true;
    },
  };
}

const poolBuild = poolAction(
  "pool-build",
  "build a pool",
  "Build a given pool.",
  [noOverwriteOpt, overwriteOpt],
  "build",
  "built",
  (p, _ctx, cmd) => {
    let flags = 0;
    if (cmd.bool("no-overwrite")) flags |= StoragePoolBuildFlags.NO_OVERWRITE;
    if (cmd.bool("overwrite")) flags |= StoragePoolBuildFlags.OVERWRITE;
    return p.build(flags);
  },
);

const poolStart = poolAction(
  "pool-start",
  "start a (previously defined) inactive pool",
  "Start a pool.",
  [buildOpt, noOverwriteOpt, overwriteOpt],
  "start",
  "started",
  (p, ctx, cmd) => {
    const flags = createFlags(ctx, cmd);
    return flags === null ? null : p.create(flags);
  },
);

const poolDestroy = poolAction(
  "pool-destroy",
  "destroy (stop) a pool",
  "Forcefully stop a given pool. Raw data in the pool is untouched",
  [],
  "destroy",
  "destroyed",
  (p) => p.destroy(),
);

const poolDelete = poolAction(
  "pool-delete",
  "delete a pool",
  "Delete a given pool.",
  [],
  "delete",
  "deleted",
  (p) => p.delete(0),
);

const poolRefresh = poolAction(
  "pool-refresh",
  "refresh a pool",
  "Refresh a given pool.",
  [],
  "refresh",
  "refreshed",
  (p) => p.refresh(0),
);

const poolUndefine = poolAction(
  "pool-undefine",
  "undefine an inactive pool",
  "Undefine the configuration for an inactive pool.",
  [],
  "undefine",
  "has been undefined",
  (p) => p.undefine(),
);

const poolAutostart: Cmd = {
  name: "pool-autostart",
  group: "pool",
  help: "autostart a pool",
  desc: "Configure a pool to be automatically started at boot.",
  opts: [poolOpt(), { name: "disable", type: "bool", help: "disable autostarting" }],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    const on = !cmd.bool("disable");
    try {
      await found.pool.setAutostart(on);
    } catch (e) {
      return ctx.fail(`failed to ${on ? "mark" : "unmark"} pool ${found.name} as autostarted`, e);
    }
    ctx.printExtra(`Pool ${found.name} ${on ? "marked" : "unmarked"} as autostarted\n`);
    ctx.emit({ action: on ? "autostart-enabled" : "autostart-disabled", pool: poolJson(found.pool) });
    return true;
  },
};

const poolDumpxml: Cmd = {
  name: "pool-dumpxml",
  group: "pool",
  help: "pool information in XML",
  desc: "Output the pool information as an XML dump to stdout.",
  opts: [poolOpt(), { name: "inactive", type: "bool", help: "show inactive defined XML" }, ...xpathOpts],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    let xml: string;
    try {
      xml = await found.pool.getXMLDesc(cmd.bool("inactive") ? 1 : 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

const poolEdit: Cmd = {
  name: "pool-edit",
  group: "pool",
  help: "edit XML configuration for a storage pool",
  desc: "Edit the XML configuration for a storage pool.",
  opts: [poolOpt()],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    const { pool } = found;
    // Some drivers (the test driver) refuse the INACTIVE flag: virsh then edits the live XML.
    let flags = 1;
    try {
      await pool.getXMLDesc(flags);
    } catch (e) {
      if (e instanceof VirtError && e.virCode === 8) flags = 0;
      else return ctx.fail(undefined, e);
    }
    let edited: StoragePool | undefined;
    const outcome = await runEditFlow(
      ctx,
      {
        object: "pool",
        name: pool.name,
        getXML: () => pool.getXMLDesc(flags),
        validate: false,
        canRelax: false,
        async define(xml) {
          edited = await ctx.connection().storagePoolDefineXML(xml, 0);
        },
        notChangedMessage: `Pool ${pool.name} XML configuration not changed.\n`,
      },
      process.env,
    );
    if (outcome.result === "failed") return false;
    if (outcome.result === "unchanged") {
      ctx.emit({ action: "unchanged", pool: poolJson(pool) });
      return true;
    }
    const target = edited ?? pool;
    ctx.printExtra(`Pool ${target.name} XML configuration edited.\n`);
    ctx.emit({ action: "edited", pool: poolJson(target) });
    return true;
  },
};

const poolName: Cmd = {
  name: "pool-name",
  group: "pool",
  help: "convert a pool UUID to pool name",
  desc: "",
  opts: [poolOpt()],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd, "pool", BYUUID);
    if (!found) return false;
    ctx.print(`${found.pool.name}\n`);
    ctx.emit({ name: found.pool.name, uuid: found.pool.uuid });
    return true;
  },
};

const poolUuid: Cmd = {
  name: "pool-uuid",
  group: "pool",
  help: "convert a pool name to pool UUID",
  desc: "",
  opts: [poolOpt()],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd, "pool", BYNAME);
    if (!found) return false;
    ctx.print(`${found.pool.uuid}\n`);
    ctx.emit({ uuid: found.pool.uuid, name: found.pool.name });
    return true;
  },
};

const poolCapabilities: Cmd = {
  name: "pool-capabilities",
  group: "pool",
  help: "storage pool capabilities",
  desc: "Returns capabilities of storage pool support.",
  opts: [],
  async run(ctx) {
    let caps: string;
    try {
      caps = await ctx.connection().getStoragePoolCapabilities(0);
    } catch (e) {
      return ctx.fail("failed to get storage pool capabilities", e);
    }
    ctx.print(`${caps}\n`);
    ctx.emit({ xml: caps });
    return true;
  },
};

const poolEvent: Cmd = {
  name: "pool-event",
  group: "pool",
  help: "Storage Pool Events",
  desc: "List event types, or wait for storage pool events to occur",
  opts: [
    { name: "pool", type: "string", help: "filter by storage pool name or uuid", complete: "pool" },
    { name: "event", type: "string", help: "which event type to wait for" },
    ...eventWaitOpts,
  ],
  async run(ctx, cmd) {
    const chosen = chosenEventType(ctx, cmd, POOL_EVENT_TYPES);
    if (chosen === "listed") return true;
    if (chosen === null) return false;
    const { id: eventId, name: eventName } = chosen;
    const loop = cmd.bool("loop");
    const stamp = cmd.bool("timestamp");
    const timeoutS = eventTimeout(ctx, cmd);
    if (timeoutS === null) return false;
    let pool: StoragePool | null = null;
    if (cmd.has("pool")) {
      // virsh goes on without a filter when the pool is not found (the error is reported).
      const found = await findPool(ctx, cmd);
      pool = found?.pool ?? null;
    }
    const conn = ctx.connection();
    const w = new EventWait(loop);
    let reg: number;
    try {
      reg = await conn.storagePoolEventRegisterAny(pool, eventId, (p, ev: StoragePoolEvent) => {
        if (!w.accepts()) return;
        const ts = stamp ? eventTimestamp() : undefined;
        const pre = ts ? `${ts}: ` : "";
        if (ev.id === StoragePoolEventId.LIFECYCLE) {
          ctx.print(
            `${pre}event 'lifecycle' for storage pool ${p.name}: ${POOL_EVENTS[ev.event] ?? "unknown"}\n`,
          );
        } else {
          ctx.print(`${pre}event '${eventName}' for storage pool ${p.name}\n`);
        }
        w.record({
          event: eventName,
          eventId: ev.id,
          pool: poolJson(p),
          ...(ts ? { timestamp: ts } : {}),
          ...(ev.id === StoragePoolEventId.LIFECYCLE
            ? { lifecycle: { event: POOL_EVENTS[ev.event] ?? "unknown", eventCode: ev.event } }
            : {}),
        });
      });
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    try {
      await w.wait(ctx, timeoutS);
    } finally {
      await conn.storagePoolEventDeregisterAny(reg).catch(() => undefined);
    }
    return w.count > 0;
  },
};

const findSourcesAs: Cmd = {
  name: "find-storage-pool-sources-as",
  group: "pool",
  help: "find potential storage pool sources",
  desc: "Returns XML <sources> document.",
  opts: [
    { name: "type", type: "data", required: true, help: "type of storage pool sources to find" },
    { name: "host", type: "string", help: "optional host to query" },
    { name: "port", type: "string", help: "optional port to query" },
    { name: "initiator", type: "string", help: "optional initiator IQN to use for query" },
  ],
  async run(ctx, cmd) {
    const type = ctx.optString(cmd, "type");
    if (type === null || type === undefined) return false;
    const host = ctx.optString(cmd, "host");
    if (host === null) return false;
    const initiator = ctx.optString(cmd, "initiator");
    if (initiator === null) return false;
    let spec: string | null = null;
    if (host !== undefined) {
      const port = ctx.optString(cmd, "port");
      if (port === null) return ctx.fail("missing argument");
      spec = `<source>\n  <host name='${host}'${port !== undefined ? ` port='${port}'` : ""}/>\n`;
      if (initiator !== undefined) spec += `  <initiator>\n    <iqn name='${initiator}'/>\n  </initiator>\n`;
      spec += "</source>\n";
    }
    return printSources(ctx, type, spec);
  },
};

async function printSources(ctx: Ctx, type: string, spec: string | null): Promise<boolean> {
  let list: string;
  try {
    list = await ctx.connection().findStoragePoolSources(type, spec, 0);
  } catch (e) {
    return ctx.fail(`Failed to find any ${type} pool sources`, e);
  }
  ctx.print(list);
  ctx.emit({ type, xml: list });
  return true;
}

const findSources: Cmd = {
  name: "find-storage-pool-sources",
  group: "pool",
  help: "discover potential storage pool sources",
  desc: "Returns XML <sources> document.",
  opts: [
    { name: "type", type: "data", required: true, help: "type of storage pool sources to discover" },
    {
      name: "srcSpec",
      type: "string",
      help: "optional file of source xml to query for pools",
      complete: "file",
    },
  ],
  async run(ctx, cmd) {
    const type = ctx.optString(cmd, "type");
    if (type === null || type === undefined) return false;
    const file = ctx.optString(cmd, "srcSpec");
    if (file === null) return false;
    let spec: string | null = null;
    if (file !== undefined) {
      const text = await ctx.readFile(file);
      if (text === undefined) return false;
      spec = text;
    }
    return printSources(ctx, type, spec);
  },
};

// --- volumes ---------------------------------------------------------------------------------

const volList: Cmd = {
  name: "vol-list",
  group: "volume",
  help: "list vols",
  desc: "Returns list of vols by pool.",
  opts: [poolOpt(), { name: "details", type: "bool", help: "display extended details for volumes" }],
  async run(ctx, cmd) {
    const details = cmd.bool("details");
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    let vols: StorageVol[];
    try {
      vols = await found.pool.listAllVolumes(0);
    } catch (e) {
      return ctx.fail("Failed to list volumes", e);
    }
    vols.sort((a, b) => byName(a.name, b.name));
    const rows: {
      name: string;
      key: string;
      path: string | null;
      type: string | null;
      capacity: number | null;
      allocation: number | null;
    }[] = [];
    for (const v of vols) {
      const path = await v.getPath().catch(() => null);
      let info: StorageVolInfo | null = null;
      if (details || ctx.json) info = await v.getInfo().catch(() => null);
      rows.push({
        name: v.name,
        key: v.key,
        path,
        type: info ? volType(info.type) : null,
        capacity: info ? info.capacity : null,
        allocation: info ? info.allocation : null,
      });
    }
    if (!details) {
      ctx.print(
        formatTable(
          ["Name", "Path"],
          rows.map((r) => [r.name, r.path ?? "unknown"]),
          ctx.opts.quiet,
        ),
      );
    } else {
      ctx.print(
        formatTable(
          ["Name", "Path", "Type", "Capacity", "Allocation"],
          rows.map((r) => [
            r.name,
            r.path ?? "unknown",
            r.type ?? "unknown",
            r.capacity === null ? "unknown" : prettyCapacity(r.capacity),
            r.allocation === null ? "unknown" : prettyCapacity(r.allocation),
          ]),
          ctx.opts.quiet,
        ),
      );
    }
    ctx.emit({ pool: poolJson(found.pool), volumes: rows });
    return true;
  },
};

const volInfo: Cmd = {
  name: "vol-info",
  group: "volume",
  help: "storage vol information",
  desc: "Returns basic information about the storage vol.",
  opts: [
    volOpt(),
    poolOptional,
    { name: "bytes", type: "bool", help: "sizes are represented in bytes rather than pretty units" },
    { name: "physical", type: "bool", help: "return the physical size of the volume in allocation field" },
  ],
  async run(ctx, cmd) {
    const bytes = cmd.bool("bytes");
    const physical = cmd.bool("physical");
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const { vol } = found;
    ctx.print(`${"Name:".padEnd(15)} ${vol.name}\n`);
    let info: StorageVolInfo;
    try {
      info = physical ? await vol.getInfoFlags(StorageVolInfoFlags.PHYSICAL) : await vol.getInfo();
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const line = (k: string, v: string): string => `${k.padEnd(15)} ${v}\n`;
    const size = (n: number): string => (bytes ? `${n} bytes` : prettyCapacity(n));
    ctx.print(
      line("Type:", volType(info.type)) +
        line("Capacity:", size(info.capacity)) +
        line(physical ? "Physical:" : "Allocation:", size(info.allocation)),
    );
    ctx.emit({
      volume: volJson(vol),
      type: volType(info.type),
      capacity: info.capacity,
      [physical ? "physical" : "allocation"]: info.allocation,
    });
    return true;
  },
};

const volCreate: Cmd = {
  name: "vol-create",
  group: "volume",
  help: "create a vol from an XML file",
  desc: "Create a vol.",
  opts: [poolOpt("pool name"), fileOpt("file containing an XML vol description"), preallocOpt, validateOpt],
  async run(ctx, cmd) {
    let flags = 0;
    if (cmd.bool("prealloc-metadata")) flags |= StorageVolCreateFlags.PREALLOC_METADATA;
    if (cmd.bool("validate")) flags |= StorageVolCreateFlags.VALIDATE;
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    let vol: StorageVol;
    try {
      vol = await found.pool.storageVolCreateXML(xml, flags);
    } catch (e) {
      return ctx.fail(`Failed to create vol from ${from}`, e);
    }
    ctx.printExtra(`Vol ${vol.name} created from ${from}\n`);
    ctx.emit({ action: "created", volume: volJson(vol), file: from });
    return true;
  },
};

const volCreateAs: Cmd = {
  name: "vol-create-as",
  group: "volume",
  help: "create a volume from a set of args",
  desc: "Create a vol.",
  opts: [
    poolOpt("pool name"),
    { name: "name", type: "data", required: true, help: "name of the volume" },
    {
      name: "capacity",
      type: "data",
      required: true,
      help: "size of the vol, as scaled integer (default bytes)",
    },
    {
      name: "allocation",
      type: "string",
      help: "initial allocation size, as scaled integer (default bytes)",
    },
    { name: "format", type: "string", help: "file format type raw,bochs,qcow,qcow2,qed,vmdk" },
    { name: "backing-vol", type: "string", help: "the backing volume if taking a snapshot" },
    { name: "backing-vol-format", type: "string", help: "format of backing volume if taking a snapshot" },
    preallocOpt,
    { name: "print-xml", type: "bool", help: "print XML document, but don't define/create" },
  ],
  async run(ctx, cmd) {
    const printXML = cmd.bool("print-xml");
    const flags = cmd.bool("prealloc-metadata") ? StorageVolCreateFlags.PREALLOC_METADATA : 0;
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    const { pool } = found;
    const name = ctx.optString(cmd, "name");
    if (!name) return false;
    const capacityStr = ctx.optString(cmd, "capacity");
    if (!capacityStr) return false;
    const capacity = volSize(capacityStr);
    if (typeof capacity !== "bigint") return malformed(ctx, capacityStr, capacity);
    // vshCommandOptStringQuiet: an empty --allocation counts as not given.
    const allocationStr = cmd.raw("allocation") || undefined;
    let allocation: bigint | undefined;
    if (allocationStr !== undefined) {
      const a = volSize(allocationStr);
      if (typeof a !== "bigint") return malformed(ctx, allocationStr, a);
      allocation = a;
    }
    const format = ctx.optString(cmd, "format");
    if (format === null) return false;
    const backing = ctx.optString(cmd, "backing-vol");
    if (backing === null) return false;
    const backingFormat = ctx.optString(cmd, "backing-vol-format");
    if (backingFormat === null) return false;
    let xml = `<volume>\n  <name>${name}</name>\n  <capacity>${capacity}</capacity>\n`;
    if (allocation !== undefined) xml += `  <allocation>${allocation}</allocation>\n`;
    if (format !== undefined) xml += `  <target>\n    <format type='${format}'/>\n  </target>\n`;
    if (backing !== undefined) {
      const conn = ctx.connection();
      let err: unknown;
      const tryLookup = (f: () => Promise<StorageVol>): Promise<StorageVol | undefined> =>
        f().catch((e: unknown) => {
          err = e;
          return undefined;
        });
      const snap =
        (await tryLookup(() => pool.storageVolLookupByName(backing))) ??
        (await tryLookup(() => conn.storageVolLookupByKey(backing))) ??
        (await tryLookup(() => conn.storageVolLookupByPath(backing)));
      if (!snap) return ctx.fail(`failed to get vol '${backing}'`, err);
      let path: string;
      try {
        path = await snap.getPath();
      } catch (e) {
        return ctx.fail(undefined, e);
      }
      xml += `  <backingStore>\n    <path>${path}</path>\n`;
      if (backingFormat !== undefined) xml += `    <format type='${backingFormat}'/>\n`;
      xml += "  </backingStore>\n";
    }
    xml += "</volume>\n";
    if (printXML) {
      ctx.print(xml);
      ctx.emit({ xml });
      return true;
    }
    let vol: StorageVol;
    try {
      vol = await pool.storageVolCreateXML(xml, flags);
    } catch (e) {
      return ctx.fail(`Failed to create vol ${name}`, e);
    }
    ctx.printExtra(`Vol ${name} created\n`);
    ctx.emit({ action: "created", volume: volJson(vol) });
    return true;
  },
};

/** "Malformed size X", plus virScaleInteger's own error when it raised one. */
function malformed(ctx: Ctx, text: string, why: "malformed" | VirtError): false {
  return ctx.fail(`Malformed size ${text}`, why === "malformed" ? undefined : why);
}

const volCreateFrom: Cmd = {
  name: "vol-create-from",
  group: "volume",
  help: "create a vol, using another volume as input",
  desc: "Create a vol from an existing volume.",
  opts: [
    poolOpt(),
    fileOpt("file containing an XML vol description"),
    volOpt(),
    { name: "inputpool", type: "string", help: "pool name or uuid of the input volume's pool" },
    preallocOpt,
    reflinkOpt,
    validateOpt,
  ],
  async run(ctx, cmd) {
    const found = await findPool(ctx, cmd);
    if (!found) return false;
    let flags = 0;
    if (cmd.bool("prealloc-metadata")) flags |= StorageVolCreateFlags.PREALLOC_METADATA;
    if (cmd.bool("reflink")) flags |= StorageVolCreateFlags.REFLINK;
    if (cmd.bool("validate")) flags |= StorageVolCreateFlags.VALIDATE;
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const input = await findVol(ctx, cmd, "vol", "inputpool");
    if (!input) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    let vol: StorageVol;
    try {
      vol = await found.pool.storageVolCreateXMLFrom(xml, input.vol, flags);
    } catch (e) {
      return ctx.fail(`Failed to create vol from ${from}`, e);
    }
    ctx.printExtra(`Vol ${vol.name} created from input vol ${input.vol.name}\n`);
    ctx.emit({ action: "created", volume: volJson(vol), from: volJson(input.vol), file: from });
    return true;
  },
};

/** virshMakeCloneXML: the volume's XML with a new `<name>`, serialized by libxml2. */
function makeCloneXML(xml: string, newName: string): string | undefined {
  let root: XElement;
  try {
    root = parseXmlTree(xml);
  } catch {
    return undefined;
  }
  const nameEl = root.children.find((c): c is XElement => c.kind === "element" && c.name === "name");
  if (root.name !== "volume" || !nameEl) return undefined;
  nameEl.children.splice(0, nameEl.children.length, {
    kind: "text",
    value: newName,
    parent: nameEl,
    order: 0,
  });
  return serializeNode(root);
}

const volClone: Cmd = {
  name: "vol-clone",
  group: "volume",
  help: "clone a volume.",
  desc: "Clone an existing volume within the parent pool.",
  opts: [
    volOpt(),
    { name: "newname", type: "data", required: true, help: "clone name" },
    poolOptional,
    preallocOpt,
    reflinkOpt,
    { name: "print-xml", type: "bool", help: "print XML document rather than clone the volume" },
  ],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const origvol = found.vol;
    let flags = 0;
    if (cmd.bool("prealloc-metadata")) flags |= StorageVolCreateFlags.PREALLOC_METADATA;
    if (cmd.bool("reflink")) flags |= StorageVolCreateFlags.REFLINK;
    let origpool: StoragePool;
    try {
      origpool = await origvol.lookupPool();
    } catch (e) {
      return ctx.fail("failed to get parent pool", e);
    }
    const name = ctx.optString(cmd, "newname");
    if (!name) return false;
    let origxml: string;
    try {
      origxml = await origvol.getXMLDesc(0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const newxml = makeCloneXML(origxml, name);
    if (newxml === undefined) return ctx.fail("Failed to allocate XML buffer");
    if (cmd.bool("print-xml")) {
      ctx.print(newxml);
      ctx.emit({ xml: newxml });
      return true;
    }
    let newvol: StorageVol;
    try {
      newvol = await origpool.storageVolCreateXMLFrom(newxml, origvol, flags);
    } catch (e) {
      return ctx.fail(`Failed to clone vol from ${origvol.name}`, e);
    }
    ctx.printExtra(`Vol ${newvol.name} cloned from ${origvol.name}\n`);
    ctx.emit({ action: "cloned", volume: volJson(newvol), from: volJson(origvol) });
    return true;
  },
};

const streamOpts = (what: "upload" | "download"): OptDef[] => [
  volOpt(),
  fileOpt("file"),
  poolOptional,
  { name: "offset", type: "int", help: `volume offset to ${what} ${what === "upload" ? "to" : "from"}` },
  { name: "length", type: "int", help: `amount of data to ${what}` },
  { name: "sparse", type: "bool", help: "preserve sparseness of volume" },
];

const CHUNK = 256 * 1024;
const BLOCK = 4096;

/** The runs of a chunk: data, or (when sparse) all-zero blocks as holes. */
export function* runsOf(buf: Uint8Array, sparse: boolean): Generator<Uint8Array | { hole: number }> {
  if (!sparse) {
    yield buf;
    return;
  }
  let start = 0;
  let zeroStart = -1;
  for (let off = 0; off < buf.length; off += BLOCK) {
    const block = buf.subarray(off, Math.min(off + BLOCK, buf.length));
    const zero = block.every((b) => b === 0);
    if (zero && zeroStart < 0) zeroStart = off;
    if (!zero && zeroStart >= 0) {
      if (zeroStart > start) yield buf.subarray(start, zeroStart);
      yield { hole: off - zeroStart };
      start = off;
      zeroStart = -1;
    }
  }
  if (zeroStart >= 0) {
    if (zeroStart > start) yield buf.subarray(start, zeroStart);
    yield { hole: buf.length - zeroStart };
  } else if (start < buf.length) yield buf.subarray(start);
}

const volUpload: Cmd = {
  name: "vol-upload",
  group: "volume",
  help: "upload file contents to a volume",
  desc: "Upload file contents to a volume",
  opts: streamOpts("upload"),
  async run(ctx, cmd) {
    const offset = optULongLong(ctx, cmd, "offset", false);
    if (offset === null) return false;
    const length = optULongLong(ctx, cmd, "length", true);
    if (length === null) return false;
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const file = ctx.optString(cmd, "file");
    if (!file) return false;
    let fh;
    try {
      fh = await open(file, "r");
    } catch {
      return ctx.fail(`cannot read ${file}`);
    }
    try {
      const sparse = cmd.bool("sparse");
      let sink;
      try {
        sink = await found.vol.upload(
          offset ?? 0n,
          length ?? 0n,
          sparse ? StorageVolUploadFlags.SPARSE_STREAM : 0,
        );
      } catch (e) {
        return ctx.fail(`cannot upload to volume ${found.name}`, e);
      }
      let sent = 0;
      try {
        const buf = new Uint8Array(CHUNK);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
          if (bytesRead === 0) break;
          for (const run of runsOf(buf.subarray(0, bytesRead), sparse)) {
            await sink.write(run instanceof Uint8Array ? run.slice() : run);
          }
          sent += bytesRead;
        }
      } catch (e) {
        await sink.abort().catch(() => undefined);
        return ctx.fail(`cannot send data to volume ${found.name}`, e);
      }
      try {
        await sink.finish();
      } catch (e) {
        return ctx.fail(`cannot close volume ${found.name}`, e);
      }
      ctx.emit({ action: "uploaded", volume: volJson(found.vol), file, bytes: sent });
      return true;
    } finally {
      await fh.close().catch(() => undefined);
    }
  },
};

const volDownload: Cmd = {
  name: "vol-download",
  group: "volume",
  help: "download volume contents to a file",
  desc: "Download volume contents to a file",
  opts: streamOpts("download"),
  async run(ctx, cmd) {
    const offset = optULongLong(ctx, cmd, "offset", false);
    if (offset === null) return false;
    const length = optULongLong(ctx, cmd, "length", true);
    if (length === null) return false;
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const file = ctx.optString(cmd, "file");
    if (!file) return false;
    const sparse = cmd.bool("sparse");
    let created = false;
    let fh;
    try {
      fh = await open(file, "wx", 0o666);
      created = true;
    } catch (e) {
      const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined;
      try {
        if (code !== "EEXIST") throw e;
        fh = await open(file, "r+");
        await fh.truncate(0);
      } catch {
        return ctx.fail(`cannot create ${file}`);
      }
    }
    let ok = false;
    try {
      const isBlock = (await fh.stat()).isBlockDevice();
      let stream;
      try {
        stream = await found.vol.download(
          offset ?? 0n,
          length ?? 0n,
          sparse ? StorageVolDownloadFlags.SPARSE_STREAM : 0,
        );
      } catch (e) {
        return ctx.fail(`cannot download from volume ${found.name}`, e);
      }
      let pos = 0;
      try {
        for await (const part of stream) {
          if (part instanceof Uint8Array) {
            await fh.write(part, 0, part.length, pos);
            pos += part.length;
          } else if (isBlock) {
            // A block device has no holes: the zeros are written.
            const zeros = new Uint8Array(Math.min(part.hole, CHUNK));
            for (let left = part.hole; left > 0; left -= zeros.length) {
              const n = Math.min(left, zeros.length);
              await fh.write(zeros, 0, n, pos);
              pos += n;
            }
          } else pos += part.hole;
        }
        if (!isBlock) await fh.truncate(pos);
      } catch (e) {
        await stream.close().catch(() => undefined);
        return ctx.fail(`cannot receive data from volume ${found.name}`, e);
      }
      ok = true;
      ctx.emit({ action: "downloaded", volume: volJson(found.vol), file, bytes: pos });
      return true;
    } finally {
      await fh.close().catch(() => undefined);
      if (!ok && created) await unlink(file).catch(() => undefined);
    }
  },
};

const volDelete: Cmd = {
  name: "vol-delete",
  group: "volume",
  help: "delete a vol",
  desc: "Delete a given vol.",
  opts: [
    volOpt(),
    poolOptional,
    {
      name: "delete-snapshots",
      type: "bool",
      help: "delete snapshots associated with volume (must be supported by storage driver)",
    },
  ],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const flags = cmd.bool("delete-snapshots") ? StorageVolDeleteFlags.WITH_SNAPSHOTS : 0;
    try {
      await found.vol.delete(flags);
    } catch (e) {
      return ctx.fail(`Failed to delete vol ${found.name}`, e);
    }
    ctx.printExtra(`Vol ${found.name} deleted\n`);
    ctx.emit({ action: "deleted", volume: volJson(found.vol) });
    return true;
  },
};

const volWipe: Cmd = {
  name: "vol-wipe",
  group: "volume",
  help: "wipe a vol",
  desc: "Ensure data previously on a volume is not accessible to future reads",
  opts: [
    volOpt(),
    poolOptional,
    {
      name: "algorithm",
      type: "string",
      help: "perform selected wiping algorithm",
      complete: "list",
      values: WIPE_ALGORITHMS,
    },
  ],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const algStr = ctx.optString(cmd, "algorithm");
    if (algStr === null) return false;
    let algorithm: number = StorageVolWipeAlgorithm.ZERO;
    if (algStr !== undefined) {
      algorithm = WIPE_ALGORITHMS.indexOf(algStr);
      if (algorithm < 0) return ctx.fail(`Unsupported algorithm '${algStr}'`);
    }
    try {
      try {
        await found.vol.wipePattern(algorithm, 0);
      } catch (e) {
        // Older drivers have only virStorageVolWipe, which writes zeros.
        if (!(e instanceof VirtError && e.virCode === 3 && algorithm === StorageVolWipeAlgorithm.ZERO))
          throw e;
        await found.vol.wipe(0);
      }
    } catch (e) {
      return ctx.fail(`Failed to wipe vol ${found.name}`, e);
    }
    ctx.printExtra(`Vol ${found.name} wiped\n`);
    ctx.emit({ action: "wiped", volume: volJson(found.vol), algorithm: WIPE_ALGORITHMS[algorithm]! });
    return true;
  },
};

const volResize: Cmd = {
  name: "vol-resize",
  group: "volume",
  help: "resize a vol",
  desc: "Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.\nSee blockresize for live resizing.",
  opts: [
    volOpt(),
    {
      name: "capacity",
      type: "data",
      required: true,
      help: "new capacity for the vol, as scaled integer (default bytes)",
    },
    poolOptional,
    { name: "allocate", type: "bool", help: "allocate the new capacity, rather than leaving it sparse" },
    {
      name: "delta",
      type: "bool",
      help: "use capacity as a delta to current size, rather than the new size",
    },
    { name: "shrink", type: "bool", help: "allow the resize to shrink the volume" },
  ],
  async run(ctx, cmd) {
    let delta = cmd.bool("delta");
    let flags = 0;
    if (cmd.bool("allocate")) flags |= StorageVolResizeFlags.ALLOCATE;
    if (cmd.bool("shrink")) flags |= StorageVolResizeFlags.SHRINK;
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const raw = ctx.optString(cmd, "capacity");
    if (!raw) return false;
    let capacityStr = raw.replace(/^[\t\n\v\f\r ]+/, "");
    if (capacityStr.startsWith("-")) {
      // The API takes a positive size; virsh reads a negative one as a shrink by that much.
      if (!cmd.bool("shrink")) return ctx.fail("negative size requires --shrink");
      capacityStr = capacityStr.slice(1);
      delta = true;
    }
    if (delta) flags |= StorageVolResizeFlags.DELTA;
    const capacity = volSize(capacityStr);
    if (typeof capacity !== "bigint") return malformed(ctx, capacityStr, capacity);
    const how = delta ? "by" : "to";
    try {
      await found.vol.resize(capacity, flags);
    } catch (e) {
      return ctx.fail(`Failed to change size of volume '${found.vol.name}' ${how} ${capacityStr}`, e);
    }
    ctx.printExtra(`Size of volume '${found.vol.name}' successfully changed ${how} ${capacityStr}\n`);
    ctx.emit({ action: "resized", volume: volJson(found.vol), capacity: Number(capacity), delta });
    return true;
  },
};

const volDumpxml: Cmd = {
  name: "vol-dumpxml",
  group: "volume",
  help: "vol information in XML",
  desc: "Output the vol information as an XML dump to stdout.",
  opts: [volOpt(), poolOptional, ...xpathOpts],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    let xml: string;
    try {
      xml = await found.vol.getXMLDesc(0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

const volPath: Cmd = {
  name: "vol-path",
  group: "volume",
  help: "returns the volume path for a given volume name or key",
  desc: "",
  opts: [volOpt("volume name or key"), poolOptional],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    let path: string;
    try {
      path = await found.vol.getPath();
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(`${path}\n`);
    ctx.emit({ path, volume: volJson(found.vol) });
    return true;
  },
};

const volKey: Cmd = {
  name: "vol-key",
  group: "volume",
  help: "returns the volume key for a given volume name or path",
  desc: "",
  opts: [volOpt("volume name or path"), poolOptional],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd);
    if (!found) return false;
    ctx.print(`${found.vol.key}\n`);
    ctx.emit({ key: found.vol.key, volume: volJson(found.vol) });
    return true;
  },
};

const volName: Cmd = {
  name: "vol-name",
  group: "volume",
  help: "returns the volume name for a given volume key or path",
  desc: "",
  opts: [volOpt("volume key or path")],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd, "vol", null, BYUUID);
    if (!found) return false;
    ctx.print(`${found.vol.name}\n`);
    ctx.emit({ name: found.vol.name, volume: volJson(found.vol) });
    return true;
  },
};

const volPool: Cmd = {
  name: "vol-pool",
  group: "volume",
  help: "returns the storage pool for a given volume key or path",
  desc: "",
  opts: [
    volOpt("volume key or path"),
    { name: "uuid", type: "bool", help: "return the pool uuid rather than pool name" },
  ],
  async run(ctx, cmd) {
    const found = await findVol(ctx, cmd, "vol", null, BYUUID);
    if (!found) return false;
    let pool: StoragePool;
    try {
      pool = await found.vol.lookupPool();
    } catch (e) {
      return ctx.fail("failed to get parent pool", e);
    }
    ctx.print(`${cmd.bool("uuid") ? pool.uuid : pool.name}\n`);
    ctx.emit({ pool: poolJson(pool), volume: volJson(found.vol) });
    return true;
  },
};

/** In virsh's table order (its `help pool` / `help volume` lists them so). */
export const storagePoolCommands: Cmd[] = [
  findSourcesAs,
  findSources,
  poolAutostart,
  poolBuild,
  poolXAs("create"),
  poolCreate,
  poolXAs("define"),
  poolDefine,
  poolDelete,
  poolDestroy,
  poolDumpxml,
  poolEdit,
  poolInfo,
  poolList,
  poolName,
  poolRefresh,
  poolStart,
  poolUndefine,
  poolUuid,
  poolEvent,
  poolCapabilities,
];

export const storageVolCommands: Cmd[] = [
  volClone,
  volCreateAs,
  volCreate,
  volCreateFrom,
  volDelete,
  volDownload,
  volDumpxml,
  volInfo,
  volKey,
  volList,
  volName,
  volPath,
  volPool,
  volResize,
  volUpload,
  volWipe,
];
