import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import {
  checkPreflight,
  preflightProblems,
  sourceProblems,
  type DestinationFacts,
} from "./migration-preflight.ts";
import { guestXML, makeTestRoot } from "../../../testing/qemu/driver.ts";
import { destinationFacts } from "./migration-preflight.ts";

const UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
const EMU = "/usr/bin/qemu-system-x86_64";

function def(extra = "", opts: { machine?: string; memoryBacking?: string; cpu?: string } = {}) {
  return parseDomainXML(`<domain type='qemu'>
  <name>mig</name><uuid>${UUID}</uuid><memory unit='MiB'>128</memory>
  ${opts.memoryBacking ?? ""}
  <os><type arch='x86_64' machine='${opts.machine ?? "pc-i440fx-7.2"}'>hvm</type><kernel>/k/vmlinuz</kernel></os>
  ${opts.cpu ?? ""}
  <devices><emulator>${EMU}</emulator>
    <disk type='file' device='disk'><source file='/shared/mig.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/iso/boot.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
    ${extra}
  </devices></domain>`).def;
}

function host(
  over: Partial<DestinationFacts> = {},
  files: string[] = ["/shared/mig.qcow2", "/iso/boot.iso", "/k/vmlinuz"],
): DestinationFacts {
  return {
    emulator: (p) =>
      p === EMU
        ? {
            path: EMU,
            version: 7002000,
            machines: ["pc-i440fx-7.2", "pc", "pc-q35-7.2", "q35"],
            cpuModels: [
              { name: "qemu64", usable: true },
              { name: "Haswell", usable: false, blockers: ["avx2", "fma"] },
            ],
          }
        : undefined,
    pathReachable: (p) => files.includes(p),
    freeHugepages: (size) => (size === 2048 ? 10 : undefined),
    defaultHugepageKiB: 2048,
    domains: [],
    ...over,
  };
}

test("a destination with everything the guest needs has no problems", () => {
  assert.deepEqual(preflightProblems(def(), host()), []);
  assert.doesNotThrow(() => {
    checkPreflight(def(), host());
  });
});

test("every problem is reported at once, in one error", () => {
  const d = def(
    `<filesystem type='mount'><driver type='virtiofs'/><source dir='/srv'/><target dir='srv'/></filesystem>
     <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>`,
    {
      machine: "pc-i440fx-9.0",
      memoryBacking: "<memoryBacking><hugepages><page size='1' unit='GiB'/></hugepages></memoryBacking>",
      cpu: "<cpu mode='custom' match='exact'><model fallback='forbid'>Haswell</model></cpu>",
    },
  );
  const dest = host(
    {
      domains: [
        { name: "mig", uuid: "00000000-0000-0000-0000-000000000001", active: false },
        { name: "other", uuid: UUID, active: false },
      ],
    },
    ["/k/vmlinuz"],
  );
  const problems = preflightProblems(d, dest, { sourceVersion: 8002000 });
  assert.deepEqual(problems, [
    "domain 'mig' already exists with uuid 00000000-0000-0000-0000-000000000001",
    "domain 'other' is already defined with uuid 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "migration with virtiofs device is not supported",
    "cannot migrate a domain with <hostdev mode='subsystem' type='usb'>",
    `emulator '${EMU}' is QEMU 7.2.0 here, older than QEMU 8.2.0 on the source`,
    `machine type 'pc-i440fx-9.0' is not supported by emulator '${EMU}' on this host`,
    "CPU model 'Haswell' is not usable on this host (missing features: avx2, fma)",
    "disk 'vda' source '/shared/mig.qcow2' is not reachable on this host (use --copy-storage-all to copy it)",
    "disk 'hdc' source '/iso/boot.iso' is not reachable on this host (use --copy-storage-all to copy it)",
    "huge page size 1048576 KiB is not available on this host",
  ]);
  assert.throws(
    () => {
      checkPreflight(d, dest);
    },
    (e: unknown) =>
      isVirtError(e) &&
      e.code === "MIGRATE_PREFLIGHT" &&
      e.message.startsWith(
        "Requested operation is not valid: cannot migrate domain 'mig' to this host: domain 'mig' already exists",
      ) &&
      (e.details as { problems: string[] }).problems.length === 9,
  );
});

test("the rules one by one", () => {
  // copy-storage-all: writable disks come along, a read-only CD-ROM must still be there
  // (the copy is created in the image's directory: that must exist)
  assert.deepEqual(preflightProblems(def(), host({}, ["/k/vmlinuz", "/shared"]), { copyStorage: true }), [
    "disk 'hdc' source '/iso/boot.iso' is not reachable on this host",
  ]);
  assert.deepEqual(preflightProblems(def(), host({}, ["/k/vmlinuz"]), { copyStorage: true }), [
    "disk 'vda' source '/shared/mig.qcow2' cannot be created on this host: directory '/shared' does not exist",
    "disk 'hdc' source '/iso/boot.iso' is not reachable on this host",
  ]);
  // --migrate-disks: only the listed targets come along
  assert.deepEqual(preflightProblems(def(), host({}, ["/k/vmlinuz", "/shared"]), { copyStorage: ["vda"] }), [
    "disk 'hdc' source '/iso/boot.iso' is not reachable on this host",
  ]);
  assert.deepEqual(preflightProblems(def(), host({}, ["/k/vmlinuz", "/shared"]), { copyStorage: [] }), [
    "disk 'vda' source '/shared/mig.qcow2' is not reachable on this host",
    "disk 'hdc' source '/iso/boot.iso' is not reachable on this host",
  ]);
  // no emulator at all
  assert.deepEqual(preflightProblems(def(), host({ emulator: () => undefined })), [
    `emulator '${EMU}' is not installed on this host`,
  ]);
  // an unknown CPU model; an unusable one with fallback allowed passes
  assert.deepEqual(
    preflightProblems(def("", { cpu: "<cpu mode='custom'><model>EPYC-Genoa</model></cpu>" }), host()),
    [`CPU model 'EPYC-Genoa' is not supported by emulator '${EMU}' on this host`],
  );
  assert.deepEqual(
    preflightProblems(
      def("", { cpu: "<cpu mode='custom'><model fallback='allow'>Haswell</model></cpu>" }),
      host(),
    ),
    [],
  );
  // huge pages: the default size, too few free
  const hp = def("", { memoryBacking: "<memoryBacking><hugepages/></memoryBacking>" });
  assert.deepEqual(preflightProblems(hp, host()), [
    "64 huge pages of 2048 KiB are needed for 131072 KiB of memory, 10 are free",
  ]);
  assert.deepEqual(preflightProblems(hp, host({ freeHugepages: () => 64 })), []);
  // the same domain, running here already
  assert.deepEqual(preflightProblems(def(), host({ domains: [{ name: "mig", uuid: UUID, active: true }] })), [
    "domain 'mig' is already active",
  ]);
  // the same domain defined but inactive (a persistent migration back): fine
  assert.deepEqual(
    preflightProblems(def(), host({ domains: [{ name: "mig", uuid: UUID, active: false }] })),
    [],
  );
  // offline: only the definition moves
  assert.deepEqual(preflightProblems(def(), host({ emulator: () => undefined }, []), { offline: true }), []);
  assert.deepEqual(sourceProblems(def()), []);
});

test("a real destination without the disk path: the refusal names it", async (t) => {
  const xml = await guestXML(t, { name: "pf", mode: "counter" });
  if (xml === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-preflight-"));
  const tr = makeTestRoot("tvirt-preflight-");
  const conn = await tr.open();
  try {
    // the guest with a disk that exists on the "source" (here) and one that does not
    const present = join(dir, "present.img");
    writeFileSync(present, Buffer.alloc(1024 * 1024));
    const missing = join(dir, "gone", "disk.img");
    const withDisks = xml.replace(
      "</devices>",
      `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${present}'/><target dev='vdb' bus='virtio'/></disk>` +
        `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${missing}'/><target dev='vdc' bus='virtio'/></disk></devices>`,
    );
    const d = await conn.driver.parseDomain(withDisks);
    const facts = await destinationFacts(conn.driver, d);
    assert.deepEqual(preflightProblems(d, facts), [
      `disk 'vdc' source '${missing}' is not reachable on this host (use --copy-storage-all to copy it)`,
    ]);
    assert.throws(
      () => {
        checkPreflight(d, facts);
      },
      (e: unknown) => isVirtError(e) && e.message.includes(missing) && e.message.includes("'pf'"),
    );
    // copied, the image is created here: its directory must exist
    assert.deepEqual(preflightProblems(d, facts, { copyStorage: true }), [
      `disk 'vdc' source '${missing}' cannot be created on this host: directory '${join(dir, "gone")}' does not exist`,
    ]);
    mkdirSync(join(dir, "gone"));
    assert.deepEqual(preflightProblems(d, await destinationFacts(conn.driver, d), { copyStorage: true }), []);
  } finally {
    await conn.connectClose().catch(() => undefined);
    await tr.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
