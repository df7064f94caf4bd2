/**
 * The QEMU driver's domain capabilities (libvirt's virQEMUCapsFillDomainCaps): what one QEMU
 * binary offers a domain of one virt type and machine type, decided from the probed
 * capabilities (flags, machine types, CPU models, host CPU) and a few host facts the caller
 * passes in (firmware descriptors, VFIO, swtpm, the host's physical address bits).
 * Pure: the same inputs give the same document, so libvirt's own test data checks it.
 */
import type {
  DomainCaps,
  DomainCapsCpuModel,
  DomainCapsEnum,
  DomainCapsFeature,
  DomainCapsGroup,
  DomainCapsHostModel,
} from "../../../conf/domcaps/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { SupportedFirmware } from "../firmware.ts";
import { hostModelCpu, type HostModel, type VirtType } from "./cpu-host-model.ts";
import { libvirtVendor } from "./cpu-map.ts";
import type { Accel, CpuDefinition, MachineInfo, QemuCaps } from "./types.ts";

export type { VirtType } from "./cpu-host-model.ts";

export interface DomainCapsOptions {
  readonly virtType: VirtType;
  /** Machine type or alias; the binary's default machine when absent. */
  readonly machine?: string;
  /** What the firmware descriptors offer this machine (firmware.ts `supportedFirmware`). */
  readonly firmware?: SupportedFirmware;
  /** Firmware images configured for the driver (qemu.conf's `nvram`); listed as loader values. */
  readonly loaderImages?: readonly string[];
  /** Whether the host can assign PCI devices with VFIO (IOMMU groups present). */
  readonly vfio?: boolean;
  /** TPM versions swtpm can emulate here (`1.2`, `2.0`); undefined when swtpm is missing. */
  readonly swtpmVersions?: readonly string[];
  /**
   * How many SEV and SEV-ES guests the host's firmware can run at once (CPUID 0x8000001F),
   * reported with SEV when known.
   */
  readonly sevGuests?: { readonly max: number; readonly maxES: number };
  /** Physical address bits of the host CPU, reported as host-model's maxphysaddr limit (KVM). */
  readonly hostPhysBits?: number;
  /**
   * The CPU map the host-model CPU is decoded with and the named models take their vendor
   * from; default the capabilities' own (`caps.cpuDefinitions`, probed). libvirt's capability
   * files have none: their tests pass the map of the installed QEMU.
   */
  readonly cpuDefinitions?: readonly CpuDefinition[];
  /**
   * The models the CPU map describes: QEMU's other models are left out of the custom mode, as
   * libvirt leaves out the models its own map (which lags QEMU's releases) lacks. Default: every
   * model QEMU lists, tvirt's map being the QEMU's own.
   */
  readonly cpuMapModels?: ReadonlySet<string>;
}

const accelOf = (t: VirtType): Accel => (t === "qemu" ? "tcg" : t);

/** The machine type `name` (name or alias) names, or the default one. */
export function resolveMachine(caps: QemuCaps, virtType: VirtType, name?: string): MachineInfo {
  const machines = caps.accel[accelOf(virtType)]?.machines ?? [];
  const m =
    name === undefined
      ? (machines.find((x) => x.isDefault) ?? machines[0])
      : machines.find((x) => x.name === name || x.alias === name);
  if (!m) {
    throw new VirtError("API_INVALID_ARG", {
      what:
        name === undefined
          ? `emulator '${caps.emulator}' reports no machine types for virt type '${virtType}'`
          : `the machine '${name}' is not supported by emulator '${caps.emulator}'`,
    });
  }
  return m;
}

const en = (name: string, values: (string | false | undefined)[]): DomainCapsEnum => ({
  name,
  values: values.filter((v): v is string => typeof v === "string"),
});

const group = (name: string, enums: DomainCapsEnum[], supported = true): DomainCapsGroup => ({
  name,
  supported,
  enums,
});

const isX86 = (arch: string): boolean => arch === "x86_64" || arch === "i686";

/** Machine types with a built-in IDE controller (i440fx; not q35, whose disks go on SATA). */
function hasBuiltinIde(arch: string, machine: string): boolean {
  return isX86(arch) && (/^pc-i440fx-/.test(machine) || machine === "pc" || machine === "isapc");
}

function devices(caps: QemuCaps, machine: string, opts: DomainCapsOptions): DomainCapsGroup[] {
  const has = (f: string): boolean => caps.flags.has(f);
  const x86 = isX86(caps.arch);
  const virtioModels = ["virtio", "virtio-transitional", "virtio-non-transitional"];
  const out: DomainCapsGroup[] = [];
  out.push(
    group("disk", [
      en("diskDevice", ["disk", "cdrom", x86 && "floppy", "lun"]),
      en("bus", [
        hasBuiltinIde(caps.arch, machine) && "ide",
        x86 && "fdc",
        "scsi",
        "virtio",
        has("usb-storage") && "usb",
        has("ich9-ahci") && "sata",
      ]),
      en("model", virtioModels),
    ]),
  );
  const dbus = has("display-dbus");
  out.push(
    group("graphics", [
      en("type", [
        has("sdl") && "sdl",
        has("vnc") && "vnc",
        // RDP is served by qemu-rdp over QEMU's D-Bus display.
        dbus && "rdp",
        has("spice") && "spice",
        has("egl-headless") && "egl-headless",
        dbus && "dbus",
      ]),
    ]),
  );
  out.push(
    group("video", [
      en("modelType", [
        has("VGA") && "vga",
        has("cirrus-vga") && "cirrus",
        has("vmware-svga") && "vmvga",
        has("qxl") && "qxl",
        has("virtio-gpu") && "virtio",
        "none",
        has("bochs-display") && "bochs",
        has("ramfb") && "ramfb",
      ]),
    ]),
  );
  out.push(
    group("hostdev", [
      en("mode", ["subsystem"]),
      en("startupPolicy", ["default", "mandatory", "requisite", "optional"]),
      en("subsysType", ["usb", "pci", "scsi"]),
      en("capsType", []),
      en("pciBackend", opts.vfio === true ? ["default", "vfio"] : []),
    ]),
  );
  out.push(
    group("rng", [
      en("model", virtioModels),
      en("backendModel", [
        has("rng-random") && "random",
        has("rng-egd") && "egd",
        has("rng-builtin") && "builtin",
      ]),
    ]),
  );
  out.push(group("filesystem", [en("driverType", ["path", "handle", has("vhost-user-fs") && "virtiofs"])]));
  const versions = opts.swtpmVersions;
  const swtpm = versions !== undefined && has("tpm-emulator");
  const tpmModels = [has("tpm-tis") && "tpm-tis", has("tpm-crb") && "tpm-crb"];
  const tpmBackends = [has("tpm-passthrough") && "passthrough", swtpm && "emulator", swtpm && "external"];
  const tpmEnums = [en("model", tpmModels), en("backendModel", tpmBackends)];
  if (swtpm && versions.length > 0) tpmEnums.push(en("backendVersion", [...versions]));
  out.push(group("tpm", tpmEnums, tpmEnums[0]!.values.length > 0 && tpmEnums[1]!.values.length > 0));
  out.push(group("redirdev", [en("bus", ["usb"])], has("usb-redir")));
  out.push(group("channel", [en("type", ["pty", "unix", has("spice") && "spicevmc"])]));
  out.push(
    group(
      "crypto",
      [
        en("model", ["virtio"]),
        en("type", ["qemu"]),
        en("backendModel", ["builtin", has("cryptodev-backend-lkcf") && "lkcf"]),
      ],
      has("virtio-crypto"),
    ),
  );
  out.push(group("interface", [en("backendType", ["default", has("netdev.stream") && "passt"])]));
  if (x86) {
    out.push(
      group("panic", [en("model", [has("pvpanic") && "isa", "hyperv", has("pvpanic-pci") && "pvpanic"])]),
    );
  }
  return out;
}

/** libvirt's names of QEMU's Hyper-V enlightenments are QEMU's without the `hv-` prefix. */
function features(caps: QemuCaps, opts: DomainCapsOptions): DomainCapsFeature[] {
  const has = (f: string): boolean => caps.flags.has(f);
  const simple = (name: string, supported: boolean): DomainCapsFeature => ({ name, supported, enums: [] });
  const out: DomainCapsFeature[] = [
    simple("gic", false),
    simple("vmcoreinfo", has("vmcoreinfo")),
    simple("genid", has("vmgenid")),
    simple("backingStoreInput", has("blockdev")),
    simple("backup", has("incremental-backup")),
    simple("async-teardown", has("run-with.async-teardown")),
  ];
  // The i8042 (PS/2) controller is a machine property libvirt can switch off since QEMU 7.0.
  if (isX86(caps.arch)) out.push(simple("ps2", has("machine-i8042-opt")));
  const sev = has("sev-guest") ? caps.sev : undefined;
  if (sev) {
    const n = (name: string, v: number | string) => ({ name, text: String(v) });
    out.push({
      name: "sev",
      supported: true,
      enums: [],
      values: [
        n("cbitpos", sev.cbitpos),
        n("reducedPhysBits", sev.reducedPhysBits),
        ...(opts.sevGuests
          ? [n("maxGuests", opts.sevGuests.max), n("maxESGuests", opts.sevGuests.maxES)]
          : []),
        ...(sev.cpu0Id !== undefined ? [n("cpu0Id", sev.cpu0Id)] : []),
      ],
    });
  } else out.push(simple("sev", false));
  const sgx = caps.sgx;
  if (sgx && has("sgx-epc")) {
    const yesNo = (b: boolean): string => (b ? "yes" : "no");
    out.push({
      name: "sgx",
      supported: true,
      enums: [],
      values: [
        { name: "flc", text: yesNo(sgx.flc) },
        { name: "sgx1", text: yesNo(sgx.sgx1) },
        { name: "sgx2", text: yesNo(sgx.sgx2) },
        { name: "section_size", attrs: { unit: "KiB" }, text: String(sgx.sectionSizeKiB) },
        {
          name: "sections",
          children: sgx.sections.map((x) => ({
            name: "section",
            attrs: { node: x.node, size: x.sizeKiB, unit: "KiB" },
          })),
        },
      ],
    });
  } else out.push(simple("sgx", false));
  const hv = caps.hypervCapabilities;
  if (hv !== undefined && isX86(caps.arch)) {
    out.push({ name: "hyperv", supported: true, enums: [en("features", [...hv])] });
  }
  const sectypes = [sev && "sev", sev && has("sev-snp-guest") && "sev-snp"];
  const launch = en("sectype", sectypes);
  out.push({ name: "launchSecurity", supported: launch.values.length > 0, enums: [launch] });
  return out;
}

/**
 * CPU features whose libvirt name differs from QEMU's property name (libvirt's CPU map keeps
 * the older underscore and `pclmuldq` spellings); blockers are reported in libvirt's names.
 */
const LIBVIRT_FEATURE_NAME: Readonly<Record<string, string>> = {
  "cmp-legacy": "cmp_legacy",
  "ds-cpl": "ds_cpl",
  "fxsr-opt": "fxsr_opt",
  "kvm-pv-eoi": "kvm_pv_eoi",
  "kvm-pv-unhalt": "kvm_pv_unhalt",
  "lahf-lm": "lahf_lm",
  "nodeid-msr": "nodeid_msr",
  pclmulqdq: "pclmuldq",
  "perfctr-core": "perfctr_core",
  "perfctr-nb": "perfctr_nb",
  "tsc-adjust": "tsc_adjust",
};

const libvirtFeature = (qemu: string): string => LIBVIRT_FEATURE_NAME[qemu] ?? qemu;

/**
 * QEMU's generic models: QEMU gives them a vendor only because CPUID needs one, and libvirt's
 * CPU map gives them none, so libvirt reports their vendor as `unknown`.
 */
const GENERIC_MODELS = new Set([
  "486",
  "pentium",
  "pentium2",
  "pentium3",
  "qemu32",
  "qemu64",
  "kvm32",
  "kvm64",
]);

/** The model line a versioned model belongs to (`EPYC-Rome-v3` → `EPYC-Rome`). */
const lineOf = (name: string): string => name.replace(/-v\d+$/, "");

/**
 * Vendors of model lines that the CPU map in use may not define, because the map was probed
 * from a different QEMU than the one whose model list is shown: lines QEMU added after 7.2
 * (Debian 12's QEMU, the oldest tvirt is tested with) or removed before it. QEMU says a model's
 * vendor only when asked to expand that model, which a capability file of another QEMU does
 * not record; for the installed QEMU the probe asks, and this table is not consulted.
 */
const LINE_VENDOR: Readonly<Record<string, string>> = {
  ClearwaterForest: "Intel",
  "EPYC-Genoa": "AMD",
  "EPYC-Turin": "AMD",
  GraniteRapids: "Intel",
  "Icelake-Client": "Intel",
  SapphireRapids: "Intel",
  SierraForest: "Intel",
  YongFeng: "Zhaoxin",
};

/**
 * libvirt's vendor of a named model: `unknown` for the generic ones; else the CPUID vendor
 * QEMU's expansion of the model gives (its own, or of another model of its line: QEMU's
 * versions of a model keep its vendor); else the line's vendor from LINE_VENDOR.
 */
function modelVendor(
  name: string,
  aliasOf: string | undefined,
  defs: ReadonlyMap<string, CpuDefinition>,
  byLine: ReadonlyMap<string, CpuDefinition>,
): string {
  const lines = [lineOf(name), ...(aliasOf !== undefined ? [lineOf(aliasOf)] : [])];
  if (lines.some((l) => GENERIC_MODELS.has(l))) return "unknown";
  for (const n of [name, aliasOf, ...lines]) {
    if (n === undefined) continue;
    const v = libvirtVendor((defs.get(n) ?? byLine.get(n))?.vendor);
    if (v !== undefined) return v;
  }
  for (const l of lines) {
    const v = LINE_VENDOR[l];
    if (v !== undefined) return v;
  }
  return "unknown";
}

function customModels(caps: QemuCaps, opts: DomainCapsOptions): DomainCapsCpuModel[] {
  const defs = opts.cpuDefinitions ?? caps.cpuDefinitions;
  const known = opts.cpuMapModels;
  // host, max and base are CPU modes of their own, not models a user names.
  const listed = (caps.accel[accelOf(opts.virtType)]?.cpuModels ?? []).filter(
    (m) =>
      m.name !== "host" &&
      m.name !== "max" &&
      m.name !== "base" &&
      (known === undefined || known.has(m.name)),
  );
  const names = new Set(listed.map((m) => m.name));
  const byName = new Map((defs ?? []).map((d) => [d.name, d]));
  const byLine = new Map<string, CpuDefinition>();
  for (const d of defs ?? []) if (!byLine.has(lineOf(d.name))) byLine.set(lineOf(d.name), d);
  const named = listed.map((m) => ({
    name: m.name,
    usable: m.usableUnknown === true ? ("unknown" as const) : m.usable ? ("yes" as const) : ("no" as const),
    ...(m.deprecated === true ? { deprecated: true } : {}),
    // Vendors come with a CPU map: without one (a capability file alone) none is printed.
    ...(defs ? { vendor: modelVendor(m.name, m.aliasOf, byName, byLine) } : {}),
    // The model QEMU resolves an alias to, when that model is listed too.
    ...(m.aliasOf !== undefined && names.has(m.aliasOf) ? { canonical: m.aliasOf } : {}),
    blockers: m.blockers ?? [],
  }));
  // libvirt 11 lists the models by name (plain byte order).
  return [...named]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => ({
      ...m,
      // In libvirt's names, sorted; QEMU may name a blocker more than once (one per property
      // alias), libvirt lists it once.
      blockers: m.usable === "no" ? [...new Set(m.blockers.map(libvirtFeature))].sort() : [],
    }));
}

function hostModel(caps: QemuCaps, opts: DomainCapsOptions): DomainCapsHostModel {
  const defs = opts.cpuDefinitions;
  const hm: HostModel | undefined = hostModelCpu(caps, opts.virtType, {
    ...(defs ? { cpuDefinitions: defs } : {}),
    ...(opts.hostPhysBits !== undefined ? { hostPhysBits: opts.hostPhysBits } : {}),
  });
  if (!hm) return { supported: false, features: [] };
  const maxphysaddr = hm.maxphysaddr;
  return {
    supported: true,
    model: hm.model,
    fallback: hm.fallback,
    ...(hm.vendor !== undefined ? { vendor: hm.vendor } : {}),
    ...(maxphysaddr ? { maxphysaddr } : {}),
    features: hm.features,
  };
}

/** The domain capabilities of `caps` for one virt type and machine type. */
export function buildDomainCaps(caps: QemuCaps, opts: DomainCapsOptions): DomainCaps {
  const accel = caps.accel[accelOf(opts.virtType)];
  if (!accel) {
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: `virt type '${opts.virtType}' is not supported by emulator '${caps.emulator}'`,
    });
  }
  const machine = resolveMachine(caps, opts.virtType, opts.machine);
  const fw = opts.firmware ?? { kinds: [], secure: false, images: [] };
  const loaderImages = opts.loaderImages && opts.loaderImages.length > 0 ? opts.loaderImages : fw.images;
  const migratable = ["on", "off"];
  const has = (f: string): boolean => caps.flags.has(f);
  const models = customModels(caps, opts);
  return {
    path: caps.emulator,
    domain: opts.virtType,
    machine: machine.name,
    arch: caps.arch,
    vcpuMax: machine.maxCpus,
    iothreads: has("iothread"),
    os: {
      supported: true,
      firmware: fw.kinds,
      loader: {
        supported: true,
        values: [...loaderImages],
        enums: [
          en("type", ["rom", "pflash"]),
          en("readonly", ["yes", "no"]),
          en("secure", [fw.secure && "yes", "no"]),
        ],
      },
    },
    cpu: {
      // The host CPU passes through under a hardware accelerator (KVM, HVF), not TCG.
      hostPassthrough: { supported: opts.virtType !== "qemu", migratable },
      maximum: { supported: true, migratable },
      hostModel: hostModel(caps, opts),
      custom: { supported: models.length > 0, models },
    },
    memoryBacking: {
      supported: true,
      sourceTypes: [
        has("memory-backend-file") && "file",
        "anonymous",
        has("memory-backend-memfd") && "memfd",
      ].filter((v): v is string => typeof v === "string"),
    },
    devices: devices(caps, machine.name, opts),
    features: features(caps, opts),
  };
}
