/**
 * tvirsh's hotplug commands on `qemu:///embed` with the tiny TCG guest (`disks` mode, serial
 * console in a file). Every tvirsh run opens the embedded driver anew, so each step also goes
 * through a reconnect to the running guest: attach-disk --persistent (guest and both
 * definitions), attach-device of a user-mode NIC and detach-interface, change-media --json,
 * detach-disk --persistent, and the errors virsh prints.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { diskAndCdromXML, guestDomainXML, testGuestOrSkip } from "../../testing/guest/index.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, errorSchema, validate } from "../schemas.ts";

test("tvirsh hotplug commands on qemu:///embed with a real guest", { timeout: 300_000 }, async (t) => {
  const guest = await testGuestOrSkip(t);
  if (!guest) return;
  const root = mkdtempSync(join(tmpdir(), "tvirt-cli-hotplug-"));
  const uri = `qemu:///embed?root=${root}`;
  const f = (n: string) => join(root, n);
  const serial = f("serial.log");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", f("data.qcow2"), "32M"]);
  writeFileSync(f("boot.raw"), Buffer.alloc(512 * 1024));
  writeFileSync(f("cd1.iso"), Buffer.alloc(1024 * 1024, 1));
  writeFileSync(f("cd2.iso"), Buffer.alloc(2 * 1024 * 1024, 2));
  writeFileSync(
    f("nic.xml"),
    "<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>\n",
  );
  writeFileSync(f("sound.xml"), "<sound model='ich9'/>\n");
  writeFileSync(
    f("dom.xml"),
    guestDomainXML({
      name: "ch",
      mode: "disks",
      kernel: guest.kernel,
      initrd: guest.initrd,
      serialLogPath: serial,
      extraDevicesXML: diskAndCdromXML(f("boot.raw"), f("cd1.iso")),
    }),
  );
  const tvirsh = async (cmds: string): Promise<{ out: string; err: string; status: number }> => {
    const io = new BufferIo();
    const status = await main(["-c", uri, cmds], io, {});
    return { out: io.stdout, err: io.stderr, status };
  };
  const ok = async (cmds: string): Promise<string> => {
    const r = await tvirsh(cmds);
    assert.equal(r.status, 0, `${cmds}: ${r.err}`);
    return r.out;
  };
  const guestSays = async (re: RegExp, from: number): Promise<void> => {
    const until = Date.now() + 90_000;
    for (;;) {
      const text = readFileSync(serial, "utf8").slice(from);
      if (re.test(text)) return;
      if (Date.now() > until) throw new Error(`guest did not print ${String(re)}; tail: ${text.slice(-300)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const logSize = (): number => readFileSync(serial, "utf8").length;
  let pid = 0;
  try {
    await ok(`define ${f("dom.xml")}; start ch`);
    pid = Number(readFileSync(join(root, "run", "qemu", "ch.pid"), "utf8").trim());
    await guestSays(/DISK vda 1024\r?\n/, 0);

    // attach-disk --persistent: the guest, the live and the persistent definition
    let from = logSize();
    assert.equal(
      await ok(`attach-disk ch ${f("data.qcow2")} vdb --targetbus virtio --subdriver qcow2 --persistent`),
      "Disk attached successfully\n\n",
    );
    await guestSays(/DISK vdb 65536\r?\n/, from);
    assert.match(await ok("dumpxml ch"), /<target dev='vdb' bus='virtio'\/>\s*<alias name='virtio-disk1'\/>/);
    assert.match(await ok("dumpxml ch --inactive"), /<target dev='vdb' bus='virtio'\/>/);

    // errors as virsh prints them; --json errors carry the catalogue code
    let r = await tvirsh(`attach-disk ch ${f("data.qcow2")} vdb --targetbus virtio`);
    assert.equal(r.err, "error: Failed to attach disk\nerror: operation failed: target vdb already exists\n");
    r = await tvirsh(`attach-disk ch ${f("data.qcow2")} vdb --targetbus virtio --json`);
    const doc = JSON.parse(r.out) as { error: { code: string } };
    assert.deepEqual(validate(doc, errorSchema), []);
    assert.equal(doc.error.code, "HOTPLUG_TARGET_EXISTS");
    r = await tvirsh("detach-disk ch vdz");
    assert.equal(r.err, "error: No disk found whose source path or target is vdz\n");
    r = await tvirsh(`attach-device ch ${f("sound.xml")}`);
    assert.match(r.err, new RegExp(`^error: Failed to attach device from ${f("sound.xml")}\nerror: .*sound`));
    r = await tvirsh("attach-interface ch user x");
    assert.equal(r.err, "error: No support for user in command 'attach-interface'\n");
    r = await tvirsh("detach-interface ch user");
    assert.equal(r.err, "error: No interface found whose type is user\nerror: Failed to detach interface\n");

    // a user-mode NIC: attach-device, then detach-interface by MAC
    assert.equal(await ok(`attach-device ch ${f("nic.xml")} --live`), "Device attached successfully\n\n");
    assert.match(await ok("dumpxml ch"), /<interface type='user'>\s*<mac address='52:54:00:12:34:56'\/>/);
    assert.doesNotMatch(await ok("dumpxml ch --inactive"), /<interface/);
    assert.equal(
      await ok("detach-interface ch user --mac 52:54:00:12:34:56"),
      "Interface detached successfully\n\n",
    );
    assert.doesNotMatch(await ok("dumpxml ch"), /<interface/);

    // change-media --json: the guest sees the 2 MiB medium
    from = logSize();
    const cm = JSON.parse(await ok(`change-media ch hdc ${f("cd2.iso")} --update --live --json`)) as unknown;
    assert.deepEqual(validate(cm, commandSchemas["change-media"]!), []);
    assert.equal((cm as { action: string }).action, "update");
    await guestSays(/DISK sr0 4096\r?\n/, from);
    assert.equal(await ok("change-media ch hdc --eject --config"), "Successfully ejected media.\n");
    assert.doesNotMatch(await ok("dumpxml ch --inactive"), /cd1\.iso/);
    assert.match(await ok("dumpxml ch"), /cd2\.iso/);

    // detach-disk --persistent --json: gone everywhere
    from = logSize();
    const dd = JSON.parse(await ok("detach-disk ch vdb --persistent --json")) as unknown;
    assert.deepEqual(validate(dd, commandSchemas["detach-disk"]!), []);
    assert.deepEqual([(dd as { live: boolean }).live, (dd as { config: boolean }).config], [true, true]);
    await guestSays(/DISK vda 1024\r?\nDISKS-END 2\r?\n/, from);
    assert.doesNotMatch(await ok("dumpxml ch"), /vdb/);
    assert.doesNotMatch(await ok("dumpxml ch --inactive"), /vdb/);

    await ok("destroy ch");
    r = await tvirsh(`attach-disk ch ${f("data.qcow2")} vdc --live`);
    assert.equal(
      r.err,
      "error: Failed to attach disk\nerror: Requested operation is not valid: domain is not running\n",
    );
  } finally {
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
});
