/**
 * Machine-type and architecture predicates libvirt's QEMU driver uses for defaults.
 */
import type { DomainDef } from "./types.ts";

export function isX86(arch: string | undefined): boolean {
  return arch === "x86_64" || arch === "i686";
}

/** q35 family (`q35`, `pc-q35-*`). */
export function isQ35(def: DomainDef): boolean {
  const m = def.os.machine ?? "";
  return m === "q35" || m.startsWith("pc-q35");
}

/** i440FX family (`pc`, `pc-i440fx-*`, `pc-0.*`, `pc-1.*`, `rhel*`). */
export function isI440fx(def: DomainDef): boolean {
  const m = def.os.machine ?? "";
  return (
    m === "pc" ||
    m.startsWith("pc-0.") ||
    m.startsWith("pc-1.") ||
    m.startsWith("pc-i440") ||
    m.startsWith("rhel")
  );
}

export function hasPciRoot(def: DomainDef): boolean {
  return def.devices.controllers.some((c) => c.type === "pci" && c.index === 0 && c.model === "pci-root");
}

export function hasPcieRoot(def: DomainDef): boolean {
  return def.devices.controllers.some((c) => c.type === "pci" && c.index === 0 && c.model === "pcie-root");
}
