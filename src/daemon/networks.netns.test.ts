/**
 * tvirtd's network start-up, as libvirtd's: the system instance's first start defines libvirt's
 * `default` network (virbr0, 192.168.122.0/24), marks it autostart and starts it; later starts
 * start the autostart networks; a `default` the admin undefined stays gone. The daemon runs
 * with `state_root` on a temp dir, inside a network namespace this test creates (the outer run
 * re-executes the file under `unshare --net`), so neither the host's paths nor its network are
 * touched. Stock virsh talks to it over the socket.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { insideTestNetns, runInTestNetns } from "../testing/netns.ts";
import { run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";
import { isProcessAlive, runArgv } from "../util/spawn.ts";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("tvirtd's networks at start, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 240_000);
  });
} else {
  const links = async (): Promise<string[]> => {
    const r = await runArgv(["ip", "-j", "link", "show"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
  };

  let dir: string;
  let stateRoot: string;
  let sock: string;
  let conf: string;
  let daemon: DaemonProcess | undefined;
  const env = { ...process.env, LANG: "C", LC_ALL: "C" };

  const startDaemon = async (): Promise<DaemonProcess> => {
    daemon = await spawnDaemon(
      ["--system", "-f", conf, "--listen", sock, "--uri", "qemu:///system", "-p", join(dir, "tvirtd.pid")],
      [sock],
      { env },
    );
    return daemon;
  };
  const stopDaemon = async (): Promise<void> => {
    const code = await daemon?.stop();
    assert.equal(code, 0, daemon?.stderr());
    daemon = undefined;
  };

  describe("tvirtd network start-up (inside a private network namespace)", () => {
    let virsh: string | undefined;
    const v = async (...args: string[]): Promise<string> => {
      const r = await run(virsh!, ["-c", `qemu+unix:///system?socket=${sock}`, ...args], { env });
      assert.equal(r.code, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };

    before(async () => {
      assert.deepEqual(await links(), ["lo"], "not in a fresh network namespace: refusing to run");
      dir = mkdtempSync(join(tmpdir(), "tvirtd-net-"));
      stateRoot = join(dir, "state");
      sock = join(dir, "sock");
      conf = join(dir, "tvirtd.conf");
      writeFileSync(conf, `state_root = "${stateRoot}"\nlog_level = 3\n`);
    });

    after(async () => {
      await daemon?.stop("SIGKILL");
      // Whatever the daemon's networks left running (failed assertions): their dnsmasqs.
      const dnsmasqDir = join(stateRoot, "lib", "dnsmasq");
      for (const f of existsSync(dnsmasqDir) ? readdirSync(dnsmasqDir) : []) {
        if (!f.endsWith(".pid")) continue;
        const pid = Number(readFileSync(join(dnsmasqDir, f), "utf8"));
        if (pid > 0 && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test("first start: default is defined, autostart and running (virbr0, 192.168.122.1/24, dnsmasq)", async (t) => {
      virsh = virshOrSkip(t);
      if (virsh === undefined) return;
      await startDaemon();
      const list = await v("net-list", "--all");
      assert.match(list, /^ default\s+active\s+yes\s+yes\s*$/m, list);
      assert.ok(existsSync(join(stateRoot, "etc", "qemu", "networks", "default.xml")));
      assert.ok(existsSync(join(stateRoot, "etc", "qemu", "networks", "autostart", "default.xml")));
      assert.ok((await links()).includes("virbr0"));
      const addr = await runArgv(["ip", "-4", "-o", "addr", "show", "dev", "virbr0"]);
      assert.match(addr.stdout, /inet 192\.168\.122\.1\/24/);
      const pid = Number(readFileSync(join(stateRoot, "lib", "dnsmasq", "default.pid"), "utf8"));
      assert.ok(isProcessAlive(pid), "dnsmasq of default runs");
      assert.match(daemon!.stderr(), /^$|networks loaded/m);
    });

    test("a restart reconnects (dnsmasq kept) and starts a stopped autostart network", async () => {
      if (virsh === undefined) return;
      const xml = join(dir, "second.xml");
      writeFileSync(
        xml,
        "<network><name>second</name><bridge name='tvbr9'/>" +
          "<ip address='10.77.0.1' netmask='255.255.255.0'/></network>\n",
      );
      await v("net-define", xml);
      await v("net-autostart", "second");
      const pidBefore = readFileSync(join(stateRoot, "lib", "dnsmasq", "default.pid"), "utf8");
      await stopDaemon();
      // The daemon is gone; its networks are not (libvirt keeps them across restarts).
      assert.ok((await links()).includes("virbr0"));
      await startDaemon();
      const list = await v("net-list", "--all");
      assert.match(list, /^ default\s+active\s+yes\s+yes\s*$/m, list);
      assert.match(list, /^ second\s+active\s+yes\s+yes\s*$/m, list);
      assert.ok((await links()).includes("tvbr9"));
      assert.equal(readFileSync(join(stateRoot, "lib", "dnsmasq", "default.pid"), "utf8"), pidBefore);
    });

    test("after net-undefine default, later starts do not bring it back", async () => {
      if (virsh === undefined) return;
      await v("net-destroy", "default");
      await v("net-undefine", "default");
      await v("net-destroy", "second");
      await v("net-autostart", "--disable", "second");
      await stopDaemon();
      await startDaemon();
      const list = await v("net-list", "--all", "--name");
      assert.equal(list.trim(), "second");
      assert.equal((await links()).includes("virbr0"), false);
      await v("net-undefine", "second");
      await stopDaemon();
      // Even with no definition left at all, the root is past its first start.
      await startDaemon();
      assert.equal((await v("net-list", "--all", "--name")).trim(), "");
      assert.deepEqual(await links(), ["lo"]);
      await stopDaemon();
    });
  });
}
