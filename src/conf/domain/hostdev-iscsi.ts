/**
 * SCSI host devices reached over iSCSI: `<hostdev type='scsi'><source protocol='iscsi'
 * name='IQN/LUN'><host name= port=/><auth>…</auth><initiator>…</initiator></source>`.
 * QEMU's own initiator opens the LUN; the guest sees it as a SCSI generic device.
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import type { HostdevIscsiSource } from "./types.ts";
import { parseDiskAuth } from "./parse-disk-secrets.ts";
import { missingChild, reqStr, str, structural, uintAttr } from "./reader.ts";

export function parseHostdevIscsi(src: XmlElement): HostdevIscsiSource {
  const protocol = reqStr(src, "protocol");
  if (protocol !== "iscsi") throw structural(src, `unknown SCSI subsystem protocol '${protocol}'`);
  let name = reqStr(src, "name");
  // a target without a LUN means LUN 0, and libvirt writes it so
  if (!name.includes("/")) name = `${name}/0`;
  const hostEl = src.child("host");
  if (!hostEl) throw missingChild(src, "host");
  const host: HostdevIscsiSource["host"] = {};
  const hostName = str(hostEl, "name");
  const port = uintAttr(hostEl, "port", { hex: false, max: 65535 });
  if (hostName !== undefined) host.name = hostName;
  if (port !== undefined) host.port = port;
  const s: HostdevIscsiSource = { name, host };
  const auth = src.child("auth");
  if (auth) s.auth = parseDiskAuth(auth);
  const iqn = src.child("initiator")?.child("iqn");
  const iqnName = iqn ? str(iqn, "name") : undefined;
  if (iqnName !== undefined) s.initiatorIqn = iqnName;
  return s;
}

export function formatHostdevIscsi(w: XmlWriter, s: HostdevIscsiSource): void {
  w.elem("source", { protocol: "iscsi", name: s.name }, () => {
    w.empty("host", { name: s.host.name, port: s.host.port });
    const a = s.auth;
    if (a)
      w.elem("auth", { username: a.username }, () =>
        w.empty("secret", { type: a.secret.type, uuid: a.secret.uuid, usage: a.secret.usage }),
      );
    if (s.initiatorIqn !== undefined) w.elem("initiator", {}, () => w.empty("iqn", { name: s.initiatorIqn }));
  });
}
