/**
 * tvirsh's secret commands on `test:///default` print what virsh 9.0 prints there: libvirt's
 * test driver has no secrets, so each call is refused with its "not supported" error, and the
 * option checks that come before any call (event types, exclusive options) are virsh's.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

test("secret commands print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-secret-"));
  try {
    const xml = join(dir, "s.xml");
    writeFileSync(xml, "<secret><uuid>6b0bd5c4-1f8e-4c55-9a4e-2b1d7c3e9f01</uuid></secret>\n");
    const U = "6b0bd5c4-1f8e-4c55-9a4e-2b1d7c3e9f01";
    const lines = [
      "secret-list",
      "secret-list --ephemeral --no-private",
      `secret-define ${xml}`,
      `secret-define --validate ${xml}`,
      `secret-dumpxml ${U}`,
      `secret-get-value ${U}`,
      `secret-set-value ${U} --base64 eA==`,
      `secret-set-value ${U} --file ${xml} --base64 eA==`,
      `secret-set-value ${U} --interactive --plain`,
      `secret-undefine ${U}`,
      "secret-event --list",
      "secret-event",
      "secret-event --event nosuch",
      "secret-event --event lifecycle --timeout 0",
      "help secret-set-value",
      "help secret",
    ];
    for (const line of lines) {
      const v = await runArgv(["virsh", "-c", "test:///default", line], { env });
      const io = new BufferIo();
      const status = await main(["-c", "test:///default", line], io, {});
      assert.equal(io.stdout, v.stdout, `stdout of '${line}'`);
      assert.equal(io.stderr, v.stderr, `stderr of '${line}'`);
      assert.equal(status, v.code, `status of '${line}'`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
