/**
 * packaging/logrotate/tvirt (installed as /etc/logrotate.d/tvirt): `logrotate -d` accepts it,
 * its patterns are where the QEMU driver of the system instance writes guest logs and where
 * tvirtd writes its own, and a forced rotation of a copy pointed at a temp dir works with a
 * writer that keeps the log open (as QEMU does): the old lines go to NAME.log.1, the next ones
 * land at the start of the emptied NAME.log (copytruncate with O_APPEND: no hole of zeros).
 */
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { driverPaths } from "../drivers/qemu/paths.ts";
import { runArgv } from "../util/spawn.ts";

const rule = fileURLToPath(new URL("../../packaging/logrotate/tvirt", import.meta.url));
const logrotate = ["/usr/sbin/logrotate", "/sbin/logrotate"].find((p) => existsSync(p));

function logrotateOrSkip(t: TestContext): string | undefined {
  if (logrotate) return logrotate;
  if (process.env.CI === "true") assert.fail("logrotate is missing (apt-get install logrotate)");
  t.skip("logrotate is missing (apt-get install logrotate)");
  return undefined;
}

test("the rule covers the system instance's guest logs and tvirtd's log", () => {
  const text = readFileSync(rule, "utf8");
  assert.equal(driverPaths({ kind: "system" }).logDir, "/var/log/tvirt/qemu");
  assert.match(text, /^\/var\/log\/tvirt\/qemu\/\*\.log \{$/m);
  assert.match(text, /^\/var\/log\/tvirt\/tvirtd\.log \{$/m);
  // QEMU holds its log open: only copytruncate rotates it without a signal
  for (const block of text.split(/^\/var/m).slice(1)) assert.match(block, /^\s+copytruncate$/m);
});

test("logrotate -d accepts the rule", async (t) => {
  const bin = logrotateOrSkip(t);
  if (!bin) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-logrotate-"));
  try {
    const r = await runArgv([bin, "-d", "-s", join(dir, "status"), rule]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /^error:/m);
    assert.match(r.stdout + r.stderr, /rotating pattern: \/var\/log\/tvirt\/qemu\/\*\.log/);
    // the same check fails on a broken rule
    writeFileSync(join(dir, "bad"), readFileSync(rule, "utf8").replace("weekly", "weeklyish"));
    const bad = await runArgv([bin, "-d", "-s", join(dir, "status"), join(dir, "bad")]);
    assert.match(bad.stdout + bad.stderr, /error:.*weeklyish/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a forced rotation with the log held open by its writer", async (t) => {
  const bin = logrotateOrSkip(t);
  if (!bin) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-logrotate-"));
  try {
    let text = readFileSync(rule, "utf8").replaceAll("/var/log/tvirt", dir);
    // `su` names root: as another user logrotate runs as that user anyway
    if (process.getuid?.() !== 0) text = text.replace(/^\s+su root root$/gm, "");
    writeFileSync(join(dir, "rule"), text);
    mkdirSync(join(dir, "qemu"));
    const log = join(dir, "qemu", "g1.log");
    const fd = openSync(log, "a", 0o600);
    try {
      writeSync(fd, "before rotation\n");
      const r = await runArgv([bin, "-f", "-s", join(dir, "status"), join(dir, "rule")]);
      assert.equal(r.code, 0, r.stderr);
      writeSync(fd, "after rotation\n");
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(`${log}.1`, "utf8"), "before rotation\n");
    assert.equal(readFileSync(log, "utf8"), "after rotation\n", "no hole before the new line");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
