import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtError } from "../util/errors/index.ts";
import { parseXmllintErrors, schemaForRoot, validateAgainstSchema, validateDocument } from "./xml-schema.ts";

const good = `<domain type='qemu'>
  <name>v</name>
  <memory unit='KiB'>131072</memory>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/a.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
`;

function schemaError(e: unknown): VirtError {
  assert.ok(e instanceof VirtError, String(e));
  return e;
}

test("schema by root element, in virt-xml-validate's order", () => {
  assert.equal(schemaForRoot("domain"), "domain");
  assert.equal(schemaForRoot("domainsnapshot"), "domainsnapshot");
  assert.equal(schemaForRoot("networkport"), "networkport");
  assert.equal(schemaForRoot("network"), "network");
  assert.equal(schemaForRoot("pool"), "storagepool");
  assert.equal(schemaForRoot("domainCapabilities"), "domaincaps");
  assert.equal(schemaForRoot("filterbinding"), "nwfilterbinding");
  assert.equal(schemaForRoot("thing"), undefined);
});

test("xmllint's messages are read with their line and element", () => {
  const stderr = [
    "-:4: element memory: Relax-NG validity error : Type unsignedLong doesn't allow value 'abc'",
    "Relax-NG validity error : Extra element memory in interleave",
    "-:1: element domain: Relax-NG validity error : Element domain failed to validate content",
    "- fails to validate",
  ].join("\n");
  assert.deepEqual(parseXmllintErrors(stderr), [
    { message: "Type unsignedLong doesn't allow value 'abc'", line: 4, element: "memory" },
    { message: "Extra element memory in interleave" },
    { message: "Element domain failed to validate content", line: 1, element: "domain" },
  ]);
});

test("a valid domain validates", async () => {
  await validateAgainstSchema(good, "domain");
  assert.equal(await validateDocument(good, "good.xml"), "domain");
});

test("an invalid domain: libvirt's error, each problem with line and XPath", async () => {
  const bad = good.replace(
    "<target dev='vda' bus='virtio'/>",
    "<target dev='vda' bus='virtio'/>\n      <sparkle/>",
  );
  await assert.rejects(validateAgainstSchema(bad, "domain", { document: "bad.xml" }), (e) => {
    const err = schemaError(e);
    assert.equal(err.code, "SCHEMA_VALIDATION_FAILED");
    assert.equal(err.virCode, 92);
    assert.equal(err.virDomain, 5);
    assert.match(
      err.message,
      /^XML document failed to validate against schema: Unable to validate doc against \/usr\/share\/libvirt\/schemas\/domain\.rng\n/,
    );
    assert.ok(err.message.endsWith("\n"));
    const problems = err.details.problems as { xpath?: string; line?: number }[];
    assert.ok(problems.length > 0);
    // libxml2 names the nearest element it could not match: here <devices>, at its line.
    assert.ok(
      problems.some((p) => p.xpath === "/domain/devices" && p.line === 7),
      JSON.stringify(problems),
    );
    return true;
  });
  const topLevel = good.replace("<os>", "<sparkle/>\n  <os>");
  await assert.rejects(validateAgainstSchema(topLevel, "domain"), (e) => {
    const err = schemaError(e);
    assert.match(err.message, /Element domain has extra content: sparkle/);
    assert.equal(err.details.xpath, "/domain/sparkle");
    assert.equal(err.details.line, 4);
    return true;
  });
  const badValue = good.replace("131072", "lots");
  await assert.rejects(validateAgainstSchema(badValue, "domain"), (e) => {
    const err = schemaError(e);
    assert.match(err.message, /Type unsignedLong doesn't allow value 'lots'/);
    assert.equal(err.details.xpath, "/domain/memory");
    assert.equal(err.details.line, 3);
    return true;
  });
});

test("not well-formed: the parser's syntax error with line and column", async () => {
  await assert.rejects(
    validateAgainstSchema("<domain type='qemu'>\n<name>x</nam>\n", "domain", { document: "f.xml" }),
    (e) => {
      const err = schemaError(e);
      assert.equal(err.code, "XML_SYNTAX");
      assert.match(err.message, /f\.xml:2:/);
      return true;
    },
  );
});

test("missing schema, missing validator, unknown root: environment and user errors", async () => {
  await assert.rejects(
    validateAgainstSchema(good, "nosuchschema"),
    (e) => schemaError(e).code === "SCHEMA_NOT_FOUND",
  );
  await assert.rejects(
    validateAgainstSchema(good, "domain", { xmllint: "/nonexistent/xmllint" }),
    (e) => schemaError(e).code === "SCHEMA_VALIDATOR_MISSING" && schemaError(e).kind === "environment",
  );
  await assert.rejects(validateDocument("<thing/>", "t.xml"), (e) => {
    const err = schemaError(e);
    assert.equal(err.code, "SCHEMA_UNKNOWN_ROOT");
    assert.match(err.message, /cannot determine schema type for t\.xml: root element <thing>/);
    return true;
  });
});
