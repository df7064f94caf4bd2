import assert from "node:assert/strict";
import { test } from "node:test";
import { fnv1a64 } from "./hash.ts";

test("fnv1a64: 16 hex digits, stable, and different for near inputs", () => {
  // FNV-1a 32 of "" is its offset basis; of "a" the published 0xe40c292c.
  assert.equal(fnv1a64("").slice(0, 8), "811c9dc5");
  assert.equal(fnv1a64("a").slice(0, 8), "e40c292c");
  assert.match(fnv1a64("/usr/bin/qemu-system-x86_64"), /^[0-9a-f]{16}$/);
  assert.equal(fnv1a64("/usr/bin/qemu-system-x86_64"), fnv1a64("/usr/bin/qemu-system-x86_64"));
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) seen.add(fnv1a64(`/opt/qemu-${String(i)}/bin/qemu-system-x86_64`));
  assert.equal(seen.size, 20000);
  assert.notEqual(fnv1a64("ab"), fnv1a64("ba"));
  assert.notEqual(fnv1a64("é"), fnv1a64("\u00e8"));
});
