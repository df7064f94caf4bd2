/**
 * The package as a user gets it: `npm pack` (its prepack builds) in a copy of this checkout,
 * the tarball installed in a package directory of its own, without the network and without
 * tsx, then README.md's library example run and type-checked there, and the installed `tvirsh`.
 * A copy, so that the build it makes never touches this checkout's dist/ while other tests use it.
 */
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { repoRoot } from "../testing/corpus.ts";

const work = mkdtempSync(join(tmpdir(), "tvirt-package-"));
const pkgDir = join(work, "pkg");
const consumer = join(work, "consumer");
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The environment of the children: none of a parent npm's settings, nor tvirt's switches. */
const env: NodeJS.ProcessEnv = {};
for (const [k, v] of Object.entries(process.env)) {
  if (!/^npm_/i.test(k) && k !== "TVIRT_NO_BUNDLE" && k !== "LIBVIRT_DEFAULT_URI") env[k] = v;
}
env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ""}`;

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 64 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.error, undefined, `${what}: ${String(r.error)}`);
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The first ```js block of README.md's "## Library" section. */
function readmeExample(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Library\n"));
  assert.ok(section, "README.md has a Library section");
  const code = /^```js\n([\s\S]*?)^```$/m.exec(section)?.[1];
  assert.ok(
    code !== undefined && code.includes('from "tvirt"'),
    "the Library section has a js example importing tvirt",
  );
  return code;
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}
let packed: PackResult;

before(() => {
  // What the build and the pack read; not the tests (the package holds none).
  mkdirSync(pkgDir);
  const top = readdirSync(repoRoot).filter(
    (f) =>
      /^(LICEN[CS]E|COPYING)/i.test(f) ||
      [
        "package.json",
        "package-lock.json",
        "README.md",
        "tsconfig.json",
        "tsconfig.lib.json",
        "bin",
        "scripts",
        "src",
      ].includes(f),
  );
  for (const f of top) {
    cpSync(join(repoRoot, f), join(pkgDir, f), { recursive: true, filter: (p) => !p.endsWith(".test.ts") });
  }
  symlinkSync(join(repoRoot, "node_modules"), join(pkgDir, "node_modules"));
  // The prepack script's output comes first on stdout, then npm's JSON.
  const out = ok(run("npm", ["pack", "--json", "--pack-destination", work], pkgDir), "npm pack");
  [packed] = JSON.parse(out.slice(out.search(/^\[/m))) as [PackResult];

  // A package of its own, its dependencies already there (copied from this checkout's, as
  // package-lock.json names them), so that npm needs neither the network nor its cache.
  mkdirSync(join(consumer, "node_modules"), { recursive: true });
  writeFileSync(
    join(consumer, "package.json"),
    '{ "name": "consumer", "private": true, "type": "module" }\n',
  );
  const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dependencies?: Record<string, string> }>;
  };
  const pending = Object.keys(lock.packages[""]?.dependencies ?? {});
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    const to = join(consumer, "node_modules", name);
    if (existsSync(to)) continue;
    cpSync(join(repoRoot, "node_modules", name), to, { recursive: true, dereference: true });
    pending.push(...Object.keys(lock.packages[`node_modules/${name}`]?.dependencies ?? {}));
  }
  ok(
    run(
      "npm",
      [
        "install",
        "--offline",
        "--no-audit",
        "--no-fund",
        "--cache",
        join(work, "npm-cache"),
        join(work, packed.filename),
      ],
      consumer,
    ),
    "npm install of the tarball",
  );
});

test("the tarball holds the launchers, the bundles and the library, and no sources", () => {
  const paths = packed.files.map((f) => f.path);
  for (const p of [
    "package.json",
    "README.md",
    "bin/tvirsh.js",
    "bin/tvirtd.js",
    "bin/bundle.js",
    "bin/package.json",
    "dist/tvirsh.cjs",
    "dist/tvirtd.cjs",
    "dist/.built-from",
    "dist/lib/api/index.js",
    "dist/lib/api/index.d.ts",
    "dist/lib/api/connection.d.ts",
  ])
    assert.ok(paths.includes(p), p);
  for (const p of paths) assert.doesNotMatch(p, /^src\/|\.test\.|\.map$|\.cache$/, p);
});

test("the installed package needs no tsx", () => {
  const manifest = JSON.parse(readFileSync(join(consumer, "node_modules/tvirt/package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  assert.ok(manifest.dependencies && !("tsx" in manifest.dependencies));
  assert.equal(existsSync(join(consumer, "node_modules/tsx")), false);
  assert.equal(existsSync(join(consumer, "node_modules/tvirt/src")), false);
});

test("README's library example runs against the installed package", () => {
  writeFileSync(join(consumer, "example.mjs"), readmeExample());
  const out = ok(run(process.execPath, ["example.mjs"], consumer), "the example");
  assert.equal(out, "test running\n");
});

test("README's library example type-checks against the installed declarations; a wrong call does not", () => {
  writeFileSync(join(consumer, "example.mts"), readmeExample());
  writeFileSync(
    join(consumer, "wrong.mts"),
    'import { connect } from "tvirt";\nconst conn = await connect("test:///default");\nawait conn.lookupDomainByName(42);\n',
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        typeRoots: [join(repoRoot, "node_modules/@types")],
        types: ["node"],
      },
      files: ["example.mts", "wrong.mts"],
    }),
  );
  const r = run(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "."], consumer);
  const errors = r.stdout.split("\n").filter((l) => l.includes("error TS"));
  assert.equal(errors.length, 1, r.stdout);
  assert.match(errors[0] ?? "", /^wrong\.mts\(3,\d+\): error TS2345: /);
  assert.equal(r.status, 2);
});

test("the installed tvirsh runs (its bundle, there being no tsx)", () => {
  const out = ok(
    run(join(consumer, "node_modules/.bin/tvirsh"), ["-c", "test:///default", "list", "--all"], consumer),
    "tvirsh",
  );
  assert.match(out, /^ 1 +test +running$/m);
});
