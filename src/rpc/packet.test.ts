import assert from "node:assert/strict";
import { test } from "node:test";
import { keepAlivePacket } from "./keepalive.ts";
import { encodePacket, FrameError, PacketDecoder } from "./packet.ts";
import { KeepAliveProc, Limits, MessageType } from "./protocol.ts";
import { XdrWriter } from "./xdr.ts";

const hdr = { prog: 0x20008086, vers: 1, proc: 60, type: MessageType.CALL, serial: 1, status: 0 };

test("keepalive PING/PONG are the captured 28-byte messages", () => {
  assert.equal(
    keepAlivePacket(KeepAliveProc.PING).toString("hex"),
    "0000001c6b656570000000010000000100000002" + "0000000000000000",
  );
  assert.equal(
    keepAlivePacket(KeepAliveProc.PONG).toString("hex"),
    "0000001c6b656570000000010000000200000002" + "0000000000000000",
  );
});

test("the decoder reassembles packets split at every byte boundary and several per chunk", () => {
  const a = encodePacket(hdr, Buffer.from("0000000a", "hex"));
  const b = encodePacket({ ...hdr, serial: 2 }, Buffer.from("0000000e", "hex"));
  const stream = Buffer.concat([a, b, a]);
  for (let cut = 1; cut < stream.length; cut++) {
    const d = new PacketDecoder();
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(
      got.map((p) => [p.header.serial, p.payload.toString("hex")]),
      [
        [1, "0000000a"],
        [2, "0000000e"],
        [1, "0000000a"],
      ],
    );
    assert.equal(d.buffered, 0);
  }
  // one byte at a time
  const d = new PacketDecoder();
  let n = 0;
  for (const byte of stream) n += d.push(Buffer.from([byte])).length;
  assert.equal(n, 3);
});

test("lengths outside libvirt's limits are framing errors, before any buffering", () => {
  const small = Buffer.from("0000001b", "hex");
  assert.throws(() => new PacketDecoder().push(small), FrameError);
  assert.throws(() => new PacketDecoder().push(Buffer.from("00000000", "hex")), /too small/);
  const big = Buffer.alloc(4);
  big.writeUInt32BE(Limits.MESSAGE_MAX + Limits.LEN_MAX + 1);
  assert.throws(() => new PacketDecoder().push(big), /exceeds maximum/);
  // the largest legal length is accepted (and waits for its bytes)
  const max = Buffer.alloc(4);
  max.writeUInt32BE(Limits.MESSAGE_MAX + Limits.LEN_MAX);
  const d = new PacketDecoder();
  assert.deepEqual(d.push(max), []);
  assert.equal(d.buffered, 4);
});

test("encodePacket refuses payloads over libvirt's maximum", () => {
  assert.throws(
    () =>
      encodePacket(hdr, (w: XdrWriter) => {
        w.bytes(Buffer.alloc(Limits.PAYLOAD_MAX + 4));
      }),
    FrameError,
  );
  assert.equal(encodePacket(hdr, Buffer.alloc(Limits.PAYLOAD_MAX)).length, Limits.MESSAGE_MAX + 4);
});

test("the carrier bytes of passed file descriptors are skipped, not read as a frame", () => {
  const withFds = encodePacket(
    { ...hdr, type: MessageType.CALL_WITH_FDS },
    Buffer.from("00000002" + "0000000a", "hex"),
  );
  const next = encodePacket({ ...hdr, serial: 9 }, Buffer.alloc(0));
  const d = new PacketDecoder();
  const got = d.push(Buffer.concat([withFds, Buffer.from([0, 0]), next]));
  assert.deepEqual(
    got.map((p) => p.header.serial),
    [1, 9],
  );
  const tooMany = encodePacket({ ...hdr, type: MessageType.CALL_WITH_FDS }, Buffer.from("00000021", "hex"));
  assert.throws(() => new PacketDecoder().push(tooMany), /too many file descriptors/);
});
