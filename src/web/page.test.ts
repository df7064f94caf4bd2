/**
 * The web page's server side without QEMU: console tickets, the view-only RFB filter, the
 * page's files and routes; and the page in headless Chromium on test:///default (log in, the
 * list, an action, the XML checked, diffed and saved, a bad XML refused with its XPath).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { WebSocket } from "ws";
import { connect } from "../api/index.ts";
import { launchChromium, pageUntil, textOf } from "../testing/browser.ts";
import { buildWebAssets } from "../../scripts/build-web.js";
import { TICKET_TTL_MS, Tickets, ViewOnlyFilter, isPublicPath } from "./consoles.ts";
import { buildWebServer } from "./server.ts";
import { createToken } from "./tokens.ts";

declare const sessionStorage: { getItem(key: string): string | null };
declare const document: {
  querySelector(sel: string): { textContent: string | null; hidden?: boolean; value?: string } | null;
};

const admin = { name: "admin", hash: "x", readOnly: false, created: "" };

test("tickets serve one connection, for one domain and console, within 30 s", () => {
  const t = new Tickets();
  const now = 1_000_000;
  const a = t.issue(admin, "vm1", "serial", now);
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(t.take(a, "vm1", "serial", now + 1), admin);
  assert.equal(t.take(a, "vm1", "serial", now + 2), undefined, "spent");
  const b = t.issue(admin, "vm1", "serial", now);
  assert.equal(t.take(b, "vm1", "vnc", now), undefined, "another console");
  assert.equal(t.take(b, "vm1", "serial", now), undefined, "a wrong try spends it too");
  const c = t.issue(admin, "vm1", "vnc", now);
  assert.equal(t.take(c, "vm2", "vnc", now), undefined, "another domain");
  const d = t.issue(admin, "vm1", "vnc", now);
  assert.equal(t.take(d, "vm1", "vnc", now + TICKET_TTL_MS), undefined, "expired");
  assert.equal(t.take("nope", "vm1", "vnc", now), undefined);
});

test("public paths: the page's files and the ticketed WebSockets, nothing of the API", () => {
  for (const p of ["/", "/index.html", "/app.js", "/app.css", "/ws/domains/x/serial?ticket=1"])
    assert.ok(isPublicPath(p), p);
  for (const p of ["/api/domains", "/api/tickets", "/app.js.map", "/wsx", "/api/ws/"])
    assert.ok(!isPublicPath(p), p);
});

test("a view-only VNC client's input is dropped, its picture requests pass", () => {
  const f = new ViewOnlyFilter();
  const version = Buffer.from("RFB 003.008\n");
  assert.deepEqual(f.push(version), version);
  assert.deepEqual(f.push(Buffer.from([1, 1])), Buffer.from([1, 1]), "security None, then ClientInit");
  const setEnc = Buffer.from([2, 0, 0, 2, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0x21]);
  const update = Buffer.from([3, 0, 0, 0, 0, 0, 0, 0x80, 0, 0x60]);
  const key = Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61]);
  const pointer = Buffer.from([5, 1, 0, 10, 0, 10]);
  const cut = Buffer.concat([Buffer.from([6, 0, 0, 0, 0, 0, 0, 3]), Buffer.from("abc")]);
  const qemuKey = Buffer.from([255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e]);
  const all = Buffer.concat([setEnc, key, pointer, cut, qemuKey, update]);
  // Byte by byte: messages split anywhere are reassembled.
  const out: Buffer[] = [];
  for (const byte of all) out.push(f.push(Buffer.from([byte]))!);
  assert.deepEqual(Buffer.concat(out), Buffer.concat([setEnc, update]));
  assert.equal(f.push(Buffer.from([99])), null, "an unknown message ends the connection");

  const auth = new ViewOnlyFilter();
  const resp = Buffer.alloc(16, 7);
  assert.equal(auth.push(Buffer.concat([version, Buffer.from([2]), resp, Buffer.from([1])]))?.length, 30);
  assert.equal(
    new ViewOnlyFilter().push(Buffer.concat([version, Buffer.from([19])])),
    null,
    "VeNCrypt is not parsed",
  );
});

test("the page's files, tickets, whoami and the persistent XML over HTTP", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-page-"));
  const conn = await connect("test:///default");
  const tokenFile = join(dir, "tokens.json");
  const { token } = await createToken(tokenFile, "admin", false);
  const { token: viewer } = await createToken(tokenFile, "viewer", true);
  const assetsDir = await buildWebAssets(join(dir, "web"));
  const app = await buildWebServer({ conn, tokenFile, assetsDir, audit: () => undefined });
  const missing = await buildWebServer({
    conn,
    tokenFile,
    assetsDir: join(dir, "none"),
    audit: () => undefined,
  });
  try {
    const auth = (tok: string) => ({ authorization: `Bearer ${tok}`, "content-type": "application/json" });
    const index = await app.inject({ url: "/" });
    assert.equal(index.statusCode, 200);
    assert.match(index.headers["content-type"] as string, /^text\/html/);
    assert.match(index.body, /<script type="module" src="\/app.js">/);
    const js = await app.inject({ url: "/app.js" });
    assert.equal(js.statusCode, 200);
    assert.ok(js.body.length > 100_000, "noVNC and xterm.js are in the bundle");
    assert.doesNotMatch(js.body, /https?:\/\/(cdn|unpkg|jsdelivr)/);
    assert.match((await app.inject({ url: "/app.css" })).body, /\.xterm/);
    const nb = await missing.inject({ url: "/" });
    assert.equal(nb.statusCode, 501);
    assert.equal((JSON.parse(nb.body) as { code: string }).code, "WEB_PAGE_NOT_BUILT");

    const post = (tok: string | undefined, body: unknown) =>
      app.inject({
        method: "POST",
        url: "/api/tickets",
        headers: tok === undefined ? { "content-type": "application/json" } : auth(tok),
        payload: JSON.stringify(body),
      });
    assert.equal((await post(undefined, { domain: "test", kind: "serial" })).statusCode, 401);
    assert.equal((await post(token, { domain: "nosuch", kind: "serial" })).statusCode, 404);
    assert.equal((await post(token, { domain: "test", kind: "spice" })).statusCode, 400);
    const ro = await post(viewer, { domain: "test", kind: "vnc" });
    assert.equal(ro.statusCode, 201, ro.body);
    const roj = JSON.parse(ro.body) as { url: string; readOnly: boolean; expiresInSeconds: number };
    assert.equal(roj.readOnly, true);
    assert.equal(roj.expiresInSeconds, 30);
    assert.match(roj.url, /^\/ws\/domains\/test\/vnc\?ticket=[A-Za-z0-9_-]{43}$/);

    const who = await app.inject({ url: "/api/whoami", headers: auth(viewer) });
    assert.deepEqual(JSON.parse(who.body), { name: "viewer", readOnly: true });
    const xml = await app.inject({ url: "/api/domains/test/xml", headers: auth(viewer) });
    assert.equal(xml.statusCode, 200);
    assert.match((JSON.parse(xml.body) as { xml: string }).xml, /^<domain type='test'>/);

    const doc = JSON.parse((await app.inject({ url: "/api/openapi.json" })).body) as {
      paths: Record<string, Record<string, unknown>>;
    };
    assert.ok(doc.paths["/api/tickets"]?.post);
    assert.ok(doc.paths["/api/whoami"]?.get);
    assert.ok(doc.paths["/api/domains/{name}/xml"]?.get && doc.paths["/api/domains/{name}/xml"].put);

    // A WebSocket without a (valid) ticket is refused before the upgrade.
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}`;
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(
        `${base.replace("http", "ws")}/ws/domains/test/serial?ticket=${"A".repeat(43)}`,
      );
      ws.on("open", () => {
        reject(new Error("opened without a ticket"));
      });
      ws.on("error", () => undefined);
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
    });
    assert.equal(refused.status, 401);
    assert.equal((JSON.parse(refused.body) as { code: string }).code, "WEB_TICKET");
  } finally {
    await app.close();
    await missing.close();
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "the page in Chromium on test:///default: log in, list, suspend, XML diff and save",
  { timeout: 90_000 },
  async (t) => {
    const browser = await launchChromium(t);
    if (!browser) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-page-"));
    const conn = await connect("test:///default");
    const tokenFile = join(dir, "tokens.json");
    const { token } = await createToken(tokenFile, "admin", false);
    const assetsDir = await buildWebAssets(join(dir, "web"));
    const app = await buildWebServer({ conn, tokenFile, assetsDir, audit: () => undefined });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const base = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}`;
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${base}/`);
      // No token yet: the login form; a wrong token is refused and the form comes back.
      await page.waitForSelector("form.login input");
      await page.type("form.login input", "wrong");
      await page.click("form.login button");
      await pageUntil(page, "the refusal", () =>
        /refused/.test(document.querySelector("#status")?.textContent ?? ""),
      );
      assert.equal(await page.evaluate(() => sessionStorage.getItem("tvirt.token")), null);
      await page.type("form.login input", token);
      await page.click("form.login button");
      await pageUntil(
        page,
        "the test domain running",
        () =>
          document.querySelector('tr[data-domain="test"] [data-field="state"]')?.textContent === "running",
      );
      assert.equal(await page.evaluate(() => sessionStorage.getItem("tvirt.token")), token);
      assert.equal(await page.evaluate(() => document.querySelector("#live")?.textContent), "● live");

      // An action from the list, and the list following it through the events.
      await page.click('tr[data-domain="test"] button[data-action="suspend"]');
      await pageUntil(
        page,
        "paused",
        () => document.querySelector('tr[data-domain="test"] [data-field="state"]')?.textContent === "paused",
      );
      // A change made elsewhere shows up too.
      await (await conn.lookupDomainByName("test")).resume();
      await pageUntil(
        page,
        "running again",
        () =>
          document.querySelector('tr[data-domain="test"] [data-field="state"]')?.textContent === "running",
      );

      // The guest page's XML: check and diff, then save (the server's edit report), then a bad one.
      await page.click('tr[data-domain="test"] a');
      await pageUntil(page, "the XML", () =>
        (document.querySelector("#xml")?.value ?? "").includes("<domain"),
      );
      await page.$eval("#xml", (e) => {
        const ta = e as unknown as { value: string };
        ta.value = ta.value.replace(
          /<currentMemory unit='KiB'>\d+<\/currentMemory>/,
          "<currentMemory unit='KiB'>1048576</currentMemory>",
        );
      });
      await page.click("#xml-check");
      const diff = await textOf(page, "#xml-diff");
      assert.match(
        diff,
        /^- {3}<currentMemory unit='KiB'>2097152<\/currentMemory>\n\+ {3}<currentMemory unit='KiB'>1048576<\/currentMemory>$/m,
      );
      await page.click("#xml-save");
      await pageUntil(page, "the edit report", () =>
        /XML configuration edited/.test(document.querySelector("#xml-result")?.textContent ?? ""),
      );
      const report = await textOf(page, "#xml-result");
      assert.match(report, /Applies at next boot:\n {2}.*currentMemory|Applies at next boot:\n {2}.*memory/);
      await page.$eval("#xml", (e) => {
        const ta = e as unknown as { value: string };
        ta.value = ta.value.replace("<vcpu placement='static'>", "<vcpu placement='bogus'>");
      });
      await page.click("#xml-save");
      await pageUntil(page, "the refusal", () =>
        /not saved/.test(document.querySelector("#xml-result")?.textContent ?? ""),
      );
      assert.match(
        await textOf(page, "#xml-result"),
        /^not saved: XML document failed to validate against schema[\s\S]*vcpu[\s\S]*\(at \/domain\)$/,
      );
      // Not well-formed: refused before anything is sent.
      await page.$eval(
        "#xml",
        (e) => ((e as unknown as { value: string }).value = "<domain><name>test</name>"),
      );
      await page.click("#xml-check");
      assert.match(await textOf(page, "#xml-diff"), /not well-formed XML/);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await app.close();
      await conn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
