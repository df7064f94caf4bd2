/**
 * libvirt's QEMU XML namespace (`http://libvirt.org/schemas/domain/qemu/1.0`):
 * `<qemu:commandline>` (extra arguments and environment), `<qemu:capabilities>`,
 * `<qemu:override>` (device properties) and `<qemu:deprecation>`. Elements are matched by
 * namespace, not by prefix: the namespace may be bound on the root, on the element itself, under
 * any prefix or as the default namespace, as libvirt's XPath lookups with the registered URI do.
 */
import type { XmlElement } from "../xml.ts";
import type { QemuNamespace, QemuOverrideProperty } from "./types.ts";
import { invalidAttr, reqEnum, reqStr, str } from "./reader.ts";

export const QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0";

/** The namespace URI of an element's name, from the xmlns declarations in scope. */
function namespaceOf(el: XmlElement): string | undefined {
  const colon = el.name.indexOf(":");
  const decl = colon < 0 ? "xmlns" : `xmlns:${el.name.slice(0, colon)}`;
  for (let e: XmlElement | undefined = el; e; e = e.parent) {
    const a = e.attrNode(decl);
    if (a) {
      a.used = true;
      return a.value;
    }
  }
  return undefined;
}

function localName(el: XmlElement): string {
  const colon = el.name.indexOf(":");
  return colon < 0 ? el.name : el.name.slice(colon + 1);
}

/** Children of `el` in the QEMU namespace named `local`, marked used. */
function qemuChildren(el: XmlElement, local: string): XmlElement[] {
  const list = el.children.filter((c) => localName(c) === local && namespaceOf(c) === QEMU_NS);
  for (const c of list) c.used = true;
  return list;
}

const PROPERTY_TYPES = ["string", "signed", "unsigned", "bool", "remove"] as const;
const DEPRECATION = ["none", "omit", "reject", "crash"] as const;

function parseProperty(el: XmlElement): QemuOverrideProperty {
  const name = reqStr(el, "name");
  const type = reqEnum(el, "type", PROPERTY_TYPES);
  if (type === "remove") return { name, type };
  const value = reqStr(el, "value");
  const bad = (expected: string) => invalidAttr(el, "value", value, expected);
  if (type === "signed" && !/^[-+]?[0-9]+$/.test(value)) throw bad("expected a signed integer");
  if (type === "unsigned" && !/^[0-9]+$/.test(value)) throw bad("expected an unsigned integer");
  if (type === "bool" && value !== "true" && value !== "false") throw bad("expected 'true' or 'false'");
  return { name, type, value };
}

export function parseQemuNamespace(root: XmlElement): QemuNamespace | undefined {
  const ns: QemuNamespace = { args: [], env: [], capsAdd: [], capsDel: [], overrides: [] };
  for (const cl of qemuChildren(root, "commandline")) {
    for (const a of qemuChildren(cl, "arg")) ns.args.push(reqStr(a, "value"));
    for (const e of qemuChildren(cl, "env")) {
      const env: QemuNamespace["env"][number] = { name: reqStr(e, "name") };
      const value = str(e, "value");
      if (value !== undefined) env.value = value;
      ns.env.push(env);
    }
  }
  for (const caps of qemuChildren(root, "capabilities")) {
    for (const a of qemuChildren(caps, "add")) ns.capsAdd.push(reqStr(a, "capability"));
    for (const d of qemuChildren(caps, "del")) ns.capsDel.push(reqStr(d, "capability"));
  }
  for (const o of qemuChildren(root, "override")) {
    for (const d of qemuChildren(o, "device")) {
      const alias = reqStr(d, "alias");
      const frontend: QemuOverrideProperty[] = [];
      for (const f of qemuChildren(d, "frontend"))
        for (const p of qemuChildren(f, "property")) frontend.push(parseProperty(p));
      ns.overrides.push({ alias, frontend });
    }
  }
  const dep = qemuChildren(root, "deprecation")[0];
  if (dep) ns.deprecation = reqEnum(dep, "behavior", DEPRECATION);
  const empty =
    ns.args.length + ns.env.length + ns.capsAdd.length + ns.capsDel.length + ns.overrides.length === 0 &&
    ns.deprecation === undefined;
  return empty ? undefined : ns;
}
