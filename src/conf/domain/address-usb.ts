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
    // usb-mtp file systems and usb-net interfaces take a port too (libvirt's suite has them
    // alone on the bus, so their place among the other kinds is not pinned down by it)
    ...d.filesystems.filter((f) => f.driver?.type === "mtp"),
    ...d.interfaces.filter((n) => n.model === "usb-net"),
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
  // hubs count both ways: each takes a port and brings its own (qemuDomainUSBAddressAddHubs)
  const available = [...set.ports.values()].reduce((a, b) => a + b, 0) + def.devices.hubs.length * HUB_PORTS;
  const count = devices.length + def.devices.hubs.length;
  if (count > available) {
    const needed = Math.ceil((count - available + 1) / (HUB_PORTS - 1));
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

/**
 * Explicit USB addresses against the controllers and hubs, as libvirt reserves them while the
 * definition is read (hubs first, then the other devices, in its device order): the bus must
 * exist, every hub on the way must be a hub, the port must exist and be free.
 */
export function checkUsbAddresses(def: DomainDef): void {
  const ports = new Map<number, number>();
  for (const c of def.devices.controllers) {
    if (c.type === "usb" && c.model !== "none" && !c.master && !ports.has(c.index))
      ports.set(c.index, controllerPorts(c));
  }
  if (ports.size === 0) return;
  /** bus → port path → 0 for a device, the number of ports for a hub. */
  const taken = new Map<number, Map<string, number>>();
  const hubs = new Set<DeviceCommon>(def.devices.hubs);
  for (const dev of usbDevices(def, true)) {
    const a = dev.address;
    if (a?.type !== "usb") continue;
    // A bus without a port is looked up when ports are given out, at start.
    if (!isValidPort(a)) continue;
    const count = ports.get(a.bus);
    if (count === undefined) throw new VirtError("DOMAIN_USB_BUS_MISSING", { bus: a.bus });
    const path = a.port.split(".").map(Number);
    const onBus = taken.get(a.bus) ?? new Map<string, number>();
    taken.set(a.bus, onBus);
    let width = count;
    for (let i = 0; i < path.length; i++) {
      if ((path[i] ?? 0) > width)
        throw new VirtError("DOMAIN_USB_PORT_MISSING", { port: a.port, bus: a.bus });
      if (i === path.length - 1) break;
      const hub = onBus.get(path.slice(0, i + 1).join("."));
      if (!hub) {
        throw new VirtError("DOMAIN_USB_ADDRESS_NO_HUB", {
          hub: path.slice(0, i + 1).join("."),
          bus: a.bus,
          port: a.port,
        });
      }
      width = hub;
    }
    if (onBus.has(a.port)) throw new VirtError("DOMAIN_USB_ADDRESS_DUPLICATE", { bus: a.bus, port: a.port });
    onBus.set(a.port, hubs.has(dev) ? HUB_PORTS : 0);
  }
}
