/**
 * The guest agent's calls as library functions on a `Domain` (libvirt's virDomainFSFreeze,
 * virDomainFSThaw, virDomainGetFSInfo, virDomainGetGuestInfo, virDomainSetUserPassword,
 * virDomain{Get,Set}GuestVcpus, virDomainAgentSetResponseTimeout and libvirt-qemu's
 * virDomainQemuAgentCommand). Each goes through `Connection.invoke`, so read-only refusal and
 * "not supported" come out as for every other call; like libvirt, all but the guest-info
 * readers are write calls.
 */
import type { GuestFSInfo, TypedParameter } from "../drivers/driver.ts";
import type { Domain } from "./connection.ts";

export type { GuestFSInfo };

/** virDomainFSFreeze: the number of filesystems frozen (`mountpoints` empty = all). */
export function domainFSFreeze(dom: Domain, mountpoints: readonly string[] = [], flags = 0): Promise<number> {
  return dom.connection.invoke("virDomainFSFreeze", true, (d) =>
    d.domainFSFreeze?.(dom.ref(), mountpoints, flags),
  );
}

/** virDomainFSThaw: the number of filesystems thawed. */
export function domainFSThaw(dom: Domain, mountpoints: readonly string[] = [], flags = 0): Promise<number> {
  return dom.connection.invoke("virDomainFSThaw", true, (d) =>
    d.domainFSThaw?.(dom.ref(), mountpoints, flags),
  );
}

/** virDomainGetFSInfo */
export function domainGetFSInfo(dom: Domain, flags = 0): Promise<GuestFSInfo[]> {
  return dom.connection.invoke("virDomainGetFSInfo", true, (d) => d.domainGetFSInfo?.(dom.ref(), flags));
}

/** virDomainGetGuestInfo: `types` virDomainGuestInfoTypes bits, 0 = everything. */
export function domainGetGuestInfo(dom: Domain, types = 0, flags = 0): Promise<TypedParameter[]> {
  return dom.connection.invoke("virDomainGetGuestInfo", true, (d) =>
    d.domainGetGuestInfo?.(dom.ref(), types, flags),
  );
}

/** virDomainSetUserPassword (flags 1: `password` is already crypted). */
export async function domainSetUserPassword(
  dom: Domain,
  user: string,
  password: string,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainSetUserPassword", true, (d) =>
    d.domainSetUserPassword?.(dom.ref(), user, password, flags),
  );
}

/** virDomainGetGuestVcpus: `vcpus`, `online`, `offlinable` (bitmap strings). */
export function domainGetGuestVcpus(dom: Domain, flags = 0): Promise<TypedParameter[]> {
  return dom.connection.invoke("virDomainGetGuestVcpus", true, (d) =>
    d.domainGetGuestVcpus?.(dom.ref(), flags),
  );
}

/** virDomainSetGuestVcpus: the vCPUs of `cpumap` ("0-1,3") on (state 1) or off (0). */
export async function domainSetGuestVcpus(
  dom: Domain,
  cpumap: string,
  state: number,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainSetGuestVcpus", true, (d) =>
    d.domainSetGuestVcpus?.(dom.ref(), cpumap, state, flags),
  );
}

/** virDomainAgentSetResponseTimeout (seconds; -2 block, -1 default, 0 no wait). */
export async function domainAgentSetResponseTimeout(dom: Domain, timeout: number, flags = 0): Promise<void> {
  await dom.connection.invoke("virDomainAgentSetResponseTimeout", true, (d) =>
    d.domainAgentSetResponseTimeout?.(dom.ref(), timeout, flags),
  );
}

/** virDomainQemuAgentCommand: a JSON command for qemu-ga, its whole reply as JSON text. */
export function domainQemuAgentCommand(dom: Domain, cmd: string, timeout = -1, flags = 0): Promise<string> {
  return dom.connection.invoke("virDomainQemuAgentCommand", true, (d) =>
    d.domainQemuAgentCommand?.(dom.ref(), cmd, timeout, flags),
  );
}
