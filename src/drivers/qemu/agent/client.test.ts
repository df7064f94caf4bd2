/**
 * The agent client's protocol against a unix socket peer that answers as qemu-ga does on its
 * channel: a 0xFF byte before the guest-sync-delimited answer, one JSON reply per line, stale
 * lines from earlier exchanges, errors, silence. (The real qemu-ga in a real guest is driven by
 * src/rpc/agent-interop.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { VirtError } from "../../../util/errors/index.ts";
import { AgentClient } from "./client.ts";

type Handler = (cmd: { execute: string; arguments?: Record<string, unknown> }, sock: Socket) => void;

async function peer(
  handler: Handler,
): Promise<{ path: string; server: Server; seen: string[]; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-agent-client-"));
  const path = join(dir, "ga.sock");
  const seen: string[] = [];
  const server = createServer((sock) => {
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line) as { execute: string; arguments?: Record<string, unknown> };
        seen.push(cmd.execute);
        if (cmd.execute === "guest-sync-delimited") {
          // stale output of an earlier exchange first: the client must drop it
          sock.write(`{"return": "stale"}\n`);
          sock.write(Buffer.from([0xff]));
          sock.write(`{"return": ${String(cmd.arguments?.id)}}\n`);
        } else handler(cmd, sock);
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    server,
    seen,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("each command is preceded by guest-sync-delimited and gets its own reply", async () => {
  const p = await peer((cmd, sock) => {
    if (cmd.execute === "guest-ping") sock.write(`{"return": {}}\n`);
    else if (cmd.execute === "guest-get-time") sock.write(`{"return": 1234567890123456789}\n`);
  });
  const c = new AgentClient(p.path);
  try {
    assert.deepEqual(await c.command("guest-ping"), {});
    assert.equal(typeof (await c.command("guest-get-time")), "number");
    assert.equal(await c.raw('{"execute":"guest-ping"}'), '{"return":{}}');
    assert.deepEqual(p.seen, [
      "guest-sync-delimited",
      "guest-ping",
      "guest-sync-delimited",
      "guest-get-time",
      "guest-sync-delimited",
      "guest-ping",
    ]);
  } finally {
    c.close();
    p.close();
  }
});

test("an error reply is libvirt's 'unable to execute QEMU agent command'", async () => {
  const p = await peer((cmd, sock) => {
    sock.write(`{"error": {"class": "GenericError", "desc": "command ${cmd.execute} has been disabled"}}\n`);
  });
  const c = new AgentClient(p.path);
  try {
    await assert.rejects(c.command("guest-exec", { path: "/bin/true" }), (e: unknown) => {
      assert.ok(e instanceof VirtError);
      assert.equal(
        e.message,
        "internal error: unable to execute QEMU agent command 'guest-exec': command guest-exec has been disabled",
      );
      return true;
    });
  } finally {
    c.close();
    p.close();
  }
});

test("silence is 'Guest agent is not responding', and the next command still works", async () => {
  let calls = 0;
  const p = await peer((cmd, sock) => {
    calls++;
    // the first command is never answered (until too late); the second one is
    if (calls === 1) setTimeout(() => sock.write(`{"return": "late"}\n`), 1500);
    else sock.write(`{"return": {"ok": ${calls}}}\n`);
  });
  const c = new AgentClient(p.path);
  try {
    const started = Date.now();
    await assert.rejects(c.command("guest-ping", undefined, { timeout: 1 }), (e: unknown) => {
      assert.ok(e instanceof VirtError);
      assert.equal(e.message, "Guest agent is not responding: Guest agent not available for now");
      assert.equal(e.virCode, 86); // VIR_ERR_AGENT_UNRESPONSIVE
      return true;
    });
    assert.ok(Date.now() - started < 1400);
    assert.deepEqual(await c.command("guest-ping", undefined, { timeout: 5 }), { ok: 2 });
  } finally {
    c.close();
    p.close();
  }
});

test("bad JSON is refused before anything is sent; a closed client is 'not connected'", async () => {
  const p = await peer(() => undefined);
  const c = new AgentClient(p.path);
  try {
    assert.throws(() => c.raw("{not json"), /cannot parse json \{not json/);
    assert.deepEqual(p.seen, []);
    c.close();
    await assert.rejects(
      c.command("guest-ping"),
      /Guest agent is not responding: QEMU guest agent is not connected/,
    );
  } finally {
    p.close();
  }
});
