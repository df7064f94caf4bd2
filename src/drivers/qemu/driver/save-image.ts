/**
 * The save image format of libvirt's QEMU driver (`virQEMUSaveHeader`, version 2): a 96-byte
 * header (magic, version, length of the data, whether the guest was running, compression, cookie
 * offset), the domain XML (NUL-terminated), then QEMU's migration stream. The header is first
 * written with the magic `LibvirtQemudPart` and only turned into `LibvirtQemudSave` after the
 * stream is complete and synced, so a crash mid-save leaves an image that is recognised as
 * incomplete instead of one that restores garbage.
 */
import { open, type FileHandle } from "node:fs/promises";
import { VirtError } from "../../../util/errors/index.ts";

export const SAVE_MAGIC = "LibvirtQemudSave";
export const SAVE_PARTIAL = "LibvirtQemudPart";
export const SAVE_VERSION = 2;
export const SAVE_HEADER_SIZE = 96;
/** Largest domain XML accepted in an image (libvirt: 10 MiB). */
const MAX_DATA_LEN = 10 * 1024 * 1024;

export interface SaveHeader {
  readonly complete: boolean;
  readonly version: number;
  readonly dataLen: number;
  readonly wasRunning: boolean;
  readonly compressed: number;
  readonly cookieOffset: number;
}

export function encodeSaveHeader(h: { dataLen: number; wasRunning: boolean; complete: boolean }): Buffer {
  const buf = Buffer.alloc(SAVE_HEADER_SIZE);
  buf.write(h.complete ? SAVE_MAGIC : SAVE_PARTIAL, 0, "latin1");
  buf.writeUInt32LE(SAVE_VERSION, 16);
  buf.writeUInt32LE(h.dataLen, 20);
  buf.writeUInt32LE(h.wasRunning ? 1 : 0, 24);
  buf.writeUInt32LE(0, 28); // raw, not compressed
  buf.writeUInt32LE(0, 32); // no cookie
  return buf;
}

export function decodeSaveHeader(buf: Buffer, path: string): SaveHeader {
  if (buf.length < SAVE_HEADER_SIZE) {
    throw new VirtError("QEMU_SAVE_IMAGE_INVALID", {
      path,
      reason: `failed to read qemu header: the file has only ${buf.length} bytes`,
    });
  }
  const magic = buf.toString("latin1", 0, 16);
  if (magic === SAVE_PARTIAL) throw new VirtError("QEMU_SAVE_IMAGE_INCOMPLETE", {}, { path });
  if (magic !== SAVE_MAGIC)
    throw new VirtError("QEMU_SAVE_IMAGE_INVALID", { path, reason: "image magic is incorrect" });
  const version = buf.readUInt32LE(16);
  if (version > SAVE_VERSION) {
    throw new VirtError("QEMU_SAVE_IMAGE_INVALID", {
      path,
      reason: `image version is not supported (${version} > ${SAVE_VERSION})`,
    });
  }
  const dataLen = buf.readUInt32LE(20);
  if (dataLen <= 0 || dataLen > MAX_DATA_LEN)
    throw new VirtError("QEMU_SAVE_IMAGE_INVALID", { path, reason: "invalid header data length" });
  const compressed = buf.readUInt32LE(28);
  if (compressed !== 0) {
    throw new VirtError("QEMU_SAVE_IMAGE_INVALID", {
      path,
      reason: `compressed images (format ${compressed}) are not supported`,
    });
  }
  return {
    complete: true,
    version,
    dataLen,
    wasRunning: buf.readUInt32LE(24) !== 0,
    compressed,
    cookieOffset: buf.readUInt32LE(32),
  };
}

export interface SaveImageInfo {
  readonly header: SaveHeader;
  readonly xml: string;
  /** Offset of QEMU's migration stream. */
  readonly streamOffset: number;
}

function openError(path: string, e: unknown): VirtError {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
  const reason =
    code === "ENOENT"
      ? "No such file or directory"
      : code === "EACCES"
        ? "Permission denied"
        : e instanceof Error
          ? e.message
          : String(e);
  return new VirtError("QEMU_SAVE_IMAGE_OPEN", { path, reason }, { errno: code }, { cause: e });
}

/** Reads the header and domain XML of a save image. */
export async function readSaveImage(path: string): Promise<SaveImageInfo> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const head = Buffer.alloc(SAVE_HEADER_SIZE);
    const { bytesRead } = await fh.read(head, 0, SAVE_HEADER_SIZE, 0);
    const header = decodeSaveHeader(head.subarray(0, bytesRead), path);
    const data = Buffer.alloc(header.dataLen);
    const r = await fh.read(data, 0, header.dataLen, SAVE_HEADER_SIZE);
    if (r.bytesRead !== header.dataLen)
      throw new VirtError("QEMU_SAVE_IMAGE_INVALID", { path, reason: "failed to read domain XML" });
    const xmlEnd = header.cookieOffset > 0 ? header.cookieOffset : data.indexOf(0);
    const xml = data.toString("utf8", 0, xmlEnd < 0 ? data.length : xmlEnd);
    return { header, xml, streamOffset: SAVE_HEADER_SIZE + header.dataLen };
  } finally {
    await fh.close();
  }
}

/**
 * Creates (or truncates) an image and writes the partial header and the XML. Returns the open
 * file and the offset where QEMU's stream goes.
 */
export async function createSaveImage(
  path: string,
  xml: string,
  wasRunning: boolean,
): Promise<{ fh: FileHandle; streamOffset: number }> {
  const data = Buffer.from(`${xml}\0`, "utf8");
  let fh: FileHandle;
  try {
    fh = await open(path, "w", 0o600);
  } catch (e) {
    throw openError(path, e);
  }
  try {
    await fh.write(
      encodeSaveHeader({ dataLen: data.length, wasRunning, complete: false }),
      0,
      SAVE_HEADER_SIZE,
      0,
    );
    await fh.write(data, 0, data.length, SAVE_HEADER_SIZE);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return { fh, streamOffset: SAVE_HEADER_SIZE + data.length };
}

/** Marks an image complete: sync the stream, write the final magic, sync again. */
export async function completeSaveImage(
  fh: FileHandle,
  xmlBytes: number,
  wasRunning: boolean,
): Promise<void> {
  await fh.sync();
  await fh.write(encodeSaveHeader({ dataLen: xmlBytes, wasRunning, complete: true }), 0, SAVE_HEADER_SIZE, 0);
  await fh.sync();
}
