// Shared by the launchers and scripts/build.js: is the esbuild bundle in dist/ current?
// The build writes dist/.built-from holding the newest mtime (ns) of everything under src/
// (files and directories, so an added, removed or renamed file counts too), taken before
// bundling. The bundle is used only when nothing under src/ is newer than that stamp.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const distDir = join(repoDir, "dist");
export const stampFile = join(distDir, ".built-from");

/** The newest mtime (ns) of src/ and everything under it. */
export function newestSourceMtime() {
  let newest = 0n;
  const walk = (dir) => {
    const st = statSync(dir, { bigint: true });
    if (st.mtimeNs > newest) newest = st.mtimeNs;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const m = statSync(p, { bigint: true }).mtimeNs;
        if (m > newest) newest = m;
      }
    }
  };
  walk(join(repoDir, "src"));
  return newest;
}

/** The bundle's path when it exists and is current, else undefined (run the sources through tsx). */
export function currentBundle(name) {
  if (process.env.TVIRT_NO_BUNDLE) return undefined;
  try {
    const stamp = BigInt(readFileSync(stampFile, "utf8").trim());
    const bundle = join(distDir, name);
    statSync(bundle);
    return newestSourceMtime() <= stamp ? bundle : undefined;
  } catch {
    return undefined;
  }
}
