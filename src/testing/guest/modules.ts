/**
 * Picks kernel modules out of an unpacked Debian kernel package. The package has no
 * `modules.dep` (depmod runs at install time), so dependencies are read from each module's
 * modinfo string `depends=a,b` inside the `.ko` file.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface ModuleFile {
  /** Module name with underscores, e.g. `virtio_pci`. */
  name: string;
  /** Absolute path of the `.ko` file. */
  path: string;
}

export interface ModuleSelection {
  /** Modules to put in the initramfs, dependencies before the modules that need them. */
  modules: ModuleFile[];
  /** Requested modules that are built into this kernel. */
  builtin: string[];
  /** Requested modules (or dependencies) this kernel has neither as module nor built in. */
  missing: string[];
}

const norm = (name: string): string => name.replaceAll("-", "_");

/** `lib/modules/<version>` (or `usr/lib/…`) under an unpacked package root, if present. */
export function moduleDir(root: string, version: string): string | undefined {
  for (const base of ["lib", "usr/lib"]) {
    const d = join(root, base, "modules", version);
    if (existsSync(d)) return d;
  }
  return undefined;
}

async function indexModules(dir: string, into: Map<string, string>): Promise<void> {
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await indexModules(p, into);
    else if (ent.name.endsWith(".ko")) into.set(norm(ent.name.slice(0, -3)), p);
  }
}

/** The `depends=` list from a module's `.modinfo` strings (NUL-separated `key=value`). */
export function modinfoDepends(ko: Buffer): string[] {
  const key = Buffer.from("\0depends=", "latin1");
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const end = ko.indexOf(0, start);
  const value = ko.toString("latin1", start, end < 0 ? ko.length : end);
  return value
    .split(",")
    .map((s) => norm(s.trim()))
    .filter((s) => s !== "");
}

/**
 * Resolves `wanted` in the module tree `modDir` (`lib/modules/<version>`): each module that
 * exists as an uncompressed `.ko`, plus its dependencies, in load order.
 */
export async function selectModules(modDir: string, wanted: readonly string[]): Promise<ModuleSelection> {
  const files = new Map<string, string>();
  await indexModules(join(modDir, "kernel"), files);
  const builtinList = existsSync(join(modDir, "modules.builtin"))
    ? await readFile(join(modDir, "modules.builtin"), "utf8")
    : "";
  const builtinNames = new Set(
    builtinList
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.endsWith(".ko"))
      .map((l) => norm(l.slice(l.lastIndexOf("/") + 1, -3))),
  );

  const modules: ModuleFile[] = [];
  const builtin: string[] = [];
  const missing: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();

  const visit = async (raw: string): Promise<void> => {
    const name = norm(raw);
    if (done.has(name) || visiting.has(name)) return;
    visiting.add(name);
    const path = files.get(name);
    if (path === undefined) {
      (builtinNames.has(name) ? builtin : missing).push(name);
    } else {
      for (const dep of modinfoDepends(await readFile(path))) await visit(dep);
      modules.push({ name, path });
    }
    visiting.delete(name);
    done.add(name);
  };
  for (const w of wanted) await visit(w);
  return { modules, builtin, missing };
}
