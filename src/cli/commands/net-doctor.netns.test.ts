/**
 * `tvirsh net-doctor` against the real kernel, nft, iptables and dnsmasq, inside a network
 * namespace this test creates (the outer run re-executes the file under `unshare --net`; the
 * inner run refuses to act unless the namespace holds only `lo`). A NAT network runs on
 * `qemu:///embed`; then the test breaks the host the usual ways (forwarding off, a DROP-policy
 * forward chain of another table, iptables' FORWARD policy DROP as Docker leaves it, dnsmasq
 * killed, the bridge down, an address on another interface in the network's range), sees each
 * finding, applies the fix the doctor gives and sees it gone.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { commandWorks, insideTestNetns, runInTestNetns } from "../../testing/netns.ts";
import { isProcessAlive, runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";

const here = fileURLToPath(import.meta.url);

interface Report {
  ok: boolean;
  networks: { name: string; active: boolean; bridge?: string }[];
  findings: { kind: string; severity: string; networks: string[]; message: string; fix: string[] }[];
}

if (!insideTestNetns()) {
  test("tvirsh net-doctor in a new network namespace", async (t) => {
    await runInTestNetns(t, here, 180_000);
  });
} else {
  const sh = async (...argv: string[]): Promise<string> => {
    const r = await runArgv(argv);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  let root: string;
  const tvirsh = async (...args: string[]): Promise<{ out: string; err: string; status: number }> => {
    const io = new BufferIo();
    const status = await main(["-c", `qemu:///embed?root=${root}`, ...args], io, {});
    return { out: io.stdout, err: io.stderr, status };
  };
  const doctor = async (...args: string[]): Promise<Report> => {
    const r = await tvirsh("net-doctor", ...args, "--json");
    const rep = JSON.parse(r.out) as Report;
    assert.deepEqual(validate(rep, commandSchemas["net-doctor"]!), []);
    assert.equal(r.status, rep.ok ? 0 : 1, r.err);
    return rep;
  };
  /** Runs a fix line the doctor printed (argv split on blanks, quotes dropped: they are nft's). */
  const applyFix = async (line: string): Promise<void> => {
    await sh(...line.split(/\s+/).map((a) => a.replace(/^"(.*)"$/, "$1")));
  };

  describe("tvirsh net-doctor (inside a private network namespace)", () => {
    before(async () => {
      const links = JSON.parse(await sh("ip", "-j", "link", "show")) as { ifname: string }[];
      assert.deepEqual(
        links.map((l) => l.ifname),
        ["lo"],
        "not in a fresh network namespace: refusing to run",
      );
      await sh("ip", "link", "set", "lo", "up");
      root = mkdtempSync(join(tmpdir(), "tvirt-doctor-"));
      const xml = join(root, "n.xml");
      writeFileSync(
        xml,
        "<network><name>dnat</name><forward/><bridge name='tvbr3'/>" +
          "<ip address='10.33.0.1' prefix='24'><dhcp><range start='10.33.0.10' end='10.33.0.20'/></dhcp></ip></network>\n",
      );
      const iso = join(root, "iso.xml");
      writeFileSync(
        iso,
        "<network><name>iso</name><bridge name='tvbr4'/><ip address='10.44.0.1' prefix='24'/></network>\n",
      );
      for (const args of [
        ["net-define", xml],
        ["net-start", "dnat"],
        ["net-define", iso],
      ]) {
        const r = await tvirsh(...args);
        assert.equal(r.status, 0, r.err);
      }
    });

    after(async () => {
      await tvirsh("net-destroy", "dnat");
      try {
        const pid = Number(readFileSync(join(root, "lib", "dnsmasq", "dnat.pid"), "utf8"));
        if (pid > 0 && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      } catch {
        // gone with the network
      }
      rmSync(root, { recursive: true, force: true });
    });

    test("a healthy namespace: no findings, exit 0, the text says so", async () => {
      const rep = await doctor();
      assert.deepEqual(rep.findings, []);
      assert.deepEqual(rep.networks, [
        { name: "dnat", active: true, bridge: "tvbr3" },
        { name: "iso", active: false, bridge: "tvbr4" },
      ]);
      const r = await tvirsh("net-doctor", "dnat");
      assert.equal(r.out, "Networks checked: dnat (active, tvbr3)\nNo problems found.\n\n");
      assert.equal(r.status, 0);
      const bad = await tvirsh("net-doctor", "nope");
      assert.equal(bad.status, 1);
      assert.match(bad.err, /Network not found: no network with matching name 'nope'/);
    });

    test("forwarding off is found, and its fix works", async () => {
      writeFileSync("/proc/sys/net/ipv4/ip_forward", "0\n");
      const rep = await doctor();
      assert.equal(rep.ok, false);
      assert.deepEqual(
        rep.findings.map((f) => [f.kind, f.networks]),
        [["ip-forward-off", ["dnat"]]],
      );
      const r = await tvirsh("net-doctor");
      assert.equal(r.status, 1);
      assert.match(r.out, /^error: IPv4 forwarding is off/m);
      assert.match(r.out, /^ {4}sysctl -w net\.ipv4\.ip_forward=1$/m);
      await applyFix(rep.findings[0]!.fix[0]!);
      assert.deepEqual((await doctor()).findings, []);
    });

    test("another table's forward chain with policy drop is found; the nft fix accepts the bridge", async () => {
      await sh("nft", "add", "table", "inet", "filter");
      await sh(
        "nft",
        "add chain inet filter forward { type filter hook forward priority 0 ; policy drop ; }",
      );
      const rep = await doctor();
      assert.deepEqual(
        rep.findings.map((f) => [f.kind, f.networks]),
        [["forward-policy-drop", ["dnat"]]],
      );
      assert.match(rep.findings[0]!.message, /nftables chain inet filter forward has policy drop/);
      for (const line of rep.findings[0]!.fix) await applyFix(line);
      assert.deepEqual((await doctor()).findings, []);
      await sh("nft", "delete", "table", "inet", "filter");
    });

    test("iptables' FORWARD policy DROP (as Docker leaves it) is found once; its fix works", async (t) => {
      if (!(await commandWorks(["iptables", "-w", "-S"]))) {
        if (process.env.CI === "true") assert.fail("iptables is not usable");
        t.skip("iptables is not usable here");
        return;
      }
      await sh("iptables", "-w", "-N", "DOCKER-USER");
      await sh("iptables", "-w", "-P", "FORWARD", "DROP");
      const rep = await doctor();
      assert.deepEqual(
        rep.findings.map((f) => f.kind),
        ["forward-policy-drop"],
      );
      assert.match(rep.findings[0]!.message, /\(Docker's\)/);
      assert.equal(rep.findings[0]!.fix[0], "iptables -I DOCKER-USER -i tvbr3 -j ACCEPT");
      // The admin's rules go in DOCKER-USER, which FORWARD jumps to (as Docker's does).
      await sh("iptables", "-w", "-I", "FORWARD", "-j", "DOCKER-USER");
      for (const line of rep.findings[0]!.fix) await applyFix(line);
      // The accepts in DOCKER-USER count: FORWARD jumps there.
      assert.deepEqual((await doctor()).findings, []);
      await sh("iptables", "-w", "-P", "FORWARD", "ACCEPT");
      await sh("iptables", "-w", "-F", "FORWARD");
      await sh("iptables", "-w", "-F", "DOCKER-USER");
      await sh("iptables", "-w", "-X", "DOCKER-USER");
      assert.deepEqual((await doctor()).findings, []);
    });

    test("dnsmasq killed and the bridge down are found; their fixes work", async () => {
      const pid = Number(readFileSync(join(root, "lib", "dnsmasq", "dnat.pid"), "utf8"));
      process.kill(pid, "SIGKILL");
      for (let i = 0; i < 50 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      await sh("ip", "link", "set", "dev", "tvbr3", "down");
      const rep = await doctor("dnat");
      assert.deepEqual(rep.findings.map((f) => f.kind).sort(), ["bridge-down", "dnsmasq-not-running"]);
      for (const f of rep.findings)
        for (const line of f.fix) {
          if (line.startsWith("tvirsh ")) {
            const r = await tvirsh(...line.split(/\s+/).slice(1));
            assert.equal(r.status, 0, r.err);
          } else await applyFix(line);
        }
      assert.deepEqual((await doctor()).findings, []);
    });

    test("an address of another interface inside a network's range is a clash", async () => {
      await sh("ip", "link", "add", "dummy7", "type", "veth", "peer", "name", "dummy8");
      await sh("ip", "addr", "add", "10.44.0.9/24", "dev", "dummy7");
      await sh("ip", "link", "set", "dummy7", "up");
      const rep = await doctor("iso");
      assert.deepEqual(
        rep.findings.map((f) => [f.kind, f.networks]),
        [["address-clash", ["iso"]]],
      );
      assert.match(rep.findings[0]!.message, /10\.44\.0\.0\/24 overlaps address 10\.44\.0\.9\/24 on dummy7/);
      // The doctor is right: the network does not start.
      const r = await tvirsh("net-start", "iso");
      assert.equal(r.status, 1);
      assert.match(r.err, /10\.44\.0\.0\/24/);
      await sh("ip", "link", "del", "dummy7");
      assert.deepEqual((await doctor("iso")).findings, []);
    });
  });
}
