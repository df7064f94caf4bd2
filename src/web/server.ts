/**
 * The web face's REST API (issue 16, first slice): JSON resources over one library
 * `Connection`, bearer-token authentication with a read-only role, lifecycle events as
 * Server-Sent Events, and the OpenAPI document made from the routes' own schemas.
 *
 * No cookies are read or set: a browser cannot attach the `Authorization` header to a forged
 * cross-site request, so the API is CSRF-safe by construction.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import {
  DomainDefineFlags,
  DomainEventType,
  DomainXMLFlags,
  VirtError,
  describeChange,
  diffDomainXML,
  formatDomainXML,
  isVirtError,
  parseDomainXML,
  parseXmlTree,
  selectNodes,
  selectString,
  toVirtError,
  type Connection,
  type Domain,
  type DomainChange,
} from "../api/index.ts";
import {
  ActionParam,
  DomainDetailSchema,
  DomainListSchema,
  DomainResultSchema,
  DomainSummarySchema,
  EditResultSchema,
  ErrorSchema,
  HostSchema,
  LifecycleEventSchema,
  NameParam,
  NetworkListSchema,
  PoolListSchema,
  PoolParam,
  VolumeListSchema,
  XmlBodySchema,
} from "./schemas.ts";
import { domainCapsRoutes } from "./domcaps.ts";
import { nodeDevRoutes } from "./nodedevs.ts";
import type { RouteDef } from "./route.ts";
import { readTokens, verifyToken, type TokenEntry } from "./tokens.ts";
import { Tickets, isPublicPath, pageRoutes, registerConsoles } from "./consoles.ts";
import { XmlQuery, prefersXml, registerXmlBodies, wrapXmlBody } from "./xml.ts";

/** Routes are declared in route.ts (shared by nodedevs.ts and the page's routes). */
export type { RouteDef } from "./route.ts";

export interface WebOptions {
  /** The connection the API serves. The caller owns it (the server does not close it). */
  readonly conn: Connection;
  /** The token file (`tvirsh web-token`); re-read when it changes, so revocation is immediate. */
  readonly tokenFile: string;
  /** Where the audit lines go (one per change made over HTTP); default stderr. */
  readonly audit?: (line: string) => void;
  /** The built web page (default dist/web, or TVIRT_WEB_ASSETS; see consoles.ts). */
  readonly assetsDir?: string;
  /** Failed authentications allowed per client address and window (default 10 per 60 s). */
  readonly authFailLimit?: number;
  readonly authFailWindowMs?: number;
}

const STATE_NAMES = [
  "nostate",
  "running",
  "blocked",
  "paused",
  "shutdown",
  "shutoff",
  "crashed",
  "pmsuspended",
] as const;

const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DomainEventType).map(([k, v]) => [v, k.toLowerCase()]),
);

/** The HTTP status for a catalogue error. */
export function httpStatusOf(e: VirtError): number {
  switch (e.code) {
    case "WEB_AUTH_RATE_LIMITED":
      return 429;
    case "WEB_NO_ROUTE":
      return 404;
    default:
      // "domain 'x' already exists" is OPERATION_FAILED in libvirt; over HTTP it is a conflict.
      if (e.code.endsWith("_EXISTS")) return 409;
      break;
  }
  switch (e.virCode) {
    case 42: // NO_DOMAIN
    case 43: // NO_NETWORK
    case 49: // NO_STORAGE_POOL
    case 50: // NO_STORAGE_VOL
    case 53: // NO_NODE_DEVICE
    case 72: // NO_DOMAIN_SNAPSHOT
      return 404;
    case 45: // AUTH_FAILED
      return 401;
    case 29: // OPERATION_DENIED
    case 88: // ACCESS_DENIED
      return 403;
    case 55: // OPERATION_INVALID: the object's state does not allow it
    case 28: // DOM_EXIST
    case 37: // NETWORK_EXIST
    case 90: // STORAGE_VOL_EXIST
      return 409;
    case 3: // NO_SUPPORT
      return 501;
    case 1: // INTERNAL_ERROR classified "user": the test driver's "domain 'x' not running"
      return e.kind === "user" ? 409 : 500;
    default:
      return e.kind === "user" ? 400 : 500;
  }
}

interface Authed {
  token?: TokenEntry;
}

async function summaryOf(dom: Domain): Promise<Record<string, unknown>> {
  const info = await dom.getInfo();
  const persistent = await dom.isPersistent();
  return {
    name: dom.name,
    uuid: dom.uuid,
    id: dom.id >= 0 ? dom.id : null,
    state: STATE_NAMES[info.state],
    stateCode: info.state,
    vcpus: info.nrVirtCpu,
    memoryKiB: info.memory,
    maxMemoryKiB: info.maxMem,
    persistent,
  };
}

function changeJson(c: DomainChange): Record<string, unknown> {
  return { kind: c.kind, subject: c.subject, xpath: c.xpath, details: c.details, text: describeChange(c) };
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : [`${title}\n`, ...lines.map((l) => `  ${l}\n`)];
}

/** PUT .../xml: define the new XML and report as `tvirsh edit` does. */
async function editDomain(conn: Connection, dom: Domain, xml: string, validate: boolean): Promise<object> {
  const flags = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE;
  const before = await dom.getXMLDesc(flags);
  if (before === xml) {
    return {
      domain: await summaryOf(dom),
      changed: false,
      running: await dom.isActive(),
      normalised: [],
      defaults: [],
      appliesAtNextBoot: [],
      text: `Domain '${dom.name}' XML configuration not changed.\n`,
    };
  }
  let preview:
    | {
        dropped: { code: string; xpath: string; message: string }[];
        normalised: DomainChange[];
        canonical: string;
      }
    | undefined;
  try {
    const { def, warnings } = parseDomainXML(xml, { noDefaults: true });
    const canonical = formatDomainXML(def, { secure: true });
    const normalised = diffDomainXML(xml, canonical, { ignoreOld: warnings.map((w) => w.xpath) });
    preview = {
      dropped: warnings.map((w) => ({
        code: w.code,
        xpath: w.xpath,
        message: w.message.replace(/ was ignored$/, ""),
      })),
      normalised,
      canonical,
    };
  } catch {
    preview = undefined; // the define reports the error the driver's way
  }
  const target = await conn.defineXMLFlags(xml, validate ? DomainDefineFlags.VALIDATE : 0);
  const stored = await target.getXMLDesc(flags);
  const defaults = diffDomainXML(preview ? preview.canonical : xml, stored);
  const running = await target.isActive();
  const nextBoot = running
    ? diffDomainXML(await target.getXMLDesc(DomainXMLFlags.SECURE), stored, { oldIsLive: true })
    : diffDomainXML(before, stored);
  const text = [
    ...section(
      "Unknown to tvirt, dropped by the new definition:",
      (preview?.dropped ?? []).map((d) => d.message),
    ),
    ...section("Rewritten to canonical form:", (preview?.normalised ?? []).map(describeChange)),
    ...section("Filled in by the driver (defaults):", defaults.map(describeChange)),
    ...(running
      ? [
          "Applies now: nothing (edit changes the persistent definition; the running domain keeps its configuration)\n",
          ...(nextBoot.length > 0
            ? section("Applies at next boot:", nextBoot.map(describeChange))
            : ["Applies at next boot: nothing (the new definition matches the running configuration)\n"]),
        ]
      : section("Applies at next start:", nextBoot.map(describeChange))),
    `Domain '${target.name}' XML configuration edited.\n`,
  ].join("");
  return {
    domain: await summaryOf(target),
    changed: true,
    running,
    dropped: preview?.dropped ?? [],
    normalised: (preview?.normalised ?? []).map(changeJson),
    defaults: defaults.map(changeJson),
    appliesAtNextBoot: nextBoot.map(changeJson),
    text,
  };
}

async function hostSummary(conn: Connection): Promise<object> {
  const [uri, hostname, hypervisor, libVersion, node, caps] = await Promise.all([
    conn.getURI(),
    conn.getHostname(),
    conn.getType(),
    conn.getLibVersion(),
    conn.nodeGetInfo(),
    conn.getCapabilities(),
  ]);
  const doc = parseXmlTree(caps);
  const guests = selectNodes(doc, "/capabilities/guest")
    .filter((g) => g.kind === "element")
    .map((g) => ({
      osType: selectString(g, "os_type"),
      arch: selectString(g, "arch/@name"),
      domainTypes: selectNodes(g, "arch/domain/@type").map((n) => (n.kind === "element" ? "" : n.value)),
    }));
  return {
    uri,
    hostname,
    hypervisor,
    libVersion,
    node: {
      model: node.model,
      memoryKiB: node.memory,
      cpus: node.cpus,
      mhz: node.mhz,
      nodes: node.nodes,
      sockets: node.sockets,
      cores: node.cores,
      threads: node.threads,
    },
    arch: selectString(doc, "/capabilities/host/cpu/arch"),
    guests,
  };
}

/** Tokens, re-read when the file's mtime or size changes. */
class TokenStore {
  private key = "";
  private tokens: TokenEntry[] = [];
  constructor(readonly file: string) {}

  async current(): Promise<TokenEntry[]> {
    let key = "missing";
    try {
      const st = await stat(this.file);
      key = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      // missing: no tokens, so nobody gets in
    }
    if (key !== this.key) {
      this.tokens = key === "missing" ? [] : await readTokens(this.file);
      this.key = key;
    }
    return this.tokens;
  }
}

/** Failed authentications per client address in a fixed window. */
class FailLimiter {
  private readonly fails = new Map<string, { count: number; since: number }>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until `client` may try again, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const f = this.fails.get(client);
    if (!f) return 0;
    if (now - f.since >= this.windowMs) {
      this.fails.delete(client);
      return 0;
    }
    return f.count >= this.limit ? Math.ceil((f.since + this.windowMs - now) / 1000) : 0;
  }

  fail(client: string, now = Date.now()): void {
    // Bounded: past many clients, the expired windows go (an address space is large).
    if (this.fails.size >= 10_000) {
      for (const [c, f] of this.fails) if (now - f.since >= this.windowMs) this.fails.delete(c);
    }
    const f = this.fails.get(client);
    if (!f || now - f.since >= this.windowMs) this.fails.set(client, { count: 1, since: now });
    else f.count++;
  }
}

/** Builds the Fastify app (not listening yet: call `listen`, or `inject` in tests). */
export async function buildWebServer(opts: WebOptions): Promise<FastifyInstance> {
  const { conn } = opts;
  const audit = opts.audit ?? ((line: string) => process.stderr.write(line + "\n"));
  const store = new TokenStore(opts.tokenFile);
  const limiter = new FailLimiter(opts.authFailLimit ?? 10, opts.authFailWindowMs ?? 60_000);
  const app = Fastify({
    logger: false,
    // Ajv would otherwise coerce and strip silently; a wrong type is the client's error.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    forceCloseConnections: true,
  });

  const subscribers = new Set<ServerResponse>();
  const lookup = (req: FastifyRequest): Promise<Domain> =>
    conn.lookupDomainByName((req.params as { name: string }).name);

  const routes: RouteDef[] = [
    {
      method: "GET",
      url: "/api/domains",
      write: false,
      summary: "List domains with state, vcpus and memory",
      ok: { status: 200, schema: DomainListSchema },
      async handler() {
        const doms = await conn.listAllDomains();
        return { domains: await Promise.all(doms.map(summaryOf)) };
      },
    },
    {
      method: "GET",
      url: "/api/domains/:name",
      write: false,
      summary: "A domain's summary and XML (Accept: application/xml gives the XML alone)",
      params: NameParam,
      ok: { status: 200, schema: DomainDetailSchema },
      async handler(req) {
        const dom = await lookup(req);
        return { domain: await summaryOf(dom), xml: await dom.getXMLDesc(DomainXMLFlags.SECURE) };
      },
      xml: async (req) => (await lookup(req)).getXMLDesc(DomainXMLFlags.SECURE),
    },
    {
      method: "POST",
      url: "/api/domains",
      write: true,
      summary: "Define a domain from XML (validated against libvirt's schema unless validate is false)",
      query: XmlQuery,
      body: XmlBodySchema,
      xmlBody: true,
      ok: { status: 201, schema: DomainResultSchema },
      async handler(req, reply) {
        const body = req.body as { xml: string; validate?: boolean };
        const dom = await conn.defineXMLFlags(
          body.xml,
          body.validate === false ? 0 : DomainDefineFlags.VALIDATE,
        );
        reply.code(201);
        return { domain: await summaryOf(dom) };
      },
    },
    {
      method: "PUT",
      url: "/api/domains/:name/xml",
      write: true,
      summary: "Replace a domain's persistent XML; returns the changes as `tvirsh edit` reports them",
      params: NameParam,
      query: XmlQuery,
      body: XmlBodySchema,
      xmlBody: true,
      ok: { status: 200, schema: EditResultSchema },
      async handler(req) {
        const dom = await lookup(req);
        const body = req.body as { xml: string; validate?: boolean };
        const parsed = parseXmlTree(body.xml);
        const name = selectString(parsed, "/domain/name");
        if (name !== dom.name) {
          throw new VirtError("WEB_BAD_REQUEST", {
            method: "PUT",
            path: req.url,
            reason: `the XML names domain '${name}', not '${dom.name}' (rename is not an edit)`,
          });
        }
        return editDomain(conn, dom, body.xml, body.validate !== false);
      },
    },
    {
      method: "DELETE",
      url: "/api/domains/:name",
      write: true,
      summary: "Undefine a domain (a running one becomes transient)",
      params: NameParam,
      ok: { status: 204 },
      async handler(req, reply) {
        const dom = await lookup(req);
        await dom.undefine();
        reply.code(204);
        return null;
      },
    },
    {
      method: "POST",
      url: "/api/domains/:name/:action",
      write: true,
      summary: "start, shutdown, reboot, destroy, suspend or resume a domain",
      params: ActionParam,
      ok: { status: 200, schema: DomainResultSchema },
      async handler(req) {
        const dom = await lookup(req);
        const action = (req.params as { action: string }).action;
        switch (action) {
          case "start":
            await dom.create();
            break;
          case "shutdown":
            await dom.shutdown();
            break;
          case "reboot":
            await dom.reboot();
            break;
          case "destroy":
            await dom.destroy();
            break;
          case "suspend":
            await dom.suspend();
            break;
          case "resume":
            await dom.resume();
            break;
          default:
            break;
        }
        // Fresh handle: the id changes on start and stop.
        return { domain: await summaryOf(await conn.lookupDomainByUUIDString(dom.uuid)) };
      },
    },
    {
      method: "GET",
      url: "/api/networks",
      write: false,
      summary: "List virtual networks",
      ok: { status: 200, schema: NetworkListSchema },
      async handler() {
        const nets = await conn.listAllNetworks();
        return {
          networks: await Promise.all(
            nets.map(async (n) => ({
              name: n.name,
              uuid: n.uuid,
              active: await n.isActive(),
              persistent: await n.isPersistent(),
              autostart: await n.getAutostart(),
            })),
          ),
        };
      },
    },
    {
      method: "GET",
      url: "/api/pools",
      write: false,
      summary: "List storage pools",
      ok: { status: 200, schema: PoolListSchema },
      async handler() {
        const pools = await conn.listAllStoragePools();
        return {
          pools: await Promise.all(
            pools.map(async (p) => {
              const info = await p.getInfo();
              return {
                name: p.name,
                uuid: p.uuid,
                active: await p.isActive(),
                persistent: await p.isPersistent(),
                autostart: await p.getAutostart(),
                capacity: info.capacity,
                allocation: info.allocation,
                available: info.available,
              };
            }),
          ),
        };
      },
    },
    {
      method: "GET",
      url: "/api/pools/:pool/volumes",
      write: false,
      summary: "List a storage pool's volumes",
      params: PoolParam,
      ok: { status: 200, schema: VolumeListSchema },
      async handler(req) {
        const pool = await conn.storagePoolLookupByName((req.params as { pool: string }).pool);
        const vols = await pool.listAllVolumes();
        return {
          pool: pool.name,
          volumes: await Promise.all(
            vols.map(async (v) => {
              const info = await v.getInfo();
              return {
                name: v.name,
                key: v.key,
                path: await v.getPath(),
                type: info.type,
                capacity: info.capacity,
                allocation: info.allocation,
              };
            }),
          ),
        };
      },
    },
    {
      method: "GET",
      url: "/api/host",
      write: false,
      summary: "Host capabilities summary (Accept: application/xml gives the capabilities XML)",
      ok: { status: 200, schema: HostSchema },
      handler: () => hostSummary(conn),
      xml: () => conn.getCapabilities(),
    },
    {
      method: "GET",
      url: "/api/events",
      write: false,
      summary: "Domain lifecycle events as Server-Sent Events (event: lifecycle, data: LifecycleEvent)",
      ok: { status: 200, contentType: "text/event-stream" },
      handler(req, reply) {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
          "x-accel-buffering": "no",
        });
        // A first comment tells the client it is subscribed.
        res.write(": subscribed\n\n");
        subscribers.add(res);
        req.raw.on("close", () => subscribers.delete(res));
        return Promise.resolve(undefined);
      },
    },
  ];
  // The page's consoles (consoles.ts): tickets for its WebSockets.
  const tickets = new Tickets();
  routes.push(...pageRoutes(tickets, conn));

  routes.push(...nodeDevRoutes(conn));
  routes.push(...domainCapsRoutes(conn));
  registerXmlBodies(app);

  const callbackID = await conn.onLifecycle((dom, event, detail) => {
    const data = JSON.stringify({
      domain: { name: dom.name, uuid: dom.uuid },
      event: EVENT_NAMES[event] ?? String(event),
      eventCode: event,
      detail,
    });
    const frame = `event: lifecycle\ndata: ${data}\n\n`;
    for (const res of subscribers) res.write(frame);
  });
  const heartbeat = setInterval(() => {
    for (const res of subscribers) res.write(": keepalive\n\n");
  }, 15_000);
  heartbeat.unref();

  app.addHook("preClose", async () => {
    clearInterval(heartbeat);
    for (const res of subscribers) res.end();
    subscribers.clear();
    await conn.domainEventDeregisterAny(callbackID).catch(() => undefined);
  });

  const sendError = (reply: FastifyReply, err: VirtError): FastifyReply => {
    const status = httpStatusOf(err);
    if (err.code === "WEB_AUTH_RATE_LIMITED") reply.header("retry-after", String(err.values.seconds));
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="tvirt"');
    return reply.code(status).type("application/json").send(err.toJSON());
  };

  // Authentication first, for every request but the OpenAPI document (public: it holds no data).
  app.addHook("onRequest", async (req, reply) => {
    if (req.url === "/api/openapi.json" || isPublicPath(req.url)) return;
    const client = req.ip;
    const wait = limiter.blockedFor(client);
    if (wait > 0) return sendError(reply, new VirtError("WEB_AUTH_RATE_LIMITED", { client, seconds: wait }));
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || m[1] === undefined) {
      limiter.fail(client);
      return sendError(reply, new VirtError("WEB_AUTH_REQUIRED"));
    }
    const token = verifyToken(await store.current(), m[1]);
    if (!token) {
      limiter.fail(client);
      return sendError(reply, new VirtError("WEB_AUTH_FAILED"));
    }
    (req as FastifyRequest & Authed).token = token;
    return undefined;
  });

  app.setNotFoundHandler((req, reply) => {
    void sendError(reply, new VirtError("WEB_NO_ROUTE", { method: req.method, path: req.url }));
  });

  app.setErrorHandler((err, req, reply) => {
    if (isVirtError(err)) return sendError(reply, err);
    const fe = err as { validation?: unknown; statusCode?: number; message: string };
    if (fe.validation !== undefined || (fe.statusCode !== undefined && fe.statusCode < 500)) {
      const e = new VirtError(
        "WEB_BAD_REQUEST",
        { method: req.method, path: req.url, reason: fe.message },
        fe.validation !== undefined ? { validation: fe.validation as never } : {},
      );
      return sendError(reply, e);
    }
    return sendError(reply, toVirtError(err));
  });

  for (const r of routes) {
    const response: Record<string, object> = { "4xx": ErrorSchema, "5xx": ErrorSchema };
    if (r.ok.schema) response[String(r.ok.status)] = r.ok.schema;
    app.route({
      method: r.method,
      url: r.url,
      schema: {
        ...(r.params ? { params: r.params } : {}),
        ...(r.query ? { querystring: r.query } : {}),
        ...(r.body ? { body: r.body } : {}),
        response,
      },
      ...(r.xmlBody
        ? {
            preValidation: (req: FastifyRequest, _reply: FastifyReply, done: () => void) => {
              wrapXmlBody(req);
              done();
            },
          }
        : {}),
      preHandler: async (req, reply) => {
        const token = (req as FastifyRequest & Authed).token;
        if (r.write && token?.readOnly) {
          audit(`web: denied token=${token.name} ${req.method} ${req.url} (read-only)`);
          return sendError(
            reply,
            new VirtError("WEB_READ_ONLY_TOKEN", { token: token.name, method: req.method, path: req.url }),
          );
        }
        return undefined;
      },
      handler: r.xml ? xmlOrJson(r.xml, r.handler) : r.handler,
    });
    if (r.write) {
      // Every change made over HTTP is logged with the token that made it.
      app.addHook("onResponse", (req, reply, done) => {
        if (req.routeOptions.url === r.url && req.method === r.method) {
          const token = (req as FastifyRequest & Authed).token;
          audit(`web: token=${token?.name ?? "-"} ${req.method} ${req.url} -> ${reply.statusCode}`);
        }
        done();
      });
    }
  }

  await registerConsoles(app, {
    conn,
    tickets,
    audit,
    sendError,
    ...(opts.assetsDir !== undefined ? { assetsDir: opts.assetsDir } : {}),
  });
  const openapi = openApiDocument(routes);
  app.get("/api/openapi.json", () => Promise.resolve(openapi));
  return app;
}

/** A GET handler that answers `Accept: application/xml` with the XML document. */
function xmlOrJson(xml: NonNullable<RouteDef["xml"]>, json: RouteDef["handler"]): RouteDef["handler"] {
  return async (req, reply) => {
    if (!prefersXml(req.headers.accept)) return json(req, reply);
    const text = await xml(req);
    void reply.type("application/xml; charset=utf-8");
    return text;
  };
}

/** `/api/domains/:name` → `/api/domains/{name}` */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, "{$1}");
}

function queryParameters(query: object | undefined): object[] {
  const q = query as { properties?: Record<string, { description?: string }> } | undefined;
  return Object.entries(q?.properties ?? {}).map(([name, schema]) => ({
    name,
    in: "query",
    required: false,
    ...(schema.description !== undefined ? { description: schema.description } : {}),
    schema,
  }));
}

/** The OpenAPI 3.1 document, made from the routes' schemas. */
export function openApiDocument(routes: readonly RouteDef[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = openApiPath(r.url);
    const params = r.params as { properties: Record<string, object>; required?: string[] } | undefined;
    const xmlText = { schema: { type: "string", description: "the XML document" } };
    const responses: Record<string, unknown> = {
      [String(r.ok.status)]: {
        description: r.summary,
        ...(r.ok.schema
          ? {
              content: {
                "application/json": { schema: r.ok.schema },
                ...(r.xml ? { "application/xml": xmlText } : {}),
              },
            }
          : r.ok.contentType
            ? { content: { [r.ok.contentType]: { schema: { type: "string" } } } }
            : {}),
      },
      default: {
        description: "An error of tvirt's catalogue",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    };
    (paths[p] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      ...(r.write ? { description: "Changes something: refused (403) for read-only tokens." } : {}),
      parameters: [
        ...(params
          ? Object.entries(params.properties).map(([name, schema]) => ({
              name,
              in: "path",
              required: true,
              schema,
            }))
          : []),
        ...queryParameters(r.query),
      ],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: {
                "application/json": { schema: r.body },
                ...(r.xmlBody ? { "application/xml": xmlText } : {}),
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "tvirt REST API", version: "1" },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: ErrorSchema,
        DomainSummary: DomainSummarySchema,
        LifecycleEvent: LifecycleEventSchema,
      },
    },
  };
}
