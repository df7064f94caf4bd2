/**
 * A small read-only XML tree with the subset of XPath 1.0 that virsh users pass to
 * `--xpath` and that tvirsh itself needs (`./devices/disk`, `string(./source/@file|...)`), and a
 * serializer that prints nodes the way libxml2 does in virsh (`xmlNodeDump` with formatting:
 * double-quoted attributes, two-space indentation, ignorable whitespace dropped).
 *
 * Supported: location paths (absolute `/a/b`, relative `a/b`, `//`, `.`, `..`), name tests and
 * `*`, `@name`, `@*`, `text()`, `node()`, predicates `[n]`, `[last()]`, `[@a]`, `[@a='v']`,
 * `[name]`, `[name='v']`, and unions with `|`. Anything else is refused as an incorrect XPath.
 */
import { SaxesParser } from "saxes";
import { VirtError } from "../util/errors/index.ts";

export type XNode = XElement | XText | XAttr;

export interface XElement {
  readonly kind: "element";
  readonly name: string;
  readonly attrs: XAttr[];
  readonly children: (XElement | XText)[];
  readonly parent: XElement | undefined;
  /** Document order. */
  readonly order: number;
}

export interface XText {
  readonly kind: "text";
  readonly value: string;
  readonly parent: XElement;
  readonly order: number;
}

export interface XAttr {
  readonly kind: "attr";
  readonly name: string;
  readonly value: string;
  readonly parent: XElement;
  readonly order: number;
}

/** Parses a document, dropping whitespace-only text (libxml2's NOBLANKS). Throws on bad XML. */
export function parseXmlTree(text: string): XElement {
  const parser = new SaxesParser({ xmlns: false });
  let order = 0;
  let root: XElement | undefined;
  const stack: { el: XElement; text: string[] }[] = [];
  let error: Error | undefined;
  parser.on("error", (e) => {
    error ??= e;
  });
  const flushText = (): void => {
    const top = stack[stack.length - 1];
    if (!top || top.text.length === 0) return;
    const value = top.text.join("");
    top.text = [];
    if (value.trim() !== "") top.el.children.push({ kind: "text", value, parent: top.el, order: order++ });
  };
  parser.on("opentag", (tag) => {
    flushText();
    const parent = stack[stack.length - 1]?.el;
    const el: XElement = { kind: "element", name: tag.name, attrs: [], children: [], parent, order: order++ };
    for (const [name, value] of Object.entries(tag.attributes)) {
      el.attrs.push({ kind: "attr", name, value, parent: el, order: order++ });
    }
    if (parent) parent.children.push(el);
    else root ??= el;
    stack.push({ el, text: [] });
  });
  parser.on("text", (t) => {
    stack[stack.length - 1]?.text.push(t);
  });
  parser.on("cdata", (t) => {
    stack[stack.length - 1]?.text.push(t);
  });
  parser.on("closetag", () => {
    flushText();
    stack.pop();
  });
  parser.write(text).close();
  if (error) throw error;
  if (!root) throw new Error("document is empty");
  return root;
}

// ---------------------------------------------------------------------------------------------
// XPath subset
// ---------------------------------------------------------------------------------------------

type Pred =
  | { kind: "index"; n: number }
  | { kind: "last" }
  | { kind: "attr"; name: string; value?: string }
  | { kind: "child"; name: string; value?: string };

interface Step {
  axis: "child" | "descendant-or-self" | "self" | "parent" | "attribute";
  test: string; // name, "*", "text()", "node()"
  preds: Pred[];
}

interface Path {
  absolute: boolean;
  steps: Step[];
}

function badXPath(xpath: string): Error {
  return new VirtError("XPATH_INVALID", { xpath });
}

function parsePredicate(src: string, xpath: string): Pred {
  const s = src.trim();
  if (/^\d+$/.test(s)) return { kind: "index", n: Number(s) };
  if (s === "last()") return { kind: "last" };
  const m = /^(@?)([A-Za-z_][\w.:-]*)\s*(?:=\s*(?:'([^']*)'|"([^"]*)"))?$/.exec(s);
  if (!m) throw badXPath(xpath);
  const value = m[3] ?? m[4];
  const p = { name: m[2]!, ...(value !== undefined ? { value } : {}) };
  return m[1] === "@" ? { kind: "attr", ...p } : { kind: "child", ...p };
}

function parsePath(src: string, xpath: string): Path {
  const s = src.trim();
  if (s === "") throw badXPath(xpath);
  const absolute = s.startsWith("/");
  const steps: Step[] = [];
  if (s === "/") return { absolute, steps };
  // Split on '/' outside predicates and quotes.
  const parts: string[] = [];
  let cur = "";
  let depth = 0;
  let quote = "";
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = "";
      cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === "[") {
      depth++;
      cur += c;
    } else if (c === "]") {
      depth--;
      cur += c;
    } else if (c === "/" && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  if (quote || depth !== 0) throw badXPath(xpath);
  parts.push(cur);
  // parts[0] is "" for absolute paths; an empty part after it means "//".
  for (let k = absolute ? 1 : 0; k < parts.length; k++) {
    const part = parts[k]!;
    if (part === "") {
      if (k === parts.length - 1) throw badXPath(xpath);
      steps.push({ axis: "descendant-or-self", test: "node()", preds: [] });
      continue;
    }
    const m = /^([^[]+)((?:\[[^\]]*\])*)$/.exec(part);
    if (!m) throw badXPath(xpath);
    const head = m[1]!.trim();
    const preds = [...m[2]!.matchAll(/\[([^\]]*)\]/g)].map((pm) => parsePredicate(pm[1]!, xpath));
    if (head === ".") steps.push({ axis: "self", test: "node()", preds });
    else if (head === "..") steps.push({ axis: "parent", test: "node()", preds });
    else if (head.startsWith("@")) {
      const name = head.slice(1);
      if (name !== "*" && !/^[A-Za-z_][\w.:-]*$/.test(name)) throw badXPath(xpath);
      steps.push({ axis: "attribute", test: name, preds });
    } else if (head === "*" || head === "text()" || head === "node()" || /^[A-Za-z_][\w.:-]*$/.test(head)) {
      steps.push({ axis: "child", test: head, preds });
    } else throw badXPath(xpath);
  }
  return { absolute, steps };
}

function splitUnion(xpath: string): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  let quote = "";
  for (const c of xpath) {
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "|" && depth === 0) {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

function descendantsOrSelf(el: XElement, out: XNode[]): void {
  out.push(el);
  for (const c of el.children) {
    if (c.kind === "element") descendantsOrSelf(c, out);
    else out.push(c);
  }
}

function textOf(n: XNode): string {
  if (n.kind !== "element") return n.value;
  return n.children.map((c) => textOf(c)).join("");
}

function applyStep(nodes: XNode[], step: Step): XNode[] {
  const out: XNode[] = [];
  for (const n of nodes) {
    let cands: XNode[] = [];
    if (step.axis === "self") cands = [n];
    else if (step.axis === "parent") cands = n.parent ? [n.parent] : [];
    else if (step.axis === "descendant-or-self") {
      if (n.kind === "element") descendantsOrSelf(n, cands);
      else cands = [n];
    } else if (step.axis === "attribute") {
      if (n.kind === "element") cands = n.attrs.filter((a) => step.test === "*" || a.name === step.test);
    } else if (n.kind === "element") {
      cands = n.children.filter((c) => {
        if (step.test === "node()") return true;
        if (step.test === "text()") return c.kind === "text";
        return c.kind === "element" && (step.test === "*" || c.name === step.test);
      });
    }
    for (const p of step.preds) cands = filterPred(cands, p);
    out.push(...cands);
  }
  return out;
}

function filterPred(nodes: XNode[], p: Pred): XNode[] {
  switch (p.kind) {
    case "index":
      return nodes[p.n - 1] ? [nodes[p.n - 1]!] : [];
    case "last":
      return nodes.length ? [nodes[nodes.length - 1]!] : [];
    case "attr":
      return nodes.filter(
        (n) =>
          n.kind === "element" &&
          n.attrs.some((a) => a.name === p.name && (p.value === undefined || a.value === p.value)),
      );
    case "child":
      return nodes.filter(
        (n) =>
          n.kind === "element" &&
          n.children.some(
            (c) =>
              c.kind === "element" && c.name === p.name && (p.value === undefined || textOf(c) === p.value),
          ),
      );
  }
}

/**
 * Evaluates `xpath` with `context` as the context node (the document root element for absolute
 * paths). Returns the matching nodes in document order, without duplicates.
 */
export function selectNodes(context: XElement, xpath: string): XNode[] {
  let root = context;
  while (root.parent) root = root.parent;
  // A virtual document node above the root element, so that `/domain` selects the root.
  const docNode: XElement = {
    kind: "element",
    name: "#document",
    attrs: [],
    children: [root],
    parent: undefined,
    order: -1,
  };
  const seen = new Set<XNode>();
  const result: XNode[] = [];
  for (const part of splitUnion(xpath)) {
    const path = parsePath(part, xpath);
    let nodes: XNode[] = [path.absolute ? docNode : context];
    for (const step of path.steps) nodes = applyStep(nodes, step);
    for (const n of nodes) {
      if (n === docNode || seen.has(n)) continue;
      seen.add(n);
      result.push(n);
    }
  }
  return result.sort((a, b) => a.order - b.order);
}

/** XPath `string(expr)`: the string value of the first node selected, or "". */
export function selectString(context: XElement, xpath: string): string {
  const first = selectNodes(context, xpath)[0];
  return first ? textOf(first) : "";
}

/** Like `selectString`, but undefined when nothing matches. */
export function selectValue(context: XElement, xpath: string): string | undefined {
  const first = selectNodes(context, xpath)[0];
  return first ? textOf(first) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Serialization (libxml2 xmlNodeDump, format=1)
// ---------------------------------------------------------------------------------------------

function escText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;");
}

function escAttr(s: string): string {
  return escText(s).replace(/"/g, "&quot;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}

function dumpElement(el: XElement, indent: string, out: string[]): void {
  const attrs = el.attrs.map((a) => ` ${a.name}="${escAttr(a.value)}"`).join("");
  if (el.children.length === 0) {
    out.push(`${indent}<${el.name}${attrs}/>`);
    return;
  }
  const hasText = el.children.some((c) => c.kind === "text");
  if (hasText) {
    // libxml2 does not indent inside mixed content.
    const inner: string[] = [];
    for (const c of el.children) {
      if (c.kind === "text") inner.push(escText(c.value));
      else {
        const sub: string[] = [];
        dumpElement(c, "", sub);
        inner.push(sub.join("\n"));
      }
    }
    out.push(`${indent}<${el.name}${attrs}>${inner.join("")}</${el.name}>`);
    return;
  }
  out.push(`${indent}<${el.name}${attrs}>`);
  for (const c of el.children) if (c.kind === "element") dumpElement(c, indent + "  ", out);
  out.push(`${indent}</${el.name}>`);
}

/** One node as virsh prints an `--xpath` result. */
export function serializeNode(n: XNode, indent = ""): string {
  if (n.kind === "attr") return `${indent} ${n.name}="${escAttr(n.value)}"`;
  if (n.kind === "text") return indent + escText(n.value);
  const out: string[] = [];
  dumpElement(n, indent, out);
  return out.join("\n");
}
