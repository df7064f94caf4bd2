/**
 * The import-cycle check of `npm run lint` (lint/cycles.js), run on small trees of modules: it
 * fails on a runtime cycle and names its modules, and passes where the only way back is a
 * type-only import.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test, type TestContext } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "../corpus.ts";

const run = promisify(execFile);
const script = join(repoRoot, "lint", "cycles.js");

/** Writes `files` (path under the tree → text) into a new folder; removed after the test. */
function tree(t: TestContext, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tvirt-cycles-"));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

async function check(root: string): Promise<{ status: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [script, root], { cwd: repoRoot });
    return { status: 0, stderr };
  } catch (e) {
    const err = e as { code?: number; stderr?: string };
    return { status: err.code ?? -1, stderr: err.stderr ?? "" };
  }
}

void test("npm run lint runs the cycle check", () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts.lint ?? "", /(^|&& )node lint\/cycles\.js($| )/);
});

void test("a runtime cycle fails the check, and the message names its modules", async (t) => {
  const root = tree(t, {
    "src/a/one.ts": 'import { two } from "../b/two.ts";\nexport const one = () => two() + 1;\n',
    "src/b/two.ts": 'import { three } from "./three.ts";\nexport const two = () => three + 1;\n',
    "src/b/three.ts": 'import { one } from "../a/one.ts";\nexport const three = typeof one;\n',
    "src/c/free.ts": 'import { one } from "../a/one.ts";\nexport const free = one;\n',
  });
  const { status, stderr } = await check(root);
  assert.equal(status, 1, stderr);
  const line = stderr.split("\n").find((l) => l.includes(" -> "));
  assert.ok(line, stderr);
  for (const m of ["src/a/one.ts", "src/b/two.ts", "src/b/three.ts"]) assert.ok(line.includes(m), line);
  assert.ok(!stderr.includes("src/c/free.ts"), stderr);
});

void test("a cycle closed only by a type-only import passes", async (t) => {
  const root = tree(t, {
    "src/a/one.ts": 'import { two, type Two } from "../b/two.ts";\nexport const one = (x: Two) => two(x);\n',
    // Both ways of importing only a type: `import type`, and a name used only as a type.
    "src/b/two.ts":
      'import type { One } from "../a/one.ts";\nimport { Three } from "./three.ts";\n' +
      "export type Two = number;\nexport let last: One | Three | undefined;\nexport const two = (x: Two) => x;\n",
    "src/b/three.ts": 'import { one } from "../a/one.ts";\nexport type Three = typeof one;\n',
  });
  const { status, stderr } = await check(root);
  assert.equal(status, 0, stderr);
});
