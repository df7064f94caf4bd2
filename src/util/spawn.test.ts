import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVirtError } from "./errors/index.ts";
import {
  isProcessAlive,
  parseProcStat,
  readProcCmdline,
  readProcStat,
  runArgv,
  runArgvSync,
  spawnArgv,
  startArgv,
  terminateProcess,
  waitForProcessExit,
} from "./spawn.ts";

test("runArgv runs argv without a shell and collects output", async () => {
  const r = await runArgv(["/bin/echo", "a;b", "$(x)"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "a;b $(x)\n");
  const e = await runArgv(["/bin/sh", "-c", "echo err >&2; exit 3"]);
  assert.equal(e.code, 3);
  assert.equal(e.stderr, "err\n");
});

test("spawnArgv reports a missing binary as COMMAND_FAILED", async () => {
  await assert.rejects(
    spawnArgv(["/nonexistent/binary"]),
    (e: unknown) =>
      isVirtError(e) && e.code === "COMMAND_FAILED" && e.message.includes("/nonexistent/binary"),
  );
});

test("runArgvSync: argv without a shell, text output, the environment inherited unless given", () => {
  const r = runArgvSync(["/bin/echo", "a;b", "$(x)"]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, "a;b $(x)\n");
  const inherited = runArgvSync(["/bin/sh", "-c", 'printf %s "$PATH"']);
  assert.equal(inherited.stdout, process.env.PATH ?? "");
  const given = runArgvSync(["/bin/sh", "-c", 'printf %s "$ONLY"; exit 4'], { env: { ONLY: "x" } });
  assert.deepEqual([given.status, given.stdout], [4, "x"]);
  const missing = runArgvSync(["/nonexistent/binary"]);
  assert.match(missing.error?.message ?? "", /ENOENT/);
});

test("startArgv: node's child at once, pipes to drive, a missing program as the error event", async () => {
  const child = startArgv(["/bin/cat"], { stdio: ["pipe", "pipe", "pipe"], env: {} });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (out += d));
  child.stdin.end("$(not a shell)");
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  assert.deepEqual([code, out], [0, "$(not a shell)"]);
  const missing = startArgv(["/nonexistent/binary"], { stdio: "ignore" });
  const err = await new Promise<NodeJS.ErrnoException>((resolve) => missing.once("error", resolve));
  assert.equal(err.code, "ENOENT");
});

test("detached children: /proc facts, start-time checks, SIGTERM then SIGKILL", async () => {
  const child = await spawnArgv(["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], {
    detached: true,
  });
  try {
    // The shell ignores SIGTERM once its trap is set: wait for that (SigIgn bit 15 in /proc).
    const ignoresTerm = (): boolean => {
      const m = /^SigIgn:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      return m !== null && (BigInt(`0x${m[1]!}`) & (1n << 14n)) !== 0n;
    };
    for (let i = 0; i < 200 && !ignoresTerm(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ignoresTerm(), "the shell set its trap");
    const st = readProcStat(child.pid)!;
    assert.ok(st.starttime > 0);
    assert.equal(readProcCmdline(child.pid)?.[0], "/bin/sh");
    assert.equal(isProcessAlive(child.pid, st.starttime), true);
    assert.equal(isProcessAlive(child.pid, st.starttime + 1), false, "another start time is another process");
    assert.equal(
      await terminateProcess(child.pid, { starttime: st.starttime, graceMs: 200, force: false }),
      "alive",
      "SIGTERM is ignored",
    );
    assert.equal(await terminateProcess(child.pid, { starttime: st.starttime, graceMs: 200 }), "killed");
    assert.equal(await waitForProcessExit(child.pid, 1000, st.starttime), true);
    assert.deepEqual(await child.exited, { code: null, signal: "SIGKILL" });
    assert.equal(await terminateProcess(child.pid, { starttime: st.starttime }), "gone");
  } finally {
    child.kill("SIGKILL");
  }
});

test("parseProcStat copes with spaces and parentheses in the command name", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i));
  fields[0] = "S";
  fields[1] = "7";
  fields[19] = "424242";
  const st = parseProcStat(`123 (a (b) c) ${fields.join(" ")}`)!;
  assert.equal(st.pid, 123);
  assert.equal(st.state, "S");
  assert.equal(st.ppid, 7);
  assert.equal(st.starttime, 424242);
});

test("spawnArgv: extra descriptors reach the child as fd 3, 4, ...", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-spawn-fds-"));
  const a = openSync(join(dir, "a"), "w+");
  const b = openSync(join(dir, "b"), "w+");
  try {
    const child = await spawnArgv(
      [
        process.execPath,
        "-e",
        "const fs = require('fs'); fs.writeSync(3, 'three'); fs.writeSync(4, 'four');",
      ],
      { extraFds: [a, b] },
    );
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.equal(readFileSync(join(dir, "a"), "utf8"), "three");
    assert.equal(readFileSync(join(dir, "b"), "utf8"), "four");
  } finally {
    closeSync(a);
    closeSync(b);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spawnArgv runs the child as the uid/gid asked for (root only)", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root");
    return;
  }
  const child = await spawnArgv(["/usr/bin/id"], { uid: 65534, gid: 65534, stdout: "pipe" });
  const closed = new Promise((resolve) => child.process.once("close", resolve));
  let text = "";
  child.process.stdout?.on("data", (b: Buffer) => (text += b.toString()));
  assert.deepEqual(await child.exited, { code: 0, signal: null });
  await closed;
  assert.match(text, /^uid=65534\(\w+\) gid=65534\(\w+\) groups=65534\(\w+\)$/m);
});
