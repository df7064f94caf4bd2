/**
 * Secret XML (libvirt's `<secret>`, secret_conf.c) ⇄ `SecretDef`: a UUID (generated when
 * absent), an optional description, the `ephemeral` and `private` flags and a usage (`volume`
 * path, `ceph`/`tls`/`vtpm` name, `iscsi` target). Errors carry libvirt's wording and numbers.
 * The value of a secret is not part of its XML: the driver keeps it.
 */
import { randomUUID } from "node:crypto";
import { parseXml, XmlWriter, type XmlElement } from "../xml.ts";
import { toVirtError, VirtError } from "../../util/errors/index.ts";

/** `virSecretUsageType`, in libvirt's numbering (the wire carries the number). */
export const SecretUsageType = { NONE: 0, VOLUME: 1, CEPH: 2, ISCSI: 3, TLS: 4, VTPM: 5 } as const;

/** Usage type names by number, as the XML and virsh spell them. */
export const SECRET_USAGE_NAMES = ["none", "volume", "ceph", "iscsi", "tls", "vtpm"] as const;

/** The child element that holds each usage type's id. */
const USAGE_ELEMENT: Record<number, string> = { 1: "volume", 2: "name", 3: "target", 4: "name", 5: "name" };

/** libvirt's sentence when a usage's id element is missing. */
const USAGE_MISSING: Record<number, string> = {
  1: "volume usage specified, but volume path is missing",
  2: "Ceph usage specified, but name is missing",
  3: "iSCSI usage specified, but target is missing",
  4: "TLS usage specified, but name is missing",
  5: "vTPM usage specified, but name is missing",
};

export interface SecretDef {
  readonly uuid: string;
  readonly description?: string;
  readonly ephemeral: boolean;
  readonly private: boolean;
  /** `SecretUsageType` */
  readonly usageType: number;
  /** The volume path, ceph/tls/vtpm name or iscsi target; "" for usage none. */
  readonly usageID: string;
}

/** Lowercase dashed form of a UUID written as libvirt accepts it (dashes anywhere), or undefined. */
export function parseSecretUUID(text: string): string | undefined {
  const hex = text.trim().replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** libvirt's `virXPathString`: the element's text, or undefined when absent or empty. */
function textOf(el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  el.used = true;
  const t = el.text;
  return t === "" ? undefined : t;
}

function yesNo(root: XmlElement, attr: "ephemeral" | "private"): boolean {
  const v = root.attr(attr);
  if (v === undefined || v === "") return false;
  if (v === "yes") return true;
  if (v === "no") return false;
  throw new VirtError("SECRET_INVALID_YESNO", { attr }, { allowed: ["yes", "no"] });
}

function readSecret(root: XmlElement, makeUuid: () => string): SecretDef {
  if (root.name !== "secret") throw new VirtError("SECRET_UNEXPECTED_ROOT", { found: root.name });
  const ephemeral = yesNo(root, "ephemeral");
  const priv = yesNo(root, "private");
  const uuidText = textOf(root.child("uuid"));
  let uuid: string;
  if (uuidText === undefined) uuid = makeUuid();
  else {
    const u = parseSecretUUID(uuidText);
    if (u === undefined) throw new VirtError("SECRET_MALFORMED_UUID", {});
    uuid = u;
  }
  const description = textOf(root.child("description"));
  let usageType: number = SecretUsageType.NONE;
  let usageID = "";
  const usage = root.child("usage");
  if (usage) {
    const type = usage.attr("type");
    if (type === undefined || type === "") throw new VirtError("SECRET_USAGE_NO_TYPE", {});
    const n = (SECRET_USAGE_NAMES as readonly string[]).indexOf(type);
    if (n < 0) throw new VirtError("SECRET_USAGE_UNKNOWN", { type }, { allowed: [...SECRET_USAGE_NAMES] });
    usageType = n;
    if (n !== SecretUsageType.NONE) {
      const id = textOf(usage.child(USAGE_ELEMENT[n] ?? ""));
      if (id === undefined) throw new VirtError("SECRET_USAGE_MISSING", { what: USAGE_MISSING[n] ?? "" });
      usageID = id;
    }
  }
  return {
    uuid,
    ...(description !== undefined ? { description } : {}),
    ephemeral,
    private: priv,
    usageType,
    usageID,
  };
}

/** Parses secret XML (libvirt's `virSecretDefParseString`); only `VirtError`s leave. */
export function parseSecret(xml: string, options: { makeUuid?: () => string } = {}): SecretDef {
  try {
    return readSecret(parseXml(xml, "(definition_of_secret)"), options.makeUuid ?? randomUUID);
  } catch (e) {
    throw toVirtError(e);
  }
}

/** libvirt's `virSecretDefFormat`, byte for byte (two-space indent, trailing newline). */
export function formatSecret(def: SecretDef): string {
  const w = new XmlWriter();
  w.elem("secret", { ephemeral: def.ephemeral ? "yes" : "no", private: def.private ? "yes" : "no" }, (w) => {
    w.text("uuid", def.uuid);
    if (def.description !== undefined) w.text("description", def.description);
    if (def.usageType !== SecretUsageType.NONE) {
      w.elem("usage", { type: SECRET_USAGE_NAMES[def.usageType] }, (w) => {
        w.text(USAGE_ELEMENT[def.usageType] ?? "name", def.usageID);
      });
    }
  });
  return w.toString();
}
