/**
 * The remote driver against libvirtd's own replies: a stand-in daemon answers each call with
 * the reply real libvirtd 9.0 gave virsh for the byte-identical call in the captures
 * (`../shared/reference/libvirt-wire-traces.md`). Every packet tvirt's client sends must be one
 * that libvirt's client sent (same program, procedure, type, status and payload bytes; serials
 * aside), and libvirtd's replies must decode to the values virsh printed. This is what lets the
 * remote driver talk to a real libvirtd, which this machine does not have.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../api/index.ts";
import { encodePacket, PacketDecoder } from "./packet.ts";
import { MessageType } from "./protocol.ts";
import "./register.ts";
import { tracesOrSkip, type TraceLine } from "../testing/rpc/harness.ts";

interface Canned {
  status: number;
  payload: Buffer;
}

test("tvirt's client sends what libvirt's client sends and reads libvirtd's replies", async (t) => {
  const traces = tracesOrSkip(t);
  if (!traces) return;
  // call (program, procedure, payload) -> libvirtd's complete reply
  const canned = new Map<string, Canned>();
  for (const lines of traces.values()) {
    lines.forEach((l: TraceLine, i) => {
      const r = lines[i + 1];
      if (l.dir !== "C>S" || l.type !== MessageType.CALL || !r || r.dir !== "S>C" || l.truncated) return;
      // A reply cut short in the capture is completed with zeros to its length (exact for the
      // security model, whose tail is NUL characters; other cut replies are not checked below).
      const payload = r.truncated
        ? Buffer.concat([r.payload, Buffer.alloc(r.len - 28 - r.payload.length)])
        : r.payload;
      canned.set(`${l.prog}:${l.proc}:${l.payload.toString("hex")}`, { status: r.status, payload });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirt-fake-libvirtd-"));
  const path = join(dir, "libvirt-sock");
  const unmatched: string[] = [];
  let matched = 0;
  const server: Server = createServer((sock) => {
    const dec = new PacketDecoder();
    sock.on("data", (chunk: Buffer) => {
      for (const p of dec.push(chunk)) {
        if (p.header.type !== MessageType.CALL) continue;
        const key = `${p.header.prog}:${p.header.proc}:${p.payload.toString("hex")}`;
        const reply = canned.get(key);
        if (!reply) {
          unmatched.push(key);
          sock.destroy();
          return;
        }
        matched++;
        sock.write(
          encodePacket({ ...p.header, type: MessageType.REPLY, status: reply.status }, reply.payload),
        );
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const conn = await connect(`test+unix:///default?socket=${path}`);
    assert.equal(await conn.getType(), "TEST");
    assert.equal(await conn.getVersion(), 2);
    assert.equal(await conn.getLibVersion(), 9_000_000);
    assert.equal(await conn.getHostname(), "vm");
    assert.deepEqual(
      (await conn.listAllDomains(3)).map((d) => d.toJSON()),
      [{ name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f", id: 1 }],
    );
    const d = await conn.lookupDomainByName("test");
    assert.deepEqual(d.toJSON(), { name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f", id: 1 });
    assert.equal(await d.getOSType(), "linux");
    assert.deepEqual(await d.getInfo(), {
      state: 1,
      maxMem: 8388608,
      memory: 2097152,
      nrVirtCpu: 2,
      cpuTime: 0x18eb5aed85138a90n,
    });
    assert.equal(await d.isPersistent(), true);
    assert.equal(await d.getAutostart(), false);
    assert.equal(await d.hasManagedSaveImage(0), false);
    assert.deepEqual(await d.getState(0), { state: 1, reason: 0 });
    assert.deepEqual(await conn.nodeGetSecurityModel(), { model: "testSecurity", doi: "" });
    assert.deepEqual(await d.getSecurityLabel(), { label: "libvirt-test", enforcing: true });
    await conn.close();
    assert.deepEqual(unmatched, [], "packets libvirt's client never sends");
    assert.ok(matched >= 17, `only ${matched} calls matched`);
  } finally {
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  }
});
