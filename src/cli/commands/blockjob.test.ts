/**
 * tvirsh's block job commands (blockjob.ts) byte for byte against the real virsh 9.0 on
 * `test:///default` (libvirt's test driver has no block jobs: what matters here is the option
 * handling, the order of checks and the refusals), and the help texts. The jobs themselves are
 * checked on a real guest in src/rpc/blockjobs-interop.test.ts (tvirsh and stock virsh through
 * the same tvirtd).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

const lines = [
  "blockcommit test vda",
  "blockcommit test vda --active --pivot",
  "blockcommit test vda --pivot --keep-overlay",
  "blockcommit test vda --verbose",
  "blockcommit test vda --async",
  "blockcommit test vda --bandwidth x",
  "blockcommit test vda --bandwidth 10M --bytes",
  "blockcommit test vda --timeout 0",
  "blockcommit nosuch vda",
  "blockcommit test",
  "help blockcommit",
  "blockpull test vda",
  "blockpull test vda --base /b",
  "blockpull test vda --verbose",
  "blockpull test vda --async",
  "blockpull test vda --wait --keep-relative",
  "blockpull nosuch vda",
  "help blockpull",
  "blockcopy test vda",
  "blockcopy test vda --dest /tmp/x",
  "blockcopy test vda --dest /tmp/x --format qcow2",
  "blockcopy test vda --dest /tmp/x --xml /tmp/y",
  "blockcopy test vda --dest /tmp/x --pivot --finish",
  "blockcopy test vda --dest /tmp/x --verbose",
  "blockcopy test vda --dest /tmp/x --async",
  "blockcopy test vda --dest /tmp/x --transient-job --bandwidth 5",
  "blockcopy test vda --dest '/tmp/a b&c' --format qcow2 --print-xml",
  "blockcopy test vda --dest /dev/sdz --blockdev --print-xml",
  "blockcopy test vda --xml /nonexistent/file.xml",
  "blockcopy test vda --dest /tmp/x --granularity x",
  "help blockcopy",
  "blockjob test vda",
  "blockjob test vda --info",
  "blockjob test vda --raw",
  "blockjob test vda --abort",
  "blockjob test vda --pivot",
  "blockjob test vda --async",
  "blockjob test vda --bandwidth 10",
  "blockjob test vda --raw --abort",
  "blockjob test vda --info --pivot",
  "blockjob test vda --bytes --async",
  "blockjob nosuch vda",
  "help blockjob",
  "blockresize test vda 10M",
  "blockresize test vda 1000",
  "blockresize test vda 12X",
  "blockresize test vda",
  "blockresize nosuch vda 1G",
  "help blockresize",
];

test("block job commands print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  // every difference at once (one line's fix often moves others)
  const diffs: string[] = [];
  for (const line of lines) {
    const v = await runArgv(["virsh", "-c", "test:///default", line], { env });
    const ours = await tvirsh(line);
    const theirs = { out: v.stdout, err: v.stderr, status: v.code };
    const mine = { out: ours.out, err: ours.err, status: ours.status };
    if (JSON.stringify(mine) !== JSON.stringify(theirs))
      diffs.push(`${line}\n  virsh:  ${JSON.stringify(theirs)}\n  tvirsh: ${JSON.stringify(mine)}`);
  }
  assert.deepEqual(diffs, []);
  const v = await runArgv(["virsh", "help", "domain"], { env });
  const ours = await tvirsh("help", "domain");
  const pick = (s: string): string[] =>
    s.split("\n").filter((l) => /^\s+block(commit|copy|job|pull|resize)\s/.test(l));
  assert.deepEqual(pick(ours.out), pick(v.stdout));
  assert.equal(pick(v.stdout).length, 5);
});
