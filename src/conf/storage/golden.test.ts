/**
 * Golden tests against libvirt 11.3's storage test data (read in place from the fetched suite,
 * never copied): every `storagepoolxml2xmlin/<case>.xml` with an output must format as
 * `storagepoolxml2xmlout/<case>.xml` byte for byte, and every volume case of libvirt's
 * storagevolxml2xmltest (each volume read in the context of the pool the harness pairs it with)
 * as `storagevolxml2xmlout/<case>.xml`. Outputs are fixed points; no case leaves warnings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { libvirtSuite, libvirtSuiteOrSkip } from "../../testing/libvirt-suite.ts";
import { VirtError } from "../../util/errors/index.ts";
import { formatPool, formatVolume, parsePool, parseVolume, type ParseVolumeOptions } from "./index.ts";

/**
 * libvirt's storagevolxml2xmltest cases: volume → the pool it is parsed with, and its parse flags.
 * (The harness lists them; the data folder also holds outputs no 11.3 case uses, see below.)
 */
const VOLUME_CASES: Readonly<Record<string, { pool: string; options?: ParseVolumeOptions }>> = {
  "vol-file": { pool: "pool-dir" },
  "vol-file-naming": { pool: "pool-dir" },
  "vol-file-backing": { pool: "pool-dir" },
  "vol-file-iso": { pool: "pool-dir" },
  "vol-qcow2": { pool: "pool-dir" },
  "vol-qcow2-1.1": { pool: "pool-dir" },
  "vol-qcow2-lazy": { pool: "pool-dir" },
  "vol-qcow2-0.10-lazy": { pool: "pool-dir" },
  "vol-qcow2-nobacking": { pool: "pool-dir" },
  "vol-qcow2-encryption": { pool: "pool-dir" },
  "vol-qcow2-luks": { pool: "pool-dir" },
  "vol-qcow2-clusterSize": { pool: "pool-dir" },
  "vol-luks": { pool: "pool-dir" },
  "vol-luks-cipher": { pool: "pool-dir" },
  "vol-partition": { pool: "pool-disk" },
  "vol-logical": { pool: "pool-logical" },
  "vol-logical-backing": { pool: "pool-logical" },
  "vol-gluster-dir": { pool: "pool-gluster" },
  "vol-gluster-dir-neg-uid": { pool: "pool-gluster" },
  "vol-qcow2-nocapacity": { pool: "pool-dir", options: { noCapacity: true } },
};

/**
 * Output files that no case of libvirt 11.3's harness reads (left over from older releases),
 * with why ours differs from them. They are checked to still differ, so that a change shows.
 */
const STALE_OUTPUTS: Readonly<Record<string, string>> = {
  "vol-qcow2-nocow":
    "not in storagevolxml2xmltest 11.3; the file keeps an empty <source> that 11.3 no longer writes",
};

/** Pool inputs without an output file: not xml2xml cases in libvirt either; they must parse. */
const POOL_INPUT_ONLY = ["pool-netfs-gluster-without-slash"];

const suite = libvirtSuite();

if (!suite) {
  test("storage xml2xml corpus", (t) => {
    libvirtSuiteOrSkip(t);
  });
} else {
  const tests = join(suite, "tests");
  const poolIn = join(tests, "storagepoolxml2xmlin");
  const poolOut = join(tests, "storagepoolxml2xmlout");
  const volIn = join(tests, "storagevolxml2xmlin");
  const volOut = join(tests, "storagevolxml2xmlout");
  const pools = readdirSync(poolIn)
    .filter((f) => f.endsWith(".xml"))
    .map((f) => f.slice(0, -4))
    .sort();

  test("the corpus has its 38 pool xml2xml cases", () => {
    const withOut = pools.filter((c) => existsSync(join(poolOut, `${c}.xml`)));
    assert.equal(withOut.length, 38);
    assert.deepEqual(
      pools.filter((c) => !withOut.includes(c)),
      POOL_INPUT_ONLY,
    );
  });

  for (const c of pools) {
    const input = readFileSync(join(poolIn, `${c}.xml`), "utf8");
    const outFile = join(poolOut, `${c}.xml`);
    if (!existsSync(outFile)) {
      test(`pool xml2xml ${c}: input only, parses without warnings`, () => {
        const { warnings } = parsePool(input, { document: `${c}.xml` });
        assert.deepEqual(warnings, []);
      });
      continue;
    }
    test(`pool xml2xml ${c}`, () => {
      const { def, warnings } = parsePool(input, { document: `${c}.xml` });
      const want = readFileSync(outFile, "utf8");
      assert.equal(formatPool(def), want);
      assert.deepEqual(
        warnings.map((w) => w.message),
        [],
      );
      assert.equal(formatPool(parsePool(want).def), want);
    });
  }

  test("every volume output file is a harness case or a listed stale one", () => {
    const outs = readdirSync(volOut)
      .filter((f) => f.endsWith(".xml"))
      .map((f) => f.slice(0, -4))
      .sort();
    assert.deepEqual(outs, [...Object.keys(VOLUME_CASES), ...Object.keys(STALE_OUTPUTS)].sort());
  });

  for (const [c, { pool, options }] of Object.entries(VOLUME_CASES)) {
    test(`volume xml2xml ${c} (pool ${pool})`, () => {
      const p = parsePool(readFileSync(join(poolIn, `${pool}.xml`), "utf8")).def;
      const { def, warnings } = parseVolume(readFileSync(join(volIn, `${c}.xml`), "utf8"), p, options);
      const want = readFileSync(join(volOut, `${c}.xml`), "utf8");
      assert.equal(formatVolume(p, def), want);
      assert.deepEqual(
        warnings.map((w) => w.message),
        [],
      );
      assert.equal(formatVolume(p, parseVolume(want, p, options).def), want);
    });
  }

  test("schema data: a dir pool without target path is refused as libvirt does", () => {
    const xml = readFileSync(
      join(tests, "storagepoolschemadata", "dir-missing-target-path-invalid.xml"),
      "utf8",
    );
    assert.throws(
      () => parsePool(xml),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "STORAGE_MISSING" &&
        e.virCode === 27 &&
        e.virDomain === 18 &&
        e.kind === "user" &&
        e.message ===
          "XML error: missing storage pool target path (/pool/target/path, line 5, in storage pool 'test')",
    );
  });

  test("schema data: qcow2-no-source parses in a dir pool without warnings", () => {
    const p = parsePool(readFileSync(join(poolIn, "pool-dir.xml"), "utf8")).def;
    const xml = readFileSync(join(tests, "storagevolschemadata", "qcow2-no-source.xml"), "utf8");
    const { def, warnings } = parseVolume(xml, p);
    assert.deepEqual(warnings, []);
    assert.equal(def.target.encryption?.format, "qcow");
    assert.equal(def.capacity, 5n * 1024n ** 3n);
  });

  for (const [c, why] of Object.entries(STALE_OUTPUTS)) {
    test(`volume output ${c} is stale: ${why}`, () => {
      const p = parsePool(readFileSync(join(poolIn, "pool-dir.xml"), "utf8")).def;
      const { def } = parseVolume(readFileSync(join(volIn, `${c}.xml`), "utf8"), p);
      assert.notEqual(formatVolume(p, def), readFileSync(join(volOut, `${c}.xml`), "utf8"));
    });
  }
}
