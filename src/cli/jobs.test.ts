/**
 * Job control commands: errors on test:///default compared byte for byte with stock virsh 9.0
 * (libvirt's test driver implements none of the job APIs, so every command reaches virsh's
 * fallbacks and messages), and domjobinfo's text from statistics as virsh prints it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";
import { virshOrSkip } from "../testing/rpc/harness.ts";
import { formatJobInfo, prettyCapacity3 } from "./commands/jobs.ts";
import { DomainJobType, TypedParameterType, type TypedParameter } from "../api/index.ts";

const LINES = [
  "domjobinfo test",
  "domjobinfo test --completed",
  "domjobinfo test --keep-completed",
  "domjobinfo test --rawstats",
  "domjobinfo nosuch",
  "domjobabort test",
  "domjobabort test --postcopy",
  "migrate-getmaxdowntime test",
  "migrate-setmaxdowntime test 100",
  "migrate-setmaxdowntime test 0",
  "migrate-setmaxdowntime test abc",
  "migrate-setmaxdowntime test -5",
  "migrate-getspeed test",
  "migrate-getspeed test --postcopy",
  "migrate-setspeed test 10",
  "migrate-setspeed test -1",
  "migrate-setspeed test x",
  "migrate-compcache test",
  "migrate-compcache test --size 1024",
  "migrate-compcache test --size bad",
];

test("job commands fail on test:///default exactly as stock virsh does", async (t) => {
  const virsh = virshOrSkip(t);
  if (virsh === undefined) return;
  for (const line of LINES) {
    const want: { stdout: string; stderr: string; status: number | null } = spawnSync(
      virsh,
      ["-c", "test:///default", ...line.split(" ")],
      { encoding: "utf8" },
    );
    const io = new BufferIo();
    const code = await main(["-c", "test:///default", ...line.split(" ")], io, {});
    assert.equal(io.stdout, want.stdout, `stdout of '${line}'`);
    assert.equal(io.stderr, want.stderr, `stderr of '${line}'`);
    assert.equal(code, want.status, `exit code of '${line}'`);
  }
});

const ull = (field: string, v: bigint): TypedParameter => ({
  field,
  value: { type: TypedParameterType.ULLONG, value: v },
});

test("domjobinfo prints statistics in virsh's layout", () => {
  const params: TypedParameter[] = [
    { field: "operation", value: { type: TypedParameterType.INT, value: 5 } },
    ull("time_elapsed", 1234n),
    ull("downtime", 21n),
    ull("setup_time", 3n),
    ull("data_total", 136314880n),
    ull("data_processed", 1536n),
    ull("data_remaining", 136313344n),
    ull("memory_total", 136314880n),
    ull("memory_processed", 1536n),
    ull("memory_remaining", 136313344n),
    ull("memory_constant", 10n),
    ull("memory_normal", 2n),
    ull("memory_normal_bytes", 8192n),
    ull("memory_bps", 125000000n),
    ull("memory_dirty_rate", 7n),
    ull("memory_page_size", 4096n),
    ull("memory_iteration", 2n),
    ull("memory_postcopy_requests", 0n),
    { field: "auto_converge_throttle", value: { type: TypedParameterType.INT, value: 20 } },
  ];
  const info = {
    type: DomainJobType.COMPLETED,
    timeElapsed: 1234n,
    timeRemaining: 0n,
    dataTotal: 136314880n,
    dataProcessed: 1536n,
    dataRemaining: 136313344n,
    memTotal: 136314880n,
    memProcessed: 1536n,
    memRemaining: 136313344n,
    fileTotal: 0n,
    fileProcessed: 0n,
    fileRemaining: 0n,
  };
  assert.equal(
    formatJobInfo(info, params, { completed: true, anystats: false }),
    [
      "Job type:         Completed   ",
      "Operation:        Outgoing migration",
      "Time elapsed:     1234         ms",
      "Data processed:   1.500 KiB",
      "Data remaining:   129.999 MiB",
      "Data total:       130.000 MiB",
      "Memory processed: 1.500 KiB",
      "Memory remaining: 129.999 MiB",
      "Memory total:     130.000 MiB",
      "Memory bandwidth: 119.209 MiB/s",
      "Dirty rate:       7            pages/s",
      "Page size:        4096         bytes",
      "Iteration:        2           ",
      "Postcopy requests: 0           ",
      "Constant pages:   10          ",
      "Normal pages:     2           ",
      "Normal data:      8.000 KiB",
      "Total downtime:   21           ms",
      "Setup time:       3            ms",
      "Auto converge throttle: 20           ",
      "",
    ].join("\n"),
  );
  // a completed job without --completed, and no job: the type line only
  assert.equal(
    formatJobInfo(info, params, { completed: false, anystats: false }),
    "Job type:         Completed   \n",
  );
  assert.equal(
    formatJobInfo({ ...info, type: DomainJobType.NONE }, [], { completed: false, anystats: false }),
    "Job type:         None        \n",
  );
});

test("sizes as vshPrettyCapacity with three decimals", () => {
  assert.equal(prettyCapacity3(0n), "0.000 B");
  assert.equal(prettyCapacity3(1023n), "1023.000 B");
  assert.equal(prettyCapacity3(1024n), "1.000 KiB");
  assert.equal(prettyCapacity3(1536n), "1.500 KiB");
  assert.equal(prettyCapacity3(67108864n), "64.000 MiB");
  assert.equal(prettyCapacity3(2n ** 64n - 1n), "16.000 EiB");
});
