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
  // AT set 2 (extended keys as e0xx), AT set 3 and OS X: Ctrl, Alt, Delete
  assert.deepEqual(
    [0x14, 0x11, 0xe071].map((k) => translateKeycode(S.atset2!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.deepEqual(
    [0x11, 0x19, 0x64].map((k) => translateKeycode(S.atset3!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.deepEqual(
    [0x3b, 0x3a, 0x75].map((k) => translateKeycode(S.os_x!, q, k)),
    [0x1d, 0x38, 0xd3],
  );
  assert.equal(translateKeycode(S.atset2!, q, 0x1c), 0x1e); // A
  assert.equal(translateKeycode(S.os_x!, S.linux!, 0x00), 30); // kVK_ANSI_A
  // a code a set does not have translates to nothing
  assert.equal(translateKeycode(S.atset3!, q, 0x28), undefined);
  assert.equal(translateKeycode(S.linux!, q, 300), undefined);
  assert.equal(keycodeSetName(S.rfb!), "qnum");
});

test("the AT set 2, AT set 3 and OS X tables give each code to one key only", () => {
  for (const set of [S.atset2!, S.atset3!, S.os_x!]) {
    const seen = new Map<number, number>();
    for (let linux = 0; linux < 256; linux++) {
      const code = translateKeycode(S.linux!, set, linux);
      if (code === undefined) continue;
      assert.equal(seen.get(code), undefined, `${keycodeSetName(set)} code ${code} of two keys`);
      seen.set(code, linux);
      assert.equal(translateKeycode(set, S.linux!, code), linux);
    }
    assert.ok(seen.size > 90, `${keycodeSetName(set)} has ${seen.size} keys`);
  }
});
