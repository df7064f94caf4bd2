/**
 * The facts about a QEMU binary that the domain XML's post-parse defaults need (the conf
 * layer's `DomainFacts`, matched structurally: conf/ cannot depend on drivers). Built from
 * `QemuCaps`, as libvirt's post-parse callbacks read its `virQEMUCaps`.
 */
import { OBJECT_TYPE_FLAGS } from "./flags.ts";
import type { Accel, AccelCaps, QemuCaps } from "./types.ts";

export interface QemuDomainFacts {
  /**
   * The versioned machine an alias stands for (`pc` → `pc-i440fx-7.2`) for this arch and
   * domain type (`kvm`, `qemu`); undefined when `machine` is no alias (keep it as written).
   */
  canonicalMachine(arch: string, virtType: string, machine: string): string | undefined;
  /** The machine used when the XML names none: libvirt's preferred one (`pc` on x86), versioned. */
  defaultMachine(arch: string, virtType: string): string | undefined;
  /**
   * The CPU model QEMU gives this machine when the XML names none (`qemu64` for x86 pc/q35);
   * null when the machine reports none; undefined when the machine is unknown.
   */
  defaultCpuModel(arch: string, virtType: string, machine: string): string | null | undefined;
  /** Whether the machine types have this property (`i8042`: PS/2 controller switch, QEMU 7.0+). */
  machineProperty(name: string): boolean | undefined;
  /** Whether the binary has this QEMU device or object type; undefined when not known. */
  hasDevice(name: string): boolean | undefined;
  /** Whether the binary runs guests of this domain type; undefined for types it does not know. */
  supportsVirtType(type: string): boolean | undefined;
  /** Whether the binary has a capability flag its storage sources depend on. */
  hasStorageFlag(flag: string): boolean;
}

/** Domain `type` → the accelerator whose machine list applies. */
function accelFor(virtType: string): Accel | undefined {
  if (virtType === "kvm") return "kvm";
  if (virtType === "qemu") return "tcg";
  return undefined;
}

/** Architectures a binary of `capsArch` runs (x86_64 also runs i686 guests, and so on). */
function archSupported(capsArch: string, arch: string): boolean {
  if (arch === capsArch) return true;
  return (
    (capsArch === "x86_64" && arch === "i686") ||
    (capsArch === "aarch64" && arch === "armv7l") ||
    (capsArch === "armv7l" && arch === "armv6l") ||
    (capsArch === "ppc64" && arch === "ppc64le")
  );
}

const TYPE_TO_FLAG = new Map<string, string>(OBJECT_TYPE_FLAGS.map(([type, flag]) => [type, flag]));

export function domainFactsFromCaps(caps: QemuCaps): QemuDomainFacts {
  const accelCaps = (arch: string, virtType: string): AccelCaps | undefined => {
    const a = accelFor(virtType);
    if (a === undefined || !archSupported(caps.arch, arch)) return undefined;
    return caps.accel[a];
  };
  const canonical = (ac: AccelCaps, machine: string): string | undefined =>
    ac.machines.find((m) => m.alias === machine)?.name;
  return {
    canonicalMachine(arch, virtType, machine) {
      const ac = accelCaps(arch, virtType);
      return ac ? canonical(ac, machine) : undefined;
    },
    defaultMachine(arch, virtType) {
      return accelCaps(arch, virtType)?.machines[0]?.name;
    },
    defaultCpuModel(arch, virtType, machine) {
      const ac = accelCaps(arch, virtType);
      if (!ac) return undefined;
      const name = canonical(ac, machine) ?? machine;
      const m = ac.machines.find((x) => x.name === name);
      if (!m) return undefined;
      if (m.defaultCPU === undefined) return null;
      return ac.cpuModels.find((c) => c.typename === m.defaultCPU)?.name ?? null;
    },
    supportsVirtType(type) {
      if (type === "qemu") return caps.accel.tcg !== undefined;
      if (type === "kvm") return caps.accel.kvm !== undefined;
      if (type === "hvf") return caps.flags.has("hvf");
      return undefined;
    },
    machineProperty(name) {
      if (name === "i8042") return caps.flags.has("machine-i8042-opt");
      return undefined;
    },
    hasStorageFlag(flag) {
      return caps.flags.has(flag);
    },
    hasDevice(name) {
      if (caps.objectTypes) return caps.objectTypes.has(name);
      const flag = TYPE_TO_FLAG.get(name);
      if (flag === undefined) return undefined;
      if (!caps.flags.has(flag)) return false;
      // A flag set by several types (virtio-net-pci/-ccw/-device) proves only one of them: the
      // PCI variant on PCI architectures, the CCW one on s390x.
      const shared = OBJECT_TYPE_FLAGS.filter(([, f]) => f === flag).length > 1;
      if (!shared) return true;
      const s390 = caps.arch === "s390x";
      if (name.endsWith("-ccw")) return s390 ? true : undefined;
      if (name.endsWith("-pci")) return s390 ? undefined : true;
      return undefined;
    },
  };
}
