/**
 * Fuzz: mutated storage pool and volume documents of libvirt 11.3's storage data are either
 * accepted (the formatted XML is a fixed point, and the start and qemu-img commands are built)
 * or rejected with a catalogued user error. Nothing else may be thrown. FUZZ_N and FUZZ_SEED
 * override the count (default 3,000) and the seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { libvirtSuiteOrSkip } from "../../testing/libvirt-suite.ts";
import { mutate, prng } from "../../testing/mutate.ts";
import { catalogue, VirtError } from "../../util/errors/index.ts";
import { formatPool, formatVolume, parsePool, parseVolume, type PoolDef } from "../../conf/storage/index.ts";
import { poolStartCommands, qemuImgCommands } from "./commands.ts";

function expectCatalogued(e: unknown, what: string): void {
  if (!(e instanceof VirtError)) assert.fail(`${what} threw a non-catalogued ${String(e)}`);
  assert.ok(e.code in catalogue);
  assert.notEqual(e.kind, "bug", `${what}: ${e.message}`);
}

test("mutated storage documents are accepted or rejected with a catalogued user error", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const tests = join(suite, "tests");
  const read = (sub: string): string[] =>
    readdirSync(join(tests, sub))
      .filter((f) => f.endsWith(".xml"))
      .map((f) => readFileSync(join(tests, sub, f), "utf8"));
  const poolDocs = read("storagepoolxml2xmlin");
  const volDocs = read("storagevolxml2xmlin");
  const pools: PoolDef[] = ["pool-dir", "pool-logical", "pool-disk", "pool-gluster"].map(
    (p) => parsePool(readFileSync(join(tests, "storagepoolxml2xmlin", `${p}.xml`), "utf8")).def,
  );
  const dirPool = pools[0];
  if (!dirPool) throw new Error("no pools");
  const inputs = volDocs.flatMap((d) => {
    try {
      return [parseVolume(d, dirPool, { noCapacity: true }).def];
    } catch {
      return [];
    }
  });
  const n = Number(process.env.FUZZ_N ?? 3_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20261206);
  const rnd = prng(seed);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < n; i++) {
    const isPool = rnd() < 0.5;
    const docs = isPool ? poolDocs : volDocs;
    let doc = docs[Math.floor(rnd() * docs.length)] ?? "";
    const rounds = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < rounds; r++) doc = mutate(doc, rnd);
    const what = `case ${i} (seed ${seed})\n--- document ---\n${doc}`;
    try {
      if (isPool) {
        const { def } = parsePool(doc, { document: `fuzz-${i}.xml` });
        const once = formatPool(def);
        assert.equal(formatPool(parsePool(once).def), once, `${what}\nis not a fixed point`);
        try {
          poolStartCommands(def);
        } catch (e) {
          expectCatalogued(e, `start commands of ${what}`);
        }
      } else {
        const pool = pools[Math.floor(rnd() * pools.length)] ?? pools[0];
        if (!pool) throw new Error("no pools");
        const { def } = parseVolume(doc, pool, { document: `fuzz-${i}.xml` });
        const once = formatVolume(pool, def);
        assert.equal(formatVolume(pool, parseVolume(once, pool).def), once, `${what}\nis not a fixed point`);
        try {
          // Sometimes a copy of another (corpus) volume: convert, or create + convert.
          const input = rnd() < 0.3 ? inputs[Math.floor(rnd() * inputs.length)] : undefined;
          qemuImgCommands({
            pool,
            vol: def,
            secretPath: "/s",
            preallocMetadata: rnd() < 0.3,
            ...(input ? { inputPool: pools[0], inputVol: input, inputSecretPath: "/i" } : {}),
          });
        } catch (e) {
          expectCatalogued(e, `qemu-img of ${what}`);
        }
      }
      accepted++;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      expectCatalogued(e, what);
      rejected++;
    }
  }
  t.diagnostic(`seed ${seed}: ${accepted} accepted, ${rejected} rejected`);
  assert.ok(accepted > 0 && rejected > 0, "the mutations should produce both outcomes");
});
