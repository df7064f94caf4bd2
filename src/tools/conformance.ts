/**
 * Conformance against libvirt's own golden files: for every case of the corpus, the QEMU
 * command line (`<case>.x86_64-latest.args` or `.err`) and the XML round trip
 * (`<case>.x86_64-latest.xml`). Prints a table `case | args | xml` and a summary line.
 *
 *   npm run conformance -- [--corpus DIR] [--json]
 *
 * DIR has the layout of ../shared/reference/libvirt-qemuxml (qemuxmlconfdata/, caps/, aux/).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { assignAliases, formatDomainXML, parseDomainXML } from "../conf/domain/index.ts";
import { loadCapsFile } from "../drivers/qemu/capabilities/load.ts";
import type { QemuCaps } from "../drivers/qemu/capabilities/types.ts";
import { buildQemuCommand, compareArgs, formatArgsFile } from "../drivers/qemu/command/index.ts";
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

export function runCase(corpusDir: string, name: string, caps: QemuCaps): CaseResult {
  const data = join(corpusDir, "qemuxmlconfdata");
  const input = readFileSync(join(data, `${name}.xml`), "utf8");
  const base = join(data, `${name}.x86_64-latest`);
  const argsFile = `${base}.args`;
  const errFile = `${base}.err`;
  const xmlFile = `${base}.xml`;
  const errText = existsSync(errFile) ? readFileSync(errFile, "utf8").trim() : undefined;
  const result: CaseResult = { name, args: "missing", xml: "missing" };

  let def: ReturnType<typeof parseDomainXML>["def"] | undefined;
  let parseError: unknown;
  try {
    def = parseDomainXML(input, { document: `${name}.xml` }).def;
  } catch (e) {
    parseError = e;
  }

  // XML round trip.
  if (existsSync(xmlFile)) {
    const expected = readFileSync(xmlFile, "utf8");
    if (def) {
      try {
        const actual = formatDomainXML(def, { secure: true });
        if (actual === expected) result.xml = "exact";
        else {
          result.xml = "differs";
          result.xmlNote = firstLineDifference(expected, actual);
        }
      } catch (e) {
        result.xml = "differs";
        result.xmlNote = `format failed: ${toVirtError(e).message}`;
      }
    } else {
      result.xml = "differs";
      result.xmlNote = `parse failed: ${toVirtError(parseError).message}`;
    }
  } else if (errText !== undefined) {
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
      built = formatArgsFile(
        buildQemuCommand(d, corpusHarnessContext(d, { caps, corpusDir, incoming: harnessIncoming(name) })),
      );
    } catch (e) {
      buildError = e;
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
  return result;
}

export function listCases(corpusDir: string): string[] {
  return readdirSync(join(corpusDir, "qemuxmlconfdata"))
    .filter((f) => /^[^.]+\.xml$/.test(f))
    .map((f) => f.slice(0, -4))
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

function main(): number {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
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

if (import.meta.url === `file://${process.argv[1] ?? ""}`) process.exitCode = main();
