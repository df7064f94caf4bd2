/**
 * Start-time USB port assignment (libvirt assigns USB addresses only when a domain starts, so
 * they never appear in the inactive XML): controllers and hubs form a port tree; devices with a
 * port keep it, the others take the first free port, hubs first, then in libvirt's device order.
 */
import type { DeviceCommon, DomainDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { fail } from "./build.ts";

const HUB_PORTS = 8;

function controllerPorts(model: string | undefined, ports: number | undefined): number {
  switch (model) {
    case "ehci":
    case "ich9-ehci1":
      return 6;
    case "pci-ohci":
      return 3;
    case "nec-xhci":
    case "qemu-xhci":
      return ports ?? 4;
    case "qusb1":
    case "qusb2":
      return 4;
    case "none":
      return 0;
    default:
      return 2;
  }
}

interface Hub {
  ports: (Hub | true | undefined)[];
}

function newHub(n: number): Hub {
  return { ports: new Array<Hub | true | undefined>(n).fill(undefined) };
}

function parsePort(port: string | undefined): number[] | undefined {
  if (port === undefined || port === "") return undefined;
  const parts = port.split(".").map(Number);
  if (parts.some((p) => !Number.isInteger(p) || p < 1) || parts[0] === 0) return undefined;
  return parts;
}

/** The devices libvirt walks for USB addresses, in its order. */
function usbDevices(def: DomainDef, withHubs: boolean): DeviceCommon[] {
  const d = def.devices;
  const out: DeviceCommon[] = [];
  if (withHubs) out.push(...d.hubs);
  out.push(...d.hostdevs.filter((h) => h.type === "usb"));
  out.push(...d.disks.filter((x) => x.target.bus === "usb"));
  out.push(...d.controllers.filter((c) => c.type === "ccid"));
  out.push(...d.inputs.filter((i) => i.bus === "usb"));
  out.push(...d.serials.filter((s) => s.target.type === "usb-serial"));
  out.push(...d.sounds.filter((s) => s.model === "usb"));
  out.push(...d.redirdevs);
  // usb-mtp file systems and usb-net interfaces (their place among the kinds is not pinned down
  // by libvirt's suite)
  out.push(...d.filesystems.filter((f) => f.driver?.type === "mtp"));
  out.push(...d.interfaces.filter((n) => n.model === "usb-net"));
  return out;
}

function eligible(dev: DeviceCommon): boolean {
  return dev.address === undefined || dev.address.type === "usb";
}

function findFree(hub: Hub): number[] | undefined {
  const free = hub.ports.findIndex((p) => p === undefined);
  if (free >= 0) return [free + 1];
  for (let i = 0; i < hub.ports.length; i++) {
    const child = hub.ports[i];
    if (child && child !== true) {
      const sub = findFree(child);
      if (sub) return [i + 1, ...sub];
    }
  }
  return undefined;
}

function slotAt(bus: Hub, path: number[]): { parent: Hub; index: number } | undefined {
  let hub = bus;
  for (let i = 0; i < path.length - 1; i++) {
    const c = hub.ports[path[i]! - 1];
    if (!c || c === true) return undefined;
    hub = c;
  }
  const index = path[path.length - 1]! - 1;
  if (index < 0 || index >= hub.ports.length) return undefined;
  return { parent: hub, index };
}

/** The port `path` names on `bus`, with libvirt's errors for a missing hub or port. */
function findPort(bus: Hub, path: number[], busIdx: number, port: string): { parent: Hub; index: number } {
  let hub = bus;
  for (let i = 0; i < path.length; i++) {
    const index = path[i]! - 1;
    if (index >= hub.ports.length) throw new VirtError("DOMAIN_USB_PORT_MISSING", { port, bus: busIdx });
    if (i === path.length - 1) return { parent: hub, index };
    const child = hub.ports[index];
    if (!child || child === true) {
      throw new VirtError("DOMAIN_USB_ADDRESS_NO_HUB", {
        hub: path.slice(0, i + 1).join("."),
        bus: busIdx,
        port,
      });
    }
    hub = child;
  }
  throw new VirtError("DOMAIN_USB_PORT_MISSING", { port, bus: busIdx });
}

/** Fills missing USB addresses of `def` (mutates it: call on the builder's private copy). */
export function assignUsbAddresses(def: DomainDef): void {
  const buses = new Map<number, Hub>();
  for (const c of def.devices.controllers) {
    if (c.type !== "usb" || c.master || buses.has(c.index)) continue;
    buses.set(c.index, newHub(controllerPorts(c.model, c.ports)));
  }
  if (buses.size === 0) return;
  // add hubs when the devices (hubs included) outnumber the ports of the controllers and of the
  // hubs already there (qemuDomainUSBAddressAddHubs)
  const available =
    [...buses.values()].reduce((n, h) => n + h.ports.length, 0) + def.devices.hubs.length * HUB_PORTS;
  const count = usbDevices(def, true).length;
  if (count > available && available > 0) {
    const needed = Math.ceil((count - available + 1) / (HUB_PORTS - 1));
    for (let i = 0; i < needed; i++)
      def.devices.hubs.push({ type: "usb", alias: `hub${def.devices.hubs.length}` });
  }
  const hubs = new Set<DeviceCommon>(def.devices.hubs);
  // reserve addresses given in the XML
  for (const dev of usbDevices(def, true)) {
    const a = dev.address;
    if (a?.type !== "usb") continue;
    const path = parsePort(a.port);
    if (!path) continue;
    const port = a.port ?? "";
    const bus = buses.get(a.bus);
    if (!bus) throw new VirtError("DOMAIN_USB_BUS_MISSING", { bus: a.bus });
    const slot = findPort(bus, path, a.bus, port);
    if (slot.parent.ports[slot.index] !== undefined) {
      throw new VirtError("DOMAIN_USB_ADDRESS_DUPLICATE", { bus: a.bus, port });
    }
    slot.parent.ports[slot.index] = hubs.has(dev) ? newHub(HUB_PORTS) : true;
  }
  const assign = (dev: DeviceCommon): void => {
    if (!eligible(dev)) return;
    const a = dev.address;
    if (a?.type === "usb" && parsePort(a.port)) return;
    if (a?.type === "usb" && !buses.has(a.bus)) throw new VirtError("DOMAIN_USB_BUS_MISSING", { bus: a.bus });
    const candidates =
      a?.type === "usb"
        ? [[a.bus, buses.get(a.bus)] as const]
        : [...buses.entries()].sort(([x], [y]) => x - y);
    for (const [busIdx, bus] of candidates) {
      if (!bus) continue;
      const path = findFree(bus);
      if (!path) continue;
      const slot = slotAt(bus, path)!;
      slot.parent.ports[slot.index] = hubs.has(dev) ? newHub(HUB_PORTS) : true;
      dev.address = { type: "usb", bus: busIdx, port: path.join(".") };
      return;
    }
    fail("QEMU_CMD_UNSUPPORTED", { element: "USB devices", reason: "there is no free USB port left" });
  };
  for (const h of def.devices.hubs) assign(h);
  for (const dev of usbDevices(def, false)) assign(dev);
}
