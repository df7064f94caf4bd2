/**
 * The Debian package on a plain Debian 12: `npm run package:deb`'s .deb is installed with
 * `dpkg -i` and `apt-get -f install` into a debootstrap root (made once by scripts/setup, see
 * scripts/debootstrap-root.sh; its Debian nodejs is not installed: the package brings its own
 * runtime), a guest is driven there through /usr/bin/tvirsh and the installed tvirtd (started
 * by hand: no systemd in a chroot), the sockets' access is checked (read-write for the group
 * tvirt only, read-only for anyone), a user's session daemon is started on demand, the logrotate
 * rule is read by logrotate, the package is upgraded over itself while the guest runs
 * (the postinst restarts tvirtd, the guest's QEMU runs on and its counter goes on), then purged,
 * after which the root holds the same files, users and groups as before. Last, the maintainer
 * scripts' systemd branch: install, upgrade and purge again with a systemctl that logs what it
 * is asked (no systemd can run in the chroot), and the root as before once more.
 *
 * Isolation: the cached root is never written; the test works on an overlay of it, mounted in a
 * mount, network and PID namespace of its own (unshare) whose init reaps orphans. /proc, /sys
 * and /dev are bound in it and /run is a tmpfs, as on a booted system; the default network the
 * daemon starts lives in that namespace's network, never the host's. Killing the namespace's
 * init ends everything in it (tvirtd, QEMU, dnsmasq) and the mounts go with it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { runArgv, startArgv, type RunResult } from "../util/spawn.ts";

const repoDir = fileURLToPath(new URL("../..", import.meta.url));
const cachedRoot =
  process.env.TVIRT_DEBOOTSTRAP_ROOT ?? join(homedir(), ".cache", "tvirt", "debootstrap-bookworm");
const HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** The namespace's init: reaps every orphan (tvirtd started with setsid), sleeps otherwise. */
const REAPER = "$SIG{TERM} = sub { exit 0 }; while (1) { waitpid(-1, 0) > 0 or sleep 1 }";

/**
 * Files that dpkg and apt keep about their own runs, not tvirt's: present or not, before and
 * after, whatever package is installed and purged (apt-get's first run in the root makes its
 * caches and lock files).
 */
const BOOKKEEPING = [
  /^\/var\/lib\/dpkg\/updates\//,
  /^\/var\/log\/(dpkg\.log|apt\/)/,
  /^\/var\/cache\/apt\//,
  /^\/var\/lib\/apt\/lists\/(auxfiles|lock|partial)/,
  /^\/var\/(lib\/dpkg|cache\/debconf)\/[^/]*-old$/,
];

/** Skips (fails under CI) when `why` is set; whether the test may go on. */
function require_(t: TestContext, why: string | undefined): boolean {
  if (why === undefined) return true;
  if (process.env.CI === "true") assert.fail(`${why} (required under CI)`);
  t.skip(why);
  return false;
}

async function has(argv: string[]): Promise<boolean> {
  try {
    return (await runArgv(argv, { env: { PATH: HOST_PATH } })).code === 0;
  } catch {
    return false;
  }
}

test(
  "the .deb installs on Debian 12, runs a guest, upgrades over itself under it and purges clean",
  { timeout: 240_000 },
  async (t) => {
    if (!require_(t, process.getuid?.() === 0 ? undefined : "needs root (namespaces, chroot, dpkg)")) return;
    for (const tool of ["dpkg-deb", "unshare", "nsenter", "chroot", "perl"])
      if (!require_(t, (await has(["sh", "-c", 'command -v "$0"', tool])) ? undefined : `${tool} is missing`))
        return;
    const noRoot = `no Debian 12 root at ${cachedRoot} (scripts/setup makes it: scripts/debootstrap-root.sh)`;
    if (!require_(t, existsSync(join(cachedRoot, ".tvirt-root")) ? undefined : noRoot)) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const work = mkdtempSync(join(tmpdir(), "tvirt-deb-test-"));
    // The namespace's init (killing it ends all in it), then the directory.
    const ns: { init: number; exited?: Promise<unknown>; kill?: () => void } = { init: 0 };
    t.after(async () => {
      if (ns.init > 0) {
        try {
          process.kill(ns.init, "SIGKILL");
        } catch {
          // already gone
        }
      }
      ns.kill?.();
      await ns.exited;
      rmSync(work, { recursive: true, force: true });
    });

    // Where the time goes, in the test's diagnostics.
    let mark = Date.now();
    const lap = (what: string): void => {
      t.diagnostic(`${what}: ${((Date.now() - mark) / 1000).toFixed(1)} s`);
      mark = Date.now();
    };

    // The package, built from this clone (the bundles first, when they are stale).
    const built = await runArgv([process.execPath, join(repoDir, "scripts/package-deb.js"), "--out", work], {
      env: { PATH: process.env.PATH ?? HOST_PATH, HOME: homedir() },
      timeoutMs: 120_000,
    });
    assert.equal(built.code, 0, built.stderr);
    const debs = readdirSync(work).filter((f) => /^tvirt_.*\.deb$/.test(f));
    assert.equal(debs.length, 1, built.stdout);
    const deb = join(work, debs[0]!);

    lap("package built");
    // The namespace and its init.
    const holder = startArgv(
      ["unshare", "--mount", "--net", "--pid", "--fork", "--propagation", "private", "perl", "-e", REAPER],
      { stdio: "ignore" },
    );
    ns.exited = new Promise((resolve) => holder.once("exit", resolve));
    ns.kill = () => {
      if (holder.exitCode === null) holder.kill("SIGKILL");
    };
    const children = `/proc/${String(holder.pid)}/task/${String(holder.pid)}/children`;
    for (let i = 0; i < 100 && ns.init === 0; i++) {
      const kids = existsSync(children) ? readFileSync(children, "utf8").trim() : "";
      if (kids !== "") ns.init = Number(kids.split(" ")[0]);
      else await sleep(20);
    }
    const init = ns.init;
    assert.ok(init > 0, "the namespace's init did not start");

    const inNs = async (argv: string[], timeoutMs = 60_000): Promise<RunResult> =>
      runArgv(["nsenter", "-t", String(init), "-m", "-n", "-p", "--", ...argv], {
        env: { PATH: HOST_PATH, LC_ALL: "C" },
        timeoutMs,
      });
    const root = join(work, "merged");
    // In the root: a clean environment, as a login there would have.
    const inRoot = (argv: string[], timeoutMs?: number): Promise<RunResult> =>
      inNs(["env", "-i", `PATH=${HOST_PATH}`, "HOME=/root", "LC_ALL=C", "chroot", root, ...argv], timeoutMs);
    const ok = async (argv: string[], timeoutMs?: number): Promise<string> => {
      const r = await inRoot(argv, timeoutMs);
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    const nsOk = async (argv: string[]): Promise<void> => {
      const r = await inNs(argv);
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    };

    for (const d of ["upper", "work", "merged"]) await nsOk(["mkdir", join(work, d)]);
    await nsOk([
      "mount",
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${cachedRoot},upperdir=${join(work, "upper")},workdir=${join(work, "work")}`,
      root,
    ]);
    await nsOk(["mount", "-t", "proc", "proc", join(root, "proc")]);
    await nsOk(["mount", "--rbind", "/sys", join(root, "sys")]);
    await nsOk(["mount", "--rbind", "/dev", join(root, "dev")]);
    await nsOk(["mount", "-t", "tmpfs", "tmpfs", join(root, "run")]);

    const ACCOUNTS = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"];
    const snapshot = async (): Promise<{ files: string[]; accounts: string }> => {
      const files = (await ok(["find", "/", "-xdev"])).split("\n").filter((f) => f !== "");
      const accounts = await ok(["cat", ...ACCOUNTS]);
      return { files: files.filter((f) => !BOOKKEEPING.some((re) => re.test(f))).sort(), accounts };
    };
    const before = await snapshot();

    lap("namespace and root ready");
    // Install: dpkg -i, then apt-get -f install (which has nothing left to do: the root has the
    // dependencies; it must not fail either).
    await nsOk(["cp", deb, join(root, "tmp", "tvirt.deb")]);
    await ok(["dpkg", "-i", "/tmp/tvirt.deb"], 120_000);
    await ok(["apt-get", "-f", "install", "-y", "-q"], 120_000);
    assert.equal(await ok(["dpkg-query", "-W", "-f=${Status}", "tvirt"]), "install ok installed");
    // Every file as shipped (md5sums), also after the postinst ran tvirsh once.
    assert.equal(await ok(["dpkg", "--verify", "tvirt"]), "");
    // Debian 12's nodejs is not there, and tvirt does not need it.
    assert.notEqual((await inRoot(["sh", "-c", "command -v node"])).code, 0, "the root has a node");
    assert.match(await ok(["/usr/lib/tvirt/node", "--version"]), /^v(2\d|[3-9]\d)\./);
    await ok(["getent", "passwd", "tvirt-qemu"]);
    await ok(["getent", "group", "tvirt"]);
    for (const page of ["man1/tvirsh.1.gz", "man8/tvirtd.8.gz", "man1/tvirt-host-validate.1.gz"])
      await ok(["test", "-s", `/usr/share/man/${page}`]);
    await ok(["test", "-f", "/etc/logrotate.d/tvirt"]);
    await ok(["test", "-f", "/etc/default/tvirt-guests"]);
    await ok(["test", "-s", "/usr/share/bash-completion/completions/tvirsh"]);
    await ok(["test", "-s", "/usr/share/zsh/vendor-completions/_tvirsh"]);
    // tvirt-guests runs from the package's runtime (status reads the record and the daemons).
    await ok(["/usr/bin/tvirt-guests", "--help"]);
    // Enabled as debhelper does (deb-systemd-helper), so that a boot of this root starts them.
    for (const link of [
      "sockets.target.wants/tvirtd.socket",
      "sockets.target.wants/tvirtd-ro.socket",
      "multi-user.target.wants/tvirtd.service",
    ])
      await ok(["test", "-L", `/etc/systemd/system/${link}`]);
    assert.match(await ok(["tvirsh", "-c", "test:///default", "list", "--all"]), /test\s+running/);
    await ok(["tvirt-host-validate", "--version"]);

    lap("installed");
    /** Waits (5 s at most) until process `pid` of the namespace is gone. */
    const gone = async (pid: string): Promise<void> => {
      for (let i = 0; i < 50; i++) {
        if ((await inRoot(["test", "-d", `/proc/${pid}`])).code !== 0) return;
        await sleep(100);
      }
      assert.fail(`process ${pid} still runs`);
    };

    // The daemon, started by hand, and a guest through it.
    const startDaemon = (): Promise<string> =>
      ok(["sh", "-c", "exec setsid -f /usr/bin/tvirtd </dev/null >/dev/null 2>&1"]);
    const daemonPid = async (): Promise<string> => {
      for (let i = 0; i < 300; i++) {
        const r = await inRoot(["sh", "-c", "cat /run/tvirt/tvirtd.pid && tvirsh -q uri >/dev/null"]);
        if (r.code === 0 && r.stdout.trim() !== "") return r.stdout.trim();
        await sleep(100);
      }
      assert.fail("tvirtd did not come up");
    };
    await startDaemon();
    const pid1 = await daemonPid();
    await ok(["mkdir", "-p", "/var/lib/tvirt/images"]);
    await nsOk(["cp", guest.kernel, join(root, "var/lib/tvirt/images/vmlinuz")]);
    await nsOk(["cp", guest.initrd, join(root, "var/lib/tvirt/images/initrd.img")]);
    const serial = "/var/lib/tvirt/images/counter.serial";
    const xml = join(work, "counter.xml");
    writeFileSync(
      xml,
      guestDomainXML({
        name: "counter",
        mode: "counter",
        memoryMiB: 96,
        kernel: "/var/lib/tvirt/images/vmlinuz",
        initrd: "/var/lib/tvirt/images/initrd.img",
        serialLogPath: serial,
      }),
    );
    await nsOk(["cp", xml, join(root, "var/lib/tvirt/images/counter.xml")]);
    await ok(["tvirsh", "define", "/var/lib/tvirt/images/counter.xml"]);
    await ok(["tvirsh", "start", "counter"]);
    const counter = async (atLeast: number): Promise<number> => {
      for (let i = 0; i < 600; i++) {
        const r = await inRoot(["cat", serial]);
        const all = [...r.stdout.matchAll(/COUNTER (\d+)/g)].map((m) => Number(m[1]));
        const last = all.at(-1) ?? 0;
        if (last >= atLeast) return last;
        await sleep(100);
      }
      assert.fail(`the guest's counter did not reach ${String(atLeast)}`);
    };
    const c1 = await counter(2);
    const qemuPid = (await ok(["cat", "/run/tvirt/qemu/counter.pid"])).trim();
    assert.match(qemuPid, /^\d+$/);
    // The guest's QEMU log, and the logrotate rule that takes it (logrotate -d says so on stderr).
    const rotate = await inRoot(["logrotate", "-d", "/etc/logrotate.d/tvirt"]);
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stderr, /considering log \/var\/log\/tvirt\/qemu\/counter\.log/);

    // The read-write socket is for the group tvirt; anyone may use the read-only one. (System
    // users: a regular one would get /etc/subuid entries, files tvirt has nothing to do with.)
    await ok(["useradd", "--system", "--groups", "tvirt", "alice"]);
    await ok(["useradd", "--system", "bob"]);
    const as = (user: string, ...args: string[]): Promise<RunResult> =>
      inRoot(["runuser", "-u", user, "--", "tvirsh", "-c", "qemu:///system", ...args]);
    const alice = await as("alice", "list");
    assert.equal(alice.code, 0, alice.stderr);
    assert.match(alice.stdout, /counter\s+running/);
    const bob = await as("bob", "list");
    assert.notEqual(bob.code, 0, "a user outside the group tvirt used the read-write socket");
    assert.match(bob.stderr, /Permission denied/);
    const bobRo = await as("bob", "-r", "list");
    assert.equal(bobRo.code, 0, bobRo.stderr);
    assert.match(bobRo.stdout, /counter\s+running/);
    await ok(["userdel", "alice"]);
    await ok(["userdel", "bob"]);

    // A user's own session daemon, started by tvirsh from the installed launcher and runtime.
    await ok(["useradd", "--system", "--create-home", "--home-dir", "/home/carol", "carol"]);
    const uid = (await ok(["id", "-u", "carol"])).trim();
    await ok(["install", "-d", "-o", "carol", "-m", "0700", `/run/user/${uid}`]);
    const session = await inRoot([
      "runuser",
      "-u",
      "carol",
      "--",
      "env",
      `XDG_RUNTIME_DIR=/run/user/${uid}`,
      "HOME=/home/carol",
      "tvirsh",
      "-c",
      "qemu:///session",
      "list",
      "--all",
    ]);
    assert.equal(session.code, 0, session.stderr);
    const sessionPid = (await ok(["cat", `/run/user/${uid}/tvirt/tvirtd.pid`])).trim();
    assert.equal((await ok(["stat", "-c", "%U", `/proc/${sessionPid}`])).trim(), "carol");
    await ok(["sh", "-c", 'kill "$0"', sessionPid]);
    await gone(sessionPid);
    await ok(["userdel", "--remove", "carol"]);
    await ok(["rm", "-rf", `/run/user/${uid}`]);

    lap("daemon and guest up");
    // Upgrade over itself with the guest running: tvirtd is restarted, the guest is not.
    const upgrade = await inRoot(["dpkg", "-i", "/tmp/tvirt.deb"], 120_000);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    assert.match(upgrade.stdout + upgrade.stderr, /tvirtd restarted/);
    const pid2 = await daemonPid();
    assert.notEqual(pid2, pid1, "tvirtd was not restarted by the upgrade");
    assert.match(await ok(["tvirsh", "domstate", "counter"]), /^running/);
    assert.equal((await ok(["cat", "/run/tvirt/qemu/counter.pid"])).trim(), qemuPid);
    assert.equal((await inRoot(["test", "-d", `/proc/${qemuPid}`])).code, 0, "QEMU died in the upgrade");
    await counter(c1 + 2);

    lap("upgraded, guest went on");
    // Purge: the guest stopped first (removing tvirt leaves guests alone, as libvirt's does).
    await ok(["tvirsh", "destroy", "counter"]);
    await ok(["dpkg", "--purge", "tvirt"], 120_000);
    // The prerm stopped tvirtd (the namespace's init reaps it).
    await gone(pid2);
    await ok(["rm", "/tmp/tvirt.deb"]);
    const after = await snapshot();
    const added = after.files.filter((f) => !before.files.includes(f));
    const removed = before.files.filter((f) => !after.files.includes(f));
    assert.deepEqual({ added, removed }, { added: [], removed: [] }, "the root's files changed");
    assert.equal(after.accounts, before.accounts, "users or groups were left behind");
    lap("purged and compared");

    // The maintainer scripts' systemd branch. No systemd runs in a chroot, so a systemctl that
    // only logs its arguments stands in (first in PATH, under /run, which is not compared):
    // what the scripts ask of systemd on install, upgrade and purge.
    await ok(["mkdir", "-p", "/run/systemd/system", "/run/stub"]);
    await ok(["sh", "-c", "printf '#!/bin/sh\necho \"$*\" >>/run/systemctl.log\n' >/run/stub/systemctl"]);
    await ok(["chmod", "755", "/run/stub/systemctl"]);
    // What starts, stops or restarts units (after a daemon-reload: the scripts' own, and
    // deb-systemd-helper's when it enables).
    const underSystemd = async (...argv: string[]): Promise<string[]> => {
      await ok(["rm", "-f", "/run/systemctl.log"]);
      await ok(["env", `PATH=/run/stub:${HOST_PATH}`, ...argv], 120_000);
      const log = (await ok(["cat", "/run/systemctl.log"])).split("\n").filter((l) => l !== "");
      assert.ok(
        log.some((l) => l.endsWith("daemon-reload")),
        `no daemon-reload: ${log.join("; ")}`,
      );
      return log.filter((l) => !l.endsWith("daemon-reload"));
    };
    await nsOk(["cp", deb, join(root, "tmp", "tvirt.deb")]);
    // A new install starts the sockets; the first connection starts tvirtd.
    assert.deepEqual(await underSystemd("dpkg", "-i", "/tmp/tvirt.deb"), [
      "start tvirt-guests.service",
      "start tvirtd-ro.socket",
      "start tvirtd.socket",
    ]);
    // An upgrade restarts tvirtd and stops nothing.
    assert.deepEqual(await underSystemd("dpkg", "-i", "/tmp/tvirt.deb"), [
      "start tvirtd-ro.socket",
      "start tvirtd.socket",
      "try-restart tvirtd.service",
    ]);
    // Removal stops all of tvirt's units, in one transaction.
    assert.deepEqual(await underSystemd("dpkg", "--purge", "tvirt"), [
      "stop tvirt-guests.service tvirtd-ro.socket tvirtd.service tvirtd.socket",
    ]);
    await ok(["rm", "-rf", "/tmp/tvirt.deb", "/run/systemd", "/run/stub", "/run/systemctl.log"]);
    const afterSystemd = await snapshot();
    assert.deepEqual(afterSystemd.files, before.files, "the root's files changed (systemd branch)");
    assert.equal(afterSystemd.accounts, before.accounts);
    lap("installed, upgraded and purged as under systemd");
  },
);
