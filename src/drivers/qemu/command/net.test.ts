import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { Build } from "./build.ts";
import { hostCommandContext } from "./context.ts";
import { buildInterfaces } from "./net.ts";

const caps: QemuCaps = {
  emulator: "/usr/bin/qemu-system-x86_64",
  version: 10000000,
  package: "",
  arch: "x86_64",
  flags: new Set(["virtio-net-pci"]),
  accel: {
    tcg: {
      machines: [{ name: "pc-i440fx-10.0", alias: "pc", isDefault: true, maxCpus: 255, hotplugCpus: true }],
      cpuModels: [],
    },
  },
  migrationCapabilities: [],
  binaryCtime: 0,
};

function interfacesOf(iface: string): Build {
  const xml = `<domain type='qemu'>\n  <name>n</name>\n  <memory unit='MiB'>256</memory>\n  <memoryBacking>\n    <access mode='shared'/>\n  </memoryBacking>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n${iface}  </devices>\n</domain>\n`;
  const { def } = parseDomainXML(xml);
  return new Build(def, hostCommandContext(caps, "n", { kind: "embed", root: "/tmp/tvirt-net-test" }));
}

test("a custom tap path on an interface that has no tap is refused at start with libvirt's words", () => {
  const b = interfacesOf(
    "    <interface type='vhostuser'>\n      <mac address='52:54:00:ee:96:6b'/>\n      <source type='unix' path='/tmp/vhost0.sock' mode='server'/>\n      <model type='virtio'/>\n      <backend tap='/dev/mytap'/>\n    </interface>\n",
  );
  assert.throws(
    () => {
      buildInterfaces(b, () => undefined);
    },
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "unsupported configuration: interface 52:54:00:ee:96:6b - custom tap device path is not supported for network interfaces of type vhostuser",
  );
});
