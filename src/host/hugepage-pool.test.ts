import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { VirtError } from "../util/errors/index.ts";
import { allocPages, freePages, lastNode } from "./hugepage-pool.ts";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tvirt-pool-"));
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), v);
  }
  return root;
}

const node = (n: number, size: number): string =>
  `sys/devices/system/node/node${String(n)}/hugepages/hugepages-${String(size)}kB`;

test("free pages per node: system pages from the node's MemFree, huge pages from sysfs", () => {
  const root = tree({
    "sys/devices/system/node/online": "0-1\n",
    "sys/devices/system/node/node0/meminfo": "Node 0 MemTotal:  100 kB\nNode 0 MemFree:  4000 kB\n",
    "sys/devices/system/node/node1/meminfo": "Node 1 MemFree:  800 kB\n",
    [`${node(0, 2048)}/free_hugepages`]: "7\n",
    [`${node(1, 2048)}/free_hugepages`]: "3\n",
  });
  try {
    assert.equal(lastNode(root), 1);
    assert.deepEqual(freePages([4, 2048], 0, 2, root), [1000n, 7n, 200n, 3n]);
    assert.throws(() => freePages([1048576], 0, 1, root), /page size 1048576 is not available on node 0/);
    assert.throws(
      () => freePages([4], 2, 1, root),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "NUMA_CELL_RANGE" &&
        /start cell 2 out of range \(0-1\)/.test(e.message),
    );
    assert.throws(() => freePages([4], 1, 2, root), /end cell 2 out of range \(0-1\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("pool sizes: set or add per node or host-wide; system pages and shortfalls refused", () => {
  const root = tree({
    "sys/devices/system/node/online": "0\n",
    [`${node(0, 2048)}/nr_hugepages`]: "5\n",
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "5\n",
  });
  try {
    assert.equal(allocPages([2048], [3n], 0, 1, true, root), 1);
    assert.equal(readFileSync(join(root, node(0, 2048), "nr_hugepages"), "utf8"), "8");
    assert.equal(allocPages([2048], [2n], -1, 1, false, root), 1);
    assert.equal(
      readFileSync(join(root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "utf8"),
      "2",
    );
    assert.throws(() => allocPages([4], [1n], 0, 1, false, root), /system pages pool can't be modified/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("on this host: the kernel's pool grows and shrinks back (relative, so other users are not undone)", (t) => {
  const file = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
  let before: bigint;
  try {
    before = BigInt(readFileSync(file, "utf8").trim());
  } catch {
    t.skip("no per-node 2 MiB pool here");
    return;
  }
  if (process.getuid?.() !== 0) {
    t.skip("needs root");
    return;
  }
  const free0 = freePages([2048], 0, 1)[0] ?? 0n;
  try {
    allocPages([2048], [4n], 0, 1, true);
    assert.equal(BigInt(readFileSync(file, "utf8").trim()), before + 4n);
    assert.equal(freePages([2048], 0, 1)[0], free0 + 4n);
  } finally {
    allocPages([2048], [-4n], 0, 1, true);
  }
  assert.equal(BigInt(readFileSync(file, "utf8").trim()), before);
});
