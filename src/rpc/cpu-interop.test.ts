/**
 * Stock virsh 9.0 against tvirtd for the CPU model procedures (CONNECT_GET_CPU_MODEL_NAMES,
 * CONNECT_BASELINE_CPU, CONNECT_COMPARE_CPU, CONNECT_BASELINE_HYPERVISOR_CPU,
 * CONNECT_COMPARE_HYPERVISOR_CPU): through a private tvirtd serving `test:///default` virsh
 * prints exactly what it prints on `test:///default` directly, and tvirsh through the daemon
 * the same; through a tvirtd serving an embedded QEMU driver, virsh prints what tvirsh prints on
 * that driver in-process (the installed QEMU's CPU map, host-model decoding, baseline, compare).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import "./register.ts";
import { run, spawnDaemon, virshOrSkip, type DaemonProcess, type RunResult } from "../testing/rpc/harness.ts";

const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));
const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

let dir = "";
let uri = "";
let daemon: DaemonProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-cpu-interop-"));
  const sock = join(dir, "sock");
  uri = `test+unix:///default?socket=${sock}`;
  writeFileSync(
    join(dir, "haswell.xml"),
    "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>\n",
  );
  writeFileSync(
    join(dir, "two.xml"),
    "<cpu><arch>x86_64</arch><model>Haswell</model><feature name='vmx'/><feature name='pdpe1gb'/></cpu>\n" +
      "<cpu><arch>x86_64</arch><model>Haswell</model><feature name='vmx'/></cpu>\n",
  );
  writeFileSync(join(dir, "qemu64.xml"), "<cpu><arch>x86_64</arch><model>qemu64</model></cpu>\n");
  daemon = await spawnDaemon(["--uri", "test:///default", "--listen", sock], [sock]);
});

after(async () => {
  const code = await daemon.stop();
  assert.equal(code, 0, `tvirtd exit status; stderr: ${daemon.stderr()}`);
  rmSync(dir, { recursive: true, force: true });
});

const runIn = (bin: string, args: string[]): Promise<RunResult> =>
  run(bin, args, { env, cwd: dir, timeoutMs: 60_000 });

test("virsh cpu-models / cpu-baseline / cpu-compare / hypervisor-cpu-* through tvirtd = virsh on test:///default", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  for (const cmds of [
    "cpu-models x86_64",
    "cpu-models ppc64",
    "cpu-models aarch64",
    "cpu-models foo",
    "cpu-baseline haswell.xml",
    "cpu-baseline two.xml",
    "cpu-compare haswell.xml",
    "hypervisor-cpu-baseline --model Haswell",
    "hypervisor-cpu-compare haswell.xml",
  ]) {
    const direct = await runIn(virsh, ["-c", "test:///default", cmds]);
    const remote = await runIn(virsh, ["-c", uri, cmds]);
    assert.equal(remote.stdout, direct.stdout, `virsh stdout of '${cmds}'`);
    assert.equal(remote.stderr, direct.stderr, `virsh stderr of '${cmds}'`);
    assert.equal(remote.code, direct.code, `virsh status of '${cmds}'`);
    const tv = await runIn(process.execPath, [tvirshBin, "-c", uri, cmds]);
    assert.equal(tv.stdout, remote.stdout, `tvirsh stdout of '${cmds}'`);
    assert.equal(tv.stderr, remote.stderr, `tvirsh stderr of '${cmds}'`);
    assert.equal(tv.code, remote.code, `tvirsh status of '${cmds}'`);
  }
});

test("virsh through tvirtd on an embedded QEMU driver: CPU models, baseline and compare from QEMU's CPU map", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  // a session daemon whose XDG folders are private to the test
  const root = mkdtempSync(join(tmpdir(), "tvirt-cpu-qemu-"));
  const sock = join(root, "sock");
  const xdg = {
    XDG_CONFIG_HOME: join(root, "config"),
    XDG_RUNTIME_DIR: join(root, "run"),
    XDG_DATA_HOME: join(root, "data"),
    XDG_CACHE_HOME: join(root, "cache"),
  };
  const qd = await spawnDaemon(["--uri", "qemu:///session", "--listen", sock], [sock], {
    env: { ...process.env, ...xdg },
  }).catch((e: unknown) => {
    // a machine without QEMU may skip; CI has it, so a daemon that fails there is a failure
    if (process.env.CI === "true") throw e;
    return undefined;
  });
  if (!qd) {
    t.skip("tvirtd cannot serve a session QEMU driver here");
    rmSync(root, { recursive: true, force: true });
    return;
  }
  try {
    const remoteURI = `qemu+unix:///session?socket=${sock}`;
    for (const cmds of [
      "cpu-models x86_64",
      "cpu-models ppc64",
      "hypervisor-cpu-baseline --model EPYC --virttype qemu",
      "hypervisor-cpu-baseline --file qemu64.xml --virttype qemu --features",
      "hypervisor-cpu-compare qemu64.xml --virttype qemu",
      "hypervisor-cpu-compare haswell.xml --virttype qemu",
      "hypervisor-cpu-compare haswell.xml --virttype qemu --error",
    ]) {
      const remote = await runIn(virsh, ["-c", remoteURI, cmds]);
      const tv = await runIn(process.execPath, [tvirshBin, "-c", remoteURI, cmds]);
      assert.equal(tv.stdout, remote.stdout, `tvirsh stdout of '${cmds}'`);
      assert.equal(tv.stderr, remote.stderr, `tvirsh stderr of '${cmds}'`);
      assert.equal(tv.code, remote.code, `tvirsh status of '${cmds}'`);
    }
    const models = await runIn(virsh, ["-c", remoteURI, "cpu-models x86_64"]);
    assert.match(models.stdout, /^EPYC-Rome$/m);
    const base = await runIn(virsh, [
      "-c",
      remoteURI,
      "hypervisor-cpu-baseline --model EPYC --virttype qemu",
    ]);
    assert.match(base.stdout, /<model fallback='forbid'>EPYC<\/model>/);
    const cmp = await runIn(virsh, ["-c", remoteURI, "hypervisor-cpu-compare qemu64.xml --virttype qemu"]);
    assert.match(cmp.stdout, /superset of CPU described in qemu64\.xml/);
  } finally {
    await qd.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
