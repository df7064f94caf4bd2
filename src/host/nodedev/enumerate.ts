/**
 * Node devices from sysfs (libvirt's node device driver, udev backend, without udev): the
 * `computer` root, PCI devices, USB devices and interfaces, network interfaces, disks, SCSI
 * hosts, targets and devices, all read through one `Sysfs` root. Names follow libvirt's:
 * `<subsystem>_<sysname>[_<extra>]` with every character that is not a letter or digit turned
 * into `_` (`pci_0000_00_1f_2`, `usb_1_2`, `usb_usb1`, `net_eth0_52_54_00_12_34_56`,
 * `block_vda_<serial>`), `scsi_host0`, `scsi_target0_0_0`, `scsi_0_0_0_0`. A device's parent is
 * the nearest node device above it in `/sys/devices`, else `computer`.
 */
import { dirname } from "node:path";
import { parsePciAddr, type Sysfs } from "../sysfs/sysfs.ts";

/** libvirt's `virNodeDevCapType` names, in enum order (the index is the number). */
export const nodeDevCapNames = [
  "system",
  "pci",
  "usb_device",
  "usb",
  "net",
  "scsi_host",
  "scsi_target",
  "scsi",
  "storage",
  "fc_host",
  "vports",
  "scsi_generic",
  "drm",
  "mdev_types",
  "mdev",
  "ccw",
  "css",
  "vdpa",
  "ap_card",
  "ap_queue",
  "ap_matrix",
  "vpd",
] as const;
export type NodeDevCapName = (typeof nodeDevCapNames)[number];

/** `virConnectListAllNodeDeviceFlags`: one bit per capability (enum order), plus these. */
export const ConnectListNodeDevicesFlags = {
  INACTIVE: 1 << 30,
  ACTIVE: 2 ** 31,
} as const;

/** The flag bit of a capability name. */
export function capFlag(cap: NodeDevCapName): number {
  return 2 ** nodeDevCapNames.indexOf(cap);
}

export type NodeDevCap =
  | {
      type: "system";
      product?: string;
      hardware: { vendor?: string; version?: string; serial?: string; uuid?: string };
      firmware: { vendor?: string; version?: string; releaseDate?: string };
    }
  | {
      type: "pci";
      class?: string;
      domain: number;
      bus: number;
      slot: number;
      function: number;
      product: { id: string; name?: string };
      vendor: { id: string; name?: string };
      iommuGroup?: { number: string; members: string[] };
      numaNode?: number;
    }
  | {
      type: "usb_device";
      bus: number;
      device: number;
      product: { id: string; name?: string };
      vendor: { id: string; name?: string };
    }
  | { type: "usb"; number: number; class: number; subclass: number; protocol: number; description?: string }
  | { type: "net"; interface: string; address?: string; linkState?: string; speed?: number }
  | {
      type: "storage";
      block: string;
      driveType: string;
      serial?: string;
      size?: number;
      logicalBlockSize?: number;
      numBlocks?: number;
    }
  | { type: "scsi_host"; host: number; uniqueId?: number }
  | { type: "scsi_target"; target: string }
  | { type: "scsi"; host: number; bus: number; target: number; lun: number; scsiType?: string };

export interface NodeDevice {
  readonly name: string;
  /** `/sys/devices/...` as the host shows it (undefined for `computer`). */
  readonly path: string | undefined;
  readonly parent: string | undefined;
  readonly driver: string | undefined;
  /** `/dev/...` node, when the device has one. */
  readonly devnode: string | undefined;
  readonly cap: NodeDevCap;
}

/** libvirt's udevGenerateDeviceName: non-alphanumerics become `_`. */
export function nodeDevName(...parts: string[]): string {
  return parts.join("_").replace(/[^A-Za-z0-9]/g, "_");
}

/** `pci_0000_00_1f_2` → `0000:00:1f.2`; undefined for other names. */
export function pciAddrOfName(name: string): string | undefined {
  const m = /^pci_([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$/.exec(name);
  return m ? `${m[1]!}:${m[2]!}:${m[3]!}.${m[4]!}` : undefined;
}

const int = (s: string | undefined, radix = 10): number | undefined => {
  if (s === undefined) return undefined;
  const n = parseInt(s, radix);
  return Number.isNaN(n) ? undefined : n;
};

const some = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s);

interface Raw {
  name: string;
  /** Real absolute path (under the root), for the parent walk. */
  real: string | undefined;
  driver: string | undefined;
  devnode: string | undefined;
  cap: NodeDevCap;
}

function systemDevice(sysfs: Sysfs): Raw {
  const dmi = (f: string): string | undefined => some(sysfs.read(`devices/virtual/dmi/id/${f}`)?.trim());
  return {
    name: "computer",
    real: undefined,
    driver: undefined,
    devnode: undefined,
    cap: {
      type: "system",
      ...(dmi("product_name") !== undefined ? { product: dmi("product_name")! } : {}),
      hardware: {
        vendor: dmi("sys_vendor"),
        version: dmi("product_version"),
        serial: dmi("product_serial"),
        uuid: dmi("product_uuid"),
      },
      firmware: { vendor: dmi("bios_vendor"), version: dmi("bios_version"), releaseDate: dmi("bios_date") },
    },
  };
}

function pciDevices(sysfs: Sysfs): Raw[] {
  const out: Raw[] = [];
  for (const addr of sysfs.list("bus/pci/devices")) {
    const a = parsePciAddr(addr);
    if (!a) continue;
    const rel = `bus/pci/devices/${addr}`;
    const group = sysfs.linkName(`${rel}/iommu_group`);
    const numa = int(sysfs.read(`${rel}/numa_node`));
    out.push({
      name: nodeDevName("pci", addr),
      real: sysfs.realpath(rel),
      driver: sysfs.linkName(`${rel}/driver`),
      devnode: undefined,
      cap: {
        type: "pci",
        ...(sysfs.read(`${rel}/class`) !== undefined ? { class: sysfs.read(`${rel}/class`)! } : {}),
        domain: a.domain,
        bus: a.bus,
        slot: a.slot,
        function: a.function,
        product: { id: sysfs.read(`${rel}/device`) ?? "0x0000" },
        vendor: { id: sysfs.read(`${rel}/vendor`) ?? "0x0000" },
        ...(group !== undefined
          ? { iommuGroup: { number: group, members: sysfs.list(`kernel/iommu_groups/${group}/devices`) } }
          : {}),
        ...(numa !== undefined && numa >= 0 ? { numaNode: numa } : {}),
      },
    });
  }
  return out;
}

function usbDevices(sysfs: Sysfs): Raw[] {
  const out: Raw[] = [];
  for (const sysname of sysfs.list("bus/usb/devices")) {
    const rel = `bus/usb/devices/${sysname}`;
    const driver = sysfs.linkName(`${rel}/driver`);
    if (sysname.includes(":")) {
      out.push({
        name: nodeDevName("usb", sysname),
        real: sysfs.realpath(rel),
        driver,
        devnode: undefined,
        cap: {
          type: "usb",
          number: int(sysfs.read(`${rel}/bInterfaceNumber`), 16) ?? 0,
          class: int(sysfs.read(`${rel}/bInterfaceClass`), 16) ?? 0,
          subclass: int(sysfs.read(`${rel}/bInterfaceSubClass`), 16) ?? 0,
          protocol: int(sysfs.read(`${rel}/bInterfaceProtocol`), 16) ?? 0,
          ...(some(sysfs.read(`${rel}/interface`)) !== undefined
            ? { description: sysfs.read(`${rel}/interface`)! }
            : {}),
        },
      });
      continue;
    }
    const bus = int(sysfs.read(`${rel}/busnum`));
    const device = int(sysfs.read(`${rel}/devnum`));
    if (bus === undefined || device === undefined) continue;
    const name = (v: string | undefined): { name?: string } => (some(v) !== undefined ? { name: v! } : {});
    out.push({
      name: nodeDevName("usb", sysname),
      real: sysfs.realpath(rel),
      driver,
      devnode: `/dev/bus/usb/${String(bus).padStart(3, "0")}/${String(device).padStart(3, "0")}`,
      cap: {
        type: "usb_device",
        bus,
        device,
        product: {
          id: `0x${sysfs.read(`${rel}/idProduct`) ?? "0000"}`,
          ...name(sysfs.read(`${rel}/product`)),
        },
        vendor: {
          id: `0x${sysfs.read(`${rel}/idVendor`) ?? "0000"}`,
          ...name(sysfs.read(`${rel}/manufacturer`)),
        },
      },
    });
  }
  return out;
}

function netDevices(sysfs: Sysfs): Raw[] {
  const out: Raw[] = [];
  for (const ifname of sysfs.list("class/net")) {
    const rel = `class/net/${ifname}`;
    if (!sysfs.exists(rel)) continue;
    const mac = some(sysfs.read(`${rel}/address`));
    const speed = int(sysfs.read(`${rel}/speed`));
    out.push({
      name: mac !== undefined ? nodeDevName("net", ifname, mac) : nodeDevName("net", ifname),
      real: sysfs.realpath(rel),
      driver: undefined,
      devnode: undefined,
      cap: {
        type: "net",
        interface: ifname,
        ...(mac !== undefined ? { address: mac } : {}),
        ...(some(sysfs.read(`${rel}/operstate`)) !== undefined
          ? { linkState: sysfs.read(`${rel}/operstate`)! }
          : {}),
        ...(speed !== undefined && speed > 0 ? { speed } : {}),
      },
    });
  }
  return out;
}

/** Disks libvirt reports (its udev backend ignores loop, zram, ram and partitions). */
const DISK = /^(sd|vd|hd|xvd|nvme\d+n|mmcblk)/;

function storageDevices(sysfs: Sysfs): Raw[] {
  const out: Raw[] = [];
  for (const blk of sysfs.list("class/block")) {
    const rel = `class/block/${blk}`;
    if (!DISK.test(blk) || sysfs.exists(`${rel}/partition`)) continue;
    const serial =
      some(sysfs.read(`${rel}/serial`)?.trim()) ?? some(sysfs.read(`${rel}/device/serial`)?.trim());
    const sectors = int(sysfs.read(`${rel}/size`));
    const lbs = int(sysfs.read(`${rel}/queue/logical_block_size`)) ?? 512;
    const removable = sysfs.read(`${rel}/removable`) === "1";
    out.push({
      name: serial !== undefined ? nodeDevName("block", blk, serial) : nodeDevName("block", blk),
      real: sysfs.realpath(rel),
      driver: undefined,
      devnode: `/dev/${blk}`,
      cap: {
        type: "storage",
        block: `/dev/${blk}`,
        driveType: removable ? "removable" : "disk",
        ...(serial !== undefined ? { serial } : {}),
        ...(sectors !== undefined
          ? { size: sectors * 512, logicalBlockSize: lbs, numBlocks: Math.floor((sectors * 512) / lbs) }
          : {}),
      },
    });
  }
  return out;
}

const hostDir = (classDir: string | undefined): string | undefined =>
  classDir === undefined ? undefined : dirname(dirname(classDir));

function scsiDevices(sysfs: Sysfs): Raw[] {
  const out: Raw[] = [];
  for (const host of sysfs.list("class/scsi_host")) {
    const n = int(host.replace(/^host/, ""));
    if (n === undefined) continue;
    const rel = `class/scsi_host/${host}`;
    const uid = int(sysfs.read(`${rel}/unique_id`));
    out.push({
      name: `scsi_${host}`,
      // the SCSI host device (`.../host0`), of which `scsi_host/host0` is the class view
      real: sysfs.realpath(`${rel}/device`) ?? hostDir(sysfs.realpath(rel)),
      driver: undefined,
      devnode: undefined,
      cap: { type: "scsi_host", host: n, ...(uid !== undefined ? { uniqueId: uid } : {}) },
    });
  }
  const scsiTypes = ["disk", "tape", "printer", "processor", "worm", "cdrom", "scanner", "optical"];
  for (const e of sysfs.list("bus/scsi/devices")) {
    const rel = `bus/scsi/devices/${e}`;
    if (e.startsWith("target")) {
      out.push({
        name: nodeDevName("scsi", e),
        real: sysfs.realpath(rel),
        driver: undefined,
        devnode: undefined,
        cap: { type: "scsi_target", target: e },
      });
      continue;
    }
    const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(e);
    if (!m) continue;
    const t = int(sysfs.read(`${rel}/type`));
    out.push({
      name: nodeDevName("scsi", e),
      real: sysfs.realpath(rel),
      driver: sysfs.linkName(`${rel}/driver`),
      devnode: undefined,
      cap: {
        type: "scsi",
        host: Number(m[1]),
        bus: Number(m[2]),
        target: Number(m[3]),
        lun: Number(m[4]),
        ...(t !== undefined && scsiTypes[t] !== undefined ? { scsiType: scsiTypes[t] } : {}),
      },
    });
  }
  return out;
}

/** Every node device under the root, `computer` first, the rest sorted by name. */
export function listNodeDevices(sysfs: Sysfs): NodeDevice[] {
  const raws = [
    ...pciDevices(sysfs),
    ...usbDevices(sysfs),
    ...netDevices(sysfs),
    ...storageDevices(sysfs),
    ...scsiDevices(sysfs),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byPath = new Map<string, string>();
  for (const r of raws) if (r.real !== undefined && !byPath.has(r.real)) byPath.set(r.real, r.name);
  const parentOf = (real: string | undefined): string => {
    if (real === undefined) return "computer";
    let p = dirname(real);
    while (p.length > sysfs.root.length && p !== "/") {
      const hit = byPath.get(p);
      if (hit !== undefined) return hit;
      p = dirname(p);
    }
    return "computer";
  };
  const sys = systemDevice(sysfs);
  return [
    {
      name: sys.name,
      path: undefined,
      parent: undefined,
      driver: undefined,
      devnode: undefined,
      cap: sys.cap,
    },
    ...raws.map((r) => ({
      name: r.name,
      path: r.real !== undefined ? sysfs.display(r.real) : undefined,
      parent: parentOf(r.real),
      driver: r.driver,
      devnode: r.devnode,
      cap: r.cap,
    })),
  ];
}

/** One device by name, or undefined. */
export function findNodeDevice(sysfs: Sysfs, name: string): NodeDevice | undefined {
  return listNodeDevices(sysfs).find((d) => d.name === name);
}

/** The capability names a device answers to (`virNodeDeviceListCaps`). */
export function nodeDeviceCaps(dev: NodeDevice): NodeDevCapName[] {
  return [dev.cap.type];
}
