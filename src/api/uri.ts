/**
 * Connection URIs, as libvirt reads them (`virURIParse`, `virConnectOpenInternal`):
 * `driver[+transport]://[user@][host][:port]/path[?name=value&...][#fragment]`, e.g.
 * `test:///default`, `qemu:///system`, `qemu:///session`, `qemu:///embed?root=DIR`,
 * `qemu+unix:///system?socket=PATH`, `qemu+ssh://user@host/system`.
 */
import { type ConnectURI } from "../drivers/driver.ts";
import { VirtError } from "../util/errors/index.ts";

export type { ConnectURI } from "../drivers/driver.ts";

const TRANSPORTS = new Set(["unix", "ssh", "tcp", "tls", "ext", "libssh", "libssh2"]);

function decode(s: string, uri: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new VirtError("API_URI_INVALID", { uri, reason: `bad percent-encoding in '${s}'` });
  }
}

/** Parses a URI. Throws `API_URI_NO_DRIVER` when there is no scheme, `API_URI_INVALID` when malformed. */
export function parseURI(text: string): ConnectURI {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(text);
  if (!m) throw new VirtError("API_URI_NO_DRIVER", { uri: text });
  const scheme = m[1]!;
  let rest = m[2]!;
  const plus = scheme.indexOf("+");
  const driver = (plus < 0 ? scheme : scheme.slice(0, plus)).toLowerCase();
  const transport = plus < 0 ? undefined : scheme.slice(plus + 1).toLowerCase();
  if (transport !== undefined && !TRANSPORTS.has(transport)) {
    throw new VirtError("API_URI_INVALID", { uri: text, reason: `unknown transport '${transport}'` });
  }

  let fragment: string | undefined;
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    fragment = decode(rest.slice(hash + 1), text);
    rest = rest.slice(0, hash);
  }
  let query = "";
  const q = rest.indexOf("?");
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }

  let user: string | undefined;
  let server: string | undefined;
  let port: number | undefined;
  let path = rest;
  if (rest.startsWith("//")) {
    const end = rest.indexOf("/", 2);
    let authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
    path = end < 0 ? "" : rest.slice(end);
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      user = decode(authority.slice(0, at), text);
      authority = authority.slice(at + 1);
    }
    const pm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
    if (!pm) throw new VirtError("API_URI_INVALID", { uri: text, reason: `bad host part '${authority}'` });
    server = decode(pm[1]!.replace(/^\[(.*)\]$/, "$1"), text);
    if (pm[2] !== undefined && pm[2] !== "") {
      port = Number(pm[2]);
      if (!Number.isInteger(port) || port > 65535)
        throw new VirtError("API_URI_INVALID", { uri: text, reason: `bad port '${pm[2]}'` });
    }
  }
  const params = query
    .split(/[&;]/)
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=");
      return eq < 0
        ? { name: decode(p, text), value: "" }
        : { name: decode(p.slice(0, eq), text), value: decode(p.slice(eq + 1), text) };
    });
  return {
    text,
    scheme: scheme.toLowerCase(),
    driver,
    ...(transport !== undefined ? { transport } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(server !== undefined && server !== "" ? { server } : {}),
    ...(port !== undefined ? { port } : {}),
    path: decode(path, text),
    params,
    ...(fragment !== undefined ? { fragment } : {}),
  };
}

/** The value of a query parameter, or undefined. */
export function uriParam(uri: ConnectURI, name: string): string | undefined {
  return uri.params.find((p) => p.name === name)?.value;
}

/** True when the URI names a remote host or a transport: it is served by the remote driver. */
export function isRemoteURI(uri: ConnectURI): boolean {
  return uri.transport !== undefined || uri.server !== undefined;
}

/**
 * The URI to use when the caller gives none (libvirt's order): `LIBVIRT_DEFAULT_URI`, then the
 * driver probe, which on a Linux host means `qemu:///system` for root and `qemu:///session` for
 * everyone else.
 */
export function defaultURI(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.LIBVIRT_DEFAULT_URI;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return process.getuid?.() === 0 ? "qemu:///system" : "qemu:///session";
}
