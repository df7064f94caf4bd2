/**
 * Framing: each packet is a 4-byte length (counting itself), a 24-byte header (program,
 * version, procedure, type, serial, status) and the payload. `PacketDecoder` reassembles packets
 * from socket chunks and refuses lengths outside libvirt's limits before buffering anything,
 * so a peer cannot make us hold more than one maximum-size packet.
 */
import { Limits, MessageStatus, MessageType } from "./protocol.ts";
import { XdrWriter } from "./xdr.ts";

export interface Header {
  /** Program number (unsigned). */
  prog: number;
  vers: number;
  /** Procedure number (signed in the .x file). */
  proc: number;
  type: number;
  serial: number;
  status: number;
}

export interface Packet {
  header: Header;
  /** The payload bytes (a view into the packet). */
  payload: Buffer;
}

/** A framing error: the stream cannot be resynchronised, the connection must close. */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

const FRAME_MIN = Limits.LEN_MAX + Limits.HEADER_MAX;

/**
 * Encodes a whole packet. `body` writes the payload (or is raw payload bytes, for stream data).
 * Throws FrameError when the payload exceeds libvirt's maximum.
 */
export function encodePacket(h: Header, body?: ((w: XdrWriter) => void) | Uint8Array): Buffer {
  const w = new XdrWriter(body instanceof Uint8Array ? FRAME_MIN + body.length : 256);
  w.uint(0);
  w.uint(h.prog >>> 0);
  w.uint(h.vers >>> 0);
  w.int(h.proc | 0);
  w.int(h.type);
  w.uint(h.serial >>> 0);
  w.int(h.status);
  if (body instanceof Uint8Array) w.bytes(body);
  else if (body) body(w);
  const total = w.length;
  if (total - Limits.LEN_MAX > Limits.MESSAGE_MAX) {
    throw new FrameError(
      `packet of ${total} bytes exceeds libvirt's maximum of ${Limits.MESSAGE_MAX + Limits.LEN_MAX}`,
    );
  }
  w.patchUint(0, total);
  return Buffer.from(w.result());
}

export function decodeHeader(buf: Buffer, offset = Limits.LEN_MAX): Header {
  return {
    prog: buf.readUInt32BE(offset),
    vers: buf.readUInt32BE(offset + 4),
    proc: buf.readInt32BE(offset + 8),
    type: buf.readInt32BE(offset + 12),
    serial: buf.readUInt32BE(offset + 16),
    status: buf.readInt32BE(offset + 20),
  };
}

/** Reassembles packets from a byte stream. */
export class PacketDecoder {
  #chunks: Buffer[] = [];
  #size = 0;
  #want = -1;
  /** Dummy bytes still to drop: each fd of a *_WITH_FDS packet travels with one byte. */
  #skip = 0;

  constructor(private readonly maxPacket = Limits.MESSAGE_MAX + Limits.LEN_MAX) {}

  /** Bytes held waiting for the rest of a packet. */
  get buffered(): number {
    return this.#size;
  }

  /** Feeds a chunk; returns the complete packets. Throws FrameError on a bad length word. */
  push(chunk: Buffer): Packet[] {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    const out: Packet[] = [];
    for (;;) {
      if (this.#skip > 0) {
        if (this.#size === 0) break;
        const n = Math.min(this.#skip, this.#size);
        this.#take(n);
        this.#skip -= n;
        continue;
      }
      if (this.#want < 0) {
        if (this.#size < Limits.LEN_MAX) break;
        const len = this.#peekLength();
        if (len < FRAME_MIN)
          throw new FrameError(`packet ${len} bytes received is too small, want ${FRAME_MIN}`);
        if (len > this.maxPacket)
          throw new FrameError(`packet ${len} bytes received exceeds maximum ${this.maxPacket}`);
        this.#want = len;
      }
      if (this.#size < this.#want) break;
      const pkt = this.#take(this.#want);
      this.#want = -1;
      const header = decodeHeader(pkt);
      const payload = pkt.subarray(FRAME_MIN);
      if (header.type === MessageType.CALL_WITH_FDS || header.type === MessageType.REPLY_WITH_FDS) {
        // The fds themselves arrive as SCM_RIGHTS data that we never accept (the kernel closes
        // them); their carrier bytes follow the packet and must not be read as a frame.
        const nfds = payload.length >= 4 ? payload.readUInt32BE(0) : 0;
        if (nfds > Limits.NUM_FDS_MAX) throw new FrameError(`too many file descriptors in message: ${nfds}`);
        this.#skip = nfds;
      }
      out.push({ header, payload });
    }
    return out;
  }

  #peekLength(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.concat(this.#chunks, Math.min(this.#size, 4));
    return head.readUInt32BE(0);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let pkt: Buffer;
    if (first.length >= n) {
      pkt = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks, this.#size);
      pkt = all.subarray(0, n);
      this.#chunks = this.#size > n ? [all.subarray(n)] : [];
    }
    this.#size -= n;
    return pkt;
  }
}

/** True for message types a peer may legitimately send. */
export function isKnownType(t: number): boolean {
  return t >= MessageType.CALL && t <= MessageType.STREAM_HOLE;
}

export function isKnownStatus(s: number): boolean {
  return s === MessageStatus.OK || s === MessageStatus.ERROR || s === MessageStatus.CONTINUE;
}
