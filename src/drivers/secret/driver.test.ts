/**
 * The secret driver and its XML without a daemon: libvirt's format byte for byte, parse errors
 * with libvirt's texts, list filters, private and missing values, ephemeral secrets kept off the
 * disk, values encrypted at rest (the file decrypts only with this root's key, and a swapped key
 * is a clear error). test:///default's refusal is in cli/commands/secret.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { formatSecret, parseSecret } from "../../conf/secret/index.ts";
import { ConnectListSecretsFlags as L } from "../secret-driver.ts";
import { SecretDriver, KEY_FILE } from "./driver.ts";

const UUID = "6b0bd5c4-1f8e-4c55-9a4e-2b1d7c3e9f01";

test("secret XML: libvirt's format, with and without usage", () => {
  const def = parseSecret(
    `<secret private="yes"><uuid>${UUID.toUpperCase()}</uuid><description>a &amp; b</description>` +
      `<usage type="iscsi"><target>iqn.x</target></usage></secret>`,
  );
  assert.equal(
    formatSecret(def),
    `<secret ephemeral='no' private='yes'>\n  <uuid>${UUID}</uuid>\n  <description>a &amp; b</description>\n` +
      `  <usage type='iscsi'>\n    <target>iqn.x</target>\n  </usage>\n</secret>\n`,
  );
  const none = parseSecret("<secret><usage type='none'/></secret>", { makeUuid: () => UUID });
  assert.equal(
    formatSecret(none),
    `<secret ephemeral='no' private='no'>\n  <uuid>${UUID}</uuid>\n</secret>\n`,
  );
  for (const [type, el] of [
    ["volume", "volume"],
    ["ceph", "name"],
    ["tls", "name"],
    ["vtpm", "name"],
  ]) {
    const d = parseSecret(`<secret><usage type='${type}'><${el}>x</${el}></usage></secret>`);
    assert.match(formatSecret(d), new RegExp(`<usage type='${type}'>\\n    <${el}>x</${el}>`));
  }
});

test("secret XML: libvirt's errors", () => {
  const cases: [string, RegExp][] = [
    ["<secrets/>", /XML error: expecting root element of 'secret', not 'secrets'/],
    ["<secret private='1'/>", /XML error: invalid value of 'private'/],
    ["<secret><usage type='x'/></secret>", /unsupported configuration: unknown secret usage type x/],
    ["<secret><usage type='tls'/></secret>", /internal error: TLS usage specified, but name is missing/],
    ["<secret><uuid>1234</uuid></secret>", /internal error: malformed uuid element/],
  ];
  for (const [xml, re] of cases) assert.throws(() => parseSecret(xml), re, xml);
});

test("driver: filters, private, no value, ephemeral off the disk, encrypted at rest, wrong key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-secret-drv-"));
  try {
    const d = SecretDriver.load(dir);
    await d.defineXML(
      `<secret><uuid>${UUID}</uuid><usage type='volume'><volume>/v</volume></usage></secret>`,
      0,
    );
    const eph = "11111111-2222-4333-8444-555555555555";
    await d.defineXML(`<secret ephemeral='yes' private='yes'><uuid>${eph}</uuid></secret>`, 0);
    assert.deepEqual(
      d.list(L.EPHEMERAL).map((r) => r.uuid),
      [eph],
    );
    assert.deepEqual(
      d.list(L.NO_PRIVATE).map((r) => r.uuid),
      [UUID],
    );
    assert.throws(() => d.getValue({ uuid: UUID, usageType: 1, usageID: "/v" }, 0), /does not have a value/);
    await d.setValue({ uuid: eph, usageType: 0, usageID: "" }, Buffer.from("e"), 0);
    assert.throws(
      () => d.getValue({ uuid: eph, usageType: 0, usageID: "" }, 0),
      /Invalid secret: secret is private/,
    );
    assert.equal(d.internalValue(eph).toString(), "e");
    await d.setValue({ uuid: UUID, usageType: 1, usageID: "/v" }, Buffer.from("top secret value"), 0);
    assert.deepEqual(readdirSync(dir).sort(), [`${UUID}.base64`, `${UUID}.xml`, KEY_FILE].sort());
    const file = readFileSync(join(dir, `${UUID}.base64`), "utf8");
    assert.ok(!Buffer.from(file, "base64").toString("latin1").includes("top secret"));
    const again = SecretDriver.load(dir);
    assert.equal(
      Buffer.from(again.getValue({ uuid: UUID, usageType: 1, usageID: "/v" }, 0)).toString(),
      "top secret value",
    );
    assert.deepEqual(
      again.list(0).map((r) => r.uuid),
      [UUID],
    );
    writeFileSync(join(dir, KEY_FILE), Buffer.alloc(32, 1));
    assert.throws(() => SecretDriver.load(dir), /does not decrypt with this host's key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
