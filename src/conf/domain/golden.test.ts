/**
 * Golden test against libvirt 11.3's corpus (read in place): for every case with a
 * `<case>.x86_64-latest.xml`, parse + post-parse defaults + format must equal that file byte for
 * byte; for `<case>.x86_64-latest.err` cases that fail at parse time the message must match.
 * Known differences are listed with a reason; the test fails when a listed case starts passing
 * (remove it from the list) or an unlisted case fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { corpusOrSkip } from "../../testing/corpus.ts";
import { VirtError } from "../../util/errors/index.ts";
import { formatDomainXML, parseDomainXML, type DomainFacts } from "./index.ts";

/** Cases whose output differs from libvirt's, with the reason. */
const KNOWN_DIFFERENT: Readonly<Record<string, string>> = {};

/** `.err` cases that fail at command-line build time (not at parse time): they must parse. */
const BUILD_TIME_ERRORS = new Set(["hugepages-default-5M"]);

function firstDifference(got: string, want: string): string {
  const g = got.split("\n");
  const w = want.split("\n");
  for (let i = 0; i < Math.max(g.length, w.length); i++) {
    if (g[i] !== w[i]) return `line ${i + 1}:\n  got:  ${g[i] ?? "(end)"}\n  want: ${w[i] ?? "(end)"}`;
  }
  return "(no difference)";
}

test("domain XML round trip matches libvirt's x86_64-latest output", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  const cases = readdirSync(data)
    .filter((f) => f.endsWith(".x86_64-latest.xml") && !f.includes(".abi-update."))
    .map((f) => f.slice(0, -".x86_64-latest.xml".length))
    .sort();
  assert.ok(cases.length >= 44, `expected the corpus's 44+ cases, found ${cases.length}`);
  const failures: string[] = [];
  const fixed: string[] = [];
  let exact = 0;
  for (const c of cases) {
    const want = readFileSync(join(data, `${c}.x86_64-latest.xml`), "utf8");
    let got: string;
    try {
      got = formatDomainXML(
        parseDomainXML(readFileSync(join(data, `${c}.xml`), "utf8"), { document: `${c}.xml` }).def,
      );
    } catch (e) {
      got = `(threw ${e instanceof Error ? e.message : String(e)})`;
    }
    const same = got === want;
    if (same) exact++;
    if (same && c in KNOWN_DIFFERENT) fixed.push(c);
    if (!same && !(c in KNOWN_DIFFERENT)) failures.push(`${c}: ${firstDifference(got, want)}`);
  }
  t.diagnostic(`${exact} of ${cases.length} cases round-trip exactly`);
  assert.deepEqual(
    fixed,
    [],
    `these listed cases now pass; remove them from KNOWN_DIFFERENT: ${fixed.join(", ")}`,
  );
  assert.deepEqual(failures, [], `unexpected differences:\n${failures.join("\n")}`);
});

test("abi-update variants match libvirt (define/create parse flags)", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  for (const f of readdirSync(data).filter((x) => x.endsWith(".x86_64-latest.abi-update.xml"))) {
    const c = f.slice(0, -".x86_64-latest.abi-update.xml".length);
    const { def } = parseDomainXML(readFileSync(join(data, `${c}.xml`), "utf8"), { abiUpdate: true });
    assert.equal(formatDomainXML(def), readFileSync(join(data, f), "utf8"), c);
  }
});

test("parse-time error cases give libvirt's message and error code", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  const errs = readdirSync(data).filter((f) => f.endsWith(".x86_64-latest.err"));
  assert.ok(errs.length > 0);
  for (const f of errs) {
    const c = f.slice(0, -".x86_64-latest.err".length);
    const xml = readFileSync(join(data, `${c}.xml`), "utf8");
    if (BUILD_TIME_ERRORS.has(c)) {
      assert.doesNotThrow(() => parseDomainXML(xml), c);
      assert.ok(existsSync(join(data, `${c}.x86_64-latest.xml`)), c);
      continue;
    }
    const want = readFileSync(join(data, f), "utf8").trim();
    assert.throws(
      () => parseDomainXML(xml),
      (e: unknown) => e instanceof VirtError && e.message === want,
      `${c} should fail with: ${want}`,
    );
  }
});

test("cpu-phys-bits-passthrough2 maps to CONFIG_UNSUPPORTED with the XML position", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const xml = readFileSync(join(dir, "qemuxmlconfdata", "cpu-phys-bits-passthrough2.xml"), "utf8");
  try {
    parseDomainXML(xml);
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof VirtError);
    assert.equal(e.code, "CONFIG_UNSUPPORTED");
    assert.equal(e.virCode, 67);
    assert.equal(
      e.message,
      "unsupported configuration: CPU maximum physical address bits number specification cannot be used with mode='passthrough'",
    );
    assert.equal(e.details.xpath, "/domain/cpu/maxphysaddr");
    assert.equal(e.details.line, 12);
  }
});

test("formatting a parsed corpus definition again is stable", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  for (const f of readdirSync(data).filter(
    (x) => x.endsWith(".x86_64-latest.xml") && !x.includes(".abi-update."),
  )) {
    const once = readFileSync(join(data, f), "utf8");
    const again = formatDomainXML(parseDomainXML(once).def);
    assert.equal(again, once, `${f} is not a fixed point`);
  }
});

/** Machine aliases of a libvirt capabilities file (`<machine type= name= alias=/>`), as facts. */
function factsFromCaps(capsXml: string): DomainFacts {
  const map = new Map<string, string>();
  for (const m of capsXml.matchAll(/<machine type='(\w+)' name='([^']+)' alias='([^']+)'/g))
    map.set(`${m[1]}/${m[3]}`, m[2]!);
  return {
    canonicalMachine: (_arch, virtType, machine) =>
      map.get(`${virtType === "kvm" ? "kvm" : "tcg"}/${machine}`),
  };
}

test("QEMU 7.2.0 variants match when machine aliases are canonicalised", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  const facts = factsFromCaps(readFileSync(join(dir, "caps", "caps_7.2.0_x86_64.xml"), "utf8"));
  const files = readdirSync(data).filter((x) => x.endsWith(".x86_64-7.2.0.xml"));
  assert.ok(files.length > 0);
  for (const f of files) {
    const c = f.slice(0, -".x86_64-7.2.0.xml".length);
    const { def } = parseDomainXML(readFileSync(join(data, `${c}.xml`), "utf8"), { facts });
    assert.equal(formatDomainXML(def), readFileSync(join(data, f), "utf8"), c);
  }
});
