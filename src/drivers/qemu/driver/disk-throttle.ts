/**
 * `<iotune>` of a running guest's disks: QEMU's I/O throttling, set through QMP
 * `block_set_io_throttle` once the disks exist (libvirt's qemuProcessSetupDiskThrottling), before
 * the vCPUs run.
 */
import type { DomainDef } from "../../../conf/domain/index.ts";
import type { DiskIotune } from "../../../conf/domain/types.ts";
import type { QmpClient } from "../monitor/index.ts";

/** `<iotune>` names → `block_set_io_throttle` arguments (the first six are mandatory). */
const QMP_NAMES: readonly [keyof DiskIotune, string][] = [
  ["total_bytes_sec", "bps"],
  ["read_bytes_sec", "bps_rd"],
  ["write_bytes_sec", "bps_wr"],
  ["total_iops_sec", "iops"],
  ["read_iops_sec", "iops_rd"],
  ["write_iops_sec", "iops_wr"],
  ["total_bytes_sec_max", "bps_max"],
  ["read_bytes_sec_max", "bps_rd_max"],
  ["write_bytes_sec_max", "bps_wr_max"],
  ["total_iops_sec_max", "iops_max"],
  ["read_iops_sec_max", "iops_rd_max"],
  ["write_iops_sec_max", "iops_wr_max"],
  ["size_iops_sec", "iops_size"],
  ["total_bytes_sec_max_length", "bps_max_length"],
  ["read_bytes_sec_max_length", "bps_rd_max_length"],
  ["write_bytes_sec_max_length", "bps_wr_max_length"],
  ["total_iops_sec_max_length", "iops_max_length"],
  ["read_iops_sec_max_length", "iops_rd_max_length"],
  ["write_iops_sec_max_length", "iops_wr_max_length"],
];

/** The QMP arguments for one disk's limits (unset limits are 0: none). */
export function throttleArgs(id: string, t: DiskIotune): Record<string, string | number> {
  const a: Record<string, string | number> = { id };
  QMP_NAMES.forEach(([xml, qmp], i) => {
    const v = t[xml];
    if (typeof v === "number") a[qmp] = v;
    else if (i < 6) a[qmp] = 0;
  });
  if (t.group_name !== undefined) a.group = t.group_name;
  return a;
}

/** Applies every disk's `<iotune>`; a disk without a medium has nothing to throttle. */
export async function setupDiskThrottling(qmp: QmpClient, def: DomainDef): Promise<void> {
  for (const d of def.devices.disks) {
    if (!d.iotune || d.alias === undefined || !d.source) continue;
    // a virtio disk's block backend sits on its virtio-backend child, not on the PCI device
    const id = d.target.bus === "virtio" ? `/machine/peripheral/${d.alias}/virtio-backend` : d.alias;
    await qmp.execute("block_set_io_throttle", throttleArgs(id, d.iotune));
  }
}
