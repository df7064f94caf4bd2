import assert from "node:assert/strict";
import test from "node:test";
import { VirtError } from "../util/errors/index.ts";
import { parseXml } from "./xml.ts";
import { contextAt, explainSyntaxError } from "./xml-syntax.ts";

void test("explainSyntaxError: a well-formed document has nothing to explain", () => {
  assert.equal(
    explainSyntaxError('<?xml version="1.0"?>\n<!-- c --><a x="1&amp;"><![CDATA[<]]>&#65;</a>\n'),
    undefined,
  );
});

void test("explainSyntaxError: libxml2's wording, line and pointer", () => {
  const e = explainSyntaxError("<domain>\n  <memory>1024\n</domain>\n");
  assert.deepEqual(e, {
    line: 3,
    column: 10,
    reason: "Opening and ending tag mismatch: memory line 2 and domain",
    context: "</domain>",
    pointer: "---------^",
  });
  assert.equal(explainSyntaxError("")?.reason, "Document is empty");
  assert.equal(
    explainSyntaxError("<a>bad\n")?.context,
    "(null)",
    "at the end after a newline, libvirt prints (null)",
  );
  assert.equal(explainSyntaxError('<a x="1" x="2"/>')?.reason, "Attribute x redefined");
  assert.equal(explainSyntaxError("<a>&nope;</a>")?.reason, "Entity 'nope' not defined");
  assert.equal(explainSyntaxError("<a/>\n<b/>")?.reason, "Extra content at the end of the document");
});

void test("contextAt counts the pointer in UTF-8 bytes, as libxml2 does", () => {
  assert.equal(contextAt("<a>éé</b>", 9).pointer, "-----------^");
});

void test("parseXml reports the explanation in libvirt's format, with the column in the details", () => {
  try {
    parseXml('<domain type="test"><name>bad', "(domain_definition)");
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof VirtError);
    assert.equal(e.code, "XML_SYNTAX");
    assert.equal(
      e.message,
      '(domain_definition):1: Premature end of data in tag name line 1\n<domain type="test"><name>bad\n-----------------------------^',
    );
    assert.deepEqual(e.details, { line: 1, column: 30 });
  }
});
