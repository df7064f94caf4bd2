import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { formatDomainXML, parseDomainXML } from "../../../conf/domain/index.ts";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { readCacheFile, writeCacheFile } from "./config-cache.ts";
import { makeTestRoot } from "../../../testing/qemu/driver.ts";

/** The cache file's entries, read and written with the cache's own format functions. */
function readCache(file: string) {
  const buf = readFileSync(file);
  const code = JSON.parse(buf.toString("utf8", 0, buf.indexOf(10))) as { code: string };
  const parsed = readCacheFile(buf, code.code);
  assert.ok(parsed, "the cache file is readable");
  return { code: code.code, ...parsed };
}

const xml = (name: string, mib: number): string =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>${String(mib)}</memory>` +
  `<os><type arch='x86_64' machine='pc'>hvm</type><kernel>/dev/null</kernel></os></domain>`;

void test("a definition survives the cache's JSON form unchanged (every corpus domain)", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const data = join(dir, "qemuxmlconfdata");
  let n = 0;
  for (const f of readdirSync(data).filter((x) => x.endsWith(".x86_64-latest.xml"))) {
    let def;
    try {
      def = parseDomainXML(readFileSync(join(data, f), "utf8"), { document: f }).def;
    } catch {
      continue;
    }
    const back = JSON.parse(JSON.stringify(def)) as typeof def;
    assert.equal(formatDomainXML(back), formatDomainXML(def), f);
    assert.equal(formatDomainXML(back, { live: true }), formatDomainXML(def, { live: true }), f);
    n++;
  }
  assert.ok(n >= 40, `checked ${String(n)} definitions`);
});

void test("configs come from the cache while unchanged, and from the file once it changes", async () => {
  const tr = makeTestRoot("tvirt-cfgcache-");
  const root = tr.root;
  try {
    let conn = await tr.open();
    await conn.domainDefineXML(xml("c1", 128));
    await conn.domainDefineXML(xml("c2", 256));
    await conn.connectClose();

    // The first open after the defines parses the files and writes the cache.
    conn = await tr.open();
    await conn.connectClose();
    const cacheFile = join(root, "cache", "qemu", "configs.json");
    const cache = readCache(cacheFile);
    assert.deepEqual([...cache.entries.keys()].sort(), ["c1.xml", "c2.xml"]);
    assert.equal(cache.entries.get("c1.xml")!.name, "c1");

    // Proof that the next open uses it: a planted value (same file identity) shows through.
    const c1 = cache.entries.get("c1.xml")!;
    const planted = { ...(JSON.parse(c1.bytes.toString("utf8")) as object), title: "from the cache" };
    cache.entries.set("c1.xml", { ...c1, bytes: Buffer.from(JSON.stringify(planted)) });
    writeFileSync(cacheFile, writeCacheFile(cache.code, cache.facts, cache.entries));
    conn = await tr.open();
    assert.match(
      await conn.domainGetXMLDesc(await conn.domainLookupByName("c1"), 0),
      /<title>from the cache<\/title>/,
    );
    await conn.connectClose();

    // An edited file (new identity) is parsed again; the other entry stays.
    const cfg = join(root, "etc", "qemu", "c1.xml");
    writeFileSync(
      cfg,
      readFileSync(cfg, "utf8").replace(
        "<memory unit='KiB'>131072</memory>",
        "<memory unit='KiB'>196608</memory>",
      ),
    );
    conn = await tr.open();
    const desc = await conn.domainGetXMLDesc(await conn.domainLookupByName("c1"), 0);
    assert.doesNotMatch(desc, /from the cache/);
    assert.match(desc, /<memory unit='KiB'>196608<\/memory>/);
    await conn.domainUndefine(await conn.domainLookupByName("c2"));
    await conn.connectClose();

    // An undefined domain leaves the cache; a torn cache file is ignored.
    conn = await tr.open();
    await conn.connectClose();
    assert.deepEqual([...readCache(cacheFile).entries.keys()], ["c1.xml"]);
    writeFileSync(cacheFile, readFileSync(cacheFile, "utf8").slice(0, 100));
    conn = await tr.open();
    assert.deepEqual(
      (await conn.connectListAllDomains(0)).map((d) => d.name),
      ["c1"],
    );
    await conn.connectClose();
  } finally {
    await tr.cleanup();
  }
});
