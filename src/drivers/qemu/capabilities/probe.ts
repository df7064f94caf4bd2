/**
 * Probes a QEMU binary: starts it with `-machine none` (see process.ts), asks over QMP what
 * libvirt asks, and builds `QemuCaps` (version, target, machines, CPU models, the expanded host
 * CPU, migration capabilities and libvirt's capability flags, see flags.ts).
 *
 * As in libvirt, a first process runs with KVM when the host might have it (`-accel kvm
 * -accel tcg`, QEMU falls back to TCG by itself); `query-kvm` tells which one is active. When it
 * was KVM, a second, TCG-only process gives the TCG machine list, CPU models and host CPU (the
 * `max` model, as libvirt uses for TCG).
 *
 * The QMP conversation is separate from process handling (`probeCapsWith`), so it also runs
 * against a fake server replaying a recorded transcript.
 */
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { existsSync } from "node:fs";
import type { QmpClient, QmpObject } from "../monitor/qmp.ts";
import { VirtError, isVirtError } from "../../../util/errors/index.ts";
import { QapiSchema } from "./schema.ts";
import {
  DEVICE_PROP_RULES,
  MACHINE_PROP_RULES,
  MIGRATION_CAPABILITY_FLAGS,
  MIN_QEMU_VERSION,
  OBJECT_PROP_RULES,
  TPM_MODEL_FLAGS,
  TPM_TYPE_FLAGS,
  commandLineFlags,
  listFlags,
  objectTypeFlags,
  processFlags,
  propFlags,
  schemaFlags,
} from "./flags.ts";
import { startQmpProcess } from "./process.ts";
import type {
  Accel,
  AccelCaps,
  CpuDefinition,
  CpuModelInfo,
  HostCpuInfo,
  HostCpuProperty,
  MachineInfo,
  QemuCaps,
} from "./types.ts";

/** One QMP conversation with a QEMU process (or a fake) for probing. */
export interface ProbeSession {
  readonly qmp: QmpClient;
  close(): Promise<void>;
}

/** Opens a probe session whose QEMU runs with these accelerators, in order of preference. */
export type OpenProbeSession = (accel: readonly Accel[]) => Promise<ProbeSession>;

export interface ProbeWithOptions {
  /** Binary path recorded in the result. */
  readonly emulator: string;
  /** ctime of the binary in ms (0 when unknown). */
  readonly binaryCtime: number;
  /** Accelerators of the first process: `["kvm", "tcg"]` when the host may have KVM. */
  readonly firstAccel: readonly Accel[];
  readonly open: OpenProbeSession;
  /** Timeout of each QMP command (default 30 s). */
  readonly commandTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ProbeOptions {
  /** `auto` (default) tries KVM when `/dev/kvm` exists; `tcg` never does. */
  readonly accel?: "auto" | "tcg";
  /** Time allowed for each QEMU start and each QMP command (default 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

type Json = unknown;

function isObj(v: Json): v is QmpObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function strOf(v: Json): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function boolOf(v: Json): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}

function numOf(v: Json): number | undefined {
  return typeof v === "number" ? v : undefined;
}

/** Architecture names as libvirt spells them, from QEMU's target names. */
function libvirtArch(qemuArch: string): string {
  switch (qemuArch) {
    case "i386":
      return "i686";
    case "arm":
      return "armv7l";
    default:
      return qemuArch;
  }
}

/** libvirt's own default machine per architecture, preferred over QEMU's default. */
const PREFERRED_MACHINE: Readonly<Record<string, string>> = {
  x86_64: "pc",
  i686: "pc",
  aarch64: "virt",
  armv7l: "virt",
  riscv32: "virt",
  riscv64: "virt",
  ppc64: "pseries",
  ppc64le: "pseries",
  ppc: "g3beige",
  s390x: "s390-ccw-virtio",
  mips: "malta",
  mipsel: "malta",
  mips64: "malta",
  mips64el: "malta",
  sparc: "SS-5",
  sparc64: "sun4u",
};

class Asker {
  constructor(
    private readonly qmp: QmpClient,
    private readonly binary: string,
    private readonly timeoutMs: number | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async ask(command: string, args?: QmpObject): Promise<Json> {
    try {
      return await this.qmp.execute(command, args, { timeoutMs: this.timeoutMs, signal: this.signal });
    } catch (e) {
      throw this.wrap(e, command);
    }
  }

  /** Like `ask`, but a QEMU error (not a broken connection) answers `undefined`. */
  async tryAsk(
    command: string,
    args?: QmpObject,
  ): Promise<{ ok: true; value: Json } | { ok: false; error: VirtError }> {
    try {
      return {
        ok: true,
        value: await this.qmp.execute(command, args, { timeoutMs: this.timeoutMs, signal: this.signal }),
      };
    } catch (e) {
      if (isVirtError(e) && e.code === "QEMU_COMMAND_FAILED") return { ok: false, error: e };
      throw this.wrap(e, command);
    }
  }

  wrap(e: unknown, command: string): VirtError {
    if (isVirtError(e) && !e.code.startsWith("QEMU_MONITOR_") && e.code !== "QEMU_COMMAND_FAILED") return e;
    const reason = isVirtError(e) ? e.detail : e instanceof Error ? e.message : String(e);
    return new VirtError(
      "QEMU_PROBE_FAILED",
      { binary: this.binary, reason },
      { command, ...(isVirtError(e) ? { qemuClass: e.details.qemuClass, cause: e.code } : {}) },
      { cause: e },
    );
  }

  bad(command: string, what: string): VirtError {
    return new VirtError("QEMU_PROBE_FAILED", {
      binary: this.binary,
      reason: `unexpected reply to '${command}': ${what}`,
    });
  }

  async list(command: string, args?: QmpObject): Promise<Json[]> {
    const v = await this.ask(command, args);
    if (!Array.isArray(v)) throw this.bad(command, "expected a list");
    return v as Json[];
  }

  /** Property names of a device or QOM type; a missing type answers an empty map. */
  async props(
    command: "device-list-properties" | "qom-list-properties",
    typename: string,
  ): Promise<Map<string, QmpObject>> {
    const r = await this.tryAsk(command, { typename });
    const out = new Map<string, QmpObject>();
    if (!r.ok) {
      // Like libvirt: a type this binary lacks has no properties.
      if (r.error.details.qemuClass === "DeviceNotFound") return out;
      throw this.wrap(r.error, command);
    }
    if (!Array.isArray(r.value)) throw this.bad(command, "expected a list");
    for (const p of r.value as Json[]) {
      if (isObj(p) && typeof p.name === "string") out.set(p.name, p);
    }
    return out;
  }
}

function toMachines(raw: readonly Json[], arch: string): MachineInfo[] {
  const machines: MachineInfo[] = [];
  for (const m of raw) {
    if (!isObj(m)) continue;
    const name = strOf(m.name);
    if (name === undefined || name === "none") continue;
    const alias = strOf(m.alias);
    const defaultCPU = strOf(m["default-cpu-type"]);
    const defaultRAMid = strOf(m["default-ram-id"]);
    const acpi = boolOf(m.acpi);
    machines.push({
      name,
      ...(alias !== undefined ? { alias } : {}),
      isDefault: boolOf(m["is-default"]) ?? false,
      maxCpus: numOf(m["cpu-max"]) ?? 0,
      hotplugCpus: boolOf(m["hotpluggable-cpus"]) ?? false,
      ...(defaultCPU !== undefined ? { defaultCPU } : {}),
      ...(defaultRAMid !== undefined ? { defaultRAMid } : {}),
      ...(acpi !== undefined ? { acpi } : {}),
      numaMemSupported: boolOf(m["numa-mem-supported"]) ?? false,
      deprecated: boolOf(m.deprecated) ?? false,
    });
  }
  // Like libvirt: its preferred machine for the architecture first, else QEMU's default.
  const preferred = PREFERRED_MACHINE[arch];
  let first =
    preferred === undefined ? -1 : machines.findIndex((m) => m.alias === preferred || m.name === preferred);
  if (first < 0) first = machines.findIndex((m) => m.isDefault);
  if (first > 0) machines.unshift(...machines.splice(first, 1));
  return machines;
}

/**
 * QEMU's `query-cpu-definitions` answer as CPU models: usability from `unavailable-features`
 * (the blockers), deprecation, and the versioned model an alias stands for (`alias-of`).
 */
export function cpuModelsFromQmp(raw: readonly Json[]): CpuModelInfo[] {
  const out: CpuModelInfo[] = [];
  for (const c of raw) {
    if (!isObj(c)) continue;
    const name = strOf(c.name);
    if (name === undefined) continue;
    const unavailable = Array.isArray(c["unavailable-features"])
      ? (c["unavailable-features"] as Json[]).filter((f): f is string => typeof f === "string")
      : undefined;
    const typename = strOf(c.typename);
    const aliasOf = strOf(c["alias-of"]);
    out.push({
      name,
      ...(typename !== undefined ? { typename } : {}),
      ...(aliasOf !== undefined ? { aliasOf } : {}),
      ...(unavailable === undefined ? { usableUnknown: true } : {}),
      usable: unavailable === undefined ? true : unavailable.length === 0,
      blockers: unavailable ?? [],
      deprecated: boolOf(c.deprecated) ?? false,
    });
  }
  return out;
}

function expansionProps(reply: Json): { name: string; props: [string, Json][] } | undefined {
  if (!isObj(reply) || !isObj(reply.model)) return undefined;
  const name = strOf(reply.model.name);
  if (name === undefined) return undefined;
  const props = isObj(reply.model.props) ? Object.entries(reply.model.props) : [];
  return { name, props };
}

/**
 * Expands the host CPU model (`host` under KVM, `max` under TCG) statically, once as migratable
 * and once not; a feature only on in the second is "on, but not migratable".
 */
async function probeHostCpu(asker: Asker, model: string, arch: string): Promise<HostCpuInfo | undefined> {
  const x86 = arch === "x86_64" || arch === "i686";
  const type = arch === "aarch64" || arch === "armv7l" ? "full" : "static";
  const first = await asker.tryAsk("query-cpu-model-expansion", { type, model: { name: model } });
  if (!first.ok) return undefined;
  const migratable = expansionProps(first.value);
  if (!migratable) throw asker.bad("query-cpu-model-expansion", "no model in the reply");
  let nonMigratable: Map<string, Json> | undefined;
  if (x86) {
    const second = await asker.tryAsk("query-cpu-model-expansion", {
      type,
      model: { name: model, props: { migratable: false } },
    });
    const nm = second.ok ? expansionProps(second.value) : undefined;
    if (nm) nonMigratable = new Map(nm.props);
  }
  const props: HostCpuProperty[] = [];
  for (const [name, value] of migratable.props) {
    if (typeof value === "boolean") {
      const other = nonMigratable?.get(name);
      if (nonMigratable && value) props.push({ name, type: "boolean", value: "true", migratable: true });
      else if (nonMigratable && other === true)
        props.push({ name, type: "boolean", value: "true", migratable: false });
      else props.push({ name, type: "boolean", value: String(value) });
    } else if (typeof value === "number") {
      props.push({ name, type: "number", value: String(value) });
    } else if (typeof value === "string") {
      props.push({ name, type: "string", value });
    }
  }
  return { model: migratable.name, migratability: nonMigratable !== undefined, props };
}

/**
 * The CPU map (cpu-map.ts): each named x86 model expanded statically, keeping the features it
 * turns on, its vendor and family/model. Under TCG, where QEMU adds no accelerator defaults.
 */
async function probeCpuDefinitions(
  asker: Asker,
  models: readonly CpuModelInfo[],
  arch: string,
): Promise<CpuDefinition[]> {
  if (arch !== "x86_64" && arch !== "i686") return [];
  const out: CpuDefinition[] = [];
  for (const m of models) {
    if (m.name === "host" || m.name === "max" || m.name === "base") continue;
    const r = await asker.tryAsk("query-cpu-model-expansion", { type: "static", model: { name: m.name } });
    if (!r.ok) continue;
    const e = expansionProps(r.value);
    if (!e) continue;
    const features: string[] = [];
    let vendor: string | undefined;
    let family: number | undefined;
    let model: number | undefined;
    for (const [k, v] of e.props) {
      if (v === true) features.push(k);
      else if (k === "vendor" && typeof v === "string") vendor = v;
      else if (k === "family" && typeof v === "number") family = v;
      else if (k === "model" && typeof v === "number") model = v;
    }
    out.push({
      name: m.name,
      ...(vendor !== undefined ? { vendor } : {}),
      ...(family !== undefined ? { family } : {}),
      ...(model !== undefined ? { model } : {}),
      features: features.sort(),
    });
  }
  return out;
}

async function probeCpuModels(asker: Asker, flags: Set<string>): Promise<CpuModelInfo[]> {
  if (!flags.has("query-cpu-definitions")) return [];
  const models = cpuModelsFromQmp(await asker.list("query-cpu-definitions"));
  if (models.some((m) => m.name === "max")) flags.add("cpu-max");
  return models;
}

function formatVersion(v: number): string {
  return `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;
}

/** The QMP part of the probe, over sessions that `open` provides. */
export async function probeCapsWith(options: ProbeWithOptions): Promise<QemuCaps> {
  const binary = options.emulator;
  const flags = new Set<string>();
  const accel: Partial<Record<Accel, AccelCaps>> = {};
  let version: number;
  let pkg: string;
  let arch: string;
  let migrationCapabilities: string[];
  let objectTypes: Set<string>;
  let activeAccel: Accel;
  let cpuDefinitions: CpuDefinition[] | undefined;

  const first = await options.open(options.firstAccel);
  try {
    const asker = new Asker(first.qmp, binary, options.commandTimeoutMs, options.signal);

    const ver = await asker.ask("query-version");
    if (!isObj(ver) || !isObj(ver.qemu)) throw asker.bad("query-version", "no qemu version");
    const major = numOf(ver.qemu.major) ?? 0;
    const minor = numOf(ver.qemu.minor) ?? 0;
    const micro = numOf(ver.qemu.micro) ?? 0;
    version = major * 1_000_000 + minor * 1000 + micro;
    pkg = strOf(ver.package)?.trim() ?? "";
    if (version < MIN_QEMU_VERSION) {
      throw new VirtError("QEMU_VERSION_TOO_OLD", {
        required: formatVersion(MIN_QEMU_VERSION),
        found: formatVersion(version),
        binary,
      });
    }

    const target = await asker.ask("query-target");
    const qemuArch = isObj(target) ? strOf(target.arch) : undefined;
    if (qemuArch === undefined) throw asker.bad("query-target", "no arch");
    arch = libvirtArch(qemuArch);

    const schema = new QapiSchema(await asker.list("query-qmp-schema"));
    schemaFlags(schema, flags);

    if (schema.hasCommand("query-kvm")) {
      const kvm = await asker.ask("query-kvm");
      if (isObj(kvm) && kvm.present === true && kvm.enabled === true) flags.add("kvm");
    }
    activeAccel = flags.has("kvm") ? "kvm" : "tcg";

    objectTypes = new Set(
      (await asker.list("qom-list-types")).flatMap((t) =>
        isObj(t) && typeof t.name === "string" ? [t.name] : [],
      ),
    );
    objectTypeFlags(objectTypes, flags);

    for (const rule of DEVICE_PROP_RULES) {
      if (rule.when !== undefined && !flags.has(rule.when)) continue;
      const props = await asker.props("device-list-properties", rule.type);
      propFlags(rule.props, new Set(props.keys()), flags);
      // libvirt notes whether SCSI passthrough of virtio-blk is off by default.
      if (
        rule.props.some((p) => p.flag === "virtio-blk-pci.scsi") &&
        props.get("scsi")?.["default-value"] === false
      ) {
        flags.add("virtio-blk-pci.scsi.default.disabled");
      }
    }
    for (const rule of OBJECT_PROP_RULES) {
      if (rule.when !== undefined && !flags.has(rule.when)) continue;
      const props = await asker.props("qom-list-properties", rule.type);
      propFlags(rule.props, new Set(props.keys()), flags);
    }

    const machines = toMachines(await asker.list("query-machines"), arch);
    for (const rule of MACHINE_PROP_RULES) {
      if (rule.arches && !rule.arches.includes(arch)) continue;
      const wanted = rule.whenMachine;
      if (wanted !== undefined && !machines.some((m) => m.name === wanted || m.alias === wanted)) continue;
      const props = await asker.props("qom-list-properties", rule.qomType);
      propFlags(rule.props, new Set(props.keys()), flags);
    }

    const cpuModels = await probeCpuModels(asker, flags);

    if (schema.hasCommand("query-tpm-models")) {
      const models = await asker.list("query-tpm-models");
      listFlags(
        TPM_MODEL_FLAGS,
        models.filter((m): m is string => typeof m === "string"),
        flags,
      );
      const types = await asker.list("query-tpm-types");
      listFlags(
        TPM_TYPE_FLAGS,
        types.filter((m): m is string => typeof m === "string"),
        flags,
      );
    }

    const options_ = new Map<string, Set<string>>();
    for (const o of await asker.list("query-command-line-options")) {
      if (!isObj(o) || typeof o.option !== "string") continue;
      const params = Array.isArray(o.parameters) ? (o.parameters as Json[]) : [];
      options_.set(
        o.option,
        new Set(params.flatMap((p) => (isObj(p) && typeof p.name === "string" ? [p.name] : []))),
      );
    }
    commandLineFlags(options_, flags);

    migrationCapabilities = (await asker.list("query-migrate-capabilities")).flatMap((c) =>
      isObj(c) && typeof c.capability === "string" ? [c.capability] : [],
    );
    listFlags(MIGRATION_CAPABILITY_FLAGS, migrationCapabilities, flags);

    // The types exist in every x86 build; only the host can tell whether they work.
    if (flags.has("sev-guest") && !(await asker.tryAsk("query-sev-capabilities")).ok)
      flags.delete("sev-guest");
    if (flags.has("sgx-epc") && !(await asker.tryAsk("query-sgx-capabilities")).ok) flags.delete("sgx-epc");

    processFlags(flags, arch);

    const hostCpu = flags.has("query-cpu-model-expansion")
      ? await probeHostCpu(asker, activeAccel === "kvm" ? "host" : "max", arch)
      : undefined;
    accel[activeAccel] = { machines, cpuModels, ...(hostCpu ? { hostCpu } : {}) };
    if (activeAccel === "tcg" && flags.has("query-cpu-model-expansion"))
      cpuDefinitions = await probeCpuDefinitions(asker, cpuModels, arch);
  } finally {
    await first.close();
  }

  if (activeAccel === "kvm" && flags.has("tcg")) {
    const second = await options.open(["tcg"]);
    try {
      const asker = new Asker(second.qmp, binary, options.commandTimeoutMs, options.signal);
      const cpuModels = await probeCpuModels(asker, flags);
      const hostCpu = flags.has("query-cpu-model-expansion")
        ? await probeHostCpu(asker, "max", arch)
        : undefined;
      const machines = toMachines(await asker.list("query-machines"), arch);
      accel.tcg = { machines, cpuModels, ...(hostCpu ? { hostCpu } : {}) };
      if (flags.has("query-cpu-model-expansion"))
        cpuDefinitions = await probeCpuDefinitions(asker, cpuModels, arch);
    } finally {
      await second.close();
    }
  }

  return {
    emulator: binary,
    version,
    package: pkg,
    arch,
    flags,
    accel,
    migrationCapabilities,
    binaryCtime: options.binaryCtime,
    objectTypes,
    ...(cpuDefinitions && cpuDefinitions.length > 0 ? { cpuDefinitions } : {}),
  };
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  ENOTDIR: "Not a directory",
  ELOOP: "Too many levels of symbolic links",
  EISDIR: "Is a directory",
};

function systemReason(e: unknown): string {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined;
  if (code !== undefined && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code];
  return e instanceof Error ? e.message : String(e);
}

/** Checks that the binary exists and is executable; returns its ctime in ms. */
export function checkBinary(binary: string): Promise<number> {
  // Synchronous: a stat and an access take microseconds, each asynchronous call two thread
  // hand-offs, and this runs for every definition parsed.
  let ctimeMs: number;
  try {
    const st = statSync(binary);
    if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    ctimeMs = st.ctimeMs;
  } catch (e) {
    return Promise.reject(
      new VirtError("QEMU_BINARY_MISSING", { binary, reason: systemReason(e) }, {}, { cause: e }),
    );
  }
  try {
    accessSync(binary, fsConstants.X_OK);
  } catch (e) {
    return Promise.reject(
      new VirtError("QEMU_BINARY_NOT_EXECUTABLE", { binary, reason: systemReason(e) }, {}, { cause: e }),
    );
  }
  return Promise.resolve(ctimeMs);
}

/**
 * Probes `binary` by running it (twice when KVM is active: once more for TCG). Every process,
 * socket and temp directory is gone when this returns or throws.
 */
export async function probeQemuCaps(binary: string, options: ProbeOptions = {}): Promise<QemuCaps> {
  const binaryCtime = await checkBinary(binary);
  const tryKvm = (options.accel ?? "auto") === "auto" && existsSync("/dev/kvm");
  return probeCapsWith({
    emulator: binary,
    binaryCtime,
    firstAccel: tryKvm ? ["kvm", "tcg"] : ["tcg"],
    commandTimeoutMs: options.timeoutMs,
    signal: options.signal,
    open: async (accel) => {
      const p = await startQmpProcess({
        binary,
        accel,
        timeoutMs: options.timeoutMs,
        commandTimeoutMs: options.timeoutMs,
        signal: options.signal,
      });
      return { qmp: p.qmp, close: () => p.stop() };
    },
  });
}
