/**
 * Benchmark: cases per second over libvirt 11.3.0's whole x86_64 suite (every output variant
 * with its own capabilities, parse flags and harness settings, as `src/testing/qemu/suite.test.ts`
 * runs them):
 * parse → argv (`.args` text) and parse → XML, inputs read in memory first; then one judged run
 * of the whole suite as the golden test does it (files, comparisons, reasons). Prints a table.
 *   npm run bench:suite            (needs the suite fetched by scripts/setup)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { assignAliases, formatDomainXML, parseDomainXML } from "../src/conf/domain/index.ts";
import { loadCapsFile } from "../src/drivers/qemu/capabilities/load.ts";
import type { QemuCaps } from "../src/drivers/qemu/capabilities/types.ts";
import { buildQemuCommand, formatArgsFile } from "../src/drivers/qemu/command/index.ts";
import {
  libvirtSuite,
  libvirtSuiteMissing,
  sampleShapedView,
  x86Outputs,
} from "../src/testing/libvirt-suite.ts";
import { corpusHarnessContext } from "../src/testing/qemu/command-harness.ts";
import { harnessIncoming } from "../src/testing/qemu/command-harness-incoming.ts";
import {
  capsFileFor,
  harnessCaps,
  harnessDeclarations,
  harnessTweak,
  KNOWN_FLAGS,
  runSuite,
} from "../src/testing/qemu/suite.ts";
import type { CommandContext } from "../src/drivers/qemu/command/types.ts";
import { harnessFacts } from "../src/tools/conformance.ts";
import { median } from "./stats.ts";

const suite = libvirtSuite();
if (suite === undefined) {
  console.error(`bench: ${libvirtSuiteMissing() ?? "libvirt suite missing"}`);
  process.exit(1);
}
const conf = join(suite, "tests", "qemuxmlconfdata");
const capsDir = join(suite, "tests", "qemucapabilitiesdata");
const view = sampleShapedView(suite, mkdtempSync(join(tmpdir(), "tvirt-bench-suite-")));

interface Output {
  name: string;
  variant: string;
  xml: string;
  caps: QemuCaps;
  tweak?: ((ctx: CommandContext) => CommandContext) | undefined;
}
const declarations = harnessDeclarations(readFileSync(join(suite, "tests", "qemuxmlconftest.c"), "utf8"));
const capsCache = new Map<string, QemuCaps>();
const outputs: Output[] = [];
for (const { name, variant } of x86Outputs(conf)) {
  const file = capsFileFor(capsDir, variant);
  let caps = capsCache.get(file);
  if (!caps) capsCache.set(file, (caps = loadCapsFile(file)));
  const xml = readFileSync(join(conf, `${name}.xml`), "utf8");
  const decl = declarations.get(`${name} ${variant}`);
  outputs.push({
    name,
    variant,
    xml,
    caps: harnessCaps(caps, decl, KNOWN_FLAGS).caps,
    tweak: harnessTweak(decl).tweak,
  });
}

function parse(o: Output): ReturnType<typeof parseDomainXML>["def"] | undefined {
  try {
    return parseDomainXML(o.xml, {
      document: `${o.name}.xml`,
      facts: harnessFacts(o.caps, o.variant),
      ...(o.variant.endsWith(".abi-update") ? { abiUpdate: true } : {}),
    }).def;
  } catch {
    return undefined; // a negative case: the error is the outcome
  }
}

const toArgv = (o: Output): void => {
  const def = parse(o);
  if (!def) return;
  try {
    assignAliases(def);
    const ctx = corpusHarnessContext(def, {
      caps: o.caps,
      corpusDir: view,
      incoming: harnessIncoming(o.name),
    });
    formatArgsFile(buildQemuCommand(def, o.tweak ? o.tweak(ctx) : ctx));
  } catch {
    /* a negative case */
  }
};
const toXml = (o: Output): void => {
  const def = parse(o);
  if (!def) return;
  try {
    formatDomainXML(def, { secure: true });
  } catch {
    /* counted like the golden test: a difference */
  }
};

/** Whole passes over every output for at least `ms`: the median pass, in cases per second. */
function measure(fn: (o: Output) => void, ms = 3000): { perSec: number; passMs: number; passes: number } {
  for (const o of outputs) fn(o); // warm-up
  const passes: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until || passes.length < 3) {
    const t0 = performance.now();
    for (const o of outputs) fn(o);
    passes.push(performance.now() - t0);
  }
  const passMs = median(passes);
  return { perSec: (outputs.length * 1000) / passMs, passMs, passes: passes.length };
}

try {
  const rows: [string, { perSec: number; passMs: number; passes: number }][] = [
    ["parse → argv (.args text)", measure(toArgv)],
    ["parse → XML", measure(toXml)],
  ];
  const judged: number[] = [];
  for (let i = 0; i < 3; i++) judged.push(runSuite(suite).ms);
  const judgedMs = median(judged);
  rows.push([
    "judged run (files, comparisons, reasons)",
    { perSec: (outputs.length * 1000) / judgedMs, passMs: judgedMs, passes: 3 },
  ]);

  console.log(`libvirt 11.3.0 x86_64 suite: ${outputs.length} outputs, Node ${process.version}`);
  console.log("| step | cases per second | ms per whole suite (median) | passes |");
  console.log("|---|---:|---:|---:|");
  for (const [name, r] of rows)
    console.log(`| ${name} | ${Math.round(r.perSec)} | ${r.passMs.toFixed(0)} | ${r.passes} |`);
} finally {
  rmSync(view, { recursive: true, force: true });
}
