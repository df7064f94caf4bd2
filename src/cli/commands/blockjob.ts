/**
 * Block job commands over src/api/blockjobs.ts: blockcommit, blockpull, blockcopy, blockjob and
 * blockresize, printed as `tools/virsh-domain.c` (9.0) prints them: progress on stderr
 * (`\rBlock Copy: [ 42 %]`), the outcome on stdout, and the wait for a job as virsh's
 * virshBlockJobWait (poll the job every 500 ms, end on its BLOCK_JOB / BLOCK_JOB_2 event).
 */
import {
  domainBlockCommit,
  domainBlockCopy,
  domainBlockJobAbort,
  domainBlockJobSetSpeed,
  domainBlockPull,
  domainBlockRebase,
  domainBlockResize,
  domainGetBlockJobInfo,
  BLOCK_JOB_EVENT_IDS,
  type TypedParameter,
} from "../../api/blockjobs.ts";
import { VirtError, type Domain } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";
import { domJson, domainOpt } from "./domain.ts";
import { parseScaled } from "./tuning.ts";

type Cmd = CmdDef<Ctx>;

// virDomainBlockJobType names as virsh prints them
const JOB_TYPE_NAMES = [
  "Unknown job",
  "Block Pull",
  "Block Copy",
  "Block Commit",
  "Active Block Commit",
  "Backup",
];
const jobTypeName = (t: number): string => JOB_TYPE_NAMES[t] ?? "Unknown job";

// virConnectDomainEventBlockJobStatus
const COMPLETED = 0;
const FAILED = 1;
const CANCELED = 2;
const READY = 3;
const ABORT_ASYNC = 1;
const ABORT_PIVOT = 2;
const ULONG_MAX = 2n ** 64n - 1n;

/** virshPrintJobProgress: `\r<label>: [ nn %]` on stderr, never 100 before the end. */
function printProgress(ctx: Ctx, label: string, remaining: bigint, total: bigint): void {
  let progress = 100;
  if (remaining !== 0n) {
    progress = Math.trunc(100 - (Number(remaining) * 100) / Number(total));
    if (progress >= 100) progress = 99;
  }
  if (!ctx.json) ctx.io.err(`\r${label}: [${String(progress).padStart(3)} %]`);
}

/** virshBlockJobOptionBandwidth: MiB/s (bytes/s with --bytes); a scaled value is bytes. */
function optBandwidth(ctx: Ctx, cmd: ParsedCmd<Ctx>, bytes: boolean): bigint | null {
  const raw = cmd.raw("bandwidth");
  if (raw === undefined) return 0n;
  if (/^\s*\d+$/.test(raw)) {
    const n = BigInt(raw.trim());
    if (n <= ULONG_MAX) return n;
  }
  const scaled = parseScaled(raw, 1n, ULONG_MAX);
  if (scaled === null) {
    ctx.fail(`Scaled numeric value '${raw}' for <--bandwidth> option is malformed or out of range`);
    return null;
  }
  return bytes ? scaled : scaled >> 20n;
}

/** vshCommandOptTimeoutToMs: seconds > 0 as ms; 0 when not given; null (reported) when bad. */
function optTimeout(ctx: Ctx, cmd: ParsedCmd<Ctx>): number | null {
  const raw = cmd.raw("timeout");
  if (raw === undefined) return 0;
  const n = /^\s*\+?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > 4294967295 || n === 0) {
    ctx.fail(`Numeric value '${raw}' for <timeout> option is malformed or out of range`);
    return null;
  }
  if (n === 0 || n > Math.floor(2147483647 / 1000)) {
    ctx.fail("invalid timeout");
    return null;
  }
  return n * 1000;
}

/** vshCommandOptUInt / ULongLong for granularity and buf-size. */
function optUnsigned(ctx: Ctx, cmd: ParsedCmd<Ctx>, name: string, max: bigint): bigint | null {
  const raw = cmd.raw(name);
  if (raw === undefined) return 0n;
  const n = /^\s*\+?\d+$/.test(raw) ? BigInt(raw.trim()) : -1n;
  if (n < 0n || n > max) {
    ctx.fail(`Numeric value '${raw}' for <${name}> option is malformed or out of range`);
    return null;
  }
  return n;
}

interface Waiter {
  dom: Domain;
  dev: string;
  label: string;
  verbose: boolean;
  timeoutMs: number;
  async: boolean;
  status: number;
  ids: number[];
}

/** virshBlockJobWaitInit: listens to both block job events for the disk as the user named it. */
async function waitInit(
  ctx: Ctx,
  dom: Domain,
  dev: string,
  label: string,
  verbose: boolean,
  timeoutMs: number,
  async: boolean,
): Promise<Waiter> {
  const w: Waiter = { dom, dev, label, verbose, timeoutMs, async, status: -1, ids: [] };
  const conn = ctx.connection();
  for (const id of BLOCK_JOB_EVENT_IDS) {
    try {
      w.ids.push(
        await conn.domainEventRegisterAny(dom, id, (_d, ev) => {
          if ("disk" in ev && ev.disk === dev) w.status = ev.status;
        }),
      );
    } catch {
      // virsh falls back to polling when a callback cannot be registered
    }
  }
  return w;
}

async function waitFree(ctx: Ctx, w: Waiter | undefined): Promise<void> {
  if (!w) return;
  for (const id of w.ids)
    await ctx
      .connection()
      .domainEventDeregisterAny(id)
      .catch(() => undefined);
}

/** virshBlockJobWait: the job's end status (`DomainBlockJobStatus`), or -1 (reported). */
async function waitJob(ctx: Ctx, w: Waiter): Promise<number> {
  let retries = 5;
  const start = Date.now();
  let last = { cur: 0n, end: 0n };
  let ret: number;
  const both = w.ids.length === 2;
  for (;;) {
    let info;
    try {
      info = await domainGetBlockJobInfo(w.dom, w.dev, 0);
    } catch (e) {
      ctx.fail(`failed to query job for disk ${w.dev}`, e);
      return -1;
    }
    if (w.ids.length > 0 && w.status !== -1) {
      ret = w.status;
      break;
    }
    if (!both) {
      if (!info) {
        ret = COMPLETED;
        break;
      }
      if (info.end === info.cur && (w.ids.length === 0 || --retries === 0)) {
        ret = READY;
        break;
      }
    }
    const cur = info?.cur ?? 0n;
    const end = info?.end ?? 0n;
    if (w.verbose && (cur !== last.cur || end !== last.end)) printProgress(ctx, w.label, end - cur, end);
    last = { cur, end };
    if (ctx.interrupt.signal.aborted || (w.timeoutMs && Date.now() - start > w.timeoutMs)) {
      try {
        await domainBlockJobAbort(w.dom, w.dev, w.async ? ABORT_ASYNC : 0);
      } catch (e) {
        ctx.fail(`failed to abort job for disk '${w.dev}'`, e);
        return -1;
      }
      ret = CANCELED;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (w.verbose && (ret === COMPLETED || ret === READY)) printProgress(ctx, w.label, 0n, 1n);
  return ret;
}

const pathOpt = (help: string): { name: string; type: "data"; required: true; help: string } => ({
  name: "path",
  type: "data",
  required: true,
  help,
});

/** The part every waiting command shares: register, start, wait. */
async function runJob(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  opts: { blocking: boolean; label: string; verbose: boolean; timeoutMs: number; async: boolean },
  start: (dom: Domain, path: string) => Promise<void>,
): Promise<{ dom: Domain; path: string; status: number | undefined } | null> {
  const path = ctx.optString(cmd, "path");
  if (path === null || path === undefined) return null;
  const dom = await ctx.domain(cmd);
  if (!dom) return null;
  let w: Waiter | undefined;
  try {
    if (opts.blocking)
      w = await waitInit(ctx, dom, path, opts.label, opts.verbose, opts.timeoutMs, opts.async);
    try {
      await start(dom, path);
    } catch (e) {
      ctx.fail(undefined, e);
      return null;
    }
    if (!w) return { dom, path, status: undefined };
    const status = await waitJob(ctx, w);
    if (status < 0) return null;
    return { dom, path, status };
  } finally {
    await waitFree(ctx, w);
  }
}

/** The second phase of commit and copy: pivot, finish, or stay mirroring. */
async function conclude(
  ctx: Ctx,
  dom: Domain,
  path: string,
  how: "pivot" | "finish" | undefined,
  asyncAbort: boolean,
): Promise<boolean> {
  if (!how) return true;
  try {
    await domainBlockJobAbort(
      dom,
      path,
      (asyncAbort ? ABORT_ASYNC : 0) | (how === "pivot" ? ABORT_PIVOT : 0),
    );
  } catch (e) {
    return ctx.fail(`failed to ${how} job for disk ${path}`, e);
  }
  return true;
}

const blockcommit: Cmd = {
  name: "blockcommit",
  group: "domain",
  help: "Start a block commit operation.",
  desc: "Commit changes from a snapshot down to its backing image.",
  opts: [
    domainOpt(),
    pathOpt("fully-qualified path of disk"),
    { name: "bandwidth", type: "int", help: "bandwidth limit in MiB/s" },
    { name: "base", type: "string", help: "path of base file to commit into (default bottom of chain)" },
    { name: "shallow", type: "bool", help: "use backing file of top as base" },
    { name: "top", type: "string", help: "path of top file to commit from (default top of chain)" },
    { name: "active", type: "bool", help: "trigger two-stage active commit of top file" },
    { name: "delete", type: "bool", help: "delete files that were successfully committed" },
    { name: "wait", type: "bool", help: "wait for job to complete (with --active, wait for job to sync)" },
    { name: "verbose", type: "bool", help: "with --wait, display the progress" },
    { name: "timeout", type: "int", help: "implies --wait, abort if copy exceeds timeout (in seconds)" },
    { name: "pivot", type: "bool", help: "implies --active --wait, pivot when commit is synced" },
    { name: "keep-overlay", type: "bool", help: "implies --active --wait, quit when commit is synced" },
    { name: "async", type: "bool", help: "with --wait, don't wait for cancel to finish" },
    { name: "keep-relative", type: "bool", help: "keep the backing chain relatively referenced" },
    { name: "bytes", type: "bool", help: "the bandwidth limit is in bytes/s rather than MiB/s" },
  ],
  async run(ctx, cmd) {
    const verbose = cmd.bool("verbose");
    const pivot = cmd.bool("pivot");
    const finish = cmd.bool("keep-overlay");
    const active = cmd.bool("active") || pivot || finish;
    let blocking = cmd.bool("wait") || pivot || finish;
    const async = cmd.bool("async");
    const bytes = cmd.bool("bytes");
    if (!ctx.exclusive(cmd, "pivot", "keep-overlay")) return false;
    if (ctx.optString(cmd, "path") === null) return false;
    const base = ctx.optString(cmd, "base");
    const top = ctx.optString(cmd, "top");
    if (base === null || top === null) return false;
    const bandwidth = optBandwidth(ctx, cmd, bytes);
    if (bandwidth === null) return false;
    let flags = 0;
    if (bytes) flags |= 16;
    if (cmd.bool("shallow")) flags |= 1;
    if (cmd.bool("delete")) flags |= 2;
    if (active) flags |= 4;
    if (cmd.bool("keep-relative")) flags |= 8;
    const timeoutMs = optTimeout(ctx, cmd);
    if (timeoutMs === null) return false;
    if (timeoutMs) blocking = true;
    if (!blocking) {
      if (verbose)
        return ctx.fail("--verbose requires at least one of --timeout, --wait, --pivot, or --keep-overlay");
      if (async)
        return ctx.fail("--async requires at least one of --timeout, --wait, --pivot, or --keep-overlay");
    }
    const r = await runJob(
      ctx,
      cmd,
      { blocking, label: "Block commit", verbose, timeoutMs, async },
      (dom, path) => domainBlockCommit(dom, path, base ?? null, top ?? null, bandwidth, flags),
    );
    if (!r) return false;
    if (r.status === undefined) {
      ctx.print(active ? "Active Block Commit started" : "Block Commit started");
      ctx.emit({ domain: domJson(r.dom), path: r.path, started: true, active });
      return true;
    }
    if (r.status === CANCELED) {
      ctx.print("\nCommit aborted");
      return ctx.fail(undefined);
    }
    if (r.status === FAILED) {
      ctx.print("\nCommit failed");
      return ctx.fail(undefined);
    }
    let outcome: string;
    if (active) {
      if (pivot) {
        if (!(await conclude(ctx, r.dom, r.path, "pivot", async))) return false;
        outcome = "Successfully pivoted";
      } else if (finish) {
        if (!(await conclude(ctx, r.dom, r.path, "finish", async))) return false;
        outcome = "Commit complete, overlay image kept";
      } else outcome = "Now in synchronized phase";
    } else outcome = "Commit complete";
    ctx.print(`\n${outcome}`);
    ctx.emit({ domain: domJson(r.dom), path: r.path, outcome });
    return true;
  },
};

const blockpull: Cmd = {
  name: "blockpull",
  group: "domain",
  help: "Populate a disk from its backing image.",
  desc: "Populate a disk from its backing image.",
  opts: [
    domainOpt(),
    pathOpt("fully-qualified path of disk"),
    { name: "bandwidth", type: "int", help: "bandwidth limit in MiB/s" },
    { name: "base", type: "string", help: "path of backing file in chain for a partial pull" },
    { name: "wait", type: "bool", help: "wait for job to finish" },
    { name: "verbose", type: "bool", help: "with --wait, display the progress" },
    { name: "timeout", type: "int", help: "with --wait, abort if pull exceeds timeout (in seconds)" },
    { name: "async", type: "bool", help: "with --wait, don't wait for cancel to finish" },
    { name: "keep-relative", type: "bool", help: "keep the backing chain relatively referenced" },
    { name: "bytes", type: "bool", help: "the bandwidth limit is in bytes/s rather than MiB/s" },
  ],
  async run(ctx, cmd) {
    const blocking = cmd.bool("wait");
    const verbose = cmd.bool("verbose");
    const async = cmd.bool("async");
    const bytes = cmd.bool("bytes");
    if (verbose && !blocking) return ctx.fail("Option --wait is required by option --verbose");
    if (async && !blocking) return ctx.fail("Option --wait is required by option --async");
    if (ctx.optString(cmd, "path") === null) return false;
    const base = ctx.optString(cmd, "base");
    if (base === null) return false;
    const bandwidth = optBandwidth(ctx, cmd, bytes);
    if (bandwidth === null) return false;
    const timeoutMs = optTimeout(ctx, cmd);
    if (timeoutMs === null) return false;
    let flags = cmd.bool("keep-relative") ? 16 : 0;
    const r = await runJob(
      ctx,
      cmd,
      { blocking, label: "Block Pull", verbose, timeoutMs, async },
      (dom, path) => {
        if (base !== undefined || flags) {
          if (bytes) flags |= 64;
          return domainBlockRebase(dom, path, base ?? null, bandwidth, flags);
        }
        return domainBlockPull(dom, path, bandwidth, bytes ? 64 : 0);
      },
    );
    if (!r) return false;
    if (r.status === undefined) {
      ctx.print("Block Pull started");
      ctx.emit({ domain: domJson(r.dom), path: r.path, started: true });
      return true;
    }
    if (r.status === CANCELED || r.status === FAILED) {
      ctx.print(r.status === CANCELED ? "\nPull aborted" : "\nPull failed");
      return ctx.fail(undefined);
    }
    ctx.print("\nPull complete");
    ctx.emit({ domain: domJson(r.dom), path: r.path, outcome: "Pull complete" });
    return true;
  },
};

/** virsh's escaping of an attribute value (virBufferEscapeString). */
const xmlAttr = (s: string): string =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;")
    .replace(/"/g, "&quot;");

const blockcopy: Cmd = {
  name: "blockcopy",
  group: "domain",
  help: "Start a block copy operation.",
  desc: "Copy a disk backing image chain to dest.",
  opts: [
    domainOpt(),
    pathOpt("fully-qualified path of source disk"),
    { name: "dest", type: "string", help: "path of the copy to create" },
    { name: "bandwidth", type: "int", help: "bandwidth limit in MiB/s" },
    { name: "shallow", type: "bool", help: "make the copy share a backing chain" },
    { name: "reuse-external", type: "bool", help: "reuse existing destination" },
    { name: "blockdev", type: "bool", help: "copy destination is block device instead of regular file" },
    { name: "wait", type: "bool", help: "wait for job to reach mirroring phase" },
    { name: "verbose", type: "bool", help: "with --wait, display the progress" },
    { name: "timeout", type: "int", help: "implies --wait, abort if copy exceeds timeout (in seconds)" },
    { name: "pivot", type: "bool", help: "implies --wait, pivot when mirroring starts" },
    { name: "finish", type: "bool", help: "implies --wait, quit when mirroring starts" },
    { name: "async", type: "bool", help: "with --wait, don't wait for cancel to finish" },
    { name: "xml", type: "string", help: "filename containing XML description of the copy destination" },
    { name: "format", type: "string", help: "format of the destination file" },
    { name: "granularity", type: "int", help: "power-of-two granularity to use during the copy" },
    { name: "buf-size", type: "int", help: "maximum amount of in-flight data during the copy" },
    { name: "bytes", type: "bool", help: "the bandwidth limit is in bytes/s rather than MiB/s" },
    { name: "transient-job", type: "bool", help: "the copy job is not persisted if VM is turned off" },
    {
      name: "synchronous-writes",
      type: "bool",
      help: "the copy job forces guest writes to be synchronously written to the destination",
    },
    {
      name: "print-xml",
      type: "bool",
      help: "print the XML used to start the copy job instead of starting the job",
    },
  ],
  async run(ctx, cmd) {
    const verbose = cmd.bool("verbose");
    const pivot = cmd.bool("pivot");
    const finish = cmd.bool("finish");
    const blockdev = cmd.bool("blockdev");
    let blocking = cmd.bool("wait") || finish || pivot;
    const async = cmd.bool("async");
    const bytes = cmd.bool("bytes");
    const transientJob = cmd.bool("transient-job");
    const syncWrites = cmd.bool("synchronous-writes");
    const printXML = cmd.bool("print-xml");
    if (ctx.optString(cmd, "path") === null) return false;
    const dest = ctx.optString(cmd, "dest");
    const xml = ctx.optString(cmd, "xml");
    const format = ctx.optString(cmd, "format");
    if (dest === null || xml === null || format === null) return false;
    let bandwidth = optBandwidth(ctx, cmd, bytes);
    if (bandwidth === null) return false;
    const granularity = optUnsigned(ctx, cmd, "granularity", 4294967295n);
    if (granularity === null) return false;
    const bufSize = optUnsigned(ctx, cmd, "buf-size", ULONG_MAX);
    if (bufSize === null) return false;
    let flags = 0;
    if (cmd.bool("shallow")) flags |= 1;
    if (cmd.bool("reuse-external")) flags |= 2;
    if (transientJob) flags |= 4;
    if (syncWrites) flags |= 8;
    const timeoutMs = optTimeout(ctx, cmd);
    if (timeoutMs === null) return false;
    if (timeoutMs) blocking = true;
    if (!ctx.exclusive(cmd, "dest", "xml")) return false;
    if (!ctx.exclusive(cmd, "format", "xml")) return false;
    if (!ctx.exclusive(cmd, "blockdev", "xml")) return false;
    if (!ctx.exclusive(cmd, "pivot", "finish")) return false;
    if (dest === undefined && xml === undefined) return ctx.fail("need either --dest or --xml");
    if (!blocking) {
      if (verbose)
        return ctx.fail("--verbose requires at least one of --timeout, --wait, --pivot, or --finish");
      if (async) return ctx.fail("--async requires at least one of --timeout, --wait, --pivot, or --finish");
    }
    const newApi =
      granularity !== 0n ||
      bufSize !== 0n ||
      (format !== undefined && format !== "raw") ||
      xml !== undefined ||
      transientJob ||
      syncWrites ||
      printXML;
    let xmlstr: string | undefined;
    const params: TypedParameter[] = [];
    if (newApi) {
      if (bandwidth) {
        if (!bytes) {
          const limit = ULONG_MAX >> 20n;
          if (bandwidth > limit) return ctx.fail(`bandwidth must be less than ${limit}`);
          bandwidth <<= 20n;
        }
        params.push({ field: "bandwidth", value: { type: 4, value: bandwidth } });
      }
      if (granularity) params.push({ field: "granularity", value: { type: 2, value: Number(granularity) } });
      if (bufSize) params.push({ field: "buf-size", value: { type: 4, value: bufSize } });
      if (xml !== undefined) {
        // virsh reads the file after it looked the domain up; the order of errors follows below
      } else {
        xmlstr =
          `<disk type='${blockdev ? "block" : "file"}'>\n` +
          `  <source ${blockdev ? "dev" : "file"}='${xmlAttr(dest ?? "")}'/>\n` +
          (format !== undefined ? `  <driver type='${xmlAttr(format)}'/>\n` : "") +
          `</disk>\n`;
      }
    }
    const r = await runJob(
      ctx,
      cmd,
      { blocking: blocking && !printXML, label: "Block Copy", verbose, timeoutMs, async },
      async (dom, path) => {
        if (newApi) {
          if (xml !== undefined) {
            const text = await ctx.readFile(xml);
            if (text === undefined) throw ctx.lastError ?? new VirtError("CLI_FAILED", { message: xml });
            xmlstr = text;
          }
          if (printXML) {
            ctx.print(xmlstr ?? "");
            return;
          }
          await domainBlockCopy(dom, path, xmlstr ?? "", params, flags);
        } else {
          let f = flags | 8;
          if (blockdev) f |= 32;
          if (format === "raw") f |= 4;
          if (bytes) f |= 64;
          await domainBlockRebase(dom, path, dest ?? null, bandwidth, f);
        }
      },
    );
    if (!r) return false;
    if (printXML) {
      ctx.emit({ domain: domJson(r.dom), path: r.path, xml: xmlstr });
      return true;
    }
    if (r.status === undefined) {
      ctx.print("Block Copy started");
      ctx.emit({ domain: domJson(r.dom), path: r.path, started: true });
      return true;
    }
    if (r.status === CANCELED || r.status === FAILED) {
      ctx.print(r.status === CANCELED ? "\nCopy aborted" : "\nCopy failed");
      return ctx.fail(undefined);
    }
    let outcome: string;
    if (pivot) {
      if (!(await conclude(ctx, r.dom, r.path, "pivot", async))) return false;
      outcome = "Successfully pivoted";
    } else if (finish) {
      if (!(await conclude(ctx, r.dom, r.path, "finish", async))) return false;
      outcome = "Successfully copied";
    } else outcome = "Now in mirroring phase";
    ctx.print(`\n${outcome}`);
    ctx.emit({ domain: domJson(r.dom), path: r.path, outcome });
    return true;
  },
};

/** vshPrettyCapacity: the value in the largest binary unit below it (as a double). */
function prettyUnit(bytes: bigint): { val: number; unit: string } {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let k = 0;
  while (k < 6 && bytes >= 1024n ** BigInt(k + 1)) k++;
  return { val: Number(bytes) / 1024 ** k, unit: units[k]! };
}

const blockjob: Cmd = {
  name: "blockjob",
  group: "domain",
  help: "Manage active block operations",
  desc: "Query, adjust speed, or cancel active block operations.",
  opts: [
    domainOpt(),
    pathOpt("fully-qualified path of disk"),
    { name: "abort", type: "bool", help: "abort the active job on the specified disk" },
    { name: "async", type: "bool", help: "implies --abort; request but don't wait for job end" },
    { name: "pivot", type: "bool", help: "implies --abort; conclude and pivot a copy or commit job" },
    { name: "info", type: "bool", help: "get active job information for the specified disk" },
    { name: "bytes", type: "bool", help: "get/set bandwidth in bytes rather than MiB/s" },
    { name: "raw", type: "bool", help: "implies --info; output details rather than human summary" },
    { name: "bandwidth", type: "int", help: "set the bandwidth limit in MiB/s" },
  ],
  async run(ctx, cmd) {
    const raw = cmd.bool("raw");
    const bytes = cmd.bool("bytes");
    const abortMode = cmd.bool("abort");
    const pivot = cmd.bool("pivot");
    const async = cmd.bool("async");
    const bandwidthSet = cmd.has("bandwidth");
    for (const [a, b] of [
      ["raw", "abort"],
      ["raw", "pivot"],
      ["raw", "async"],
      ["raw", "bandwidth"],
      ["info", "abort"],
      ["info", "pivot"],
      ["info", "async"],
      ["info", "bandwidth"],
      ["bytes", "abort"],
      ["bytes", "pivot"],
      ["bytes", "async"],
    ] as const)
      if (!ctx.exclusive(cmd, a, b)) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const path = ctx.optString(cmd, "path");
    if (path === null || path === undefined) return false;
    try {
      if (bandwidthSet) {
        const bw = optBandwidth(ctx, cmd, bytes);
        if (bw === null) return false;
        await domainBlockJobSetSpeed(dom, path, bw, bytes ? 1 : 0);
        ctx.emit({ domain: domJson(dom), path, bandwidth: Number(bw), bytes });
        return true;
      }
      if (abortMode || pivot || async) {
        await domainBlockJobAbort(dom, path, (async ? ABORT_ASYNC : 0) | (pivot ? ABORT_PIVOT : 0));
        ctx.emit({ domain: domJson(dom), path, aborted: true, pivot });
        return true;
      }
      // virsh asks in bytes/s first (raw mode asks MiB/s unless --bytes)
      const inBytes = bytes || !raw;
      const info = await domainGetBlockJobInfo(dom, path, inBytes ? 1 : 0);
      if (!info) {
        if (!raw) ctx.printExtra(`No current block job for ${path}`);
        ctx.emit({ domain: domJson(dom), path, job: null });
        return true;
      }
      if (raw) {
        ctx.print(
          ` type=${jobTypeName(info.type)}\n bandwidth=${info.bandwidth}\n cur=${info.cur}\n end=${info.end}\n`,
        );
      } else {
        printProgress(ctx, jobTypeName(info.type), info.end - info.cur, info.end);
        const speed = info.bandwidth;
        if (speed) {
          const { val, unit } = prettyUnit(speed);
          ctx.print(`    Bandwidth limit: ${speed} bytes/s (${val.toFixed(3)} ${unit}/s)`);
        }
        ctx.print("\n");
      }
      ctx.emit({
        domain: domJson(dom),
        path,
        job: {
          type: jobTypeName(info.type),
          bandwidth: Number(info.bandwidth),
          bandwidthUnit: inBytes ? "bytes/s" : "MiB/s",
          cur: Number(info.cur),
          end: Number(info.end),
        },
      });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

const blockresize: Cmd = {
  name: "blockresize",
  group: "domain",
  help: "Resize block device of domain.",
  desc: "Resize block device of domain.",
  opts: [
    domainOpt(),
    pathOpt("Fully-qualified path of block device"),
    {
      name: "size",
      type: "int",
      required: true,
      help: "New size of the block device, as scaled integer (default KiB)",
    },
  ],
  async run(ctx, cmd) {
    const path = ctx.optString(cmd, "path");
    if (path === null || path === undefined) return false;
    const raw = cmd.raw("size") ?? "";
    let size = parseScaled(raw, 1024n, ULONG_MAX);
    if (size === null) {
      // virScaleInteger's own error follows virsh's line when the number is fine but the suffix not
      const m = /^\s*\d+\s*([A-Za-z]+)$/.exec(raw);
      const cause = m ? new VirtError("SCALE_UNKNOWN_SUFFIX", { suffix: m[1]! }) : undefined;
      return ctx.fail(`Scaled numeric value '${raw}' for <size> option is malformed or out of range`, cause);
    }
    let flags = 0;
    // virsh prefers the older KiB interface
    if (size % 1024n === 0n) size /= 1024n;
    else flags |= 1;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      await domainBlockResize(dom, path, size, flags);
    } catch (e) {
      return ctx.fail(`Failed to resize block device '${path}'`, e);
    }
    ctx.printExtra(`Block device '${path}' is resized`);
    ctx.emit({ domain: domJson(dom), path, size: Number(flags ? size : size * 1024n) });
    return true;
  },
};

export const blockJobCommands: Cmd[] = [blockcommit, blockcopy, blockjob, blockpull, blockresize];
