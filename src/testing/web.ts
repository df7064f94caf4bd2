/**
 * Test support for the web face: HTTP(S) requests over TCP or a Unix socket, and a self-signed
 * certificate made by the real `openssl` (a missing openssl is a failure under CI=true).
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { runArgv } from "../util/spawn.ts";
import { spawnDaemon, type DaemonProcess } from "./rpc/harness.ts";

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
 * A tvirtd serving the web page on loopback TCP from its configuration (issue 16: the page a
 * user opens comes from the daemon): `args` are its `--listen SOCK --uri ...` (or `--session`)
 * arguments, `sock` the RPC socket to wait for. The config goes to `DIR/tvirtd.conf` with
 * `web_listen_tcp = "127.0.0.1:0"` (the kernel picks a free port: no race with other tests;
 * the port is read from the daemon's "web face for ... on http://..." log line), the token
 * file, and `log_level = 2` so the web audit lines reach its stderr; `assetsDir` (the built
 * page) reaches it as `TVIRT_WEB_ASSETS`.
 */
export async function spawnWebDaemon(opts: {
  readonly dir: string;
  readonly args: readonly string[];
  readonly sock: string;
  readonly tokenFile: string;
  readonly assetsDir: string;
  readonly env?: NodeJS.ProcessEnv;
}): Promise<{ daemon: DaemonProcess; base: string }> {
  const conf = join(opts.dir, "tvirtd.conf");
  writeFileSync(
    conf,
    `web_listen_tcp = "127.0.0.1:0"\nweb_token_file = "${opts.tokenFile}"\nlog_level = 2\n`,
  );
  const daemon = await spawnDaemon([...opts.args, "-f", conf], [opts.sock], {
    env: { ...(opts.env ?? process.env), TVIRT_WEB_ASSETS: opts.assetsDir },
  });
  // The web face starts after the RPC socket listens, and logs its URLs once it does.
  const until = Date.now() + 30_000;
  const state = { gone: false };
  void daemon.exited.then(() => (state.gone = true));
  for (;;) {
    if (state.gone) throw new Error(`tvirtd exited before serving its web face: ${daemon.stderr()}`);
    const m = /web face for \S+ on (?:\S+, )*(http:\/\/127\.0\.0\.1:\d+)/.exec(daemon.stderr());
    if (m) return { daemon, base: m[1]! };
    if (Date.now() > until) {
      await daemon.stop("SIGKILL");
      throw new Error(`tvirtd did not serve its web face within 30 s: ${daemon.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
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

/**
 * A strict validator for the JSON-schema subset the API's schemas use. An unknown keyword is an
 * error, so a schema this cannot check fails the test instead of passing silently.
 */
const KNOWN = new Set([
  "type",
  "required",
  "properties",
  "items",
  "enum",
  "additionalProperties",
  "description",
  "minLength",
  "default",
  "$ref",
]);
export function validateSchema(
  schema: Record<string, unknown>,
  value: unknown,
  doc: Record<string, unknown>,
  at = "$",
): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) return [`${at}: schema keyword ${k} not supported`];
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace("#/components/schemas/", "");
    const target = (doc.components as { schemas: Record<string, Record<string, unknown>> }).schemas[name];
    assert.ok(target, `no schema ${schema.$ref}`);
    return validateSchema(target, value, doc, at);
  }
  const errs: string[] = [];
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const typeOf = (v: unknown): string[] =>
    v === null
      ? ["null"]
      : Array.isArray(v)
        ? ["array"]
        : typeof v === "number"
          ? Number.isInteger(v)
            ? ["integer", "number"]
            : ["number"]
          : [typeof v];
  if (types.length > 0 && !typeOf(value).some((t) => types.includes(t))) {
    return [`${at}: ${JSON.stringify(value)} is not ${types.join("|")}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errs.push(`${at}: ${String(value)} not in enum`);
  if (typeof value === "string" && typeof schema.minLength === "number" && value.length < schema.minLength) {
    errs.push(`${at}: too short`);
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of (schema.required as string[] | undefined) ?? [])
      if (!(r in obj)) errs.push(`${at}: lacks ${r}`);
    const props = (schema.properties as Record<string, Record<string, unknown>> | undefined) ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...validateSchema(props[k], v, doc, `${at}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${at}: unexpected ${k}`);
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) =>
      errs.push(...validateSchema(schema.items as Record<string, unknown>, v, doc, `${at}[${i}]`)),
    );
  }
  return errs;
}
