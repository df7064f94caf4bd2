import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "../../../util/errors/index.ts";
import { checkObjectName } from "./validate.ts";
import { embedRoot } from "../index.ts";

test("names that become file names are checked before any file is touched", () => {
  for (const ok of ["vm1", "a.b", "with space", "ünïcode", ".hidden"]) checkObjectName("domain", ok);
  const bad: [string, RegExp][] = [
    ["", /it is empty/],
    ["a/b", /cannot contain '\/'/],
    ["..", /cannot be '\.' or contain '\.\.'/],
    [".", /cannot be '\.'/],
    ["x..y", /contain '\.\.'/],
    ["tab\there", /control characters/],
    ["nl\n", /control characters/],
  ];
  for (const [name, why] of bad) {
    assert.throws(
      () => {
        checkObjectName("domain", name);
      },
      (e: unknown) =>
        isVirtError(e) && e.code === "INVALID_NAME" && why.test(e.message) && !/[\t\n]/.test(e.message),
      JSON.stringify(name),
    );
  }
});

test("embed URIs need an absolute root", () => {
  const uri = (q: string) => ({
    text: `qemu:///embed${q}`,
    scheme: "qemu",
    driver: "qemu",
    path: "/embed",
    params: q === "" ? [] : [{ name: "root", value: q.slice(6) }],
  });
  assert.equal(embedRoot(uri("?root=/tmp/x/")), "/tmp/x");
  assert.throws(() => embedRoot(uri("")), /root parameter required for embedded driver/);
  assert.throws(() => embedRoot(uri("?root=rel/dir")), /must be an absolute path/);
});
