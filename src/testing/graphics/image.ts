/**
 * Test helpers to look at pictures of a guest's screen: decoders for what QEMU's `screendump`
 * writes (PNG, binary PPM) and what `xwd` grabs from an X server (ZPixmap XWD, 24/32 bits per
 * pixel), all to plain RGB, and a tolerant comparison of two pictures (a viewer scales nothing
 * here, but colours may differ by a few levels and a cursor may cover some pixels).
 */
import { inflateSync } from "node:zlib";
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

/**
 * Where `needle` sits in `hay` (a window grab holding the guest's picture): the offset with the
 * fewest differing pixels, searched over every position (coarse first, then around the best).
 */
export function locate(
  hay: RgbImage,
  needle: RgbImage,
  tolerance = 16,
): { x: number; y: number; difference: number } {
  if (needle.width > hay.width || needle.height > hay.height)
    throw new Error(`picture ${needle.width}x${needle.height} does not fit in ${hay.width}x${hay.height}`);
  // sample a grid of pixels for speed
  const samples: [number, number][] = [];
  const step = Math.max(1, Math.floor(Math.min(needle.width, needle.height) / 24));
  for (let y = 0; y < needle.height; y += step)
    for (let x = 0; x < needle.width; x += step) samples.push([x, y]);
  let best = { x: 0, y: 0, difference: Infinity };
  for (let oy = 0; oy <= hay.height - needle.height; oy++) {
    for (let ox = 0; ox <= hay.width - needle.width; ox++) {
      let differ = 0;
      for (const [x, y] of samples) {
        const i = (y * needle.width + x) * 3;
        const j = ((oy + y) * hay.width + ox + x) * 3;
        if (
          Math.abs(needle.rgb[i]! - hay.rgb[j]!) > tolerance ||
          Math.abs(needle.rgb[i + 1]! - hay.rgb[j + 1]!) > tolerance ||
          Math.abs(needle.rgb[i + 2]! - hay.rgb[j + 2]!) > tolerance
        )
          differ++;
        if (differ / samples.length >= best.difference) break;
      }
      const d = differ / samples.length;
      if (d < best.difference) best = { x: ox, y: oy, difference: d };
    }
  }
  return {
    ...best,
    difference: pixelDifference(crop(hay, best.x, best.y, needle.width, needle.height), needle, tolerance),
  };
}
