/**
 * Load: 50 clients at once, each doing 200 lookup+info pairs through the remote driver, all
 * answered without error; then every connection is closed and the server holds nothing. (The
 * timed version, against the real daemon and with python3-libvirt and virsh, is
 * `bench/rpc.bench.ts`.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect } from "../api/index.ts";
import { leakedResources, resourceCounts } from "../testing/qemu/monitor-leaks.ts";
import "./register.ts";
import { holdLoop, startTestServer } from "../testing/rpc/harness.ts";

test("50 clients x 200 lookup+info calls, all answered", async (t) => {
  const release = holdLoop();
  const baseline = resourceCounts();
  const srv = await startTestServer({ maxClientRequests: 5 });
  try {
    const clients = 50;
    const rounds = 200;
    const conns = await Promise.all(Array.from({ length: clients }, () => connect(srv.uri)));
    assert.equal(srv.server.clientCount, clients);
    const t0 = performance.now();
    let answered = 0;
    await Promise.all(
      conns.map(async (c) => {
        for (let i = 0; i < rounds; i++) {
          const d = await c.lookupDomainByName("test");
          const info = await d.getInfo();
          assert.equal(info.nrVirtCpu, 2);
          answered++;
        }
      }),
    );
    const ms = performance.now() - t0;
    t.diagnostic(
      `${answered} lookup+info pairs (${answered * 2} calls) in ${ms.toFixed(0)} ms: ${((answered * 2) / (ms / 1000)).toFixed(0)} calls/s`,
    );
    assert.equal(answered, clients * rounds);
    await Promise.all(conns.map((c) => c.close()));
    const server = srv.server;
    const until = Date.now() + 3000;
    while (server.clientCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.clientCount, 0);
  } finally {
    await srv.close();
  }
  assert.deepEqual(await leakedResources(baseline, 3000), []);
  release();
});
