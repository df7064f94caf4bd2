#!/usr/bin/env node
// The library that `import ... from "tvirt"` loads (package.json `exports`): the public API
// (src/api/index.ts) as one ES module, dist/lib/api/index.js, made by esbuild, with its
// dependencies (saxes) left as imports; tsc -p tsconfig.lib.json then writes the .d.ts files
// beside it (declarations only, without type checking: `npm run typecheck` does that).
//
// esbuild rather than tsc for the JavaScript: the code needs what scripts/build.js gives the CLI
// bundles too, a build stamp (__TVIRT_BUILD__, see src/drivers/qemu/driver/config-cache.ts) and
// import.meta.url pointing where the source file was (src/rpc/client.ts finds bin/tvirtd.js
// from it), and one file loads faster than a tree of modules.
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const repoDir = dirname(dirname(fileURLToPath(import.meta.url)));
const srcDir = join(repoDir, "src");
const libDir = join(repoDir, "dist", "lib");
const outfile = join(libDir, "api", "index.js");

/** Like scripts/build.js's stamp: the newest mtime of src/ and the lock files, so that a CLI
 * bundle and the library built from the same sources share their caches. */
function newestSourceMtime() {
  let newest = 0;
  const walk = (path) => {
    const st = statSync(path);
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(srcDir);
  for (const f of ["package-lock.json", "node_modules/.package-lock.json"]) {
    newest = Math.max(newest, statSync(join(repoDir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0);
  }
  return newest;
}

// `import.meta.url` of a source file becomes the URL that file had, relative to the bundle.
const sourceMetaUrl = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      let contents = await readFile(args.path, "utf8");
      if (contents.includes("import.meta.url")) {
        const rel = relative(dirname(outfile), args.path).split("\\").join("/");
        contents = contents.replaceAll(
          "import.meta.url",
          `new URL(${JSON.stringify(rel)}, import.meta.url).href`,
        );
      }
      return { contents, loader: "ts", resolveDir: dirname(args.path) };
    });
  },
};

const stamp = newestSourceMtime();
rmSync(libDir, { recursive: true, force: true });
await build({
  absWorkingDir: repoDir,
  entryPoints: [join(srcDir, "api", "index.ts")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  plugins: [sourceMetaUrl],
  define: { __TVIRT_BUILD__: JSON.stringify(String(stamp)) },
  logLevel: "warning",
});

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const res = spawnSync(process.execPath, [tsc, "-p", join(repoDir, "tsconfig.lib.json")], {
  stdio: "inherit",
});
if (res.status !== 0) {
  console.error("build:lib: tsc failed to write the declarations");
  process.exit(1);
}
console.log("build:lib: dist/lib/api/index.js and its declarations");
