/**
 * Golden test against libvirt's corpus: every `<case>.x86_64-latest.args` (and abi-update
 * variant) is rebuilt from `<case>.xml` with the QEMU 10.0 capabilities and libvirt's test
 * harness context, then compared. Known differences are listed with their reason; a listed case
 * that starts passing fails the test (so the list stays honest), as does an unlisted regression.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import type { DomainFacts } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { loadCapsFile } from "../capabilities/load.ts";
import { domainFactsFromCaps } from "../capabilities/facts.ts";
import { buildQemuCommand, compareArgs, formatArgsFile } from "./index.ts";
import { corpusHarnessContext } from "../../../testing/qemu/command-harness.ts";
import { harnessIncoming } from "../../../testing/qemu/command-harness-incoming.ts";

/** Cases whose output is known to differ from libvirt's, with the reason. */
const HOST_MODEL =
  "host-model needs libvirt 11.3's x86 CPU map (model feature sets, cpuid order) to pick EPYC-Rome and list the extra host features; without it the builder asks the caller for ctx.hostModelCpu and fails";
const KNOWN_DIFFERENCES: Record<string, string> = {
  "cpu-host-model-kvm.x86_64-latest": HOST_MODEL,
  "cpu-host-model-kvm.x86_64-7.2.0": HOST_MODEL,
};

/** Cases whose `.err` is produced by the command-line builder, with the catalogue code we give. */
const BUILD_ERRORS: Record<string, string> = {
  "hugepages-default-5M": "QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE",
};

/** Facts from the capabilities; the `latest` harness keeps machine aliases as written. */
function factsFor(caps: QemuCaps, canonicalise: boolean): DomainFacts {
  const facts = domainFactsFromCaps(caps);
  return canonicalise ? facts : { ...facts, canonicalMachine: () => undefined };
}

interface Outcome {
  name: string;
  verdict: "exact" | "equivalent" | "differs" | "error";
  detail?: string;
}

function runCase(
  dir: string,
  caseName: string,
  suffix: string,
  caps: QemuCaps,
  canonicalise: boolean,
): Outcome {
  const data = join(dir, "qemuxmlconfdata");
  const name = `${caseName}.${suffix}`;
  const expected = readFileSync(join(data, `${name}.args`), "utf8");
  try {
    const xml = readFileSync(join(data, `${caseName}.xml`), "utf8");
    const { def } = parseDomainXML(xml, { document: `${caseName}.xml`, facts: factsFor(caps, canonicalise) });
    const ctx = corpusHarnessContext(def, { caps, corpusDir: dir, incoming: harnessIncoming(caseName) });
    const actual = formatArgsFile(buildQemuCommand(def, ctx));
    const r = compareArgs(expected, actual);
    return { name, verdict: r.verdict, detail: r.firstDifference };
  } catch (e) {
    return { name, verdict: "error", detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

function caseNames(dir: string): { caseName: string; suffix: string }[] {
  const out: { caseName: string; suffix: string }[] = [];
  for (const f of readdirSync(join(dir, "qemuxmlconfdata")).sort()) {
    const m = /^(.*)\.(x86_64-latest(?:\.abi-update)?)\.args$/.exec(f);
    if (m) out.push({ caseName: m[1]!, suffix: m[2]! });
  }
  return out;
}

test("libvirt corpus: x86_64-latest command lines", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  const outcomes = caseNames(dir).map(({ caseName, suffix }) => runCase(dir, caseName, suffix, caps, false));
  const counts = { exact: 0, equivalent: 0, differs: 0, error: 0 };
  for (const o of outcomes) counts[o.verdict]++;
  t.diagnostic(
    `${outcomes.length} cases: ${counts.exact} exact, ${counts.equivalent} equivalent, ${counts.differs} differ, ${counts.error} errors`,
  );
  const problems: string[] = [];
  for (const o of outcomes) {
    const known = KNOWN_DIFFERENCES[o.name];
    const ok = o.verdict === "exact" || o.verdict === "equivalent";
    if (!ok) t.diagnostic(`${o.name}: ${o.verdict}: ${o.detail ?? ""}`);
    if (ok && known !== undefined)
      problems.push(`${o.name} now passes (${o.verdict}): remove it from KNOWN_DIFFERENCES`);
    if (!ok && known === undefined) problems.push(`${o.name}: ${o.verdict}: ${o.detail ?? ""}`);
  }
  assert.deepEqual(problems, []);
});

test("libvirt corpus: QEMU 7.2.0 spellings (cpu-host-model-kvm)", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const capsFile = join(dir, "caps", "caps_7.2.0_x86_64.xml");
  if (!existsSync(join(dir, "qemuxmlconfdata", "cpu-host-model-kvm.x86_64-7.2.0.args"))) return;
  const caps = loadCapsFile(capsFile);
  const o = runCase(dir, "cpu-host-model-kvm", "x86_64-7.2.0", caps, true);
  t.diagnostic(`${o.name}: ${o.verdict}${o.detail ? `: ${o.detail}` : ""}`);
  const known = KNOWN_DIFFERENCES[o.name];
  const ok = o.verdict === "exact" || o.verdict === "equivalent";
  if (known !== undefined) assert.ok(!ok, `${o.name} now passes: remove it from KNOWN_DIFFERENCES`);
  else assert.ok(ok, `${o.name}: ${o.verdict}: ${o.detail ?? ""}`);
});

test("libvirt corpus: build-time errors are catalogued", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  for (const [caseName, code] of Object.entries(BUILD_ERRORS)) {
    const xml = readFileSync(join(dir, "qemuxmlconfdata", `${caseName}.xml`), "utf8");
    const { def } = parseDomainXML(xml, { document: `${caseName}.xml` });
    const ctx = corpusHarnessContext(def, { caps, corpusDir: dir });
    assert.throws(
      () => buildQemuCommand(def, ctx),
      (e: unknown) => {
        assert.ok(e instanceof VirtError, `${caseName}: expected a VirtError, got ${String(e)}`);
        assert.equal(e.code, code);
        assert.notEqual(e.kind, "bug");
        t.diagnostic(`${caseName}: ${e.message}`);
        return true;
      },
    );
  }
});
