/**
 * The server and the remote driver together, in one process: every API call made through
 * `test+unix:///default?socket=...` must answer what the same call answers on `test:///default`
 * directly (values, errors with libvirt's numbers and text), lifecycle changes made over the wire
 * are seen by direct connections and vice versa, events cross the wire, the read-only socket
 * refuses changes, console streams and the QEMU monitor procedure work, and nothing leaks.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, registerDriver, unregisterDriver, type Connection, type VirtError } from "../api/index.ts";
import { VirErrorDomain, VirErrorNumber } from "../util/errors/index.ts";
import { DomainEventId, DomainState } from "../drivers/enums.ts";
import { leakedResources, resourceCounts } from "../testing/qemu/monitor-leaks.ts";
import { encode } from "./codec.ts";
import { MessageStatus, MessageType, QemuMonitorCommandFlags, RemoteProc } from "./protocol.ts";
import "./register.ts";
import { Proc, remoteError } from "./remote-protocol.ts";
import {
  consoles,
  fakeConnectDriver,
  fakeHooks,
  holdLoop,
  RawClient,
  startTestServer,
  type TestServer,
} from "../testing/rpc/harness.ts";
import { XdrReader } from "./xdr.ts";
import type { QemuMonitorCommandDriver } from "./qemu-monitor.ts";

const vm = (name: string): string => `<domain type='test'>
  <name>${name}</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu>1</vcpu>
  <os><type arch='i686'>hvm</type></os>
</domain>
`;

async function failure(
  p: Promise<unknown>,
): Promise<{ message: string; virCode: number; virDomain: number }> {
  try {
    await p;
  } catch (e) {
    const v = e as VirtError;
    return { message: v.message, virCode: v.virCode, virDomain: v.virDomain };
  }
  throw new Error("expected a failure");
}

let srv: TestServer;
let baseline: Map<string, number>;
let release: () => void;

before(async () => {
  release = holdLoop();
  baseline = resourceCounts();
  srv = await startTestServer();
});

after(async () => {
  await srv.close();
  assert.deepEqual(await leakedResources(baseline, 2000), [], "sockets or timers left behind");
  release();
});

describe("remote driver against tvirtd's server", () => {
  let local: Connection;
  let remote: Connection;
  before(async () => {
    local = await connect("test:///default");
    remote = await connect(srv.uri);
  });
  after(async () => {
    await remote.close();
    await local.close();
  });

  test("connection and node queries answer what the test driver answers", async () => {
    for (const q of [
      (c: Connection) => c.getType(),
      (c: Connection) => c.getVersion(),
      (c: Connection) => c.getLibVersion(),
      (c: Connection) => c.getHostname(),
      (c: Connection) => c.getCapabilities(),
      (c: Connection) => c.getSysinfo(),
      (c: Connection) => c.getMaxVcpus(null),
      (c: Connection) => c.nodeGetInfo(),
      (c: Connection) => c.nodeGetSecurityModel(),
      (c: Connection) => c.nodeGetFreeMemory(),
      (c: Connection) => c.numOfDomains(),
      (c: Connection) => c.listDomains(10),
      (c: Connection) => c.numOfDefinedDomains(),
      (c: Connection) => c.listDefinedDomains(10),
      async (c: Connection) => (await c.listAllDomains()).map((d) => d.toJSON()),
      async (c: Connection) => (await c.listAllDomains(3)).map((d) => d.toJSON()),
    ]) {
      assert.deepEqual(await q(remote), await q(local));
    }
    assert.equal(await remote.getURI(), srv.uri);
    assert.equal(await remote.isSecure(), true);
    assert.equal(await remote.isAlive(), true);
  });

  test("domain queries answer what the test driver answers", async () => {
    const r = await remote.lookupDomainByName("test");
    const l = await local.lookupDomainByName("test");
    assert.deepEqual(r.toJSON(), l.toJSON());
    assert.deepEqual((await remote.lookupDomainByID(r.id)).toJSON(), l.toJSON());
    assert.deepEqual((await remote.lookupDomainByUUID(r.uuid)).toJSON(), l.toJSON());
    const ri = await r.getInfo();
    const li = await l.getInfo();
    assert.deepEqual({ ...ri, cpuTime: 0n }, { ...li, cpuTime: 0n });
    assert.equal(typeof ri.cpuTime, "bigint");
    for (const q of [
      (d: typeof r) => d.getState(),
      (d: typeof r) => d.getXMLDesc(0),
      (d: typeof r) => d.getXMLDesc(2),
      (d: typeof r) => d.getOSType(),
      (d: typeof r) => d.getMaxMemory(),
      (d: typeof r) => d.getSecurityLabel(),
      (d: typeof r) => d.isActive(),
      (d: typeof r) => d.isPersistent(),
      (d: typeof r) => d.isUpdated(),
      (d: typeof r) => d.getAutostart(),
      (d: typeof r) => d.hasManagedSaveImage(),
    ]) {
      assert.deepEqual(await q(r), await q(l));
    }
  });

  test("errors carry libvirt's number, domain and text across the wire", async () => {
    const cases: ((c: Connection) => Promise<unknown>)[] = [
      (c) => c.lookupDomainByName("nosuch"),
      (c) => c.lookupDomainByID(999),
      (c) => c.lookupDomainByUUID("00000000-0000-0000-0000-000000000001"),
      (c) => c.defineXML("<domain"),
      (c) => c.defineXML("<domain type='test'><name>x</name></domain>"),
      (c) => c.listAllDomains(1 << 20),
      async (c) => (await c.lookupDomainByName("test")).resume(),
      async (c) => (await c.lookupDomainByName("test")).getXMLDesc(1 << 10),
      async (c) => (await c.lookupDomainByName("test")).create(),
    ];
    for (const f of cases) assert.deepEqual(await failure(f(remote)), await failure(f(local)));
  });

  test("lifecycle over the wire is seen by direct connections; ids follow", async () => {
    const d = await remote.defineXML(vm("wire1"));
    assert.equal(d.id, -1);
    assert.equal(await (await local.lookupDomainByName("wire1")).isPersistent(), true);
    await d.create();
    assert.ok(d.toJSON().id > 0, "create learns the new id");
    assert.deepEqual(await (await local.lookupDomainByName("wire1")).getState(), {
      state: DomainState.RUNNING,
      reason: 1,
    });
    await d.suspend();
    assert.equal((await d.getState()).state, DomainState.PAUSED);
    await d.resume();
    await d.reboot();
    await d.reset();
    await d.setAutostart(true);
    assert.equal(await (await local.lookupDomainByName("wire1")).getAutostart(), true);
    const dir = mkdtempSync(join(tmpdir(), "tvirt-save-"));
    try {
      await d.save(join(dir, "wire1.save"));
      assert.equal(d.id, -1);
      assert.equal((await d.getState()).state, DomainState.SHUTOFF);
      assert.match(await remote.saveImageGetXMLDesc(join(dir, "wire1.save")), /<name>wire1<\/name>/);
      await remote.restore(join(dir, "wire1.save"));
      assert.equal((await d.getState()).state, DomainState.RUNNING);
      await d.saveFlags(join(dir, "wire1b.save"), null, 0);
      await remote.restoreFlags(join(dir, "wire1b.save"), null, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await d.managedSave();
    assert.equal(await d.hasManagedSaveImage(), true);
    await d.createWithFlags(0);
    assert.ok(d.toJSON().id > 0);
    await d.shutdown();
    await d.createWithFlags(0);
    await d.shutdownFlags(0);
    await d.create();
    await d.destroyFlags(0);
    assert.equal(d.id, -1);
    await d.create();
    await d.destroy();
    await d.undefineFlags(0);
    assert.equal((await failure(local.lookupDomainByName("wire1"))).virCode, VirErrorNumber.NO_DOMAIN);
    const t = await remote.createXML(vm("wire2"));
    assert.ok(t.id > 0);
    assert.equal(await t.isPersistent(), false);
    await t.destroy();
    const u = await remote.defineXMLFlags(vm("wire3"), 0);
    await u.undefine();
  });

  test("events cross the wire, filtered per callback and domain", async () => {
    const seen: string[] = [];
    const all = await remote.onLifecycle((d, e, det) => seen.push(`all ${d.name} ${e}/${det}`));
    const dom = await remote.lookupDomainByName("test");
    const one = await remote.domainEventRegisterAny(dom, DomainEventId.LIFECYCLE, (d, ev) => {
      if (ev.id === DomainEventId.LIFECYCLE) seen.push(`one ${d.name} ${ev.event}/${ev.detail}`);
    });
    const ldom = await local.lookupDomainByName("test");
    await ldom.suspend();
    await ldom.resume();
    const x = await local.defineXML(vm("ev1"));
    await x.undefine();
    const until = Date.now() + 2000;
    while (seen.length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, [
      "all test 3/0",
      "one test 3/0",
      "all test 4/0",
      "one test 4/0",
      "all ev1 0/0",
      "all ev1 1/0",
    ]);
    await remote.domainEventDeregisterAny(one);
    await remote.domainEventDeregisterAny(all);
    seen.length = 0;
    await ldom.suspend();
    await ldom.resume();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, []);
    assert.equal((await failure(remote.domainEventDeregisterAny(all))).virCode, VirErrorNumber.INVALID_ARG);
  });
});

describe("read-only socket", () => {
  test("refuses every change with libvirt's read-only error, answers queries", async () => {
    const ro = await connect(srv.roUri);
    const direct = await connect("test:///default", { readonly: true });
    try {
      const d = await ro.lookupDomainByName("test");
      assert.equal((await d.getState()).state, DomainState.RUNNING);
      const err = await failure(d.destroy());
      assert.deepEqual(err, await failure((await direct.lookupDomainByName("test")).destroy()));
      assert.deepEqual(err, {
        message: "operation forbidden: read only access prevents virDomainDestroy",
        virCode: VirErrorNumber.OPERATION_DENIED,
        virDomain: VirErrorDomain.DOMAIN,
      });
      assert.equal(
        (await failure(ro.defineXML(vm("ro1")))).message,
        "operation forbidden: read only access prevents virDomainDefineXML",
      );
      assert.equal(
        (await failure(d.create())).message,
        "operation forbidden: read only access prevents virDomainCreate",
      );
      // read-only asked for by the client on the read-write socket
      const rw = await connect(srv.uri, { readonly: true });
      assert.equal(
        (await failure((await rw.lookupDomainByName("test")).suspend())).virCode,
        VirErrorNumber.OPERATION_DENIED,
      );
      await rw.close();
    } finally {
      await ro.close();
      await direct.close();
    }
  });
});

describe("protocol errors keep the connection usable", () => {
  test("unknown procedure, unknown program, bad payload, call before open, unexpected type", async () => {
    const c = await RawClient.connect(srv.path);
    try {
      const errOf = async (): Promise<{
        code: number;
        domain: number;
        message: string | null;
        status: number;
        type: number;
      }> => {
        const p = await c.next();
        assert.ok(p);
        const e = remoteError.dec(new XdrReader(p.payload));
        return {
          code: e.code,
          domain: e.domain,
          message: e.message,
          status: p.header.status,
          type: p.header.type,
        };
      };
      c.call(RemoteProc.DOMAIN_LOOKUP_BY_NAME, 1, encode(Proc.domainLookupByName.args, { name: "test" }));
      assert.deepEqual(await errOf(), {
        code: VirErrorNumber.INTERNAL_ERROR,
        domain: VirErrorDomain.RPC,
        message: "internal error: connection not open",
        status: 1,
        type: 1,
      });
      c.call(
        RemoteProc.CONNECT_OPEN,
        2,
        encode(Proc.connectOpen.args, { name: "test:///default", flags: 0 }),
      );
      assert.equal((await c.next())?.header.status, MessageStatus.OK);
      c.call(9999, 3);
      assert.deepEqual(await errOf(), {
        code: VirErrorNumber.NO_SUPPORT,
        domain: VirErrorDomain.RPC,
        message: "this function is not supported by the connection driver: unknown procedure: 9999",
        status: 1,
        type: 1,
      });
      c.call(1, 4, Buffer.alloc(0), { prog: 0x12345678 });
      assert.deepEqual(await errOf(), {
        code: VirErrorNumber.RPC,
        domain: VirErrorDomain.RPC,
        message: "Cannot find program 305419896 version 1",
        status: 1,
        type: 1,
      });
      c.call(RemoteProc.DOMAIN_LOOKUP_BY_NAME, 5, Buffer.from("7fffffff", "hex"));
      const bad = await errOf();
      assert.equal(bad.code, VirErrorNumber.RPC);
      assert.match(bad.message ?? "", /^Unable to decode message payload: /);
      c.call(RemoteProc.CONNECT_GET_TYPE, 6, Buffer.alloc(0), { type: MessageType.REPLY });
      assert.equal((await errOf()).message, "Unexpected message type 1");
      c.call(RemoteProc.CONNECT_GET_TYPE, 7, Buffer.alloc(0), { status: MessageStatus.ERROR });
      assert.equal((await errOf()).message, "Unexpected message status 1");
      c.call(RemoteProc.CONNECT_OPEN, 8, encode(Proc.connectOpen.args, { name: null, flags: 0 }));
      assert.equal((await errOf()).message, "internal error: connection already open");
      c.call(RemoteProc.CONNECT_GET_TYPE, 9);
      const ok = await c.next();
      assert.equal(ok?.header.status, MessageStatus.OK);
      assert.deepEqual(Proc.connectGetType.ret.dec(new XdrReader(ok.payload)), { type: "TEST" });
    } finally {
      c.close();
    }
  });

  test("a client asking for a remote URI is refused; the default URI is served for an empty name", async () => {
    const c = await RawClient.connect(srv.path);
    try {
      c.call(
        RemoteProc.CONNECT_OPEN,
        0,
        encode(Proc.connectOpen.args, { name: "test+unix:///default?socket=/x", flags: 0 }),
      );
      const p = await c.next();
      assert.equal(p?.header.status, MessageStatus.ERROR);
      assert.match(remoteError.dec(new XdrReader(p.payload)).message ?? "", /serves local URIs only/);
      c.call(RemoteProc.CONNECT_OPEN, 1, encode(Proc.connectOpen.args, { name: "", flags: 0 }));
      assert.equal((await c.next())?.header.status, MessageStatus.OK);
      c.call(RemoteProc.CONNECT_GET_URI, 2);
      const u = await c.next();
      assert.ok(u);
      assert.equal(Proc.connectGetURI.ret.dec(new XdrReader(u.payload)).uri, "test:///default");
    } finally {
      c.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Console streams and the QEMU program, with a driver that has them
// ---------------------------------------------------------------------------------------------

describe("console stream and QEMU monitor command", () => {
  before(() => {
    registerDriver(fakeConnectDriver);
  });
  after(() => {
    unregisterDriver(fakeConnectDriver);
  });

  test("the server counts the calls it is serving, over all clients", async () => {
    const a = await connect(`fake+unix:///x?socket=${srv.path}`);
    const b = await connect(`fake+unix:///x?socket=${srv.path}`);
    const seen: number[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    fakeHooks.monitorCommand = (cmd) => {
      seen.push(srv.server.callsInFlight);
      if (cmd !== "hold") return undefined;
      holding();
      return gate;
    };
    try {
      const da = await a.lookupDomainByName("fake");
      const db = await b.lookupDomainByName("fake");
      assert.equal(srv.server.callsInFlight, 0);
      const first = da.qemuMonitorCommand("hold", QemuMonitorCommandFlags.HMP);
      await held;
      await db.qemuMonitorCommand("info", QemuMonitorCommandFlags.HMP);
      open();
      await first;
      assert.deepEqual(seen, [1, 2]);
      assert.equal(srv.server.callsInFlight, 0);
    } finally {
      delete fakeHooks.monitorCommand;
      await a.close();
      await b.close();
    }
  });

  test("console data flows both ways; abort is confirmed; device end reaches the client", async () => {
    const conn = await connect(`fake+unix:///x?socket=${srv.path}`);
    try {
      const dom = await conn.lookupDomainByName("fake");
      const st = await dom.openConsole(null, 0);
      const got: string[] = [];
      let ended = false;
      st.onData((d) => got.push(Buffer.from(d).toString()));
      st.onEnd(() => {
        ended = true;
      });
      st.write(Buffer.from("hello"));
      const until = Date.now() + 2000;
      while (got.join("") !== "login: HELLO" && Date.now() < until)
        await new Promise((r) => setTimeout(r, 5));
      assert.equal(got.join(""), "login: HELLO");
      await st.close();
      assert.equal(consoles.at(-1)?.closed, true);
      assert.equal(ended, true);

      const st2 = await dom.openConsole("serial0", 0);
      const ended2 = { value: false };
      st2.onEnd(() => {
        ended2.value = true;
      });
      st2.write(Buffer.from("bye"));
      const until2 = Date.now() + 2000;
      while (!ended2.value && Date.now() < until2) await new Promise((r) => setTimeout(r, 5));
      assert.equal(ended2.value, true, "the device's end of stream reaches the client");
      await st2.close();
      assert.equal(consoles.at(-1)?.closed, true);
    } finally {
      await conn.close();
    }
  });

  test("a client that disconnects with a console open releases it", async () => {
    const conn = await connect(`fake+unix:///x?socket=${srv.path}`);
    const dom = await conn.lookupDomainByName("fake");
    await dom.openConsole(null, 0);
    const c = consoles.at(-1)!;
    await conn.close();
    const until = Date.now() + 2000;
    while (!c.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.equal(c.closed, true);
  });

  test("qemu-monitor-command goes through the QEMU program; drivers without it say so", async () => {
    const conn = await connect(`fake+unix:///x?socket=${srv.path}`);
    try {
      const ref = (await conn.lookupDomainByName("fake")).ref();
      const result = await conn.invoke("virDomainQemuMonitorCommand", true, (d) =>
        (d as unknown as QemuMonitorCommandDriver).domainQemuMonitorCommand(
          ref,
          "info registers",
          QemuMonitorCommandFlags.HMP,
        ),
      );
      assert.equal(result, "fake:hmp:info registers");
    } finally {
      await conn.close();
    }
    const t = await connect(srv.uri);
    try {
      const ref = (await t.lookupDomainByName("test")).ref();
      const err = await failure(
        t.invoke("virDomainQemuMonitorCommand", true, (d) =>
          (d as unknown as QemuMonitorCommandDriver).domainQemuMonitorCommand(ref, "{}", 0),
        ),
      );
      assert.deepEqual(err, {
        message: "this function is not supported by the connection driver: virDomainQemuMonitorCommand",
        virCode: VirErrorNumber.NO_SUPPORT,
        virDomain: VirErrorDomain.DOMAIN,
      });
    } finally {
      await t.close();
    }
  });
});
