/**
 * What outlives what, on real QEMU: a guest killed behind the driver's back shows as shut off
 * (crashed) with an event; a managing process killed with SIGKILL leaves its guests running,
 * and the next driver instance finds every one with the same state (and releases the ones that
 * died meanwhile); autostart runs when the first driver instance for a root opens.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  DomainCreateFlags,
  DomainEventStoppedDetail,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  DomainXMLFlags,
  ConnectListDomainsFlags as L,
} from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { isProcessAlive, readProcStat, waitForProcessExit } from "../../../util/spawn.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import {
  ConsoleReader,
  guestXML,
  makeTestRoot,
  qemuProcessesOf,
  recordEvents,
  runtimeLeftovers,
  TEST_CAPS_CACHE,
  until,
} from "../../../testing/qemu/driver.ts";

const here = fileURLToPath(new URL(".", import.meta.url));

test("a guest killed with SIGKILL shows as shut off (crashed) with a stopped/failed event", async (t) => {
  const xml = await guestXML(t, { name: "victim", mode: "counter" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const rec = await recordEvents(conn);
    const dom = await conn.domainDefineXML(xml);
    await conn.domainCreate(dom);
    tr.track(conn);
    const run = conn.driver.domains.byName("victim")!.run!;
    await new Promise<void>((resolve) => setImmediate(resolve));
    rec.events.length = 0;
    process.kill(run.pid, "SIGKILL");
    await until(
      async () => (await conn.domainGetState(dom, 0)).state === DomainState.SHUTOFF,
      10_000,
      "the domain to be shut off",
    );
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.CRASHED,
    });
    await until(() => rec.events.length > 0, 2000, "the event");
    assert.deepEqual(rec.events, [[DomainEventType.STOPPED, DomainEventStoppedDetail.FAILED]]);
    assert.deepEqual(runtimeLeftovers(tr.root, "victim"), []);
    // It can start again.
    await conn.domainCreate(dom);
    tr.track(conn);
    assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.RUNNING);
    await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

/** Runs the fixture manager; resolves with its READY report and the child. */
function startManager(plan: object): Promise<{
  report: Record<string, { id: number; pid: number; state: number; reason: number }>;
  pid: number;
  exited: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(here, "../../../testing/qemu/manager.fixture.ts"), JSON.stringify(plan)],
      {
        stdio: ["ignore", "pipe", "pipe"],
        cwd: join(here, "../../../.."),
      },
    );
    const exited = new Promise<void>((res) =>
      child.once("exit", () => {
        res();
      }),
    );
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^READY (.*)$/m.exec(out);
      if (m)
        resolve({
          report: JSON.parse(m[1]!) as Record<
            string,
            { id: number; pid: number; state: number; reason: number }
          >,
          pid: child.pid!,
          exited,
        });
    });
    child.once("exit", (code) => {
      if (!/^READY /m.test(out))
        reject(new Error(`manager exited (${String(code)}) before READY: ${err.slice(-2000)}`));
    });
  });
}

test("the managing process killed with SIGKILL and restarted finds every guest, running, with the same state", async (t) => {
  const run = await guestXML(t, { name: "keep-running", mode: "counter" });
  if (run === undefined) return;
  const held = (await guestXML(t, { name: "keep-paused", mode: "counter" }))!;
  const temp = (await guestXML(t, { name: "keep-transient", mode: "counter" }))!;
  const doomed = (await guestXML(t, { name: "dies-meanwhile", mode: "counter" }))!;
  const tr = makeTestRoot();
  try {
    const mgr = await startManager({
      root: tr.root,
      capsCacheDir: TEST_CAPS_CACHE,
      domains: [
        { xml: run, persistent: true, paused: false },
        { xml: held, persistent: true, paused: true },
        { xml: temp, persistent: false, paused: false },
        { xml: doomed, persistent: true, paused: false },
      ],
    });
    tr.track();
    const r = mgr.report;
    assert.equal(r["keep-running"]?.state, DomainState.RUNNING);
    assert.equal(r["keep-paused"]?.state, DomainState.PAUSED);
    const starttimes = Object.fromEntries(
      Object.entries(r).map(([n, v]) => [n, readProcStat(v.pid)?.starttime]),
    );

    // While the manager lives, nobody else may manage its root.
    await assert.rejects(
      tr.open(),
      (e: unknown) => isVirtError(e) && e.code === "QEMU_ROOT_IN_USE" && e.message.includes(`pid ${mgr.pid}`),
    );
    // Kill the manager: its guests must not notice.
    process.kill(mgr.pid, "SIGKILL");
    await mgr.exited;
    for (const [name, v] of Object.entries(r))
      assert.ok(isProcessAlive(v.pid), `${name} survived its manager`);
    // One guest dies while nobody manages it.
    process.kill(r["dies-meanwhile"]!.pid, "SIGKILL");
    assert.ok(await waitForProcessExit(r["dies-meanwhile"]!.pid, 5000, starttimes["dies-meanwhile"]));

    // A new driver instance takes over.
    const conn = await tr.open({ autostart: false });
    try {
      const byName = async (n: string) => conn.domainLookupByName(n);
      for (const name of ["keep-running", "keep-paused", "keep-transient"]) {
        const dom = await byName(name);
        const obj = conn.driver.domains.byName(name)!;
        assert.equal(dom.id, r[name]!.id, `${name} keeps its id`);
        assert.equal(obj.run?.pid, r[name]!.pid, `${name} is the same process`);
        assert.deepEqual(
          await conn.domainGetState(dom, 0),
          { state: r[name]!.state, reason: r[name]!.reason },
          `${name} keeps its state`,
        );
      }
      assert.deepEqual(await conn.domainGetState(await byName("keep-running"), 0), {
        state: DomainState.RUNNING,
        reason: DomainRunningReason.BOOTED,
      });
      assert.deepEqual(await conn.domainGetState(await byName("keep-paused"), 0), {
        state: DomainState.PAUSED,
        reason: DomainPausedReason.USER,
      });
      assert.equal(await conn.domainIsPersistent(await byName("keep-transient")), false);
      // The one that died is shut off and its runtime files are gone.
      const dead = await byName("dies-meanwhile");
      assert.deepEqual(await conn.domainGetState(dead, 0), {
        state: DomainState.SHUTOFF,
        reason: DomainShutoffReason.CRASHED,
      });
      assert.deepEqual(runtimeLeftovers(tr.root, "dies-meanwhile"), []);

      // The monitors work again: the guest still counts, the paused one resumes, events flow.
      const running = await byName("keep-running");
      const con = await ConsoleReader.open(conn, running);
      await con.waitFor(/COUNTER \d+/, 60_000);
      await con.close();
      const rec = await recordEvents(conn);
      const paused = await byName("keep-paused");
      await conn.domainResume(paused);
      assert.deepEqual(await conn.domainGetState(paused, 0), {
        state: DomainState.RUNNING,
        reason: DomainRunningReason.UNPAUSED,
      });
      const transient = await byName("keep-transient");
      await conn.domainDestroy(transient);
      await assert.rejects(
        conn.domainLookupByName("keep-transient"),
        /no domain with matching name 'keep-transient'/,
      );
      await until(() => rec.events.length >= 2, 2000, "events");
      assert.deepEqual(rec.events, [
        [DomainEventType.RESUMED, 0],
        [DomainEventType.STOPPED, DomainEventStoppedDetail.DESTROYED],
      ]);
    } finally {
      await conn.connectClose();
    }

    // Closing the driver stopped nothing; a second restart finds the same two guests.
    const conn2 = await tr.open({ autostart: false });
    try {
      for (const name of ["keep-running", "keep-paused"]) {
        const dom = await conn2.domainLookupByName(name);
        assert.equal((await conn2.domainGetState(dom, 0)).state, DomainState.RUNNING);
        assert.equal(conn2.driver.domains.byName(name)!.run?.pid, r[name]!.pid);
        await conn2.domainDestroy(dom);
      }
      assert.deepEqual(qemuProcessesOf(tr.root), []);
    } finally {
      await conn2.connectClose();
    }
  } finally {
    await tr.cleanup();
  }
});

test("autostart: guests marked so start when the first driver instance for the root opens", async (t) => {
  const a1 = await guestXML(t, { name: "auto", mode: "idle" });
  if (a1 === undefined) return;
  const a2 = (await guestXML(t, { name: "manual", mode: "idle" }))!;
  const tr = makeTestRoot();
  try {
    let conn = await tr.open();
    const auto = await conn.domainDefineXML(a1);
    await conn.domainDefineXML(a2);
    await conn.domainSetAutostart(auto, true);
    assert.equal(await conn.domainGetAutostart(auto), true);
    await conn.connectClose();

    const before = resourceCounts();
    conn = await tr.open();
    tr.track(conn);
    try {
      const autoDom = await conn.domainLookupByName("auto");
      const manual = await conn.domainLookupByName("manual");
      assert.equal((await conn.domainGetState(autoDom, 0)).state, DomainState.RUNNING, "autostarted");
      assert.equal((await conn.domainGetState(manual, 0)).state, DomainState.SHUTOFF, "not marked");
      const names = async (flags: number): Promise<string[]> =>
        (await conn.connectListAllDomains(flags)).map((d) => d.name).sort();
      assert.deepEqual(await names(L.AUTOSTART), ["auto"]);
      assert.deepEqual(await names(L.NO_AUTOSTART), ["manual"]);
      assert.deepEqual(await names(L.ACTIVE), ["auto"]);
      assert.deepEqual(await names(L.RUNNING | L.PAUSED), ["auto"]);
      assert.deepEqual(await names(L.SHUTOFF | L.PERSISTENT), ["manual"]);
      assert.deepEqual(await names(L.TRANSIENT), []);
      assert.deepEqual(await names(L.HAS_SNAPSHOT), []);
      assert.deepEqual(await names(L.NO_SNAPSHOT | L.NO_MANAGEDSAVE), ["auto", "manual"]);
      assert.equal(await conn.connectNumOfDomains(), 1);
      assert.deepEqual(await conn.connectListDefinedDomains(10), ["manual"]);
      await assert.rejects(
        conn.connectListAllDomains(1 << 20),
        /unsupported flags \(0x100000\) in function qemuConnectListAllDomains/,
      );
      await conn.domainDestroy(autoDom);
      // A second connection shares the instance: no second autostart.
      const other = await tr.open();
      assert.equal((await other.domainGetState(autoDom, 0)).state, DomainState.SHUTOFF);
      await other.connectClose();
      await conn.domainSetAutostart(autoDom, false);
      await assert.rejects(
        conn.domainSetAutostart(
          await conn.domainCreateXML(
            a2.replace("<name>manual</name>", "<name>tmp</name>").replace(/<uuid>.*<\/uuid>/, ""),
            DomainCreateFlags.START_PAUSED,
          ),
          true,
        ),
        /cannot set autostart for transient domain/,
      );
      tr.track(conn);
    } finally {
      await conn.connectClose();
    }
    // Closing the last connection released monitors, sockets and timers; the guest QEMU runs on
    // (Node keeps a handle of its own child until it exits, which is not a leak).
    assert.deepEqual(
      (await leakedResources(before, 2000)).filter((l) => !l.startsWith("ProcessWrap")),
      [],
    );
    assert.ok(isProcessAlive(tr.pidsOf("tmp")), "the transient guest kept running");
    // AUTODESTROY-less transient guest keeps running after close; the next instance finds it.
    conn = await tr.open();
    try {
      assert.equal(
        (await conn.domainGetState(await conn.domainLookupByName("auto"), 0)).state,
        DomainState.SHUTOFF,
        "autostart off now",
      );
      const tmp = await conn.domainLookupByName("tmp");
      assert.equal((await conn.domainGetState(tmp, 0)).state, DomainState.PAUSED);
      await conn.domainDestroy(tmp);
    } finally {
      await conn.connectClose();
    }
  } finally {
    await tr.cleanup();
  }
});

test("AUTODESTROY guests end with the connection that started them", async (t) => {
  const xml = await guestXML(t, { name: "ephemeral", mode: "none" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  try {
    const keeper = await tr.open();
    const conn = await tr.open();
    const dom = await conn.domainCreateXML(
      xml,
      DomainCreateFlags.START_AUTODESTROY | DomainCreateFlags.START_PAUSED,
    );
    tr.track(conn);
    const pid = conn.driver.domains.byName("ephemeral")!.run!.pid;
    await conn.connectClose();
    assert.equal(isProcessAlive(pid), false);
    await assert.rejects(keeper.domainLookupByUUID(dom.uuid), /no domain with matching uuid/);
    await keeper.connectClose();
  } finally {
    await tr.cleanup();
  }
});

test("undefining a running domain makes it transient; it is gone once it stops", async (t) => {
  const xml = await guestXML(t, { name: "fleeting", mode: "idle" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainDefineXML(xml);
    await conn.domainCreateWithFlags(dom, DomainCreateFlags.START_PAUSED);
    tr.track(conn);
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.PAUSED,
      reason: DomainPausedReason.USER,
    });
    await conn.domainUndefine(dom);
    assert.equal(await conn.domainIsPersistent(dom), false);
    assert.equal(await conn.domainIsActive(dom), true);
    await conn.domainDestroy(dom);
    await assert.rejects(conn.domainLookupByName("fleeting"), /no domain with matching name/);
    assert.deepEqual(runtimeLeftovers(tr.root, "fleeting"), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("a lost monitor connection is re-established; the guest is not touched", async (t) => {
  const xml = await guestXML(t, { name: "steady", mode: "idle" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const run = conn.driver.domains.byName("steady")!.run!;
    run.qmp!.destroy();
    await assert.rejects(
      conn.domainSuspend(dom),
      (e: unknown) => isVirtError(e) && e.code === "QEMU_MONITOR_UNAVAILABLE",
    );
    await until(() => run.qmp !== undefined, 10_000, "the monitor to come back");
    await conn.domainSuspend(dom);
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.PAUSED,
      reason: DomainPausedReason.USER,
    });
    assert.equal(conn.driver.domains.byName("steady")!.run, run, "the same process");
    await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("createXML of a defined, inactive domain boots the new definition and keeps the persistent one", async (t) => {
  const xml = await guestXML(t, {
    name: "twofold",
    mode: "idle",
    uuid: "22222222-3333-4444-8555-666666666666",
  });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainDefineXML(xml);
    const bigger = xml.replace(/unit='MiB'>128</g, "unit='MiB'>160<");
    await conn.domainCreateXML(bigger, DomainCreateFlags.START_PAUSED);
    tr.track(conn);
    assert.equal(await conn.domainIsPersistent(dom), true);
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<memory unit='KiB'>163840<\/memory>/);
    assert.match(
      await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE),
      /<memory unit='KiB'>131072<\/memory>/,
    );
    await assert.rejects(conn.domainCreateXML(bigger, 0), /domain 'twofold' is already active/);
    await conn.domainDestroy(dom);
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<memory unit='KiB'>131072<\/memory>/);
    await conn.domainUndefine(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
