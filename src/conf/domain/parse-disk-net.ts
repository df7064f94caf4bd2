/**
 * The protocol-specific parts of a network disk `<source>` (libvirt's
 * virDomainDiskSourceNetworkParse): the URL query and TLS attributes, curl's cookies, SSL
 * verification, readahead and timeout, ssh's known-hosts file and identity, nfs's user and
 * group, nbd's reconnect delay, and the default port each protocol gets when a TCP host names
 * none (virStorageSourceNetworkAssignDefaultPorts). Formatting is in format-disk-net.ts.
 */
import type { XmlElement } from "../xml.ts";
import type { DiskDataStore, DiskSource } from "./types.ts";
import { invalidAttr, missingAttr, str, uintAttr, unsupported, yesNo } from "./reader.ts";

/** The port a protocol listens on when the XML names none; 0: no default (rbd, nfs). */
export function networkDefaultPort(protocol: string | undefined): number {
  switch (protocol) {
    case "http":
      return 80;
    case "https":
      return 443;
    case "ftp":
      return 21;
    case "ftps":
      return 990;
    case "tftp":
      return 69;
    case "sheepdog":
      return 7000;
    case "nbd":
      return 10809;
    case "ssh":
      return 22;
    case "iscsi":
      return 3260;
    case "gluster":
      return 24007;
    case "vxhs":
      return 9999;
    default:
      return 0;
  }
}

/** TCP hosts without a port get their protocol's default, as libvirt writes them back. */
export function assignDefaultPorts(s: DiskSource): void {
  const port = networkDefaultPort(s.protocol);
  if (port === 0) return;
  for (const h of s.hosts ?? []) if ((h.transport ?? "tcp") === "tcp" && h.port === undefined) h.port = port;
}

const CURL = new Set(["http", "https", "ftp", "ftps", "tftp"]);

/** A positive size/seconds attribute; libvirt refuses zero. */
function positive(el: XmlElement, name: string): number {
  const v = uintAttr(el, name, { hex: false });
  if (v === undefined) throw missingAttr(el, name);
  if (v === 0) throw invalidAttr(el, name, "0", "expected a number greater than zero");
  return v;
}

/** A control character, space or DEL. */
function hasControl(v: string): boolean {
  for (const ch of v) {
    const c = ch.charCodeAt(0);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Cookie names and values as RFC 6265 allows them (virStorageSourceNetCookiesValidate). */
function checkCookie(el: XmlElement, name: string, value: string): void {
  if (name === "" || hasControl(name) || /[()<>@,;:\\"/[\]?={}]/.test(name))
    throw unsupported(el, `cookie name '${name}' contains invalid characters`);
  const bare = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (hasControl(bare) || /[",;\\]/.test(bare))
    throw unsupported(el, `value of cookie '${name}' contains invalid characters`);
}

/** Reads the protocol-specific attributes and children of a network `<source>` into `s`. */
export function parseNetworkSourceExtras(el: XmlElement, s: DiskSource): void {
  const protocol = s.protocol ?? "";
  const tls = yesNo(el, "tls");
  if (tls !== undefined) s.tls = tls;
  const tlsHostname = str(el, "tlsHostname");
  if (tlsHostname !== undefined) s.tlsHostname = tlsHostname;
  if (protocol === "http" || protocol === "https") {
    const query = str(el, "query");
    if (query !== undefined) s.query = query;
  }
  if (protocol === "https" || protocol === "ftps") {
    const ssl = el.child("ssl");
    const verify = ssl ? yesNo(ssl, "verify") : undefined;
    if (verify !== undefined) s.sslverify = verify;
  }
  if (protocol === "http" || protocol === "https") {
    const cookies = el.child("cookies");
    if (cookies) {
      const list: { name: string; value: string }[] = [];
      for (const c of cookies.all("cookie")) {
        const name = str(c, "name");
        if (name === undefined) throw missingAttr(c, "name");
        const value = c.content;
        checkCookie(c, name, value);
        if (list.some((x) => x.name === name)) throw unsupported(c, `duplicate cookie '${name}'`);
        list.push({ name, value });
      }
      if (list.length > 0) s.cookies = list;
    }
  }
  if (CURL.has(protocol)) {
    const ra = el.child("readahead");
    if (ra) s.readahead = positive(ra, "size");
    const to = el.child("timeout");
    if (to) s.timeout = positive(to, "seconds");
  }
  if (protocol === "ssh") {
    const kh = el.child("knownHosts");
    const path = kh ? str(kh, "path") : undefined;
    if (path !== undefined) s.sshKnownHosts = path;
    const id = el.child("identity");
    if (id) {
      const ident: NonNullable<DiskSource["sshIdentity"]> = {};
      const username = str(id, "username");
      const keyfile = str(id, "keyfile");
      const agentsock = str(id, "agentsock");
      if (username !== undefined) ident.username = username;
      if (keyfile !== undefined) ident.keyfile = keyfile;
      if (agentsock !== undefined) ident.agentsock = agentsock;
      s.sshIdentity = ident;
    }
  }
  if (protocol === "nfs") {
    const id = el.child("identity");
    if (id) {
      const user = str(id, "user");
      const group = str(id, "group");
      if (user !== undefined) s.nfsUser = user;
      if (group !== undefined) s.nfsGroup = group;
    }
  }
  const rc = el.child("reconnect");
  if (rc) {
    const delay = uintAttr(rc, "delay", { hex: false });
    if (delay === undefined) throw missingAttr(rc, "delay");
    s.reconnectDelay = delay;
  }
}

/**
 * `<dataStore type=>` of a source: a qcow2 image's external data file, itself a file, block
 * device or network source. `parseSource` reads the inner `<source>` for its type.
 */
export function parseDataStore(
  el: XmlElement,
  parseSource: (src: XmlElement, type: DiskDataStore["type"]) => DiskSource | undefined,
): DiskDataStore {
  const type = str(el, "type");
  if (type !== "file" && type !== "block" && type !== "network")
    throw invalidAttr(el, "type", type ?? "", "expected file, block or network", [
      "file",
      "block",
      "network",
    ]);
  const src = el.child("source");
  const source = src ? parseSource(src, type) : undefined;
  if (!source) throw unsupported(el, "missing data file store source");
  const ds: DiskDataStore = { type, source };
  const fmt = el.child("format");
  const ft = fmt ? str(fmt, "type") : undefined;
  if (ft !== undefined) ds.format = ft;
  return ds;
}
