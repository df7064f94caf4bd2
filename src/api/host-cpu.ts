/**
 * Issue 20's calls as library functions on a `Connection` or `Domain` (libvirt's
 * virNodeGetCPUMap, virNodeGetCPUStats, virDomainGetVcpus, virDomain{Set,Get}Metadata,
 * virDomainInjectNMI, virDomain{Get,Set}Time, virDomainInterfaceAddresses and the node device
 * lifecycle calls): each goes through `Connection.invoke`, so read-only refusal and "not
 * supported" come out as for every other call.
 */
import type { DomainInterfaceAddrs, LeaseLookup, VcpuInfo } from "../drivers/driver.ts";
import type { Connection, Domain } from "./connection.ts";

export type { DomainInterfaceAddrs, VcpuInfo };

/** virNodeGetCPUMap: CPUs present and the online ones. */
export function nodeGetCPUMap(conn: Connection, flags = 0): Promise<{ cpus: number; online: number[] }> {
  return conn.invoke("virNodeGetCPUMap", false, (d) => d.nodeGetCPUMap?.(flags));
}

/** virNodeGetCPUStats: `cpuNum` -1 = all CPUs (VIR_NODE_CPU_STATS_ALL_CPUS). */
export function nodeGetCPUStats(
  conn: Connection,
  cpuNum = -1,
  flags = 0,
): Promise<{ field: string; value: bigint }[]> {
  return conn.invoke("virNodeGetCPUStats", false, (d) => d.nodeGetCPUStats?.(cpuNum, flags));
}

/** virDomainGetVcpus */
export function domainGetVcpus(
  dom: Domain,
): Promise<{ info: VcpuInfo[]; affinity: number[][]; hostCpus: number }> {
  return dom.connection.invoke("virDomainGetVcpus", false, (d) => d.domainGetVcpus?.(dom.ref()));
}

/** virDomainSetMetadata (`DomainMetadataType`: 0 description, 1 title, 2 element). */
export async function domainSetMetadata(
  dom: Domain,
  type: number,
  metadata: string | null,
  key: string | null,
  uri: string | null,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainSetMetadata", true, (d) =>
    d.domainSetMetadata?.(dom.ref(), type, metadata, key, uri, flags),
  );
}

/** virDomainGetMetadata */
export function domainGetMetadata(dom: Domain, type: number, uri: string | null, flags = 0): Promise<string> {
  return dom.connection.invoke("virDomainGetMetadata", false, (d) =>
    d.domainGetMetadata?.(dom.ref(), type, uri, flags),
  );
}

/** virDomainInjectNMI */
export async function domainInjectNMI(dom: Domain, flags = 0): Promise<void> {
  await dom.connection.invoke("virDomainInjectNMI", true, (d) => d.domainInjectNMI?.(dom.ref(), flags));
}

/** virDomainGetTime */
export function domainGetTime(dom: Domain, flags = 0): Promise<{ seconds: bigint; nseconds: number }> {
  return dom.connection.invoke("virDomainGetTime", false, (d) => d.domainGetTime?.(dom.ref(), flags));
}

/** virDomainSetTime (flag 1 = VIR_DOMAIN_TIME_SYNC: the guest reads its RTC). */
export async function domainSetTime(
  dom: Domain,
  seconds: bigint,
  nseconds: number,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainSetTime", true, (d) =>
    d.domainSetTime?.(dom.ref(), seconds, nseconds, flags),
  );
}

/** virDomainInterfaceAddresses: `source` 0 lease, 1 agent, 2 arp. */
export function domainInterfaceAddresses(
  dom: Domain,
  source: number,
  flags = 0,
): Promise<DomainInterfaceAddrs[]> {
  // libvirt: the agent source is a write call (it runs a guest command), lease and arp read.
  const leases: LeaseLookup = async (network, mac) => {
    try {
      const net = await dom.connection.networkLookupByName(network);
      return await net.getDHCPLeases(mac);
    } catch {
      return undefined;
    }
  };
  return dom.connection.invoke("virDomainInterfaceAddresses", source === 1, (d) =>
    d.domainInterfaceAddresses?.(dom.ref(), source, flags, leases),
  );
}

/** virNodeDeviceIsActive */
export function nodeDeviceIsActive(conn: Connection, name: string): Promise<boolean> {
  return conn.invoke("virNodeDeviceIsActive", false, (d) => d.nodeDeviceIsActive?.(name));
}

/** virNodeDeviceIsPersistent */
export function nodeDeviceIsPersistent(conn: Connection, name: string): Promise<boolean> {
  return conn.invoke("virNodeDeviceIsPersistent", false, (d) => d.nodeDeviceIsPersistent?.(name));
}

/** virNodeDeviceGetAutostart */
export function nodeDeviceGetAutostart(conn: Connection, name: string): Promise<boolean> {
  return conn.invoke("virNodeDeviceGetAutostart", false, (d) => d.nodeDeviceGetAutostart?.(name));
}

/** virNodeDeviceSetAutostart */
export async function nodeDeviceSetAutostart(
  conn: Connection,
  name: string,
  autostart: boolean,
): Promise<void> {
  await conn.invoke("virNodeDeviceSetAutostart", true, (d) => d.nodeDeviceSetAutostart?.(name, autostart));
}

/** virNodeDeviceCreateXML: the new device's name. */
export function nodeDeviceCreateXML(conn: Connection, xml: string, flags = 0): Promise<string> {
  return conn.invoke("virNodeDeviceCreateXML", true, (d) => d.nodeDeviceCreateXML?.(xml, flags));
}

/** virNodeDeviceDefineXML: the defined device's name. */
export function nodeDeviceDefineXML(conn: Connection, xml: string, flags = 0): Promise<string> {
  return conn.invoke("virNodeDeviceDefineXML", true, (d) => d.nodeDeviceDefineXML?.(xml, flags));
}

/** virNodeDeviceCreate: starts a defined (inactive) device. */
export async function nodeDeviceCreate(conn: Connection, name: string, flags = 0): Promise<void> {
  await conn.invoke("virNodeDeviceCreate", true, (d) => d.nodeDeviceCreate?.(name, flags));
}
