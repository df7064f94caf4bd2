/**
 * Stock virsh 9.0 against tvirtd hosting the QEMU driver, on the tiny TCG guest: define, start,
 * list, dominfo, domstate, suspend/resume, qemu-monitor-command (HMP and QMP), console through a
 * pty, save/restore, SIGKILL of the daemon while the guest runs (the restarted daemon reconnects
 * and lists it running with the same id), shutdown/destroy, undefine.
 *
 * The daemon serves `qemu:///session` with HOME and the XDG dirs in a temp dir (as root too), so
 * every file of the driver is under it; virsh reaches it as `qemu+unix:///session?socket=PATH`
 * (libvirt's client refuses `qemu:///embed` over a remote transport).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive } from "../util/spawn.ts";
import {
  privateSession,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";

const NAME = "gi";
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

/** Runs `virsh console` in a pty until two COUNTER lines came, then sends ^] (virsh's escape). */
const PTY_CONSOLE = `
import json, os, pty, re, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
deadline = time.time() + 20
while len(re.findall(rb"COUNTER \\d+", out)) < 2 and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
os.write(fd, b"\\x1d")
status = None
deadline = time.time() + 10
while time.time() < deadline:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
        break
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            pass
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(json.dumps({"status": status, "transcript": out.decode("utf-8", "replace")}))
`;

const alive = (pid: number): boolean => isProcessAlive(pid);

test("stock virsh drives a real guest through tvirtd (qemu:///session)", { timeout: 150_000 }, async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const guest = await testGuestOrSkip(t);
  if (!guest) return;

  const dir = mkdtempSync(join(tmpdir(), "tvirt-guest-interop-"));
  const { sock, uri, env: daemonEnv } = privateSession(dir);
  const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
  const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
  const logFile = join(dir, "cache", "tvirt", "log", `${NAME}.log`);
  const xmlPath = join(dir, `${NAME}.xml`);
  const savePath = join(dir, `${NAME}.save`);
  writeFileSync(
    xmlPath,
    guestDomainXML({ name: NAME, mode: "counter", kernel: guest.kernel, initrd: guest.initrd }),
  );

  const daemons: DaemonProcess[] = [];
  const qemuPids = new Set<number>();
  const startDaemon = async (): Promise<DaemonProcess> => {
    const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
      env: daemonEnv,
    });
    daemons.push(d);
    return d;
  };
  /** Records the QEMU pid of the running guest (for the cleanup). */
  const notePid = (): number => {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    assert.ok(pid > 0 && alive(pid), `QEMU pid ${pid}`);
    qemuPids.add(pid);
    return pid;
  };
  const v = async (cmds: string, ok = true): Promise<RunResult> => {
    const r = await run(virsh, ["-c", uri, cmds], {
      env,
      timeoutMs: 40_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (ok) assert.equal(r.code, 0, `virsh ${cmds}: ${r.stderr}`);
    return r;
  };
  const state = async (): Promise<string> => (await v(`domstate ${NAME}`)).stdout.trim();
  const waitState = async (want: string, ms: number): Promise<string> => {
    const until = Date.now() + ms;
    let s = await state();
    while (s !== want && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      s = await state();
    }
    return s;
  };

  try {
    let daemon = await startDaemon();

    assert.equal((await v(`define ${xmlPath}`)).stdout, `Domain '${NAME}' defined from ${xmlPath}\n\n`);
    assert.equal((await v(`start ${NAME}`)).stdout, `Domain '${NAME}' started\n\n`);
    notePid();
    const list = (await v("list")).stdout;
    const m = new RegExp(`^\\s*(\\d+)\\s+${NAME}\\s+running\\s*$`, "m").exec(list);
    assert.ok(m, list);
    const info = (await v(`dominfo ${NAME}`)).stdout;
    assert.match(info, new RegExp(`^Id:\\s+${m[1]}$`, "m"));
    assert.match(info, new RegExp(`^Name:\\s+${NAME}$`, "m"));
    assert.match(info, /^State:\s+running$/m);
    assert.match(info, /^Persistent:\s+yes$/m);
    assert.equal((await v(`domstate ${NAME}`)).stdout, "running\n\n");

    assert.equal((await v(`suspend ${NAME}`)).stdout, `Domain '${NAME}' suspended\n\n`);
    assert.equal((await v(`domstate ${NAME} --reason`)).stdout, "paused (user)\n\n");
    assert.equal((await v(`resume ${NAME}`)).stdout, `Domain '${NAME}' resumed\n\n`);
    assert.equal((await v(`domstate ${NAME} --reason`)).stdout, "running (unpaused)\n\n");

    // the console: the counter guest prints "COUNTER n" once a second once booted
    const con = await run("python3", ["-c", PTY_CONSOLE, virsh, "-c", uri, "console", NAME], {
      env,
      timeoutMs: 40_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const c = JSON.parse(con.stdout) as { status: number | null; transcript: string };
    assert.match(c.transcript, /Escape character is \^\]/);
    assert.match(c.transcript, /COUNTER \d+/);
    assert.equal(c.status, 0, c.transcript);

    // the guest runs its 64-bit kernel now: RIP is in the HMP register dump
    const hmp = await v(`qemu-monitor-command ${NAME} --hmp 'info registers'`);
    assert.match(hmp.stdout, /RIP=[0-9a-f]{16}/);
    const qmp = await v(`qemu-monitor-command ${NAME} '{"execute":"query-status"}'`);
    const reply = JSON.parse(qmp.stdout) as { return: { status: string; running: boolean }; id: string };
    assert.equal(reply.return.status, "running");
    assert.equal(reply.return.running, true);
    assert.match(reply.id, /^libvirt-\d+$/);
    const pretty = await v(`qemu-monitor-command ${NAME} --pretty '{"execute":"query-status"}'`);
    assert.match(pretty.stdout, /^ {2}"return": \{\n {4}"status": "running",$/m);
    const bad = await v(`qemu-monitor-command ${NAME} '{"execute":"no-such-command"}'`);
    const err = JSON.parse(bad.stdout) as { error: { class: string; desc: string } };
    assert.deepEqual(err.error, {
      class: "CommandNotFound",
      desc: "The command no-such-command has not been found",
    });
    // tvirsh through the same daemon prints what virsh prints (QMP ids aside)
    const tvirsh = (cmds: string): Promise<RunResult> =>
      run(process.execPath, [tvirshBin, "-c", uri, cmds], {
        env,
        timeoutMs: 40_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
    const th = await tvirsh(`qemu-monitor-command ${NAME} --hmp info registers`);
    assert.equal(th.code, 0, th.stderr);
    assert.match(th.stdout, /RIP=[0-9a-f]{16}/);
    const tq = await tvirsh(`qemu-monitor-command ${NAME} --pretty '{"execute":"query-status"}'`);
    assert.equal(tq.code, 0, tq.stderr);
    const noId = (x: string): string => x.replace(/libvirt-\d+/g, "libvirt-N");
    assert.equal(noId(tq.stdout), noId(pretty.stdout));
    const tp = await tvirsh(`qemu-monitor-command ${NAME} '{"execute":"query-status"}'`);
    assert.equal(noId(tp.stdout), noId(qmp.stdout));
    const log = readFileSync(logFile, "utf8");
    assert.equal(log.match(/Domain id=\d+ is tainted: custom-monitor$/gm)?.length, 1, log);

    assert.equal((await v(`save ${NAME} ${savePath}`)).stdout, `\nDomain '${NAME}' saved to ${savePath}\n\n`);
    assert.equal(await state(), "shut off");
    assert.equal((await v(`restore ${savePath}`)).stdout, `Domain restored from ${savePath}\n\n`);
    assert.equal(await state(), "running");
    const pid = notePid();
    const id = (await v(`domid ${NAME}`)).stdout.trim();
    assert.match(id, /^\d+$/);

    // SIGKILL the daemon while the guest runs: the restarted one takes the guest back
    await daemon.stop("SIGKILL");
    assert.ok(alive(pid), "QEMU survives the daemon");
    daemon = await startDaemon();
    const list2 = (await v("list")).stdout;
    assert.match(list2, new RegExp(`^\\s*${id}\\s+${NAME}\\s+running\\s*$`, "m"), list2);
    assert.equal((await v(`domstate ${NAME} --reason`)).stdout.trim().split(" ")[0], "running");
    assert.ok(alive(pid), "same QEMU");

    // ACPI shutdown (the guest powers off on the button); destroy if it did not
    assert.equal((await v(`shutdown ${NAME}`)).stdout, `Domain '${NAME}' is being shutdown\n\n`);
    if ((await waitState("shut off", 20_000)) !== "shut off") {
      assert.equal((await v(`destroy ${NAME}`)).stdout, `Domain '${NAME}' destroyed\n\n`);
    }
    assert.equal(await state(), "shut off");
    await v(`start ${NAME}`);
    notePid();
    assert.equal((await v(`destroy ${NAME}`)).stdout, `Domain '${NAME}' destroyed\n\n`);
    assert.equal((await v(`domstate ${NAME} --reason`)).stdout, "shut off (destroyed)\n\n");
    assert.equal((await v(`undefine ${NAME}`)).stdout, `Domain '${NAME}' has been undefined\n\n`);
    assert.equal((await v("list --all --name")).stdout, "\n");
    assert.equal(existsSync(pidFile), false);
  } finally {
    for (const pid of qemuPids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const d of daemons) await d.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
