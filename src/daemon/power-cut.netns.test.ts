/**
 * A power cut and a boot of tvirtd's system instance (with `state_root`, so its /etc, /run and
 * /var are under a temp dir) whose guests are on the `default` NAT network, inside a network
 * namespace of the test's own: tvirtd, every guest's QEMU and the network's dnsmasq are killed
 * (by pid), and their taps are seen gone with QEMU; the boot then resets what a boot resets
 * (the instance's run dir, the namespace's links and firewall), and tvirtd is started. The
 * autostart guest runs again on a fresh tap in the bridge, the other stays off with no tap,
 * and nothing of before is left: status and pid files, runtime dirs, taps, dnsmasq.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../api/index.ts";
import "../rpc/register.ts";
import { insideTestNetns, ipLinks, runInTestNetns, sh } from "../testing/netns.ts";
import { spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestDomainXML, testGuestOrSkip, waitFor } from "../testing/guest/index.ts";
import { qemuProcessesOf } from "../testing/qemu/driver.ts";
import { isProcessAlive } from "../util/spawn.ts";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("power cut and boot of the system instance with guests on a network, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 300_000);
  });
} else {
  describe("power cut and boot: tvirtd system instance, default network, taps", () => {
    let dir: string;
    let stateRoot: string;
    let sock: string;
    let conf: string;
    const daemons: DaemonProcess[] = [];
    const env = { ...process.env, LANG: "C", LC_ALL: "C" };
    const startDaemon = async (): Promise<DaemonProcess> => {
      const d = await spawnDaemon(
        ["--system", "-f", conf, "--listen", sock, "--uri", "qemu:///system", "-p", join(dir, "tvirtd.pid")],
        [sock],
        { env },
      );
      daemons.push(d);
      return d;
    };
    const dnsmasqPids = (): number[] => {
      const dnsmasqDir = join(stateRoot, "lib", "dnsmasq");
      const out: number[] = [];
      for (const f of existsSync(dnsmasqDir) ? readdirSync(dnsmasqDir) : []) {
        if (!f.endsWith(".pid")) continue;
        const pid = Number(readFileSync(join(dnsmasqDir, f), "utf8"));
        if (Number.isSafeInteger(pid) && pid > 0 && isProcessAlive(pid)) out.push(pid);
      }
      return out;
    };

    before(() => {
      dir = mkdtempSync(join(tmpdir(), "tvirtd-powercut-"));
      stateRoot = join(dir, "state");
      mkdirSync(stateRoot);
      sock = join(dir, "sock");
      conf = join(dir, "tvirtd.conf");
      writeFileSync(conf, `state_root = "${stateRoot}"\nuser = "root"\nlog_level = 3\n`);
    });

    after(async () => {
      for (const d of daemons) await d.stop("SIGKILL");
      for (const pid of qemuProcessesOf(stateRoot)) if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      // dnsmasq outlives the daemon and would keep this namespace alive
      for (const pid of dnsmasqPids()) process.kill(pid, "SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    });

    test("the autostart guest comes back on a fresh tap, the other stays off, nothing stale", async (t) => {
      const g = await testGuestOrSkip(t);
      if (!g) return;
      const nic =
        "    <interface type='network'><source network='default'/><model type='virtio'/></interface>\n";
      const uri = `qemu+unix:///system?socket=${sock}`;
      const runDir = join(stateRoot, "run");
      const qemuRun = join(runDir, "qemu");
      const libDir = join(stateRoot, "lib", "qemu");
      const taps = async (): Promise<{ name: string; master: string | undefined }[]> =>
        (await ipLinks())
          .filter((l) => l.ifname.startsWith("vnet"))
          .map((l) => ({ name: l.ifname, master: l.master }))
          .sort((a, b) => a.name.localeCompare(b.name));

      let daemon = await startDaemon();
      let c = await connect(uri);
      for (const n of ["auto", "manual"]) {
        const d = await c.defineXML(
          guestDomainXML({ name: n, mode: "idle", kernel: g.kernel, initrd: g.initrd, extraDevicesXML: nic }),
        );
        if (n === "auto") await d.setAutostart(true);
        await d.create();
      }
      assert.deepEqual(await taps(), [
        { name: "vnet0", master: "virbr0" },
        { name: "vnet1", master: "virbr0" },
      ]);
      const qemus = qemuProcessesOf(stateRoot);
      assert.equal(qemus.length, 2);
      const dnsmasq = dnsmasqPids();
      assert.equal(dnsmasq.length, 1, "the default network's dnsmasq");
      await c.close().catch(() => undefined);

      // ---- power cut: the daemon, then every QEMU and dnsmasq ----
      await daemon.stop("SIGKILL");
      for (const pid of [...qemus, ...dnsmasq]) process.kill(pid, "SIGKILL");
      await waitFor(
        () => [...qemus, ...dnsmasq].every((p) => !isProcessAlive(p)),
        10_000,
        "every process to die",
      );
      assert.deepEqual(await taps(), [], "the taps went with their QEMU");
      // ---- boot: the kernel's links and firewall start empty, /run is a new tmpfs ----
      for (const l of await ipLinks()) if (l.ifname !== "lo") await sh("ip", "link", "del", l.ifname);
      await sh("nft", "flush", "ruleset");
      rmSync(runDir, { recursive: true, force: true });

      daemon = await startDaemon();
      c = await connect(uri);
      try {
        const states: Record<string, number> = {};
        for (const d of await c.listAllDomains()) states[d.name] = (await d.getState()).state;
        assert.deepEqual(states, { auto: 1, manual: 5 });
        assert.equal(
          readFileSync(join(dir, "tvirtd.pid"), "utf8").trim(),
          String(daemon.pid),
          "the daemon's pid file",
        );
        assert.deepEqual(
          await taps(),
          [{ name: "vnet0", master: "virbr0" }],
          "one tap, the autostart guest's",
        );
        const auto = await c.lookupDomainByName("auto");
        assert.match(await auto.getXMLDesc(), /<target dev='vnet0'\/>/);
        assert.equal(qemuProcessesOf(stateRoot).length, 1);
        assert.deepEqual(
          readdirSync(qemuRun)
            .filter((f) => !f.startsWith("."))
            .sort(),
          ["auto.pid", "auto.xml", "autostarted", "driver.lock"],
        );
        assert.deepEqual(
          readdirSync(libDir).filter((f) => f.startsWith("domain-")),
          [`domain-${auto.id}-auto`],
        );
        const fresh = dnsmasqPids();
        assert.equal(fresh.length, 1, "the network's dnsmasq runs again");
        assert.ok(!dnsmasq.includes(fresh[0]!));
        await auto.destroy();
        assert.deepEqual(await taps(), [], "destroy removes the tap");
        for (const n of ["auto", "manual"]) await (await c.lookupDomainByName(n)).undefine();
      } finally {
        await c.close().catch(() => undefined);
      }
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    });
  });
}
