/**
 * Device hotplug through tvirtd with stock virsh 9.0 on the tiny TCG guest (`disks` mode, its
 * serial console in a file): attach-disk of a qcow2 image appears in the guest as vdb with its
 * size and in dumpxml, detach-disk removes it from both; change-media updates the CD-ROM the
 * guest sees; attach-device/detach-device of a USB host device; `--config` alone changes only
 * the persistent definition; errors print what virsh prints, and tvirsh through the same daemon
 * prints the same bytes as stock virsh.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { makeFakeSysfs } from "../testing/host/sysfs.ts";
import { diskAndCdromXML, guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import {
  privateSession,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";

const NAME = "hpi";
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

test("stock virsh hotplugs devices of a real guest through tvirtd", { timeout: 300_000 }, async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const guest = await testGuestOrSkip(t);
  if (!guest) return;

  const dir = mkdtempSync(join(tmpdir(), "tvirt-hotplug-interop-"));
  // the USB device attached by vendor/product is found under this sysfs root (the host has none)
  const usbFs = makeFakeSysfs({
    usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" }],
  });
  const conf = join(dir, "tvirtd.conf");
  writeFileSync(conf, `sysfs_root = "${usbFs.root}"\n`);
  const { sock, uri, env: daemonEnv } = privateSession(dir);
  const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
  const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
  const serial = join(dir, "serial.log");
  const f = (n: string) => join(dir, n);
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", f("data.qcow2"), "64M"]);
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", f("cfg.qcow2"), "8M"]);
  writeFileSync(f("boot.raw"), Buffer.alloc(512 * 1024));
  writeFileSync(f("cd1.iso"), Buffer.alloc(1024 * 1024, 1));
  writeFileSync(f("cd2.iso"), Buffer.alloc(2 * 1024 * 1024, 2));
  writeFileSync(
    f("usb.xml"),
    "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>\n",
  );
  const xml = guestDomainXML({
    name: NAME,
    mode: "disks",
    kernel: guest.kernel,
    initrd: guest.initrd,
    serialLogPath: serial,
    extraDevicesXML: diskAndCdromXML(f("boot.raw"), f("cd1.iso")),
  });
  writeFileSync(f("dom.xml"), xml);

  const daemons: DaemonProcess[] = [];
  let qemuPid = 0;
  const sh = (bin: string, args: string[]): Promise<RunResult> =>
    run(bin, args, { env, timeoutMs: 90_000, stdio: ["ignore", "pipe", "pipe"] });
  const v = async (cmds: string, ok = true): Promise<RunResult> => {
    const r = await sh(virsh, ["-c", uri, cmds]);
    if (ok) assert.equal(r.code, 0, `virsh ${cmds}: ${r.stderr}`);
    return r;
  };
  const tv = (cmds: string): Promise<RunResult> => sh(process.execPath, [tvirshBin, "-c", uri, cmds]);
  /** Waits for `re` in the serial log after offset `from`. */
  const guestSays = async (re: RegExp, from: number, ms = 90_000): Promise<void> => {
    const until = Date.now() + ms;
    for (;;) {
      const text = readFileSync(serial, "utf8").slice(from);
      if (re.test(text)) return;
      if (Date.now() > until) throw new Error(`guest did not print ${String(re)}; tail: ${text.slice(-300)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const logSize = (): number => readFileSync(serial, "utf8").length;

  try {
    daemons.push(
      await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session", "-f", conf], [sock], {
        env: daemonEnv,
      }),
    );
    await v(`define ${f("dom.xml")}`);
    await v(`start ${NAME}`);
    qemuPid = Number(readFileSync(pidFile, "utf8").trim());
    await guestSays(/DISK vda 1024\r?\n/, 0);

    // attach-disk: the guest sees vdb (64 MiB = 131072 sectors); dumpxml lists it
    let from = logSize();
    const att = await v(
      `attach-disk ${NAME} ${f("data.qcow2")} vdb --targetbus virtio --driver qemu --subdriver qcow2`,
    );
    assert.equal(att.stdout, "Disk attached successfully\n\n");
    await guestSays(/DISK vdb 131072\r?\n/, from);
    const live = (await v(`dumpxml ${NAME}`)).stdout;
    assert.match(
      live,
      /<source file='[^']*data\.qcow2'[^>]*\/>\s*<target dev='vdb' bus='virtio'\/>\s*<alias name='virtio-disk1'\/>/,
    );
    assert.match((await v(`domblklist ${NAME}`)).stdout, /^ vdb\s+\S*data\.qcow2$/m);

    // errors: stock virsh and tvirsh print the same
    for (const cmd of [
      `attach-disk ${NAME} ${f("data.qcow2")} vdb --targetbus virtio --subdriver qcow2`,
      `attach-disk ${NAME} ${f("missing.qcow2")} vdd --targetbus virtio`,
      `attach-disk ${NAME} ${f("cfg.qcow2")} sdb --targetbus sata --subdriver qcow2`,
      `detach-disk ${NAME} vdz`,
      `detach-device ${NAME} ${f("usb.xml")}`,
    ]) {
      const a = await v(cmd, false);
      const b = await tv(cmd);
      assert.equal(a.code, 1, `${cmd}: ${a.stdout}`);
      assert.equal(b.stderr, a.stderr, cmd);
      assert.equal(b.stdout, a.stdout, cmd);
      assert.equal(b.code, a.code, cmd);
    }
    const errs = (await v(`attach-disk ${NAME} ${f("data.qcow2")} vdb --targetbus virtio`, false)).stderr;
    assert.equal(errs, "error: Failed to attach disk\nerror: operation failed: target vdb already exists\n");

    // detach-disk: gone from the guest and from dumpxml
    from = logSize();
    assert.equal((await v(`detach-disk ${NAME} vdb`)).stdout, "Disk detached successfully\n\n");
    await guestSays(/DISK vda 1024\r?\nDISKS-END 2\r?\n/, from);
    assert.doesNotMatch((await v(`dumpxml ${NAME}`)).stdout, /vdb/);

    // change-media: the guest sees the 2 MiB medium (4096 sectors)
    from = logSize();
    assert.equal(
      (await v(`change-media ${NAME} hdc ${f("cd2.iso")} --update`)).stdout,
      "Successfully updated media.\n",
    );
    await guestSays(/DISK sr0 4096\r?\n/, from);
    assert.match((await v(`dumpxml ${NAME}`)).stdout, /cd2\.iso/);
    from = logSize();
    const tm = await tv(`change-media ${NAME} hdc ${f("cd1.iso")} --update`);
    assert.equal(tm.stdout, "Successfully updated media.\n", tm.stderr);
    await guestSays(/DISK sr0 2048\r?\n/, from);

    // USB host device by vendor/product through attach-device / detach-device
    assert.equal(
      (await v(`attach-device ${NAME} ${f("usb.xml")}`)).stdout,
      "Device attached successfully\n\n",
    );
    assert.match(
      (await v(`dumpxml ${NAME}`)).stdout,
      /<hostdev mode='subsystem' type='usb'[^>]*>\s*<source>\s*<vendor id='0x1234'\/>/,
    );
    assert.equal(
      (await v(`detach-device ${NAME} ${f("usb.xml")}`)).stdout,
      "Device detached successfully\n\n",
    );
    assert.doesNotMatch((await v(`dumpxml ${NAME}`)).stdout, /<hostdev/);

    // tvirsh through the daemon, --config only: the persistent definition changes, the guest not
    const before = (await v(`dumpxml ${NAME}`)).stdout;
    const ta = await tv(
      `attach-disk ${NAME} ${f("cfg.qcow2")} vdc --targetbus virtio --subdriver qcow2 --config`,
    );
    assert.equal(ta.stdout, "Disk attached successfully\n\n", ta.stderr);
    assert.equal((await v(`dumpxml ${NAME}`)).stdout, before);
    assert.match((await v(`dumpxml ${NAME} --inactive`)).stdout, /<target dev='vdc' bus='virtio'\/>/);
    const td = await tv(`detach-disk ${NAME} vdc --config`);
    assert.equal(td.stdout, "Disk detached successfully\n\n", td.stderr);
    assert.doesNotMatch((await v(`dumpxml ${NAME} --inactive`)).stdout, /vdc/);

    await v(`destroy ${NAME}`);
    await v(`undefine ${NAME}`);
  } finally {
    if (qemuPid > 0) {
      try {
        process.kill(qemuPid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const d of daemons) await d.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    usbFs.dispose();
  }
});
