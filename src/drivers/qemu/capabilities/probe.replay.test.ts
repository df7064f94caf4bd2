/**
 * The probe's QMP conversation against a fake server that replays libvirt's recorded probe of
 * QEMU 7.2.0 (`caps_7.2.0_x86_64.replies`): the result must equal libvirt's own capability file
 * for that QEMU (`caps_7.2.0_x86_64.xml`), flag for flag, machine for machine.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeCapsWith } from "./probe.ts";
import { loadCapsFile } from "./load.ts";
import { IMPLIED_SINCE_QEMU_6_2 } from "./flags.ts";
import { connectQmp } from "../monitor/qmp.ts";
import {
  parseQmpReplies,
  replayHandler,
  startFakeQmpServer,
  type FakeHandler,
  type FakeQmpServer,
} from "../../../testing/qemu/monitor-fake-server.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { isVirtError, type VirtError } from "../../../util/errors/index.ts";
import type { QemuCaps } from "./types.ts";

let dir = "";
let n = 0;
let baseline = new Map<string, number>();
before(() => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-probe-replay-"));
  baseline = resourceCounts();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(await leakedResources(baseline), []);
});

async function probeAgainst(server: FakeQmpServer): Promise<QemuCaps> {
  return probeCapsWith({
    emulator: "/usr/bin/qemu-system-x86_64",
    binaryCtime: 0,
    firstAccel: ["kvm", "tcg"],
    open: async () => {
      const qmp = await connectQmp({ path: server.path, name: "fake QEMU" });
      return { qmp, close: () => qmp.close() };
    },
  });
}

function virt(e: unknown): VirtError {
  assert.ok(isVirtError(e), `expected a VirtError, got ${String(e)}`);
  return e;
}

void test("replayed QEMU 7.2.0 probe gives libvirt's caps_7.2.0_x86_64.xml", async (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const caps = join(corpus, "caps");
  const replay = replayHandler(
    parseQmpReplies(readFileSync(join(caps, "caps_7.2.0_x86_64.replies"), "utf8")),
  );
  await using server = await startFakeQmpServer({
    path: join(dir, `s${++n}`),
    handler: replay.handler,
    greeting: replay.greeting,
  });
  const probed = await probeAgainst(server);
  const file = loadCapsFile(join(caps, "caps_7.2.0_x86_64.xml"), { impliedFlags: false });

  // Beyond what libvirt asks, the probe expands each named model for the CPU map (cpu-map.ts),
  // in the TCG session; the recording cannot answer those, which leaves the map empty.
  const mapQuery = /^query-cpu-model-expansion \{"model":\{"name":"[^"]+"\},"type":"static"\}$/;
  const tcgModels = (file.accel.tcg?.cpuModels ?? []).filter(
    (m) => !["host", "max", "base"].includes(m.name),
  );
  assert.deepEqual(
    replay.misses.filter((m) => !mapQuery.test(m)),
    [],
    "the probe asks only what libvirt asked, and the CPU map",
  );
  assert.equal(replay.misses.length, tcgModels.length, "one expansion per named model");
  assert.equal(probed.cpuDefinitions, undefined);
  assert.equal(server.sessions.length, 2, "KVM was active in the recording: a second, TCG-only session");

  assert.equal(probed.version, 7_002_000);
  assert.equal(probed.package, "v7.2.0");
  assert.equal(probed.arch, "x86_64");
  assert.equal(probed.version, file.version);

  const onlyProbe = [...probed.flags].filter((f) => !file.flags.has(f)).sort();
  const onlyFile = [...file.flags].filter((f) => !probed.flags.has(f)).sort();
  const common = [...file.flags].filter((f) => probed.flags.has(f)).length;
  t.diagnostic(`flags: libvirt file ${file.flags.size}, probed ${probed.flags.size}, agreeing ${common}`);
  assert.deepEqual(onlyFile, [], "every flag libvirt derived, tvirt derives");
  assert.deepEqual(
    onlyProbe,
    [...IMPLIED_SINCE_QEMU_6_2].sort(),
    "extra flags are exactly the ones libvirt 11 retired",
  );
  assert.equal(common, 186);

  // Machines (order too: libvirt's preferred 'pc' first), CPU models with blockers, host CPU
  // expansion with per-feature migratability: identical for both accelerators.
  for (const accel of ["kvm", "tcg"] as const) {
    assert.deepEqual(probed.accel[accel]?.machines, file.accel[accel]?.machines, `${accel} machines`);
    // libvirt's file does not keep QEMU's alias-of (EPYC-Rome → EPYC-Rome-v1); tvirt does
    const models = probed.accel[accel]?.cpuModels ?? [];
    assert.deepEqual(
      models.map((m) => ({ ...m, aliasOf: undefined })),
      file.accel[accel]?.cpuModels.map((m) => ({ ...m, aliasOf: undefined })),
      `${accel} CPU models`,
    );
    assert.equal(models.find((m) => m.name === "EPYC-Rome")?.aliasOf, "EPYC-Rome-v1");
    assert.deepEqual(probed.accel[accel]?.hostCpu, file.accel[accel]?.hostCpu, `${accel} host CPU`);
  }
  const pc = probed.accel.tcg?.machines[0];
  assert.equal(pc?.name, "pc-i440fx-7.2");
  assert.equal(pc.alias, "pc");
  assert.equal(pc.acpi, undefined, "QEMU 7.2 does not report ACPI support per machine");

  // Flags that matter to the command line, present and absent on 7.2.
  for (const f of [
    "blockdev",
    "device.json",
    "device.json+hotplug",
    "object.qapified",
    "compat-deprecated",
    "query-display-options",
    "virtio-blk-pci.scsi",
    "netdev.stream",
    "seccomp-sandbox",
    "set-action",
    "rotation-rate",
    "memory-backend-file.prealloc-threads",
    "qemu-xhci",
    "ich9-ahci",
    "vhost-user-fs",
    "vfio-pci",
    "pcie-root-port",
    "usb-host.hostdevice",
    "memory-backend-memfd",
  ]) {
    assert.ok(probed.flags.has(f), `7.2 has ${f}`);
  }
  for (const f of [
    "machine-hpet",
    "blockjob.backing-mask-protocol",
    "netdev.stream.reconnect",
    "netdev-stream-reconnect-miliseconds",
    "chardev-reconnect-miliseconds",
    "qcow2-discard-no-unref",
    "virtio-sound",
    "virtio-mem-pci.dynamic-memslots",
    "virtio-blk.iothread-mapping",
    "run-with.async-teardown",
    "sev-guest",
    "sgx-epc",
  ]) {
    assert.ok(!probed.flags.has(f), `7.2 lacks ${f}`);
  }
  assert.ok(probed.migrationCapabilities.includes("postcopy-ram"));
  const types = probed.objectTypes;
  assert.ok(types);
  assert.ok(types.has("virtio-blk-pci"));
  assert.ok(types.has("usb-host"));
});

void test("flags that are new in QEMU 10.0 are derived by rules that stay false on 7.2", async (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const f72 = loadCapsFile(join(corpus, "caps", "caps_7.2.0_x86_64.xml"), { impliedFlags: false });
  const f10 = loadCapsFile(join(corpus, "caps", "caps_10.0.0_x86_64.xml"), { impliedFlags: false });
  const newer = [...f10.flags].filter((f) => !f72.flags.has(f)).sort();
  // Those our rules know (the others: 'shim' is not asked by tvirt yet).
  const known = newer.filter((f) => f !== "shim");
  const replay = replayHandler(
    parseQmpReplies(readFileSync(join(corpus, "caps", "caps_7.2.0_x86_64.replies"), "utf8")),
  );
  await using server = await startFakeQmpServer({
    path: join(dir, `s${++n}`),
    handler: replay.handler,
    greeting: replay.greeting,
  });
  const probed = await probeAgainst(server);
  for (const f of known) assert.ok(!probed.flags.has(f), `${f} must be absent on 7.2`);
  assert.deepEqual([...f72.flags].filter((f) => !f10.flags.has(f)).sort(), [
    "virtio-blk-pci.scsi",
    "virtio-blk-pci.scsi.default.disabled",
  ]);
});

/** A minimal QEMU that answers the probe's questions (used for failure cases). */
function minimalQemu(overrides: Record<string, () => ReturnType<FakeHandler>>): FakeHandler {
  return (cmd) => {
    const o = overrides[cmd.execute];
    if (o) return o();
    switch (cmd.execute) {
      case "qmp_capabilities":
        return { return: {} };
      case "query-version":
        return { return: { qemu: { major: 8, minor: 0, micro: 1 }, package: "custom" } };
      case "query-target":
        return { return: { arch: "x86_64" } };
      case "query-qmp-schema":
        return { return: [{ name: "query-kvm", "meta-type": "command", "arg-type": "0", "ret-type": "0" }] };
      case "query-kvm":
        return { return: { present: false, enabled: false } };
      case "qom-list-types":
        return { return: [{ name: "tcg-accel" }, { name: "qemu-xhci" }] };
      case "device-list-properties":
      case "qom-list-properties":
        return { error: { class: "DeviceNotFound", desc: "not found" } };
      case "query-machines":
        return {
          return: [
            {
              name: "none",
              "cpu-max": 1,
              "hotpluggable-cpus": false,
              deprecated: false,
              "numa-mem-supported": false,
            },
            {
              name: "q35-x",
              alias: "q35",
              "is-default": true,
              "cpu-max": 8,
              "hotpluggable-cpus": true,
              deprecated: false,
              "numa-mem-supported": false,
              acpi: true,
            },
          ],
        };
      case "query-command-line-options":
        return { return: [{ option: "sandbox", parameters: [] }] };
      case "query-migrate-capabilities":
        return { return: [{ capability: "xbzrle", state: false }] };
      default:
        return { error: { class: "CommandNotFound", desc: `The command ${cmd.execute} has not been found` } };
    }
  };
}

void test("a minimal QEMU: no KVM, one session, QEMU's default machine first, acpi reported", async () => {
  await using server = await startFakeQmpServer({ path: join(dir, `s${++n}`), handler: minimalQemu({}) });
  const caps = await probeAgainst(server);
  assert.equal(server.sessions.length, 1);
  assert.deepEqual(Object.keys(caps.accel), ["tcg"]);
  assert.deepEqual([...caps.flags].sort(), ["qemu-xhci", "seccomp-sandbox", "tcg"]);
  assert.equal(caps.accel.tcg?.machines.length, 1);
  assert.equal(caps.accel.tcg.machines[0]?.acpi, true);
  assert.equal(caps.package, "custom");
  assert.deepEqual(caps.migrationCapabilities, ["xbzrle"]);
});

void test("probe failures are catalogued errors naming the binary", async () => {
  {
    await using server = await startFakeQmpServer({
      path: join(dir, `s${++n}`),
      handler: minimalQemu({
        "query-version": () => ({ return: { qemu: { major: 5, minor: 2, micro: 0 }, package: "" } }),
      }),
    });
    const e = virt(await probeAgainst(server).catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_VERSION_TOO_OLD");
    assert.equal(
      e.message,
      "unsupported configuration: QEMU version >= 6.2.0 is required, but 5.2.0 found in /usr/bin/qemu-system-x86_64",
    );
  }
  {
    await using server = await startFakeQmpServer({
      path: join(dir, `s${++n}`),
      handler: minimalQemu({
        "query-machines": () => ({ error: { class: "GenericError", desc: "machines are broken" } }),
      }),
    });
    const e = virt(await probeAgainst(server).catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_PROBE_FAILED");
    assert.equal(e.details.command, "query-machines");
    assert.equal(e.details.qemuClass, "GenericError");
    assert.match(
      e.message,
      /^operation failed: failed to probe the capabilities of QEMU binary \/usr\/bin\/qemu-system-x86_64: unable to execute QEMU command 'query-machines' for fake QEMU: machines are broken$/,
    );
  }
  {
    await using server = await startFakeQmpServer({
      path: join(dir, `s${++n}`),
      handler: minimalQemu({ "query-target": () => ({ return: "x86_64" }) }),
    });
    const e = virt(await probeAgainst(server).catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_PROBE_FAILED");
    assert.match(e.message, /unexpected reply to 'query-target': no arch/);
  }
  {
    // QEMU dies in the middle of the probe.
    await using server = await startFakeQmpServer({
      path: join(dir, `s${++n}`),
      handler: (cmd, session) => {
        if (cmd.execute === "query-qmp-schema") {
          session.end();
          return { silent: true };
        }
        return minimalQemu({})(cmd, session);
      },
    });
    const e = virt(await probeAgainst(server).catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_PROBE_FAILED");
    assert.equal(e.details.command, "query-qmp-schema");
    assert.match(
      e.message,
      /connection to the QEMU monitor of fake QEMU was lost: end of file from QEMU monitor/,
    );
  }
});
