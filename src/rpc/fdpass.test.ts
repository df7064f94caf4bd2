/**
 * libvirt's descriptor framing on tvirtd's UNIX socket, checked byte by byte from the receiving
 * side as libvirt's client does it (a python3 raw client: exact reads, then recvmsg of one byte
 * per descriptor): FD_PASSING is supported on a UNIX socket; DOMAIN_OPEN_GRAPHICS_FD answers a
 * REPLY_WITH_FDS whose payload starts with the descriptor count, the descriptor follows the
 * packet on a byte of its own, and the next reply comes after it intact. A CALL_WITH_FDS is
 * refused and the connection stays usable. Stock python3-libvirt gets the descriptor too.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { registerDriver, unregisterDriver } from "../api/index.ts";
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
for hx in sys.argv[2:]:
    s.sendall(bytes.fromhex(hx))
    p = packet()
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
  const r = await run(
    py,
    [
      "-c",
      RAW,
      srv.path,
      call(RemoteProc.CONNECT_OPEN, 1, open),
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 2, feature(8)),
      call(343, 3, og),
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 4, feature(8)),
      // a call carrying a descriptor count (none is really attached): refused, connection kept
      call(249, 5, Buffer.concat([Buffer.from([0, 0, 0, 0]), og]), MessageType.CALL_WITH_FDS),
      call(RemoteProc.CONNECT_SUPPORTS_FEATURE, 6, feature(10)),
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
  }[];
  assert.deepEqual(
    out.map((p) => [p.serial, p.type, p.status]),
    [
      [1, MessageType.REPLY, 0],
      [2, MessageType.REPLY, 0],
      [3, MessageType.REPLY_WITH_FDS, 0],
      [4, MessageType.REPLY, 0],
      [5, MessageType.REPLY, 1],
      [6, MessageType.REPLY, 0],
    ],
  );
  assert.equal(out[1]!.payload, "00000001"); // FD_PASSING supported on this UNIX socket
  // REPLY_WITH_FDS: the count (1), then the void reply (nothing)
  assert.equal(out[2]!.payload, "00000001");
  assert.deepEqual(out[2]!.fds, [{ byte: "00", fds: 1, data: "display 2 1\n" }]);
  assert.equal(out[3]!.payload, "00000001");
  assert.match(
    Buffer.from(out[4]!.payload, "hex").toString("latin1"),
    /file descriptor passing is not supported by tvirtd \(procedure 249\)/,
  );
  assert.equal(out[5]!.payload, "00000001");
});

test("stock python3-libvirt: openGraphicsFD returns a descriptor connected to the display", async (t) => {
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
      ].join("\n"),
      `fake+unix:///x?socket=${srv.path}`,
    ],
    { env: { ...process.env, LC_ALL: "C" } },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "display 1 1\ndisplay 0 0\n");
});
