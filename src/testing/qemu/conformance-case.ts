/**
 * One case of libvirt's qemuxml corpus, judged: parse with the harness' facts, build argv for
 * its capabilities, format the XML, and compare each with libvirt's expected output (or error).
 * Shared by `npm run conformance` (src/tools/conformance.ts) and the whole-suite golden test
 * (suite.ts); it lives here, below both, so neither imports the other.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import {
  assignAliases,
  defaultChannelPaths,
  formatDomainXML,
  parseDomainXML,
} from "../../conf/domain/index.ts";

import type { QemuCaps } from "../../drivers/qemu/capabilities/types.ts";
import { domainFactsFromCaps } from "../../drivers/qemu/capabilities/facts.ts";
import type { DomainFacts } from "../../conf/domain/types.ts";
import { buildQemuCommand, compareArgs, formatArgsFile } from "../../drivers/qemu/command/index.ts";
import type { CommandContext } from "../../drivers/qemu/command/types.ts";
import type { FirmwareDescriptor } from "../../drivers/qemu/firmware.ts";
import { fillFirmware, fillFirmwareAtDefine } from "../../drivers/qemu/firmware-select.ts";
import { corpusHarnessContext, fakeStorageVolume } from "../qemu/command-harness.ts";
import { resolveDomainVolumesSync } from "../../drivers/qemu/driver/volumes.ts";
import { harnessIncoming } from "../qemu/command-harness-incoming.ts";

import { toVirtError, VirErrorNumber } from "../../util/errors/index.ts";
import { virErrorPrefix } from "../../util/errors/virerror.ts";

export type Verdict = "exact" | "equivalent" | "differs" | "missing";

export interface CaseResult {
  name: string;
  args: Verdict;
  argsNote?: string;
  xml: Verdict;
  xmlNote?: string;
  /** What we produced, with {@link RunOptions.keep}. */
  detail?: CaseDetail;
}

/** libvirt's error number for an `.err` text, from its message prefix. */
export function virCodeOfErrText(text: string): number | undefined {
  for (const [name, prefix] of Object.entries(virErrorPrefix)) {
    if (text.startsWith(`${prefix}: `)) return VirErrorNumber[name as keyof typeof VirErrorNumber];
  }
  return undefined;
}

/**
 * Negative cases where our error text differs from libvirt's on purpose (the error number is
 * libvirt's), with the reason; the README's conformance table lists them too. Any other text
 * difference is `differs`.
 */
export const INTENDED_ERROR_TEXT: Readonly<Record<string, string>> = {
  "hugepages-default-5M":
    "libvirt reports an internal error; we say which page size is missing and which are mounted",
  "serial-unix-missing-source":
    "libvirt calls the missing socket path an internal error; we keep its number and call it an XML error",
  "virtio-rng-egd-crash":
    "libvirt calls the missing socket path an internal error; we keep its number and call it an XML error",
  "pcie-root-port-too-many":
    "libvirt calls a full PCI topology an internal error; we keep its number and call it unsupported configuration",
  "chardev-reconnect-generated-path":
    "libvirt calls reconnect on a socket QEMU listens on an internal error; we keep its number and call it unsupported configuration",
  "disk-network-iscsi-zero-hosts-invalid":
    "libvirt calls an iSCSI disk without exactly one host an internal error; we keep its number and call it unsupported configuration",
  "disk-usb-pci":
    "libvirt calls a USB disk on a PCI address an internal error; we keep its number and call it unsupported configuration",
  "machine-loadparm-s390-char-invalid":
    "libvirt calls a bad boot loadparm an internal error; we keep its number and call it an XML error",
  "machine-loadparm-s390-len-invalid":
    "libvirt calls a bad boot loadparm an internal error; we keep its number and call it an XML error",
  "usb-too-long-port-path-invalid":
    "libvirt calls a USB port path of more than 4 levels an internal error; we keep its number, call it an XML error and name the XPath",
};

/** Compares an expected `.err` with what we threw. */
function judgeError(name: string, errText: string, e: unknown): { verdict: Verdict; note?: string } {
  const err = toVirtError(e);
  const want = virCodeOfErrText(errText);
  if (err.message === errText) return { verdict: "exact" };
  const sameCode = want !== undefined && err.virCode === want;
  if (sameCode && INTENDED_ERROR_TEXT[name] !== undefined)
    return { verdict: "equivalent", note: `same error code ${want}, our text on purpose: ${err.message}` };
  return {
    verdict: "differs",
    note: `expected '${errText}', got '${err.message}'${sameCode ? ` (same error code ${want})` : ""}`,
  };
}

function firstLineDifference(expected: string, actual: string): string {
  const e = expected.split("\n");
  const a = actual.split("\n");
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] !== a[i])
      return `line ${i + 1}: expected ${JSON.stringify(e[i] ?? "<end>")}, got ${JSON.stringify(a[i] ?? "<end>")}`;
  }
  return "";
}

/** How libvirt's harness declares a negative case (tests/qemuxmlconftest.c). */
export type Expectation = "parse-error" | "failure";

export interface RunOptions {
  /**
   * The outputs' variant: `latest` (default), `latest.abi-update` (parsed with the ABI_UPDATE
   * flag), `latest+amdsev`, `7.2.0`, ... (the part between `.x86_64-` and the extension).
   */
  variant?: string;
  /**
   * How libvirt's harness declares the case when its output is an `.err`: `parse-error` (the
   * XML column is judged by the error) or `failure` (libvirt parses it and fails to build the
   * command; there is no XML to judge). Unknown: the XML column is judged by the error.
   */
  expect?: Expectation;
  /** Keep what we produced (argv text, XML, error) in `detail`, for generated reasons. */
  keep?: boolean;
  /** A harness setting of the case (libvirt's `driver.config->...`), as a change of the context. */
  tweak?: (ctx: CommandContext) => CommandContext;
  /** A harness setting of the case that changes the parse (qemu.conf, the daemon's environment). */
  factsTweak?: (facts: DomainFacts) => DomainFacts;
  /**
   * The firmware descriptors the harness provides (libvirt's `tests/qemufirmwaredata`, as
   * qemuxmlconftest.c points the descriptor directories there); none: no firmware selection.
   */
  firmware?: readonly FirmwareDescriptor[];
}

/** libvirt's harness keeps made-up NVRAM files in the system driver's directory. */
const HARNESS_NVRAM_DIR = "/var/lib/libvirt/qemu/nvram";

/** What we produced for a case, kept on request ({@link RunOptions.keep}). */
export interface CaseDetail {
  args?: string;
  xml?: string;
  /** Our error (parse, format or build), with libvirt's error number when it has one. */
  error?: { virCode: number; message: string; phase: "parse" | "format" | "build" };
  /** libvirt's error number for its `.err`, from the text's prefix. */
  expectedErrCode?: number;
  /** libvirt's `.err` text. */
  expectedErr?: string;
}

/**
 * The parse facts libvirt's harness gives a variant: those of its capabilities, where for
 * `latest` capabilities it strips the machine aliases (tests/testutilsqemu.c): `pc` stays `pc`
 * and the default machine is named by its alias; versioned outputs get the versioned machine
 * (`pc` becomes `pc-i440fx-7.2`).
 */
export function harnessFacts(caps: QemuCaps, variant: string): DomainFacts {
  const facts = {
    ...domainFactsFromCaps(caps),
    // the system driver's directory, which the harness' paths live under
    libDir: "/var/lib/libvirt/qemu",
    // libvirt's harness preloads virrandommock: random bytes are 0, 1, 2, ...
    randomBytes: (count: number) => Uint8Array.from({ length: count }, (_, i) => i & 0xff),
    // libvirt's test driver runs without a security driver: its host model is "none"
    hostSecurityModel: () => "none",
    // the harness' privileged driver: channel target dir, and lib/run dirs' channel folders
    isDefaultChannelPath: defaultChannelPaths("/var/lib/libvirt/qemu/channel/target", [
      "/var/lib/libvirt/qemu/channel",
      "/var/run/libvirt/qemu/channel",
    ]),
  };
  if (!variant.startsWith("latest")) return facts;
  const machines = Object.values(caps.accel).flatMap((a) => a.machines);
  const aliasOf = (name: string): string => machines.find((m) => m.name === name)?.alias ?? name;
  return {
    ...facts,
    canonicalMachine: () => undefined,
    defaultMachine: (arch, virtType) => {
      const m = facts.defaultMachine(arch, virtType);
      return m === undefined ? undefined : aliasOf(m);
    },
  };
}

/** The parse facts with the harness' firmware selection, when it provides descriptors. */
function withFirmware(
  facts: DomainFacts,
  descriptors: readonly FirmwareDescriptor[] | undefined,
): DomainFacts {
  if (!descriptors) return facts;
  return {
    ...facts,
    fillFirmware: (def, abiUpdate) => {
      fillFirmwareAtDefine(def, { descriptors, nvramDir: HARNESS_NVRAM_DIR, abiUpdate });
    },
  };
}

export function runCase(
  corpusDir: string,
  name: string,
  caps: QemuCaps,
  options: RunOptions = {},
): CaseResult {
  const variant = options.variant ?? "latest";
  const data = join(corpusDir, "qemuxmlconfdata");
  const input = readFileSync(join(data, `${name}.xml`), "utf8");
  const base = join(data, `${name}.x86_64-${variant}`);
  const argsFile = `${base}.args`;
  const errFile = `${base}.err`;
  const xmlFile = `${base}.xml`;
  const errText = existsSync(errFile) ? readFileSync(errFile, "utf8").trim() : undefined;
  const result: CaseResult = { name, args: "missing", xml: "missing" };
  const detail: CaseDetail = {};
  if (errText !== undefined) {
    detail.expectedErr = errText;
    const code = virCodeOfErrText(errText);
    if (code !== undefined) detail.expectedErrCode = code;
  }
  const noteError = (e: unknown, phase: "parse" | "format" | "build"): void => {
    const v = toVirtError(e);
    detail.error ??= { virCode: v.virCode, message: v.message, phase };
  };

  let def: ReturnType<typeof parseDomainXML>["def"] | undefined;
  let parseError: unknown;
  try {
    def = parseDomainXML(input, {
      document: `${name}.xml`,
      facts: withFirmware(
        options.factsTweak ? options.factsTweak(harnessFacts(caps, variant)) : harnessFacts(caps, variant),
        options.firmware,
      ),
      ...(variant.endsWith(".abi-update") ? { abiUpdate: true } : {}),
    }).def;
  } catch (e) {
    parseError = e;
    noteError(e, "parse");
  }

  // XML round trip.
  if (existsSync(xmlFile)) {
    const expected = readFileSync(xmlFile, "utf8");
    if (def) {
      try {
        const actual = formatDomainXML(def, { secure: true });
        detail.xml = actual;
        if (actual === expected) result.xml = "exact";
        else {
          result.xml = "differs";
          result.xmlNote = firstLineDifference(expected, actual);
        }
      } catch (e) {
        noteError(e, "format");
        result.xml = "differs";
        result.xmlNote = `format failed: ${toVirtError(e).message}`;
      }
    } else {
      result.xml = "differs";
      result.xmlNote = `parse failed: ${toVirtError(parseError).message}`;
    }
  } else if (errText !== undefined && options.expect !== "failure") {
    // A parse-time negative case: the XML column is judged by the error too.
    if (def) {
      result.xml = "differs";
      result.xmlNote = "parsed, but libvirt rejects it";
    } else {
      const j = judgeError(name, errText, parseError);
      result.xml = j.verdict;
      if (j.note !== undefined) result.xmlNote = j.note;
    }
  }

  // Command line.
  let built: string | undefined;
  let buildError: unknown = parseError;
  if (def) {
    try {
      const d = structuredClone(def);
      // selected again when the domain starts (qemuProcessPrepareDomain); errors count now
      if (options.firmware)
        fillFirmware(d, { descriptors: options.firmware, nvramDir: HARNESS_NVRAM_DIR, abiUpdate: false });
      // <disk type='volume'>: resolved through the harness' fake storage driver, as at start
      resolveDomainVolumesSync((pool, volume) => fakeStorageVolume(corpusDir, pool, volume), d);
      assignAliases(d);
      const ctx = corpusHarnessContext(d, { caps, corpusDir, incoming: harnessIncoming(name) });
      built = formatArgsFile(buildQemuCommand(d, options.tweak ? options.tweak(ctx) : ctx));
      detail.args = built;
    } catch (e) {
      buildError = e;
      noteError(e, "build");
    }
  }
  if (existsSync(argsFile)) {
    if (built === undefined) {
      result.args = "differs";
      result.argsNote = `failed: ${toVirtError(buildError).message}`;
    } else {
      const c = compareArgs(readFileSync(argsFile, "utf8"), built);
      result.args = c.verdict;
      if (c.firstDifference !== undefined) result.argsNote = c.firstDifference;
    }
  } else if (errText !== undefined) {
    if (built !== undefined) {
      result.args = "differs";
      result.argsNote = "built, but libvirt fails";
    } else {
      const j = judgeError(name, errText, buildError);
      result.args = j.verdict;
      if (j.note !== undefined) result.argsNote = j.note;
    }
  }
  if (options.keep) result.detail = detail;
  return result;
}

/**
 * The cases of a corpus folder: inputs `<name>.xml` (names may hold dots, e.g. `...-4.2`) with
 * a plain `.x86_64-latest` output, sorted.
 */
export function listCases(corpusDir: string): string[] {
  const files = readdirSync(join(corpusDir, "qemuxmlconfdata"));
  const outputs = new Set(
    files.filter((f) => f.includes(".x86_64-latest.")).map((f) => f.split(".x86_64-")[0]),
  );
  return files
    .filter((f) => f.endsWith(".xml") && !/\.[a-z0-9_]+-(latest|\d+\.\d+\.\d+)[.+]/.test(f))
    .map((f) => f.slice(0, -4))
    .filter((n) => outputs.has(n))
    .sort();
}
