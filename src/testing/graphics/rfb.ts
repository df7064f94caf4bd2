/**
 * Test helpers for graphical consoles: an RFB 3.8 client that reads a VNC server's greeting and
 * framebuffer size (security type None, shared), one that checks a VNC password (security type
 * VNC authentication), and a PPM (P6) header reader.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runArgv } from "../../util/spawn.ts";

/** Reads from a socket with a byte-exact pull API. */
class Reader {
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #error: Error | undefined;

  push(d: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, d]);
    for (const w of this.#waiters.splice(0)) w();
  }

  fail(e: Error): void {
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w();
  }

  async take(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
}

export interface RfbServerInfo {
  /** The server's protocol version line (`RFB 003.008\n`). */
  readonly version: string;
  readonly width: number;
  readonly height: number;
  readonly name: string;
}

/** Connects to a VNC server on 127.0.0.1:`port` and reads its ServerInit. */
export async function rfbServerInit(port: number, timeoutMs = 10_000): Promise<RfbServerInfo> {
  const s = connect({ port, host: "127.0.0.1" });
  const r = new Reader();
  s.on("data", (d: Buffer) => {
    r.push(d);
  });
  s.on("error", (e) => {
    r.fail(e);
  });
  s.on("close", () => {
    r.fail(new Error(`VNC server on port ${port} closed the connection`));
  });
  const timer = setTimeout(() => {
    r.fail(new Error(`no RFB answer on port ${port} in ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    const version = (await r.take(12)).toString("latin1");
    s.write("RFB 003.008\n");
    const n = (await r.take(1))[0]!;
    if (n === 0) throw new Error("VNC server refused the connection");
    const types = [...(await r.take(n))];
    if (!types.includes(1)) throw new Error(`VNC server wants security types ${types.join(",")}, not None`);
    s.write(Buffer.from([1]));
    const result = (await r.take(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`VNC security handshake failed (${result})`);
    s.write(Buffer.from([1])); // ClientInit: shared
    const init = await r.take(24);
    const nameLen = init.readUInt32BE(20);
    const name = (await r.take(nameLen)).toString("utf8");
    return { version, width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
  } finally {
    clearTimeout(timer);
    s.destroy();
  }
}

/** The header of a binary PPM (P6): size and where the pixels start. */
export function ppmHeader(data: Buffer): { width: number; height: number; maxval: number; offset: number } {
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(data.subarray(0, 64).toString("latin1"));
  if (!m) throw new Error(`not a binary PPM: ${JSON.stringify(data.subarray(0, 16).toString("latin1"))}`);
  return { width: Number(m[1]), height: Number(m[2]), maxval: Number(m[3]), offset: m[0].length };
}

/** The DES key of a VNC password: its first 8 bytes, zero-padded, each byte's bits reversed. */
function vncKey(password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, "latin1").copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let b = key[i]!;
    let r = 0;
    for (let k = 0; k < 8; k++) {
      r = (r << 1) | (b & 1);
      b >>= 1;
    }
    key[i] = r;
  }
  return key;
}

/**
 * Authenticates to a VNC server on 127.0.0.1:`port` with VNC authentication (security type 2)
 * and returns the SecurityResult: 0 accepted, 1 refused. The challenge is encrypted with DES by
 * the openssl command (its legacy provider): node's OpenSSL 3 build has no DES.
 */
export async function rfbPasswordAuth(port: number, password: string, timeoutMs = 10_000): Promise<number> {
  const s = connect({ port, host: "127.0.0.1" });
  const r = new Reader();
  s.on("data", (d: Buffer) => {
    r.push(d);
  });
  s.on("error", (e) => {
    r.fail(e);
  });
  s.on("close", () => {
    r.fail(new Error(`VNC server on port ${port} closed the connection`));
  });
  const timer = setTimeout(() => {
    r.fail(new Error(`no RFB answer on port ${port} in ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    await r.take(12);
    s.write("RFB 003.008\n");
    const n = (await r.take(1))[0]!;
    if (n === 0) throw new Error("VNC server refused the connection");
    const types = [...(await r.take(n))];
    if (!types.includes(2))
      throw new Error(`VNC server wants security types ${types.join(",")}, not VNC auth`);
    s.write(Buffer.from([2]));
    const challenge = await r.take(16);
    // through files: runArgv's pipes carry text
    const dir = await mkdtemp(join(tmpdir(), "tvirt-vncauth-"));
    try {
      await writeFile(join(dir, "challenge"), challenge);
      const enc = await runArgv([
        "/usr/bin/openssl",
        "enc",
        "-des-ecb",
        "-nopad",
        "-provider",
        "legacy",
        "-provider",
        "default",
        "-K",
        vncKey(password).toString("hex"),
        "-in",
        join(dir, "challenge"),
        "-out",
        join(dir, "response"),
      ]);
      if (enc.code !== 0) throw new Error(`openssl des-ecb failed: ${enc.stderr}`);
      s.write(await readFile(join(dir, "response")));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return (await r.take(4)).readUInt32BE(0);
  } finally {
    clearTimeout(timer);
    s.destroy();
  }
}
