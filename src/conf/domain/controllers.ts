/**
 * Adding controllers the way libvirt does (insert after the last one of the same type).
 */
import type { ControllerDef, ControllerType, DomainDef } from "./types.ts";
import { insertController } from "./parse-devices.ts";

export function findController(
  def: DomainDef,
  type: ControllerType,
  index: number,
): ControllerDef | undefined {
  return def.devices.controllers.find((c) => c.type === type && c.index === index);
}

/** Adds a controller of `type` and `index` unless one exists; returns the new one or undefined. */
export function maybeAddController(
  def: DomainDef,
  type: ControllerType,
  index: number,
  model?: string,
): ControllerDef | undefined {
  if (findController(def, type, index)) return undefined;
  const c: ControllerDef = { type, index };
  if (model !== undefined) c.model = model;
  insertController(def.devices.controllers, c);
  return c;
}

/** USB2 companion models that share one PCI slot. */
export function isUsb2Companion(c: ControllerDef): boolean {
  return (
    c.type === "usb" &&
    (c.model === "ich9-ehci1" ||
      c.model === "ich9-uhci1" ||
      c.model === "ich9-uhci2" ||
      c.model === "ich9-uhci3")
  );
}
