/**
 * The public API on test:///default: connections share the driver state like libvirt's,
 * read-only connections refuse changes with libvirt's message, missing driver entries are
 * "not supported", and lifecycle events reach callbacks with libvirt's numbers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  connect,
  DomainEventId,
  DomainEventType as E,
  DomainEventDefinedDetail,
  DomainEventResumedDetail,
  DomainEventStartedDetail,
  DomainEventStoppedDetail,
  DomainEventSuspendedDetail,
  DomainEventUndefinedDetail,
  type Connection,
  type Domain,
} from "./index.ts";
import { VirtError, VirErrorNumber } from "../util/errors/index.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const vm = (name: string, uuid: string): string =>
  `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os></domain>`;

function isErr(code: string, message?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof VirtError, `expected a VirtError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  };
}

/** Lets queued events be delivered. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

test("connections to test:///default share one state while open", async () => {
  const a = await connect("test:///default");
  const b = await connect("test:///default");
  await (await a.lookupDomainByName("test")).suspend();
  assert.deepEqual(await (await b.lookupDomainByName("test")).getState(), { state: 3, reason: 1 });
  await a.close();
  await b.close();
  // The last close drops the state: a new connection sees the default node again.
  const c = await connect("test:///default");
  assert.deepEqual(await (await c.lookupDomainByName("test")).getState(), { state: 1, reason: 0 });
  await c.close();
});

test("the default node: domain test, node info, type, versions, URI", async () => {
  const c = await connect("test:///default");
  try {
    const doms = await c.listAllDomains(0);
    assert.deepEqual(
      doms.map((d) => d.toJSON()),
      [{ name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f", id: 1 }],
    );
    assert.deepEqual(await c.nodeGetInfo(), {
      model: "i686",
      memory: 3145728,
      cpus: 16,
      mhz: 1400,
      nodes: 2,
      sockets: 2,
      cores: 2,
      threads: 2,
    });
    assert.equal(await c.getType(), "TEST");
    assert.equal(await c.getVersion(), 2);
    assert.equal(await c.getLibVersion(), 9_000_000);
    assert.equal(await c.getURI(), "test:///default");
    assert.match(await c.getCapabilities(), /<model>testSecurity<\/model>/);
    const d = doms[0]!;
    const info = await d.getInfo();
    assert.equal(info.state, 1);
    assert.equal(info.maxMem, 8388608);
    assert.equal(info.memory, 2097152);
    assert.equal(info.nrVirtCpu, 2);
    assert.equal(await d.getOSType(), "linux");
    assert.match(await d.getXMLDesc(0), /^<domain type='test' id='1'>\n/);
    assert.match(await d.getXMLDesc(2), /^<domain type='test'>\n/);
  } finally {
    await c.close();
  }
});

test("lookups: by name, id, UUID; unknown ones are 'Domain not found'", async () => {
  const c = await connect("test:///default");
  try {
    assert.equal((await c.lookupDomainByID(1)).name, "test");
    assert.equal((await c.lookupDomainByUUIDString("6695EB01F6A4830479AA97F2502E193F")).name, "test");
    await assert.rejects(c.lookupDomainByName("nosuch"), isErr("DOMAIN_NOT_FOUND", "Domain not found"));
    await assert.rejects(c.lookupDomainByID(7), isErr("DOMAIN_NOT_FOUND"));
    await assert.rejects(
      c.lookupDomainByUUIDString("not-a-uuid"),
      isErr("API_INVALID_UUID", "uuidstr in virDomainLookupByUUIDString must be a valid UUID"),
    );
  } finally {
    await c.close();
  }
});

test("read-only connections refuse every change with libvirt's message", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-ro-"));
  const c = await connect("test:///default", { readonly: true });
  try {
    const d = await c.lookupDomainByName("test");
    const calls: [string, () => Promise<unknown>][] = [
      ["virDomainDefineXML", () => c.defineXML(vm("x", "aaaaaaaa-2222-3333-4444-555555555555"))],
      ["virDomainDefineXMLFlags", () => c.defineXMLFlags(vm("x", "aaaaaaaa-2222-3333-4444-555555555555"), 1)],
      ["virDomainCreateXML", () => c.createXML(vm("x", "aaaaaaaa-2222-3333-4444-555555555555"))],
      ["virDomainRestore", () => c.restore(join(dir, "x"))],
      ["virDomainRestoreFlags", () => c.restoreFlags(join(dir, "x"), null, 0)],
      ["virConnectDomainXMLToNative", () => c.domainXMLToNative("qemu-argv", "<domain/>")],
      ["virConnectGetDomainCapabilities", () => c.getDomainCapabilities()],
      ["virDomainCreate", () => d.create()],
      ["virDomainCreateWithFlags", () => d.createWithFlags(0)],
      ["virDomainShutdown", () => d.shutdown()],
      ["virDomainShutdownFlags", () => d.shutdownFlags(1)],
      ["virDomainReboot", () => d.reboot()],
      ["virDomainReset", () => d.reset()],
      ["virDomainDestroy", () => d.destroy()],
      ["virDomainDestroyFlags", () => d.destroyFlags(1)],
      ["virDomainSuspend", () => d.suspend()],
      ["virDomainResume", () => d.resume()],
      ["virDomainSave", () => d.save(join(dir, "s"))],
      ["virDomainSaveFlags", () => d.saveFlags(join(dir, "s"), null, 0)],
      ["virDomainManagedSave", () => d.managedSave()],
      ["virDomainManagedSaveRemove", () => d.managedSaveRemove()],
      ["virDomainUndefine", () => d.undefine()],
      ["virDomainUndefineFlags", () => d.undefineFlags(0)],
      ["virDomainSetAutostart", () => d.setAutostart(true)],
      ["virDomainOpenConsole", () => d.openConsole()],
    ];
    for (const [api, call] of calls) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof VirtError);
        assert.equal(e.code, "API_READ_ONLY", api);
        assert.equal(e.message, `operation forbidden: read only access prevents ${api}`);
        assert.equal(e.virCode, VirErrorNumber.OPERATION_DENIED);
        return true;
      });
    }
    await assert.rejects(
      d.getXMLDesc(1),
      isErr("API_READ_ONLY_SECURE", "operation forbidden: virDomainGetXMLDesc with secure flag"),
    );
    // Queries work, and nothing changed.
    assert.deepEqual(await d.getState(), { state: 1, reason: 0 });
    assert.equal((await c.listAllDomains(0)).length, 1);
    assert.equal(await d.getAutostart(), false);
  } finally {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("missing driver entries are 'not supported by the connection driver'", async () => {
  const c = await connect("test:///default");
  try {
    const d = await c.lookupDomainByName("test");
    await assert.rejects(
      c.getDomainCapabilities(),
      isErr(
        "API_NO_SUPPORT",
        "this function is not supported by the connection driver: virConnectGetDomainCapabilities",
      ),
    );
    await assert.rejects(
      d.openConsole(),
      isErr(
        "API_NO_SUPPORT",
        "this function is not supported by the connection driver: virDomainOpenConsole",
      ),
    );
    await assert.rejects(c.domainXMLToNative("qemu-argv", "<domain/>"), isErr("API_NO_SUPPORT"));
  } finally {
    await c.close();
  }
});

test("a closed connection refuses calls", async () => {
  const c = await connect("test:///default");
  await c.close();
  await c.close();
  await assert.rejects(
    c.getType(),
    isErr("API_CONNECTION_CLOSED", "invalid connection pointer in virConnectGetType"),
  );
});

test("unknown schemes and test URIs other than /default", async () => {
  await assert.rejects(
    connect("nosuchdriver:///x"),
    isErr("API_NO_CONNECT", "no connection driver available for nosuchdriver:///x"),
  );
  await assert.rejects(
    connect("test:///"),
    isErr("TEST_OPEN_PATH", "invalid argument: testOpen: supply a path or use test:///default"),
  );
  await assert.rejects(connect("test+ssh://host/default"), isErr("API_REMOTE_UNAVAILABLE"));
});

interface Seen {
  name: string;
  event: number;
  detail: number;
}

async function withEvents(
  fn: (c: Connection, seen: Seen[], other: Connection) => Promise<void>,
): Promise<void> {
  const c = await connect("test:///default");
  const other = await connect("test:///default");
  const seen: Seen[] = [];
  const id = await other.domainEventRegisterAny(null, DomainEventId.LIFECYCLE, (d: Domain, ev) => {
    if (ev.id === DomainEventId.LIFECYCLE) seen.push({ name: d.name, event: ev.event, detail: ev.detail });
  });
  try {
    await fn(c, seen, other);
  } finally {
    await other.domainEventDeregisterAny(id);
    await other.close();
    await c.close();
  }
}

test("lifecycle events carry libvirt's event and detail numbers, on every connection", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-ev-"));
  try {
    await withEvents(async (c, seen) => {
      const d = await c.lookupDomainByName("test");
      await d.suspend();
      await d.resume();
      await d.destroy();
      await d.create();
      await d.shutdown();
      await d.create();
      await d.save(join(dir, "img"));
      await c.restore(join(dir, "img"));
      await d.managedSave();
      const x = await c.defineXML(vm("x", "aaaaaaaa-2222-3333-4444-555555555555"));
      await c.defineXML(vm("x", "aaaaaaaa-2222-3333-4444-555555555555"));
      await x.undefine();
      const t = await c.createXML(vm("t", "bbbbbbbb-2222-3333-4444-555555555555"));
      await t.destroy();
      await settle();
      assert.deepEqual(seen, [
        { name: "test", event: E.SUSPENDED, detail: DomainEventSuspendedDetail.PAUSED },
        { name: "test", event: E.RESUMED, detail: DomainEventResumedDetail.UNPAUSED },
        { name: "test", event: E.STOPPED, detail: DomainEventStoppedDetail.DESTROYED },
        { name: "test", event: E.STARTED, detail: DomainEventStartedDetail.BOOTED },
        { name: "test", event: E.STOPPED, detail: DomainEventStoppedDetail.SHUTDOWN },
        { name: "test", event: E.STARTED, detail: DomainEventStartedDetail.BOOTED },
        { name: "test", event: E.STOPPED, detail: DomainEventStoppedDetail.SAVED },
        { name: "test", event: E.STARTED, detail: DomainEventStartedDetail.RESTORED },
        { name: "test", event: E.STOPPED, detail: DomainEventStoppedDetail.SAVED },
        { name: "x", event: E.DEFINED, detail: DomainEventDefinedDetail.ADDED },
        { name: "x", event: E.DEFINED, detail: DomainEventDefinedDetail.UPDATED },
        { name: "x", event: E.UNDEFINED, detail: DomainEventUndefinedDetail.REMOVED },
        { name: "t", event: E.STARTED, detail: DomainEventStartedDetail.BOOTED },
        { name: "t", event: E.STOPPED, detail: DomainEventStoppedDetail.DESTROYED },
      ]);
      // Numbers as in libvirt-domain.h.
      assert.deepEqual(
        [
          E.DEFINED,
          E.UNDEFINED,
          E.STARTED,
          E.SUSPENDED,
          E.RESUMED,
          E.STOPPED,
          E.SHUTDOWN,
          E.PMSUSPENDED,
          E.CRASHED,
        ],
        [0, 1, 2, 3, 4, 5, 6, 7, 8],
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("events are delivered after the call returns, and stop after deregistering", async () => {
  const c = await connect("test:///default");
  try {
    const d = await c.lookupDomainByName("test");
    const seen: number[] = [];
    const id = await c.onLifecycle((_dom, ev) => seen.push(ev), d);
    await d.suspend();
    assert.deepEqual(seen, [], "not delivered synchronously");
    await settle();
    assert.deepEqual(seen, [E.SUSPENDED]);
    await c.domainEventDeregisterAny(id);
    await d.resume();
    await settle();
    assert.deepEqual(seen, [E.SUSPENDED]);
    await assert.rejects(c.domainEventDeregisterAny(id), isErr("API_INVALID_ARG"));
  } finally {
    await c.close();
  }
});

test("a callback for one domain sees only that domain", async () => {
  const c = await connect("test:///default");
  try {
    const x = await c.defineXML(vm("x", "aaaaaaaa-2222-3333-4444-555555555555"));
    const seen: string[] = [];
    await c.onLifecycle((dom) => seen.push(dom.name), x);
    await (await c.lookupDomainByName("test")).suspend();
    await x.create();
    await settle();
    assert.deepEqual(seen, ["x"]);
  } finally {
    await c.close();
  }
});
