/**
 * One TCG guest on virtual networks of `qemu:///embed`, inside a network namespace this test
 * creates (the outer test re-runs this file under `unshare --net`; the inner run refuses to act
 * unless its namespace holds only `lo`, so the host's interfaces and firewall are never touched).
 *
 * The guest has two NICs: one on libvirt's `default` NAT network, one on the isolated network
 * `isoa`, whose DHCP has a static host entry for that NIC. Around it:
 * - "the outside": a second namespace (a node TCP server started under `unshare --net`) behind a
 *   veth pair, 10.77.0.1 (this namespace) ↔ 10.77.0.2 (the server);
 * - a peer on `isoa` and a peer on the second isolated network `isob`: veth ports of the
 *   bridges whose other ends sit in namespaces of their own (stand-ins for guests).
 *
 * Checked: the NAT lease in getDHCPLeases, ping of the bridge, TCP to the outside masqueraded
 * to 10.77.0.1; the static address; isolation between isoa and isob (reachable inside one
 * network, rejected across, both ways); dnsmasq killed → restarted by the driver's watcher with
 * the same config, a STARTED event, the guest's lease renewed; `tvirsh net-destroy` of every
 * network (another process, while this one's driver still watches the dnsmasqs) leaves the
 * namespace's `nft list ruleset` exactly as before the first start, no bridge, no dnsmasq, and
 * this process's watcher revives none. Needs root, unshare, nsenter, ip, nft, dnsmasq and the tiny test guest.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { readCpio } from "../../../testing/guest/cpio.ts";
import { testGuestOrSkip } from "../../../testing/guest/index.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { insideTestNetns, runInTestNetns } from "../../../testing/netns.ts";
import { guestXML, makeTestRoot, type TestRoot } from "../../../testing/qemu/driver.ts";
import {
  isProcessAlive,
  readProcCmdline,
  runArgv,
  spawnArgv,
  type SpawnedChild,
} from "../../../util/spawn.ts";
import { DEFAULT_NETWORK_XML, networkDriverFor, type NetworkDriver } from "../../network/driver.ts";
import { NetworkEventId, NetworkEventLifecycleType as Ev, type NetworkRef } from "../../network-driver.ts";
import type { ConsoleStream, DomainRef } from "../../driver.ts";
import type { QemuConnection } from "./index.ts";

const here = fileURLToPath(import.meta.url);

const NAT_MAC = "52:54:00:aa:00:01";
const ISO_MAC = "52:54:00:aa:00:02";
const STATIC_IP = "192.168.150.50";

const ISOA_XML = `<network>
  <name>isoa</name>
  <bridge name='tvisoa0'/>
  <ip address='192.168.150.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.150.100' end='192.168.150.200'/>
      <host mac='${ISO_MAC}' name='fixed' ip='${STATIC_IP}'/>
    </dhcp>
  </ip>
</network>
`;
const ISOB_XML = `<network>
  <name>isob</name>
  <bridge name='tvisob0'/>
  <ip address='192.168.151.1' netmask='255.255.255.0'/>
</network>
`;

/** "The outside": prints where each connection comes from, and tells the client too. */
const SERVER_JS = `
const net = require("node:net");
const srv = net.createServer((s) => {
  const from = s.remoteAddress;
  process.stdout.write("FROM " + from + "\\n");
  s.end("SERVER-SAW " + from + "\\n");
  s.on("error", () => {});
});
srv.listen(7777, "0.0.0.0", () => process.stdout.write("LISTENING\\n"));
`;

if (!insideTestNetns()) {
  test("a TCG guest on NAT and isolated networks, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 300_000);
  });
} else {
  const sh = async (...argv: string[]): Promise<string> => {
    const r = await runArgv(argv);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const names = async (): Promise<string[]> =>
    (JSON.parse(await sh("ip", "-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname).sort();
  const ruleset = (): Promise<string> => sh("nft", "list", "ruleset");
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  /** Live dnsmasq processes whose command line names `root`. */
  const dnsmasqsOf = (root: string): number[] =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .filter((p) => {
        const argv = readProcCmdline(p) ?? [];
        return isProcessAlive(p) && /dnsmasq$/.test(argv[0] ?? "") && argv.some((a) => a.includes(root));
      });

  /** A process in a network namespace of its own (`unshare --net`), with its output. */
  interface NsProc {
    child: SpawnedChild;
    ns: string;
    out: () => string;
  }
  const nsProc = async (argv: string[]): Promise<NsProc> => {
    const child = await spawnArgv(["unshare", "--net", ...argv], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    let out = "";
    child.process.stdout?.on("data", (b: Buffer) => (out += b.toString()));
    child.process.stderr?.on("data", (b: Buffer) => (out += b.toString()));
    // unshare execs the program once the namespace exists: wait for that
    for (let i = 0; i < 200 && readProcCmdline(child.pid)?.[0] === "unshare"; i++) await sleep(20);
    return { child, ns: `/proc/${child.pid}/ns/net`, out: () => out };
  };
  const inNs = (p: NsProc, ...argv: string[]): Promise<string> => sh("nsenter", `--net=${p.ns}`, ...argv);
  /** A veth pair: `host` here (optionally a port of `bridge`), `eth0` with `addr` in `p`. */
  const plugPeer = async (p: NsProc, host: string, addr: string, bridge?: string): Promise<void> => {
    await sh("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", String(p.child.pid));
    if (bridge !== undefined) await sh("ip", "link", "set", "dev", host, "master", bridge);
    await sh("ip", "link", "set", "dev", host, "up");
    await inNs(p, "ip", "link", "set", "dev", "lo", "up");
    await inNs(p, "ip", "addr", "add", addr, "dev", "eth0");
    await inNs(p, "ip", "link", "set", "dev", "eth0", "up");
  };

  /** The guest's serial console: type a command, wait for its exit status. */
  class Shell {
    text = "";
    #n = 0;
    constructor(readonly stream: ConsoleStream) {
      stream.onData((d) => {
        this.text += Buffer.from(d).toString("utf8");
      });
    }
    async waitFor(re: RegExp, ms: number, from = 0): Promise<RegExpExecArray> {
      const end = Date.now() + ms;
      for (;;) {
        const m = re.exec(this.text.slice(from));
        if (m) return m;
        if (Date.now() > end) assert.fail(`console: no ${String(re)} in:\n${this.text.slice(-3000)}`);
        await sleep(50);
      }
    }
    /** Runs `cmd` in the guest's shell; its output and exit status. */
    async run(cmd: string, ms = 60_000): Promise<{ out: string; code: number }> {
      const tag = `CMD${++this.#n}-DONE`;
      const from = this.text.length;
      this.stream.write(Buffer.from(`${cmd}; echo ${tag} $?\n`));
      // the typed line echoes `$?`, never a digit: the match is the command's own status
      const m = await this.waitFor(new RegExp(`${tag} (\\d+)`), ms, from);
      return { out: this.text.slice(from, from + m.index), code: Number(m[1]) };
    }
  }

  describe("a TCG guest on virtual networks (private network namespace)", () => {
    let tr: TestRoot;
    let nd: NetworkDriver;
    let conn: QemuConnection | undefined;
    let dom: DomainRef | undefined;
    let shell: Shell | undefined;
    let emptyRuleset: string;
    const nets: Record<string, NetworkRef> = {};
    const procs: NsProc[] = [];
    let outside: NsProc, peerA: NsProc, peerB: NsProc;
    let natIp = "";
    /** The test guest's busybox (the host has no ping): for the peers. */
    let busybox = "";

    before(async () => {
      assert.deepEqual(await names(), ["lo"], "refusing to run outside an empty network namespace");
      await sh("ip", "link", "set", "lo", "up");
      emptyRuleset = await ruleset();
      tr = makeTestRoot("tvirt-netguest-");
      // dnsmasq reads its hosts file after dropping root (to re-read it on SIGHUP): the files
      // under a 0700 temp root would be out of its reach, and the static host entry ignored
      chmodSync(tr.root, 0o755);
      // a short watch period: the fault test waits for the watcher
      nd = await networkDriverFor({ kind: "embed", root: tr.root }, { dnsmasqWatchMs: 200 });
      for (const xml of [DEFAULT_NETWORK_XML, ISOA_XML, ISOB_XML]) {
        const n = await nd.defineXML(xml);
        await nd.create(n);
        nets[n.name] = n;
      }

      // the outside: a TCP server in a second namespace, 10.77.0.2, reached over tvup0
      outside = await nsProc([process.execPath, "-e", SERVER_JS]);
      procs.push(outside);
      await plugPeer(outside, "tvup0", "10.77.0.2/24");
      await sh("ip", "addr", "add", "10.77.0.1/24", "dev", "tvup0");
      // peers: one on each isolated network, routed through their own bridge
      peerA = await nsProc(["sleep", "600"]);
      procs.push(peerA);
      await plugPeer(peerA, "tvpeera", "192.168.150.60/24", "tvisoa0");
      await inNs(peerA, "ip", "route", "add", "default", "via", "192.168.150.1");
      peerB = await nsProc(["sleep", "600"]);
      procs.push(peerB);
      await plugPeer(peerB, "tvpeerb", "192.168.151.60/24", "tvisob0");
      await inNs(peerB, "ip", "route", "add", "default", "via", "192.168.151.1");
      for (let i = 0; i < 250 && !outside.out().includes("LISTENING"); i++) await sleep(20);
      assert.match(outside.out(), /LISTENING/);
    });

    after(async () => {
      await shell?.stream.close().catch(() => undefined);
      if (conn) {
        if (dom) await conn.domainDestroy(dom).catch(() => undefined);
        await conn.connectClose().catch(() => undefined);
      }
      // what a failed test left running (a network tvirsh destroyed has no status file left)
      for (const n of Object.values(nets)) {
        if (nd.isActive(n) && existsSync(join(tr.root, "run", "network", `${n.name}.xml`))) {
          await nd.destroy(n).catch(() => undefined);
        }
      }
      for (const p of procs) {
        p.child.kill("SIGKILL");
        await p.child.exited;
      }
      // last resort after a failure: a dnsmasq of this root (started by this test's drivers)
      // would keep the namespace alive after the run
      for (const pid of dnsmasqsOf(tr.root)) process.kill(pid, "SIGKILL");
      await tr.cleanup();
    });

    test("the guest boots with a NIC on 'default' and one on 'isoa'", async (t) => {
      const g = await testGuestOrSkip(t);
      if (!g) return;
      const bb = readCpio(gunzipSync(readFileSync(g.initrd))).find((e) => e.name === "bin/busybox");
      assert.ok(bb, "no busybox in the test guest");
      busybox = join(tr.root, "busybox");
      writeFileSync(busybox, bb.data, { mode: 0o755 });
      const base = await guestXML(t, { name: "netguest", mode: "shell" });
      if (base === undefined) return;
      const nic = (mac: string, net: string): string =>
        `  <interface type='network'>\n      <mac address='${mac}'/>\n      <source network='${net}'/>\n      <model type='virtio'/>\n    </interface>\n`;
      const xml = base.replace("</devices>", `${nic(NAT_MAC, "default")}${nic(ISO_MAC, "isoa")}  </devices>`);
      conn = await tr.open();
      tr.track(conn);
      dom = await conn.domainCreateXML(xml, 0);
      tr.track(conn);
      shell = new Shell(await conn.domainOpenConsole(dom, null, 0));
      await shell.waitFor(/TVIRT-GUEST-READY mode=shell/, 180_000);
      // the guest names its NICs by probe order: find them by MAC
      const r = await shell.run(
        `ifof() { for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$1" ] && echo \${d##*/}; done; }; ` +
          `NAT=$(ifof ${NAT_MAC}); ISO=$(ifof ${ISO_MAC}); ip link set $NAT up; ip link set $ISO up; echo NICS $NAT $ISO`,
      );
      assert.equal(r.code, 0);
      assert.match(shell.text, /NICS eth\d eth\d/);
    });

    test("NAT: a lease in getDHCPLeases, ping of the bridge, TCP to the outside masqueraded", async (t) => {
      if (!shell) {
        t.skip("no guest (skipped or failed above)");
        return;
      }
      const from = shell.text.length;
      const dh = await shell.run(
        "udhcpc -i $NAT -n -q -f -t 30 -T 1 -s /bin/true -x hostname:natguest",
        90_000,
      );
      assert.equal(dh.code, 0, shell.text.slice(from));
      natIp = (await shell.waitFor(/lease of (192\.168\.122\.\d+) obtained/, 1000, from))[1]!;
      const leases = nd.getDHCPLeases(nets.default!, null, 0);
      assert.deepEqual(
        leases.map((l) => [l.mac, l.ipaddr, l.prefix, l.hostname, l.iface]),
        [[NAT_MAC, natIp, 24, "natguest", "virbr0"]],
      );
      assert.equal(
        (await shell.run(`ip addr add ${natIp}/24 dev $NAT && ip route add default via 192.168.122.1`)).code,
        0,
      );
      assert.equal((await shell.run("ping -c 1 -W 5 192.168.122.1")).code, 0, "the guest pings the bridge");

      // TCP to the server in the other namespace: it must see this namespace's uplink address
      const at = shell.text.length;
      const nc = await shell.run("echo hello | nc -w 10 10.77.0.2 7777", 60_000);
      assert.equal(nc.code, 0, shell.text.slice(at));
      const saw = (await shell.waitFor(/SERVER-SAW (\S+)/, 1000, at))[1];
      assert.equal(saw, "10.77.0.1", "the connection was masqueraded to the uplink address");
      assert.match(outside.out(), /^FROM 10\.77\.0\.1$/m);
      assert.doesNotMatch(outside.out(), new RegExp(`FROM ${natIp.replace(/\./g, "\\.")}`));
    });

    test("a static <host mac ip> entry gives the isoa NIC its fixed address", async (t) => {
      if (!shell) {
        t.skip("no guest (skipped or failed above)");
        return;
      }
      const from = shell.text.length;
      const dh = await shell.run("udhcpc -i $ISO -n -q -f -t 30 -T 1 -s /bin/true", 90_000);
      assert.equal(dh.code, 0, shell.text.slice(from));
      assert.equal((await shell.waitFor(/lease of (\S+) obtained/, 1000, from))[1], STATIC_IP);
      assert.deepEqual(
        nd.getDHCPLeases(nets.isoa!, null, 0).map((l) => [l.mac, l.ipaddr, l.hostname]),
        [[ISO_MAC, STATIC_IP, "fixed"]],
      );
      assert.equal((await shell.run(`ip addr add ${STATIC_IP}/24 dev $ISO`)).code, 0);
    });

    test("two isolated networks: reachable inside one, rejected across both ways", async (t) => {
      if (!shell) {
        t.skip("no guest (skipped or failed above)");
        return;
      }
      // the way to isob goes through isoa's bridge (the default route points at the NAT network)
      assert.equal((await shell.run("ip route add 192.168.151.0/24 via 192.168.150.1 dev $ISO")).code, 0);
      // inside isoa: the bridge and the peer answer; inside isob: the peer reaches its bridge
      assert.equal((await shell.run("ping -c 1 -W 5 192.168.150.1")).code, 0, "guest → isoa bridge");
      assert.equal((await shell.run("ping -c 1 -W 5 192.168.150.60")).code, 0, "guest → isoa peer");
      assert.equal(
        (
          await runArgv([
            "nsenter",
            `--net=${peerB.ns}`,
            busybox,
            "ping",
            "-c",
            "1",
            "-W",
            "5",
            "192.168.151.1",
          ])
        ).code,
        0,
        "isob peer → isob bridge",
      );
      // across: forwarding is on (the NAT network turned it on) and both ends have routes, so
      // only the isolated networks' reject rules stop these
      assert.equal(
        readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(),
        "1",
        "forwarding is on: the rules, not the kernel, must stop the traffic",
      );
      assert.notEqual((await shell.run("ping -c 1 -W 3 192.168.151.60")).code, 0, "guest → isob peer");
      assert.notEqual(
        (await runArgv(["nsenter", `--net=${peerB.ns}`, busybox, "ping", "-c", "1", "-W", "3", STATIC_IP]))
          .code,
        0,
        "isob peer → guest",
      );
      assert.notEqual(
        (
          await runArgv([
            "nsenter",
            `--net=${peerA.ns}`,
            busybox,
            "ping",
            "-c",
            "1",
            "-W",
            "3",
            "192.168.151.60",
          ])
        ).code,
        0,
        "isoa peer → isob peer",
      );
      assert.notEqual(
        (await shell.run("echo x | nc -w 3 192.168.151.60 7777")).code,
        0,
        "guest → isob peer over TCP",
      );
    });

    test("dnsmasq killed: the driver restarts it with the same config and emits STARTED", async (t) => {
      if (!shell) {
        t.skip("no guest (skipped or failed above)");
        return;
      }
      const dir = join(tr.root, "lib", "dnsmasq");
      const conf = readFileSync(join(dir, "default.conf"), "utf8");
      const pid = Number(readFileSync(join(dir, "default.pid"), "utf8"));
      // only a dnsmasq this test's driver started, for this root's network
      assert.ok(readProcCmdline(pid)?.includes(`--conf-file=${join(dir, "default.conf")}`));
      const api = nd.connection();
      const events: [string, number][] = [];
      const id = await api.connectNetworkEventRegisterAny!(null, NetworkEventId.LIFECYCLE, (n, e) => {
        events.push([n.name, e.event]);
      });
      try {
        process.kill(pid, "SIGKILL");
        const end = Date.now() + 15_000;
        while (!events.some(([n, e]) => n === "default" && e === Ev.STARTED)) {
          if (Date.now() > end) assert.fail(`no STARTED event; events: ${JSON.stringify(events)}`);
          await sleep(50);
        }
        assert.deepEqual(events, [["default", Ev.STARTED]], "one event, only for 'default'");
        assert.ok(!isProcessAlive(pid), "the old dnsmasq is gone");
        const pid2 = Number(readFileSync(join(dir, "default.pid"), "utf8"));
        assert.notEqual(pid2, pid);
        assert.ok(isProcessAlive(pid2), "a new dnsmasq runs");
        assert.ok(readProcCmdline(pid2)?.includes(`--conf-file=${join(dir, "default.conf")}`));
        assert.equal(readFileSync(join(dir, "default.conf"), "utf8"), conf, "the same config");
        const status = readFileSync(join(tr.root, "run", "network", "default.xml"), "utf8");
        assert.match(status, new RegExp(`&quot;dnsmasqPid&quot;:${pid2}[,}]|"dnsmasqPid":${pid2}[,}]`));
        assert.equal(nd.isActive(nets.default!), true);
        // the new dnsmasq serves DHCP, from the lease file it kept: the same address again
        const from = shell.text.length;
        const dh = await shell.run(
          "udhcpc -i $NAT -n -q -f -t 30 -T 1 -s /bin/true -x hostname:natguest",
          90_000,
        );
        assert.equal(dh.code, 0, shell.text.slice(from));
        assert.equal((await shell.waitFor(/lease of (\S+) obtained/, 1000, from))[1], natIp);
      } finally {
        await api.connectNetworkEventDeregisterAny!(id);
        await api.close();
      }
    });

    test("tvirsh net-destroy removes bridges, dnsmasq and every rule: the ruleset is as before", async () => {
      if (conn && dom) {
        await shell?.stream.close();
        shell = undefined;
        await conn.domainDestroy(dom);
        dom = undefined;
      }
      // tvirsh takes the QEMU driver root: this process lets it go (its network driver stays)
      await conn?.connectClose();
      conn = undefined;
      const dir = join(tr.root, "lib", "dnsmasq");
      const pids = ["default", "isoa", "isob"].map((n) =>
        Number(readFileSync(join(dir, `${n}.pid`), "utf8")),
      );
      for (const p of pids) assert.ok(isProcessAlive(p), `dnsmasq ${p} runs before destroy`);
      assert.notEqual(await ruleset(), emptyRuleset, "the networks have rules");
      // net-destroy from another process (tvirsh on the same embed root, its driver reconnected
      // from the status files), while this process's driver still watches the three dnsmasqs:
      // it must take their end for a destroy, not a crash to repair
      const cli = await runArgv(
        [
          process.execPath,
          join(here, "..", "..", "..", "..", "..", "bin", "tvirsh.js"),
          "-c",
          tr.uri,
          "net-destroy default; net-destroy isoa; net-destroy isob",
        ],
        {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", HOME: process.env.HOME ?? "/root" },
          timeoutMs: 60_000,
        },
      );
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(
        cli.stdout,
        "Network default destroyed\n\nNetwork isoa destroyed\n\nNetwork isob destroyed\n\n",
      );
      assert.equal(await ruleset(), emptyRuleset);
      const left = await names();
      for (const l of ["virbr0", "tvisoa0", "tvisob0", "vnet0", "vnet1"]) {
        assert.ok(!left.includes(l), JSON.stringify(left));
      }
      for (const p of pids) assert.ok(!isProcessAlive(p), `dnsmasq ${p} is gone`);
      // this process's watcher (200 ms) brings none back
      await sleep(1000);
      assert.deepEqual(dnsmasqsOf(tr.root), []);
      assert.deepEqual(readdirSync(dir), []);
      assert.deepEqual(readdirSync(join(tr.root, "run", "network")), []);
    });
  });
}
