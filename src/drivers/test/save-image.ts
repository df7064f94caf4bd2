/**
 * Save images of the test driver, in libvirt's test driver format: the magic
 * `TestGuestMagic\0` (15 bytes), the XML length as a native (little-endian) 32-bit int, then the
 * domain XML. Reading checks the magic and a length of 1..8192 bytes, as libvirt does.
 */
import { open, unlink } from "node:fs/promises";
import { strerror, VirtError } from "../../util/errors/index.ts";

const MAGIC = Buffer.from("TestGuestMagic\0", "latin1");
const MAX_METADATA = 8192;

/** Writes an image; on failure nothing is left behind. */
export async function writeSaveImage(path: string, name: string, xml: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, "w", 0o600);
  } catch (e) {
    throw new VirtError("SAVE_IMAGE_CREATE", { name, path, reason: strerror(e) }, {}, { cause: e });
  }
  const body = Buffer.from(xml, "utf8");
  const len = Buffer.alloc(4);
  len.writeInt32LE(body.length);
  try {
    await fh.write(Buffer.concat([MAGIC, len, body]));
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw new VirtError("SAVE_IMAGE_WRITE", { name, path, reason: strerror(e) }, {}, { cause: e });
  }
}

/** Reads an image and returns the domain XML stored in it. */
export async function readSaveImage(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new VirtError("SAVE_IMAGE_OPEN", { path, reason: strerror(e) }, {}, { cause: e });
  }
  try {
    const head = Buffer.alloc(MAGIC.length);
    const h = await fh.read(head, 0, head.length, 0).catch((e: unknown) => {
      throw new VirtError("SAVE_IMAGE_HEADER", { path, reason: strerror(e) }, {}, { cause: e });
    });
    if (h.bytesRead !== head.length) throw new VirtError("SAVE_IMAGE_HEADER", { path, reason: "Success" });
    if (!head.equals(MAGIC)) throw new VirtError("SAVE_IMAGE_MAGIC");
    const lenBuf = Buffer.alloc(4);
    const l = await fh.read(lenBuf, 0, 4, MAGIC.length);
    if (l.bytesRead !== 4) throw new VirtError("SAVE_IMAGE_LENGTH_READ", { path, reason: "Success" });
    const len = lenBuf.readInt32LE(0);
    if (len < 1 || len > MAX_METADATA) throw new VirtError("SAVE_IMAGE_LENGTH");
    const body = Buffer.alloc(len);
    const b = await fh.read(body, 0, len, MAGIC.length + 4);
    if (b.bytesRead !== len) throw new VirtError("SAVE_IMAGE_METADATA", { path, reason: "Success" });
    return body.toString("utf8");
  } finally {
    await fh.close();
  }
}
