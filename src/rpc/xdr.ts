/**
 * XDR (RFC 4506) for the subset libvirt's RPC uses: big-endian 32-bit words, 64-bit hypers,
 * doubles, strings and variable opaques with a length word and zero padding to 4 bytes, fixed
 * opaques, optional values (a 0/1 word), variable arrays (a count word). Every read is bounds-
 * checked and every length is checked against its declared maximum before anything is
 * allocated, so a hostile or truncated packet is an `XdrError`, never a crash or a huge buffer.
 *
 * See README.md here for why this is hand-written rather than `@stellar/js-xdr`.
 */

export class XdrError extends Error {
  override readonly name = "XdrError";
}

const pad4 = (n: number): number => (4 - (n & 3)) & 3;

/** A growable buffer that XDR values are appended to. */
export class XdrWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(initial = 256) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.#pos;
  }

  #ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  int(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
      throw new XdrError(`int out of range: ${v}`);
    this.#ensure(4);
    this.#buf.writeInt32BE(v, this.#pos);
    this.#pos += 4;
  }

  uint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new XdrError(`unsigned int out of range: ${v}`);
    this.#ensure(4);
    this.#buf.writeUInt32BE(v, this.#pos);
    this.#pos += 4;
  }

  hyper(v: bigint): void {
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new XdrError(`hyper out of range: ${v}`);
    this.#ensure(8);
    this.#buf.writeBigInt64BE(v, this.#pos);
    this.#pos += 8;
  }

  uhyper(v: bigint): void {
    if (v < 0n || v >= 1n << 64n) throw new XdrError(`unsigned hyper out of range: ${v}`);
    this.#ensure(8);
    this.#buf.writeBigUInt64BE(v, this.#pos);
    this.#pos += 8;
  }

  double(v: number): void {
    this.#ensure(8);
    this.#buf.writeDoubleBE(v, this.#pos);
    this.#pos += 8;
  }

  bool(v: boolean): void {
    this.int(v ? 1 : 0);
  }

  /** Fixed-length opaque: exactly `n` bytes, then padding. */
  fixedOpaque(bytes: Uint8Array, n: number): void {
    if (bytes.length !== n) throw new XdrError(`fixed opaque needs ${n} bytes, got ${bytes.length}`);
    this.#raw(bytes);
  }

  /** Variable-length opaque: length word, bytes, padding. */
  varOpaque(bytes: Uint8Array, max: number): void {
    if (bytes.length > max) throw new XdrError(`opaque of ${bytes.length} bytes exceeds maximum ${max}`);
    this.uint(bytes.length);
    this.#raw(bytes);
  }

  /** A string (UTF-8): length word, bytes, padding. */
  string(s: string, max: number): void {
    const len = Buffer.byteLength(s, "utf8");
    if (len > max) throw new XdrError(`string of ${len} bytes exceeds maximum ${max}`);
    this.uint(len);
    this.#ensure(len + pad4(len));
    this.#buf.write(s, this.#pos, len, "utf8");
    this.#pos += len;
    this.#zero(pad4(len));
  }

  #raw(bytes: Uint8Array): void {
    const p = pad4(bytes.length);
    this.#ensure(bytes.length + p);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    this.#zero(p);
  }

  #zero(n: number): void {
    for (let i = 0; i < n; i++) this.#buf[this.#pos++] = 0;
  }

  /** Appends already-encoded bytes (a multiple of 4 long). */
  bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /** Overwrites a 32-bit word written earlier (frame length). */
  patchUint(offset: number, v: number): void {
    this.#buf.writeUInt32BE(v, offset);
  }

  /** The bytes written so far (a view; copy if the writer is reused). */
  result(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Reads XDR values from a buffer range; every read checks the bytes are there. */
export class XdrReader {
  #pos: number;

  constructor(
    private readonly buf: Buffer,
    pos = 0,
    private readonly end = buf.length,
  ) {
    this.#pos = pos;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.end - this.#pos;
  }

  #need(n: number, what: string): void {
    if (n > this.end - this.#pos)
      throw new XdrError(`truncated data: ${what} needs ${n} bytes, ${this.end - this.#pos} left`);
  }

  int(): number {
    this.#need(4, "int");
    const v = this.buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  uint(): number {
    this.#need(4, "unsigned int");
    const v = this.buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  hyper(): bigint {
    this.#need(8, "hyper");
    const v = this.buf.readBigInt64BE(this.#pos);
    this.#pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.#need(8, "unsigned hyper");
    const v = this.buf.readBigUInt64BE(this.#pos);
    this.#pos += 8;
    return v;
  }

  double(): number {
    this.#need(8, "double");
    const v = this.buf.readDoubleBE(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** XDR bool; libvirt's peers only send 0 and 1, anything else is a corrupt packet. */
  bool(): boolean {
    const v = this.int();
    if (v !== 0 && v !== 1) throw new XdrError(`bad boolean ${v}`);
    return v === 1;
  }

  fixedOpaque(n: number): Buffer {
    this.#need(n + pad4(n), "fixed opaque");
    const b = Buffer.from(this.buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n + pad4(n);
    return b;
  }

  /** Fixed opaque of `n` bytes as hex text, without copying the bytes first. */
  fixedHex(n: number): string {
    this.#need(n + pad4(n), "fixed opaque");
    const h = this.buf.toString("hex", this.#pos, this.#pos + n);
    this.#pos += n + pad4(n);
    return h;
  }

  varOpaque(max: number): Buffer {
    const len = this.uint();
    if (len > max) throw new XdrError(`opaque of ${len} bytes exceeds maximum ${max}`);
    return this.fixedOpaque(len);
  }

  string(max: number): string {
    const len = this.uint();
    if (len > max) throw new XdrError(`string of ${len} bytes exceeds maximum ${max}`);
    this.#need(len + pad4(len), "string");
    const s = this.buf.toString("utf8", this.#pos, this.#pos + len);
    this.#pos += len + pad4(len);
    return s;
  }

  /** An array count, checked against the maximum and against the bytes left (`minSize` each). */
  count(max: number, minSize: number): number {
    const n = this.uint();
    if (n > max) throw new XdrError(`array of ${n} elements exceeds maximum ${max}`);
    if (n * minSize > this.end - this.#pos) throw new XdrError(`truncated data: array of ${n} elements`);
    return n;
  }
}
