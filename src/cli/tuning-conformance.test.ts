/**
 * tvirsh against stock virsh 9.0 on test:///default for the tuning commands: each line runs in
 * a fresh test driver on both sides and the outputs (stdout, stderr, exit status) must be the
 * same, apart from values libvirt's test driver takes from the wall clock.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { virshOrSkip } from "../testing/rpc/harness.ts";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";

const cases = [
  "setmem test 1000000; dominfo test",
  "setmem test 1000000 --config; dumpxml test --inactive",
  "setmem test 1000000 --live --config",
  "setmem test 99999999",
  "setmem test abc",
  "setmem test 1G --current --live",
  "setmaxmem test 3000000",
  "setmaxmem test 3000000 --config; dumpxml test --inactive",
  "destroy test; setmaxmem test 3000000; dominfo test",
  "destroy test; setmaxmem test 1000 --config; dumpxml test --inactive",
  "destroy test; setmem test 100",
  "setvcpus test 1; vcpucount test",
  "setvcpus test 3",
  "setvcpus test 99",
  "setvcpus test 0",
  "setvcpus test -1",
  "setvcpus test 1 --config; vcpucount test",
  "setvcpus test 1 --live --config; vcpucount test",
  "setvcpus test 4 --maximum --config; vcpucount test",
  "setvcpus test 4 --maximum",
  "setvcpus test 1 --guest",
  "setvcpus test 1 --hotpluggable --guest",
  "destroy test; setvcpus test 3 --maximum --config; vcpucount test",
  "destroy test; setvcpus test 1; vcpucount test",
  "vcpucount test --live --maximum",
  "vcpucount test --config --active",
  "vcpucount test --current",
  "vcpucount test --live --config",
  "vcpucount test --maximum --active",
  "vcpucount test --guest",
  "domstats",
  "domstats --state --balloon --vcpu",
  "domstats --list-inactive",
  "domstats --list-active test",
  "domstats nosuch",
  "domstats --enforce --perf",
  "domstats --raw test test",
  "dommemstat test --period 5 --live",
  "dommemstat test --period -1",
  "domblkstat test vda",
  "domblkstat test vda --human",
  "domblkstat test",
  "domblkstat test vdz",
  "setmem nosuch 100",
];

/** What the test driver takes from the clock: CPU time, block statistics. */
function normalize(s: string): string {
  return s.replace(/^(CPU time:\s+)\S+$/gm, "$1N").replace(/^(vda \w+|\s+[a-z ()]+:)\s+\d+$/gm, "$1 N");
}

test("tuning commands print what virsh 9.0 prints on test:///default", (t) => {
  if (!virshOrSkip(t)) return;
  return (async () => {
    for (const line of cases) {
      const v = spawnSync("virsh", ["-c", "test:///default", line], {
        encoding: "utf8",
        env: { ...process.env, LANG: "C", LC_ALL: "C" },
      });
      const io = new BufferIo();
      const status = await main(["-c", "test:///default", line], io, {});
      assert.deepEqual(
        { status, out: normalize(io.stdout), err: io.stderr },
        { status: v.status, out: normalize(v.stdout), err: v.stderr },
        line,
      );
    }
  })();
});
