/**
 * The optional driver entry behind the QEMU program's DOMAIN_MONITOR_COMMAND (libvirt's
 * `virDomainQemuMonitorCommand`, `virsh qemu-monitor-command`). It is not part of the generic
 * `HypervisorDriver` table (libvirt keeps it out of the main API too, in `libvirt-qemu.so`);
 * a driver that can talk to QEMU's monitor implements it next to its table entries:
 *
 * ```ts
 * class QemuConnection implements HypervisorDriver, QemuMonitorCommandDriver { ... }
 * ```
 *
 * The server calls it on the client's connection; the remote driver (client) implements it over
 * the wire, so `tvirsh` reaches it through tvirtd.
 */
import type { DomainRef, HypervisorDriver } from "../drivers/driver.ts";

export interface QemuMonitorCommandDriver {
  /**
   * Sends `cmd` to the domain's monitor and returns QEMU's answer as text: a QMP command in JSON
   * (the reply object, as JSON text), or with `QemuMonitorCommandFlags.HMP` a human monitor
   * command (its output). The domain must be running ("domain is not running" otherwise), and
   * libvirt marks it tainted (`custom-monitor`).
   */
  domainQemuMonitorCommand(dom: DomainRef, cmd: string, flags: number): Promise<string>;
}

/** The driver's monitor entry, if it has one. */
export function monitorEntry(
  d: HypervisorDriver,
): QemuMonitorCommandDriver["domainQemuMonitorCommand"] | undefined {
  const f = (d as Partial<QemuMonitorCommandDriver>).domainQemuMonitorCommand;
  return typeof f === "function" ? f.bind(d) : undefined;
}
