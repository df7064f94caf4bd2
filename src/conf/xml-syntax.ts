/**
 * Explains an XML syntax error the way libvirt users know it: libxml2's wording for the first
 * well-formedness error, the line it was found on, and that line with a `---^` pointer under the
 * spot (libvirt's error handler adds the pointer). Only called once the fast parser (saxes) has
 * rejected a document, so this scanner favours fidelity over speed; it returns undefined for
 * errors it does not recognise and the caller keeps saxes' own wording.
 */

export interface SyntaxExplanation {
  /** 1-based line of the position libxml2 reports. */
  readonly line: number;
  /** 1-based column of that position. */
  readonly column: number;
  /** libxml2's message, e.g. "Opening and ending tag mismatch: memory line 3 and domain". */
  readonly reason: string;
  /** The line around the position ("(null)" when empty, as libvirt prints it). */
  readonly context: string;
  /** Dashes up to the position, then "^". */
  readonly pointer: string;
}

/** Thrown inside the scanner to stop at the first error (caught in explainSyntaxError). */
class Found extends Error {
  constructor(
    readonly reason: string,
    readonly pos: number,
  ) {
    super(reason);
  }
}

const PREDEFINED = new Set(["lt", "gt", "amp", "apos", "quot"]);

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r";
}

function isNameStart(c: string | undefined): boolean {
  if (c === undefined) return false;
  return /[A-Za-z_:]/.test(c) || c.charCodeAt(0) >= 0xc0;
}

function isNameChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  return isNameStart(c) || /[0-9.-]/.test(c) || c.charCodeAt(0) === 0xb7;
}

/** A character XML 1.0 forbids (C0 controls other than tab, newline and carriage return). */
function isForbidden(c: string): boolean {
  const n = c.charCodeAt(0);
  return n < 0x20 && n !== 0x9 && n !== 0xa && n !== 0xd;
}

class Scanner {
  private i = 0;
  private readonly stack: { name: string; line: number }[] = [];

  constructor(private readonly t: string) {}

  private fail(reason: string, pos = this.i): never {
    throw new Found(reason, pos);
  }

  private lineAt(pos: number): number {
    let n = 1;
    for (let k = 0; k < pos && k < this.t.length; k++) if (this.t[k] === "\n") n++;
    return n;
  }

  private skipBlanks(): boolean {
    const start = this.i;
    while (isBlank(this.t[this.i])) this.i++;
    return this.i > start;
  }

  private name(): string {
    const start = this.i;
    if (!isNameStart(this.t[this.i])) return "";
    while (isNameChar(this.t[this.i])) this.i++;
    return this.t.slice(start, this.i);
  }

  private eof(): boolean {
    return this.i >= this.t.length;
  }

  private startsWith(s: string): boolean {
    return this.t.startsWith(s, this.i);
  }

  /** Skips `<?...?>`; true when one was there. */
  private pi(): boolean {
    if (!this.startsWith("<?")) return false;
    const end = this.t.indexOf("?>", this.i + 2);
    if (end < 0) this.fail("ParsePI: PI xml space expected", this.t.length);
    this.i = end + 2;
    return true;
  }

  private comment(): boolean {
    if (!this.startsWith("<!--")) return false;
    const start = this.i;
    this.i += 4;
    for (;;) {
      if (this.eof()) this.fail("Comment not terminated", this.t.length);
      if (this.startsWith("-->")) {
        this.i += 3;
        return true;
      }
      if (this.startsWith("--")) this.fail(`Double hyphen within comment: ${this.t.slice(start, this.i)}`);
      const c = this.t[this.i] ?? "";
      if (isForbidden(c)) this.fail(`xmlParseComment: invalid xmlChar value ${String(c.charCodeAt(0))}`);
      this.i++;
    }
  }

  private doctype(): boolean {
    if (!this.startsWith("<!DOCTYPE")) return false;
    let depth = 0;
    for (this.i += 9; !this.eof(); this.i++) {
      const c = this.t[this.i];
      if (c === "[") depth++;
      else if (c === "]") depth--;
      else if (c === ">" && depth <= 0) {
        this.i++;
        return true;
      }
    }
    return this.fail("DOCTYPE improperly terminated", this.t.length);
  }

  private misc(): void {
    for (;;) {
      this.skipBlanks();
      if (!(this.comment() || this.pi())) return;
    }
  }

  private reference(): void {
    // at "&"
    this.i++;
    if (this.t[this.i] === "#") {
      this.i++;
      const hex = this.t[this.i] === "x";
      if (hex) this.i++;
      const start = this.i;
      while (hex ? /[0-9a-fA-F]/.test(this.t[this.i] ?? "") : /[0-9]/.test(this.t[this.i] ?? "")) this.i++;
      if (this.t[this.i] !== ";" || this.i === start)
        this.fail(hex ? "CharRef: invalid hexadecimal value" : "CharRef: invalid decimal value");
      const n = parseInt(this.t.slice(start, this.i), hex ? 16 : 10);
      this.i++;
      if (n === 0 || (n < 0x20 && n !== 0x9 && n !== 0xa && n !== 0xd) || n > 0x10ffff)
        this.fail(`xmlParseCharRef: invalid xmlChar value ${String(n)}`);
      return;
    }
    const name = this.name();
    if (name === "") this.fail("xmlParseEntityRef: no name");
    if (this.t[this.i] !== ";") this.fail("EntityRef: expecting ';'");
    this.i++;
    if (!PREDEFINED.has(name)) this.fail(`Entity '${name}' not defined`);
  }

  private element(): void {
    // at "<"
    const line = this.lineAt(this.i);
    this.i++;
    const name = this.name();
    if (name === "") this.fail("StartTag: invalid element name");
    const seen = new Set<string>();
    for (;;) {
      const spaced = this.skipBlanks();
      if (this.eof()) {
        this.fail(
          seen.size > 0
            ? "attributes construct error"
            : `Couldn't find end of Start Tag ${name} line ${String(line)}`,
        );
      }
      if (this.startsWith("/>")) {
        this.i += 2;
        return;
      }
      if (this.t[this.i] === ">") {
        this.i++;
        break;
      }
      if (seen.size > 0 && !spaced) this.fail("attributes construct error");
      const attr = this.name();
      if (attr === "") this.fail("error parsing attribute name");
      this.skipBlanks();
      if (this.t[this.i] !== "=") this.fail(`Specification mandates value for attribute ${attr}`);
      this.i++;
      this.skipBlanks();
      const quote = this.t[this.i];
      if (quote !== '"' && quote !== "'") this.fail(`AttValue: " or ' expected`);
      this.i++;
      for (;;) {
        if (this.eof()) this.fail("AttValue: ' expected", this.t.length);
        const c = this.t[this.i] ?? "";
        if (c === quote) break;
        if (c === "<") this.fail("Unescaped '<' not allowed in attributes values");
        if (c === "&") {
          this.reference();
          continue;
        }
        if (isForbidden(c)) this.fail("invalid character in attribute value");
        this.i++;
      }
      this.i++;
      if (seen.has(attr)) this.fail(`Attribute ${attr} redefined`);
      seen.add(attr);
    }
    this.stack.push({ name, line });
    this.content();
  }

  private content(): void {
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) return;
      if (this.eof())
        this.fail(`Premature end of data in tag ${top.name} line ${String(top.line)}`, this.t.length);
      if (this.startsWith("</")) {
        this.i += 2;
        const name = this.name() || "unparsable";
        this.skipBlanks();
        if (this.t[this.i] !== ">") this.fail("expected '>'");
        this.i++;
        if (name !== top.name)
          this.fail(`Opening and ending tag mismatch: ${top.name} line ${String(top.line)} and ${name}`);
        this.stack.pop();
        return;
      }
      if (this.comment() || this.pi()) continue;
      if (this.startsWith("<![CDATA[")) {
        const end = this.t.indexOf("]]>", this.i + 9);
        // libxml2 quotes what it read of the section, short of its last two characters
        if (end < 0)
          this.fail(
            `CData section not finished\n${this.t.slice(this.i + 9, this.t.length - 2)}`,
            this.t.length,
          );
        this.i = end + 3;
        continue;
      }
      const c = this.t[this.i] ?? "";
      if (c === "<") {
        this.element();
        continue;
      }
      if (c === "&") {
        this.reference();
        continue;
      }
      if (this.startsWith("]]>")) this.fail("Sequence ']]>' not allowed in content");
      if (isForbidden(c)) this.fail(`PCDATA invalid Char value ${String(c.charCodeAt(0))}`);
      this.i++;
    }
  }

  /** Throws Found for the first error; returns normally for a well-formed document. */
  document(): void {
    if (this.t.length === 0) this.fail("Document is empty", 0);
    if (this.t.charCodeAt(0) === 0xfeff) this.i = 1;
    if (this.startsWith("<?xml")) this.pi();
    this.misc();
    if (this.doctype()) this.misc();
    if (this.t[this.i] !== "<") this.fail("Start tag expected, '<' not found");
    this.element();
    this.misc();
    if (!this.eof()) this.fail("Extra content at the end of the document");
  }
}

/** The line containing `pos` and a pointer to it, as libvirt's XML error handler shows them. */
export function contextAt(text: string, pos: number): { context: string; pointer: string } {
  const nl = (k: number): boolean => text[k] === "\n" || text[k] === "\r";
  let start = Math.min(pos, text.length);
  while (start > 0 && nl(start)) start--;
  while (start > 0 && !nl(start)) start--;
  if (nl(start)) start++;
  let end = start;
  while (end < text.length && !nl(end)) end++;
  const context = text.slice(start, end);
  // libxml2 counts bytes of UTF-8, not characters
  const col = pos > start ? Buffer.byteLength(text.slice(start, pos), "utf8") : 0;
  return { context: context === "" ? "(null)" : context, pointer: "-".repeat(col) + "^" };
}

function lineColumn(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < pos && k < text.length; k++) {
    if (text[k] === "\n") {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: pos - lineStart + 1 };
}

/** libxml2's explanation of the first syntax error in `text`; undefined when it sees none. */
export function explainSyntaxError(text: string): SyntaxExplanation | undefined {
  try {
    new Scanner(text).document();
    return undefined;
  } catch (e) {
    if (!(e instanceof Found)) throw e;
    return { ...lineColumn(text, e.pos), reason: e.reason, ...contextAt(text, e.pos) };
  }
}
