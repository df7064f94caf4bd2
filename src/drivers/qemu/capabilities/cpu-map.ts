/**
 * The x86 CPU map: which features exist, in which order libvirt lists them, and what each named
 * CPU model contains. libvirt ships its own map (cpu_map/*.xml); tvirt builds it from the QEMU
 * binary it drives instead: the probe expands every model QEMU offers
 * (`query-cpu-model-expansion` type `static`, under TCG) and keeps the features each one turns
 * on (`QemuCaps.cpuDefinitions`). What QEMU cannot tell is where a feature sits in CPUID, which
 * decides the order libvirt writes features in (and so the `-cpu` text); that is the table below,
 * one row per CPUID register (or MSR) with the feature at each bit.
 */
import type { CpuDefinition, QemuCaps } from "./types.ts";

/** QEMU property names libvirt spells differently (QEMU → libvirt). */
const QEMU_TO_LIBVIRT: Readonly<Record<string, string>> = {
  "cmp-legacy": "cmp_legacy",
  "ds-cpl": "ds_cpl",
  "fxsr-opt": "fxsr_opt",
  "lahf-lm": "lahf_lm",
  "nodeid-msr": "nodeid_msr",
  pclmulqdq: "pclmuldq",
  "perfctr-core": "perfctr_core",
  "perfctr-nb": "perfctr_nb",
  "tsc-adjust": "tsc_adjust",
  // QEMU accepts both spellings for a few; the expansion uses these
  "sse4-1": "sse4.1",
  "sse4-2": "sse4.2",
  sse4_1: "sse4.1",
  sse4_2: "sse4.2",
  lahf_lm: "lahf_lm",
  tsc_adjust: "tsc_adjust",
};

/** libvirt's name of a QEMU CPU property. */
export function libvirtFeatureName(qemuName: string): string {
  return QEMU_TO_LIBVIRT[qemuName] ?? qemuName;
}

type Reg = "eax" | "ebx" | "ecx" | "edx";
const REG_ORDER: Readonly<Record<Reg, number>> = { eax: 0, ebx: 1, ecx: 2, edx: 3 };

interface Word {
  /** CPUID leaf (eax in) and sub-leaf (ecx in), or an MSR index (`msr` set). */
  readonly leaf: number;
  readonly sub: number;
  readonly reg: Reg;
  readonly msr?: boolean;
  /** libvirt feature name by bit. */
  readonly bits: Readonly<Record<number, string>>;
}

/**
 * Architectural CPUID bit positions of the features QEMU and libvirt name (Intel SDM vol. 2A,
 * AMD APM vol. 3). Only features listed here take part in host-model decoding, like libvirt,
 * which ignores QEMU properties its map does not know.
 */
const WORDS: readonly Word[] = [
  {
    leaf: 0x1,
    sub: 0,
    reg: "ecx",
    bits: {
      0: "pni",
      1: "pclmuldq",
      2: "dtes64",
      3: "monitor",
      4: "ds_cpl",
      5: "vmx",
      6: "smx",
      7: "est",
      8: "tm2",
      9: "ssse3",
      10: "cid",
      12: "fma",
      13: "cx16",
      14: "xtpr",
      15: "pdcm",
      17: "pcid",
      18: "dca",
      19: "sse4.1",
      20: "sse4.2",
      21: "x2apic",
      22: "movbe",
      23: "popcnt",
      24: "tsc-deadline",
      25: "aes",
      26: "xsave",
      28: "avx",
      29: "f16c",
      30: "rdrand",
      31: "hypervisor",
    },
  },
  {
    leaf: 0x1,
    sub: 0,
    reg: "edx",
    bits: {
      0: "fpu",
      1: "vme",
      2: "de",
      3: "pse",
      4: "tsc",
      5: "msr",
      6: "pae",
      7: "mce",
      8: "cx8",
      9: "apic",
      11: "sep",
      12: "mtrr",
      13: "pge",
      14: "mca",
      15: "cmov",
      16: "pat",
      17: "pse36",
      18: "pn",
      19: "clflush",
      21: "ds",
      22: "acpi",
      23: "mmx",
      24: "fxsr",
      25: "sse",
      26: "sse2",
      27: "ss",
      28: "ht",
      29: "tm",
      30: "ia64",
      31: "pbe",
    },
  },
  { leaf: 0x6, sub: 0, reg: "eax", bits: { 2: "arat" } },
  {
    leaf: 0x7,
    sub: 0,
    reg: "ebx",
    bits: {
      0: "fsgsbase",
      1: "tsc_adjust",
      2: "sgx",
      3: "bmi1",
      4: "hle",
      5: "avx2",
      7: "smep",
      8: "bmi2",
      9: "erms",
      10: "invpcid",
      11: "rtm",
      14: "mpx",
      16: "avx512f",
      17: "avx512dq",
      18: "rdseed",
      19: "adx",
      20: "smap",
      21: "avx512ifma",
      22: "pcommit",
      23: "clflushopt",
      24: "clwb",
      25: "intel-pt",
      26: "avx512pf",
      27: "avx512er",
      28: "avx512cd",
      29: "sha-ni",
      30: "avx512bw",
      31: "avx512vl",
    },
  },
  {
    leaf: 0x7,
    sub: 0,
    reg: "ecx",
    bits: {
      1: "avx512vbmi",
      2: "umip",
      3: "pku",
      5: "waitpkg",
      6: "avx512vbmi2",
      8: "gfni",
      9: "vaes",
      10: "vpclmulqdq",
      11: "avx512vnni",
      12: "avx512bitalg",
      14: "avx512-vpopcntdq",
      16: "la57",
      22: "rdpid",
      24: "bus-lock-detect",
      25: "cldemote",
      27: "movdiri",
      28: "movdir64b",
      30: "sgxlc",
      31: "pks",
    },
  },
  {
    leaf: 0x7,
    sub: 0,
    reg: "edx",
    bits: {
      2: "avx512-4vnniw",
      3: "avx512-4fmaps",
      4: "fsrm",
      8: "avx512-vp2intersect",
      10: "md-clear",
      14: "serialize",
      16: "tsx-ldtrk",
      18: "pconfig",
      20: "arch-lbr",
      22: "amx-bf16",
      23: "avx512-fp16",
      24: "amx-tile",
      25: "amx-int8",
      26: "spec-ctrl",
      27: "stibp",
      28: "flush-l1d",
      29: "arch-capabilities",
      30: "core-capability",
      31: "ssbd",
    },
  },
  {
    leaf: 0x7,
    sub: 1,
    reg: "eax",
    bits: {
      4: "avx-vnni",
      5: "avx512-bf16",
      7: "cmpccxadd",
      10: "fzrm",
      11: "fsrs",
      12: "fsrc",
      19: "wrmsrns",
      21: "amx-fp16",
      23: "avx-ifma",
      26: "lam",
    },
  },
  {
    leaf: 0x7,
    sub: 1,
    reg: "edx",
    bits: { 4: "avx-vnni-int8", 5: "avx-ne-convert", 14: "prefetchiti" },
  },
  {
    leaf: 0x7,
    sub: 2,
    reg: "edx",
    bits: { 0: "intel-psfd", 1: "ipred-ctrl", 2: "rrsba-ctrl", 3: "ddpd-u", 4: "bhi-ctrl", 5: "mcdt-no" },
  },
  {
    leaf: 0xd,
    sub: 1,
    reg: "eax",
    bits: { 0: "xsaveopt", 1: "xsavec", 2: "xgetbv1", 3: "xsaves", 4: "xfd" },
  },
  { leaf: 0x12, sub: 0, reg: "eax", bits: { 0: "sgx1", 1: "sgx2" } },
  {
    leaf: 0x80000001,
    sub: 0,
    reg: "ecx",
    bits: {
      0: "lahf_lm",
      1: "cmp_legacy",
      2: "svm",
      3: "extapic",
      4: "cr8legacy",
      5: "abm",
      6: "sse4a",
      7: "misalignsse",
      8: "3dnowprefetch",
      9: "osvw",
      10: "ibs",
      11: "xop",
      12: "skinit",
      13: "wdt",
      15: "lwp",
      16: "fma4",
      17: "tce",
      19: "nodeid_msr",
      21: "tbm",
      22: "topoext",
      23: "perfctr_core",
      24: "perfctr_nb",
    },
  },
  {
    leaf: 0x80000001,
    sub: 0,
    reg: "edx",
    bits: {
      11: "syscall",
      20: "nx",
      22: "mmxext",
      25: "fxsr_opt",
      26: "pdpe1gb",
      27: "rdtscp",
      29: "lm",
      30: "3dnowext",
      31: "3dnow",
    },
  },
  { leaf: 0x80000007, sub: 0, reg: "ebx", bits: { 0: "overflow-recov", 1: "succor" } },
  { leaf: 0x80000007, sub: 0, reg: "edx", bits: { 8: "invtsc" } },
  {
    leaf: 0x80000008,
    sub: 0,
    reg: "ebx",
    bits: {
      0: "clzero",
      2: "xsaveerptr",
      9: "wbnoinvd",
      12: "ibpb",
      14: "ibrs",
      15: "amd-stibp",
      17: "stibp-always-on",
      23: "amd-psfd",
      24: "amd-ssbd",
      25: "virt-ssbd",
      26: "amd-no-ssb",
    },
  },
  {
    leaf: 0x8000000a,
    sub: 0,
    reg: "edx",
    bits: {
      0: "npt",
      1: "lbrv",
      2: "svm-lock",
      3: "nrip-save",
      4: "tsc-scale",
      5: "vmcb-clean",
      6: "flushbyasid",
      7: "decodeassists",
      10: "pause-filter",
      12: "pfthreshold",
      13: "avic",
      15: "v-vmsave-vmload",
      16: "vgif",
      25: "vnmi",
      28: "svme-addr-chk",
    },
  },
  {
    leaf: 0x80000021,
    sub: 0,
    reg: "eax",
    bits: {
      0: "no-nested-data-bp",
      2: "lfence-always-serializing",
      6: "null-sel-clr-base",
      8: "auto-ibrs",
      27: "sbpb",
      28: "ibpb-brtype",
      29: "srso-no",
      30: "srso-user-kernel-no",
    },
  },
  { leaf: 0x80000022, sub: 0, reg: "eax", bits: { 0: "perfmon-v2" } },
  {
    leaf: 0xc0000001,
    sub: 0,
    reg: "edx",
    bits: {
      2: "xstore",
      3: "xstore-en",
      6: "xcrypt",
      7: "xcrypt-en",
      8: "ace2",
      9: "ace2-en",
      10: "phe",
      11: "phe-en",
      12: "pmm",
      13: "pmm-en",
    },
  },
  {
    leaf: 0x10a,
    sub: 0,
    reg: "eax",
    msr: true,
    bits: {
      0: "rdctl-no",
      1: "ibrs-all",
      2: "rsba",
      3: "skip-l1dfl-vmentry",
      4: "ssb-no",
      5: "mds-no",
      6: "pschange-mc-no",
      7: "tsx-ctrl",
      8: "taa-no",
      13: "sbdr-ssdp-no",
      14: "fbsdp-no",
      15: "psdp-no",
      17: "fb-clear",
      19: "rrsba",
      20: "bhi-no",
      24: "pbrsb-no",
      26: "gds-no",
      27: "rfds-no",
    },
  },
  { leaf: 0xcf, sub: 0, reg: "eax", msr: true, bits: { 5: "split-lock-detect" } },
];

/** Non-migratable features (libvirt marks them so in its map): dropped from migratable CPUs. */
const NOT_MIGRATABLE: ReadonlySet<string> = new Set(["invtsc"]);

/** Sort key of each known feature: CPUID features by leaf, sub-leaf, register and bit; MSRs last. */
const FEATURE_KEY: ReadonlyMap<string, number> = (() => {
  const rows = WORDS.map((w) => ({
    w,
    key: (w.msr ? 1 : 0) * 2 ** 40 + w.leaf * 2 ** 6 + w.sub * 4 + REG_ORDER[w.reg],
  })).sort((a, b) => a.key - b.key);
  const m = new Map<string, number>();
  rows.forEach(({ w }, i) => {
    for (const [bit, name] of Object.entries(w.bits)) m.set(name, i * 64 + Number(bit));
  });
  return m;
})();

/** Whether libvirt's map knows this (libvirt-named) x86 feature. */
export function isKnownFeature(name: string): boolean {
  return FEATURE_KEY.has(name);
}

export function isMigratableFeature(name: string): boolean {
  return !NOT_MIGRATABLE.has(name);
}

/** Sorts libvirt feature names into libvirt's map order. */
export function sortFeatures(names: Iterable<string>): string[] {
  return [...names].sort(
    (a, b) => (FEATURE_KEY.get(a) ?? 1e9) - (FEATURE_KEY.get(b) ?? 1e9) || (a < b ? -1 : 1),
  );
}

/** CPU vendors as libvirt names them, from the CPUID vendor string. */
const VENDORS: Readonly<Record<string, string>> = {
  GenuineIntel: "Intel",
  AuthenticAMD: "AMD",
  HygonGenuine: "Hygon",
  "  Shanghai  ": "Zhaoxin",
  CentaurHauls: "Zhaoxin",
};

export function libvirtVendor(cpuidVendor: string | undefined): string | undefined {
  return cpuidVendor === undefined ? undefined : VENDORS[cpuidVendor];
}

/** One named model of the map. */
export interface CpuMapModel {
  readonly name: string;
  /** libvirt vendor name (`AMD`, `Intel`); undefined for generic models. */
  readonly vendor?: string;
  readonly family?: number;
  readonly model?: number;
  /** libvirt feature names the model turns on. */
  readonly features: ReadonlySet<string>;
}

/** QEMU turns `hypervisor` on for every model itself (x86_cpu_load_model): not part of a model. */
const ADDED_BY_QEMU = "hypervisor";

/**
 * libvirt generates its newer models from QEMU's but leaves out `monitor` and `topoext` (KVM
 * cannot offer them); models it wrote earlier by hand are listed in LIBVIRT_MODEL_DELTA.
 */
const NOT_IN_GENERATED_MODELS: readonly string[] = ["monitor", "topoext"];

/** libvirt (since 10) has `monitor` in none of its models. */
const NOT_IN_ANY_MODEL = "monitor";

/**
 * libvirt's models, oldest first (the order of its map), and where the ones it wrote by hand
 * differ from QEMU's expansion of the same name: `+` features libvirt's model has and QEMU's
 * lacks, `-` the reverse. Host-model names a model plus a feature list relative to libvirt's
 * idea of the model, and that list is the guest ABI users and libvirt's tests see, so decoding
 * uses libvirt's view. Found by expanding each model with QEMU and comparing with libvirt's
 * description of it.
 */
const LIBVIRT_MODEL_DELTA: Readonly<Record<string, string>> = {
  "486": "+vme",
  pentium: "+vme -apic",
  pentium2: "+vme -apic",
  pentium3: "+vme -apic",
  coreduo: "+vme -acpi -ss",
  n270: "+vme -acpi -lahf_lm -movbe -ss",
  core2duo: "+vme -acpi -cx16 -lahf_lm -ss",
  qemu32: "",
  kvm32: "",
  qemu64: "-lahf_lm",
  kvm64: "",
  Conroe: "",
  Penryn: "",
  Nehalem: "",
  "Nehalem-IBRS": "",
  Westmere: "-arat -pclmuldq",
  "Westmere-IBRS": "-arat -pclmuldq",
  SandyBridge: "-arat -xsaveopt",
  "SandyBridge-IBRS": "-arat -xsaveopt",
  IvyBridge: "+vme -arat -xsaveopt",
  "IvyBridge-IBRS": "+vme -arat -xsaveopt",
  "Haswell-noTSX": "-abm -arat -f16c -rdrand -xsaveopt",
  "Haswell-noTSX-IBRS": "-abm -arat -f16c -rdrand -xsaveopt",
  Haswell: "-abm -arat -f16c -rdrand -xsaveopt",
  "Haswell-IBRS": "-abm -arat -f16c -rdrand -xsaveopt",
  "Broadwell-noTSX": "-abm -arat -f16c -rdrand -xsaveopt",
  "Broadwell-noTSX-IBRS": "-abm -arat -f16c -rdrand -xsaveopt",
  Broadwell: "-abm -arat -f16c -rdrand -xsaveopt",
  "Broadwell-IBRS": "-abm -arat -f16c -rdrand -xsaveopt",
  "Skylake-Client": "+mpx +vme",
  "Skylake-Client-IBRS": "+mpx +vme",
  "Skylake-Client-noTSX-IBRS": "+mpx +vme",
  "Skylake-Server": "+mpx +vme -clflushopt -pku",
  "Skylake-Server-IBRS": "+mpx +vme -pku",
  "Skylake-Server-noTSX-IBRS": "+mpx +vme -pku",
  "Cascadelake-Server": "+mpx +vme -pku",
  "Cascadelake-Server-noTSX":
    "+mpx +vme -arch-capabilities -ibrs-all -mds-no -pku -rdctl-no -skip-l1dfl-vmentry",
  "Icelake-Server": "+intel-pt +mpx +vme",
  "Icelake-Server-noTSX": "+intel-pt +mpx +vme",
  Cooperlake: "+vme",
  Snowridge: "+vme -monitor -mpx",
  athlon: "+vme -mca",
  phenom: "-abm -cx16 -lahf_lm -npt -pdpe1gb -popcnt -rdtscp -sse4a",
  Opteron_G1: "",
  Opteron_G2: "+rdtscp",
  Opteron_G3: "",
  Opteron_G4: "-npt -nrip-save",
  Opteron_G5: "-npt -nrip-save",
  EPYC: "+vme -npt -nrip-save -topoext",
  "EPYC-IBPB": "+vme -npt -nrip-save -topoext",
  "EPYC-Rome": "+vme -monitor -topoext -xsaves",
  "EPYC-Milan": "+vme -monitor -topoext",
  Dhyana: "+vme -npt -nrip-save -topoext",
};

/** Position of a hand-written model in libvirt's map. */
const LIBVIRT_ORDER: ReadonlyMap<string, number> = new Map(
  Object.keys(LIBVIRT_MODEL_DELTA).map((n, i) => [n, i]),
);

/** libvirt does not offer these for a guest's host-model (its map says `decode guest='off'`). */
const NO_GUEST_DECODE: ReadonlySet<string> = new Set([
  "Cascadelake-Server-noTSX",
  "Icelake-Client-noTSX",
  "Icelake-Server-noTSX",
  "Skylake-Client-noTSX-IBRS",
  "Skylake-Server-noTSX-IBRS",
]);

/**
 * Generic models carry QEMU's made-up vendor and signature; libvirt's map gives them no vendor
 * and a signature of its own, so they compete for hosts of either vendor and match no host's
 * family/model (QEMU's `max` under TCG reports qemu64's).
 */
const GENERIC_MODELS: ReadonlySet<string> = new Set([
  "486",
  "pentium",
  "pentium2",
  "pentium3",
  "pentiumpro",
  "coreduo",
  "n270",
  "core2duo",
  "qemu32",
  "kvm32",
  "qemu64",
  "kvm64",
]);

/** Models QEMU lists that are not named CPU models (`host`, `max`, `base`) or versioned aliases. */
function isDecodable(name: string): boolean {
  return (
    name !== "host" && name !== "max" && name !== "base" && !/-v\d+$/.test(name) && !NO_GUEST_DECODE.has(name)
  );
}

export function mapModel(def: CpuDefinition): CpuMapModel {
  const features = new Set<string>();
  for (const f of def.features) {
    const n = libvirtFeatureName(f);
    if (isKnownFeature(n) && n !== ADDED_BY_QEMU && n !== NOT_IN_ANY_MODEL) features.add(n);
  }
  const delta = LIBVIRT_MODEL_DELTA[def.name];
  if (delta === undefined) for (const f of NOT_IN_GENERATED_MODELS) features.delete(f);
  for (const d of (delta ?? "").split(" ")) {
    if (d.startsWith("+")) features.add(d.slice(1));
    else if (d.startsWith("-")) features.delete(d.slice(1));
  }
  if (GENERIC_MODELS.has(def.name)) return { name: def.name, features };
  const vendor = libvirtVendor(def.vendor);
  return {
    name: def.name,
    ...(vendor !== undefined ? { vendor } : {}),
    ...(def.family !== undefined ? { family: def.family } : {}),
    ...(def.model !== undefined ? { model: def.model } : {}),
    features,
  };
}

/**
 * The models host-model decoding walks, oldest first (libvirt walks its map backwards, newest
 * first, and keeps the earlier of two equally good models): libvirt's order for the models it
 * wrote by hand, then the others, for which QEMU's list has no age order and the number of
 * features stands in for it (newer models have more).
 */
export function decodeModels(defs: readonly CpuDefinition[]): CpuMapModel[] {
  const rank = (m: CpuMapModel): number => LIBVIRT_ORDER.get(m.name) ?? LIBVIRT_ORDER.size;
  return defs
    .filter((d) => isDecodable(d.name))
    .map(mapModel)
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        a.features.size - b.features.size ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
}

/** The CPU definitions of a capabilities object (probed), or undefined (libvirt's files). */
export function cpuDefinitionsOf(caps: QemuCaps): readonly CpuDefinition[] | undefined {
  return caps.cpuDefinitions;
}
