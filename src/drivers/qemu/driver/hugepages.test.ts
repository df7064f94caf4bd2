import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { VirtError } from "../../../util/errors/index.ts";
import { checkHugepageSupply, freeHugepages, hugepageNeeds } from "./hugepages.ts";

const mounts = [
  { path: "/dev/hugepages", sizeKiB: 2048 },
  { path: "/dev/hugepages1G", sizeKiB: 1048576 },
];

const obj = (o: Record<string, unknown>): string[] => ["-object", JSON.stringify(o)];

test("the needs come from the argv's memory backends, per page size and bound host nodes", () => {
  const args = [
    "-m",
    "size=3145728k",
    ...obj({
      "qom-type": "memory-backend-file",
      id: "ram-node0",
      "mem-path": "/dev/hugepages/tvirt/qemu/1-g",
      size: 1073741824,
      "host-nodes": [1, 0],
      policy: "bind",
    }),
    ...obj({
      "qom-type": "memory-backend-file",
      id: "ram-node1",
      "mem-path": "/dev/hugepages1G/tvirt/qemu/1-g",
      size: 2147483648,
    }),
    ...obj({
      "qom-type": "memory-backend-file",
      id: "memdimm0",
      "mem-path": "/dev/hugepages/tvirt/qemu/1-g",
      size: 3 * 1024 * 1024,
      "host-nodes": [0, 1],
      policy: "bind",
    }),
    ...obj({ "qom-type": "memory-backend-ram", id: "ram-node2", size: 1024 }),
    ...obj({ "qom-type": "memory-backend-file", id: "f", "mem-path": "/var/lib/tvirt/ram", size: 1024 }),
  ];
  assert.deepEqual(hugepageNeeds(args, mounts), [
    { sizeKiB: 2048, pages: 512 + 2, nodes: [0, 1], dir: "/dev/hugepages/tvirt/qemu/1-g" },
    { sizeKiB: 1048576, pages: 2, nodes: undefined, dir: "/dev/hugepages1G/tvirt/qemu/1-g" },
  ]);
});

test("free pages are counted on the bound nodes, and a shortfall names size, nodes and the file to raise", () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-hp-"));
  const put = (p: string, v: string): void => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), v);
  };
  try {
    put("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "100\n");
    put("sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "30\n");
    put("sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages", "70\n");
    assert.equal(freeHugepages(2048, undefined, root), 100);
    assert.equal(freeHugepages(2048, [0], root), 30);
    assert.equal(freeHugepages(1048576, undefined, root), 0);
    checkHugepageSupply("g", [{ sizeKiB: 2048, pages: 100, nodes: undefined, dir: "/x" }], root);
    assert.throws(
      () => {
        checkHugepageSupply("g", [{ sizeKiB: 2048, pages: 40, nodes: [0], dir: "/x" }], root);
      },
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "QEMU_HUGEPAGES_SHORT" &&
        e.message ===
          "operation failed: domain 'g' needs 40 huge pages of 2 MiB on host NUMA node 0, but only 30 are free: reserve 10 more (raise /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages)",
    );
    assert.throws(() => {
      checkHugepageSupply("g", [{ sizeKiB: 1048576, pages: 1, nodes: undefined, dir: "/x" }], root);
    }, /needs 1 huge pages of 1 GiB on the host, but only 0 are free/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
