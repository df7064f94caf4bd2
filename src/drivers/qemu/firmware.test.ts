/**
 * Firmware descriptors: a higher-priority directory replaces a file of the same name, an empty
 * file masks it, files that are not descriptors are skipped, and machine globs decide what a
 * machine type is offered.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  firmwareMatches,
  loadFirmwareDescriptors,
  parseFirmwareDescriptor,
  supportedFirmware,
} from "./firmware.ts";

const descriptor = (o: {
  iface: string;
  device?: string;
  file: string;
  machines: string[];
  arch?: string;
  features?: string[];
}): string =>
  JSON.stringify({
    "interface-types": [o.iface],
    mapping:
      (o.device ?? "flash") === "flash"
        ? { device: "flash", executable: { filename: o.file, format: "raw" } }
        : { device: o.device, filename: o.file },
    targets: [{ architecture: o.arch ?? "x86_64", machines: o.machines }],
    features: o.features ?? [],
  });

void test("descriptors: user over host over package, empty files mask, junk is skipped", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-fw-"));
  try {
    const [user, etc, pkg] = ["user", "etc", "pkg"].map((d) => join(dir, d));
    for (const d of [user!, etc!, pkg!]) mkdirSync(d);
    writeFileSync(
      join(pkg!, "50-ovmf.json"),
      descriptor({ iface: "uefi", file: "/pkg/OVMF.fd", machines: ["pc-q35-*"] }),
    );
    writeFileSync(
      join(pkg!, "40-ovmf-sb.json"),
      descriptor({
        iface: "uefi",
        file: "/pkg/OVMF_SB.fd",
        machines: ["pc-q35-*"],
        features: ["secure-boot"],
      }),
    );
    writeFileSync(join(etc!, "40-ovmf-sb.json"), ""); // the host masks Secure Boot
    writeFileSync(
      join(pkg!, "60-bios.json"),
      descriptor({
        iface: "bios",
        device: "memory",
        file: "/pkg/bios.bin",
        machines: ["pc-i440fx-*", "pc-q35-*"],
      }),
    );
    writeFileSync(
      join(user!, "50-ovmf.json"),
      descriptor({ iface: "uefi", file: "/user/OVMF.fd", machines: ["pc-q35-*", "pc-i440fx-*"] }),
    );
    writeFileSync(join(pkg!, "90-junk.json"), "{ not json");
    writeFileSync(join(pkg!, "README"), "not a descriptor");

    const all = loadFirmwareDescriptors([user!, etc!, pkg!]);
    assert.deepEqual(
      all.map((d) => d.path),
      [join(user!, "50-ovmf.json"), join(pkg!, "60-bios.json")],
    );
    assert.deepEqual(supportedFirmware(all, "x86_64", "pc-q35-7.2"), {
      kinds: ["bios", "efi"],
      secure: false,
      images: ["/user/OVMF.fd"],
    });
    assert.deepEqual(supportedFirmware(all, "x86_64", "microvm"), { kinds: [], secure: false, images: [] });
    // Without the mask the Secure Boot build is offered to q35 only.
    const unmasked = loadFirmwareDescriptors([user!, pkg!]);
    assert.equal(supportedFirmware(unmasked, "x86_64", "pc-q35-7.2").secure, true);
    assert.equal(supportedFirmware(unmasked, "x86_64", "pc-i440fx-7.2").secure, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("targets: QEMU's i386 is libvirt's i686; globs match whole names", () => {
  const d = parseFirmwareDescriptor(
    descriptor({ iface: "bios", device: "memory", file: "/b", machines: ["pc-i440fx-*"], arch: "i386" }),
    "x.json",
  )!;
  assert.equal(firmwareMatches(d, "i686", "pc-i440fx-7.2"), true);
  assert.equal(firmwareMatches(d, "x86_64", "pc-i440fx-7.2"), false);
  assert.equal(firmwareMatches(d, "i686", "xpc-i440fx-7.2"), false);
  assert.equal(parseFirmwareDescriptor('{"mapping": {}}', "y.json"), undefined, "no device");
  assert.equal(parseFirmwareDescriptor("[]", "z.json"), undefined);
});
