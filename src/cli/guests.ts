/**
 * `tvirt-guests start|stop|status` (libvirt's libvirt-guests, run by systemd/tvirt-guests.service):
 * at host shutdown (`stop`) the running guests of each URI are recorded, then managed-saved
 * (`ON_SHUTDOWN=suspend`) or asked to power off (`ON_SHUTDOWN=shutdown`, `PARALLEL_SHUTDOWN` at
 * a time, waiting up to `SHUTDOWN_TIMEOUT` seconds); at boot (`start`) the recorded guests are
 * started again (`ON_BOOT=start`): a managed-saved guest resumes from its image, so it goes on
 * where it was. `ON_BOOT=ignore` starts nothing (a saved guest resumes whenever it is started).
 *
 * Settings, as libvirt-guests' (libvirt's defaults): `/etc/default/tvirt-guests` (shell-style
 * `KEY=value` lines; `--config FILE` or `TVIRT_GUESTS_CONFIG` names another), then the
 * environment, which wins (systemd's `EnvironmentFile=` gives the same):
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `URIS` | `default` | space-separated URIs; `default` is the one a client gets without `-c` |
 * | `ON_BOOT` | `start` | `start` the recorded guests, or `ignore` |
 * | `START_DELAY` | 0 | seconds between two starts |
 * | `ON_SHUTDOWN` | `suspend` | `suspend` (managed save; transient guests are shut down) or `shutdown` |
 * | `PARALLEL_SHUTDOWN` | 0 | guests shut down at once (0: one after the other) |
 * | `SHUTDOWN_TIMEOUT` | 300 | seconds to wait: per guest, or for all of a URI with `PARALLEL_SHUTDOWN`; 0 waits for ever |
 * | `BYPASS_CACHE` | 0 | 1: managed save and restore bypass the host's page cache |
 *
 * The record is `/var/lib/tvirt/tvirt-guests` (`--state-file FILE` or `TVIRT_GUESTS_STATE`):
 * one line per URI, `URI UUID...`, as libvirt's; written before any guest is touched, so that a
 * stop cut short still brings back what it saved, and removed by `start`.
 *
 * Exit status: 0, or 1 when a guest could not be saved, shut down (timeout) or started.
 */
import { readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  connect,
  ConnectListDomainsFlags,
  DomainCreateFlags,
  DomainSaveRestoreFlags,
  DomainState,
  type Connection,
  type Domain,
  VirtError,
} from "../api/index.ts";
import "../rpc/register.ts";
import { processIo, type Io } from "./output.ts";

const USAGE = `Usage: tvirt-guests [--config FILE] [--state-file FILE] {start|stop|status}

  start   start the guests recorded by the last stop (ON_BOOT=start)
  stop    record the running guests, then managed-save (ON_SHUTDOWN=suspend) or shut them
          down (ON_SHUTDOWN=shutdown)
  status  the recorded guests and the running ones

Settings: /etc/default/tvirt-guests, overridden by the environment (URIS, ON_BOOT,
START_DELAY, ON_SHUTDOWN, PARALLEL_SHUTDOWN, SHUTDOWN_TIMEOUT, BYPASS_CACHE).
`;

export const DEFAULT_CONFIG = "/etc/default/tvirt-guests";
export const DEFAULT_STATE = "/var/lib/tvirt/tvirt-guests";

export interface GuestsSettings {
  uris: string[];
  onBoot: "start" | "ignore";
  startDelay: number;
  onShutdown: "suspend" | "shutdown";
  parallelShutdown: number;
  shutdownTimeout: number;
  bypassCache: boolean;
}

type Key =
  | "URIS"
  | "ON_BOOT"
  | "START_DELAY"
  | "ON_SHUTDOWN"
  | "PARALLEL_SHUTDOWN"
  | "SHUTDOWN_TIMEOUT"
  | "BYPASS_CACHE";

/** `KEY=value` lines of a shell-style defaults file (quotes stripped, `#` comments). */
export function parseDefaultsFile(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m)
      throw new VirtError("DAEMON_CONFIG", {
        file,
        line: String(i + 1),
        reason: `expected KEY=value, got '${line}'`,
      });
    let v = m[2]!.trim();
    const q = /^"([^"]*)"\s*(#.*)?$|^'([^']*)'\s*(#.*)?$/.exec(v);
    if (q) v = q[1] ?? q[3]!;
    else v = v.replace(/\s+#.*$/, "");
    out.set(m[1]!, v);
  });
  return out;
}

/** The settings from the file's values and the environment's (which win). */
export function resolveSettings(
  file: Map<string, string>,
  env: NodeJS.ProcessEnv,
  fileName = "tvirt-guests settings",
): GuestsSettings {
  const get = (k: Key): string | undefined => env[k] ?? file.get(k);
  const bad = (k: Key, reason: string): VirtError =>
    new VirtError("DAEMON_CONFIG_VALUE", {
      file: env[k] !== undefined ? "the environment" : fileName,
      key: k,
      reason: `'${get(k) ?? ""}': ${reason}`,
    });
  const int = (k: Key, dflt: number): number => {
    const v = get(k);
    if (v === undefined || v === "") return dflt;
    if (!/^\d+$/.test(v)) throw bad(k, "expected a number of 0 or more");
    return Number(v);
  };
  const choice = <T extends string>(k: Key, allowed: readonly T[], dflt: T): T => {
    const v = get(k);
    if (v === undefined || v === "") return dflt;
    if (!(allowed as readonly string[]).includes(v)) throw bad(k, `expected one of ${allowed.join(", ")}`);
    return v as T;
  };
  const uris = (get("URIS") ?? "default").split(/\s+/).filter((u) => u !== "");
  return {
    uris: uris.length > 0 ? uris : ["default"],
    onBoot: choice("ON_BOOT", ["start", "ignore"], "start"),
    startDelay: int("START_DELAY", 0),
    onShutdown: choice("ON_SHUTDOWN", ["suspend", "shutdown"], "suspend"),
    parallelShutdown: int("PARALLEL_SHUTDOWN", 0),
    shutdownTimeout: int("SHUTDOWN_TIMEOUT", 300),
    bypassCache: int("BYPASS_CACHE", 0) !== 0,
  };
}

/** The record: URI → UUIDs, in the order written. */
export function parseRecord(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const [uri, ...uuids] = line.trim().split(/\s+/);
    if (uri === undefined || uri === "") continue;
    out.set(uri, [...(out.get(uri) ?? []), ...uuids]);
  }
  return out;
}

function formatRecord(rec: Map<string, string[]>): string {
  return [...rec].map(([uri, uuids]) => `${[uri, ...uuids].join(" ")}\n`).join("");
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Connects to `uri`; at boot the daemon may still be starting (socket activation answers at
 * once, a daemon started by hand may not), so a refused connection is tried again for a while.
 */
async function open(uri: string, waitMs: number): Promise<Connection> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return await connect(uri === "default" ? null : uri);
    } catch (e) {
      if (Date.now() >= until) throw e;
      await sleep(500);
    }
  }
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

class Run {
  failed = false;
  constructor(
    readonly io: Io,
    readonly s: GuestsSettings,
  ) {}
  say(text: string): void {
    this.io.out(`${text}\n`);
  }
  fail(text: string): void {
    this.failed = true;
    this.io.err(`${text}\n`);
  }
}

async function isOff(d: Domain): Promise<boolean> {
  return (await d.getState()).state === DomainState.SHUTOFF;
}

/**
 * Shuts the guests down, `parallel` at a time (1 when 0), waiting up to `timeoutS` for each
 * (or, in parallel, for all of them together; 0: no limit). Guests still running afterwards
 * are reported and left as they are, as libvirt-guests does.
 */
async function shutdownAll(r: Run, uri: string, doms: Domain[]): Promise<void> {
  const parallel = Math.max(1, r.s.parallelShutdown);
  const timeoutMs = r.s.shutdownTimeout * 1000;
  const globalUntil = r.s.parallelShutdown > 0 && timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
  const queue = [...doms];
  const one = async (d: Domain): Promise<void> => {
    r.say(`Shutting down guest ${d.name} (${uri}) ...`);
    try {
      await d.shutdown();
    } catch (e) {
      if (await isOff(d).catch(() => false)) return;
      r.fail(`Failed to shut down guest ${d.name}: ${msg(e)}`);
      return;
    }
    const until = globalUntil ?? (timeoutMs > 0 ? Date.now() + timeoutMs : Infinity);
    for (;;) {
      let off: boolean;
      try {
        off = await isOff(d);
      } catch {
        off = true; // a transient guest is gone once it is off
      }
      if (off) {
        r.say(`Shutdown of guest ${d.name} complete.`);
        return;
      }
      if (Date.now() >= until) {
        r.fail(
          `Timeout expired while shutting down guest ${d.name} (${r.s.shutdownTimeout} s): it keeps running`,
        );
        return;
      }
      await sleep(250);
    }
  };
  const workers = Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) await one(d);
  });
  await Promise.all(workers);
}

async function stop(r: Run, stateFile: string): Promise<void> {
  const record = new Map<string, string[]>();
  const work: { uri: string; conn: Connection; doms: Domain[] }[] = [];
  for (const uri of r.s.uris) {
    let conn: Connection;
    try {
      conn = await open(uri, 0);
    } catch (e) {
      r.fail(`Unable to connect to ${uri}: ${msg(e)}`);
      continue;
    }
    const doms = (await conn.listAllDomains(ConnectListDomainsFlags.ACTIVE)).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    const persistent: Domain[] = [];
    for (const d of doms) if (await d.isPersistent()) persistent.push(d);
    record.set(
      uri,
      persistent.map((d) => d.uuid),
    );
    work.push({ uri, conn, doms });
  }
  // Written before any guest is touched: a stop cut short still brings back what it saved.
  mkdirSync(dirname(stateFile), { recursive: true, mode: 0o755 });
  writeFileSync(`${stateFile}.tmp`, formatRecord(record), { mode: 0o600 });
  renameSync(`${stateFile}.tmp`, stateFile);
  for (const { uri, conn, doms } of work) {
    if (doms.length === 0) r.say(`Running guests on ${uri} URI: no running guests.`);
    else r.say(`Running guests on ${uri} URI: ${doms.map((d) => d.name).join(", ")}`);
    let toShutdown = doms;
    if (r.s.onShutdown === "suspend") {
      toShutdown = [];
      for (const d of doms) {
        if (!(await d.isPersistent())) {
          toShutdown.push(d); // a transient guest has no managed save
          continue;
        }
        r.say(`Suspending ${d.name} (${uri}) ...`);
        try {
          await d.managedSave(r.s.bypassCache ? DomainSaveRestoreFlags.BYPASS_CACHE : 0);
          r.say(`Done suspending ${d.name}.`);
        } catch (e) {
          r.fail(`Failed to suspend guest ${d.name}: ${msg(e)}`);
        }
      }
    }
    if (toShutdown.length > 0) await shutdownAll(r, uri, toShutdown);
    await conn.close().catch(() => undefined);
  }
}

async function start(r: Run, stateFile: string): Promise<void> {
  let text: string;
  try {
    text = readFileSync(stateFile, "utf8");
  } catch {
    r.say("No guests recorded by tvirt-guests stop: nothing to start.");
    return;
  }
  const record = parseRecord(text);
  if (r.s.onBoot === "ignore") {
    r.say("tvirt-guests is configured not to start any guests on boot (ON_BOOT=ignore).");
    rmSync(stateFile, { force: true });
    return;
  }
  let first = true;
  for (const [uri, uuids] of record) {
    if (uuids.length === 0) continue;
    let conn: Connection;
    try {
      conn = await open(uri, 30_000);
    } catch (e) {
      r.fail(`Unable to connect to ${uri}: ${msg(e)}`);
      continue;
    }
    r.say(`Resuming guests on ${uri} URI...`);
    for (const uuid of uuids) {
      let d: Domain;
      try {
        d = await conn.lookupDomainByUUIDString(uuid);
      } catch (e) {
        r.fail(`Guest ${uuid} on ${uri} is gone: ${msg(e)}`);
        continue;
      }
      if (!(await isOff(d))) {
        r.say(`Guest ${d.name}: already active`);
        continue;
      }
      if (!first && r.s.startDelay > 0) await sleep(r.s.startDelay * 1000);
      first = false;
      const saved = await d.hasManagedSaveImage().catch(() => false);
      r.say(`Resuming guest ${d.name}${saved ? " from its managed save image" : ""}: `);
      try {
        await d.createWithFlags(r.s.bypassCache ? DomainCreateFlags.START_BYPASS_CACHE : 0);
        r.say(`done`);
      } catch (e) {
        r.fail(`Failed to start guest ${d.name}: ${msg(e)}`);
      }
    }
    await conn.close().catch(() => undefined);
  }
  rmSync(stateFile, { force: true });
}

async function status(r: Run, stateFile: string): Promise<void> {
  let record = new Map<string, string[]>();
  try {
    record = parseRecord(readFileSync(stateFile, "utf8"));
  } catch {
    // nothing recorded
  }
  for (const uri of r.s.uris) {
    try {
      const conn = await open(uri, 0);
      const running = await conn.listAllDomains(ConnectListDomainsFlags.ACTIVE);
      r.say(`Running guests on ${uri} URI: ${running.map((d) => d.name).join(", ") || "none"}`);
      await conn.close().catch(() => undefined);
    } catch (e) {
      r.fail(`Unable to connect to ${uri}: ${msg(e)}`);
    }
  }
  if (record.size === 0) r.say("No guests recorded.");
  for (const [uri, uuids] of record) r.say(`Recorded on ${uri}: ${uuids.join(" ") || "none"}`);
}

export async function main(
  argv: readonly string[],
  io: Io = processIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let config = env.TVIRT_GUESTS_CONFIG ?? DEFAULT_CONFIG;
  let stateFile = env.TVIRT_GUESTS_STATE ?? DEFAULT_STATE;
  let action: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") {
      io.out(USAGE);
      return 0;
    } else if (a === "--config" || a === "--state-file") {
      const v = argv[++i];
      if (v === undefined) {
        io.err(`tvirt-guests: option '${a}' requires an argument\n`);
        return 2;
      }
      if (a === "--config") config = v;
      else stateFile = v;
    } else if (action === undefined && !a.startsWith("-")) action = a;
    else {
      io.err(`tvirt-guests: unexpected argument '${a}'\n${USAGE}`);
      return 2;
    }
  }
  if (action !== "start" && action !== "stop" && action !== "status") {
    io.err(
      `tvirt-guests: ${action === undefined ? "no action given" : `unknown action '${action}'`} (expected start, stop or status)\n${USAGE}`,
    );
    return 2;
  }
  let settings: GuestsSettings;
  try {
    let text = "";
    try {
      text = readFileSync(config, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    settings = resolveSettings(parseDefaultsFile(text, config), env, config);
  } catch (e) {
    io.err(`tvirt-guests: ${msg(e)}\n`);
    return 1;
  }
  const r = new Run(io, settings);
  try {
    if (action === "stop") await stop(r, stateFile);
    else if (action === "start") await start(r, stateFile);
    else await status(r, stateFile);
  } catch (e) {
    r.fail(`tvirt-guests: ${msg(e)}`);
  }
  return r.failed ? 1 : 0;
}
