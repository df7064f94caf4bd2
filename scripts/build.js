#!/usr/bin/env node
// Bundles tvirsh and tvirtd with esbuild into dist/ (ESM, node20, sourcemaps), so the launchers
// in bin/ start without compiling TypeScript. Writes dist/.built-from last (see bin/bundle.js).
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { distDir, newestSourceMtime, repoDir, stampFile } from "../bin/bundle.js";

rmSync(stampFile, { force: true });
// Taken before bundling: a source edited during the build makes the bundle stale, not current.
// File times are coarse (a clock tick), so the scan must start clearly after the newest one:
// then any later edit gets a newer mtime than the stamp.
let stamp;
for (;;) {
  const scanStart = BigInt(Date.now()) * 1000000n;
  stamp = newestSourceMtime();
  if (stamp < scanStart - 50000000n) break;
  await sleep(60);
}

// import.meta.url in a bundled module would name dist/…mjs; rewrite it to the URL of the
// original source file, relative to the bundle, so `new URL("../x", import.meta.url)` still works.
const sourceMetaUrl = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      let contents = await readFile(args.path, "utf8");
      if (contents.includes("import.meta.url")) {
        const rel = relative(distDir, args.path).split("\\").join("/");
        contents = contents.replaceAll(
          "import.meta.url",
          `new URL(${JSON.stringify(rel)}, import.meta.url).href`,
        );
      }
      return { contents, loader: "ts", resolveDir: dirname(args.path) };
    });
  },
};

mkdirSync(distDir, { recursive: true });
await build({
  entryPoints: {
    tvirsh: join(repoDir, "src/cli/main.ts"),
    tvirtd: join(repoDir, "src/daemon/main.ts"),
  },
  outdir: distDir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: false,
  minify: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  packages: "bundle",
  plugins: [sourceMetaUrl],
  logLevel: "warning",
});

const tmp = `${stampFile}.tmp`;
writeFileSync(tmp, `${stamp}\n`);
renameSync(tmp, stampFile);
console.log(
  `build: dist/tvirsh.mjs, dist/tvirtd.mjs (sources as of ${new Date(Number(stamp / 1000000n)).toISOString()})`,
);
