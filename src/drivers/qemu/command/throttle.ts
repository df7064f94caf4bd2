/**
 * `<throttlegroups>` as `-object throttle-group` (one per group, id `throttle-<name>`) and a
 * disk's `<throttlefilters>` as a chain of `throttle` block nodes above its format node
 * (libvirt's qemuBuildThrottleGroupCommandLine and the disk's filter chain).
 */
import type { ThrottleGroup } from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import type { DiskNodes } from "./disk.ts";
import { Props } from "./escape.ts";

/** The group's `limits`: every rate, 0 when unset; the burst lengths only when set. */
function groupLimits(g: ThrottleGroup): Record<string, number> {
  const p: Record<string, number> = {};
  const always: [string, number | undefined][] = [
    ["bps-total", g.total_bytes_sec],
    ["bps-read", g.read_bytes_sec],
    ["bps-write", g.write_bytes_sec],
    ["iops-total", g.total_iops_sec],
    ["iops-read", g.read_iops_sec],
    ["iops-write", g.write_iops_sec],
    ["bps-total-max", g.total_bytes_sec_max],
    ["bps-read-max", g.read_bytes_sec_max],
    ["bps-write-max", g.write_bytes_sec_max],
    ["iops-total-max", g.total_iops_sec_max],
    ["iops-read-max", g.read_iops_sec_max],
    ["iops-write-max", g.write_iops_sec_max],
    ["iops-size", g.size_iops_sec],
  ];
  for (const [k, v] of always) p[k] = v ?? 0;
  const ifSet: [string, number | undefined][] = [
    ["bps-total-max-length", g.total_bytes_sec_max_length],
    ["bps-read-max-length", g.read_bytes_sec_max_length],
    ["bps-write-max-length", g.write_bytes_sec_max_length],
    ["iops-total-max-length", g.total_iops_sec_max_length],
    ["iops-read-max-length", g.read_iops_sec_max_length],
    ["iops-write-max-length", g.write_iops_sec_max_length],
  ];
  for (const [k, v] of ifSet) if (v !== undefined && v > 0) p[k] = v;
  return p;
}

export function throttleGroupId(name: string): string {
  return `throttle-${name}`;
}

/** `-object throttle-group` for each `<throttlegroup>`. */
export function buildThrottleGroups(b: Build): void {
  for (const g of b.def.throttleGroups ?? []) {
    b.addJson(
      "-object",
      new Props()
        .set("qom-type", "throttle-group")
        .set("id", throttleGroupId(g.group_name))
        .set("limits", groupLimits(g)),
    );
  }
}

/** The disk's `throttle` nodes, each over the one below (the first over the disk's top node). */
export function buildThrottleFilters(b: Build, nodes: DiskNodes): void {
  let below = nodes.copyOnRead ?? nodes.format ?? nodes.storage;
  for (const f of nodes.throttle ?? []) {
    b.addJson(
      "-blockdev",
      new Props()
        .set("driver", "throttle")
        .set("node-name", f.node)
        .set("throttle-group", throttleGroupId(f.group))
        .set("file", below),
    );
    below = f.node;
  }
}
