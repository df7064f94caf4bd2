import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { catalogue, catalogueParts, toVirtError, VirtError } from "./index.ts";
import { VirErrorDomain, VirErrorNumber, virErrorPrefix } from "./virerror.ts";
import type { Catalogue } from "./types.ts";

const entries = Object.entries(catalogue as Catalogue);

test("no error code is defined in two catalogue files", () => {
  const seen = new Map<string, number>();
  for (const f of Object.values(catalogueParts))
    for (const k of Object.keys(f)) seen.set(k, (seen.get(k) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(twice, []);
});

test("each catalogue file holds the entries of one libvirt error domain, and all of them", () => {
  let total = 0;
  for (const [domain, part] of Object.entries(catalogueParts)) {
    assert.ok(domain in VirErrorDomain, `catalogue file for unknown domain ${domain}`);
    for (const [code, e] of Object.entries(part))
      assert.equal(e.domain, domain, `${code} is in the ${domain} file`);
    total += Object.keys(part).length;
  }
  assert.equal(total, Object.keys(catalogue).length);
});

test("each catalogue file is named after its domain", () => {
  const dir = dirname(fileURLToPath(import.meta.url));
  const files = readdirSync(dir).filter((f) => /^catalogue-.*\.ts$/.test(f) && !f.endsWith(".test.ts"));
  const want = Object.keys(catalogueParts).map((d) => `catalogue-${d.toLowerCase()}.ts`);
  assert.deepEqual(files.sort(), want.sort());
});

test("every catalogue entry names a known libvirt number and domain", () => {
  for (const [code, e] of Object.entries(catalogue)) {
    assert.ok(e.vir in VirErrorNumber, `${code}: unknown libvirt error number ${e.vir}`);
    assert.ok(e.domain in VirErrorDomain, `${code}: unknown libvirt error domain ${e.domain}`);
    // An empty template is libvirt's bare message (the prefix alone, e.g. "Domain not found").
    assert.ok(e.template.length > 0 || e.vir in virErrorPrefix, `${code}: no text at all`);
  }
});

test("VirtError fills the template, puts libvirt's prefix in front and keeps details", () => {
  const e = new VirtError(
    "XML_INVALID_VALUE",
    { value: "3", xpath: "/domain/vcpu", line: 4, expected: "a number" },
    { xpath: "/domain/vcpu", allowed: ["1"] },
  );
  assert.equal(e.message, "XML error: invalid value '3' for /domain/vcpu (line 4): a number");
  assert.equal(e.virCode, VirErrorNumber.XML_ERROR);
  assert.equal(e.kind, "user");
  assert.deepEqual(e.toJSON().details, { xpath: "/domain/vcpu", allowed: ["1"] });
});

test("a catalogue prefix overrides libvirt's, keeping its number", () => {
  const e = new VirtError("QEMU_CMD_HUGETLBFS_MISSING");
  assert.equal(e.virCode, VirErrorNumber.INTERNAL_ERROR);
  assert.match(e.message, /^unsupported configuration: /);
});

test("toVirtError wraps foreign errors as bugs and keeps the cause", () => {
  const cause = new TypeError("x is undefined");
  const e = toVirtError(cause);
  assert.equal(e.code, "BUG");
  assert.equal(e.kind, "bug");
  assert.equal(e.cause, cause);
  assert.equal(e.message, "internal error: x is undefined");
});

test("every template placeholder is a plain name (so the compile-time check sees them all)", () => {
  for (const [code, e] of Object.entries(catalogue)) {
    for (const m of e.template.matchAll(/\{([^}]*)\}/g))
      assert.match(m[1]!, /^\w+$/, `${code}: placeholder {${m[1]!}} is not a plain name`);
    assert.ok(!/[{}]/.test(e.template.replace(/\{\w+\}/g, "")), `${code}: stray brace in the template`);
  }
});

test("the entry's form joins libvirt's prefix and the detail as libvirt's virErrorMsg does", () => {
  // prefixed: "<prefix>: <detail>", and the prefix alone when there is no detail.
  assert.equal(
    new VirtError("API_READ_ONLY", { api: "virDomainCreate" }).message,
    "operation forbidden: read only access prevents virDomainCreate",
  );
  // spaced: the prefix reads on into the detail; with none, without the trailing " in".
  assert.equal(
    new VirtError("API_NO_CONNECT", { uri: "foo:///" }).message,
    "no connection driver available for foo:///",
  );
  assert.equal(new VirtError("DOMAIN_XML_NAME_MISSING").message, "missing name information");
  // bare: the detail alone (virCheckFlags), though the number has a prefix.
  const flags = new VirtError("UNSUPPORTED_FLAGS", { flags: "4", func: "testDomainCreate" });
  assert.equal(flags.message, "unsupported flags (0x4) in function testDomainCreate");
  assert.equal(flags.virCode, VirErrorNumber.INVALID_ARG);
  assert.equal(flags.detail, flags.message);
});

test("codes whose libvirt prefix reads on into the detail use the spaced form", () => {
  const spacedNumbers = new Set([
    "NO_CONNECT",
    "INVALID_CONN",
    "INVALID_DOMAIN",
    "NO_SOURCE",
    "NO_TARGET",
    "NO_NAME",
  ]);
  // HOTPLUG_SOURCE_MISSING keeps tvirt's own colon form (its text predates the forms).
  const keepsColon = new Set(["HOTPLUG_SOURCE_MISSING"]);
  for (const [code, e] of entries) {
    if (!spacedNumbers.has(e.vir) || keepsColon.has(code)) continue;
    assert.ok(e.form === "spaced" || e.form === "bare", `${code}: ${e.vir} joins with a space in libvirt`);
  }
  for (const [code, e] of entries)
    if (e.form === "spaced") assert.ok(spacedNumbers.has(e.vir), `${code}: spaced form on ${e.vir}`);
});
