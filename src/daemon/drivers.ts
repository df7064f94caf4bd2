/**
 * The drivers the daemon hosts (libvirt's state drivers). Inside tvirtd the `qemu` scheme serves
 * `qemu:///system` (root) or `qemu:///session` (a user) from the QEMU driver in this process,
 * where a client process gets "served by the daemon" for those URIs; `qemu:///embed` stays the
 * embedded driver. The test driver (`test:///default`) is registered by `api/` itself.
 *
 * Like libvirt's privileged QEMU driver, a root daemon accepts both `/system` and `/session`
 * and serves the system instance for both; a user's daemon serves `/session` only.
 */
import { isRemoteURI, parseURI, registerDriver } from "../api/index.ts";
import { findDriver } from "../api/registry.ts";
import { setMigrationPeerOpener } from "../drivers/migration-peer.ts";
import { remoteConnectDriver } from "../rpc/client.ts";
import { type ConnectDriver, type ConnectURI, type HypervisorDriver } from "../drivers/driver.ts";
import { VirtError } from "../util/errors/index.ts";
import {
  DEFAULT_QEMU_USER,
  openQemuConnection,
  qemuConnectDriver,
  type QemuDriverOptions,
} from "../drivers/qemu/index.ts";
import { loadDaemonNetworks } from "../drivers/network/index.ts";
import { loadDaemonStoragePools } from "../drivers/storage/index.ts";
import { loadDaemonSecrets } from "../drivers/secret/index.ts";
import type { Logger } from "./log.ts";

export type InstanceKind = "system" | "session";

export function daemonQemuConnectDriver(
  kind: InstanceKind,
  options: QemuDriverOptions = {},
  stateRoot?: string,
): ConnectDriver {
  return {
    name: "QEMU",
    uriSchemes: ["qemu"],
    localOnly: true,
    open(uri: ConnectURI, flags: number): Promise<HypervisorDriver> {
      if (uri.path === "/system" || uri.path === "/session") {
        if (kind === "session" && uri.path !== "/session") {
          return Promise.reject(new VirtError("QEMU_URI_PATH", { path: uri.path }));
        }
        // tvirtd's state_root: the instance's guests live under one directory (embed's layout).
        const root = stateRoot !== undefined ? { kind: "embed" as const, root: stateRoot } : { kind };
        // Autostart once per host boot (a marker in the instance's run dir), not at every
        // start of the daemon: socket activation starts it again after each idle exit.
        return openQemuConnection(root, `qemu://${uri.path}`, { autostartOncePerBoot: true, ...options });
      }
      return qemuConnectDriver.open(uri, flags);
    },
  };
}

/**
 * Whom QEMU runs as for an instance (qemu.conf's `user`/`group`): the system instance's default
 * is `tvirt-qemu` with its primary group, also with `state_root` (whose embed-layout root would
 * otherwise run QEMU as root); `user = "root"` (or `"+0"`) runs it as root. The session instance
 * runs QEMU as its own user whatever the file says, as libvirt's session daemon.
 */
export function daemonRunAs(
  kind: InstanceKind,
  cfg: { readonly qemuUser: string | undefined; readonly qemuGroup: string | undefined },
): Pick<QemuDriverOptions, "runAs"> {
  if (kind === "session") return { runAs: null };
  const user = cfg.qemuUser ?? DEFAULT_QEMU_USER;
  if (user === "root" || user === "+0") return { runAs: null };
  return { runAs: { user, ...(cfg.qemuGroup !== undefined ? { group: cfg.qemuGroup } : {}) } };
}

/** Registers the daemon's drivers for an instance. */
export function registerDaemonDrivers(
  kind: InstanceKind,
  options: QemuDriverOptions = {},
  stateRoot?: string,
): void {
  registerDriver(daemonQemuConnectDriver(kind, options, stateRoot));
  // the secrets of the same root: the QEMU driver reads its disks' passphrases from there, so a
  // secret a client defines through qemu:///system must land there too (a test daemon serving
  // qemu:///embed?root=DIR hosts no instance state, and would otherwise use /etc/tvirt/secrets)
  if (stateRoot !== undefined) loadDaemonSecrets(kind, { stateRoot });
  // peer-to-peer migration: the destination daemon through the remote driver (which the daemon
  // does not register as a scheme: a local URI must never loop back to a daemon)
  setMigrationPeerOpener((uri) => {
    const parsed = parseURI(uri);
    return isRemoteURI(parsed) ? remoteConnectDriver.open(parsed, 0) : findDriver(parsed).open(parsed, 0);
  });
}

/**
 * The network and storage state of the instance (libvirt's state driver initialisation): loads
 * the networks and pools, reconnects running ones, on the instance's first start defines
 * libvirt's `default` network (system instance) and `default` pool, and starts the autostart
 * ones. Called once, before serving clients.
 */
export async function loadDaemonState(kind: InstanceKind, log: Logger, stateRoot?: string): Promise<void> {
  const drv = await loadDaemonNetworks(kind, {
    ...(stateRoot !== undefined ? { stateRoot } : {}),
    onAutostartFailure: (network, e) => {
      log.error(`cannot autostart network '${network}': ${e instanceof Error ? e.message : String(e)}`);
    },
  });
  log.info(`networks loaded from ${drv.paths.configDir}`);
  const pools = await loadDaemonStoragePools(kind, stateRoot !== undefined ? { stateRoot } : {});
  log.info(`storage pools loaded from ${pools.paths.configDir}`);
  const secrets = loadDaemonSecrets(kind, stateRoot !== undefined ? { stateRoot } : {});
  log.info(`secrets loaded from ${secrets.dir ?? "memory"}`);
}
