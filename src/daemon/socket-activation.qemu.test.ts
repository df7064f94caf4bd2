/**
 * Socket activation with a running guest (libvirt's behaviour): a socket-activated tvirtd with
 * an idle timeout does not exit while a guest runs; stopped anyway (SIGTERM, as `systemctl
 * stop` or a package upgrade does), the guest keeps running, and the next virsh connection
 * starts tvirtd again through the same socket, which finds the guest running with its id. With
 * the guest gone, the idle daemon exits.
 *
 * The session instance of a private HOME (as src/rpc/guest-interop.test.ts), the tiny TCG guest,
 * systemd-socket-activate under src/testing/systemd.ts's supervisor.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { privateSession, python3OrSkip, run, tvirtdBin, virshOrSkip } from "../testing/rpc/harness.ts";
import { pidsOf, socketActivateOrSkip, startSupervisor } from "../testing/systemd.ts";
import { isProcessAlive } from "../util/spawn.ts";

const NAME = "sa";
const TIMEOUT = 2;

test(
  "socket activation: tvirtd stays while a guest runs; the guest outlives a stop and the next connection's restart",
  { timeout: 180_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const python = python3OrSkip(t);
    if (!python) return;
    if (!socketActivateOrSkip(t)) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-sockact-qemu-"));
    const { env } = privateSession(dir);
    const sock = join(dir, "tvirt-sock");
    mkdirSync(join(dir, "config", "tvirt"), { recursive: true });
    writeFileSync(join(dir, "config", "tvirt", "tvirtd.conf"), "log_level = 2\ncompat_sockets = 0\n");
    const xmlPath = join(dir, `${NAME}.xml`);
    writeFileSync(
      xmlPath,
      guestDomainXML({ name: NAME, mode: "counter", kernel: guest.kernel, initrd: guest.initrd }),
    );
    const qemuPidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const uri = `qemu+unix:///session?socket=${sock}`;
    const venv = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    let qemuPid = 0;

    const sup = await startSupervisor({
      python,
      sock,
      dir,
      fdname: "tvirtd.socket",
      command: [process.execPath, tvirtdBin, "--session", "--timeout", String(TIMEOUT)],
      env,
      passEnv: ["HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"],
    });
    const v = async (cmds: string): Promise<string> => {
      const r = await run(virsh, ["-c", uri, cmds], { env: venv, timeoutMs: 60_000 });
      assert.equal(r.code, 0, `virsh ${cmds}: ${r.stderr}\n${sup.stderr()}`);
      return r.stdout;
    };
    const exited = (pid: number): boolean => pidsOf(sup.events, "exit").includes(pid);
    try {
      await sup.waitFor((e) => e.event === "spawn", 10_000);

      // the first connection starts tvirtd, which starts the guest
      assert.equal(await v(`define ${xmlPath}`), `Domain '${NAME}' defined from ${xmlPath}\n\n`);
      const p1 = pidsOf(sup.events, "spawn")[0]!;
      assert.equal(await v(`start ${NAME}`), `Domain '${NAME}' started\n\n`);
      qemuPid = Number(readFileSync(qemuPidFile, "utf8").trim());
      assert.ok(isProcessAlive(qemuPid), `QEMU ${qemuPid}`);
      const id = /^\s*(\d+)\s+sa\s+running\s*$/m.exec(await v("list"))?.[1];
      assert.ok(id !== undefined);
      assert.ok(!exited(p1), "the define/start/list connections went to one daemon");

      // idle (no client) well past its timeout, but a guest runs: it stays
      await new Promise((r) => setTimeout(r, (3 * TIMEOUT + 1) * 1000));
      assert.ok(!exited(p1), `tvirtd exited with a guest running: ${sup.stderr()}`);
      assert.ok(isProcessAlive(qemuPid));

      // stopped anyway (systemctl stop): the guest keeps running
      process.kill(p1, "SIGTERM");
      const e1 = await sup.waitFor((e) => e.event === "exit" && e.pid === p1, 20_000);
      assert.deepEqual(sup.events[e1], { event: "exit", pid: p1, status: 0 });
      assert.ok(isProcessAlive(qemuPid), "the guest outlived its daemon");

      // the next connection starts tvirtd again; it finds the guest, same id, still counting
      assert.match(await v("list"), new RegExp(`^\\s*${id}\\s+${NAME}\\s+running\\s*$`, "m"));
      const p2 = pidsOf(sup.events, "spawn")[1] ?? 0;
      assert.ok(p2 > 0 && p2 !== p1 && !exited(p2), JSON.stringify(sup.events));
      assert.equal(await v(`domstate ${NAME}`), "running\n\n");
      assert.equal(Number(readFileSync(qemuPidFile, "utf8").trim()), qemuPid, "the same QEMU");

      // with the guest gone, the idle daemon exits by itself
      assert.equal(await v(`destroy ${NAME}`), `Domain '${NAME}' destroyed\n\n`);
      assert.equal(await v(`undefine ${NAME}`), `Domain '${NAME}' has been undefined\n\n`);
      assert.ok(!isProcessAlive(qemuPid));
      const e2 = await sup.waitFor((e) => e.event === "exit" && e.pid === p2, (3 * TIMEOUT + 10) * 1000);
      assert.deepEqual(sup.events[e2], { event: "exit", pid: p2, status: 0 });
      assert.match(sup.stderr(), new RegExp(`${p2}: info : no clients for ${TIMEOUT} s: exiting`));
    } finally {
      await sup.stop();
      if (qemuPid > 0 && isProcessAlive(qemuPid)) process.kill(qemuPid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
