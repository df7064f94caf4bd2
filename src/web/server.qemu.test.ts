/**
 * The REST API over qemu:///embed with a real TCG guest: define from XML, start, watch the
 * lifecycle over Server-Sent Events, list it running, suspend/resume and destroy over HTTP.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../api/index.ts";
import { makeTestRoot } from "../testing/qemu/driver.ts";
import { guestXML } from "../testing/qemu/driver.ts";
import { buildWebServer } from "./server.ts";
import { createToken } from "./tokens.ts";

test("REST API drives a real TCG guest and streams its lifecycle", { timeout: 180_000 }, async (t) => {
  const xml = await guestXML(t, { name: "web1", mode: "idle", memoryMiB: 96 });
  if (xml === undefined) return;
  const tr = makeTestRoot("tvirt-web-");
  const conn = await connect(tr.uri);
  const tokenFile = join(tr.root, "tokens.json");
  const { token } = await createToken(tokenFile, "admin", false);
  const app = await buildWebServer({ conn, tokenFile, audit: () => undefined });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}`;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const events: { event: string; domain: { name: string } }[] = [];
  const ac = new AbortController();
  try {
    const sse = await fetch(`${base}/api/events`, { headers, signal: ac.signal });
    assert.equal(sse.status, 200);
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buf += value ?? "";
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const data = /^data: (.*)$/m.exec(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (data?.[1]) events.push(JSON.parse(data[1]) as (typeof events)[number]);
        }
      }
    })();
    const waitEvent = async (name: string): Promise<number> => {
      const t0 = performance.now();
      while (!events.some((e) => e.event === name && e.domain.name === "web1")) {
        if (performance.now() - t0 > 60_000) assert.fail(`no ${name} event; got ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return performance.now() - t0;
    };
    interface Dom {
      name: string;
      state: string;
      memoryKiB: number;
    }
    interface Body {
      domain: Dom;
      domains: Dom[];
    }
    const api = async (
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; json: Body }> => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? { authorization: headers.authorization } : headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, json: (res.status === 204 ? {} : await res.json()) as Body };
    };

    const def = await api("POST", "/api/domains", { xml });
    assert.equal(def.status, 201, JSON.stringify(def.json));
    await waitEvent("defined");
    const started = await api("POST", "/api/domains/web1/start");
    assert.equal(started.status, 200, JSON.stringify(started.json));
    assert.equal(started.json.domain.state, "running");
    await waitEvent("started");
    const list = await api("GET", "/api/domains");
    const web1 = list.json.domains.find((d) => d.name === "web1");
    assert.ok(web1);
    assert.equal(web1.state, "running");
    assert.equal(web1.memoryKiB, 96 * 1024);
    assert.equal((await api("POST", "/api/domains/web1/start")).status, 409);
    assert.equal((await api("POST", "/api/domains/web1/suspend")).json.domain.state, "paused");
    await waitEvent("suspended");
    assert.equal((await api("POST", "/api/domains/web1/resume")).json.domain.state, "running");
    const destroyed = await api("POST", "/api/domains/web1/destroy");
    assert.equal(destroyed.json.domain.state, "shutoff");
    const ms = await waitEvent("stopped");
    assert.ok(ms < 1000, `stopped event after ${ms.toFixed(0)} ms`);
    assert.equal((await api("DELETE", "/api/domains/web1")).status, 204);
  } finally {
    ac.abort();
    await app.close();
    tr.track();
    await conn.close();
    await tr.cleanup();
  }
});
