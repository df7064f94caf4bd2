/**
 * What tvirt knows about one QEMU binary: the facts libvirt keeps in its capability cache
 * (`qemuCaps` XML). Produced by probing a real binary over QMP (probe.ts) or by loading one of
 * libvirt's capability files (load.ts), so golden tests use the facts libvirt used.
 * The command-line builder and the post-parse defaults read only this.
 */

/**
 * QEMU's accelerators libvirt records: KVM, TCG, and macOS's Hypervisor.framework (`hvf`),
 * which only libvirt's capability files of a macOS host carry (loaded on request, load.ts).
 */
export type Accel = "kvm" | "tcg" | "hvf";

export interface MachineInfo {
  /** Versioned name, e.g. `pc-i440fx-7.2`. */
  readonly name: string;
  /** Alias, e.g. `pc`, `q35`. */
  readonly alias?: string;
  readonly isDefault: boolean;
  readonly maxCpus: number;
  readonly hotplugCpus: boolean;
  /** QOM type name of the machine's default CPU, e.g. `qemu64-x86_64-cpu`. */
  readonly defaultCPU?: string;
  /** Id of the machine's default RAM backend (`pc.ram`), used for `memory-backend=`. */
  readonly defaultRAMid?: string;
  /** Whether `query-machines` reports ACPI support (decides `acpi=off` vs `-no-acpi`). */
  readonly acpi?: boolean;
  readonly numaMemSupported?: boolean;
  readonly deprecated?: boolean;
}

export interface CpuModelInfo {
  readonly name: string;
  readonly typename?: string;
  readonly usable: boolean;
  /** Features that make the model unusable on this host. */
  readonly blockers?: readonly string[];
  readonly deprecated?: boolean;
  /** QEMU did not say whether the model is usable (libvirt writes `usable='unknown'`). */
  readonly usableUnknown?: boolean;
  /** The versioned model an alias stands for (`EPYC-Rome` → `EPYC-Rome-v1`). */
  readonly aliasOf?: string;
}

/**
 * What a named CPU model contains, from QEMU's static expansion of it (the CPU map, see
 * cpu-map.ts): QEMU feature names it turns on, its vendor string and family/model.
 */
export interface CpuDefinition {
  readonly name: string;
  readonly vendor?: string;
  readonly family?: number;
  readonly model?: number;
  readonly features: readonly string[];
}

export interface HostCpuProperty {
  readonly name: string;
  readonly type: "boolean" | "number" | "string";
  readonly value: string;
  readonly migratable?: boolean;
}

/** The host CPU as QEMU expands it (`query-cpu-model-expansion` of `host`/`max`). */
export interface HostCpuInfo {
  readonly model: string;
  readonly migratability: boolean;
  readonly props: readonly HostCpuProperty[];
}

export interface AccelCaps {
  readonly machines: readonly MachineInfo[];
  readonly cpuModels: readonly CpuModelInfo[];
  readonly hostCpu?: HostCpuInfo;
}

export interface QemuCaps {
  /** Path of the binary these facts describe. */
  readonly emulator: string;
  /** libvirt's encoding: major * 1_000_000 + minor * 1_000 + micro (7.2.0 → 7002000). */
  readonly version: number;
  /** `package` from query-version, e.g. `v7.2.0` or `Debian 1:7.2+dfsg-7+deb12u7`. */
  readonly package: string;
  /** Target architecture, e.g. `x86_64`. */
  readonly arch: string;
  /**
   * libvirt's capability flag names (`blockdev`, `machine-hpet`, `virtio-blk-pci.scsi`, …),
   * as in libvirt's `<flag name=.../>`. Derived by the probe from the QMP schema, device
   * and object types and their properties.
   */
  readonly flags: ReadonlySet<string>;
  readonly accel: Readonly<Partial<Record<Accel, AccelCaps>>>;
  /** Migration capabilities QEMU reports (`query-migrate-capabilities`). */
  readonly migrationCapabilities: readonly string[];
  /** ctime (ms since epoch) of the binary when probed; 0 for loaded files. */
  readonly binaryCtime: number;
  /**
   * Every QOM type the binary offers (`qom-list-types`: devices such as `virtio-blk-pci` or
   * `usb-host`, backends, accelerators), when probed. Undefined for libvirt's capability files,
   * which do not record it.
   */
  readonly objectTypes?: ReadonlySet<string>;
  /**
   * The CPU map: every named model QEMU offers, expanded (probed under TCG). Undefined for
   * libvirt's capability files, which do not record it.
   */
  readonly cpuDefinitions?: readonly CpuDefinition[];
  /**
   * Hyper-V enlightenments KVM offers (libvirt's `<hypervCapabilities>`: `relaxed`, `vapic`,
   * …), when known; reported by domain capabilities.
   */
  readonly hypervCapabilities?: readonly string[];
  /** The host's SGX facts QEMU reported (`query-sgx-capabilities`), when it has SGX. */
  readonly sgx?: SgxCaps;
  /** The host's AMD SEV facts QEMU reported (`query-sev-capabilities`), when it has SEV. */
  readonly sev?: SevCaps;
}

export interface SevCaps {
  readonly cbitpos: number;
  readonly reducedPhysBits: number;
  /** Identity of the host's SEV firmware (base64), when QEMU reported it. */
  readonly cpu0Id?: string;
}

export interface SgxCaps {
  readonly flc: boolean;
  readonly sgx1: boolean;
  readonly sgx2: boolean;
  /** EPC size in KiB. */
  readonly sectionSizeKiB: number;
  /** EPC sections per host NUMA node, KiB. */
  readonly sections: readonly { readonly node: number; readonly sizeKiB: number }[];
}
