/**
 * `<lease>`: a lock manager lease the guest holds while it runs (lockspace, key, and the file
 * and offset where the lease lives). Kept and written back as given; tvirt has no lock manager
 * plugin that acquires it.
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import type { LeaseDef } from "./types.ts";
import { invalidAttr, missingAttr, missingChild } from "./reader.ts";

export function parseLease(el: XmlElement): LeaseDef {
  const key = el.child("key");
  if (!key) throw missingChild(el, "key");
  const target = el.child("target");
  if (!target) throw missingChild(el, "target");
  const path = target.attr("path");
  if (path === undefined) throw missingAttr(target, "path");
  const lease: LeaseDef = { key: key.content, path };
  const lockspace = el.child("lockspace");
  if (lockspace) lease.lockspace = lockspace.content;
  const offset = target.attr("offset");
  if (offset !== undefined) {
    if (!/^[0-9]+$/.test(offset)) throw invalidAttr(target, "offset", offset, "expected a byte offset");
    lease.offset = BigInt(offset);
  }
  return lease;
}

export function formatLease(w: XmlWriter, l: LeaseDef): void {
  w.elem("lease", undefined, () => {
    if (l.lockspace !== undefined) w.text("lockspace", l.lockspace);
    w.text("key", l.key);
    // libvirt leaves out an offset of 0
    w.empty("target", { path: l.path, offset: l.offset ? l.offset : undefined });
  });
}
