/**
 * Typed XDR codecs built from small combinators, so each `.x` struct of libvirt's protocol is one
 * declaration shared by the server and the client: `struct({ dom: domain, flags: uint })`
 * encodes and decodes the fields in the order written (object key order), exactly like rpcgen.
 */
import { XdrError, XdrReader, XdrWriter } from "./xdr.ts";

export interface Codec<T> {
  enc(w: XdrWriter, v: T): void;
  dec(r: XdrReader): T;
  /** Smallest encoded size in bytes (for array count sanity checks). */
  readonly min: number;
}

export type CodecType<C> = C extends Codec<infer T> ? T : never;

export const int: Codec<number> = {
  enc: (w, v) => {
    w.int(v);
  },
  dec: (r) => r.int(),
  min: 4,
};
export const uint: Codec<number> = {
  enc: (w, v) => {
    w.uint(v);
  },
  dec: (r) => r.uint(),
  min: 4,
};
export const hyper: Codec<bigint> = {
  enc: (w, v) => {
    w.hyper(v);
  },
  dec: (r) => r.hyper(),
  min: 8,
};
export const uhyper: Codec<bigint> = {
  enc: (w, v) => {
    w.uhyper(v);
  },
  dec: (r) => r.uhyper(),
  min: 8,
};
export const double: Codec<number> = {
  enc: (w, v) => {
    w.double(v);
  },
  dec: (r) => r.double(),
  min: 8,
};
/** `int` used as a boolean by libvirt (any non-zero is true, as in C). */
export const intBool: Codec<boolean> = {
  enc: (w, v) => {
    w.int(v ? 1 : 0);
  },
  dec: (r) => r.int() !== 0,
  min: 4,
};

/** Void (no payload). */
export const VOID: Codec<undefined> = { enc: () => undefined, dec: () => undefined, min: 0 };

export function string(max: number): Codec<string> {
  return {
    enc: (w, v) => {
      w.string(v, max);
    },
    dec: (r) => r.string(max),
    min: 4,
  };
}

export function varOpaque(max: number): Codec<Buffer> {
  return {
    enc: (w, v) => {
      w.varOpaque(v, max);
    },
    dec: (r) => r.varOpaque(max),
    min: 4,
  };
}

/** A pointer (`T *x` in the .x file): a 0/1 word, then the value when 1. */
export function optional<T>(c: Codec<T>): Codec<T | null> {
  return {
    enc(w, v) {
      if (v === null) w.int(0);
      else {
        w.int(1);
        c.enc(w, v);
      }
    },
    dec: (r) => (r.bool() ? c.dec(r) : null),
    min: 4,
  };
}

/** Variable array `T x<max>`: count word, then the elements. */
export function array<T>(c: Codec<T>, max: number): Codec<T[]> {
  return {
    enc(w, v) {
      if (v.length > max) throw new XdrError(`array of ${v.length} elements exceeds maximum ${max}`);
      w.uint(v.length);
      for (let i = 0; i < v.length; i++) c.enc(w, v[i]!);
    },
    dec(r) {
      const n = r.count(max, c.min);
      const out: T[] = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = c.dec(r);
      return out;
    },
    min: 4,
  };
}

/**
 * `char x<max>`: libvirt's security model/label/DOI fields, a count then one 4-byte word per
 * character, the count including the terminating NUL (as libvirt's daemon sends them).
 */
export function charArray(max: number): Codec<string> {
  return {
    enc(w, v) {
      const bytes = Buffer.from(v, "utf8");
      if (bytes.length + 1 > max)
        throw new XdrError(`string of ${bytes.length} bytes exceeds maximum ${max - 1}`);
      w.uint(bytes.length + 1);
      for (const b of bytes) w.int(b < 128 ? b : b - 256);
      w.int(0);
    },
    dec(r) {
      const n = r.count(max, 4);
      const bytes: number[] = [];
      for (let i = 0; i < n; i++) bytes.push(r.int() & 0xff);
      const nul = bytes.indexOf(0);
      return Buffer.from(nul < 0 ? bytes : bytes.slice(0, nul)).toString("utf8");
    },
    min: 4,
  };
}

/** `char x[n]`: exactly `n` 4-byte words, NUL padded (node info's CPU model). */
export function fixedCharArray(n: number): Codec<string> {
  return {
    enc(w, v) {
      const bytes = Buffer.from(v, "utf8").subarray(0, n - 1);
      for (let i = 0; i < n; i++) {
        const b = i < bytes.length ? bytes[i]! : 0;
        w.int(b < 128 ? b : b - 256);
      }
    },
    dec(r) {
      const bytes: number[] = [];
      for (let i = 0; i < n; i++) bytes.push(r.int() & 0xff);
      const nul = bytes.indexOf(0);
      return Buffer.from(nul < 0 ? bytes : bytes.slice(0, nul)).toString("utf8");
    },
    min: 4 * n,
  };
}

/** `opaque x[16]` as libvirt's UUID, shown as lowercase 8-4-4-4-12. */
export const uuid: Codec<string> = {
  enc(w, v) {
    const hex = v.replace(/-/g, "");
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new XdrError(`bad UUID '${v}'`);
    w.fixedOpaque(Buffer.from(hex, "hex"), 16);
  },
  dec(r) {
    const h = r.fixedHex(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  },
  min: 16,
};

type Shape = Record<string, Codec<never>>;
export type StructType<S> = { [K in keyof S]: S[K] extends Codec<infer T> ? T : never };

/** A struct: fields encoded in the order of the shape's keys. */
export function struct<S extends Record<string, Codec<unknown>>>(shape: S): Codec<StructType<S>> {
  const fields = Object.entries(shape as unknown as Shape) as [string, Codec<unknown>][];
  const min = fields.reduce((s, [, c]) => s + c.min, 0);
  // Indexed loops over plain arrays: a short-lived process runs this in V8's interpreter, where
  // iterating entries with destructuring costs several times more per field.
  const keys = fields.map(([k]) => k);
  const codecs = fields.map(([, c]) => c);
  const n = keys.length;
  return {
    enc(w, v) {
      const rec = v as Record<string, unknown>;
      for (let i = 0; i < n; i++) codecs[i]!.enc(w, rec[keys[i]!]);
    },
    dec(r) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) out[keys[i]!] = codecs[i]!.dec(r);
      return out as StructType<S>;
    },
    min,
  };
}

/** Maps a codec's value type (e.g. hyper bigint <-> number). */
export function mapped<A, B>(c: Codec<A>, to: (a: A) => B, from: (b: B) => A): Codec<B> {
  return {
    enc: (w, v) => {
      c.enc(w, from(v));
    },
    dec: (r) => to(c.dec(r)),
    min: c.min,
  };
}

/** Encodes a value to a fresh buffer. */
export function encode<T>(c: Codec<T>, v: T): Buffer {
  const w = new XdrWriter();
  c.enc(w, v);
  return Buffer.from(w.result());
}

/** Decodes a whole buffer. Trailing bytes are ignored, as libvirt's decoder does. */
export function decode<T>(c: Codec<T>, buf: Buffer, offset = 0): T {
  return c.dec(new XdrReader(buf, offset));
}
