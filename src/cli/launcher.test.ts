/**
 * The launchers in bin/ (bin/bundle.js): the bundle in dist/ runs only while dist/.built-from
 * says it was built from the sources as they are; anything newer, missing or unknown sends the
 * launcher to the sources (through tsx). Tried on a small repository of its own, with a bundle
 * and a source that say which of them ran.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../testing/corpus.ts";

const repo = mkdtempSync(join(tmpdir(), "tvirt-launcher-"));
after(() => {
  rmSync(repo, { recursive: true, force: true });
});

mkdirSync(join(repo, "bin"));
for (const f of ["bundle.js", "tvirsh.js", "tvirtd.js", "package.json"])
  copyFileSync(join(repoRoot, "bin", f), join(repo, "bin", f));
symlinkSync(join(repoRoot, "node_modules"), join(repo, "node_modules"));
writeFileSync(join(repo, "package.json"), '{ "type": "module" }\n');
mkdirSync(join(repo, "dist"));
writeFileSync(
  join(repo, "dist", "tvirsh.cjs"),
  'exports.main = async () => { console.log("bundle"); return 0; };\n',
);
mkdirSync(join(repo, "src", "cli"), { recursive: true });
writeFileSync(
  join(repo, "src", "cli", "main.ts"),
  'export function main(): Promise<number> { console.log("sources"); return Promise.resolve(0); }\n',
);

// Everything a second in the past, the stamp now: the build saw these files as they are.
const past = new Date(Date.now() - 1000);
for (const p of ["src/cli/main.ts", "src/cli", "src"]) utimesSync(join(repo, p), past, past);
const stamp = Date.now() - 500;
const builtFrom = (head: string, files: string[]): void => {
  writeFileSync(join(repo, "dist", ".built-from"), [head, ...files, ""].join("\n"));
};
const current = (): void => {
  builtFrom(`tvirt-build 2 ${String(stamp)}`, ["src", "src/cli", "src/cli/main.ts"]);
};

function ran(): string {
  const r = spawnSync(process.execPath, [join(repo, "bin", "tvirsh.js")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("a bundle built from the sources as they are runs", () => {
  current();
  assert.equal(ran(), "bundle");
});

test("a source edited after the build sends the launcher to the sources", () => {
  current();
  const later = new Date(stamp + 2000);
  utimesSync(join(repo, "src/cli/main.ts"), later, later);
  try {
    assert.equal(ran(), "sources");
  } finally {
    utimesSync(join(repo, "src/cli/main.ts"), past, past);
  }
  assert.equal(ran(), "bundle");
});

test("a file added to a source directory counts (the directory changed)", () => {
  current();
  writeFileSync(join(repo, "src/cli/extra.ts"), "export {};\n");
  try {
    assert.equal(ran(), "sources");
  } finally {
    rmSync(join(repo, "src/cli/extra.ts"));
    utimesSync(join(repo, "src/cli"), past, past);
  }
});

test("a missing input, an unknown stamp format or no stamp at all: the sources run", () => {
  builtFrom(`tvirt-build 2 ${String(stamp)}`, ["src", "src/cli", "src/cli/main.ts", "src/cli/gone.ts"]);
  assert.equal(ran(), "sources");
  builtFrom(String(stamp), []);
  assert.equal(ran(), "sources");
  builtFrom(`tvirt-build 1 ${String(stamp)}`, ["src/cli/main.ts"]);
  assert.equal(ran(), "sources");
  rmSync(join(repo, "dist", ".built-from"));
  assert.equal(ran(), "sources");
});

test("an installed copy (no src/) runs its bundle", () => {
  current();
  renameSync(join(repo, "src"), join(repo, "src.away"));
  try {
    assert.equal(ran(), "bundle");
  } finally {
    renameSync(join(repo, "src.away"), join(repo, "src"));
  }
});

/**
 * A bundle `name` whose main fills the young generation with objects that survive (V8 then grows
 * it, unless --semi-space-growth-factor=1 holds it at its start size) and prints its size in MiB.
 */
function youngGenBundle(name: string): void {
  writeFileSync(
    join(repo, "dist", `${name}.cjs`),
    [
      'const v8 = require("node:v8");',
      "exports.main = async () => {",
      "  const keep = [];",
      "  for (let i = 0; i < 300000; i++) keep.push({ i, s: String(i) });",
      '  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");',
      "  console.log(String(young.space_size / 1048576), keep.length);",
      "  return 0;",
      "};",
      "",
    ].join("\n"),
  );
}

function runBin(name: string): string {
  const r = spawnSync(process.execPath, [join(repo, "bin", `${name}.js`)], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("tvirtd's young generation stays at its start size (a runtime V8 flag); tvirsh's grows as V8 likes", () => {
  current();
  youngGenBundle("tvirtd");
  youngGenBundle("tvirsh");
  try {
    const daemon = Number(runBin("tvirtd").split(" ")[0]);
    const cli = Number(runBin("tvirsh").split(" ")[0]);
    assert.ok(daemon <= 2, `tvirtd's young generation: ${String(daemon)} MiB`);
    assert.ok(cli > daemon, `tvirsh's young generation: ${String(cli)} MiB, tvirtd's ${String(daemon)} MiB`);
  } finally {
    rmSync(join(repo, "dist", "tvirtd.cjs"), { force: true });
    rmSync(join(repo, "dist", "tvirtd.cache"), { force: true });
    writeFileSync(
      join(repo, "dist", "tvirsh.cjs"),
      'exports.main = async () => { console.log("bundle"); return 0; };\n',
    );
  }
});

test("a code cache written under tvirtd's runtime flags is still one V8 takes at the next start", () => {
  current();
  youngGenBundle("tvirtd");
  const cache = join(repo, "dist", "tvirtd.cache");
  try {
    rmSync(cache, { force: true });
    runBin("tvirtd");
    const first = readFileSync(cache);
    // A cache V8 rejects is written again at exit: the same bytes mean it was taken.
    runBin("tvirtd");
    assert.ok(first.equals(readFileSync(cache)), "the cache was rejected and written again");
    assert.ok(statSync(cache).size > 100);
  } finally {
    rmSync(join(repo, "dist", "tvirtd.cjs"), { force: true });
    rmSync(cache, { force: true });
  }
});

test("this checkout's launcher: with no build it runs the sources; with one, the build lists its inputs (and under CI is current)", () => {
  const file = join(repoRoot, "dist", ".built-from");
  const bundleUsed = (): string =>
    spawnSync(
      process.execPath,
      ["-e", 'process.stdout.write(String(require("./bin/bundle.js").loadBundle("tvirsh") !== undefined))'],
      { cwd: repoRoot, encoding: "utf8" },
    ).stdout;
  if (!existsSync(file)) {
    assert.notEqual(process.env.CI, "true", "under CI the build runs before the tests");
    assert.equal(bundleUsed(), "false");
    return;
  }
  const [head, ...files] = readFileSync(file, "utf8").trimEnd().split("\n");
  assert.match(head ?? "", /^tvirt-build 2 \d+(\.\d+)?$/);
  for (const entry of ["src/cli/main.ts", "src/daemon/main.ts", "src", "package-lock.json"])
    assert.ok(files.includes(entry), entry);
  for (const f of files) assert.ok(existsSync(join(repoRoot, f)), f);
  if (process.env.CI === "true") assert.equal(bundleUsed(), "true");
});
