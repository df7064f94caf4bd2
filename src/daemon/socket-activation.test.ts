/**
 * tvirtd under systemd's protocols, with systemd's own tools (no systemd as PID 1 needed):
 *
 * - socket activation through `systemd-socket-activate` (src/testing/systemd.ts keeps the socket
 *   bound across runs, as systemd does): the first stock virsh connection starts tvirtd on the
 *   passed socket, it reports READY=1, exits after its idle timeout leaving the socket in
 *   place, and the next connection starts it again;
 * - SIGHUP (ExecReload) re-reads tvirtd.conf: the log level changes without a restart;
 * - unit-level pieces: LISTEN_* parsing and role mapping, the sockets a role replaces.
 */
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { privateSession, python3OrSkip, run, tvirtdBin, virshOrSkip } from "../testing/rpc/harness.ts";
import { pidsOf, socketActivateOrSkip, startSupervisor } from "../testing/systemd.ts";
import { takeListenFds } from "./activation.ts";
import { applyActivation } from "./main.ts";

test("takeListenFds: LISTEN_PID must be ours; names map to roles; unknown names are closed", () => {
  const closed: number[] = [];
  const close = (fd: number): void => {
    closed.push(fd);
  };
  const env: NodeJS.ProcessEnv = { LISTEN_FDS: "2", LISTEN_PID: "41", LISTEN_FDNAMES: "a:b" };
  assert.equal(takeListenFds(env, 42, close), undefined);
  assert.equal(env.LISTEN_FDS, undefined, "the variables are removed even when not for us");

  const env2: NodeJS.ProcessEnv = {
    LISTEN_FDS: "3",
    LISTEN_PID: "42",
    LISTEN_FDNAMES: "tvirtd-ro.socket:tvirtd-admin.socket:tvirtd.socket",
  };
  assert.deepEqual(takeListenFds(env2, 42, close), {
    sockets: [
      { fd: 3, name: "tvirtd-ro.socket", role: "ro" },
      { fd: 5, name: "tvirtd.socket", role: "rw" },
    ],
    refused: [{ fd: 4, name: "tvirtd-admin.socket" }],
  });
  assert.deepEqual(closed, [4]);
  assert.deepEqual(Object.keys(env2), []);

  // no names: fd 3 read-write, fd 4 read-only, as the units order them
  assert.deepEqual(takeListenFds({ LISTEN_FDS: "2", LISTEN_PID: "7" }, 7, close)?.sockets, [
    { fd: 3, name: "unknown", role: "rw" },
    { fd: 4, name: "unknown", role: "ro" },
  ]);
  assert.equal(takeListenFds({ LISTEN_FDS: "0", LISTEN_PID: "7" }, 7, close), undefined);
  assert.equal(takeListenFds({}, 7, close), undefined);
});

test("applyActivation: a passed socket replaces the paths of its role, compat paths stay", () => {
  const sockets = [
    { path: "/run/tvirt/tvirt-sock", readonly: false },
    { path: "/run/tvirt/tvirt-sock-ro", readonly: true },
    { path: "/run/libvirt/libvirt-sock", readonly: false, compat: true },
  ];
  assert.deepEqual(
    applyActivation(sockets, { sockets: [{ fd: 3, name: "tvirtd.socket", role: "rw" }], refused: [] }),
    [
      { path: "fd 3 (tvirtd.socket)", readonly: false, fd: 3 },
      { path: "/run/tvirt/tvirt-sock-ro", readonly: true },
      { path: "/run/libvirt/libvirt-sock", readonly: false, compat: true },
    ],
  );
});

test(
  "socket activation: virsh starts tvirtd on the passed socket, it exits when idle, the next connection starts it again; SIGHUP changes the log level",
  { timeout: 120_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const python = python3OrSkip(t);
    if (!python) return;
    if (!socketActivateOrSkip(t)) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-sockact-"));
    const { env } = privateSession(dir);
    const sock = join(dir, "tvirt-sock");
    const confDir = join(dir, "config", "tvirt");
    mkdirSync(confDir, { recursive: true });
    const conf = join(confDir, "tvirtd.conf");
    writeFileSync(conf, "log_level = 2\ncompat_sockets = 0\n");
    const sup = await startSupervisor({
      python,
      sock,
      dir,
      fdname: "tvirtd.socket",
      // the session instance of a private HOME, serving the test driver; its config file is
      // $XDG_CONFIG_HOME/tvirt/tvirtd.conf (the one SIGHUP re-reads)
      command: [process.execPath, tvirtdBin, "--session", "--uri", "test:///default", "--timeout", "3"],
      env,
      passEnv: ["HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"],
    });
    const uri = `test+unix:///default?socket=${sock}`;
    const venv = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const virshList = async (): Promise<string> => {
      const r = await run(virsh, ["-c", uri, "list", "--name"], { env: venv, timeoutMs: 30_000 });
      assert.equal(r.code, 0, `virsh: ${r.stderr}\n${sup.stderr()}`);
      return r.stdout;
    };
    try {
      await sup.waitFor((e) => e.event === "spawn", 10_000); // systemd-socket-activate waits
      assert.ok(lstatSync(sock).isSocket());

      // 1. the first connection starts tvirtd, which reports readiness and serves it
      const t0 = Date.now();
      assert.equal(await virshList(), "test\n\n");
      const [p1] = pidsOf(sup.events, "spawn");
      const ready = await sup.waitFor((e) => e.event === "notify" && /^READY=1$/m.test(e.message), 10_000);
      const { message: msg, sender } = sup.events[ready] as { message: string; sender: number | null };
      // systemd attributes a notification to a service by its sender's pid: tvirtd's own (as
      // root; other users' messages carry systemd-notify's pid, hence NotifyAccess=all)
      if (process.geteuid?.() === 0) assert.equal(sender, p1);
      assert.match(msg, new RegExp(`^MAINPID=${p1}$`, "m"), msg);
      assert.match(msg, /^STATUS=serving test:\/\/\/default$/m);
      assert.ok(
        sup
          .stderr()
          .includes(`info : listening on ${sock} (fd 3) (read-write, passed by the service manager)`),
        sup.stderr(),
      );

      // 2. no client: it exits after its timeout, cleanly, leaving the socket file to systemd
      const exit1 = await sup.waitFor((e) => e.event === "exit" && e.pid === p1, 20_000);
      assert.deepEqual(sup.events[exit1], { event: "exit", pid: p1, status: 0 });
      assert.ok(Date.now() - t0 >= 3000, "not before the 3 s timeout");
      assert.match(sup.stderr(), /no clients for 3 s: exiting/);
      assert.ok(
        sup.events.some(
          (e) =>
            e.event === "notify" &&
            e.message.includes("STOPPING=1") &&
            (process.geteuid?.() !== 0 || e.sender === p1),
        ),
        "STOPPING=1 before the exit",
      );
      assert.ok(lstatSync(sock).isSocket(), "the socket stays for the next activation");
      assert.ok(!existsSync(join(dir, "run", "tvirt", "tvirt-sock")), "tvirtd bound no socket itself");

      // 3. the next connection starts it again (a new process, the same socket)
      const before = sup.stderr().length;
      assert.equal(await virshList(), "test\n\n");
      const spawned = pidsOf(sup.events, "spawn");
      const p2 = spawned[1] ?? 0;
      assert.ok(p2 > 0 && p2 !== p1, `a second activation: ${JSON.stringify(sup.events)}`);
      assert.ok(!pidsOf(sup.events, "exit").includes(p2), "still running");
      // at log level 2 (info) the connection left no debug line
      assert.doesNotMatch(sup.stderr().slice(before), /: debug : /);

      // 4. SIGHUP: log_level 1 from now on, same process
      writeFileSync(conf, "log_level = 1\ncompat_sockets = 0\n");
      const hup = sup.stderr().length;
      process.kill(p2, "SIGHUP");
      await sup
        .waitFor((e) => e.event === "exit" && e.pid === p2, 1500)
        .then(
          () => assert.fail("tvirtd exited on SIGHUP"),
          () => undefined,
        );
      assert.equal(await virshList(), "test\n\n");
      const after = sup.stderr().slice(hup);
      assert.match(
        after,
        new RegExp(`${p2}: info : SIGHUP: configuration reloaded from ${conf} \\(log level 1\\)`),
      );
      assert.match(after, new RegExp(`${p2}: debug : client \\d+: connected`), after);
      assert.ok(!pidsOf(sup.events, "exit").includes(p2), "no restart");
      assert.equal(pidsOf(sup.events, "spawn").length, 2);

      // a broken file is refused and changes nothing
      writeFileSync(conf, "log_level = 9\n");
      process.kill(p2, "SIGHUP");
      await sup.waitFor(() => false, 500).catch(() => undefined);
      assert.match(sup.stderr(), /SIGHUP: configuration not reloaded: .*log_level/);
      await sup.waitFor((e) => e.event === "exit" && e.pid === p2, 20_000);
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
