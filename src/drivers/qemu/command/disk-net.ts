/**
 * The protocol-specific parts of network disk storage nodes: curl's (http, https, ftp, ftps,
 * tftp) URL query, credentials, SSL verification, cookies, readahead and timeout; nbd's TLS and
 * reconnect delay; nfs's server, user and group; and sources served through nbdkit
 * (qemu.conf `storage_use_nbdkit`), which QEMU reaches as nbd over a unix socket. The secret
 * objects they need (cookie string, TLS key password) and the TLS credentials object come
 * before the storage node, after the auth secret (libvirt's order).
 */
import type { DiskSource } from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import { fail } from "./build.ts";
import { Props } from "./escape.ts";

const CURL = new Set(["http", "https", "ftp", "ftps", "tftp"]);

/** Whether QEMU uses its curl driver for this protocol. */
export function isCurlProtocol(protocol: string | undefined): boolean {
  return protocol !== undefined && CURL.has(protocol);
}

/** The nbdkit plugin that serves a protocol, if nbdkit has one for it. */
function nbdkitPlugin(protocol: string | undefined): string | undefined {
  if (isCurlProtocol(protocol)) return "curl";
  if (protocol === "ssh") return "ssh";
  return undefined;
}

/** Whether an nbdkit process serves this network source (libvirt's qemuNbdkitInitStorageSource). */
export function usesNbdkit(b: Build, s: DiskSource): boolean {
  const plugin = nbdkitPlugin(s.protocol);
  return plugin !== undefined && b.ctx.nbdkit?.plugins.includes(plugin) === true;
}

/** The unix socket nbdkit listens on for a storage node. */
export function nbdkitSocket(b: Build, storageNode: string): string {
  return `${b.ctx.paths.domainDir}/nbdkit-${storageNode}.socket`;
}

/** QEMU's side of an nbdkit-served source: an nbd client of nbdkit's socket. */
export function nbdkitProps(b: Build, storageNode: string): Props {
  return new Props().set("server", { type: "unix", path: nbdkitSocket(b, storageNode) });
}

function cookieSecretId(storageNode: string): string {
  return `${storageNode}-httpcookie-secret0`;
}

function tlsObjectId(storageNode: string): string {
  return `obj${storageNode}_tls0`;
}

/** The cookies as curl's `Cookie:` header value. */
function cookieString(s: DiskSource): string {
  return (s.cookies ?? []).map((c) => `${c.name}=${c.value}`).join("; ");
}

/** The curl URL with its query (`?…`). */
export function curlUrl(s: DiskSource): string {
  const h = s.hosts?.[0] ?? {};
  const port = h.port !== undefined ? `:${h.port}` : "";
  const name = s.name ?? "";
  const path = name.startsWith("/") ? name : `/${name}`;
  const query = s.query !== undefined && s.query !== "" ? `?${s.query}` : "";
  return `${s.protocol ?? ""}://${h.name ?? ""}${port}${path}${query}`;
}

/**
 * curl's properties after `url`: `username`/`password-secret` (the auth secret's id),
 * `sslverify`, `cookie-secret`, `readahead`, `timeout`.
 */
export function curlProps(
  s: DiskSource,
  storageNode: string,
  auth: { username: string; secretId: string } | undefined,
  p: Props,
): void {
  if (auth) p.set("username", auth.username).set("password-secret", auth.secretId);
  p.opt("sslverify", s.sslverify);
  if (s.cookies && s.cookies.length > 0) p.set("cookie-secret", cookieSecretId(storageNode));
  p.pos("readahead", s.readahead).pos("timeout", s.timeout);
}

/** Whether the nbd source uses TLS: its own `tls=`, else qemu.conf's `nbd_tls`. */
function nbdUsesTls(b: Build, s: DiskSource): boolean {
  return s.protocol === "nbd" && (s.tls ?? b.ctx.nbdTLS?.enabled === true);
}

/** nbd's properties after `export`: `tls-creds`, `tls-hostname`, `reconnect-delay`. */
export function nbdProps(b: Build, s: DiskSource, storageNode: string, element: string, p: Props): void {
  if (nbdUsesTls(b, s)) {
    p.set("tls-creds", tlsObjectId(storageNode));
    if (s.tlsHostname !== undefined) {
      if (!b.has("blockdev.nbd.tls-hostname"))
        fail("QEMU_CMD_UNSUPPORTED", {
          element,
          reason: "'tlsHostname' field is not supported by this QEMU",
        });
      p.set("tls-hostname", s.tlsHostname);
    }
  }
  p.pos("reconnect-delay", s.reconnectDelay);
}

/** A numeric id from `+N`, a plain number or a host lookup of the name. */
function hostId(b: Build, value: string, kind: "user" | "group", element: string): number {
  const m = /^\+?(\d+)$/.exec(value);
  if (m) return Number(m[1]);
  const id = b.ctx.hostIdOf?.(value, kind);
  if (id === undefined)
    fail("QEMU_CMD_INVALID_VALUE", { element, reason: `nfs ${kind} '${value}' is not known on this host` });
  return id;
}

/** nfs's storage node: `server` (host first), `path`, `user`, `group`. */
export function nfsProps(b: Build, s: DiskSource, element: string): Props {
  const hosts = s.hosts ?? [];
  const h = hosts[0];
  if (hosts.length !== 1 || !h)
    fail("QEMU_CMD_INVALID_VALUE", { element, reason: "nfs protocol accepts only one host" });
  const p = new Props().set("server", { host: h.name ?? "", type: "inet" }).set("path", s.name ?? "");
  if (s.nfsUser !== undefined) p.set("user", hostId(b, s.nfsUser, "user", element));
  if (s.nfsGroup !== undefined) p.set("group", hostId(b, s.nfsGroup, "group", element));
  return p;
}

/** How {@link networkSourceObjects} makes secret objects and looks secret values up. */
export interface SecretMaker {
  object: (id: string, value: Uint8Array) => Props;
  lookup: (ref: { uuid?: string; usage?: string }, usageType: string) => Uint8Array;
}

/**
 * The objects a network source needs besides its auth secret: the cookie secret (its value is
 * the cookie header, encrypted like every secret), the TLS key password's secret and the TLS
 * credentials.
 */
export function networkSourceObjects(
  b: Build,
  s: DiskSource,
  storageNode: string,
  secrets: SecretMaker,
): Props[] {
  const out: Props[] = [];
  if (s.cookies && s.cookies.length > 0 && (s.protocol === "http" || s.protocol === "https"))
    out.push(secrets.object(cookieSecretId(storageNode), Buffer.from(cookieString(s))));
  if (nbdUsesTls(b, s)) {
    const tls = b.ctx.nbdTLS;
    const id = tlsObjectId(storageNode);
    const creds = new Props()
      .set("qom-type", "tls-creds-x509")
      .set("id", id)
      .set("dir", tls?.x509certdir ?? "/etc/pki/qemu")
      .set("endpoint", "client")
      .set("verify-peer", tls?.x509verify ?? true);
    if (tls?.secretUUID !== undefined) {
      const secretId = `${id}-secret0`;
      out.push(secrets.object(secretId, secrets.lookup({ uuid: tls.secretUUID }, "tls")));
      creds.set("passwordid", secretId);
    }
    out.push(creds);
  }
  return out;
}
