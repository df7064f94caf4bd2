/**
 * The edit flow with a fake object (its XML in memory, "define" recorded) and the answers given
 * through `Ctx.lineInput`: someone else changing the definition while it is edited, forcing,
 * relaxing validation, and the temp file being removed afterwards.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtError } from "../api/index.ts";
import { Ctx } from "./context.ts";
import { runEditFlow, type EditSpec } from "./edit-flow.ts";
import { BufferIo } from "./output.ts";

function ctxWith(answers: string[]): { ctx: Ctx; io: BufferIo } {
  const io = new BufferIo();
  const ctx = new Ctx(io, {
    uri: undefined,
    readonly: false,
    quiet: false,
    timing: false,
    escape: "^]",
    debug: 0,
  });
  ctx.lineInput = {
    read: () => Promise.resolve(answers.shift()),
    pause: () => undefined,
    resume: () => undefined,
  };
  return { ctx, io };
}

/** An editor (node script) that appends a comment and records the file it was given. */
function appendingEditor(dir: string): { env: NodeJS.ProcessEnv; seen: string } {
  const script = join(dir, "ed.mjs");
  const seen = join(dir, "seen");
  writeFileSync(
    script,
    `import { appendFileSync, writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(seen)}, process.argv[2]);\nappendFileSync(process.argv[2], "<!-- edited -->\\n");\n`,
  );
  return { env: { EDITOR: `${process.execPath} ${script}` }, seen };
}

test("changed by another user: the question, then 'f' defines the edited XML", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-flow-"));
  try {
    const { env, seen } = appendingEditor(dir);
    let current = "<domain/>\n";
    let reads = 0;
    const defined: [string, boolean][] = [];
    const spec: EditSpec = {
      object: "domain",
      name: "vm",
      getXML: () => {
        reads++;
        // Someone else redefines it while the editor runs (the second read).
        if (reads === 2) current = "<domain><title>theirs</title></domain>\n";
        return Promise.resolve(current);
      },
      define: (xml, validate) => {
        defined.push([xml, validate]);
        return Promise.resolve();
      },
      validate: true,
      canRelax: true,
      notChangedMessage: "not changed\n",
    };
    const { ctx, io } = ctxWith(["f"]);
    const outcome = await runEditFlow(ctx, spec, env);
    assert.equal(outcome.result, "edited");
    assert.equal(io.stdout, "The XML configuration was changed by another user. Try again? [y,n,i,f,?]: \n");
    assert.match(
      io.stderr,
      /^error: operation failed: The XML configuration was changed by another user\.\n$/,
    );
    assert.deepEqual(defined, [["<domain/>\n<!-- edited -->\n", true]]);
    // The temp file is gone.
    assert.equal(existsSync(readFileSync(seen, "utf8")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a failing define: 'i' turns validation off, 'n' at the next failure abandons", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-flow-"));
  try {
    const { env } = appendingEditor(dir);
    const calls: boolean[] = [];
    const spec: EditSpec = {
      object: "network",
      name: "net1",
      getXML: () => Promise.resolve("<network/>\n"),
      define: (_xml, validate) => {
        calls.push(validate);
        return Promise.reject(new VirtError("CLI_FAILED", { message: "nope" }));
      },
      validate: true,
      canRelax: true,
      notChangedMessage: "not changed\n",
    };
    const { ctx, io } = ctxWith(["x", "i", "n"]);
    const outcome = await runEditFlow(ctx, spec, env);
    assert.equal(outcome.result, "failed");
    assert.deepEqual(calls, [true, false]);
    // 'x' is not an answer: asked again; after 'i' the letter is no longer offered.
    assert.equal(
      io.stdout,
      "Failed. Try again? [y,n,i,f,?]: Failed. Try again? [y,n,i,f,?]: \nFailed. Try again? [y,n,f,?]: \n",
    );
    const err = ctx.lastError;
    assert.ok(err);
    assert.equal(err.code, "EDIT_ABANDONED");
    assert.equal(
      err.message,
      "operation aborted: edit of network 'net1' abandoned: the definition was not changed",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
