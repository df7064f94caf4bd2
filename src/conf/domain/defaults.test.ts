import { test } from "node:test";
import assert from "node:assert/strict";
import { assignAliases, assignUsbAddresses, defaultChannelPaths, parseDomainXML } from "./index.ts";
import type { DomainDef, PciAddress } from "./types.ts";
import { formatBitmap, parseBitmap } from "./bitmap.ts";

function domain(machine: string, devices: string, type = "qemu"): string {
  return `<domain type='${type}'>
  <name>t</name>
  <memory>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='${machine}'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${devices}
  </devices>
</domain>`;
}

function pci(a: { address?: unknown }): string {
  const p = a.address as PciAddress | undefined;
  assert.equal(p?.type, "pci");
  return `${p.bus}:${p.slot}.${p.function}`;
}

test("q35: each PCIe device gets its own auto-added pcie-root-port, plus one spare", () => {
  const { def } = parseDomainXML(domain("q35", "<interface type='user'><model type='virtio'/></interface>"));
  const ports = def.devices.controllers.filter((c) => c.model === "pcie-root-port");
  // net, usb (qemu-xhci), balloon + 1 spare for hotplug
  assert.equal(ports.length, 4);
  assert.deepEqual(
    ports.map((p) => [p.index, pci(p), p.target?.chassis, p.target?.port]),
    [
      [1, "0:1.0", 1, 8],
      [2, "0:1.1", 2, 9],
      [3, "0:1.2", 3, 10],
      [4, "0:1.3", 4, 11],
    ],
  );
  assert.equal((ports[0]!.address as PciAddress).multifunction, true);
  assert.equal(pci(def.devices.interfaces[0]!), "1:0.0");
  assert.equal(pci(def.devices.controllers.find((c) => c.type === "sata")!), "0:31.2");
});

test("pc: PIIX3 owns slot 1, the primary video slot 2, then devices in libvirt's order", () => {
  const { def } = parseDomainXML(
    domain(
      "pc",
      "<disk type='file' device='disk'><source file='/x'/><target dev='vda' bus='virtio'/></disk><interface type='user'/><video><model type='vga'/></video>",
    ),
  );
  const usb = def.devices.controllers.find((c) => c.type === "usb")!;
  assert.equal(usb.model, "piix3-uhci");
  assert.equal(pci(usb), "0:1.2");
  assert.equal(pci(def.devices.videos[0]!), "0:2.0");
  assert.equal(pci(def.devices.interfaces[0]!), "0:3.0");
  assert.equal(pci(def.devices.disks[0]!), "0:4.0");
  assert.equal(pci(def.devices.memballoon!), "0:5.0");
});

test("pc: running out of slots on pci-root adds a pci-bridge", () => {
  const nics = Array.from({ length: 32 }, () => "<interface type='user'/>").join("");
  const { def } = parseDomainXML(domain("pc", nics));
  const bridge = def.devices.controllers.find((c) => c.model === "pci-bridge");
  assert.ok(bridge);
  assert.equal(bridge.modelName, "pci-bridge");
  assert.equal(bridge.target?.chassisNr, bridge.index);
  const last = def.devices.interfaces.at(-1)!;
  assert.equal((last.address as PciAddress).bus, bridge.index);
});

test("implicit devices: IDE controller for hd*, SCSI controller for sd*, drive addresses", () => {
  const { def } = parseDomainXML(
    domain(
      "pc",
      "<disk type='file' device='disk'><source file='/a'/><target dev='hdd'/></disk><disk type='file' device='disk'><source file='/b'/><target dev='sdi'/></disk>",
    ),
  );
  assert.deepEqual(def.devices.disks[0]!.address, {
    type: "drive",
    controller: 0,
    bus: 1,
    target: 0,
    unit: 1,
  });
  assert.deepEqual(def.devices.disks[1]!.address, {
    type: "drive",
    controller: 1,
    bus: 0,
    target: 0,
    unit: 1,
  });
  const scsi = def.devices.controllers.filter((c) => c.type === "scsi");
  assert.deepEqual(
    scsi.map((c) => [c.index, c.model]),
    [
      [0, "lsilogic"],
      [1, "lsilogic"],
    ],
  );
});

test("console without serial becomes serial0 with a console alias; channels get virtio-serial ports", () => {
  const { def } = parseDomainXML(
    domain(
      "pc",
      "<console type='pty'/><channel type='unix'><target type='virtio' name='a'/></channel><channel type='unix'><target type='virtio' name='b'/></channel>",
    ),
  );
  assert.equal(def.devices.serials.length, 1);
  assert.equal(def.devices.serials[0]!.target.type, "isa-serial");
  assert.equal(def.devices.consoles[0]!.target.type, "serial");
  assert.deepEqual(
    def.devices.channels.map((c) => c.address),
    [
      { type: "virtio-serial", controller: 0, bus: 0, port: 1 },
      { type: "virtio-serial", controller: 0, bus: 0, port: 2 },
    ],
  );
  assert.ok(def.devices.controllers.some((c) => c.type === "virtio-serial" && c.index === 0));
});

test("default CPU: qemu64 for TCG and KVM x86 guests; host-passthrough gets migratable", () => {
  const tcg = parseDomainXML(domain("pc", "")).def;
  assert.deepEqual(tcg.cpu, {
    mode: "custom",
    features: [],
    check: "none",
    match: "exact",
    model: { name: "qemu64", fallback: "forbid" },
  });
  const kvm = parseDomainXML(
    domain("pc", "", "kvm").replace("<devices>", "<cpu mode='host-passthrough'/><devices>"),
  ).def;
  assert.equal(kvm.cpu?.check, "none");
  assert.equal(kvm.cpu.migratable, true);
});

test("facts canonicalise machine aliases and choose the default CPU", () => {
  const { def } = parseDomainXML(domain("pc", ""), {
    facts: {
      canonicalMachine: (_a, _t, m) => (m === "pc" ? "pc-i440fx-7.2" : undefined),
      defaultCpuModel: () => null,
    },
  });
  assert.equal(def.os.machine, "pc-i440fx-7.2");
  assert.equal(def.cpu, undefined);
});

test("aliases follow libvirt's naming and keep user aliases", () => {
  const { def } = parseDomainXML(
    domain(
      "q35",
      `<disk type='file' device='disk'><source file='/a'/><target dev='vdb' bus='virtio'/></disk>
       <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
       <interface type='user'><alias name='ua-nic'/></interface><interface type='user'/>
       <hostdev mode='subsystem' type='pci' managed='yes'><source><address bus='1' slot='0' function='0'/></source></hostdev>
       <serial type='pty'/><input type='tablet' bus='usb'/><rng model='virtio'><backend model='random'/></rng>`,
    ),
  );
  assignAliases(def);
  const d = def.devices;
  assert.equal(d.disks[0]!.alias, "virtio-disk1");
  assert.equal(d.disks[1]!.alias, "sata0-0-0");
  assert.deepEqual(
    d.interfaces.map((n) => n.alias),
    ["ua-nic", "net0"],
  );
  assert.equal(d.hostdevs[0]!.alias, "hostdev0");
  assert.equal(d.serials[0]!.alias, "serial0");
  assert.equal(d.consoles[0]!.alias, "console0");
  assert.equal(d.rngs[0]!.alias, "rng0");
  assert.equal(d.memballoon!.alias, "balloon0");
  const byType = (t: string, i = 0): string | undefined =>
    d.controllers.find((c) => c.type === t && c.index === i)?.alias;
  assert.equal(byType("usb"), "usb");
  assert.equal(byType("sata"), "ide");
  assert.equal(byType("pci"), "pcie.0");
  assert.equal(byType("pci", 1), "pci.1");
  assert.deepEqual(
    d.inputs.map((i) => i.alias),
    ["input0", "input1", "input2"],
  );
  const before = JSON.stringify(def);
  assignAliases(def);
  assert.equal(JSON.stringify(def), before, "assignAliases is idempotent");
});

test("USB ports: first free port of the first controller, in libvirt's device order", () => {
  const { def } = parseDomainXML(
    domain(
      "pc",
      "<input type='tablet' bus='usb'/><disk type='file' device='disk'><source file='/u'/><target dev='sda' bus='usb'/></disk><redirdev bus='usb' type='spicevmc'/>",
    ),
  );
  const d: DomainDef = def;
  assert.equal(d.devices.inputs[0]!.address, undefined, "inactive definitions carry no USB addresses");
  assignUsbAddresses(d);
  // piix3-uhci has two ports for three devices: a hub is added and takes port 1
  assert.equal(d.devices.hubs.length, 1);
  assert.deepEqual(d.devices.hubs[0]!.address, { type: "usb", bus: 0, port: "1" });
  assert.deepEqual(d.devices.disks[0]!.address, { type: "usb", bus: 0, port: "2" });
  assert.deepEqual(d.devices.inputs[0]!.address, { type: "usb", bus: 0, port: "1.1" });
  assert.deepEqual(d.devices.redirdevs[0]!.address, { type: "usb", bus: 0, port: "1.2" });
});

test("bitmaps parse libvirt's set syntax and format canonically", () => {
  assert.deepEqual(parseBitmap("0-3,^2,8"), [0, 1, 3, 8]);
  assert.equal(formatBitmap(parseBitmap("8,0-1,1,3")!), "0-1,3,8");
  assert.equal(parseBitmap("3-1"), undefined);
  assert.equal(parseBitmap(""), undefined);
  assert.equal(parseBitmap("99999"), undefined);
});

test("default <audio>: none without graphics, spice with SPICE, host audio only when allowed and named", () => {
  const graphics = (g: string) => domain("pc", g);
  const audio = (xml: string, opts?: Parameters<typeof parseDomainXML>[1]) =>
    parseDomainXML(xml, opts).def.devices.audios;
  assert.deepEqual(audio(graphics("")), [{ id: 1, type: "none" }]);
  assert.deepEqual(audio(graphics("<graphics type='spice'/>")), [{ id: 1, type: "spice" }]);
  assert.deepEqual(audio(graphics("<graphics type='vnc'/>")), [{ id: 1, type: "none" }]);
  // SDL always uses the host's audio: QEMU_AUDIO_DRV unset leaves the choice to QEMU
  assert.deepEqual(audio(graphics("<graphics type='sdl'/>")), []);
  const env = { QEMU_AUDIO_DRV: "sdl", SDL_AUDIODRIVER: "esd" };
  assert.deepEqual(audio(graphics("<graphics type='sdl'/>"), { facts: { hostAudio: { env } } }), [
    { id: 1, type: "sdl", driver: "esd" },
  ]);
  const pa = { env: { QEMU_AUDIO_DRV: "pa", QEMU_PA_SERVER: "h" }, vncAllowHostAudio: true };
  assert.deepEqual(audio(graphics("<graphics type='vnc'/>"), { facts: { hostAudio: pa } }), [
    { id: 1, type: "pulseaudio", serverName: "h" },
  ]);
  assert.deepEqual(audio(graphics(""), { facts: { hostAudio: { ...pa, nogfxAllowHostAudio: true } } }), [
    { id: 1, type: "pulseaudio", serverName: "h" },
  ]);
  assert.throws(
    () =>
      audio(graphics("<graphics type='sdl'/>"), {
        facts: { hostAudio: { env: { QEMU_AUDIO_DRV: "bogus" } } },
      }),
    /unknown QEMU_AUDIO_DRV setting bogus/,
  );
});

test("<audio>: settings and backend attributes round-trip in libvirt's order, other types' dropped", () => {
  const xml = domain(
    "pc",
    `<audio id='1' type='oss' tryMMap='yes' exclusive='no' dspPolicy='3' serverName='x'>
      <input fixedSettings='yes' dev='/dev/dsp' tryPoll='yes' name='n'><settings frequency='8000' format='u8'/></input>
      <output fixedSettings='no' bufferCount='4'><settings frequency='8000'/></output>
    </audio>`,
  );
  const a = parseDomainXML(xml).def.devices.audios[0]!;
  assert.deepEqual(a, {
    id: 1,
    type: "oss",
    tryMMap: true,
    exclusive: false,
    dspPolicy: 3,
    input: {
      fixedSettings: true,
      settings: { frequency: 8000, format: "u8" },
      dev: "/dev/dsp",
      tryPoll: true,
    },
    output: { fixedSettings: false, bufferCount: 4 },
  });
});

test("a virtio channel's socket path is dropped only where the driver would generate it", () => {
  const isDefault = defaultChannelPaths("/var/lib/libvirt/qemu/channel/target", [
    "/var/lib/libvirt/qemu/channel",
    "/var/run/libvirt/qemu/channel",
  ]);
  const name = "org.qemu.guest_agent.0";
  for (const path of [
    `/var/lib/libvirt/qemu/channel/target/g1.${name}`,
    `/var/lib/libvirt/qemu/channel/target/domain-1-g1/${name}`,
    `/var/lib/libvirt/qemu/channel/1-g1/${name}`,
    `/var/run/libvirt/qemu/channel/1-g1/${name}`,
  ])
    assert.equal(isDefault(path, name), true, path);
  for (const path of [
    // the target folder itself and a folder without an id are the user's choice (libvirt keeps them)
    `/var/lib/libvirt/qemu/channel/target/${name}`,
    `/var/lib/libvirt/qemu/channel/target/g1/${name}`,
    `/tmp/libvirt/qemu/channel/1-g1/${name}`,
    `/var/lib/libvirt/qemu/channel/1-g1/other`,
  ])
    assert.equal(isDefault(path, name), false, path);
  const channel = (path: string): string =>
    `<channel type='unix'><source mode='bind' path='${path}'/><target type='virtio' name='fdsa'/></channel>`;
  const { def } = parseDomainXML(
    domain(
      "pc",
      channel("/var/lib/libvirt/qemu/channel/target/fdsa") +
        channel("/var/run/libvirt/qemu/channel/1-g1/fdsa"),
    ),
    { facts: { isDefaultChannelPath: isDefault } },
  );
  assert.equal(def.devices.channels[0]?.source?.path, "/var/lib/libvirt/qemu/channel/target/fdsa");
  assert.equal(def.devices.channels[1]?.source?.path, undefined);
});
