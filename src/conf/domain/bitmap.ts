/**
 * libvirt's CPU/node set syntax (`0-3,^2,8`): parsing to a sorted member list and formatting in
 * libvirt's canonical range form (`0-1,3,8`).
 */

/** Largest member accepted (libvirt caps cpumaps at 8192 bits; nodesets are smaller). */
export const BITMAP_MAX = 8191;

/** Members of a set expression, sorted; undefined when malformed or empty. */
export function parseBitmap(text: string, max = BITMAP_MAX): number[] | undefined {
  const members = parseBitmapMembers(text, max);
  return members === undefined || members.length === 0 ? undefined : members;
}

/** Members of a set expression, sorted (empty for `0,^0`); undefined when malformed. */
export function parseBitmapMembers(text: string, max = BITMAP_MAX): number[] | undefined {
  const set = new Set<number>();
  const parts = text.split(",");
  for (const raw of parts) {
    const p = raw.trim();
    if (p === "") return undefined;
    const neg = p.startsWith("^");
    const body = neg ? p.slice(1).trim() : p;
    const m = /^([0-9]+)(?:\s*-\s*([0-9]+))?$/.exec(body);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > max || (neg && m[2] !== undefined)) return undefined;
    for (let i = lo; i <= hi; i++) {
      if (neg) set.delete(i);
      else set.add(i);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** Canonical form: ascending ranges joined by commas. */
export function formatBitmap(members: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < members.length) {
    const start = members[i]!;
    let end = start;
    while (i + 1 < members.length && members[i + 1] === end + 1) {
      end++;
      i++;
    }
    out.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  return out.join(",");
}
