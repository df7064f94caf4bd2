/**
 * SPICE for real through tvirtd (issue 19, point 4), with stock virsh 9.0 as the client: a TCG
 * guest with VNC and SPICE (autoport, a plain and a TLS port from tvirtd.conf's spice_tls and
 * spice_tls_x509_cert_dir, a CA and server certificate the test makes with openssl), a
 * `spicevmc` agent channel, and a SPICE password set over QMP at start. A SPICE client's link
 * stage (src/testing/graphics/spice.ts) checks the password on both ports; update-device with a
 * `<graphics>` element (what virt-manager does) changes it live, a `passwdValidTo` in the past
 * expires it, a port change is refused with libvirt's message. Then remote-viewer (SPICE with a
 * password from a .vv file, and vnc://) and virt-viewer (through the daemon, plain and with
 * `--attach`: the display socket passed over tvirtd's socket) show the guest's
 * screen under Xvfb: the grabbed screen holds the picture QMP screendump gives (tolerant).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { decodeScreenshot, encodePng, locate, type RgbImage } from "../testing/graphics/image.ts";
import { rfbServerInit } from "../testing/graphics/rfb.ts";
import { SPICE_LINK_OK, SPICE_LINK_PERMISSION_DENIED, spiceLink } from "../testing/graphics/spice.ts";
import { startXvfb, xvfbOrSkip, type Xvfb } from "../testing/graphics/xvfb.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
} from "../testing/rpc/harness.ts";
import { startArgv, type ChildProcess } from "../util/spawn.ts";

const NAME = "spicei";

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A CA and a server certificate for localhost / 127.0.0.1 signed by it, as spice_tls wants. */
async function makePki(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const ssl = async (args: string[]): Promise<void> => {
    const r = await run("/usr/bin/openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    assert.equal(r.code, 0, `openssl ${args.join(" ")}: ${r.stderr}`);
  };
  await ssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem"].concat([
      "-subj",
      "/CN=tvirt test CA",
      "-days",
      "2",
    ]),
  );
  await ssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server-key.pem",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  await ssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca-cert.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
    ].concat(["-out", "server-cert.pem", "-days", "2", "-extfile", "ext.cnf"]),
  );
}

function graphicsXML(spicePort: number, tlsPort: number, attrs: string): string {
  return `<graphics type='spice' port='${spicePort}' tlsPort='${tlsPort}' autoport='yes' listen='127.0.0.1'${attrs}>
  <listen type='address' address='127.0.0.1'/>
  <channel name='inputs' mode='insecure'/>
</graphics>
`;
}

test(
  "SPICE with TLS and passwords through tvirtd; remote-viewer and virt-viewer show the guest",
  { timeout: 240_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-spice-interop-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const xmlPath = join(dir, `${NAME}.xml`);
    const serial = join(dir, "serial.log");
    const pki = join(dir, "pki");
    const log = (): string => {
      try {
        return readFileSync(serial, "utf8");
      } catch {
        return "";
      }
    };
    const v = (args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    let daemon: DaemonProcess | undefined;
    let qemuPid = 0;
    let xvfb: Xvfb | undefined;
    const viewers: ChildProcess[] = [];
    try {
      await makePki(pki);
      writeFileSync(
        xmlPath,
        guestDomainXML({
          name: NAME,
          mode: "idle",
          kernel: guest.kernel,
          initrd: guest.initrd,
          serialLogPath: serial,
          extraDevicesXML: [
            "    <graphics type='vnc' autoport='yes'/>",
            "    <graphics type='spice' autoport='yes' passwd='first-pass'>",
            "      <channel name='inputs' mode='insecure'/>",
            "    </graphics>",
            "    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>",
          ].join("\n"),
        }),
      );
      const conf = join(dir, "tvirtd.conf");
      writeFileSync(
        conf,
        [
          "remote_display_port_min = 5930",
          "remote_display_port_max = 5959",
          "spice_tls = 1",
          `spice_tls_x509_cert_dir = "${pki}"`,
          "",
        ].join("\n"),
      );
      daemon = await spawnDaemon(
        ["--session", "--config", conf, "--listen", sock, "--uri", "qemu:///session"],
        [sock],
        { env: daemonEnv },
      );
      assert.equal((await v(["define", xmlPath])).code, 0);
      const started = await v(["start", NAME]);
      assert.equal(started.code, 0, started.stderr);
      qemuPid = Number(readFileSync(pidFile, "utf8").trim());

      // the live XML names the ports the daemon chose; the password only with --security-info
      const xml = (await v(["dumpxml", NAME])).stdout;
      const m =
        /<graphics type='spice' port='(\d+)' tlsPort='(\d+)' autoport='yes' listen='127\.0\.0\.1'>/.exec(xml);
      assert.ok(m, xml);
      const [port, tlsPort] = [Number(m[1]), Number(m[2])];
      const vncPort = Number(/<graphics type='vnc' port='(\d+)'/.exec(xml)?.[1]);
      for (const p of [port, tlsPort, vncPort]) assert.ok(p >= 5930 && p <= 5959, xml);
      assert.equal(new Set([port, tlsPort, vncPort]).size, 3);
      assert.doesNotMatch(xml, /first-pass/);
      assert.match((await v(["dumpxml", NAME, "--security-info"])).stdout, /passwd='first-pass'/);
      assert.match(xml, /<channel type='spicevmc'>/);
      assert.equal(
        (await v(["domdisplay", NAME, "--type", "spice"])).stdout,
        `spice://127.0.0.1:${port}?tls-port=${tlsPort}\n`,
      );

      // QEMU's view: both ports, ticket authentication, the agent's channel (the guest runs no agent)
      const qs = await v(["qemu-monitor-command", NAME, '{"execute":"query-spice"}']);
      assert.equal(qs.code, 0, qs.stderr);
      const spice = (JSON.parse(qs.stdout) as { return: Record<string, unknown> }).return;
      assert.deepEqual(
        [spice.enabled, spice.port, spice["tls-port"], spice.auth, spice.host],
        [true, port, tlsPort, "spice", "127.0.0.1"],
      );
      const chardevs = await v(["qemu-monitor-command", NAME, '{"execute":"query-chardev"}']);
      assert.match(chardevs.stdout, /"filename":"spicevmc"/);

      // the password QEMU got at start, on the plain and the TLS port (certificate checked)
      const ca = readFileSync(join(pki, "ca-cert.pem"), "utf8");
      assert.equal(await spiceLink(port, "first-pass"), SPICE_LINK_OK);
      assert.equal(await spiceLink(port, "wrong"), SPICE_LINK_PERMISSION_DENIED);
      assert.equal(await spiceLink(tlsPort, "first-pass", { ca }), SPICE_LINK_OK);
      await assert.rejects(
        spiceLink(tlsPort, "first-pass", { ca: readFileSync(join(pki, "server-cert.pem"), "utf8") }),
      );

      // update-device: the password changes live (virt-manager's way)
      const upd = join(dir, "graphics.xml");
      const update = async (attrs: string): Promise<{ code: number | null; stderr: string }> => {
        writeFileSync(upd, graphicsXML(port, tlsPort, attrs));
        return v(["update-device", NAME, upd, "--live"]);
      };
      let r = await update(" passwd='second-pass'");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await spiceLink(port, "second-pass"), SPICE_LINK_OK);
      assert.equal(await spiceLink(port, "first-pass"), SPICE_LINK_PERMISSION_DENIED);
      assert.match((await v(["dumpxml", NAME, "--security-info"])).stdout, /passwd='second-pass'/);
      // a validity in the past expires it at once
      r = await update(" passwd='second-pass' passwdValidTo='2001-01-01T00:00:00'");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await spiceLink(port, "second-pass"), SPICE_LINK_PERMISSION_DENIED);
      // a validity in the future keeps it
      r = await update(" passwd='third-pass' passwdValidTo='2099-01-01T00:00:00' connected='keep'");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await spiceLink(port, "third-pass"), SPICE_LINK_OK);
      // python3-libvirt's updateDeviceFlags does the same
      const py = pythonLibvirtOrSkip(t);
      if (py) {
        const script = [
          "import sys, libvirt",
          "c = libvirt.open(sys.argv[1])",
          "c.lookupByName(sys.argv[2]).updateDeviceFlags(open(sys.argv[3]).read(), libvirt.VIR_DOMAIN_AFFECT_LIVE)",
        ].join("\n");
        writeFileSync(upd, graphicsXML(port, tlsPort, " passwd='py-pass'"));
        const p = await run(py, ["-c", script, uri, NAME, upd], { env, stdio: ["ignore", "pipe", "pipe"] });
        assert.equal(p.code, 0, p.stderr);
        assert.equal(await spiceLink(port, "py-pass"), SPICE_LINK_OK);
        assert.equal(await spiceLink(port, "third-pass"), SPICE_LINK_PERMISSION_DENIED);
        r = await update(" passwd='third-pass'");
        assert.equal(r.code, 0, r.stderr);
      }
      // ports cannot change on a running guest (libvirt's message)
      writeFileSync(
        upd,
        graphicsXML(port, tlsPort, " passwd='x'")
          .replace("autoport='yes'", "autoport='no'")
          .replace(`port='${port}'`, `port='${port + 1}'`),
      );
      r = await v(["update-device", NAME, upd, "--live"]);
      assert.equal(
        r.stderr,
        `error: Failed to update device from ${upd}\nerror: Operation not supported: cannot change port settings on spice graphics\n`,
      );

      // viewers under Xvfb: the guest's screen, as QMP screendump sees it, is on the X screen
      await until(() => /TVIRT-GUEST-READY/.test(log()), 120_000, "the guest to boot");
      const rfb = await rfbServerInit(vncPort);
      assert.ok(rfb.width > 0);
      if (!xvfbOrSkip(t)) return;
      const viewerBins = ["/usr/bin/remote-viewer", "/usr/bin/virt-viewer"];
      const missingViewer = viewerBins.filter((b) => !existsSync(b));
      if (missingViewer.length > 0) {
        if (process.env.CI === "true")
          throw new Error(`missing ${missingViewer.join(", ")} (Debian virt-viewer)`);
        t.diagnostic(`skipping the viewers: missing ${missingViewer.join(", ")}`);
        return;
      }
      xvfb = await startXvfb();
      const vv = join(dir, "spice.vv");
      writeFileSync(vv, `[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=${port}\npassword=third-pass\n`);
      const cases: { what: string; argv: string[] }[] = [
        { what: "remote-viewer-spice", argv: ["/usr/bin/remote-viewer", vv] },
        { what: "remote-viewer-vnc", argv: ["/usr/bin/remote-viewer", `vnc://127.0.0.1:${vncPort}`] },
        { what: "virt-viewer", argv: ["/usr/bin/virt-viewer", "-c", uri, NAME] },
        // the display's socket passed by tvirtd (DOMAIN_OPEN_GRAPHICS_FD, QMP add_client)
        { what: "virt-viewer-attach", argv: ["/usr/bin/virt-viewer", "--attach", "-c", uri, NAME] },
      ];
      // the pictures stay as artifacts: the guest's screendump and the X screen of each viewer
      const artifacts = join(
        process.env.TVIRT_ARTIFACTS ?? join(tmpdir(), "tvirt-artifacts"),
        "spice-interop",
      );
      mkdirSync(artifacts, { recursive: true });
      for (const c of cases) {
        const viewer: ChildProcess = startArgv(c.argv, {
          env: { ...xvfb.env, LANG: "C" },
          stdio: ["ignore", "ignore", "pipe"],
        });
        viewers.push(viewer);
        let viewerErr = "";
        viewer.stderr?.on("data", (d: Buffer) => (viewerErr += d.toString()));
        // the screen as QEMU has it, then the X screen until it holds that picture
        let best = { difference: 1, x: 0, y: 0 };
        let shot: RgbImage | undefined;
        const end = Date.now() + 45_000;
        while (Date.now() < end) {
          await new Promise((res) => setTimeout(res, 1500));
          assert.equal(viewer.exitCode, null, `${c.what} exited: ${viewerErr}`);
          const file = join(artifacts, `${c.what}-screendump.png`);
          const s = await v(["screenshot", NAME, file]);
          assert.equal(s.code, 0, s.stderr);
          shot = decodeScreenshot("image/png", readFileSync(file));
          const screen = await xvfb.grab(join(dir, "screen.xwd"));
          writeFileSync(join(artifacts, `${c.what}-xscreen.png`), encodePng(screen));
          if (shot.width > screen.width || shot.height > screen.height) continue;
          best = locate(screen, shot);
          if (best.difference < 0.05) break;
        }
        assert.ok(shot);
        assert.ok(
          best.difference < 0.05,
          `${c.what}: the X screen does not show the guest's screen (best ${JSON.stringify(best)}); ${viewerErr}`,
        );
        // the picture is not blank: the guest's screen has text (SeaBIOS, the kernel)
        const lit = shot.rgb.some((b) => b > 64);
        assert.ok(lit, `${c.what}: the guest's screen is blank`);
        t.diagnostic(
          `${c.what}: guest screen ${shot.width}x${shot.height} at +${best.x}+${best.y}, ${(best.difference * 100).toFixed(2)}% pixels differ`,
        );
        viewer.kill("SIGTERM");
        await new Promise<void>((res) => {
          if (viewer.exitCode !== null || viewer.signalCode !== null) res();
          else
            viewer.once("exit", () => {
              res();
            });
        });
      }
    } finally {
      for (const w of viewers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
      await xvfb?.stop();
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
