/**
 * Names of virtio devices: base name + transport suffix (`-pci`, `-device`, `-ccw`) +
 * `-transitional`/`-non-transitional` for those models.
 */
import type { DeviceAddress, IothreadQueueMapping, VirtioOptions } from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import { fail } from "./build.ts";
import { Props, type JsonValue } from "./escape.ts";

export function virtioDeviceName(
  b: Build,
  base: string,
  address: DeviceAddress | undefined,
  model: string | undefined,
  element: string,
  useBusSuffix = true,
): string {
  let name = base;
  const type = address?.type ?? "pci";
  if (useBusSuffix) {
    switch (type) {
      case "pci":
        name += "-pci";
        break;
      case "virtio-mmio":
        name += "-device";
        break;
      case "ccw":
        name += "-ccw";
        break;
      default:
        return fail("QEMU_CMD_INVALID_VALUE", {
          element,
          reason: `address type '${type}' is not valid for a virtio device`,
        });
    }
  }
  const transitional = model?.endsWith("-transitional") === true && !model.endsWith("non-transitional");
  const nonTransitional = model?.endsWith("non-transitional") === true;
  if (transitional || nonTransitional) {
    if (type !== "pci") {
      fail("QEMU_CMD_UNSUPPORTED", {
        element,
        reason: `virtio (non-)transitional models need a PCI address, not '${type}'`,
      });
    }
    if (b.has("virtio-pci-non-transitional")) name += transitional ? "-transitional" : "-non-transitional";
    else if (nonTransitional) {
      fail("QEMU_CMD_CAPABILITY_MISSING", {
        element,
        flag: "virtio-pci-non-transitional",
        binary: b.ctx.caps.emulator || "the QEMU binary",
      });
    }
  }
  return name;
}

/**
 * `{"driver": <virtio device name>}` and the device's virtio options (`<driver iommu= ats=
 * packed= page_per_vq=>`) as the start of a virtio device's properties.
 */
export function virtioProps(
  b: Build,
  base: string,
  address: DeviceAddress | undefined,
  model: string | undefined,
  element: string,
  useBusSuffix = true,
  options?: VirtioOptions,
): Props {
  const p = new Props().set("driver", virtioDeviceName(b, base, address, model, element, useBusSuffix));
  return addVirtioOptions(p, options);
}

/** The virtio options as QEMU's virtio device properties, in libvirt's order. */
export function addVirtioOptions(p: Props, o: VirtioOptions | undefined): Props {
  if (!o) return p;
  return p
    .opt("iommu_platform", o.iommu)
    .opt("ats", o.ats)
    .opt("packed", o.packed)
    .opt("page-per-vq", o.pagePerVq);
}

/**
 * `iothread-vq-mapping` of virtio-blk and virtio-scsi: each iothread with the virtqueues it
 * serves (`vqs` left out when QEMU is to spread them).
 */
export function iothreadVqMapping(m: readonly IothreadQueueMapping[] | undefined): JsonValue | undefined {
  if (!m || m.length === 0) return undefined;
  return m.map((t) => {
    const o: Record<string, JsonValue> = { iothread: `iothread${t.id}` };
    if (t.queues.length > 0) o.vqs = t.queues;
    return o;
  });
}
