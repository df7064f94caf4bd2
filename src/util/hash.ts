/**
 * A fast non-cryptographic hash for cache keys and file names: 64 bits of FNV-1a over the
 * UTF-16 units of `s` (two 32-bit lanes with other offsets, the second also folding in its own
 * high bits), as 16 hex digits. Not for anything an adversary picks: a clash there must only
 * cost a cache miss. Loading node:crypto for a sha256 costs ~5 ms of a command's start.
 */
export function fnv1a64(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
