/**
 * Benchmark: domain XML parse+format throughput over libvirt's whole corpus, and QEMU argv
 * generation time per domain, measured side by side in one run. Prints a table.
 *   npm run bench            (reads the corpus in place from ../shared/reference)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { qemuXmlCorpusDir } from "../src/testing/corpus.ts";
import { assignAliases, formatDomainXML, parseDomainXML } from "../src/conf/domain/index.ts";
import { buildQemuCommand } from "../src/drivers/qemu/command/index.ts";
import { corpusHarnessContext } from "../src/testing/qemu/command-harness.ts";
import { harnessIncoming } from "../src/testing/qemu/command-harness-incoming.ts";
import { loadCapsFile } from "../src/drivers/qemu/capabilities/load.ts";
import { parseXml } from "../src/conf/xml.ts";

const dir = qemuXmlCorpusDir();
if (!dir) {
  console.error("bench: libvirt corpus not found (set TVIRT_REFERENCE)");
  process.exit(1);
}
const data = join(dir, "qemuxmlconfdata");
const cases = readdirSync(data)
  .filter((f) => /^[^.]+\.xml$/.test(f))
  .map((f) => ({ name: f.slice(0, -4), xml: readFileSync(join(data, f), "utf8") }));
const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));

/** Runs fn over all cases repeatedly for at least `ms`, returns per-domain µs (median of rounds). */
function measure(
  fn: (c: (typeof cases)[number]) => void,
  ms = 1500,
): { perDomainUs: number; domainsPerSec: number; n: number } {
  const rounds: number[] = [];
  let n = 0;
  const until = performance.now() + ms;
  // warm-up
  for (const c of cases) fn(c);
  while (performance.now() < until) {
    const t0 = performance.now();
    for (const c of cases) fn(c);
    rounds.push((performance.now() - t0) / cases.length);
    n += cases.length;
  }
  rounds.sort((a, b) => a - b);
  const med = rounds[Math.floor(rounds.length / 2)]!;
  return { perDomainUs: med * 1000, domainsPerSec: 1000 / med, n };
}

const ok = (c: (typeof cases)[number]): boolean => {
  try {
    parseDomainXML(c.xml);
    return true;
  } catch {
    return false;
  }
};
const good = cases.filter(ok);

const rows: [string, ReturnType<typeof measure>][] = [];
rows.push(["XML tree only (saxes)", measure((c) => parseXml(c.xml))]);
rows.push([
  "parse (with defaults)",
  measure((c) => {
    if (good.includes(c)) parseDomainXML(c.xml);
  }),
]);
const parsed = new Map(good.map((c) => [c.name, parseDomainXML(c.xml).def]));
rows.push([
  "format",
  measure((c) => {
    const d = parsed.get(c.name);
    if (d) formatDomainXML(d);
  }),
]);
rows.push([
  "parse + format",
  measure((c) => {
    if (good.includes(c)) formatDomainXML(parseDomainXML(c.xml).def);
  }),
]);
rows.push([
  "argv generation",
  measure((c) => {
    const d = parsed.get(c.name);
    if (!d) return;
    assignAliases(d);
    try {
      buildQemuCommand(
        d,
        corpusHarnessContext(d, { caps, corpusDir: dir, incoming: harnessIncoming(c.name) }),
      );
    } catch {
      /* the negative cases */
    }
  }),
]);

console.log(`corpus: ${cases.length} domains (${good.length} parse), Node ${process.version}`);
console.log("| step | µs per domain | domains per second | relative to parse+format |");
console.log("|---|---:|---:|---:|");
const base = rows.find((r) => r[0] === "parse + format")![1].perDomainUs;
for (const [name, r] of rows) {
  console.log(
    `| ${name} | ${r.perDomainUs.toFixed(1)} | ${Math.round(r.domainsPerSec)} | ${(r.perDomainUs / base).toFixed(2)}× |`,
  );
}
