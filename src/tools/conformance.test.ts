/**
 * `npm run conformance`: the counts over the corpus sample are asserted exactly, the thresholds
 * decide the exit status (run as a child process on both sides of each), and error texts only
 * count as equivalent for the cases listed as differing on purpose.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { corpusOrSkip, repoRoot } from "../testing/corpus.ts";
import { loadCapsFile } from "../drivers/qemu/capabilities/load.ts";
import { loadInstalledCpuMap } from "../testing/qemu/cpu-map.ts";

// cpu-host-model-kvm needs a CPU map, as `npm run conformance` takes it: the installed QEMU's
before(async () => {
  await loadInstalledCpuMap();
});
import {
  countVerdicts,
  INTENDED_ERROR_TEXT,
  listCases,
  runCase,
  summarize,
  thresholdFailures,
  type CaseResult,
} from "./conformance.ts";

const tool = fileURLToPath(new URL("./conformance.ts", import.meta.url));

function run(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", tool, "--corpus", dir, ...args], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sampleResults(dir: string): CaseResult[] {
  const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  return listCases(dir).map((c) => runCase(dir, c, caps));
}

test("conformance over the corpus sample: the exact counts", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const results = sampleResults(dir);
  // A change here must be deliberate, with the README's conformance section updated alike.
  assert.deepEqual(countVerdicts(results, "args"), { exact: 45, equivalent: 1, differs: 0, of: 46 });
  assert.deepEqual(countVerdicts(results, "xml"), { exact: 46, equivalent: 0, differs: 0, of: 46 });
  const notExact = Object.fromEntries(
    results.filter((r) => r.args !== "exact").map((r) => [r.name, r.args] as const),
  );
  assert.deepEqual(notExact, { "hugepages-default-5M": "equivalent" });
  assert.equal(
    summarize(results),
    "args: 45 exact, 1 equivalent, 0 differs of 46; xml: 46 exact, 0 equivalent, 0 differs of 46",
  );
});

test("thresholdFailures names each threshold missed", () => {
  const r = (args: CaseResult["args"], xml: CaseResult["xml"]): CaseResult => ({ name: "c", args, xml });
  const results = [
    r("exact", "exact"),
    r("equivalent", "exact"),
    r("differs", "differs"),
    r("missing", "exact"),
  ];
  assert.deepEqual(thresholdFailures(results, {}), []);
  assert.deepEqual(thresholdFailures(results, { minExact: 1, maxDiffers: 2, minXmlExact: 3 }), []);
  assert.deepEqual(thresholdFailures(results, { minExact: 2, maxDiffers: 1, minXmlExact: 4 }), [
    "args: 1 exact of 4, below --min-exact 2",
    "args: 2 differ of 4, above --max-differs 1",
    "xml: 3 exact of 4, below --min-xml-exact 4",
  ]);
});

test("npm run conformance: exit status on both sides of the thresholds", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const { exact, differs } = countVerdicts(sampleResults(dir), "args");
  const ok = run(dir, "--min-exact", String(exact), "--max-differs", String(differs));
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`\\nargs: ${exact} exact, `));
  assert.equal(ok.stderr, "");

  const low = run(dir, "--min-exact", String(exact + 1));
  assert.equal(low.status, 1);
  assert.equal(low.stderr, `conformance: args: ${exact} exact of 46, below --min-exact ${exact + 1}\n`);

  // no args case differs any more: the XML threshold shows the JSON run failing instead
  const many = run(dir, "--json", "--min-xml-exact", "47");
  assert.equal(many.status, 1);
  assert.match(many.stderr, /below --min-xml-exact 47\n$/);
  assert.equal((JSON.parse(many.stdout) as { results: unknown[] }).results.length, 46);

  const bad = run(dir, "--min-exact", "lots");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--min-exact wants a non-negative integer, not 'lots'/);
});

/** A corpus of our own cases in a temporary folder, with the sample's capability file. */
function ownCorpus(dir: string, cases: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tvirt-conformance-"));
  mkdirSync(join(root, "qemuxmlconfdata"));
  mkdirSync(join(root, "caps"));
  symlinkSync(join(dir, "caps", "caps_10.0.0_x86_64.xml"), join(root, "caps", "caps_10.0.0_x86_64.xml"));
  for (const [file, text] of Object.entries(cases)) writeFileSync(join(root, "qemuxmlconfdata", file), text);
  return root;
}

const pageDomain = `<domain type='qemu'>
  <name>g</name>
  <memory unit='KiB'>219136</memory>
  <memoryBacking><hugepages><page size='4' unit='MiB'/></hugepages></memoryBacking>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
</domain>
`;

test("an error text counts as equivalent only for the cases listed on purpose", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  assert.ok(INTENDED_ERROR_TEXT["hugepages-default-5M"]);
  // the same error number (1, internal error) with another text
  const err = "internal error: a text of our own making\n";
  const root = ownCorpus(dir, {
    "hugepages-default-5M.xml": pageDomain,
    "hugepages-default-5M.x86_64-latest.err": err,
    "page-4M.xml": pageDomain,
    "page-4M.x86_64-latest.err": err,
    "bad-type.xml": pageDomain.replace("type='qemu'", "type='nonsense'"),
    "bad-type.x86_64-latest.err": "XML error: a text of our own making\n",
  });
  try {
    const caps = loadCapsFile(join(root, "caps", "caps_10.0.0_x86_64.xml"));
    const listed = runCase(root, "hugepages-default-5M", caps);
    assert.equal(listed.args, "equivalent", listed.argsNote);
    assert.match(listed.argsNote ?? "", /^same error code 1, our text on purpose: /);
    const unlisted = runCase(root, "page-4M", caps);
    assert.equal(unlisted.args, "differs");
    assert.match(
      unlisted.argsNote ?? "",
      /^expected 'internal error: a text of our own making', got .*\(same error code 1\)$/,
    );
    // a parse-time error with libvirt's number but another text is no longer scored exact
    const parse = runCase(root, "bad-type", caps);
    assert.equal(parse.xml, "differs", parse.xmlNote);
    assert.match(parse.xmlNote ?? "", /\(same error code 27\)$/);
    assert.equal(parse.args, "differs");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the ratchet options go with --suite only", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", tool, "--write-ratchet", "--allow-new"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "conformance: --write-ratchet, --allow-new, --ratchet and --doc go with --suite\n");
});
