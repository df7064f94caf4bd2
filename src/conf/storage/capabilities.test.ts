/**
 * The pool capabilities document against libvirt 11.3's storagepoolcapsschemadata (read in
 * place from the fetched suite, never copied): `poolcaps-fs.xml` (only fs supported) and
 * `poolcaps-full.xml` (every type supported), byte for byte.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { libvirtSuiteOrSkip } from "../../testing/libvirt-suite.ts";
import { POOL_TYPES } from "./index.ts";
import { formatPoolCapabilities } from "./capabilities.ts";

test("pool capabilities match libvirt's poolcaps-fs and poolcaps-full", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (suite === undefined) return;
  const dir = join(suite, "tests", "storagepoolcapsschemadata");
  assert.equal(formatPoolCapabilities(new Set(["fs"])), readFileSync(join(dir, "poolcaps-fs.xml"), "utf8"));
  assert.equal(
    formatPoolCapabilities(new Set(POOL_TYPES)),
    readFileSync(join(dir, "poolcaps-full.xml"), "utf8"),
  );
});
