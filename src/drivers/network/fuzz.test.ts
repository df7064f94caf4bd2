/**
 * Fuzz: mutated network corpus documents are either accepted, or rejected with a catalogued
 * user error. Nothing else may be thrown, by the parser, the formatter, or the dnsmasq and
 * firewall generators given what the parser accepted; what is formatted parses back to itself. FUZZ_N and FUZZ_SEED override the count
 * (default 3,000) and the seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { networkCorpusOrSkip } from "../../testing/network-corpus.ts";
import { mutate, prng } from "../../testing/mutate.ts";
import { catalogue, VirtError } from "../../util/errors/index.ts";
import { formatNetwork, parseNetwork } from "../../conf/network/index.ts";
import { dnsmasqConfig } from "./dnsmasq.ts";
import { networkFirewallCommands } from "./firewall.ts";

test("mutated network documents are accepted or rejected with a catalogued user error", (t) => {
  const dir = networkCorpusOrSkip(t);
  if (!dir) return;
  const docs: string[] = [];
  for (const sub of ["networkxml2xmlin", "networkxml2confdata", "networkxml2firewalldata"]) {
    for (const f of readdirSync(join(dir, sub)).filter((x) => x.endsWith(".xml"))) {
      docs.push(readFileSync(join(dir, sub, f), "utf8"));
    }
  }
  const n = Number(process.env.FUZZ_N ?? 3_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20261206);
  const rnd = prng(seed);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < n; i++) {
    let doc = docs[Math.floor(rnd() * docs.length)]!;
    const rounds = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < rounds; r++) doc = mutate(doc, rnd);
    try {
      const { def } = parseNetwork(doc, { document: `fuzz-${i}.xml` });
      const once = formatNetwork(def);
      // What we write, we read back to the same text.
      assert.equal(
        formatNetwork(parseNetwork(once).def),
        once,
        `case ${i} (seed ${seed}) is not a fixed point`,
      );
      if (def.bridge !== undefined && (!def.forward || ["nat", "route", "open"].includes(def.forward.mode))) {
        dnsmasqConfig(def, { stateDir: "/var/lib/libvirt/dnsmasq", version: [2, 90] });
        networkFirewallCommands(def, "iptables");
        networkFirewallCommands(def, "nftables");
      }
      accepted++;
    } catch (e) {
      if (!(e instanceof VirtError)) {
        assert.fail(`case ${i} (seed ${seed}) threw a non-catalogued ${String(e)}\n--- document ---\n${doc}`);
      }
      assert.ok(e.code in catalogue);
      assert.notEqual(e.kind, "bug", `case ${i} (seed ${seed}): ${e.message}\n--- document ---\n${doc}`);
      rejected++;
    }
  }
  t.diagnostic(`seed ${seed}: ${accepted} accepted, ${rejected} rejected`);
  assert.ok(accepted > 0 && rejected > 0, "the mutations should produce both outcomes");
});
