/**
 * IPv4/IPv6 addresses as byte arrays: strict numeric parsing, the canonical text form the C
 * library prints (IPv6 with the longest run of zero groups compressed, lower case), prefixes,
 * netmasks and subnet arithmetic. Pure; used by the network definition and its consumers.
 */

export interface IpAddr {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: readonly number[];
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseV6(s: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let tail4: number[] = [];
  let text = s;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail4 = v4;
    text = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return undefined;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  const bytes: number[] = [];
  for (const g of all) bytes.push(g >> 8, g & 0xff);
  if (tail4.length) bytes.splice(12, 4, ...tail4);
  return bytes;
}

/** Parses a numeric IPv4 or IPv6 address; undefined when it is neither. */
export function parseIp(text: string): IpAddr | undefined {
  const v4 = parseV4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = text.includes(":") ? parseV6(text) : undefined;
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

/** The canonical text of an address (as inet_ntop prints it). */
export function formatIp(a: IpAddr): string {
  if (a.family === 4) return a.bytes.join(".");
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((a.bytes[i]! << 8) | a.bytes[i + 1]!);
  // IPv4-mapped addresses keep the dotted tail.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${a.bytes.slice(12).join(".")}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Canonical text of an address given as text; the input when it does not parse. */
export function canonicalIp(text: string): string {
  const a = parseIp(text);
  return a ? formatIp(a) : text;
}

/** The prefix length a netmask stands for, or undefined when its bits are not contiguous. */
export function netmaskPrefix(mask: IpAddr): number | undefined {
  let n = 0;
  let ended = false;
  for (const b of mask.bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = ((b >> bit) & 1) === 1;
      if (set && ended) return undefined;
      if (set) n++;
      else ended = true;
    }
  }
  return n;
}

export function prefixNetmask(family: 4 | 6, prefix: number): IpAddr {
  const len = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = 0; i < len; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    bytes.push((0xff << (8 - bits)) & 0xff);
  }
  return { family, bytes };
}

/** The address with host bits cleared. */
export function maskByPrefix(a: IpAddr, prefix: number): IpAddr {
  const m = prefixNetmask(a.family, prefix);
  return { family: a.family, bytes: a.bytes.map((b, i) => b & m.bytes[i]!) };
}

export function sameSubnet(a: IpAddr, b: IpAddr, prefix: number): boolean {
  if (a.family !== b.family) return false;
  const x = maskByPrefix(a, prefix).bytes;
  const y = maskByPrefix(b, prefix).bytes;
  return x.every((v, i) => v === y[i]);
}

function toBig(a: IpAddr): bigint {
  let n = 0n;
  for (const b of a.bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** a − b as a number (for range sizes); negative when a < b. */
export function ipDistance(a: IpAddr, b: IpAddr): bigint {
  return toBig(a) - toBig(b);
}

/**
 * libvirt's default prefix when neither prefix nor netmask is given: the classful one for IPv4
 * (A /8, B /16, C /24), 64 for IPv6; undefined for IPv4 class D/E.
 */
export function defaultPrefix(a: IpAddr): number | undefined {
  if (a.family === 6) return 64;
  const first = a.bytes[0]!;
  if (first < 128) return 8;
  if (first < 192) return 16;
  if (first < 224) return 24;
  return undefined;
}
