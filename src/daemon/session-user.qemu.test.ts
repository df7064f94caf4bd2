/**
 * `qemu:///session` as a real unprivileged user the test creates (useradd, removed at the end
 * with userdel -r): `tvirsh -c qemu:///session` run as that user starts the user's own tvirtd
 * (libvirt's session autostart, with --timeout), which runs the tiny TCG guest's QEMU as that
 * user, lists only the user's guests (not those of a root daemon running beside it), answers
 * stock virsh too, stays while a guest runs and exits after its idle timeout once none does.
 * Against the root daemon the user gets "Permission denied" on the read-write socket (0600) and
 * read-only access on the read-only socket (0666), where `start` fails with libvirt's
 * "read only access prevents virDomainCreate".
 *
 * The root daemon is a test instance (`--listen`/`--listen-ro`, HOME and XDG dirs in a temp
 * dir), so nothing of the real system instance is touched.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import {
  run,
  spawnDaemon,
  tvirtdBin,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";
import { repoRoot } from "../testing/corpus.ts";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive } from "../util/spawn.ts";

const tvirshBin = join(repoRoot, "bin", "tvirsh.js");
/** Seconds the autostarted session daemon waits without clients (and guests) before exiting. */
const IDLE_SECS = 3;

interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** Creates a user with a unique name and no login; undefined (skipped) when not root. */
function createUser(t: TestContext, home: string): TestUser | undefined {
  if (process.geteuid?.() !== 0) {
    const why = "needs root (to create an unprivileged user with useradd)";
    if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
    t.skip(why);
    return undefined;
  }
  const name = `tvt${randomBytes(4).toString("hex")}`;
  const r = spawnSync("useradd", ["-M", "-d", home, "-s", "/usr/sbin/nologin", "-U", name], {
    encoding: "utf8",
  });
  if (r.error !== undefined || r.status !== 0)
    throw new Error(`useradd ${name} failed: ${r.error?.message ?? r.stderr}`);
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  assert.ok(line, `${name} not in /etc/passwd`);
  const f = line.split(":");
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

/** The user's view of a file: each path must be readable (and each directory searchable). */
const ACCESS_PROBE = `
const fs = require("node:fs");
const bad = [];
for (const p of process.argv.slice(1)) {
  try { fs.accessSync(p, fs.constants.R_OK); } catch (e) { bad.push(p + ": " + e.code); }
}
process.stdout.write(bad.join("\\n"));
`;

const alive = (pid: number): boolean => isProcessAlive(pid);

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  return cond();
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Processes whose real uid is `uid`. */
function pidsOf(uid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (procIds(Number(e)).uid[0] === uid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Real, effective, saved and filesystem ids of a process (`Uid:`/`Gid:` of /proc/PID/status). */
function procIds(pid: number): { uid: number[]; gid: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const ids = (key: string): number[] =>
    (new RegExp(`^${key}:\\s+(.*)$`, "m").exec(status)?.[1] ?? "").trim().split(/\s+/).map(Number);
  return { uid: ids("Uid"), gid: ids("Gid") };
}

test(
  "qemu:///session as a new unprivileged user: own daemon, QEMU as the user, no system guests; read-only socket",
  { timeout: 300_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const home = mkdtempSync(join(tmpdir(), "tvirt-user-"));
    const user = createUser(t, home);
    if (!user) {
      rmSync(home, { recursive: true, force: true });
      return;
    }
    const sysDir = mkdtempSync(join(tmpdir(), "tvirt-usersys-"));
    const sysName = `sys${randomBytes(3).toString("hex")}`;
    const userPids = new Set<number>();
    let sysDaemon: DaemonProcess | undefined;
    try {
      // ---- the user's files: home (HOME, XDG_RUNTIME_DIR, TMPDIR), guest kernel and initrd ----
      chmodSync(home, 0o700);
      const tmp = join(home, "tmp");
      mkdirSync(tmp);
      const kernel = join(home, "vmlinuz");
      const initrd = join(home, "initrd.img");
      copyFileSync(guest.kernel, kernel);
      copyFileSync(guest.initrd, initrd);
      const serial = join(home, "ug.serial");
      const xmlPath = join(home, "ug.xml");
      writeFileSync(
        xmlPath,
        guestDomainXML({ name: "ug", mode: "counter", kernel, initrd, serialLogPath: serial }),
      );
      const bin = join(home, "bin"); // for stock virsh's autostart: libvirtd -> tvirtd
      mkdirSync(bin);
      symlinkSync(tvirtdBin, join(bin, "libvirtd"));
      for (const p of [home, tmp, kernel, initrd, xmlPath, bin]) chownSync(p, user.uid, user.gid);

      const userEnv = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        XDG_RUNTIME_DIR: home,
        TMPDIR: tmp,
        TVIRT_AUTOSTART_TIMEOUT: String(IDLE_SECS),
        LANG: "C",
        LC_ALL: "C",
      };
      const asUser = (
        file: string,
        args: readonly string[],
        extraEnv: Record<string, string> = {},
      ): Promise<RunResult> =>
        run(file, args, {
          uid: user.uid,
          gid: user.gid,
          cwd: home,
          env: { ...userEnv, ...extraEnv },
          timeoutMs: 90_000,
          stdio: ["ignore", "pipe", "pipe"],
        });
      const tvirsh = (uri: string, cmds: string, ro = false): Promise<RunResult> =>
        asUser(process.execPath, [tvirshBin, ...(ro ? ["-r"] : []), "-c", uri, cmds]);
      const virshAs = (
        uri: string,
        cmds: string,
        ro = false,
        extraEnv: Record<string, string> = {},
      ): Promise<RunResult> => asUser(virsh, [...(ro ? ["-r"] : []), "-c", uri, cmds], extraEnv);

      // The user must be able to read the launcher, the sources and node_modules (a symlink).
      const needed = [
        tvirshBin,
        tvirtdBin,
        join(repoRoot, "src", "cli", "main.ts"),
        join(repoRoot, "src", "daemon", "main.ts"),
        join(realpathSync(join(repoRoot, "node_modules")), "tsx", "package.json"),
      ];
      const probe = await asUser(process.execPath, ["-e", ACCESS_PROBE, ...needed]);
      assert.equal(
        probe.stdout + probe.stderr,
        "",
        `user ${user.name} cannot read what tvirsh needs (make the directories on the way o+rx): ${probe.stdout}`,
      );

      // ---- a root daemon beside it, with a guest defined, on its own sockets ----
      chmodSync(sysDir, 0o711);
      const sockDir = join(sysDir, "sock");
      mkdirSync(sockDir, { mode: 0o755 });
      const rw = join(sockDir, "rw");
      const ro = join(sockDir, "ro");
      sysDaemon = await spawnDaemon(
        ["--session", "--listen", rw, "--listen-ro", ro, "--uri", "qemu:///session"],
        [rw, ro],
        {
          env: {
            ...process.env,
            HOME: sysDir,
            XDG_RUNTIME_DIR: join(sysDir, "run"),
            XDG_CONFIG_HOME: join(sysDir, "config"),
            XDG_DATA_HOME: join(sysDir, "data"),
            XDG_CACHE_HOME: join(sysDir, "cache"),
          },
        },
      );
      const sysRw = `qemu+unix:///session?socket=${rw}`;
      const sysRo = `qemu+unix:///session?socket=${ro}`;
      const sysXml = join(sysDir, "sys.xml");
      writeFileSync(
        sysXml,
        guestDomainXML({ name: sysName, mode: "none", kernel: guest.kernel, initrd: guest.initrd }),
      );
      const rootEnv = { ...process.env, LANG: "C", LC_ALL: "C" };
      const def = await run(virsh, ["-c", sysRw, `define ${sysXml}`], { env: rootEnv });
      assert.equal(def.code, 0, def.stderr);

      // ---- tvirsh as the user: the session daemon starts on demand ----
      const pidFile = join(home, "tvirt", "tvirtd.pid");
      const sock = join(home, "tvirt", "tvirt-sock");
      assert.equal(existsSync(sock), false);
      const d1 = await tvirsh("qemu:///session", `define ${xmlPath}`);
      assert.deepEqual(d1, { code: 0, stdout: `Domain 'ug' defined from ${xmlPath}\n\n`, stderr: "" });
      const daemonPid = readPid(pidFile);
      assert.ok(daemonPid !== undefined && alive(daemonPid), "no session daemon was started");
      userPids.add(daemonPid);
      const dIds = procIds(daemonPid);
      assert.deepEqual(dIds.uid, [user.uid, user.uid, user.uid, user.uid], "the session daemon's uids");
      const dArgs = readFileSync(`/proc/${daemonPid}/cmdline`, "utf8").split("\0");
      assert.ok(dArgs.includes(`--timeout=${IDLE_SECS}`), dArgs.join(" "));

      const s1 = await tvirsh("qemu:///session", "start ug");
      assert.deepEqual(s1, { code: 0, stdout: "Domain 'ug' started\n\n", stderr: "" });
      const qemuPid = readPid(join(home, "tvirt", "qemu", "ug.pid"));
      assert.ok(qemuPid !== undefined && alive(qemuPid), "no QEMU");
      userPids.add(qemuPid);
      const qIds = procIds(qemuPid);
      assert.deepEqual(qIds.uid, [user.uid, user.uid, user.uid, user.uid], "QEMU's uids");
      assert.deepEqual(qIds.gid, [user.gid, user.gid, user.gid, user.gid], "QEMU's gids");
      assert.equal(
        readFileSync(`/proc/${qemuPid}/cmdline`, "utf8").split("\0")[0],
        "/usr/bin/qemu-system-x86_64",
      );
      assert.equal(
        await waitFor(
          () => /COUNTER \d+/.test(existsSync(serial) ? readFileSync(serial, "utf8") : ""),
          120_000,
        ),
        true,
        "the guest did not count",
      );

      // only the user's guest, through tvirsh and through stock virsh
      const l1 = await tvirsh("qemu:///session", "list --all");
      assert.equal(l1.code, 0, l1.stderr);
      assert.match(l1.stdout, /^ 1 +ug +running$/m);
      assert.doesNotMatch(l1.stdout, new RegExp(sysName));
      const v1 = await virshAs("qemu:///session", "list --all --name; domstate ug --reason; uri");
      assert.deepEqual(v1, { code: 0, stdout: "ug\n\nrunning (booted)\n\nqemu:///session\n\n", stderr: "" });
      // ... while root's daemon lists its own only
      const sysList = await run(virsh, ["-c", sysRw, "list --all --name"], { env: rootEnv });
      assert.deepEqual(sysList, { code: 0, stdout: `${sysName}\n\n`, stderr: "" });

      // ---- root's sockets, as the user ----
      const denied = await virshAs(sysRw, "list --all --name");
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, new RegExp(`Failed to connect socket to '${rw}': Permission denied`));
      const deniedT = await tvirsh(sysRw, "list --all --name");
      assert.equal(deniedT.code, 1);
      assert.match(deniedT.stderr, new RegExp(`Failed to connect socket to '${rw}': Permission denied`));
      const roList = await virshAs(sysRo, "list --all --name", true);
      assert.deepEqual(roList, { code: 0, stdout: `${sysName}\n\n`, stderr: "" });
      const forbidden = `error: Failed to start domain '${sysName}'\nerror: operation forbidden: read only access prevents virDomainCreate\n`;
      const roStart = await virshAs(sysRo, `start ${sysName}`, true);
      assert.deepEqual(roStart, { code: 1, stdout: "\n", stderr: forbidden });
      const roStartT = await tvirsh(sysRo, `start ${sysName}`, true);
      assert.deepEqual(roStartT, { code: 1, stdout: "\n", stderr: forbidden });
      const sysState = await run(virsh, ["-c", sysRw, `domstate ${sysName}`], { env: rootEnv });
      assert.equal(sysState.stdout, "shut off\n\n", "the read-only start changed something");

      // ---- idle timeout: inhibited while the guest runs, then the daemon exits ----
      await new Promise((r) => setTimeout(r, (IDLE_SECS + 2) * 1000));
      if (!alive(daemonPid)) {
        const log = join(home, ".cache", "tvirt", "log", "tvirtd.log");
        const tail = existsSync(log)
          ? readFileSync(log, "utf8").split("\n").slice(-15).join("\n")
          : "(no log)";
        assert.fail(`the session daemon exited while its guest ran; its log ends:\n${tail}`);
      }
      const ds = await tvirsh("qemu:///session", "destroy ug");
      assert.deepEqual(ds, { code: 0, stdout: "Domain 'ug' destroyed\n\n", stderr: "" });
      assert.equal(await waitFor(() => !alive(qemuPid), 10_000), true, "QEMU still runs");
      const t0 = Date.now();
      assert.equal(await waitFor(() => !alive(daemonPid), (IDLE_SECS + 10) * 1000), true, "no idle exit");
      t.diagnostic(
        `session daemon exited ${Date.now() - t0} ms after the last client (timeout ${IDLE_SECS} s)`,
      );
      assert.equal(existsSync(pidFile), false);
      assert.equal(existsSync(sock), false);

      // ---- stock virsh starts it again (LIBVIRTD_PATH): the definition persisted ----
      const v2 = await virshAs("qemu:///session", "list --all", false, { LIBVIRTD_PATH: bin });
      assert.equal(v2.code, 0, v2.stderr);
      assert.match(v2.stdout, /^ - +ug +shut off$/m);
      assert.doesNotMatch(v2.stdout, new RegExp(sysName));
      const pid2 = readPid(pidFile);
      assert.ok(pid2 !== undefined && alive(pid2) && pid2 !== daemonPid, "virsh started no daemon");
      userPids.add(pid2);
      assert.equal(procIds(pid2).uid[0], user.uid);
      const u = await virshAs("qemu:///session", "undefine ug");
      assert.deepEqual(u, { code: 0, stdout: "Domain 'ug' has been undefined\n\n", stderr: "" });
      process.kill(pid2, "SIGTERM");
      assert.equal(await waitFor(() => !alive(pid2), 10_000), true);
    } finally {
      for (const pid of userPids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      // anything else still running as the user the test created is the test's too (tsx's
      // esbuild service of a daemon, say): by pid, so that userdel can remove the user
      for (const pid of pidsOf(user.uid)) {
        userPids.add(pid);
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await waitFor(() => [...userPids].every((p) => !alive(p)), 5000);
      await sysDaemon?.stop("SIGKILL");
      const del = spawnSync("userdel", ["-r", user.name], { encoding: "utf8" });
      if (del.status !== 0) t.diagnostic(`userdel -r ${user.name}: ${del.stderr}`);
      rmSync(home, { recursive: true, force: true });
      rmSync(sysDir, { recursive: true, force: true });
    }
  },
);
