/**
 * Reads libvirt's QEMU capability files (`<qemuCaps>`: its cache format, and the
 * `caps_*.xml` files of its test suite) into `QemuCaps`, so golden tests run with exactly the
 * facts libvirt used.
 *
 * libvirt 11 no longer writes flags that every QEMU it supports has (`blockdev`,
 * `device.json`, …); for a file describing QEMU >= 6.2 they are added back (see
 * `IMPLIED_SINCE_QEMU_6_2`), so a loaded file answers like a probe of the same binary would.
 */
import { readFileSync } from "node:fs";
import { parseXml, type XmlElement } from "../../../conf/xml.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { IMPLIED_SINCE_QEMU_6_2, MIN_QEMU_VERSION } from "./flags.ts";
import type {
  Accel,
  AccelCaps,
  CpuModelInfo,
  HostCpuInfo,
  HostCpuProperty,
  MachineInfo,
  QemuCaps,
  SevCaps,
  SgxCaps,
} from "./types.ts";

export interface LoadCapsOptions {
  /** Add the flags libvirt 11 leaves out for QEMU >= 6.2 (default true). */
  readonly impliedFlags?: boolean;
  /**
   * Keep a macOS host's HVF accelerator data (default false: the QEMU driver runs KVM and TCG
   * guests only, so a file's HVF machines and models are skipped).
   */
  readonly hvf?: boolean;
}

const ACCELS: readonly Accel[] = ["kvm", "hvf", "tcg"];

function invalid(document: string, reason: string, el?: XmlElement): VirtError {
  return new VirtError(
    "QEMU_CAPS_FILE_INVALID",
    { path: document, reason: el ? `${reason} at ${el.xpath} (line ${el.line})` : reason },
    el ? { xpath: el.xpath, line: el.line, column: el.column } : {},
  );
}

function yesNo(el: XmlElement, attr: string, document: string): boolean | undefined {
  const v = el.attr(attr);
  if (v === undefined) return undefined;
  if (v === "yes") return true;
  if (v === "no") return false;
  throw invalid(document, `attribute '${attr}' must be 'yes' or 'no', not '${v}'`, el);
}

function required(el: XmlElement, attr: string, document: string): string {
  const v = el.attr(attr);
  if (v === undefined || v === "") throw invalid(document, `missing attribute '${attr}'`, el);
  return v;
}

function integer(text: string | undefined, what: string, document: string, el?: XmlElement): number {
  if (text === undefined || !/^\d+$/.test(text))
    throw invalid(document, `${what} must be a non-negative integer, not '${text ?? ""}'`, el);
  return Number(text);
}

function accelOf(el: XmlElement, document: string, hvf: boolean): Accel | undefined {
  const t = required(el, "type", document);
  if (t === "kvm" || t === "tcg") return t;
  if (t === "hvf") return hvf ? t : undefined;
  throw invalid(document, `unknown accelerator type '${t}'`, el);
}

function machineOf(el: XmlElement, document: string): MachineInfo {
  const alias = el.attr("alias");
  const defaultCPU = el.attr("defaultCPU");
  const defaultRAMid = el.attr("defaultRAMid");
  const acpi = yesNo(el, "acpi", document);
  const maxCpus = el.attr("maxCpus");
  return {
    name: required(el, "name", document),
    ...(alias !== undefined ? { alias } : {}),
    isDefault: yesNo(el, "default", document) ?? false,
    maxCpus: maxCpus === undefined ? 0 : integer(maxCpus, "maxCpus", document, el),
    hotplugCpus: yesNo(el, "hotplugCpus", document) ?? false,
    ...(defaultCPU !== undefined ? { defaultCPU } : {}),
    ...(defaultRAMid !== undefined ? { defaultRAMid } : {}),
    ...(acpi !== undefined ? { acpi } : {}),
    numaMemSupported: yesNo(el, "numaMemSupported", document) ?? false,
    deprecated: yesNo(el, "deprecated", document) ?? false,
  };
}

function cpuOf(el: XmlElement, document: string): CpuModelInfo {
  const typename = el.attr("typename");
  const usable = el.attr("usable");
  return {
    name: required(el, "name", document),
    ...(typename !== undefined ? { typename } : {}),
    // libvirt writes 'unknown' when QEMU did not say; treat like QEMU's silence in the probe.
    usable: usable !== "no",
    ...(usable === "unknown" ? { usableUnknown: true } : {}),
    blockers: el.all("blocker").map((b) => required(b, "name", document)),
    deprecated: yesNo(el, "deprecated", document) ?? false,
  };
}

function hostCpuOf(el: XmlElement, document: string): HostCpuInfo {
  const props: HostCpuProperty[] = el.all("property").map((p) => {
    const type = required(p, "type", document);
    if (type !== "boolean" && type !== "number" && type !== "string") {
      throw invalid(document, `unknown property type '${type}'`, p);
    }
    const migratable = yesNo(p, "migratable", document);
    return {
      name: required(p, "name", document),
      type,
      value: p.attr("value") ?? "",
      ...(migratable !== undefined ? { migratable } : {}),
    };
  });
  return {
    model: required(el, "model", document),
    migratability: yesNo(el, "migratability", document) ?? false,
    props,
  };
}

function sgxOf(el: XmlElement, document: string): SgxCaps {
  const size = el.child("section_size");
  return {
    flc: el.childText("flc") === "yes",
    sgx1: el.childText("sgx1") === "yes",
    sgx2: el.childText("sgx2") === "yes",
    sectionSizeKiB: integer(size?.content, "<section_size>", document, size ?? el),
    sections: (el.child("sections")?.all("section") ?? []).map((s) => ({
      node: integer(s.attr("node"), "section node", document, s),
      sizeKiB: integer(s.attr("size"), "section size", document, s),
    })),
  };
}

function sevOf(el: XmlElement, document: string): SevCaps {
  const cbit = el.child("cbitpos");
  const reduced = el.child("reducedPhysBits");
  const cpu0Id = el.childText("cpu0Id");
  return {
    cbitpos: integer(cbit?.content, "<cbitpos>", document, cbit ?? el),
    reducedPhysBits: integer(reduced?.content, "<reducedPhysBits>", document, reduced ?? el),
    ...(cpu0Id ? { cpu0Id } : {}),
  };
}

/** Parses the text of a libvirt `<qemuCaps>` document. `document` names it in errors. */
export function parseCapsXml(
  text: string,
  document = "qemuCaps.xml",
  options: LoadCapsOptions = {},
): QemuCaps {
  const root = parseXml(text, document);
  if (root.name !== "qemuCaps")
    throw invalid(document, `root element is <${root.name}>, expected <qemuCaps>`);
  const versionEl = root.child("version");
  const version = integer(versionEl?.content, "<version>", document, versionEl ?? root);
  const arch = root.childText("arch");
  if (!arch) throw invalid(document, "missing <arch>", root);
  const flags = new Set<string>();
  for (const f of root.all("flag")) flags.add(required(f, "name", document));
  if ((options.impliedFlags ?? true) && version >= MIN_QEMU_VERSION) {
    for (const f of IMPLIED_SINCE_QEMU_6_2) flags.add(f);
    // JSON -device came with QEMU 7.0: libvirt's 6.2 outputs use key=value
    if (version < 7000000) flags.delete("device.json");
  }
  const hvf = options.hvf ?? false;
  const accel: Partial<Record<Accel, AccelCaps>> = {};
  const machines = new Map<Accel, MachineInfo[]>();
  const cpus = new Map<Accel, CpuModelInfo[]>();
  const hosts = new Map<Accel, HostCpuInfo>();
  for (const m of root.all("machine")) {
    const a = accelOf(m, document, hvf);
    if (a) machines.set(a, [...(machines.get(a) ?? []), machineOf(m, document)]);
  }
  for (const c of root.all("cpu")) {
    const a = accelOf(c, document, hvf);
    if (a) cpus.set(a, [...(cpus.get(a) ?? []), cpuOf(c, document)]);
  }
  for (const h of root.all("hostCPU")) {
    const a = accelOf(h, document, hvf);
    if (a) hosts.set(a, hostCpuOf(h, document));
  }
  for (const a of ACCELS) {
    const ms = machines.get(a);
    const cs = cpus.get(a);
    const h = hosts.get(a);
    if (ms === undefined && cs === undefined && h === undefined) continue;
    accel[a] = { machines: ms ?? [], cpuModels: cs ?? [], ...(h ? { hostCpu: h } : {}) };
  }
  const hv = root.child("hypervCapabilities");
  const sgx = root.child("sgx");
  const sev = root.child("sev");
  return {
    emulator: root.childText("emulator") ?? "",
    version,
    package: root.childText("package") ?? "",
    arch,
    flags,
    accel,
    migrationCapabilities: [],
    binaryCtime: 0,
    ...(hv?.attr("supported") === "yes"
      ? { hypervCapabilities: hv.all("cap").map((c) => required(c, "name", document)) }
      : {}),
    ...(sgx?.attr("supported") === "yes" ? { sgx: sgxOf(sgx, document) } : {}),
    ...(sev ? { sev: sevOf(sev, document) } : {}),
  };
}

/** Reads a libvirt capability file (e.g. `caps_7.2.0_x86_64.xml`). */
export function loadCapsFile(path: string, options: LoadCapsOptions = {}): QemuCaps {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined;
    const reason =
      code === "ENOENT" ? "No such file or directory" : e instanceof Error ? e.message : String(e);
    throw new VirtError("QEMU_CAPS_FILE_UNREADABLE", { path, reason }, { errno: code }, { cause: e });
  }
  return parseCapsXml(text, path, options);
}
