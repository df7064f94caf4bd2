import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hugepageReport, pageSizeText } from "./hugepage-report.ts";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tvirt-hpr-"));
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), v);
  }
  return root;
}

const pool = (size: number, v: Record<string, number>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(v).map(([k, n]) => [
      `sys/kernel/mm/hugepages/hugepages-${String(size)}kB/${k}`,
      `${String(n)}\n`,
    ]),
  );
const nodePool = (node: number, size: number, v: Record<string, number>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(v).map(([k, n]) => [
      `sys/devices/system/node/node${String(node)}/hugepages/hugepages-${String(size)}kB/${k}`,
      `${String(n)}\n`,
    ]),
  );

test("page sizes are spelled as hugetlbfs takes them", () => {
  assert.equal(pageSizeText(2048), "2M");
  assert.equal(pageSizeText(1048576), "1G");
  assert.equal(pageSizeText(64), "64K");
});

test("pools per size and node, mounts matched by size, and the advice each situation gets", () => {
  const root = tree({
    "proc/meminfo": "MemTotal:       16384000 kB\nHugepagesize:       2048 kB\n",
    "proc/mounts": "none /dev/hugepages1G hugetlbfs rw,pagesize=1G 0 0\nproc /proc proc rw 0 0\n",
    "sys/devices/system/node/online": "0-1\n",
    "sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never\n",
    ...pool(2048, {
      nr_hugepages: 64,
      free_hugepages: 0,
      resv_hugepages: 0,
      surplus_hugepages: 0,
      nr_overcommit_hugepages: 0,
    }),
    ...pool(1048576, {
      nr_hugepages: 0,
      free_hugepages: 0,
      resv_hugepages: 0,
      surplus_hugepages: 0,
      nr_overcommit_hugepages: 2,
    }),
    ...nodePool(0, 2048, { nr_hugepages: 64, free_hugepages: 0, surplus_hugepages: 0 }),
    ...nodePool(1, 2048, { nr_hugepages: 0, free_hugepages: 0, surplus_hugepages: 0 }),
    ...nodePool(0, 1048576, { nr_hugepages: 0, free_hugepages: 0, surplus_hugepages: 0 }),
    ...nodePool(1, 1048576, { nr_hugepages: 0, free_hugepages: 0, surplus_hugepages: 0 }),
  });
  try {
    const r = hugepageReport(root);
    assert.equal(r.memTotalKiB, 16384000);
    assert.equal(r.defaultSizeKiB, 2048);
    assert.deepEqual(
      r.pools.map((p) => [p.sizeKiB, p.total, p.free, p.overcommit, p.default, p.mounts]),
      [
        [2048, 64, 0, 0, true, []],
        [1048576, 0, 0, 2, false, ["/dev/hugepages1G"]],
      ],
    );
    assert.deepEqual(r.pools[0]?.nodes, [
      { node: 0, total: 64, free: 0, surplus: 0 },
      { node: 1, total: 0, free: 0, surplus: 0 },
    ]);
    assert.equal(r.transparent, "always");
    const texts = r.advice.map((a) => `${a.severity}: ${a.message}`);
    assert.ok(
      texts.some((t) =>
        /^warning: 64 huge pages of 2M are configured but no hugetlbfs of that size is mounted/.test(t),
      ),
      texts.join("\n"),
    );
    assert.ok(texts.some((t) => /^info: every 2M page is in use \(64 of 64\)/.test(t)));
    assert.ok(texts.some((t) => /^info: node 1 has no 2M pages/.test(t)));
    assert.ok(texts.some((t) => /^info: 1G overcommit is 2 pages/.test(t)));
    assert.ok(texts.some((t) => /transparent huge pages are 'always'/.test(t)));
    // a mount with pages from overcommit is not "empty"
    assert.ok(!texts.some((t) => /hugetlbfs of 1G is mounted .* but the pool is empty/.test(t)));
    const mountFix = r.advice.find((a) => a.message.includes("no hugetlbfs of that size"))?.fix;
    assert.deepEqual(mountFix, [
      "mkdir -p /dev/hugepages2M",
      "mount -t hugetlbfs -o pagesize=2M none /dev/hugepages2M",
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an empty pool behind a mount, no pools at all, no huge page support", () => {
  const root = tree({
    "proc/meminfo": "MemTotal: 1000 kB\nHugepagesize: 2048 kB\n",
    "proc/mounts": "hugetlbfs /dev/hugepages hugetlbfs rw,relatime 0 0\n",
    ...pool(2048, { nr_hugepages: 0, free_hugepages: 0 }),
  });
  const none = tree({ "proc/meminfo": "MemTotal: 1000 kB\n" });
  try {
    const r = hugepageReport(root);
    assert.deepEqual(r.mounts, [{ path: "/dev/hugepages", sizeKiB: 2048, default: true }]);
    const texts = r.advice.map((a) => a.message);
    assert.ok(
      texts.some((t) => /hugetlbfs of 2M is mounted \(\/dev\/hugepages\) but the pool is empty/.test(t)),
    );
    assert.ok(texts.some((t) => /no huge page pool is configured/.test(t)));
    const n = hugepageReport(none);
    assert.deepEqual(n.pools, []);
    assert.equal(n.advice[0]?.severity, "warning");
    assert.match(n.advice[0].message, /offers no huge pages/);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(none, { recursive: true, force: true });
  }
});
