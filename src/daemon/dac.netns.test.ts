/**
 * tvirtd's system instance runs QEMU as tvirt-qemu, also with `state_root` (whose embed-layout
 * root alone would run QEMU as root): a guest started over the wire runs with tvirt-qemu's ids
 * and seccomp mode 2, writes its serial output to a file the driver handed over, and its image
 * is tvirt-qemu's while it runs; after the daemon is killed with SIGKILL and restarted, a
 * destroy through the new daemon gives the image back to root:root 0644. `user = "..."` naming
 * no user gives the clear error over the wire. The daemon runs inside a network namespace this
 * test creates (the system instance starts its `default` network), so the host's paths and
 * network are never touched.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../api/index.ts";
import "../rpc/register.ts";
import { insideTestNetns, runInTestNetns } from "../testing/netns.ts";
import { spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { qemuProcessesOf } from "../testing/qemu/driver.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { resolveRunAs } from "../drivers/qemu/driver/dac.ts";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("tvirtd's system instance runs QEMU as tvirt-qemu, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 400_000);
  });
} else {
  describe("tvirtd system instance with state_root: QEMU as tvirt-qemu", () => {
    let dir: string;
    let stateRoot: string;
    let sock: string;
    let conf: string;
    let daemon: DaemonProcess | undefined;
    const pids = new Set<number>();
    const env = { ...process.env, LANG: "C", LC_ALL: "C" };
    const startDaemon = async (): Promise<DaemonProcess> => {
      daemon = await spawnDaemon(
        ["--system", "-f", conf, "--listen", sock, "--uri", "qemu:///system", "-p", join(dir, "tvirtd.pid")],
        [sock],
        { env },
      );
      return daemon;
    };

    before(() => {
      dir = mkdtempSync(join(tmpdir(), "tvirtd-dac-"));
      // QEMU's user passes through the root (as through /var/lib/tvirt)
      chmodSync(dir, 0o755);
      stateRoot = join(dir, "state");
      mkdirSync(stateRoot, { mode: 0o755 });
      sock = join(dir, "sock");
      conf = join(dir, "tvirtd.conf");
      writeFileSync(conf, `state_root = "${stateRoot}"\nlog_level = 3\n`);
    });

    after(async () => {
      await daemon?.stop("SIGKILL");
      for (const pid of [...pids, ...qemuProcessesOf(stateRoot)])
        if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      // The system instance started its default network; its dnsmasq outlives the daemon (as
      // libvirt's does) and would keep this test's namespace alive: end it, by its pid file.
      const dnsmasqDir = join(stateRoot, "lib", "dnsmasq");
      for (const f of existsSync(dnsmasqDir) ? readdirSync(dnsmasqDir) : []) {
        if (!f.endsWith(".pid")) continue;
        const pid = Number(readFileSync(join(dnsmasqDir, f), "utf8"));
        if (Number.isSafeInteger(pid) && pid > 0 && isProcessAlive(pid)) process.kill(pid, "SIGTERM");
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test("a guest over the wire: tvirt-qemu, seccomp, its files handed over and back across a daemon restart", async (t) => {
      let id;
      try {
        id = resolveRunAs({ user: "tvirt-qemu" });
      } catch (e) {
        if (process.env.CI === "true") throw e;
        t.skip("user tvirt-qemu does not exist (scripts/setup creates it)");
        return;
      }
      const g = await testGuestOrSkip(t);
      if (!g) return;
      const kernel = join(dir, "vmlinuz");
      const initrd = join(dir, "initrd.img");
      const disk = join(dir, "disk.img");
      const serial = join(dir, "serial.log");
      copyFileSync(g.kernel, kernel);
      copyFileSync(g.initrd, initrd);
      writeFileSync(disk, Buffer.alloc(1 << 20));
      for (const f of [kernel, initrd, disk]) chmodSync(f, 0o644);
      const xml = guestDomainXML({
        name: "sysdac",
        mode: "counter",
        kernel,
        initrd,
        serialLogPath: serial,
      }).replace(
        "</devices>",
        `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vdb' bus='virtio'/></disk></devices>`,
      );
      const own = (p: string): [number, number, number] => {
        const st = statSync(p);
        return [st.uid, st.gid, st.mode & 0o777];
      };
      const uri = `qemu+unix:///system?socket=${sock}`;

      await startDaemon();
      let c = await connect(uri);
      try {
        const d = await c.defineXML(xml);
        await d.create();
        const [pid] = qemuProcessesOf(stateRoot);
        assert.ok(pid !== undefined);
        pids.add(pid);
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        assert.match(status, new RegExp(`^Uid:\\s+${id.uid}\\s+${id.uid}\\s+${id.uid}\\s+${id.uid}$`, "m"));
        assert.match(status, new RegExp(`^Gid:\\s+${id.gid}\\s+${id.gid}\\s+${id.gid}\\s+${id.gid}$`, "m"));
        assert.match(status, /^Seccomp:\s+2$/m);
        assert.deepEqual(own(disk), [id.uid, id.gid, 0o644]);
        // QEMU, as tvirt-qemu, writes the guest's serial output into the file handed to it
        const end = Date.now() + 120_000;
        while (!/TVIRT-GUEST-READY/.test(readFileSync(serial, "utf8"))) {
          if (Date.now() > end) assert.fail(`no guest output in ${serial}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await c.close().catch(() => undefined);
      }

      // the daemon dies; the next one reconnects to the guest and its destroy gives owners back
      await daemon!.stop("SIGKILL");
      await startDaemon();
      c = await connect(uri);
      try {
        const d = await c.lookupDomainByName("sysdac");
        assert.equal((await d.getState()).state, 1, "still running after the daemon restart");
        assert.deepEqual(own(disk), [id.uid, id.gid, 0o644]);
        await d.destroy();
        for (const f of [kernel, initrd, disk]) assert.deepEqual(own(f), [0, 0, 0o644], f);
        assert.deepEqual(own(serial).slice(0, 2), [0, 0], "the serial file made for QEMU is root's again");
        await d.undefine();
      } finally {
        await c.close().catch(() => undefined);
      }
      assert.equal(await daemon!.stop(), 0, daemon!.stderr());
      daemon = undefined;

      // a configured user that does not exist: the start fails with the clear error
      writeFileSync(conf, `state_root = "${stateRoot}"\nlog_level = 3\nuser = "tvirt-nobody-here"\n`);
      await startDaemon();
      c = await connect(uri);
      try {
        const d = await c.defineXML(xml);
        await assert.rejects(d.create(), /cannot run QEMU as user 'tvirt-nobody-here': no such user/);
        assert.deepEqual(own(disk), [0, 0, 0o644]);
        await d.undefine();
      } finally {
        await c.close().catch(() => undefined);
      }
    });
  });
}
