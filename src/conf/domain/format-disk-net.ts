/**
 * Formatting of the protocol-specific parts of a network disk `<source>` (see
 * parse-disk-net.ts), in libvirt's order: attributes after `name=`, children after the hosts,
 * RBD snapshot/config and the iSCSI initiator.
 */
import type { XmlWriter } from "../xml.ts";
import type { DiskDataStore, DiskSource } from "./types.ts";

/** `query=`, `tls=`, `tlsHostname=` (after `protocol=` and `name=`). */
export function networkSourceAttrs(s: DiskSource): Record<string, string | undefined> {
  return {
    query: s.query,
    tls: s.tls === undefined ? undefined : s.tls ? "yes" : "no",
    tlsHostname: s.tlsHostname,
  };
}

/** `<ssl>`, `<cookies>`, `<readahead>`, `<timeout>`, ssh's and nfs's identity, `<reconnect>`. */
export function formatNetworkSourceChildren(w: XmlWriter, s: DiskSource): void {
  if (s.sslverify !== undefined) w.empty("ssl", { verify: s.sslverify ? "yes" : "no" });
  if (s.cookies && s.cookies.length > 0) {
    const cookies = s.cookies;
    w.elem("cookies", {}, () => {
      for (const c of cookies) w.text("cookie", c.value, { name: c.name });
    });
  }
  if (s.readahead !== undefined) w.empty("readahead", { size: s.readahead });
  if (s.timeout !== undefined) w.empty("timeout", { seconds: s.timeout });
  if (s.protocol === "ssh") {
    if (s.sshKnownHosts !== undefined) w.empty("knownHosts", { path: s.sshKnownHosts });
    const id = s.sshIdentity;
    if (id && (id.username !== undefined || id.keyfile !== undefined || id.agentsock !== undefined))
      w.empty("identity", { username: id.username, keyfile: id.keyfile, agentsock: id.agentsock });
  }
  if (s.protocol === "nfs" && (s.nfsUser !== undefined || s.nfsGroup !== undefined))
    w.empty("identity", { user: s.nfsUser, group: s.nfsGroup });
  if (s.reconnectDelay !== undefined) w.empty("reconnect", { delay: s.reconnectDelay });
}

/** `<dataStore type=>` with its format and source (formatted by the caller's source writer). */
export function formatDataStore(
  w: XmlWriter,
  ds: DiskDataStore,
  formatSource: (w: XmlWriter, type: DiskDataStore["type"], s: DiskSource) => void,
): void {
  w.elem("dataStore", { type: ds.type }, () => {
    if (ds.format !== undefined) w.empty("format", { type: ds.format });
    formatSource(w, ds.type, ds.source);
  });
}
