/**
 * The domain capabilities document (`virConnectGetDomainCapabilities`, libvirt's
 * `<domainCapabilities>`) as plain data: what one emulator, for one virt type, arch and machine
 * type, offers a domain definition. Drivers fill it; `format.ts` writes libvirt's XML.
 */

/** `<enum name=...>` with its `<value>`s; an enum with no values is still written (`<enum/>`). */
export interface DomainCapsEnum {
  readonly name: string;
  readonly values: readonly string[];
}

/** An element with `supported='yes|no'` and enums (devices, simple features). */
export interface DomainCapsGroup {
  readonly name: string;
  readonly supported: boolean;
  readonly enums: readonly DomainCapsEnum[];
}

export interface DomainCapsLoader {
  readonly supported: boolean;
  /** Firmware images the loader may name (`<value>` before the enums). */
  readonly values: readonly string[];
  readonly enums: readonly DomainCapsEnum[];
}

export interface DomainCapsOs {
  readonly supported: boolean;
  /** `<enum name='firmware'>` values: `bios`, `efi` (the automatic firmware selection). */
  readonly firmware: readonly string[];
  readonly loader?: DomainCapsLoader;
}

export interface DomainCapsCpuFeature {
  readonly policy: "require" | "disable";
  readonly name: string;
}

/** `host-passthrough` or `maximum`: supported, and its migratable enum values. */
export interface DomainCapsCpuPassMode {
  readonly supported: boolean;
  readonly migratable: readonly string[];
}

export interface DomainCapsHostModel {
  readonly supported: boolean;
  readonly model?: string;
  readonly fallback?: "forbid" | "allow";
  readonly vendor?: string;
  readonly maxphysaddr?: { readonly mode: "passthrough"; readonly limit?: number };
  readonly features: readonly DomainCapsCpuFeature[];
}

export interface DomainCapsCpuModel {
  readonly name: string;
  readonly usable: "yes" | "no" | "unknown";
  readonly deprecated?: boolean;
  readonly vendor?: string;
  readonly canonical?: string;
  /** Features that keep an unusable model from running (`<blockers>`), libvirt's names. */
  readonly blockers: readonly string[];
}

export interface DomainCapsCpu {
  readonly hostPassthrough: DomainCapsCpuPassMode;
  readonly maximum: DomainCapsCpuPassMode;
  readonly hostModel: DomainCapsHostModel;
  readonly custom: { readonly supported: boolean; readonly models: readonly DomainCapsCpuModel[] };
}

/** A plain child element: `<cbitpos>51</cbitpos>`, `<section node='0' size='1' unit='KiB'/>`. */
export interface DomainCapsNode {
  readonly name: string;
  readonly attrs?: Readonly<Record<string, string | number>>;
  readonly text?: string;
  readonly children?: readonly DomainCapsNode[];
}

/**
 * A `<features>` child: `supported`, then plain children (the facts of `sev` or `sgx`), then
 * enums, in the order given.
 */
export interface DomainCapsFeature extends DomainCapsGroup {
  readonly values?: readonly DomainCapsNode[];
}

export interface DomainCaps {
  readonly path: string;
  /** The virt type: `kvm` or `qemu`. */
  readonly domain: string;
  /** Canonical machine type name. */
  readonly machine?: string;
  readonly arch: string;
  readonly vcpuMax?: number;
  readonly iothreads?: boolean;
  readonly os: DomainCapsOs;
  readonly cpu: DomainCapsCpu;
  readonly memoryBacking?: { readonly supported: boolean; readonly sourceTypes: readonly string[] };
  /** `<devices>` children in libvirt's order (disk, graphics, video, hostdev, …). */
  readonly devices: readonly DomainCapsGroup[];
  /** `<features>` children in libvirt's order. */
  readonly features: readonly DomainCapsFeature[];
}
