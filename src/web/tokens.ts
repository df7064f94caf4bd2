/**
 * Bearer tokens of the web face (issue 16): `tvirsh web-token create|list|revoke`.
 *
 * The file (JSON, mode 0600, replaced atomically) keeps for each token its name, its role and
 * the SHA-256 of the token, never the token itself. A token is 32 random bytes (256 bits), so
 * a fast hash is enough: there is nothing to guess, and a slow KDF (scrypt) on every request
 * would make 200 event subscribers cost seconds of CPU. Comparison is constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { VirtError } from "../util/errors/index.ts";

export interface TokenEntry {
  readonly name: string;
  readonly readOnly: boolean;
  /** "sha256:" + hex digest of the token text. */
  readonly hash: string;
  /** ISO time of creation. */
  readonly created: string;
}

interface TokenFile {
  readonly format: "tvirt-web-tokens";
  readonly version: 1;
  readonly tokens: TokenEntry[];
}

const NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;
/** Tokens carry a recognisable prefix so that a leaked one is easy to grep for. */
const TOKEN_PREFIX = "tvirt_";

function hashOf(token: string): string {
  return "sha256:" + createHash("sha256").update(token, "utf8").digest("hex");
}

/** Reads the token file; a missing file is an empty one. */
export async function readTokens(file: string): Promise<TokenEntry[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new VirtError("WEB_TOKEN_FILE", { file, reason: (e as Error).message });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new VirtError("WEB_TOKEN_FILE", { file, reason: (e as Error).message });
  }
  const d = doc as Partial<TokenFile> | null;
  if (d === null || typeof d !== "object" || d.format !== "tvirt-web-tokens" || !Array.isArray(d.tokens)) {
    throw new VirtError("WEB_TOKEN_FILE", {
      file,
      reason: 'expected {"format": "tvirt-web-tokens", "tokens": [...]}',
    });
  }
  for (const t of d.tokens as (Partial<TokenEntry> | null)[]) {
    if (
      t === null ||
      typeof t.name !== "string" ||
      typeof t.hash !== "string" ||
      !t.hash.startsWith("sha256:") ||
      typeof t.readOnly !== "boolean"
    ) {
      throw new VirtError("WEB_TOKEN_FILE", { file, reason: "a token entry lacks name, hash or readOnly" });
    }
  }
  return d.tokens;
}

async function writeTokens(file: string, tokens: TokenEntry[]): Promise<void> {
  const doc: TokenFile = { format: "tvirt-web-tokens", version: 1, tokens };
  await writeFileAtomic(file, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
}

/** Creates a token; returns the entry and the token text (shown once, stored nowhere). */
export async function createToken(
  file: string,
  name: string,
  readOnly: boolean,
): Promise<{ entry: TokenEntry; token: string }> {
  if (!NAME_RE.test(name)) throw new VirtError("WEB_TOKEN_NAME", { name });
  const tokens = await readTokens(file);
  if (tokens.some((t) => t.name === name)) throw new VirtError("WEB_TOKEN_EXISTS", { name, file });
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const entry: TokenEntry = { name, readOnly, hash: hashOf(token), created: new Date().toISOString() };
  await writeTokens(file, [...tokens, entry]);
  return { entry, token };
}

/** Removes the token `name`; throws WEB_NO_TOKEN when there is none. */
export async function revokeToken(file: string, name: string): Promise<void> {
  const tokens = await readTokens(file);
  const rest = tokens.filter((t) => t.name !== name);
  if (rest.length === tokens.length) throw new VirtError("WEB_NO_TOKEN", { name, file });
  await writeTokens(file, rest);
}

/** The entry whose hash matches `token`, or undefined. */
export function verifyToken(tokens: readonly TokenEntry[], token: string): TokenEntry | undefined {
  const h = Buffer.from(hashOf(token));
  let hit: TokenEntry | undefined;
  for (const t of tokens) {
    const b = Buffer.from(t.hash);
    // Every entry is compared, in constant time, so the timing says nothing about which matched.
    if (b.length === h.length && timingSafeEqual(b, h)) hit = t;
  }
  return hit;
}
