/**
 * Firmware selection (libvirt's qemuFirmwareFillDomain): `<os firmware='efi'|'bios'>` picks the
 * first firmware descriptor that satisfies the domain (interface, architecture and machine,
 * `<firmware><feature>` wishes, SMM, loader type/format/stateless, SEV); a manually given
 * loader that a descriptor knows gets the rest filled in (read-only, format, NVRAM template).
 * Either way the NVRAM path is made up when missing. Run at define time (errors only matter for
 * new definitions, as libvirt swallows them when loading existing ones) and again at start.
 */
import type { DomainDef, OsLoader } from "../../conf/domain/types.ts";
import { VirtError } from "../../util/errors/index.ts";
import { firmwareMatches, type FirmwareDescriptor } from "./firmware.ts";

export interface FirmwareFillOptions {
  readonly descriptors: readonly FirmwareDescriptor[];
  /** Where made-up NVRAM files go (`/var/lib/libvirt/qemu/nvram` for the system driver). */
  readonly nvramDir: string;
  /** A new definition (`VIR_DOMAIN_DEF_PARSE_ABI_UPDATE`) rather than an existing one. */
  readonly abiUpdate: boolean;
  /**
   * qemu.conf `nvram`: loader images with their variable store templates, for manual
   * configurations no descriptor describes (default: libvirt's built-in list).
   */
  readonly legacyFirmwares?: readonly { loader: string; nvram: string }[];
}

/** libvirt's built-in `nvram` list (qemu.conf's commented default). */
export const DEFAULT_LEGACY_FIRMWARES: readonly { loader: string; nvram: string }[] = [
  { loader: "/usr/share/OVMF/OVMF_CODE.fd", nvram: "/usr/share/OVMF/OVMF_VARS.fd" },
  { loader: "/usr/share/OVMF/OVMF_CODE.secboot.fd", nvram: "/usr/share/OVMF/OVMF_VARS.fd" },
  { loader: "/usr/share/AAVMF/AAVMF_CODE.fd", nvram: "/usr/share/AAVMF/AAVMF_VARS.fd" },
  { loader: "/usr/share/AAVMF/AAVMF32_CODE.fd", nvram: "/usr/share/AAVMF/AAVMF32_VARS.fd" },
];

/**
 * A manual pflash loader of the legacy list (qemuFirmwareFillDomainLegacy): read-only raw
 * flash, its template the list's unless one is given, in raw format. False when none matches.
 */
function fillLegacy(def: DomainDef, list: readonly { loader: string; nvram: string }[]): boolean {
  const loader = def.os.loader;
  if (!loader || loader.path === undefined || loader.type !== "pflash") return false;
  if (loader.readonly === false || loader.stateless === true) return false;
  if (loader.format !== undefined && loader.format !== "raw") return false;
  const fw = list.find((f) => f.loader === loader.path);
  if (!fw) return false;
  loader.readonly = true;
  loader.format = "raw";
  const nvram = (def.os.nvram ??= {});
  nvram.template ??= fw.nvram;
  nvram.templateFormat = "raw";
  return true;
}

const FORMATS = new Set(["raw", "qcow2"]);

/** The `<firmware>` wishes: a feature's tristate. */
function wish(def: DomainDef, name: string): boolean | undefined {
  return def.os.firmwareFeatures?.find((f) => f.name === name)?.enabled;
}

/** Whether descriptor `d` may serve the domain (qemuFirmwareMatchDomain). */
function matches(def: DomainDef, d: FirmwareDescriptor): boolean {
  const os = def.os;
  const loader = os.loader;
  const want =
    os.firmware === "efi"
      ? "uefi"
      : os.firmware === "bios"
        ? "bios"
        : loader?.type === "pflash"
          ? "uefi"
          : loader?.type === "rom"
            ? "bios"
            : undefined;
  if (want === undefined || !d.interfaces.includes(want)) return false;
  // paths the domain already names must be the descriptor's
  if (d.device === "flash") {
    if (loader?.path !== undefined && loader.path !== d.executable) return false;
    if (os.nvram?.template !== undefined && os.nvram.template !== d.nvramTemplate) return false;
  } else if (d.device === "memory") {
    if (loader?.path !== undefined && loader.path !== d.executable) return false;
  } else if (d.device === "kernel") {
    if (os.kernel !== undefined && os.kernel !== d.executable) return false;
  }
  if (!firmwareMatches(d, os.arch ?? "x86_64", os.machine ?? "")) return false;
  const has = (f: string): boolean => d.features.includes(f);
  if (def.pm?.suspendToMem === true && !has("acpi-s3")) return false;
  if (def.pm?.suspendToDisk === true && !has("acpi-s4")) return false;
  const secureBoot = wish(def, "secure-boot");
  if (secureBoot === true && !has("secure-boot")) return false;
  if (secureBoot === false && has("secure-boot")) return false;
  const enrolled = wish(def, "enrolled-keys");
  if (enrolled === true && !has("enrolled-keys")) return false;
  if (enrolled === false && has("enrolled-keys")) return false;
  if (has("requires-smm")) {
    if (def.features?.smm?.state === false) return false;
    if (loader?.secure === false) return false;
  } else if (loader?.secure === true) return false;
  if (d.device === "flash") {
    const mode = d.mode ?? "split";
    if (loader?.stateless === true ? mode !== "stateless" : mode !== "split") return false;
    if (loader?.readonly === false && mode !== "combined") return false;
    const fmt = d.executableFormat ?? "raw";
    if (!FORMATS.has(fmt)) return false;
    if (loader?.format !== undefined && loader.format !== fmt) return false;
    if (mode === "split") {
      const tf = d.nvramTemplateFormat ?? "raw";
      if (!FORMATS.has(tf)) return false;
    }
  }
  if (d.device === "memory") {
    // a ROM mapped into memory is neither flash nor writable
    if (loader?.type === "pflash" || loader?.readonly === false) return false;
  }
  const sec = def.launchSecurity;
  // a TDX build only boots trust domains
  if (has("intel-tdx") && sec?.type !== "tdx") return false;
  if (sec?.type === "sev") {
    if (!has("amd-sev")) return false;
    // policy bit 2: SEV-ES
    if (((sec.policy ?? 0) & 0x4) !== 0 && !has("amd-sev-es")) return false;
  } else if (sec?.type === "sev-snp") {
    if (!has("amd-sev-snp")) return false;
  } else if (sec?.type === "tdx") {
    if (!has("intel-tdx")) return false;
  }
  return true;
}

/** Fills the domain from the chosen descriptor (qemuFirmwareEnableFeaturesModern). */
function apply(def: DomainDef, d: FirmwareDescriptor): void {
  const os = def.os;
  if (d.device === "flash") {
    const loader: OsLoader = (os.loader ??= {});
    loader.type = "pflash";
    loader.readonly = true;
    loader.format = d.executableFormat ?? "raw";
    if (d.executable !== undefined) loader.path = d.executable;
    // a network variable store is used as it is: no template to create it from
    if ((d.mode ?? "split") === "split" && d.nvramTemplate !== undefined && os.nvram?.type !== "network") {
      // a made-up or local NVRAM file can be created from the template
      const nvram = (os.nvram ??= {});
      nvram.template = d.nvramTemplate;
      nvram.templateFormat = d.nvramTemplateFormat ?? "raw";
    }
  } else if (d.device === "memory") {
    const loader: OsLoader = (os.loader ??= {});
    loader.type = "rom";
    if (d.executable !== undefined) loader.path = d.executable;
  } else if (d.device === "kernel" && d.executable !== undefined) {
    os.kernel = d.executable;
  }
  if (d.features.includes("requires-smm")) {
    def.features = { ...def.features, smm: { ...def.features?.smm, state: true } };
    if (os.loader) os.loader.secure = true;
  }
  if (os.firmware === undefined) {
    const first = d.interfaces.find((i) => i === "uefi" || i === "bios");
    if (first !== undefined) os.firmware = first === "uefi" ? "efi" : "bios";
  }
  if (os.firmware !== undefined) {
    // libvirt keeps the features in its own order (enrolled-keys, secure-boot)
    const features: { name: string; enabled: boolean }[] = [];
    const pflashWithoutTemplate =
      os.loader?.type === "pflash" && os.loader.stateless !== true && os.nvram?.template === undefined;
    // a non-local variable store's contents are unknown: enrolled-keys is left unsaid
    if (!pflashWithoutTemplate)
      features.push({ name: "enrolled-keys", enabled: d.features.includes("enrolled-keys") });
    features.push({ name: "secure-boot", enabled: d.features.includes("secure-boot") });
    os.firmwareFeatures = features;
  }
}

/** A local NVRAM path when none is given (qemuFirmwareEnsureNVRAM). */
function ensureNvram(def: DomainDef, nvramDir: string, abiUpdate: boolean): void {
  const os = def.os;
  const loader = os.loader;
  if (loader?.type !== "pflash" || loader.readonly !== true || loader.stateless === true) return;
  if (os.nvram && os.nvram.format === undefined && loader.format !== undefined)
    os.nvram.format = loader.format;
  if (os.nvram?.path !== undefined || os.nvram?.type === "network") return;
  const nvram = (os.nvram ??= {});
  if (loader.format !== undefined) nvram.format = loader.format;
  else delete nvram.format;
  let ext = "";
  if (nvram.format === "raw") {
    // newer builds name raw stores `.raw`; existing domains keep libvirt's historical `.fd`
    ext = abiUpdate && nvram.template?.endsWith(".raw") === true ? ".raw" : ".fd";
  } else if (nvram.format === "qcow2") ext = ".qcow2";
  nvram.path = `${nvramDir}/${def.name}_VARS${ext}`;
}

/**
 * Performs firmware selection on `def` (in place). Throws libvirt's errors: an unsupported
 * loader or NVRAM format, or no descriptor satisfying `<os firmware=>`.
 */
export function fillFirmware(def: DomainDef, opts: FirmwareFillOptions): void {
  const os = def.os;
  const loader = os.loader;
  // libvirt validates the request first (virDomainDefOSValidate): selection would otherwise
  // fill in what makes a bad request look good
  if (os.firmware === undefined) {
    if (opts.abiUpdate && (os.firmwareFeatures?.length ?? 0) > 0)
      throw new VirtError("DOMAIN_FW_FEATURES_WITHOUT_AUTOSELECT", {}, { xpath: "/domain/os/firmware" });
    if (loader && loader.path === undefined)
      throw new VirtError("DOMAIN_FW_LOADER_NO_PATH", {}, { xpath: "/domain/os/loader" });
  }
  if (loader?.format !== undefined && !FORMATS.has(loader.format))
    throw new VirtError("FIRMWARE_LOADER_FORMAT", { format: loader.format });
  if (os.nvram?.format !== undefined && !FORMATS.has(os.nvram.format))
    throw new VirtError("FIRMWARE_NVRAM_FORMAT", { format: os.nvram.format });
  const auto = os.firmware !== undefined;
  if (!auto && (!loader || loader.type === "rom")) {
    // a plain BIOS image: custom, so raw unless said otherwise
    if (loader && loader.format === undefined) loader.format = "raw";
    return;
  }
  const chosen = opts.descriptors.find((d) => matches(def, d));
  if (chosen) apply(def, chosen);
  else if (auto) throw new VirtError("FIRMWARE_NOT_FOUND", { firmware: os.firmware ?? "" });
  else if (fillLegacy(def, opts.legacyFirmwares ?? DEFAULT_LEGACY_FIRMWARES)) {
    // a loader of qemu.conf's nvram list
  }
  // completely custom paths are taken to be raw unless said otherwise
  else if (loader && loader.format === undefined) loader.format = "raw";
  ensureNvram(def, opts.nvramDir, opts.abiUpdate);
}

/**
 * The define-time step (qemuDomainDefBootPostParse): an existing definition with autoselection
 * keeps the raw images it could only ever have had before libvirt 9.2; selection errors are
 * only reported for new definitions (existing ones fail when started instead).
 */
export function fillFirmwareAtDefine(def: DomainDef, opts: FirmwareFillOptions): void {
  if (!opts.abiUpdate && def.os.firmware !== undefined) {
    // (or the format asked of the variable store)
    const loader = (def.os.loader ??= {});
    loader.format ??= def.os.nvram?.format ?? "raw";
  }
  try {
    fillFirmware(def, opts);
  } catch (e) {
    if (opts.abiUpdate) throw e;
  }
}
