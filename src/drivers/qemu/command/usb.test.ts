import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { assignUsbAddresses } from "./usb.ts";
import { Build } from "./build.ts";
import { buildControllers } from "./controllers.ts";
import { hostCommandContext } from "./context.ts";
import { domainFactsFromCaps } from "../capabilities/facts.ts";
import type { MachineInfo, QemuCaps } from "../capabilities/types.ts";

function guest(devices: string): string {
  return `<domain type='qemu'>
  <name>u</name>
  <memory unit='MiB'>256</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <controller type='usb' index='0' model='piix3-uhci'/>
${devices}  </devices>
</domain>
`;
}

const at = (port: string, bus = 0): string => `      <address type='usb' bus='${bus}' port='${port}'/>\n`;
const hub = (addr: string): string => `    <hub type='usb'>\n${addr}    </hub>\n`;
const mouse = (addr: string): string => `    <input type='mouse' bus='usb'>\n${addr}    </input>\n`;

/** The start-time assignment's error; the definition is read without its checks (they refuse these too). */
function startError(devices: string): VirtError {
  const { def } = parseDomainXML(guest(devices), { noDefaults: true });
  try {
    assignUsbAddresses(def);
  } catch (e) {
    assert.ok(e instanceof VirtError);
    return e;
  }
  assert.fail("expected the USB addresses to be refused");
}

test("USB addresses at start: libvirt's words for a taken port, a missing hub or port, a missing bus", () => {
  assert.equal(
    startError(hub(at("1")) + mouse(at("1"))).message,
    "XML error: Duplicate USB address bus 0 port 1",
  );
  assert.equal(
    startError(mouse(at("1.2.3"))).message,
    "XML error: there is no hub at port 1 in USB address bus: 0 port: 1.2.3",
  );
  assert.equal(
    startError(hub(at("1")) + hub(at("1.9"))).message,
    "XML error: requested USB port 1.9 not present on USB bus 0",
  );
  assert.equal(
    startError(mouse("      <address type='usb' bus='1'/>\n")).message,
    "XML error: USB bus 1 requested but no controller with that index is present",
  );
});

test("USB addresses at start: ports behind a hub are given and kept", () => {
  const { def } = parseDomainXML(guest(hub(at("1")) + mouse(at("1.3")) + mouse("")));
  assignUsbAddresses(def);
  const ports = def.devices.inputs
    .filter((i) => i.bus === "usb")
    .map((i) => (i.address?.type === "usb" ? i.address.port : ""));
  assert.equal(ports[0], "1.3");
  assert.match(ports[1] ?? "", /^[0-9.]+$/);
  assert.notEqual(ports[1], "1.3");
});

/** Capabilities of a small x86 binary with the given USB controller devices. */
function capsWith(flags: string[]): QemuCaps {
  const machine = (name: string, alias: string): MachineInfo => ({
    name,
    alias,
    isDefault: alias === "pc",
    maxCpus: 255,
    hotplugCpus: true,
  });
  return {
    emulator: "/usr/bin/qemu-system-x86_64",
    version: 10000000,
    package: "",
    arch: "x86_64",
    flags: new Set(flags),
    accel: {
      tcg: { machines: [machine("pc-i440fx-10.0", "pc"), machine("pc-q35-10.0", "q35")], cpuModels: [] },
    },
    migrationCapabilities: [],
    binaryCtime: 0,
  };
}

function usbGuest(machine: string, controllers: string): string {
  return `<domain type='qemu'>\n  <name>u</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='${machine}'>hvm</type>\n  </os>\n  <devices>\n${controllers}  </devices>\n</domain>\n`;
}

function usbModels(caps: QemuCaps, machine: string, controllers = ""): (string | undefined)[] {
  const { def } = parseDomainXML(usbGuest(machine, controllers), { facts: domainFactsFromCaps(caps) });
  return def.devices.controllers.filter((c) => c.type === "usb").map((c) => c.model);
}

function buildError(caps: QemuCaps, machine: string, controllers: string): VirtError {
  const { def } = parseDomainXML(usbGuest(machine, controllers), { facts: domainFactsFromCaps(caps) });
  const b = new Build(def, hostCommandContext(caps, "u", { kind: "embed", root: "/tmp/tvirt-usb-test" }));
  try {
    buildControllers(b);
  } catch (e) {
    assert.ok(e instanceof VirtError);
    return e;
  }
  assert.fail("expected the USB controller to be refused");
}

test("USB controller models: libvirt's defaults from what QEMU has", () => {
  const all = capsWith(["piix3-usb-uhci", "qemu-xhci", "nec-usb-xhci", "ich9-usb-ehci1"]);
  assert.deepEqual(usbModels(all, "pc"), ["piix3-uhci"]);
  assert.deepEqual(usbModels(all, "q35"), ["qemu-xhci"]);
  // An explicit controller without a model is PIIX3's, also on q35.
  assert.deepEqual(usbModels(all, "q35", "    <controller type='usb' index='0'/>\n"), ["piix3-uhci"]);
  // The implicit q35 controller falls back to NEC, then to none at all.
  assert.deepEqual(usbModels(capsWith(["nec-usb-xhci"]), "q35"), ["nec-xhci"]);
  assert.deepEqual(usbModels(capsWith([]), "q35"), []);
  // Without PIIX3 the controller keeps no model...
  assert.deepEqual(usbModels(capsWith([]), "pc"), [undefined]);
});

test("USB controllers at start: no model, or a model QEMU lacks, are refused with libvirt's words", () => {
  assert.equal(
    buildError(capsWith([]), "pc", "").message,
    "unsupported configuration: no model provided for USB controller",
  );
  assert.equal(
    buildError(
      capsWith(["piix3-usb-uhci"]),
      "pc",
      "    <controller type='usb' index='0' model='nec-xhci'/>\n",
    ).message,
    "unsupported configuration: USB controller model 'nec-xhci' not supported in this QEMU binary",
  );
});
