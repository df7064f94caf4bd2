/**
 * A small XML tree for libvirt documents, built with saxes (a well-kept, spec-conformant
 * streaming parser) so that every element and attribute keeps its line and column. Readers mark
 * what they consume; whatever is left unread is reported as a warning naming it, where libvirt
 * would drop it silently. Also the writer of libvirt's canonical form.
 */
import { SaxesParser } from "saxes";
import { VirtError } from "../util/errors/index.ts";
import { contextAt, explainSyntaxError } from "./xml-syntax.ts";

export interface XmlAttr {
  readonly name: string;
  readonly value: string;
  readonly line: number;
  readonly column: number;
  used: boolean;
}

export class XmlElement {
  readonly attrs: XmlAttr[] = [];
  readonly children: XmlElement[] = [];
  /** Text content directly inside this element (concatenated, not trimmed). */
  text = "";
  used = false;

  constructor(
    readonly name: string,
    readonly parent: XmlElement | undefined,
    readonly line: number,
    readonly column: number,
  ) {}

  /** The XPath of this element, with positions where siblings share the name: `/domain/devices/disk[2]`. */
  get xpath(): string {
    if (!this.parent) return `/${this.name}`;
    const same = this.parent.children.filter((c) => c.name === this.name);
    const idx = same.length > 1 ? `[${same.indexOf(this) + 1}]` : "";
    return `${this.parent.xpath}/${this.name}${idx}`;
  }

  /** Reads an attribute and marks it used. */
  attr(name: string): string | undefined {
    const a = this.attrs.find((x) => x.name === name);
    if (!a) return undefined;
    a.used = true;
    return a.value;
  }

  attrNode(name: string): XmlAttr | undefined {
    return this.attrs.find((x) => x.name === name);
  }

  hasAttr(name: string): boolean {
    return this.attrs.some((x) => x.name === name);
  }

  /** First child element with this name, marked used. */
  child(name: string): XmlElement | undefined {
    const c = this.children.find((x) => x.name === name);
    if (c) c.used = true;
    return c;
  }

  /** All child elements with this name (or all children), marked used. */
  all(name?: string): XmlElement[] {
    const list = name === undefined ? this.children : this.children.filter((x) => x.name === name);
    for (const c of list) c.used = true;
    return list;
  }

  /** Trimmed text of the element, marked used. */
  get content(): string {
    this.used = true;
    return this.text.trim();
  }

  /** Text of a child element, or undefined. */
  childText(name: string): string | undefined {
    const c = this.child(name);
    return c?.content;
  }

  /** Marks this element and everything below as used (for parts kept verbatim). */
  markAllUsed(): void {
    this.used = true;
    for (const a of this.attrs) a.used = true;
    for (const c of this.children) c.markAllUsed();
  }
}

export interface XmlWarning {
  readonly code: "XML_UNKNOWN_ELEMENT" | "XML_UNKNOWN_ATTRIBUTE";
  readonly message: string;
  readonly xpath: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The error for a document saxes rejected: libxml2's wording and position when the explainer
 * recognises the problem (as libvirt users know them), else saxes' reason at saxes' position.
 */
function syntaxError(text: string, document: string, pos: number, fallback = "not well-formed"): VirtError {
  const found = explainSyntaxError(text);
  let line: number;
  let column: number;
  let reason: string;
  let where: { context: string; pointer: string };
  if (found) {
    ({ line, column, reason } = found);
    where = found;
  } else {
    const before = text.slice(0, pos);
    line = before.split("\n").length;
    column = pos - before.lastIndexOf("\n");
    reason = fallback;
    where = contextAt(text, pos);
  }
  return new VirtError(
    "XML_SYNTAX",
    { document, line, reason, context: where.context, pointer: where.pointer },
    { line, column },
  );
}

/**
 * Parses a whole document. Syntax errors become `XML_SYNTAX` with line and column.
 * `document` names the input in messages (a file name or "(domain_definition)").
 */
export function parseXml(text: string, document = "(xml)"): XmlElement {
  const parser = new SaxesParser({ position: true, xmlns: false });
  let root: XmlElement | undefined;
  let cur: XmlElement | undefined;
  let failure: VirtError | undefined;
  parser.on("error", (err) => {
    // saxes messages look like "1:5: message"; keep the reason alone.
    const reason = err.message.replace(/^[^:]*:\d+:\d+: /, "").replace(/^\d+:\d+: /, "");
    failure ??= syntaxError(text, document, parser.position, reason);
  });
  // Positions: an element keeps where its start tag begins, an attribute where it ends.
  let tagLine = 1;
  let tagColumn = 1;
  let attrPos: { line: number; column: number }[] = [];
  parser.on("opentagstart", () => {
    tagLine = parser.line;
    tagColumn = parser.column;
    attrPos = [];
  });
  parser.on("attribute", () => {
    attrPos.push({ line: parser.line, column: parser.column });
  });
  parser.on("opentag", (tag) => {
    const el = new XmlElement(tag.name, cur, tagLine, tagColumn);
    let i = 0;
    for (const [name, value] of Object.entries(tag.attributes)) {
      const pos = attrPos[i++] ?? { line: tagLine, column: tagColumn };
      el.attrs.push({ name, value, line: pos.line, column: pos.column, used: false });
    }
    if (cur) cur.children.push(el);
    else if (root) {
      failure ??= syntaxError(text, document, parser.position);
    } else root = el;
    cur = el;
  });
  parser.on("closetag", () => {
    cur = cur?.parent;
  });
  parser.on("text", (t) => {
    if (cur) cur.text += t;
  });
  parser.on("cdata", (t) => {
    if (cur) cur.text += t;
  });
  try {
    parser.write(text).close();
  } catch (e) {
    failure ??= syntaxError(text, document, parser.position, e instanceof Error ? e.message : String(e));
  }
  if (failure) throw failure;
  if (!root) {
    throw syntaxError(text, document, 0, "no root element");
  }
  root.used = true;
  return root;
}

/** Everything under `root` that no reader consumed, as warnings. */
export function unusedWarnings(root: XmlElement): XmlWarning[] {
  const out: XmlWarning[] = [];
  const walk = (el: XmlElement): void => {
    if (!el.used) {
      out.push({
        code: "XML_UNKNOWN_ELEMENT",
        message: `unknown element <${el.name}> at ${el.xpath} (line ${el.line}) was ignored`,
        xpath: el.xpath,
        line: el.line,
        column: el.column,
      });
      return;
    }
    for (const a of el.attrs) {
      if (!a.used && !a.name.startsWith("xmlns")) {
        out.push({
          code: "XML_UNKNOWN_ATTRIBUTE",
          message: `unknown attribute '${a.name}' of <${el.name}> at ${el.xpath}/@${a.name} (line ${a.line}) was ignored`,
          xpath: `${el.xpath}/@${a.name}`,
          line: a.line,
          column: a.column,
        });
      }
    }
    for (const c of el.children) walk(c);
  };
  walk(root);
  return out;
}

/** Escapes text and attribute values as libvirt does (& < > ' "). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>'"]/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "'" ? "&apos;" : "&quot;",
  );
}

export type AttrValue = string | number | bigint | boolean | undefined | null;

/**
 * Writes libvirt's canonical XML: two-space indent, single-quoted attributes, empty elements
 * self-closed, attributes in the order given (undefined and null ones left out).
 */
export class XmlWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  private static attrs(attrs: Readonly<Record<string, AttrValue>> | undefined): string {
    if (!attrs) return "";
    let s = "";
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      s += ` ${k}='${escapeXml(String(v))}'`;
    }
    return s;
  }

  private pad(): string {
    return "  ".repeat(this.depth);
  }

  /** `<name attrs/>` */
  empty(name: string, attrs?: Readonly<Record<string, AttrValue>>): this {
    this.lines.push(`${this.pad()}<${name}${XmlWriter.attrs(attrs)}/>`);
    return this;
  }

  /** `<name attrs>text</name>` (text escaped). */
  text(name: string, text: string | number | bigint, attrs?: Readonly<Record<string, AttrValue>>): this {
    this.lines.push(`${this.pad()}<${name}${XmlWriter.attrs(attrs)}>${escapeXml(String(text))}</${name}>`);
    return this;
  }

  /**
   * `<name attrs>` children `</name>`; if `body` writes nothing the element is self-closed
   * (libvirt's rule for optional children).
   */
  elem(name: string, attrs: Readonly<Record<string, AttrValue>> | undefined, body: (w: this) => void): this {
    const at = this.lines.length;
    const open = `${this.pad()}<${name}${XmlWriter.attrs(attrs)}`;
    this.lines.push(open + ">");
    this.depth++;
    body(this);
    this.depth--;
    if (this.lines.length === at + 1) this.lines[at] = open + "/>";
    else this.lines.push(`${this.pad()}</${name}>`);
    return this;
  }

  /** A pre-formatted line at the current depth (for content kept verbatim). */
  raw(line: string): this {
    this.lines.push(this.pad() + line);
    return this;
  }

  toString(): string {
    return this.lines.join("\n") + "\n";
  }
}
