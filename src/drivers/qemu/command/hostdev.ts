/**
 * Host device passthrough: PCI (vfio-pci, also `<interface type='hostdev'>`), USB (usb-host) and
 * mediated devices.
 */
import type { DeviceCommon, HostdevDef, HostdevIscsiSource } from "../../../conf/domain/types.ts";
import { secretObject } from "./disk-secrets.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { Props } from "./escape.ts";
import { virtioProps } from "./virtio.ts";
import { actualType, addRomProps } from "./net.ts";

function pciHost(a: { domain: number; bus: number; slot: number; function: number }): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}.${a.function.toString(16)}`;
}

/**
 * The iscsi blockdev of an iSCSI SCSI host device (QEMU's initiator), with its CHAP password
 * as a secret object encrypted with the master key, named after the node.
 */
function buildIscsiBackend(b: Build, dev: HostdevDef, s: HostdevIscsiSource, node: string): void {
  const slash = s.name.lastIndexOf("/");
  const target = slash < 0 ? s.name : s.name.slice(0, slash);
  const lun = slash < 0 ? 0 : Number(s.name.slice(slash + 1)) || 0;
  const host = s.host.name ?? "";
  const port = s.host.port ?? 3260;
  const p = new Props()
    .set("driver", "iscsi")
    .set("portal", host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`)
    .set("target", target)
    .set("lun", lun)
    .set("transport", "tcp");
  if (s.auth) {
    const get = b.ctx.secretValue;
    if (!get)
      fail("QEMU_CMD_CONTEXT_MISSING", { element: `hostdev ${dev.alias ?? ""}`, what: "the secret driver" });
    const id = `${node}-secret0`;
    b.addJson("-object", secretObject(b, id, get(s.auth.secret, "iscsi")));
    p.set("user", s.auth.username).set("password-secret", id);
  }
  p.opt("initiator-name", s.initiatorIqn);
  p.set("node-name", node).set("read-only", dev.readonly === true);
  b.addJson("-blockdev", p);
}

function vfioPci(
  b: Build,
  dev: DeviceCommon & { display?: boolean; ramfb?: boolean; teaming?: HostdevDef["teaming"] },
  host: string,
  bootindex: number | undefined,
): Props {
  requireFlag(b, "vfio-pci", `PCI host device ${host}`);
  const p = new Props()
    .set("driver", dev.ramfb === true ? "vfio-pci-nohotplug" : "vfio-pci")
    .set("host", host)
    .set("id", dev.alias ?? "")
    .pos("bootindex", bootindex)
    .opt("display", dev.display === undefined ? undefined : dev.display ? "on" : "off")
    .onlyTrue("ramfb", dev.ramfb)
    // the transient half of a failover pair names its virtio partner
    .opt("failover_pair_id", dev.teaming?.type === "transient" ? dev.teaming.persistent : undefined);
  addAddressProps(b, p, dev, `hostdev ${dev.alias ?? ""}`);
  addRomProps(p, dev.rom, dev.address?.type);
  return p;
}

function usbHost(b: Build, dev: HostdevDef, byPath = true): Props {
  const s = dev.source;
  const element = `USB host device ${dev.alias ?? ""}`;
  let hostdevice: string | undefined;
  let hostbus = 0;
  let hostaddr = 0;
  if (s.usbAddress) {
    if (byPath && b.has("usb-host.hostdevice")) {
      hostdevice = `/dev/bus/usb/${String(s.usbAddress.bus).padStart(3, "0")}/${String(s.usbAddress.device).padStart(3, "0")}`;
    } else {
      hostbus = s.usbAddress.bus;
      hostaddr = s.usbAddress.device;
    }
  } else if (s.vendor !== undefined || s.product !== undefined) {
    return fail("QEMU_CMD_CONTEXT_MISSING", {
      element,
      what: "the host bus and device number found for its vendor/product",
    });
  }
  let reset: boolean | undefined;
  let resetsAll: boolean | undefined;
  switch (s.guestReset) {
    case "off":
      reset = false;
      break;
    case "uninitialized":
      reset = true;
      resetsAll = false;
      break;
    case "on":
      reset = true;
      resetsAll = true;
      break;
    default:
      break;
  }
  const p = new Props()
    .set("driver", "usb-host")
    .opt("hostdevice", hostdevice)
    .pos("hostbus", hostbus)
    .pos("hostaddr", hostaddr)
    .set("id", dev.alias ?? "")
    .pos("bootindex", dev.boot?.order)
    .opt("guest-reset", reset)
    .opt("guest-resets-all", resetsAll);
  addAddressProps(b, p, dev, element);
  return p;
}

/**
 * The `device_add` properties of a hotplugged subsystem USB or PCI host device. A USB device the
 * XML names by vendor/product goes to QEMU by vendor/product (QEMU's usb-host then follows the
 * device across re-plugs); one named by bus/device, by host bus and address.
 */
export function hostdevDeviceProps(b: Build, dev: HostdevDef): Props {
  if (dev.mode === "subsystem" && dev.type === "pci" && dev.source.pciAddress)
    return vfioPci(b, dev, pciHost(dev.source.pciAddress), dev.boot?.order);
  const s = dev.source;
  if (s.vendor === undefined) return usbHost(b, dev, false);
  const p = new Props()
    .set("driver", "usb-host")
    .opt("vendorid", s.vendor)
    .opt("productid", s.product)
    .set("id", dev.alias ?? "")
    .pos("bootindex", dev.boot?.order);
  addAddressProps(b, p, dev, `USB host device ${dev.alias ?? ""}`);
  return p;
}

/**
 * `hostdevN` for a network interface that got a host device: the first N above the host devices'
 * and earlier such interfaces' (libvirt's qemuAssignDeviceNetAlias for an actual hostdev).
 */
function networkHostdevAlias(b: Build, net: DeviceCommon): string {
  const d = b.def.devices;
  const taken = [...d.hostdevs, ...d.interfaces.filter((n) => n.type === "hostdev")].map((x) => x.alias);
  let n = 0;
  for (const x of d.interfaces) {
    if (x === net) break;
    if (x.type === "network" && !x.alias?.startsWith("ua-") && actualType(b, x) === "hostdev") n++;
  }
  const idx =
    Math.max(-1, ...taken.map((a) => (a && /^hostdev[0-9]+$/.test(a) ? Number(a.slice(7)) : -1))) + 1;
  return `hostdev${idx + n}`;
}

export function buildHostdevs(b: Build, bootIndex: (d: DeviceCommon) => number | undefined): void {
  // <interface type='hostdev'> come first: libvirt adds their hostdev while parsing <interface>s
  for (const net of b.def.devices.interfaces) {
    if (actualType(b, net) !== "hostdev") continue;
    if (net.type === "network") {
      // a function from the network's pool: libvirt names the device as a host device (its
      // aliases are given once the network has chosen), unless the user named it
      const pci = b.ctx.resolveNetwork?.(net.source?.network ?? "", net.source?.portgroup)?.hostPci;
      if (!pci)
        fail("QEMU_CMD_CONTEXT_MISSING", {
          element: `interface ${net.alias ?? ""}`,
          what: `the PCI function network '${net.source?.network ?? ""}' gives it`,
        });
      const alias = net.alias?.startsWith("ua-") ? net.alias : networkHostdevAlias(b, net);
      b.addJson("-device", vfioPci(b, { ...net, alias }, pciHost(pci), bootIndex(net)));
      continue;
    }
    const a = net.source?.hostAddress;
    if (a?.type !== "pci") {
      fail("QEMU_CMD_UNSUPPORTED", {
        element: `interface ${net.alias ?? ""}`,
        reason: "only PCI host devices can back a hostdev interface",
      });
    }
    b.addJson("-device", vfioPci(b, net, pciHost(a), bootIndex(net)));
  }
  // SCSI host devices' block nodes are numbered on after the disks' (one node per disk, as
  // assignDiskNodes counts them)
  let scsiNode = b.def.devices.disks.length;
  for (const dev of b.def.devices.hostdevs) {
    if (dev.mode !== "subsystem") continue;
    const element = `hostdev ${dev.alias ?? ""}`;
    switch (dev.type) {
      case "usb":
        b.addJson("-device", usbHost(b, dev));
        break;
      case "pci": {
        if (dev.address?.type === "unassigned") continue;
        const a = dev.source.pciAddress;
        if (!a) return fail("QEMU_CMD_INVALID_VALUE", { element, reason: "missing host PCI address" });
        if (dev.driver?.name !== undefined && dev.driver.name !== "vfio") {
          fail("QEMU_CMD_UNSUPPORTED", {
            element,
            reason: `PCI passthrough backend '${dev.driver.name}' (only vfio)`,
          });
        }
        b.addJson("-device", vfioPci(b, dev, pciHost(a), bootIndex(dev)));
        break;
      }
      case "mdev": {
        const model = dev.model ?? "vfio-pci";
        const driver = model === "vfio-pci" && dev.ramfb === true ? "vfio-pci-nohotplug" : model;
        const p = new Props()
          .set("driver", driver)
          .set("id", dev.alias ?? "")
          .set("sysfsdev", `/sys/bus/mdev/devices/${dev.source.mdevUuid ?? ""}`)
          .opt("display", dev.display === undefined ? undefined : dev.display ? "on" : "off")
          .onlyTrue("ramfb", dev.ramfb)
          .pos("bootindex", dev.boot?.order);
        addAddressProps(b, p, dev, element);
        b.addJson("-device", p);
        break;
      }
      case "scsi": {
        if (dev.source.iscsi) {
          const node = `libvirt-${String(++scsiNode)}-backend`;
          buildIscsiBackend(b, dev, dev.source.iscsi, node);
          const p = new Props()
            .set("driver", "scsi-generic")
            .set("drive", node)
            .set("id", dev.alias ?? "");
          addAddressProps(b, p, dev, element, "scsi");
          p.pos("bootindex", bootIndex(dev));
          b.addJson("-device", p);
          break;
        }
        // libvirt's qemuBuildHostdevSCSIAttachPrepare + qemuBuildSCSIHostdevDevProps: the host's
        // SCSI generic node as a host_device blockdev, and scsi-generic on the guest's bus
        const src = dev.source.scsi;
        if (!src) return fail("QEMU_CMD_INVALID_VALUE", { element, reason: "missing SCSI source" });
        const sg = b.ctx.scsiGenericDevice?.(src.adapter, src.bus, src.target, src.unit);
        if (sg === undefined)
          fail("QEMU_CMD_CONTEXT_MISSING", {
            element,
            what: `the SCSI generic device of ${src.adapter} ${String(src.bus)}:${String(src.target)}:${String(src.unit)}`,
          });
        const node = `libvirt-${String(++scsiNode)}-backend`;
        b.addJson(
          "-blockdev",
          new Props()
            .set("driver", "host_device")
            .set("filename", sg)
            .set("node-name", node)
            .set("read-only", dev.readonly === true),
        );
        const p = new Props()
          .set("driver", "scsi-generic")
          .set("drive", node)
          .set("id", dev.alias ?? "");
        addAddressProps(b, p, dev, element, "scsi");
        p.pos("bootindex", bootIndex(dev));
        b.addJson("-device", p);
        break;
      }
      case "scsi_host": {
        // libvirt's qemuBuildSCSIVHostHostdevDevProps: vhost-scsi with the /dev/vhost-scsi fd
        const wwpn = dev.source.vhost?.wwpn ?? "";
        if (!b.ctx.vhostScsiFd)
          fail("QEMU_CMD_HOST_BACKEND_UNSUPPORTED", {
            element,
            what: "a vhost-scsi host device (QEMU needs /dev/vhost-scsi opened for it)",
            hint: "use a SCSI host device through an adapter (<source protocol='iscsi'> or scsi_host)",
          });
        const fd = b.ctx.vhostScsiFd(dev.alias ?? "", wwpn);
        if (fd === undefined)
          fail("QEMU_CMD_CONTEXT_MISSING", { element, what: "the /dev/vhost-scsi file descriptor" });
        const p = virtioProps(b, "vhost-scsi", dev.address, dev.model, element)
          .set("wwpn", wwpn)
          .set("vhostfd", String(fd))
          .set("id", dev.alias ?? "")
          .pos("bootindex", bootIndex(dev));
        addAddressProps(b, p, dev, element);
        b.addJson("-device", p);
        break;
      }
      default:
        fail("QEMU_CMD_UNSUPPORTED", {
          element,
          reason: `host device type '${dev.type}' is not implemented`,
        });
    }
  }
}
