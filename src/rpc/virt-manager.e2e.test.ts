/**
 * The real virt-manager (Debian's 4.1) against tvirtd, end to end (issue 19, point 5), driven
 * through AT-SPI with dogtail as virt-manager's own UI tests are (virt-manager-driver.py beside
 * this file does the clicking and prints one JSON line per step).
 *
 * Everything runs in namespaces of the test's own: the outer run re-executes this file under
 * `unshare --net --mount`. Inside, a tmpfs over /run/libvirt takes tvirtd's socket at libvirt's
 * system path (so virt-manager sees a local `qemu:///system`, as a user's would be: with a
 * `qemu+unix://...?socket=` URI it refuses consoles of guests listening on localhost), and a
 * tmpfs over /root holds the ssh client's key and known_hosts for `qemu+ssh://root@127.0.0.1`
 * to an sshd the test starts on a private port with its own host key. Xvfb (`-displayfd`), a
 * D-Bus session bus (which starts the AT-SPI bus) and HOME/XDG dirs are the test's too.
 *
 * Steps, each asserted through the UI and through python3-libvirt: connect and the guest list with
 * state; the list's CPU usage graph (the running guest's row has a sparkline above its baseline, the
 * shut-off SPICE guest's row has none: a picture of the screen, kept); the Details pages with no error dialog; Pause, Resume, Reboot, Shut Down, Run, Force Off
 * from the guest window's menus; the VNC console (locally virt-manager asks for it with
 * virDomainOpenGraphicsFD: fd passing), Take Screenshot and Send Key > Ctrl+Alt+Delete (the guest
 * restarts); the New VM wizard (manual install, generic OS, a new disk in the default pool, the
 * default network; Customize > Boot Options > direct kernel boot of the test guest's kernel)
 * creates and starts a guest whose NIC is on virbr0 and whose OS boots and lists its disks on the
 * serial console; Delete removes it with its disk; then over qemu+ssh the console (virt-manager's
 * ssh tunnel to the VNC port), Take Screenshot and Send Key, and the second guest's SPICE console
 * (an ssh tunnel per SPICE channel) and Take Screenshot; then that SPICE console locally (through
 * virDomainOpenGraphicsFD, one socket per SPICE channel) and Take Screenshot. The
 * console's pixels, as saved by Take Screenshot and as shown on the X screen, must match QMP
 * `screendump` of the guest taken at the same moment. Pictures of the screen are kept in the
 * directory the test prints, with steps.jsonl (what each step saw).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { guestCmdline, guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { ppmHeader } from "../testing/graphics/rfb.ts";
import { commandWorks, insideTestNetns, runTestFileUnshared, sh } from "../testing/netns.ts";
import { run, spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";

const here = fileURLToPath(import.meta.url);
const driver = join(dirname(here), "virt-manager-driver.py");
const PY = "/usr/bin/python3";
const VM = "vm1";
const SPICE_VM = "vm2";

/** What the test needs that may be missing (Debian packages in parentheses). */
async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root");
  const checks: [string, string[]][] = [
    ["virt-manager (virt-manager)", ["test", "-x", "/usr/bin/virt-manager"]],
    ["Xvfb (xvfb)", ["Xvfb", "-help"]],
    ["dbus-daemon (dbus)", ["dbus-daemon", "--version"]],
    ["dogtail (python3-dogtail)", [PY, "-c", "import dogtail, libvirt, pyatspi"]],
    [
      "virt-manager's SPICE widget (gir1.2-spiceclientgtk-3.0)",
      [
        PY,
        "-c",
        "import gi; gi.require_version('SpiceClientGtk', '3.0'); from gi.repository import SpiceClientGtk",
      ],
    ],
    ["sshd (openssh-server)", ["test", "-x", "/usr/sbin/sshd"]],
    ["nc (netcat-openbsd)", ["nc", "-h"]],
    ["import (imagemagick)", ["convert", "-version"]],
    ["unshare", ["unshare", "--version"]],
    ["virsh", ["virsh", "--version"]],
    ["dnsmasq", ["dnsmasq", "--version"]],
    ["nft", ["nft", "--version"]],
  ];
  for (const [what, argv] of checks) {
    // nc -h exits 1 on some builds: it only has to run
    if (!(await commandWorks(argv)) && !(argv[0] === "nc" && existsSync("/usr/bin/nc"))) missing.push(what);
  }
  return missing;
}

interface StepResult {
  step: string;
  ok: boolean;
  error?: string;
  trace?: string;
  windows?: unknown;
  [k: string]: unknown;
}

/** Kills a child we started (by its pid) and waits for it. */
async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(t);
}

/** The live pids in the *.pid files under `dir` (guests' QEMU, networks' dnsmasq). */
function pidFilesUnder(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    for (const e of existsSync(d) ? readdirSync(d, { withFileTypes: true }) : []) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".pid")) {
        const pid = Number(readFileSync(p, "utf8").trim());
        // only a process of this test (its command line names the state dir), not a reused pid
        let cmdline = "";
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
          // gone
        }
        if (Number.isInteger(pid) && pid > 1 && cmdline.includes(dir)) out.push(pid);
      }
    }
  };
  walk(dir);
  return out;
}

/** Reads a picture with ImageMagick into a binary PPM. */
async function toPPM(file: string): Promise<Buffer> {
  const ppm = `${file}.ppm`;
  await sh("convert", file, ppm);
  return readFileSync(ppm);
}

/** Fraction of pixels of two same-size PPMs whose channels differ by more than `tol`. */
function pixelDiff(a: Buffer, b: Buffer, tol = 48): { width: number; height: number; differing: number } {
  const ha = ppmHeader(a);
  const hb = ppmHeader(b);
  assert.deepEqual([ha.width, ha.height], [hb.width, hb.height], "picture sizes");
  let bad = 0;
  const n = ha.width * ha.height;
  for (let i = 0; i < n; i++) {
    const pa = ha.offset + i * 3;
    const pb = hb.offset + i * 3;
    for (let c = 0; c < 3; c++) {
      if (Math.abs(a[pa + c]! - b[pb + c]!) > tol) {
        bad++;
        break;
      }
    }
  }
  return { width: ha.width, height: ha.height, differing: bad / n };
}

/**
 * The console's pixels are the guest's screen: virt-manager's Take Screenshot (the VNC widget's
 * framebuffer) and the widget's area of the X screen, each against QMP screendump taken at the
 * same moment (the guest's screen is still: it prints to the serial port).
 */
async function consoleMatches(t: TestContext, out: string, phase: string, s: StepResult): Promise<void> {
  const dump = readFileSync(String(s.screendump));
  const { width, height } = ppmHeader(dump);
  const saved = pixelDiff(await toPPM(String(s.file)), dump);
  // the widget shows the guest's screen unscaled, centred in its area
  const [x, y, w, h] = s.widget as number[];
  const crop = `${String(s.screen)}.crop.ppm`;
  const left = x! + Math.floor((w! - width) / 2);
  const top = y! + Math.floor((h! - height) / 2);
  await sh("convert", String(s.screen), "-crop", `${width}x${height}+${left}+${top}`, "+repage", crop);
  const onScreen = pixelDiff(readFileSync(crop), dump);
  t.diagnostic(
    `${phase} console vs screendump: saved ${JSON.stringify(saved)}, on screen ${JSON.stringify(onScreen)}`,
  );
  appendFileSync(join(out, "steps.jsonl"), JSON.stringify({ phase, step: "pixels", saved, onScreen }) + "\n");
  assert.ok(
    saved.differing < 0.01,
    `${phase}: Take Screenshot differs from screendump in ${saved.differing * 100}%`,
  );
  assert.ok(
    onScreen.differing < 0.01,
    `${phase}: the console on screen differs from screendump in ${onScreen.differing * 100}%`,
  );
}

if (!insideTestNetns()) {
  test(
    "virt-manager against tvirtd: list, details, lifecycle, New VM, Delete, console over ssh, SPICE console",
    { timeout: 450_000 },
    async (t) => {
      const missing = await missingTools();
      if (missing.length > 0) {
        if (process.env.CI === "true")
          assert.fail(`missing: ${missing.join(", ")} (scripts/setup installs them)`);
        t.skip(`needs ${missing.join(", ")} (scripts/setup installs them)`);
        return;
      }
      // the guest is built (or found) here, where the network is
      if (!(await testGuestOrSkip(t))) return;
      const out = mkdtempSync(join(tmpdir(), "tvirt-virt-manager-pictures-"));
      t.diagnostic(`virt-manager pictures (artifacts): ${out}`);
      process.stdout.write(`# virt-manager pictures (artifacts): ${out}\n`);
      await runTestFileUnshared(
        here,
        ["--net", "--mount", "--propagation", "private"],
        {
          TVIRT_NETNS_TEST: "1",
          TVIRT_OUTER_MNTNS: readlinkSync("/proc/self/ns/mnt"),
          TVIRT_VIRTMGR_OUT: out,
          ...(process.env.CI === undefined ? {} : { CI: process.env.CI }),
        },
        440_000,
      );
      const stepsFile = join(out, "steps.jsonl");
      for (const line of existsSync(stepsFile) ? readFileSync(stepsFile, "utf8").trim().split("\n") : [])
        t.diagnostic(line);
    },
  );
} else {
  test(
    "virt-manager against tvirtd (inside private network and mount namespaces)",
    { timeout: 430_000 },
    async (t: TestContext) => {
      assert.notEqual(
        readlinkSync("/proc/self/ns/mnt"),
        process.env.TVIRT_OUTER_MNTNS,
        "not in a private mount namespace",
      );
      const links = JSON.parse(await sh("ip", "-j", "link", "show")) as { ifname: string }[];
      assert.deepEqual(
        links.map((l) => l.ifname),
        ["lo"],
        "not in a fresh network namespace: refusing to run",
      );
      await sh("ip", "link", "set", "lo", "up");
      const out =
        process.env.TVIRT_VIRTMGR_OUT ?? mkdtempSync(join(tmpdir(), "tvirt-virt-manager-pictures-"));
      const guest = await testGuestOrSkip(t);
      if (!guest) return;

      const dir = mkdtempSync(join(tmpdir(), "tvirt-virt-manager-"));
      chmodSync(dir, 0o755);
      // the kernel and initrd leave /root/.cache before a tmpfs covers /root
      const kernel = join(dir, "vmlinuz");
      const initrd = join(dir, "initrd");
      copyFileSync(guest.kernel, kernel);
      copyFileSync(guest.initrd, initrd);
      mkdirSync("/run/libvirt", { recursive: true });
      await sh("mount", "-t", "tmpfs", "-o", "mode=755", "tvirt-test", "/run/libvirt");
      await sh("mount", "-t", "tmpfs", "-o", "mode=700", "tvirt-test", "/root");
      mkdirSync("/root/.ssh", { mode: 0o700 });

      const stateRoot = join(dir, "state");
      const conf = join(dir, "tvirtd.conf");
      // QEMU as root: the guest's files are the test's (the DAC tests cover tvirt-qemu)
      writeFileSync(conf, `state_root = "${stateRoot}"\nuser = "root"\ngroup = "root"\nlog_level = 3\n`);
      const sock = "/run/libvirt/libvirt-sock";
      const serial = join(dir, "serial.log");
      const children: ChildProcess[] = [];
      let daemon: DaemonProcess | undefined;
      const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
      const virsh = async (...args: string[]): Promise<string> => {
        const r = await run("virsh", ["-c", "qemu:///system", ...args], { env, timeoutMs: 60_000 });
        assert.equal(r.code, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      try {
        daemon = await spawnDaemon(
          [
            "--system",
            "-f",
            conf,
            "--listen",
            sock,
            "--uri",
            "qemu:///system",
            "-p",
            join(dir, "tvirtd.pid"),
          ],
          [sock],
          { env },
        );
        // libvirt 9's client looks for virtqemud's socket first, then libvirtd's
        symlinkSync("libvirt-sock", "/run/libvirt/virtqemud-sock");

        const xml = guestDomainXML({
          name: VM,
          mode: "idle",
          kernel,
          initrd,
          memoryMiB: 96,
          serialLogPath: serial,
          extraDevicesXML:
            "    <graphics type='vnc' autoport='yes'/>\n    <video><model type='vga'/></video>",
        }).replace("<on_reboot>destroy</on_reboot>", "<on_reboot>restart</on_reboot>");
        writeFileSync(join(dir, `${VM}.xml`), xml);
        await virsh("define", join(dir, `${VM}.xml`));
        await virsh("start", VM);

        // sshd for qemu+ssh://root@127.0.0.1:PORT/system
        const port = 22000 + (process.pid % 1000);
        await sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key"));
        await sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/root/.ssh/id_ed25519");
        copyFileSync("/root/.ssh/id_ed25519.pub", join(dir, "authorized_keys"));
        writeFileSync(
          "/root/.ssh/config",
          "Host *\n  StrictHostKeyChecking accept-new\n  UserKnownHostsFile /root/.ssh/known_hosts\n",
        );
        mkdirSync("/run/sshd", { recursive: true });
        const sshd = spawn(
          "/usr/sbin/sshd",
          [
            "-D",
            "-e",
            "-p",
            String(port),
            "-h",
            join(dir, "host_key"),
            ...["-o", "ListenAddress=127.0.0.1", "-o", `AuthorizedKeysFile=${join(dir, "authorized_keys")}`],
            ...["-o", `PidFile=${join(dir, "sshd.pid")}`, "-o", "StrictModes=no", "-o", "UsePAM=no"],
            ...["-o", "PermitRootLogin=prohibit-password"],
          ],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        children.push(sshd);

        // Xvfb on a free display, a session bus (it starts the AT-SPI bus on demand)
        const home = join(dir, "home");
        const guiEnv: NodeJS.ProcessEnv = {
          ...env,
          LANG: "C.UTF-8",
          LC_ALL: "C.UTF-8",
          HOME: home,
          XDG_RUNTIME_DIR: join(home, "run"),
          XDG_CONFIG_HOME: join(home, "config"),
          XDG_DATA_HOME: join(home, "data"),
          XDG_CACHE_HOME: join(home, "cache"),
          NO_AT_BRIDGE: undefined,
        };
        mkdirSync(join(home, "run"), { recursive: true, mode: 0o700 });
        const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], {
          stdio: ["ignore", "ignore", "pipe", "pipe"],
          env: guiEnv,
        });
        children.push(xvfb);
        const display = await new Promise<string>((resolve, reject) => {
          let s = "";
          xvfb.stdio[3]!.on("data", (d: Buffer) => {
            s += d.toString();
            if (s.includes("\n")) resolve(`:${s.trim()}`);
          });
          xvfb.once("exit", (c) => {
            reject(new Error(`Xvfb exited (${c})`));
          });
        });
        guiEnv.DISPLAY = display;
        const dbus = spawn("dbus-daemon", ["--session", "--nofork", "--print-address=1"], {
          stdio: ["ignore", "pipe", "ignore"],
          env: guiEnv,
        });
        children.push(dbus);
        guiEnv.DBUS_SESSION_BUS_ADDRESS = await new Promise<string>((resolve, reject) => {
          let s = "";
          dbus.stdout.on("data", (d: Buffer) => {
            s += d.toString();
            if (s.includes("\n")) resolve(s.trim());
          });
          dbus.once("exit", (c) => {
            reject(new Error(`dbus-daemon exited (${c})`));
          });
        });

        const drive = async (
          phase: string,
          uri: string,
          expect: string[],
          opts: object,
          vm = VM,
        ): Promise<StepResult[]> => {
          const r = await run(PY, [driver, phase, uri, out, vm, JSON.stringify({ serial, ...opts })], {
            env: guiEnv,
            timeoutMs: 240_000,
            stdio: ["ignore", "pipe", "pipe"],
          });
          const steps = r.stdout
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as StepResult);
          const failed = steps.find((s) => !s.ok);
          assert.equal(
            failed,
            undefined,
            `virt-manager ${phase}: step ${failed?.step} failed: ${failed?.error}\n${failed?.trace ?? ""}\nwindows: ${JSON.stringify(failed?.windows)}\n${r.stderr.slice(-2000)}`,
          );
          assert.equal(r.code, 0, r.stderr.slice(-2000));
          assert.deepEqual(
            steps.map((s) => s.step),
            expect,
          );
          for (const s of steps) t.diagnostic(`${phase} ${s.step}: ${JSON.stringify(s)}`);
          // the outer run shows them (the inner run's output is only shown when it fails)
          appendFileSync(
            join(out, "steps.jsonl"),
            steps.map((s) => JSON.stringify({ phase, ...s }) + "\n").join(""),
          );
          return steps;
        };

        // a SPICE guest, shut off for the local phase (the CPU graph's idle row), then running
        // for the ssh phase (SPICE through virt-manager's ssh tunnels) and the spice phase
        const spiceSerial = join(dir, "serial-spice.log");
        writeFileSync(
          join(dir, `${SPICE_VM}.xml`),
          guestDomainXML({
            name: SPICE_VM,
            mode: "idle",
            kernel,
            initrd,
            memoryMiB: 96,
            serialLogPath: spiceSerial,
            extraDevicesXML:
              "    <graphics type='spice' autoport='yes'/>\n    <video><model type='qxl'/></video>",
          }),
        );
        await virsh("define", join(dir, `${SPICE_VM}.xml`));
        // --- local qemu:///system
        const local = await drive(
          "local",
          "qemu:///system",
          [
            "connect",
            "cpugraph",
            "details",
            "lifecycle",
            "console",
            "screenshot",
            "sendkey",
            "newvm",
            "delete",
          ],
          // the wizard's guest boots the test guest's OS: Customize > Boot Options > Direct kernel boot
          {
            newvm_kernel: { kernel, initrd, args: guestCmdline("disks") },
            stopped_vm: SPICE_VM,
          },
        );
        assert.equal(local[0]!.row, `${VM}\nRunning`);
        // the running guest's CPU graph has a line above its baseline; the stopped one's has none
        const lines = local[1]!.line_pixels as Record<string, number>;
        assert.ok(lines[VM]! >= 3, JSON.stringify(local[1]));
        assert.equal(lines[SPICE_VM], 0, JSON.stringify(local[1]));
        await consoleMatches(t, out, "local", local[5]!);
        const newvm = local[7]!;
        assert.match(String(newvm.disk), new RegExp(`^${stateRoot}/`));
        // its OS booted and lists its disks on the serial console (read through the daemon)
        const serialLines = newvm.serial as string[];
        assert.ok(
          serialLines.some((l) => /^DISK \S+ \d+/.test(l)),
          `the wizard's guest printed no DISK line: ${JSON.stringify(serialLines)}`,
        );
        assert.equal(await virsh("domstate", VM), "running\n\n");
        assert.doesNotMatch(await virsh("list", "--all", "--name"), /newvm/);
        assert.ok(!existsSync(String(newvm.disk)), `${String(newvm.disk)} is left`);

        // --- over ssh: the console through virt-manager's ssh tunnel, send key, screenshot
        const sshUri = `qemu+ssh://root@127.0.0.1:${port}/system`;
        // and the SPICE guest's console through them (one ssh tunnel per SPICE channel)
        await virsh("start", SPICE_VM);
        assert.match(await virsh("domdisplay", SPICE_VM), /^spice:\/\/127\.0\.0\.1:\d+/);
        // its screen is still once the guest is up (it prints to the serial port only)
        const end = Date.now() + 120_000;
        while (!(
          existsSync(spiceSerial) && readFileSync(spiceSerial, "utf8").includes("TVIRT-GUEST-READY")
        )) {
          assert.ok(Date.now() < end, `${SPICE_VM} did not boot: ${readFileSync(spiceSerial, "utf8")}`);
          await new Promise((r) => setTimeout(r, 500));
        }
        const ssh = await drive(
          "ssh",
          sshUri,
          ["connect", "console", "screenshot", "sendkey", "spice-console", "spice-screenshot"],
          { spice_vm: SPICE_VM },
        );
        await consoleMatches(t, out, "ssh", ssh[2]!);
        assert.ok(ssh[4]!.spice_over_ssh, JSON.stringify(ssh[4]));
        await consoleMatches(t, out, "ssh-spice", ssh[5]!);

        // --- the SPICE guest's console, local: virt-manager's SPICE widget takes each channel's
        // socket from virDomainOpenGraphicsFD

        const spice = await drive(
          "spice",
          "qemu:///system",
          ["connect", "console", "screenshot"],
          {},
          SPICE_VM,
        );
        assert.ok(Number(spice[1]!.fd_requests) >= 1, JSON.stringify(spice[1]));
        await consoleMatches(t, out, "spice", spice[2]!);
        await virsh("destroy", SPICE_VM);
      } finally {
        for (const c of children.reverse()) await stopChild(c);
        await daemon?.stop("SIGKILL");
        for (const pid of pidFilesUnder(stateRoot)) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
        // the pictures stay (in `out`); the daemon's state and the guest's files go
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
