import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fdPassingAvailable, sendWithFds, socketFd, socketPair } from "./fdpass.ts";
import { runArgv, spawnArgv } from "./spawn.ts";

/* The receiving side as libvirt's client does it: exact reads, then one byte per descriptor. */
const RECEIVER = `
import os, socket, sys
s = socket.socket(fileno=3)
s.setblocking(True)
want = int(sys.argv[1])
buf = b""
while len(buf) < want:
    buf += s.recv(want - len(buf))
msg, fds, flags, addr = socket.recv_fds(s, 1, 4)
os.lseek(fds[0], 0, 0)
print(buf.decode(), msg.hex(), len(fds), os.read(fds[0], 100).decode(), flush=True)
`;

async function skipUnlessPython(t: { skip: (m: string) => void }): Promise<boolean> {
  if (await fdPassingAvailable()) return false;
  if (process.env.CI === "true") assert.fail("python3 with socket.send_fds is required for fd passing");
  t.skip("python3 with socket.send_fds is not available");
  return true;
}

test("socketPair: two connected ends that do not read until resumed", async () => {
  const [a, b] = await socketPair();
  try {
    assert.ok(socketFd(a) !== undefined && socketFd(b) !== undefined);
    a.write("ping");
    b.resume();
    const got = await new Promise<string>((resolve) =>
      b.once("data", (d: Buffer) => {
        resolve(d.toString());
      }),
    );
    assert.equal(got, "ping");
  } finally {
    a.destroy();
    b.destroy();
  }
});

test("sendWithFds: bytes first, then the descriptor on its own byte, as libvirt frames it", async (t) => {
  if (await skipUnlessPython(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-fdpass-"));
  const [a, b] = await socketPair();
  const file = join(dir, "secret");
  writeFileSync(file, "the-secret");
  const fd = openSync(file, "r");
  try {
    const bFd = socketFd(b);
    assert.ok(bFd !== undefined);
    const rx = await spawnArgv(["python3", "-c", RECEIVER, "11"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdout: "pipe",
      stderr: "pipe",
      extraFds: [bFd],
    });
    const out: Buffer[] = [];
    rx.process.stdout?.on("data", (d: Buffer) => out.push(d));
    // node writes first (queued), then the helper: order must be kept.
    a.write("hello ");
    await sendWithFds(a, [{ data: Buffer.from("world") }, { data: Buffer.from([0]), fds: [fd] }]);
    const st = await rx.exited;
    assert.equal(st.code, 0);
    assert.equal(Buffer.concat(out).toString().trim(), "hello world 00 1 the-secret");
    // node can still write on the socket afterwards (its flags were left as they were).
    a.write("after");
  } finally {
    closeSync(fd);
    a.destroy();
    b.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sendWithFds: a closed socket is refused with a clear error", async (t) => {
  if (await skipUnlessPython(t)) return;
  const [a, b] = await socketPair();
  a.destroy();
  b.destroy();
  await assert.rejects(
    sendWithFds(a, [{ data: Buffer.from([0]), fds: [0] }]),
    /Failed to send file descriptor/,
  );
  // and python3 really is what does the work
  const r = await runArgv(["python3", "-c", "import socket; print(hasattr(socket, 'send_fds'))"]);
  assert.equal(r.stdout.trim(), "True");
});
