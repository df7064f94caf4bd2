/**
 * A writer for the cpio "newc" format (SVR4 without CRC), the format the Linux kernel unpacks
 * as an initramfs. Each entry is a 110-byte ASCII header (magic `070701` and thirteen 8-digit
 * hex fields), the NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes. The
 * archive ends with an entry named `TRAILER!!!`. See the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst.
 *
 * Entries are written in the order given, so parents must come before their children. Names
 * are relative (`bin/busybox`, not `/bin/busybox`). Owner is root, mtime is 0: the same input
 * gives the same bytes.
 */

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export type CpioEntry =
  | { type: "dir"; name: string; mode?: number }
  | { type: "file"; name: string; data: Uint8Array | string; mode?: number }
  | { type: "symlink"; name: string; target: string }
  | { type: "chardev" | "blockdev"; name: string; major: number; minor: number; mode?: number };

const MAGIC = "070701";
const TRAILER = "TRAILER!!!";

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new RangeError(`cpio: field value ${n} out of range`);
  return n.toString(16).toUpperCase().padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  name: string;
}

function headerAndName(h: Header): Buffer {
  const nameBytes = Buffer.from(`${h.name}\0`, "utf8");
  const fields = [
    h.ino,
    h.mode,
    0, // uid
    0, // gid
    h.nlink,
    0, // mtime
    h.size,
    0, // devmajor
    0, // devminor
    h.rdevMajor,
    h.rdevMinor,
    nameBytes.length,
    0, // check (newc: always 0)
  ];
  const head = Buffer.from(MAGIC + fields.map(hex8).join(""), "ascii");
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length))]);
}

function checkName(name: string): void {
  if (name === "" || name.startsWith("/") || name.split("/").some((p) => p === "" || p === ".."))
    throw new Error(
      `cpio: bad entry name ${JSON.stringify(name)}: must be relative, without empty or '..' parts`,
    );
  if (name === TRAILER) throw new Error(`cpio: entry name ${TRAILER} is reserved`);
}

/** The newc archive of `entries` (uncompressed). */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  let ino = 1;
  for (const e of entries) {
    checkName(e.name);
    if (seen.has(e.name)) throw new Error(`cpio: duplicate entry ${e.name}`);
    seen.add(e.name);
    let mode: number;
    let data: Buffer = Buffer.alloc(0);
    let rdevMajor = 0;
    let rdevMinor = 0;
    let nlink = 1;
    switch (e.type) {
      case "dir":
        mode = S_IFDIR | ((e.mode ?? 0o755) & 0o7777);
        nlink = 2;
        break;
      case "file":
        mode = S_IFREG | ((e.mode ?? 0o644) & 0o7777);
        data =
          typeof e.data === "string"
            ? Buffer.from(e.data, "utf8")
            : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        break;
      case "symlink":
        if (e.target === "") throw new Error(`cpio: symlink ${e.name} has an empty target`);
        mode = S_IFLNK | 0o777;
        data = Buffer.from(e.target, "utf8");
        break;
      case "chardev":
      case "blockdev":
        mode = (e.type === "chardev" ? S_IFCHR : S_IFBLK) | ((e.mode ?? 0o600) & 0o7777);
        rdevMajor = e.major;
        rdevMinor = e.minor;
        break;
    }
    parts.push(
      headerAndName({ ino: ino++, mode, nlink, size: data.length, rdevMajor, rdevMinor, name: e.name }),
    );
    if (data.length > 0) parts.push(data, Buffer.alloc(pad4(data.length)));
  }
  parts.push(
    headerAndName({ ino: 0, mode: 0, nlink: 1, size: 0, rdevMajor: 0, rdevMinor: 0, name: TRAILER }),
  );
  return Buffer.concat(parts);
}

/** One entry as read back by {@link readCpio}. */
export interface CpioRecord {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** Parses a newc archive (for tests and for checking what was built). Stops at the trailer. */
export function readCpio(buf: Buffer): CpioRecord[] {
  const out: CpioRecord[] = [];
  let off = 0;
  for (;;) {
    if (off + 110 > buf.length) throw new Error(`cpio: truncated header at offset ${off}`);
    const magic = buf.toString("ascii", off, off + 6);
    if (magic !== MAGIC) throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at offset ${off}`);
    const field = (i: number): number =>
      Number.parseInt(buf.toString("ascii", off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const nlink = field(4);
    const size = field(6);
    const rdevMajor = field(9);
    const rdevMinor = field(10);
    const nameSize = field(11);
    const nameStart = off + 110;
    const name = buf.toString("utf8", nameStart, nameStart + nameSize - 1);
    if (buf[nameStart + nameSize - 1] !== 0)
      throw new Error(`cpio: name at offset ${nameStart} is not NUL-terminated`);
    let p = nameStart + nameSize;
    p += pad4(p);
    if (name === TRAILER) return out;
    if (p + size > buf.length) throw new Error(`cpio: truncated data of ${name}`);
    out.push({ name, mode, nlink, rdevMajor, rdevMinor, data: buf.subarray(p, p + size) });
    p += size;
    p += pad4(p);
    off = p;
  }
}
