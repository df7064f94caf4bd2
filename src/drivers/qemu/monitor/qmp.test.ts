import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { connectQmp, type QmpEvent } from "./qmp.ts";
import { startFakeQmpServer, type FakeHandler } from "../../../testing/qemu/monitor-fake-server.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import { isVirtError, type VirtError } from "../../../util/errors/index.ts";
import { fdPassingAvailable } from "../../../util/fdpass.ts";

let dir = "";
let n = 0;
let baseline = new Map<string, number>();
const sock = (): string => join(dir, `qmp-${++n}.sock`);

before(() => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-qmp-test-"));
  baseline = resourceCounts();
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(await leakedResources(baseline), [], "sockets, servers or timers leaked");
});

function virt(e: unknown): VirtError {
  assert.ok(isVirtError(e), `expected a VirtError, got ${String(e)}`);
  return e;
}

const echo: FakeHandler = (cmd) => {
  if (cmd.execute === "qmp_capabilities") return { return: {} };
  if (cmd.execute === "echo") return { return: cmd.arguments ?? {} };
  return { error: { class: "CommandNotFound", desc: `The command ${cmd.execute} has not been found` } };
};

void describe("QMP client against a fake server", () => {
  void test("greeting, negotiation, ids and return values", async () => {
    await using server = await startFakeQmpServer({ path: sock(), handler: echo });
    await using qmp = await connectQmp({ path: server.path, name: "domain 'vm1'" });
    assert.deepEqual(qmp.greeting.version, { major: 7, minor: 2, micro: 0, package: "v7.2.0" });
    assert.deepEqual(qmp.greeting.capabilities, ["oob"]);
    assert.deepEqual(await qmp.execute("echo", { a: 1, s: "x,y" }), { a: 1, s: "x,y" });
    const s = await server.session(0);
    assert.equal(s.received[0]?.execute, "qmp_capabilities");
    const ids = s.received.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, "every command has its own id");
    assert.ok(ids.every((id) => typeof id === "string" && id.startsWith("tvirt-")));
  });

  void test("commands are serialised: one in flight, replies in call order", async () => {
    const handler: FakeHandler = async (cmd) => {
      if (cmd.execute === "qmp_capabilities") return { return: {} };
      // Later commands answer faster: a client that pipelined would see them reordered.
      const i = Number(cmd.arguments?.i ?? 0);
      await new Promise((r) => setTimeout(r, 20 - i));
      return { return: i };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    await using qmp = await connectQmp({ path: server.path });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => qmp.execute("work", { i })));
    assert.deepEqual(results, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const s = await server.session(0);
    assert.equal(s.maxInFlight, 1);
    assert.deepEqual(
      s.received.slice(1).map((c) => c.arguments?.i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  void test("a command carrying a descriptor waits its turn and arrives whole, in order", async (t) => {
    if (!(await fdPassingAvailable())) {
      if (process.env.CI === "true") assert.fail("python3 with socket.send_fds is required");
      t.skip("python3 with socket.send_fds is not available");
      return;
    }
    await using server = await startFakeQmpServer({ path: sock(), handler: echo });
    await using qmp = await connectQmp({ path: server.path });
    const fd = openSync("/dev/null", "r");
    try {
      // (the fake server reads with node, which drops the descriptor; real QEMU: graphics tests)
      const results = await Promise.all([
        qmp.execute("echo", { i: 0 }),
        qmp.executeWithFd("echo", { i: 1, fdname: "x" }, fd),
        qmp.execute("echo", { i: 2 }),
      ]);
      assert.deepEqual(results, [{ i: 0 }, { i: 1, fdname: "x" }, { i: 2 }]);
      const srv = await server.session(0);
      assert.deepEqual(
        srv.received.slice(1).map((c) => c.arguments?.i),
        [0, 1, 2],
      );
    } finally {
      closeSync(fd);
    }
  });

  void test("QEMU errors become QEMU_COMMAND_FAILED with QEMU's class and text", async () => {
    await using server = await startFakeQmpServer({ path: sock(), handler: echo });
    await using qmp = await connectQmp({ path: server.path, name: "domain 'vm1'" });
    const e = virt(await qmp.execute("nosuch").catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_COMMAND_FAILED");
    assert.equal(e.details.qemuClass, "CommandNotFound");
    assert.equal(e.details.qemuDesc, "The command nosuch has not been found");
    assert.equal(e.virDomain, 10);
    assert.equal(
      e.message,
      "operation failed: unable to execute QEMU command 'nosuch' for domain 'vm1': The command nosuch has not been found",
    );
    // The connection stays usable after an error.
    assert.deepEqual(await qmp.execute("echo", { ok: true }), { ok: true });
  });

  void test("events arrive in order, also before the reply of the command causing them", async () => {
    const handler: FakeHandler = (cmd, session) => {
      if (cmd.execute === "stop") {
        session.sendEvent("STOP");
        return { return: {} };
      }
      if (cmd.execute === "burst") {
        for (let i = 0; i < 50; i++) session.sendEvent("TICK", { i });
        return { return: {} };
      }
      return { return: {} };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    const warnings: unknown[] = [];
    await using qmp = await connectQmp({
      path: server.path,
      onListenerError: (e) => warnings.push(e),
    });
    const seen: string[] = [];
    const unsubscribe = qmp.onEvent((ev) =>
      seen.push(`${ev.event}${typeof ev.data.i === "number" ? String(ev.data.i) : ""}`),
    );
    qmp.onEvent(() => {
      throw new Error("listener bug");
    });
    const iter = qmp.events();
    await qmp.execute("stop").then(() => seen.push("reply"));
    await qmp.execute("burst");
    assert.equal(seen[0], "STOP");
    assert.equal(seen[1], "reply");
    assert.deepEqual(
      seen.slice(2),
      Array.from({ length: 50 }, (_, i) => `TICK${i}`),
    );
    assert.equal(warnings.length, 51, "a throwing listener is reported, not fatal");
    const fromIter: QmpEvent[] = [];
    for await (const ev of iter) {
      fromIter.push(ev);
      if (fromIter.length === 51) break;
    }
    assert.equal(fromIter[0]?.event, "STOP");
    assert.equal(fromIter[50]?.data.i, 49);
    assert.ok((fromIter.at(0)?.timestampUs ?? 0) > 1e15);
    unsubscribe();
    (await server.session(0)).sendEvent("LATE");
    await qmp.execute("noop");
    assert.ok(!seen.includes("LATE"));
  });

  void test("a command without reply times out; its late reply is dropped, not given to the next command", async () => {
    let releaseSlow: (() => void) | undefined;
    const handler: FakeHandler = async (cmd) => {
      if (cmd.execute === "slow") {
        await new Promise<void>((r) => (releaseSlow = r));
        return { return: "slow-result" };
      }
      if (cmd.execute === "fast") return { return: "fast-result" };
      return { return: {} };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    await using qmp = await connectQmp({ path: server.path, name: "domain 'vm1'" });
    const slow = qmp.execute("slow", undefined, { timeoutMs: 50 });
    const queued = qmp.execute("fast", undefined, { timeoutMs: 20 });
    const eq = virt(await queued.catch((x: unknown) => x));
    assert.equal(eq.code, "QEMU_MONITOR_TIMEOUT");
    assert.equal(eq.details.queued, true);
    assert.equal(eq.details.waitingFor, "slow");
    const e = virt(await slow.catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_MONITOR_TIMEOUT");
    assert.match(
      e.message,
      /^Timed out during operation: the QEMU monitor of domain 'vm1' did not answer command 'slow' within 0\.1 s$|within 0\.05 s|within 0\.1 s/,
    );
    const next = qmp.execute("fast");
    releaseSlow?.();
    assert.equal(await next, "fast-result");
    assert.equal(await qmp.execute("fast"), "fast-result");
  });

  void test("AbortSignal cancels a queued or in-flight command", async () => {
    let release: (() => void) | undefined;
    const handler: FakeHandler = async (cmd) => {
      if (cmd.execute === "hang") await new Promise<void>((r) => (release = r));
      return { return: cmd.execute };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    await using qmp = await connectQmp({ path: server.path });
    const ac = new AbortController();
    const inflight = qmp.execute("hang", undefined, { signal: ac.signal });
    const ac2 = new AbortController();
    const queued = qmp.execute("never-sent", undefined, { signal: ac2.signal });
    ac2.abort(new Error("user pressed ^C"));
    const e2 = virt(await queued.catch((x: unknown) => x));
    assert.equal(e2.code, "QEMU_MONITOR_ABORTED");
    assert.match(e2.message, /user pressed \^C/);
    ac.abort();
    assert.equal(virt(await inflight.catch((x: unknown) => x)).code, "QEMU_MONITOR_ABORTED");
    const pre = new AbortController();
    pre.abort();
    assert.equal(
      virt(await qmp.execute("x", undefined, { signal: pre.signal }).catch((x: unknown) => x)).code,
      "QEMU_MONITOR_ABORTED",
    );
    release?.();
    assert.equal(await qmp.execute("after"), "after");
    const s = await server.session(0);
    assert.ok(
      !s.received.some((c) => c.execute === "never-sent"),
      "a cancelled queued command is never sent",
    );
  });

  void test("end of file fails waiting commands and reports the close", async () => {
    const handler: FakeHandler = (cmd, session) => {
      if (cmd.execute === "quit") {
        session.sendEvent("SHUTDOWN", { guest: false, reason: "host-qmp-quit" });
        session.end();
        return { silent: true };
      }
      return { return: {} };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    const qmp = await connectQmp({ path: server.path, name: "domain 'vm1'" });
    const closed = new Promise<VirtError | undefined>((resolve) => qmp.onClose(resolve));
    const events: string[] = [];
    qmp.onEvent((ev) => events.push(ev.event));
    const queued = qmp.execute("query-status");
    const e = virt(await qmp.execute("quit").catch((x: unknown) => x));
    await queued;
    assert.equal(e.code, "QEMU_MONITOR_CLOSED");
    assert.equal(
      e.message,
      "operation failed: connection to the QEMU monitor of domain 'vm1' was lost: end of file from QEMU monitor",
    );
    assert.equal(e.details.command, "quit");
    assert.deepEqual(events, ["SHUTDOWN"]);
    assert.equal((await closed)?.code, "QEMU_MONITOR_CLOSED");
    assert.ok(qmp.closed);
    assert.equal(virt(await qmp.execute("x").catch((x: unknown) => x)).code, "QEMU_MONITOR_CLOSED");
    await qmp.close();
  });

  void test("close() rejects pending commands, ends iterators and is idempotent", async () => {
    const handler: FakeHandler = (cmd) => (cmd.execute === "hang" ? { silent: true } : { return: {} });
    await using server = await startFakeQmpServer({ path: sock(), handler });
    const qmp = await connectQmp({ path: server.path });
    const iter = qmp.events();
    const pending = qmp.execute("hang", undefined, { timeoutMs: 0 }).catch((x: unknown) => x);
    const queued = qmp.execute("other").catch((x: unknown) => x);
    const closeSeen = new Promise<VirtError | undefined>((resolve) => qmp.onClose(resolve));
    await qmp.close();
    await qmp.close();
    const pe = virt(await pending);
    assert.equal(pe.code, "QEMU_MONITOR_CLOSED");
    assert.match(pe.message, /closed by tvirt before command 'hang' got a reply/);
    assert.equal(virt(await queued).code, "QEMU_MONITOR_CLOSED");
    assert.equal(await closeSeen, undefined, "closing ourselves is not an error");
    assert.deepEqual(await iter.next(), { value: undefined, done: true });
    assert.equal(qmp.closeReason, undefined);
  });

  void test("messages split across chunks or glued together are parsed", async () => {
    const handler: FakeHandler = (cmd, session) => {
      if (cmd.execute === "split") {
        const reply = JSON.stringify({ return: { text: "x".repeat(100_000) }, id: cmd.id });
        const ev = JSON.stringify({ event: "E1", data: {}, timestamp: { seconds: 1, microseconds: 2 } });
        session.sendRaw(ev + "\r\n" + reply.slice(0, 10));
        setTimeout(() => {
          session.sendRaw(reply.slice(10, 50_000));
        }, 5);
        setTimeout(() => {
          session.sendRaw(reply.slice(50_000) + "\r\n");
        }, 10);
        return { silent: true };
      }
      return { return: {} };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    await using qmp = await connectQmp({ path: server.path });
    const evs: QmpEvent[] = [];
    qmp.onEvent((e) => evs.push(e));
    const r = (await qmp.execute("split")) as { text: string };
    assert.equal(r.text.length, 100_000);
    assert.equal(evs[0]?.timestampUs, 1_000_002);
  });

  void test("malformed data closes the connection with QEMU_MONITOR_PROTOCOL", async () => {
    const handler: FakeHandler = (cmd, session) => {
      if (cmd.execute === "garbage") {
        session.sendRaw("this is not json\r\n");
        return { silent: true };
      }
      return { return: {} };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    await using qmp = await connectQmp({ path: server.path });
    const e = virt(await qmp.execute("garbage").catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_MONITOR_PROTOCOL");
    assert.match(e.message, /sent invalid data: invalid JSON/);
    assert.equal(qmp.closeReason?.code, "QEMU_MONITOR_PROTOCOL");
  });

  void test("oversized messages are refused", async () => {
    const handler: FakeHandler = (cmd, session) => {
      if (cmd.execute === "huge") {
        session.sendRaw('{"return": "' + "y".repeat(5000));
        return { silent: true };
      }
      return { return: {} };
    };
    await using server = await startFakeQmpServer({ path: sock(), handler });
    await using qmp = await connectQmp({ path: server.path, maxMessageBytes: 1000 });
    const e = virt(await qmp.execute("huge").catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_MONITOR_PROTOCOL");
  });

  void test("connect waits for a socket that appears later", async () => {
    const path = sock();
    const later = new Promise<Awaited<ReturnType<typeof startFakeQmpServer>>>((resolve) => {
      setTimeout(() => {
        resolve(startFakeQmpServer({ path, handler: echo }));
      }, 60);
    });
    const qmp = await connectQmp({ path, timeoutMs: 5000 });
    await qmp.close();
    await (await later).close();
  });

  void test("connect failures: missing socket, no greeting, aborted", async () => {
    const missing = sock();
    const e1 = virt(
      await connectQmp({ path: missing, retry: false, name: "domain 'vm1'" }).catch((x: unknown) => x),
    );
    assert.equal(e1.code, "QEMU_MONITOR_CONNECT_FAILED");
    assert.match(
      e1.message,
      /^operation failed: cannot connect to the QEMU monitor of domain 'vm1' at '.*qmp-\d+\.sock': connect ENOENT/,
    );
    assert.equal(e1.details.errno, "ENOENT");

    const e2 = virt(await connectQmp({ path: sock(), timeoutMs: 80 }).catch((x: unknown) => x));
    assert.equal(e2.code, "QEMU_MONITOR_CONNECT_FAILED");
    assert.match(e2.message, /gave up waiting/);

    await using silent = await startFakeQmpServer({ path: sock(), handler: echo, sendGreeting: false });
    const e3 = virt(await connectQmp({ path: silent.path, timeoutMs: 80 }).catch((x: unknown) => x));
    assert.equal(e3.code, "QEMU_MONITOR_GREETING");
    assert.match(e3.message, /no greeting within 0\.1 s/);

    const ac = new AbortController();
    setTimeout(() => {
      ac.abort(new Error("QEMU exited"));
    }, 30);
    const e4 = virt(
      await connectQmp({ path: sock(), timeoutMs: 5000, signal: ac.signal }).catch((x: unknown) => x),
    );
    assert.equal(e4.code, "QEMU_MONITOR_CONNECT_FAILED");
    assert.match(e4.message, /QEMU exited/);
  });

  void test("a server that accepts and hangs up gives a clear error", async () => {
    const path = sock();
    const srv = createServer((s) => s.end());
    await new Promise<void>((r) => srv.listen(path, r));
    try {
      const e = virt(await connectQmp({ path, timeoutMs: 1000 }).catch((x: unknown) => x));
      assert.equal(e.code, "QEMU_MONITOR_CLOSED");
      assert.match(e.message, /end of file/);
    } finally {
      await new Promise<void>((r) => {
        srv.close(() => {
          r();
        });
      });
    }
  });
});
