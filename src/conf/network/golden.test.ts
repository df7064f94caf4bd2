/**
 * Golden test against libvirt 11.3's network corpus (read in place): every
 * `networkxml2xmlin/<case>.xml` parsed and formatted must equal `networkxml2xmlout/<case>.xml`
 * byte for byte; a case without an output file is a parse-error case and must fail with the
 * catalogued error libvirt gives. Also `default.xml.in` (the stock `default` network).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { networkCorpusDir, networkCorpusOrSkip } from "../../testing/network-corpus.ts";
import { VirtError } from "../../util/errors/index.ts";
import { formatNetwork, parseNetwork } from "./index.ts";

/** Parse-error cases: libvirt's error number, domain and message (from its network_conf.c). */
const PARSE_ERRORS: Readonly<Record<string, { virCode: number; message: string }>> = {
  "open-network-with-forward-dev": {
    virCode: 27,
    message: "XML error: forward dev not allowed for network 'open' with forward mode='open'",
  },
};

/** Cases whose output differs from libvirt's, with the reason (none at present). */
const KNOWN_DIFFERENT: Readonly<Record<string, string>> = {};

const dir = networkCorpusDir();

if (!dir) {
  test("network xml2xml corpus", (t) => {
    networkCorpusOrSkip(t);
  });
} else {
  const cases = readdirSync(join(dir, "networkxml2xmlin"))
    .filter((f) => f.endsWith(".xml"))
    .map((f) => f.slice(0, -4))
    .sort();

  test("the corpus has its 21 xml2xml cases", () => {
    assert.ok(cases.length >= 21, `expected 21 cases, found ${cases.length}`);
  });

  for (const c of cases) {
    const input = readFileSync(join(dir, "networkxml2xmlin", `${c}.xml`), "utf8");
    const outFile = join(dir, "networkxml2xmlout", `${c}.xml`);
    if (!existsSync(outFile)) {
      test(`xml2xml ${c}: parse error as libvirt`, () => {
        const want = PARSE_ERRORS[c];
        assert.ok(want, `${c} has no output file: list its expected error in PARSE_ERRORS`);
        assert.throws(
          () => parseNetwork(input),
          (e: unknown) =>
            e instanceof VirtError &&
            e.virCode === want.virCode &&
            e.virDomain === 19 &&
            e.message === want.message &&
            e.kind === "user",
        );
      });
      continue;
    }
    test(`xml2xml ${c}`, (t) => {
      const { def, warnings } = parseNetwork(input, { document: `${c}.xml` });
      const got = formatNetwork(def);
      const want = readFileSync(outFile, "utf8");
      if (c in KNOWN_DIFFERENT) {
        assert.notEqual(got, want, `${c} now matches: remove it from KNOWN_DIFFERENT`);
        t.diagnostic(`known difference: ${KNOWN_DIFFERENT[c]}`);
        return;
      }
      assert.equal(got, want);
      assert.deepEqual(
        warnings.map((w) => w.message),
        [],
      );
      // The output is a fixed point.
      assert.equal(formatNetwork(parseNetwork(want).def), want);
    });
  }

  test("default.xml.in parses as the stock NAT network on virbr0", () => {
    const { def, warnings } = parseNetwork(readFileSync(join(dir, "default.xml.in"), "utf8"), {
      makeUuid: () => "00000000-0000-0000-0000-000000000001",
    });
    assert.deepEqual(warnings, []);
    assert.equal(def.name, "default");
    assert.equal(def.forward?.mode, "nat");
    assert.equal(def.bridge, "virbr0");
    assert.deepEqual(def.ips[0]?.ranges, [{ start: "192.168.122.2", end: "192.168.122.254" }]);
    assert.equal(
      formatNetwork(def),
      [
        "<network>",
        "  <name>default</name>",
        "  <uuid>00000000-0000-0000-0000-000000000001</uuid>",
        "  <forward mode='nat'/>",
        "  <bridge name='virbr0' stp='on' delay='0'/>",
        "  <ip address='192.168.122.1' netmask='255.255.255.0'>",
        "    <dhcp>",
        "      <range start='192.168.122.2' end='192.168.122.254'/>",
        "    </dhcp>",
        "  </ip>",
        "</network>",
        "",
      ].join("\n"),
    );
  });
}
