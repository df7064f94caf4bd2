/**
 * The public surface: `Connection` (libvirt's `virConnectPtr`) and `Domain` (`virDomainPtr`, a
 * handle: connection + name + UUID + id). Each method is one libvirt public API call, named in
 * its doc comment; like `src/libvirt-domain.c` it checks the connection, refuses calls that
 * change anything on a read-only connection ("operation forbidden: read only access prevents
 * virXxx"), and reports a missing driver entry as "this function is not supported by the
 * connection driver: virXxx". The RPC server dispatches into these methods, so every remote
 * procedure has its method here.
 */
import type { Socket } from "node:net";
import { socketFd } from "../util/fdpass.ts";
import { toVirtError, VirtError } from "../util/errors/index.ts";
import {
  type ConsoleStream,
  type DomainCapabilitiesQuery,
  type HypervisorCpuQuery,
  type DomainEvent,
  type DomainInfo,
  type DomainRef,
  type DomainStateInfo,
  type HypervisorDriver,
  type NodeInfo,
  type SecurityLabel,
  type SecurityModel,
  // tuning and statistics
  type BlockStats,
  type InterfaceStats,
  type MemoryStat,
  type DomainJobInfo,
  type QemuMonitorEvent,
  type TypedParameter,
  type Screenshot,
} from "../drivers/driver.ts";
import { DomainEventId, DomainXMLFlags, MigrateFlags, MigrateParam } from "../drivers/enums.ts";
import { LIBVIRT_COMPAT_VERSION } from "../drivers/version.ts";
import { NodeDevice } from "./nodedev.ts";
import type {
  NetworkDriver,
  NetworkDriverConnection,
  NetworkLifecycleEvent,
  NetworkRef,
} from "../drivers/network-driver.ts";
import { Network } from "./network.ts";
import type {
  StorageDriver,
  StorageDriverConnection,
  StoragePoolEvent,
  StoragePoolRef,
} from "../drivers/storage-driver.ts";
import { StoragePool, StorageVol } from "./storage.ts";
import type {
  SecretDriver,
  SecretDriverConnection,
  SecretEvent,
  SecretRef,
} from "../drivers/secret-driver.ts";
import { Secret } from "./secret.ts";
import { networkDoctor, type NetworkDoctorReport } from "./network-doctor.ts";

/** A callback for domain events, with a handle of the domain on the same connection. */
export type DomainEventHandler = (dom: Domain, event: DomainEvent) => void;

/** Lowercase 8-4-4-4-12 form of a UUID given with or without dashes, or undefined if invalid. */
export function normalizeUUID(text: string): string | undefined {
  const hex = text.trim().replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function fail(e: unknown): never {
  throw e instanceof VirtError ? e : toVirtError(e);
}

export class Connection {
  private closed = false;
  private readonly callbacks = new Set<number>();

  /** @internal Use `connect()`. */
  constructor(
    private readonly driver: HypervisorDriver,
    /** The URI the connection was opened with. */
    readonly uri: string,
    /** Opened with `VIR_CONNECT_RO`. */
    readonly readonly: boolean,
    /**
     * The network driver of the connection (libvirt's `conn->networkDriver`): the local one for
     * QEMU URIs; absent when the hypervisor driver serves networks itself (test, remote).
     */
    private readonly networkDriver?: NetworkDriverConnection,
    /**
     * The storage driver of the connection (libvirt's `conn->storageDriver`): the in-memory
     * pools of `test:///default`, the local one for QEMU URIs; absent when the hypervisor driver
     * serves storage itself (remote).
     */
    private readonly storageDriver?: StorageDriverConnection,
    /**
     * The secret driver of the connection (libvirt's `conn->secretDriver`): the local one for
     * QEMU URIs; absent when the hypervisor driver serves secrets itself (remote) or has none.
     */
    private readonly secretDriver?: SecretDriverConnection,
  ) {}

  /** @internal Runs one secret API call, like `invoke`, on the connection's secret driver. */
  async invokeSecret<T>(
    api: string,
    write: boolean,
    call: (s: SecretDriver) => Promise<T> | undefined,
  ): Promise<T> {
    return this.invoke(api, write, (d) => call(this.secretDriver ?? (d as HypervisorDriver & SecretDriver)));
  }

  /** @internal A handle on a secret from the wire or a driver. */
  secret(ref: SecretRef): Secret {
    return new Secret(this, ref);
  }

  /** virConnectNumOfSecrets */
  async numOfSecrets(): Promise<number> {
    return this.invokeSecret("virConnectNumOfSecrets", false, (s) =>
      s.connectNumOfSecrets ? s.connectNumOfSecrets() : s.connectListAllSecrets?.(0).then((l) => l.length),
    );
  }

  /** virConnectListSecrets: UUIDs, at most `maxuuids`. */
  async listSecrets(maxuuids: number): Promise<string[]> {
    return this.invokeSecret("virConnectListSecrets", false, (s) =>
      s.connectListSecrets
        ? s.connectListSecrets(maxuuids)
        : s.connectListAllSecrets?.(0).then((l) => l.map((r) => r.uuid).slice(0, maxuuids)),
    );
  }

  /** virConnectListAllSecrets with `ConnectListSecretsFlags` (0 = all). */
  async listAllSecrets(flags = 0): Promise<Secret[]> {
    const refs = await this.invokeSecret("virConnectListAllSecrets", false, (s) =>
      s.connectListAllSecrets?.(flags),
    );
    return refs.map((r) => this.secret(r));
  }

  /** virSecretLookupByUUID (any UUID spelling). */
  async secretLookupByUUID(uuid: string): Promise<Secret> {
    const norm = normalizeUUID(uuid);
    if (norm === undefined)
      throw new VirtError("API_INVALID_UUID", { api: "virSecretLookupByUUIDString" }, { uuid });
    return this.secret(
      await this.invokeSecret("virSecretLookupByUUID", false, (s) => s.secretLookupByUUID?.(norm)),
    );
  }

  /** virSecretLookupByUsage (`SecretUsageType`, the volume path / name / target). */
  async secretLookupByUsage(usageType: number, usageID: string): Promise<Secret> {
    return this.secret(
      await this.invokeSecret("virSecretLookupByUsage", false, (s) =>
        s.secretLookupByUsage?.(usageType, usageID),
      ),
    );
  }

  /** virSecretDefineXML (`SecretDefineFlags.VALIDATE`: against libvirt's schema first). */
  async secretDefineXML(xml: string, flags = 0): Promise<Secret> {
    return this.secret(
      await this.invokeSecret("virSecretDefineXML", true, (s) => s.secretDefineXML?.(xml, flags)),
    );
  }

  /** virConnectSecretEventRegisterAny (`SecretEventId`): `secret` null = every secret. */
  async secretEventRegisterAny(
    secret: Secret | null,
    eventID: number,
    handler: (secret: Secret, event: SecretEvent) => void,
  ): Promise<number> {
    return this.invokeSecret("virConnectSecretEventRegisterAny", false, (s) =>
      s.connectSecretEventRegisterAny?.(secret ? secret.ref() : null, eventID, (ref, event) => {
        if (!this.closed) handler(this.secret(ref), event);
      }),
    );
  }

  /** virConnectSecretEventDeregisterAny */
  async secretEventDeregisterAny(callbackID: number): Promise<void> {
    await this.invokeSecret("virConnectSecretEventDeregisterAny", false, (s) =>
      s.connectSecretEventDeregisterAny?.(callbackID),
    );
  }

  /** @internal Runs one storage API call, like `invoke`, on the connection's storage driver. */
  async invokeStorage<T>(
    api: string,
    write: boolean,
    call: (s: StorageDriver) => Promise<T> | undefined,
  ): Promise<T> {
    return this.invoke(api, write, (d) =>
      call(this.storageDriver ?? (d as HypervisorDriver & StorageDriver)),
    );
  }

  private pool(ref: StoragePoolRef): StoragePool {
    return new StoragePool(this, ref);
  }

  /** virConnectNumOfStoragePools: running pools. */
  async numOfStoragePools(): Promise<number> {
    return this.invokeStorage("virConnectNumOfStoragePools", false, (s) => s.connectNumOfStoragePools?.());
  }

  /** virConnectNumOfDefinedStoragePools: inactive pools. */
  async numOfDefinedStoragePools(): Promise<number> {
    return this.invokeStorage("virConnectNumOfDefinedStoragePools", false, (s) =>
      s.connectNumOfDefinedStoragePools?.(),
    );
  }

  /** virConnectListAllStoragePools with `ConnectListStoragePoolsFlags` (0 = all). */
  async listAllStoragePools(flags = 0): Promise<StoragePool[]> {
    const refs = await this.invokeStorage("virConnectListAllStoragePools", false, (s) =>
      s.connectListAllStoragePools?.(flags),
    );
    return refs.map((r) => this.pool(r));
  }

  /** virStoragePoolLookupByName */
  async storagePoolLookupByName(name: string): Promise<StoragePool> {
    return this.pool(
      await this.invokeStorage("virStoragePoolLookupByName", false, (s) => s.storagePoolLookupByName?.(name)),
    );
  }

  /** virStoragePoolLookupByUUID (any UUID spelling). */
  async storagePoolLookupByUUID(uuid: string): Promise<StoragePool> {
    const norm = normalizeUUID(uuid);
    if (norm === undefined)
      throw new VirtError("API_INVALID_UUID", { api: "virStoragePoolLookupByUUID" }, { uuid });
    return this.pool(
      await this.invokeStorage("virStoragePoolLookupByUUID", false, (s) => s.storagePoolLookupByUUID?.(norm)),
    );
  }

  /** virStoragePoolLookupByVolume: the pool a volume is in. */
  async storagePoolLookupByVolume(vol: StorageVol): Promise<StoragePool> {
    return this.pool(
      await this.invokeStorage("virStoragePoolLookupByVolume", false, (s) =>
        s.storagePoolLookupByVolume?.(vol.ref()),
      ),
    );
  }

  /** virStoragePoolLookupByTargetPath: the pool whose target is `path`. */
  async storagePoolLookupByTargetPath(path: string): Promise<StoragePool> {
    return this.pool(
      await this.invokeStorage("virStoragePoolLookupByTargetPath", false, (s) =>
        s.storagePoolLookupByTargetPath?.(path),
      ),
    );
  }

  /** virStoragePoolDefineXML (`StoragePoolDefineFlags.VALIDATE`: against libvirt's schema first). */
  async storagePoolDefineXML(xml: string, flags = 0): Promise<StoragePool> {
    return this.pool(
      await this.invokeStorage("virStoragePoolDefineXML", true, (s) => s.storagePoolDefineXML?.(xml, flags)),
    );
  }

  /** virStoragePoolCreateXML: starts a transient pool (`StoragePoolCreateFlags`). */
  async storagePoolCreateXML(xml: string, flags = 0): Promise<StoragePool> {
    return this.pool(
      await this.invokeStorage("virStoragePoolCreateXML", true, (s) => s.storagePoolCreateXML?.(xml, flags)),
    );
  }

  /** virStorageVolLookupByKey */
  async storageVolLookupByKey(key: string): Promise<StorageVol> {
    const ref = await this.invokeStorage("virStorageVolLookupByKey", false, (s) =>
      s.storageVolLookupByKey?.(key),
    );
    return new StorageVol(this, ref);
  }

  /** virStorageVolLookupByPath */
  async storageVolLookupByPath(path: string): Promise<StorageVol> {
    const ref = await this.invokeStorage("virStorageVolLookupByPath", false, (s) =>
      s.storageVolLookupByPath?.(path),
    );
    return new StorageVol(this, ref);
  }

  /** virConnectFindStoragePoolSources: a `<sources>` document for pools of `type` (`srcSpec`: a `<source>` hint). */
  async findStoragePoolSources(type: string, srcSpec: string | null = null, flags = 0): Promise<string> {
    return this.invokeStorage("virConnectFindStoragePoolSources", true, (s) =>
      s.connectFindStoragePoolSources?.(type, srcSpec, flags),
    );
  }

  /** virConnectGetStoragePoolCapabilities: a `<storagepoolCapabilities>` document. */
  async getStoragePoolCapabilities(flags = 0): Promise<string> {
    return this.invokeStorage("virConnectGetStoragePoolCapabilities", false, (s) =>
      s.connectGetStoragePoolCapabilities?.(flags),
    );
  }

  /**
   * virConnectStoragePoolEventRegisterAny (`StoragePoolEventId`: LIFECYCLE, REFRESH): `pool`
   * null = every pool. Returns the callback id; callbacks end with the connection.
   */
  async storagePoolEventRegisterAny(
    pool: StoragePool | null,
    eventID: number,
    handler: (pool: StoragePool, event: StoragePoolEvent) => void,
  ): Promise<number> {
    return this.invokeStorage("virConnectStoragePoolEventRegisterAny", false, (s) =>
      s.connectStoragePoolEventRegisterAny?.(pool ? pool.ref() : null, eventID, (ref, event) => {
        if (!this.closed) handler(this.pool(ref), event);
      }),
    );
  }

  /** virConnectStoragePoolEventDeregisterAny */
  async storagePoolEventDeregisterAny(callbackID: number): Promise<void> {
    await this.invokeStorage("virConnectStoragePoolEventDeregisterAny", false, (s) =>
      s.connectStoragePoolEventDeregisterAny?.(callbackID),
    );
  }

  /** @internal Runs one network API call, like `invoke`, on the connection's network driver. */
  async invokeNetwork<T>(
    api: string,
    write: boolean,
    call: (n: NetworkDriver) => Promise<T> | undefined,
  ): Promise<T> {
    return this.invoke(api, write, (d) =>
      call(this.networkDriver ?? (d as HypervisorDriver & NetworkDriver)),
    );
  }

  private network(ref: NetworkRef): Network {
    return new Network(this, ref);
  }

  /** virConnectListAllNetworks with `ConnectListNetworksFlags` (0 = all). */
  async listAllNetworks(flags = 0): Promise<Network[]> {
    const refs = await this.invokeNetwork("virConnectListAllNetworks", false, (n) =>
      n.connectListAllNetworks?.(flags),
    );
    return refs.map((r) => this.network(r));
  }

  /**
   * tvirt's network doctor (no libvirt API): what breaks this host's NAT networks (forwarding
   * off, another firewall's forward policy drop, address clashes, dnsmasq not running, bridge
   * down), each finding with its fix. All networks, or the one named (name or UUID).
   */
  async networkDoctor(network?: string): Promise<NetworkDoctorReport> {
    try {
      return await networkDoctor(this, network);
    } catch (e) {
      fail(e);
    }
  }

  /** virNetworkLookupByName */
  async networkLookupByName(name: string): Promise<Network> {
    return this.network(
      await this.invokeNetwork("virNetworkLookupByName", false, (n) => n.networkLookupByName?.(name)),
    );
  }

  /** virNetworkLookupByUUID (any UUID spelling). */
  async networkLookupByUUID(uuid: string): Promise<Network> {
    const norm = normalizeUUID(uuid);
    if (norm === undefined)
      throw new VirtError("API_INVALID_UUID", { api: "virNetworkLookupByUUID" }, { uuid });
    return this.network(
      await this.invokeNetwork("virNetworkLookupByUUID", false, (n) => n.networkLookupByUUID?.(norm)),
    );
  }

  /** virNetworkDefineXML: defines (or redefines) a persistent network. */
  async networkDefineXML(xml: string): Promise<Network> {
    return this.network(
      await this.invokeNetwork("virNetworkDefineXML", true, (n) => n.networkDefineXML?.(xml)),
    );
  }

  /** virNetworkDefineXMLFlags (`NetworkDefineFlags.VALIDATE`: against libvirt's schema first). */
  async networkDefineXMLFlags(xml: string, flags: number): Promise<Network> {
    return this.network(
      await this.invokeNetwork("virNetworkDefineXMLFlags", true, (n) =>
        n.networkDefineXMLFlags?.(xml, flags),
      ),
    );
  }

  /** virNetworkCreateXMLFlags (`NetworkCreateFlags.VALIDATE`: against libvirt's schema first). */
  async networkCreateXMLFlags(xml: string, flags: number): Promise<Network> {
    return this.network(
      await this.invokeNetwork("virNetworkCreateXMLFlags", true, (n) =>
        n.networkCreateXMLFlags?.(xml, flags),
      ),
    );
  }

  /**
   * virConnectNetworkEventRegisterAny (`NetworkEventId.LIFECYCLE`): `net` null = every network.
   * Returns the callback id; callbacks end with the connection.
   */
  async networkEventRegisterAny(
    net: Network | null,
    eventID: number,
    handler: (net: Network, event: NetworkLifecycleEvent) => void,
  ): Promise<number> {
    return this.invokeNetwork("virConnectNetworkEventRegisterAny", false, (n) =>
      n.connectNetworkEventRegisterAny?.(net ? net.ref() : null, eventID, (ref, event) => {
        if (!this.closed) handler(this.network(ref), event);
      }),
    );
  }

  /** virConnectNetworkEventDeregisterAny */
  async networkEventDeregisterAny(callbackID: number): Promise<void> {
    await this.invokeNetwork("virConnectNetworkEventDeregisterAny", false, (n) =>
      n.connectNetworkEventDeregisterAny?.(callbackID),
    );
  }

  /** virNetworkCreateXML: starts a transient network. */
  async networkCreateXML(xml: string): Promise<Network> {
    return this.network(
      await this.invokeNetwork("virNetworkCreateXML", true, (n) => n.networkCreateXML?.(xml)),
    );
  }

  /**
   * @internal Runs one API call: connection and read-only checks, then the driver entry
   * (`undefined` from `call` = entry missing).
   */
  async invoke<T>(
    api: string,
    write: boolean,
    call: (d: HypervisorDriver) => Promise<T> | undefined,
  ): Promise<T> {
    if (this.closed) throw new VirtError("API_CONNECTION_CLOSED", { api });
    if (write && this.readonly) throw new VirtError("API_READ_ONLY", { api });
    let p: Promise<T> | undefined;
    try {
      p = call(this.driver);
    } catch (e) {
      fail(e);
    }
    if (p === undefined) throw new VirtError("API_NO_SUPPORT", { api });
    try {
      return await p;
    } catch (e) {
      fail(e);
    }
  }

  private domain(ref: DomainRef): Domain {
    return new Domain(this, ref);
  }

  /**
   * A handle for a domain known by name, UUID and id, without a lookup (libvirt's
   * `virGetDomain`; the RPC server builds handles from the wire this way). Calls on it fail
   * with "Domain not found" if no such domain exists.
   */
  handle(ref: DomainRef): Domain {
    return new Domain(this, { ...ref });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** virConnectClose. Idempotent. Deregisters this connection's event callbacks. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.callbacks.clear();
    await this.networkDriver?.close();
    await this.storageDriver?.close();
    await this.secretDriver?.close();
    await this.driver.connectClose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** virConnectGetType: the driver's name (`TEST`, `QEMU`). */
  async getType(): Promise<string> {
    return this.invoke("virConnectGetType", false, (d) =>
      d.connectGetType ? d.connectGetType() : Promise.resolve(d.name),
    );
  }

  /** virConnectGetVersion: the hypervisor version as `major*1000000 + minor*1000 + release`. */
  async getVersion(): Promise<number> {
    return this.invoke("virConnectGetVersion", false, (d) => d.connectGetVersion?.());
  }

  /** virConnectGetLibVersion: the library version serving the connection. */
  async getLibVersion(): Promise<number> {
    return this.invoke("virConnectGetLibVersion", false, (d) =>
      d.connectGetLibVersion ? d.connectGetLibVersion() : Promise.resolve(LIBVIRT_COMPAT_VERSION),
    );
  }

  /** virConnectGetHostname */
  async getHostname(): Promise<string> {
    return this.invoke("virConnectGetHostname", false, (d) => d.connectGetHostname?.());
  }

  /** virConnectGetURI: the canonical URI. */
  async getURI(): Promise<string> {
    return this.invoke("virConnectGetURI", false, (d) =>
      d.connectGetURI ? d.connectGetURI() : Promise.resolve(this.uri),
    );
  }

  /** virConnectGetCapabilities: host capabilities XML. */
  async getCapabilities(): Promise<string> {
    return this.invoke("virConnectGetCapabilities", false, (d) => d.connectGetCapabilities?.());
  }

  /** virConnectGetDomainCapabilities */
  async getDomainCapabilities(query: DomainCapabilitiesQuery = {}, flags = 0): Promise<string> {
    return this.invoke("virConnectGetDomainCapabilities", true, (d) =>
      d.connectGetDomainCapabilities?.(query, flags),
    );
  }

  /** virConnectGetSysinfo */
  async getSysinfo(flags = 0): Promise<string> {
    return this.invoke("virConnectGetSysinfo", false, (d) => d.connectGetSysinfo?.(flags));
  }

  /** virConnectGetCPUModelNames: empty when the driver accepts any model for `arch`. */
  async getCPUModelNames(arch: string, flags = 0): Promise<string[]> {
    return this.invoke("virConnectGetCPUModelNames", false, (d) => d.connectGetCPUModelNames?.(arch, flags));
  }

  /** virConnectBaselineCPU */
  async baselineCPU(xmlCPUs: readonly string[], flags = 0): Promise<string> {
    return this.invoke("virConnectBaselineCPU", false, (d) => d.connectBaselineCPU?.(xmlCPUs, flags));
  }

  /** virConnectCompareCPU: 0 incompatible, 1 identical, 2 the host's is a superset. */
  async compareCPU(xml: string, flags = 0): Promise<number> {
    return this.invoke("virConnectCompareCPU", false, (d) => d.connectCompareCPU?.(xml, flags));
  }

  /** virConnectBaselineHypervisorCPU */
  async baselineHypervisorCPU(
    query: HypervisorCpuQuery,
    xmlCPUs: readonly string[],
    flags = 0,
  ): Promise<string> {
    return this.invoke("virConnectBaselineHypervisorCPU", false, (d) =>
      d.connectBaselineHypervisorCPU?.(query, xmlCPUs, flags),
    );
  }

  /** virConnectCompareHypervisorCPU: 0 incompatible, 1 identical, 2 the hypervisor's is a superset. */
  async compareHypervisorCPU(query: HypervisorCpuQuery, xml: string, flags = 0): Promise<number> {
    return this.invoke("virConnectCompareHypervisorCPU", false, (d) =>
      d.connectCompareHypervisorCPU?.(query, xml, flags),
    );
  }

  /** virConnectGetMaxVcpus */
  async getMaxVcpus(type: string | null = null): Promise<number> {
    return this.invoke("virConnectGetMaxVcpus", false, (d) => d.connectGetMaxVcpus?.(type));
  }

  /** virConnectIsAlive */
  async isAlive(): Promise<boolean> {
    if (this.closed) return false;
    return this.invoke("virConnectIsAlive", false, (d) =>
      d.connectIsAlive ? d.connectIsAlive() : Promise.resolve(true),
    );
  }

  /** virConnectSupportsFeature (`DrvFeature`); false when the driver does not say. */
  async supportsFeature(feature: number): Promise<boolean> {
    return this.invoke("virConnectSupportsFeature", false, (d) =>
      d.connectSupportsFeature ? d.connectSupportsFeature(feature) : Promise.resolve(false),
    );
  }

  /** virConnectIsSecure */
  async isSecure(): Promise<boolean> {
    return this.invoke("virConnectIsSecure", false, (d) => d.connectIsSecure?.());
  }

  /** virConnectIsEncrypted */
  async isEncrypted(): Promise<boolean> {
    return this.invoke("virConnectIsEncrypted", false, (d) => d.connectIsEncrypted?.());
  }

  /** virNodeGetInfo */
  async nodeGetInfo(): Promise<NodeInfo> {
    return this.invoke("virNodeGetInfo", false, (d) => d.nodeGetInfo?.());
  }

  /** virNodeGetSecurityModel */
  async nodeGetSecurityModel(): Promise<SecurityModel> {
    return this.invoke("virNodeGetSecurityModel", false, (d) => d.nodeGetSecurityModel?.());
  }

  /** virNodeGetFreePages: free pages of each size (KiB), cell by cell. */
  async nodeGetFreePages(
    pages: readonly number[],
    startCell: number,
    cellCount: number,
    flags = 0,
  ): Promise<bigint[]> {
    return this.invoke("virNodeGetFreePages", false, (d) =>
      d.nodeGetFreePages?.(pages, startCell, cellCount, flags),
    );
  }

  /** virNodeAllocPages: resizes huge page pools (`NodeAllocPagesFlags.ADD` to grow them). */
  async nodeAllocPages(
    pageSizes: readonly number[],
    pageCounts: readonly bigint[],
    startCell: number,
    cellCount: number,
    flags = 0,
  ): Promise<number> {
    return this.invoke("virNodeAllocPages", true, (d) =>
      d.nodeAllocPages?.(pageSizes, pageCounts, startCell, cellCount, flags),
    );
  }

  /** virNodeGetFreeMemory */
  async nodeGetFreeMemory(): Promise<bigint> {
    return this.invoke("virNodeGetFreeMemory", false, (d) => d.nodeGetFreeMemory?.());
  }

  /** virConnectListAllDomains with `ConnectListDomainsFlags` (0 = all). */
  async listAllDomains(flags = 0): Promise<Domain[]> {
    const refs = await this.invoke("virConnectListAllDomains", false, (d) =>
      d.connectListAllDomains?.(flags),
    );
    return refs.map((r) => this.domain(r));
  }

  /** virConnectNumOfDomains */
  async numOfDomains(): Promise<number> {
    return this.invoke("virConnectNumOfDomains", false, (d) => d.connectNumOfDomains?.());
  }

  /** virConnectListDomains: ids of running domains. */
  async listDomains(maxids: number): Promise<number[]> {
    return this.invoke("virConnectListDomains", false, (d) => d.connectListDomains?.(maxids));
  }

  /** virConnectNumOfDefinedDomains */
  async numOfDefinedDomains(): Promise<number> {
    return this.invoke("virConnectNumOfDefinedDomains", false, (d) => d.connectNumOfDefinedDomains?.());
  }

  /** virConnectListDefinedDomains: names of inactive domains. */
  async listDefinedDomains(maxnames: number): Promise<string[]> {
    return this.invoke("virConnectListDefinedDomains", false, (d) => d.connectListDefinedDomains?.(maxnames));
  }

  /** virDomainLookupByID */
  async lookupDomainByID(id: number): Promise<Domain> {
    if (!Number.isInteger(id) || id < 0)
      throw new VirtError("API_INVALID_ARG", { what: "id in virDomainLookupByID must be zero or greater" });
    return this.domain(await this.invoke("virDomainLookupByID", false, (d) => d.domainLookupByID?.(id)));
  }

  /** virDomainLookupByName */
  async lookupDomainByName(name: string): Promise<Domain> {
    return this.domain(
      await this.invoke("virDomainLookupByName", false, (d) => d.domainLookupByName?.(name)),
    );
  }

  /** virDomainLookupByUUID (any UUID spelling; see virDomainLookupByUUIDString for strict). */
  async lookupDomainByUUID(uuid: string): Promise<Domain> {
    const norm = normalizeUUID(uuid);
    if (norm === undefined)
      throw new VirtError("API_INVALID_UUID", { api: "virDomainLookupByUUID" }, { uuid });
    return this.domain(
      await this.invoke("virDomainLookupByUUID", false, (d) => d.domainLookupByUUID?.(norm)),
    );
  }

  /** virDomainLookupByUUIDString */
  async lookupDomainByUUIDString(uuid: string): Promise<Domain> {
    const norm = normalizeUUID(uuid);
    if (norm === undefined)
      throw new VirtError("API_INVALID_UUID", { api: "virDomainLookupByUUIDString" }, { uuid });
    return this.domain(
      await this.invoke("virDomainLookupByUUIDString", false, (d) => d.domainLookupByUUID?.(norm)),
    );
  }

  /** virDomainDefineXML: defines (or redefines) a persistent domain. */
  async defineXML(xml: string): Promise<Domain> {
    const ref = await this.invoke("virDomainDefineXML", true, (d) =>
      d.domainDefineXML ? d.domainDefineXML(xml) : d.domainDefineXMLFlags?.(xml, 0),
    );
    return this.domain(ref);
  }

  /** virDomainDefineXMLFlags with `DomainDefineFlags`. */
  async defineXMLFlags(xml: string, flags: number): Promise<Domain> {
    return this.domain(
      await this.invoke("virDomainDefineXMLFlags", true, (d) => d.domainDefineXMLFlags?.(xml, flags)),
    );
  }

  /** virDomainCreateXML: starts a transient domain, with `DomainCreateFlags`. */
  async createXML(xml: string, flags = 0): Promise<Domain> {
    return this.domain(await this.invoke("virDomainCreateXML", true, (d) => d.domainCreateXML?.(xml, flags)));
  }

  /** virDomainMigratePrepare3Params (destination side of a v3 migration; for the RPC server). */
  async migratePrepare3Params(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
  ): Promise<{ cookieOut: Uint8Array; uriOut: string | null }> {
    return this.invoke("virDomainMigratePrepare3Params", true, (d) =>
      d.domainMigratePrepare3Params?.(params, cookieIn, flags),
    );
  }

  /** virDomainMigrateFinish3Params: the domain that arrived (destination side). */
  async migrateFinish3Params(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
    cancelled: boolean,
  ): Promise<{ dom: Domain; cookieOut: Uint8Array }> {
    const r = await this.invoke("virDomainMigrateFinish3Params", true, (d) =>
      d.domainMigrateFinish3Params?.(params, cookieIn, flags, cancelled),
    );
    return { dom: this.domain(r.dom), cookieOut: r.cookieOut };
  }

  /** virDomainRestore */
  async restore(path: string): Promise<void> {
    await this.invoke("virDomainRestore", true, (d) =>
      d.domainRestore ? d.domainRestore(path) : d.domainRestoreFlags?.(path, null, 0),
    );
  }

  /** virDomainRestoreFlags with `DomainSaveRestoreFlags`; `dxml` replaces the saved definition. */
  async restoreFlags(path: string, dxml: string | null, flags: number): Promise<void> {
    await this.invoke("virDomainRestoreFlags", true, (d) => d.domainRestoreFlags?.(path, dxml, flags));
  }

  /** virDomainSaveImageGetXMLDesc */
  async saveImageGetXMLDesc(path: string, flags = 0): Promise<string> {
    if (this.readonly && flags & DomainXMLFlags.SECURE) {
      throw new VirtError("API_READ_ONLY_SECURE", { api: "virDomainSaveImageGetXMLDesc" });
    }
    return this.invoke("virDomainSaveImageGetXMLDesc", false, (d) =>
      d.domainSaveImageGetXMLDesc?.(path, flags),
    );
  }

  /** virDomainSaveImageDefineXML */
  async saveImageDefineXML(path: string, dxml: string, flags = 0): Promise<void> {
    await this.invoke("virDomainSaveImageDefineXML", true, (d) =>
      d.domainSaveImageDefineXML?.(path, dxml, flags),
    );
  }

  /** virConnectDomainXMLToNative: the hypervisor's native configuration for domain XML. */
  async domainXMLToNative(format: string, xml: string, flags = 0): Promise<string> {
    return this.invoke("virConnectDomainXMLToNative", true, (d) =>
      d.connectDomainXMLToNative?.(format, xml, flags),
    );
  }

  /**
   * virConnectDomainEventRegisterAny: calls `handler` for each event `eventID` (`DomainEventId`)
   * of `dom` (or of every domain when null). Returns the callback id.
   */
  async domainEventRegisterAny(
    dom: Domain | null,
    eventID: number,
    handler: DomainEventHandler,
  ): Promise<number> {
    if (!Number.isInteger(eventID) || eventID < 0) {
      throw new VirtError("API_INVALID_ARG", {
        what: "eventID in virConnectDomainEventRegisterAny must be zero or greater",
      });
    }
    const id = await this.invoke("virConnectDomainEventRegisterAny", false, (d) =>
      d.connectDomainEventRegisterAny?.(dom ? dom.ref() : null, eventID, (ref, event) => {
        if (!this.closed) handler(this.domain(ref), event);
      }),
    );
    this.callbacks.add(id);
    return id;
  }

  /** virConnectDomainEventDeregisterAny */
  async domainEventDeregisterAny(callbackID: number): Promise<void> {
    await this.invoke("virConnectDomainEventDeregisterAny", false, (d) =>
      d.connectDomainEventDeregisterAny?.(callbackID),
    );
    this.callbacks.delete(callbackID);
  }

  // --- node devices ---------------------------------------------------------------------------

  /** virConnectListAllNodeDevices with `ConnectListNodeDevicesFlags` (capability bits; 0 = all). */
  async listAllNodeDevices(flags = 0): Promise<NodeDevice[]> {
    const names = await this.invoke("virConnectListAllNodeDevices", false, (d) =>
      d.connectListAllNodeDevices?.(flags),
    );
    return names.map((n) => new NodeDevice(this, n));
  }

  /** virNodeDeviceLookupByName */
  async lookupNodeDeviceByName(name: string): Promise<NodeDevice> {
    const n = await this.invoke("virNodeDeviceLookupByName", false, (d) => d.nodeDeviceLookupByName?.(name));
    return new NodeDevice(this, n);
  }

  /** Convenience: lifecycle events only. Returns the callback id. */
  async onLifecycle(
    handler: (dom: Domain, event: number, detail: number) => void,
    dom: Domain | null = null,
  ): Promise<number> {
    return this.domainEventRegisterAny(dom, DomainEventId.LIFECYCLE, (d, ev) => {
      if (ev.id === DomainEventId.LIFECYCLE) handler(d, ev.event, ev.detail);
    });
  }

  // --- tuning and statistics (domstats, qemu-monitor-event) ----------------------------------

  /** virConnectGetAllDomainStats with `DomainStatsTypes` and `GetAllDomainStatsFlags`. */
  async getAllDomainStats(stats: number, flags = 0): Promise<{ dom: Domain; params: TypedParameter[] }[]> {
    const recs = await this.invoke("virConnectGetAllDomainStats", false, (d) =>
      d.connectGetAllDomainStats?.([], stats >>> 0, flags >>> 0),
    );
    return recs.map((r) => ({ dom: this.domain(r.dom), params: r.params }));
  }

  /** virDomainListGetStats: the statistics of the given domains. */
  async domainListGetStats(
    doms: Domain[],
    stats: number,
    flags = 0,
  ): Promise<{ dom: Domain; params: TypedParameter[] }[]> {
    if (doms.length === 0)
      throw new VirtError("API_INVALID_ARG", { what: "doms in virDomainListGetStats must not be empty" });
    const recs = await this.invoke("virDomainListGetStats", false, (d) =>
      d.connectGetAllDomainStats?.(
        doms.map((x) => x.ref()),
        stats >>> 0,
        flags >>> 0,
      ),
    );
    return recs.map((r) => ({ dom: this.domain(r.dom), params: r.params }));
  }

  /**
   * virConnectDomainQemuMonitorEventRegister (libvirt-qemu): QMP events of running domains;
   * `event` null = all, flags `QemuMonitorEventRegisterFlags` (REGEX, NOCASE).
   */
  async qemuMonitorEventRegister(
    dom: Domain | null,
    event: string | null,
    handler: (dom: Domain, ev: QemuMonitorEvent) => void,
    flags = 0,
  ): Promise<number> {
    return this.invoke("virConnectDomainQemuMonitorEventRegister", false, (d) =>
      d.connectDomainQemuMonitorEventRegister?.(
        dom ? dom.ref() : null,
        event,
        (ref, ev) => {
          if (!this.closed) handler(this.domain(ref), ev);
        },
        flags,
      ),
    );
  }

  /** virConnectDomainQemuMonitorEventDeregister */
  async qemuMonitorEventDeregister(callbackID: number): Promise<void> {
    await this.invoke("virConnectDomainQemuMonitorEventDeregister", false, (d) =>
      d.connectDomainQemuMonitorEventDeregister?.(callbackID),
    );
  }
}

export class Domain {
  /** @internal Domains come from lookups, listings, define and create. */
  constructor(
    readonly connection: Connection,
    private readonly handle: DomainRef,
  ) {}

  get name(): string {
    return this.handle.name;
  }

  /** Lowercase 8-4-4-4-12. */
  get uuid(): string {
    return this.handle.uuid;
  }

  /** The id while running, -1 otherwise (as of the handle's last update). */
  get id(): number {
    return this.handle.id;
  }

  /** @internal The handle passed to drivers. */
  ref(): DomainRef {
    return this.handle;
  }

  toJSON(): DomainRef {
    return { ...this.handle };
  }

  private call<T>(
    api: string,
    write: boolean,
    fn: (d: HypervisorDriver, ref: DomainRef) => Promise<T> | undefined,
  ): Promise<T> {
    return this.connection.invoke(api, write, (d) => fn(d, this.handle));
  }

  // --- migration --------------------------------------------------------------------------

  /** virDomainMigrateBegin3Params (source side; for the RPC server and `migrate3`). */
  async migrateBegin3Params(
    params: TypedParameter[],
    flags: number,
  ): Promise<{ cookieOut: Uint8Array; xml: string }> {
    return this.call("virDomainMigrateBegin3Params", true, (d, r) =>
      d.domainMigrateBegin3Params?.(r, params, flags),
    );
  }

  /** virDomainMigratePerform3Params (source side; `dconnuri` for peer-to-peer). */
  async migratePerform3Params(
    dconnuri: string | null,
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
  ): Promise<{ cookieOut: Uint8Array }> {
    return this.call("virDomainMigratePerform3Params", true, (d, r) =>
      d.domainMigratePerform3Params?.(r, dconnuri, params, cookieIn, flags),
    );
  }

  /** virDomainMigrateConfirm3Params (source side). */
  async migrateConfirm3Params(
    params: TypedParameter[],
    cookieIn: Uint8Array,
    flags: number,
    cancelled: boolean,
  ): Promise<void> {
    await this.call("virDomainMigrateConfirm3Params", true, (d, r) =>
      d.domainMigrateConfirm3Params?.(r, params, cookieIn, flags, cancelled),
    );
  }

  /** virDomainMigrateStartPostCopy: switches a running post-copy-enabled migration over. */
  async migrateStartPostCopy(flags = 0): Promise<void> {
    await this.call("virDomainMigrateStartPostCopy", true, (d, r) =>
      d.domainMigrateStartPostCopy?.(r, flags),
    );
  }

  /**
   * virDomainMigrateToURI3: peer-to-peer migration (`MigrateFlags.PEER2PEER`): this domain's
   * driver connects to `dconnuri` itself and runs every phase.
   */
  async migrateToURI3(dconnuri: string, params: TypedParameter[], flags: number): Promise<void> {
    if (!(flags & MigrateFlags.PEER2PEER))
      throw new VirtError("API_INVALID_ARG", {
        what: "direct migration (without VIR_MIGRATE_PEER2PEER) to a URI is not supported by the QEMU driver",
      });
    await this.migratePerform3Params(dconnuri, params, new Uint8Array(), flags);
  }

  /**
   * virDomainMigrate3: moves this domain to the host of `dconn` and returns it there. With
   * `PEER2PEER` the source's driver runs the migration (to `dconn`'s URI); otherwise this
   * client runs the five phases itself (libvirt's virDomainMigrateVersion3Full with params).
   */
  async migrate3(dconn: Connection, params: TypedParameter[], flags: number): Promise<Domain> {
    if (flags & MigrateFlags.PEER2PEER) {
      await this.migrateToURI3(await dconn.getURI(), params, flags);
      return dconn.lookupDomainByUUIDString(this.uuid);
    }
    const begin = await this.migrateBegin3Params(params, flags);
    let dflags = flags;
    if (!(flags & MigrateFlags.OFFLINE)) {
      const st = await this.getState();
      if (st.state === 3) dflags |= MigrateFlags.PAUSED;
    }
    const withXml = (ps: TypedParameter[], xml: string): TypedParameter[] => [
      ...ps.filter((p) => p.field !== MigrateParam.DEST_XML),
      { field: MigrateParam.DEST_XML, value: { type: 7, value: xml } },
    ];
    const dparams = withXml(params, begin.xml);
    const prep = await dconn.migratePrepare3Params(dparams, begin.cookieOut, dflags);
    const withUri = prep.uriOut
      ? [
          ...dparams.filter((p) => p.field !== MigrateParam.URI),
          { field: MigrateParam.URI, value: { type: 7 as const, value: prep.uriOut } },
        ]
      : dparams;
    let failure: unknown;
    let cookie = prep.cookieOut;
    try {
      cookie = (await this.migratePerform3Params(null, withUri, prep.cookieOut, flags)).cookieOut;
    } catch (e) {
      failure = e;
    }
    let arrived: Domain | undefined;
    try {
      arrived = (await dconn.migrateFinish3Params(withUri, cookie, dflags, failure !== undefined)).dom;
    } catch (e) {
      failure ??= e;
    }
    await this.migrateConfirm3Params(
      params,
      begin.cookieOut,
      flags,
      arrived === undefined || failure !== undefined,
    );
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error("migration failed");
    if (!arrived) throw new VirtError("API_INVALID_ARG", { what: "migration failed" });
    return arrived;
  }

  /** virDomainCreate: starts a defined domain. */
  async create(): Promise<void> {
    await this.call("virDomainCreate", true, (d, r) =>
      d.domainCreate ? d.domainCreate(r) : d.domainCreateWithFlags?.(r, 0),
    );
  }

  /** virDomainCreateWithFlags with `DomainCreateFlags`. */
  async createWithFlags(flags: number): Promise<void> {
    await this.call("virDomainCreateWithFlags", true, (d, r) => d.domainCreateWithFlags?.(r, flags));
  }

  /** virDomainShutdown: asks the guest to power off. */
  async shutdown(): Promise<void> {
    await this.call("virDomainShutdown", true, (d, r) =>
      d.domainShutdown ? d.domainShutdown(r) : d.domainShutdownFlags?.(r, 0),
    );
  }

  /** virDomainShutdownFlags with `DomainShutdownFlags` (modes). */
  async shutdownFlags(flags: number): Promise<void> {
    await this.call("virDomainShutdownFlags", true, (d, r) => d.domainShutdownFlags?.(r, flags));
  }

  /** virDomainReboot with `DomainRebootFlags`. */
  async reboot(flags = 0): Promise<void> {
    await this.call("virDomainReboot", true, (d, r) => d.domainReboot?.(r, flags));
  }

  /** virDomainReset */
  async reset(flags = 0): Promise<void> {
    await this.call("virDomainReset", true, (d, r) => d.domainReset?.(r, flags));
  }

  /** virDomainDestroy: stops the domain at once. */
  async destroy(): Promise<void> {
    await this.call("virDomainDestroy", true, (d, r) =>
      d.domainDestroy ? d.domainDestroy(r) : d.domainDestroyFlags?.(r, 0),
    );
  }

  /** virDomainDestroyFlags with `DomainDestroyFlags`. */
  async destroyFlags(flags: number): Promise<void> {
    await this.call("virDomainDestroyFlags", true, (d, r) => d.domainDestroyFlags?.(r, flags));
  }

  /** virDomainSuspend */
  async suspend(): Promise<void> {
    await this.call("virDomainSuspend", true, (d, r) => d.domainSuspend?.(r));
  }

  /** virDomainResume */
  async resume(): Promise<void> {
    await this.call("virDomainResume", true, (d, r) => d.domainResume?.(r));
  }

  /**
   * virDomainQemuMonitorCommand (libvirt-qemu): a QMP command in JSON (QEMU's reply as JSON text)
   * or, with flags 1 (HMP), a human monitor command (its output). Taints the domain.
   */
  async qemuMonitorCommand(cmd: string, flags = 0): Promise<string> {
    return this.call("virDomainQemuMonitorCommand", true, (d, r) => {
      const f = (d as { domainQemuMonitorCommand?: unknown }).domainQemuMonitorCommand;
      if (typeof f !== "function") return undefined;
      return (f as (dom: DomainRef, cmd: string, flags: number) => Promise<string>).call(d, r, cmd, flags);
    });
  }

  // --- device hotplug: flags are `DomainDeviceModifyFlags` ---------------------------------

  /** virDomainAttachDevice: attaches the device described by `xml` to the running guest. */
  async attachDevice(xml: string): Promise<void> {
    await this.call("virDomainAttachDevice", true, (d, r) => d.domainAttachDevice?.(r, xml));
  }

  /** virDomainAttachDeviceFlags: live, config or both (`DomainDeviceModifyFlags`). */
  async attachDeviceFlags(xml: string, flags: number): Promise<void> {
    await this.call("virDomainAttachDeviceFlags", true, (d, r) => d.domainAttachDeviceFlags?.(r, xml, flags));
  }

  /** virDomainDetachDevice: detaches the device `xml` names from the running guest. */
  async detachDevice(xml: string): Promise<void> {
    await this.call("virDomainDetachDevice", true, (d, r) => d.domainDetachDevice?.(r, xml));
  }

  /** virDomainDetachDeviceFlags */
  async detachDeviceFlags(xml: string, flags: number): Promise<void> {
    await this.call("virDomainDetachDeviceFlags", true, (d, r) => d.domainDetachDeviceFlags?.(r, xml, flags));
  }

  /** virDomainUpdateDeviceFlags: changes a device (CD-ROM/floppy media). */
  async updateDeviceFlags(xml: string, flags: number): Promise<void> {
    await this.call("virDomainUpdateDeviceFlags", true, (d, r) => d.domainUpdateDeviceFlags?.(r, xml, flags));
  }

  /** virDomainSave: saves the state to a file and stops the domain. */
  async save(path: string): Promise<void> {
    await this.call("virDomainSave", true, (d, r) =>
      d.domainSave ? d.domainSave(r, path) : d.domainSaveFlags?.(r, path, null, 0),
    );
  }

  /** virDomainSaveFlags with `DomainSaveRestoreFlags`. */
  async saveFlags(path: string, dxml: string | null, flags: number): Promise<void> {
    await this.call("virDomainSaveFlags", true, (d, r) => d.domainSaveFlags?.(r, path, dxml, flags));
  }

  /** virDomainManagedSave */
  async managedSave(flags = 0): Promise<void> {
    await this.call("virDomainManagedSave", true, (d, r) => d.domainManagedSave?.(r, flags));
  }

  /** virDomainHasManagedSaveImage */
  async hasManagedSaveImage(flags = 0): Promise<boolean> {
    return this.call("virDomainHasManagedSaveImage", false, (d, r) =>
      d.domainHasManagedSaveImage?.(r, flags),
    );
  }

  /** virDomainManagedSaveRemove */
  async managedSaveRemove(flags = 0): Promise<void> {
    await this.call("virDomainManagedSaveRemove", true, (d, r) => d.domainManagedSaveRemove?.(r, flags));
  }

  /** virDomainUndefine */
  async undefine(): Promise<void> {
    await this.call("virDomainUndefine", true, (d, r) =>
      d.domainUndefine ? d.domainUndefine(r) : d.domainUndefineFlags?.(r, 0),
    );
  }

  /** virDomainUndefineFlags with `DomainUndefineFlags`. */
  async undefineFlags(flags: number): Promise<void> {
    await this.call("virDomainUndefineFlags", true, (d, r) => d.domainUndefineFlags?.(r, flags));
  }

  /** virDomainGetAutostart */
  async getAutostart(): Promise<boolean> {
    return this.call("virDomainGetAutostart", false, (d, r) => d.domainGetAutostart?.(r));
  }

  /** virDomainSetAutostart */
  async setAutostart(autostart: boolean): Promise<void> {
    await this.call("virDomainSetAutostart", true, (d, r) => d.domainSetAutostart?.(r, autostart));
  }

  /** virDomainGetXMLDesc with `DomainXMLFlags`. */
  async getXMLDesc(flags = 0): Promise<string> {
    if (this.connection.readonly && flags & DomainXMLFlags.SECURE) {
      throw new VirtError("API_READ_ONLY_SECURE", { api: "virDomainGetXMLDesc" });
    }
    return this.call("virDomainGetXMLDesc", false, (d, r) => d.domainGetXMLDesc?.(r, flags));
  }

  /** virDomainGetInfo */
  async getInfo(): Promise<DomainInfo> {
    return this.call("virDomainGetInfo", false, (d, r) => d.domainGetInfo?.(r));
  }

  /** virDomainGetState: state and reason. */
  async getState(flags = 0): Promise<DomainStateInfo> {
    return this.call("virDomainGetState", false, (d, r) => d.domainGetState?.(r, flags));
  }

  /** virDomainGetOSType */
  async getOSType(): Promise<string> {
    return this.call("virDomainGetOSType", false, (d, r) => d.domainGetOSType?.(r));
  }

  /** virDomainGetMaxMemory (KiB) */
  async getMaxMemory(): Promise<number> {
    return this.call("virDomainGetMaxMemory", false, (d, r) => d.domainGetMaxMemory?.(r));
  }

  /** virDomainGetSecurityLabel */
  async getSecurityLabel(): Promise<SecurityLabel> {
    return this.call("virDomainGetSecurityLabel", false, (d, r) => d.domainGetSecurityLabel?.(r));
  }

  /** virDomainIsActive */
  async isActive(): Promise<boolean> {
    return this.call("virDomainIsActive", false, (d, r) => d.domainIsActive?.(r));
  }

  /** virDomainIsPersistent */
  async isPersistent(): Promise<boolean> {
    return this.call("virDomainIsPersistent", false, (d, r) => d.domainIsPersistent?.(r));
  }

  /** virDomainIsUpdated */
  async isUpdated(): Promise<boolean> {
    return this.call("virDomainIsUpdated", false, (d, r) => d.domainIsUpdated?.(r));
  }

  /** virDomainOpenConsole: a stream to the guest console (`devname` null = first console). */
  async openConsole(devname: string | null = null, flags = 0): Promise<ConsoleStream> {
    return this.call("virDomainOpenConsole", true, (d, r) => d.domainOpenConsole?.(r, devname, flags));
  }

  // --- tuning and statistics (setmem, setvcpus, dommemstat, domblkstat, domifstat) ----------

  /** virDomainSetMemory: the balloon target of the running domain, KiB. */
  async setMemory(kib: number): Promise<void> {
    checkULong(kib, "memory", "virDomainSetMemory");
    await this.call("virDomainSetMemory", true, (d, r) =>
      d.domainSetMemory ? d.domainSetMemory(r, kib) : d.domainSetMemoryFlags?.(r, kib, 1),
    );
  }

  /** virDomainSetMaxMemory, KiB. */
  async setMaxMemory(kib: number): Promise<void> {
    checkULong(kib, "memory", "virDomainSetMaxMemory");
    await this.call("virDomainSetMaxMemory", true, (d, r) =>
      d.domainSetMaxMemory ? d.domainSetMaxMemory(r, kib) : d.domainSetMemoryFlags?.(r, kib, 4),
    );
  }

  /** virDomainSetMemoryFlags with `DomainMemoryModFlags`, KiB. */
  async setMemoryFlags(kib: number, flags = 0): Promise<void> {
    checkULong(kib, "memory", "virDomainSetMemoryFlags");
    await this.call("virDomainSetMemoryFlags", true, (d, r) => d.domainSetMemoryFlags?.(r, kib, flags));
  }

  /** virDomainSetVcpus */
  async setVcpus(nvcpus: number): Promise<void> {
    if (nvcpus === 0) throw invalidArg("nvcpus in virDomainSetVcpus must not be zero");
    await this.call("virDomainSetVcpus", true, (d, r) =>
      d.domainSetVcpus ? d.domainSetVcpus(r, nvcpus) : d.domainSetVcpusFlags?.(r, nvcpus, 1),
    );
  }

  /** virDomainSetVcpusFlags with `DomainVcpuFlags`. */
  async setVcpusFlags(nvcpus: number, flags = 0): Promise<void> {
    if (nvcpus === 0) throw invalidArg("nvcpus in virDomainSetVcpusFlags must not be zero");
    await this.call("virDomainSetVcpusFlags", true, (d, r) => d.domainSetVcpusFlags?.(r, nvcpus, flags));
  }

  /** virDomainGetVcpusFlags with `DomainVcpuFlags`. */
  async getVcpusFlags(flags = 0): Promise<number> {
    return this.call("virDomainGetVcpusFlags", false, (d, r) => d.domainGetVcpusFlags?.(r, flags));
  }

  /** virDomainGetMaxVcpus */
  async getMaxVcpus(): Promise<number> {
    return this.call("virDomainGetMaxVcpus", false, (d, r) => d.domainGetMaxVcpus?.(r));
  }

  /** virDomainBlockStats: `path` = disk target or source, "" = all disks summed. */
  async blockStats(path: string): Promise<BlockStats> {
    return this.call("virDomainBlockStats", false, (d, r) => d.domainBlockStats?.(r, path));
  }

  /** virDomainBlockStatsFlags: typed parameters (`wr_bytes`, `rd_operations`, …). */
  async blockStatsFlags(path: string, flags = 0): Promise<TypedParameter[]> {
    return this.call("virDomainBlockStatsFlags", false, (d, r) => d.domainBlockStatsFlags?.(r, path, flags));
  }

  /** virDomainInterfaceStats: by target device name or MAC address. */
  async interfaceStats(device: string): Promise<InterfaceStats> {
    return this.call("virDomainInterfaceStats", false, (d, r) => d.domainInterfaceStats?.(r, device));
  }

  /** virDomainMemoryStats: up to `nrStats` statistics (`DomainMemoryStatTag`). */
  async memoryStats(nrStats = 13, flags = 0): Promise<MemoryStat[]> {
    return this.call("virDomainMemoryStats", false, (d, r) => d.domainMemoryStats?.(r, nrStats, flags));
  }

  /** virDomainGetMemoryParameters: `hard_limit`, `soft_limit`, `swap_hard_limit` in KiB (unlimited = 9007199254740991). */
  async getMemoryParameters(flags = 0): Promise<TypedParameter[]> {
    return this.call("virDomainGetMemoryParameters", false, (d, r) =>
      d.domainGetMemoryParameters?.(r, flags),
    );
  }

  /** virDomainSetMemoryParameters (memtune). */
  async setMemoryParameters(params: TypedParameter[], flags = 0): Promise<void> {
    await this.call("virDomainSetMemoryParameters", true, (d, r) =>
      d.domainSetMemoryParameters?.(r, params, flags),
    );
  }

  /** virDomainGetSchedulerType: the scheduler (`posix`) and its parameter count. */
  async getSchedulerType(): Promise<{ type: string; nparams: number }> {
    return this.call("virDomainGetSchedulerType", false, (d, r) => d.domainGetSchedulerType?.(r));
  }

  /** virDomainGetSchedulerParameters: the legacy call without flags (schedinfo without a scope). */
  async getSchedulerParameters(): Promise<TypedParameter[]> {
    return this.call("virDomainGetSchedulerParameters", false, (d, r) =>
      d.domainGetSchedulerParameters
        ? d.domainGetSchedulerParameters(r)
        : d.domainGetSchedulerParametersFlags?.(r, 0),
    );
  }

  /** virDomainSetSchedulerParameters: the legacy call without flags. */
  async setSchedulerParameters(params: TypedParameter[]): Promise<void> {
    await this.call("virDomainSetSchedulerParameters", true, (d, r) =>
      d.domainSetSchedulerParameters
        ? d.domainSetSchedulerParameters(r, params)
        : d.domainSetSchedulerParametersFlags?.(r, params, 0),
    );
  }

  /**
   * virDomainGetSchedulerParametersFlags (schedinfo with a scope). As libvirt's public API,
   * VIR_TYPED_PARAM_STRING_OKAY is added (every tvirt driver takes string parameters).
   */
  async getSchedulerParametersFlags(flags = 0): Promise<TypedParameter[]> {
    return this.call("virDomainGetSchedulerParametersFlags", false, (d, r) =>
      d.domainGetSchedulerParametersFlags?.(r, flags | 4),
    );
  }

  /** virDomainSetSchedulerParametersFlags (schedinfo --set). */
  async setSchedulerParametersFlags(params: TypedParameter[], flags = 0): Promise<void> {
    await this.call("virDomainSetSchedulerParametersFlags", true, (d, r) =>
      d.domainSetSchedulerParametersFlags?.(r, params, flags),
    );
  }

  /** virDomainGetBlkioParameters (blkiotune). */
  async getBlkioParameters(flags = 0): Promise<TypedParameter[]> {
    return this.call("virDomainGetBlkioParameters", false, (d, r) => d.domainGetBlkioParameters?.(r, flags));
  }

  /** virDomainSetBlkioParameters. */
  async setBlkioParameters(params: TypedParameter[], flags = 0): Promise<void> {
    await this.call("virDomainSetBlkioParameters", true, (d, r) =>
      d.domainSetBlkioParameters?.(r, params, flags),
    );
  }

  /** virDomainPinVcpuFlags: `cpumap` one bit per host CPU. */
  async pinVcpuFlags(vcpu: number, cpumap: Uint8Array, flags = 0): Promise<void> {
    await this.call("virDomainPinVcpuFlags", true, (d, r) => d.domainPinVcpuFlags?.(r, vcpu, cpumap, flags));
  }

  /** virDomainPinEmulator. */
  async pinEmulator(cpumap: Uint8Array, flags = 0): Promise<void> {
    await this.call("virDomainPinEmulator", true, (d, r) => d.domainPinEmulator?.(r, cpumap, flags));
  }

  /** virDomainGetVcpuPinInfo: `num` maps of `maplen` bytes back to back. */
  async getVcpuPinInfo(
    ncpumaps: number,
    maplen: number,
    flags = 0,
  ): Promise<{ num: number; cpumaps: Uint8Array }> {
    return this.call("virDomainGetVcpuPinInfo", false, (d, r) =>
      d.domainGetVcpuPinInfo?.(r, ncpumaps, maplen, flags),
    );
  }

  /** virDomainGetEmulatorPinInfo. */
  async getEmulatorPinInfo(maplen: number, flags = 0): Promise<{ ret: number; cpumap: Uint8Array }> {
    return this.call("virDomainGetEmulatorPinInfo", false, (d, r) =>
      d.domainGetEmulatorPinInfo?.(r, maplen, flags),
    );
  }

  /** virDomainSetMemoryStatsPeriod: seconds between balloon statistics updates (0 = off). */
  async setMemoryStatsPeriod(period: number, flags = 0): Promise<void> {
    await this.call("virDomainSetMemoryStatsPeriod", true, (d, r) =>
      d.domainSetMemoryStatsPeriod?.(r, period, flags),
    );
  }

  // --- jobs and migration tuning (issue 15) -------------------------------------------------

  /** virDomainGetJobInfo: the running job's progress (type `DomainJobType.NONE` when idle). */
  async getJobInfo(): Promise<DomainJobInfo> {
    return this.call("virDomainGetJobInfo", false, (d, r) => d.domainGetJobInfo?.(r));
  }

  /** virDomainGetJobStats with `DomainGetJobStatsFlags`: job type and typed statistics. */
  async getJobStats(flags = 0): Promise<{ type: number; params: TypedParameter[] }> {
    return this.call("virDomainGetJobStats", false, (d, r) => d.domainGetJobStats?.(r, flags));
  }

  /** virDomainAbortJob: cancels the running job (save, migration); the guest keeps running. */
  async abortJob(): Promise<void> {
    await this.call("virDomainAbortJob", true, (d, r) =>
      d.domainAbortJob ? d.domainAbortJob(r) : d.domainAbortJobFlags?.(r, 0),
    );
  }

  /** virDomainAbortJobFlags with `DomainAbortJobFlags`. */
  async abortJobFlags(flags: number): Promise<void> {
    await this.call("virDomainAbortJobFlags", true, (d, r) => d.domainAbortJobFlags?.(r, flags));
  }

  /** virDomainMigrateSetMaxDowntime (ms). */
  async migrateSetMaxDowntime(downtime: bigint, flags = 0): Promise<void> {
    await this.call("virDomainMigrateSetMaxDowntime", true, (d, r) =>
      d.domainMigrateSetMaxDowntime?.(r, downtime, flags),
    );
  }

  /** virDomainMigrateGetMaxDowntime (ms). */
  async migrateGetMaxDowntime(flags = 0): Promise<bigint> {
    return this.call("virDomainMigrateGetMaxDowntime", false, (d, r) =>
      d.domainMigrateGetMaxDowntime?.(r, flags),
    );
  }

  /** virDomainMigrateSetMaxSpeed (MiB/s) with `DomainMigrateMaxSpeedFlags`. */
  async migrateSetMaxSpeed(bandwidth: bigint, flags = 0): Promise<void> {
    await this.call("virDomainMigrateSetMaxSpeed", true, (d, r) =>
      d.domainMigrateSetMaxSpeed?.(r, bandwidth, flags),
    );
  }

  /** virDomainMigrateGetMaxSpeed (MiB/s). */
  async migrateGetMaxSpeed(flags = 0): Promise<bigint> {
    return this.call("virDomainMigrateGetMaxSpeed", false, (d, r) => d.domainMigrateGetMaxSpeed?.(r, flags));
  }

  /** virDomainMigrateSetCompressionCache (bytes). */
  async migrateSetCompressionCache(cacheSize: bigint, flags = 0): Promise<void> {
    await this.call("virDomainMigrateSetCompressionCache", true, (d, r) =>
      d.domainMigrateSetCompressionCache?.(r, cacheSize, flags),
    );
  }

  /** virDomainMigrateGetCompressionCache (bytes). */
  async migrateGetCompressionCache(flags = 0): Promise<bigint> {
    return this.call("virDomainMigrateGetCompressionCache", false, (d, r) =>
      d.domainMigrateGetCompressionCache?.(r, flags),
    );
  }

  /** virDomainGetMessages with `DomainMessageType` flags (0 = all). */
  async getMessages(flags = 0): Promise<string[]> {
    return this.call("virDomainGetMessages", false, (d, r) => d.domainGetMessages?.(r, flags));
  }

  // --- graphical consoles (issue 19) --------------------------------------------------------

  /**
   * virDomainScreenshot: the image of screen `screen` as a stream (iterate it to the end, or
   * `close` it to abort) and its MIME type (QEMU: `image/x-portable-pixmap`). libvirt's caller
   * creates the virStream first; here the call returns it, as `openConsole` does.
   */
  async screenshot(screen = 0, flags = 0): Promise<Screenshot> {
    checkUInt(screen, "screen", "virDomainScreenshot");
    return this.call("virDomainScreenshot", true, (d, r) => d.domainScreenshot?.(r, screen, flags));
  }

  /**
   * virDomainOpenGraphicsFD: a new client connection to graphics device `idx` (VNC or SPICE),
   * as a node socket that has not read anything yet (resume it or read it to get the display's
   * greeting). `flags`: `DomainOpenGraphicsFlags` (SKIPAUTH). libvirt returns a descriptor.
   */
  async openGraphicsFd(idx = 0, flags = 0): Promise<Socket> {
    checkUInt(idx, "idx", "virDomainOpenGraphicsFD");
    return this.call("virDomainOpenGraphicsFD", true, (d, r) => d.domainOpenGraphicsFd?.(r, idx, flags));
  }

  /**
   * virDomainOpenGraphics: hands the caller's connected socket (a node socket, or a descriptor of
   * this process) to graphics device `idx` as a client; the caller keeps its copy.
   */
  async openGraphics(idx: number, socket: Socket | number, flags = 0): Promise<void> {
    checkUInt(idx, "idx", "virDomainOpenGraphics");
    const fd = typeof socket === "number" ? socket : socketFd(socket);
    if (fd === undefined || !Number.isInteger(fd) || fd < 0)
      throw invalidArg("fd in virDomainOpenGraphics must be an open socket");
    await this.call("virDomainOpenGraphics", true, (d, r) => d.domainOpenGraphics?.(r, idx, fd, flags));
  }

  /**
   * virDomainSendKey: presses `keycodes` (at most 16, in code set `codeset`, a `KeycodeSet`)
   * together for `holdtime` ms (0: the hypervisor's default), then releases them.
   */
  async sendKey(codeset: number, holdtime: number, keycodes: readonly number[], flags = 0): Promise<void> {
    checkUInt(codeset, "codeset", "virDomainSendKey");
    checkUInt(holdtime, "holdtime", "virDomainSendKey");
    if (keycodes.length === 0 || keycodes.length > 16)
      throw invalidArg(
        `nkeycodes in virDomainSendKey must be ${keycodes.length === 0 ? "greater than zero" : "<= 16"}`,
      );
    for (const k of keycodes) checkUInt(k, "keycodes", "virDomainSendKey");
    await this.call("virDomainSendKey", true, (d, r) =>
      d.domainSendKey?.(r, codeset, holdtime, keycodes, flags),
    );
  }

  // --- snapshots (issue 20) -----------------------------------------------------------------

  /** virDomainSnapshotCreateXML with `DomainSnapshotCreateFlags`. */
  async snapshotCreateXML(xml: string, flags = 0): Promise<DomainSnapshot> {
    const name = await this.call("virDomainSnapshotCreateXML", true, (d, r) =>
      d.domainSnapshotCreateXML?.(r, xml, flags),
    );
    return new DomainSnapshot(this, name);
  }

  /** virDomainListAllSnapshots with `DomainSnapshotListFlags` (ROOTS: roots only). */
  async listAllSnapshots(flags = 0): Promise<DomainSnapshot[]> {
    const names = await this.call("virDomainListAllSnapshots", false, (d, r) =>
      d.domainListAllSnapshots?.(r, flags),
    );
    return names.map((n) => new DomainSnapshot(this, n));
  }

  /** virDomainSnapshotNum */
  async snapshotNum(flags = 0): Promise<number> {
    return (await this.listAllSnapshots(flags)).length;
  }

  /** virDomainSnapshotLookupByName */
  async snapshotLookupByName(name: string, flags = 0): Promise<DomainSnapshot> {
    const n = await this.call("virDomainSnapshotLookupByName", false, (d, r) =>
      d.domainSnapshotLookupByName?.(r, name, flags),
    );
    return new DomainSnapshot(this, n);
  }

  /** virDomainHasCurrentSnapshot */
  async hasCurrentSnapshot(flags = 0): Promise<boolean> {
    return this.call("virDomainHasCurrentSnapshot", false, (d, r) => d.domainHasCurrentSnapshot?.(r, flags));
  }

  /** virDomainSnapshotCurrent */
  async snapshotCurrent(flags = 0): Promise<DomainSnapshot> {
    const n = await this.call("virDomainSnapshotCurrent", false, (d, r) =>
      d.domainSnapshotCurrent?.(r, flags),
    );
    return new DomainSnapshot(this, n);
  }

  /** @internal the per-snapshot calls of `DomainSnapshot` */
  snapshotCall<T>(
    api: string,
    write: boolean,
    fn: (d: HypervisorDriver, ref: DomainRef) => Promise<T> | undefined,
  ): Promise<T> {
    return this.call(api, write, fn);
  }
}

/** libvirt's virDomainSnapshot: a snapshot of `domain`, named `name`. */
export class DomainSnapshot {
  constructor(
    readonly domain: Domain,
    readonly name: string,
  ) {}

  /** virDomainSnapshotGetXMLDesc (`DomainXMLFlags.SECURE`) */
  getXMLDesc(flags = 0): Promise<string> {
    return this.domain.snapshotCall("virDomainSnapshotGetXMLDesc", false, (d, r) =>
      d.domainSnapshotGetXMLDesc?.(r, this.name, flags),
    );
  }

  /** virDomainSnapshotGetParent */
  async getParent(flags = 0): Promise<DomainSnapshot> {
    const n = await this.domain.snapshotCall("virDomainSnapshotGetParent", false, (d, r) =>
      d.domainSnapshotGetParent?.(r, this.name, flags),
    );
    return new DomainSnapshot(this.domain, n);
  }

  /** virDomainSnapshotListAllChildren (DESCENDANTS: every snapshot below) */
  async listAllChildren(flags = 0): Promise<DomainSnapshot[]> {
    const names = await this.domain.snapshotCall("virDomainSnapshotListAllChildren", false, (d, r) =>
      d.domainSnapshotListAllChildren?.(r, this.name, flags),
    );
    return names.map((n) => new DomainSnapshot(this.domain, n));
  }

  /** virDomainSnapshotNumChildren */
  async numChildren(flags = 0): Promise<number> {
    return (await this.listAllChildren(flags)).length;
  }

  /** virDomainSnapshotIsCurrent */
  isCurrent(flags = 0): Promise<boolean> {
    return this.domain.snapshotCall("virDomainSnapshotIsCurrent", false, (d, r) =>
      d.domainSnapshotIsCurrent?.(r, this.name, flags),
    );
  }

  /** virDomainSnapshotHasMetadata */
  hasMetadata(flags = 0): Promise<boolean> {
    return this.domain.snapshotCall("virDomainSnapshotHasMetadata", false, (d, r) =>
      d.domainSnapshotHasMetadata?.(r, this.name, flags),
    );
  }

  /** virDomainRevertToSnapshot with `DomainSnapshotRevertFlags` */
  async revert(flags = 0): Promise<void> {
    await this.domain.snapshotCall("virDomainRevertToSnapshot", true, (d, r) =>
      d.domainRevertToSnapshot?.(r, this.name, flags),
    );
  }

  /** virDomainSnapshotDelete with `DomainSnapshotDeleteFlags` */
  async delete(flags = 0): Promise<void> {
    await this.domain.snapshotCall("virDomainSnapshotDelete", true, (d, r) =>
      d.domainSnapshotDelete?.(r, this.name, flags),
    );
  }
}

function checkUInt(v: number, what: string, api: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw invalidArg(`${what} in ${api} must be an unsigned 32-bit integer, got ${v}`);
}

/** virReportInvalidArg: libvirt raises these without the "invalid argument" prefix. */
function invalidArg(what: string): Error {
  const e = new VirtError("API_INVALID_ARG", { what });
  e.message = e.detail;
  return e;
}

/** virCheckNonZeroArg and the unsigned long argument checks of the memory APIs. */
function checkULong(v: number, name: string, func: string): void {
  if (v === 0) throw invalidArg(`${name} in ${func} must not be zero`);
  if (!Number.isSafeInteger(v) || v < 0)
    throw new VirtError("API_INVALID_ARG", {
      what: `${name} in ${func} must be an unsigned integer, got ${v}`,
    });
}
