import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHpbMachine } from "./hpb.ts";

test("Ubuntu's -hpb machine names map to the upstream machine of their release", () => {
  assert.deepEqual(parseHpbMachine("pc-q35-jammy-hpb"), { name: "pc-q35-jammy-hpb", base: "pc-q35-6.2" });
  assert.deepEqual(parseHpbMachine("pc-i440fx-noble-hpb"), {
    name: "pc-i440fx-noble-hpb",
    base: "pc-i440fx-8.2",
  });
  assert.deepEqual(parseHpbMachine("pc-q35-7.2-hpb"), { name: "pc-q35-7.2-hpb", base: "pc-q35-7.2" });
  for (const other of ["pc-q35-jammy", "q35", "pc-q35-nosuchrelease-hpb", "virt-hpb", undefined]) {
    assert.equal(parseHpbMachine(other), undefined, String(other));
  }
});
