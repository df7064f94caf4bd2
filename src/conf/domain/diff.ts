/**
 * What differs between two domain XML documents, grouped the way a person reads a definition:
 * one entry per top-level element (`<memory>`, `<os>`, `<cpu>`) and one per device (`disk
 * 'vda'`, `interface aa:bb:cc:dd:ee:ff`, `controller usb index 0`), each with the attribute,
 * text and child changes inside it.
 *
 * Used by `tvirsh edit` for two reports: what the stored definition will differ from what the
 * user wrote (defaults and normalisation), and — for a running domain — what differs between
 * the live configuration and the new persistent one, i.e. what takes effect at the next boot.
 *
 * The comparison is semantic: attribute order, quoting, indentation and whitespace-only text do
 * not count. Devices are matched by identity (a disk by its target, an interface by its MAC, a
 * controller by type and index, ...) rather than by position, so inserting a disk reports one
 * added disk, not every disk after it as changed. Pure: strings in, data out.
 */
import { parseXml, type XmlAttr, type XmlElement } from "../xml.ts";

export type ChangeKind = "added" | "removed" | "changed";

export interface DomainChange {
  readonly kind: ChangeKind;
  /** The element or device, for people: `<memory>`, `disk 'vda'`, `controller usb index 0`. */
  readonly subject: string;
  /** Its XPath, in the new document (in the old one for removals). */
  readonly xpath: string;
  /** For `changed`: one line per difference inside, e.g. `@unit: 'KiB' → 'MiB'`. */
  readonly details: readonly string[];
  /** For `added`/`removed`: the element's start tag, e.g. `<controller type='usb' index='0'>`. */
  readonly tag?: string;
}

export interface DiffOptions {
  /**
   * The old document is a running domain's live XML: what only exists while running (the
   * `id` attribute, device `<alias>`es, pty paths, runtime tap names, dynamic security labels)
   * is not a change when the new document lacks it.
   */
  oldIsLive?: boolean;
  /**
   * XPaths in the old document (elements, or `…/@attr`) to leave out of the comparison: e.g.
   * the unknown parts the parser reported, listed on their own.
   */
  ignoreOld?: readonly string[];
}

interface Ctx {
  readonly live: boolean;
  readonly ignore: ReadonlySet<string>;
}

const IDENTITY: Readonly<Record<string, (el: XmlElement) => string | undefined>> = {
  disk: (el) => peekAttr(el, "target", "dev"),
  interface: (el) => peekAttr(el, "mac", "address"),
  controller: (el) => {
    const type = rawAttr(el, "type");
    const index = rawAttr(el, "index");
    return type === undefined ? undefined : `${type} index ${index ?? "0"}`;
  },
  filesystem: (el) => peekAttr(el, "target", "dir"),
  hostdev: (el) => {
    const a = el.children.find((c) => c.name === "source")?.children.find((c) => c.name === "address");
    if (!a) return undefined;
    return a.attrs.map((x) => `${x.name}=${x.value}`).join(",");
  },
  serial: (el) => peekAttr(el, "target", "port"),
  parallel: (el) => peekAttr(el, "target", "port"),
  console: (el) => peekAttr(el, "target", "port"),
  channel: (el) => peekAttr(el, "target", "name"),
  redirdev: (el) => rawAttr(el, "bus"),
  input: (el) =>
    [rawAttr(el, "type"), rawAttr(el, "bus")].filter((x) => x !== undefined).join(" ") || undefined,
  graphics: (el) => rawAttr(el, "type"),
  video: (el) => peekAttr(el, "model", "type"),
  sound: (el) => rawAttr(el, "model"),
  audio: (el) => rawAttr(el, "id"),
  memballoon: (el) => rawAttr(el, "model"),
  rng: (el) => rawAttr(el, "model"),
  watchdog: (el) => rawAttr(el, "model"),
  tpm: (el) => rawAttr(el, "model"),
  shmem: (el) => rawAttr(el, "name"),
  memory: (el) => rawAttr(el, "model"),
};

/** Attribute value without marking it used (the diff must not disturb the readers' tracking). */
function rawAttr(el: XmlElement, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

function peekAttr(el: XmlElement, child: string, attr: string): string | undefined {
  const c = el.children.find((x) => x.name === child);
  return c ? rawAttr(c, attr) : undefined;
}

function quote(s: string): string {
  return `'${s}'`;
}

/** `<name a='1' b='2'>` (attributes in document order). */
export function startTag(el: XmlElement): string {
  const attrs = el.attrs.map((a) => ` ${a.name}=${quote(a.value)}`).join("");
  return `<${el.name}${attrs}>`;
}

function deviceSubject(el: XmlElement, key: string | undefined): string {
  if (key === undefined || key === "") return `<${el.name}>`;
  if (el.name === "disk") return `disk ${quote(key)}`;
  if (el.name === "filesystem") return `filesystem ${quote(key)}`;
  if (el.name === "channel") return `channel ${quote(key)}`;
  if (el.name === "serial" || el.name === "console" || el.name === "parallel")
    return `${el.name} port ${key}`;
  if (el.name === "hostdev") return `hostdev ${key}`;
  if (el.name === "audio") return `audio id ${key}`;
  return `${el.name} ${key}`;
}

interface Keyed {
  readonly key: string;
  readonly el: XmlElement;
}

/**
 * Keys children so that the same child in both documents gets the same key: identity where
 * the element has one (`byIdentity`), else name plus `type` plus the ordinal among such.
 */
function keyChildren(parent: XmlElement, byIdentity: boolean): Keyed[] {
  const seen = new Map<string, number>();
  return parent.children.map((el) => {
    const id = byIdentity ? IDENTITY[el.name]?.(el) : undefined;
    const base = id !== undefined ? `${el.name}|${id}` : `${el.name}|@${rawAttr(el, "type") ?? ""}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { key: `${base}#${n}`, el };
  });
}

function textOf(el: XmlElement): string {
  return el.text.trim();
}

/** Runtime-only parts of a live document (see `DiffOptions.oldIsLive`). */
function isRuntimeAttr(el: XmlElement, a: XmlAttr): boolean {
  if (!el.parent && a.name === "id") return true;
  if (a.name === "tty" && (el.name === "console" || el.name === "serial")) return true;
  if (el.name === "source" && a.name === "path" && rawAttr(el.parent!, "type") === "pty") return true;
  return false;
}

function isRuntimeElement(el: XmlElement): boolean {
  if (el.name === "alias") return true;
  if (el.name === "target" && el.parent?.name === "interface") return true;
  if ((el.name === "label" || el.name === "imagelabel") && el.parent?.name === "seclabel") {
    return rawAttr(el.parent, "type") === "dynamic";
  }
  if (el.name === "source" && el.parent && rawAttr(el.parent, "type") === "pty") return true;
  return false;
}

/** Differences inside two matching elements, as lines with paths relative to them. */
function compareInside(a: XmlElement, b: XmlElement, rel: string, c: Ctx, out: string[]): void {
  for (const x of a.attrs) {
    if (c.ignore.has(`${a.xpath}/@${x.name}`)) continue;
    const y = b.attrs.find((t) => t.name === x.name);
    if (!y) {
      if (!(c.live && isRuntimeAttr(a, x))) out.push(`removed ${rel}@${x.name}=${quote(x.value)}`);
    } else if (x.value !== y.value) out.push(`${rel}@${x.name}: ${quote(x.value)} → ${quote(y.value)}`);
  }
  for (const y of b.attrs) {
    if (!a.attrs.some((t) => t.name === y.name)) out.push(`added ${rel}@${y.name}=${quote(y.value)}`);
  }
  if (a.children.length === 0 && b.children.length === 0) {
    const ta = textOf(a);
    const tb = textOf(b);
    if (ta !== tb) out.push(`${rel === "" ? "text" : rel.replace(/\/$/, "")}: ${quote(ta)} → ${quote(tb)}`);
    return;
  }
  const ka = keyChildren(a, false);
  const kb = keyChildren(b, false);
  const nameCount = (list: Keyed[], name: string): number => list.filter((k) => k.el.name === name).length;
  for (const x of ka) {
    if (c.ignore.has(x.el.xpath)) continue;
    const y = kb.find((k) => k.key === x.key);
    const multi = nameCount(ka, x.el.name) > 1 || nameCount(kb, x.el.name) > 1;
    const idx = multi ? `[${ka.filter((k) => k.el.name === x.el.name).indexOf(x) + 1}]` : "";
    if (!y) {
      if (!(c.live && isRuntimeElement(x.el))) out.push(`removed ${rel}${startTag(x.el)}`);
    } else compareInside(x.el, y.el, `${rel}${x.el.name}${idx}/`, c, out);
  }
  for (const y of kb) {
    if (!ka.some((k) => k.key === y.key)) out.push(`added ${rel}${startTag(y.el)}`);
  }
}

function diffLevel(a: XmlElement, b: XmlElement, devices: boolean, c: Ctx, out: DomainChange[]): void {
  const ka = keyChildren(a, devices);
  const kb = keyChildren(b, devices);
  const subject = (k: Keyed): string => {
    if (!devices) return `<${k.el.name}>`;
    return deviceSubject(k.el, IDENTITY[k.el.name]?.(k.el));
  };
  for (const x of ka) {
    if (c.ignore.has(x.el.xpath)) continue;
    const y = kb.find((k) => k.key === x.key);
    if (!y) {
      if (c.live && isRuntimeElement(x.el)) continue;
      out.push({ kind: "removed", subject: subject(x), xpath: x.el.xpath, details: [], tag: startTag(x.el) });
      continue;
    }
    if (!devices && x.el.name === "devices") {
      // The <devices> element itself: attributes would be unusual, its children are devices.
      diffLevel(x.el, y.el, true, c, out);
      continue;
    }
    const details: string[] = [];
    compareInside(x.el, y.el, "", c, details);
    if (details.length > 0) out.push({ kind: "changed", subject: subject(y), xpath: y.el.xpath, details });
  }
  for (const y of kb) {
    if (ka.some((k) => k.key === y.key)) continue;
    out.push({ kind: "added", subject: subject(y), xpath: y.el.xpath, details: [], tag: startTag(y.el) });
  }
}

/**
 * The changes from `oldXml` to `newXml`, grouped per top-level element and per device, in
 * document order (removals where they were, additions after). Throws the parser's `XML_SYNTAX`
 * for a document that is not well-formed.
 */
export function diffDomainXML(oldXml: string, newXml: string, options: DiffOptions = {}): DomainChange[] {
  const a = parseXml(oldXml, "(old definition)");
  const b = parseXml(newXml, "(new definition)");
  const out: DomainChange[] = [];
  const live = options.oldIsLive ?? false;
  const c: Ctx = { live, ignore: new Set(options.ignoreOld ?? []) };
  const rootDetails: string[] = [];
  for (const x of a.attrs) {
    if (c.ignore.has(`${a.xpath}/@${x.name}`)) continue;
    const y = b.attrs.find((t) => t.name === x.name);
    if (!y) {
      if (!(live && isRuntimeAttr(a, x))) rootDetails.push(`removed @${x.name}=${quote(x.value)}`);
    } else if (x.value !== y.value) rootDetails.push(`@${x.name}: ${quote(x.value)} → ${quote(y.value)}`);
  }
  for (const y of b.attrs) {
    if (!a.attrs.some((t) => t.name === y.name)) rootDetails.push(`added @${y.name}=${quote(y.value)}`);
  }
  if (rootDetails.length > 0) {
    out.push({ kind: "changed", subject: `<${b.name}>`, xpath: b.xpath, details: rootDetails });
  }
  diffLevel(a, b, false, c, out);
  return out;
}

/** One line per change, e.g. `changed <memory>: text: '1' → '2'`, `added disk 'vdb'`. */
export function describeChange(c: DomainChange): string {
  if (c.kind !== "changed") {
    const tag = c.tag === undefined || c.tag === c.subject ? "" : ` ${c.tag}`;
    return `${c.kind} ${c.subject}${tag}`;
  }
  return `changed ${c.subject}: ${c.details.join("; ")}`;
}
