/**
 * The REST API's XML bodies and documents and its node devices: `POST /api/domains` and
 * `PUT /api/domains/{name}/xml` with `Content-Type: application/xml`, `Accept:
 * application/xml` on a domain, the host and a node device, and `/api/nodedevs` and
 * `/api/domcapabilities` through an embedded QEMU driver (over a fake sysfs tree; the test driver
 * has neither: 501). Every reply is checked against the OpenAPI
 * document: its status and content type must be documented, and a JSON body must match.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { DomainXMLFlags, connect, type Connection } from "../api/index.ts";
import { openQemuConnection } from "../drivers/qemu/driver/index.ts";
import { makeFakeSysfs, type FakeSysfs } from "../testing/host/sysfs.ts";
import { TEST_DRIVER_OPTIONS } from "../testing/qemu/driver.ts";
import { validateSchema } from "../testing/web.ts";
import { buildWebServer } from "./server.ts";
import { createToken } from "./tokens.ts";
import { prefersXml } from "./xml.ts";

type Doc = Record<string, unknown>;
interface Op {
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  requestBody?: { content: Record<string, unknown> };
  parameters: { name: string; in: string }[];
}

function operation(doc: Doc, method: string, template: string): Op {
  const op = (doc.paths as Record<string, Record<string, Op>>)[template]?.[method.toLowerCase()];
  assert.ok(op, `OpenAPI has no ${method} ${template}`);
  return op;
}

interface Reply {
  status: number;
  type: string;
  text: string;
  body: Record<string, unknown>;
}

/** One call through `inject`, checked against the OpenAPI operation of `template`. */
async function call(
  app: FastifyInstance,
  doc: Doc,
  method: "GET" | "POST" | "PUT" | "DELETE",
  url: string,
  template: string,
  opts: { token?: string | null; xml?: string; json?: unknown; accept?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.accept !== undefined) headers.accept = opts.accept;
  if (opts.xml !== undefined) headers["content-type"] = "application/xml";
  const res = await app.inject({
    method,
    url,
    headers,
    ...(opts.xml !== undefined
      ? { payload: opts.xml }
      : opts.json !== undefined
        ? { payload: opts.json as object }
        : {}),
  });
  const type = String(res.headers["content-type"] ?? "").split(";")[0] ?? "";
  const op = operation(doc, method, template);
  if (opts.xml !== undefined)
    assert.ok(op.requestBody?.content["application/xml"], `${template}: XML body undocumented`);
  const resp = op.responses[String(res.statusCode)] ?? op.responses.default;
  assert.ok(resp, `OpenAPI: no response ${res.statusCode} for ${method} ${template}`);
  let body: Record<string, unknown> = {};
  if (res.statusCode !== 204) {
    const media = resp.content?.[type];
    assert.ok(media, `${method} ${url} ${res.statusCode}: content type ${type} undocumented`);
    if (type === "application/json") {
      body = res.json<Record<string, unknown>>();
      assert.deepEqual(validateSchema(media.schema, body, doc), [], `${method} ${url}: ${res.body}`);
    }
  }
  return { status: res.statusCode, type, text: res.body, body };
}

const domainXML = (name: string, vcpus = 1): string =>
  `<domain type='test'><name>${name}</name><memory unit='KiB'>131072</memory><vcpu>${vcpus}</vcpu>` +
  `<os><type>hvm</type></os></domain>`;

test("Accept negotiation: XML only when preferred to JSON", () => {
  assert.equal(prefersXml(undefined), false);
  assert.equal(prefersXml("application/xml"), true);
  assert.equal(prefersXml("text/xml"), true);
  assert.equal(prefersXml("application/json, application/xml"), false);
  assert.equal(prefersXml("application/xml, application/json"), true);
  assert.equal(prefersXml("application/json;q=0.5, application/xml"), true);
  assert.equal(prefersXml("application/xml;q=0, application/json;q=0.1"), false);
  assert.equal(prefersXml("*/*"), false);
});

describe("XML bodies and documents (test:///default)", () => {
  let dir: string;
  let conn: Connection;
  let app: FastifyInstance;
  let doc: Doc;
  let admin: string;
  let viewer: string;
  const audit: string[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvirt-web-xml-"));
    admin = (await createToken(join(dir, "t.json"), "admin", false)).token;
    viewer = (await createToken(join(dir, "t.json"), "viewer", true)).token;
    conn = await connect("test:///default");
    app = await buildWebServer({ conn, tokenFile: join(dir, "t.json"), audit: (l) => audit.push(l) });
    doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json();
  });
  after(async () => {
    await app.close();
    await conn.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("POST /api/domains with a raw XML body: 201, 400 with the XPath, 401, 403", async () => {
    const c = (xml: string, token: string | null = admin, q = "") =>
      call(app, doc, "POST", `/api/domains${q}`, "/api/domains", { token, xml });
    assert.equal((await c(domainXML("x1"), null)).status, 401);
    const ro = await c(domainXML("x1"), viewer);
    assert.equal(ro.status, 403);
    assert.equal(ro.body.code, "WEB_READ_ONLY_TOKEN");
    await assert.rejects(conn.lookupDomainByName("x1"), { code: "DOMAIN_NOT_FOUND" });
    const made = await c(domainXML("x1"));
    assert.equal(made.status, 201, made.text);
    assert.equal((made.body.domain as { name: string }).name, "x1");
    const bad = await c(domainXML("x2").replace("</domain>", "<bogus/></domain>"));
    assert.equal(bad.status, 400, bad.text);
    assert.equal((bad.body.details as { xpath: string }).xpath, "/domain/bogus");
    // ?validate=false skips libvirt's schema, as define without --validate
    const loose = await c(
      domainXML("x2").replace("</domain>", "<bogus/></domain>"),
      admin,
      "?validate=false",
    );
    assert.equal(loose.status, 201, loose.text);
    assert.equal((await c(domainXML("x3"), admin, "?validate=maybe")).status, 400);
    assert.equal((await c("")).status, 400);
    assert.equal((await c("<domain>")).status, 400);
    assert.ok(audit.some((l) => /^web: token=admin POST \/api\/domains -> 201$/.test(l)));
  });

  test("PUT /api/domains/{name}/xml with a raw XML body reports the edit", async () => {
    const dom = await conn.lookupDomainByName("x1");
    const stored = await dom.getXMLDesc(DomainXMLFlags.INACTIVE);
    const put = (xml: string, token = admin) =>
      call(app, doc, "PUT", "/api/domains/x1/xml", "/api/domains/{name}/xml", { token, xml });
    const same = await put(stored);
    assert.equal(same.status, 200, same.text);
    assert.equal(same.body.changed, false);
    assert.equal(
      (await put(stored.replace(/<vcpu[^>]*>1</, "<vcpu placement='static'>3<"), viewer)).status,
      403,
    );
    const edited = await put(stored.replace(/<vcpu[^>]*>1</, "<vcpu placement='static'>3<"));
    assert.equal(edited.status, 200, edited.text);
    assert.equal(edited.body.changed, true);
    assert.equal((edited.body.domain as { vcpus: number }).vcpus, 3);
    assert.equal((await put(domainXML("other"))).status, 400);
  });

  test("GET with Accept: application/xml gives the XML document", async () => {
    const dom = await conn.lookupDomainByName("test");
    const x = await call(app, doc, "GET", "/api/domains/test", "/api/domains/{name}", {
      token: viewer,
      accept: "application/xml",
    });
    assert.equal(x.status, 200);
    assert.equal(x.type, "application/xml");
    assert.equal(x.text, await dom.getXMLDesc(DomainXMLFlags.SECURE));
    const j = await call(app, doc, "GET", "/api/domains/test", "/api/domains/{name}", { token: viewer });
    assert.equal(j.type, "application/json");
    assert.equal(j.body.xml, x.text);
    // errors stay JSON whatever was asked for
    const missing = await call(app, doc, "GET", "/api/domains/nosuch", "/api/domains/{name}", {
      token: viewer,
      accept: "application/xml",
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "DOMAIN_NOT_FOUND");
    assert.equal(
      (await call(app, doc, "GET", "/api/domains/test", "/api/domains/{name}", { accept: "application/xml" }))
        .status,
      401,
    );
    const caps = await call(app, doc, "GET", "/api/host", "/api/host", { token: viewer, accept: "text/xml" });
    assert.equal(caps.type, "application/xml");
    assert.equal(caps.text, await conn.getCapabilities());
  });

  test("node devices on a driver without them: 501 in the catalogue's JSON", async () => {
    const r = await call(app, doc, "GET", "/api/nodedevs", "/api/nodedevs", { token: viewer });
    assert.equal(r.status, 501);
    assert.equal(r.body.code, "API_NO_SUPPORT");
  });

  test("domain capabilities on a driver without them: 501; 401 without a token", async () => {
    const r = await call(app, doc, "GET", "/api/domcapabilities", "/api/domcapabilities", { token: viewer });
    assert.equal(r.status, 501, r.text);
    assert.equal(r.body.code, "API_NO_SUPPORT");
    const anon = await call(app, doc, "GET", "/api/domcapabilities", "/api/domcapabilities", { token: null });
    assert.equal(anon.status, 401);
    assert.equal(anon.body.code, "WEB_AUTH_REQUIRED");
  });

  test("the OpenAPI document names the XML bodies, documents and query parameters", () => {
    const post = operation(doc, "POST", "/api/domains");
    assert.deepEqual(Object.keys(post.requestBody?.content ?? {}), ["application/json", "application/xml"]);
    assert.deepEqual(
      post.parameters.map((p) => `${p.in}:${p.name}`),
      ["query:validate"],
    );
    for (const p of ["/api/domains/{name}", "/api/host", "/api/nodedevs/{name}", "/api/domcapabilities"])
      assert.ok(operation(doc, "GET", p).responses["200"]?.content?.["application/xml"], p);
    assert.deepEqual(
      operation(doc, "GET", "/api/nodedevs").parameters.map((p) => `${p.in}:${p.name}`),
      ["query:cap"],
    );
    assert.deepEqual(
      operation(doc, "GET", "/api/domcapabilities").parameters.map((p) => `${p.in}:${p.name}`),
      ["query:emulator", "query:arch", "query:machine", "query:virttype"],
    );
  });
});

describe("node devices (qemu:///embed over a fake sysfs tree)", () => {
  let fs: FakeSysfs;
  let root: string;
  let drv: Awaited<ReturnType<typeof openQemuConnection>>;
  let conn: Connection;
  let app: FastifyInstance;
  let doc: Doc;
  let viewer: string;
  before(async () => {
    fs = makeFakeSysfs({
      pci: [
        {
          addr: "0000:00:19.0",
          driver: "e1000e",
          group: 6,
          net: { name: "eno1", up: true, mac: "aa:bb:cc:dd:ee:01" },
        },
        { addr: "0000:03:00.0", driver: "e1000e", group: 5 },
      ],
      usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" }],
    });
    root = await mkdtemp(join(tmpdir(), "tvirt-web-nodedev-"));
    const uri = `qemu:///embed?root=${root}`;
    // the driver instance of the root, made with the fake tree; connect() opens the same one
    drv = await openQemuConnection({ kind: "embed", root }, uri, {
      ...TEST_DRIVER_OPTIONS,
      autostart: false,
      sysfsRoot: fs.root,
    });
    conn = await connect(uri);
    viewer = (await createToken(join(root, "t.json"), "viewer", true)).token;
    app = await buildWebServer({ conn, tokenFile: join(root, "t.json"), audit: () => undefined });
    doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json();
  });
  after(async () => {
    await app.close();
    await conn.close();
    await drv.connectClose();
    fs.dispose();
    await rm(root, { recursive: true, force: true });
  });

  test("GET /api/nodedevs lists them as nodedev-list does; ?cap filters", async () => {
    const r = await call(app, doc, "GET", "/api/nodedevs", "/api/nodedevs", { token: viewer });
    assert.equal(r.status, 200, r.text);
    const devs = r.body.nodedevs as { name: string; parent: string | null; caps: string[] }[];
    const names = devs.map((d) => d.name);
    assert.deepEqual(new Set(names), new Set((await conn.listAllNodeDevices()).map((d) => d.name)));
    assert.ok(names.includes("pci_0000_00_19_0"), names.join(" "));
    assert.ok(names.includes("net_eno1_aa_bb_cc_dd_ee_01"), names.join(" "));
    assert.equal(devs.find((d) => d.name === "computer")?.parent, null);
    assert.equal(devs.find((d) => d.name === "net_eno1_aa_bb_cc_dd_ee_01")?.parent, "pci_0000_00_19_0");
    const pci = await call(app, doc, "GET", "/api/nodedevs?cap=pci", "/api/nodedevs", { token: viewer });
    const pciNames = (pci.body.nodedevs as { name: string }[]).map((d) => d.name).sort();
    assert.deepEqual(pciNames, ["pci_0000_00_19_0", "pci_0000_03_00_0"]);
    assert.equal(
      (await call(app, doc, "GET", "/api/nodedevs", "/api/nodedevs", { token: null })).status,
      401,
    );
  });

  test("GET /api/nodedevs/{name}: summary and XML, the XML alone, 404", async () => {
    const dev = await conn.lookupNodeDeviceByName("pci_0000_00_19_0");
    const r = await call(app, doc, "GET", "/api/nodedevs/pci_0000_00_19_0", "/api/nodedevs/{name}", {
      token: viewer,
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.nodedev, {
      name: "pci_0000_00_19_0",
      parent: "computer",
      caps: await dev.listCaps(),
    });
    assert.equal(r.body.xml, await dev.getXMLDesc());
    const x = await call(app, doc, "GET", "/api/nodedevs/pci_0000_00_19_0", "/api/nodedevs/{name}", {
      token: viewer,
      accept: "application/xml",
    });
    assert.equal(x.type, "application/xml");
    assert.match(x.text, /^<device>\n {2}<name>pci_0000_00_19_0<\/name>/);
    const missing = await call(app, doc, "GET", "/api/nodedevs/nosuch", "/api/nodedevs/{name}", {
      token: viewer,
    });
    assert.equal(missing.status, 404, missing.text);
  });

  test("GET /api/domcapabilities: the summary, the XML alone, the query as domcapabilities takes it", async () => {
    const get = (q: string, opts: { token?: string | null; accept?: string } = {}) =>
      call(app, doc, "GET", `/api/domcapabilities${q}`, "/api/domcapabilities", { token: viewer, ...opts });
    const xml = await conn.getDomainCapabilities();
    const r = await get("");
    assert.equal(r.status, 200, r.text);
    const b = r.body as {
      path: string;
      domain: string;
      arch: string;
      machine: string | null;
      vcpuMax: number | null;
      cpu: { modes: { name: string; supported: boolean }[]; usableModels: string[] };
      devices: { name: string; supported: boolean; enums: Record<string, string[]> }[];
      features: { name: string }[];
    };
    // each field as the document says it
    assert.equal(`<path>${b.path}</path>`, /<path>[^<]*<\/path>/.exec(xml)?.[0]);
    assert.equal(b.domain, /<domain>([^<]*)<\/domain>/.exec(xml)?.[1]);
    assert.equal(b.arch, /<arch>([^<]*)<\/arch>/.exec(xml)?.[1]);
    assert.equal(b.machine, /<machine>([^<]*)<\/machine>/.exec(xml)?.[1]);
    assert.equal(b.vcpuMax, Number(/<vcpu max='(\d+)'/.exec(xml)?.[1]));
    assert.deepEqual(
      b.cpu.modes.map((m) => `${m.name}=${m.supported}`),
      [...xml.matchAll(/<mode name='([^']+)' supported='(yes|no)'/g)].map((m) => `${m[1]}=${m[2] === "yes"}`),
    );
    assert.equal(b.cpu.usableModels.length, [...xml.matchAll(/<model usable='yes'/g)].length);
    const disk = b.devices.find((d) => d.name === "disk");
    assert.equal(disk?.supported, true);
    assert.ok(disk.enums.bus?.includes("virtio"), JSON.stringify(disk.enums));
    assert.ok(b.features.length > 0);

    const x = await get("", { accept: "application/xml" });
    assert.equal(x.status, 200);
    assert.equal(x.type, "application/xml");
    assert.equal(x.text, xml);
    // the query goes to the library as domcapabilities' options
    const q = await get(`?arch=x86_64&virttype=qemu&machine=pc&emulator=${encodeURIComponent(b.path)}`, {
      accept: "application/xml",
    });
    assert.equal(q.status, 200, q.text);
    assert.equal(
      q.text,
      await conn.getDomainCapabilities({
        arch: "x86_64",
        virttype: "qemu",
        machine: "pc",
        emulatorbin: b.path,
      }),
    );
    const badMachine = await get("?machine=nosuch");
    assert.equal(badMachine.status, 400, badMachine.text);
    assert.match(String(badMachine.body.message), /the machine 'nosuch' is not supported by emulator/);
    const badArch = await get("?arch=nosuch");
    assert.equal(badArch.status, 400, badArch.text);
    assert.match(String(badArch.body.message), /nosuch/);
    const typo = await get("?emulatorbin=/usr/bin/qemu-system-x86_64");
    assert.equal(typo.status, 400, typo.text);
    assert.equal(typo.body.code, "WEB_BAD_REQUEST");
    assert.equal((await get("", { token: null })).status, 401);
    assert.equal((await get("", { token: null, accept: "application/xml" })).status, 401);
  });
});
