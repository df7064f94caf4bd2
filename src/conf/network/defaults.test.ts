import { test } from "node:test";
import assert from "node:assert/strict";
import { assignBridgeName, generateBridgeMac, parseNetwork } from "./index.ts";

const UUID = "<uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>";

test("an L3 network without a bridge gets the lowest free virbrN; templates are filled", () => {
  const { def } = parseNetwork(
    `<network><name>a</name>${UUID}<forward/><ip address='10.0.0.1' prefix='24'/></network>`,
  );
  assignBridgeName(def, new Set(["virbr0", "virbr1", "virbr3"]));
  assert.equal(def.bridge, "virbr2");
  const t = parseNetwork(`<network><name>b</name>${UUID}<bridge name='lab%d'/></network>`).def;
  assignBridgeName(t, new Set(["lab0"]));
  assert.equal(t.bridge, "lab1");
});

test("host-bridge networks keep their bridge and get no MAC", () => {
  const { def } = parseNetwork(
    `<network><name>h</name>${UUID}<forward mode='bridge'/><bridge name='br0'/></network>`,
  );
  assignBridgeName(def, new Set());
  generateBridgeMac(def, () => [1, 2, 3]);
  assert.equal(def.bridge, "br0");
  assert.equal(def.mac, undefined);
});

test("a generated bridge MAC is 52:54:00 plus the random bytes, and never replaces a given one", () => {
  const { def } = parseNetwork(`<network><name>i</name>${UUID}</network>`);
  generateBridgeMac(def, () => [0xab, 0x0c, 0xff]);
  assert.equal(def.mac, "52:54:00:ab:0c:ff");
  generateBridgeMac(def, () => [1, 2, 3]);
  assert.equal(def.mac, "52:54:00:ab:0c:ff");
});
