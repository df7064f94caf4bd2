/**
 * The golden ratchet over libvirt 11.3.0's whole x86_64 suite (issue 18): every x86_64 output
 * of `tests/qemuxmlconfdata/` (latest, `.abi-update`, `+amdsev`, `+hvf` and the versioned
 * `.x86_64-6.2.0` ... outputs) judged like `npm run conformance` judges the sample, and the
 * checked-in list of the entries that are not exact yet (`suite-differs.json`), which may only
 * shrink: `suite.test.ts` fails on an unlisted entry that differs, on a listed one that is now
 * exact, and on a listed verdict that changed.
 *
 * An entry is one part of one output variant of one case: `args` (the `.args` or `.err`) or
 * `xml` (the `.xml`, or for a parse-time `.err` the parse error). Reasons in the list are
 * generated from the comparison, in our own words: option, key, element and attribute names,
 * error numbers and our own messages, never libvirt's expected text.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCapsFile } from "../../drivers/qemu/capabilities/load.ts";
import type { QemuCaps } from "../../drivers/qemu/capabilities/types.ts";
import {
  COMMAND_FLAGS,
  MIGRATION_CAPABILITY_FLAGS,
  OBJECT_TYPE_FLAGS,
  SCHEMA_FLAGS,
  TPM_MODEL_FLAGS,
  TPM_TYPE_FLAGS,
} from "../../drivers/qemu/capabilities/flags.ts";
import { loadFirmwareDescriptors } from "../../drivers/qemu/firmware.ts";
import { parseArgsFile } from "../../drivers/qemu/command/argsfile.ts";
import type { CommandContext } from "../../drivers/qemu/command/types.ts";
import type { DomainFacts, HostAudioFacts } from "../../conf/domain/types.ts";
import { type CaseResult, type Expectation, runCase, type Verdict } from "./conformance-case.ts";
import { harnessHostCpu } from "./host-cpus.ts";
import { VirErrorNumber } from "../../util/errors/index.ts";
import { sampleShapedView, x86Outputs } from "../libvirt-suite.ts";
import { readRealQemuRecord, realQemuDocSection, type RealQemuRecord } from "./accept/suite-real-record.ts";

/** The checked-in list, next to this file. */
export const RATCHET_FILE = new URL("./suite-differs.json", import.meta.url).pathname;

export type Part = "args" | "xml";
export type Family =
  | "firmware"
  | "disk"
  | "display/sound"
  | "devices"
  | "memory/cpu"
  | "validation"
  | "qemu namespace"
  | "other";
export const FAMILIES: readonly Family[] = [
  "firmware",
  "disk",
  "display/sound",
  "devices",
  "memory/cpu",
  "validation",
  "qemu namespace",
  "other",
];

/** One judged part of one output variant of one case. */
export interface SuiteEntry {
  case: string;
  /** `latest`, `latest.abi-update`, `latest+amdsev`, `latest+hvf`, `7.2.0`, ... */
  variant: string;
  part: Part;
  verdict: Exclude<Verdict, "missing">;
  family: Family;
  /** Generated from the comparison; empty when exact. */
  reason: string;
}

/** `latest...` variants as opposed to the versioned outputs. */
export function isLatest(variant: string): boolean {
  return variant.startsWith("latest");
}

export function entryKey(e: Pick<SuiteEntry, "case" | "variant" | "part">): string {
  return `${e.case} ${e.variant} ${e.part}`;
}

const FAMILY_RULES: readonly [Family, RegExp][] = [
  ["qemu namespace", /^qemu-|-ns\b|namespace|passthrough-libvirt/],
  ["firmware", /firmware|bios|smbios|loader|nvram|launch-security|sev|tdx|os-|efi|acpi|sysinfo/],
  ["display/sound", /graphics|vnc|spice|sdl|egl|dbus|video|vga|qxl|gpu|sound|audio|ramfb|bochs|cirrus/],
  [
    "disk",
    /disk|drive|floppy|cdrom|blk|scsi|nvme|pool|luks|encrypt|iscsi|nbd|rbd|gluster|throttle|boot|iothread|blkdeviotune|fs|filesystem|seclabel/,
  ],
  [
    "memory/cpu",
    /memory|hugepage|numa|cpu|vcpu|memtune|memfd|nvdimm|dimm|pages|hmat|tseg|smp|cputune|cachetune|hyperv|kvm|clock|timer|tsc|pmu|sgx|balloon/,
  ],
  [
    "devices",
    /net|interface|hostdev|usb|pci|controller|serial|console|channel|chardev|parallel|input|tpm|watchdog|rng|vsock|iommu|smartcard|redir|panic|shmem|virtio|vdpa|mdev|hub|crypto|pstore|evdev|vhost|tap|user|mouse|keyboard|tablet|vmcoreinfo|ivshmem|lease/,
  ],
];

/**
 * The family of a case: `validation` when libvirt rejects it (an `.err` output), otherwise by
 * words of its name. Static for a case, so per-family totals compare across runs.
 */
export function familyOf(name: string, libvirtRejects: boolean): Family {
  if (libvirtRejects) return "validation";
  for (const [family, re] of FAMILY_RULES) if (re.test(name)) return family;
  return "other";
}

const VIR_ERROR_NAME = new Map<number, string>(Object.entries(VirErrorNumber).map(([k, v]) => [v, k]));
function errName(code: number | undefined): string {
  return code === undefined ? "an unknown code" : `VIR_ERR_${VIR_ERROR_NAME.get(code) ?? String(code)}`;
}

function clip(s: string, n = 120): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 3)}...` : one;
}

/** Groups argv into option lines, as the `.args` layout does. */
function optionLines(args: readonly string[]): string[][] {
  const lines: string[][] = [];
  for (const a of args) {
    const last = lines.at(-1);
    if (a.startsWith("-") || !last) lines.push([a]);
    else last.push(a);
  }
  return lines;
}

/** The keys of an option value, `{JSON}` or `a=1,b=2`, with their values; undefined when neither. */
function valueKeys(v: string | undefined): Map<string, string> | undefined {
  if (v === undefined) return undefined;
  if (v.startsWith("{")) {
    try {
      const o = JSON.parse(v) as Record<string, unknown>;
      return new Map(Object.entries(o).map(([k, x]) => [k, JSON.stringify(x)]));
    } catch {
      return undefined;
    }
  }
  const m = new Map<string, string>();
  v.split(/,(?!,)/).forEach((kv, i) => {
    const eq = kv.indexOf("=");
    if (eq < 0) m.set(i === 0 ? "(first)" : kv, kv);
    else m.set(kv.slice(0, eq), kv.slice(eq + 1));
  });
  return m;
}

/** A short name for an option line: the option, plus the device/object/backend type when known. */
function optionName(line: readonly string[] | undefined): string {
  if (!line) return "(nothing)";
  const keys = valueKeys(line[1]);
  const kind = keys?.get("driver") ?? keys?.get("qom-type") ?? keys?.get("backend") ?? keys?.get("type");
  const k = kind === undefined ? "" : ` ${kind.replace(/^"|"$/g, "")}`;
  return `${line[0] ?? ""}${/^[\w.-]{1,40}$/.test(k.trim()) ? k : ""}`;
}

/** Where two argv texts first differ, named by options and keys only. */
export function argsReason(expected: string, actual: string): string {
  const e = parseArgsFile(expected);
  const a = parseArgsFile(actual);
  for (let i = 0; i < Math.max(e.env.length, a.env.length); i++) {
    const x = e.env[i];
    const y = a.env[i];
    if (x?.[0] !== y?.[0])
      return `args: environment ${i + 1}: expected variable ${x?.[0] ?? "(none)"}, got ${y?.[0] ?? "(none)"}`;
    if (x?.[1] !== y?.[1]) return `args: environment ${x?.[0] ?? ""}: value differs`;
  }
  if (e.emulator !== a.emulator) return "args: emulator differs";
  const le = optionLines(e.args);
  const la = optionLines(a.args);
  const same = (x: readonly string[] | undefined, y: readonly string[] | undefined): boolean =>
    JSON.stringify(x) === JSON.stringify(y);
  for (let i = 0; i < Math.max(le.length, la.length); i++) {
    const x = le[i];
    const y = la[i];
    if (same(x, y)) continue;
    const reorder = le.length === la.length && le.every((l) => la.some((m) => same(l, m)));
    const suffix = reorder ? " (same options, other order)" : "";
    if (!x) return `args: extra ${optionName(y)} at option ${i + 1}${suffix}`;
    if (!y) return `args: missing ${optionName(x)} at option ${i + 1}${suffix}`;
    if (x[0] !== y[0]) {
      const later = la.slice(i).some((m) => same(m, x));
      const what = later ? "comes later in ours" : "missing in ours";
      return `args: option ${i + 1}: expected ${optionName(x)} (${what}), got ${optionName(y)}${suffix}`;
    }
    const kx = valueKeys(x[1]);
    const ky = valueKeys(y[1]);
    if (kx && ky && x.length === 2 && y.length === 2) {
      const missing = [...kx.keys()].filter((k) => !ky.has(k));
      const extra = [...ky.keys()].filter((k) => !kx.has(k));
      const changed = [...kx.keys()].filter((k) => ky.has(k) && ky.get(k) !== kx.get(k));
      const parts = [
        missing.length ? `lacks ${missing.join(", ")}` : "",
        extra.length ? `has extra ${extra.join(", ")}` : "",
        changed.length ? `other value of ${changed.join(", ")}` : "",
      ].filter((p) => p !== "");
      if (parts.length === 0) parts.push("same keys in another order");
      return `args: ${optionName(x)} (option ${i + 1}): ours ${clip(parts.join("; "), 160)}${suffix}`;
    }
    return `args: ${optionName(x)} (option ${i + 1}): value differs${suffix}`;
  }
  return "args: same argv, other layout";
}

/** The element name and attributes of an XML line (a rough look, for reasons only). */
function xmlLine(line: string | undefined): { tag: string; attrs: Map<string, string>; text: string } {
  const l = (line ?? "").trim();
  const m = /^<\/?([\w:.-]+)/.exec(l);
  const attrs = new Map<string, string>();
  for (const a of l.matchAll(/([\w:.-]+)=(['"])(.*?)\2/g)) attrs.set(a[1]!, a[3]!);
  const text = /^<[^>]*>([^<]*)</.exec(l)?.[1] ?? "";
  return { tag: m ? (l.startsWith("</") ? `/${m[1]!}` : m[1]!) : l === "" ? "(end)" : "(text)", attrs, text };
}

/** Where two XML texts first differ, named by elements and attributes only. */
export function xmlReason(expected: string, actual: string): string {
  const e = expected.split("\n");
  const a = actual.split("\n");
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] === a[i]) continue;
    const x = xmlLine(e[i]);
    const y = xmlLine(a[i]);
    const later = e[i] !== undefined && a.slice(i).includes(e[i]!);
    if (x.tag !== y.tag)
      return `xml: line ${i + 1}: expected <${x.tag}>${later ? " (comes later in ours)" : ""}, got <${y.tag}>`;
    const missing = [...x.attrs.keys()].filter((k) => !y.attrs.has(k));
    const extra = [...y.attrs.keys()].filter((k) => !x.attrs.has(k));
    const changed = [...x.attrs.keys()].filter((k) => y.attrs.has(k) && y.attrs.get(k) !== x.attrs.get(k));
    const parts = [
      missing.length ? `lacks ${missing.join(", ")}` : "",
      extra.length ? `has extra ${extra.join(", ")}` : "",
      changed.length ? `other value of ${changed.join(", ")}` : "",
      x.text !== y.text ? "other text" : "",
    ].filter((p) => p !== "");
    if (parts.length === 0) parts.push("attributes in another order or other spacing");
    return `xml: line ${i + 1} <${x.tag}>: ours ${parts.join("; ")}`;
  }
  return "xml: differs only in the final newline";
}

/** The reason for a part that is not exact, from what we produced. */
function reasonFor(result: CaseResult, part: Part, expectedFile: string | undefined): string {
  const d = result.detail ?? {};
  const verdict = result[part];
  const ours = d.error;
  const want = d.expectedErrCode;
  if (verdict === "equivalent") return `${part}: ${clip(result[`${part}Note`] ?? "equivalent", 160)}`;
  if (d.expectedErr !== undefined && expectedFile === undefined) {
    // libvirt rejects the case
    if (!ours || (part === "xml" && ours.phase !== "parse"))
      return part === "xml"
        ? `${part}: we parse it, libvirt rejects it while parsing (${errName(want)})`
        : `${part}: we build it, libvirt rejects it (${errName(want)})`;
    if (ours.virCode === want)
      return `${part}: same error ${errName(want)}, other text; ours: ${clip(ours.message)}`;
    return `${part}: we reject with ${errName(ours.virCode)} (${ours.phase}), libvirt with ${errName(want)}; ours: ${clip(ours.message)}`;
  }
  if (ours && (part === "args" || ours.phase !== "build"))
    return `${part}: we fail (${ours.phase}, ${errName(ours.virCode)}): ${clip(ours.message)}`;
  const produced = part === "args" ? d.args : d.xml;
  if (expectedFile === undefined || produced === undefined) return `${part}: ${verdict}`;
  const expected = readFileSync(expectedFile, "utf8");
  return part === "args" ? argsReason(expected, produced) : xmlReason(expected, produced);
}

/** How libvirt's harness runs one x86_64 output (tests/qemuxmlconftest.c). */
export interface HarnessDeclaration {
  /** For a negative case: a parse error or a failure to build the command. */
  expect?: Expectation;
  /** `driver.config->...` settings in force, as written (`spiceTLS` → `1`). */
  config: Readonly<Record<string, string>>;
  /** Environment variables the harness set with g_setenv beyond its base ones. */
  env: Readonly<Record<string, string>>;
  /**
   * Per-case arguments of the declaration that change the harness (`ARG_QEMU_CAPS`,
   * `ARG_QEMU_CAPS_DEL`, `ARG_CAPS_HOST_CPU_MODEL`, `ARG_NBDKIT_CAPS`, `ARG_FD_GROUP`,
   * `ARG_VDPA_FD`, `FLAG_SLIRP_HELPER`, ...), by name.
   */
  args: readonly string[];
  /** `ARG_QEMU_CAPS` / `ARG_QEMU_CAPS_DEL`: libvirt's flag names (`QEMU_CAPS_PIIX3_USB_UHCI`). */
  capsAdd: readonly string[];
  capsDel: readonly string[];
  /** `ARG_MIGRATE_FROM` (`exec:cat`, `stdio`, `fd:7`, ...) and `ARG_MIGRATE_FD`. */
  migrateFrom?: string;
  migrateFd?: number;
  /** `ARG_NBDKIT_CAPS`: the fake nbdkit's flags (`QEMU_NBDKIT_CAPS_PLUGIN_CURL`). */
  nbdkitCaps?: readonly string[];
  /** `ARG_CAPS_HOST_CPU_MODEL`'s value: the faked host CPU (`QEMU_CPU_DEF_HASWELL`). */
  hostCpu?: string;
}

/**
 * Declaration arguments that only say which output is meant, or that the suite reproduces
 * elsewhere (`ARG_MIGRATE_FROM`: harnessIncoming; `ARG_QEMU_CAPS*`: {@link harnessCaps}).
 */
const PLAIN_ARGS = new Set([
  "ARG_CAPS_ARCH",
  "ARG_CAPS_VER",
  "ARG_CAPS_VARIANT",
  "ARG_FLAGS",
  "ARG_END",
  "ARG_PARSEFLAGS",
  "ARG_MIGRATE_FROM",
  "ARG_QEMU_CAPS",
  "ARG_QEMU_CAPS_DEL",
]);

/** Our flag name for libvirt's `QEMU_CAPS_*` name, by its spelling (`..._DEVICE_QEMU_XHCI` → `qemu-xhci`). */
function flagName(c: string): string {
  return c
    .replace(/^QEMU_CAPS_(DEVICE_)?/, "")
    .toLowerCase()
    .replace(/_/g, "-");
}

/**
 * The capabilities of an output with the flags its declaration adds or removes. A flag is only
 * removed when the capabilities have it under the derived name, and only added when it is one
 * of `known`; the others are returned as not reproduced.
 */
export function harnessCaps(
  caps: QemuCaps,
  d: HarnessDeclaration | undefined,
  known: ReadonlySet<string>,
): { caps: QemuCaps; unapplied: string[] } {
  if (!d || (d.capsAdd.length === 0 && d.capsDel.length === 0)) return { caps, unapplied: [] };
  const flags = new Set(caps.flags);
  const unapplied: string[] = [];
  for (const c of d.capsDel) {
    if (flags.has(flagName(c))) flags.delete(flagName(c));
    else unapplied.push(`capability removed ${c}`);
  }
  for (const c of d.capsAdd) {
    if (known.has(flagName(c))) flags.add(flagName(c));
    else unapplied.push(`capability added ${c}`);
  }
  return { caps: { ...caps, flags }, unapplied };
}

/** The flag names our capability probing knows. */
export const KNOWN_FLAGS: ReadonlySet<string> = new Set([
  ...[
    ...COMMAND_FLAGS,
    ...SCHEMA_FLAGS,
    ...OBJECT_TYPE_FLAGS,
    ...MIGRATION_CAPABILITY_FLAGS,
    ...TPM_MODEL_FLAGS,
    ...TPM_TYPE_FLAGS,
  ].map(([, f]) => f),
  // no QEMU takes JSON for -chardev yet: libvirt's harness sets this one by hand to check the
  // QMP form of its chardev properties, and our builder has that form too
  "chardev-json",
]);

/** The environment every case of libvirt's harness gets (our harness context has it too). */
const BASE_ENV = new Set(["PATH", "USER", "LOGNAME", "HOME", "LC_ALL"]);

/**
 * How libvirt's harness declares its x86_64 outputs, from `tests/qemuxmlconftest.c`, read in
 * order: `<case> <variant>` → the negative expectation, and the `driver.config->` settings and
 * environment in force at that point (set and reset around groups of cases). Only outputs with
 * an expectation or a setting are in the map.
 */
export function harnessDeclarations(conftestC: string): Map<string, HarnessDeclaration> {
  const out = new Map<string, HarnessDeclaration>();
  const config = new Map<string, string>();
  const env = new Map<string, string>();
  const text = conftestC.replace(/\/\*[\s\S]*?\*\//g, "");
  for (const raw of text.split(";")) {
    const stmt = raw.replace(/^[\s\S]*[{}]/, "").trim();
    const free = /^VIR_FREE\(driver\.config->(\w+)\)$/.exec(stmt);
    if (free) {
      config.delete(free[1]!);
      continue;
    }
    const set = /^((?:driver\.config->\w+\s*=\s*)+)([\s\S]+)$/.exec(stmt);
    if (set) {
      const value = set[2]!.trim().replace(/^g_strdup\("([^"]*)"\)$/, "$1");
      for (const m of set[1]!.matchAll(/driver\.config->(\w+)/g)) {
        if (/^(0|false|NULL)$/.test(value)) config.delete(m[1]!);
        else config.set(m[1]!, value);
      }
      continue;
    }
    const setenv = /^g_setenv\("(\w+)",\s*([^,]+),/.exec(stmt);
    if (setenv) {
      if (!BASE_ENV.has(setenv[1]!)) env.set(setenv[1]!, setenv[2]!.trim().replace(/^"(.*)"$/, "$1"));
      continue;
    }
    const unsetenv = /^g_unsetenv\("(\w+)"\)$/.exec(stmt);
    if (unsetenv) {
      env.delete(unsetenv[1]!);
      continue;
    }
    const m = /^(DO_TEST_\w+)\s*\(([\s\S]*)\)$/.exec(stmt);
    if (!m || stmt.includes("#")) continue;
    const macro = m[1]!;
    const body = m[2]!;
    const strings = [...body.matchAll(/"([^"]*)"/g)].map((x) => x[1]!);
    const name = strings[0];
    if (name === undefined) continue;
    const expect: Expectation | undefined =
      /PARSE_ERROR/.test(macro) || body.includes("FLAG_EXPECT_PARSE_ERROR")
        ? "parse-error"
        : /FAILURE/.test(macro) || body.includes("FLAG_EXPECT_FAILURE")
          ? "failure"
          : undefined;
    let arch = "x86_64";
    let variant = "latest";
    if (macro === "DO_TEST_FULL") {
      const suffix = /^\.(\w+)-(.+)$/.exec(strings[1] ?? "");
      if (!suffix) continue;
      arch = suffix[1]!;
      variant = suffix[2]!;
    } else {
      const rest = strings.slice(1);
      if (macro.includes("_ARCH_")) arch = rest.shift() ?? "";
      if (/_VER(_|$)/.test(macro)) variant = rest.shift() ?? "";
      if (macro.includes("ABI_UPDATE")) variant = "latest.abi-update";
      const caps = /ARG_CAPS_VARIANT\s*,\s*"([^"]*)"/.exec(body);
      if (caps) variant += caps[1]!;
    }
    if (arch !== "x86_64") continue;
    const args = [
      ...new Set([...body.matchAll(/\b(ARG_\w+|FLAG_SLIRP_HELPER)\b/g)].map((x) => x[1]!)),
    ].filter((a) => !PLAIN_ARGS.has(a));
    if (macro.includes("NBDKIT")) args.push("ARG_NBDKIT_CAPS");
    if (macro.includes("HOSTCPU")) args.push("ARG_CAPS_HOST_CPU_MODEL");
    const capsList = (arg: string): string[] => {
      const m = new RegExp(`\\b${arg}\\s*,([^]*?)QEMU_CAPS_LAST`).exec(body);
      return m ? [...m[1]!.matchAll(/QEMU_CAPS_\w+/g)].map((x) => x[0]) : [];
    };
    const capsAdd = capsList("ARG_QEMU_CAPS");
    const capsDel = capsList("ARG_QEMU_CAPS_DEL");
    const nbdkitCaps = macro.includes("NBDKIT")
      ? [...body.matchAll(/QEMU_NBDKIT_CAPS_(?!LAST)\w+/g)].map((x) => x[0])
      : [];
    const hostCpu = /\bARG_CAPS_HOST_CPU_MODEL\s*,\s*(\w+)/.exec(body)?.[1];
    const quiet = config.size + env.size + args.length + capsAdd.length + capsDel.length === 0;
    if (expect === undefined && quiet) continue;
    const migrateFrom = /\bARG_MIGRATE_FROM\s*,\s*"([^"]*)"/.exec(body)?.[1];
    const migrateFd = /\bARG_MIGRATE_FD\s*,\s*(\d+)/.exec(body)?.[1];
    out.set(`${name} ${variant}`, {
      ...(expect ? { expect } : {}),
      ...(migrateFrom !== undefined ? { migrateFrom } : {}),
      ...(migrateFd !== undefined ? { migrateFd: Number(migrateFd) } : {}),
      config: Object.fromEntries(config),
      env: Object.fromEntries(env),
      args,
      capsAdd,
      capsDel,
      ...(nbdkitCaps.length > 0 ? { nbdkitCaps } : {}),
      ...(hostCpu !== undefined ? { hostCpu } : {}),
    });
  }
  return out;
}

/** The negative expectations of {@link harnessDeclarations}. */
export function harnessExpectations(conftestC: string): Map<string, Expectation> {
  const out = new Map<string, Expectation>();
  for (const [k, d] of harnessDeclarations(conftestC)) if (d.expect) out.set(k, d.expect);
  return out;
}

/**
 * The harness settings our command context can reproduce, as a change of the context; the
 * others are returned by name (see {@link SuiteRun.unapplied}).
 */
export function harnessTweak(d: HarnessDeclaration | undefined): {
  tweak?: (ctx: CommandContext) => CommandContext;
  factsTweak?: (facts: DomainFacts) => DomainFacts;
  unapplied: string[];
} {
  if (!d) return { unapplied: [] };
  const unapplied: string[] = [];
  const changes: ((ctx: CommandContext) => CommandContext)[] = [];
  // qemu.conf's host audio settings and the daemon's audio environment: parse facts
  const hostAudio: HostAudioFacts = {};
  const audioEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.config)) {
    if (k === "vncAllowHostAudio" || k === "nogfxAllowHostAudio") {
      hostAudio[k] = v === "true" || v === "1";
      continue;
    }
    if (k === "spiceTLS") changes.push((ctx) => ({ ...ctx, graphics: { ...ctx.graphics, spiceTLS: true } }));
    // libvirt's qemu.conf default spice_sasl_dir
    else if (k === "spiceSASL")
      changes.push((ctx) => ({
        ...ctx,
        graphics: { ...ctx.graphics, spiceSASL: true, spiceSASLdir: "/etc/sasl2" },
      }));
    else if (k === "vncAutoUnixSocket")
      changes.push((ctx) => ({ ...ctx, graphics: { ...ctx.graphics, vncAutoUnixSocket: true } }));
    else if (k === "vncSASL")
      changes.push((ctx) => ({
        ...ctx,
        graphics: { ...ctx.graphics, vncSASL: true, vncSASLdir: "/etc/sasl2" },
      }));
    else if (k === "vncTLS") changes.push((ctx) => ({ ...ctx, graphics: { ...ctx.graphics, vncTLS: true } }));
    else if (k === "vncTLSx509verify")
      changes.push((ctx) => ({ ...ctx, graphics: { ...ctx.graphics, vncTLSx509verify: true } }));
    else if (k === "vncTLSx509secretUUID")
      changes.push((ctx) => ({ ...ctx, graphics: { ...ctx.graphics, vncTLSx509secretUUID: v } }));
    else if (k === "spiceAutoUnixSocket")
      changes.push((ctx) => ({ ...ctx, graphics: { ...ctx.graphics, spiceAutoUnixSocket: true } }));
    // qemuxmlconftest's driver keeps chardev certificates in /etc/pki/libvirt-chardev
    else if (k === "chardevTLS")
      changes.push((ctx) => ({
        ...ctx,
        chardevTLS: { x509certdir: "/etc/pki/libvirt-chardev", ...ctx.chardevTLS, enabled: v !== "0" },
      }));
    else if (k === "chardevTLSx509secretUUID")
      changes.push((ctx) => ({
        ...ctx,
        chardevTLS: { enabled: false, ...ctx.chardevTLS, secretUUID: v },
      }));
    else if (k === "chardevTLSx509verify")
      changes.push((ctx) => ({
        ...ctx,
        chardevTLS: { enabled: false, ...ctx.chardevTLS, x509verify: v !== "0" },
      }));
    else if (k === "dumpGuestCore")
      changes.push((ctx) => ({ ...ctx, dumpGuestCore: v === "true" || v === "1" }));
    // qemu.conf nbd_tls_x509_secret_uuid (testutilsqemu's nbd cert dir is the harness default)
    else if (k === "nbdTLSx509secretUUID")
      changes.push((ctx) => ({ ...ctx, nbdTLS: { enabled: false, ...ctx.nbdTLS, secretUUID: v } }));
    // qemu.conf storage_use_nbdkit: nbdkit serves the protocols of the declaration's plugins
    else if (k === "storageUseNbdkit" && d.nbdkitCaps !== undefined) {
      const plugins = d.nbdkitCaps
        .filter((c) => c.startsWith("QEMU_NBDKIT_CAPS_PLUGIN_"))
        .map((c) => c.slice("QEMU_NBDKIT_CAPS_PLUGIN_".length).toLowerCase());
      changes.push((ctx) => ({ ...ctx, nbdkit: { plugins } }));
    } else unapplied.push(`config ${k}`);
  }
  for (const [k, v] of Object.entries(d.env)) {
    if (k === "PIPEWIRE_RUNTIME_DIR") changes.push((ctx) => ({ ...ctx, pipewireRuntimeDir: v }));
    else if (k === "QEMU_AUDIO_DRV" || k === "SDL_AUDIODRIVER") audioEnv[k] = v;
    else unapplied.push(`env ${k}`);
  }
  // the incoming migration's source: libvirt's harness turns `stdio` into the descriptor it
  // passes (qemuProcessIncomingDefNew); other sources stay as written
  if (d.migrateFrom !== undefined) {
    const from = d.migrateFrom;
    const incoming = from === "stdio" && d.migrateFd !== undefined ? `fd:${d.migrateFd}` : from;
    changes.push((ctx) => ({ ...ctx, incoming }));
  }
  for (const a of d.args) {
    if (a === "ARG_MIGRATE_FD" && d.migrateFrom !== undefined) continue;
    if (a === "ARG_NBDKIT_CAPS" && d.config.storageUseNbdkit !== undefined) continue;
    const hostModelCpu = a === "ARG_CAPS_HOST_CPU_MODEL" ? harnessHostCpu(d.hostCpu) : undefined;
    if (hostModelCpu) changes.push((ctx) => ({ ...ctx, hostModelCpu }));
    else unapplied.push(`declaration ${a}`);
  }
  if (Object.keys(audioEnv).length > 0) hostAudio.env = audioEnv;
  const factsTweak =
    Object.keys(hostAudio).length > 0
      ? (facts: DomainFacts): DomainFacts => ({ ...facts, hostAudio })
      : undefined;
  return {
    ...(changes.length > 0 ? { tweak: (ctx: CommandContext) => changes.reduce((c, f) => f(c), ctx) } : {}),
    ...(factsTweak ? { factsTweak } : {}),
    unapplied,
  };
}

/** Version order of `caps_<version>_x86_64<variant>.xml` files. */
function versionKey(v: string): number {
  return v.split(".").reduce((acc, n) => acc * 1000 + Number(n), 0);
}

/**
 * The capability file behind an output variant, as libvirt's harness picks it: `latest` is the
 * newest `caps_*_x86_64.xml`, `latest+amdsev` the newest `caps_*_x86_64+amdsev.xml`, `7.2.0`
 * `caps_7.2.0_x86_64.xml`. `.abi-update` is a parse flag, not another file.
 */
export function capsFileFor(capsDir: string, variant: string): string {
  const v = variant.replace(/\.abi-update$/, "");
  const m = /^(latest|\d+\.\d+\.\d+)(\+\w+)?$/.exec(v);
  if (!m) throw new Error(`unknown output variant '${variant}'`);
  const plus = m[2] ?? "";
  if (m[1] !== "latest") return join(capsDir, `caps_${m[1]!}_x86_64${plus}.xml`);
  const re = new RegExp(`^caps_(\\d+\\.\\d+\\.\\d+)_x86_64${plus.replace("+", "\\+")}\\.xml$`);
  const versions = readdirSync(capsDir)
    .map((f) => re.exec(f)?.[1])
    .filter((x): x is string => x !== undefined)
    .sort((a, b) => versionKey(b) - versionKey(a));
  if (versions[0] === undefined) throw new Error(`no capability file for '${variant}' in ${capsDir}`);
  return join(capsDir, `caps_${versions[0]}_x86_64${plus}.xml`);
}

export interface SuiteRun {
  /** Every judged entry, exact ones included, sorted by key. */
  entries: SuiteEntry[];
  /** Output variants run. */
  outputs: number;
  /** Negative outputs whose declaration in qemuxmlconftest.c was not found. */
  undeclared: string[];
  /** Harness settings (`config spiceSASL`, `env PIPEWIRE_RUNTIME_DIR`) not reproduced → outputs. */
  unapplied: Map<string, string[]>;
  ms: number;
}

/** Runs every x86_64 output of the fetched suite. */
export function runSuite(suite: string): SuiteRun {
  const t0 = performance.now();
  const view = sampleShapedView(suite, mkdtempSync(join(tmpdir(), "tvirt-suite-view-")));
  try {
    const conf = join(suite, "tests", "qemuxmlconfdata");
    const capsDir = join(suite, "tests", "qemucapabilitiesdata");
    // as qemuxmlconftest.c: the system descriptor directories point into qemufirmwaredata
    // (a privileged driver, so no user directory)
    const fwData = join(suite, "tests", "qemufirmwaredata");
    const firmware = loadFirmwareDescriptors([
      join(fwData, "etc", "qemu", "firmware"),
      join(fwData, "usr", "share", "qemu", "firmware"),
    ]);
    const declarations = harnessDeclarations(readFileSync(join(suite, "tests", "qemuxmlconftest.c"), "utf8"));
    const unapplied = new Map<string, string[]>();
    const capsCache = new Map<string, QemuCaps>();
    const entries: SuiteEntry[] = [];
    const undeclared: string[] = [];
    let outputs = 0;
    for (const { name, variant, kinds } of x86Outputs(conf)) {
      outputs++;
      const capsFile = capsFileFor(capsDir, variant);
      let caps = capsCache.get(capsFile);
      // a macOS capability file's HVF machines are that QEMU's hardware-accelerated ones
      if (!caps) capsCache.set(capsFile, (caps = loadCapsFile(capsFile, { hvf: capsFile.includes("+hvf") })));
      const decl = declarations.get(`${name} ${variant}`);
      const expect = decl?.expect;
      if (kinds.has("err") && expect === undefined) undeclared.push(`${name} ${variant}`);
      const { tweak, factsTweak, unapplied: missedSettings } = harnessTweak(decl);
      const { caps: declCaps, unapplied: missedCaps } = harnessCaps(caps, decl, KNOWN_FLAGS);
      for (const u of [...missedSettings, ...missedCaps])
        unapplied.set(u, [...(unapplied.get(u) ?? []), `${name} ${variant}`]);
      const result = runCase(view, name, declCaps, {
        variant,
        keep: true,
        firmware,
        ...(expect ? { expect } : {}),
        ...(tweak ? { tweak } : {}),
        ...(factsTweak ? { factsTweak } : {}),
      });
      const family = familyOf(name, kinds.has("err"));
      const base = join(conf, `${name}.x86_64-${variant}`);
      for (const part of ["args", "xml"] as const) {
        const verdict = result[part];
        if (verdict === "missing") continue;
        const file = `${base}.${part}`;
        const expectedFile = existsSync(file) ? file : undefined;
        const reason = verdict === "exact" ? "" : reasonFor(result, part, expectedFile);
        entries.push({ case: name, variant, part, verdict, family, reason });
      }
    }
    entries.sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : entryKey(a) > entryKey(b) ? 1 : 0));
    return { entries, outputs, undeclared, unapplied, ms: performance.now() - t0 };
  } finally {
    rmSync(view, { recursive: true, force: true });
  }
}

/** The checked-in list: entries that are not exact. */
export function readRatchet(file = RATCHET_FILE): SuiteEntry[] {
  if (!existsSync(file)) return [];
  const doc = JSON.parse(readFileSync(file, "utf8")) as { entries: SuiteEntry[] };
  return doc.entries;
}

/** The list's text: a short header, one entry per line (for readable diffs and merges). */
export function formatRatchet(entries: readonly SuiteEntry[]): string {
  const notExact = entries.filter((e) => e.verdict !== "exact");
  const lines = notExact.map((e) =>
    JSON.stringify({
      case: e.case,
      variant: e.variant,
      part: e.part,
      verdict: e.verdict,
      family: e.family,
      reason: e.reason,
    }),
  );
  return (
    `{\n  "about": "libvirt 11.3.0 x86_64 outputs (tests/qemuxmlconfdata) that are not exact yet. ` +
    `Reasons are generated from the comparison (npm run conformance -- --suite --write-ratchet), ` +
    `not written by hand. The list may only shrink: suite.test.ts fails on an unlisted difference, ` +
    `on a listed entry that is now exact and on a changed verdict.",\n` +
    `  "entries": [\n${lines.map((l) => `    ${l}`).join(",\n")}\n  ]\n}\n`
  );
}

export interface RatchetCheck {
  /** Not exact and not listed (or listed with a better verdict). */
  unlisted: SuiteEntry[];
  /** Listed, but exact now: take them off the list. */
  nowExact: SuiteEntry[];
  /** Listed with another verdict: [listed, now]. */
  changed: [SuiteEntry, SuiteEntry][];
  /** Listed, but no longer produced by the suite (renamed or removed). */
  gone: SuiteEntry[];
}

export function checkRatchet(now: readonly SuiteEntry[], listed: readonly SuiteEntry[]): RatchetCheck {
  const byKey = new Map(listed.map((e) => [entryKey(e), e]));
  const seen = new Set<string>();
  const out: RatchetCheck = { unlisted: [], nowExact: [], changed: [], gone: [] };
  for (const e of now) {
    const k = entryKey(e);
    seen.add(k);
    const l = byKey.get(k);
    if (!l) {
      if (e.verdict !== "exact") out.unlisted.push(e);
    } else if (e.verdict === "exact") out.nowExact.push(e);
    else if (e.verdict !== l.verdict) out.changed.push([l, e]);
  }
  for (const l of listed) if (!seen.has(entryKey(l))) out.gone.push(l);
  return out;
}

/** One line per offender, for failure messages. */
export function describeCheck(c: RatchetCheck): string[] {
  return [
    ...c.unlisted.map((e) => `differs, not listed: ${entryKey(e)}: ${e.verdict}: ${e.reason}`),
    ...c.nowExact.map((e) => `exact now, take it off the list: ${entryKey(e)}`),
    ...c.changed.map(
      ([l, e]) => `verdict changed: ${entryKey(e)}: listed ${l.verdict}, now ${e.verdict}: ${e.reason}`,
    ),
    ...c.gone.map((e) => `listed, but the suite has no such output: ${entryKey(e)}`),
  ];
}

/**
 * What `--write-ratchet` refuses without `--allow-new`, one line each: entries not listed that
 * are not exact, and listed `equivalent` entries that now differ.
 */
export function worseThanListed(c: RatchetCheck): string[] {
  return describeCheck({
    unlisted: c.unlisted,
    nowExact: [],
    changed: c.changed.filter(([l, e]) => l.verdict === "equivalent" && e.verdict === "differs"),
    gone: [],
  });
}

export interface FamilyCounts {
  exact: number;
  equivalent: number;
  differs: number;
}

/** Totals per family and part, for latest and versioned outputs separately. */
export function familyTotals(
  entries: readonly SuiteEntry[],
  latest: boolean,
): Map<Family | "all", Record<Part, FamilyCounts>> {
  const zero = (): Record<Part, FamilyCounts> => ({
    args: { exact: 0, equivalent: 0, differs: 0 },
    xml: { exact: 0, equivalent: 0, differs: 0 },
  });
  const out = new Map<Family | "all", Record<Part, FamilyCounts>>(FAMILIES.map((f) => [f, zero()]));
  out.set("all", zero());
  for (const e of entries) {
    if (isLatest(e.variant) !== latest) continue;
    for (const f of [e.family, "all"] as const) out.get(f)![e.part][e.verdict]++;
  }
  return out;
}

/** The per-family tables, as Markdown. */
export function familyTable(entries: readonly SuiteEntry[]): string {
  const out: string[] = [];
  for (const latest of [true, false]) {
    const totals = familyTotals(entries, latest);
    const outputs = new Set(
      entries.filter((e) => isLatest(e.variant) === latest).map((e) => `${e.case} ${e.variant}`),
    );
    out.push(
      latest
        ? `### Latest capabilities (\`.x86_64-latest\`, \`.abi-update\`, \`+amdsev\`, \`+hvf\`): ${outputs.size} outputs`
        : `### Versioned outputs (\`.x86_64-6.2.0\` ... \`9.x\`): ${outputs.size} outputs`,
      "",
      "| family | args/err exact | equivalent | differs | xml exact | equivalent | differs |",
      "|---|---:|---:|---:|---:|---:|---:|",
    );
    for (const [family, t] of totals) {
      const n =
        t.args.exact + t.args.equivalent + t.args.differs + t.xml.exact + t.xml.equivalent + t.xml.differs;
      if (n === 0 && family !== "all") continue;
      const name = family === "all" ? "**all**" : family;
      out.push(
        `| ${name} | ${t.args.exact} | ${t.args.equivalent} | ${t.args.differs} | ${t.xml.exact} | ${t.xml.equivalent} | ${t.xml.differs} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/** docs/conformance.md: a short header and the per-family tables. */
export function conformanceDoc(
  entries: readonly SuiteEntry[],
  realQemu: RealQemuRecord | undefined = readRealQemuRecord(),
): string {
  return (
    "# Conformance with libvirt 11.3.0's x86_64 suite\n\n" +
    "Generated by `npm run conformance -- --suite`; do not edit. Every x86_64 output of libvirt's\n" +
    "`tests/qemuxmlconfdata/` (fetched by `scripts/setup`), judged strictly: `args/err` is the QEMU\n" +
    "command line (`.args`, exact text) or libvirt's error (`.err`), `xml` the XML round trip (or\n" +
    "the parse error). Families are derived from case names; `validation` holds the cases libvirt\n" +
    "rejects. The entries not exact yet, with generated reasons, are listed in\n" +
    "`src/testing/qemu/suite-differs.json`, which may only shrink (`src/testing/qemu/suite.test.ts`).\n\n" +
    familyTable(entries) +
    realQemuDocSection(realQemu)
  );
}
