import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultHugepageSizeKiB, parseHugetlbfsMounts, parsePageSize } from "./hugetlbfs.ts";

test("parsePageSize reads hugetlbfs mount option sizes in KiB", () => {
  assert.equal(parsePageSize("2M"), 2048);
  assert.equal(parsePageSize("1G"), 1048576);
  assert.equal(parsePageSize("2048k"), 2048);
  assert.equal(parsePageSize("x"), undefined);
});

test("parseHugetlbfsMounts lists hugetlbfs mounts with sizes and marks the default", () => {
  const mounts = [
    "proc /proc proc rw 0 0",
    "none /dev/huge\\0401G hugetlbfs rw,relatime,pagesize=1G 0 0",
    "hugetlbfs /dev/hugepages hugetlbfs rw,relatime 0 0",
    "none /mnt/h2 hugetlbfs rw,pagesize=2M 0 0",
  ].join("\n");
  const def = defaultHugepageSizeKiB("MemTotal: 1 kB\nHugepagesize:       2048 kB\n");
  assert.equal(def, 2048);
  assert.deepEqual(parseHugetlbfsMounts(mounts, def), [
    { path: "/dev/huge 1G", sizeKiB: 1048576, default: false },
    { path: "/dev/hugepages", sizeKiB: 2048, default: true },
    { path: "/mnt/h2", sizeKiB: 2048, default: false },
  ]);
});
