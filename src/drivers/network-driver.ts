/**
 * The network driver interface (libvirt's `virNetworkDriver`), beside the hypervisor driver
 * interface in `driver.ts`. A connection reaches networks through a separate network driver
 * (libvirt: `conn->networkDriver`): the QEMU URIs get the local network driver, the test driver
 * implements these entries itself, and the remote driver will forward them. Methods are named
 * after libvirt's driver table entries; a `NetworkRef` stands where libvirt passes a
 * `virNetworkPtr`.
 */

/** A network handle: name and UUID (libvirt's `virNetworkPtr`). */
export interface NetworkRef {
  readonly name: string;
  readonly uuid: string;
}

/** A network port handle (libvirt's `virNetworkPortPtr`): its network and its UUID. */
export interface NetworkPortRef {
  readonly net: NetworkRef;
  readonly uuid: string;
}

/** `virNetworkPortCreateFlags` */
export const NetworkPortCreateFlags = { RECLAIM: 1 << 0, VALIDATE: 1 << 1 } as const;

/** `virConnectListAllNetworksFlags` */
export const ConnectListNetworksFlags = {
  INACTIVE: 1 << 0,
  ACTIVE: 1 << 1,
  PERSISTENT: 1 << 2,
  TRANSIENT: 1 << 3,
  AUTOSTART: 1 << 4,
  NO_AUTOSTART: 1 << 5,
} as const;

/** `virNetworkDefineFlags` / `virNetworkCreateFlags`: validate the XML against libvirt's schema. */
export const NetworkDefineFlags = { VALIDATE: 1 } as const;
export const NetworkCreateFlags = { VALIDATE: 1 } as const;

/** `virNetworkXMLFlags` */
export const NetworkXMLFlags = { INACTIVE: 1 } as const;

/** `virIPAddrType` */
export const IPAddrType = { IPV4: 0, IPV6: 1 } as const;

/** `virNetworkDHCPLease` */
export interface NetworkDHCPLease {
  /** The network's bridge. */
  readonly iface: string;
  /** Seconds since the epoch; 0 = never expires. */
  readonly expirytime: number;
  /** `IPAddrType` */
  readonly type: number;
  readonly mac: string | null;
  readonly iaid: string | null;
  readonly ipaddr: string;
  readonly prefix: number;
  readonly hostname: string | null;
  readonly clientid: string | null;
}

export {
  NetworkUpdateCommand,
  NetworkUpdateSection,
  NETWORK_UPDATE_COMMAND_NAMES,
  NETWORK_UPDATE_SECTION_NAMES,
} from "../conf/network/update.ts";

/** `virNetworkUpdateFlags`: CURRENT (0) = the live state of a running network, else the config. */
export const NetworkUpdateFlags = { AFFECT_CURRENT: 0, AFFECT_LIVE: 1, AFFECT_CONFIG: 2 } as const;

/** `virNetworkEventID` */
export const NetworkEventId = { LIFECYCLE: 0 } as const;

/** `virNetworkEventLifecycleType` (the detail is always 0). */
export const NetworkEventLifecycleType = { DEFINED: 0, UNDEFINED: 1, STARTED: 2, STOPPED: 3 } as const;

/** A network lifecycle event. */
export interface NetworkLifecycleEvent {
  readonly id: typeof NetworkEventId.LIFECYCLE;
  /** `NetworkEventLifecycleType` */
  readonly event: number;
  readonly detail: number;
}

export type NetworkEventCallback = (net: NetworkRef, event: NetworkLifecycleEvent) => void;

/** What `connectListAllNetworks` filters look at, for one network. */
export interface NetworkListFacts {
  readonly active: boolean;
  readonly persistent: boolean;
  readonly autostart: boolean;
}

/** libvirt's `virNetworkObjListExport` filter: each group restricts only when one of its flags is given. */
export function matchesNetworkListFlags(flags: number, n: NetworkListFacts): boolean {
  const L = ConnectListNetworksFlags;
  const has = (f: number): boolean => (flags & f) !== 0;
  const either = (yes: number, no: number, value: boolean): boolean =>
    !(has(yes) || has(no)) || (has(yes) && value) || (has(no) && !value);
  return (
    either(L.ACTIVE, L.INACTIVE, n.active) &&
    either(L.PERSISTENT, L.TRANSIENT, n.persistent) &&
    either(L.AUTOSTART, L.NO_AUTOSTART, n.autostart)
  );
}

/** The network entries of a driver (all optional: a missing one is "not supported"). */
export interface NetworkDriver {
  connectListAllNetworks?(flags: number): Promise<NetworkRef[]>;
  networkLookupByName?(name: string): Promise<NetworkRef>;
  networkLookupByUUID?(uuid: string): Promise<NetworkRef>;
  networkDefineXML?(xml: string): Promise<NetworkRef>;
  networkCreateXML?(xml: string): Promise<NetworkRef>;
  networkDefineXMLFlags?(xml: string, flags: number): Promise<NetworkRef>;
  networkCreateXMLFlags?(xml: string, flags: number): Promise<NetworkRef>;
  networkUndefine?(net: NetworkRef): Promise<void>;
  networkCreate?(net: NetworkRef): Promise<void>;
  networkDestroy?(net: NetworkRef): Promise<void>;
  networkGetXMLDesc?(net: NetworkRef, flags: number): Promise<string>;
  networkIsActive?(net: NetworkRef): Promise<boolean>;
  networkIsPersistent?(net: NetworkRef): Promise<boolean>;
  networkGetAutostart?(net: NetworkRef): Promise<boolean>;
  networkSetAutostart?(net: NetworkRef, autostart: boolean): Promise<void>;
  networkGetBridgeName?(net: NetworkRef): Promise<string>;
  /**
   * virNetworkUpdate: one entry of one section (`NetworkUpdateSection`) added, deleted or
   * modified (`NetworkUpdateCommand`) in the live state and/or the persistent config
   * (`NetworkUpdateFlags`); `parentIndex` -1 = the `<ip>` that fits.
   */
  networkUpdate?(
    net: NetworkRef,
    command: number,
    section: number,
    parentIndex: number,
    xml: string,
    flags: number,
  ): Promise<void>;
  /** `mac` null = every lease. */
  networkGetDHCPLeases?(net: NetworkRef, mac: string | null, flags: number): Promise<NetworkDHCPLease[]>;
  /** virNetworkListAllPorts (flags: none yet). */
  networkListAllPorts?(net: NetworkRef, flags: number): Promise<NetworkPortRef[]>;
  networkPortLookupByUUID?(net: NetworkRef, uuid: string): Promise<NetworkPortRef>;
  networkPortGetXMLDesc?(port: NetworkPortRef, flags: number): Promise<string>;
  /** virNetworkPortCreateXML (`NetworkPortCreateFlags`). */
  networkPortCreateXML?(net: NetworkRef, xml: string, flags: number): Promise<NetworkPortRef>;
  networkPortDelete?(port: NetworkPortRef, flags: number): Promise<void>;
  /** Returns the callback id (>= 1). `net` null = all networks. */
  connectNetworkEventRegisterAny?(
    net: NetworkRef | null,
    eventID: number,
    callback: NetworkEventCallback,
  ): Promise<number>;
  connectNetworkEventDeregisterAny?(callbackID: number): Promise<void>;
}

/** A network driver opened for one connection; closed with it. */
export interface NetworkDriverConnection extends NetworkDriver {
  close(): Promise<void>;
}
