/**
 * The driver registry (libvirt's `virRegisterConnectDriver`): drivers register the URI schemes
 * they serve; `connect()` picks one by the URI's scheme. URIs with a host or a transport go to
 * the driver registered for `remote` (the RPC client, issue 4), like libvirt's remote driver.
 */
import { type ConnectDriver, type ConnectURI } from "../drivers/driver.ts";
import { VirtError } from "../util/errors/index.ts";
import { testConnectDriver } from "../drivers/test/index.ts";
import { qemuConnectDriver } from "../drivers/qemu/index.ts";
import { isRemoteURI } from "./uri.ts";
import type { NetworkDriverConnection } from "../drivers/network-driver.ts";
import { openLocalNetworkDriver } from "../drivers/network/index.ts";
import { testDefaultNetworks } from "../drivers/network/memory.ts";
import type { StorageDriverConnection } from "../drivers/storage-driver.ts";
import { testDefaultStorage } from "../drivers/storage/memory.ts";
import { openLocalStorageDriver } from "../drivers/storage/index.ts";
import type { SecretDriverConnection } from "../drivers/secret-driver.ts";
import { openLocalSecretDriver } from "../drivers/secret/index.ts";

const drivers = new Map<string, ConnectDriver>();

/** Registers a driver for its schemes (a later registration of a scheme replaces the earlier). */
export function registerDriver(driver: ConnectDriver): void {
  for (const scheme of driver.uriSchemes) drivers.set(scheme, driver);
}

/** Removes a driver (tests). */
export function unregisterDriver(driver: ConnectDriver): void {
  for (const [scheme, d] of drivers) if (d === driver) drivers.delete(scheme);
}

/** The driver that serves a URI, or throws `no connection driver available for <uri>`. */
export function findDriver(uri: ConnectURI): ConnectDriver {
  if (isRemoteURI(uri)) {
    const local = drivers.get(uri.driver);
    if (local && !local.localOnly) return local;
    const remote = drivers.get("remote");
    if (remote) return remote;
    throw new VirtError("API_REMOTE_UNAVAILABLE", { uri: uri.text });
  }
  const d = drivers.get(uri.driver) ?? drivers.get("remote");
  if (!d) throw new VirtError("API_NO_CONNECT", { uri: uri.text });
  return d;
}

/** Schemes with a registered driver, for diagnostics. */
export function registeredSchemes(): string[] {
  return [...drivers.keys()].sort();
}

registerDriver(testConnectDriver);
registerDriver(qemuConnectDriver);

/**
 * The network driver for a connection whose hypervisor driver `hv` just opened (libvirt picks
 * `conn->networkDriver` the same way): the local network driver for QEMU URIs served in this
 * process (embed roots; system and session inside the daemon), none where the hypervisor
 * driver serves networks itself (remote); `test:///default` gets its in-memory networks.
 */
export async function openNetworkDriverFor(
  uri: ConnectURI,
  hv: { readonly name: string },
): Promise<NetworkDriverConnection | undefined> {
  if (isRemoteURI(uri)) return undefined;
  if (uri.driver === "test" && hv.name === "TEST" && uri.path === "/default") {
    return testDefaultNetworks();
  }
  if (uri.driver !== "qemu" || hv.name !== "QEMU") return undefined;
  return openLocalNetworkDriver(uri);
}

/**
 * The storage driver for a connection whose hypervisor driver `hv` just opened (libvirt's
 * `conn->storageDriver`), picked as `openNetworkDriverFor` picks the network driver:
 * `test:///default` gets its in-memory pools (`default-pool`), QEMU URIs served in this process
 * the local storage driver, remote URIs none (the remote driver serves storage itself).
 */
export async function openStorageDriverFor(
  uri: ConnectURI,
  hv: { readonly name: string },
): Promise<StorageDriverConnection | undefined> {
  if (isRemoteURI(uri)) return undefined;
  if (uri.driver === "test" && hv.name === "TEST" && uri.path === "/default") {
    return testDefaultStorage();
  }
  if (uri.driver !== "qemu" || hv.name !== "QEMU") return undefined;
  return openLocalStorageDriver(uri);
}

/**
 * The secret driver for a connection (libvirt's `conn->secretDriver`): the local one for QEMU
 * URIs served in this process; none for remote URIs (the remote driver forwards secrets) and
 * none for `test:///default`, whose libvirt driver has no secrets either ("not supported").
 */
export function openSecretDriverFor(
  uri: ConnectURI,
  hv: { readonly name: string },
): SecretDriverConnection | undefined {
  if (isRemoteURI(uri)) return undefined;
  if (uri.driver !== "qemu" || hv.name !== "QEMU") return undefined;
  return openLocalSecretDriver(uri);
}
