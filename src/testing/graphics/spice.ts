/**
 * Test helper: the link stage of the SPICE protocol (what a SPICE client does before any
 * channel traffic), to check a SPICE server's password from a test. The client sends
 * `SpiceLinkMess` for the main channel, the server answers with its RSA public key, the client
 * sends the password (NUL-terminated) encrypted with RSA-OAEP (SHA-1), and the server answers
 * with a link result: 0 (`SPICE_LINK_ERR_OK`) or 7 (`SPICE_LINK_ERR_PERMISSION_DENIED`).
 * Over the TLS port the same runs inside TLS, the server's certificate checked against `ca`.
 */
import { constants, createPublicKey, publicEncrypt } from "node:crypto";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export const SPICE_LINK_OK = 0;
export const SPICE_LINK_PERMISSION_DENIED = 7;

const MAGIC = 0x51444552; // "REDQ"

class Pull {
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #error: Error | undefined;
  push(d: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, d]);
    for (const w of this.#waiters.splice(0)) w();
  }
  fail(e: Error): void {
    this.#error ??= e;
    for (const w of this.#waiters.splice(0)) w();
  }
  async take(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#error) throw this.#error;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
}

export interface SpiceLinkOptions {
  /** Connect with TLS (the `tls-port`), trusting this CA certificate (PEM). */
  readonly ca?: string;
  /** The name the server certificate must carry (default: the host). */
  readonly servername?: string;
  readonly timeoutMs?: number;
}

/**
 * Links to the main channel of the SPICE server at 127.0.0.1:`port` with `password` and returns
 * the server's link result (0 accepted, 7 refused).
 */
export async function spiceLink(
  port: number,
  password: string,
  opts: SpiceLinkOptions = {},
): Promise<number> {
  const pull = new Pull();
  const s: Socket =
    opts.ca !== undefined
      ? tlsConnect({ host: "127.0.0.1", port, ca: opts.ca, servername: opts.servername ?? "localhost" })
      : connect({ host: "127.0.0.1", port });
  s.on("data", (d: Buffer) => {
    pull.push(d);
  });
  s.on("error", (e) => {
    pull.fail(e);
  });
  s.on("close", () => {
    pull.fail(new Error(`SPICE server on port ${port} closed the connection`));
  });
  const timer = setTimeout(() => {
    pull.fail(new Error(`no SPICE answer on port ${port}`));
  }, opts.timeoutMs ?? 10_000);
  try {
    // SpiceLinkHeader + SpiceLinkMess (main channel, no capabilities)
    const mess = Buffer.alloc(18);
    mess.writeUInt32LE(0, 0); // connection id
    mess.writeUInt8(1, 4); // SPICE_CHANNEL_MAIN
    mess.writeUInt8(0, 5); // channel id
    mess.writeUInt32LE(0, 6); // common caps
    mess.writeUInt32LE(0, 10); // channel caps
    mess.writeUInt32LE(18, 14); // caps offset
    const header = Buffer.alloc(16);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(2, 4);
    header.writeUInt32LE(2, 8);
    header.writeUInt32LE(mess.length, 12);
    s.write(Buffer.concat([header, mess]));
    const reply = await pull.take(16);
    if (reply.readUInt32LE(0) !== MAGIC) throw new Error("not a SPICE server (bad magic)");
    const body = await pull.take(reply.readUInt32LE(12));
    const error = body.readUInt32LE(0);
    if (error !== 0) return error;
    const key = body.subarray(4, 4 + 162); // SPICE_TICKET_PUBKEY_BYTES: DER SubjectPublicKeyInfo
    const ticket = publicEncrypt(
      {
        key: createPublicKey({ key, format: "der", type: "spki" }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: "sha1",
      },
      Buffer.from(`${password}\0`, "utf8"),
    );
    s.write(ticket);
    return (await pull.take(4)).readUInt32LE(0);
  } finally {
    clearTimeout(timer);
    s.destroy();
  }
}
