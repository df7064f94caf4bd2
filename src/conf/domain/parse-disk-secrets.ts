/**
 * What a disk source needs secrets for, and its limits: `<auth>` (iSCSI CHAP, Ceph cephx),
 * `<encryption>` (LUKS with a passphrase secret) and `<iotune>`. Both `<auth>` and
 * `<encryption>` may sit in `<disk>` (the older place) or in `<source>`; libvirt keeps and
 * formats each where it was written, and refuses both places at once.
 */
import type { XmlElement } from "../xml.ts";
import type { DiskAuth, DiskDef, DiskEncryption, DiskIotune, DiskSecretRef } from "./types.ts";
import { parseUuid } from "./parse-general.ts";
import { enumAttr, invalidAttr, missingAttr, str, uintText, unsupported } from "./reader.ts";

function secretRef(el: XmlElement): DiskSecretRef {
  const ref: DiskSecretRef = { type: str(el, "type") ?? "" };
  const uuid = str(el, "uuid");
  const usage = str(el, "usage");
  if (uuid !== undefined) {
    const u = parseUuid(uuid);
    if (u === undefined)
      throw invalidAttr(el, "uuid", uuid, "expected a secret UUID like 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f");
    ref.uuid = u;
  }
  if (usage !== undefined) ref.usage = usage;
  if (ref.uuid !== undefined && ref.usage !== undefined)
    throw unsupported(el, "either secret uuid or usage expected");
  if (ref.uuid === undefined && ref.usage === undefined)
    throw unsupported(el, "either secret uuid or usage expected");
  return ref;
}

/** `<auth username=>` with one `<secret type= uuid=|usage=/>` (libvirt's virStorageAuthDefParse). */
export function parseDiskAuth(el: XmlElement): DiskAuth {
  const username = str(el, "username");
  if (username === undefined || username === "") throw missingAttr(el, "username");
  // `type='chap'|'ceph'` on <auth> itself only names the scheme the secret type already says
  enumAttr(el, "type", ["chap", "ceph"] as const);
  const s = el.child("secret");
  if (!s) throw unsupported(el, "Missing <secret> element in auth");
  const secret = secretRef(s);
  if (secret.type === "") throw unsupported(s, "unknown secret type '<null>'");
  if (secret.type !== "iscsi" && secret.type !== "ceph")
    throw invalidAttr(s, "type", secret.type, "expected iscsi or ceph", ["iscsi", "ceph"]);
  return { username, secret };
}

const ENCRYPTION_FORMATS = ["default", "qcow", "luks", "luks2", "luks-any"] as const;

/** `<encryption format= engine=>` of a disk (libvirt's virStorageEncryptionParseNode). */
export function parseDiskEncryption(el: XmlElement): DiskEncryption {
  const format = enumAttr(el, "format", ENCRYPTION_FORMATS);
  if (format === undefined) throw missingAttr(el, "format");
  const enc: DiskEncryption = { format, secrets: [] };
  const engine = enumAttr(el, "engine", ["default", "qemu", "librbd"] as const);
  if (engine !== undefined && engine !== "default") enc.engine = engine;
  for (const s of el.all("secret")) {
    const ref = secretRef(s);
    if (ref.type !== "passphrase")
      throw invalidAttr(s, "type", ref.type, "expected passphrase", ["passphrase"]);
    enc.secrets.push(ref);
  }
  // a disk's LUKS parameters come from the image header; libvirt refuses them here
  const cipher = el.child("cipher");
  if (cipher) throw unsupported(cipher, "supplying <cipher> for domain disk definition is unnecessary");
  const ivgen = el.child("ivgen");
  if (ivgen) throw unsupported(ivgen, "supplying <ivgen> for domain disk definition is unnecessary");
  return enc;
}

const IOTUNE_NUMBERS = [
  "total_bytes_sec",
  "read_bytes_sec",
  "write_bytes_sec",
  "total_iops_sec",
  "read_iops_sec",
  "write_iops_sec",
  "total_bytes_sec_max",
  "read_bytes_sec_max",
  "write_bytes_sec_max",
  "total_iops_sec_max",
  "read_iops_sec_max",
  "write_iops_sec_max",
  "size_iops_sec",
  "total_bytes_sec_max_length",
  "read_bytes_sec_max_length",
  "write_bytes_sec_max_length",
  "total_iops_sec_max_length",
  "read_iops_sec_max_length",
  "write_iops_sec_max_length",
] as const;

/** The order libvirt formats `<iotune>`'s children in. */
export const IOTUNE_ORDER = [
  "total_bytes_sec",
  "read_bytes_sec",
  "write_bytes_sec",
  "total_iops_sec",
  "read_iops_sec",
  "write_iops_sec",
  "total_bytes_sec_max",
  "read_bytes_sec_max",
  "write_bytes_sec_max",
  "total_iops_sec_max",
  "read_iops_sec_max",
  "write_iops_sec_max",
  "size_iops_sec",
  "group_name",
  "total_bytes_sec_max_length",
  "read_bytes_sec_max_length",
  "write_bytes_sec_max_length",
  "total_iops_sec_max_length",
  "read_iops_sec_max_length",
  "write_iops_sec_max_length",
] as const satisfies readonly (keyof DiskIotune)[];

/** `<iotune>`: each limit once, libvirt's combination rules (virDomainDiskDefIotuneParse). */
export function parseDiskIotune(el: XmlElement): DiskIotune {
  const t: DiskIotune = {};
  for (const k of IOTUNE_NUMBERS) {
    const c = el.child(k);
    if (c) t[k] = uintText(c, { hex: false });
  }
  const group = el.childText("group_name");
  if (group !== undefined) t.group_name = group;
  const both = (total: keyof DiskIotune, rw: string): void => {
    const [r, w] = [`read_${rw}`, `write_${rw}`] as (keyof DiskIotune)[];
    if (t[total] !== undefined && (t[r!] !== undefined || t[w!] !== undefined))
      throw unsupported(el, `total and read/write ${rw.replaceAll("_", " ")} cannot be set at the same time`);
  };
  both("total_bytes_sec", "bytes_sec");
  both("total_iops_sec", "iops_sec");
  both("total_bytes_sec_max", "bytes_sec_max");
  both("total_iops_sec_max", "iops_sec_max");
  return t;
}

/** Reads `<auth>`/`<encryption>` of `<disk>` and of `<source>` into the definition. */
export function parseDiskSecrets(diskEl: XmlElement, sourceEl: XmlElement | undefined, disk: DiskDef): void {
  const auth = diskEl.child("auth");
  const srcAuth = sourceEl?.child("auth");
  if (auth && srcAuth) throw unsupported(srcAuth, "an <auth> definition already found for disk source");
  const enc = diskEl.child("encryption");
  const srcEnc = sourceEl?.child("encryption");
  if (enc && srcEnc) throw unsupported(srcEnc, "an <encryption> definition already found for disk source");
  if (auth) disk.auth = parseDiskAuth(auth);
  if (enc) disk.encryption = parseDiskEncryption(enc);
  if (srcAuth || srcEnc) {
    const s = (disk.source ??= {});
    if (srcAuth) s.auth = parseDiskAuth(srcAuth);
    if (srcEnc) s.encryption = parseDiskEncryption(srcEnc);
  }
  const iotune = diskEl.child("iotune");
  if (iotune) disk.iotune = parseDiskIotune(iotune);
}

/** The disk's auth and encryption, wherever they were written. */
export function diskAuth(disk: DiskDef): DiskAuth | undefined {
  return disk.auth ?? disk.source?.auth;
}

export function diskEncryption(disk: DiskDef): DiskEncryption | undefined {
  return disk.encryption ?? disk.source?.encryption;
}
