/**
 * virshDumpXML: print a document, or with `--xpath` the selected nodes one per line (with
 * `--wrap` all of them inside one `<nodes>` element), serialized as libxml2 does.
 */
import {
  parseXmlTree,
  selectNodes,
  serializeNode,
  toVirtError,
  type XElement,
  type XNode,
} from "../api/index.ts";
import type { Ctx } from "./context.ts";

function wrapNodes(nodes: XNode[]): XElement {
  const root: XElement = {
    kind: "element",
    name: "nodes",
    attrs: [],
    children: [],
    parent: undefined,
    order: 0,
  };
  for (const n of nodes) {
    if (n.kind === "attr") {
      const i = root.attrs.findIndex((a) => a.name === n.name);
      const copy = { ...n, parent: root };
      if (i >= 0) root.attrs[i] = copy;
      else root.attrs.push(copy);
    } else if (n.kind === "text") {
      const last = root.children[root.children.length - 1];
      if (last?.kind === "text")
        root.children[root.children.length - 1] = { ...last, value: last.value + n.value };
      else root.children.push({ ...n, parent: root });
    } else {
      root.children.push({ ...n, parent: root });
    }
  }
  return root;
}

/** Prints `xml`, or the nodes `xpath` selects. Returns false (error kept) on a bad XPath. */
export function dumpXPath(ctx: Ctx, xml: string, xpath: string | undefined, wrap: boolean): boolean {
  if (xpath === undefined) {
    ctx.print(xml);
    ctx.emit({ xml });
    return true;
  }
  let nodes: XNode[];
  try {
    nodes = selectNodes(parseXmlTree(xml), xpath);
  } catch (e) {
    return ctx.fail(undefined, toVirtError(e));
  }
  const texts = wrap ? [serializeNode(wrapNodes(nodes))] : nodes.map((n) => serializeNode(n));
  for (const t of texts) ctx.print(`${t}\n`);
  ctx.emit({ xpath, nodes: texts });
  return true;
}
