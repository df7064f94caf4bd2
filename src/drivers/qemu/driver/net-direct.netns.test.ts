/**
 * `<interface type='ethernet'>`, `type='direct'` (macvtap) and the bridge helper on real QEMU,
 * inside a network namespace this test creates (the outer run re-runs this file under
 * `unshare --net`; the inner run refuses to act unless its namespace holds only `lo`). One TCG
 * guest: a managed ethernet tap (made for the guest, gone at stop) and a macvtap on a veth (the
 * guest pings the veth's peer through it; the macvtap is deleted at stop); an existing tap
 * hotplugged with managed='no' (the guest pings through it; it is still there after detach and
 * stop), a managed ethernet tap and a macvtap (descriptor passed over QMP) hotplugged and
 * unplugged. Then the refusals: a missing
 * unmanaged tap, an existing tap without managed='no', a missing macvtap parent, and a bridge
 * the helper's ACL file (a fake path given as a driver option) does not allow, with the argv
 * QEMU gets once the ACL allows it.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { insideTestNetns, ipLinks, linkNames, runInTestNetns, sh } from "../../../testing/netns.ts";
import { guestXML, makeTestRoot, type TestRoot } from "../../../testing/qemu/driver.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { DomainDeviceModifyFlags as F } from "../../enums.ts";
import type { QemuConnection } from "./connection.ts";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("ethernet, direct (macvtap) and bridge-helper interfaces, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 500_000);
  });
} else {
  const gone = async (name: string): Promise<boolean> => {
    for (let i = 0; i < 50 && (await linkNames()).includes(name); i++)
      await new Promise((r) => setTimeout(r, 100));
    return !(await linkNames()).includes(name);
  };
  const rejectsWith = async (p: Promise<unknown>, code: string, text: RegExp | string): Promise<void> => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(isVirtError(e), String(e));
      assert.equal(e.code, code, e.message);
      if (typeof text === "string") assert.equal(e.message, text);
      else assert.match(e.message, text);
      return true;
    });
  };
  const nic = (inner: string, type = "ethernet"): string =>
    `<interface type='${type}'>${inner}<model type='virtio'/></interface>`;

  describe("ethernet, direct and bridge-helper interfaces (private network namespace)", () => {
    let tr: TestRoot;
    let conn: QemuConnection;

    before(async () => {
      assert.deepEqual(await linkNames(), ["lo"], "refusing to run outside an empty network namespace");
      await sh("ip", "link", "set", "lo", "up");
      // the macvtap's parent and, at its peer, the host side the guest pings
      await sh("ip", "link", "add", "vpar", "type", "veth", "peer", "name", "vpeer");
      await sh("ip", "addr", "add", "192.168.60.1/24", "dev", "vpeer");
      await sh("ip", "link", "set", "vpar", "up");
      await sh("ip", "link", "set", "vpeer", "up");
      // a tap made by the admin, for managed='no'
      await sh("ip", "tuntap", "add", "dev", "ptap0", "mode", "tap");
      tr = makeTestRoot("tvirt-netdirect-");
      conn = await tr.open();
    });

    after(async () => {
      await conn.connectClose();
      await tr.cleanup();
    });

    test("one guest: a managed ethernet tap and a macvtap at start; unmanaged and managed taps and a macvtap hotplugged", async (t) => {
      const base = await guestXML(t, { name: "ethguest", mode: "shell" });
      if (base === undefined) return;
      const xml = base.replace(
        "</devices>",
        `  ${nic("<mac address='52:54:00:e0:00:01'/><target dev='tvtap0'/>")}
    ${nic("<mac address='52:54:00:e0:00:02'/><source dev='vpar' mode='bridge'/>", "direct")}
  </devices>`,
      );
      const dom = await conn.domainCreateXML(xml, 0);
      tr.track(conn);
      const live = await conn.domainGetXMLDesc(dom, 0);
      assert.match(
        live,
        /<interface type='ethernet'>\n\s*<mac address='52:54:00:e0:00:01'\/>\n\s*<target dev='tvtap0'\/>/,
      );
      assert.match(
        live,
        /<interface type='direct'>\n\s*<mac address='52:54:00:e0:00:02'\/>\n\s*<source dev='vpar' mode='bridge'\/>\n\s*<target dev='macvtap0'\/>/,
      );
      const tap = (await ipLinks()).find((l) => l.ifname === "tvtap0");
      assert.equal(tap?.address, "fe:54:00:e0:00:01", JSON.stringify(await ipLinks()));
      assert.ok(tap.flags?.includes("UP"));
      const mvt = (await ipLinks()).find((l) => l.ifname === "macvtap0");
      assert.equal(mvt?.link, "vpar");
      assert.equal(mvt.address, "52:54:00:e0:00:02");
      // the tap is the host's end of the guest's link
      await sh("ip", "addr", "add", "192.168.50.1/24", "dev", "tvtap0");

      let out = "";
      const con = await conn.domainOpenConsole(dom, null, 0);
      con.onData((d) => (out += Buffer.from(d).toString()));
      const say = (s: string): void => {
        con.write(Buffer.from(`${s}\n`));
      };
      const wait = async (re: RegExp, ms: number): Promise<string> => {
        const end = Date.now() + ms;
        for (;;) {
          const m = re.exec(out);
          if (m) return m[0];
          if (Date.now() > end) assert.fail(`console: no ${String(re)} in:\n${out.slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await wait(/TVIRT-GUEST-READY mode=shell/, 180_000);
      // the guest's NIC with a MAC, configured with an address; then a ping to the host's end
      say(
        'up() { for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$1" ] && n=${d##*/}; done; ' +
          "ip addr add $2/24 dev $n; ip link set $n up; }; " +
          "waitnic() { i=0; while ! grep -qx $1 /sys/class/net/*/address && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; }",
      );
      say(
        "up 52:54:00:e0:00:01 192.168.50.2; ping -c 1 -W 5 192.168.50.1 >/dev/null; echo PING-ETH-$((0+$?))X",
      );
      assert.equal(await wait(/PING-ETH-\d+X/, 60_000), "PING-ETH-0X");
      say(
        "up 52:54:00:e0:00:02 192.168.60.2; ping -c 1 -W 5 192.168.60.1 >/dev/null; echo PING-MVT-$((0+$?))X",
      );
      assert.equal(await wait(/PING-MVT-\d+X/, 60_000), "PING-MVT-0X");

      // an existing tap, hotplugged as it is
      const unmanaged = nic("<mac address='52:54:00:e0:00:03'/><target dev='ptap0' managed='no'/>");
      await conn.domainAttachDeviceFlags(dom, unmanaged, F.LIVE);
      assert.match(await conn.domainGetXMLDesc(dom, 0), /<target dev='ptap0' managed='no'\/>/);
      await sh("ip", "addr", "add", "192.168.70.1/24", "dev", "ptap0");
      await sh("ip", "link", "set", "ptap0", "up");
      say(
        "waitnic 52:54:00:e0:00:03; up 52:54:00:e0:00:03 192.168.70.2; ping -c 1 -W 5 192.168.70.1 >/dev/null; echo PING-PTAP-$((0+$?))X",
      );
      assert.equal(await wait(/PING-PTAP-\d+X/, 60_000), "PING-PTAP-0X");
      await conn.domainDetachDeviceFlags(dom, unmanaged, F.LIVE);
      assert.ok((await linkNames()).includes("ptap0"), "an unmanaged tap stays after detach");

      // a managed one: made for the guest, gone with its detach
      const managed = nic("<mac address='52:54:00:e0:00:04'/>");
      await conn.domainAttachDeviceFlags(dom, managed, F.LIVE);
      const hot = /<mac address='52:54:00:e0:00:04'\/>\n\s*<target dev='(vnet\d+)'\/>/.exec(
        await conn.domainGetXMLDesc(dom, 0),
      )?.[1];
      assert.ok(hot !== undefined);
      assert.equal((await ipLinks()).find((l) => l.ifname === hot)?.address, "fe:54:00:e0:00:04");
      await conn.domainDetachDeviceFlags(dom, managed, F.LIVE);
      assert.ok(await gone(hot), `${hot} is gone with its detach`);

      // a macvtap hotplugged: made and opened by tvirt, its descriptor passed over QMP (getfd)
      const mv = nic("<mac address='52:54:00:e0:00:05'/><source dev='vpar' mode='bridge'/>", "direct");
      await conn.domainAttachDeviceFlags(dom, mv, F.LIVE);
      assert.match(
        await conn.domainGetXMLDesc(dom, 0),
        /<mac address='52:54:00:e0:00:05'\/>\n\s*<source dev='vpar' mode='bridge'\/>\n\s*<target dev='macvtap1'\/>/,
      );
      assert.equal((await ipLinks()).find((l) => l.ifname === "macvtap1")?.link, "vpar");
      await sh("ip", "addr", "add", "192.168.61.1/24", "dev", "vpeer");
      say(
        "waitnic 52:54:00:e0:00:05; up 52:54:00:e0:00:05 192.168.61.2; ping -c 1 -W 5 192.168.61.1 >/dev/null; echo PING-HOTMVT-$((0+$?))X",
      );
      assert.equal(await wait(/PING-HOTMVT-\d+X/, 60_000), "PING-HOTMVT-0X");
      await conn.domainDetachDeviceFlags(dom, mv, F.LIVE);
      assert.ok(await gone("macvtap1"), "the hotplugged macvtap is deleted with its detach");
      await con.close();

      await conn.domainDestroy(dom);
      assert.ok(await gone("tvtap0"), "the managed tap is gone at stop");
      assert.ok(await gone("macvtap0"), "the macvtap is deleted at stop");
      const left = await linkNames();
      assert.ok(left.includes("ptap0") && left.includes("vpar"), JSON.stringify(left));
    });

    test("refusals: missing unmanaged tap, existing tap, missing macvtap parent; nothing left behind", async (t) => {
      const base = await guestXML(t, { name: "refused", mode: "none" });
      if (base === undefined) return;
      const withNic = (n: string): string => base.replace("</devices>", `${n}</devices>`);
      const before = await linkNames();
      await rejectsWith(
        conn.domainCreateXML(withNic(nic("<target dev='nosuchtap' managed='no'/>")), 0),
        "QEMU_NET_UNMANAGED_TAP_MISSING",
        "unsupported configuration: target managed='no' but specified dev doesn't exist",
      );
      await rejectsWith(
        conn.domainCreateXML(withNic(nic("<mac address='52:54:00:e0:00:09'/><target dev='ptap0'/>")), 0),
        "QEMU_NET_TAP_EXISTS",
        /interface 52:54:00:e0:00:09: tap device 'ptap0' already exists; .*managed='no'/,
      );
      await rejectsWith(
        conn.domainCreateXML(
          withNic(nic("<mac address='52:54:00:e0:00:0a'/><source dev='nosuchdev' mode='vepa'/>", "direct")),
          0,
        ),
        "QEMU_NET_DIRECT_FAILED",
        "operation failed: interface 52:54:00:e0:00:0a: cannot create a macvtap device in mode 'vepa' on 'nosuchdev': host interface 'nosuchdev' does not exist",
      );
      assert.deepEqual(await linkNames(), before);
      assert.deepEqual(await conn.connectListAllDomains(0), []);
    });

    test("bridge through qemu-bridge-helper: the ACL file is checked, the argv names the helper", async (t) => {
      const base = await guestXML(t, { name: "helper", mode: "none" });
      if (base === undefined) return;
      await sh("ip", "link", "add", "tbr0", "type", "bridge");
      const root = makeTestRoot("tvirt-bridgehelper-");
      const conf = join(root.root, "bridge.conf");
      const c = await root.open({ bridgeHelper: { use: "always", conf } });
      const xml = base.replace(
        "</devices>",
        `${nic("<mac address='52:54:00:e0:00:0b'/><source bridge='tbr0'/>", "bridge")}</devices>`,
      );
      try {
        await rejectsWith(
          c.domainCreateXML(xml, 0),
          "QEMU_NET_BRIDGE_HELPER_DENIED",
          `unsupported configuration: interface 52:54:00:e0:00:0b: qemu-bridge-helper may not use bridge 'tbr0': ${conf} does not exist; as root, add the line 'allow tbr0' to ${conf}`,
        );
        writeFileSync(conf, "# local bridges\nallow virbr0\n");
        await rejectsWith(
          c.domainCreateXML(xml, 0),
          "QEMU_NET_BRIDGE_HELPER_DENIED",
          new RegExp(
            `${conf} has no 'allow tbr0' or 'allow all' line; as root, add the line 'allow tbr0' to `,
          ),
        );
        writeFileSync(conf, "allow all\ndeny tbr0\n");
        await rejectsWith(
          c.domainCreateXML(xml, 0),
          "QEMU_NET_BRIDGE_HELPER_DENIED",
          /has 'deny tbr0', which wins over any allow line/,
        );
        // allowed by our file: QEMU gets -netdev bridge with the helper and no seccomp sandbox
        // (spawn=deny would kill it with SIGSYS when it forks the helper). The helper itself
        // reads /etc/qemu/bridge.conf, which this test does not touch: it runs and refuses
        // unless the host's file allows tbr0.
        writeFileSync(conf, "allow tbr0\n");
        let dom;
        let failure = "";
        try {
          dom = await c.domainCreateXML(xml, 0);
        } catch (e) {
          failure = e instanceof Error ? e.message : String(e);
        }
        const log = readFileSync(c.driver.logPath("helper"), "utf8");
        assert.match(
          log,
          /-netdev '?\{"type":"bridge","br":"tbr0","helper":"\/usr\/lib\/qemu\/qemu-bridge-helper","id":"hostnet0"\}'?/,
        );
        assert.doesNotMatch(log, /spawn=deny/);
        if (dom !== undefined) await c.domainDestroy(dom);
        else assert.match(failure, /bridge helper failed/, `the helper ran: ${failure}`);
      } finally {
        await c.connectClose();
        await root.cleanup();
        await sh("ip", "link", "del", "tbr0");
      }
    });
  });
}
