// Shared by the launchers and scripts/build.js: loading the esbuild bundles in dist/ fast, and
// only while they are current.
//
// Current: the build writes dist/.built-from: a first line `tvirt-build 2 STAMP`, STAMP being
// the newest mtime (ms) of everything under src/ taken before bundling, then one line per file
// the bundles were made from (esbuild's list of inputs under src/, their directories, so that an
// added or removed file counts too, and the npm lock files). A bundle is used only when none of
// those is newer than STAMP or missing; when there is no src/ (an installed copy) there is
// nothing to compare and the bundle is used. The check is a few hundred synchronous stats, about
// 3 ms: walking the whole of src/ took some 20 ms of each command's start.
//
// Fast: a bundle is a CommonJS file compiled through node:vm with a V8 code cache next to it
// (dist/NAME.cache), so a new process neither parses the whole bundle nor compiles again the
// functions that the build's warm-up run used. The cache starts with a line naming the bundle
// file it was made from (inode, size, mtime): V8 itself only checks the source's length. A
// missing cache, one of another bundle file, or one V8 rejects (another Node version) is
// written again, atomically, when the process exits.
//
// Lean: a launcher may name V8 flags for its program that V8 reads while running, not only at
// start (tvirtd: --semi-space-growth-factor=1, so that the young generation stays at the 1 MiB
// semi-space it starts with instead of growing with every burst of requests: some 4 MiB of a
// daemon's resident memory with 10 guests). They are set once the bundle is compiled, since V8
// rejects a code cache made under other flags, and set back to V8's defaults before a code cache
// is written.
//
// CommonJS (bin/package.json), like the launchers: a CommonJS entry starts a few ms sooner than
// an ES module one.
"use strict";
const { Buffer, isAscii } = require("node:buffer");
const { existsSync, readFileSync, renameSync, statSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const { pathToFileURL } = require("node:url");
const { Script } = require("node:vm");

const repoDir = dirname(__dirname);
const distDir = join(repoDir, "dist");
const stampFile = join(distDir, ".built-from");
const srcDir = join(repoDir, "src");

/** The first line of dist/.built-from, before the stamp. */
const STAMP_FORMAT = "tvirt-build 2";

/** Whether the bundles in dist/ were built from the sources as they are now (see the top). */
function bundlesCurrent() {
  let lines;
  try {
    lines = readFileSync(stampFile, "latin1").split("\n");
  } catch {
    return false;
  }
  const head = lines[0].split(" ");
  const stamp = Number(head[2]);
  if (`${head[0]} ${head[1]}` !== STAMP_FORMAT || head.length !== 3 || !Number.isFinite(stamp)) return false;
  if (!existsSync(srcDir)) return true;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === "") continue;
    // The build writes plain relative paths: no need for join()'s normalizing.
    const st = statSync(`${repoDir}/${lines[i]}`, { throwIfNoEntry: false });
    if (st === undefined || st.mtimeMs > stamp) return false;
  }
  return true;
}

/**
 * Runtime V8 flags per program, each with V8's default (what a code cache is made under). Only
 * flags that V8 reads while it runs belong here: heap sizes are fixed when the process starts.
 */
const RUNTIME_FLAGS = {
  tvirtd: [["--semi-space-growth-factor=1", "--semi-space-growth-factor=2"]],
};

/** Sets `flags` (pairs of [ours, V8's default]); returns what sets the defaults back. */
function setRuntimeFlags(flags) {
  if (flags.length === 0) return () => undefined;
  // Loaded only here: node:v8 brings Node's streams with it, ~2 ms of a tvirsh start.
  const { setFlagsFromString } = require("node:v8");
  for (const [ours] of flags) setFlagsFromString(ours);
  return () => {
    for (const [, dflt] of flags) setFlagsFromString(dflt);
  };
}

/**
 * Compiles and runs the CommonJS bundle `file` with its code cache, with `flags` (see
 * RUNTIME_FLAGS) set once it is compiled; returns its exports.
 */
function runWithCodeCache(file, flags = []) {
  const cacheFile = file.replace(/\.cjs$/, ".cache");
  const st = statSync(file, { bigint: true });
  const key = `${String(st.ino)}:${String(st.size)}:${String(st.mtimeNs)}`;
  // esbuild writes ASCII: then a one-byte string is a copy, not a UTF-8 decode.
  const bytes = readFileSync(file);
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
  let cachedData;
  try {
    const buf = readFileSync(cacheFile);
    const nl = buf.indexOf(10);
    if (nl > 0 && buf.toString("latin1", 0, nl) === key) cachedData = buf.subarray(nl + 1);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  const resetFlags = setRuntimeFlags(flags);
  if (cachedData === undefined || script.cachedDataRejected) {
    // Written at exit, so that it holds the functions this run compiled too; under V8's default
    // flags, which the next run compiles under.
    process.once("exit", () => {
      resetFlags();
      const tmp = `${cacheFile}.${String(process.pid)}.tmp`;
      try {
        writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`), script.createCachedData()]));
        renameSync(tmp, cacheFile);
      } catch {
        // A read-only install: the next run compiles again.
      }
    });
  }
  const bundle = { exports: {} };
  script.runInThisContext()(bundle.exports, createRequire(file), bundle, file, dirname(file));
  return bundle.exports;
}

/**
 * The exports of bundle `name` (`tvirsh`, `tvirtd`) when it exists and is current, else
 * undefined (then the launcher runs the sources through tsx).
 */
function loadBundle(name) {
  if (process.env.TVIRT_NO_BUNDLE) return undefined;
  const file = join(distDir, `${name}.cjs`);
  if (!existsSync(file) || !bundlesCurrent()) return undefined;
  return runWithCodeCache(file, RUNTIME_FLAGS[name]);
}

/**
 * What a launcher does: runs `main(argv)` of bundle `name` when it is current, else of
 * `sourceMain` (a path under src/) through tsx's loader (no build step needed), and exits with
 * the status it returns.
 */
function launch(name, sourceMain) {
  void (async () => {
    let main = loadBundle(name)?.main;
    if (!main) {
      const { register } = await import("tsx/esm/api");
      register();
      setRuntimeFlags(RUNTIME_FLAGS[name] ?? []);
      ({ main } = await import(pathToFileURL(join(srcDir, sourceMain)).href));
    }
    process.exitCode = await main(process.argv.slice(2));
  })();
}

module.exports = {
  repoDir,
  srcDir,
  distDir,
  stampFile,
  STAMP_FORMAT,
  RUNTIME_FLAGS,
  bundlesCurrent,
  loadBundle,
  launch,
};
