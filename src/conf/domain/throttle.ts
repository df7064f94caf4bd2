/**
 * `<throttlegroups>` (named I/O limits shared in a domain) and a disk's `<throttlefilters>`
 * (the chain of groups its I/O passes through), as libvirt 11.2+ has them.
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import type { DiskDef, DomainDef, ThrottleGroup } from "./types.ts";
import { IOTUNE_ORDER, parseDiskIotune } from "./parse-disk-secrets.ts";
import { missingAttr, missingChild, structural } from "./reader.ts";

/** `<throttlegroups><throttlegroup>`: the limits of `<iotune>` and a required, unique name. */
export function parseThrottleGroups(el: XmlElement): ThrottleGroup[] {
  const groups: ThrottleGroup[] = [];
  for (const g of el.all("throttlegroup")) {
    const t = parseDiskIotune(g);
    if (t.group_name === undefined || t.group_name === "") throw missingChild(g, "group_name");
    if (groups.some((x) => x.group_name === t.group_name))
      throw structural(g, `duplicate throttle group name '${t.group_name}'`);
    groups.push({ ...t, group_name: t.group_name });
  }
  return groups;
}

/** `<disk><throttlefilters><throttlefilter group=/>`: the group names, in chain order. */
export function parseThrottleFilters(diskEl: XmlElement, disk: DiskDef): void {
  const el = diskEl.child("throttlefilters");
  if (!el) return;
  disk.throttleFilters = el.all("throttlefilter").map((f) => {
    const group = f.attr("group");
    if (group === undefined) throw missingAttr(f, "group");
    return group;
  });
}

export function formatThrottleGroups(w: XmlWriter, groups: readonly ThrottleGroup[]): void {
  w.elem("throttlegroups", undefined, () => {
    for (const g of groups)
      w.elem("throttlegroup", undefined, () => {
        for (const k of IOTUNE_ORDER) {
          const v = g[k];
          if (v !== undefined) w.text(k, v);
        }
      });
  });
}

export function formatThrottleFilters(w: XmlWriter, disk: DiskDef): void {
  const filters = disk.throttleFilters;
  if (!filters || filters.length === 0) return;
  w.elem("throttlefilters", undefined, () => {
    for (const group of filters) w.empty("throttlefilter", { group });
  });
}

/** A disk's filters name groups of the domain, and exclude the disk's own `<iotune>`. */
export function validateThrottleFilters(def: DomainDef): void {
  const groups = new Set((def.throttleGroups ?? []).map((g) => g.group_name));
  for (const d of def.devices.disks) {
    const filters = d.throttleFilters ?? [];
    if (filters.length === 0) continue;
    if (d.iotune) throw new VirtError("DOMAIN_DISK_THROTTLE_WITH_IOTUNE", { disk: d.target.dev });
    for (const f of filters) {
      if (!groups.has(f))
        throw new VirtError("DOMAIN_DISK_THROTTLE_GROUP_UNKNOWN", { disk: d.target.dev, group: f });
    }
  }
}
