import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { domainFactsFromCaps } from "./facts.ts";
import { loadCapsFile } from "./load.ts";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import type { DomainFacts } from "../../../conf/domain/types.ts";
import type { QemuCaps } from "./types.ts";

void test("QEMU 7.2 facts: aliases become versioned machines, pc is the default", (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const facts = domainFactsFromCaps(loadCapsFile(join(corpus, "caps", "caps_7.2.0_x86_64.xml")));
  // The conf layer's interface is satisfied structurally.
  const asConf: DomainFacts = facts;
  assert.equal(asConf.canonicalMachine?.("x86_64", "qemu", "pc"), "pc-i440fx-7.2");
  for (const virtType of ["qemu", "kvm"]) {
    assert.equal(facts.canonicalMachine("x86_64", virtType, "pc"), "pc-i440fx-7.2");
    assert.equal(facts.canonicalMachine("x86_64", virtType, "q35"), "pc-q35-7.2");
    assert.equal(facts.canonicalMachine("i686", virtType, "q35"), "pc-q35-7.2");
    assert.equal(facts.canonicalMachine("x86_64", virtType, "pc-q35-6.2"), undefined, "not an alias: kept");
    assert.equal(facts.defaultMachine("x86_64", virtType), "pc-i440fx-7.2");
    assert.equal(facts.defaultCpuModel("x86_64", virtType, "q35"), "qemu64");
    assert.equal(facts.defaultCpuModel("x86_64", virtType, "pc-i440fx-7.2"), "qemu64");
    assert.equal(facts.defaultCpuModel("x86_64", virtType, "isapc"), "486");
  }
  assert.equal(facts.defaultCpuModel("x86_64", "qemu", "no-such-machine"), undefined);
  assert.equal(facts.canonicalMachine("aarch64", "qemu", "virt"), undefined, "another architecture");
  assert.equal(facts.defaultMachine("x86_64", "hvf"), undefined);
  // Device presence from libvirt's flags when the file has no type list.
  assert.equal(facts.hasDevice("qemu-xhci"), true);
  assert.equal(facts.hasDevice("pcie-root-port"), true);
  assert.equal(facts.hasDevice("virtio-scsi-pci"), true);
  assert.equal(facts.hasDevice("virtio-scsi-ccw"), undefined);
  assert.equal(facts.hasDevice("vfio-ccw"), false);
  assert.equal(facts.hasDevice("usb-host"), undefined, "no flag tells");
});

void test("QEMU 10.0 facts", (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const facts = domainFactsFromCaps(loadCapsFile(join(corpus, "caps", "caps_10.0.0_x86_64.xml")));
  assert.equal(facts.canonicalMachine("x86_64", "kvm", "pc"), "pc-i440fx-10.0");
  assert.equal(facts.canonicalMachine("x86_64", "qemu", "q35"), "pc-q35-10.0");
  assert.equal(facts.defaultMachine("x86_64", "qemu"), "pc-i440fx-10.0");
});

void test("probed facts answer device questions from QEMU's own type list", () => {
  const caps: QemuCaps = {
    emulator: "/usr/bin/qemu-system-x86_64",
    version: 7_002_022,
    package: "",
    arch: "x86_64",
    flags: new Set(["tcg"]),
    accel: {
      tcg: {
        machines: [
          {
            name: "pc-q35-7.2",
            alias: "q35",
            isDefault: false,
            maxCpus: 288,
            hotplugCpus: true,
            numaMemSupported: false,
            deprecated: false,
          },
        ],
        cpuModels: [],
      },
    },
    migrationCapabilities: [],
    binaryCtime: 0,
    objectTypes: new Set(["usb-host", "virtio-blk-pci"]),
  };
  const facts = domainFactsFromCaps(caps);
  assert.equal(facts.hasDevice("usb-host"), true);
  assert.equal(facts.hasDevice("qemu-xhci"), false);
  assert.equal(facts.defaultCpuModel("x86_64", "qemu", "q35"), null, "the machine names no default CPU");
  assert.equal(facts.canonicalMachine("x86_64", "kvm", "q35"), undefined, "no KVM data");
});
