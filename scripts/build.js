#!/usr/bin/env node
// Bundles tvirsh and tvirtd with esbuild into dist/ (CommonJS, node20, sourcemaps), so the
// launchers in bin/ start without compiling TypeScript, then warms up tvirsh once so that its
// V8 code cache exists (see bin/bundle.js). Writes dist/.built-from last.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { readFile, readdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { distDir, repoDir, srcDir, STAMP_FORMAT, stampFile } from "../bin/bundle.js";
import { buildWebAssets } from "./build-web.js";

/** The lock files that say which packages get bundled; checked like the sources. */
const LOCK_FILES = ["package-lock.json", "node_modules/.package-lock.json"];

/** The newest mtime (ms) of src/, everything under it and the lock files; stats in parallel. */
async function newestSourceMtime() {
  const walk = async (path, isDir) => {
    const own = (await stat(path)).mtimeMs;
    if (!isDir) return own;
    const entries = await readdir(path, { withFileTypes: true });
    const inner = await Promise.all(entries.map((e) => walk(join(path, e.name), e.isDirectory())));
    return Math.max(own, ...inner);
  };
  const locks = LOCK_FILES.map((f) =>
    stat(join(repoDir, f)).then(
      (s) => s.mtimeMs,
      () => 0,
    ),
  );
  return Math.max(await walk(srcDir, true), ...(await Promise.all(locks)));
}

rmSync(stampFile, { force: true });
// Taken before bundling: a source edited during the build makes the bundle stale, not current.
// File times are coarse (a clock tick), so the scan must start clearly after the newest one:
// then any later edit gets a newer mtime than the stamp.
let stamp;
for (;;) {
  const scanStart = Date.now();
  stamp = await newestSourceMtime();
  if (stamp < scanStart - 50) break;
  await sleep(60);
}

// import.meta.url does not exist in a CommonJS bundle; rewrite it to the URL of the original
// source file, relative to the bundle, so `new URL("../x", import.meta.url)` still works.
const sourceMetaUrl = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      let contents = await readFile(args.path, "utf8");
      if (contents.includes("import.meta.url")) {
        const rel = relative(distDir, args.path).split("\\").join("/");
        contents = contents.replaceAll(
          "import.meta.url",
          `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(rel)})).href`,
        );
      }
      return { contents, loader: "ts", resolveDir: dirname(args.path) };
    });
  },
};

// Built-in modules that only some commands use (spawning, sockets, hashing, a terminal, file
// calls that wait on libuv's threads) and that cost ~15 ms to load: each is loaded on the first
// call of one of its functions, not when the bundle starts. A name not listed here fails the
// build ("No matching export"), never a run.
const LAZY_BUILTINS = {
  "node:child_process": ["spawn", "spawnSync"],
  "node:crypto": [
    "createCipheriv",
    "createDecipheriv",
    "createHash",
    "randomBytes",
    "randomUUID",
    "timingSafeEqual",
  ],
  "node:fs/promises": [
    "access",
    "chmod",
    "chown",
    "copyFile",
    "lstat",
    "mkdir",
    "mkdtemp",
    "open",
    "readFile",
    "readdir",
    "rename",
    "rm",
    "rmdir",
    "stat",
    "truncate",
    "unlink",
    "writeFile",
  ],
  "node:net": ["connect", "createConnection", "createServer", "isIP"],
  "node:readline": ["createInterface"],
  "node:stream/promises": ["pipeline"],
  "node:tty": ["ReadStream"],
};
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(LAZY_BUILTINS).join("|")})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === "lazy-builtin"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "lazy-builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => {
      const lines = [`let m;`, `const load = () => (m ??= require(${JSON.stringify(args.path)}));`];
      for (const name of LAZY_BUILTINS[args.path]) {
        // A class (tty.ReadStream) is made with `new`: the real one is made then.
        lines.push(
          `export function ${name}(...a) { return new.target ? new (load().${name})(...a) : load().${name}(...a); }`,
        );
      }
      return { contents: lines.join("\n"), loader: "js" };
    });
  },
};

mkdirSync(distDir, { recursive: true });
// The bundles of before, ESM ones of older builds, and code caches made from them go first.
for (const f of readdirSync(distDir)) {
  if (/\.(cjs|mjs|cache|tmp)$|\.map$/.test(f)) rmSync(join(distDir, f), { force: true });
}
const built = await build({
  absWorkingDir: repoDir,
  metafile: true,
  entryPoints: {
    tvirsh: join(repoDir, "src/cli/main.ts"),
    tvirtd: join(repoDir, "src/daemon/main.ts"),
    "tvirt-host-validate": join(repoDir, "src/cli/host-validate.ts"),
    "tvirt-guests": join(repoDir, "src/cli/guests.ts"),
  },
  outdir: distDir,
  outExtension: { ".js": ".cjs" },
  bundle: true,
  splitting: false,
  minify: process.env.TVIRT_BUILD_MINIFY !== "0",
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: true,
  packages: "bundle",
  plugins: [sourceMetaUrl, lazyBuiltins],
  // What the code knows of its build (src/drivers/qemu/driver/config-cache.ts).
  define: { __TVIRT_BUILD__: JSON.stringify(String(stamp)) },
  logLevel: "warning",
});

// The web page (dist/web) that `tvirsh web` serves: browser code, bundled on its own.
await buildWebAssets(join(distDir, "web"));

// What the launcher checks (bin/bundle.js): the bundles' inputs under src/ and their
// directories, and the lock files that say which packages were bundled.
const watched = new Set();
for (const input of Object.keys(built.metafile.inputs)) {
  if (!input.startsWith("src/")) continue;
  watched.add(input);
  for (let d = dirname(input); d !== "."; d = dirname(d)) watched.add(d);
}
for (const lock of LOCK_FILES) if (existsSync(join(repoDir, lock))) watched.add(lock);
const tmp = `${stampFile}.tmp`;
writeFileSync(tmp, [`${STAMP_FORMAT} ${String(stamp)}`, ...[...watched].sort(), ""].join("\n"));
renameSync(tmp, stampFile);

// Warm-up, so that the code caches written at exit hold the functions of starting, listing and
// printing: tvirsh through the test driver, through tvirtd (a private one serving the test
// driver; its own cache is written when it stops) and through an empty embedded root.
const warm = mkdtempSync(join(tmpdir(), "tvirt-build-"));
const sock = join(warm, "sock");
const daemon = spawn(
  process.execPath,
  [join(repoDir, "bin", "tvirtd.js"), "--listen", sock, "--uri", "test:///default"],
  {
    stdio: "ignore",
  },
);
const daemonExit = new Promise((resolve) => daemon.once("exit", resolve));
try {
  for (let i = 0; i < 200 && !existsSync(sock) && daemon.exitCode === null; i++) await sleep(50);
  const remote = existsSync(sock)
    ? `connect test+unix:///default?socket=${sock}; list --all; dominfo test; `
    : "";
  const res = spawnSync(
    process.execPath,
    [
      join(repoDir, "bin", "tvirsh.js"),
      "-q",
      `list --all; dominfo test; domstate test --reason; ${remote}connect qemu:///embed?root=${join(warm, "root")}; list --all`,
    ],
    { encoding: "utf8", env: { ...process.env, LIBVIRT_DEFAULT_URI: "test:///default" } },
  );
  if (res.status !== 0) console.warn(`build: the warm-up run failed (no code cache yet): ${res.stderr}`);
} finally {
  if (daemon.exitCode === null) daemon.kill("SIGTERM");
  await daemonExit;
  rmSync(warm, { recursive: true, force: true });
}
console.log(`build: dist/tvirsh.cjs, dist/tvirtd.cjs (sources as of ${new Date(stamp).toISOString()})`);
