/**
 * Migration between hosts (libvirt's `qemu_migration.c`), protocol version 3 with typed
 * parameters: begin (source: the migratable XML), prepare (destination: QEMU started with
 * `-incoming defer`, listening with `migrate-incoming tcp:ADDR:PORT`, the port from the
 * migration range 49152–49215), perform (source: capabilities and parameters, `migrate`,
 * `query-migrate` until done), finish (destination: resume or keep paused, persist), confirm
 * (source: stop and maybe undefine, or resume the guest when anything failed).
 *
 * Peer-to-peer (`MigrateFlags.PEER2PEER`): perform on the source runs every phase itself,
 * reaching the destination through `openMigrationPeer` (the remote driver in tvirtd). Without
 * it the client (virsh, `Domain.migrate`) calls the five phases on both sides.
 *
 * Cookies between tvirt drivers are small JSON documents. A failure in any phase leaves the
 * guest running on exactly one host: the destination's QEMU is killed when the migration did
 * not complete, the source resumes its guest when the destination did not take it.
 */
import { type DomainDef, formatDomainXML } from "../../../conf/domain/index.ts";
import { PortAllocator } from "../../../host/ports.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { HypervisorDriver, TypedParameter } from "../../driver.ts";
import {
  DomainEventDefinedDetail,
  DomainEventId,
  DomainEventResumedDetail,
  DomainEventStartedDetail,
  DomainEventStoppedDetail,
  DomainEventSuspendedDetail,
  DomainEventType,
  DomainEventUndefinedDetail,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  DrvFeature,
  MigrateFlags,
  MigrateParam,
} from "../../enums.ts";
import { openMigrationPeer } from "../../migration-peer.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import {
  activeStreamJob,
  beginStreamJob,
  endStreamJob,
  MIG_BANDWIDTH_DEFAULT,
  migrationMaxBandwidth,
  type StreamJob,
} from "./jobs.ts";
import { appendLog } from "./log.ts";
import { checkPreflight, destinationFacts } from "./migration-preflight.ts";
import {
  checkStorageRequest,
  copiesStorage,
  disksPortParam,
  disksUriParam,
  disksToCopy,
  type IncomingStorage,
  type NbdCookie,
  precreateStorage,
  removePrecreated,
  STORAGE_FLAGS,
  startNbdServer,
  stopNbdServer,
  StorageMirror,
  storageBeginCookie,
} from "./migration-storage.ts";
import {
  clearMigrationJob,
  enterPostcopyFailed,
  isPostcopyStatus,
  recordMigrationPhase,
} from "./migration-job.ts";
import { startProcess, stopProcess } from "./process.ts";

const F = MigrateFlags;

/** Flags this driver implements. */
const SUPPORTED =
  F.LIVE |
  F.PEER2PEER |
  F.PERSIST_DEST |
  F.UNDEFINE_SOURCE |
  F.PAUSED |
  F.OFFLINE |
  F.COMPRESSED |
  F.ABORT_ON_ERROR |
  F.AUTO_CONVERGE |
  F.POSTCOPY |
  F.PARALLEL |
  F.CHANGE_PROTECTION |
  F.UNSAFE |
  F.POSTCOPY_RESUME |
  STORAGE_FLAGS;

/** libvirt's default migration port range (qemu.conf `migration_port_min/max`). */
const MIGRATION_PORTS = { min: 49152, max: 49215 };
/** Without `--bandwidth`: as fast as the link goes (libvirt's QEMU_DOMAIN_MIG_BANDWIDTH_MAX). */
export const UNLIMITED_BANDWIDTH = 8796093022207;
/**
 * Without `--bandwidth` (or a migrate-setspeed): QEMU's own default `max-bandwidth` (7.2's
 * MAX_THROTTLE, 128 MiB/s), set again in case an earlier migration of this QEMU changed it.
 * libvirt sets unlimited instead; but QEMU switches over (stops the guest and sends the rest)
 * once what is left fits `downtime-limit` at the bandwidth it measures, and unlimited makes that
 * bandwidth high, so QEMU switched over in the middle of the first memory pass with tens of MiB
 * left to send while the guest was stopped: 2-3x the downtime of QEMU's defaults for the bench's
 * guest (bench/migration.bench.ts), for a migration faster by a few hundred ms. A user who wants
 * the link's full speed gives `--bandwidth`.
 */
const DEFAULT_BANDWIDTH = Number(MIG_BANDWIDTH_DEFAULT) * 1024 * 1024;

const portsOf = new WeakMap<QemuDriver, PortAllocator>();
export function migrationPorts(drv: QemuDriver): PortAllocator {
  let p = portsOf.get(drv);
  if (!p) {
    p = new PortAllocator("migration", MIGRATION_PORTS);
    portsOf.set(drv, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// parameters and cookies
// ---------------------------------------------------------------------------------------------

function param(params: readonly TypedParameter[], name: string): TypedParameter["value"] | undefined {
  for (let i = params.length - 1; i >= 0; i--) if (params[i]!.field === name) return params[i]!.value;
  return undefined;
}
export function strParam(params: readonly TypedParameter[], name: string): string | undefined {
  const v = param(params, name);
  return v?.type === 7 ? v.value : undefined;
}
export function numParam(params: readonly TypedParameter[], name: string): number | undefined {
  const v = param(params, name);
  if (v === undefined) return undefined;
  if (v.type === 3 || v.type === 4) return Number(v.value);
  if (v.type === 1 || v.type === 2 || v.type === 5) return v.value;
  return undefined;
}

export interface Cookie {
  readonly hostname?: string;
  readonly name?: string;
  readonly uuid?: string;
  /** The persistent definition for `--persistent` (begin → finish). */
  readonly persistent?: string;
  /** Perform switched to post-copy (perform → finish). */
  readonly postcopy?: boolean;
  /** Storage migration: the copied disks (begin → prepare), the NBD port (prepare → perform). */
  readonly nbd?: NbdCookie;
}
export function encodeCookie(c: Cookie): Uint8Array {
  return Buffer.from(JSON.stringify({ tvirt: 1, ...c }));
}
export function decodeCookie(b: Uint8Array): Cookie {
  if (b.length === 0) return {};
  try {
    const v = JSON.parse(Buffer.from(b).toString("utf8")) as unknown;
    return typeof v === "object" && v !== null ? v : {};
  } catch {
    throw new VirtError("QEMU_MIGRATION_FAILED", {
      phase: "cookie",
      reason: "the migration cookie is not one of tvirt's (is the peer libvirt?)",
    });
  }
}

/** `tcp:HOST:PORT`, `tcp://HOST:PORT` or `tcp://HOST` → parts (HOST without brackets). */
export function parseTcpUri(uri: string): { host: string; port?: number } {
  const m = /^tcp:(?:\/\/)?(\[[^\]]+\]|[^:/[\]]+)(?::(\d+))?\/?$/.exec(uri);
  if (!m) {
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: `migration URI '${uri}' is not supported: use tcp://HOST[:PORT]`,
    });
  }
  const host = m[1]!.replace(/^\[|\]$/g, "");
  return m[2] !== undefined ? { host, port: Number(m[2]) } : { host };
}
export const hostPart = (h: string): string => (h.includes(":") ? `[${h}]` : h);

export function checkMigrateFlags(flags: number, func: string): void {
  const extra = flags & ~SUPPORTED;
  if (extra !== 0) {
    const names = Object.entries(F)
      .filter(([, v]) => (extra & v) !== 0)
      .map(([k]) => `VIR_MIGRATE_${k}`);
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: `${func}: migration flag(s) ${names.join(", ") || `0x${extra.toString(16)}`} not supported`,
    });
  }
  if (flags & F.OFFLINE) {
    if (!(flags & F.PERSIST_DEST))
      throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
        reason: "offline migration requires VIR_MIGRATE_PERSIST_DEST (--persistent)",
      });
    if (flags & F.POSTCOPY)
      throw new VirtError("QEMU_MIGRATION_INVALID", {
        reason: "post-copy migration is not supported with offline migration",
      });
  }
  if (flags & F.POSTCOPY_RESUME && !(flags & F.POSTCOPY))
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: "resuming failed post-copy migration requires post-copy to be enabled",
    });
  if (flags & F.POSTCOPY && !(flags & F.LIVE) && !(flags & F.OFFLINE) && !(flags & F.POSTCOPY_RESUME))
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: "post-copy migration requires VIR_MIGRATE_LIVE (--live)",
    });
}

// ---------------------------------------------------------------------------------------------
// QEMU capabilities and parameters
// ---------------------------------------------------------------------------------------------

/** The capabilities both QEMUs need alike (postcopy-ram, multifd) and the source's own. */
function capabilities(
  flags: number,
  side: "source" | "destination",
): { capability: string; state: boolean }[] {
  const caps: { capability: string; state: boolean }[] = [];
  if (flags & F.POSTCOPY) caps.push({ capability: "postcopy-ram", state: true });
  if (flags & F.PARALLEL) caps.push({ capability: "multifd", state: true });
  if (side === "source") {
    // MIGRATION_PASS events, for MIGRATION_ITERATION (libvirt enables them alike)
    caps.push({ capability: "events", state: true });
    if (flags & F.AUTO_CONVERGE) caps.push({ capability: "auto-converge", state: true });
    if (flags & F.COMPRESSED) caps.push({ capability: "xbzrle", state: true });
  }
  return caps;
}

function qemuParameters(
  flags: number,
  params: readonly TypedParameter[],
  side: "source" | "destination",
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flags & F.PARALLEL) {
    const n = numParam(params, MigrateParam.PARALLEL_CONNECTIONS);
    if (n !== undefined) out["multifd-channels"] = n;
  }
  if (side === "destination") return out;
  const bw = numParam(params, MigrateParam.BANDWIDTH);
  out["max-bandwidth"] = bw !== undefined && bw > 0 ? bw * 1024 * 1024 : DEFAULT_BANDWIDTH;
  const bwPost = numParam(params, MigrateParam.BANDWIDTH_POSTCOPY);
  if (bwPost !== undefined && bwPost > 0) out["max-postcopy-bandwidth"] = bwPost * 1024 * 1024;
  const initial = numParam(params, MigrateParam.AUTO_CONVERGE_INITIAL);
  if (initial !== undefined) out["cpu-throttle-initial"] = initial;
  const inc = numParam(params, MigrateParam.AUTO_CONVERGE_INCREMENT);
  if (inc !== undefined) out["cpu-throttle-increment"] = inc;
  const cache = numParam(params, MigrateParam.COMPRESSION_XBZRLE_CACHE);
  if (cache !== undefined) out["xbzrle-cache-size"] = cache;
  return out;
}

async function applyQemuSettings(
  qmp: QmpClient,
  flags: number,
  params: readonly TypedParameter[],
  side: "source" | "destination",
): Promise<void> {
  const caps = capabilities(flags, side);
  // settings of an earlier migration of this QEMU go back to their defaults first
  const all = ["postcopy-ram", "multifd", "auto-converge", "xbzrle", "events"].filter(
    (c) => side === "source" || c === "postcopy-ram" || c === "multifd",
  );
  const list = all.map((c) => caps.find((x) => x.capability === c) ?? { capability: c, state: false });
  await qmp.execute("migrate-set-capabilities", { capabilities: list });
  const p = qemuParameters(flags, params, side);
  if (Object.keys(p).length > 0) await qmp.execute("migrate-set-parameters", p);
}

export interface QueryMigrate {
  status?: string;
  "error-desc"?: string;
  ram?: { "dirty-sync-count"?: number };
}

// ---------------------------------------------------------------------------------------------
// state of migrations in flight
// ---------------------------------------------------------------------------------------------

/** Outgoing migrations by domain UUID (for start-postcopy while perform waits). */
interface Outgoing {
  readonly flags: number;
  qmp?: QmpClient;
  postcopyStarted: boolean;
  /** QEMU's memory pass (MIGRATION_PASS, `dirty-sync-count`): 2 once the first pass is done. */
  pass: number;
}
const outgoing = new WeakMap<QemuDriver, Map<string, Outgoing>>();
function outgoingOf(drv: QemuDriver): Map<string, Outgoing> {
  let m = outgoing.get(drv);
  if (!m) {
    m = new Map();
    outgoing.set(drv, m);
  }
  return m;
}

/** Incoming migrations by domain UUID, from prepare to finish. */
interface Incoming {
  readonly obj: QemuDomainObj;
  readonly created: boolean;
  /** The persistent definition the domain had here before (kept when the migration fails). */
  readonly previous: DomainDef | undefined;
  readonly port: number | undefined;
  readonly flags: number;
  /** The "migration in" job (statistics for domjobinfo). */
  readonly job: StreamJob | undefined;
  /** Storage migration: the NBD server and the images prepare created (migration-storage.ts). */
  readonly storage?: IncomingStorage;
  /** The connection that prepared it: when it closes before finish, the migration is abandoned. */
  readonly owner: object | undefined;
}
const incoming = new WeakMap<QemuDriver, Map<string, Incoming>>();
function incomingOf(drv: QemuDriver): Map<string, Incoming> {
  let m = incoming.get(drv);
  if (!m) {
    m = new Map();
    incoming.set(drv, m);
  }
  return m;
}

/** The state now (after an await, TypeScript's narrowing of `obj.state` no longer holds). */
function stateOf(obj: QemuDomainObj): DomainState {
  return obj.state;
}

export function activeRun(obj: QemuDomainObj): QemuRun {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  return run;
}
export function qmpOf(obj: QemuDomainObj, run: QemuRun): QmpClient {
  if (!run.qmp) throw new VirtError("QEMU_GUEST_QUIT", { name: obj.name, operation: "migration" });
  return run.qmp;
}

// ---------------------------------------------------------------------------------------------
// begin (source)
// ---------------------------------------------------------------------------------------------

function beginInternal(
  drv: QemuDriver,
  obj: QemuDomainObj,
  params: readonly TypedParameter[],
  flags: number,
): { xml: string; cookie: Cookie } {
  checkMigrateFlags(flags, "qemuDomainMigrateBegin3Params");
  checkStorageRequest(obj.def, params, flags);
  if (
    strParam(params, MigrateParam.DEST_NAME) !== undefined ||
    strParam(params, MigrateParam.DEST_XML) !== undefined
  )
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: "renaming a domain or changing its XML while migrating is not supported by tvirt yet",
    });
  if (flags & F.OFFLINE) {
    if (!obj.persistent)
      throw new VirtError("QEMU_MIGRATION_INVALID", { reason: "cannot migrate a transient domain offline" });
    if (obj.isActive())
      throw new VirtError("QEMU_MIGRATION_INVALID", {
        reason: "domain is active: offline migration needs it shut off",
      });
  } else {
    activeRun(obj);
    if (obj.state === DomainState.PMSUSPENDED) throw new VirtError("QEMU_DOMAIN_PMSUSPENDED");
  }
  if (flags & F.UNDEFINE_SOURCE && !obj.persistent)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: "cannot undefine the source of a transient domain",
    });
  const def = flags & F.OFFLINE ? obj.persistentDef() : obj.def;
  const xml = formatDomainXML(def, { secure: true });
  const persistentXml = strParam(params, MigrateParam.PERSIST_XML);
  const cookie: Cookie = {
    hostname: drv.hostname(),
    name: obj.name,
    uuid: obj.uuid,
    ...(flags & F.PERSIST_DEST && obj.persistent
      ? { persistent: persistentXml ?? formatDomainXML(obj.persistentDef(), { secure: true }) }
      : flags & F.PERSIST_DEST
        ? { persistent: persistentXml ?? xml }
        : {}),
  };
  return { xml, cookie };
}

export async function migrateBegin(
  drv: QemuDriver,
  obj: QemuDomainObj,
  params: TypedParameter[],
  flags: number,
): Promise<{ cookieOut: Uint8Array; xml: string }> {
  const job = await obj.job.acquire("query", "virDomainMigrateBegin3Params");
  try {
    const { xml, cookie } = beginInternal(drv, obj, params, flags);
    return { xml, cookieOut: encodeCookie({ ...cookie, ...(await storageBeginCookie(obj, params, flags)) }) };
  } finally {
    job.release();
  }
}

// ---------------------------------------------------------------------------------------------
// prepare (destination)
// ---------------------------------------------------------------------------------------------

export async function migratePrepare(
  drv: QemuDriver,
  params: TypedParameter[],
  cookieIn: Uint8Array,
  flags: number,
  owner?: object,
): Promise<{ cookieOut: Uint8Array; uriOut: string | null }> {
  checkMigrateFlags(flags, "qemuDomainMigratePrepare3Params");
  const cookieSrc = decodeCookie(cookieIn);
  const xml = strParam(params, MigrateParam.DEST_XML);
  if (xml === undefined)
    throw new VirtError("QEMU_MIGRATION_INVALID", { reason: "no domain XML passed to migration prepare" });
  const { def } = await drv.parseDomainWithCaps(xml, {});
  // everything that would make the guest fail here, reported at once (migration-preflight.ts)
  checkPreflight(def, await destinationFacts(drv, def, { sysfsRoot: drv.options.sysfsRoot }), {
    offline: (flags & F.OFFLINE) !== 0,
    copyStorage: copiesStorage(flags) && disksToCopy(def, params).map((d) => d.target.dev),
  });
  const dname = strParam(params, MigrateParam.DEST_NAME);
  if (dname !== undefined && dname !== def.name)
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: "renaming a domain while migrating is not supported",
    });

  if (flags & F.OFFLINE) {
    // the definition only: finish defines it
    const existing = drv.domains.byUuid(def.uuid) ?? drv.domains.byName(def.name);
    if (existing?.isActive()) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: existing.name });
    return { cookieOut: encodeCookie({ hostname: drv.hostname() }), uriOut: null };
  }

  // the domain object: new and transient, or an inactive definition of the same domain
  let obj: QemuDomainObj;
  let created = false;
  let previous: DomainDef | undefined;
  const existing = drv.domains.byUuid(def.uuid);
  if (existing) {
    if (existing.name !== def.name)
      throw new VirtError(
        "DOMAIN_UUID_EXISTS",
        { name: existing.name, uuid: existing.uuid },
        { uuid: def.uuid },
      );
    if (existing.isActive()) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: existing.name });
    obj = existing;
  } else {
    const byName = drv.domains.byName(def.name);
    if (byName)
      throw new VirtError("DOMAIN_NAME_EXISTS", { name: def.name, uuid: byName.uuid }, { name: def.name });
    obj = drv.newDomainObj(def);
    obj.starting = true;
    drv.domains.add(obj);
    created = true;
  }
  if (incomingOf(drv).has(obj.uuid))
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: `domain '${obj.name}' is already being migrated in`,
    });

  // where QEMU listens: the URI the caller gave (its host is what the source dials), else a
  // port of the range on the listen address, announced with this host's name
  const uriParam = strParam(params, MigrateParam.URI);
  const listenParam = strParam(params, MigrateParam.LISTEN_ADDRESS);
  const given = uriParam !== undefined ? parseTcpUri(uriParam) : undefined;
  const listen = listenParam ?? "0.0.0.0";
  let allocated: number | undefined;
  let port: number =
    given?.port ??
    (allocated = await migrationPorts(drv).acquire(
      listen === "0.0.0.0" || listen === "::" ? "0.0.0.0" : listen,
    ));
  const announce =
    given?.host ?? (listen === "0.0.0.0" || listen === "::" || listen === "[::]" ? drv.hostname() : listen);
  const uriFor = (p: number): string => `tcp:${hostPart(listen.replace(/^\[|\]$/g, ""))}:${p}`;
  const storage: IncomingStorage | undefined = copiesStorage(flags)
    ? { created: [], ports: migrationPorts(drv) }
    : undefined;

  try {
    await obj.job.acquire("modify", "virDomainMigratePrepare3Params").then(async (job) => {
      try {
        if (!created) {
          if (obj.isActive()) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: obj.name });
          previous = obj.def;
          obj.def = def;
        }
        if (storage) await precreateStorage(def, cookieSrc.nbd, params, storage.created);
        await startProcess(drv, obj, {
          api: "virDomainMigratePrepare3Params",
          paused: true,
          ...(previous ? { persistentDef: previous } : {}),
          incoming: async (_run, qmp) => {
            await applyQemuSettings(qmp, flags, params, "destination");
            if (storage) {
              const byUri = disksUriParam(params);
              const host = byUri?.host ?? listen.replace(/^\[|\]$/g, "");
              const nbdPort =
                byUri?.port ?? disksPortParam(params) ?? (storage.port = await storage.ports.acquire(host));
              await startNbdServer(qmp, obj.def, params, host, nbdPort);
              storage.nbdPort = nbdPort;
              await appendLog(
                drv.logPath(obj.name),
                `${new Date().toISOString()}: incoming disks: NBD server on ${hostPart(host)}:${nbdPort}\n`,
              );
            }
            for (let attempt = 1; ; attempt++) {
              try {
                await qmp.execute("migrate-incoming", { uri: uriFor(port) });
                break;
              } catch (e) {
                // another process bound the port between our check and QEMU's listen: a port
                // we chose is traded for the next free one (a port the caller gave is not)
                const busy = e instanceof Error && /Address already in use/.test(e.message);
                if (!busy || allocated === undefined || attempt >= 5) throw e;
                const bind = listen === "0.0.0.0" || listen === "::" ? "0.0.0.0" : listen;
                const next = await migrationPorts(drv).acquire(bind);
                migrationPorts(drv).release(allocated);
                allocated = next;
                port = next;
              }
            }
          },
          failure: (reason, details, cause) =>
            new VirtError("QEMU_MIGRATION_FAILED", { phase: "prepare", reason }, details, { cause }),
          runningReason: DomainRunningReason.MIGRATED,
        });
        obj.setState(DomainState.PAUSED, DomainPausedReason.MIGRATION);
      } finally {
        job.release();
      }
    });
  } catch (e) {
    if (allocated !== undefined) migrationPorts(drv).release(allocated);
    if (storage?.port !== undefined) storage.ports.release(storage.port);
    if (storage) await removePrecreated(storage.created);
    if (created) drv.removeDomain(obj, "its incoming migration failed");
    else if (previous && !obj.isActive()) obj.def = previous;
    throw e;
  } finally {
    obj.starting = false;
  }
  const inJob = obj.run ? beginStreamJob(obj, obj.run, "migration in") : undefined;
  incomingOf(drv).set(obj.uuid, {
    obj,
    created,
    previous,
    port: allocated,
    flags,
    job: inJob,
    owner,
    ...(storage ? { storage } : {}),
  });
  // a restarted daemon kills an incoming QEMU still in this phase (migration-recovery.ts)
  await recordMigrationPhase(drv, obj, "migration in", "prepare", flags).catch(() => undefined);
  drv.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.MIGRATED);
  return {
    cookieOut: encodeCookie({
      hostname: drv.hostname(),
      ...(storage?.nbdPort !== undefined ? { nbd: { port: storage.nbdPort } } : {}),
    }),
    uriOut: `tcp:${hostPart(announce)}:${port}`,
  };
}

// ---------------------------------------------------------------------------------------------
// perform (source)
// ---------------------------------------------------------------------------------------------

/** Runs QEMU's outgoing migration to `uri`; true when it ended in post-copy (still running). */
async function performInternal(
  drv: QemuDriver,
  obj: QemuDomainObj,
  uri: string,
  params: readonly TypedParameter[],
  flags: number,
  nbd?: NbdCookie,
  opts: { peer?: string; peerAlive?: () => Promise<boolean> } = {},
): Promise<{ postcopy: boolean }> {
  const run = activeRun(obj);
  const qmp = qmpOf(obj, run);
  const target = parseTcpUri(uri);
  if (target.port === undefined)
    throw new VirtError("QEMU_MIGRATION_INVALID", { reason: `migration URI '${uri}' has no port` });
  const entry: Outgoing = { flags, qmp, postcopyStarted: false, pass: 0 };
  const map = outgoingOf(drv);
  map.set(obj.uuid, entry);
  const wasRunning = obj.state === DomainState.RUNNING;
  // the speed set with migrate-setspeed applies when --bandwidth is not given
  const speed = migrationMaxBandwidth(obj);
  const effective =
    numParam(params, MigrateParam.BANDWIDTH) === undefined && speed !== undefined
      ? [...params, { field: MigrateParam.BANDWIDTH, value: { type: 4 as const, value: speed } }]
      : params;
  const streamJob = beginStreamJob(obj, run, "migration out");
  let last: QueryMigrate | undefined;
  let mirror: StorageMirror | undefined;
  // memory passes as events (MIGRATION_ITERATION; --postcopy-after-precopy waits for 2)
  let pass = 0;
  const offPass = qmp.onEvent((ev) => {
    const n = ev.data.pass;
    if (ev.event !== "MIGRATION_PASS" || typeof n !== "number" || n <= pass) return;
    pass = n;
    entry.pass = Math.max(entry.pass, n);
    drv.events.emit(obj.ref(), { id: DomainEventId.MIGRATION_ITERATION, iteration: n });
  });
  try {
    // a restart from here on cancels the migration and resumes the guest (migration-recovery.ts)
    await recordMigrationPhase(drv, obj, "migration out", "perform3", flags, {
      wasRunning,
      ...(opts.peer !== undefined ? { peer: opts.peer } : {}),
    });
    await applyQemuSettings(qmp, flags, effective, "source");
    if (copiesStorage(flags))
      mirror = await mirrorStorage(obj, run, qmp, streamJob, effective, flags, target.host, nbd);
    if (!(flags & F.LIVE) && wasRunning) {
      run.pausedReason = DomainPausedReason.MIGRATION;
      await qmp.execute("stop");
      if (obj.state === DomainState.RUNNING) {
        obj.setState(DomainState.PAUSED, DomainPausedReason.MIGRATION);
        drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.MIGRATED);
      }
    }
    // QEMU stops the CPUs at the switch-over: that pause is the migration's
    run.pausedReason = DomainPausedReason.MIGRATION;
    await qmp.execute("migrate", { uri: `tcp:${hostPart(target.host)}:${target.port}` });
    let delay = 10;
    for (;;) {
      if (obj.run !== run || run.ended)
        throw new VirtError("QEMU_GUEST_QUIT", { name: obj.name, operation: "migration" });
      const info = (await qmp.execute("query-migrate")) as QueryMigrate;
      const status = info.status ?? "none";
      if (status !== "none") {
        streamJob.last = info;
        last = info;
      }
      entry.pass = Math.max(entry.pass, info.ram?.["dirty-sync-count"] ?? 0);
      if (status === "completed") break;
      if (status === "postcopy-active" && entry.postcopyStarted) break;
      // libvirt's p2p check: a destination daemon that went away cannot finish the migration
      if (opts.peerAlive && !(await opts.peerAlive().catch(() => false)))
        throw new VirtError("QEMU_MIGRATION_FAILED", {
          phase: "perform",
          reason: "lost connection to destination host",
        });
      if (status === "failed" || status === "cancelled" || status === "none") {
        throw new VirtError("QEMU_MIGRATION_FAILED", {
          phase: "perform",
          reason:
            info["error-desc"] ??
            (status === "cancelled" ? "migration was cancelled" : `QEMU reports '${status}'`),
        });
      }
      if (mirror?.failure !== undefined)
        throw new VirtError("QEMU_MIGRATION_FAILED", { phase: "storage", reason: mirror.failure });
      if (
        flags & F.ABORT_ON_ERROR &&
        obj.state === DomainState.PAUSED &&
        obj.reason === DomainPausedReason.IOERROR
      ) {
        await qmp.execute("migrate_cancel").catch(() => undefined);
        throw new VirtError("QEMU_MIGRATION_FAILED", {
          phase: "perform",
          reason: "a disk I/O error happened",
        });
      }
      await new Promise<void>((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 50);
    }
    if (obj.state === DomainState.RUNNING || obj.reason !== DomainPausedReason.MIGRATION) {
      // the STOP event may still be on its way: the state says what happened
      obj.setState(
        DomainState.PAUSED,
        entry.postcopyStarted ? DomainPausedReason.POSTCOPY : DomainPausedReason.MIGRATION,
      );
    }
    // the guest is paused: the mirrors write what is left and end, the destination in sync
    await mirror?.cancel(false);
    mirror = undefined;
    // QEMU is done here: from now on the destination may own the guest (finish may run)
    await recordMigrationPhase(drv, obj, "migration out", "perform3_done", flags);
    // in post-copy the job goes on (domjobinfo, domjobabort --postcopy) until confirm
    if (!entry.postcopyStarted) endStreamJob(drv, obj, streamJob, "completed", last);
    return { postcopy: entry.postcopyStarted };
  } catch (e) {
    await qmp.execute("migrate_cancel").catch(() => undefined);
    await mirror?.cancel(true).catch(() => undefined);
    // an abort by the client (domjobabort) is reported as libvirt does: "canceled by client"
    const aborted = endStreamJob(
      drv,
      obj,
      streamJob,
      "failed",
      undefined,
      e instanceof Error ? e.message : String(e),
    );
    throw aborted ?? e;
  } finally {
    offPass();
    if (map.get(obj.uuid) === entry) map.delete(obj.uuid);
  }
}

/**
 * Storage migration (source): mirrors of the copied disks into the destination's NBD server
 * (its port from the prepare cookie, its host the migration URI's), READY before memory moves.
 */
async function mirrorStorage(
  obj: QemuDomainObj,
  run: QemuRun,
  qmp: QmpClient,
  job: StreamJob,
  params: readonly TypedParameter[],
  flags: number,
  host: string,
  nbd: NbdCookie | undefined,
): Promise<StorageMirror> {
  if (nbd?.port === undefined)
    throw new VirtError("QEMU_MIGRATION_FAILED", {
      phase: "storage",
      reason:
        "the destination did not start an NBD server for the disks (is it tvirt with storage migration?)",
    });
  const byUri = disksUriParam(params);
  const mirror = await StorageMirror.start(
    qmp,
    obj,
    params,
    flags,
    byUri?.host ?? host,
    byUri?.port ?? nbd.port,
  );
  job.refreshDisk = () => mirror.refresh(job);
  try {
    await mirror.waitReady(job, () => obj.run === run && !run.ended);
  } catch (e) {
    await mirror.cancel(true).catch(() => undefined);
    throw e;
  }
  return mirror;
}

/** Source after a completed migration: wait for post-copy to end, stop, maybe undefine. */
async function confirmInternal(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
  cancelled: boolean,
): Promise<void> {
  if (flags & F.OFFLINE) {
    if (!cancelled && flags & F.UNDEFINE_SOURCE && obj.persistent && !obj.isActive())
      await undefineSource(drv, obj);
    return;
  }
  const run = obj.run;
  if (!run || run.ended || !obj.isActive()) return;
  if (cancelled && run.qmp) {
    // post-copy still running (the destination daemon went away, its QEMU did not): the guest
    // runs there and only QEMU can finish it; the source waits for that as after a finish
    const info = (await run.qmp.execute("query-migrate").catch(() => ({}))) as QueryMigrate;
    if (info.status === "postcopy-active") cancelled = false;
  }
  if (cancelled) {
    // the destination did not take the guest: it goes on here
    if (run.qmp) {
      // never migrate_cancel in post-copy: QEMU would drop the pages only the source has
      let info = (await run.qmp.execute("query-migrate").catch(() => ({}))) as QueryMigrate;
      if (!isPostcopyStatus(info.status)) {
        await recordMigrationPhase(drv, obj, "migration out", "confirm3_cancelled", flags);
        await run.qmp.execute("migrate_cancel").catch(() => undefined);
        info = (await run.qmp.execute("query-migrate").catch(() => ({}))) as QueryMigrate;
      }
      if (isPostcopyStatus(info.status)) {
        const sj = activeStreamJob(obj);
        if (sj) endStreamJob(drv, obj, sj, "failed", undefined, "post-copy migration failed");
        await enterPostcopyFailed(drv, obj, "migration out", flags);
        return;
      } else if (
        obj.state === DomainState.PAUSED &&
        (obj.reason === DomainPausedReason.MIGRATION || obj.reason === DomainPausedReason.POSTCOPY)
      ) {
        run.runningReason = DomainRunningReason.MIGRATION_CANCELED;
        await run.qmp.execute("cont").catch(() => undefined);
        if (stateOf(obj) !== DomainState.RUNNING && obj.run === run) {
          obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATION_CANCELED);
          drv.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.MIGRATED);
        }
      }
    }
    await clearMigrationJob(drv, obj);
    return;
  }
  await recordMigrationPhase(drv, obj, "migration out", "confirm3", flags).catch(() => undefined);
  if (run.qmp) {
    // post-copy: the destination runs the guest; the source serves pages until QEMU says done
    for (;;) {
      const info = (await run.qmp
        .execute("query-migrate")
        .catch(() => ({ status: "completed" }))) as QueryMigrate;
      if (info.status === "postcopy-paused" || info.status === "postcopy-recover") {
        // broken on the way: both sides keep their part of the guest (--postcopy-resume)
        const failed = activeStreamJob(obj);
        if (failed) endStreamJob(drv, obj, failed, "failed", undefined, "post-copy migration failed");
        await enterPostcopyFailed(drv, obj, "migration out", flags);
        return;
      }
      if (info.status !== "postcopy-active") break;
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
  }
  const sj = activeStreamJob(obj);
  if (sj) endStreamJob(drv, obj, sj, "completed");
  run.stopping ??= { reason: DomainShutoffReason.MIGRATED, detail: DomainEventStoppedDetail.MIGRATED };
  await stopProcess(drv, obj, run, DomainShutoffReason.MIGRATED, "migrated");
  drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.MIGRATED);
  if (flags & F.UNDEFINE_SOURCE && obj.persistent) await undefineSource(drv, obj);
}

export async function undefineSource(drv: QemuDriver, obj: QemuDomainObj): Promise<void> {
  await drv.deleteConfig(obj);
  drv.lifecycle(obj, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED);
  obj.autostart = false;
  obj.persistent = false;
  if (!obj.isActive()) drv.removeDomain(obj, "the domain was migrated away and undefined");
}

/** Peer-to-peer: the source runs all five phases, the destination through `dconnuri`. */
async function performPeer2Peer(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dconnuri: string,
  params: TypedParameter[],
  flags: number,
): Promise<void> {
  let peer: HypervisorDriver;
  try {
    peer = await openMigrationPeer(dconnuri);
  } catch (e) {
    throw new VirtError(
      "QEMU_MIGRATION_FAILED",
      {
        phase: "connect",
        reason: `cannot connect to '${dconnuri}': ${e instanceof Error ? e.message : String(e)}`,
      },
      {},
      { cause: e },
    );
  }
  try {
    if (!peer.domainMigratePrepare3Params || !peer.domainMigrateFinish3Params)
      throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
        reason: `the destination '${dconnuri}' does not support migration with parameters`,
      });
    const begun = beginInternal(drv, obj, params, flags);
    const { xml } = begun;
    const cookie: Cookie = { ...begun.cookie, ...(await storageBeginCookie(obj, params, flags)) };
    let dflags = flags;
    if (!(flags & F.OFFLINE) && obj.state === DomainState.PAUSED) dflags |= F.PAUSED;
    const dparams: TypedParameter[] = [
      ...params.filter((p) => p.field !== MigrateParam.DEST_XML),
      { field: MigrateParam.DEST_XML, value: { type: 7, value: xml } },
    ];
    const prep = await peer.domainMigratePrepare3Params(dparams, encodeCookie(cookie), dflags);
    let failure: unknown;
    let postcopy = false;
    if (!(flags & F.OFFLINE)) {
      const uri = prep.uriOut ?? strParam(params, MigrateParam.URI);
      try {
        if (uri === undefined)
          throw new VirtError("QEMU_MIGRATION_FAILED", {
            phase: "prepare",
            reason: "the destination gave no URI",
          });
        const { nbd } = decodeCookie(prep.cookieOut);
        postcopy = (
          await performInternal(drv, obj, uri, params, flags, nbd, {
            peer: dconnuri,
            ...(peer.connectIsAlive ? { peerAlive: () => peer.connectIsAlive!() } : {}),
          })
        ).postcopy;
      } catch (e) {
        failure = e;
      }
    }
    let finished = false;
    try {
      await peer.domainMigrateFinish3Params(
        dparams,
        encodeCookie({ ...cookie, ...(postcopy ? { postcopy } : {}) }),
        dflags,
        failure !== undefined,
      );
      finished = failure === undefined;
    } catch (e) {
      failure ??= e;
    }
    await confirmInternal(drv, obj, flags, !finished);
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error("migration failed");
  } finally {
    await peer.connectClose().catch(() => undefined);
  }
}

export async function migratePerform(
  drv: QemuDriver,
  obj: QemuDomainObj,
  dconnuri: string | null,
  params: TypedParameter[],
  cookieIn: Uint8Array,
  flags: number,
): Promise<{ cookieOut: Uint8Array }> {
  checkMigrateFlags(flags, "qemuDomainMigratePerform3Params");
  const { nbd } = decodeCookie(cookieIn);
  const job = await obj.job.acquire("async", "virDomainMigratePerform3Params");
  try {
    if (flags & F.PEER2PEER) {
      if (dconnuri === null || dconnuri === "")
        throw new VirtError("QEMU_MIGRATION_INVALID", {
          reason: "peer-to-peer migration needs a destination URI",
        });
      await performPeer2Peer(drv, obj, dconnuri, params, flags);
      return { cookieOut: new Uint8Array() };
    }
    if (flags & F.OFFLINE) return { cookieOut: encodeCookie({}) };
    const uri = strParam(params, MigrateParam.URI);
    if (uri === undefined)
      throw new VirtError("QEMU_MIGRATION_INVALID", { reason: "no migration URI given to perform" });
    // on failure the client calls finish and confirm (cancelled) next; the guest resumes there
    const r = await performInternal(drv, obj, uri, params, flags, nbd);
    return { cookieOut: encodeCookie(r.postcopy ? { postcopy: true } : {}) };
  } finally {
    job.release();
  }
}

// ---------------------------------------------------------------------------------------------
// finish (destination)
// ---------------------------------------------------------------------------------------------

/** Errors of an incoming post-copy stream that broke: the domain is kept for `--postcopy-resume`. */
const postcopyPaused = new WeakSet<object>();
function postcopyPausedError(): VirtError {
  const e = new VirtError("QEMU_MIGRATION_FAILED", {
    phase: "finish",
    reason: "post-copy migration failed: the domain is paused (post-copy failed) on both hosts",
  });
  postcopyPaused.add(e);
  return e;
}

async function waitIncoming(qmp: QmpClient, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = (await qmp.execute("query-migrate")) as QueryMigrate;
    const st = info.status ?? "none";
    if (st === "completed") return st;
    if (st === "postcopy-paused") throw postcopyPausedError();
    if (st === "failed" || st === "cancelled")
      throw new VirtError("QEMU_MIGRATION_FAILED", { phase: "finish", reason: info["error-desc"] ?? st });
    if (Date.now() > deadline)
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "finish",
        reason: `incoming migration still '${st}'`,
      });
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }
}

export async function migrateFinish(
  drv: QemuDriver,
  params: TypedParameter[],
  cookieIn: Uint8Array,
  flags: number,
  cancelled: boolean,
): Promise<QemuDomainObj> {
  const cookie = decodeCookie(cookieIn);
  const xml = strParam(params, MigrateParam.DEST_XML);
  const name = strParam(params, MigrateParam.DEST_NAME) ?? cookie.name;

  if (flags & F.OFFLINE) {
    if (cancelled)
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "finish",
        reason: "the migration was cancelled",
      });
    const persistentXml = cookie.persistent ?? xml;
    if (persistentXml === undefined)
      throw new VirtError("QEMU_MIGRATION_INVALID", {
        reason: "no definition came with the offline migration",
      });
    return defineHere(drv, persistentXml);
  }

  const map = incomingOf(drv);
  let inc: Incoming | undefined;
  for (const i of map.values()) if (cookie.uuid === i.obj.uuid || i.obj.name === name) inc = i;
  if (!inc)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: `no incoming migration of domain '${name ?? "?"}'`,
    });
  map.delete(inc.obj.uuid);
  const { obj } = inc;
  const release = (): void => {
    if (inc.port !== undefined) migrationPorts(drv).release(inc.port);
    if (inc.storage?.port !== undefined) inc.storage.ports.release(inc.storage.port);
  };
  const job = await obj.job.acquire("modify", "virDomainMigrateFinish3Params").catch(async (e: unknown) => {
    // the domain went away with its QEMU (the incoming migration failed there)
    release();
    if (inc.storage) await removePrecreated(inc.storage.created);
    throw e;
  });
  try {
    const run = obj.run;
    if (cancelled || !run || run.ended || !run.qmp) {
      await discardIncoming(drv, inc);
      throw new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "finish",
        reason: cancelled ? "the source cancelled the migration" : "the destination's QEMU is gone",
      });
    }
    const qmp = run.qmp;
    try {
      // the guest may run here from now on: a restart keeps it when it runs (migration-recovery.ts)
      await recordMigrationPhase(drv, obj, "migration in", "finish3", flags);
      const now = ((await qmp.execute("query-migrate")) as QueryMigrate).status;
      const postcopy = now === "postcopy-active" || cookie.postcopy === true;
      if (postcopy) {
        // the guest must run here for the source to send the remaining pages on demand
        await appendLog(
          drv.logPath(obj.name),
          `${new Date().toISOString()}: incoming migration in post-copy: guest resumed here (status '${now ?? "none"}')\n`,
        );
        run.runningReason = DomainRunningReason.POSTCOPY;
        // the source ended its mirrors when it switched, before this finish
        if (inc.storage) await stopNbdServer(qmp);
        await qmp.execute("cont");
        if (obj.state !== DomainState.RUNNING) {
          obj.setState(DomainState.RUNNING, DomainRunningReason.POSTCOPY);
          drv.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.POSTCOPY);
        }
        await waitIncoming(qmp, 10 * 60_000);
        obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATED);
      } else {
        await waitIncoming(qmp, 60_000);
        // the source ended its mirrors in perform: the disks are complete here
        if (inc.storage) await stopNbdServer(qmp);
        if (!(flags & F.PAUSED)) {
          run.runningReason = DomainRunningReason.MIGRATED;
          await qmp.execute("cont");
          if (obj.state !== DomainState.RUNNING)
            obj.setState(DomainState.RUNNING, DomainRunningReason.MIGRATED);
          drv.lifecycle(obj, DomainEventType.RESUMED, DomainEventResumedDetail.MIGRATED);
        } else {
          obj.setState(DomainState.PAUSED, DomainPausedReason.MIGRATION);
          drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED);
        }
      }
    } catch (e) {
      if (typeof e === "object" && e !== null && postcopyPaused.has(e)) {
        // neither side is killed: the guest's memory is split between them
        if (inc.job) endStreamJob(drv, obj, inc.job, "failed", undefined, "post-copy migration failed");
        await enterPostcopyFailed(drv, obj, "migration in", flags);
        throw e;
      }
      await discardIncoming(drv, inc);
      throw e;
    }
    if (flags & F.PERSIST_DEST) {
      const persistentXml = cookie.persistent ?? xml;
      if (persistentXml !== undefined) {
        const pdef = await drv.parseDomain(persistentXml);
        obj.newDef = pdef;
        const wasPersistent = obj.persistent;
        obj.persistent = true;
        await drv.saveConfig(obj);
        drv.lifecycle(
          obj,
          DomainEventType.DEFINED,
          wasPersistent ? DomainEventDefinedDetail.UPDATED : DomainEventDefinedDetail.ADDED,
        );
      }
    }
    if (inc.job) endStreamJob(drv, obj, inc.job, "completed");
    if (obj.run) obj.run.asyncJob = undefined;
    await drv.saveStatus(obj);
    return obj;
  } finally {
    release();
    job.release();
  }
}

/**
 * The connection that prepared incoming migrations closed before finish (the source daemon or
 * the client died): libvirt's close callback kills those QEMUs, so the guest stays on the source.
 */
export async function abandonIncoming(drv: QemuDriver, owner: object): Promise<void> {
  const map = incomingOf(drv);
  for (const inc of [...map.values()]) {
    if (inc.owner !== owner) continue;
    map.delete(inc.obj.uuid);
    if (inc.port !== undefined) migrationPorts(drv).release(inc.port);
    const job = await inc.obj.job.acquire("modify", "qemuMigrationDstCleanup");
    try {
      await appendLog(
        drv.logPath(inc.obj.name),
        `${new Date().toISOString()}: the connection of the incoming migration closed before finish: killing the incoming QEMU\n`,
      );
      await discardIncoming(drv, inc);
    } finally {
      job.release();
    }
  }
}

/** The destination's QEMU of a migration that did not complete goes away. */
async function discardIncoming(drv: QemuDriver, inc: Incoming): Promise<void> {
  const { obj } = inc;
  if (inc.job)
    endStreamJob(drv, obj, inc.job, "failed", undefined, "the incoming migration did not complete");
  const run = obj.run;
  if (run && !run.ended) {
    run.stopping ??= { reason: DomainShutoffReason.FAILED, detail: DomainEventStoppedDetail.FAILED };
    await stopProcess(drv, obj, run, DomainShutoffReason.FAILED, "migration failed");
    drv.lifecycle(obj, DomainEventType.STOPPED, DomainEventStoppedDetail.FAILED);
  }
  if (inc.previous && !obj.isActive()) obj.def = inc.previous;
  if (inc.storage) await removePrecreated(inc.storage.created);
}

async function defineHere(drv: QemuDriver, xml: string): Promise<QemuDomainObj> {
  const { def } = await drv.parseDomainWithCaps(xml, {});
  const existing = drv.domains.byUuid(def.uuid);
  if (existing) {
    if (existing.isActive()) throw new VirtError("DOMAIN_ALREADY_ACTIVE", { name: existing.name });
    const job = await existing.job.acquire("modify", "virDomainMigrateFinish3Params");
    try {
      existing.def = def;
      existing.persistent = true;
      await drv.saveConfig(existing);
      drv.lifecycle(existing, DomainEventType.DEFINED, DomainEventDefinedDetail.UPDATED);
      return existing;
    } finally {
      job.release();
    }
  }
  if (drv.domains.byName(def.name))
    throw new VirtError("DOMAIN_NAME_EXISTS", { name: def.name, uuid: drv.domains.byName(def.name)!.uuid });
  const obj = drv.newDomainObj(def);
  obj.persistent = true;
  drv.domains.add(obj);
  try {
    await drv.saveConfig(obj);
  } catch (e) {
    drv.removeDomain(obj, "its definition could not be saved");
    throw e;
  }
  drv.lifecycle(obj, DomainEventType.DEFINED, DomainEventDefinedDetail.ADDED);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// confirm (source), start post-copy
// ---------------------------------------------------------------------------------------------

/**
 * virDomainMigrateConfirm3Params on the source: `confirm` is this file's own, or the post-copy
 * resume's (migration-recovery.ts) for VIR_MIGRATE_POSTCOPY_RESUME; both under the same job.
 */
export async function migrateConfirm(
  drv: QemuDriver,
  obj: QemuDomainObj,
  cookieIn: Uint8Array,
  flags: number,
  cancelled: boolean,
  confirm: (
    drv: QemuDriver,
    obj: QemuDomainObj,
    flags: number,
    cancelled: boolean,
  ) => Promise<void> = confirmInternal,
): Promise<void> {
  decodeCookie(cookieIn);
  const job = await obj.job.acquire("modify", "virDomainMigrateConfirm3Params");
  try {
    await confirm(drv, obj, flags, cancelled);
  } finally {
    job.release();
  }
}

export async function migrateStartPostCopy(
  drv: QemuDriver,
  obj: QemuDomainObj,
  flags: number,
): Promise<void> {
  if (flags !== 0)
    throw new VirtError("QEMU_MIGRATION_UNSUPPORTED", {
      reason: `qemuDomainMigrateStartPostCopy: unsupported flags (0x${flags.toString(16)})`,
    });
  activeRun(obj);
  const entry = outgoingOf(drv).get(obj.uuid);
  if (!entry || !entry.qmp)
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: "post-copy can only be started while outgoing migration is in progress",
    });
  if (!(entry.flags & F.POSTCOPY))
    throw new VirtError("QEMU_MIGRATION_INVALID", {
      reason: "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag",
    });
  if (entry.postcopyStarted) return;
  const run = obj.run;
  if (run) run.pausedReason = DomainPausedReason.POSTCOPY;
  await entry.qmp.execute("migrate-start-postcopy");
  entry.postcopyStarted = true;
  const sj = activeStreamJob(obj);
  if (sj) sj.postcopy = true;
  await appendLog(
    drv.logPath(obj.name),
    `${new Date().toISOString()}: outgoing migration switched to post-copy (memory pass ${entry.pass})\n`,
  );
}

/**
 * virDomainSuspend while the domain migrates out (virsh `migrate --timeout`): libvirt lets
 * suspend run beside the migration job; false when no outgoing migration runs.
 */
export async function suspendDuringMigration(drv: QemuDriver, obj: QemuDomainObj): Promise<boolean> {
  const entry = outgoingOf(drv).get(obj.uuid);
  const run = obj.run;
  if (!entry?.qmp || !run || run.ended) return false;
  if (obj.state !== DomainState.RUNNING) return true;
  run.pausedReason = DomainPausedReason.MIGRATION;
  await entry.qmp.execute("stop");
  if (stateOf(obj) === DomainState.RUNNING) {
    obj.setState(DomainState.PAUSED, DomainPausedReason.MIGRATION);
    drv.lifecycle(obj, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.MIGRATED);
  }
  return true;
}

/** For `connectSupportsFeature`: what this driver's migration offers. */
export function migrationFeatures(): readonly number[] {
  return [
    DrvFeature.MIGRATION_P2P,
    DrvFeature.MIGRATION_V3,
    DrvFeature.XML_MIGRATABLE,
    DrvFeature.MIGRATION_OFFLINE,
    DrvFeature.MIGRATION_PARAMS,
  ];
}
