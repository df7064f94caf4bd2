/**
 * `npm run conformance` over the network corpus: the counts over the sample (at least 18 of
 * its 21 networks exact; today all) and over libvirt 11.3.0's full suite when it is fetched,
 * the reasons of the cases that are not exact, a harness that can fail (a corrupted golden),
 * and the tool's network table, summary and `--min-network-exact`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { corpusOrSkip, repoRoot } from "../testing/corpus.ts";
import { networkCorpusOrSkip } from "../testing/network-corpus.ts";
import { libvirtSuiteOrSkip } from "../testing/libvirt-suite.ts";
import {
  NETWORK_DELIBERATE_DIFFERENCES,
  networkDocSection,
  networkSummary,
  networkTotals,
  runNetworkConformance,
} from "../testing/network-conformance.ts";

const tool = fileURLToPath(new URL("./conformance.ts", import.meta.url));

test("network corpus sample: at least 18 of 21 networks exact, every harness counted", (t) => {
  const dir = networkCorpusOrSkip(t);
  if (!dir) return;
  const c = runNetworkConformance(dir);
  assert.equal(c.networks.of, 21);
  assert.ok(c.networks.exact >= 18, networkSummary(c));
  // A change here must be deliberate, with docs/conformance.md updated alike.
  assert.deepEqual(networkTotals(c.results), {
    xml2xml: { exact: 21, of: 21 },
    xml2conf: { exact: 12, of: 12 },
    xml2firewall: { exact: 14, of: 14 },
  });
  assert.equal(
    networkSummary(c),
    "networks: 21 of 21 exact; xml2xml 21/21, xml2conf 12/12, xml2firewall 14/14",
  );
});

test("network corpus of libvirt 11.3.0's suite: the counts, and reasons for what differs", (t) => {
  const dir = libvirtSuiteOrSkip(t);
  if (!dir) return;
  const c = runNetworkConformance(dir);
  assert.equal(
    networkSummary(c),
    "networks: 47 of 47 exact; xml2xml 47/47, xml2conf 26/27, xml2firewall 24/24",
  );
  const notExact = c.results.filter((r) => r.verdict !== "exact");
  assert.deepEqual(
    notExact.map((r) => `${r.kind} ${r.name}`),
    Object.keys(NETWORK_DELIBERATE_DIFFERENCES),
  );
  for (const r of notExact) assert.match(r.note ?? "", /^deliberate: /);
  const doc = networkDocSection(undefined, c);
  assert.match(doc, /\| libvirt 11\.3\.0 suite \| 47 \/ 47 \| 47 \/ 47 \| 26 \/ 27 \| 24 \/ 24 \|/);
  assert.match(doc, /- xml2conf `nat-network-name-with-quotes`: differs \(deliberate: /);
});

test("a corrupted golden is caught, with the first differing line", (t) => {
  const dir = networkCorpusOrSkip(t);
  if (!dir) return;
  const root = mkdtempSync(join(tmpdir(), "tvirt-netconf-"));
  try {
    for (const d of [
      "networkxml2xmlin",
      "networkxml2xmlout",
      "networkxml2confdata",
      "networkxml2firewalldata",
    ])
      cpSync(join(dir, d), join(root, d), { recursive: true });
    const conf = join(root, "networkxml2confdata", "nat-network.conf");
    writeFileSync(conf, readFileSync(conf, "utf8").replace("strict-order", "strict-disorder"));
    const fw = join(root, "networkxml2firewalldata", "nat-default-linux.nftables");
    writeFileSync(fw, readFileSync(fw, "utf8") + "nft extra\n");
    const c = runNetworkConformance(root);
    assert.equal(c.networks.exact, 20);
    assert.deepEqual(c.networks.notExact, ["nat-network"]);
    const bad = c.results.filter((r) => r.verdict !== "exact");
    assert.deepEqual(
      bad.map((r) => [r.kind, r.name]),
      [
        ["xml2conf", "nat-network"],
        ["xml2firewall", "nat-default (nftables)"],
      ],
    );
    assert.match(bad[0]!.note ?? "", /^\.conf: line \d+: got "strict-order", libvirt "strict-disorder"$/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("npm run conformance prints the network table and honours --min-network-exact", (t) => {
  const dir = corpusOrSkip(t);
  const net = networkCorpusOrSkip(t);
  if (!dir || !net) return;
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      ["--import", "tsx", tool, "--corpus", dir, "--network-corpus", net, ...args],
      {
        cwd: repoRoot,
        encoding: "utf8",
      },
    );
  const ok = run("--min-network-exact", "18");
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /\nxml2conf {5}\| nat-network {21}\| exact\n/);
  assert.match(
    ok.stdout,
    /\nnetworks: 21 of 21 exact; xml2xml 21\/21, xml2conf 12\/12, xml2firewall 14\/14\n/,
  );
  const low = run("--min-network-exact", "22");
  assert.equal(low.status, 1);
  assert.equal(low.stderr, "conformance: networks: 21 exact of 21, below --min-network-exact 22\n");
  const json = run("--json");
  const doc = JSON.parse(json.stdout) as { network: { networks: { exact: number; of: number } } };
  assert.deepEqual([doc.network.networks.exact, doc.network.networks.of], [21, 21]);
});
