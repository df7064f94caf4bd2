/**
 * `migrate` and `migrate-postcopy` (virsh's cmdMigrate, cmdMigratePostCopy): the options map
 * to `MigrateFlags` and typed `MigrateParam`s; `--p2p` hands the whole migration to the source's
 * driver (virDomainMigrateToURI3), otherwise tvirsh connects to the destination and runs the
 * five phases (virDomainMigrate3). `--timeout` suspends the guest (or, with
 * `--timeout-postcopy`, switches to post-copy) when the migration takes longer;
 * `--postcopy-after-precopy` switches to post-copy when the first pre-copy pass is done (the
 * source's MIGRATION_ITERATION event with iteration 2, as virsh's cmdMigrate). `--verbose` polls
 * the job every 500 ms and redraws `\rMigration: [ 45 %]` on stderr (virsh's virshWatchJob and
 * virshPrintJobProgress; like virsh, whether or not stdout/stderr is a terminal), `[100 %]` and a
 * newline when the migration succeeded.
 */
import {
  connect,
  DomainEventId,
  MigrateFlags,
  MigrateParam,
  type Connection,
  type TypedParameter,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { domainOpt } from "./domain.ts";

type Cmd = CmdDef<Ctx>;

const bool = (name: string, help: string): OptDef => ({ name, type: "bool", help });
const str = (name: string, help: string): OptDef => ({ name, type: "string", help });
const num = (name: string, help: string): OptDef => ({ name, type: "int", help });

/** virsh's virshPrintJobProgress: whole percent done, 100 only once nothing remains. */
export function jobProgressLine(label: string, remaining: bigint, total: bigint): string {
  let pct = 100;
  if (remaining !== 0n) {
    pct = Math.trunc(100 - (Number(remaining) * 100) / Number(total));
    if (pct >= 100) pct = 99;
  }
  return `\r${label}: [${String(pct).padStart(3)} %]`;
}

const migrate: Cmd = {
  name: "migrate",
  group: "domain",
  help: "migrate domain to another host",
  desc: "Migrate domain to another host.  Add --live for live migration.",
  opts: [
    domainOpt(),
    {
      name: "desturi",
      type: "data",
      required: true,
      help: "connection URI of the destination host as seen from the client(normal migration) or source(p2p migration)",
    },
    bool("live", "live migration"),
    bool("offline", "offline migration"),
    bool("p2p", "peer-2-peer migration"),
    bool("direct", "direct migration"),
    bool("tunnelled", "tunnelled migration"),
    bool("persistent", "persist VM on destination"),
    bool("undefinesource", "undefine VM on source"),
    bool("suspend", "do not restart the domain on the destination host"),
    bool("copy-storage-all", "migration with non-shared storage with full disk copy"),
    bool(
      "copy-storage-inc",
      "migration with non-shared storage with incremental copy (same base image shared between source and destination)",
    ),
    bool(
      "copy-storage-synchronous-writes",
      "force guest disk writes to be synchronously written to the destination to improve storage migration convergence",
    ),
    bool("change-protection", "prevent any configuration changes to domain until migration ends"),
    bool("unsafe", "force migration even if it may be unsafe"),
    bool("verbose", "display the progress of migration"),
    bool("compressed", "compress repeated pages during live migration"),
    bool("auto-converge", "force convergence during live migration"),
    bool("rdma-pin-all", "pin all memory before starting RDMA live migration"),
    bool("abort-on-error", "abort on soft errors during migration"),
    bool("postcopy", "enable post-copy migration; switch to it using migrate-postcopy command"),
    bool("postcopy-after-precopy", "automatically switch to post-copy migration after one pass of pre-copy"),
    bool("postcopy-resume", "resume failed post-copy migration"),
    bool("zerocopy", "use zero-copy mechanism for migrating memory pages"),
    str("migrateuri", "migration URI, usually can be omitted"),
    str("graphicsuri", "graphics URI to be used for seamless graphics migration"),
    str("listen-address", "listen address that destination should bind to for incoming migration"),
    str("dname", "rename to new name during migration (if supported)"),
    num(
      "timeout",
      "run action specified by --timeout-* option (suspend by default) if live migration exceeds timeout (in seconds)",
    ),
    bool("timeout-suspend", "suspend the guest after timeout"),
    bool("timeout-postcopy", "switch to post-copy after timeout"),
    str("xml", "filename containing updated XML for the target"),
    str("migrate-disks", "comma separated list of disks to be migrated"),
    num("disks-port", "port to use by target server for incoming disks migration"),
    str("disks-uri", "URI to use for disks migration (overrides --disks-port)"),
    str("comp-methods", "comma separated list of compression methods to be used"),
    num("comp-mt-level", "compress level for multithread compression"),
    num("comp-mt-threads", "number of compression threads for multithread compression"),
    num("comp-mt-dthreads", "number of decompression threads for multithread compression"),
    num("comp-xbzrle-cache", "page cache size for xbzrle compression"),
    num("auto-converge-initial", "initial CPU throttling rate for auto-convergence"),
    num("auto-converge-increment", "CPU throttling rate increment for auto-convergence"),
    str("persistent-xml", "filename containing updated persistent XML for the target"),
    bool("tls", "use TLS for migration"),
    num("postcopy-bandwidth", "post-copy migration bandwidth limit in MiB/s"),
    bool("parallel", "enable parallel migration"),
    num("parallel-connections", "number of connections for parallel migration"),
    num("bandwidth", "migration bandwidth limit in MiB/s"),
    str("tls-destination", "override the destination host name used for TLS verification"),
  ],
  async run(ctx, cmd) {
    const F = MigrateFlags;
    if (cmd.bool("postcopy-resume") && !cmd.bool("postcopy"))
      return ctx.fail("Option --postcopy is required by option --postcopy-resume");
    const desturi = cmd.raw("desturi");
    if (desturi === undefined || desturi === "")
      return ctx.fail("command 'migrate' requires <desturi> option");
    const unsupported = ["direct", "tunneled", "rdma-pin-all", "tls"].find((o) => cmd.bool(o));
    if (unsupported !== undefined)
      return ctx.fail(`migration option --${unsupported} is not supported by tvirt yet`);
    let flags = 0;
    const flagOf: [string, number][] = [
      ["live", F.LIVE],
      ["offline", F.OFFLINE],
      ["p2p", F.PEER2PEER],
      ["persistent", F.PERSIST_DEST],
      ["undefinesource", F.UNDEFINE_SOURCE],
      ["suspend", F.PAUSED],
      ["change-protection", F.CHANGE_PROTECTION],
      ["unsafe", F.UNSAFE],
      ["compressed", F.COMPRESSED],
      ["auto-converge", F.AUTO_CONVERGE],
      ["abort-on-error", F.ABORT_ON_ERROR],
      ["postcopy", F.POSTCOPY],
      ["postcopy-resume", F.POSTCOPY_RESUME],
      ["parallel", F.PARALLEL],
      ["copy-storage-all", F.NON_SHARED_DISK],
      ["copy-storage-inc", F.NON_SHARED_INC],
      ["copy-storage-synchronous-writes", F.NON_SHARED_SYNCHRONOUS_WRITES],
    ];
    for (const [opt, f] of flagOf) if (cmd.bool(opt)) flags |= f;
    if (cmd.bool("postcopy-after-precopy") && !(flags & F.POSTCOPY))
      return ctx.fail("--postcopy-after-precopy can only be used with --postcopy");
    const params: TypedParameter[] = [];
    const text = (opt: string, field: string): boolean => {
      const v = ctx.optString(cmd, opt);
      if (v === null) return false;
      if (v !== undefined) params.push({ field, value: { type: 7, value: v } });
      return true;
    };
    const ullong = (opt: string, field: string): boolean => {
      const v = ctx.optInt(cmd, opt);
      if (v === null) return false;
      if (v !== undefined) params.push({ field, value: { type: 4, value: BigInt(v) } });
      return true;
    };
    const int = (opt: string, field: string): boolean => {
      const v = ctx.optInt(cmd, opt);
      if (v === null) return false;
      if (v !== undefined) params.push({ field, value: { type: 1, value: v } });
      return true;
    };
    if (
      !text("migrateuri", MigrateParam.URI) ||
      !text("graphicsuri", MigrateParam.GRAPHICS_URI) ||
      !text("listen-address", MigrateParam.LISTEN_ADDRESS) ||
      !text("dname", MigrateParam.DEST_NAME) ||
      !ullong("bandwidth", MigrateParam.BANDWIDTH) ||
      !ullong("postcopy-bandwidth", MigrateParam.BANDWIDTH_POSTCOPY) ||
      !int("parallel-connections", MigrateParam.PARALLEL_CONNECTIONS) ||
      !ullong("comp-xbzrle-cache", MigrateParam.COMPRESSION_XBZRLE_CACHE) ||
      !int("auto-converge-initial", MigrateParam.AUTO_CONVERGE_INITIAL) ||
      !int("auto-converge-increment", MigrateParam.AUTO_CONVERGE_INCREMENT) ||
      !int("disks-port", MigrateParam.DISKS_PORT) ||
      !text("disks-uri", MigrateParam.DISKS_URI)
    )
      return false;
    // virsh: one migrate_disks parameter per comma-separated target
    const disks = ctx.optString(cmd, "migrate-disks");
    if (disks === null) return false;
    for (const d of disks?.split(",") ?? [])
      if (d !== "") params.push({ field: MigrateParam.MIGRATE_DISKS, value: { type: 7, value: d } });
    for (const [opt, field] of [
      ["xml", MigrateParam.DEST_XML],
      ["persistent-xml", MigrateParam.PERSIST_XML],
    ] as const) {
      const file = ctx.optString(cmd, opt);
      if (file === null) return false;
      if (file !== undefined) {
        const xml = await ctx.readFile(file);
        if (xml === undefined) return ctx.fail(`cannot read file '${file}'`);
        params.push({ field, value: { type: 7, value: xml } });
      }
    }
    const timeout = ctx.optInt(cmd, "timeout");
    if (timeout === null) return false;
    if (timeout !== undefined && timeout < 1) return ctx.fail("migrate: Invalid timeout");
    if (timeout !== undefined && !(flags & F.LIVE))
      return ctx.fail("migrate: Unexpected timeout for offline migration");
    const dom = await ctx.domain(cmd);
    if (!dom) return false;

    const timers: NodeJS.Timeout[] = [];
    let done = false;
    // post-copy switches: retried until the migration has started on the source
    const startPostCopy = (): void => {
      if (done) return;
      dom.migrateStartPostCopy(0).catch(() => {
        if (!done) timers.push(setTimeout(startPostCopy, 200));
      });
    };
    let iterationCb: number | undefined;
    if (cmd.bool("postcopy-after-precopy")) {
      // virsh: MIGRATION_ITERATION 2 means the first pass is done; switch then
      try {
        iterationCb = await ctx
          .connection()
          .domainEventRegisterAny(dom, DomainEventId.MIGRATION_ITERATION, (_d, ev) => {
            if (ev.id === DomainEventId.MIGRATION_ITERATION && ev.iteration === 2) startPostCopy();
          });
      } catch (e) {
        return ctx.fail(undefined, e);
      }
    }
    const verbose = cmd.bool("verbose") && !ctx.json;
    if (verbose) {
      const poll = (): void => {
        dom
          .getJobInfo()
          .then((ji) => {
            if (!done && ji.dataTotal > 0n)
              ctx.io.err(jobProgressLine("Migration", ji.dataRemaining, ji.dataTotal));
          })
          .catch(() => undefined)
          .finally(() => {
            if (!done) timers.push(setTimeout(poll, 500));
          });
      };
      timers.push(setTimeout(poll, 500));
    }
    if (timeout !== undefined) {
      timers.push(
        setTimeout(() => {
          if (cmd.bool("timeout-postcopy")) startPostCopy();
          else void dom.suspend().catch(() => undefined);
        }, timeout * 1000),
      );
    }
    let dconn: Connection | undefined;
    try {
      if (flags & F.PEER2PEER) {
        await dom.migrateToURI3(desturi, params, flags);
      } else {
        dconn = await connect(desturi);
        await dom.migrate3(dconn, params, flags);
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    } finally {
      done = true;
      for (const t of timers) clearTimeout(t);
      if (iterationCb !== undefined)
        await ctx
          .connection()
          .domainEventDeregisterAny(iterationCb)
          .catch(() => undefined);
      await dconn?.close().catch(() => undefined);
    }
    if (verbose) ctx.io.err(jobProgressLine("Migration", 0n, 1n));
    ctx.emit({ action: "migrated", domain: dom.name, desturi, flags });
    return true;
  },
};

const migratePostcopy: Cmd = {
  name: "migrate-postcopy",
  group: "domain",
  help: "Switch running migration from pre-copy to post-copy",
  desc: "Switch running migration from pre-copy to post-copy. The migration must have been started with --postcopy option.",
  opts: [domainOpt()],
  async run(ctx, cmd: ParsedCmd<Ctx>) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      await dom.migrateStartPostCopy(0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ action: "postcopy-started", domain: dom.name });
    return true;
  },
};

export const migrateCommands: Cmd[] = [migrate, migratePostcopy];
