import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { Build } from "./build.ts";
import { hostCommandContext } from "./context.ts";
import { buildMachine } from "./machine.ts";
import { buildCpu } from "./cpu.ts";
import { diskDeviceProps } from "./disk.ts";

function caps(flags: string[]): QemuCaps {
  return {
    emulator: "/usr/bin/qemu-system-x86_64",
    version: 10000000,
    package: "",
    arch: "x86_64",
    flags: new Set(flags),
    accel: {
      tcg: {
        machines: [{ name: "pc-q35-10.0", alias: "q35", isDefault: false, maxCpus: 255, hotplugCpus: true }],
        cpuModels: [],
      },
    },
    migrationCapabilities: [],
    binaryCtime: 0,
  };
}

function machineLine(flags: string[], state: "on" | "off"): string {
  const xml = `<domain type='qemu'>\n  <name>m</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n  <features>\n    <ps2 state='${state}'/>\n  </features>\n  <devices/>\n</domain>\n`;
  const { def } = parseDomainXML(xml);
  const b = new Build(
    def,
    hostCommandContext(caps(flags), "m", { kind: "embed", root: "/tmp/tvirt-machine-test" }),
  );
  buildMachine(b);
  return b.args[1] ?? "";
}

test("the ps2 feature becomes i8042= when QEMU can set it, and is refused when it cannot", () => {
  assert.match(machineLine(["machine-i8042-opt"], "off"), /^q35,usb=off,i8042=off,/);
  assert.match(machineLine(["machine-i8042-opt"], "on"), /,i8042=on,/);
  assert.throws(
    () => machineLine([], "off"),
    (e: unknown) =>
      e instanceof VirtError &&
      e.message === "unsupported configuration: ps2 feature state cannot be controlled with this QEMU binary",
  );
});

test("host-passthrough needs a hardware accelerator; TCG refuses it with libvirt's words", () => {
  const xml = `<domain type='qemu'>\n  <name>m</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n  <cpu mode='host-passthrough'/>\n  <devices/>\n</domain>\n`;
  const { def } = parseDomainXML(xml);
  const b = new Build(
    def,
    hostCommandContext(caps([]), "m", { kind: "embed", root: "/tmp/tvirt-machine-test" }),
  );
  assert.throws(
    () => {
      buildCpu(b);
    },
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "unsupported configuration: CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not supported by hypervisor",
  );
});

test("a virtio LUN needs QEMU's virtio-blk SCSI passthrough", () => {
  const xml = `<domain type='qemu'>\n  <name>m</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n  <devices>\n    <disk type='block' device='lun'>\n      <source dev='/dev/sdz'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n</domain>\n`;
  const { def } = parseDomainXML(xml);
  const b = new Build(
    def,
    hostCommandContext(caps(["virtio-blk-pci"]), "m", { kind: "embed", root: "/tmp/tvirt-machine-test" }),
  );
  assert.throws(
    () => {
      diskDeviceProps(b, def.devices.disks[0]!, undefined, undefined);
    },
    (e: unknown) => e instanceof VirtError && e.code === "QEMU_VIRTIO_BLK_SCSI_UNSUPPORTED",
  );
});
