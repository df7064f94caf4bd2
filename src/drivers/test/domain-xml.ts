/**
 * Reading and writing domain XML for the test driver: the checks libvirt's parser makes first
 * (with libvirt's wording, so tvirsh's errors match virsh's), then `conf/domain` without its
 * QEMU defaults, then the test driver's defaults; and formatting for `dumpxml`.
 */
import { parseXml } from "../../conf/xml.ts";
import { formatDomainXML, parseDomainXML, type DomainDef } from "../../conf/domain/index.ts";
import { VirtError } from "../../util/errors/index.ts";
import { applyTestDefaults, generateIfnames } from "./defaults.ts";

const UUID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

function describeChar(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Rejects control characters in a domain name (tvirt is stricter than libvirt here). */
export function checkDomainName(name: string): void {
  let bad: string | undefined;
  for (const c of name) {
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) {
      bad = c;
      break;
    }
  }
  if (bad === undefined) return;
  if (bad === "\n") throw new VirtError("DOMAIN_XML_NAME_CHAR", { char: "\n" }, { name });
  throw new VirtError(
    "DOMAIN_XML_NAME_CONTROL",
    { name: JSON.stringify(name), char: describeChar(bad) },
    { name },
  );
}

/**
 * Parses domain XML as libvirt's test driver does (`VIR_DOMAIN_DEF_PARSE_INACTIVE`: any `id=` is
 * ignored) and applies the test driver's defaults. Throws VirtErrors; has no side effects.
 */
export function parseTestDomain(xml: string): DomainDef {
  const document = "(domain_definition)";
  const root = parseXml(xml, document);
  const at = { line: root.line, column: root.column };
  if (root.name !== "domain")
    throw new VirtError("DOMAIN_XML_ROOT", { found: root.name }, { xpath: `/${root.name}`, ...at });
  if (!root.hasAttr("type"))
    throw new VirtError("DOMAIN_XML_TYPE_MISSING", {}, { xpath: "/domain/@type", ...at });
  const nameEl = root.children.find((c) => c.name === "name");
  if (!nameEl || nameEl.text === "") {
    throw new VirtError("DOMAIN_XML_NAME_MISSING", {}, { xpath: "/domain/name", ...at });
  }
  const uuidEl = root.children.find((c) => c.name === "uuid");
  if (uuidEl && !UUID_RE.test(uuidEl.text.trim())) {
    throw new VirtError(
      "DOMAIN_XML_UUID",
      {},
      { xpath: "/domain/uuid", line: uuidEl.line, column: uuidEl.column },
    );
  }
  const titleEl = root.children.find((c) => c.name === "title");
  if (titleEl?.text.includes("\n")) {
    throw new VirtError(
      "DOMAIN_XML_TITLE_NEWLINE",
      {},
      { xpath: "/domain/title", line: titleEl.line, column: titleEl.column },
    );
  }
  const osEl = root.children.find((c) => c.name === "os");
  const osType = osEl?.children.find((c) => c.name === "type");
  if (!osType || osType.text.trim() === "") {
    throw new VirtError("DOMAIN_XML_OS_TYPE_MISSING", {}, { xpath: "/domain/os/type", ...at });
  }
  const memEl = root.children.find((c) => c.name === "memory");
  const numaMem = root.children
    .find((c) => c.name === "cpu")
    ?.children.find((c) => c.name === "numa")
    ?.children.some((c) => c.name === "cell" && c.hasAttr("memory"));
  if (!memEl && !numaMem)
    throw new VirtError("DOMAIN_XML_MEMORY_MISSING", {}, { xpath: "/domain/memory", ...at });

  // libvirt checks the name after the post-parse memory check; the conf parser would refuse
  // these names with its own wording first, so check them here.
  if (nameEl.text.includes("/")) {
    throw new VirtError(
      "DOMAIN_XML_NAME_SLASH",
      { name: nameEl.text },
      { xpath: "/domain/name", line: nameEl.line, column: nameEl.column },
    );
  }
  checkDomainName(nameEl.text);

  const { def } = parseDomainXML(xml, { document, noDefaults: true });
  delete def.id;
  if (def.memory === 0 && !numaMem)
    throw new VirtError("DOMAIN_XML_MEMORY_MISSING", {}, { xpath: "/domain/memory", ...at });
  applyTestDefaults(def);
  generateIfnames(def);
  return def;
}

/**
 * The XML of a definition. `id` (>= 0) is written into the root element, as libvirt does for
 * the live XML of a running domain (`conf/domain` formats the inactive form, without it).
 */
export function formatTestDomain(def: DomainDef, options: { id?: number; secure?: boolean }): string {
  const copy: DomainDef = { ...def };
  delete copy.id;
  let xml = formatDomainXML(copy, { secure: options.secure ?? false });
  if (!xml.endsWith("\n")) xml += "\n";
  if (options.id !== undefined && options.id >= 0) {
    const end = xml.indexOf(">");
    const selfClosing = xml[end - 1] === "/";
    const at = selfClosing ? end - 1 : end;
    xml = `${xml.slice(0, at)} id='${options.id}'${xml.slice(at)}`;
  }
  return xml;
}
