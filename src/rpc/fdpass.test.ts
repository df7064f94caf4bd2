/**
 * libvirt's descriptor framing on tvirtd's UNIX socket, checked byte by byte from the receiving
 * side as libvirt's client does it (a python3 raw client: exact reads, then recvmsg of one byte
 * per descriptor): FD_PASSING is supported on a UNIX socket; DOMAIN_OPEN_GRAPHICS_FD answers a
 * REPLY_WITH_FDS whose payload starts with the descriptor count, the descriptor follows the
 * packet on a byte of its own, and the next reply comes after it intact. A CALL_WITH_FDS is
 * refused and the connection stays usable. Stock python3-libvirt gets the descriptor too.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { connect, registerDriver, unregisterDriver } from "../api/index.ts";
import { fdPassingAvailable, socketPair } from "../util/fdpass.ts";
import "./register.ts";
import {
  fakeConnectDriver,
  python3OrSkip,
  pythonLibvirtOrSkip,
  run,
  startTestServer,
  type TestServer,
} from "../testing/rpc/harness.ts";
import { encode } from "./codec.ts";
import { encodePacket } from "./packet.ts";
import { MessageStatus, MessageType, Program, PROTOCOL_VERSION, RemoteProc } from "./protocol.ts";
import { Proc } from "./remote-protocol.ts";
import { readProcCmdline, readProcStat, spawnArgv } from "../util/spawn.ts";

/** Receiving helpers (util/fdpass startFdReader) this process still has. */
function readers(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter(
      (pid) =>
        readProcStat(pid)?.ppid === process.pid &&
        (readProcCmdline(pid) ?? []).some((a) => a.includes("NODE_CHANNEL_FD")),
    );
}

async function noReadersLeft(): Promise<void> {
  const until = Date.now() + 5000;
  while (readers().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(readers(), [], "a receiving helper outlived its connection");
}

let srv: TestServer;
before(async () => {
  registerDriver(fakeConnectDriver);
  srv = await startTestServer();
});
after(async () => {
  await srv.close();
  unregisterDriver(fakeConnectDriver);
});

const fakeDom = { name: "fake", uuid: "11111111-2222-3333-4444-555555555555", id: 7 };

function call(proc: number, serial: number, payload: Buffer, type: number = MessageType.CALL): string {
  return encodePacket(
    { prog: Program.REMOTE, vers: PROTOCOL_VERSION, proc, type, serial, status: MessageStatus.OK },
    payload,
  ).toString("hex");
}

/* argv: socket path, then packets (hex) to send one after the other; prints what came back. */
const RAW = String.raw`
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
def exact(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("closed")
        b += d
    return b
def packet():
    ln = struct.unpack(">I", exact(4))[0]
    body = exact(ln - 4)
    prog, vers, proc, typ, serial, status = struct.unpack(">IIiiIi", body[:24])
    return {"proc": proc, "type": typ, "serial": serial, "status": status, "payload": body[24:].hex()}
out = []
for arg in sys.argv[2:]:
    hx, _, withfd = arg.partition("+")
    s.sendall(bytes.fromhex(hx))
    mine = None
    if withfd:
        # as virNetSocketSendFD: one byte per descriptor, after the packet
        mine, theirs = socket.socketpair()
        socket.send_fds(s, [b"\0"], [theirs.fileno()])
        theirs.close()
    p = packet()
    if mine is not None:
        mine.settimeout(2)
        try:
            p["peer"] = mine.recv(100).decode()
        except socket.timeout:
            p["peer"] = None
        mine.close()
    if p["type"] == 5:
        nfds = struct.unpack(">I", bytes.fromhex(p["payload"])[:4])[0]
        got = []
        for i in range(nfds):
            msg, fds, flags, addr = socket.recv_fds(s, 1, 1)
            got.append({"byte": msg.hex(), "fds": len(fds), "data": os.read(fds[0], 100).decode()})
            os.close(fds[0])
        p["fds"] = got
    out.append(p)
print(json.dumps(out))
`;

test("REPLY_WITH_FDS: count before the payload, the descriptor after the packet, the stream intact", async (t) => {
  const py = python3OrSkip(t);
  if (!py) return;
  const open = encode(Proc.connectOpen.args, { name: "fake:///x", flags: 0 });
  const feature = (f: number) => encode(Proc.connectSupportsFeature.args, { feature: f });
  const og = encode(Proc.domainOpenGraphicsFd.args, { dom: fakeDom, idx: 2, flags: 1 });
  const one = Buffer.from([0, 0, 0, 1]);
  const r = await run(
    py,
    [
      "-c",
      RAW,
      srv.path,
      call(RemoteProc.CONNECT_OPEN, 1, open),
      // a descriptor before FD_PASSING was asked: refused (libuv's read dropped it), stream kept
      call(249, 2, Buffer.concat([one, og]), MessageType.CALL_WITH_FDS) + "+fd",
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 3, feature(8)),
      call(343, 4, og),
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 5, feature(8)),
      // now received: the fake display greets on the socket the client passed
      call(249, 6, Buffer.concat([one, og]), MessageType.CALL_WITH_FDS) + "+fd",
      // a count of 0 for a procedure that needs one
      call(249, 7, Buffer.concat([Buffer.alloc(4), og]), MessageType.CALL_WITH_FDS),
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 8, feature(10)),
    ],
    { env: { ...process.env, LC_ALL: "C" } },
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    proc: number;
    type: number;
    serial: number;
    status: number;
    payload: string;
    fds?: { byte: string; fds: number; data: string }[];
    peer?: string | null;
  }[];
  assert.deepEqual(
    out.map((p) => [p.serial, p.type, p.status]),
    [
      [1, MessageType.REPLY, 0],
      [2, MessageType.REPLY, 1],
      [3, MessageType.REPLY, 0],
      [4, MessageType.REPLY_WITH_FDS, 0],
      [5, MessageType.REPLY, 0],
      [6, MessageType.REPLY, 0],
      [7, MessageType.REPLY, 1],
      [8, MessageType.REPLY, 0],
    ],
  );
  const text = (i: number): string => Buffer.from(out[i]!.payload, "hex").toString("latin1");
  assert.match(text(1), /file descriptor passing is not supported by tvirtd \(procedure 249\)/);
  assert.equal(out[1]!.peer, ""); // the kernel closed the dropped descriptor: end of file
  assert.equal(out[2]!.payload, "00000001"); // FD_PASSING supported on this UNIX socket
  // REPLY_WITH_FDS: the count (1), then the void reply (nothing)
  assert.equal(out[3]!.payload, "00000001");
  assert.deepEqual(out[3]!.fds, [{ byte: "00", fds: 1, data: "display 2 1\n" }]);
  assert.equal(out[4]!.payload, "00000001");
  assert.equal(out[5]!.payload, "");
  assert.equal(out[5]!.peer, "display 2 1 on the passed socket\n");
  assert.match(text(6), /procedure 249 takes one socket descriptor, the call carried 0 usable ones/);
  assert.equal(out[7]!.payload, "00000001");
  await noReadersLeft();
});

test("stock python3-libvirt: openGraphicsFD returns a descriptor, openGraphics passes one", async (t) => {
  const py = pythonLibvirtOrSkip(t);
  if (!py) return;
  const r = await run(
    py,
    [
      "-c",
      [
        "import libvirt, os, sys",
        "c = libvirt.open(sys.argv[1])",
        "d = c.lookupByName('fake')",
        "fd = d.openGraphicsFD(1, libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)",
        "print(os.read(fd, 100).decode(), end='')",
        "fd = d.openGraphicsFD(0)",
        "print(os.read(fd, 100).decode(), end='')",
        "import socket",
        "a, b = socket.socketpair()",
        "d.openGraphics(3, a.fileno(), 0)",
        "a.close()",
        "print(b.recv(100).decode(), end='')",
      ].join("\n"),
      `fake+unix:///x?socket=${srv.path}`,
    ],
    { env: { ...process.env, LC_ALL: "C" } },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "display 1 1\ndisplay 0 0\ndisplay 3 0 on the passed socket\n");
  await noReadersLeft();
});

test("a client the daemon drops sees the end of its connection though a helper reads it", async (t) => {
  const py = python3OrSkip(t);
  if (!py) return;
  const open = encode(Proc.connectOpen.args, { name: "fake:///x", flags: 0 });
  const feature = encode(Proc.connectSupportsFeature.args, { feature: 8 });
  // two calls answered, then (told to) a length word below the minimum: the daemon drops it
  const script = String.raw`
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
def exact(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("closed")
        b += d
    return b
for hx in sys.argv[2:]:
    s.sendall(bytes.fromhex(hx))
    exact(struct.unpack(">I", exact(4))[0] - 4)
print("ready", flush=True)
sys.stdin.readline()
s.sendall(struct.pack(">I", 5) + b"junk")
try:
    print("eof" if s.recv(100) == b"" else "data", flush=True)
except socket.timeout:
    print("timeout", flush=True)
`;
  const child = await spawnArgv(
    [
      py,
      "-c",
      script,
      srv.path,
      call(RemoteProc.CONNECT_OPEN, 1, open),
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 2, feature),
    ],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  let out = "";
  child.process.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.process.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 10_000;
  while (!out.includes("ready") && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.equal(readers().length, 1, `the receiving helper was not started: ${out}`);
  child.process.stdin?.end("go\n");
  await child.exited;
  assert.equal(out, "ready\neof\n");
  await noReadersLeft();
});

test("tvirt's remote driver: openGraphics sends the caller's socket (CALL_WITH_FDS)", async (t) => {
  if (!(await fdPassingAvailable())) {
    if (process.env.CI === "true") assert.fail("python3 with socket.send_fds is required");
    t.skip("python3 with socket.send_fds is not available");
    return;
  }
  const c = await connect(`fake+unix:///x?socket=${srv.path}`);
  try {
    const dom = await c.lookupDomainByName("fake");
    for (const idx of [4, 5]) {
      const [mine, theirs] = await socketPair();
      await dom.openGraphics(idx, theirs, 0);
      theirs.destroy();
      const got = await new Promise<string>((resolve) => {
        mine.once("data", (d: Buffer) => {
          resolve(d.toString());
        });
        mine.resume();
      });
      mine.destroy();
      assert.equal(got, `display ${idx} 0 on the passed socket\n`);
    }
    // the connection goes on as before
    assert.equal((await dom.getState()).state, 1);
    await assert.rejects(
      dom.openGraphicsFd(0, 0),
      /this function is not supported by the connection driver: virDomainOpenGraphicsFD/,
    );
  } finally {
    await c.close();
  }
  await noReadersLeft();
});
