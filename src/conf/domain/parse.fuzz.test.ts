/**
 * Fuzz: mutated corpus documents are either accepted, or rejected with a catalogued VirtError.
 * Nothing else may be thrown, by the parser or by formatting what it accepted.
 * FUZZ_N and FUZZ_SEED override the count (default 10,000) and the seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { corpusOrSkip } from "../../testing/corpus.ts";
import { mutate, prng } from "../../testing/mutate.ts";
import { catalogue, VirtError } from "../../util/errors/index.ts";
import { formatDomainXML, parseDomainXML } from "./index.ts";

test("mutated corpus documents are accepted or rejected with a catalogued error", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  const docs = readdirSync(data)
    .filter((f) => f.endsWith(".xml"))
    .map((f) => readFileSync(join(data, f), "utf8"));
  const n = Number(process.env.FUZZ_N ?? 10_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20261125);
  const rnd = prng(seed);
  let accepted = 0;
  let rejected = 0;
  const codes = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let doc = docs[Math.floor(rnd() * docs.length)]!;
    const rounds = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < rounds; r++) doc = mutate(doc, rnd);
    try {
      const { def } = parseDomainXML(doc, { document: `fuzz-${i}.xml` });
      formatDomainXML(def);
      accepted++;
    } catch (e) {
      if (!(e instanceof VirtError)) {
        assert.fail(`case ${i} (seed ${seed}) threw a non-catalogued ${String(e)}\n--- document ---\n${doc}`);
      }
      assert.ok(e.code in catalogue, `case ${i}: code ${e.code} is not in the catalogue`);
      assert.notEqual(
        e.kind,
        "bug",
        `case ${i} (seed ${seed}) was reported as a bug: ${e.message}\n--- document ---\n${doc}`,
      );
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      rejected++;
    }
  }
  t.diagnostic(
    `seed ${seed}: ${accepted} accepted, ${rejected} rejected; codes ${JSON.stringify(Object.fromEntries(codes))}`,
  );
  assert.equal(accepted + rejected, n);
  assert.ok(rejected > 0 && accepted > 0, "the mutations should produce both outcomes");
});
