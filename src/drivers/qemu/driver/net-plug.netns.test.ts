/**
 * `<interface type='network'>` on real QEMU, inside a network namespace this test creates (the
 * outer test re-runs this file under `unshare --net`; the inner run refuses to act unless its
 * namespace holds only `lo`, so the host's interfaces and firewall are never touched): start
 * refused while the network is down (libvirt's error, no tap left), then the TCG guest starts
 * on the running `default` network: live XML with the bridge and `vnet0`, the tap enslaved to
 * virbr0 with the `fe:` MAC, a DHCP lease for the guest's MAC, and the tap gone after destroy.
 * Needs root, unshare, ip, nft, dnsmasq and the tiny test guest.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { insideTestNetns, ipLinks, linkNames, runInTestNetns, sh } from "../../../testing/netns.ts";
import { privateSession, run, spawnDaemon, virshOrSkip } from "../../../testing/rpc/harness.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { DEFAULT_NETWORK_XML, networkDriverFor } from "../../network/driver.ts";
import type { NetworkDriver } from "../../network/driver.ts";
import type { NetworkRef } from "../../network-driver.ts";
import { guestXML, makeTestRoot, type TestRoot } from "../../../testing/qemu/driver.ts";
import { testGuestOrSkip } from "../../../testing/guest/index.ts";
import { leaseOnBridge } from "../../../testing/dhcp-client.ts";
import { DomainDeviceModifyFlags, DomainXMLFlags } from "../../enums.ts";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("guest interfaces on a virtual network, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 400_000);
  });
} else {
  describe("guest interfaces on a virtual network (private network namespace)", () => {
    let tr: TestRoot;
    let nd: NetworkDriver;
    let net: NetworkRef;

    before(async () => {
      assert.deepEqual(await linkNames(), ["lo"], "refusing to run outside an empty network namespace");
      await sh("ip", "link", "set", "lo", "up");
      tr = makeTestRoot("tvirt-netplug-");
      nd = await networkDriverFor({ kind: "embed", root: tr.root });
      net = await nd.defineXML(DEFAULT_NETWORK_XML);
    });

    after(async () => {
      if (nd.isActive(net)) await nd.destroy(net);
      await tr.cleanup();
    });

    test("a TCG guest on network 'default': refused while it is down; then bridge, tap, lease", async (t) => {
      const base = await guestXML(t, { name: "netguest", mode: "shell" });
      if (base === undefined) return;
      const xml = base.replace(
        "</devices>",
        "  <interface type='network'>\n      <source network='default'/>\n      <model type='virtio'/>\n    </interface>\n  </devices>",
      );
      let conn = await tr.open();
      tr.track(conn);
      try {
        const dom = await conn.domainDefineXML(xml);
        const inactive = await conn.domainGetXMLDesc(dom, 0);
        const mac = /<mac address='(52:54:00:[0-9a-f:]{8})'\/>/.exec(inactive)?.[1];
        assert.ok(mac, `a 52:54:00 MAC was generated:\n${inactive}`);

        // the network is defined but not running: libvirt's error, nothing left behind
        await assert.rejects(conn.domainCreate(dom), (e: unknown) => {
          assert.ok(isVirtError(e), String(e));
          assert.equal(e.code, "NETWORK_PORT_NOT_ACTIVE");
          assert.equal(e.message, "Requested operation is not valid: network 'default' is not active");
          return true;
        });
        assert.deepEqual(await linkNames(), ["lo"]);

        await nd.create(net);
        await conn.domainCreate(dom);
        const live = await conn.domainGetXMLDesc(dom, 0);
        assert.match(
          live,
          /<interface type='network'>\n\s*<mac address='[^']+'\/>\n\s*<source network='default' bridge='virbr0'\/>\n\s*<target dev='vnet0'\/>/,
        );
        const persistent = await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE);
        assert.match(persistent, /<source network='default'\/>/);
        assert.doesNotMatch(persistent, /vnet0|bridge=/);

        const tap = (await ipLinks()).find((l) => l.ifname === "vnet0");
        assert.ok(tap, JSON.stringify(await ipLinks()));
        assert.equal(tap.master, "virbr0");
        assert.equal(tap.address, `fe${mac.slice(2)}`);
        assert.ok(tap.flags?.includes("UP"), JSON.stringify(tap.flags));

        // the guest's shell asks for a lease on its virtio NIC
        const con = await conn.domainOpenConsole(dom, null, 0);
        let out = "";
        con.onData((d) => {
          out += Buffer.from(d).toString();
        });
        const wait = async (re: RegExp, ms: number): Promise<void> => {
          const end = Date.now() + ms;
          while (!re.test(out)) {
            if (Date.now() > end) assert.fail(`no ${String(re)} in:\n${out.slice(-3000)}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        await wait(/TVIRT-GUEST-READY mode=shell/, 180_000);
        con.write(
          Buffer.from(
            "ip link set eth0 up; udhcpc -i eth0 -n -q -f -t 60 -T 1 -s /bin/true -x hostname:netguest; echo UDHCPC-DONE $?\n",
          ),
        );
        await wait(/UDHCPC-DONE \d/, 120_000);
        assert.match(out, /UDHCPC-DONE 0/);
        const m = /lease of (192\.168\.122\.\d+) obtained/.exec(out);
        assert.ok(m, out.slice(-2000));
        const leases = nd.getDHCPLeases(net, mac, 0);
        assert.deepEqual(
          leases.map((l) => [l.mac, l.ipaddr, l.hostname]),
          [[mac, m[1], "netguest"]],
        );
        // a second NIC plugged live: vnet1 on virbr0, gone again with its detach
        const nic2 =
          "<interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/><model type='virtio'/></interface>";
        await conn.domainAttachDeviceFlags(dom, nic2, DomainDeviceModifyFlags.LIVE);
        assert.match(
          await conn.domainGetXMLDesc(dom, 0),
          /<mac address='52:54:00:12:34:56'\/>\n\s*<source network='default' bridge='virbr0'\/>\n\s*<target dev='vnet1'\/>/,
        );
        const tap2 = (await ipLinks()).find((l) => l.ifname === "vnet1");
        assert.equal(tap2?.master, "virbr0", JSON.stringify(await ipLinks()));
        assert.equal(tap2.address, "fe:54:00:12:34:56");
        await conn.domainDetachDeviceFlags(dom, nic2, DomainDeviceModifyFlags.LIVE);
        for (let i = 0; i < 50 && (await linkNames()).includes("vnet1"); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(!(await linkNames()).includes("vnet1"), "the hotplugged tap is gone with its netdev");

        // domifstat reads the tap the live XML names: the DHCP exchange went through it
        const st = await conn.domainInterfaceStats(dom, "vnet0");
        assert.ok(
          st.rxBytes > 0n && st.txBytes > 0n,
          JSON.stringify(st, (_k, v: unknown) => String(v)),
        );
        await con.close();

        // a new driver instance (all connections closed, as at a daemon restart) reconnects:
        // the live XML read back from the status file still names the bridge and the tap
        await conn.connectClose();
        conn = await tr.open();
        tr.track(conn);
        assert.match(
          await conn.domainGetXMLDesc(dom, 0),
          /<source network='default' bridge='virbr0'\/>\n\s*<target dev='vnet0'\/>/,
        );

        await conn.domainDestroy(dom);
        for (let i = 0; i < 50 && (await linkNames()).includes("vnet0"); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(!(await linkNames()).includes("vnet0"), "the tap is gone with QEMU");
        await conn.domainUndefine(dom);
      } finally {
        await conn.connectClose();
      }
    });

    test("a bridge interface on a missing bridge fails to start and leaves no tap", async (t) => {
      const base = await guestXML(t, { name: "nobridge", mode: "none" });
      if (base === undefined) return;
      const xml = base.replace(
        "</devices>",
        "  <interface type='bridge'>\n      <source bridge='nosuchbr0'/>\n      <model type='virtio'/>\n    </interface>\n  </devices>",
      );
      const before = await linkNames();
      const conn = await tr.open();
      tr.track(conn);
      try {
        await assert.rejects(conn.domainCreateXML(xml, 0), {
          message: "Unable to add bridge nosuchbr0 port vnet0: No such device",
        });
        assert.deepEqual(await linkNames(), before);
        assert.deepEqual(await conn.connectListAllDomains(0), []);
      } finally {
        await conn.connectClose();
      }
    });

    test("stock virsh through tvirtd (qemu:///session): net-define/net-start, a guest on the network, domiflist", async (t) => {
      const virsh = virshOrSkip(t);
      if (!virsh) return;
      const xml = await guestXML(t, { name: "virshguest", mode: "none" });
      if (xml === undefined) return;
      // the embed root's network holds virbr0 and 192.168.122.0/24: down first
      if (nd.isActive(net)) await nd.destroy(net);
      const dir = mkdtempSync(join(tmpdir(), "tvirt-netplug-session-"));
      const session = privateSession(dir);
      writeFileSync(join(dir, "net.xml"), DEFAULT_NETWORK_XML);
      writeFileSync(
        join(dir, "dom.xml"),
        xml.replace(
          "</devices>",
          "  <interface type='network'>\n      <mac address='52:54:00:0a:0b:0c'/>\n      <source network='default'/>\n      <model type='virtio'/>\n    </interface>\n  </devices>",
        ),
      );
      const daemon = await spawnDaemon(
        ["--session", "--listen", session.sock, "--uri", "qemu:///session"],
        [session.sock],
        { env: session.env },
      );
      const env = { ...session.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
      const virshDo = async (cmds: string): Promise<string> => {
        const r = await run(virsh, ["-c", session.uri, cmds], { env, cwd: dir, timeoutMs: 120_000 });
        assert.equal(r.code, 0, `${cmds}: ${r.stderr}`);
        assert.equal(r.stderr, "", cmds);
        return r.stdout;
      };
      try {
        const started = await virshDo("net-define net.xml; net-start default; net-list --all");
        assert.match(started, /^ default +active +no +yes$/m);
        assert.ok((await linkNames()).includes("virbr0"), "net-start made the bridge");
        // a lease from the network's dnsmasq, listed by stock virsh through tvirtd
        const g = await testGuestOrSkip(t);
        if (!g) return;
        await leaseOnBridge({
          bridge: "virbr0",
          mac: "52:54:00:de:ad:01",
          hostname: "virshclient",
          initrd: g.initrd,
          workDir: dir,
        });
        const leases = await virshDo(
          "net-dhcp-leases default; net-dhcp-leases default --mac 52:54:00:de:ad:01",
        );
        assert.match(
          leases,
          /^ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +52:54:00:de:ad:01 +ipv4 +192\.168\.122\.\d+\/24 +virshclient +(?:-|\S+)$/m,
        );
        assert.equal(leases.match(/ virshclient /g)?.length, 2, leases);
        const out = await virshDo(
          "define dom.xml; start virshguest; domiflist virshguest; dumpxml virshguest",
        );
        assert.match(out, /^ vnet\d+ +network +default +virtio +52:54:00:0a:0b:0c$/m);
        const br = /<source network='default' bridge='(virbr\d+)'\/>/.exec(out)?.[1];
        assert.ok(br, out);
        const tap = /^ (vnet\d+) +network/m.exec(out)?.[1] ?? "";
        assert.equal((await ipLinks()).find((l) => l.ifname === tap)?.master, br);
        await virshDo("destroy virshguest; undefine virshguest; net-destroy default; net-undefine default");
        const left = await linkNames();
        assert.ok(!left.includes(tap) && !left.includes(br), JSON.stringify(left));
      } finally {
        const code = await daemon.stop();
        assert.equal(code, 0, `tvirtd exit status; stderr: ${daemon.stderr()}`);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
