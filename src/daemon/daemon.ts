/**
 * tvirtd (libvirt's `remote_daemon.c`): one instance, system (root, `qemu:///system`) or
 * session (a user, `qemu:///session`), or a test instance on sockets of the caller's choosing.
 *
 * Start: pid file (one daemon per instance), the primary driver opened and held (libvirt's state
 * driver initialisation: reconnects to running guests, autostarts), sockets (read-write,
 * read-only, libvirt's compatibility paths when free), idle timer. Stop (SIGTERM, SIGINT, idle
 * timeout): stop listening, disconnect clients, release the driver — guests keep running, the
 * next start reconnects to them.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ConnectListDomainsFlags, type Connection } from "../api/index.ts";
import { VirtError } from "../util/errors/index.ts";
import { RpcServer, openLocal, socketAlive } from "../rpc/server.ts";
import { setInlineSync } from "../util/atomic-file.ts";
import type { DaemonConfig } from "./config.ts";
import { resolveGroup } from "./config.ts";
import type { Logger } from "./log.ts";

export interface SocketSpec {
  path: string;
  readonly: boolean;
  /** Compatibility path: skipped (with a note) when a libvirt daemon answers there. */
  compat?: boolean;
}

export interface DaemonOptions {
  config: DaemonConfig;
  log: Logger;
  /** URI for CONNECT_OPEN without a name. */
  defaultURI: string;
  /** URI opened at start and held until stop (the hosted driver's state), if any. */
  primaryURI: string | undefined;
  sockets: SocketSpec[];
  pidFile: string | undefined;
  /** Seconds without clients (and without running guests) before exiting; 0 = never. */
  timeout: number;
  /**
   * Loads the state drivers beside the primary one (networks: reconnect, first-start default
   * network, autostart), once the pid file is ours and before the primary driver opens.
   */
  loadState?: () => Promise<void>;
  /** Running guests of the primary driver keep an idle daemon alive (the QEMU driver's inhibitor). */
  inhibitWhileActive: boolean;
}

/** Takes the pid file; refuses when the daemon it names is alive. Returns the release function. */
export function acquirePidFile(path: string): () => void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processIsDaemon(pid)) {
        throw new VirtError("DAEMON_RUNNING", { pid, path });
      }
      unlinkSync(path); // stale: its daemon is gone
    }
  }
  throw new VirtError("DAEMON_RUNNING", { pid: "?", path });
}

function processIsDaemon(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("tvirtd");
  } catch {
    return true;
  }
}

export class Daemon {
  readonly server: RpcServer;
  #primary: Connection | undefined;
  #releasePid: (() => void) | undefined;
  #inlineSyncUndo: (() => void) | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #stoppedResolve!: () => void;
  /** Resolves when the daemon has stopped. */
  readonly stopped = new Promise<void>((resolve) => {
    this.#stoppedResolve = resolve;
  });

  constructor(private readonly opts: DaemonOptions) {
    const c = opts.config;
    this.server = new RpcServer({
      defaultURI: opts.defaultURI,
      openConnection: openLocal,
      maxClients: c.maxClients,
      maxClientRequests: c.maxClientRequests,
      keepaliveInterval: c.keepaliveInterval,
      keepaliveCount: c.keepaliveCount,
      log: opts.log,
      onClientCount: (n) => {
        this.#clientCountChanged(n);
      },
    });
  }

  get log(): Logger {
    return this.opts.log;
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    for (const key of config.ignored)
      log.warn(`configuration setting ${key} is not implemented by tvirtd and was ignored`);
    if (this.opts.pidFile !== undefined) this.#releasePid = acquirePidFile(this.opts.pidFile);
    // A define's fsync blocks the loop only while no other call waits for it (atomic-file.ts).
    this.#inlineSyncUndo = setInlineSync(() => this.server.callsInFlight <= 1);
    try {
      if (this.opts.loadState) {
        try {
          await this.opts.loadState();
        } catch (e) {
          log.error(`cannot load the network state: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (this.opts.primaryURI !== undefined) {
        try {
          this.#primary = await openLocal(this.opts.primaryURI, false);
          log.info(`driver for ${this.opts.primaryURI} ready`);
        } catch (e) {
          log.error(`cannot open ${this.opts.primaryURI}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      let gid: number | undefined;
      if (config.unixSockGroup !== undefined) {
        gid = resolveGroup(config.unixSockGroup);
        if (gid === undefined)
          throw new VirtError("DAEMON_CONFIG_VALUE", {
            file: "configuration",
            key: "unix_sock_group",
            reason: `no group '${config.unixSockGroup}'`,
          });
      }
      const rwMode = config.unixSockRwPerms ?? (gid !== undefined ? 0o660 : 0o600);
      for (const s of this.opts.sockets) {
        if (s.compat && (await socketAlive(s.path))) {
          log.warn(`${s.path} is served by another daemon (libvirt's?): not listening there`);
          continue;
        }
        try {
          await this.server.listen(s.path, {
            readonly: s.readonly,
            mode: s.readonly ? config.unixSockRoPerms : rwMode,
            ...(gid !== undefined ? { gid } : {}),
          });
        } catch (e) {
          if (!s.compat) throw e;
          log.warn(`not listening on ${s.path}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } catch (e) {
      await this.#release();
      throw e;
    }
    this.#clientCountChanged(0);
    log.info(`tvirtd ${process.pid} serving ${this.opts.defaultURI} on ${this.server.paths.join(", ")}`);
  }

  #clientCountChanged(n: number): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (n > 0 || this.opts.timeout <= 0 || this.#stopping) return;
    this.#idleTimer = setTimeout(() => {
      void this.#idleCheck();
    }, this.opts.timeout * 1000);
  }

  /** libvirt: the timeout is inhibited while the hosted driver runs guests. */
  async #idleCheck(): Promise<void> {
    this.#idleTimer = undefined;
    if (this.server.clientCount > 0 || this.#stopping) return;
    if (this.#primary && this.opts.inhibitWhileActive) {
      try {
        const active = await this.#primary.listAllDomains(ConnectListDomainsFlags.ACTIVE);
        if (active.length > 0) {
          this.log.debug(`idle, but ${active.length} guest(s) running: staying`);
          this.#clientCountChanged(this.server.clientCount);
          return;
        }
      } catch (e) {
        // Whether guests run is unknown: stay (exiting is the step that cannot be undone).
        this.log.warn(
          `idle, but cannot list running guests: ${e instanceof Error ? e.message : String(e)}; staying`,
        );
        this.#clientCountChanged(this.server.clientCount);
        return;
      }
    }
    if (this.server.clientCount > 0) return;
    this.log.info(`no clients for ${this.opts.timeout} s: exiting`);
    await this.stop();
  }

  /** Graceful stop: sockets, clients, driver (guests keep running). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#idleTimer) clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      await this.server.close();
      this.#inlineSyncUndo?.();
      await this.#release();
      this.log.info("stopped");
      this.#stoppedResolve();
    })();
    return this.#stopping;
  }

  async #release(): Promise<void> {
    const primary = this.#primary;
    this.#primary = undefined;
    if (primary)
      await primary.close().catch((e: unknown) => {
        this.log.warn(`closing ${this.opts.primaryURI ?? ""}: ${String(e)}`);
      });
    this.#releasePid?.();
    this.#releasePid = undefined;
  }
}
