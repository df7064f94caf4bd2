import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { withLockFile } from "./lock.ts";
import { GuestBuildError } from "./run.ts";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "tvirt-guest-lock-"));
}

void test("withLockFile: holders never overlap, and the lock is removed after", async () => {
  const dir = await tempDir();
  try {
    const lock = join(dir, ".lock");
    let inside = 0;
    let maxInside = 0;
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        withLockFile(
          lock,
          async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await sleep(20);
            order.push(i);
            inside--;
          },
          { pollMs: 5 },
        ),
      ),
    );
    assert.equal(maxInside, 1);
    assert.equal(order.length, 4);
    await assert.rejects(access(lock), { code: "ENOENT" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test("withLockFile: a lock whose process is gone is taken over", async () => {
  const dir = await tempDir();
  try {
    const lock = join(dir, ".lock");
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid; // has exited
    await writeFile(lock, `${dead}\n`);
    assert.equal(await withLockFile(lock, () => Promise.resolve(42), { timeoutMs: 2000, pollMs: 5 }), 42);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test("withLockFile: a live holder makes a waiter time out with a clear error", async () => {
  const dir = await tempDir();
  try {
    const lock = join(dir, ".lock");
    await writeFile(lock, `${process.pid}\n`);
    await assert.rejects(
      withLockFile(lock, () => Promise.resolve(0), { timeoutMs: 100, pollMs: 10 }),
      (e: unknown) =>
        e instanceof GuestBuildError &&
        e.reason === "lock-timeout" &&
        e.message.includes(`pid ${process.pid}`),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
