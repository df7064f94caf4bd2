import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { isVirtError } from "../util/errors/index.ts";
import { canBindPort, PortAllocator } from "./ports.ts";

/** Listens on 127.0.0.1:port (0: any free port); the test's stand-in for "something else on the host". */
function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1" }, () => {
      resolve(srv);
    });
  });
}

function close(srv: Server): Promise<void> {
  return new Promise((resolve) =>
    srv.close(() => {
      resolve();
    }),
  );
}

/** A run of `n` consecutive ports free on 127.0.0.1 now (a high base picked by the kernel). */
async function freeRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = await listen(0);
    const base = (probe.address() as { port: number }).port;
    await close(probe);
    if (base + n > 65535) continue;
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await canBindPort(p, "127.0.0.1");
    if (ok) return base;
  }
  throw new Error("no free port range found");
}

test("a port bound by another socket on the listen address is skipped", async () => {
  const base = await freeRange(4);
  const busy = await listen(base);
  try {
    assert.equal(await canBindPort(base, "127.0.0.1"), false);
    const a = new PortAllocator("display", { min: base, max: base + 3 });
    assert.equal(await a.acquire("127.0.0.1"), base + 1);
    assert.equal(await a.acquire("127.0.0.1"), base + 2);
    assert.deepEqual(a.held(), [base + 1, base + 2]);
  } finally {
    await close(busy);
  }
});

test("concurrent acquires get distinct ports; release makes a port available again", async () => {
  const base = await freeRange(5);
  const a = new PortAllocator("display", { min: base, max: base + 4 });
  const ports = await Promise.all([a.acquire(), a.acquire(), a.acquire()]);
  assert.deepEqual(
    [...ports].sort((x, y) => x - y),
    [base, base + 1, base + 2],
  );
  a.release(base + 1);
  assert.equal(await a.acquire(), base + 1);
  assert.equal(await a.acquire(), base + 3);
});

test("setUsed holds explicit and adopted ports; ports outside the range are ignored", async () => {
  const base = await freeRange(3);
  const a = new PortAllocator("webSocket", { min: base, max: base + 2 });
  assert.equal(a.setUsed(base), true);
  assert.equal(a.setUsed(base), false);
  assert.equal(a.setUsed(base + 100), false);
  assert.equal(a.has(base + 100), false);
  assert.equal(await a.acquire(), base + 1);
});

test("an exhausted range fails with libvirt's message naming the range", async () => {
  const base = await freeRange(2);
  const busy = await listen(base + 1);
  try {
    const a = new PortAllocator("display", { min: base, max: base + 1 });
    assert.equal(await a.acquire(), base);
    await assert.rejects(a.acquire("127.0.0.1"), (e: unknown) => {
      assert.ok(isVirtError(e));
      assert.equal(e.code, "PORT_RANGE_EXHAUSTED");
      assert.equal(
        e.message,
        `operation failed: Unable to find an unused port in range 'display' (${base}-${base + 1}) on 127.0.0.1`,
      );
      return true;
    });
    // a failed acquire reserves nothing
    assert.deepEqual(a.held(), [base]);
  } finally {
    await close(busy);
  }
});

test("bad ranges are refused", () => {
  assert.throws(() => new PortAllocator("display", { min: 0, max: 10 }), RangeError);
  assert.throws(() => new PortAllocator("display", { min: 6000, max: 5900 }), RangeError);
  assert.throws(() => new PortAllocator("display", { min: 5900, max: 70000 }), RangeError);
});
