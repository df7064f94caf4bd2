/**
 * Conformance against libvirt's own golden files: for every case of the corpus, the QEMU
 * command line (`<case>.x86_64-latest.args` or `.err`) and the XML round trip
 * (`<case>.x86_64-latest.xml`). Prints a table `case | args | xml` and a summary line. Then
 * the network corpus (src/testing/network-conformance.ts): XML round trips, dnsmasq `.conf` and
 * `.hostsfile`, firewall rules for iptables and nftables, as a table `kind | case | verdict`
 * with the reason under each case that is not exact, and a summary line.
 *
 *   npm run conformance -- [--corpus DIR] [--network-corpus DIR] [--json] [--min-network-exact N]
 *   npm run conformance -- --suite [--write-ratchet [--allow-new]] [--json] [--ratchet F] [--doc F]
 *
 * `--suite` runs every x86_64 output of libvirt 11.3.0's suite fetched by scripts/setup (see
 * src/testing/qemu/suite.ts), prints per-family totals and writes them to docs/conformance.md;
 * it fails (status 1, offenders named) when the list of entries not exact yet disagrees.
 * DIR has the layout of ../shared/reference/libvirt-qemuxml (qemuxmlconfdata/, caps/, aux/).
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { loadCapsFile } from "../drivers/qemu/capabilities/load.ts";

import { qemuXmlCorpusDir } from "../testing/corpus.ts";

import { listCases, runCase, type CaseResult } from "../testing/qemu/conformance-case.ts";
import { loadInstalledCpuMap } from "../testing/qemu/cpu-map.ts";
import { networkCorpusDir } from "../testing/network-corpus.ts";
import {
  networkDocSection,
  networkTable,
  runNetworkConformance,
  type NetworkConformance,
} from "../testing/network-conformance.ts";

export {
  type CaseDetail,
  type CaseResult,
  type Expectation,
  harnessFacts,
  INTENDED_ERROR_TEXT,
  listCases,
  runCase,
  type RunOptions,
  type Verdict,
  virCodeOfErrText,
} from "../testing/qemu/conformance-case.ts";

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
  await loadInstalledCpuMap();
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
  const sampleDir = networkCorpusDir();
  const netSample = sampleDir !== undefined ? runNetworkConformance(sampleDir) : undefined;
  const netSuite = runNetworkConformance(dir);
  if (!opts.json) console.log(`\nlibvirt ${dir} network corpus:\n${networkTable(netSuite)}`);
  writeFileSync(
    opts.doc ?? CONFORMANCE_DOC,
    s.conformanceDoc(run.entries) + "\n" + networkDocSection(netSample, netSuite),
  );
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
        "network-corpus": { type: "string" },
        "min-network-exact": { type: "string" },
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
  const minNetworkExact = count("min-network-exact", values["min-network-exact"]);
  if (minNetworkExact instanceof Error) {
    console.error(`conformance: ${minNetworkExact.message}`);
    return 2;
  }
  const caps = loadCapsFile(join(corpusDir, "caps", "caps_10.0.0_x86_64.xml"));
  // host-model needs a CPU map, which libvirt's capability files lack: the installed QEMU's
  await loadInstalledCpuMap();
  const results = listCases(corpusDir).map((c) => runCase(corpusDir, c, caps));
  const netDir = values["network-corpus"] ?? networkCorpusDir();
  let net: NetworkConformance | undefined;
  try {
    net = netDir !== undefined ? runNetworkConformance(netDir) : undefined;
  } catch (e) {
    console.error(`conformance: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (net === undefined) console.error("conformance: no network corpus (use --network-corpus DIR)");
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          results,
          summary: summarize(results),
          ...(net ? { network: { results: net.results, networks: net.networks } } : {}),
        },
        null,
        2,
      ),
    );
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
    if (net) console.log(`\nnetwork corpus ${net.dir}:\n${networkTable(net)}`);
  }
  const failures = thresholdFailures(results, thresholds);
  if (minNetworkExact !== undefined && (net?.networks.exact ?? 0) < minNetworkExact)
    failures.push(
      `networks: ${net?.networks.exact ?? 0} exact of ${net?.networks.of ?? 0}, below --min-network-exact ${minNetworkExact}`,
    );
  for (const f of failures) console.error(`conformance: ${f}`);
  return failures.length > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  // not a top-level await: --suite imports modules that import this one
  void main().then((code) => {
    process.exitCode = code;
  });
}
