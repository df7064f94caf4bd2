/**
 * memtune, schedinfo and blkiotune: byte for byte against the real virsh 9.0 on
 * `test:///default` (when virsh is installed; under `CI=true` it must be), including the
 * errors of bad values and exclusive scopes. The QEMU driver's side (real cgroups) is
 * `drivers/qemu/driver/cgroup.qemu.test.ts`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

const LINES = [
  "memtune test",
  "memtune test --live",
  "memtune test --config",
  "memtune test --live --config",
  "memtune test --live --current",
  "memtune test --hard-limit 1G; memtune test",
  "memtune test --hard-limit 2G --swap-hard-limit 1G",
  "memtune test --soft-limit 512M --hard-limit -1; memtune test",
  "memtune test --min-guarantee 1",
  "memtune test --hard-limit abc",
  "memtune nosuch",
  "schedinfo test",
  "schedinfo test --live",
  "schedinfo test --config",
  "schedinfo test --live --config",
  "schedinfo test --set weight=100",
  "schedinfo test --set bogus=1",
  "schedinfo test --set weight=abc",
  "schedinfo test --set weight",
  "schedinfo test --weight 10",
  "schedinfo test --set weight=100 --live",
  "blkiotune test",
  "blkiotune test --config",
  "blkiotune test --weight 500; blkiotune test",
  "blkiotune test --weight 0",
  "blkiotune test --weight abc",
  "blkiotune test --device-weights /dev/sda,500",
];

test("memtune, schedinfo, blkiotune print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  for (const line of LINES) {
    const v = await runArgv(["virsh", "-c", "test:///default", line], { env });
    const io = new BufferIo();
    const status = await main(["-c", "test:///default", line], io, {});
    assert.equal(io.stdout, v.stdout, `stdout of '${line}'`);
    assert.equal(io.stderr, v.stderr, `stderr of '${line}'`);
    assert.equal(status, v.code, `status of '${line}'`);
  }
});
