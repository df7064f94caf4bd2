/**
 * Huge pages on real QEMU, in a private mount namespace (the test's hugetlbfs mounts are seen by
 * no other test): a TCG guest backed by 2 MiB pages takes exactly its size from the free pool
 * and gives it back when destroyed, with its own directory under the mount made and removed;
 * the same with one 1 GiB page; a guest asking for more pages than are free, or for a size no
 * hugetlbfs is mounted with, is refused before QEMU starts. The pages the test reserves are
 * given back (relative reservations: another user of the pool is not undone).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { runArgv } from "../../../util/spawn.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { guestXML, makeTestRoot, qemuProcessesOf } from "../../../testing/qemu/driver.ts";
import { reserveHugepages, type Reservation } from "../../../testing/qemu/accept/hugepages.ts";
import { runTestFileUnshared } from "../../../testing/netns.ts";

const INNER = process.env.TVIRT_MNTNS_TEST === "1";

function free(sizeKiB: number): number {
  return Number(
    readFileSync(`/sys/kernel/mm/hugepages/hugepages-${String(sizeKiB)}kB/free_hugepages`, "utf8"),
  );
}

function withPages(base: string, name: string, memoryMiB: number, sizeKiB: number): string {
  return base
    .replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`)
    .replace(/<memory unit='MiB'>\d+<\/memory>/, `<memory unit='MiB'>${String(memoryMiB)}</memory>`)
    .replace(/<currentMemory unit='MiB'>\d+<\/currentMemory>/, "")
    .replace(
      "<os>",
      `<memoryBacking><hugepages><page size='${String(sizeKiB)}' unit='KiB'/></hugepages></memoryBacking>\n  <os>`,
    );
}

async function mount(dir: string, size: string): Promise<void> {
  const r = await runArgv(["mount", "-t", "hugetlbfs", "-o", `pagesize=${size}`, "none", dir]);
  assert.equal(r.code, 0, r.stderr);
}

async function inner(t: TestContext): Promise<void> {
  const base = await guestXML(t, { name: "hp", mode: "idle" });
  if (base === undefined) return;
  assert.ok(/<memory unit='MiB'>\d+<\/memory>/.test(base), base);
  const mnt = mkdtempSync(join(tmpdir(), "tvirt-hugetlbfs-"));
  const mnt1g = mkdtempSync(join(tmpdir(), "tvirt-hugetlbfs1g-"));
  const reservations: Reservation[] = [];
  const tr = makeTestRoot();
  // only this test's mounts (qemu.conf hugetlbfs_mount): other tests mount hugetlbfs meanwhile
  const conn = await tr.open({ hugetlbfsMounts: [mnt, mnt1g] });
  try {
    // 2 MiB pages: 96 MiB of guest = 48 pages
    const r2 = reserveHugepages(2048, 60);
    reservations.push(r2);
    assert.ok(r2.got >= 48, `the kernel gave ${String(r2.got)} of 60 2 MiB pages`);
    await mount(mnt, "2M");
    const before = free(2048);
    await conn.domainCreateXML(withPages(base, "hp2m", 96, 2048), 0);
    tr.track(conn);
    assert.equal(before - free(2048), 48, "the guest took 48 pages of 2 MiB");
    const dirs = readdirSync(join(mnt, "tvirt", "qemu"));
    assert.equal(dirs.length, 1);
    assert.match(dirs[0] ?? "", /-hp2m$/);

    // more than are free: refused before QEMU starts, naming the size and where
    const procs = qemuProcessesOf(tr.root).length;
    await assert.rejects(
      conn.domainCreateXML(withPages(base, "hpbig", 96 + 2 * free(2048), 2048), 0),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "QEMU_HUGEPAGES_SHORT" &&
        /huge pages of 2 MiB on the host, but only \d+ are free/.test(e.message),
    );
    assert.equal(qemuProcessesOf(tr.root).length, procs, "no QEMU started for hpbig");
    // a size no hugetlbfs is mounted with
    await assert.rejects(
      conn.domainCreateXML(withPages(base, "hp1g", 1024, 1048576), 0),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE" &&
        /1048576 KiB/.test(e.message),
    );

    await conn.domainDestroy(await conn.domainLookupByName("hp2m"));
    assert.equal(free(2048), before, "destroy gave the pages back");
    assert.deepEqual(readdirSync(join(mnt, "tvirt", "qemu")), [], "the guest's directory is gone");

    // one 1 GiB page
    const r1 = reserveHugepages(1048576, 1);
    reservations.push(r1);
    if (r1.got === 0) {
      if (process.env.CI === "true") assert.fail("the kernel gave no 1 GiB page");
      t.diagnostic("the kernel gave no 1 GiB page: the 1 GiB part was not run");
      return;
    }
    await mount(mnt1g, "1G");
    const before1g = free(1048576);
    await conn.domainCreateXML(withPages(base, "hp1g", 1024, 1048576), 0);
    tr.track(conn);
    assert.equal(before1g - free(1048576), 1, "the guest took the 1 GiB page");
    await conn.domainDestroy(await conn.domainLookupByName("hp1g"));
    assert.equal(free(1048576), before1g);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
    for (const r of reservations.reverse()) r.release();
  }
}

test("huge pages back guests and are checked before QEMU starts", async (t) => {
  if (INNER) {
    await inner(t);
    return;
  }
  if (process.getuid?.() !== 0 || !existsSync("/sys/kernel/mm/hugepages/hugepages-2048kB")) {
    if (process.env.CI === "true") assert.fail("needs root and 2 MiB huge pages");
    t.skip("needs root and 2 MiB huge pages");
    return;
  }
  // the mounts are made in a mount namespace of the test's own, private from the host's
  const file = fileURLToPath(import.meta.url);
  await runTestFileUnshared(
    file,
    ["--mount", "--propagation", "private"],
    { TVIRT_MNTNS_TEST: "1", ...(process.env.CI ? { CI: process.env.CI } : {}) },
    240_000,
  );
});
