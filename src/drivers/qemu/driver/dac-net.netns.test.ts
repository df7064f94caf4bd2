/**
 * A network guest with QEMU as an unprivileged user (the system instance's DAC), inside a
 * network namespace this test creates (the inner run refuses to act unless its namespace holds
 * only `lo`): QEMU may not create a tap, so the driver makes `vnet0` beforehand as a persistent
 * tap owned by tvirt-qemu; QEMU (running as tvirt-qemu) attaches to it, the tap joins virbr0,
 * the guest gets a DHCP lease through it, and the tap is deleted at destroy (it would otherwise
 * outlive QEMU). Where `/dev/net/tun` is root's alone (mode 0600, as in some containers) the
 * start is first refused with an error naming the device and the ways out; the rest then runs
 * with a 0666 node bind-mounted over it in the test's private mount namespace (the host's node
 * is never changed). Needs root, unshare, ip, nft, dnsmasq, the tvirt-qemu user and the test guest.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { insideTestNetns, ipLinks, linkNames, runInTestNetns, sh } from "../../../testing/netns.ts";
import { DEFAULT_NETWORK_XML, networkDriverFor } from "../../network/driver.ts";
import type { NetworkDriver } from "../../network/driver.ts";
import type { NetworkRef } from "../../network-driver.ts";
import { makeTestRoot, type TestRoot } from "../../../testing/qemu/driver.ts";
import { guestDomainXML, testGuestOrSkip } from "../../../testing/guest/index.ts";
import { DEFAULT_QEMU_USER, resolveRunAs, type DacIdentity } from "./dac.ts";
import { isVirtError } from "../../../util/errors/index.ts";

const here = fileURLToPath(import.meta.url);

if (!insideTestNetns()) {
  test("a network guest with QEMU as tvirt-qemu, in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 400_000, { mountNs: true });
  });
} else {
  describe("network guest with QEMU as tvirt-qemu (private network namespace)", () => {
    let tr: TestRoot;
    let nd: NetworkDriver;
    let net: NetworkRef;

    before(async () => {
      assert.deepEqual(await linkNames(), ["lo"], "refusing to run outside an empty network namespace");
      await sh("ip", "link", "set", "lo", "up");
      tr = makeTestRoot("tvirt-dacnet-");
      chmodSync(tr.root, 0o755);
      nd = await networkDriverFor({ kind: "embed", root: tr.root });
      net = await nd.defineXML(DEFAULT_NETWORK_XML);
      await nd.create(net);
    });

    after(async () => {
      if (nd.isActive(net)) await nd.destroy(net);
      await tr.cleanup();
    });

    test("the tap is made for QEMU's user, QEMU uses it, the guest gets a lease, the tap goes at destroy", async (t) => {
      let id: DacIdentity;
      try {
        id = resolveRunAs({ user: DEFAULT_QEMU_USER });
      } catch (e) {
        if (process.env.CI === "true") throw e;
        t.skip(`user ${DEFAULT_QEMU_USER} does not exist (scripts/setup creates it)`);
        return;
      }
      const g = await testGuestOrSkip(t);
      if (!g) return;
      const kernel = join(tr.root, "vmlinuz");
      const initrd = join(tr.root, "initrd.img");
      copyFileSync(g.kernel, kernel);
      copyFileSync(g.initrd, initrd);
      const xml = guestDomainXML({ name: "dacnet", mode: "shell", kernel, initrd }).replace(
        "</devices>",
        "<interface type='network'><source network='default'/><model type='virtio'/></interface></devices>",
      );
      const conn = await tr.open({ runAs: { user: DEFAULT_QEMU_USER } });
      try {
        const dom = await conn.domainDefineXML(xml);
        if ((statSync("/dev/net/tun").mode & 0o006) !== 0o006) {
          await assert.rejects(conn.domainCreate(dom), (e: unknown) => {
            assert.ok(isVirtError(e), String(e));
            assert.equal(e.code, "QEMU_DAC_TUN_DENIED");
            assert.match(
              e.message,
              /^Requested operation is not valid: interface net0 of domain 'dacnet' needs \/dev\/net\/tun, which QEMU running as user 'tvirt-qemu' cannot open \(mode 0600, owner 0:0\)/,
            );
            return true;
          });
          assert.ok(!(await linkNames()).includes("vnet0"), "no tap left by the refused start");
          assert.equal(statSync(kernel).uid, 0, "owners untouched by the refused start");
          // a 0666 node over /dev/net/tun, only in this test's own mount namespace
          assert.notEqual(
            readlinkSync("/proc/self/ns/mnt"),
            process.env.TVIRT_OUTER_MNTNS ?? readlinkSync("/proc/self/ns/mnt"),
            "refusing to mount outside a private mount namespace",
          );
          const node = join(tr.root, "tun");
          if (!existsSync(node)) await sh("mknod", "-m", "0666", node, "c", "10", "200");
          await sh("mount", "--bind", node, "/dev/net/tun");
        }
        await conn.domainCreate(dom);
        tr.track(conn);
        const pid = conn.driver.domains.byName("dacnet")!.run!.pid;
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        assert.match(status, new RegExp(`^Uid:\\s+${id.uid}\\s+${id.uid}\\s`, "m"));
        assert.match(status, /^Seccomp:\s+2$/m);
        const info = (
          JSON.parse(await sh("ip", "-d", "-j", "link", "show", "dev", "vnet0")) as {
            linkinfo?: { info_data?: { persist?: boolean; user?: string } };
          }[]
        )[0]?.linkinfo?.info_data;
        assert.deepEqual(
          [info?.persist, info?.user],
          [true, DEFAULT_QEMU_USER],
          "a persistent tap of QEMU's user",
        );
        const tap = (await ipLinks()).find((l) => l.ifname === "vnet0");
        assert.equal(tap?.master, "virbr0", JSON.stringify(await ipLinks()));
        assert.ok(tap.flags?.includes("UP"));

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
            "ip link set eth0 up; udhcpc -i eth0 -n -q -f -t 60 -T 1 -s /bin/true; echo UDHCPC-DONE $?\n",
          ),
        );
        await wait(/UDHCPC-DONE \d/, 120_000);
        assert.match(out, /UDHCPC-DONE 0/);
        assert.match(out, /lease of 192\.168\.122\.\d+ obtained/);
        await con.close();

        await conn.domainDestroy(dom);
        assert.ok(!(await linkNames()).includes("vnet0"), "the persistent tap is deleted at destroy");
        await conn.domainUndefine(dom);
      } finally {
        await conn.connectClose();
      }
    });
  });
}
