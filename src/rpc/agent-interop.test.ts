/**
 * The guest agent for real: stock virsh 9.0 and python3-libvirt against tvirtd on the tiny TCG
 * guest, which runs Debian's qemu-ga on its `org.qemu.guest_agent.0` channel (the channel has
 * no source path: tvirt gives it libvirt's automatic socket). The guest mounts an ext2 disk on
 * /mnt (`tvirt.mount=vda`) so fsfreeze and fsinfo have a real filesystem.
 *
 * Checked: the agent-lifecycle event (connected, reason channel) and the channel's live XML;
 * qemu-agent-command guest-ping / guest-get-osinfo / guest-fsfreeze-status; domifaddr --source
 * agent; domfsfreeze / domfsthaw (one filesystem, frozen in between); domfsinfo; guestinfo;
 * set-user-password (the new hash read back from the guest's /etc/shadow with guest-file-*
 * through python3-libvirt's libvirt_qemu.qemuAgentCommand); domtime; guestvcpus; shutdown
 * --mode agent; and libvirt's errors for a guest without the channel.
 *
 * And tvirsh against the same tvirtd (its remote client): every agent command's stdout, stderr
 * and status equal stock virsh's, the agent-lifecycle event included.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type RunResult,
} from "../testing/rpc/harness.ts";

const AGENT_CHANNEL = `    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='DISK'/><target dev='vda' bus='virtio'/></disk>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>`;

const PY_SHADOW = `
import base64, json, sys, libvirt, libvirt_qemu
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
def agent(cmd, args=None):
    c = {"execute": cmd}
    if args is not None:
        c["arguments"] = args
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(c), 30, 0))["return"]
h = agent("guest-file-open", {"path": "/etc/shadow"})
data = base64.b64decode(agent("guest-file-read", {"handle": h, "count": 4096})["buf-b64"]).decode()
agent("guest-file-close", {"handle": h})
info = dom.guestInfo(libvirt.VIR_DOMAIN_GUEST_INFO_OS | libvirt.VIR_DOMAIN_GUEST_INFO_HOSTNAME, 0)
print(json.dumps({"shadow": data, "fsfreeze": dom.fsFreeze(), "thaw": dom.fsThaw(), "info": info}))
`;

/**
 * Commands run by stock virsh and then by tvirsh, all in one session each (virsh goes on after
 * a failed command); each leaves the guest as it found it (a freeze is thawed at once).
 */
const SAME_AS_VIRSH = [
  `qemu-agent-command ga '{"execute":"guest-ping"}'`,
  `qemu-agent-command ga --pretty '{"execute":"guest-get-osinfo"}'`,
  `qemu-agent-command ga --pretty --block '{"execute":"guest-get-fsinfo"}'`,
  `qemu-agent-command ga --timeout 20 '{"execute":' '"guest-get-host-name"}'`,
  `qemu-agent-command ga --async '{"execute":"guest-ping"}'`,
  `qemu-agent-command ga --timeout 0 '{"execute":"guest-ping"}'`,
  `qemu-agent-command ga --async --block '{"execute":"guest-ping"}'`,
  `qemu-agent-command ga '{"execute":"no-such-command"}'`,
  `qemu-agent-command ga 'not json'`,
  `qemu-agent-command nga '{"execute":"guest-ping"}'`,
  "domfsfreeze ga ; domfsthaw ga",
  "domfsfreeze ga --mountpoint /mnt ; domfsthaw ga",
  "domfsfreeze ga /nope",
  "domfsthaw ga /mnt",
  "domfsinfo ga",
  "domfsinfo nga",
  "guestinfo ga --os --timezone --hostname --filesystem --disk --interface",
  "guestinfo ga --os --user",
  "guestinfo nga",
  "guestvcpus ga",
  "guestvcpus ga --cpulist 0 --disable",
  "guestvcpus ga --cpulist 7 --enable",
  "guestvcpus ga --cpulist 0",
  "set-user-password ga root an0ther-pw",
  "set-user-password ga nosuchuser pw",
  "domifaddr ga --source agent",
  "domifaddr ga --source agent --full --interface lo",
  "domtime ga",
  "domtime ga --pretty",
  "domtime ga --sync",
  "domtime nga",
  "guest-agent-timeout ga --timeout -3",
  "guest-agent-timeout ga --timeout 30 ; guest-agent-timeout ga",
];

const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

function hasMke2fs(): boolean {
  try {
    execFileSync("mke2fs", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

test(
  "qemu-ga in a real guest answers virsh and python3-libvirt through tvirtd",
  { timeout: 150_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const python = pythonLibvirtOrSkip(t);
    if (!python) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    if (!hasMke2fs()) {
      if (process.env.CI === "true") assert.fail("mke2fs (e2fsprogs) is missing");
      t.skip("mke2fs (e2fsprogs) is missing");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "tvirt-agent-interop-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const disk = join(dir, "fs.img");
    writeFileSync(disk, Buffer.alloc(0));
    execFileSync("truncate", ["-s", "8M", disk]);
    execFileSync("mke2fs", ["-q", "-F", "-t", "ext2", disk], { stdio: "ignore" });
    const serialLog = join(dir, "ga-serial.log");
    writeFileSync(
      join(dir, "ga.xml"),
      guestDomainXML({
        name: "ga",
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: serialLog,
        extraCmdline: "tvirt.mount=vda",
        extraDevicesXML: AGENT_CHANNEL.replace("DISK", disk),
      }),
    );
    writeFileSync(
      join(dir, "nga.xml"),
      guestDomainXML({
        name: "nga",
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        memoryMiB: 80,
      }),
    );
    const daemon = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
      env: daemonEnv,
    });
    const v = async (cmds: string, ok = true): Promise<RunResult> => {
      const r = await run(virsh, ["-c", uri, cmds], {
        env,
        timeoutMs: 60_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (ok) assert.equal(r.code, 0, `virsh ${cmds}: ${r.stderr}`);
      return r;
    };
    try {
      await v(`define ${join(dir, "ga.xml")}`);
      await v(`create ${join(dir, "nga.xml")}`);
      // A guest without the channel: libvirt's words.
      const none = await v(`qemu-agent-command nga '{"execute":"guest-ping"}'`, false);
      assert.notEqual(none.code, 0);
      assert.match(none.stderr, /error: argument unsupported: QEMU guest agent is not configured/);
      const none2 = await v("domfsfreeze nga", false);
      assert.match(none2.stderr, /QEMU guest agent is not configured/);
      await v("destroy nga");

      const tEvents = run(
        process.execPath,
        [tvirshBin, "-c", uri, "event", "--domain", "ga", "--event", "agent-lifecycle", "--timeout", "100"],
        { env, timeoutMs: 110_000, stdio: ["ignore", "pipe", "pipe"] },
      );
      const events = run(
        virsh,
        ["-c", uri, "event", "--domain", "ga", "--event", "agent-lifecycle", "--timeout", "100"],
        {
          env,
          timeoutMs: 110_000,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      // tvirsh registers its listener within a few seconds (it may load its TypeScript first)
      await new Promise((r) => setTimeout(r, 4000));
      await v("start ga");
      // Not connected yet (qemu-ga starts seconds later, under TCG): libvirt's error.
      const early = await v(`qemu-agent-command ga '{"execute":"guest-ping"}'`, false);
      if (early.code !== 0)
        assert.match(early.stderr, /Guest agent is not responding: QEMU guest agent is not connected/);
      const ev = await events;
      assert.match(
        ev.stdout,
        /event 'agent-lifecycle' for domain 'ga': state: 'connected' reason: 'channel event'/,
      );
      assert.match(readFileSync(serialLog, "utf8"), /TVIRT-GUEST-MOUNTED vda/);
      const tev = await tEvents;
      assert.equal(tev.stdout, ev.stdout, "tvirsh event --event agent-lifecycle");
      assert.equal(tev.code, ev.code);

      const xml = (await v("dumpxml ga")).stdout;
      assert.match(xml, /<source mode='bind' path='[^']*\/domain-\d+-ga\/org\.qemu\.guest_agent\.0'\/>/);
      assert.match(xml, /<target type='virtio' name='org\.qemu\.guest_agent\.0' state='connected'\/>/);

      assert.equal(
        (await v(`qemu-agent-command ga '{"execute":"guest-ping"}'`)).stdout.trim(),
        '{"return":{}}',
      );
      const os = JSON.parse((await v(`qemu-agent-command ga '{"execute":"guest-get-osinfo"}'`)).stdout) as {
        return: { id: string };
      };
      assert.equal(os.return.id, "tvirt-test-guest");

      const addrs = (await v("domifaddr ga --source agent")).stdout;
      assert.match(addrs, /^ lo\s+00:00:00:00:00:00\s+ipv4\s+127\.0\.0\.1\/8$/m);

      assert.match((await v("domfsfreeze ga")).stdout, /Froze 1 filesystem\(s\)/);
      assert.match(
        (await v(`qemu-agent-command ga '{"execute":"guest-fsfreeze-status"}'`)).stdout,
        /"frozen"/,
      );
      assert.match((await v("domfsthaw ga")).stdout, /Thawed 1 filesystem\(s\)/);

      assert.match((await v("domfsinfo ga")).stdout, /^ \/mnt\s+vda\s+ext2\s+vda\s*$/m);

      const gi = (await v("guestinfo ga --os --hostname --filesystem")).stdout;
      assert.match(gi, /^os\.id\s+: tvirt-test-guest$/m);
      assert.match(gi, /^hostname\s+: tvirt-guest$/m);
      assert.match(gi, /^fs\.0\.mountpoint\s+: \/mnt$/m);
      assert.match(gi, /^fs\.0\.disk\.0\.alias\s+: vda$/m);

      assert.match(
        (await v("set-user-password ga root s3cret-pw")).stdout,
        /Password set successfully for root in ga/,
      );
      const unknown = await v("set-user-password ga nosuchuser pw", false);
      assert.match(unknown.stderr, /unable to execute QEMU agent command 'guest-set-user-password'/);

      const py = await run(python, ["-c", PY_SHADOW, uri, "ga"], { env, timeoutMs: 60_000 });
      assert.equal(py.code, 0, py.stderr);
      const got = JSON.parse(py.stdout) as {
        shadow: string;
        fsfreeze: number;
        thaw: number;
        info: Record<string, unknown>;
      };
      assert.match(got.shadow, /^root:\$6\$[^:]+:\d+:/m, got.shadow);
      assert.equal(got.fsfreeze, 1);
      assert.equal(got.thaw, 1);
      assert.equal(got.info["os.id"], "tvirt-test-guest");
      assert.equal(got.info.hostname, "tvirt-guest");

      const time = (await v("domtime ga")).stdout;
      const secs = Number(/Time: (\d+)/.exec(time)?.[1]);
      assert.ok(Math.abs(secs - Date.now() / 1000) < 3600, `guest time ${time}`);
      assert.match((await v("guestvcpus ga")).stdout, /^vcpus\s+: 0$/m);
      // domtime --time: qemu-ga sets the clock (and writes the RTC with hwclock -w)
      await v("domtime ga --time 1900000000");
      const set = Number(/Time: (\d+)/.exec((await v("domtime ga")).stdout)?.[1]);
      assert.ok(set >= 1900000000 && set < 1900000000 + 600, `guest time after --time: ${set}`);
      await v(`domtime ga --time ${Math.floor(Date.now() / 1000)}`);

      // tvirsh (the remote client) prints what virsh prints, against the same tvirtd
      const all = SAME_AS_VIRSH.join(" ; ");
      const theirs = await v(all, false);
      const ours = await run(process.execPath, [tvirshBin, "-c", uri, all], {
        env,
        timeoutMs: 90_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      // the guest's clock moves on between the two runs
      const masked = (out: string): string => out.replace(/^Time: .*$/gm, "Time: T");
      assert.equal(masked(ours.stdout), masked(theirs.stdout), "tvirsh stdout");
      assert.equal(ours.stderr, theirs.stderr, "tvirsh stderr");
      assert.equal(ours.code, theirs.code, "tvirsh status");
      assert.match(theirs.stdout, /Froze 1 filesystem\(s\)/); // the list did run through

      await v("shutdown ga --mode agent");
      const until = Date.now() + 30_000;
      let state = "";
      while (Date.now() < until) {
        state = (await v("domstate ga")).stdout.trim();
        if (state === "shut off") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(state, "shut off");
      assert.match(readFileSync(serialLog, "utf8"), /TVIRT-GUEST-AGENT-POWEROFF/);
    } finally {
      await v("destroy ga", false);
      await v("destroy nga", false);
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
