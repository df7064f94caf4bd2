/**
 * Stock `virt-install` (Debian's virtinst 4.1) against tvirtd hosting the QEMU driver, on the
 * tiny TCG guest (`disks` mode: it prints each block device with its size in sectors every 2 s,
 * here to a serial file so the test reads it without a console):
 * - `virt-install --import --disk none ...` defines and starts the guest with virt-install's
 *   own device choices (ICH9 USB2 controller set without indexes, SPICE, QXL, ich6 sound, ...);
 * - stock `virsh attach-disk g POOL/vol.qcow2 vdb --driver qemu --subdriver qcow2` plugs a qcow2
 *   image of a pool directory into the running guest, which sees its 48 MiB;
 * - `virt-install --disk vol=default/g.qcow2` (a qcow2 volume made with `virsh vol-create-as`
 *   in the `default` pool, which tvirtd defines and starts at its first start) defines and
 *   starts a persistent guest whose disk is the volume's path, as qcow2;
 * - `--disk path=` of a file made in the pool's directory outside libvirt (virt-install finds
 *   it through the storage API: listAllStoragePools, storageVolLookupByPath) and
 *   `--disk size=0.05,format=qcow2` (virt-install creates `g4.qcow2` in the default pool with
 *   storageVolCreateXML) do the same.
 *
 * The daemon serves `qemu:///session` with HOME and the XDG dirs in a temp dir, reached as
 * `qemu+unix:///session?socket=PATH` (see guest-interop.test.ts).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { testGuestOrSkip } from "../testing/guest/index.ts";
import { guestCmdline } from "../testing/guest/domain-xml.ts";
import { privateSession, run, spawnDaemon, virshOrSkip, type RunResult } from "../testing/rpc/harness.ts";

function virtInstallOrSkip(t: TestContext): string | undefined {
  for (const p of ["/usr/bin/virt-install", "/usr/local/bin/virt-install"]) if (existsSync(p)) return p;
  const why = "virt-install is not installed (Debian: apt-get install virtinst; scripts/setup does it)";
  if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
  t.skip(why);
  return undefined;
}

/** Waits until `re` matches the text of `file` (a serial log), or fails with its tail. */
async function waitForFile(file: string, re: RegExp, ms: number, from = 0): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, "utf8").slice(from) : "";
    if (re.test(text)) return;
    if (Date.now() > until)
      assert.fail(`no ${String(re)} in ${file} within ${ms} ms: ${JSON.stringify(text.slice(-300))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test(
  "stock virt-install defines and starts guests through tvirtd (--disk none, vol=, path=, size=); virsh attach-disk of a pool image",
  { timeout: 240_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const virtInstall = virtInstallOrSkip(t);
    if (!virtInstall) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-virt-install-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "", HOME: dir };
    const pool = join(dir, "images");
    mkdirSync(pool);
    const serial = join(dir, "serial.log");
    const pidFile = join(dir, "run", "tvirt", "qemu", "g.pid");
    const qemuPids = new Set<number>();
    const daemon = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
      env: daemonEnv,
    });
    const v = async (args: string[], ok = true): Promise<RunResult> => {
      const r = await run(virsh, ["-c", uri, ...args], {
        env,
        timeoutMs: 40_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (ok) assert.equal(r.code, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    const boot = `kernel=${guest.kernel},initrd=${guest.initrd},kernel_args=${guestCmdline("disks")}`;
    const virtInstallArgs = (name: string, disk: string, extra: string[] = []): string[] => [
      "--connect",
      uri,
      "--import",
      "--name",
      name,
      "--memory",
      "128",
      "--disk",
      disk,
      "--osinfo",
      "detect=on,require=off",
      "--network",
      "none",
      "--noautoconsole",
      "--boot",
      boot,
      "--virt-type",
      "qemu",
      ...extra,
    ];
    try {
      // --- virt-install --import --disk none: defined and running ------------------------------
      const r = await run(virtInstall, virtInstallArgs("g", "none", ["--serial", `file,path=${serial}`]), {
        env,
        timeoutMs: 120_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (existsSync(pidFile)) qemuPids.add(Number(readFileSync(pidFile, "utf8").trim()));
      assert.equal(r.code, 0, `virt-install: ${r.stdout}\n${r.stderr}\n${daemon.stderr()}`);
      assert.match(r.stdout, /Domain creation completed\./);
      assert.equal((await v(["domstate", "g"])).stdout, "running\n\n");
      assert.match((await v(["list", "--persistent", "--name"])).stdout, /^g$/m, "defined, not transient");
      const xml = (await v(["dumpxml", "g"])).stdout;
      assert.match(xml, /<controller type='usb' index='0' model='ich9-ehci1'>/);
      assert.match(xml, /<controller type='usb' index='0' model='ich9-uhci3'>/);
      await waitForFile(serial, /DISKS-END 0/, 120_000);

      // --- virsh attach-disk of a pool directory's qcow2 image: the guest sees 48 MiB ----------
      const vol = join(pool, "vol.qcow2");
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", vol, "48M"]);
      const from = readFileSync(serial, "utf8").length;
      assert.equal(
        (await v(["attach-disk", "g", vol, "vdb", "--driver", "qemu", "--subdriver", "qcow2"])).stdout,
        "Disk attached successfully\n\n",
      );
      await waitForFile(serial, /DISK vd[a-z] 98304\b/, 60_000, from);
      assert.match((await v(["domblklist", "g"])).stdout, new RegExp(`vdb\\s+${vol}`));
      await v(["destroy", "g"]);

      // --- virt-install --disk vol=default/g.qcow2: a volume of the default pool -------------
      await v(["vol-create-as", "default", "g.qcow2", "32M", "--format", "qcow2"]);
      const volPath = (await v(["vol-path", "g.qcow2", "--pool", "default"])).stdout.trim();
      assert.equal(volPath, join(dir, "data", "tvirt", "images", "g.qcow2"));
      const r2 = await run(virtInstall, virtInstallArgs("g2", "vol=default/g.qcow2"), {
        env,
        timeoutMs: 120_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const pid2 = join(dir, "run", "tvirt", "qemu", "g2.pid");
      if (existsSync(pid2)) qemuPids.add(Number(readFileSync(pid2, "utf8").trim()));
      assert.equal(r2.code, 0, `virt-install: ${r2.stdout}\n${r2.stderr}\n${daemon.stderr()}`);
      assert.match((await v(["list", "--persistent", "--name"])).stdout, /^g2$/m, "defined, not transient");
      assert.equal((await v(["domstate", "g2"])).stdout, "running\n\n");
      // an undetected OS is "generic" to virt-install, which puts its disk on IDE
      assert.match((await v(["domblklist", "g2"])).stdout, new RegExp(`^ hda +${volPath}$`, "m"));
      const xml2 = (await v(["dumpxml", "g2"])).stdout;
      assert.match(xml2, new RegExp(`<source file='${volPath}'`));
      assert.match(xml2, /<driver name='qemu' type='qcow2'/);
      await v(["destroy", "g2"]);

      // --- --disk path= of a file made outside the pool: found through the pool's volumes -----
      const img = join(dir, "data", "tvirt", "images", "g3.qcow2");
      execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", img, "32M"]);
      const r3 = await run(virtInstall, virtInstallArgs("g3", `path=${img}`), {
        env,
        timeoutMs: 120_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const pid3 = join(dir, "run", "tvirt", "qemu", "g3.pid");
      if (existsSync(pid3)) qemuPids.add(Number(readFileSync(pid3, "utf8").trim()));
      assert.equal(r3.code, 0, `virt-install: ${r3.stdout}\n${r3.stderr}\n${daemon.stderr()}`);
      assert.equal((await v(["domstate", "g3"])).stdout, "running\n\n");
      assert.match((await v(["domblklist", "g3"])).stdout, new RegExp(`^ hda +${img}$`, "m"));
      await v(["destroy", "g3"]);

      // --- --disk size=: virt-install creates the volume in the default pool ------------------
      const r4 = await run(virtInstall, virtInstallArgs("g4", "size=0.05,format=qcow2"), {
        env,
        timeoutMs: 120_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const pid4 = join(dir, "run", "tvirt", "qemu", "g4.pid");
      if (existsSync(pid4)) qemuPids.add(Number(readFileSync(pid4, "utf8").trim()));
      assert.equal(r4.code, 0, `virt-install: ${r4.stdout}\n${r4.stderr}\n${daemon.stderr()}`);
      assert.equal((await v(["domstate", "g4"])).stdout, "running\n\n");
      const g4 = join(dir, "data", "tvirt", "images", "g4.qcow2");
      assert.match((await v(["domblklist", "g4"])).stdout, new RegExp(`^ hda +${g4}$`, "m"));
      assert.match((await v(["vol-list", "default"])).stdout, new RegExp(`^ g4\\.qcow2 +${g4}$`, "m"));
      await v(["destroy", "g4"]);
    } finally {
      for (const pid of qemuPids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await daemon.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
