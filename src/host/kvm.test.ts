import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeKvm, requireKvm, kvmUnavailableError, DEFAULT_QEMU_BINARY } from "./kvm.ts";
import { isVirtError } from "../util/errors/index.ts";

/** Child processes, pipes and timers alive now (host/ cannot use the driver's leak helper). */
function resourceCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

async function leakedResources(before: Map<string, number>, settleMs: number): Promise<string[]> {
  const until = Date.now() + settleMs;
  for (;;) {
    await new Promise((r) => setImmediate(r));
    const now = resourceCounts();
    const leaked = ["ProcessWrap", "PipeWrap", "Timeout"].filter(
      (k) => (now.get(k) ?? 0) > (before.get(k) ?? 0),
    );
    if (leaked.length === 0 || Date.now() > until) return leaked;
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir = "";
let baseline = new Map<string, number>();
before(() => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-kvm-test-"));
  baseline = resourceCounts();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(await leakedResources(baseline, 2000), [], "QEMU processes, pipes or timers leaked");
});

/** A stand-in for QEMU: a Node script speaking QMP on stdio (spawned from argv, no shell). */
function fakeQemu(name: string, kvm: { present: boolean; enabled: boolean } | "hang" | "fail"): string {
  const path = join(dir, name);
  const body =
    kvm === "hang"
      ? "setInterval(() => {}, 1000);"
      : kvm === "fail"
        ? "process.stderr.write('qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied\\n'); process.exit(1);"
        : `
const answer = ${JSON.stringify(kvm)};
process.stdout.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: "" }, capabilities: [] } }) + "\\r\\n");
let buf = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf("\\n")) >= 0) {
    const cmd = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
    if (cmd.execute === "quit") { process.stdout.write('{"return": {}}\\r\\n'); process.exit(0); }
    const ret = cmd.execute === "query-kvm" ? answer : {};
    process.stdout.write(JSON.stringify({ return: ret }) + "\\r\\n");
  }
});`;
  writeFileSync(path, `#!${process.execPath}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

void test("KVM usable: QEMU reports it present and enabled", async () => {
  const r = await probeKvm({ binary: fakeQemu("ok", { present: true, enabled: true }), device: "/dev/null" });
  assert.deepEqual(r, {
    usable: true,
    device: "present",
    qmp: { present: true, enabled: true },
    binary: join(dir, "ok"),
  });
  assert.equal((await requireKvm({ binary: join(dir, "ok"), device: "/dev/null" })).usable, true);
});

void test("KVM not usable: each reason is spelled out", async () => {
  const disabled = await probeKvm({
    binary: fakeQemu("off", { present: true, enabled: false }),
    device: "/dev/null",
  });
  assert.equal(disabled.usable, false);
  assert.equal(disabled.reason, "QEMU reports KVM present and not enabled");

  const notDevice = join(dir, "plain-file");
  writeFileSync(notDevice, "");
  const failed = await probeKvm({ binary: fakeQemu("fail", "fail"), device: notDevice });
  assert.equal(failed.device, "not-a-device");
  assert.equal(
    failed.reason,
    `${notDevice} is not a character device; qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied`,
  );

  const hung = await probeKvm({ binary: fakeQemu("hang", "hang"), device: "/dev/null", timeoutMs: 300 });
  assert.equal(hung.reason, "QEMU did not answer within 0.3 s");

  const missing = await probeKvm({ binary: join(dir, "no-qemu"), device: join(dir, "no-kvm") });
  assert.equal(missing.device, "missing");
  assert.match(missing.reason ?? "", /no-kvm does not exist .*; cannot run .*no-qemu: spawn .* ENOENT/);

  const e = kvmUnavailableError(missing);
  assert.equal(e.code, "KVM_UNAVAILABLE");
  assert.equal(e.kind, "environment");
  assert.ok(e.message.startsWith("unsupported configuration: KVM is not usable on this host: "));
  const thrown = await requireKvm({ binary: join(dir, "off"), device: "/dev/null" }).catch((x: unknown) => x);
  assert.ok(isVirtError(thrown));
  assert.equal(thrown.detail, "KVM is not usable on this host: QEMU reports KVM present and not enabled");
});

void test("KVM on this host, asked of the real QEMU", async (t) => {
  if (!existsSync(DEFAULT_QEMU_BINARY)) {
    if (process.env.CI === "true") throw new Error(`${DEFAULT_QEMU_BINARY} is required under CI`);
    t.skip(`${DEFAULT_QEMU_BINARY} not installed`);
    return;
  }
  const r = await probeKvm();
  t.diagnostic(r.usable ? "KVM is usable on this host" : `KVM is not usable on this host: ${r.reason ?? ""}`);
  if (!existsSync("/dev/kvm")) {
    assert.equal(r.usable, false);
    assert.equal(r.device, "missing");
    assert.match(r.reason ?? "", /^\/dev\/kvm does not exist .*; .*failed to initialize kvm/);
  } else if (r.usable) {
    assert.deepEqual(r.qmp, { present: true, enabled: true });
  } else {
    assert.ok((r.reason ?? "").length > 0);
  }
});
