/**
 * tvirt's public API: `connect(uri)` → `Connection` → `Domain`, with libvirt's operations,
 * flags, events and error numbers. The URI decides which driver serves the connection
 * (`test:///default`, `qemu:///system`, `qemu:///session`, `qemu:///embed?root=DIR`, remote
 * URIs); `LIBVIRT_DEFAULT_URI` is used when none is given.
 *
 * ```ts
 * const conn = await connect("test:///default");
 * const dom = await conn.lookupDomainByName("test");
 * await dom.suspend();
 * console.log(await dom.getState()); // { state: 3, reason: 1 } = paused (user)
 * await conn.close();
 * ```
 */
import { type HypervisorDriver } from "../drivers/driver.ts";
import { ConnectFlags } from "../drivers/enums.ts";
import { Connection } from "./connection.ts";
import { findDriver, openNetworkDriverFor, openSecretDriverFor, openStorageDriverFor } from "./registry.ts";
import { defaultURI, parseURI } from "./uri.ts";

export interface ConnectOptions {
  /** Open read-only (`VIR_CONNECT_RO`): every call that changes something is refused. */
  readonly?: boolean;
}

/**
 * virConnectOpen / virConnectOpenReadOnly. `uri` null, undefined or "" = the default URI.
 * Throws a VirtError when no driver serves the URI or the driver refuses it.
 */
export async function connect(uri?: string | null, options: ConnectOptions = {}): Promise<Connection> {
  const text = uri === undefined || uri === null || uri === "" ? defaultURI() : uri;
  const parsed = parseURI(text);
  const driver = findDriver(parsed);
  const flags = options.readonly ? ConnectFlags.RO : 0;
  const conn: HypervisorDriver = await driver.open(parsed, flags);
  let net;
  let storage;
  let secrets;
  try {
    net = await openNetworkDriverFor(parsed, conn);
    storage = await openStorageDriverFor(parsed, conn);
    secrets = openSecretDriverFor(parsed, conn);
  } catch (e) {
    await net?.close().catch(() => undefined);
    await storage?.close().catch(() => undefined);
    await conn.connectClose().catch(() => undefined);
    throw e;
  }
  return new Connection(conn, text, options.readonly ?? false, net, storage, secrets);
}

export { Connection, Domain, DomainSnapshot, normalizeUUID, type DomainEventHandler } from "./connection.ts";
export { NodeDevice, nodeDevCapNames } from "./nodedev.ts";
export { Network, NetworkPort } from "./network.ts";
export { StoragePool, StorageVol } from "./storage.ts";
export { Secret } from "./secret.ts";
export {
  ConnectListSecretsFlags,
  SecretDefineFlags,
  SecretEventId,
  SecretEventLifecycleType,
  SecretUsageType,
  SECRET_USAGE_NAMES,
  type SecretEvent,
  type SecretRef,
} from "../drivers/secret-driver.ts";
export {
  ConnectListStoragePoolsFlags,
  StoragePoolDefineFlags,
  StoragePoolCreateFlags,
  StoragePoolBuildFlags,
  StoragePoolDeleteFlags,
  StorageXMLFlags,
  StoragePoolState,
  StorageVolType,
  StorageVolCreateFlags,
  StorageVolDeleteFlags,
  StorageVolWipeAlgorithm,
  StorageVolResizeFlags,
  StorageVolUploadFlags,
  StorageVolDownloadFlags,
  StorageVolInfoFlags,
  StoragePoolEventId,
  StoragePoolEventLifecycleType,
  type StoragePoolEvent,
  type StoragePoolInfo,
  type StorageVolInfo,
  type StoragePoolRef,
  type StorageVolRef,
  type StreamHole,
  type VolumeDownloadStream,
  type VolumeUploadSink,
} from "../drivers/storage-driver.ts";
export type { NetworkDoctorReport, DoctorFinding, FindingKind } from "./network-doctor.ts";
export {
  ConnectListNetworksFlags,
  NetworkXMLFlags,
  NetworkDefineFlags,
  NetworkCreateFlags,
  IPAddrType,
  NetworkEventId,
  NetworkEventLifecycleType,
  NetworkUpdateCommand,
  NetworkUpdateSection,
  NetworkUpdateFlags,
  NetworkPortCreateFlags,
  NETWORK_UPDATE_COMMAND_NAMES,
  NETWORK_UPDATE_SECTION_NAMES,
  type NetworkLifecycleEvent,
  type NetworkDHCPLease,
  type NetworkRef,
  type NetworkPortRef,
} from "../drivers/network-driver.ts";
export { registerDriver, unregisterDriver, registeredSchemes } from "./registry.ts";
export { parseURI, defaultURI, uriParam, isRemoteURI, type ConnectURI } from "./uri.ts";
export * from "./types.ts";
export {
  VirtError,
  toVirtError,
  isVirtError,
  checkFlags,
  strerror,
  VirErrorNumber,
  VirErrorDomain,
  type ErrorCode,
} from "../util/errors/index.ts";
export {
  parseXmlTree,
  selectNodes,
  selectString,
  selectValue,
  serializeNode,
  type XNode,
  type XElement,
} from "../conf/xml-query.ts";
// edit / schema validation: what `tvirsh edit` and `tvirsh validate` use on the client side.
export { parseDomainXML, formatDomainXML, type XmlWarning } from "../conf/domain/index.ts";
export { diffDomainXML, describeChange, type DomainChange } from "../conf/domain/diff.ts";
export {
  validateDocument,
  validateAgainstSchema,
  schemaForRoot,
  type SchemaProblem,
} from "../host/xml-schema.ts";
// graphical consoles: send-key's code sets and key names
export { KEYCODE_SETS, keycodeFromName } from "../conf/keycodes.ts";
// domxml-to-native with no connection (`--caps FILE`).
export { domainXMLToQemuArgv, type QemuArgv, type QemuArgvOptions } from "./native.ts";
// host readiness (tvirt-host-validate)
export {
  validateHost,
  formatCheck,
  type HostValidation,
  type HostCheck,
  type CheckResult,
  type HostValidateFacts,
  // huge pages report (tvirsh hugepages)
  hugepageReport,
  pageSizeText,
  type HugepageReport,
  type HugepagePool,
  type HugepageAdvice,
} from "./host.ts";
// snapshots (issue 20)
export {
  DomainSnapshotCreateFlags,
  DomainSnapshotListFlags,
  DomainSnapshotRevertFlags,
  DomainSnapshotDeleteFlags,
} from "../drivers/enums.ts";
