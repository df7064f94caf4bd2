import assert from "node:assert/strict";
import { test } from "node:test";
import { DisposableStore, disposableInterval, disposableTimeout, sleep, toDisposable } from "./disposable.ts";

test("a store releases newest first, each once, and reports every failure", async () => {
  const order: string[] = [];
  const store = new DisposableStore();
  store.addFn(() => {
    order.push("a");
  });
  store.addFn(() => {
    throw new Error("b failed");
  });
  store.add(
    toDisposable(async () => {
      await sleep(1);
      order.push("c");
    }),
  );
  await assert.rejects(store.dispose(), /b failed/);
  assert.deepEqual(order, ["c", "a"]);
  await store.dispose();
  assert.deepEqual(order, ["c", "a"], "idempotent");
  assert.equal(store.isDisposed, true);
});

test("adding to a disposed store releases the item at once", async () => {
  const store = new DisposableStore();
  await store.dispose();
  let released = false;
  store.addFn(() => {
    released = true;
  });
  await sleep(5);
  assert.equal(released, true);
});

test("release and delete", async () => {
  const store = new DisposableStore();
  let n = 0;
  const d = store.addFn(() => {
    n++;
  });
  const kept = store.addFn(() => {
    n += 10;
  });
  await store.release(d);
  store.delete(kept);
  assert.equal(store.size, 0);
  await store.dispose();
  assert.equal(n, 1);
});

test("an undo stack: undone newest first on failure, each awaited; kept by forgetAll on success", async () => {
  const order: string[] = [];
  const step = (name: string, ms: number) => async (): Promise<void> => {
    await sleep(ms);
    order.push(name);
  };
  const failed = new DisposableStore();
  failed.addFn(step("first", 1));
  failed.addFn(() => {
    throw new Error("undo of second failed");
  });
  failed.addFn(step("third", 5));
  await failed.dispose().catch(() => undefined);
  assert.deepEqual(
    order,
    ["third", "first"],
    "reverse order, the slower later step finished before the earlier one ran",
  );

  order.length = 0;
  const succeeded = new DisposableStore();
  succeeded.addFn(step("kept", 0));
  succeeded.addFn(step("kept too", 0));
  assert.equal(succeeded.size, 2);
  succeeded.forgetAll();
  assert.equal(succeeded.size, 0);
  assert.equal(succeeded.isDisposed, false, "still usable");
  succeeded.addFn(step("later", 0));
  await succeeded.dispose();
  assert.deepEqual(order, ["later"], "what was forgotten is never released");
});

test("timers are owned and never keep the process alive", async () => {
  let fired = 0;
  const t = disposableTimeout(() => fired++, 5);
  const i = disposableInterval(() => fired++, 1);
  await i.dispose();
  await t.dispose();
  await sleep(20);
  assert.equal(fired, 0);
  const ac = new AbortController();
  const p = sleep(10_000, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
});
