import { test } from "node:test";
import assert from "node:assert/strict";
import { shellJoin, shellQuote } from "./shell-quote.ts";

test("shellQuote leaves plain words bare", () => {
  assert.equal(shellQuote("-machine"), "-machine");
  assert.equal(shellQuote("pc,usb=off,acpi=off"), "pc,usb=off,acpi=off");
  assert.equal(shellQuote("/usr/bin/qemu-system-x86_64"), "/usr/bin/qemu-system-x86_64");
});

test("shellQuote single-quotes JSON, spaces, empty words and quotes", () => {
  assert.equal(shellQuote('{"id":"a b"}'), `'{"id":"a b"}'`);
  assert.equal(shellQuote(""), "''");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote("$(rm -rf /)"), "'$(rm -rf /)'");
  assert.equal(shellJoin(["a", "b c"]), "a 'b c'");
});
