/**
 * Faults on the wire: a client that disconnects mid-call, truncated and oversized packets,
 * unknown programs and procedures, garbage bytes, and a fuzz run of random and mutated packets.
 * The daemon must answer with an error or close that one connection, keep serving everyone else,
 * never crash, and hold nothing for the clients that are gone.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Connection, connect, parseURI, type Domain } from "../api/index.ts";
import { leakedResources, resourceCounts } from "../testing/qemu/monitor-leaks.ts";
import { testConnectDriver } from "../drivers/test/index.ts";
import { encode } from "./codec.ts";
import { encodePacket } from "./packet.ts";
import { Limits, MessageStatus, MessageType, Program, RemoteProc } from "./protocol.ts";
import "./register.ts";
import { Proc, remoteError } from "./remote-protocol.ts";
import { holdLoop, RawClient, startTestServer, type TestServer } from "../testing/rpc/harness.ts";
import { XdrReader } from "./xdr.ts";
import { VirErrorNumber } from "../util/errors/index.ts";

/** Entries that write or read files named by the caller: hidden from the fuzzed server. */
const fileEntries = new Set([
  "domainSave",
  "domainSaveFlags",
  "domainRestore",
  "domainRestoreFlags",
  "domainSaveImageGetXMLDesc",
  "domainSaveImageDefineXML",
  "domainManagedSave",
]);

/** test:///default without the entries that touch files, so random calls cannot write anywhere. */
async function openSandboxed(_uri: string, readonly: boolean): Promise<Connection> {
  const inner = await testConnectDriver.open(parseURI("test:///default"), 0);
  const sandboxed = new Proxy(inner, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && fileEntries.has(prop)) return undefined;
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return new Connection(sandboxed, "test:///default", readonly);
}

let srv: TestServer;
let baseline: Map<string, number>;
let release: () => void;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};

before(async () => {
  process.on("unhandledRejection", onUnhandled);
  release = holdLoop();
  baseline = resourceCounts();
  srv = await startTestServer({ openConnection: openSandboxed, keepaliveInterval: 1, keepaliveCount: 2 });
});

after(async () => {
  await srv.close();
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, []);
  assert.deepEqual(await leakedResources(baseline, 3000), [], "sockets or timers left behind");
  release();
});

/** A well-behaved client that must keep working through every fault. */
async function controlCheck(): Promise<void> {
  const c = await connect(srv.uri);
  try {
    const d: Domain = await c.lookupDomainByName("test");
    assert.equal((await d.getInfo()).nrVirtCpu, 2);
  } finally {
    await c.close();
  }
}

async function waitClients(n: number, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (srv.server.clientCount > n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(srv.server.clientCount, n, "clients still held by the server");
}

const openPayload = encode(Proc.connectOpen.args, { name: "test:///default", flags: 0 });
const testDom = { name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f", id: 1 };

describe("faults", () => {
  test("a client that disconnects mid-call (half a packet, or before its reply) is dropped alone", async () => {
    const steady = await connect(srv.uri);
    try {
      for (let i = 0; i < 20; i++) {
        const c = await RawClient.connect(srv.path);
        c.call(RemoteProc.CONNECT_OPEN, 0, openPayload);
        const info = encodePacket(
          {
            prog: Program.REMOTE,
            vers: 1,
            proc: RemoteProc.DOMAIN_GET_INFO,
            type: MessageType.CALL,
            serial: 1,
            status: 0,
          },
          encode(Proc.domainGetInfo.args, { dom: testDom }),
        );
        c.write(i % 2 === 0 ? info : info.subarray(0, 17));
        c.close();
      }
      assert.equal((await (await steady.lookupDomainByName("test")).getState()).state, 1);
    } finally {
      await steady.close();
    }
    await waitClients(0);
    await controlCheck();
  });

  test("a truncated packet waits for its bytes without blocking anyone; closing drops it", async () => {
    const c = await RawClient.connect(srv.path);
    c.write(Buffer.from("000000640000", "hex")); // 100 bytes announced, 2 sent
    await controlCheck();
    assert.equal(c.closed, false);
    c.close();
    await waitClients(0);
  });

  test("oversized and undersized length words close that connection only", async () => {
    for (const len of [Limits.MESSAGE_MAX + Limits.LEN_MAX + 1, 0xffffffff, 27, 0]) {
      const c = await RawClient.connect(srv.path);
      const b = Buffer.alloc(28);
      b.writeUInt32BE(len >>> 0);
      c.write(b);
      assert.equal(await c.waitClosed(3000), true, `length ${len}`);
    }
    // the largest legal packet is read whole and answered (with an error: no such procedure)
    const big = await RawClient.connect(srv.path);
    big.write(
      encodePacket(
        { prog: Program.REMOTE, vers: 1, proc: 99999, type: MessageType.CALL, serial: 5, status: 0 },
        Buffer.alloc(Limits.PAYLOAD_MAX),
      ),
    );
    const reply = await big.next(10_000);
    assert.ok(reply);
    assert.equal(reply.header.status, MessageStatus.ERROR);
    assert.equal(remoteError.dec(new XdrReader(reply.payload)).code, VirErrorNumber.NO_SUPPORT);
    big.close();
    await waitClients(0);
    await controlCheck();
  });

  test("a string over libvirt's maximum is an error reply, the connection stays usable", async () => {
    const c = await RawClient.connect(srv.path);
    c.call(RemoteProc.CONNECT_OPEN, 0, openPayload);
    await c.next();
    const name = Buffer.alloc(8);
    name.writeUInt32BE(Limits.STRING_MAX + 1);
    c.call(RemoteProc.DOMAIN_LOOKUP_BY_NAME, 1, name);
    const r = await c.next();
    assert.equal(r?.header.status, MessageStatus.ERROR);
    assert.match(remoteError.dec(new XdrReader(r.payload)).message ?? "", /exceeds maximum 4194304/);
    c.call(RemoteProc.CONNECT_GET_TYPE, 2);
    assert.equal((await c.next())?.header.status, MessageStatus.OK);
    c.close();
  });

  test("garbage bytes close that connection; keepalive drops a client that stops answering", async () => {
    for (let i = 0; i < 10; i++) {
      const c = await RawClient.connect(srv.path);
      const junk = Buffer.alloc(200 + i * 37);
      for (let j = 0; j < junk.length; j++) junk[j] = (j * 7919 + i * 104729) & 0xff;
      c.write(junk);
      c.close();
    }
    // a client that asked for keepalive and then went silent (interval 1 s, count 2)
    const mute = await RawClient.connect(srv.path);
    mute.socket.pause(); // never reads, never answers PINGs
    mute.call(
      RemoteProc.CONNECT_SUPPORTS_FEATURE,
      0,
      encode(Proc.connectSupportsFeature.args, { feature: 10 }),
    );
    await controlCheck();
    const t0 = Date.now();
    mute.socket.resume();
    assert.equal(await mute.waitClosed(6000), true, "the silent client was not dropped");
    assert.ok(Date.now() - t0 >= 1000);
    await waitClients(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz
// ---------------------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid calls to start mutations from. */
function corpus(): Buffer[] {
  const call = (proc: number, payload: Buffer = Buffer.alloc(0), serial = 1): Buffer =>
    encodePacket({ prog: Program.REMOTE, vers: 1, proc, type: MessageType.CALL, serial, status: 0 }, payload);
  const dom = (flags?: number): Buffer =>
    flags === undefined
      ? encode(Proc.domainGetInfo.args, { dom: testDom })
      : encode(Proc.domainGetState.args, { dom: testDom, flags });
  return [
    call(RemoteProc.AUTH_LIST),
    call(RemoteProc.CONNECT_SUPPORTS_FEATURE, encode(Proc.connectSupportsFeature.args, { feature: 14 })),
    call(RemoteProc.CONNECT_OPEN, openPayload),
    call(
      RemoteProc.CONNECT_LIST_ALL_DOMAINS,
      encode(Proc.connectListAllDomains.args, { need_results: 1, flags: 3 }),
    ),
    call(RemoteProc.DOMAIN_LOOKUP_BY_NAME, encode(Proc.domainLookupByName.args, { name: "test" })),
    call(RemoteProc.DOMAIN_GET_INFO, dom()),
    call(RemoteProc.DOMAIN_GET_STATE, dom(0)),
    call(RemoteProc.DOMAIN_GET_XML_DESC, dom(0)),
    call(RemoteProc.DOMAIN_SUSPEND, dom()),
    call(RemoteProc.DOMAIN_RESUME, dom()),
    call(RemoteProc.NODE_GET_INFO),
    call(
      RemoteProc.DOMAIN_DEFINE_XML,
      encode(Proc.domainDefineXML.args, {
        xml: "<domain type='test'><name>fz</name><memory>1024</memory><os><type>hvm</type></os></domain>",
      }),
    ),
    call(
      RemoteProc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
      encode(Proc.connectDomainEventCallbackRegisterAny.args, { eventID: 0, dom: null }),
    ),
    call(
      RemoteProc.DOMAIN_OPEN_CONSOLE,
      encode(Proc.domainOpenConsole.args, { dom: testDom, dev_name: null, flags: 0 }),
    ),
    encodePacket({
      prog: Program.KEEPALIVE,
      vers: 1,
      proc: 1,
      type: MessageType.MESSAGE,
      serial: 0,
      status: 0,
    }),
    encodePacket(
      {
        prog: Program.REMOTE,
        vers: 1,
        proc: RemoteProc.DOMAIN_OPEN_CONSOLE,
        type: MessageType.STREAM,
        serial: 1,
        status: 2,
      },
      Buffer.from("data"),
    ),
    encodePacket(
      { prog: Program.QEMU, vers: 1, proc: 1, type: MessageType.CALL, serial: 3, status: 0 },
      encode(Proc.qemuDomainMonitorCommand.args, { dom: testDom, cmd: "{}", flags: 0 }),
    ),
  ];
}

function mutate(p: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(p);
  const pick = (n: number): number => Math.floor(rnd() * n);
  switch (rnd() < 0.03 ? 7 : pick(7)) {
    case 0: // flip bits anywhere but the length word
      for (let i = 0, n = 1 + pick(4); i < n; i++)
        if (b.length > 4) b[4 + pick(b.length - 4)]! ^= 1 << pick(8);
      return b;
    case 1: // random header field
      b.writeUInt32BE(pick(4) === 0 ? 0xffffffff : Math.floor(rnd() * 2 ** 32), 4 + 4 * pick(6));
      return b;
    case 2: // random type / status
      b.writeInt32BE(pick(9) - 1, 16);
      b.writeInt32BE(pick(5) - 1, 24);
      return b;
    case 3: // truncated payload, length fixed up
      if (b.length > 28) {
        const t = b.subarray(0, 28 + pick(b.length - 28));
        t.writeUInt32BE(t.length);
        return t;
      }
      return b;
    case 4: // a payload word replaced by a big value (lengths, counts, flags)
      if (b.length > 28)
        b.writeUInt32BE(
          [0x7fffffff, 0xffffffff, Limits.STRING_MAX + 1, 16385, 2][pick(5)]!,
          28 + 4 * pick((b.length - 28) >> 2),
        );
      return b;
    case 5: // random procedure on a valid payload
      b.writeInt32BE(pick(460), 12);
      return b;
    case 6: {
      // random bytes appended, length fixed up
      const extra = Buffer.alloc(pick(64));
      for (let i = 0; i < extra.length; i++) extra[i] = pick(256);
      const t = Buffer.concat([b, extra]);
      t.writeUInt32BE(t.length);
      return t;
    }
    default: // wrong length word
      b.writeUInt32BE(pick(3) === 0 ? pick(40) : b.length + pick(16) - 8);
      return b;
  }
}

test("fuzz: 4000 random and mutated packets over 200 connections; the daemon keeps serving", async (t) => {
  const seed = Number(process.env.TVIRT_FUZZ_SEED ?? 20251125);
  const rnd = prng(seed);
  const base = corpus();
  let packets = 0;
  let replies = 0;
  let closedByServer = 0;
  for (let round = 0; round < 200; round++) {
    const c = await RawClient.connect(srv.path);
    c.write(base[0]!);
    c.write(base[2]!); // AUTH_LIST, CONNECT_OPEN: most calls then reach the driver
    for (let i = 0; i < 20; i++) {
      let p: Buffer;
      if (rnd() < 0.02) {
        p = Buffer.alloc(Math.floor(rnd() * 128));
        for (let j = 0; j < p.length; j++) p[j] = Math.floor(rnd() * 256);
      } else p = mutate(base[Math.floor(rnd() * base.length)]!, rnd);
      c.write(p);
      packets++;
    }
    // collect what comes back until the server goes quiet or closes
    for (;;) {
      const r = await c.next(30);
      if (!r) break;
      replies++;
    }
    if (c.closed) closedByServer++;
    c.close();
    if (round % 25 === 0) await controlCheck();
  }
  await waitClients(0);
  await controlCheck();
  t.diagnostic(
    `fuzz seed ${seed}: ${packets} packets, ${replies} replies, ${closedByServer} connections closed by the server`,
  );
  assert.ok(replies > 500, "the fuzz barely reached the dispatcher");
});
