/**
 * Disks: the `-blockdev` graph of each disk (protocol/storage node, optional format node,
 * optional copy-on-read layer; node names `libvirt-N-storage`/`libvirt-N-format`) and the
 * `-device` that exposes it (ide/sata/scsi/virtio/usb/floppy), with libvirt's key order.
 */
import { buildThrottleFilters } from "./throttle.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { DiskDef, DiskSourceHost } from "../../../conf/domain/types.ts";
import { diskNameToIndex } from "../../../conf/domain/address-drive.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { Props, escapeComma } from "./escape.ts";
import type { JsonObject } from "./escape.ts";
import { iothreadVqMapping, virtioProps } from "./virtio.ts";
import { diskAuth } from "../../../conf/domain/parse-disk-secrets.ts";
import { curlProps, curlUrl, nbdkitProps, nbdProps, nfsProps, usesNbdkit } from "./disk-net.ts";
import { buildChardev } from "./chardev.ts";
import {
  authProps,
  authSecretId,
  buildDiskSecrets,
  formatEncryptProps,
  needsLuksLayer,
  rbdEncryptProps,
} from "./disk-secrets.ts";

export interface DiskNodes {
  storage: string;
  format?: string;
  copyOnRead?: string;
  /** `<throttlefilters>`: one `throttle` node per group, top of the chain last. */
  throttle?: { node: string; group: string }[];
}

function diskXpath(b: Build, disk: DiskDef): string {
  return `/domain/devices/disk[${b.def.devices.disks.indexOf(disk) + 1}]`;
}

function diskElement(disk: DiskDef): string {
  return `disk '${disk.target.dev}'`;
}

/**
 * What a disk's source is on the host: a `type='volume'` disk the driver resolved counts as what
 * its volume is (file, block device or directory), with the path in `file`/`dev`/`dir`.
 */
export function actualDiskType(disk: DiskDef): DiskDef["type"] {
  return disk.type === "volume" && disk.source?.actualType !== undefined ? disk.source.actualType : disk.type;
}

/** The host path of a local disk source (file, block device, directory, resolved volume). */
export function localDiskPath(disk: DiskDef): string | undefined {
  const s = disk.source;
  let path: string | undefined;
  switch (actualDiskType(disk)) {
    case "file":
      path = s?.file;
      break;
    case "block":
      path = s?.dev;
      break;
    case "dir":
      path = s?.dir;
      break;
    default:
      break;
  }
  return path === "" ? undefined : path;
}

export function isEmptyDisk(disk: DiskDef): boolean {
  const s = disk.source;
  if (!s) return true;
  switch (actualDiskType(disk)) {
    case "file":
      return s.file === undefined || s.file === "";
    case "block":
      return s.dev === undefined || s.dev === "";
    case "dir":
      return s.dir === undefined || s.dir === "";
    case "network":
      return s.protocol === undefined;
    default:
      return false;
  }
}

export function isReadonly(disk: DiskDef): boolean {
  return disk.readonly === true || disk.device === "cdrom";
}

function format(disk: DiskDef): string {
  const t = disk.driver?.type;
  return t === undefined || t === "" || t === "auto" ? "raw" : t;
}

/** libvirt's cache mode → (write-cache, direct, no-flush); undefined for the default. */
export function cacheFlags(
  mode: string | undefined,
): { writeback: boolean; direct: boolean; noflush: boolean } | undefined {
  switch (mode) {
    case "none":
      return { writeback: true, direct: true, noflush: false };
    case "writethrough":
      return { writeback: false, direct: false, noflush: false };
    case "writeback":
      return { writeback: true, direct: false, noflush: false };
    case "directsync":
      return { writeback: false, direct: true, noflush: false };
    case "unsafe":
      return { writeback: true, direct: false, noflush: true };
    default:
      return undefined;
  }
}

/**
 * The cache mode QEMU gets: a writable shared disk without one bypasses the host's page cache
 * (libvirt's qemuDomainPrepareDiskCachemode), so that all guests see each other's writes.
 */
function effectiveCache(disk: DiskDef): string | undefined {
  const mode = disk.driver?.cache;
  if (mode === undefined && disk.shareable === true && !isReadonly(disk)) return "none";
  return mode;
}

function cacheProps(disk: DiskDef): JsonObject | undefined {
  const c = cacheFlags(effectiveCache(disk));
  return c ? { direct: c.direct, "no-flush": c.noflush } : undefined;
}

/** Whether a raw image still needs its own `raw` format node (libvirt's rules). */
export function needsFormatLayer(b: Build, disk: DiskDef): boolean {
  if (format(disk) !== "raw") return true;
  if (needsLuksLayer(disk)) return true;
  if (!b.has("blockjob.backing-mask-protocol")) return true;
  if (actualDiskType(disk) === "dir") return true;
  return false;
}

/** Assigns node names: libvirt counts disks from the last one, so the first disk gets the highest N. */
export function assignDiskNodes(b: Build): Map<DiskDef, DiskNodes> {
  const map = new Map<DiskDef, DiskNodes>();
  const disks = b.def.devices.disks;
  let n = 0;
  for (let i = disks.length - 1; i >= 0; i--) {
    const d = disks[i]!;
    // SD cards are legacy -drive options, vhost-user disks a chardev: no block nodes
    if (d.target.bus === "sd" || d.type === "vhostuser") continue;
    n++;
    const nodes: DiskNodes = { storage: `libvirt-${n}-storage` };
    if (needsFormatLayer(b, d)) nodes.format = `libvirt-${n}-format`;
    if (d.driver?.copy_on_read === true) nodes.copyOnRead = `libvirt-CoR-${d.target.dev}`;
    // the filters take the numbers after the disk's own nodes
    const filters = d.throttleFilters ?? [];
    if (filters.length > 0)
      nodes.throttle = filters.map((group) => ({ node: `libvirt-${++n}-filter`, group }));
    map.set(d, nodes);
  }
  return map;
}

function socketAddress(h: DiskSourceHost, defaultPort: number | undefined): JsonObject {
  if (h.transport === "unix") return { type: "unix", path: h.socket ?? "" };
  const o: Record<string, string> = { type: "inet", host: h.name ?? "" };
  const port = h.port ?? defaultPort;
  if (port !== undefined) o.port = String(port);
  return o;
}

function networkProps(b: Build, disk: DiskDef, nodes: DiskNodes): { driver: string; props: Props } {
  const s = disk.source!;
  const hosts = s.hosts ?? [];
  const element = diskElement(disk);
  const p = new Props();
  const protocol = s.protocol ?? "";
  if (usesNbdkit(b, s)) return { driver: "nbd", props: nbdkitProps(b, nodes.storage) };
  switch (protocol) {
    case "nbd": {
      const h = hosts[0];
      if (hosts.length !== 1 || !h)
        fail("QEMU_CMD_INVALID_VALUE", { element, reason: "nbd protocol accepts only one host" });
      p.set("server", socketAddress(h, undefined)).opt("export", s.name);
      nbdProps(b, s, nodes.storage, element, p);
      return { driver: "nbd", props: p };
    }
    case "http":
    case "https":
    case "ftp":
    case "ftps":
    case "tftp": {
      p.set("url", curlUrl(s));
      const auth = diskAuth(disk);
      curlProps(s, nodes.storage, auth && { username: auth.username, secretId: authSecretId(nodes) }, p);
      return { driver: protocol, props: p };
    }
    case "nfs":
      return { driver: "nfs", props: nfsProps(b, s, element) };
    case "iscsi": {
      if (hosts.length !== 1) throw new VirtError("QEMU_CMD_DISK_HOST_COUNT", { protocol: "iSCSI" });
      const h = hosts[0] ?? {};
      const [target, lun] = (s.name ?? "").split("/");
      const host = h.name ?? "";
      const portal = host.includes(":") ? `[${host}]:${h.port ?? 3260}` : `${host}:${h.port ?? 3260}`;
      p.set("portal", portal)
        .set("target", target ?? "")
        .set("lun", Number(lun ?? 0))
        .set("transport", "tcp");
      authProps(disk, nodes, p);
      p.opt("initiator-name", s.initiatorIqn);
      return { driver: "iscsi", props: p };
    }
    case "rbd": {
      const [pool, ...image] = (s.name ?? "").split("/");
      p.set("pool", pool ?? "")
        .set("image", image.join("/"))
        .opt("snapshot", s.snapshot)
        .opt("conf", s.configFile);
      if (hosts.length > 0)
        p.set(
          "server",
          hosts.map((h) => ({ host: h.name ?? "", port: String(h.port ?? 6789) })),
        );
      authProps(disk, nodes, p);
      rbdEncryptProps(disk, nodes, p);
      return { driver: "rbd", props: p };
    }
    case "gluster": {
      const [volume, ...path] = (s.name ?? "").replace(/^\//, "").split("/");
      p.set("volume", volume ?? "")
        .set("path", path.join("/"))
        .set(
          "server",
          hosts.map((h) => socketAddress(h, 24007)),
        )
        // qemu.conf gluster_debug_level's default
        .set("debug", 4);
      return { driver: "gluster", props: p };
    }
    case "ssh": {
      const h = hosts[0];
      if (hosts.length !== 1 || !h)
        fail("QEMU_CMD_INVALID_VALUE", { element, reason: "ssh protocol accepts only one host" });
      p.set("path", s.name ?? "").set("server", { host: h.name ?? "", port: String(h.port ?? 22) });
      return { driver: "ssh", props: p };
    }
    default:
      requireFlag(b, `blockdev.${protocol}`, element);
      return fail(
        "QEMU_CMD_UNSUPPORTED",
        { element, reason: `network disk protocol '${protocol}' is not implemented` },
        { xpath: diskXpath(b, disk) },
      );
  }
}

/** Protocol/storage node. `alone`: no format node above it (raw image used directly). */
export function storageProps(b: Build, disk: DiskDef, nodes: DiskNodes): Props {
  const s = disk.source!;
  let driver: string | undefined;
  let p: Props;
  const type = actualDiskType(disk);
  switch (type) {
    case "block":
    case "file": {
      const path = type === "block" ? (s.dev ?? "") : (s.file ?? "");
      if (type === "block")
        driver = disk.device === "cdrom" && b.ctx.isHostCdrom?.(path) === true ? "host_cdrom" : "host_device";
      else driver = "file";
      p = new Props().set("filename", path);
      const io = disk.driver?.io;
      if (io !== undefined) p.set("aio", io);
      p.opt("pr-manager", prManagerAlias(disk, nodes));
      break;
    }
    case "dir":
      p = new Props()
        .set("driver", "vvfat")
        .set("dir", s.dir ?? "")
        .set("floppy", disk.device === "floppy")
        .set("rw", !isReadonly(disk));
      break;
    case "network": {
      const r = networkProps(b, disk, nodes);
      driver = r.driver;
      p = r.props;
      break;
    }
    case "nvme": {
      // QEMU's userspace NVMe driver opens the controller through VFIO
      requireFlag(b, "drive-nvme", diskElement(disk));
      const n = s.nvme!;
      const a = n.address;
      const h = (v: number, w: number): string => v.toString(16).padStart(w, "0");
      driver = "nvme";
      p = new Props()
        .set("device", `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}.${a.function.toString(16)}`)
        .set("namespace", n.namespace);
      break;
    }
    default:
      return fail(
        "QEMU_CMD_UNSUPPORTED",
        { element: diskElement(disk), reason: `disk type '${disk.type}' is not supported` },
        { xpath: diskXpath(b, disk) },
      );
  }
  if (driver !== undefined) p.prepend("driver", driver);
  p.set("node-name", nodes.storage);
  if (nodes.format !== undefined) {
    p.set("auto-read-only", true).set("discard", "unmap");
  } else {
    // the storage node is the top node: it takes what a format node would carry
    p.set("read-only", isReadonly(disk));
    if (disk.driver?.discard !== undefined) p.set("discard", disk.driver.discard);
    const dz = detectZeroes(disk);
    if (dz !== undefined) p.set("detect-zeroes", dz);
  }
  const cache = cacheProps(disk);
  if (cache) p.set("cache", cache);
  return p;
}

function detectZeroes(disk: DiskDef): string | undefined {
  const dz = disk.driver?.detect_zeroes;
  if (dz === undefined || dz === "off") return dz;
  if (dz === "unmap" && disk.driver?.discard !== "unmap") return "on";
  return dz;
}

export function formatProps(disk: DiskDef, nodes: DiskNodes): Props {
  const p = new Props().set("node-name", nodes.format ?? "").set("read-only", isReadonly(disk));
  if (disk.driver?.discard !== undefined) p.set("discard", disk.driver.discard);
  const dz = detectZeroes(disk);
  if (dz !== undefined) p.set("detect-zeroes", dz);
  const cache = cacheProps(disk);
  if (cache) p.set("cache", cache);
  const fmt = format(disk);
  switch (fmt) {
    case "raw":
    case "fat":
      if (needsLuksLayer(disk)) {
        p.set("driver", "luks");
        formatEncryptProps(disk, nodes, "luks", p);
      } else p.set("driver", "raw");
      break;
    case "qcow2":
      p.set("driver", "qcow2");
      formatEncryptProps(disk, nodes, "qcow2", p);
      if (disk.driver?.discard_no_unref !== undefined)
        p.set("discard-no-unref", disk.driver.discard_no_unref);
      p.pos("cache-size", disk.driver?.metadataCacheMax);
      break;
    case "vhd":
      p.set("driver", "vhdx");
      break;
    case "ploop":
      p.set("driver", "parallels");
      break;
    case "qcow":
    case "qed":
    case "vmdk":
    case "vdi":
    case "vpc":
    case "bochs":
    case "cloop":
    case "dmg":
      p.set("driver", fmt);
      break;
    default:
      return fail("QEMU_CMD_UNSUPPORTED", {
        element: diskElement(disk),
        reason: `image format '${fmt}' is not supported by QEMU`,
      });
  }
  p.set("file", nodes.storage);
  return p;
}

/** The node the device uses (`drive=`). */
export function effectiveNode(nodes: DiskNodes): string {
  return nodes.throttle?.at(-1)?.node ?? nodes.copyOnRead ?? nodes.format ?? nodes.storage;
}

export function diskDeviceProps(
  b: Build,
  disk: DiskDef,
  nodes: DiskNodes | undefined,
  bootindex: number | undefined,
): Props {
  const bus = disk.target.bus ?? "ide";
  const element = diskElement(disk);
  let p: Props;
  let deviceId: string | undefined;
  let removable: boolean | undefined;
  switch (bus) {
    case "ide":
    case "sata":
      p = new Props().set("driver", disk.device === "cdrom" ? "ide-cd" : "ide-hd");
      break;
    case "scsi":
      if (disk.device === "lun") {
        p = new Props().set("driver", "scsi-block");
      } else {
        if (disk.device === "cdrom") p = new Props().set("driver", "scsi-cd");
        else {
          p = new Props().set("driver", "scsi-hd");
          removable = disk.target.removable;
        }
        deviceId = disk.serial ?? `drive-${disk.alias ?? ""}`;
      }
      break;
    case "virtio": {
      p = virtioProps(
        b,
        disk.type === "vhostuser" ? "vhost-user-blk" : "virtio-blk",
        disk.address,
        disk.model,
        element,
        true,
        disk.virtio,
      );
      // A virtio LUN passes SCSI commands through virtio-blk, which QEMU 9.1 dropped.
      if (disk.device === "lun" && !b.has("virtio-blk-pci.scsi")) {
        throw new VirtError("QEMU_VIRTIO_BLK_SCSI_UNSUPPORTED", {}, { element });
      }
      let scsi: boolean | undefined;
      if (disk.type !== "vhostuser" && b.has("virtio-blk-pci.scsi")) {
        if (disk.device === "lun") scsi = true;
        else if (!b.has("virtio-blk-pci.scsi.default.disabled")) scsi = false;
      }
      const it = disk.driver?.iothread;
      if (it !== undefined && it > 0) p.set("iothread", `iothread${it}`);
      p.opt("ioeventfd", disk.driver?.ioeventfd)
        .opt("event_idx", disk.driver?.event_idx)
        .opt("scsi", scsi)
        .pos("num-queues", disk.driver?.queues)
        .pos("queue-size", disk.driver?.queue_size)
        .opt("iothread-vq-mapping", iothreadVqMapping(disk.driver?.iothreads));
      break;
    }
    case "usb":
      p = new Props().set("driver", "usb-storage");
      removable = disk.target.removable ?? false;
      break;
    case "fdc":
      p = new Props().set("driver", "floppy");
      break;
    default:
      return fail(
        "QEMU_CMD_UNSUPPORTED",
        { element, reason: `disk bus '${bus}' is not supported by QEMU` },
        { xpath: diskXpath(b, disk) },
      );
  }
  addAddressProps(b, p, disk, element, bus);
  p.opt("device_id", deviceId);
  if (disk.shareable === true) p.set("share-rw", true);
  if (disk.type === "vhostuser") p.set("chardev", `chr-vu-${disk.alias ?? ""}`);
  else if (nodes && !isEmptyDisk(disk)) p.set("drive", effectiveNode(nodes));
  p.set("id", disk.alias ?? "");
  if (disk.device !== "floppy") p.pos("bootindex", bootindex);
  p.pos("logical_block_size", disk.blockio?.logical_block_size)
    .pos("physical_block_size", disk.blockio?.physical_block_size)
    .pos("discard_granularity", disk.blockio?.discard_granularity);
  if (disk.wwn !== undefined) {
    const w = disk.wwn.startsWith("0x") ? disk.wwn : `0x${disk.wwn}`;
    try {
      p.set("wwn", BigInt(w));
    } catch {
      fail("QEMU_CMD_INVALID_VALUE", { element, reason: `wwn '${disk.wwn}' is not a hexadecimal number` });
    }
  }
  p.pos("rotation_rate", disk.target.rotation_rate).opt("vendor", disk.vendor);
  // IDE and SATA drives report the product as their model string
  p.opt(bus === "ide" || bus === "sata" ? "model" : "product", disk.product);
  p.opt("removable", removable);
  if (disk.device !== "lun") {
    const c = cacheFlags(effectiveCache(disk));
    if (c) p.set("write-cache", c.writeback ? "on" : "off");
  }
  if (disk.geometry) {
    p.pos("cyls", disk.geometry.cyls)
      .pos("heads", disk.geometry.heads)
      .pos("secs", disk.geometry.secs)
      .opt("bios-chs-trans", disk.geometry.trans);
  }
  if (disk.serial !== undefined) p.set("serial", disk.serial.replaceAll(" ", "\\ "));
  const ep = disk.driver?.error_policy;
  let werror: string | undefined = ep;
  let rerror: string | undefined = disk.driver?.rerror_policy;
  if (ep === "enospace") werror = "enospc";
  else rerror ??= werror;
  p.opt("werror", werror).opt("rerror", rerror);
  return p;
}

function buildFloppyController(b: Build, bootIndex: (d: DiskDef) => number | undefined): void {
  let a = 0;
  let bb = 0;
  let hasFloppy = false;
  for (const d of b.def.devices.disks) {
    if (d.target.bus !== "fdc") continue;
    hasFloppy = true;
    const unit = d.address?.type === "drive" ? d.address.unit : 0;
    if (unit) bb = bootIndex(d) ?? 0;
    else a = bootIndex(d) ?? 0;
  }
  if (!hasFloppy) return;
  if (b.isQ35) {
    b.addJson("-device", new Props().set("driver", "isa-fdc").pos("bootindexA", a).pos("bootindexB", bb));
  } else {
    if (a > 0) b.add("-global", `isa-fdc.bootindexA=${a}`);
    if (bb > 0) b.add("-global", `isa-fdc.bootindexB=${bb}`);
  }
}

/** The pr-manager-helper object a disk with `<reservations>` talks to. */
function prManagerAlias(disk: DiskDef, nodes: DiskNodes): string | undefined {
  const r = disk.source?.reservations;
  if (!r) return undefined;
  return r.managed ? "pr-helper0" : `pr-helper-${nodes.storage}`;
}

function requirePrHelper(b: Build, disk: DiskDef): void {
  if (!b.has("pr-manager-helper"))
    fail(
      "QEMU_CMD_UNSUPPORTED",
      { element: diskElement(disk), reason: "reservations not supported with this QEMU binary" },
      { xpath: diskXpath(b, disk) },
    );
}

/**
 * The one qemu-pr-helper libvirt starts for all disks with `<reservations managed='yes'>`,
 * listening in the domain's directory; QEMU connects to it as `pr-helper0`.
 */
export function buildManagedPrHelper(b: Build): void {
  const disk = b.def.devices.disks.find((d) => d.source?.reservations?.managed === true && !isEmptyDisk(d));
  if (!disk) return;
  requirePrHelper(b, disk);
  b.addJson(
    "-object",
    new Props()
      .set("qom-type", "pr-manager-helper")
      .set("id", "pr-helper0")
      .set("path", `${b.ctx.paths.domainDir}/pr-helper0.sock`),
  );
}

/** A disk's own connection to a qemu-pr-helper someone else runs (`managed='no'`). */
function buildUnmanagedPrHelper(b: Build, disk: DiskDef, nodes: DiskNodes): void {
  const r = disk.source?.reservations;
  if (!r || r.managed) return;
  requirePrHelper(b, disk);
  b.addJson(
    "-object",
    new Props()
      .set("qom-type", "pr-manager-helper")
      .set("id", prManagerAlias(disk, nodes) ?? "")
      .set("path", r.path ?? ""),
  );
}

/**
 * An SD card: QEMU has no -device for it on most machines, so it stays a legacy
 * `-drive if=sd,index=N` (libvirt's qemuBuildDriveStr), numbered by its target name.
 */
function buildSdDrive(b: Build, disk: DiskDef): void {
  const path = localDiskPath(disk);
  if (path === undefined || disk.type === "network" || disk.type === "volume")
    fail(
      "QEMU_CMD_UNSUPPORTED",
      { element: diskElement(disk), reason: "SD card disks need a local file or block device" },
      { xpath: diskXpath(b, disk) },
    );
  const parts = [
    `file=${escapeComma(path)}`,
    `format=${format(disk)}`,
    "if=sd",
    `index=${diskNameToIndex(disk.target.dev)}`,
  ];
  if (isReadonly(disk)) parts.push("readonly=on");
  const cache = effectiveCache(disk);
  if (cache !== undefined) parts.push(`cache=${cache}`);
  b.add("-drive", parts.join(","));
}

export function buildDisks(
  b: Build,
  nodes: Map<DiskDef, DiskNodes>,
  bootIndex: (d: DiskDef) => number | undefined,
): void {
  buildFloppyController(b, bootIndex);
  for (const disk of b.def.devices.disks) {
    if (disk.target.bus === "sd") {
      buildSdDrive(b, disk);
      continue;
    }
    const n = nodes.get(disk);
    if (disk.type === "volume" && disk.source?.actualType === undefined) {
      // the driver resolves volumes through the storage driver before it builds the command
      fail(
        "QEMU_CMD_UNSUPPORTED",
        {
          element: diskElement(disk),
          reason: `volume '${disk.source?.volume ?? ""}' of pool '${disk.source?.pool ?? ""}' was not resolved to a path`,
        },
        { xpath: diskXpath(b, disk) },
      );
    }
    if (disk.type === "vhostuser") {
      const v = disk.source?.vhostuser;
      buildChardev(
        b,
        {
          type: "unix",
          source: { mode: "connect", path: v?.path ?? "", reconnect: v?.reconnect },
          devAlias: disk.alias,
        },
        `chr-vu-${disk.alias ?? ""}`,
      );
    } else if (disk.type === "vhostvdpa") {
      fail(
        "QEMU_CMD_UNSUPPORTED",
        { element: diskElement(disk), reason: `disk type '${disk.type}' is not implemented` },
        { xpath: diskXpath(b, disk) },
      );
    }
    if (n && !isEmptyDisk(disk)) {
      buildUnmanagedPrHelper(b, disk, n);
      buildDiskSecrets(b, disk, n);
      b.addJson("-blockdev", storageProps(b, disk, n));
      if (n.format !== undefined) b.addJson("-blockdev", formatProps(disk, n));
      if (n.copyOnRead !== undefined) {
        b.addJson(
          "-blockdev",
          new Props()
            .set("driver", "copy-on-read")
            .set("node-name", n.copyOnRead)
            .set("file", n.format ?? n.storage)
            .set("discard", "unmap"),
        );
      }
      buildThrottleFilters(b, n);
    }
    b.addJson("-device", diskDeviceProps(b, disk, n, bootIndex(disk)));
  }
}
