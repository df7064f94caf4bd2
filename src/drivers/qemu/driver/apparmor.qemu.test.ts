/**
 * AppArmor with real QEMU (TCG, the tiny guest), on a host without AppArmor (this machine): the
 * guest's profile is generated at start under the root (`<root>/etc/apparmor.d/tvirt/`), names
 * its kernel, initrd, disk, log, runtime folder and pid file, passes `apparmor_parser -Q`, is not
 * loaded; a hotplugged disk adds exactly its rule and its detach takes it away; dominfo's model
 * is "none" without a label, as libvirt says without a security driver; the profile is gone after destroy.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { appArmorState, checkProfiles, parserPath } from "../../../security/apparmor-host.ts";
import { DomainDeviceModifyFlags as F } from "../../enums.ts";
import { ConsoleReader, guestXML, makeTestRoot } from "../../../testing/qemu/driver.ts";

const UUID = "6f1a6e0e-5d7c-4c38-9d0b-8a2b0c1d2e3f";

test("AppArmor profile of a TCG guest: generated at start, disk hotplug adds its rule, removed at stop", async (t) => {
  const xml = await guestXML(t, { name: "aa", mode: "disks", uuid: UUID });
  if (xml === undefined) return;
  if (!existsSync(parserPath())) {
    if (process.env.CI === "true") throw new Error("apparmor_parser missing; required under CI");
    t.skip("apparmor_parser not installed (apt-get install --no-install-recommends apparmor)");
    return;
  }
  const tr = makeTestRoot("tvirt-apparmor-");
  const dir = join(tr.root, "etc", "apparmor.d", "tvirt");
  const profile = join(dir, `libvirt-${UUID}`);
  const files = `${profile}.files`;
  const img = join(tr.root, "hot.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", img, "16M"], { stdio: "ignore" });
  try {
    const conn = await tr.open();
    const dom = await conn.domainDefineXML(xml);
    assert.ok(!existsSync(profile), "no profile before start");
    await conn.domainCreate(dom);
    tr.track(conn);
    const def = conn.driver.domains.byName("aa")!.def;
    const text = readFileSync(files, "utf8");
    assert.ok(text.includes(`"${def.os.kernel ?? ""}" r,`), text);
    assert.ok(text.includes(`"${def.os.initrd ?? ""}" r,`), text);
    assert.ok(text.includes(`"${join(tr.root, "log", "qemu", "aa.log")}" w,`), text);
    assert.match(text, new RegExp(`"${join(tr.root, "lib", "qemu", "domain-1-aa")}/\\*\\*" rwk,`));
    assert.match(
      readFileSync(profile, "utf8"),
      new RegExp(`profile libvirt-${UUID} flags=\\(attach_disconnected\\)`),
    );
    await checkProfiles([profile]);

    // dominfo: without AppArmor in the kernel the model is none and there is no label
    const enabled = appArmorState().enabled && process.getuid?.() === 0;
    assert.deepEqual(
      await conn.nodeGetSecurityModel(),
      enabled ? { model: "apparmor", doi: "0" } : { model: "none", doi: "0" },
    );
    assert.deepEqual(
      await conn.domainGetSecurityLabel(dom),
      enabled ? { label: `libvirt-${UUID}`, enforcing: true } : { label: "", enforcing: false },
    );

    // a hotplugged disk adds exactly its rule
    const con = await ConsoleReader.open(conn, dom);
    const before = readFileSync(files, "utf8").split("\n");
    await conn.domainAttachDeviceFlags(
      dom,
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img}'/><target dev='vdb' bus='virtio'/></disk>`,
      F.LIVE,
    );
    const after = readFileSync(files, "utf8").split("\n");
    assert.deepEqual(
      after.filter((l) => !before.includes(l)),
      [`  "${img}" rwk,  # disk 'vdb'`],
    );
    assert.ok(before.every((l) => after.includes(l)));
    await checkProfiles([profile]);

    // detaching it takes its rule away again (once the guest, which prints its disks, sees it: its first virtio disk)
    await con.waitFor(/DISK vda 32768\b/, 120_000);
    await conn.domainDetachDeviceFlags(
      dom,
      `<disk type='file' device='disk'><source file='${img}'/><target dev='vdb' bus='virtio'/></disk>`,
      F.LIVE,
    );
    assert.deepEqual(readFileSync(files, "utf8").split("\n"), before);

    await conn.domainDestroy(dom);
    assert.ok(!existsSync(profile) && !existsSync(files), "profile removed at stop");
    await conn.connectClose();
  } finally {
    await tr.cleanup();
  }
});
