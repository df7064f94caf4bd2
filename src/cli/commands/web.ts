/**
 * `web` and `web-token` (tvirt extensions, issue 16): serve the REST API for the connection,
 * and manage the bearer tokens it accepts.
 *
 * `web --listen ADDR:PORT|PORT|unix:PATH --token-file FILE` listens on loopback by default
 * (127.0.0.1:8080) and runs until interrupted; `--tls-cert FILE --tls-key FILE` serve HTTPS
 * (PEM files). A non-loopback TCP address without TLS is refused, as tvirtd's configuration
 * check refuses it, unless `--insecure` says so knowingly (then served with a warning).
 * `web-token create` prints the token once, on its last line; the file keeps only its hash.
 */
import { isVirtError } from "../../api/index.ts";
import { createToken, readTokens, revokeToken } from "../../web/tokens.ts";
import { clearListenError, parseListen, type WebListen } from "../../web/listen.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";

type Cmd = CmdDef<Ctx>;

export type Listen = WebListen;
export { parseListen };

const web: Cmd = {
  name: "web",
  group: "tvirt",
  help: "serve the REST API (and its OpenAPI document) for this connection",
  desc:
    "Serves tvirt's REST API for the connection at http://ADDR:PORT/api/ (OpenAPI document at\n" +
    "    /api/openapi.json) until interrupted. Requests carry 'Authorization: Bearer TOKEN' with a\n" +
    "    token from 'web-token create'; read-only tokens can list and watch but not change.",
  opts: [
    {
      name: "listen",
      type: "string",
      named: true,
      help: "ADDR:PORT, PORT or unix:PATH (default 127.0.0.1:8080)",
    },
    {
      name: "token-file",
      type: "string",
      required: true,
      named: true,
      help: "the token file",
      complete: "file",
    },
    {
      name: "tls-cert",
      type: "string",
      named: true,
      help: "PEM certificate (chain): serve HTTPS (with --tls-key)",
      complete: "file",
    },
    {
      name: "tls-key",
      type: "string",
      named: true,
      help: "PEM private key of --tls-cert",
      complete: "file",
    },
    {
      name: "insecure",
      type: "bool",
      help: "serve plain HTTP beyond loopback anyway (tokens and data cross the network in clear)",
    },
  ],
  async run(ctx, cmd) {
    const tokenFile = ctx.optString(cmd, "token-file");
    const listenText = ctx.optString(cmd, "listen");
    const tlsCert = ctx.optString(cmd, "tls-cert");
    const tlsKey = ctx.optString(cmd, "tls-key");
    if (!tokenFile || listenText === null || tlsCert === null || tlsKey === null) return false;
    if ((tlsCert === undefined) !== (tlsKey === undefined))
      return ctx.fail("--tls-cert and --tls-key go together: HTTPS needs the certificate and its key");
    const tls = tlsCert !== undefined && tlsKey !== undefined ? { cert: tlsCert, key: tlsKey } : undefined;
    let listen: Listen;
    let clear: Error | undefined;
    try {
      listen = parseListen(listenText ?? "127.0.0.1:8080");
      if (tls && "path" in listen) return ctx.fail("--tls-cert and --tls-key need a TCP --listen address");
      clear = clearListenError(listenText ?? "127.0.0.1:8080", listen, tls !== undefined, {
        tls: "--tls-cert and --tls-key",
        insecure: "--insecure",
      });
      if (clear && !cmd.bool("insecure")) return ctx.fail(undefined, clear);
      if ((await readTokens(tokenFile)).length === 0) {
        return ctx.fail(
          `no tokens in ${tokenFile}: create one with 'tvirsh web-token create --token-file ${tokenFile} NAME'`,
        );
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const conn = ctx.connection();
    const uri = await conn.getURI();
    // Loaded here: Fastify costs tens of milliseconds at startup, which other commands skip.
    const { buildWebServer } = await import("../../web/server.ts");
    const { serveWeb } = await import("../../web/tls.ts");
    const app = await buildWebServer({
      conn,
      tokenFile,
      audit: (line) => {
        ctx.io.err(line + "\n");
      },
    });
    let where: string;
    let endpoint;
    try {
      endpoint = await serveWeb(app, listen, tls);
      where = endpoint.url;
      if (clear) {
        ctx.io.err(
          `warning: serving on ${listenText ?? ""} without TLS (--insecure): tokens and data cross the network in clear\n`,
        );
      }
    } catch (e) {
      await app.close().catch(() => undefined);
      return isVirtError(e)
        ? ctx.fail(undefined, e)
        : ctx.fail(`cannot listen on ${listenText ?? "127.0.0.1:8080"}: ${(e as Error).message}`);
    }
    ctx.printExtra(
      `Serving ${uri} at ${where}/api/ (OpenAPI: ${where}/api/openapi.json), the web page at ${where}/; Ctrl-C stops\n`,
    );
    ctx.emit({ uri, listen: where, openapi: `${where}/api/openapi.json` });
    await new Promise<void>((resolve) => {
      if (ctx.interrupt.signal.aborted) resolve();
      else
        ctx.interrupt.signal.addEventListener(
          "abort",
          () => {
            resolve();
          },
          { once: true },
        );
    });
    await app.close();
    await endpoint.close();
    return true;
  },
};

const webToken: Cmd = {
  name: "web-token",
  group: "tvirt",
  help: "create, list or revoke the REST API's bearer tokens",
  desc:
    "Manages the token file of 'web': 'create NAME [--read-only]' prints a new token once, on\n" +
    "    its last line (the file keeps only its SHA-256); 'list' shows names and roles; 'revoke\n" +
    "    NAME' removes one (a running server refuses it at once).",
  opts: [
    {
      name: "action",
      type: "string",
      required: true,
      help: "create, list or revoke",
      complete: "list",
      values: ["create", "list", "revoke"],
    },
    { name: "name", type: "string", help: "the token's name (who it is for)" },
    {
      name: "token-file",
      type: "string",
      required: true,
      named: true,
      help: "the token file",
      complete: "file",
    },
    { name: "read-only", type: "bool", help: "the token can list and watch, not change" },
  ],
  noConnect: true,
  async run(ctx, cmd) {
    const action = ctx.optString(cmd, "action");
    const file = ctx.optString(cmd, "token-file");
    const name = ctx.optString(cmd, "name");
    if (!action || !file || name === null) return false;
    if (action !== "create" && action !== "list" && action !== "revoke") {
      return ctx.fail(`invalid action '${action}': use create, list or revoke`);
    }
    if (action !== "list" && name === undefined)
      return ctx.fail(`command 'web-token ${action}' requires <name> option`);
    try {
      if (action === "create") {
        const readOnly = cmd.bool("read-only");
        const { entry, token } = await createToken(file, name ?? "", readOnly);
        ctx.printExtra(
          `Web token '${entry.name}' (${readOnly ? "read-only" : "read-write"}) added to ${file}; it is shown only now:\n`,
        );
        ctx.print(`${token}\n`);
        ctx.emit({ name: entry.name, readOnly, created: entry.created, token });
      } else if (action === "revoke") {
        await revokeToken(file, name ?? "");
        ctx.print(`Web token '${name ?? ""}' revoked\n`);
        ctx.emit({ name, revoked: true });
      } else {
        const tokens = await readTokens(file);
        const w = Math.max(4, ...tokens.map((t) => t.name.length));
        let s = ` ${"Name".padEnd(w)}   ${"Role".padEnd(10)}   Created\n`;
        s += "-".repeat(w + 40) + "\n";
        for (const t of tokens) {
          s += ` ${t.name.padEnd(w)}   ${(t.readOnly ? "read-only" : "read-write").padEnd(10)}   ${t.created}\n`;
        }
        ctx.print(s + "\n");
        ctx.emit({ tokens: tokens.map((t) => ({ name: t.name, readOnly: t.readOnly, created: t.created })) });
      }
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return true;
  },
};

export const webCommands: Cmd[] = [web, webToken];
