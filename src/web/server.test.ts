import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { DomainXMLFlags, connect, type Connection } from "../api/index.ts";
import { buildWebServer } from "./server.ts";
import { createToken, readTokens, revokeToken } from "./tokens.ts";
import { validateSchema as validate } from "../testing/web.ts";

let dir: string;
let conn: Connection;
let app: FastifyInstance;
let doc: Record<string, unknown>;
let admin: string;
let reader: string;
const auditLines: string[] = [];
const tokenFile = (): string => join(dir, "tokens.json");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tvirt-web-"));
  admin = (await createToken(tokenFile(), "admin", false)).token;
  reader = (await createToken(tokenFile(), "viewer", true)).token;
  conn = await connect("test:///default");
  app = await buildWebServer({
    conn,
    tokenFile: tokenFile(),
    audit: (l) => auditLines.push(l),
    authFailLimit: 5,
  });
  doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json();
});

after(async () => {
  await app.close();
  await conn.close();
  await rm(dir, { recursive: true, force: true });
});

/** Calls the API and checks the response body against the OpenAPI operation's schema. */
async function call(
  method: "GET" | "POST" | "PUT" | "DELETE",
  url: string,
  opts: { token?: string | null; body?: unknown; template?: string; ip?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = opts.token === undefined ? admin : opts.token;
  const res = await app.inject({
    method,
    url,
    remoteAddress: opts.ip ?? "127.0.0.1",
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
  });
  const body = res.body === "" ? {} : res.json<Record<string, unknown>>();
  const path = (opts.template ?? url).replace(/:([a-z]+)/g, "{$1}");
  const op = (doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[path]?.[
    method.toLowerCase()
  ];
  assert.ok(op, `OpenAPI has no ${method} ${path}`);
  const resp = (op.responses[String(res.statusCode)] ?? op.responses.default) as {
    content?: Record<string, { schema: Record<string, unknown> }>;
  };
  assert.ok(resp, `OpenAPI: no response ${res.statusCode} for ${method} ${path}`);
  const schema = resp.content?.["application/json"]?.schema;
  if (res.statusCode !== 204) {
    assert.ok(schema, `${method} ${path} ${res.statusCode}: no JSON schema`);
    assert.deepEqual(validate(schema, body, doc), [], `${method} ${url} ${res.statusCode}: ${res.body}`);
  }
  return { status: res.statusCode, body };
}

const newDomainXML = (name: string, extra = ""): string =>
  `<domain type='test'><name>${name}</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>` +
  `<os><type>hvm</type></os>${extra}</domain>`;

test("token file keeps only hashes, mode 0600; create/list/revoke", async () => {
  const f = join(dir, "t2.json");
  const { token } = await createToken(f, "alice", true);
  assert.match(token, /^tvirt_[A-Za-z0-9_-]{43}$/);
  const st = await stat(f);
  assert.equal(st.mode & 0o777, 0o600);
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(f, "utf8");
  assert.ok(!text.includes(token), "the token itself is not stored");
  assert.deepEqual(
    (await readTokens(f)).map((t) => [t.name, t.readOnly]),
    [["alice", true]],
  );
  await assert.rejects(createToken(f, "alice", false), { code: "WEB_TOKEN_EXISTS" });
  await assert.rejects(createToken(f, "bad name", false), { code: "WEB_TOKEN_NAME" });
  await revokeToken(f, "alice");
  assert.deepEqual(await readTokens(f), []);
  await assert.rejects(revokeToken(f, "alice"), { code: "WEB_NO_TOKEN" });
});

test("every read route answers per the OpenAPI document", async () => {
  const list = await call("GET", "/api/domains");
  assert.equal(list.status, 200);
  const doms = list.body.domains as { name: string; state: string; vcpus: number; memoryKiB: number }[];
  const t = doms.find((d) => d.name === "test");
  assert.ok(t);
  assert.equal(t.state, "running");
  assert.equal(t.vcpus, 2);
  assert.equal(t.memoryKiB, 2097152);
  const one = await call("GET", "/api/domains/test", { template: "/api/domains/:name" });
  assert.equal(one.status, 200);
  assert.match(one.body.xml as string, /<name>test<\/name>/);
  const nets = await call("GET", "/api/networks");
  assert.equal(nets.status, 200);
  assert.deepEqual(
    (nets.body.networks as { name: string }[]).map((n) => n.name),
    ["default"],
  );
  const pools = await call("GET", "/api/pools");
  assert.equal(pools.status, 200);
  assert.ok((pools.body.pools as { name: string }[]).some((p) => p.name === "default-pool"));
  const vols = await call("GET", "/api/pools/default-pool/volumes", { template: "/api/pools/:pool/volumes" });
  assert.equal(vols.status, 200);
  assert.ok(Array.isArray(vols.body.volumes));
  const host = await call("GET", "/api/host");
  assert.equal(host.status, 200);
  assert.equal(host.body.hypervisor, "TEST");
  const missing = await call("GET", "/api/domains/nosuch", { template: "/api/domains/:name" });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, "DOMAIN_NOT_FOUND");
  const nopool = await call("GET", "/api/pools/nosuch/volumes", { template: "/api/pools/:pool/volumes" });
  assert.equal(nopool.status, 404);
});

test("no token → 401, bad token → 401, openapi.json is public", async () => {
  const none = await call("GET", "/api/domains", { token: null, ip: "10.0.0.1" });
  assert.equal(none.status, 401);
  assert.equal(none.body.code, "WEB_AUTH_REQUIRED");
  const bad = await call("GET", "/api/domains", { token: "tvirt_nope", ip: "10.0.0.1" });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.code, "WEB_AUTH_FAILED");
  assert.equal((await app.inject({ method: "GET", url: "/api/openapi.json" })).statusCode, 200);
});

test("failed authentications are rate-limited per client address", async () => {
  for (let i = 0; i < 5; i++) {
    assert.equal((await call("GET", "/api/domains", { token: "x", ip: "10.0.0.9" })).status, 401);
  }
  const limited = await call("GET", "/api/domains", { token: admin, ip: "10.0.0.9" });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.code, "WEB_AUTH_RATE_LIMITED");
  // Another client is not affected.
  assert.equal((await call("GET", "/api/domains", { ip: "10.0.0.10" })).status, 200);
});

test("a read-only token reads, and gets 403 for every change with nothing changed", async () => {
  assert.equal((await call("GET", "/api/domains", { token: reader })).status, 200);
  const changes: ["POST" | "PUT" | "DELETE", string, string, unknown?][] = [
    ["POST", "/api/domains", "/api/domains", { xml: newDomainXML("ro1") }],
    ["PUT", "/api/domains/test/xml", "/api/domains/:name/xml", { xml: newDomainXML("test") }],
    ["DELETE", "/api/domains/test", "/api/domains/:name"],
    ["POST", "/api/domains/test/suspend", "/api/domains/:name/:action"],
    ["POST", "/api/domains/test/destroy", "/api/domains/:name/:action"],
  ];
  const before = await (await conn.lookupDomainByName("test")).getXMLDesc();
  for (const [m, url, template, body] of changes) {
    const r = await call(m, url, { token: reader, template, body });
    assert.equal(r.status, 403, `${m} ${url}`);
    assert.equal(r.body.code, "WEB_READ_ONLY_TOKEN");
  }
  await assert.rejects(conn.lookupDomainByName("ro1"), { code: "DOMAIN_NOT_FOUND" });
  const dom = await conn.lookupDomainByName("test");
  assert.equal((await dom.getState()).state, 1);
  assert.equal(await dom.getXMLDesc(), before);
  assert.ok(auditLines.some((l) => l.includes("token=viewer") && l.includes("denied")));
});

test("define, bad XML with xpath, edit with diff, lifecycle, undefine; audited", async () => {
  const bad = await call("POST", "/api/domains", { body: { xml: newDomainXML("w1", "<bogus/>") } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, "SCHEMA_VALIDATION_FAILED");
  assert.equal((bad.body.details as { xpath: string }).xpath, "/domain/bogus");
  const syntax = await call("POST", "/api/domains", { body: { xml: "<domain>" } });
  assert.equal(syntax.status, 400);
  const shape = await call("POST", "/api/domains", { body: { xml: 42 } });
  assert.equal(shape.status, 400);
  assert.equal(shape.body.code, "WEB_BAD_REQUEST");

  const made = await call("POST", "/api/domains", { body: { xml: newDomainXML("w1") } });
  assert.equal(made.status, 201);
  assert.equal((made.body.domain as { state: string }).state, "shutoff");

  const w1 = await conn.lookupDomainByName("w1");
  const stored = await w1.getXMLDesc(DomainXMLFlags.INACTIVE);
  const unchanged = await call("PUT", "/api/domains/w1/xml", {
    template: "/api/domains/:name/xml",
    body: { xml: stored },
  });
  assert.equal(unchanged.body.changed, false);
  assert.equal(unchanged.body.text, "Domain 'w1' XML configuration not changed.\n");
  const again409 = await call("POST", "/api/domains", { body: { xml: newDomainXML("w1") } });
  assert.equal(again409.status, 409, JSON.stringify(again409.body));
  const edited = await call("PUT", "/api/domains/w1/xml", {
    template: "/api/domains/:name/xml",
    body: { xml: stored.replace(/<vcpu[^>]*>1<\/vcpu>/, "<vcpu placement='static'>2</vcpu>") },
  });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.equal(edited.body.changed, true);
  assert.match(edited.body.text as string, /Domain 'w1' XML configuration edited\.\n$/);
  assert.ok((edited.body.appliesAtNextBoot as { xpath: string }[]).some((c) => c.xpath.includes("vcpu")));
  assert.equal((edited.body.domain as { vcpus: number }).vcpus, 2);
  const renamed = await call("PUT", "/api/domains/w1/xml", {
    template: "/api/domains/:name/xml",
    body: { xml: newDomainXML("other") },
  });
  assert.equal(renamed.status, 400);

  const act = (a: string) => call("POST", `/api/domains/w1/${a}`, { template: "/api/domains/:name/:action" });
  assert.equal((await act("start")).status, 200);
  const again = await act("start");
  assert.equal(again.status, 409, JSON.stringify(again.body));
  const s = await act("suspend");
  assert.equal((s.body.domain as { state: string }).state, "paused");
  assert.equal(((await act("resume")).body.domain as { state: string }).state, "running");
  assert.equal((await act("reboot")).status, 200);
  assert.equal(((await act("destroy")).body.domain as { state: string }).state, "shutoff");
  assert.equal((await act("frobnicate")).status, 400);
  const del = await call("DELETE", "/api/domains/w1", { template: "/api/domains/:name" });
  assert.equal(del.status, 204);
  assert.equal((await call("GET", "/api/domains/w1", { template: "/api/domains/:name" })).status, 404);
  assert.ok(auditLines.includes("web: token=admin POST /api/domains/w1/start -> 200"), auditLines.join("\n"));
  assert.ok(auditLines.includes("web: token=admin DELETE /api/domains/w1 -> 204"));
});

test("revoking a token takes effect at once", async () => {
  const { token } = await createToken(tokenFile(), "temp", false);
  assert.equal((await call("GET", "/api/domains", { token, ip: "10.1.0.1" })).status, 200);
  await revokeToken(tokenFile(), "temp");
  assert.equal((await call("GET", "/api/domains", { token, ip: "10.1.0.1" })).status, 401);
});

/** Opens /api/events on a listening server; resolves when subscribed. */
function subscribe(
  port: number,
  token: string,
): Promise<{ res: IncomingMessage; next: () => Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path: "/api/events",
      headers: { authorization: `Bearer ${token}` },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      res.setEncoding("utf8");
      let buf = "";
      const events: unknown[] = [];
      let waiter: ((v: unknown) => void) | undefined;
      let subscribed = false;
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (frame.startsWith(": subscribed") && !subscribed) {
            subscribed = true;
            resolve({
              res,
              next: () =>
                new Promise((r) => {
                  const e = events.shift();
                  if (e !== undefined) r(e);
                  else waiter = r;
                }),
            });
          }
          const data = /^data: (.*)$/m.exec(frame);
          if (data?.[1] !== undefined) {
            const ev = JSON.parse(data[1]) as unknown;
            if (waiter) {
              const w = waiter;
              waiter = undefined;
              w(ev);
            } else events.push(ev);
          }
        }
      });
    });
    req.end();
  });
}

test("SSE: 200 concurrent subscribers get a state change within 200 ms", async () => {
  const sse = await buildWebServer({ conn, tokenFile: tokenFile(), audit: () => undefined });
  await sse.listen({ host: "127.0.0.1", port: 0 });
  try {
    const port = (sse.server.address() as { port: number }).port;
    const noAuth = await new Promise<number>((r) => {
      request({ host: "127.0.0.1", port, path: "/api/events" }, (res) => {
        res.resume();
        r(res.statusCode ?? 0);
      }).end();
    });
    assert.equal(noAuth, 401);
    const subs = await Promise.all(Array.from({ length: 200 }, () => subscribe(port, reader)));
    const dom = await conn.lookupDomainByName("test");
    const t0 = performance.now();
    const got = Promise.all(subs.map((s) => s.next().then((e) => ({ e, ms: performance.now() - t0 }))));
    await dom.suspend();
    const results = await got;
    const worst = Math.max(...results.map((r) => r.ms));
    for (const { e } of results) {
      assert.deepEqual(validate({ $ref: "#/components/schemas/LifecycleEvent" }, e, doc), []);
      assert.equal((e as { event: string; domain: { name: string } }).event, "suspended");
      assert.equal((e as { domain: { name: string } }).domain.name, "test");
    }
    assert.ok(worst < 200, `slowest subscriber got the event after ${worst.toFixed(1)} ms`);
    process.stdout.write(`# 200 SSE subscribers: slowest ${worst.toFixed(1)} ms\n`);
    await dom.resume();
    for (const s of subs) s.res.destroy();
  } finally {
    await sse.close();
  }
});
