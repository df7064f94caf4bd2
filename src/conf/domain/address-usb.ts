/**
 * USB port assignment (libvirt does it for new domains and at start): every USB device gets
 * `<address type='usb' bus= port=/>` on the first controller (by index) with a free port; hubs
 * are added when the controllers' ports run out.
 */
import type { ControllerDef, DeviceCommon, DomainDef, UsbAddress } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";

const HUB_PORTS = 8;

export function controllerPorts(c: ControllerDef): number {
  switch (c.model) {
    case "piix3-uhci":
    case "piix4-uhci":
    case "vt82c686b-uhci":
      return 2;
    case "ehci":
    case "ich9-ehci1":
      return 6;
    case "ich9-uhci1":
    case "ich9-uhci2":
    case "ich9-uhci3":
      return c.master ? 0 : 2;
    case "pci-ohci":
      return 3;
    case "nec-xhci":
      return c.ports ?? 4;
    case "qemu-xhci":
      return c.ports ?? 8;
    case "qusb1":
    case "qusb2":
      return 4;
    case "none":
      return 0;
    default:
      return c.ports ?? 0;
  }
}

/** USB devices in libvirt's order (hubs first unless skipped). */
export function usbDevices(def: DomainDef, withHubs: boolean): DeviceCommon[] {
  const d = def.devices;
  return [
    ...(withHubs ? d.hubs : []),
    ...d.hostdevs.filter((h) => h.type === "usb"),
    ...d.disks.filter((x) => x.target.bus === "usb"),
    ...d.controllers.filter((c) => c.type === "ccid"),
    ...d.inputs.filter((i) => i.bus === "usb"),
    ...d.serials.filter((s) => s.target.type === "usb-serial"),
    ...d.sounds.filter((s) => s.model === "usb"),
    ...d.redirdevs,
  ];
}

/** Port tree: `bus` → set of used port paths; `hubs` → path of each hub → its port count. */
interface UsbSet {
  ports: Map<number, number>;
  used: Map<number, Set<string>>;
  hubs: Map<number, Map<string, number>>;
}

function isValidPort(a: UsbAddress | undefined): a is UsbAddress & { port: string } {
  return a !== undefined && a.port !== undefined && a.port !== "" && a.port !== "0";
}

/** A free port on this hub first, then on the hubs below it (libvirt's search). */
function freePortOn(set: UsbSet, bus: number, prefix: string, count: number): string | undefined {
  const used = set.used.get(bus)!;
  const path = (p: number): string => (prefix === "" ? String(p) : `${prefix}.${p}`);
  for (let p = 1; p <= count; p++) {
    if (!used.has(path(p))) return path(p);
  }
  for (let p = 1; p <= count; p++) {
    const hubPorts = set.hubs.get(bus)?.get(path(p));
    if (hubPorts === undefined) continue;
    const inner = freePortOn(set, bus, path(p), hubPorts);
    if (inner) return inner;
  }
  return undefined;
}

function assignOne(set: UsbSet, info: DeviceCommon): void {
  for (const [bus, count] of set.ports) {
    const port = freePortOn(set, bus, "", count);
    if (port) {
      set.used.get(bus)!.add(port);
      info.address = { type: "usb", bus, port };
      return;
    }
  }
  throw new VirtError("DOMAIN_NO_ADDRESS_LEFT", { what: "USB port", device: "a USB device" });
}

export function assignUsbAddresses(def: DomainDef): void {
  const ctrls = def.devices.controllers.filter((c) => c.type === "usb").sort((a, b) => a.index - b.index);
  const devices = usbDevices(def, false);
  if (devices.length > 0 && (ctrls.length === 0 || ctrls.every((c) => c.model === "none"))) {
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: "USB is disabled for this domain, but USB devices are present in the domain XML",
    });
  }
  const set: UsbSet = { ports: new Map(), used: new Map(), hubs: new Map() };
  for (const c of ctrls) {
    const n = controllerPorts(c);
    if (n > 0 && !set.ports.has(c.index)) {
      set.ports.set(c.index, n);
      set.used.set(c.index, new Set());
      set.hubs.set(c.index, new Map());
    }
  }
  const available = [...set.ports.values()].reduce((a, b) => a + b, 0);
  if (devices.length > available) {
    const needed = Math.ceil((devices.length - available + 1) / (HUB_PORTS - 1));
    for (let i = 0; i < needed; i++) def.devices.hubs.push({ type: "usb" });
  }
  for (const dev of usbDevices(def, true)) {
    const a = dev.address;
    if (a?.type === "usb" && isValidPort(a)) set.used.get(a.bus)?.add(a.port);
  }
  for (const hub of def.devices.hubs) {
    if (!(hub.address?.type === "usb" && isValidPort(hub.address))) assignOne(set, hub);
    const a = hub.address as UsbAddress & { port: string };
    set.hubs.get(a.bus)?.set(a.port, HUB_PORTS);
  }
  for (const dev of devices) {
    const a = dev.address;
    if (a && a.type !== "usb") continue;
    if (a?.type === "usb" && isValidPort(a)) continue;
    assignOne(set, dev);
  }
}
