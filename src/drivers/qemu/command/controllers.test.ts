import { test } from "node:test";
import assert from "node:assert/strict";
import { assignAliases, parseDomainXML } from "../../../conf/domain/index.ts";
import { assignUsbAddresses } from "./usb.ts";
import { Build } from "./build.ts";
import { buildControllers, buildGlobalControllers } from "./controllers.ts";
import { buildFilesystems } from "./fs.ts";
import { hostCommandContext } from "./context.ts";
import { domainFactsFromCaps } from "../capabilities/facts.ts";
import type { MachineInfo, QemuCaps } from "../capabilities/types.ts";

function caps(): QemuCaps {
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
    flags: new Set(["piix3-usb-uhci", "ich9-usb-ehci1", "qemu-xhci", "usb-mtp", "pci-bridge"]),
    accel: {
      tcg: { machines: [machine("pc-i440fx-10.0", "pc"), machine("pc-q35-10.0", "q35")], cpuModels: [] },
    },
    migrationCapabilities: [],
    binaryCtime: 0,
  };
}

function guest(machine: string, devices: string): string {
  return `<domain type='qemu'>\n  <name>c</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='${machine}'>hvm</type>\n  </os>\n  <devices>\n${devices}  </devices>\n</domain>\n`;
}

/** The argv one builder step gives for a guest. */
function args(machine: string, devices: string, step: (b: Build) => void): string[] {
  const c = caps();
  const { def } = parseDomainXML(guest(machine, devices), { facts: domainFactsFromCaps(c) });
  assignAliases(def);
  assignUsbAddresses(def);
  const b = new Build(
    def,
    hostCommandContext(c, "c", { kind: "embed", root: "/tmp/tvirt-controllers-test" }),
  );
  step(b);
  return b.args;
}

test("ICH9 companions join their EHCI1's bus by masterbus and first port", () => {
  const usb2 = ["ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3"]
    .map((m) => `    <controller type='usb' index='0' model='${m}'/>\n`)
    .join("");
  const devices = args("q35", usb2, buildControllers).filter((a) => a.includes("ich9-usb"));
  assert.deepEqual(
    devices
      .map((d) => JSON.parse(d) as Record<string, unknown>)
      .map((d) => [d.driver, d.id, d.masterbus, d.firstport]),
    [
      ["ich9-usb-ehci1", "usb", undefined, undefined],
      ["ich9-usb-uhci1", undefined, "usb.0", 0],
      ["ich9-usb-uhci2", undefined, "usb.0", 2],
      ["ich9-usb-uhci3", undefined, "usb.0", 4],
    ],
  );
});

test("the 64-bit PCI hole is a -global of the machine's host bridge", () => {
  const root = (model: string): string =>
    `    <controller type='pci' index='0' model='${model}'><pcihole64 unit='MiB'>512</pcihole64></controller>\n`;
  assert.deepEqual(args("pc", root("pci-root"), buildGlobalControllers), [
    "-global",
    "i440FX-pcihost.pci-hole64-size=524288K",
  ]);
  assert.deepEqual(args("q35", root("pcie-root"), buildGlobalControllers), [
    "-global",
    "q35-pcihost.pci-hole64-size=524288K",
  ]);
  assert.deepEqual(args("pc", "", buildGlobalControllers), []);
});

test("an MTP file system is a usb-mtp device on a USB port", () => {
  const fs = (dir: string, ro: string): string =>
    `    <filesystem type='mount'><driver type='mtp'/><source dir='/srv/${dir}'/><target dir='${dir}'/>${ro}</filesystem>\n`;
  const out = args("pc", fs("a", "") + fs("b", "<readonly/>"), buildFilesystems);
  assert.deepEqual(out, [
    "-device",
    '{"driver":"usb-mtp","id":"fs0","rootdir":"/srv/a","desc":"a","readonly":false,"bus":"usb.0","port":"1"}',
    "-device",
    '{"driver":"usb-mtp","id":"fs1","rootdir":"/srv/b","desc":"b","readonly":true,"bus":"usb.0","port":"2"}',
  ]);
});

test("USB ports: hubs already there count as ports, so no hub is added for devices they hold", () => {
  const c = caps();
  const hub = (port: string): string =>
    `    <hub type='usb'><address type='usb' bus='0' port='${port}'/></hub>\n`;
  const mouse = "    <input type='mouse' bus='usb'/>\n";
  const { def } = parseDomainXML(guest("pc", hub("1") + mouse + mouse + mouse), {
    facts: domainFactsFromCaps(c),
  });
  assignUsbAddresses(def);
  assert.equal(def.devices.hubs.length, 1);
  assert.deepEqual(
    def.devices.inputs
      .filter((i) => i.bus === "usb")
      .map((i) => (i.address?.type === "usb" ? i.address.port : "")),
    ["2", "1.1", "1.2"],
  );
});
