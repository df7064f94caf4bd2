/**
 * How a driver reaches the destination of a peer-to-peer migration (libvirt's
 * `virConnectOpenAuth(dconnuri)` inside the source daemon). Drivers sit below the RPC client
 * and the driver registry, so the layer that has both (`rpc/register.ts`) installs the opener;
 * without it, p2p migration says so.
 */
import { VirtError } from "../util/errors/index.ts";
import type { HypervisorDriver } from "./driver.ts";

export type MigrationPeerOpener = (uri: string) => Promise<HypervisorDriver>;

let opener: MigrationPeerOpener | undefined;

/** Installs the opener (the registry layer does, once). */
export function setMigrationPeerOpener(fn: MigrationPeerOpener): void {
  opener = fn;
}

/** A connection to the destination's driver; the caller closes it (`connectClose`). */
export function openMigrationPeer(uri: string): Promise<HypervisorDriver> {
  if (!opener) {
    return Promise.reject(
      new VirtError("QEMU_MIGRATION_FAILED", {
        phase: "connect",
        reason: `no driver can open the destination '${uri}' in this process`,
      }),
    );
  }
  return opener(uri);
}
