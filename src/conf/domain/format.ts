/**
 * `DomainDef` → libvirt's canonical XML (inactive form), in libvirt 11.3's element and
 * attribute order.
 */
import { XmlWriter } from "../xml.ts";
import type { DomainDef } from "./types.ts";
import {
  formatClock,
  formatCpu,
  formatFeatures,
  formatLaunchSecurity,
  formatMemoryBacking,
  formatMetadata,
  formatNumatune,
  formatOs,
  formatSeclabel,
  formatVcpu,
} from "./format-general.ts";
import { formatBlkiotune, formatCputune } from "./tune.ts";
import { MEMORY_UNLIMITED_KIB } from "./reader.ts";
import { formatController, formatDisk, formatFilesystem } from "./format-storage.ts";
import { formatInterface } from "./format-net.ts";
import { formatChr, formatConsoles } from "./format-chr.ts";
import { formatAudio, formatGraphics, formatInput, formatSound, formatVideo } from "./format-media.ts";
import {
  formatHostdev,
  formatIommu,
  formatMemballoon,
  formatMemoryDevice,
  formatRedirdev,
  formatRng,
  formatSmartcard,
  formatRedirFilter,
  formatTpm,
  formatVsock,
} from "./format-misc.ts";
import { formatInfo } from "./format-info.ts";
import { formatLease } from "./lease.ts";
import { liveWriters, onOff, statusWriters } from "./format-info.ts";
import { QEMU_NS } from "./parse-qemu-ns.ts";
import { formatSysinfo } from "./sysinfo.ts";
import { formatPstore } from "./pstore.ts";
import { formatThrottleGroups } from "./throttle.ts";
import { formatCrypto, formatShmem } from "./shmem.ts";
import { formatIothreads } from "./iothreads.ts";

function formatDevices(w: XmlWriter, def: DomainDef, secure: boolean): void {
  const d = def.devices;
  w.elem("devices", undefined, () => {
    if (d.emulator !== undefined) w.text("emulator", d.emulator);
    for (const x of d.disks) formatDisk(w, x);
    for (const x of d.controllers) formatController(w, x);
    for (const x of d.leases ?? []) formatLease(w, x);
    for (const x of d.filesystems) formatFilesystem(w, x);
    for (const x of d.interfaces) formatInterface(w, x);
    for (const x of d.smartcards ?? []) formatSmartcard(w, x);
    for (const x of d.serials) formatChr(w, "serial", x);
    for (const x of d.parallels) formatChr(w, "parallel", x);
    formatConsoles(w, def);
    for (const x of d.channels) formatChr(w, "channel", x);
    for (const x of d.inputs) formatInput(w, x);
    for (const x of d.tpms) formatTpm(w, x);
    for (const x of d.graphics) formatGraphics(w, x, secure);
    for (const x of d.sounds) formatSound(w, x);
    for (const x of d.audios) formatAudio(w, x);
    for (const x of d.videos) formatVideo(w, x);
    for (const x of d.hostdevs) formatHostdev(w, x);
    for (const x of d.redirdevs) formatRedirdev(w, x);
    if (d.redirfilter) formatRedirFilter(w, d.redirfilter);
    for (const x of d.hubs)
      w.elem("hub", { type: x.type }, () => {
        formatInfo(w, x);
      });
    for (const x of d.watchdogs)
      w.elem("watchdog", { model: x.model, action: x.action }, () => {
        formatInfo(w, x);
      });
    if (d.memballoon) formatMemballoon(w, d.memballoon);
    for (const x of d.rngs) formatRng(w, x);
    for (const x of d.panics)
      w.elem("panic", { model: x.model }, () => {
        formatInfo(w, x);
      });
    for (const x of d.shmems ?? []) formatShmem(w, x);
    for (const x of d.memories) formatMemoryDevice(w, x);
    if (d.iommu) formatIommu(w, d.iommu);
    if (d.vsock) formatVsock(w, d.vsock);
    for (const x of d.cryptos ?? []) formatCrypto(w, x);
    if (d.pstore) formatPstore(w, d.pstore);
  });
}

function formatIdentity(w: XmlWriter, def: DomainDef): void {
  w.text("name", def.name);
  w.text("uuid", def.uuid);
  if (def.genid !== undefined) w.text("genid", def.genid);
  if (def.title !== undefined) w.text("title", def.title);
  if (def.description !== undefined) w.text("description", def.description);
  if (def.metadata && def.metadata.length > 0) formatMetadata(w, def.metadata);
}

function formatMemory(w: XmlWriter, def: DomainDef): void {
  if (def.maxMemory && def.maxMemory.size > 0) {
    // libvirt leaves slots out when there are none (virtio-mem/virtio-pmem need no DIMM slots)
    const slots =
      def.maxMemory.slots !== undefined && def.maxMemory.slots > 0 ? def.maxMemory.slots : undefined;
    w.text("maxMemory", def.maxMemory.size, { slots, unit: "KiB" });
  }
  // libvirt writes dumpCore before unit
  w.text("memory", def.memory, { dumpCore: onOff(def.memoryDumpCore), unit: "KiB" });
  w.text("currentMemory", def.currentMemory, { unit: "KiB" });
  if (def.blkiotune) formatBlkiotune(w, def.blkiotune);
  const mt = def.memtune;
  const limits = ["hard_limit", "soft_limit", "min_guarantee", "swap_hard_limit"] as const;
  if (mt && limits.some((k) => mt[k] !== undefined && mt[k] < MEMORY_UNLIMITED_KIB)) {
    w.elem("memtune", undefined, () => {
      for (const k of ["hard_limit", "soft_limit", "min_guarantee", "swap_hard_limit"] as const) {
        const v = mt[k];
        // libvirt writes only set limits: unlimited is the same as none
        if (v !== undefined && v < MEMORY_UNLIMITED_KIB) w.text(k, v, { unit: "KiB" });
      }
    });
  }
  if (def.memoryBacking) formatMemoryBacking(w, def.memoryBacking);
}

function formatPm(w: XmlWriter, def: DomainDef): void {
  const pm = def.pm;
  if (!pm) return;
  const yn = (b: boolean | undefined): string | undefined => (b === undefined ? undefined : b ? "yes" : "no");
  w.elem("pm", undefined, () => {
    if (pm.suspendToMem !== undefined) w.empty("suspend-to-mem", { enabled: yn(pm.suspendToMem) });
    if (pm.suspendToDisk !== undefined) w.empty("suspend-to-disk", { enabled: yn(pm.suspendToDisk) });
  });
}

export function formatDomain(
  def: DomainDef,
  options: { secure?: boolean; live?: boolean; status?: boolean } = {},
): string {
  const w = new XmlWriter();
  if (options.live || options.status) liveWriters.add(w);
  if (options.status) statusWriters.add(w);
  const q = def.qemu;
  w.elem(
    "domain",
    {
      type: def.type,
      id: options.live || options.status ? def.id : undefined,
      "xmlns:qemu": q ? QEMU_NS : undefined,
    },
    () => {
      formatIdentity(w, def);
      formatMemory(w, def);
      formatVcpu(w, def);
      formatIothreads(w, def);
      if (def.cputune) formatCputune(w, def.cputune);
      if (def.throttleGroups && def.throttleGroups.length > 0) formatThrottleGroups(w, def.throttleGroups);
      if (def.numatune) formatNumatune(w, def.numatune);
      const res = def.resource;
      if (res && (res.partition !== undefined || res.fibrechannelAppid !== undefined))
        w.elem("resource", undefined, () => {
          if (res.partition !== undefined) w.text("partition", res.partition);
          if (res.fibrechannelAppid !== undefined) w.empty("fibrechannel", { appid: res.fibrechannelAppid });
        });
      if (def.sysinfo) formatSysinfo(w, def.sysinfo);
      formatOs(w, def.os);
      if (def.idmap) {
        const m = def.idmap;
        w.elem("idmap", undefined, () => {
          for (const u of m.uids) w.empty("uid", { start: u.start, target: u.target, count: u.count });
          for (const g of m.gids) w.empty("gid", { start: g.start, target: g.target, count: g.count });
        });
      }
      if (def.features) formatFeatures(w, def.features);
      if (def.cpu) formatCpu(w, def.cpu);
      formatClock(w, def.clock);
      w.text("on_poweroff", def.onPoweroff);
      w.text("on_reboot", def.onReboot);
      w.text("on_crash", def.onCrash);
      if (def.onLockfailure !== undefined) w.text("on_lockfailure", def.onLockfailure);
      formatPm(w, def);
      formatDevices(w, def, options.secure ?? false);
      for (const s of def.seclabels) formatSeclabel(w, s);
      if (def.launchSecurity) formatLaunchSecurity(w, def.launchSecurity);
      if (q) {
        if (q.args.length + q.env.length > 0) {
          w.elem("qemu:commandline", undefined, () => {
            for (const a of q.args) w.empty("qemu:arg", { value: a });
            for (const e of q.env) w.empty("qemu:env", { name: e.name, value: e.value });
          });
        }
        if (q.capsAdd.length + q.capsDel.length > 0) {
          w.elem("qemu:capabilities", undefined, () => {
            for (const c of q.capsAdd) w.empty("qemu:add", { capability: c });
            for (const c of q.capsDel) w.empty("qemu:del", { capability: c });
          });
        }
        if (q.overrides.length > 0) {
          w.elem("qemu:override", undefined, () => {
            for (const d of q.overrides)
              w.elem("qemu:device", { alias: d.alias }, () => {
                if (d.frontend.length === 0) return;
                w.elem("qemu:frontend", undefined, () => {
                  for (const p of d.frontend)
                    w.empty("qemu:property", {
                      name: p.name,
                      type: p.type,
                      value: p.type === "remove" ? undefined : p.value,
                    });
                });
              });
          });
        }
        if (q.deprecation !== undefined) w.empty("qemu:deprecation", { behavior: q.deprecation });
      }
    },
  );
  return w.toString();
}
