/**
 * `tvirtd` command line (libvirtd's options, plus test listeners):
 *
 *   tvirtd [--system | --session] [-f FILE] [-p PIDFILE] [-t SECS] [-v] [--run-dir DIR]
 *   tvirtd --listen PATH [--listen-ro PATH] [--uri URI] [-t SECS] [-v]
 *
 * Without `--listen`, root runs the system instance (`qemu:///system`, sockets under
 * `/run/tvirt/` and libvirt's `/run/libvirt/libvirt-sock{,-ro}`) and other users the session
 * instance (`qemu:///session`, sockets under `$XDG_RUNTIME_DIR`). With `--listen` only the given
 * sockets exist, and any local URI (`test:///default`, ...) is served through them; `--uri` is
 * held open for the daemon's lifetime and answers CONNECT_OPEN without a name.
 *
 * Under systemd (activation.ts): sockets passed in `LISTEN_FDS` replace the ones of their role
 * (read-write, read-only), readiness is reported with `READY=1`, and SIGHUP (`ExecReload`)
 * re-reads the configuration file (`reloadConfig`) without touching guests or clients.
 */
import { join } from "node:path";
import { VirtError } from "../util/errors/index.ts";
import { isRemoteURI, parseURI, uriParam } from "../api/index.ts";
import { sessionPaths, systemPaths, userRuntimeDir } from "../rpc/paths.ts";
import { loadConfig, type DaemonConfig } from "./config.ts";
import { Daemon, type SocketSpec } from "./daemon.ts";
import { daemonRunAs, loadDaemonState, registerDaemonDrivers, type InstanceKind } from "./drivers.ts";
import { Logger, LogPriority, stderrIsJournal, type LogDestination, type LogOutput } from "./log.ts";
import { collectStartupGarbage } from "./memory.ts";
import { sdNotify, socketPathOfFd, takeListenFds, type Activation } from "./activation.ts";
import type { WebFace } from "./web.ts";

export const TVIRTD_VERSION = "0.1.0";

const usage = `Usage:
  tvirtd [options]

Options:
  -h | --help            Display program help.
  -v | --verbose         Verbose messages (debug to stderr).
  -t | --timeout <secs>  Exit after timeout period without clients (and without running guests).
  -f | --config <file>   Configuration file.
  -p | --pid-file <file> Change name of PID file.
  -V | --version         Display version information.
       --system          Serve qemu:///system (default for root).
       --session         Serve qemu:///session (default for other users).
       --run-dir <dir>   Base of the system sockets (default /run).
       --listen <path>   Serve only on this read-write socket (tests); repeatable.
       --listen-ro <path> Serve only on this read-only socket (tests); repeatable.
       --uri <uri>       URI held open and used when a client names none.
`;

export interface ParsedArgs {
  help: boolean;
  version: boolean;
  verbose: boolean;
  timeout: number | undefined;
  config: string | undefined;
  pidFile: string | undefined;
  kind: InstanceKind | undefined;
  runDir: string;
  listen: string[];
  listenRo: string[];
  uri: string | undefined;
}

class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const a: ParsedArgs = {
    help: false,
    version: false,
    verbose: false,
    timeout: undefined,
    config: undefined,
    pidFile: undefined,
    kind: undefined,
    runDir: "/run",
    listen: [],
    listenRo: [],
    uri: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option '${arg}' requires an argument`);
      return v;
    };
    switch (arg) {
      case "-h":
      case "--help":
        a.help = true;
        break;
      case "-V":
      case "--version":
        a.version = true;
        break;
      case "-v":
      case "--verbose":
        a.verbose = true;
        break;
      case "-d":
      case "--daemon":
        break; // the caller detaches us (autostart spawns in its own session)
      case "-t":
      case "--timeout": {
        const v = value();
        if (!/^\d+$/.test(v)) throw new UsageError(`Invalid value for timeout: '${v}'`);
        a.timeout = Number(v);
        break;
      }
      case "-f":
      case "--config":
        a.config = value();
        break;
      case "-p":
      case "--pid-file":
        a.pidFile = value();
        break;
      case "--system":
        a.kind = "system";
        break;
      case "--session":
        a.kind = "session";
        break;
      case "--run-dir":
        a.runDir = value();
        break;
      case "--listen":
        a.listen.push(value());
        break;
      case "--listen-ro":
        a.listenRo.push(value());
        break;
      case "--uri":
        a.uri = value();
        break;
      default:
        throw new UsageError(`unsupported option '${argv[i]!}'. See --help.`);
    }
  }
  return a;
}

function configFile(kind: InstanceKind, env: NodeJS.ProcessEnv): string {
  if (kind === "system") return "/etc/tvirt/tvirtd.conf";
  const cfg =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ""
      ? env.XDG_CONFIG_HOME
      : join(env.HOME ?? "/", ".config");
  return join(cfg, "tvirt", "tvirtd.conf");
}

/**
 * The log outputs: `log_outputs` when the file sets it, else `log_level` to stderr, plus a log
 * file (system and session instances, not test listeners). Under systemd with stderr going to
 * the journal (`JOURNAL_STREAM`, log.ts), the default is the journal alone, with priorities,
 * and a `stderr` or `journald` output writes there with priorities too; without the journal a
 * `journald` output is plain stderr. `-v` adds debug to stderr (or the journal).
 */
export function logOutputs(
  cfg: DaemonConfig,
  kind: InstanceKind,
  testMode: boolean,
  verbose: boolean,
  env: NodeJS.ProcessEnv,
  journal = stderrIsJournal(env),
): LogOutput[] {
  const level = Math.min(4, Math.max(1, cfg.logLevel)) as LogPriority;
  const stderr: LogDestination = journal ? { kind: "journal" } : { kind: "stderr" };
  const out: LogOutput[] = cfg.logOutputs
    ? cfg.logOutputs.map((o) => (o.dest.kind === "file" ? o : { priority: o.priority, dest: stderr }))
    : [{ priority: level, dest: stderr }];
  if (!cfg.logOutputs && !testMode && !journal) {
    const file =
      kind === "system"
        ? "/var/log/tvirt/tvirtd.log"
        : join(
            env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== ""
              ? env.XDG_CACHE_HOME
              : join(env.HOME ?? "/", ".cache"),
            "tvirt",
            "log",
            "tvirtd.log",
          );
    out.push({ priority: level, dest: { kind: "file", path: file } });
  }
  if (verbose) out.push({ priority: LogPriority.DEBUG, dest: stderr });
  return out;
}

/**
 * Sockets passed by the service manager take the place of the ones of their role (libvirt:
 * a socket of the unit replaces the path the daemon would bind); roles not passed are bound
 * as usual. Compatibility paths stay (they are skipped when libvirt's own daemon answers).
 */
export function applyActivation(sockets: SocketSpec[], activation: Activation): SocketSpec[] {
  const passed = new Set(activation.sockets.map((s) => s.role));
  const out = sockets.filter((s) => s.compat === true || !passed.has(s.readonly ? "ro" : "rw"));
  for (const a of activation.sockets)
    out.unshift({ path: `fd ${a.fd} (${a.name})`, readonly: a.role === "ro", fd: a.fd });
  return out;
}

/** The log's name of a passed socket: its path when /proc tells it. */
function nameActivated(sockets: SocketSpec[]): SocketSpec[] {
  const out = sockets.map((s) => {
    if (s.fd === undefined) return s;
    const path = socketPathOfFd(s.fd);
    return path !== undefined ? { ...s, path: `${path} (fd ${s.fd})` } : s;
  });
  return out;
}

/** Keys read only at start: a reload that changes them says a restart is needed. */
const restartKeys: readonly [keyof DaemonConfig, string][] = [
  ["unixSockGroup", "unix_sock_group"],
  ["unixSockRwPerms", "unix_sock_rw_perms"],
  ["unixSockRoPerms", "unix_sock_ro_perms"],
  ["unixSockDir", "unix_sock_dir"],
  ["maxClients", "max_clients"],
  ["maxClientRequests", "max_client_requests"],
  ["keepaliveInterval", "keepalive_interval"],
  ["keepaliveCount", "keepalive_count"],
  ["compatSockets", "compat_sockets"],
  ["sysfsRoot", "sysfs_root"],
  ["stateRoot", "state_root"],
  ["webListenUnix", "web_listen_unix"],
  ["webListenTcp", "web_listen_tcp"],
  ["webTlsCert", "web_tls_cert"],
  ["webTlsKey", "web_tls_key"],
  ["webTokenFile", "web_token_file"],
  ["webUri", "web_uri"],
];

export interface ReloadTarget {
  cfg: DaemonConfig;
  log: Logger;
  daemon: Pick<Daemon, "setTimeout">;
  /** The log outputs a configuration asks for (with the command line's -v). */
  outputs: (cfg: DaemonConfig) => LogOutput[];
  /** `--timeout` given on the command line: it wins over the file's `timeout`. */
  timeoutFromArgs: boolean;
}

/**
 * SIGHUP (systemd's ExecReload): re-reads the configuration file and applies what can change
 * while guests and clients stay: `log_level` and `log_outputs` (files reopened, which also
 * suits logrotate), `timeout`, and the graphics port ranges (`remote_display_port_*`,
 * `remote_websocket_port_*`: the QEMU driver reads the range objects at each allocation, so
 * they are updated in place). Socket, client-limit, keepalive, sysfs and state keys are read
 * at start only: a change is logged as needing a restart. A file that does not parse leaves
 * everything as it was. Returns the keys applied or needing a restart (for tests).
 */
export function reloadConfig(
  file: string | undefined,
  mustExist: boolean,
  t: ReloadTarget,
): { ok: boolean; restart: string[] } {
  if (file === undefined) {
    t.log.info("SIGHUP: no configuration file (test listeners without -f): nothing to reload");
    return { ok: true, restart: [] };
  }
  let next: DaemonConfig;
  try {
    next = loadConfig(file, mustExist);
    t.log.reconfigure(t.outputs(next));
  } catch (e) {
    t.log.error(`SIGHUP: configuration not reloaded: ${(e as Error).message}`);
    return { ok: false, restart: [] };
  }
  const { cfg } = t;
  cfg.logLevel = next.logLevel;
  cfg.logOutputs = next.logOutputs;
  cfg.timeout = next.timeout;
  if (!t.timeoutFromArgs) t.daemon.setTimeout(next.timeout ?? 0);
  Object.assign(cfg.displayPorts, next.displayPorts);
  Object.assign(cfg.websocketPorts, next.websocketPorts);
  // the QEMU driver holds this object: the next guest started sees the new graphics keys
  const g = cfg.graphics;
  for (const k of Object.keys(g) as (keyof typeof g)[]) g[k] = undefined;
  Object.assign(g, next.graphics);
  const restart: string[] = [];
  for (const [field, key] of restartKeys) {
    if (cfg[field] !== next[field]) {
      restart.push(key);
      t.log.warn(`SIGHUP: ${key} changed in ${file}: restart tvirtd to apply it`);
    }
  }
  t.log.info(`SIGHUP: configuration reloaded from ${file} (log level ${next.logLevel})`);
  return { ok: true, restart };
}

/** The root of a `qemu:///embed?root=DIR` URI, else undefined. */
function embedRootOf(uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  try {
    const u = parseURI(uri);
    if (u.driver !== "qemu" || u.path !== "/embed" || isRemoteURI(u)) return undefined;
    return uriParam(u, "root");
  } catch {
    return undefined;
  }
}

/** Runs the daemon until it stops; returns the exit status. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`tvirtd: ${(e as Error).message}\n`);
    return 1;
  }
  if (args.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`tvirtd (tvirt) ${TVIRTD_VERSION}\n`);
    return 0;
  }
  const root = process.geteuid?.() === 0;
  const kind: InstanceKind = args.kind ?? (root ? "system" : "session");
  const testMode = args.listen.length > 0 || args.listenRo.length > 0;
  // Read (and removed from the environment, so no child sees it) before anything else runs.
  const activation = takeListenFds(env, process.pid);

  let cfg: DaemonConfig;
  const cfgFile = args.config ?? (testMode ? undefined : configFile(kind, env));
  try {
    cfg = loadConfig(cfgFile, args.config !== undefined);
  } catch (e) {
    process.stderr.write(`tvirtd: ${(e as Error).message}\n`);
    return 1;
  }
  let log: Logger;
  try {
    log = new Logger(logOutputs(cfg, kind, testMode, args.verbose, env));
  } catch (e) {
    process.stderr.write(`tvirtd: cannot open log: ${(e as Error).message}\n`);
    return 1;
  }

  let sockets: SocketSpec[];
  let pidFile = args.pidFile;
  let primaryURI: string | undefined;
  const defaultURI = args.uri ?? `qemu:///${kind}`;
  if (testMode) {
    sockets = [
      ...args.listen.map((path) => ({ path, readonly: false })),
      ...args.listenRo.map((path) => ({ path, readonly: true })),
    ];
    primaryURI = args.uri;
  } else {
    const p = kind === "system" ? systemPaths(args.runDir) : sessionPaths(env);
    const dir = cfg.unixSockDir ?? p.dir;
    sockets = [{ path: join(dir, "tvirt-sock"), readonly: false }];
    if (kind === "system") sockets.push({ path: join(dir, "tvirt-sock-ro"), readonly: true });
    if (cfg.compatSockets) {
      sockets.push({ path: p.compatRw, readonly: false, compat: true });
      if (p.compatRo !== undefined) sockets.push({ path: p.compatRo, readonly: true, compat: true });
    }
    pidFile ??= join(dir, "tvirtd.pid");
    primaryURI = defaultURI;
    if (kind === "session")
      log.debug(`session instance for uid ${process.getuid?.() ?? -1} under ${userRuntimeDir(env)}`);
  }
  if (activation) {
    for (const r of activation.refused)
      log.warn(`socket activation: fd ${r.fd} named '${r.name}' is not a socket tvirtd serves: closed`);
    sockets = nameActivated(applyActivation(sockets, activation));
  }
  // test listeners serving `--uri qemu:///embed?root=DIR`: clients that name qemu:///system or
  // /session (stock virsh over `qemu+unix:///system?socket=...`, a migration peer) get that root
  const embedRoot = testMode ? embedRootOf(args.uri) : undefined;
  registerDaemonDrivers(
    kind,
    {
      ...(cfg.sysfsRoot !== undefined ? { sysfsRoot: cfg.sysfsRoot } : {}),
      displayPorts: cfg.displayPorts,
      websocketPorts: cfg.websocketPorts,
      graphics: cfg.graphics,
      ...(embedRoot !== undefined && cfg.stateRoot === undefined ? { runAs: null } : daemonRunAs(kind, cfg)),
      dynamicOwnership: cfg.dynamicOwnership,
      ...(cfg.hugetlbfsMounts !== undefined ? { hugetlbfsMounts: cfg.hugetlbfsMounts } : {}),
    },
    cfg.stateRoot ?? embedRoot,
  );
  // The instance's own state (networks) loads when it hosts its QEMU driver, not when a test
  // daemon serves another URI (`--uri test:///default`).
  const hostsInstance = primaryURI === `qemu:///${kind}`;
  let web: WebFace | undefined;

  const daemon = new Daemon({
    config: cfg,
    log,
    defaultURI,
    primaryURI,
    sockets,
    pidFile,
    ...(hostsInstance ? { loadState: () => loadDaemonState(kind, log, cfg.stateRoot) } : {}),
    timeout: args.timeout ?? cfg.timeout ?? 0,
    inhibitWhileActive: primaryURI?.startsWith("qemu:") ?? false,
    onReady: async () => {
      const r = await sdNotify(["--ready", `--status=serving ${defaultURI}`], env);
      if (r.sent) log.debug("readiness reported to the service manager");
      else if (r.error !== undefined) log.warn(`cannot report readiness (sd_notify): ${r.error}`);
    },
    onStopping: async () => {
      await web?.close();
      const r = await sdNotify(["STOPPING=1"], env);
      if (r.error !== undefined) log.debug(`cannot report stopping (sd_notify): ${r.error}`);
    },
  });
  const onSignal = (sig: NodeJS.Signals): void => {
    log.info(`${sig}: stopping (guests keep running)`);
    void daemon.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const onHup = (): void => {
    reloadConfig(cfgFile, args.config !== undefined, {
      cfg,
      log,
      daemon,
      outputs: (c) => logOutputs(c, kind, testMode, args.verbose, env),
      timeoutFromArgs: args.timeout !== undefined,
    });
  };
  process.on("SIGHUP", onHup);
  try {
    await daemon.start();
    try {
      if (cfg.webListenUnix !== undefined || cfg.webListenTcp !== undefined) {
        // loaded only when configured: Fastify costs every start tens of milliseconds
        const { startWebFace } = await import("./web.ts");
        web = await startWebFace(cfg, kind, defaultURI, log, env);
      }
    } catch (e) {
      // a web face asked for and not served is a failed start, as a socket that cannot bind
      log.error(`cannot serve the web face: ${e instanceof Error ? e.message : String(e)}`);
      await daemon.stop();
      log.close();
      return 1;
    }
    collectStartupGarbage();
  } catch (e) {
    log.error(e instanceof VirtError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
    log.close();
    return 1;
  }
  await daemon.stopped;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  process.off("SIGHUP", onHup);
  log.close();
  return 0;
}
