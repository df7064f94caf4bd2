/**
 * A cache of parsed persistent definitions, so that opening a root with many domains (every
 * `tvirsh -c qemu:///embed... list`) does not parse every config file again.
 *
 * One JSON file per root (`<cacheDir>/configs.json`) maps each config file to the definition
 * parsed from it (with defaults applied). An entry is used only when all of these still hold:
 * - the file's inode, size, mtime and ctime (nanoseconds) are those it was parsed from;
 * - the emulator's capabilities give the same defaults (a hash of the facts derived from them);
 * - the parser is the same code (a stamp of the mtimes of the sources that parse and default).
 * Anything else, including a missing, torn or foreign cache file, means parsing the config as
 * if there were no cache. A cached definition is handed out lazily (name and UUID at once, the
 * rest on first use), so listing a root with many domains builds none of them. The cache is written atomically but without fsync: losing it only
 * costs a parse.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, type BigIntStats } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DomainDef } from "../../../conf/domain/index.ts";
import type { LazyDef } from "./domain.ts";

const FORMAT = 2;

interface Entry {
  readonly stat: string;
  readonly emulator: string;
  readonly name: string;
  readonly uuid: string;
  /** The definition as JSON text, parsed only when the domain is used (listing needs none). */
  readonly def: string;
}

interface CacheFile {
  readonly format: number;
  readonly code: string;
  /** Emulator → hash of the domain facts its capabilities gave. */
  readonly facts: Record<string, string>;
  readonly entries: Record<string, Entry>;
}

/** The identity of a config file's current contents. */
export function statKey(st: BigIntStats): string {
  return `${String(st.ino)}:${String(st.size)}:${String(st.mtimeNs)}:${String(st.ctimeNs)}`;
}

export function factsHash(facts: unknown): string {
  return createHash("sha256").update(JSON.stringify(facts)).digest("base64url");
}

let codeStampMemo: string | null | undefined;

/**
 * A stamp of the code that turns XML into definitions: the newest mtime of the sources of the
 * XML reader, the domain parser and defaults, and the capabilities. Null when they cannot be
 * found (then nothing is cached).
 */
export function codeStamp(): string | null {
  if (codeStampMemo !== undefined) return codeStampMemo;
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [
    join(here, "../../../conf"),
    join(here, "../../../conf/domain"),
    join(here, "../capabilities"),
  ];
  const h = createHash("sha256");
  try {
    for (const d of dirs) {
      for (const f of readdirSync(d).sort()) {
        if (!f.endsWith(".ts") || f.endsWith(".test.ts")) continue;
        h.update(`${f}:${String(statSync(join(d, f), { bigint: true }).mtimeNs)};`);
      }
    }
    codeStampMemo = `${String(FORMAT)}:${h.digest("base64url")}`;
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

  private constructor(path: string, code: string | null, file: CacheFile | undefined) {
    this.#path = path;
    this.#code = code;
    this.#facts = { ...(file?.facts ?? {}) };
    this.#entries = new Map(Object.entries(file?.entries ?? {}));
  }

  /** Reads the cache of a root; an unreadable or foreign one counts as empty. */
  static open(path: string): ConfigCache {
    const code = codeStamp();
    let file: CacheFile | undefined;
    if (code !== null) {
      try {
        const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<CacheFile>;
        if (parsed.format === FORMAT && parsed.code === code && parsed.entries && parsed.facts)
          file = parsed as CacheFile;
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
    const text = e.def;
    return { name: e.name, uuid: e.uuid, load: () => JSON.parse(text) as DomainDef };
  }

  set(name: string, stat: string, emulator: string, factsHashValue: string, def: DomainDef): void {
    if (this.#code === null) return;
    if (this.#facts[emulator] !== factsHashValue) this.checkFacts(emulator, factsHashValue);
    this.#entries.set(name, { stat, emulator, name: def.name, uuid: def.uuid, def: JSON.stringify(def) });
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
    const file: CacheFile = {
      format: FORMAT,
      code: this.#code,
      facts: this.#facts,
      entries: Object.fromEntries(this.#entries),
    };
    const tmp = `${this.#path}.${String(process.pid)}.tmp`;
    try {
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o750 });
      await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
      await rename(tmp, this.#path);
      this.#changed = false;
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}
