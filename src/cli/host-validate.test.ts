/**
 * `tvirt-host-validate`: libvirt's own `virt-host-validate qemu` is the oracle for the lines both
 * tools print (when it is installed; under `CI=true` it must be), and `--json`, `-q`, the exit
 * status and the launcher are checked on this machine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runArgv } from "../util/spawn.ts";
import { main } from "./host-validate.ts";
import { BufferIo } from "./output.ts";

const repo = join(fileURLToPath(import.meta.url), "..", "..", "..");

async function run(...argv: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(argv, io, false);
  return { out: io.stdout, err: io.stderr, status };
}

test("every line virt-host-validate prints, tvirt-host-validate prints the same", async (t) => {
  const real = await runArgv(["virt-host-validate", "qemu"], {
    env: { LC_ALL: "C", PATH: process.env.PATH ?? "" },
  }).catch(() => undefined);
  if (!real || real.stdout === "") {
    if (process.env.CI === "true") assert.fail("virt-host-validate (libvirt-clients) is required under CI");
    t.skip("virt-host-validate not installed");
    return;
  }
  const ours = await run("qemu");
  const lines = new Set(ours.out.split("\n"));
  const theirs = real.stdout.split("\n").filter(Boolean);
  assert.ok(theirs.length >= 5, real.stdout);
  for (const line of theirs)
    assert.ok(lines.has(line), `missing or different: ${line}\n--- ours:\n${ours.out}`);
  // Same verdict: libvirt's tool exits 1 when a check failed; so do we (we have more checks).
  if (real.code !== 0) assert.equal(ours.status, 1);
});

test("--json: the checks with a result each, a fix for each that does not pass, exit 1 on FAIL", async () => {
  const r = await run("--json");
  const doc = JSON.parse(r.out) as {
    result: string;
    checks: { id: string; result: string; check: string; fix?: string; detail?: string }[];
  };
  assert.ok(doc.checks.length >= 15);
  assert.equal(new Set(doc.checks.map((c) => c.id)).size, doc.checks.length, "ids are unique");
  for (const c of doc.checks) {
    assert.match(c.result, /^(PASS|WARN|FAIL|NOTE)$/);
    if (c.result !== "PASS") assert.ok(c.fix && c.detail, `${c.id} has a detail and a fix`);
  }
  const failed = doc.checks.some((c) => c.result === "FAIL");
  assert.equal(doc.result, failed ? "FAIL" : doc.checks.some((c) => c.result === "WARN") ? "WARN" : "PASS");
  assert.equal(r.status, failed ? 1 : 0);
});

test("-q prints only what does not pass; an unknown hypervisor or option is refused", async () => {
  const all = await run();
  const quiet = await run("-q");
  const shown = quiet.out.split("\n").filter((l) => /^ *(QEMU|TVIRT): /.test(l));
  assert.ok(
    shown.every((l) => /: (WARN|FAIL)( |$)/.test(l)),
    quiet.out,
  );
  assert.equal(
    shown.length,
    all.out.split("\n").filter((l) => /^ *(QEMU|TVIRT): .*: (WARN|FAIL)( |$)/.test(l)).length,
  );
  const lxc = await run("lxc");
  assert.equal(lxc.status, 1);
  assert.equal(
    lxc.err,
    "tvirt-host-validate: unsupported hypervisor name 'lxc': tvirt validates 'qemu' only\n",
  );
  const bad = await run("--bogus");
  assert.equal(bad.status, 1);
  assert.match(bad.err, /unknown option '--bogus'/);
});

test("the installed launcher runs it", async () => {
  const r = await runArgv([process.execPath, join(repo, "bin", "tvirt-host-validate.js"), "--version"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});
