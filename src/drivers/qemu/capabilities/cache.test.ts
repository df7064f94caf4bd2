import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  CACHE_FORMAT_VERSION,
  capsCacheFile,
  clearQemuCapsMemory,
  deserializeCaps,
  getQemuCaps,
  serializeCaps,
} from "./cache.ts";
import { qemuOrSkip } from "../../../testing/qemu/capabilities.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import type { ProbeOptions } from "./probe.ts";
import type { QemuCaps } from "./types.ts";

let baseline = new Map<string, number>();
before(() => {
  baseline = resourceCounts();
});
after(async () => {
  assert.deepEqual(await leakedResources(baseline, 2000), [], "QEMU processes, sockets or timers leaked");
});
beforeEach(() => {
  clearQemuCapsMemory();
});

function fakeCaps(binary: string, ctime = 0): QemuCaps {
  return {
    emulator: binary,
    version: 7_002_022,
    package: "test",
    arch: "x86_64",
    flags: new Set(["tcg", "blockdev", "qemu-xhci"]),
    accel: {
      tcg: {
        machines: [
          {
            name: "pc-i440fx-7.2",
            alias: "pc",
            isDefault: true,
            maxCpus: 255,
            hotplugCpus: true,
            numaMemSupported: false,
            deprecated: false,
          },
        ],
        cpuModels: [
          { name: "qemu64", typename: "qemu64-x86_64-cpu", usable: true, blockers: [], deprecated: false },
        ],
        hostCpu: {
          model: "base",
          migratability: true,
          props: [{ name: "sse2", type: "boolean", value: "true", migratable: true }],
        },
      },
    },
    migrationCapabilities: ["postcopy-ram"],
    binaryCtime: ctime,
    objectTypes: new Set(["virtio-blk-pci", "usb-host"]),
  };
}

interface Env {
  dir: string;
  cacheDir: string;
  binary: string;
  calls: string[];
  warnings: string[];
  probeFn: (binary: string, options: ProbeOptions) => Promise<QemuCaps>;
  cleanup(): void;
}

function env(): Env {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-caps-cache-"));
  const binary = join(dir, "qemu-system-x86_64");
  writeFileSync(binary, "#!/bin/sh\nexit 1\n");
  chmodSync(binary, 0o755);
  const calls: string[] = [];
  const warnings: string[] = [];
  return {
    dir,
    cacheDir: join(dir, "cache", "qemu"),
    binary,
    calls,
    warnings,
    probeFn: (b) => {
      calls.push(b);
      return Promise.resolve(fakeCaps(b));
    },
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

void test("serialize/deserialize round-trips QemuCaps", () => {
  const caps = fakeCaps("/usr/bin/qemu-system-x86_64", 1234.5);
  const back = deserializeCaps(JSON.parse(JSON.stringify(serializeCaps(caps))));
  assert.deepEqual(back, caps);
  assert.equal(deserializeCaps({ ...serializeCaps(caps), flags: "nope" }), undefined);
  assert.equal(deserializeCaps({ ...serializeCaps(caps), accel: { hvf: {} } }), undefined);
  assert.equal(deserializeCaps(null), undefined);
});

void test("memory cache: one probe for repeated and concurrent calls", async () => {
  const e = env();
  try {
    const [a, b] = await Promise.all([
      getQemuCaps(e.binary, { probeFn: e.probeFn }),
      getQemuCaps(e.binary, { probeFn: e.probeFn }),
    ]);
    const c = await getQemuCaps(e.binary, { probeFn: e.probeFn });
    assert.equal(e.calls.length, 1);
    assert.equal(a, b);
    assert.equal(a, c);
  } finally {
    e.cleanup();
  }
});

void test("disk cache: written atomically, reused after a restart, keyed by path, ctime and format", async () => {
  const e = env();
  try {
    const opts = { cacheDir: e.cacheDir, probeFn: e.probeFn, onWarning: (m: string) => e.warnings.push(m) };
    const first = await getQemuCaps(e.binary, opts);
    const file = capsCacheFile(e.cacheDir, e.binary);
    assert.ok(existsSync(file));
    assert.deepEqual(readdirSync(e.cacheDir), [file.slice(e.cacheDir.length + 1)], "no temp files left");
    const onDisk = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    assert.equal(onDisk.format, CACHE_FORMAT_VERSION);
    assert.equal(onDisk.binary, e.binary);

    // A new process (empty memory) reads the file instead of probing.
    clearQemuCapsMemory();
    const second = await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 1);
    assert.deepEqual(second, first);

    // The binary changed (new ctime): probed again, file rewritten.
    clearQemuCapsMemory();
    utimesSync(e.binary, new Date(), new Date(Date.now() - 5000));
    chmodSync(e.binary, 0o700);
    await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 2);
    // The memory cache notices the ctime change too.
    chmodSync(e.binary, 0o755);
    await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 3);

    // Another cache format: probed again.
    clearQemuCapsMemory();
    const cur = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...cur, format: CACHE_FORMAT_VERSION + 1 }));
    await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 4);
    assert.deepEqual(e.warnings, []);
  } finally {
    e.cleanup();
  }
});

void test("disk cache: corrupt or odd files are probed again with a warning", async () => {
  const e = env();
  try {
    const opts = { cacheDir: e.cacheDir, probeFn: e.probeFn, onWarning: (m: string) => e.warnings.push(m) };
    await getQemuCaps(e.binary, opts);
    const file = capsCacheFile(e.cacheDir, e.binary);
    clearQemuCapsMemory();
    writeFileSync(file, "{ truncated");
    await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 2);
    assert.match(e.warnings[0] ?? "", /is corrupt; probing again/);
    // The rewritten file is valid again.
    clearQemuCapsMemory();
    await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 2);

    clearQemuCapsMemory();
    const cur = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...cur, caps: { emulator: 1 } }));
    await getQemuCaps(e.binary, opts);
    assert.equal(e.calls.length, 3);
    assert.match(e.warnings[1] ?? "", /unexpected layout/);
  } finally {
    e.cleanup();
  }
});

void test("an unwritable cache directory does not fail the caller", async () => {
  const e = env();
  try {
    writeFileSync(join(e.dir, "cache"), "a file where the directory should be");
    const caps = await getQemuCaps(e.binary, {
      cacheDir: e.cacheDir,
      probeFn: e.probeFn,
      onWarning: (m) => e.warnings.push(m),
    });
    assert.equal(caps.package, "test");
    assert.ok(
      e.warnings.some((w) => /^cannot write QEMU capabilities cache/.test(w)),
      e.warnings.join("; "),
    );
  } finally {
    e.cleanup();
  }
});

void test("a failed probe is reported and not remembered; a missing binary is a catalogued error", async () => {
  const e = env();
  try {
    let fail = true;
    const probeFn = (b: string): Promise<QemuCaps> => {
      e.calls.push(b);
      return fail ? Promise.reject(new Error("boom")) : Promise.resolve(fakeCaps(b));
    };
    await assert.rejects(getQemuCaps(e.binary, { probeFn }), /boom/);
    fail = false;
    assert.equal((await getQemuCaps(e.binary, { probeFn })).package, "test");
    assert.equal(e.calls.length, 2);
    const missing = await getQemuCaps(join(e.dir, "gone"), { probeFn }).catch((x: unknown) => x);
    assert.ok(isVirtError(missing));
    assert.equal(missing.code, "QEMU_BINARY_MISSING");
  } finally {
    e.cleanup();
  }
});

void test("real QEMU: first probe versus cached lookups", { timeout: 120_000 }, async (t) => {
  const binary = qemuOrSkip(t);
  if (!binary) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-caps-real-"));
  try {
    const t0 = performance.now();
    const probed = await getQemuCaps(binary, { cacheDir: dir });
    const t1 = performance.now();
    clearQemuCapsMemory();
    const fromDisk = await getQemuCaps(binary, { cacheDir: dir });
    const t2 = performance.now();
    let fromMemory = await getQemuCaps(binary, { cacheDir: dir });
    for (let i = 0; i < 99; i++) fromMemory = await getQemuCaps(binary, { cacheDir: dir });
    const t3 = performance.now();
    assert.deepEqual(fromDisk, probed);
    assert.equal(fromMemory, fromDisk);
    t.diagnostic(
      `probe ${(t1 - t0).toFixed(0)} ms; from the disk cache ${(t2 - t1).toFixed(1)} ms; from memory ${((t3 - t2) / 100).toFixed(2)} ms (mean of 100)`,
    );
    assert.ok(t2 - t1 < t1 - t0, "the disk cache is faster than probing");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
