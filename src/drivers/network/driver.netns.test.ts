/**
 * The network driver against the real kernel, dnsmasq and nft, inside a network namespace
 * this test creates: the outer test re-runs this file under `unshare --net`, and the inner
 * run refuses to do anything unless its namespace holds nothing but `lo` (so the host's
 * interfaces and firewall are never touched). Needs root, unshare, ip, nft and dnsmasq.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { commandWorks, insideTestNetns, runInTestNetns } from "../../testing/netns.ts";
import { isVirtError } from "../../util/errors/index.ts";
import { isProcessAlive, readProcCmdline, runArgv } from "../../util/spawn.ts";
import { ConnectListNetworksFlags as L } from "../network-driver.ts";
import { NetworkDriver, networkPaths, type NetworkPaths } from "./driver.ts";
import { leaseOnBridge } from "../../testing/dhcp-client.ts";
import { QEMU_BINARY, rawQemuArgs, testGuestOrSkip } from "../../testing/guest/index.ts";
import { spawnArgv } from "../../util/spawn.ts";
import { writeFileSync } from "node:fs";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("network driver in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 180_000);
  });
} else {
  const sh = async (...argv: string[]): Promise<string> => {
    const r = await runArgv(argv);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const links = async (): Promise<string[]> =>
    (JSON.parse(await sh("ip", "-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname).sort();
  const ruleset = (): Promise<string> => sh("nft", "list", "ruleset");
  const code = (e: unknown): string => (isVirtError(e) ? e.code : String(e));

  let root: string;
  let paths: NetworkPaths;
  let drv: NetworkDriver;
  let emptyRuleset: string;

  describe("network driver (inside a private network namespace)", () => {
    before(async () => {
      // The one guard that matters: never run against a namespace we did not just create.
      assert.deepEqual(await links(), ["lo"], "not in a fresh network namespace: refusing to run");
      emptyRuleset = await ruleset();
      root = mkdtempSync(join(tmpdir(), "tvirt-netdrv-"));
      // dnsmasq reads the networks' host entries as its own user: it must get through the root.
      chmodSync(root, 0o755);
      paths = networkPaths({ kind: "embed", root });
      drv = await NetworkDriver.load(paths, { defineDefaultNetwork: true, autostart: true });
    });

    after(async () => {
      // Stop whatever is still running (failed assertions), then kill dnsmasqs we started.
      for (const n of drv.listAll(L.ACTIVE)) await drv.destroy(n).catch(() => undefined);
      for (const f of existsSync(paths.dnsmasqDir) ? readdirSync(paths.dnsmasqDir) : []) {
        if (!f.endsWith(".pid")) continue;
        const pid = Number(readFileSync(join(paths.dnsmasqDir, f), "utf8"));
        if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      }
      rmSync(root, { recursive: true, force: true });
    });

    test("the default network is defined, autostarted and running on the first start", async () => {
      const def = drv.lookupByName("default");
      assert.equal(drv.isActive(def), true);
      assert.equal(drv.isPersistent(def), true);
      assert.equal(drv.getAutostart(def), true);
      assert.deepEqual(drv.listAll(L.ACTIVE | L.AUTOSTART), [def]);
      assert.ok(existsSync(join(paths.configDir, "default.xml")));
      assert.ok(existsSync(join(paths.autostartDir, "default.xml")));
      assert.ok(existsSync(join(paths.stateDir, "default.xml")));

      const addr = JSON.parse(await sh("ip", "-j", "addr", "show", "dev", "virbr0")) as {
        flags: string[];
        addr_info: { local: string; prefixlen: number; family: string }[];
      }[];
      assert.ok(addr[0]!.flags.includes("UP"), "virbr0 is up");
      assert.deepEqual(
        addr[0]!.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
        ["192.168.122.1/24"],
      );
      // STP on (the kernel raises the forward delay to its 2 s minimum when STP starts).
      assert.match(await sh("ip", "-d", "link", "show", "dev", "virbr0"), /bridge .*stp_state 1/);

      const conf = readFileSync(join(paths.dnsmasqDir, "default.conf"), "utf8");
      assert.match(conf, /^interface=virbr0$/m);
      assert.match(conf, /^dhcp-range=192\.168\.122\.2,192\.168\.122\.254,255\.255\.255\.0$/m);
      const pid = Number(readFileSync(join(paths.dnsmasqDir, "default.pid"), "utf8"));
      assert.ok(isProcessAlive(pid), "dnsmasq runs");
      assert.ok(readProcCmdline(pid)?.includes(`--conf-file=${join(paths.dnsmasqDir, "default.conf")}`));
      // dnsmasq answers DHCP and DNS on the bridge address.
      assert.match(await sh("ss", "-lunp"), /192\.168\.122\.1:53 .*dnsmasq/);

      const rules = await ruleset();
      assert.match(rules, /table ip tvirt_network/);
      assert.match(rules, /ip saddr 192\.168\.122\.0\/24 .*masquerade/);
      assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(), "1");
    });

    test("a DHCP client on the bridge gets a lease that getDHCPLeases reports", async (t) => {
      // The client: busybox udhcpc from the tiny test guest, in a second namespace behind a
      // veth pair whose host end is a port of virbr0.
      const guest = await testGuestOrSkip(t);
      if (!guest) return;
      const mac = "52:54:00:12:34:56";
      await leaseOnBridge({
        bridge: "virbr0",
        mac,
        hostname: "leaseclient",
        initrd: guest.initrd,
        workDir: root,
        hostEnd: "tvveth-h",
      });
      {
        const leases = drv.getDHCPLeases(drv.lookupByName("default"), null, 0);
        assert.equal(leases.length, 1, JSON.stringify(leases));
        const l = leases[0]!;
        assert.equal(l.mac, mac);
        assert.equal(l.iface, "virbr0");
        assert.equal(l.prefix, 24);
        assert.equal(l.hostname, "leaseclient");
        assert.match(l.ipaddr, /^192\.168\.122\.([2-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])$/);
        assert.ok(l.expirytime > Date.now() / 1000, "the lease expires in the future");
        assert.deepEqual(drv.getDHCPLeases(drv.lookupByName("default"), "52:54:00:00:00:01", 0), []);
      }
    });

    test("a TCG guest on the bridge gets a lease; net-dhcp-leases shows it", async (t) => {
      const guest = await testGuestOrSkip(t);
      if (!guest) return;
      // QEMU makes the tap (we are root in this namespace); the port joins virbr0 as libvirt
      // would attach it. The guest's shell (probe=shell) runs udhcpc on its virtio NIC.
      const mac = "52:54:00:ab:cd:ef";
      const args = rawQemuArgs({
        kernel: guest.kernel,
        initrd: guest.initrd,
        mode: "shell",
        extraArgs: [
          "-netdev",
          "tap,id=n0,ifname=tvtap0,script=no,downscript=no",
          "-device",
          `virtio-net-pci,netdev=n0,mac=${mac}`,
        ],
      });
      const q = await spawnArgv([QEMU_BINARY, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      let out = "";
      q.process.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      q.process.stderr?.on("data", (b: Buffer) => (out += b.toString()));
      const wait = async (re: RegExp, ms: number): Promise<void> => {
        const end = Date.now() + ms;
        while (!re.test(out)) {
          if (Date.now() > end || q.exitStatus()) assert.fail(`no ${String(re)} in:\n${out.slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      try {
        for (let i = 0; i < 100 && !(await links()).includes("tvtap0"); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        await sh("ip", "link", "set", "dev", "tvtap0", "master", "virbr0", "up");
        await wait(/TVIRT-GUEST-READY mode=shell/, 180_000);
        q.process.stdin?.write(
          "ip link set eth0 up; udhcpc -i eth0 -n -q -f -t 60 -T 1 -s /bin/true -x hostname:tcgguest; echo UDHCPC-DONE $?\n",
        );
        await wait(/UDHCPC-DONE \d/, 120_000);
        assert.match(out, /UDHCPC-DONE 0/);
        const m = /lease of (192\.168\.122\.\d+) obtained/.exec(out);
        assert.ok(m, out.slice(-2000));
        const leases = drv.getDHCPLeases(drv.lookupByName("default"), mac, 0);
        assert.deepEqual(
          leases.map((l) => [l.mac, l.ipaddr, l.prefix, l.hostname, l.clientid]),
          [[mac, m[1], 24, "tcgguest", `01:${mac}`]],
        );
        // tvirsh on the same root (its own driver instance, reconnected from the status file).
        const cli = await runArgv(
          [
            process.execPath,
            join(here, "..", "..", "..", "..", "bin", "tvirsh.js"),
            "-c",
            `qemu:///embed?root=${root}`,
            `net-dhcp-leases default --mac ${mac}`,
          ],
          {
            env: {
              PATH: process.env.PATH ?? "/usr/bin:/bin",
              LC_ALL: "C",
              HOME: process.env.HOME ?? "/root",
            },
            timeoutMs: 60_000,
          },
        );
        assert.equal(cli.code, 0, cli.stderr);
        assert.match(
          cli.stdout,
          new RegExp(
            ` \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d   ${mac}   ipv4       ${m[1]!.replace(/\./g, "\\.")}/24\\s+tcgguest   01:${mac}\n`,
          ),
        );
      } finally {
        q.kill("SIGKILL");
        await q.exited;
      }
    });

    test("starting it again is refused with a clear error", async () => {
      const def = drv.lookupByName("default");
      await assert.rejects(drv.create(def), (e) => {
        assert.equal(code(e), "NETWORK_ALREADY_ACTIVE");
        assert.equal((e as Error).message, "Requested operation is not valid: network is already active");
        return true;
      });
    });

    test("a restarted driver finds the running network and leaves dnsmasq alone", async () => {
      const pid = Number(readFileSync(join(paths.dnsmasqDir, "default.pid"), "utf8"));
      const again = await NetworkDriver.load(paths, { autostart: true });
      const def = again.lookupByName("default");
      assert.equal(again.isActive(def), true);
      assert.ok(isProcessAlive(pid), "dnsmasq survived the reload");
      assert.equal(Number(readFileSync(join(paths.dnsmasqDir, "default.pid"), "utf8")), pid);
    });

    test("a driver in another network namespace reports the network active and leaves it alone", async () => {
      const pid = Number(readFileSync(join(paths.dnsmasqDir, "default.pid"), "utf8"));
      const script = join(root, "other-ns.mts");
      writeFileSync(
        script,
        `import { NetworkDriver, networkPaths } from ${JSON.stringify(join(here, "..", "driver.ts"))};\n` +
          `const d = await NetworkDriver.load(networkPaths({ kind: "embed", root: ${JSON.stringify(root)} }), { autostart: true });\n` +
          `const n = d.lookupByName("default");\n` +
          `let err = "";\n` +
          `try { await d.destroy(n); } catch (e) { err = e.code + ": " + e.message; }\n` +
          `console.log(JSON.stringify({ active: d.isActive(n), err }));\n`,
      );
      const r = await runArgv(["unshare", "--net", process.execPath, "--import", "tsx", script], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { active: boolean; err: string };
      assert.equal(out.active, true);
      assert.match(
        out.err,
        /^NETWORK_OTHER_NAMESPACE: .*network 'default' runs in network namespace net:\[\d+\], not in this one/,
      );
      assert.ok(isProcessAlive(pid), "dnsmasq untouched");
      assert.ok((await links()).includes("virbr0"), "bridge untouched");
      assert.ok(existsSync(join(paths.stateDir, "default.xml")), "status file kept");
    });

    test("an overlapping range is refused and leaves nothing behind", async () => {
      const linksBefore = await links();
      const rulesBefore = await ruleset();
      const ref = await drv.defineXML(
        "<network><name>clash</name><bridge name='tvbr-clash'/><forward/>" +
          "<ip address='192.168.122.129' prefix='25'><dhcp><range start='192.168.122.130' end='192.168.122.140'/></dhcp></ip></network>",
      );
      await assert.rejects(drv.create(ref), (e) => {
        assert.equal(code(e), "NETWORK_RANGE_IN_USE");
        assert.match((e as Error).message, /192\.168\.122\.128\/25 of network 'clash' .* network 'default'/);
        return true;
      });
      assert.deepEqual(await links(), linksBefore);
      assert.equal(await ruleset(), rulesBefore);
      assert.equal(existsSync(join(paths.stateDir, "clash.xml")), false);
      assert.equal(existsSync(join(paths.dnsmasqDir, "clash.conf")), false);
      assert.equal(drv.isActive(ref), false);
      await drv.undefine(ref);
      assert.throws(
        () => drv.lookupByName("clash"),
        (e) => code(e) === "NETWORK_NOT_FOUND",
      );
    });

    test("a range on a host route and a bridge already present are refused", async () => {
      await sh("ip", "link", "add", "tvveth0", "type", "veth", "peer", "name", "tvveth1");
      await sh("ip", "addr", "add", "10.99.0.1/24", "dev", "tvveth0");
      await sh("ip", "link", "set", "dev", "tvveth0", "up");
      await sh("ip", "link", "add", "tvbr-busy", "type", "bridge");
      try {
        const linksBefore = await links();
        const rulesBefore = await ruleset();
        await assert.rejects(
          drv.createXML(
            "<network><name>routed</name><bridge name='tvbr-r'/><forward mode='route'/><ip address='10.99.0.200' prefix='28'/></network>",
          ),
          (e) => code(e) === "NETWORK_RANGE_IN_USE" && /tvveth0/.test((e as Error).message),
        );
        await assert.rejects(
          drv.createXML(
            "<network><name>busy</name><bridge name='tvbr-busy'/><ip address='10.98.0.1' prefix='24'/></network>",
          ),
          (e) => code(e) === "NETWORK_BRIDGE_IN_USE" && /'tvbr-busy'/.test((e as Error).message),
        );
        assert.deepEqual(await links(), linksBefore);
        assert.equal(await ruleset(), rulesBefore);
        assert.throws(
          () => drv.lookupByName("routed"),
          (e) => code(e) === "NETWORK_NOT_FOUND",
        );
        assert.throws(
          () => drv.lookupByName("busy"),
          (e) => code(e) === "NETWORK_NOT_FOUND",
        );
      } finally {
        await sh("ip", "link", "del", "tvveth0");
        await sh("ip", "link", "del", "tvbr-busy");
      }
    });

    test("a dnsmasq that refuses to start rolls back the bridge and the rules", async () => {
      const linksBefore = await links();
      const rulesBefore = await ruleset();
      await assert.rejects(
        drv.createXML(
          "<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>baddns</name>" +
            "<bridge name='tvbr-bad'/><forward/><ip address='10.88.0.1' prefix='24'/>" +
            "<dnsmasq:options><dnsmasq:option value='no-such-dnsmasq-option=1'/></dnsmasq:options></network>",
        ),
        (e) => {
          assert.equal(code(e), "NETWORK_DNSMASQ_FAILED");
          assert.match(
            (e as Error).message,
            /network 'baddns': dnsmasq did not start: .*no-such-dnsmasq-option/,
          );
          return true;
        },
      );
      assert.deepEqual(await links(), linksBefore);
      assert.equal(await ruleset(), rulesBefore);
      assert.equal(existsSync(join(paths.stateDir, "baddns.xml")), false);
      assert.equal(existsSync(join(paths.dnsmasqDir, "baddns.conf")), false);
      assert.throws(
        () => drv.lookupByName("baddns"),
        (e) => code(e) === "NETWORK_NOT_FOUND",
      );
      // No dnsmasq program at all: the same.
      const other = await NetworkDriver.load(networkPaths({ kind: "embed", root: join(root, "nodns") }), {
        dnsmasq: join(root, "no-dnsmasq-here"),
      });
      await assert.rejects(
        other.createXML(
          "<network><name>nodns</name><bridge name='tvbr-nodns'/><forward/><ip address='10.87.0.1' prefix='24'/></network>",
        ),
        (e) => code(e) === "NETWORK_DNSMASQ_FAILED",
      );
      assert.deepEqual(await links(), linksBefore);
      assert.equal(await ruleset(), rulesBefore);
    });

    test("a transient isolated network runs beside it and disappears when destroyed", async () => {
      const conn = drv.connection();
      const events: number[] = [];
      await conn.connectNetworkEventRegisterAny!(null, 0, (n, e) => {
        if (n.name === "iso") events.push(e.event);
      });
      const ref = await drv.createXML(
        "<network><name>iso</name><bridge name='tvbr-iso'/><ip address='10.77.0.1' prefix='24'>" +
          "<dhcp><range start='10.77.0.10' end='10.77.0.20'/><host mac='52:54:00:aa:bb:cc' ip='10.77.0.15'/></dhcp></ip></network>",
      );
      assert.equal(drv.isPersistent(ref), false);
      assert.deepEqual(drv.listAll(L.TRANSIENT), [ref]);
      assert.equal(drv.getBridgeName(ref), "tvbr-iso");
      assert.match(
        readFileSync(join(paths.dnsmasqDir, "iso.hostsfile"), "utf8"),
        /^52:54:00:aa:bb:cc,10\.77\.0\.15$/m,
      );
      await assert.rejects(drv.setAutostart(ref, true), (e) => code(e) === "NETWORK_TRANSIENT");
      await drv.destroy(ref);
      assert.throws(
        () => drv.lookupByName("iso"),
        (e) => code(e) === "NETWORK_NOT_FOUND",
      );
      assert.ok(!(await links()).includes("tvbr-iso"));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(events, [2, 3], "STARTED then STOPPED");
      await conn.close();
    });

    test("destroy removes the bridge, dnsmasq and every rule", async () => {
      const def = drv.lookupByName("default");
      const pid = Number(readFileSync(join(paths.dnsmasqDir, "default.pid"), "utf8"));
      await drv.destroy(def);
      assert.equal(drv.isActive(def), false);
      assert.deepEqual(await links(), ["lo"]);
      assert.equal(isProcessAlive(pid), false, "dnsmasq stopped");
      assert.equal(await ruleset(), emptyRuleset);
      assert.equal(existsSync(join(paths.stateDir, "default.xml")), false);
      assert.deepEqual(readdirSync(paths.dnsmasqDir), []);
      // Still defined and autostarted; stopping twice is refused.
      assert.equal(drv.getAutostart(def), true);
      await assert.rejects(drv.destroy(def), (e) => code(e) === "NETWORK_NOT_ACTIVE");
      // And it starts again.
      await drv.create(def);
      assert.equal(drv.isActive(def), true);
      await drv.destroy(def);
      assert.equal(await ruleset(), emptyRuleset);
    });

    test("the iptables backend installs and removes its rules too", async (t) => {
      if (!(await commandWorks(["iptables", "-w", "--table", "filter", "--list-rules"]))) {
        if (process.env.CI === "true") assert.fail("iptables is unusable here (scripts/setup installs it)");
        t.skip("iptables unusable here");
        return;
      }
      const ipt = await NetworkDriver.load(networkPaths({ kind: "embed", root: join(root, "ipt") }), {
        firewallBackend: "iptables",
      });
      const ref = await ipt.createXML(
        "<network><name>ipt</name><bridge name='tvbr-ipt'/><forward/><ip address='10.66.0.1' prefix='24'/></network>",
      );
      const save = (): Promise<string> => sh("iptables-save");
      assert.match(await save(), /-A LIBVIRT_PRT -s 10\.66\.0\.0\/24 ! -d 10\.66\.0\.0\/24 .*MASQUERADE/);
      await ipt.destroy(ref);
      assert.doesNotMatch(await save(), /10\.66\.0\.0/);
    });
  });
}
