/**
 * The web page and its two consoles (issue 16, item 3): the page's static files (built by
 * scripts/build-web.js into dist/web), one-time console tickets, and the WebSocket routes that
 * carry a guest's serial console (xterm.js) and its VNC display (noVNC).
 *
 * Browsers cannot put an `Authorization` header on a WebSocket, so the page first asks for a
 * ticket with its bearer token (`POST /api/tickets`) and passes it in the WebSocket URL: 256
 * random bits, bound to one domain and one console, good for one connection within 30 s. A
 * ticket in a URL may reach a log, but it is spent when used and dead soon after anyway.
 *
 * Read-only tokens may watch: the serial console drops what they type, and the VNC proxy
 * drops their key, pointer, clipboard and resize messages (noVNC is put in view-only mode too,
 * but the server is what enforces it).
 */
import websocket from "@fastify/websocket";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { WebSocket } from "ws";
import {
  DomainXMLFlags,
  VirtError,
  isVirtError,
  toVirtError,
  type Connection,
  type Domain,
} from "../api/index.ts";
import { NameParam } from "./schemas.ts";
import type { TokenEntry } from "./tokens.ts";

/** How long a ticket stays good, and how many may wait unused (a bound on memory). */
export const TICKET_TTL_MS = 30_000;
const MAX_TICKETS = 10_000;
/** virDomainOpenConsole's VIR_DOMAIN_CONSOLE_FORCE: a reloaded page takes the console over. */
const CONSOLE_FORCE = 1;

export type ConsoleKind = "serial" | "vnc";

interface Ticket {
  readonly token: TokenEntry;
  readonly domain: string;
  readonly kind: ConsoleKind;
  readonly expires: number;
}

/** One-time console tickets. */
export class Tickets {
  private readonly map = new Map<string, Ticket>();

  issue(token: TokenEntry, domain: string, kind: ConsoleKind, now = Date.now()): string {
    if (this.map.size >= MAX_TICKETS) {
      for (const [k, t] of this.map) if (t.expires <= now) this.map.delete(k);
    }
    if (this.map.size >= MAX_TICKETS) this.map.delete(this.map.keys().next().value as string);
    const id = randomBytes(32).toString("base64url");
    this.map.set(id, { token, domain, kind, expires: now + TICKET_TTL_MS });
    return id;
  }

  /** The ticket's holder, spending the ticket; undefined when unknown, spent, expired or for another console. */
  take(id: string, domain: string, kind: ConsoleKind, now = Date.now()): TokenEntry | undefined {
    const t = this.map.get(id);
    if (!t) return undefined;
    this.map.delete(id);
    return t.expires > now && t.domain === domain && t.kind === kind ? t.token : undefined;
  }
}

/** Paths served without a bearer token: the page's files (no data in them) and the ticketed WebSockets. */
export function isPublicPath(url: string): boolean {
  const path = url.split("?")[0] ?? url;
  return PAGE_FILES.has(path) || path.startsWith("/ws/");
}

const PAGE_FILES = new Map<string, { file: string; type: string }>([
  ["/", { file: "index.html", type: "text/html; charset=utf-8" }],
  ["/index.html", { file: "index.html", type: "text/html; charset=utf-8" }],
  ["/app.js", { file: "app.js", type: "text/javascript; charset=utf-8" }],
  ["/app.css", { file: "app.css", type: "text/css; charset=utf-8" }],
]);

/** Where the built page is: `TVIRT_WEB_ASSETS`, else dist/web of this tree (or of the install). */
export function defaultAssetsDir(): string {
  return process.env.TVIRT_WEB_ASSETS ?? fileURLToPath(new URL("../../dist/web/", import.meta.url));
}

/** The page's content security policy: nothing from elsewhere, no inline script. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export interface ConsoleOptions {
  readonly conn: Connection;
  readonly tickets: Tickets;
  readonly audit: (line: string) => void;
  readonly assetsDir?: string;
  readonly sendError: (reply: FastifyReply, err: VirtError) => FastifyReply;
}

/**
 * The page's API routes (they go into the API's table and OpenAPI document): the persistent XML
 * that `PUT /api/domains/{name}/xml` replaces (what `tvirsh edit` opens), and console tickets.
 */
export function pageRoutes(tickets: Tickets, conn: Connection) {
  return [
    {
      method: "GET" as const,
      url: "/api/domains/:name/xml",
      write: false,
      summary: "A domain's persistent XML (inactive, secure): what PUT /api/domains/{name}/xml replaces",
      params: NameParam,
      ok: {
        status: 200,
        schema: { type: "object", required: ["xml"], properties: { xml: { type: "string" } } },
      },
      async handler(req: FastifyRequest): Promise<unknown> {
        const dom = await conn.lookupDomainByName((req.params as { name: string }).name);
        return { xml: await dom.getXMLDesc(DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE) };
      },
    },
    {
      method: "GET" as const,
      url: "/api/whoami",
      write: false,
      summary: "The token this request carries: its name and whether it is read-only",
      ok: {
        status: 200,
        schema: {
          type: "object",
          required: ["name", "readOnly"],
          properties: { name: { type: "string" }, readOnly: { type: "boolean" } },
        },
      },
      handler(req: FastifyRequest): Promise<unknown> {
        const token = (req as FastifyRequest & { token?: TokenEntry }).token;
        return Promise.resolve({ name: token?.name ?? "", readOnly: token?.readOnly ?? true });
      },
    },
    ticketRoute(tickets, conn),
  ];
}

function ticketRoute(tickets: Tickets, conn: Connection) {
  return {
    method: "POST" as const,
    url: "/api/tickets",
    write: false,
    summary:
      "A one-time ticket (30 s) for a WebSocket console: /ws/domains/{name}/serial or /vnc?ticket=... (read-only tokens get view-only consoles)",
    body: {
      type: "object",
      required: ["domain", "kind"],
      additionalProperties: false,
      properties: {
        domain: { type: "string", minLength: 1 },
        kind: { type: "string", enum: ["serial", "vnc"] },
      },
    },
    ok: {
      status: 201,
      schema: {
        type: "object",
        required: ["ticket", "url", "expiresInSeconds", "readOnly"],
        properties: {
          ticket: { type: "string" },
          url: { type: "string" },
          expiresInSeconds: { type: "integer" },
          readOnly: { type: "boolean" },
        },
      },
    },
    async handler(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      const body = req.body as { domain: string; kind: ConsoleKind };
      const token = (req as FastifyRequest & { token?: TokenEntry }).token;
      if (!token) throw new VirtError("WEB_AUTH_REQUIRED");
      const dom = await conn.lookupDomainByName(body.domain); // 404 for no such domain
      const ticket = tickets.issue(token, dom.name, body.kind);
      reply.code(201);
      return {
        ticket,
        url: `/ws/domains/${encodeURIComponent(dom.name)}/${body.kind}?ticket=${ticket}`,
        expiresInSeconds: TICKET_TTL_MS / 1000,
        readOnly: token.readOnly,
      };
    },
  };
}

/** Registers the page's files and the console WebSockets on `app`. */
export async function registerConsoles(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const { conn, tickets, audit } = opts;
  const assetsDir = opts.assetsDir ?? defaultAssetsDir();

  for (const [path, { file, type }] of PAGE_FILES) {
    app.get(path, async (_req, reply) => {
      let data: Buffer;
      try {
        data = await readFile(`${assetsDir}/${file}`);
      } catch {
        return opts.sendError(reply, new VirtError("WEB_PAGE_NOT_BUILT", { file: `${assetsDir}/${file}` }));
      }
      return reply
        .type(type)
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("content-security-policy", CSP)
        .send(data);
    });
  }

  await app.register(websocket, { options: { maxPayload: 1 << 20 } });
  const serials = new SerialHub(conn);

  /** The ticket's holder, or a 401 before the upgrade. */
  const authorize = (kind: ConsoleKind) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { name } = req.params as { name: string };
    const ticket = (req.query as { ticket?: string }).ticket ?? "";
    const token = tickets.take(ticket, name, kind);
    if (!token) {
      return opts.sendError(
        reply,
        new VirtError("WEB_TICKET", { kind, domain: name, seconds: TICKET_TTL_MS / 1000 }),
      );
    }
    (req as FastifyRequest & { token?: TokenEntry }).token = token;
    return undefined;
  };
  const holder = (req: FastifyRequest): TokenEntry =>
    (req as FastifyRequest & { token?: TokenEntry }).token as TokenEntry;

  app.get(
    "/ws/domains/:name/serial",
    { websocket: true, preValidation: authorize("serial") },
    (socket: WebSocket, req: FastifyRequest) => {
      const { name } = req.params as { name: string };
      const token = holder(req);
      audit(`web: token=${token.name} console serial ${name}${token.readOnly ? " (view only)" : ""}`);
      serials.join(socket, name, token.readOnly);
    },
  );

  app.get(
    "/ws/domains/:name/vnc",
    { websocket: true, preValidation: authorize("vnc") },
    (socket: WebSocket, req: FastifyRequest) => {
      const { name } = req.params as { name: string };
      const token = holder(req);
      audit(`web: token=${token.name} console vnc ${name}${token.readOnly ? " (view only)" : ""}`);
      vncBridge(socket, conn, name, token.readOnly);
    },
  );
}

/** A close reason: WebSocket allows 123 bytes. */
function reasonOf(e: unknown): string {
  const msg = isVirtError(e) ? e.message : toVirtError(e).message;
  return Buffer.from(msg)
    .subarray(0, 120)
    .toString("utf8")
    .replace(/\uFFFD+$/, "");
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

type ConsoleStream = Awaited<ReturnType<Domain["openConsole"]>>;

/**
 * The serial consoles: one console stream per domain (virDomainOpenConsole, the stream
 * `tvirsh console` reads), shared by every WebSocket watching it. libvirt gives a console to
 * one client at a time, so without sharing a second tab (or a viewer) would take it over from
 * the first. The stream is opened with FORCE when the first client comes (taking it from a
 * `tvirsh console`, as a reloaded page must) and closed when the last one goes.
 */
class SerialHub {
  private readonly hubs = new Map<string, { clients: Set<WebSocket>; stream: Promise<ConsoleStream> }>();

  constructor(private readonly conn: Connection) {}

  join(socket: WebSocket, name: string, readOnly: boolean): void {
    let hub = this.hubs.get(name);
    if (!hub) {
      const clients = new Set<WebSocket>();
      const stream = (async () => {
        const dom = await this.conn.lookupDomainByName(name);
        const st = await dom.openConsole(null, CONSOLE_FORCE);
        st.onData((d) => {
          for (const c of clients) if (c.readyState === c.OPEN) c.send(d, { binary: true });
        });
        st.onEnd(() => {
          if (this.hubs.get(name)?.clients === clients) this.hubs.delete(name);
          for (const c of clients) if (c.readyState === c.OPEN) c.close(1000, "console closed");
        });
        return st;
      })();
      hub = { clients, stream };
      this.hubs.set(name, hub);
      stream.catch((e: unknown) => {
        if (this.hubs.get(name)?.clients === clients) this.hubs.delete(name);
        for (const c of clients) if (c.readyState === c.OPEN) c.close(4000, reasonOf(e));
      });
    }
    const { clients, stream } = hub;
    clients.add(socket);
    // Attached at once: what the browser types while the console opens is kept, in order.
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (readOnly) return;
      const b = toBuffer(data);
      void stream.then(
        (st) => {
          st.write(b);
        },
        () => undefined,
      );
    });
    socket.on("close", () => {
      clients.delete(socket);
      if (clients.size === 0 && this.hubs.get(name)?.clients === clients) {
        this.hubs.delete(name);
        void stream.then((st) => st.close()).catch(() => undefined);
      }
    });
  }
}

/**
 * The VNC display: a socket to QEMU's VNC server (virDomainOpenGraphicsFD) spliced to the
 * WebSocket. For view-only clients the RFB client messages are parsed and input dropped.
 */
function vncBridge(socket: WebSocket, conn: Connection, name: string, readOnly: boolean): void {
  const st = { closed: false };
  let vnc: Socket | undefined;
  const pending: Buffer[] = [];
  const filter = readOnly ? new ViewOnlyFilter() : undefined;
  const forward = (b: Buffer): void => {
    if (!filter) {
      vnc?.write(b);
      return;
    }
    const out = filter.push(b);
    if (out === null) socket.close(4003, "view-only: an RFB message this proxy does not pass");
    else if (out.length > 0) vnc?.write(out);
  };
  socket.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const b = toBuffer(data);
    if (vnc) forward(b);
    else pending.push(b);
  });
  socket.on("close", () => {
    st.closed = true;
    vnc?.destroy();
  });
  void (async () => {
    try {
      const dom = await conn.lookupDomainByName(name);
      const s = await dom.openGraphicsFd(0, 0);
      if (st.closed) {
        s.destroy();
        return;
      }
      vnc = s;
      s.on("data", (d: Buffer) => {
        if (socket.readyState === socket.OPEN) socket.send(d, { binary: true });
      });
      s.on("close", () => {
        if (socket.readyState === socket.OPEN) socket.close(1000, "display closed");
      });
      s.on("error", () => undefined);
      s.resume();
      for (const b of pending.splice(0)) forward(b);
    } catch (e) {
      if (socket.readyState === socket.OPEN) socket.close(4000, reasonOf(e));
    }
  })();
}

/**
 * Client-to-server RFB (RFC 6143) for a view-only client: the handshake and the messages that
 * ask for pictures pass; key, pointer, clipboard, resize and QEMU's extended keys are dropped;
 * anything else ends the connection (unknown lengths cannot be skipped safely).
 */
export class ViewOnlyFilter {
  private buf = Buffer.alloc(0);
  /** 0: version; 1: security type; 2: VNC auth response (16 bytes) or ClientInit; 3: messages */
  private phase = 0;
  private security = 0;

  /** What to pass on, or null to close. */
  push(data: Buffer): Buffer | null {
    this.buf = Buffer.concat([this.buf, data]);
    const out: Buffer[] = [];
    for (;;) {
      const n = this.next();
      if (n === null) return null;
      if (n === 0) break;
      const msg = this.buf.subarray(0, Math.abs(n));
      this.buf = this.buf.subarray(Math.abs(n));
      if (n > 0) out.push(msg);
    }
    return Buffer.concat(out);
  }

  /** The length of the next whole message (negative: drop it), 0 when incomplete, null: refuse. */
  private next(): number | null {
    const b = this.buf;
    const need = (len: number, pass = true): number => (b.length >= len ? (pass ? len : -len) : 0);
    switch (this.phase) {
      case 0: {
        const n = need(12);
        if (n) this.phase = 1;
        return n;
      }
      case 1: {
        if (b.length < 1) return 0;
        this.security = b[0] ?? 0;
        // None (1) or VNC authentication (2): other schemes are not parsed, so not passed.
        if (this.security !== 1 && this.security !== 2) return null;
        this.phase = this.security === 2 ? 2 : 4;
        return 1;
      }
      case 2: {
        const n = need(16);
        if (n) this.phase = 4;
        return n;
      }
      case 4: {
        if (b.length < 1) return 0;
        this.phase = 3;
        return 1; // ClientInit (shared flag)
      }
      default:
        break;
    }
    if (b.length < 1) return 0;
    switch (b[0]) {
      case 0: // SetPixelFormat
        return need(20);
      case 2: // SetEncodings
        return b.length < 4 ? 0 : need(4 + 4 * b.readUInt16BE(2));
      case 3: // FramebufferUpdateRequest
        return need(10);
      case 4: // KeyEvent
        return need(8, false);
      case 5: // PointerEvent
        return need(6, false);
      case 6: // ClientCutText
        return b.length < 8 ? 0 : need(8 + b.readUInt32BE(4), false);
      case 150: // EnableContinuousUpdates
        return need(10);
      case 248: // Fence
        return b.length < 9 ? 0 : need(9 + (b[8] ?? 0));
      case 251: // SetDesktopSize
        return b.length < 8 ? 0 : need(8 + 16 * (b[6] ?? 0), false);
      case 255: // QEMU: extended key event (subtype 0) is input; audio and others refused
        if (b.length < 2) return 0;
        return b[1] === 0 ? need(12, false) : null;
      default:
        return null;
    }
  }
}
