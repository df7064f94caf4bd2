/**
 * `<iothreads>`, `<iothreadids>` and `<defaultiothread>` of a domain, and the per-device
 * `<driver><iothreads>` mapping of virtqueues to iothreads (virtio-blk, virtio-scsi).
 *
 * libvirt keeps one list of iothread ids: the ones the user wrote, in their order, then (when
 * `<iothreads>` asks for more) the lowest unused ids, marked as filled in. The list is written
 * back only if the user wrote an id or poll settings, and `<iothreads>` becomes its length.
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import type { DomainDef, IothreadIdDef, IothreadQueueMapping } from "./types.ts";
import { intAttr, reqUInt, structural, uintAttr, uintText } from "./reader.ts";

const UINT = { hex: false, max: 0xffffffff } as const;
const ULL = { hex: false } as const;

function poolSize(el: XmlElement, name: string): number | undefined {
  const v = intAttr(el, name, { min: 0, max: 0x7fffffff });
  return v;
}

function parseIothreadId(el: XmlElement): IothreadIdDef {
  const t: IothreadIdDef = { id: reqUInt(el, "id", { ...UINT, min: 1 }) };
  const min = poolSize(el, "thread_pool_min");
  const max = poolSize(el, "thread_pool_max");
  if (min !== undefined) t.threadPoolMin = min;
  if (max !== undefined) t.threadPoolMax = max;
  const poll = el.child("poll");
  if (poll) {
    const pm = uintAttr(poll, "max", ULL);
    const pg = uintAttr(poll, "grow", ULL);
    const ps = uintAttr(poll, "shrink", ULL);
    if (pm !== undefined) t.pollMax = pm;
    if (pg !== undefined) t.pollGrow = pg;
    if (ps !== undefined) t.pollShrink = ps;
  }
  return t;
}

/** Reads `<iothreads>`, `<iothreadids>` and `<defaultiothread>` into `def`. */
export function parseIothreads(root: XmlElement, def: DomainDef): void {
  const countEl = root.child("iothreads");
  let count = countEl ? uintText(countEl, UINT) : 0;
  const ids: IothreadIdDef[] = [];
  for (const el of root.child("iothreadids")?.all("iothread") ?? []) {
    const t = parseIothreadId(el);
    if (ids.some((o) => o.id === t.id)) throw structural(el, `duplicate iothread id '${t.id}' found`);
    ids.push(t);
  }
  if (ids.length > count) count = ids.length;
  // the missing ones are the lowest ids not taken, after the written ones
  for (let next = 1; ids.length < count; next++)
    if (!ids.some((o) => o.id === next)) ids.push({ id: next, autofill: true });
  if (count > 0) def.iothreads = count;
  if (ids.length > 0) def.iothreadids = ids;
  const dflt = root.child("defaultiothread");
  if (dflt) {
    const d: NonNullable<DomainDef["defaultIothread"]> = {};
    const min = poolSize(dflt, "thread_pool_min");
    const max = poolSize(dflt, "thread_pool_max");
    if (min !== undefined) d.threadPoolMin = min;
    if (max !== undefined) d.threadPoolMax = max;
    def.defaultIothread = d;
  }
}

/** The iothread ids of a domain, in libvirt's order (also when only a count was given). */
export function iothreadIds(def: DomainDef): IothreadIdDef[] {
  if (def.iothreadids) return def.iothreadids;
  const n = def.iothreads ?? 0;
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, autofill: true }));
}

function shouldFormatIds(ids: IothreadIdDef[]): boolean {
  return ids.some(
    (t) =>
      t.autofill !== true ||
      t.pollMax !== undefined ||
      t.pollGrow !== undefined ||
      t.pollShrink !== undefined,
  );
}

export function formatIothreads(w: XmlWriter, def: DomainDef): void {
  const ids = iothreadIds(def);
  if (ids.length > 0) w.text("iothreads", ids.length);
  if (shouldFormatIds(ids)) {
    w.elem("iothreadids", {}, () => {
      for (const t of ids) {
        const attrs = { id: t.id, thread_pool_min: t.threadPoolMin, thread_pool_max: t.threadPoolMax };
        const poll = { max: t.pollMax, grow: t.pollGrow, shrink: t.pollShrink };
        if (poll.max === undefined && poll.grow === undefined && poll.shrink === undefined)
          w.empty("iothread", attrs);
        else w.elem("iothread", attrs, () => w.empty("poll", poll));
      }
    });
  }
  const d = def.defaultIothread;
  if (d && (d.threadPoolMin !== undefined || d.threadPoolMax !== undefined))
    w.empty("defaultiothread", { thread_pool_min: d.threadPoolMin, thread_pool_max: d.threadPoolMax });
}

/** A device driver's `<iothreads>` child: which iothread serves which virtqueues. */
export function parseIothreadMapping(driver: XmlElement): IothreadQueueMapping[] | undefined {
  const list = driver.child("iothreads");
  if (!list) return undefined;
  return list.all("iothread").map((el) => ({
    id: reqUInt(el, "id", { ...UINT, min: 1 }),
    queues: el.all("queue").map((q) => reqUInt(q, "id", UINT)),
  }));
}

export function formatIothreadMapping(w: XmlWriter, m: IothreadQueueMapping[]): void {
  w.elem("iothreads", {}, () => {
    for (const t of m) {
      if (t.queues.length === 0) w.empty("iothread", { id: t.id });
      else
        w.elem("iothread", { id: t.id }, () => {
          t.queues.forEach((q) => w.empty("queue", { id: q }));
        });
    }
  });
}
