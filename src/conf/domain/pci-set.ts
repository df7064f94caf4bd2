/**
 * A set of PCI buses and their used slots/functions, with libvirt's connection rules
 * (which kind of device may plug into which kind of bus) and its "next free address" search,
 * including growing the topology with new controllers during a dry run.
 */
import type { PciAddress } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";

/** Connection flags (libvirt's VIR_PCI_CONNECT_*). */
export const C = {
  HOTPLUGGABLE: 1 << 0,
  AUTOASSIGN: 1 << 1,
  PCI_DEVICE: 1 << 2,
  PCIE_DEVICE: 1 << 3,
  ROOT_PORT: 1 << 4,
  SWITCH_UP: 1 << 5,
  SWITCH_DOWN: 1 << 6,
  DMI_TO_PCI: 1 << 7,
  PCI_EXPANDER: 1 << 8,
  PCIE_EXPANDER: 1 << 9,
  PCI_BRIDGE: 1 << 10,
  PCIE_TO_PCI: 1 << 11,
  AGGREGATE: 1 << 12,
  INTEGRATED: 1 << 13,
} as const;

const TYPES_MASK =
  C.PCI_DEVICE |
  C.PCIE_DEVICE |
  C.ROOT_PORT |
  C.SWITCH_UP |
  C.SWITCH_DOWN |
  C.DMI_TO_PCI |
  C.PCI_EXPANDER |
  C.PCIE_EXPANDER |
  C.PCI_BRIDGE |
  C.PCIE_TO_PCI;
const ENDPOINT = C.PCI_DEVICE | C.PCIE_DEVICE;

export type PciModel =
  | "pci-root"
  | "pcie-root"
  | "pci-bridge"
  | "dmi-to-pci-bridge"
  | "pcie-root-port"
  | "pcie-switch-upstream-port"
  | "pcie-switch-downstream-port"
  | "pci-expander-bus"
  | "pcie-expander-bus"
  | "pcie-to-pci-bridge";

/** What a PCI controller model needs upstream (the flags it plugs in with). */
export function controllerConnectFlags(model: string | undefined): number {
  switch (model) {
    case "pci-bridge":
      return C.PCI_BRIDGE;
    case "pci-expander-bus":
      return C.PCI_EXPANDER;
    case "pcie-expander-bus":
      return C.PCIE_EXPANDER;
    case "dmi-to-pci-bridge":
      return C.DMI_TO_PCI;
    case "pcie-to-pci-bridge":
      return C.PCIE_TO_PCI;
    case "pcie-root-port":
      return C.ROOT_PORT | C.AGGREGATE;
    case "pcie-switch-upstream-port":
      return C.SWITCH_UP;
    case "pcie-switch-downstream-port":
      return C.SWITCH_DOWN;
    default:
      return 0;
  }
}

function connectTypeToModel(flags: number): PciModel | undefined {
  if (flags & C.ROOT_PORT) return "pcie-root-port";
  if (flags & C.SWITCH_UP) return "pcie-switch-upstream-port";
  if (flags & C.SWITCH_DOWN) return "pcie-switch-downstream-port";
  if (flags & C.DMI_TO_PCI) return "dmi-to-pci-bridge";
  if (flags & C.PCI_EXPANDER) return "pci-expander-bus";
  if (flags & C.PCIE_EXPANDER) return "pcie-expander-bus";
  if (flags & C.PCI_BRIDGE) return "pci-bridge";
  return undefined;
}

interface Slot {
  functions: number;
  aggregate: boolean;
}

export interface PciBus {
  model?: PciModel;
  flags: number;
  minSlot: number;
  maxSlot: number;
  slots: Slot[];
}

function newBus(): PciBus {
  return {
    flags: 0,
    minSlot: 0,
    maxSlot: 31,
    slots: Array.from({ length: 32 }, () => ({ functions: 0, aggregate: false })),
  };
}

function setModel(bus: PciBus, model: PciModel, hotplug: boolean): void {
  const hp = hotplug ? C.HOTPLUGGABLE : 0;
  bus.model = model;
  switch (model) {
    case "pci-root":
      Object.assign(bus, {
        flags: C.AUTOASSIGN | C.PCI_DEVICE | C.PCI_BRIDGE | C.PCI_EXPANDER | hp,
        minSlot: 1,
        maxSlot: 31,
      });
      break;
    case "pci-bridge":
    case "pcie-to-pci-bridge":
      Object.assign(bus, { flags: C.AUTOASSIGN | C.PCI_DEVICE | C.PCI_BRIDGE | hp, minSlot: 1, maxSlot: 31 });
      break;
    case "pci-expander-bus":
      Object.assign(bus, { flags: C.AUTOASSIGN | C.PCI_DEVICE | C.PCI_BRIDGE | hp, minSlot: 0, maxSlot: 31 });
      break;
    case "pcie-root":
      Object.assign(bus, {
        flags: C.PCIE_DEVICE | C.ROOT_PORT | C.DMI_TO_PCI | C.PCIE_EXPANDER,
        minSlot: 1,
        maxSlot: 31,
      });
      break;
    case "dmi-to-pci-bridge":
      Object.assign(bus, { flags: C.PCI_DEVICE | C.PCI_BRIDGE, minSlot: 0, maxSlot: 31 });
      break;
    case "pcie-root-port":
    case "pcie-switch-downstream-port":
      Object.assign(bus, {
        flags: C.AUTOASSIGN | C.PCIE_DEVICE | C.SWITCH_UP | C.PCIE_TO_PCI | hp,
        minSlot: 0,
        maxSlot: 0,
      });
      break;
    case "pcie-switch-upstream-port":
      Object.assign(bus, { flags: C.SWITCH_DOWN, minSlot: 0, maxSlot: 31 });
      break;
    case "pcie-expander-bus":
      Object.assign(bus, { flags: C.ROOT_PORT | C.DMI_TO_PCI, minSlot: 0, maxSlot: 31 });
      break;
  }
}

export function pciAddressString(a: { domain: number; bus: number; slot: number; function: number }): string {
  const h = (n: number, w: number): string => n.toString(16).padStart(w, "0");
  return `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}.${a.function.toString(16)}`;
}

/** libvirt's name of what a device plugs in as, for "It requires a controller that accepts a ...". */
function connectName(flags: number): string {
  const names: [number, string][] = [
    [C.PCI_DEVICE, "standard PCI device"],
    [C.PCIE_DEVICE, "PCI Express device"],
    [C.ROOT_PORT, "pcie-root-port"],
    [C.SWITCH_UP, "pci-switch-upstream-port"],
    [C.SWITCH_DOWN, "pci-switch-downstream-port"],
    [C.DMI_TO_PCI, "dmi-to-pci-bridge"],
    [C.PCI_EXPANDER, "pci-expander-bus"],
    [C.PCIE_EXPANDER, "pcie-expander-bus"],
    [C.PCI_BRIDGE, "pci-bridge"],
    [C.PCIE_TO_PCI, "pcie-to-pci-bridge"],
  ];
  return names.find(([f]) => flags & f)?.[1] ?? "PCI device";
}

type Fit = "ok" | "integrated" | "hotplug" | "type";

function fit(addr: PciAddress, busFlags: number, devFlags: number, fromConfig: boolean): [Fit, number] {
  let bf = busFlags;
  let df = devFlags;
  if (df & C.INTEGRATED) {
    if (addr.bus !== 0) return ["integrated", df];
    bf |= C.PCI_DEVICE | C.AUTOASSIGN;
  }
  if (fromConfig) {
    if (bf & ENDPOINT) bf |= ENDPOINT;
    if (df & C.PCI_BRIDGE) df |= C.PCI_DEVICE;
  } else if (df & C.AUTOASSIGN && !(bf & C.AUTOASSIGN)) {
    return ["type", df];
  }
  if (!(df & bf & TYPES_MASK)) return ["type", df];
  if (df & C.HOTPLUGGABLE && !(bf & C.HOTPLUGGABLE)) return ["hotplug", df];
  return ["ok", df];
}

function compatible(addr: PciAddress, busFlags: number, devFlags: number, fromConfig: boolean): boolean {
  return fit(addr, busFlags, devFlags, fromConfig)[0] === "ok";
}

export class PciAddressSet {
  readonly buses: PciBus[];

  constructor(
    nbuses: number,
    readonly dryRun: boolean,
    private readonly pcieToPciBridge = true,
  ) {
    this.buses = Array.from({ length: nbuses }, newBus);
  }

  setBusModel(index: number, model: PciModel, hotplug: boolean): void {
    const bus = this.buses[index];
    if (bus) setModel(bus, model, hotplug);
  }

  /** Adds buses so that `addr.bus` exists, choosing controllers for a device with `flags`. */
  private grow(addr: PciAddress, flags: number): void {
    let add = addr.bus - this.buses.length + 1;
    if (add <= 0) return;
    let model: PciModel;
    let needDmi = false;
    let needPcieToPci = false;
    if (flags & C.PCI_DEVICE) {
      model = "pci-bridge";
      const haveBridgeBus = this.buses.some((b) => b.flags & C.PCI_BRIDGE);
      if (!haveBridgeBus) {
        if (this.pcieToPciBridge) needPcieToPci = true;
        else needDmi = true;
      }
      if ((needDmi || needPcieToPci) && add === 1) {
        add++;
        addr.bus++;
      }
    } else if (flags & (C.PCIE_DEVICE | C.SWITCH_UP)) {
      model = "pcie-root-port";
    } else {
      const m = connectTypeToModel(flags);
      if (m) throw new VirtError("DOMAIN_PCI_CONTROLLER_NO_SLOT", { model: m });
      throw new VirtError("DOMAIN_NO_ADDRESS_LEFT", { what: "PCI slot", device: "a PCI device" });
    }
    let i = this.buses.length;
    for (let k = 0; k < add; k++) this.buses.push(newBus());
    if (needDmi) setModel(this.buses[i++]!, "dmi-to-pci-bridge", false);
    if (needPcieToPci) {
      setModel(this.buses[i]!, "pcie-root-port", true);
      this.buses[i]!.flags = C.PCIE_TO_PCI;
      i++;
      setModel(this.buses[i++]!, "pcie-to-pci-bridge", true);
    }
    for (; i < this.buses.length; i++) setModel(this.buses[i]!, model, true);
  }

  validate(addr: PciAddress, flags: number, fromConfig: boolean): void {
    const address = pciAddressString(addr);
    const range = (rule: string): VirtError =>
      new VirtError("DOMAIN_PCI_ADDRESS_OUT_OF_RANGE", { address, rule }, { xpath: "/domain/devices" });
    if (this.buses.length === 0) throw new VirtError("DOMAIN_PCI_NO_BUSES", {}, { xpath: "/domain/devices" });
    if (addr.domain !== 0) throw range("Only PCI domain 0 is available");
    if (addr.bus >= this.buses.length)
      throw range(`Only PCI buses up to ${this.buses.length - 1} are available`);
    const bus = this.buses[addr.bus]!;
    const [verdict, df] = fit(addr, bus.flags, flags, fromConfig);
    if (verdict === "integrated") throw new VirtError("DOMAIN_PCI_ADDRESS_NOT_INTEGRATED", { address });
    if (verdict === "hotplug")
      throw new VirtError("DOMAIN_PCI_ADDRESS_NO_HOTPLUG", { address, bus: addr.bus });
    if (verdict === "type") {
      throw new VirtError("DOMAIN_PCI_ADDRESS_INCOMPATIBLE", {
        address,
        bus: addr.bus,
        connect: connectName(df),
      });
    }
    if (addr.slot < bus.minSlot) throw range(`slot must be >= ${bus.minSlot}`);
    if (addr.slot > bus.maxSlot) throw range(`slot must be <= ${bus.maxSlot}`);
    if (addr.function > 7) throw range("function must be <= 7");
  }

  reserve(addr: PciAddress, flags: number, fromConfig = true): void {
    if (this.dryRun) this.grow(addr, flags);
    this.validate(addr, flags, fromConfig);
    const slot = this.buses[addr.bus]!.slots[addr.slot]!;
    if (slot.functions & (1 << addr.function)) {
      throw new VirtError("DOMAIN_DUPLICATE_ADDRESS", { address: `PCI Address ${pciAddressString(addr)}` });
    }
    if (slot.functions === 0 && flags & C.AGGREGATE) slot.aggregate = true;
    slot.functions |= 1 << addr.function;
  }

  slotInUse(addr: { bus: number; slot: number }): boolean {
    return (this.buses[addr.bus]?.slots[addr.slot]?.functions ?? 0) !== 0;
  }

  private findOnBus(bus: PciBus, a: PciAddress, fn: number, flags: number): boolean {
    if (!compatible(a, bus.flags, flags, false)) return false;
    while (a.slot <= bus.maxSlot) {
      const slot = bus.slots[a.slot]!;
      if (slot.functions === 0) return true;
      if (flags & C.AGGREGATE && slot.aggregate) {
        if ((slot.functions & (1 << a.function)) === 0) return true;
        if (fn === -1) {
          while (a.function < 8) {
            if ((slot.functions & (1 << a.function)) === 0) return true;
            a.function++;
          }
          a.function = 0;
        }
      }
      a.slot++;
    }
    return false;
  }

  nextAddr(flags: number, fn = -1): PciAddress {
    if (this.buses.length === 0 && !this.dryRun) throw new VirtError("DOMAIN_PCI_NO_BUSES", {});
    const a: PciAddress = { type: "pci", domain: 0, bus: 0, slot: 0, function: fn === -1 ? 0 : fn };
    for (a.bus = 0; a.bus < this.buses.length; a.bus++) {
      const bus = this.buses[a.bus]!;
      a.slot = bus.minSlot;
      if (this.findOnBus(bus, a, fn, flags)) return a;
    }
    if (this.dryRun) {
      this.grow(a, flags);
      a.slot = this.buses[a.bus]!.minSlot;
      return a;
    }
    throw new VirtError("DOMAIN_NO_ADDRESS_LEFT", { what: "PCI slot", device: "a PCI device" });
  }

  /** Reserves the next free address for a device; sets it on `info` unless this is a dry run. */
  reserveNext(info: { address?: PciAddress | { type: string } }, flags: number, fn = -1): PciAddress {
    const addr = this.nextAddr(flags, fn);
    this.reserve(addr, flags, false);
    if (!this.dryRun) info.address = { ...addr };
    return addr;
  }

  fullyReserved(index: number): boolean {
    const bus = this.buses[index]!;
    for (let s = bus.minSlot; s <= bus.maxSlot; s++) if (bus.slots[s]!.functions === 0) return false;
    return true;
  }
}
