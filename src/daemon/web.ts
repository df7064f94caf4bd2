/**
 * tvirtd's web face (issue 16): the REST API of src/web served from the daemon's configuration
 * (`web_listen_unix`, `web_listen_tcp`, `web_tls_cert`/`web_tls_key`, `web_token_file`,
 * `web_uri`; config.ts). Off unless a `web_listen_*` key is set.
 *
 * The API runs over an in-process connection to the daemon's own drivers (the one RPC clients
 * reach), so a guest started over HTTP is the guest `virsh list` shows, and no extra hop or
 * socket sits between the two. Changes made over HTTP go to the daemon's log with the token's
 * name.
 */
import { chown } from "node:fs/promises";
import { join } from "node:path";
import type { Connection } from "../api/index.ts";
import { openLocal } from "../rpc/server.ts";
import { buildWebServer } from "../web/server.ts";
import { parseListen, serveWeb, type WebEndpoint } from "../web/tls.ts";
import { readTokens } from "../web/tokens.ts";
import { resolveGroup, type DaemonConfig } from "./config.ts";
import type { InstanceKind } from "./drivers.ts";
import type { Logger } from "./log.ts";

export interface WebFace {
  /** The listeners' URLs (`unix:PATH`, `https://ADDR:PORT`). */
  readonly urls: string[];
  close(): Promise<void>;
}

/** The token file when `web_token_file` is not set: beside the instance's tvirtd.conf. */
export function defaultWebTokenFile(kind: InstanceKind, env: NodeJS.ProcessEnv): string {
  if (kind === "system") return "/etc/tvirt/web-tokens.json";
  const cfg =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ""
      ? env.XDG_CONFIG_HOME
      : join(env.HOME ?? "/", ".config");
  return join(cfg, "tvirt", "web-tokens.json");
}

/** Starts the web face when configured (else undefined). Throws when a listener cannot start. */
export async function startWebFace(
  cfg: DaemonConfig,
  kind: InstanceKind,
  defaultURI: string,
  log: Logger,
  env: NodeJS.ProcessEnv,
): Promise<WebFace | undefined> {
  if (cfg.webListenUnix === undefined && cfg.webListenTcp === undefined) return undefined;
  const uri = cfg.webUri ?? defaultURI;
  const tokenFile = cfg.webTokenFile ?? defaultWebTokenFile(kind, env);
  const conn: Connection = await openLocal(uri, false);
  const endpoints: WebEndpoint[] = [];
  const app = await buildWebServer({
    conn,
    tokenFile,
    audit: (line) => {
      log.info(line);
    },
  });
  const close = async (): Promise<void> => {
    await app.close().catch(() => undefined);
    await Promise.all(endpoints.map((e) => e.close()));
    await conn.close().catch(() => undefined);
  };
  try {
    if (cfg.webListenUnix !== undefined) {
      const gid = cfg.unixSockGroup !== undefined ? resolveGroup(cfg.unixSockGroup) : undefined;
      const e = await serveWeb(
        app,
        { path: cfg.webListenUnix },
        undefined,
        gid !== undefined ? 0o660 : 0o600,
      );
      endpoints.push(e);
      if (gid !== undefined) await chown(cfg.webListenUnix, -1, gid);
    }
    if (cfg.webListenTcp !== undefined) {
      const tls =
        cfg.webTlsCert !== undefined && cfg.webTlsKey !== undefined
          ? { cert: cfg.webTlsCert, key: cfg.webTlsKey }
          : undefined;
      endpoints.push(await serveWeb(app, parseListen(cfg.webListenTcp), tls));
    }
  } catch (e) {
    await close();
    throw e;
  }
  const urls = endpoints.map((e) => e.url);
  log.info(`web face for ${uri} on ${urls.join(", ")} (tokens: ${tokenFile})`);
  // Served anyway (the file is re-read when it changes), but nobody gets in yet: say why.
  const why = await readTokens(tokenFile).then(
    (tokens) => (tokens.length === 0 ? "no tokens" : undefined),
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
  if (why !== undefined)
    log.warn(
      `web face: no usable token in ${tokenFile} (${why}): every request gets 401 until 'tvirsh web-token create --token-file ${tokenFile} NAME'`,
    );
  return { urls, close };
}
