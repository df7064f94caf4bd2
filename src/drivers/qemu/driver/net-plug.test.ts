/**
 * qemu-bridge-helper's ACL file as `net-plug.ts` reads it (files in a temp dir; no host change).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { bridgeAclVerdict, tapMac } from "./net-plug.ts";

test("bridge ACL: allow/deny/all, include, comments; deny wins; a missing file is named", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-bridge-acl-"));
  try {
    const conf = join(dir, "bridge.conf");
    const inc = join(dir, "more.conf");
    assert.deepEqual(await bridgeAclVerdict(conf, "br0"), {
      allowed: false,
      reason: `${conf} does not exist`,
    });
    writeFileSync(conf, `# site bridges\nallow br1   # lab\ninclude ${inc}\n`);
    writeFileSync(inc, "allow br0\n");
    assert.deepEqual(await bridgeAclVerdict(conf, "br0"), { allowed: true, reason: "" });
    assert.equal((await bridgeAclVerdict(conf, "br1")).allowed, true);
    assert.deepEqual(await bridgeAclVerdict(conf, "br2"), {
      allowed: false,
      reason: `${conf} has no 'allow br2' or 'allow all' line`,
    });
    writeFileSync(conf, "allow all\n");
    assert.equal((await bridgeAclVerdict(conf, "anything")).allowed, true);
    writeFileSync(conf, "allow br0\ndeny all\n");
    assert.deepEqual(await bridgeAclVerdict(conf, "br0"), {
      allowed: false,
      reason: `${conf} has 'deny all', which wins over any allow line`,
    });
    writeFileSync(conf, `include ${join(dir, "gone.conf")}\nallow br0\n`);
    assert.deepEqual(await bridgeAclVerdict(conf, "br0"), {
      allowed: false,
      reason: `${join(dir, "gone.conf")} does not exist`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a tap's own MAC is the guest's with fe as first byte", () => {
  assert.equal(tapMac("52:54:00:12:34:56"), "fe:54:00:12:34:56");
});
