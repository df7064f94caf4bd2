/**
 * tvirtd as a process: configuration file and command line, socket modes and group, libvirt's
 * compatibility paths (stock virsh finds them), max_clients, pid file (one daemon per instance),
 * busy sockets, logs, graceful SIGTERM, the idle timeout, and the per-user session instance
 * started on demand by tvirt's remote driver and by stock virsh (as an unprivileged user).
 * Nothing here touches the system paths: the system instance runs under a temporary --run-dir.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chownSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RawClient, run, spawnDaemon, tvirtdBin, virshOrSkip } from "../testing/rpc/harness.ts";
import { applyConf, defaultConfig, parseConf, resolveGroup } from "./config.ts";
import { parseLogOutputs } from "./log.ts";
import { parseArgs } from "./main.ts";

const env = { ...process.env, LANG: "C", LC_ALL: "C" };

describe("configuration", () => {
  test("libvirtd.conf syntax: ints, strings, lists, comments", () => {
    const m = parseConf(
      '# comment\nunix_sock_group = "libvirt"\nmax_clients=20 # trailing\nlog_outputs = "1:file:/tmp/x.log 3:stderr"\n' +
        'tls_allowed_dn_list = [ "a",\n  "b" ]\nkeepalive_interval = -1\n',
      "t.conf",
    );
    assert.deepEqual(Object.fromEntries(m), {
      unix_sock_group: "libvirt",
      max_clients: 20,
      log_outputs: "1:file:/tmp/x.log 3:stderr",
      tls_allowed_dn_list: ["a", "b"],
      keepalive_interval: -1,
    });
    const cfg = applyConf(defaultConfig(), m, "t.conf");
    assert.equal(cfg.maxClients, 20);
    assert.equal(cfg.keepaliveInterval, -1);
    assert.deepEqual(cfg.logOutputs, [
      { priority: 1, dest: { kind: "file", path: "/tmp/x.log" } },
      { priority: 3, dest: { kind: "stderr" } },
    ]);
    assert.deepEqual(cfg.ignored, ["tls_allowed_dn_list"]);
  });

  test("errors name the file, line and what is expected", () => {
    assert.throws(
      () => parseConf("max_clients = \n", "a.conf"),
      /configuration file syntax error: a\.conf:1: expected a value/,
    );
    assert.throws(() => parseConf('x = "open\n', "a.conf"), /a\.conf:1: unterminated string/);
    assert.throws(() => parseConf("\n\nfoo bar\n", "a.conf"), /a\.conf:3: expected '=' after 'foo'/);
    assert.throws(
      () => applyConf(defaultConfig(), parseConf('unix_sock_rw_perms = "rw-rw----"', "b"), "b"),
      /b: unix_sock_rw_perms: expected an octal mode string/,
    );
    assert.throws(
      () => applyConf(defaultConfig(), parseConf("max_clients = 0", "b"), "b"),
      /expected an integer >= 1/,
    );
    assert.throws(
      () => applyConf(defaultConfig(), parseConf("listen_tcp = 1", "b"), "b"),
      /UNIX sockets only/,
    );
    assert.throws(() => parseLogOutputs("9:stderr"), /bad log output '9:stderr'/);
  });

  test("groups resolve by name or number", () => {
    const dir = mkdtempSync(join(tmpdir(), "tvirt-grp-"));
    try {
      writeFileSync(join(dir, "group"), "root:x:0:\nlibvirt:x:123:alice\n");
      assert.equal(resolveGroup("libvirt", join(dir, "group")), 123);
      assert.equal(resolveGroup("77", join(dir, "group")), 77);
      assert.equal(resolveGroup("nosuch", join(dir, "group")), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("command line: libvirtd's options and the test listeners", () => {
    const a = parseArgs([
      "--timeout=120",
      "-f",
      "/x.conf",
      "--listen",
      "/a",
      "--listen-ro",
      "/b",
      "--uri",
      "test:///default",
      "-v",
    ]);
    assert.equal(a.timeout, 120);
    assert.equal(a.config, "/x.conf");
    assert.deepEqual([a.listen, a.listenRo, a.uri, a.verbose], [["/a"], ["/b"], "test:///default", true]);
    assert.throws(() => parseArgs(["--bogus"]), /unsupported option '--bogus'/);
    assert.throws(() => parseArgs(["-t", "x"]), /Invalid value for timeout/);
  });
});

describe("system instance (under a temporary run dir)", () => {
  test("sockets, modes, group, compatibility path, max_clients, pid file, logs, SIGTERM", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tvirt-sys-"));
    const conf = join(dir, "tvirtd.conf");
    const log = join(dir, "log", "tvirtd.log");
    writeFileSync(
      conf,
      `unix_sock_group = "0"\nmax_clients = 3\nlog_outputs = "2:file:${log}"\nmax_workers = 4\n`,
    );
    const runDir = join(dir, "run");
    const args = ["--system", "--run-dir", runDir, "-f", conf, "--uri", "test:///default"];
    const rw = join(runDir, "tvirt", "tvirt-sock");
    const ro = join(runDir, "tvirt", "tvirt-sock-ro");
    const compat = join(runDir, "libvirt", "libvirt-sock");
    const compatRo = join(runDir, "libvirt", "libvirt-sock-ro");
    const d = await spawnDaemon(args, [rw, ro, compat, compatRo], { env });
    try {
      const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
      assert.deepEqual([mode(rw), mode(ro), mode(compat), mode(compatRo)], ["660", "666", "660", "666"]);
      assert.equal(statSync(rw).gid, 0);
      const pidFile = join(runDir, "tvirt", "tvirtd.pid");
      assert.equal(readFileSync(pidFile, "utf8").trim(), String(d.pid));

      const virsh = virshOrSkip(t);
      if (virsh) {
        const r = await run(virsh, ["-c", `test+unix:///default?socket=${compat}`, "list --name"], { env });
        assert.deepEqual(r, { code: 0, stdout: "test\n\n", stderr: "" });
      }

      // max_clients = 3: the fourth connection is closed at once
      const held = await Promise.all([RawClient.connect(rw), RawClient.connect(rw), RawClient.connect(ro)]);
      await new Promise((r) => setTimeout(r, 200));
      const fourth = await RawClient.connect(rw);
      assert.equal(await fourth.waitClosed(3000), true);
      for (const c of held) c.close();

      // a second daemon for the same instance refuses to start
      const second = await run(process.execPath, [tvirtdBin, ...args], { env });
      assert.equal(second.code, 1);
      assert.match(
        second.stderr + readFileSync(log, "utf8"),
        new RegExp(`another tvirtd \\(pid ${d.pid}\\) already serves this instance`),
      );
      // ... and one with another pid file cannot take live sockets
      const third = await run(process.execPath, [tvirtdBin, ...args, "-p", join(dir, "other.pid")], { env });
      assert.equal(third.code, 1);
      assert.match(readFileSync(log, "utf8"), /socket '.*tvirt-sock' is in use by another running daemon/);

      assert.match(
        readFileSync(log, "utf8"),
        /configuration setting max_workers is not implemented by tvirtd/,
      );
      assert.match(readFileSync(log, "utf8"), /listening on .*tvirt-sock-ro \(read-only, mode 0666\)/);
      const t0 = Date.now();
      assert.equal(await d.stop("SIGTERM"), 0);
      assert.ok(Date.now() - t0 < 3000, "graceful stop took too long");
      for (const p of [rw, ro, compat, compatRo, pidFile])
        assert.equal(existsSync(p), false, `${p} left behind`);
      assert.match(readFileSync(log, "utf8"), /SIGTERM: stopping \(guests keep running\)[\s\S]*stopped/);
    } finally {
      await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a stale socket and pid file from a killed daemon are replaced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tvirt-stale-"));
    const sock = join(dir, "sock");
    const pid = join(dir, "tvirtd.pid");
    try {
      const a = await spawnDaemon(["--listen", sock, "-p", pid], [sock], { env });
      assert.equal(await a.stop("SIGKILL"), null);
      assert.equal(existsSync(sock), true);
      assert.equal(existsSync(pid), true);
      const b = await spawnDaemon(["--listen", sock, "-p", pid], [sock], { env });
      assert.equal(readFileSync(pid, "utf8").trim(), String(b.pid));
      assert.equal(await b.stop(), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the idle timeout stops a daemon nobody uses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tvirt-idle-"));
    const sock = join(dir, "sock");
    try {
      const d = await spawnDaemon(["--listen", sock, "--timeout", "1"], [sock], { env });
      const c = await RawClient.connect(sock);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(existsSync(sock), true, "exited while a client was connected");
      const t0 = Date.now();
      c.close();
      assert.equal(await d.exited, 0);
      const waited = Date.now() - t0;
      assert.ok(waited >= 900 && waited < 4000, `exited after ${waited} ms`);
      assert.equal(existsSync(sock), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Session instance, as an unprivileged user
// ---------------------------------------------------------------------------------------------

function nobody(): { uid: number; gid: number } | undefined {
  if (process.geteuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("nobody:"));
  if (!line) return undefined;
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

function daemonPidFrom(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("tvirtd") ||
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("libvirtd")
      ? pid
      : undefined;
  } catch {
    return undefined;
  }
}

describe("session instance, started on demand", () => {
  test("tvirt's remote driver starts a per-user tvirtd, which exits when idle", async (t) => {
    const user = nobody();
    if (!user) {
      t.skip("needs root (to run a client as the unprivileged user 'nobody')");
      return;
    }
    const home = mkdtempSync(join(tmpdir(), "tvirt-session-"));
    chownSync(home, user.uid, user.gid);
    try {
      const script =
        `import "${join(import.meta.dirname, "..", "rpc", "register.ts")}";` +
        `import { connect } from "${join(import.meta.dirname, "..", "api", "index.ts")}";` +
        `const c = await connect("test+unix:///default");` +
        `console.log((await c.listAllDomains()).map((d) => d.name).join(","), await c.getType());` +
        `await c.close();`;
      const r = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        uid: user.uid,
        gid: user.gid,
        cwd: join(import.meta.dirname, "..", ".."),
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: home,
          XDG_RUNTIME_DIR: home,
          TVIRT_AUTOSTART_TIMEOUT: "2",
          LANG: "C",
        },
      });
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "test TEST\n");
      const pidFile = join(home, "tvirt", "tvirtd.pid");
      const pid = daemonPidFrom(pidFile);
      assert.ok(pid !== undefined, "no session daemon running");
      assert.equal(statSync(join(home, "tvirt", "tvirt-sock")).uid, user.uid);
      assert.equal(statSync(join(home, "libvirt", "libvirt-sock")).mode & 0o777, 0o600);
      assert.equal(
        await waitFor(() => !existsSync(pidFile), 10_000),
        true,
        "the session daemon did not exit when idle",
      );
      assert.equal(existsSync(join(home, "tvirt", "tvirt-sock")), false);
    } finally {
      const pid = daemonPidFrom(join(home, "tvirt", "tvirtd.pid"));
      if (pid !== undefined) process.kill(pid, "SIGTERM");
      rmSync(home, { recursive: true, force: true });
    }
  });

  test("stock virsh starts it too (LIBVIRTD_PATH naming a directory with libvirtd -> tvirtd)", async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const user = nobody();
    if (!user) {
      t.skip("needs root (to run virsh as the unprivileged user 'nobody')");
      return;
    }
    const home = mkdtempSync(join(tmpdir(), "tvirt-session-"));
    chownSync(home, user.uid, user.gid);
    const bin = join(home, "bin");
    mkdirSync(bin);
    symlinkSync(tvirtdBin, join(bin, "libvirtd"));
    const pidFile = join(home, "tvirt", "tvirtd.pid");
    try {
      const r = await run(virsh, ["-c", "test+unix:///default", "list --all; version --daemon"], {
        uid: user.uid,
        gid: user.gid,
        cwd: home,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: home,
          XDG_RUNTIME_DIR: home,
          LIBVIRTD_PATH: bin,
          LANG: "C",
        },
      });
      assert.equal(r.stderr, "");
      assert.match(r.stdout, /^ 1 +test +running$/m);
      assert.match(r.stdout, /^Running against daemon: 9\.0\.0$/m);
      const pid = daemonPidFrom(pidFile);
      assert.ok(pid !== undefined, "no session daemon running");
      assert.equal(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--timeout=120"), true);
      process.kill(pid, "SIGTERM");
      assert.equal(await waitFor(() => !existsSync(pidFile), 5000), true);
    } finally {
      const pid = daemonPidFrom(pidFile);
      if (pid !== undefined) process.kill(pid, "SIGKILL");
      rmSync(home, { recursive: true, force: true });
    }
  });
});
