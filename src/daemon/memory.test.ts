/**
 * collectStartupGarbage (memory.ts): the start's garbage goes at once, and V8's flags are as they
 * were (no gc() for later contexts, code caches made before still taken).
 */
import assert from "node:assert/strict";
import { runInNewContext, Script } from "node:vm";
import { test } from "node:test";
import { collectStartupGarbage } from "./memory.ts";

test("memory dropped at start is given back by one call", async () => {
  const holder: { garbage?: Buffer } = { garbage: Buffer.alloc(8 << 20, 1) };
  const before = process.memoryUsage().arrayBuffers;
  assert.ok(before >= 8 << 20);
  delete holder.garbage;
  collectStartupGarbage();
  // Array buffers are swept beside the main thread: their memory goes a moment after.
  let after = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 100 && before - after < 8 << 20; i++) {
    await new Promise((r) => setTimeout(r, 20));
    after = process.memoryUsage().arrayBuffers;
  }
  assert.ok(before - after >= 8 << 20, `array buffers: ${String(before)} -> ${String(after)} bytes`);
});

test("V8's flags are left as they were: no gc() in a new context, a code cache made before is taken", () => {
  const source = "(function f(a) { return a * 2; })";
  const cachedData = new Script(source).createCachedData();
  collectStartupGarbage();
  assert.equal(runInNewContext("typeof gc"), "undefined");
  const again = new Script(source, { cachedData });
  assert.equal(again.cachedDataRejected, false);
});
