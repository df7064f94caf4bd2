/**
 * The daemon's log under systemd and without it: with stderr connected to the journal
 * (`JOURNAL_STREAM` naming stderr's device and inode, as systemd sets it) every line carries an
 * sd-daemon(3) `<N>` priority prefix and no timestamp, and no log file is written; otherwise
 * lines are libvirt's (timestamp, pid, level) on stderr and in the instance's log file. The
 * daemon runs for real (a session instance in a temp HOME) with its stderr a file whose
 * device:inode is passed as JOURNAL_STREAM: the check journald's stream protocol makes is the
 * same stat.
 */
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { privateSession, spawnDaemon } from "../testing/rpc/harness.ts";
import { defaultConfig } from "./config.ts";
import { journalLine, Logger, LogPriority, parseLogOutputs, stderrIsJournal } from "./log.ts";
import { logOutputs } from "./main.ts";

test("journal lines: sd-daemon priorities on every line", () => {
  assert.equal(journalLine(LogPriority.DEBUG, "d"), "<7>d\n");
  assert.equal(journalLine(LogPriority.INFO, "i"), "<6>i\n");
  assert.equal(journalLine(LogPriority.WARN, "w"), "<4>w\n");
  assert.equal(journalLine(LogPriority.ERROR, "e\n  at x"), "<3>e\n<3>  at x\n");
});

test("stderrIsJournal: JOURNAL_STREAM must name the descriptor's device and inode", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-journal-"));
  const fd = openSync(join(dir, "stream"), "w");
  const other = openSync(join(dir, "other"), "w");
  try {
    const st = fstatSync(fd, { bigint: true });
    const env = { JOURNAL_STREAM: `${st.dev}:${st.ino}` };
    assert.equal(stderrIsJournal(env, fd), true);
    assert.equal(stderrIsJournal(env, other), false, "stderr redirected elsewhere");
    assert.equal(stderrIsJournal({}, fd), false);
    assert.equal(stderrIsJournal({ JOURNAL_STREAM: "garbage" }, fd), false);
  } finally {
    closeSync(fd);
    closeSync(other);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("logOutputs: the journal alone under systemd, stderr and a file otherwise", () => {
  const cfg = defaultConfig();
  const env = { HOME: "/home/u" };
  assert.deepEqual(logOutputs(cfg, "system", false, false, env, true), [
    { priority: 3, dest: { kind: "journal" } },
  ]);
  assert.deepEqual(logOutputs(cfg, "system", false, false, env, false), [
    { priority: 3, dest: { kind: "stderr" } },
    { priority: 3, dest: { kind: "file", path: "/var/log/tvirt/tvirtd.log" } },
  ]);
  assert.deepEqual(logOutputs(cfg, "session", false, true, env, false)[1], {
    priority: 3,
    dest: { kind: "file", path: "/home/u/.cache/tvirt/log/tvirtd.log" },
  });
  // log_outputs: journald is plain stderr without the journal, stderr gets priorities with it
  cfg.logOutputs = parseLogOutputs("1:journald 3:file:/x.log 2:stderr");
  assert.deepEqual(logOutputs(cfg, "system", false, false, env, false), [
    { priority: 1, dest: { kind: "stderr" } },
    { priority: 3, dest: { kind: "file", path: "/x.log" } },
    { priority: 2, dest: { kind: "stderr" } },
  ]);
  assert.deepEqual(logOutputs(cfg, "system", false, false, env, true), [
    { priority: 1, dest: { kind: "journal" } },
    { priority: 3, dest: { kind: "file", path: "/x.log" } },
    { priority: 2, dest: { kind: "journal" } },
  ]);
});

test("Logger: a journal output writes prefixed lines to fd 2's place, files keep libvirt's lines", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-journal-"));
  try {
    const log = new Logger([{ priority: 2, dest: { kind: "file", path: join(dir, "x.log") } }]);
    log.info("hello");
    log.debug("not this");
    log.close();
    assert.match(
      readFileSync(join(dir, "x.log"), "utf8"),
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: \d+: info : hello\n$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const journal of [true, false]) {
  test(`tvirtd ${journal ? "under systemd logs to the journal with priorities" : "without the journal logs to stderr and its file"}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tvirt-journal-"));
    const { env } = privateSession(dir);
    const conf = join(dir, "tvirtd.conf");
    writeFileSync(conf, "log_level = 2\n");
    const errFile = join(dir, "stderr");
    const fd = openSync(errFile, "w");
    const st = fstatSync(fd, { bigint: true });
    const sock = join(dir, "run", "tvirt", "tvirt-sock");
    try {
      const d = await spawnDaemon(["--session", "-f", conf], [sock], {
        env: { ...env, ...(journal ? { JOURNAL_STREAM: `${st.dev}:${st.ino}` } : { JOURNAL_STREAM: "1:1" }) },
        stdio: ["ignore", "ignore", fd],
      });
      assert.equal(await d.stop(), 0);
      const lines = readFileSync(errFile, "utf8")
        .split("\n")
        .filter((l) => l !== "");
      assert.ok(lines.length >= 2, lines.join("\n"));
      const file = join(dir, "cache", "tvirt", "log", "tvirtd.log");
      if (journal) {
        for (const l of lines) assert.match(l, /^<[3467]>[^<\d]/, "an sd-daemon prefix, no timestamp");
        assert.ok(
          lines.some((l) => l.startsWith("<6>") && l.includes("networks loaded")),
          lines.join("\n"),
        );
        assert.ok(
          lines.some((l) => /^<6>SIGTERM: stopping/.test(l)),
          lines.join("\n"),
        );
        assert.equal(existsSync(file), false, "no log file under the journal");
      } else {
        for (const l of lines)
          assert.match(l, /^\d{4}-\d\d-\d\d [\d:.]+\+0000: \d+: (info|warning|error) : /);
        assert.match(readFileSync(file, "utf8"), /: info : SIGTERM: stopping/);
      }
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
