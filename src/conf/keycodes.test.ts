import assert from "node:assert/strict";
import { test } from "node:test";
import { KEYCODE_SETS as S, keycodeFromName, keycodeSetName, translateKeycode } from "./keycodes.ts";

test("key names of the linux and win32 code sets", () => {
  assert.equal(keycodeFromName(S.linux!, "KEY_A"), 30);
  assert.equal(keycodeFromName(S.linux!, "KEY_DELETE"), 111);
  assert.equal(keycodeFromName(S.linux!, "KEY_SHIFT"), 42);
  assert.equal(keycodeFromName(S.linux!, "KEY_NOPE"), undefined);
  assert.equal(keycodeFromName(S.win32!, "VK_A"), 0x41);
  assert.equal(keycodeFromName(S.usb!, "KEY_A"), undefined);
});

test("every code set translates to qnum (extended keys as 0x80 | xx)", () => {
  const q = S.qnum!;
  // Ctrl, Alt, Delete in each code set
  assert.deepEqual(
    [29, 56, 111].map((k) => translateKeycode(S.linux!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.deepEqual(
    [224, 226, 76].map((k) => translateKeycode(S.usb!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.deepEqual(
    [0x1d, 0x38, 0xe053].map((k) => translateKeycode(S.atset1!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.deepEqual(
    [0x1d, 0x38, 0x153].map((k) => translateKeycode(S.xt_kbd!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.deepEqual(
    [0xa2, 0xa4, 0x2e].map((k) => translateKeycode(S.win32!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.equal(translateKeycode(S.xt!, q, 0x1e), 0x1e);
  // the original XT keyboard had no Delete key of its own
  assert.equal(translateKeycode(S.xt!, q, 0xd3), undefined);
  assert.equal(translateKeycode(S.linux!, S.usb!, 30), 4);
  // code sets without a table here translate nothing
  assert.equal(translateKeycode(S.atset2!, q, 0x1c), undefined);
  assert.equal(translateKeycode(S.linux!, q, 300), undefined);
  assert.equal(keycodeSetName(S.rfb!), "qnum");
});
