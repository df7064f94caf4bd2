/**
 * tvirsh's CPU model commands: byte for byte against the real virsh 9.0 on `test:///default`
 * (when virsh is installed; under `CI=true` it must be), and their `--json` documents against
 * `schemas.ts`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

test("CPU model commands print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-cpu-"));
  try {
    const haswell = join(dir, "haswell.xml");
    writeFileSync(
      haswell,
      "<cpu>\n  <arch>x86_64</arch>\n  <model>Haswell</model>\n  <vendor>Intel</vendor>\n</cpu>\n",
    );
    const two = join(dir, "two.xml");
    writeFileSync(
      two,
      "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor><feature name='vmx'/>" +
        "<feature name='pdpe1gb'/></cpu>\n" +
        "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor><feature name='vmx'/></cpu>\n",
    );
    const domain = join(dir, "domain.xml");
    writeFileSync(
      domain,
      "<domain type='test'><name>c</name><memory>1024</memory><os><type>hvm</type></os>" +
        "<cpu><model>Haswell</model><vendor>Intel</vendor></cpu></domain>\n",
    );
    const none = join(dir, "none.xml");
    writeFileSync(none, "<domain type='test'><name>c</name></domain>\n");
    const lines = [
      "cpu-models x86_64",
      "cpu-models i686",
      "cpu-models ppc64",
      "cpu-models aarch64",
      "cpu-models s390x",
      "cpu-models foo",
      "cpu-models",
      "cpu-models --arch x86_64",
      "-q cpu-models aarch64",
      `cpu-baseline ${haswell}`,
      `cpu-baseline --file ${two}`,
      `cpu-baseline ${domain}`,
      `cpu-baseline ${none}`,
      `cpu-baseline ${join(dir, "missing.xml")}`,
      "cpu-baseline",
      `cpu-compare ${haswell}`,
      `cpu-compare ${haswell} --error`,
      `hypervisor-cpu-baseline --file ${haswell}`,
      "hypervisor-cpu-baseline --model Haswell",
      "hypervisor-cpu-baseline",
      `hypervisor-cpu-baseline --file ${haswell} --model Haswell`,
      `hypervisor-cpu-compare ${haswell}`,
      `hypervisor-cpu-compare --file ${haswell} --virttype kvm --arch x86_64`,
      "hypervisor-cpu-compare",
      "help cpu-models",
      "help hypervisor-cpu-baseline",
      "help hypervisor-cpu-compare",
      "help cpu-baseline",
      "help cpu-compare",
    ];
    for (const line of lines) {
      const args = line.startsWith("-q ") ? ["-q", line.slice(3)] : [line];
      const v = await runArgv(["virsh", "-c", "test:///default", ...args], { env });
      const ours = await tvirsh(...args);
      assert.equal(ours.out, v.stdout, `stdout of: ${line}`);
      assert.equal(ours.err, v.stderr, `stderr of: ${line}`);
      assert.equal(ours.status, v.code, `status of: ${line}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--json: cpu-models and cpu-baseline documents match their schemas", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-cpu-"));
  try {
    const models = await tvirsh("cpu-models", "x86_64", "--json");
    assert.equal(models.status, 0, models.err);
    const doc = JSON.parse(models.out) as { arch: string; models: string[]; anyModel: boolean };
    assert.deepEqual(validate(doc, commandSchemas["cpu-models"]!), []);
    assert.equal(doc.models.length, 58);
    assert.equal(doc.anyModel, false);
    const any = JSON.parse((await tvirsh("cpu-models", "aarch64", "--json")).out) as { anyModel: boolean };
    assert.equal(any.anyModel, true);

    const f = join(dir, "c.xml");
    writeFileSync(f, "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>\n");
    const base = await tvirsh("cpu-baseline", f, "--json");
    assert.equal(base.status, 0, base.err);
    const b = JSON.parse(base.out) as { xml: string };
    assert.deepEqual(validate(b, commandSchemas["cpu-baseline"]!), []);
    assert.match(b.xml, /<model fallback='forbid'>Haswell<\/model>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
