import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDomainXML } from "../../conf/domain/index.ts";
import type { DomainDef } from "../../conf/domain/types.ts";
import { VirtError } from "../../util/errors/index.ts";
import { parseFirmwareDescriptor, type FirmwareDescriptor } from "./firmware.ts";
import { fillFirmware, fillFirmwareAtDefine } from "./firmware-select.ts";

function descriptor(name: string, doc: object): FirmwareDescriptor {
  const d = parseFirmwareDescriptor(JSON.stringify(doc), `/fw/${name}.json`);
  assert.ok(d);
  return d;
}

const q35 = [{ architecture: "x86_64", machines: ["pc-q35-*"] }];
const both = [{ architecture: "x86_64", machines: ["pc-i440fx-*", "pc-q35-*"] }];
const flash = (code: string, vars: string, format = "raw"): object => ({
  device: "flash",
  executable: { filename: code, format },
  "nvram-template": { filename: vars, format },
});

// in priority order, as loaded
const DESCRIPTORS = [
  descriptor("10-secure-qcow2", {
    "interface-types": ["uefi"],
    mapping: flash("/fw/CODE.secboot.qcow2", "/fw/VARS.secboot.qcow2", "qcow2"),
    targets: q35,
    features: ["enrolled-keys", "requires-smm", "secure-boot"],
  }),
  descriptor("20-secure", {
    "interface-types": ["uefi"],
    mapping: flash("/fw/CODE.secboot.fd", "/fw/VARS.secboot.fd"),
    targets: q35,
    features: ["enrolled-keys", "requires-smm", "secure-boot"],
  }),
  descriptor("30-plain", {
    "interface-types": ["uefi"],
    mapping: flash("/fw/CODE.fd", "/fw/VARS.fd"),
    targets: both,
    features: ["acpi-s3"],
  }),
  descriptor("40-bios", {
    "interface-types": ["bios"],
    mapping: { device: "memory", filename: "/fw/bios.bin" },
    targets: both,
    features: [],
  }),
];

/** A parsed domain without defaults; `attrs` go on `<os>`, `inner` after its `<type>`. */
function domain(attrs: string, machine = "pc-q35-9.0", inner = ""): DomainDef {
  const xml = `<domain type='qemu'><name>g</name><memory>131072</memory>
    <os${attrs}><type arch='x86_64' machine='${machine}'>hvm</type>${inner}</os>
    <features><acpi/></features></domain>`;
  return parseDomainXML(xml, { noDefaults: true }).def;
}

const opts = { descriptors: DESCRIPTORS, nvramDir: "/var/nv", abiUpdate: true };

test("firmware='efi' takes the first match: a new domain the qcow2 build, an existing one raw", () => {
  const fresh = domain(" firmware='efi'");
  fillFirmwareAtDefine(fresh, opts);
  assert.equal(fresh.os.loader?.path, "/fw/CODE.secboot.qcow2");
  assert.equal(fresh.os.loader.secure, true);
  assert.equal(fresh.features?.smm?.state, true);
  assert.deepEqual(fresh.os.nvram, {
    template: "/fw/VARS.secboot.qcow2",
    templateFormat: "qcow2",
    format: "qcow2",
    path: "/var/nv/g_VARS.qcow2",
  });
  assert.deepEqual(fresh.os.firmwareFeatures, [
    { name: "enrolled-keys", enabled: true },
    { name: "secure-boot", enabled: true },
  ]);

  const existing = domain(" firmware='efi'");
  fillFirmwareAtDefine(existing, { ...opts, abiUpdate: false });
  assert.equal(existing.os.loader?.path, "/fw/CODE.secboot.fd");
  assert.equal(existing.os.nvram?.path, "/var/nv/g_VARS.fd");
});

test("feature wishes, SMM off and the machine narrow the choice", () => {
  const noSecure = domain(" firmware='efi'", "pc-q35-9.0");
  noSecure.os.firmwareFeatures = [{ name: "secure-boot", enabled: false }];
  fillFirmware(noSecure, opts);
  assert.equal(noSecure.os.loader?.path, "/fw/CODE.fd");
  assert.equal(noSecure.features?.smm, undefined);

  const smmOff = domain(" firmware='efi'", "pc-q35-9.0");
  smmOff.features = { ...smmOff.features, smm: { state: false } };
  fillFirmware(smmOff, opts);
  assert.equal(smmOff.os.loader?.path, "/fw/CODE.fd");

  const i440fx = domain(" firmware='efi'", "pc-i440fx-9.0");
  fillFirmware(i440fx, opts);
  assert.equal(i440fx.os.loader?.path, "/fw/CODE.fd");

  const bios = domain(" firmware='bios'", "pc-i440fx-9.0");
  fillFirmware(bios, opts);
  assert.deepEqual(bios.os.loader, { type: "rom", path: "/fw/bios.bin" });
  assert.equal(bios.os.nvram, undefined);
});

test("a manual loader a descriptor knows is completed; an unknown one is taken as raw", () => {
  const known = domain("", "pc-i440fx-9.0", "<loader readonly='yes' type='pflash'>/fw/CODE.fd</loader>");
  fillFirmware(known, opts);
  assert.equal(known.os.firmware, "efi");
  assert.equal(known.os.nvram?.template, "/fw/VARS.fd");
  const custom = domain("", "pc-i440fx-9.0", "<loader readonly='yes' type='pflash'>/my/CODE.fd</loader>");
  fillFirmware(custom, opts);
  assert.equal(custom.os.firmware, undefined);
  assert.equal(custom.os.loader?.format, "raw");
  assert.equal(custom.os.nvram?.path, "/var/nv/g_VARS.fd");
  assert.equal(custom.os.nvram.template, undefined);
});

test("impossible requests: libvirt's errors, for new definitions only", () => {
  const def = domain(" firmware='efi'", "pc-q35-9.0");
  def.os.loader = { readonly: false };
  assert.throws(
    () => {
      fillFirmware(def, opts);
    },
    (e: unknown) =>
      e instanceof VirtError &&
      e.code === "FIRMWARE_NOT_FOUND" &&
      e.message ===
        "operation failed: Unable to find 'efi' firmware that is compatible with the current configuration",
  );
  const existing = domain(" firmware='efi'", "pc-q35-9.0");
  existing.os.loader = { readonly: false };
  fillFirmwareAtDefine(existing, { ...opts, abiUpdate: false });
  assert.equal(existing.os.loader.path, undefined, "an existing definition is kept as it is");
  const qed = domain(" firmware='efi'", "pc-q35-9.0");
  qed.os.loader = { format: "qed" };
  assert.throws(
    () => {
      fillFirmware(qed, opts);
    },
    (e: unknown) =>
      e instanceof VirtError && e.message === "unsupported configuration: Unsupported loader format 'qed'",
  );
});
