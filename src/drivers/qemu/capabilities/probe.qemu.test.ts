/**
 * Probes the installed QEMU and compares the result with libvirt's capability file for QEMU
 * 7.2.0 (`caps_7.2.0_x86_64.xml`). The machine runs Debian's QEMU 7.2 (7.2.22), built like
 * upstream except where listed below.
 *
 * Intentional gaps, each checked against the probe itself rather than assumed:
 * - `kvm`: libvirt recorded its file on a host with KVM; here KVM is not usable (no /dev/kvm),
 *   so QEMU runs TCG only. The flag must be absent exactly when the probe found no KVM.
 * - `cryptodev-backend-lkcf`: Debian builds QEMU without libkeyutils, so the Linux kernel
 *   crypto backend type does not exist in this binary (`qom-list-types` lacks it).
 * - Flags only tvirt lists are exactly `IMPLIED_SINCE_QEMU_6_2`: flags libvirt 11 retired (it
 *   assumes them for every QEMU >= 6.2) and tvirt still derives for its command-line builder.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { probeQemuCaps } from "./probe.ts";
import { loadCapsFile } from "./load.ts";
import { IMPLIED_SINCE_QEMU_6_2 } from "./flags.ts";
import { qemuOrSkip } from "../../../testing/qemu/capabilities.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { isVirtError, type VirtError } from "../../../util/errors/index.ts";

let baseline = new Map<string, number>();
before(() => {
  baseline = resourceCounts();
});
after(async () => {
  assert.deepEqual(await leakedResources(baseline, 2000), [], "QEMU processes, sockets or timers leaked");
});

function virt(e: unknown): VirtError {
  assert.ok(isVirtError(e), `expected a VirtError, got ${String(e)}`);
  return e;
}

const names = (list: readonly { name: string }[] | undefined): string[] =>
  (list ?? []).map((x) => x.name).sort();

void test(
  "probing the installed QEMU agrees with libvirt's caps_7.2.0_x86_64.xml",
  { timeout: 120_000 },
  async (t) => {
    const binary = qemuOrSkip(t);
    if (!binary) return;
    const corpus = corpusOrSkip(t);
    if (!corpus) return;
    const t0 = performance.now();
    const caps = await probeQemuCaps(binary);
    const ms = performance.now() - t0;
    const file = loadCapsFile(join(corpus, "caps", "caps_7.2.0_x86_64.xml"), { impliedFlags: false });

    assert.equal(caps.arch, "x86_64");
    assert.ok(caps.package.length > 0);
    assert.ok(caps.flags.has("tcg"));
    assert.ok(caps.accel.tcg, "TCG data is always probed");

    const kvmActive = caps.flags.has("kvm");
    const gaps = new Map<string, string>();
    if (!kvmActive) gaps.set("kvm", "KVM is not usable on this host; libvirt recorded its file with KVM");
    if (!caps.objectTypes?.has("cryptodev-backend-lkcf")) {
      gaps.set(
        "cryptodev-backend-lkcf",
        "this QEMU build has no Linux kernel crypto backend (no libkeyutils)",
      );
    }
    const onlyFile = [...file.flags].filter((f) => !caps.flags.has(f)).sort();
    const onlyProbe = [...caps.flags].filter((f) => !file.flags.has(f)).sort();
    const common = [...file.flags].filter((f) => caps.flags.has(f)).length;
    t.diagnostic(
      `QEMU ${caps.package} probed in ${ms.toFixed(0)} ms: ${caps.flags.size} flags; libvirt 7.2.0 file ${file.flags.size}; ` +
        `agreeing ${common}/${file.flags.size}; gaps: ${[...gaps].map(([f, why]) => `${f} (${why})`).join(", ") || "none"}; ` +
        `tvirt-only: ${onlyProbe.length} (retired in libvirt 11)`,
    );
    assert.equal(kvmActive, caps.accel.kvm !== undefined);

    if (Math.floor(caps.version / 1000) !== 7002) {
      t.diagnostic(`QEMU ${String(caps.version)} is not 7.2: only the report above, no exact comparison`);
      return;
    }
    assert.deepEqual(onlyFile, [...gaps.keys()].sort(), "every other flag of libvirt's file is derived");
    assert.deepEqual(onlyProbe, [...IMPLIED_SINCE_QEMU_6_2].sort());
    assert.equal(common, file.flags.size - gaps.size);

    // Same QEMU release: same machines (libvirt's preferred 'pc' first), CPU models with their
    // TCG blockers, and `max` expansion with the same per-feature migratability.
    const tcg = caps.accel.tcg;
    const ftcg = file.accel.tcg;
    assert.ok(ftcg);
    assert.deepEqual(names(tcg.machines), names(ftcg.machines));
    assert.deepEqual(tcg.machines[0], ftcg.machines[0]);
    assert.equal(tcg.machines[0]?.name, "pc-i440fx-7.2");
    for (const m of tcg.machines) {
      assert.deepEqual(
        m,
        ftcg.machines.find((x) => x.name === m.name),
        `machine ${m.name}`,
      );
    }
    // libvirt's file does not keep QEMU's alias-of (qemu64 → qemu64-v1); tvirt does
    assert.deepEqual(
      tcg.cpuModels.map((m) => ({ ...m, aliasOf: undefined })),
      ftcg.cpuModels.map((m) => ({ ...m, aliasOf: undefined })),
    );
    // the CPU map: every named model expanded, e.g. EPYC-Rome with its AMD vendor and family
    const rome = caps.cpuDefinitions?.find((d) => d.name === "EPYC-Rome");
    assert.equal(rome?.vendor, "AuthenticAMD");
    assert.equal(rome.family, 23);
    assert.ok(rome.features.includes("sha-ni"));
    assert.deepEqual(tcg.hostCpu, ftcg.hostCpu);
    t.diagnostic(
      `TCG: ${tcg.machines.length} machines, ${tcg.cpuModels.length} CPU models, host CPU '${tcg.hostCpu?.model ?? ""}' ` +
        `with ${String(tcg.hostCpu?.props.length ?? 0)} properties: identical to libvirt's file`,
    );
  },
);

void test("probe errors: missing, non-executable and non-QEMU binaries", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-probe-bad-"));
  try {
    const missing = virt(await probeQemuCaps(join(dir, "nope")).catch((x: unknown) => x));
    assert.equal(missing.code, "QEMU_BINARY_MISSING");
    assert.equal(missing.message, `Cannot check QEMU binary ${join(dir, "nope")}: No such file or directory`);
    assert.equal(missing.virDomain, 10);

    const plain = join(dir, "plain");
    writeFileSync(plain, "not a program\n");
    chmodSync(plain, 0o644);
    const notExec = virt(await probeQemuCaps(plain).catch((x: unknown) => x));
    assert.equal(notExec.code, "QEMU_BINARY_NOT_EXECUTABLE");
    assert.equal(notExec.message, `QEMU binary ${plain} is not executable: Permission denied`);

    const notQemu = join(dir, "not-qemu");
    writeFileSync(notQemu, "#!/bin/sh\necho 'this is not QEMU' >&2\nexit 3\n");
    chmodSync(notQemu, 0o755);
    const e = virt(await probeQemuCaps(notQemu, { timeoutMs: 10_000 }).catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_PROBE_START_FAILED");
    assert.equal(
      e.message,
      `operation failed: QEMU binary ${notQemu} could not be started for probing its capabilities: QEMU exited with status 3: this is not QEMU`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const binary = qemuOrSkip(t);
  if (!binary) return;
  const ac = new AbortController();
  ac.abort(new Error("shutting down"));
  const aborted = virt(await probeQemuCaps(binary, { signal: ac.signal }).catch((x: unknown) => x));
  assert.equal(aborted.code, "QEMU_PROBE_START_FAILED");
  assert.match(aborted.message, /shutting down/);

  // Cancelled while running: whatever step it was in, the probe stops and leaves nothing behind.
  const mid = new AbortController();
  const timer = setTimeout(() => {
    mid.abort(new Error("daemon stopping"));
  }, 60);
  try {
    const e = virt(await probeQemuCaps(binary, { signal: mid.signal }).catch((x: unknown) => x));
    assert.ok(["QEMU_PROBE_START_FAILED", "QEMU_PROBE_FAILED"].includes(e.code), e.code);
    assert.match(e.message, /daemon stopping/);
  } finally {
    clearTimeout(timer);
  }
});
