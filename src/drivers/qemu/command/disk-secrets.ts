/**
 * Secrets of disks on QEMU's command line: a disk's `<auth>` password or cephx key and its LUKS
 * passphrases become `-object secret` objects just before the disk's `-blockdev`s, their values
 * encrypted (AES-256-CBC) with the domain's master key (`masterKey0`), so no plain secret is on
 * the command line or in the monitor log. The block nodes name them: iSCSI's `password-secret`,
 * RBD's `key-secret`, a `luks` format node's or a qcow2 node's `encrypt.key-secret`, and RBD's
 * own `encrypt` (librbd engine).
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { VirtError } from "../../../util/errors/index.ts";
import { diskAuth, diskEncryption } from "../../../conf/domain/parse-disk-secrets.ts";
import type { DiskDef, DiskEncryption } from "../../../conf/domain/types.ts";
import type { Build } from "./build.ts";
import { Props } from "./escape.ts";
import type { JsonObject } from "./escape.ts";
import type { DiskNodes } from "./disk.ts";

/** Which node carries the disk's encryption: its format node (QEMU) or RBD itself (librbd). */
export function encryptionOnStorage(enc: DiskEncryption | undefined): boolean {
  return enc?.engine === "librbd";
}

/** Whether a raw image needs a `luks` format node for its encryption. */
export function needsLuksLayer(disk: DiskDef): boolean {
  const enc = diskEncryption(disk);
  return enc !== undefined && !encryptionOnStorage(enc) && enc.format !== "default";
}

function authSecretId(nodes: DiskNodes): string {
  return `${nodes.storage}-auth-secret0`;
}

/** Named after the disk's top node (its format node when it has one), whichever node decrypts. */
function encryptionSecretId(nodes: DiskNodes, i: number): string {
  return `${nodes.format ?? nodes.storage}-encryption-secret${i}`;
}

export function secretObject(b: Build, id: string, value: Uint8Array): Props {
  const key = b.ctx.masterKey;
  if (!key) {
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: "disk secrets need the domain's master key, which this command line has none of",
    });
  }
  const iv = b.ctx.secretIV?.() ?? randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const data = Buffer.concat([cipher.update(value), cipher.final()]);
  return new Props()
    .set("qom-type", "secret")
    .set("id", id)
    .set("data", data.toString("base64"))
    .set("keyid", "masterKey0")
    .set("iv", Buffer.from(iv).toString("base64"))
    .set("format", "base64");
}

function lookup(
  b: Build,
  disk: DiskDef,
  ref: { uuid?: string; usage?: string },
  usageType: string,
): Uint8Array {
  const get = b.ctx.secretValue;
  if (!get) {
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: `disk '${disk.target.dev}' needs a secret, and no secret driver is connected`,
    });
  }
  return get(ref, usageType);
}

/** Checks what QEMU can do with the disk's encryption (libvirt's qemuDomainValidateStorageSource). */
export function validateDiskEncryption(b: Build, disk: DiskDef): void {
  const enc = diskEncryption(disk);
  if (!enc) return;
  if (encryptionOnStorage(enc)) {
    if (disk.source?.protocol !== "rbd")
      throw new VirtError("CONFIG_UNSUPPORTED", {
        what: "librbd encryption is supported only with RBD backed disks",
      });
    if (!b.has("rbd-encryption"))
      throw new VirtError("CONFIG_UNSUPPORTED", {
        what: "librbd encryption is not supported by this QEMU binary",
      });
    if (enc.format === "luks-any" && !b.has("rbd-encryption-luks-any"))
      throw new VirtError("CONFIG_UNSUPPORTED", {
        what: "luks-any encryption is not supported by this QEMU binary",
      });
    if (enc.secrets.length > 1 && !b.has("rbd-encryption-layering"))
      throw new VirtError("CONFIG_UNSUPPORTED", {
        what: "librbd encryption layering is not supported by this QEMU binary",
      });
    return;
  }
  const fmt = disk.driver?.type ?? "raw";
  if (fmt !== "raw" && fmt !== "qcow2")
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: "encryption is supported only with 'raw' and 'qcow2' image format",
    });
  if (enc.format !== "luks" && enc.format !== "default")
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: `encryption format '${enc.format}' is supported only with the librbd engine`,
    });
  if (enc.format === "luks" && enc.secrets.length !== 1)
    throw new VirtError("CONFIG_UNSUPPORTED", {
      what: `disk '${disk.target.dev}': LUKS encryption needs exactly one passphrase <secret>`,
    });
}

/** The secret objects a disk needs, in libvirt's order (auth, then encryption). */
export function diskSecretObjects(b: Build, disk: DiskDef, nodes: DiskNodes): Props[] {
  validateDiskEncryption(b, disk);
  const out: Props[] = [];
  const auth = diskAuth(disk);
  if (auth) {
    const value = lookup(b, disk, auth.secret, auth.secret.type);
    out.push(secretObject(b, authSecretId(nodes), value));
  }
  const enc = diskEncryption(disk);
  if (enc && enc.format !== "default") {
    enc.secrets.forEach((s, i) => {
      const value = lookup(b, disk, s, "volume");
      out.push(secretObject(b, encryptionSecretId(nodes, i), value));
    });
  }
  return out;
}

/** The ids of every secret object a disk of these nodes may have (for removal after unplug). */
export function diskSecretIds(nodes: DiskNodes, count = 4): string[] {
  const ids = [authSecretId(nodes)];
  for (let i = 0; i < count; i++) ids.push(encryptionSecretId(nodes, i));
  return ids;
}

/** Adds the disk's `-object secret`s to the command line. */
export function buildDiskSecrets(b: Build, disk: DiskDef, nodes: DiskNodes): void {
  for (const o of diskSecretObjects(b, disk, nodes)) b.addJson("-object", o);
}

/** Storage-node properties of the disk's auth (placed after the protocol's address). */
export function authProps(disk: DiskDef, nodes: DiskNodes, p: Props): void {
  const auth = diskAuth(disk);
  if (!auth) return;
  if (disk.source?.protocol === "rbd") {
    p.set("user", auth.username)
      .set("auth-client-required", ["cephx", "none"])
      .set("key-secret", authSecretId(nodes));
  } else {
    p.set("user", auth.username).set("password-secret", authSecretId(nodes));
  }
}

/** RBD's own encryption (librbd engine): `encrypt` with a parent per further passphrase. */
export function rbdEncryptProps(disk: DiskDef, nodes: DiskNodes, p: Props): void {
  const enc = diskEncryption(disk);
  if (!enc || !encryptionOnStorage(enc)) return;
  let top: JsonObject | undefined;
  for (let i = enc.secrets.length - 1; i >= 0; i--) {
    const layer: Record<string, JsonObject | string> = {
      format: enc.format,
      "key-secret": encryptionSecretId(nodes, i),
    };
    if (top) layer.parent = top;
    top = layer;
  }
  if (top) p.set("encrypt", top);
}

/** Format-node properties of QEMU-engine encryption: `luks` for raw, `encrypt` for qcow2. */
export function formatEncryptProps(disk: DiskDef, nodes: DiskNodes, driver: string, p: Props): void {
  const enc = diskEncryption(disk);
  if (!enc || encryptionOnStorage(enc) || enc.format === "default") return;
  const id = encryptionSecretId(nodes, 0);
  if (driver === "luks") p.set("key-secret", id);
  else if (driver === "qcow2") p.set("encrypt", { format: "luks", "key-secret": id });
}
