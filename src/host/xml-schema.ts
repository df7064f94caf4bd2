/**
 * Validation of libvirt documents against libvirt's own RelaxNG schemas
 * (`/usr/share/libvirt/schemas/*.rng`), as `virXMLValidateAgainstSchema` does for
 * `VIR_DOMAIN_DEFINE_VALIDATE` and as `virt-xml-validate` does for a file.
 *
 * The validator is libxml2's, the one libvirt links: `xmllint --noout --relaxng SCHEMA -`
 * (Debian package libxml2-utils), run from an argv array with the document on its stdin. No
 * npm package validates RelaxNG with libvirt's schemas faithfully: the pure-JS `salve` needs the
 * schemas converted to its own format first and differs from libxml2 on `interleave` and datatype
 * details, and `libxmljs2` is a native module that has to be compiled. Using libxml2 itself gives
 * the same verdicts and the same messages as libvirt.
 *
 * Each message of the validator is mapped back to the element it names (line + name) and
 * reported with that element's XPath.
 */
import { access } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { parseXml, type XmlElement } from "../conf/xml.ts";
import { VirtError } from "../util/errors/index.ts";
import { runArgv } from "../util/spawn.ts";

/** Where libvirt installs its schemas (Debian: package libvirt0 / libvirt-daemon). */
export const LIBVIRT_SCHEMA_DIR = "/usr/share/libvirt/schemas";

/**
 * The schema for a document's root element, in `virt-xml-validate`'s order (the first match
 * wins: `domainsnapshot` before `domain`, `networkport` before `network`, ...). Matching is by
 * substring, as the script does.
 */
const rootSchemas: readonly (readonly [string, string])[] = [
  ["cpu", "cpu"],
  ["domainsnapshot", "domainsnapshot"],
  ["domaincheckpoint", "domaincheckpoint"],
  ["domainbackup", "domainbackup"],
  ["domainCap", "domaincaps"],
  ["domain", "domain"],
  ["networkport", "networkport"],
  ["network", "network"],
  ["storagepoolCap", "storagepoolcaps"],
  ["pool", "storagepool"],
  ["volume", "storagevol"],
  ["capabilities", "capability"],
  ["device", "nodedev"],
  ["filterbinding", "nwfilterbinding"],
  ["filter", "nwfilter"],
  ["secret", "secret"],
  ["interface", "interface"],
];

/** The root element names `schemaForRoot` knows, for messages. */
export const knownRoots: readonly string[] = rootSchemas.map(([root]) => root);

/** The schema name (`domain`, `network`, ...) for a root element, or undefined. */
export function schemaForRoot(root: string): string | undefined {
  return rootSchemas.find(([needle]) => root.includes(needle))?.[1];
}

/** One message of the validator, tied to the element it names where it names one. */
export interface SchemaProblem {
  readonly message: string;
  readonly line?: number;
  readonly element?: string;
  readonly xpath?: string;
}

export interface SchemaValidateOptions {
  /** Names the document in messages (a file name, or "(domain_definition)"). */
  document?: string;
  /** Where the schemas are (default: libvirt's). */
  schemaDir?: string;
  /** The validator binary (default `xmllint` on PATH). */
  xmllint?: string;
}

/** The schema file for a name (`domain`) or the path itself when given one. */
export function schemaPath(schema: string, dir = LIBVIRT_SCHEMA_DIR): string {
  return isAbsolute(schema) ? schema : join(dir, `${schema}.rng`);
}

const validityLine = /^(?:(.*?):(\d+): element ([^:\s]+): )?Relax-NG validity error : (.*)$/;

/** Reads xmllint's stderr into problems (the "fails to validate" summary is dropped). */
export function parseXmllintErrors(stderr: string): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  for (const line of stderr.split("\n")) {
    const m = validityLine.exec(line);
    if (!m) continue;
    const message = m[4]!.trim();
    out.push(m[2] !== undefined ? { message, line: Number(m[2]), element: m[3]! } : { message });
  }
  return out;
}

/** Adds the XPath of the element each problem names (same name, same start line). */
function locate(problems: SchemaProblem[], root: XmlElement | undefined): SchemaProblem[] {
  if (!root) return problems;
  const all: XmlElement[] = [];
  const walk = (el: XmlElement): void => {
    all.push(el);
    for (const c of el.children) walk(c);
  };
  walk(root);
  return problems.map((p) => {
    if (p.line === undefined || p.element === undefined) return p;
    const el = all.find((e) => e.name === p.element && e.line === p.line);
    return el ? { ...p, xpath: el.xpath } : p;
  });
}

/**
 * Validates `xml` against a libvirt schema (`"domain"`, or a path). Resolves when it validates;
 * throws `SCHEMA_VALIDATION_FAILED` (libvirt's VIR_ERR_XML_INVALID_SCHEMA) with the validator's
 * messages, `XML_SYNTAX` when the document is not well-formed, or an environment error when the
 * schema or the validator is missing.
 */
export async function validateAgainstSchema(
  xml: string,
  schema: string,
  options: SchemaValidateOptions = {},
): Promise<void> {
  const path = schemaPath(schema, options.schemaDir);
  try {
    await access(path);
  } catch {
    throw new VirtError("SCHEMA_NOT_FOUND", { schema: path }, { schema: path });
  }
  const document = options.document ?? "(xml)";
  let result;
  try {
    result = await runArgv([options.xmllint ?? "xmllint", "--noout", "--relaxng", path, "-"], {
      input: xml,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
    });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new VirtError("SCHEMA_VALIDATOR_MISSING", { schema: path, reason }, { schema: path });
  }
  if (result.code === 0) return;
  if (result.code === 1) {
    // Not well-formed: our parser says where, in the form every other XML error has.
    parseXml(xml, document);
  }
  const problems = parseXmllintErrors(result.stderr);
  if (result.code !== 3 || problems.length === 0) {
    const reason = result.stderr.trim().split("\n").slice(0, 5).join("; ") || "no message";
    throw new VirtError(
      "SCHEMA_VALIDATOR_FAILED",
      { schema: path, status: result.code ?? `signal ${result.signal ?? "?"}`, reason },
      { schema: path },
    );
  }
  let root: XmlElement | undefined;
  try {
    root = parseXml(xml, document);
  } catch {
    root = undefined;
  }
  const located = locate(problems, root);
  const first = located.find((p) => p.xpath !== undefined) ?? located[0];
  throw new VirtError(
    "SCHEMA_VALIDATION_FAILED",
    // libxml2's messages each end with a newline, and libvirt keeps them (virsh prints them so).
    { schema: path, errors: located.map((p) => `${p.message}\n`).join("") },
    {
      schema: path,
      document,
      ...(first?.xpath !== undefined ? { xpath: first.xpath } : {}),
      ...(first?.line !== undefined ? { line: first.line } : {}),
      problems: located,
    },
  );
}

/**
 * `virt-xml-validate FILE`: picks the schema from the root element (unless `schema` is given)
 * and validates. Returns the schema name used.
 */
export async function validateDocument(
  xml: string,
  document: string,
  schema?: string,
  options: Omit<SchemaValidateOptions, "document"> = {},
): Promise<string> {
  let name = schema;
  if (name === undefined) {
    const root = parseXml(xml, document);
    name = schemaForRoot(root.name);
    if (name === undefined) {
      throw new VirtError(
        "SCHEMA_UNKNOWN_ROOT",
        { document, root: root.name, allowed: knownRoots.join(", ") },
        { xpath: `/${root.name}`, line: root.line, allowed: knownRoots },
      );
    }
  }
  await validateAgainstSchema(xml, name, { ...options, document });
  return name;
}
