/**
 * Test support for the web face: HTTP(S) requests over TCP or a Unix socket, and a self-signed
 * certificate made by the real `openssl` (a missing openssl is a failure under CI=true).
 */
import { existsSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { runArgv } from "../util/spawn.ts";

export type WebTarget =
  | { readonly socketPath: string }
  | { readonly host: string; readonly port: number; readonly tls?: { readonly ca: string | Buffer } };

export interface WebReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body as JSON (throws when it is not). */
  json(): Record<string, unknown>;
}

/** One request; `body` is sent as JSON unless `contentType` says otherwise. */
export function webRequest(
  target: WebTarget,
  method: string,
  path: string,
  opts: {
    token?: string;
    body?: unknown;
    contentType?: string;
    accept?: string;
    agent?: import("node:http").Agent | false;
  } = {},
): Promise<WebReply> {
  const payload =
    opts.body === undefined
      ? undefined
      : typeof opts.body === "string"
        ? opts.body
        : JSON.stringify(opts.body);
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers["content-type"] = opts.contentType ?? "application/json";
    headers["content-length"] = String(Buffer.byteLength(payload));
  }
  if (opts.accept !== undefined) headers.accept = opts.accept;
  return new Promise((resolve, reject) => {
    const onRes = (res: import("node:http").IncomingMessage): void => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body) as Record<string, unknown>,
        });
      });
      res.on("error", reject);
    };
    const common = { method, path, headers, ...(opts.agent !== undefined ? { agent: opts.agent } : {}) };
    const req =
      "socketPath" in target
        ? httpRequest({ ...common, socketPath: target.socketPath }, onRes)
        : target.tls
          ? httpsRequest(
              { ...common, host: target.host, port: target.port, ca: target.tls.ca, servername: "localhost" },
              onRes,
            )
          : httpRequest({ ...common, host: target.host, port: target.port }, onRes);
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * A self-signed certificate for `localhost` and 127.0.0.1 (EC P-256: quick to make), written
 * as `cert.pem` and `key.pem` in `dir`; undefined when openssl is missing.
 */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string } | undefined> {
  const openssl = ["/usr/bin/openssl", "/bin/openssl"].find((p) => existsSync(p));
  if (openssl === undefined) return undefined;
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = await runArgv([
    openssl,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { cert, key };
}
