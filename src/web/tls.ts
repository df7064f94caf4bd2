/**
 * Where the web face listens (issue 16): Unix sockets, plain TCP on loopback, and TLS. One
 * Fastify app can be served on several listeners at once (tvirtd: its Unix socket and a TLS
 * port), so each listener is a server of its own that hands requests to the app's router,
 * and WebSocket upgrades to the app's own server, where Fastify's plugins look for them.
 *
 * TLS is Node's own (`node:https`) with the PEM certificate and key named in the
 * configuration: no certificate is ever made up here. A non-loopback TCP address without TLS
 * is refused by tvirtd (`web_listen_tcp`); `tvirsh web` serves it with a warning.
 */
import type { FastifyInstance } from "fastify";
import { chmod, readFile, unlink } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect, type Socket } from "node:net";
import { VirtError } from "../util/errors/index.ts";
import type { WebListen } from "./listen.ts";

export { isLoopback, parseListen, type WebListen } from "./listen.ts";

/** PEM files of a TLS listener. */
export interface WebTlsFiles {
  readonly cert: string;
  readonly key: string;
}

/** A listener serving the app. */
export interface WebEndpoint {
  /** `unix:PATH`, `http://HOST:PORT` or `https://HOST:PORT` (the port bound, for port 0). */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Whether something accepts connections on the Unix socket `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      resolve(false);
    });
  });
}

/** Reads the PEM pair; a missing or unreadable file is named in the error. */
async function readTls(files: WebTlsFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (what: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (e) {
      throw new VirtError("WEB_TLS", {
        cert: files.cert,
        key: files.key,
        reason: `cannot read the ${what} ${file}: ${(e as Error).message}`,
      });
    }
  };
  return { cert: await read("certificate", files.cert), key: await read("key", files.key) };
}

/**
 * Serves `app` on `listen` (TLS with `tls`). The app must not listen itself; call `close` on
 * each endpoint after `app.close()` (which ends the event streams).
 */
export async function serveWeb(
  app: FastifyInstance,
  listen: WebListen,
  tls?: WebTlsFiles,
  socketMode = 0o600,
): Promise<WebEndpoint> {
  await app.ready();
  const handler = (req: IncomingMessage, res: import("node:http").ServerResponse): void => {
    app.routing(req, res);
  };
  let server: Server;
  if (tls) {
    const pem = await readTls(tls);
    try {
      server = createHttpsServer({ cert: pem.cert, key: pem.key }, handler);
    } catch (e) {
      // "key values mismatch", "no start line": the pair does not make a TLS identity
      throw new VirtError("WEB_TLS", { cert: tls.cert, key: tls.key, reason: (e as Error).message });
    }
  } else {
    server = createHttpServer(handler);
  }
  // WebSocket routes (the page's consoles) are registered on the app's own server.
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (app.server.listenerCount("upgrade") === 0) socket.destroy();
    else app.server.emit("upgrade", req, socket, head);
  });
  // A half-finished TLS handshake must not stay open forever.
  server.headersTimeout = 30_000;
  if ("path" in listen) {
    // A socket file left by a server that died is in the way; a live one is left alone.
    if (!(await socketAnswers(listen.path))) await unlink(listen.path).catch(() => undefined);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = (): void => {
      server.off("error", reject);
      resolve();
    };
    if ("path" in listen) server.listen(listen.path, done);
    else server.listen(listen.port, listen.host, done);
  });
  let url: string;
  if ("path" in listen) {
    await chmod(listen.path, socketMode);
    url = `unix:${listen.path}`;
  } else {
    const addr = server.address();
    const port = addr !== null && typeof addr === "object" ? addr.port : listen.port;
    const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
    url = `${tls ? "https" : "http"}://${host}:${String(port)}`;
  }
  return {
    url,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        // long-lived responses (event streams) and idle keep-alive connections
        server.closeAllConnections();
      }),
  };
}
