/**
 * Formatting of `<disk>`, `<controller>` and `<filesystem>`.
 */
import { formatThrottleFilters } from "./throttle.ts";
import type { XmlWriter } from "../xml.ts";
import type {
  ControllerDef,
  DiskAuth,
  DiskBackingLayer,
  DiskBackingStore,
  DiskDef,
  DiskEncryption,
  DiskIotune,
  DiskMirror,
  DiskSecretRef,
  DiskSource,
  FilesystemDef,
} from "./types.ts";
import { formatDataStore, formatNetworkSourceChildren, networkSourceAttrs } from "./format-disk-net.ts";
import { IOTUNE_ORDER } from "./parse-disk-secrets.ts";
import { formatIothreadMapping } from "./iothreads.ts";
import {
  formatDiskReservations,
  formatDiskSeclabels,
  formatDiskSlices,
  formatMetadataCache,
  formatNvmeAddress,
  formatVhostUserReconnect,
} from "./disk-source-extras.ts";
import { formatInfo, hex, onOff, statusWriters, virtioAttrs, yesNo } from "./format-info.ts";

function formatDiskSource(w: XmlWriter, d: DiskDef): void {
  if (d.source) formatSourceOf(w, d.type, d.source);
}

/** A `<source>` of a disk, backing layer or data store of this type. */
export function formatSourceOf(w: XmlWriter, type: DiskDef["type"], s: DiskSource): void {
  const attrs: Record<string, string | number | undefined> = {};
  switch (type) {
    case "file":
      attrs.file = s.file;
      attrs.fdgroup = s.fdgroup;
      break;
    case "block":
    case "vhostvdpa":
      attrs.dev = s.dev;
      break;
    case "dir":
      attrs.dir = s.dir;
      break;
    case "network":
      attrs.protocol = s.protocol;
      attrs.name = s.name;
      Object.assign(attrs, networkSourceAttrs(s));
      break;
    case "volume":
      attrs.pool = s.pool;
      attrs.volume = s.volume;
      attrs.mode = s.mode;
      // what the volume resolved to, in status XML only (libvirt's actualType= and path)
      if (s.actualType !== undefined && s.actualType !== "network" && statusWriters.has(w)) {
        attrs.actualType = s.actualType;
        if (s.actualType === "file") attrs.file = s.file;
        else if (s.actualType === "block") attrs.dev = s.dev;
        else attrs.dir = s.dir;
      }
      break;
    case "vhostuser":
      if (s.vhostuser) {
        attrs.type = "unix";
        attrs.path = s.vhostuser.path;
      }
      break;
    case "nvme":
      if (s.nvme) {
        attrs.type = "pci";
        attrs.managed = s.nvme.managed === undefined ? undefined : s.nvme.managed ? "yes" : "no";
        attrs.namespace = s.nvme.namespace;
      }
      break;
    default:
      break;
  }
  attrs.startupPolicy = s.startupPolicy;
  w.elem("source", attrs, () => {
    for (const h of s.hosts ?? [])
      w.empty("host", { name: h.name, port: h.port, transport: h.transport, socket: h.socket });
    if (s.snapshot !== undefined) w.empty("snapshot", { name: s.snapshot });
    if (s.configFile !== undefined) w.empty("config", { file: s.configFile });
    if (s.initiatorIqn !== undefined) w.elem("initiator", {}, () => w.empty("iqn", { name: s.initiatorIqn }));
    formatNetworkSourceChildren(w, s);
    formatNvmeAddress(w, s);
    formatVhostUserReconnect(w, s);
    formatDiskSlices(w, s);
    if (type !== "network") formatDiskSeclabels(w, s);
    if (s.auth) formatDiskAuth(w, s.auth);
    if (s.encryption) formatDiskEncryption(w, s.encryption);
    formatDiskReservations(w, s);
    if (s.dataStore) formatDataStore(w, s.dataStore, formatSourceOf);
  });
}

function formatSecretRef(w: XmlWriter, r: DiskSecretRef): void {
  w.empty("secret", { type: r.type, uuid: r.uuid, usage: r.usage });
}

function formatDiskAuth(w: XmlWriter, a: DiskAuth): void {
  w.elem("auth", { username: a.username }, () => {
    formatSecretRef(w, a.secret);
  });
}

function formatDiskEncryption(w: XmlWriter, e: DiskEncryption): void {
  w.elem("encryption", { format: e.format, engine: e.engine }, () => {
    for (const s of e.secrets) formatSecretRef(w, s);
  });
}

function formatDiskIotune(w: XmlWriter, t: DiskIotune): void {
  w.elem("iotune", {}, () => {
    for (const k of IOTUNE_ORDER) {
      const v = t[k];
      if (v !== undefined) w.text(k, v);
    }
  });
}

function layerSource(w: XmlWriter, l: DiskBackingLayer): void {
  w.empty("format", { type: l.format });
  w.empty("source", l.type === "block" ? { dev: l.path } : { file: l.path });
}

/** libvirt's nested `<backingStore>` elements; a chain known to end says so with an empty one. */
function formatBackingStore(w: XmlWriter, b: DiskBackingStore): void {
  w.elem("backingStore", { type: b.type }, () => {
    if (b.format !== undefined)
      w.elem("format", { type: b.format }, () => {
        formatMetadataCache(w, b.metadataCacheMax);
      });
    w.elem(
      "source",
      b.type === "file" ? { file: b.source.file, fdgroup: b.source.fdgroup } : { dev: b.source.dev },
      () => {
        formatDiskSlices(w, b.source);
      },
    );
    if (b.backingStore) formatBackingStore(w, b.backingStore);
    else if (b.end === true) w.empty("backingStore");
  });
}

function formatMirror(w: XmlWriter, m: DiskMirror): void {
  // A copy job names its destination in attributes too (libvirt's pre-blockdev form, kept).
  const copy = m.job === "copy";
  w.elem(
    "mirror",
    {
      type: m.type,
      file: copy && m.type === "file" ? m.path : undefined,
      format: copy ? m.format : undefined,
      job: m.job,
      ready: m.ready,
    },
    () => {
      layerSource(w, m);
    },
  );
}

export function formatDisk(w: XmlWriter, d: DiskDef): void {
  w.elem(
    "disk",
    {
      type: d.type,
      device: d.device,
      model: d.model,
      rawio: yesNo(d.rawio),
      sgio: d.sgio,
      // a read-only disk is never snapshotted: libvirt does not write snapshot='no' for it
      snapshot: d.snapshot === "no" && d.readonly === true ? undefined : d.snapshot,
    },
    () => {
      const dr = d.driver;
      if (dr) {
        w.elem(
          "driver",
          {
            name: dr.name,
            type: dr.type,
            cache: dr.cache,
            error_policy: dr.error_policy,
            rerror_policy: dr.rerror_policy,
            io: dr.io,
            ioeventfd: onOff(dr.ioeventfd),
            event_idx: onOff(dr.event_idx),
            copy_on_read: onOff(dr.copy_on_read),
            discard: dr.discard,
            iothread: dr.iothread,
            detect_zeroes: dr.detect_zeroes,
            queues: dr.queues,
            queue_size: dr.queue_size,
            discard_no_unref: onOff(dr.discard_no_unref),
            ...virtioAttrs(d),
          },
          () => {
            formatMetadataCache(w, dr.metadataCacheMax);
            if (dr.iothreads) formatIothreadMapping(w, dr.iothreads);
          },
        );
      } else if (d.virtio) w.empty("driver", virtioAttrs(d));
      if (d.auth) formatDiskAuth(w, d.auth);
      formatDiskSource(w, d);
      if (d.backingStore) formatBackingStore(w, d.backingStore);
      else if (d.backingStoreEnd === true) w.empty("backingStore");
      if (d.geometry)
        w.empty("geometry", {
          cyls: d.geometry.cyls,
          heads: d.geometry.heads,
          secs: d.geometry.secs,
          trans: d.geometry.trans,
        });
      if (d.blockio) w.empty("blockio", { ...d.blockio });
      // libvirt's order: source, backingStore, geometry, blockio, mirror, target
      if (d.mirror) formatMirror(w, d.mirror);
      const t = d.target;
      const tray = (d.device === "cdrom" || d.device === "floppy") && t.tray === "open" ? "open" : undefined;
      w.empty("target", {
        dev: t.dev,
        bus: t.bus,
        tray,
        // libvirt writes removable= back for USB disks only (SCSI disks keep it in the argv)
        removable: t.bus === "usb" ? onOff(t.removable) : undefined,
        rotation_rate: t.rotation_rate,
      });
      if (d.iotune) formatDiskIotune(w, d.iotune);
      formatThrottleFilters(w, d);
      if (d.readonly) w.empty("readonly");
      if (d.shareable) w.empty("shareable");
      if (d.transient)
        w.empty("transient", { shareBacking: d.transientShareBacking === true ? "yes" : undefined });
      for (const k of ["serial", "wwn", "vendor", "product"] as const) {
        const v = d[k];
        if (v !== undefined) w.text(k, v);
      }
      if (d.encryption) formatDiskEncryption(w, d.encryption);
      formatInfo(w, d);
    },
  );
}

export function formatController(w: XmlWriter, c: ControllerDef): void {
  const attrs: Record<string, string | number | undefined> = { type: c.type, index: c.index, model: c.model };
  if (c.type === "virtio-serial") {
    attrs.ports = c.ports;
    attrs.vectors = c.vectors;
  } else if (c.type === "usb") attrs.ports = c.ports;
  w.elem("controller", attrs, () => {
    if (c.type === "pci") {
      if (c.modelName !== undefined) w.empty("model", { name: c.modelName });
      const t = c.target;
      if (t) {
        const tattrs = {
          chassisNr: t.chassisNr,
          chassis: t.chassis,
          port: t.port === undefined ? undefined : hex(t.port),
          busNr: t.busNr,
          index: t.index,
          hotplug: onOff(t.hotplug),
          memReserve: t.memReserve,
        };
        w.elem("target", tattrs, () => {
          if (t.node !== undefined) w.text("node", t.node);
        });
      }
    }
    const d = c.driver;
    if (d || c.virtio)
      w.elem(
        "driver",
        {
          queues: d?.queues,
          cmd_per_lun: d?.cmd_per_lun,
          max_sectors: d?.max_sectors,
          ioeventfd: onOff(d?.ioeventfd),
          iothread: d?.iothread,
          ...virtioAttrs(c),
        },
        () => {
          if (d?.iothreads) formatIothreadMapping(w, d.iothreads);
        },
      );
    formatInfo(w, c, c.master);
    if (c.pcihole64 !== undefined) w.text("pcihole64", c.pcihole64, { unit: "KiB" });
  });
}

function formatFsBinary(w: XmlWriter, fs: FilesystemDef): void {
  const b = fs.binary;
  if (!b) return;
  w.elem("binary", { path: b.path, xattr: onOff(b.xattr) }, () => {
    if (b.cache) w.empty("cache", { mode: b.cache.mode });
    if (b.sandbox) w.empty("sandbox", { mode: b.sandbox.mode });
    if (b.lock) w.empty("lock", { posix: onOff(b.lock.posix), flock: onOff(b.lock.flock) });
    if (b.threadPool) w.empty("thread_pool", { size: b.threadPool.size });
    if (b.openfiles) w.empty("openfiles", { max: b.openfiles.max });
  });
}

function formatFsSource(w: XmlWriter, fs: FilesystemDef): void {
  const s = fs.source;
  if (!s) return;
  if (s.socket !== undefined) {
    w.empty("source", { socket: s.socket });
    return;
  }
  switch (fs.type) {
    case "mount":
    case "bind":
      if (s.dir !== undefined) w.empty("source", { dir: s.dir });
      break;
    case "block":
      w.empty("source", { dev: s.dev });
      break;
    case "file":
      w.empty("source", { file: s.file });
      break;
    case "template":
      w.empty("source", { name: s.name });
      break;
    case "ram":
      w.empty("source", { usage: s.usage, units: "KiB" });
      break;
    default:
      w.empty("source", { dir: s.dir });
  }
}

const octal = (n: number | undefined): string | undefined =>
  n === undefined ? undefined : n.toString(8).padStart(4, "0");

export function formatFilesystem(w: XmlWriter, fs: FilesystemDef): void {
  const attrs = {
    type: fs.type,
    accessmode: fs.accessmode,
    model: fs.model,
    multidevs: fs.multidevs,
    fmode: octal(fs.fmode),
    dmode: octal(fs.dmode),
  };
  w.elem("filesystem", attrs, () => {
    const d = fs.driver;
    if (d || fs.virtio)
      w.empty("driver", {
        type: d?.type,
        format: d?.format,
        wrpolicy: d?.wrpolicy,
        queue: d?.queue,
        ...virtioAttrs(fs),
      });
    formatFsBinary(w, fs);
    if (fs.idmap) {
      const m = fs.idmap;
      w.elem("idmap", undefined, () => {
        for (const u of m.uids) w.empty("uid", { start: u.start, target: u.target, count: u.count });
        for (const g of m.gids) w.empty("gid", { start: g.start, target: g.target, count: g.count });
      });
    }
    formatFsSource(w, fs);
    w.empty("target", { dir: fs.target.dir });
    if (fs.readonly) w.empty("readonly");
    if (fs.spaceHardLimit !== undefined)
      w.text("space_hard_limit", fs.spaceHardLimit * 1024, { unit: "bytes" });
    if (fs.spaceSoftLimit !== undefined)
      w.text("space_soft_limit", fs.spaceSoftLimit * 1024, { unit: "bytes" });
    formatInfo(w, fs);
  });
}
