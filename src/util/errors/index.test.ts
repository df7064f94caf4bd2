import { test } from "node:test";
import assert from "node:assert/strict";
import { catalogue, catalogueParts, toVirtError, VirtError } from "./index.ts";
import { VirErrorDomain, VirErrorNumber, virErrorPrefix } from "./virerror.ts";

test("no error code is defined in two catalogue files", () => {
  const seen = new Map<string, number>();
  for (const f of catalogueParts) for (const k of Object.keys(f)) seen.set(k, (seen.get(k) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(twice, []);
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
