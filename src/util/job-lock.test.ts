import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "./errors/index.ts";
import { JobLock } from "./job-lock.ts";

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test("modify jobs are exclusive and served in order", async () => {
  const lock = new JobLock({ object: "domain 'vm'" });
  const order: string[] = [];
  const a = await lock.acquire("modify", "virDomainSuspend");
  const pb = lock.acquire("modify", "virDomainResume").then((j) => {
    order.push("b");
    return j;
  });
  const pc = lock.acquire("query", "virDomainGetInfo").then((j) => {
    order.push("c");
    return j;
  });
  await tick();
  assert.deepEqual(order, []);
  a.release();
  const b = await pb;
  await tick();
  assert.deepEqual(order, ["b"], "the query waits for the modify job ahead of it");
  b.release();
  (await pc).release();
  assert.ok(lock.idle);
});

test("queries share the lock and run beside an async job, modify jobs do not", async () => {
  const lock = new JobLock({ object: "domain 'vm'" });
  const save = await lock.acquire("async", "virDomainSave");
  const q1 = await lock.acquire("query", "virDomainGetInfo", { timeoutMs: 0 + 50 });
  let modified = false;
  const pm = lock.acquire("modify", "virDomainSuspend").then((j) => {
    modified = true;
    return j;
  });
  // A query arriving after the waiting modify still passes during the async job.
  const q2 = await lock.acquire("query", "virDomainGetXMLDesc", { timeoutMs: 50 });
  assert.equal(modified, false);
  q1.release();
  q2.release();
  await tick();
  assert.equal(modified, false, "still behind the async job");
  save.release();
  (await pm).release();
  assert.ok(lock.idle);
});

test("a timed-out wait names the job holding the lock", async () => {
  const lock = new JobLock({ object: "domain 'vm'", timeoutMs: 30 });
  const held = await lock.acquire("modify", "virDomainSuspend");
  await assert.rejects(lock.acquire("modify", "virDomainResume"), (e: unknown) => {
    assert.ok(isVirtError(e));
    assert.equal(e.code, "JOB_LOCK_TIMEOUT");
    assert.equal(
      e.message,
      "Timed out during operation: cannot acquire state change lock (held by monitor=virDomainSuspend)",
    );
    return true;
  });
  const save = lock;
  held.release();
  const a = await save.acquire("async", "virDomainSave");
  await assert.rejects(
    lock.acquire("modify", "virDomainDestroy", { timeoutMs: 10 }),
    /held by async job=virDomainSave/,
  );
  a.release();
  assert.ok(lock.idle);
});

test("destroy goes first and cancels every other waiter", async () => {
  const lock = new JobLock({ object: "domain 'vm'" });
  const held = await lock.acquire("modify", "virDomainCreate");
  const waiting = [lock.acquire("modify", "virDomainSuspend"), lock.acquire("query", "virDomainGetInfo")];
  const earlierDestroy = lock.acquire("destroy", "virDomainDestroy");
  const destroy = lock.acquire("destroy", "virDomainDestroy", { cancelReason: "the domain was destroyed" });
  for (const w of waiting) {
    await assert.rejects(
      w,
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "JOB_CANCELLED" &&
        /was cancelled: virDomainDestroy was called/.test(e.message),
    );
  }
  const later = lock.acquire("modify", "virDomainResume");
  held.release();
  const d1 = await earlierDestroy;
  assert.equal(d1.kind, "destroy");
  d1.release();
  (await destroy).release();
  (await later).release();
  assert.ok(lock.idle);
});

test("abort signals and dispose", async () => {
  const lock = new JobLock({ object: "domain 'vm'" });
  const held = await lock.acquire("modify", "a");
  const ac = new AbortController();
  const p = lock.acquire("modify", "b", { signal: ac.signal });
  ac.abort(new Error("caller gave up"));
  await assert.rejects(p, /caller gave up/);
  const q = lock.acquire("modify", "c");
  lock.dispose("the domain is gone");
  await assert.rejects(q, /c on domain 'vm' was cancelled: the domain is gone/);
  await assert.rejects(lock.acquire("query", "d"), /cancelled: the domain is gone/);
  held.release();
});
