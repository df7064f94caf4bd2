/**
 * A cache of parsed persistent definitions, so that opening a root with many domains (every
 * `tvirsh -c qemu:///embed... list`) does not parse every config file again.
 *
 * One file per root (`<cacheDir>/configs.json`) maps each config file to the definition parsed
 * from it (with defaults applied). An entry is used only when all of these still hold:
 * - the file's inode, size, mtime and ctime (nanoseconds) are those it was parsed from;
 * - the emulator's capabilities give the same defaults (a hash of the facts derived from them);
 * - the parser is the same code (a stamp of the mtimes of the sources that parse and default).
 * Anything else, including a missing, torn or foreign cache file, means parsing the config as
 * if there were no cache.
 *
 * The file is an index line (JSON: format, code stamp, facts, and per config file its stat key,
 * emulator, name, UUID and where its definition lies in the body), then the body: the
 * definitions as JSON texts, back to back. Opening decodes the index alone; a definition's bytes
 * are decoded and parsed when the domain is first used, so listing a root with many domains
 * decodes and builds none of them, and saving copies unchanged definitions as bytes. The cache
 * is written atomically but without fsync: losing it only costs a parse.
 */
import { readdirSync, readFileSync, statSync, type Stats } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DomainDef } from "../../../conf/domain/index.ts";
import { fnv1a64 } from "../../../util/hash.ts";
import type { LazyDef } from "./domain.ts";

const FORMAT = 4;

/**
 * An entry of the index line: stat key, emulator, name, UUID, and where the definition's bytes
 * lie in the body (offset, length). An array, which parses faster than an object.
 */
type IndexEntry = readonly [string, string, string, string, number, number];

interface CacheIndex {
  readonly format: number;
  readonly code: string;
  /** Emulator → hash of the domain facts its capabilities gave. */
  readonly facts: Record<string, string>;
  readonly entries: Record<string, IndexEntry>;
}

interface Entry {
  readonly stat: string;
  readonly emulator: string;
  readonly name: string;
  readonly uuid: string;
  /** The definition as UTF-8 JSON: a view into the file read, or the text of a new parse. */
  readonly bytes: Buffer;
}

/** Splits a cache file into its index and entries (views into `buf`); undefined when foreign. */
export function readCacheFile(
  buf: Buffer,
  code: string,
): { facts: Record<string, string>; entries: Map<string, Entry> } | undefined {
  const nl = buf.indexOf(10);
  if (nl < 0) return undefined;
  const index = JSON.parse(buf.toString("utf8", 0, nl)) as Partial<CacheIndex>;
  if (index.format !== FORMAT || index.code !== code || !index.entries || !index.facts) return undefined;
  const body = buf.subarray(nl + 1);
  const entries = new Map<string, Entry>();
  for (const [file, e] of Object.entries(index.entries)) {
    const [stat, emulator, name, uuid, at, len] = e;
    if (!Number.isInteger(at) || !Number.isInteger(len) || at < 0 || at + len > body.length) return undefined;
    entries.set(file, { stat, emulator, name, uuid, bytes: body.subarray(at, at + len) });
  }
  return { facts: index.facts, entries };
}

/** The bytes of a cache file holding these entries. */
export function writeCacheFile(
  code: string,
  facts: Record<string, string>,
  entries: Map<string, Entry>,
): Buffer {
  const index: Record<string, IndexEntry> = {};
  const parts: Buffer[] = [];
  let at = 0;
  for (const [file, e] of entries) {
    index[file] = [e.stat, e.emulator, e.name, e.uuid, at, e.bytes.length];
    parts.push(e.bytes);
    at += e.bytes.length;
  }
  const head: CacheIndex = { format: FORMAT, code, facts, entries: index };
  return Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), ...parts]);
}

/**
 * The identity of a config file's current contents. Times in milliseconds as doubles: exact to
 * well under a microsecond, and plain stats cost a new process much less than BigInt ones.
 */
export function statKey(st: Stats): string {
  return `${String(st.ino)}:${String(st.size)}:${String(st.mtimeMs)}:${String(st.ctimeMs)}`;
}

export function factsHash(facts: unknown): string {
  return fnv1a64(JSON.stringify(facts));
}

let codeStampMemo: string | null | undefined;

/** Set by scripts/build.js in a bundle: its build's stamp. Undeclared when run from sources. */
declare const __TVIRT_BUILD__: string | undefined;

/**
 * A stamp of the code that turns XML into definitions. In a bundle, the build's stamp (any
 * change of the sources makes a new one). From sources, the mtimes of the sources of the XML
 * reader, the domain parser and defaults, and the capabilities. Null when they cannot be found
 * (then nothing is cached).
 */
export function codeStamp(): string | null {
  if (codeStampMemo !== undefined) return codeStampMemo;
  if (typeof __TVIRT_BUILD__ === "string")
    return (codeStampMemo = `${String(FORMAT)}:build:${__TVIRT_BUILD__}`);
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [
    join(here, "../../../conf"),
    join(here, "../../../conf/domain"),
    join(here, "../capabilities"),
  ];
  let seen = "";
  try {
    for (const d of dirs) {
      for (const f of readdirSync(d).sort()) {
        if (!f.endsWith(".ts") || f.endsWith(".test.ts")) continue;
        seen += `${f}:${String(statSync(join(d, f), { bigint: true }).mtimeNs)};`;
      }
    }
    codeStampMemo = `${String(FORMAT)}:${fnv1a64(seen)}`;
  } catch {
    codeStampMemo = null;
  }
  return codeStampMemo;
}

export class ConfigCache {
  readonly #path: string;
  readonly #code: string | null;
  #facts: Record<string, string>;
  #entries: Map<string, Entry>;
  #changed = false;
  readonly #used = new Set<string>();

  private constructor(
    path: string,
    code: string | null,
    file: { facts: Record<string, string>; entries: Map<string, Entry> } | undefined,
  ) {
    this.#path = path;
    this.#code = code;
    this.#facts = { ...(file?.facts ?? {}) };
    this.#entries = file?.entries ?? new Map<string, Entry>();
  }

  /** Reads the cache of a root; an unreadable or foreign one counts as empty. */
  static open(path: string): ConfigCache {
    const code = codeStamp();
    let file: ReturnType<typeof readCacheFile>;
    if (code !== null) {
      try {
        file = readCacheFile(readFileSync(path), code);
      } catch {
        file = undefined;
      }
    }
    return new ConfigCache(path, code, file);
  }

  /** Emulators the cached definitions were defaulted for. */
  emulators(): string[] {
    return Object.keys(this.#facts);
  }

  /** Forgets every definition defaulted for `emulator` unless its facts still hash to `hash`. */
  checkFacts(emulator: string, hash: string): void {
    if (this.#facts[emulator] === hash) return;
    for (const [name, e] of this.#entries) {
      if (e.emulator === emulator) this.#entries.delete(name);
    }
    this.#facts[emulator] = hash;
    this.#changed = true;
  }

  /** The cached definition of config file `name` when its stat key still matches. */
  get(name: string, stat: string): LazyDef | undefined {
    const e = this.#entries.get(name);
    if (e?.stat !== stat || this.#facts[e.emulator] === undefined) return undefined;
    this.#used.add(name);
    const bytes = e.bytes;
    return { name: e.name, uuid: e.uuid, load: () => JSON.parse(bytes.toString("utf8")) as DomainDef };
  }

  set(name: string, stat: string, emulator: string, factsHashValue: string, def: DomainDef): void {
    if (this.#code === null) return;
    if (this.#facts[emulator] !== factsHashValue) this.checkFacts(emulator, factsHashValue);
    this.#entries.set(name, {
      stat,
      emulator,
      name: def.name,
      uuid: def.uuid,
      bytes: Buffer.from(JSON.stringify(def)),
    });
    this.#used.add(name);
    this.#changed = true;
  }

  /** Writes the cache when it changed, dropping entries of files that are gone. */
  async save(): Promise<void> {
    if (this.#code === null) return;
    for (const name of this.#entries.keys()) {
      if (!this.#used.has(name)) {
        this.#entries.delete(name);
        this.#changed = true;
      }
    }
    if (!this.#changed) return;
    const tmp = `${this.#path}.${String(process.pid)}.tmp`;
    try {
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o750 });
      await writeFile(tmp, writeCacheFile(this.#code, this.#facts, this.#entries), { mode: 0o600 });
      await rename(tmp, this.#path);
      this.#changed = false;
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}
