/**
 * virDomainSetMetadata / virDomainGetMetadata on a definition (libvirt's
 * virDomainDefSetMetadata / virDomainDefGetMetadata): the description, the title, and
 * `<metadata>` elements, one per namespace URI. An element is stored as libvirt stores it, with
 * the caller's key as the prefix of it and of every element below it and an `xmlns:KEY`
 * declaration first; it is returned without them.
 */
import { formatRawElement, rawElement, type DomainDef, type RawXmlElement } from "../conf/domain/index.ts";
import { parseXml } from "../conf/xml.ts";
import { VirtError } from "../util/errors/index.ts";

const DESCRIPTION = 0;
const TITLE = 1;
const ELEMENT = 2;

const local = (name: string): string => name.slice(name.indexOf(":") + 1);

/** The namespace URI an element of `<metadata>` is in (its prefix's declaration, or `xmlns`). */
function namespaceOf(el: RawXmlElement): string | undefined {
  const i = el.name.indexOf(":");
  const decl = i < 0 ? "xmlns" : `xmlns:${el.name.slice(0, i)}`;
  return el.attrs.find((a) => a.name === decl)?.value;
}

function withPrefix(el: RawXmlElement, key: string): RawXmlElement {
  return {
    name: `${key}:${local(el.name)}`,
    attrs: el.attrs.filter((a) => a.name !== "xmlns" && !a.name.startsWith("xmlns:")),
    children: el.children.map((c) => (typeof c === "string" ? c : withPrefix(c, key))),
  };
}

function withoutPrefix(el: RawXmlElement): RawXmlElement {
  return {
    name: local(el.name),
    attrs: el.attrs.filter((a) => a.name !== "xmlns" && !a.name.startsWith("xmlns:")),
    children: el.children.map((c) => (typeof c === "string" ? c : withoutPrefix(c))),
  };
}

function setElement(
  def: DomainDef,
  metadata: string | undefined,
  uri: string | null,
  key: string | null,
  op: string,
): void {
  if (uri === null || uri === "") throw new VirtError("DOMAIN_METADATA_NEEDS_URI", { op });
  let added: RawXmlElement | undefined;
  if (metadata !== undefined) {
    if (key === null || key === "") throw new VirtError("DOMAIN_METADATA_NEEDS_KEY");
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) || /^xml/i.test(key))
      throw new VirtError("DOMAIN_METADATA_BAD_KEY", { key });
    const el = withPrefix(rawElement(parseXml(metadata, "(metadata_xml)")), key);
    added = { ...el, attrs: [{ name: `xmlns:${key}`, value: uri }, ...el.attrs] };
  }
  const kept = (def.metadata ?? []).filter((e) => namespaceOf(e) !== uri);
  if (added) kept.push(added);
  if (kept.length > 0) def.metadata = kept;
  else delete def.metadata;
}

export function setDefMetadata(
  def: DomainDef,
  type: number,
  metadata: string | null,
  uri: string | null,
  op: string,
  key: string | null = null,
): void {
  const value = metadata === null || metadata === "" ? undefined : metadata;
  if (type === DESCRIPTION) {
    if (value === undefined) delete def.description;
    else def.description = value;
  } else if (type === TITLE) {
    if (value?.includes("\n")) throw new VirtError("DOMAIN_TITLE_NEWLINE");
    if (value === undefined) delete def.title;
    else def.title = value;
  } else if (type === ELEMENT) setElement(def, value, uri, key, op);
  else throw new VirtError("DOMAIN_METADATA_BAD_TYPE", { type });
}

export function getDefMetadata(def: DomainDef, type: number, uri: string | null): string {
  let v: string | undefined;
  if (type === DESCRIPTION) v = def.description;
  else if (type === TITLE) v = def.title;
  else if (type === ELEMENT) {
    if (uri === null || uri === "") throw new VirtError("DOMAIN_METADATA_NEEDS_URI", { op: "Get" });
    const el = def.metadata?.find((e) => namespaceOf(e) === uri);
    v = el ? formatRawElement(withoutPrefix(el)) : undefined;
  } else throw new VirtError("DOMAIN_METADATA_BAD_TYPE", { type });
  if (v === undefined) throw new VirtError("DOMAIN_METADATA_NOT_FOUND");
  return v;
}
