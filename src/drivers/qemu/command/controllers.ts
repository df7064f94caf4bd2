/**
 * `-device` lines of controllers (PCI, USB, SCSI, IDE, SATA, virtio-serial, CCID), in libvirt's
 * order, skipping the ones built into the machine.
 */
import { VirtError } from "../../../util/errors/index.ts";
import type { ControllerDef } from "../../../conf/domain/types.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { Props } from "./escape.ts";
import { iothreadVqMapping, virtioProps } from "./virtio.ts";

const USB_MODELS: Record<string, { driver: string; flag: string }> = {
  "piix3-uhci": { driver: "piix3-usb-uhci", flag: "piix3-usb-uhci" },
  "piix4-uhci": { driver: "piix4-usb-uhci", flag: "piix4-usb-uhci" },
  ehci: { driver: "usb-ehci", flag: "usb-ehci" },
  "ich9-ehci1": { driver: "ich9-usb-ehci1", flag: "ich9-usb-ehci1" },
  "ich9-uhci1": { driver: "ich9-usb-uhci1", flag: "ich9-usb-ehci1" },
  "ich9-uhci2": { driver: "ich9-usb-uhci2", flag: "ich9-usb-ehci1" },
  "ich9-uhci3": { driver: "ich9-usb-uhci3", flag: "ich9-usb-ehci1" },
  "vt82c686b-uhci": { driver: "vt82c686b-usb-uhci", flag: "vt82c686b-usb-uhci" },
  "pci-ohci": { driver: "pci-ohci", flag: "pci-ohci" },
  "nec-xhci": { driver: "nec-usb-xhci", flag: "nec-usb-xhci" },
  "qemu-xhci": { driver: "qemu-xhci", flag: "qemu-xhci" },
};

const SCSI_MODELS: Record<string, string> = {
  lsilogic: "lsi",
  ibmvscsi: "spapr-vscsi",
  lsisas1068: "mptsas1068",
  lsisas1078: "megasas",
  vmpvscsi: "pvscsi",
  am53c974: "am53c974",
  dc390: "dc-390",
};

/** QEMU device for a PCI controller model when `<model name=>` is absent. */
const PCI_MODEL_NAMES: Record<string, string> = {
  "pci-bridge": "pci-bridge",
  "dmi-to-pci-bridge": "i82801b11-bridge",
  "pcie-root-port": "pcie-root-port",
  "pcie-switch-upstream-port": "x3130-upstream",
  "pcie-switch-downstream-port": "xio3130-downstream",
  "pci-expander-bus": "pxb",
  "pcie-expander-bus": "pxb-pcie",
  "pcie-to-pci-bridge": "pcie-pci-bridge",
  "pci-root": "spapr-pci-host-bridge",
};

function xpathOf(c: ControllerDef): string {
  return `/domain/devices/controller[@type='${c.type}'][@index='${c.index}']`;
}

/** Controllers QEMU creates by itself (libvirt's qemuBuildSkipController). */
function isImplicit(b: Build, c: ControllerDef): boolean {
  if (c.type === "pci" && c.model === "pcie-root") return true;
  if (c.type === "pci" && c.model === "pci-root" && b.arch !== "ppc64" && b.arch !== "ppc64le") return true;
  if (c.type === "sata" && c.index === 0 && b.isQ35) return true;
  if (c.type === "ide" && c.index === 0 && b.hasBuiltinIDE) return true;
  return false;
}

function usbProps(b: Build, c: ControllerDef): Props {
  const element = `USB controller model '${c.model ?? "default"}'`;
  if (c.model === undefined && b.isX86)
    throw new VirtError("QEMU_USB_MODEL_MISSING", {}, { xpath: xpathOf(c) });
  const known = USB_MODELS[c.model ?? ""];
  if (known && c.model !== undefined && !b.has(known.flag)) {
    throw new VirtError("QEMU_USB_MODEL_UNSUPPORTED", { model: c.model }, { xpath: xpathOf(c) });
  }
  const m = known;
  if (!m)
    return fail(
      "QEMU_CMD_UNSUPPORTED",
      { element, reason: "no QEMU device for this USB controller model" },
      { xpath: xpathOf(c) },
    );
  requireFlag(b, m.flag, element, xpathOf(c));
  if (c.ports !== undefined && c.model !== "nec-xhci" && c.model !== "qemu-xhci") {
    fail(
      "QEMU_CMD_UNSUPPORTED",
      { element, reason: "'ports' is only supported by the xHCI controllers" },
      { xpath: xpathOf(c) },
    );
  }
  const p = new Props().set("driver", m.driver);
  if (c.ports !== undefined) p.set("p2", c.ports).set("p3", c.ports);
  if (c.master) {
    const master = b.def.devices.controllers.find(
      (x) => x.type === "usb" && x.index === c.index && !x.master,
    );
    if (!master?.alias) {
      return fail("QEMU_CMD_INVALID_VALUE", {
        element,
        reason: `no master USB controller with index ${c.index}`,
      });
    }
    p.set("masterbus", `${master.alias}.0`).set("firstport", c.master.startport);
  } else {
    p.set("id", c.alias ?? "");
  }
  return p;
}

function scsiProps(b: Build, c: ControllerDef): Props {
  const model = c.model ?? "lsilogic";
  if (model.startsWith("virtio")) {
    const p = virtioProps(b, "virtio-scsi", c.address, model, "virtio-scsi controller", true, c.virtio);
    if (c.driver?.iothread !== undefined && c.driver.iothread > 0)
      p.set("iothread", `iothread${c.driver.iothread}`);
    p.set("id", c.alias ?? "");
    p.pos("num_queues", c.driver?.queues);
    p.pos("cmd_per_lun", c.driver?.cmd_per_lun);
    p.pos("max_sectors", c.driver?.max_sectors);
    p.opt("ioeventfd", c.driver?.ioeventfd);
    p.opt("iothread-vq-mapping", iothreadVqMapping(c.driver?.iothreads));
    return p;
  }
  const driver = SCSI_MODELS[model];
  if (!driver) {
    return fail(
      "QEMU_CMD_UNSUPPORTED",
      { element: `SCSI controller model '${model}'`, reason: "QEMU has no such device" },
      { xpath: xpathOf(c) },
    );
  }
  return new Props().set("driver", driver).set("id", c.alias ?? "");
}

function pciProps(c: ControllerDef): Props | undefined {
  const model = c.model ?? "";
  const name = c.modelName ?? PCI_MODEL_NAMES[model];
  const element = `PCI controller model '${model}'`;
  if (!name)
    return fail(
      "QEMU_CMD_UNSUPPORTED",
      { element, reason: "unknown PCI controller model" },
      { xpath: xpathOf(c) },
    );
  const t = c.target ?? {};
  const p = new Props().set("driver", name);
  switch (model) {
    case "pci-bridge":
      // memReserve is in KiB, QEMU's mem-reserve in bytes
      p.set("chassis_nr", t.chassisNr ?? c.index);
      if (t.memReserve) p.set("mem-reserve", t.memReserve * 1024);
      return p.set("id", c.alias ?? "");
    case "pci-expander-bus":
    case "pcie-expander-bus":
      p.set("bus_nr", t.busNr ?? 0).set("id", c.alias ?? "");
      if (t.node !== undefined) p.set("numa_node", t.node);
      return p;
    case "dmi-to-pci-bridge":
    case "pcie-switch-upstream-port":
    case "pcie-to-pci-bridge":
      return p.set("id", c.alias ?? "");
    case "pcie-root-port":
    case "pcie-switch-downstream-port":
      return p
        .set("port", t.port ?? 0)
        .set("chassis", t.chassis ?? c.index)
        .set("id", c.alias ?? "")
        .opt("hotplug", t.hotplug);
    case "pci-root":
      p.set("index", t.index ?? 0).set("id", c.alias ?? "");
      if (t.node !== undefined) p.set("numa_node", t.node);
      return p;
    default:
      return fail(
        "QEMU_CMD_UNSUPPORTED",
        { element, reason: "this PCI controller model cannot be created by QEMU" },
        { xpath: xpathOf(c) },
      );
  }
}

export function controllerProps(b: Build, c: ControllerDef): Props | undefined {
  let p: Props | undefined;
  switch (c.type) {
    case "scsi":
      p = scsiProps(b, c);
      break;
    case "virtio-serial":
      p = virtioProps(b, "virtio-serial", c.address, c.model, "virtio-serial controller", true, c.virtio)
        .set("id", c.alias ?? "")
        .opt("max_ports", c.ports)
        .opt("vectors", c.vectors);
      break;
    case "ccid":
      p = new Props().set("driver", "usb-ccid").set("id", c.alias ?? "");
      break;
    case "sata":
      p = new Props().set("driver", "ahci").set("id", c.alias ?? "");
      break;
    case "usb":
      p = usbProps(b, c);
      break;
    case "pci":
      p = pciProps(c);
      break;
    default:
      return fail(
        "QEMU_CMD_UNSUPPORTED",
        { element: `controller type '${c.type}'`, reason: "QEMU cannot create it" },
        { xpath: xpathOf(c) },
      );
  }
  if (!p) return undefined;
  addAddressProps(b, p, c, `controller ${c.alias ?? c.type}`);
  return p;
}

/** `-global` properties of the root PCI bus: the 64-bit PCI hole's size (qemuBuildGlobalControllerCommandLine). */
export function buildGlobalControllers(b: Build): void {
  for (const c of b.def.devices.controllers) {
    if (c.type !== "pci" || c.pcihole64 === undefined) continue;
    const host =
      c.model === "pci-root" ? "i440FX-pcihost" : c.model === "pcie-root" ? "q35-pcihost" : undefined;
    if (!host) {
      fail(
        "QEMU_CMD_UNSUPPORTED",
        { element: "<pcihole64>", reason: "the 64-bit PCI hole is set on root PCI controllers only" },
        { xpath: xpathOf(c) },
      );
    }
    b.add("-global", `${host}.pci-hole64-size=${c.pcihole64}K`);
  }
}

function forbidsLegacyUsb(b: Build): boolean {
  return b.isQ35 || b.machineName.startsWith("virt");
}

/** Emits controllers of one type. */
export function buildControllersOfType(b: Build, type: string): void {
  for (const c of b.def.devices.controllers) {
    if (c.type !== type) continue;
    if (c.type === "pci" && c.model === "pci-root" && c.index === 0 && c.target?.hotplug !== undefined) {
      b.add("-global", `PIIX4_PM.acpi-root-pci-hotplug=${c.target.hotplug ? "on" : "off"}`);
    }
    if (isImplicit(b, c)) continue;
    if (c.type === "usb" && c.model === "none") continue;
    // libvirt 11 has no legacy -usb on x86: a USB controller there needs a model.
    if (
      c.type === "usb" &&
      (c.model === undefined || c.model === "default") &&
      !forbidsLegacyUsb(b) &&
      !b.isX86
    )
      continue;
    const p = controllerProps(b, c);
    if (p) b.addJson("-device", p);
  }
}

export function buildControllers(b: Build): void {
  for (const t of ["pci", "usb", "scsi", "ide", "sata", "virtio-serial"]) buildControllersOfType(b, t);
  // legacy -usb when no USB controller model was chosen
  let legacy = 0;
  let modern = 0;
  for (const c of b.def.devices.controllers) {
    if (c.type !== "usb") continue;
    if (c.model === "none") return;
    if (c.model === undefined || c.model === "default") legacy++;
    else modern++;
  }
  if (legacy > 1)
    fail("QEMU_CMD_UNSUPPORTED", {
      element: "USB controllers",
      reason: "only one legacy USB controller is supported",
    });
  if (modern === 0 && !forbidsLegacyUsb(b) && !b.arch.startsWith("s390") && !b.isX86) b.add("-usb");
}
