/**
 * directIo (stdio.ts): the bytes and their order are those of process.stdout/stderr, the streams
 * are not built for a one-shot command, and whoever takes a stream gets every later write.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const stdio = join(fileURLToPath(new URL(".", import.meta.url)), "stdio.ts");

/** Runs `body` (with `io` = directIo()) in a child through tsx; stdout and stderr are pipes. */
function child(body: string): { stdout: string; stderr: string; status: number | null } {
  const script = `import { directIo } from ${JSON.stringify(stdio)};\nconst io = directIo();\n${body}`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

test("a one-shot command's output is written whole, without building process.stdout or stderr", () => {
  // Node builds a stream on first access of process.stdout: a new handle (a socket for a pipe).
  // (tsx, which runs the child, may have built both already: then the count stays too.)
  const r = child(
    [
      `const handles = () => process._getActiveHandles().length;`,
      `const before = handles();`,
      `io.out("héllo\\n"); io.err("error: x\\n"); io.out("a".repeat(200000) + "\\n");`,
      `io.err(String(handles() - before) + "\\n");`,
    ].join("\n"),
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `héllo\n${"a".repeat(200000)}\n`);
  assert.equal(r.stderr, "error: x\n0\n");
});

test("once something else takes process.stdout, later writes go through it, in order", () => {
  const r = child(
    [
      `io.out("1 ");`,
      // Corked, the stream holds "2 " until uncork(): a direct write of "3 " would come first.
      `process.stdout.cork();`,
      `process.stdout.write("2 ");`,
      `io.out("3 ");`,
      `process.stdout.uncork();`,
      `io.out("4");`,
    ].join("\n"),
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "1 2 3 4");
});

test("a write the descriptor refuses (a closed pipe) goes to the stream, which reports it as before", async () => {
  // The reader has gone: writeSync fails with EPIPE and the stream's error ends the process,
  // exactly as process.stdout.write alone did.
  const script = `import { directIo } from ${JSON.stringify(stdio)};\nsetTimeout(() => { directIo().out("x\\n"); }, 300);`;
  const c = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  c.stdout.destroy();
  let stderr = "";
  c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((resolve) => c.once("close", resolve));
  assert.equal(status, 1);
  assert.match(stderr, /EPIPE/);
});
