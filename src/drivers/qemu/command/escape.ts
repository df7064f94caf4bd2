/**
 * Spelling of QEMU option values: comma escaping for `key=value,...` options and JSON for
 * `-object`/`-device`/`-blockdev`/`-netdev`/`-audiodev`. JSON objects keep the insertion order
 * of their keys, which is how libvirt's key order is reproduced.
 */

/** A JSON value as QEMU receives it. `bigint` is emitted as a plain number (e.g. 64-bit `wwn`). */
export type JsonValue = string | number | bigint | boolean | null | JsonObject | readonly JsonValue[];
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** Doubles commas so a value can sit inside QEMU's `key=value,key=value` syntax. */
export function escapeComma(value: string): string {
  return value.replaceAll(",", ",,");
}

/** Serialises a JSON value compactly (no spaces), keys in insertion order. */
export function toJson(value: JsonValue): string {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(toJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as JsonObject)) parts.push(`${JSON.stringify(k)}:${toJson(v)}`);
  return `{${parts.join(",")}}`;
}

/**
 * An ordered property list with libvirt's optional-value conventions, so builders read like the
 * property tables they implement: absent values are skipped, zero numbers are skipped with `pos`.
 */
export class Props {
  private readonly entries: [string, JsonValue][] = [];

  /** Always adds the value. */
  set(key: string, value: JsonValue): this {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i >= 0) this.entries.splice(i, 1);
    this.entries.push([key, value]);
    return this;
  }

  /** Adds the value unless it is undefined. */
  opt(key: string, value: JsonValue | undefined): this {
    if (value !== undefined) this.set(key, value);
    return this;
  }

  /** Adds a number unless it is undefined or zero (libvirt's `p:`/`P:`). */
  pos(key: string, value: number | bigint | undefined): this {
    if (value !== undefined && value !== 0 && value !== 0n) this.set(key, value);
    return this;
  }

  /** Adds `true` only (libvirt's `B:`). */
  onlyTrue(key: string, value: boolean | undefined): this {
    if (value === true) this.set(key, true);
    return this;
  }

  /** Puts a key first (libvirt's prepend). */
  prepend(key: string, value: JsonValue): this {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i >= 0) this.entries.splice(i, 1);
    this.entries.unshift([key, value]);
    return this;
  }

  has(key: string): boolean {
    return this.entries.some(([k]) => k === key);
  }

  /** Drops a key (`<qemu:property type='remove'>`). */
  delete(key: string): this {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i >= 0) this.entries.splice(i, 1);
    return this;
  }

  get(key: string): JsonValue | undefined {
    return this.entries.find(([k]) => k === key)?.[1];
  }

  toObject(): JsonObject {
    return Object.fromEntries<JsonValue>(this.entries);
  }

  toString(): string {
    return toJson(this.toObject());
  }
}

/** Formats a set of non-negative integers as a sorted list (`host-nodes`, `node-affinity`). */
export function sortedNumbers(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Formats a set of integers the way libvirt's bitmaps print: `0-3,8,10-11`. */
export function formatRanges(values: Iterable<number>): string {
  const v = sortedNumbers(values);
  const out: string[] = [];
  for (let i = 0; i < v.length;) {
    let j = i;
    while (j + 1 < v.length && v[j + 1] === v[j]! + 1) j++;
    out.push(i === j ? `${v[i]!}` : `${v[i]!}-${v[j]!}`);
    i = j + 1;
  }
  return out.join(",");
}

/** Parses `0-3,^2,8` into the set of numbers it names. Returns undefined when malformed. */
export function parseRanges(text: string): number[] | undefined {
  const set = new Set<number>();
  const neg = new Set<number>();
  for (const raw of text.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    const target = part.startsWith("^") ? neg : set;
    const body = part.replace(/^\^/, "");
    const m = /^(\d+)(?:-(\d+))?$/.exec(body);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) target.add(i);
  }
  for (const n of neg) set.delete(n);
  return sortedNumbers(set);
}
