// Bundles the web page (src/web/app/main.ts with noVNC and xterm.js) for browsers into
// dist/web/: app.js (ES module: noVNC uses top-level await), app.css (xterm.js's stylesheet and
// the page's own) and index.html. No CDN: every byte the page loads comes from tvirt's server.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const repoDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Builds the page into `outDir` (default dist/web); returns the directory. */
export async function buildWebAssets(outDir = join(repoDir, "dist", "web")) {
  const appDir = join(repoDir, "src", "web", "app");
  mkdirSync(outDir, { recursive: true });
  await build({
    absWorkingDir: repoDir,
    entryPoints: { app: join(appDir, "main.ts") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome110", "firefox115", "safari16"],
    minify: process.env.TVIRT_BUILD_MINIFY !== "0",
    sourcemap: false,
    legalComments: "eof",
    logLevel: "warning",
  });
  const css = [
    readFileSync(join(repoDir, "node_modules", "@xterm", "xterm", "css", "xterm.css"), "utf8"),
    readFileSync(join(appDir, "app.css"), "utf8"),
  ].join("\n");
  writeFileSync(join(outDir, "app.css"), css);
  copyFileSync(join(appDir, "index.html"), join(outDir, "index.html"));
  return outDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = await buildWebAssets(process.argv[2]);
  console.log(`build-web: ${dir}/{index.html,app.js,app.css}`);
}
