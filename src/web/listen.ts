/**
 * Listen addresses of the web face (`tvirsh web --listen`, tvirtd's `web_listen_tcp`), apart
 * from the servers (tls.ts) so that parsing them loads no HTTP code.
 */
import { isIP } from "node:net";
import { VirtError } from "../util/errors/index.ts";

export type WebListen = { readonly host: string; readonly port: number } | { readonly path: string };

/** `ADDR:PORT` text: `unix:PATH`, `PORT`, `ADDR:PORT` or `[ADDR6]:PORT` (default host: loopback). */
export function parseListen(text: string): WebListen {
  const bad = (reason: string): VirtError => new VirtError("WEB_LISTEN", { listen: text, reason });
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (!path.startsWith("/")) throw bad("a Unix socket needs an absolute path");
    return { path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(text);
  if (!m) throw bad("not an address and port");
  const host = m[1] ?? m[2] ?? "127.0.0.1";
  const port = Number(m[3]);
  if (port > 65535) throw bad("the port must be 0 to 65535");
  if (host !== "localhost" && isIP(host) === 0) throw bad(`'${host}' is not an IP address`);
  return { host, port };
}

/** Loopback addresses: what never leaves the host, so plain HTTP is acceptable there. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/**
 * The refusal of plain HTTP on `listen` (text as given) beyond loopback, or undefined when it is
 * allowed (TLS, a Unix socket, loopback). `tls` names the TLS settings of the caller (tvirtd's
 * keys or tvirsh's options), `insecure` the way to override it, if there is one; the wording
 * is otherwise the same for both.
 */
export function clearListenError(
  text: string,
  listen: WebListen,
  withTls: boolean,
  names: { readonly tls: string; readonly insecure?: string },
): VirtError | undefined {
  if (withTls || "path" in listen || isLoopback(listen.host)) return undefined;
  return new VirtError("WEB_LISTEN_CLEAR", {
    listen: text,
    tls: names.tls,
    insecure:
      names.insecure === undefined ? "" : `, or pass ${names.insecure} to serve it in clear knowingly`,
  });
}
