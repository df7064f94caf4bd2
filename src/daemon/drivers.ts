/**
 * The drivers the daemon hosts (libvirt's state drivers). Inside tvirtd the `qemu` scheme serves
 * `qemu:///system` (root) or `qemu:///session` (a user) from the QEMU driver in this process,
 * where a client process gets "served by the daemon" for those URIs; `qemu:///embed` stays the
 * embedded driver. The test driver (`test:///default`) is registered by `api/` itself.
 *
 * Like libvirt's privileged QEMU driver, a root daemon accepts both `/system` and `/session`
 * and serves the system instance for both; a user's daemon serves `/session` only.
 */
import { registerDriver } from "../api/index.ts";
import { type ConnectDriver, type ConnectURI, type HypervisorDriver } from "../drivers/driver.ts";
import { VirtError } from "../util/errors/index.ts";
import { openQemuConnection, qemuConnectDriver, type QemuDriverOptions } from "../drivers/qemu/index.ts";

export type InstanceKind = "system" | "session";

export function daemonQemuConnectDriver(kind: InstanceKind, options: QemuDriverOptions = {}): ConnectDriver {
  return {
    name: "QEMU",
    uriSchemes: ["qemu"],
    localOnly: true,
    open(uri: ConnectURI, flags: number): Promise<HypervisorDriver> {
      if (uri.path === "/system" || uri.path === "/session") {
        if (kind === "session" && uri.path !== "/session") {
          return Promise.reject(new VirtError("QEMU_URI_PATH", { path: uri.path }));
        }
        return openQemuConnection({ kind }, `qemu://${uri.path}`, options);
      }
      return qemuConnectDriver.open(uri, flags);
    },
  };
}

/** Registers the daemon's drivers for an instance. */
export function registerDaemonDrivers(kind: InstanceKind, options: QemuDriverOptions = {}): void {
  registerDriver(daemonQemuConnectDriver(kind, options));
}
