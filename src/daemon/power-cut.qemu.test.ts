/**
 * A power cut and a boot, played with real TCG guests: tvirtd and every guest's QEMU are killed
 * with SIGKILL (by pid), the daemon's run dir (XDG_RUNTIME_DIR of a private session instance,
 * /run for the system one: a tmpfs the boot clears) is removed, and tvirtd is started again.
 * The autostart guests run again (also the one that was off before the cut), the others stay
 * off, and nothing of the dead guests is left: no status or pid file, no runtime dir with its
 * monitor socket, no QEMU, no listening VNC port. Then a restart that is not a boot (the run
 * dir and its autostart marker stay): an autostart guest the admin destroyed stays off.
 *
 * The daemon serves `qemu:///session` with HOME and the XDG dirs in a temp dir (as
 * sigkill.qemu.test.ts), so every file of the driver is under it; the host's /run is untouched.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect, type Connection } from "../api/index.ts";
import "../rpc/register.ts";
import { privateSession, spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { guestDomainXML, testGuestOrSkip, lastCounter as counter, waitFor } from "../testing/guest/index.ts";

/**
 * The pids listening on TCP `port` (ss): other tests on the host may take a port the moment a
 * guest here lets it go, so the listener's pid says whose it is.
 */
function listeners(port: number): number[] {
  const out = execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" });
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

const VNC = "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n";

test(
  "power cut and boot: autostart guests run again, the others stay off, nothing stale",
  { timeout: 300_000 },
  async (t) => {
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-powercut-"));
    const { sock, uri, env } = privateSession(dir);
    const runDir = join(dir, "run");
    const stateDir = join(runDir, "tvirt", "qemu");
    const libDir = join(dir, "data", "tvirt", "qemu");
    const serial = (n: string): string => join(dir, `${n}.serial`);
    const daemons: DaemonProcess[] = [];
    const qemuPids = new Set<number>();
    const conns: Connection[] = [];
    const startDaemon = async (): Promise<DaemonProcess> => {
      const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
        env,
      });
      daemons.push(d);
      return d;
    };
    const qemuPid = (n: string): number => Number(readFileSync(join(stateDir, `${n}.pid`), "utf8").trim());
    const vncPort = async (c: Connection, n: string): Promise<number> => {
      const xml = await (await c.lookupDomainByName(n)).getXMLDesc();
      return Number(/<graphics type='vnc' port='(\d+)'/.exec(xml)?.[1] ?? NaN);
    };
    try {
      let daemon = await startDaemon();
      let c = await connect(uri);
      conns.push(c);
      // auto1: autostart, running; auto2: autostart, off; man1: running; man2: off
      for (const n of ["auto1", "auto2", "man1", "man2"]) {
        const d = await c.defineXML(
          guestDomainXML({
            name: n,
            mode: "counter",
            kernel: guest.kernel,
            initrd: guest.initrd,
            serialLogPath: serial(n),
            extraDevicesXML: VNC,
          }),
        );
        if (n.startsWith("auto")) await d.setAutostart(true);
      }
      for (const n of ["auto1", "man1"]) {
        await (await c.lookupDomainByName(n)).create();
        qemuPids.add(qemuPid(n));
      }
      for (const n of ["auto1", "man1"])
        await waitFor(() => counter(serial(n)) >= 1, 120_000, `${n} to count`);
      const oldPorts = [await vncPort(c, "auto1"), await vncPort(c, "man1")];
      const oldPids = [qemuPid("auto1"), qemuPid("man1")];
      oldPorts.forEach((p, i) => {
        assert.ok(listeners(p).includes(oldPids[i]!), `VNC port ${p} is QEMU's`);
      });
      assert.ok(
        readdirSync(libDir).filter((f) => f.startsWith("domain-")).length === 2,
        "two runtime dirs while two guests run",
      );

      // ---- power cut: the daemon first (it must not see its guests die), then every QEMU ----
      assert.equal(await daemon.stop("SIGKILL"), null);
      await c.close().catch(() => undefined);
      for (const pid of oldPids) process.kill(pid, "SIGKILL");
      await waitFor(() => oldPids.every((p) => !isProcessAlive(p)), 10_000, "the QEMUs to die");
      rmSync(runDir, { recursive: true, force: true });
      for (const p of oldPorts)
        assert.deepEqual(
          listeners(p).filter((x) => oldPids.includes(x)),
          [],
          `port ${p} closed with its QEMU`,
        );

      // ---- boot ----
      daemon = await startDaemon();
      c = await connect(uri);
      conns.push(c);
      const states = async (): Promise<Record<string, number>> => {
        const out: Record<string, number> = {};
        for (const d of await c.listAllDomains()) out[d.name] = (await d.getState()).state;
        return out;
      };
      assert.deepEqual(
        await states(),
        { auto1: 1, auto2: 1, man1: 5, man2: 5 },
        "running: the autostart ones",
      );
      for (const n of ["auto1", "auto2"]) qemuPids.add(qemuPid(n));
      for (const n of ["auto1", "auto2"])
        await waitFor(() => counter(serial(n)) >= 1, 120_000, `${n} to count after the boot`);
      assert.equal(
        readFileSync(serial("auto1"), "utf8").match(/GUEST-BOOTED/g)?.length,
        1,
        "auto1 booted anew",
      );
      // nothing of the dead guests: files of the run dir are the running guests' and the driver's
      assert.deepEqual(
        readdirSync(stateDir)
          .filter((f) => !f.startsWith("."))
          .sort(),
        ["auto1.pid", "auto1.xml", "auto2.pid", "auto2.xml", "autostarted", "driver.lock"],
      );
      const runtimeDirs = readdirSync(libDir)
        .filter((f) => f.startsWith("domain-"))
        .sort();
      const ids = [];
      for (const n of ["auto1", "auto2"]) ids.push(`domain-${(await c.lookupDomainByName(n)).id}-${n}`);
      assert.deepEqual(runtimeDirs, ids.sort(), "runtime dirs: only the running guests'");
      const newPorts = [await vncPort(c, "auto1"), await vncPort(c, "auto2")];
      newPorts.forEach((p, i) => {
        assert.ok(
          listeners(p).includes(qemuPid(i === 0 ? "auto1" : "auto2")),
          `VNC port ${p} of a running guest`,
        );
      });
      const man1 = await c.lookupDomainByName("man1");
      assert.equal(
        (await man1.getXMLDesc()).includes("<graphics type='vnc' port='-1'"),
        true,
        "man1 inactive XML",
      );

      // ---- a restart that is no boot: the marker stays, a destroyed autostart guest stays off ----
      await (await c.lookupDomainByName("auto1")).destroy();
      await c.close();
      assert.equal(await daemon.stop(), 0);
      daemon = await startDaemon();
      c = await connect(uri);
      conns.push(c);
      assert.deepEqual(await states(), { auto1: 5, auto2: 1, man1: 5, man2: 5 }, "no second autostart");
      assert.match(daemon.stderr(), /^$|^(?![\s\S]*autostart VM)/, "no autostart failure logged");
      for (const n of ["auto2"]) await (await c.lookupDomainByName(n)).destroy();
      for (const n of ["auto1", "auto2", "man1", "man2"]) await (await c.lookupDomainByName(n)).undefine();
      assert.equal(existsSync(join(stateDir, "auto2.xml")), false);
    } finally {
      for (const x of conns) await x.close().catch(() => undefined);
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
  },
);
