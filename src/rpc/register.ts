/**
 * Registers the remote driver (scheme `remote`: URIs with a host or a transport, and local URIs
 * that no driver in this process serves), and routes `qemu:///system` and `qemu:///session` to
 * it (the embedded QEMU driver keeps `qemu:///embed`), as libvirt's client library does. Entry points import this
 * module (tvirsh, library users who want daemon URIs); `api/` never imports `rpc/`. tvirtd does
 * not import it: inside the daemon a local URI must never loop back to a daemon.
 */
import { registerDriver } from "../api/index.ts";
import { qemuConnectDriver } from "../drivers/qemu/index.ts";
import { createQemuClientConnectDriver, remoteConnectDriver } from "./client.ts";
import { findDriver } from "../api/registry.ts";
import { parseURI } from "../api/uri.ts";
import { setMigrationPeerOpener } from "../drivers/migration-peer.ts";

/** The `qemu` scheme here: system and session through the daemon, embed in this process. */
export const qemuClientConnectDriver = createQemuClientConnectDriver(qemuConnectDriver);

registerDriver(remoteConnectDriver);
registerDriver(qemuClientConnectDriver);

// peer-to-peer migration from a driver in this process (embed): the destination through the
// registry, like any connection
setMigrationPeerOpener((uri) => {
  const parsed = parseURI(uri);
  return findDriver(parsed).open(parsed, 0);
});

export { remoteConnectDriver, RemoteDriver } from "./client.ts";
