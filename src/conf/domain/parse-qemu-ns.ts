/**
 * libvirt's QEMU XML namespace (`xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'`):
 * `<qemu:commandline>` (extra arguments and environment) and `<qemu:capabilities>`.
 */
import type { XmlElement } from "../xml.ts";
import type { QemuNamespace } from "./types.ts";
import { reqStr, str } from "./reader.ts";

export const QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0";

/** The prefix the document binds to the QEMU namespace, if any. */
function qemuPrefix(root: XmlElement): string | undefined {
  const a = root.attrs.find((x) => x.name.startsWith("xmlns:") && x.value === QEMU_NS);
  return a?.name.slice("xmlns:".length);
}

export function parseQemuNamespace(root: XmlElement): QemuNamespace | undefined {
  const p = qemuPrefix(root);
  if (p === undefined) return undefined;
  const ns: QemuNamespace = { args: [], env: [], capsAdd: [], capsDel: [] };
  for (const cl of root.all(`${p}:commandline`)) {
    for (const a of cl.all(`${p}:arg`)) ns.args.push(reqStr(a, "value"));
    for (const e of cl.all(`${p}:env`)) {
      const env: QemuNamespace["env"][number] = { name: reqStr(e, "name") };
      const value = str(e, "value");
      if (value !== undefined) env.value = value;
      ns.env.push(env);
    }
  }
  for (const caps of root.all(`${p}:capabilities`)) {
    for (const a of caps.all(`${p}:add`)) ns.capsAdd.push(reqStr(a, "capability"));
    for (const d of caps.all(`${p}:del`)) ns.capsDel.push(reqStr(d, "capability"));
  }
  const empty = ns.args.length + ns.env.length + ns.capsAdd.length + ns.capsDel.length === 0;
  return empty ? undefined : ns;
}
