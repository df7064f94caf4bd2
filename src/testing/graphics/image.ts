/**
 * Test helpers to look at pictures of a guest's screen: decoders for what QEMU's `screendump`
 * writes (PNG, binary PPM) and what `xwd` grabs from an X server (ZPixmap XWD, 24/32 bits per
 * pixel), all to plain RGB, and a tolerant comparison of two pictures (a viewer scales nothing
 * here, but colours may differ by a few levels and a cursor may cover some pixels).
 */
import { deflateSync, inflateSync } from "node:zlib";
import { ppmHeader } from "./rfb.ts";

/** A picture as 8-bit RGB, row by row. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgb: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what QEMU writes). */
export function decodePng(data: Buffer): RgbImage {
  if (!data.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error("not a PNG");
  let off = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Buffer[] = [];
  while (off + 8 <= data.length) {
    const len = data.readUInt32BE(off);
    const type = data.subarray(off + 4, off + 8).toString("latin1");
    const body = data.subarray(off + 8, off + 8 + len);
    off += 12 + len;
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8]!;
      colorType = body[9]!;
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || body[12] !== 0)
        throw new Error(
          `PNG of depth ${depth}, colour type ${colorType}, interlace ${body[12]}: not supported`,
        );
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
  }
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : undefined;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? row[x - bpp]! : 0;
      const b = prev ? prev[x]! : 0;
      const c = prev && x >= bpp ? prev[x - bpp]! : 0;
      const v = src[x]!;
      row[x] =
        (filter === 0
          ? v
          : filter === 1
            ? v + a
            : filter === 2
              ? v + b
              : filter === 3
                ? v + ((a + b) >> 1)
                : v + paeth(a, b, c)) & 0xff;
    }
  }
  if (bpp === 3) return { width, height, rgb: pixels };
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0, j = 0; i < pixels.length; i += 4, j += 3) {
    rgb[j] = pixels[i]!;
    rgb[j + 1] = pixels[i + 1]!;
    rgb[j + 2] = pixels[i + 2]!;
  }
  return { width, height, rgb };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Encodes an RGB picture as PNG (kept as a test artifact). */
export function encodePng(img: RgbImage): Buffer {
  const chunk = (type: string, body: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const typed = Buffer.concat([Buffer.from(type, "latin1"), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([len, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.width, 0);
  ihdr.writeUInt32BE(img.height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const stride = img.width * 3;
  const raw = Buffer.alloc((stride + 1) * img.height);
  for (let y = 0; y < img.height; y++) img.rgb.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Decodes a binary PPM (P6, maxval 255). */
export function decodePpm(data: Buffer): RgbImage {
  const h = ppmHeader(data);
  if (h.maxval !== 255) throw new Error(`PPM with maxval ${h.maxval}: not supported`);
  return {
    width: h.width,
    height: h.height,
    rgb: Buffer.from(data.subarray(h.offset, h.offset + h.width * h.height * 3)),
  };
}

/** A screenshot by its MIME type (`image/png`, `image/x-portable-pixmap`). */
export function decodeScreenshot(mime: string, data: Buffer): RgbImage {
  if (mime === "image/png") return decodePng(data);
  if (mime === "image/x-portable-pixmap") return decodePpm(data);
  throw new Error(`screenshot of type ${mime}: not decoded`);
}

/**
 * Decodes an XWD dump (`xwd -silent`) of a TrueColor window: ZPixmap, 24 or 32 bits per pixel,
 * the channel masks of its header.
 */
export function decodeXwd(data: Buffer): RgbImage {
  const headerSize = data.readUInt32BE(0);
  const field = (i: number): number => data.readUInt32BE(i * 4);
  const version = field(1);
  const format = field(2);
  const width = field(4);
  const height = field(5);
  const byteOrder = field(7); // 0 LSBFirst, 1 MSBFirst
  const bitsPerPixel = field(11);
  const bytesPerLine = field(12);
  const [redMask, greenMask, blueMask] = [field(14), field(15), field(16)];
  const ncolors = field(19);
  if (version !== 7 || format !== 2 || (bitsPerPixel !== 32 && bitsPerPixel !== 24))
    throw new Error(`XWD version ${version}, format ${format}, ${bitsPerPixel} bpp: not supported`);
  const start = headerSize + ncolors * 12;
  const shift = (m: number): number => (m === 0 ? 0 : 31 - Math.clz32(m & -m));
  const chan = (v: number, m: number): number => ((v & m) >>> shift(m)) * (255 / (m >>> shift(m) || 1));
  const bytes = bitsPerPixel / 8;
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = start + y * bytesPerLine + x * bytes;
      let v = 0;
      for (let k = 0; k < bytes; k++) {
        const byte = data[p + (byteOrder === 0 ? k : bytes - 1 - k)]!;
        v |= byte << (8 * k);
      }
      v >>>= 0;
      const o = (y * width + x) * 3;
      rgb[o] = Math.round(chan(v, redMask));
      rgb[o + 1] = Math.round(chan(v, greenMask));
      rgb[o + 2] = Math.round(chan(v, blueMask));
    }
  }
  return { width, height, rgb };
}

/** The part of `img` at (`x`, `y`) of the given size. */
export function crop(img: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  if (x < 0 || y < 0 || x + width > img.width || y + height > img.height)
    throw new Error(`crop ${width}x${height}+${x}+${y} outside ${img.width}x${img.height}`);
  const rgb = Buffer.alloc(width * height * 3);
  for (let r = 0; r < height; r++) {
    const from = ((y + r) * img.width + x) * 3;
    img.rgb.copy(rgb, r * width * 3, from, from + width * 3);
  }
  return { width, height, rgb };
}

/**
 * The share of pixels (0..1) of two same-sized pictures whose colours differ by more than
 * `tolerance` levels in some channel.
 */
export function pixelDifference(a: RgbImage, b: RgbImage, tolerance = 16): number {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`pictures of different sizes: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  let differ = 0;
  for (let i = 0; i < a.rgb.length; i += 3) {
    if (
      Math.abs(a.rgb[i]! - b.rgb[i]!) > tolerance ||
      Math.abs(a.rgb[i + 1]! - b.rgb[i + 1]!) > tolerance ||
      Math.abs(a.rgb[i + 2]! - b.rgb[i + 2]!) > tolerance
    )
      differ++;
  }
  return differ / (a.width * a.height);
}

function differs(a: Buffer, i: number, b: Buffer, j: number, tolerance: number): boolean {
  return (
    Math.abs(a[i]! - b[j]!) > tolerance ||
    Math.abs(a[i + 1]! - b[j + 1]!) > tolerance ||
    Math.abs(a[i + 2]! - b[j + 2]!) > tolerance
  );
}

/** The colour most pixels of `img` have (a console's background), as a packed RGB number. */
function background(img: RgbImage): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < img.rgb.length; i += 3 * 7) {
    const c = (img.rgb[i]! << 16) | (img.rgb[i + 1]! << 8) | img.rgb[i + 2]!;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return [...counts].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 0;
}

/**
 * The share (0..1) of the pixels that are not background in `a` or in `b` (same size) whose
 * colours differ by more than `tolerance`: mostly-black console pictures compare by their text,
 * so an empty picture never matches one with text.
 */
export function contentDifference(a: RgbImage, b: RgbImage, tolerance = 48): number {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`pictures of different sizes: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  const bg = background(a);
  const isBg = (img: RgbImage, i: number): boolean =>
    Math.abs(img.rgb[i]! - (bg >> 16)) <= tolerance &&
    Math.abs(img.rgb[i + 1]! - ((bg >> 8) & 0xff)) <= tolerance &&
    Math.abs(img.rgb[i + 2]! - (bg & 0xff)) <= tolerance;
  let content = 0;
  let differ = 0;
  for (let i = 0; i < a.rgb.length; i += 3) {
    if (isBg(a, i) && isBg(b, i)) continue;
    content++;
    if (differs(a.rgb, i, b.rgb, i, tolerance)) differ++;
  }
  return content === 0 ? 0 : differ / content;
}

/**
 * Where `needle` sits in `hay` (a screen grab holding the guest's picture): the offset where the
 * needle's non-background pixels (and a sparse grid of the others) match best, and the
 * {@link contentDifference} there.
 */
export function locate(
  hay: RgbImage,
  needle: RgbImage,
  tolerance = 48,
): { x: number; y: number; difference: number } {
  if (needle.width > hay.width || needle.height > hay.height)
    throw new Error(`picture ${needle.width}x${needle.height} does not fit in ${hay.width}x${hay.height}`);
  const bg = background(needle);
  const content: [number, number][] = [];
  const grid: [number, number][] = [];
  for (let y = 0; y < needle.height; y++) {
    for (let x = 0; x < needle.width; x++) {
      const i = (y * needle.width + x) * 3;
      const c = (needle.rgb[i]! << 16) | (needle.rgb[i + 1]! << 8) | needle.rgb[i + 2]!;
      if (c !== bg) content.push([x, y]);
      else if (x % 16 === 0 && y % 16 === 0) grid.push([x, y]);
    }
  }
  const step = Math.max(1, Math.floor(content.length / 1500));
  const samples = [...content.filter((_, k) => k % step === 0), ...grid];
  let best = { x: 0, y: 0, score: Infinity };
  for (let oy = 0; oy <= hay.height - needle.height; oy++) {
    for (let ox = 0; ox <= hay.width - needle.width; ox++) {
      let differ = 0;
      for (const [x, y] of samples) {
        if (
          differs(
            needle.rgb,
            (y * needle.width + x) * 3,
            hay.rgb,
            ((oy + y) * hay.width + ox + x) * 3,
            tolerance,
          )
        )
          differ++;
        if (differ >= best.score) break;
      }
      if (differ < best.score) best = { x: ox, y: oy, score: differ };
    }
  }
  const at = crop(hay, best.x, best.y, needle.width, needle.height);
  return { x: best.x, y: best.y, difference: contentDifference(needle, at, tolerance) };
}
