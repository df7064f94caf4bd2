/**
 * `virConnectGetDomainCapabilities` on the installed QEMU: defaults (virt type from KVM's
 * usability, the binary's default machine), aliases resolved, the host's facts reported, and
 * libvirt's messages for a wrong virt type, architecture, machine or flag.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { parseXml } from "../../../conf/xml.ts";
import { hostHasIommu } from "../../../host/facts.ts";
import { makeTestRoot } from "../../../testing/qemu/driver.ts";
import { qemuOrSkip } from "../../../testing/qemu/capabilities.ts";
import { VirtError } from "../../../util/errors/index.ts";

void test("domain capabilities of the installed QEMU, and refusals naming what is wrong", async (t) => {
  const qemu = qemuOrSkip(t);
  if (!qemu) return;
  const tr = makeTestRoot("tvirt-domcaps-");
  const conn = await tr.open();
  try {
    const kvm = (await conn.driver.kvm(qemu)).usable;
    const dflt = parseXml(await conn.connectGetDomainCapabilities({}, 0));
    assert.equal(dflt.childText("path"), qemu);
    assert.equal(dflt.childText("domain"), kvm ? "kvm" : "qemu", "KVM when usable, else TCG");
    assert.match(dflt.childText("machine") ?? "", /^pc-i440fx-\d+\.\d+$/);
    assert.equal(dflt.childText("arch"), "x86_64");

    const q35 = parseXml(
      await conn.connectGetDomainCapabilities({ virttype: "qemu", machine: "q35", arch: "x86_64" }, 0),
    );
    assert.match(q35.childText("machine") ?? "", /^pc-q35-\d+\.\d+$/, "the alias is resolved");
    assert.equal(q35.child("vcpu")?.attr("max"), "288");
    const modes = q35.child("cpu")!.all("mode");
    const mode = (n: string) => modes.find((m) => m.attr("name") === n);
    assert.equal(mode("host-passthrough")?.attr("supported"), "no", "no host-passthrough under TCG");
    assert.equal(mode("maximum")?.attr("supported"), "yes");
    const models = mode("custom")!
      .all("model")
      .map((m) => m.content);
    assert.ok(models.includes("qemu64") && models.includes("Skylake-Client-v1"), models.join(","));
    assert.ok(!models.includes("max") && !models.includes("host"));
    const bus = q35
      .child("devices")!
      .child("disk")!
      .all("enum")
      .find((e) => e.attr("name") === "bus")!
      .all("value")
      .map((v) => v.content);
    assert.ok(!bus.includes("ide") && bus.includes("sata"), `q35 has no IDE: ${bus.join(",")}`);
    const pciBackend = q35
      .child("devices")!
      .child("hostdev")!
      .all("enum")
      .find((e) => e.attr("name") === "pciBackend")!
      .all("value")
      .map((v) => v.content);
    assert.deepEqual(pciBackend, hostHasIommu() ? ["default", "vfio"] : [], "VFIO only with IOMMU groups");

    // A user's firmware descriptor (session and embedded drivers read $XDG_CONFIG_HOME's).
    const xdg = process.env.XDG_CONFIG_HOME;
    const config = join(tr.root, "xdg-config");
    mkdirSync(join(config, "qemu/firmware"), { recursive: true });
    writeFileSync(
      join(config, "qemu/firmware/10-test-ovmf.json"),
      JSON.stringify({
        "interface-types": ["uefi"],
        mapping: { device: "flash", executable: { filename: "/test/OVMF_CODE.sb.fd", format: "raw" } },
        targets: [{ architecture: "x86_64", machines: ["pc-q35-*"] }],
        features: ["requires-smm", "secure-boot"],
      }),
    );
    process.env.XDG_CONFIG_HOME = config;
    try {
      const os = parseXml(
        await conn.connectGetDomainCapabilities({ virttype: "qemu", machine: "q35" }, 0),
      ).child("os")!;
      const values = (parent: typeof os, name: string) =>
        parent
          .all("enum")
          .find((e) => e.attr("name") === name)!
          .all("value")
          .map((v) => v.content);
      assert.ok(values(os, "firmware").includes("efi"), "the descriptor offers UEFI to q35");
      const loader = os.child("loader")!;
      assert.ok(loader.all("value").some((v) => v.content === "/test/OVMF_CODE.sb.fd"));
      assert.deepEqual(values(loader, "secure"), ["yes", "no"]);
      const pc = parseXml(await conn.connectGetDomainCapabilities({ virttype: "qemu", machine: "pc" }, 0));
      assert.ok(
        !pc
          .child("os")!
          .child("loader")!
          .all("value")
          .some((v) => v.content === "/test/OVMF_CODE.sb.fd"),
      );
    } finally {
      if (xdg === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = xdg;
    }

    const refused = async (
      q: Parameters<typeof conn.connectGetDomainCapabilities>[0],
      re: RegExp,
      flags = 0,
    ) =>
      assert.rejects(conn.connectGetDomainCapabilities(q, flags), (e: unknown) => {
        assert.ok(e instanceof VirtError, String(e));
        assert.match(e.message, re);
        return true;
      });
    await refused({ virttype: "KVM" }, /unknown virttype: KVM/);
    await refused({ virttype: "xen" }, /Emulator '.*' does not support virt type 'xen'/);
    await refused({ arch: "foo" }, /unknown architecture: foo/);
    if (!existsSync("/usr/bin/qemu-system-sparc64"))
      await refused({ arch: "sparc64" }, /unable to find any emulator to serve 'sparc64' architecture/);
    await refused({ emulatorbin: qemu, arch: "aarch64" }, /doesn't match given architecture 'aarch64'/);
    const i386 = join(dirname(qemu), "qemu-system-i386");
    if (existsSync(i386)) {
      const doc = parseXml(await conn.connectGetDomainCapabilities({ arch: "i686", virttype: "qemu" }, 0));
      assert.equal(doc.childText("path"), i386, "i686 is served by qemu-system-i386");
      assert.equal(doc.childText("arch"), "i686");
    }
    await refused(
      { virttype: "qemu", machine: "pc-nosuch" },
      /the machine 'pc-nosuch' is not supported by emulator/,
    );
    await refused({ emulatorbin: "/nonexistent/qemu" }, /nonexistent/);
    await refused({}, /unsupported flags/, 1);
    if (!kvm) await refused({ virttype: "kvm" }, /KVM is not supported by '.*' on this host/);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
