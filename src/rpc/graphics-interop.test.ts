/**
 * Graphical consoles through tvirtd (issue 19): stock virsh 9.0 and tvirsh (remote driver) on a
 * TCG guest with `<graphics type='vnc' autoport='yes'/>`: vncdisplay and domdisplay name the
 * port the daemon allocated (its VNC server answers there), screenshot (DOMAIN_SCREENSHOT, a
 * download stream) saves a PNG of the size the VNC server reports, send-key (DOMAIN_SEND_KEY)
 * presses Ctrl+Alt+Del in the guest.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { rfbServerInit } from "../testing/graphics/rfb.ts";
import { decodePng } from "../testing/graphics/image.ts";
import { privateSession, run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";

const NAME = "shoti";

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

test(
  "stock virsh and tvirsh take a screenshot of a real guest through tvirtd",
  { timeout: 180_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-graphics-interop-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const xmlPath = join(dir, `${NAME}.xml`);
    const serial = join(dir, "serial.log");
    const log = (): string => {
      try {
        return readFileSync(serial, "utf8");
      } catch {
        return "";
      }
    };
    writeFileSync(
      xmlPath,
      guestDomainXML({
        name: NAME,
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: serial,
        extraDevicesXML: "    <graphics type='vnc' autoport='yes'/>",
      }),
    );
    const v = (args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    const tv = (args: string[]) =>
      run(process.execPath, [tvirshBin, "-c", uri, ...args], {
        env,
        timeoutMs: 60_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
    let daemon: DaemonProcess | undefined;
    let qemuPid = 0;
    try {
      // the display range from the daemon's configuration (qemu.conf's keys)
      const conf = join(dir, "tvirtd.conf");
      writeFileSync(conf, "remote_display_port_min = 5960\nremote_display_port_max = 5999\n");
      daemon = await spawnDaemon(
        ["--session", "--config", conf, "--listen", sock, "--uri", "qemu:///session"],
        [sock],
        {
          env: daemonEnv,
        },
      );
      assert.equal((await v(["define", xmlPath])).code, 0);
      const off = await v(["screenshot", NAME, join(dir, "off.ppm")]);
      assert.equal(
        off.stderr,
        `error: could not take a screenshot of ${NAME}\nerror: Requested operation is not valid: domain is not running\n`,
      );
      const started = await v(["start", NAME]);
      assert.equal(started.code, 0, started.stderr);
      qemuPid = Number(readFileSync(pidFile, "utf8").trim());

      const xml = (await v(["dumpxml", NAME])).stdout;
      const port = Number(
        /<graphics type='vnc' port='(\d+)' autoport='yes' listen='127.0.0.1'>/.exec(xml)?.[1],
      );
      assert.ok(port >= 5960 && port <= 5999, xml);
      const vd = await v(["vncdisplay", NAME]);
      assert.equal(vd.stdout, `127.0.0.1:${port - 5900}\n\n`);
      assert.equal((await tv(["vncdisplay", NAME])).stdout, vd.stdout);
      const dd = await v(["domdisplay", NAME]);
      assert.equal(dd.stdout, `vnc://127.0.0.1:${port - 5900}\n`);
      assert.equal((await tv(["domdisplay", NAME])).stdout, dd.stdout);

      const rfb = await rfbServerInit(port);
      for (const [who, fn] of [
        ["virsh", v],
        ["tvirsh", tv],
      ] as const) {
        const file = join(dir, `${who}.png`);
        const r = await fn(["screenshot", NAME, file]);
        assert.equal(r.code, 0, `${who}: ${r.stderr}`);
        assert.equal(r.stdout, `Screenshot saved to ${file}, with type of image/png\n`);
        const png = decodePng(readFileSync(file));
        assert.deepEqual([png.width, png.height], [rfb.width, rfb.height], who);
      }
      // the daemon keeps working after the streams (no stream left behind)
      const s1 = await v(["screenshot", NAME, join(dir, "s1.ppm"), "--screen", "1"]);
      assert.equal(
        s1.stderr,
        `error: could not take a screenshot of ${NAME}\nerror: invalid argument: no screen with ID 1\n`,
      );
      // send-key (DOMAIN_SEND_KEY): USB codes of Ctrl+Alt+Del restart the guest (on_reboot destroy)
      await until(() => /TVIRT-GUEST-READY/.test(log()), 120_000, "the guest to boot");
      // AT set 3 has no key 0x02
      const bad = await v(["send-key", NAME, "--codeset", "atset3", "2"]);
      assert.equal(
        bad.stderr,
        "error: invalid argument: cannot translate keycode 2 of atset3 codeset to qnum keycode\n",
      );
      assert.equal((await tv(["send-key", NAME, "--codeset", "win32", "VK_A"])).code, 0);
      const keys = await v(["send-key", NAME, "--codeset", "usb", "224", "226", "76"]);
      assert.equal(keys.code, 0, keys.stderr);
      assert.equal(keys.stdout, "\n");
      await until(() => /reboot: Restarting system/.test(log()), 30_000, "the guest to restart");
      await until(
        async () => (await v(["domstate", NAME])).stdout === "shut off\n\n",
        30_000,
        "the domain to stop",
      );
    } finally {
      if (qemuPid > 0) {
        try {
          process.kill(qemuPid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await daemon?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
