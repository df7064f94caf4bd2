/**
 * Fuzz: mutated corpus documents that the parser accepts are turned into a QEMU command line or
 * rejected with a catalogued, non-bug VirtError; the builder never throws anything else.
 * FUZZ_N and FUZZ_SEED override the count (default 3,000) and the seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { mutate, prng } from "../../../testing/mutate.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { assignAliases, parseDomainXML } from "../../../conf/domain/index.ts";
import { loadCapsFile } from "../capabilities/load.ts";
import { buildQemuCommand } from "./index.ts";
import { corpusHarnessContext } from "../../../testing/qemu/command-harness.ts";

test("the builder turns every accepted mutated document into argv or a catalogued error", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  const data = join(dir, "qemuxmlconfdata");
  const docs = readdirSync(data)
    .filter((f) => /^[^.]+\.xml$/.test(f))
    .map((f) => readFileSync(join(data, f), "utf8"));
  const n = Number(process.env.FUZZ_N ?? 3_000);
  const seed = Number(process.env.FUZZ_SEED ?? 7);
  const rnd = prng(seed);
  let built = 0;
  let refused = 0;
  for (let i = 0; i < n; i++) {
    let doc = docs[Math.floor(rnd() * docs.length)]!;
    // One attribute/text mutation keeps most documents parseable, which is what this tests.
    doc = mutate(doc, rnd);
    let def;
    try {
      def = parseDomainXML(doc).def;
    } catch {
      continue;
    }
    try {
      assignAliases(def);
      buildQemuCommand(def, corpusHarnessContext(def, { caps, corpusDir: dir }));
      built++;
    } catch (e) {
      if (!(e instanceof VirtError))
        assert.fail(`case ${i} (seed ${seed}) threw ${String(e)}\n--- document ---\n${doc}`);
      assert.notEqual(
        e.kind,
        "bug",
        `case ${i} (seed ${seed}): reported as a bug: ${e.message}\n--- document ---\n${doc}`,
      );
      refused++;
    }
  }
  t.diagnostic(`seed ${seed}: ${built} built, ${refused} refused with catalogued errors`);
  assert.ok(built > 0);
});
