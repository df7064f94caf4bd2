/**
 * Conformance against libvirt's own golden files: for every case of the corpus, the QEMU
 * command line (`<case>.x86_64-latest.args` or `.err`) and the XML round trip
 * (`<case>.x86_64-latest.xml`). Prints a table `case | args | xml` and a summary line.
 *
 *   npm run conformance -- [--corpus DIR] [--json]
 *   npm run conformance -- --suite [--write-ratchet [--allow-new]] [--json] [--ratchet F] [--doc F]
 *
 * `--suite` runs every x86_64 output of libvirt 11.3.0's suite fetched by scripts/setup (see
 * src/testing/qemu/suite.ts), prints per-family totals and writes them to docs/conformance.md;
 * it fails (status 1, offenders named) when the list of entries not exact yet disagrees.
 * DIR has the layout of ../shared/reference/libvirt-qemuxml (qemuxmlconfdata/, caps/, aux/).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { assignAliases, formatDomainXML, parseDomainXML } from "../conf/domain/index.ts";
import { loadCapsFile } from "../drivers/qemu/capabilities/load.ts";
import type { QemuCaps } from "../drivers/qemu/capabilities/types.ts";
import { domainFactsFromCaps } from "../drivers/qemu/capabilities/facts.ts";
import type { DomainFacts } from "../conf/domain/types.ts";
import { buildQemuCommand, compareArgs, formatArgsFile } from "../drivers/qemu/command/index.ts";
import type { CommandContext } from "../drivers/qemu/command/types.ts";
import { corpusHarnessContext } from "../testing/qemu/command-harness.ts";
import { harnessIncoming } from "../testing/qemu/command-harness-incoming.ts";
import { qemuXmlCorpusDir } from "../testing/corpus.ts";
import { toVirtError, VirErrorNumber } from "../util/errors/index.ts";
import { virErrorPrefix } from "../util/errors/virerror.ts";

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
  "disk-usb-pci":
    "libvirt calls a USB disk on a PCI address an internal error; we keep its number and call it unsupported configuration",
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
}

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
  const facts = domainFactsFromCaps(caps);
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
      facts: harnessFacts(caps, variant),
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

export interface Counts {
  exact: number;
  equivalent: number;
  /** `differs` and `missing`. */
  differs: number;
  of: number;
}

export function countVerdicts(results: readonly CaseResult[], column: "args" | "xml"): Counts {
  const exact = results.filter((r) => r[column] === "exact").length;
  const equivalent = results.filter((r) => r[column] === "equivalent").length;
  return { exact, equivalent, differs: results.length - exact - equivalent, of: results.length };
}

export function summarize(results: readonly CaseResult[]): string {
  const line = (c: Counts): string =>
    `${c.exact} exact, ${c.equivalent} equivalent, ${c.differs} differs of ${c.of}`;
  return `args: ${line(countVerdicts(results, "args"))}; xml: ${line(countVerdicts(results, "xml"))}`;
}

export interface Thresholds {
  /** Fewest exact `.args`/`.err` verdicts accepted. */
  minExact?: number;
  /** Most differing (or missing) `.args`/`.err` verdicts accepted. */
  maxDiffers?: number;
  /** Fewest exact XML round trips accepted. */
  minXmlExact?: number;
}

/** Why the results miss the thresholds; empty when they meet them. */
export function thresholdFailures(results: readonly CaseResult[], t: Thresholds): string[] {
  const args = countVerdicts(results, "args");
  const xml = countVerdicts(results, "xml");
  const out: string[] = [];
  if (t.minExact !== undefined && args.exact < t.minExact)
    out.push(`args: ${args.exact} exact of ${args.of}, below --min-exact ${t.minExact}`);
  if (t.maxDiffers !== undefined && args.differs > t.maxDiffers)
    out.push(`args: ${args.differs} differ of ${args.of}, above --max-differs ${t.maxDiffers}`);
  if (t.minXmlExact !== undefined && xml.exact < t.minXmlExact)
    out.push(`xml: ${xml.exact} exact of ${xml.of}, below --min-xml-exact ${t.minXmlExact}`);
  return out;
}

/** A non-negative integer option value, or an error text. */
function count(option: string, v: string | undefined): number | undefined | Error {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) return new Error(`--${option} wants a non-negative integer, not '${v}'`);
  return Number(v);
}

/** The generated page of per-family totals. */
export const CONFORMANCE_DOC = fileURLToPath(new URL("../../docs/conformance.md", import.meta.url));

interface SuiteOptions {
  writeRatchet: boolean;
  allowNew: boolean;
  json: boolean;
  /** The list (default: src/testing/qemu/suite-differs.json). */
  ratchet?: string;
  /** The page of totals (default: docs/conformance.md). */
  doc?: string;
}

/**
 * `--suite`: every x86_64 output of the fetched libvirt suite, per-family totals printed and
 * written to docs/conformance.md; with `--write-ratchet` the list of entries not exact yet is
 * rewritten, refusing entries it does not hold (or worse verdicts) unless `--allow-new`.
 */
async function suiteMain(opts: SuiteOptions): Promise<number> {
  const { libvirtSuite, libvirtSuiteMissing } = await import("../testing/libvirt-suite.ts");
  const s = await import("../testing/qemu/suite.ts");
  const dir = libvirtSuite();
  if (dir === undefined) {
    console.error(`conformance: ${libvirtSuiteMissing() ?? "libvirt suite missing"}`);
    return 2;
  }
  const ratchet = opts.ratchet ?? s.RATCHET_FILE;
  const run = s.runSuite(dir);
  const listed = s.readRatchet(ratchet);
  const check = s.checkRatchet(run.entries, listed);
  if (opts.json) console.log(JSON.stringify({ entries: run.entries, check }, null, 2));
  else {
    console.log(s.familyTable(run.entries));
    console.log(
      `${run.outputs} outputs, ${run.entries.length} entries in ${(run.ms / 1000).toFixed(1)} s; ` +
        `list: ${listed.length} entries, ${check.unlisted.length} unlisted, ${check.nowExact.length} exact now, ` +
        `${check.changed.length} changed, ${check.gone.length} gone`,
    );
  }
  if (!opts.json)
    for (const [setting, outputs] of run.unapplied)
      console.log(`harness setting not reproduced: ${setting}: ${outputs.join(", ")}`);
  for (const u of run.undeclared)
    console.error(`conformance: ${u}: .err without a declaration in qemuxmlconftest.c`);
  writeFileSync(opts.doc ?? CONFORMANCE_DOC, s.conformanceDoc(run.entries));
  if (!opts.writeRatchet) {
    // Without --write-ratchet, a list that disagrees with the suite is a failure, as in suite.test.ts.
    const problems = s.describeCheck(check);
    for (const line of problems.slice(0, 40)) console.error(`conformance: ${line}`);
    if (problems.length > 40) console.error(`conformance: ... and ${problems.length - 40} more`);
    if (problems.length > 0)
      console.error(`conformance: ${ratchet} disagrees with the suite; fix, or --write-ratchet once right`);
    return problems.length > 0 ? 1 : 0;
  }
  const worse = s.worseThanListed(check);
  if (worse.length > 0 && !opts.allowNew) {
    for (const line of worse) console.error(`conformance: ${line}`);
    console.error(
      `conformance: refusing to add ${worse.length} entries to ${ratchet} (the list only shrinks); ` +
        "fix them, or pass --allow-new",
    );
    return 1;
  }
  writeFileSync(ratchet, s.formatRatchet(run.entries));
  console.log(`wrote ${ratchet}: ${run.entries.filter((e) => e.verdict !== "exact").length} entries`);
  return 0;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        suite: { type: "boolean" },
        "write-ratchet": { type: "boolean" },
        "allow-new": { type: "boolean" },
        ratchet: { type: "string" },
        doc: { type: "string" },
        corpus: { type: "string" },
        json: { type: "boolean" },
        "min-exact": { type: "string" },
        "max-differs": { type: "string" },
        "min-xml-exact": { type: "string" },
      },
    }));
  } catch (e) {
    console.error(`conformance: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const thresholds: Thresholds = {};
  for (const [option, field] of [
    ["min-exact", "minExact"],
    ["max-differs", "maxDiffers"],
    ["min-xml-exact", "minXmlExact"],
  ] as const) {
    const n = count(option, values[option]);
    if (n instanceof Error) {
      console.error(`conformance: ${n.message}`);
      return 2;
    }
    if (n !== undefined) thresholds[field] = n;
  }
  if (values.suite)
    return suiteMain({
      writeRatchet: values["write-ratchet"] ?? false,
      allowNew: values["allow-new"] ?? false,
      json: values.json ?? false,
      ...(values.ratchet !== undefined ? { ratchet: values.ratchet } : {}),
      ...(values.doc !== undefined ? { doc: values.doc } : {}),
    });
  if (values["write-ratchet"] || values["allow-new"] || values.ratchet || values.doc) {
    console.error("conformance: --write-ratchet, --allow-new, --ratchet and --doc go with --suite");
    return 2;
  }
  const corpusDir = values.corpus ?? qemuXmlCorpusDir();
  if (corpusDir === undefined || !existsSync(join(corpusDir, "qemuxmlconfdata"))) {
    console.error(
      `conformance: no corpus at ${corpusDir ?? "../shared/reference/libvirt-qemuxml"} (use --corpus DIR)`,
    );
    return 2;
  }
  const caps = loadCapsFile(join(corpusDir, "caps", "caps_10.0.0_x86_64.xml"));
  const results = listCases(corpusDir).map((c) => runCase(corpusDir, c, caps));
  if (values.json) {
    console.log(JSON.stringify({ results, summary: summarize(results) }, null, 2));
  } else {
    const w = Math.max(4, ...results.map((r) => r.name.length));
    console.log(`${"case".padEnd(w)} | args       | xml`);
    console.log(`${"-".repeat(w)}-|------------|-----------`);
    for (const r of results) {
      console.log(`${r.name.padEnd(w)} | ${r.args.padEnd(10)} | ${r.xml}`);
      if (r.argsNote !== undefined && r.args !== "exact")
        console.log(`${"".padEnd(w)}   args: ${r.argsNote}`);
      if (r.xmlNote !== undefined && r.xml !== "exact") console.log(`${"".padEnd(w)}   xml: ${r.xmlNote}`);
    }
    console.log(summarize(results));
  }
  const failures = thresholdFailures(results, thresholds);
  for (const f of failures) console.error(`conformance: ${f}`);
  return failures.length > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  // not a top-level await: --suite imports modules that import this one
  void main().then((code) => {
    process.exitCode = code;
  });
}
