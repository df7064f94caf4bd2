/**
 * Loop devices for storage tests (fs and logical pools): a sparse image file attached with
 * `losetup`, detached and removed by `dispose` (also after a failed test). Tests that need one
 * call `toolsOrSkip` first: without root or the tools the test skips saying why, and fails under
 * CI=true.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runArgv } from "../util/spawn.ts";

const ENV = {
  PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  LC_ALL: "C",
  LVM_SUPPRESS_FD_WARNINGS: "1",
};

/** Runs a command for a test, failing the test with its stderr. */
export async function must(argv: readonly string[]): Promise<string> {
  const r = await runArgv(argv, { env: ENV });
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Runs a command for cleaning up (errors ignored). */
export async function tryRun(argv: readonly string[]): Promise<void> {
  await runArgv(argv, { env: ENV }).catch(() => undefined);
}

/** True when root and every `[program, ...args]` probe works; else skips (fails under CI). */
export async function toolsOrSkip(t: TestContext, probes: readonly (readonly string[])[]): Promise<boolean> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root");
  for (const p of probes) {
    const r = await runArgv(p, { env: ENV }).catch(() => undefined);
    if (r?.code !== 0) missing.push(`${p.join(" ")}${r ? ` (${r.stderr.trim().split("\n")[0] ?? ""})` : ""}`);
  }
  if (missing.length === 0) return true;
  if (process.env.CI === "true") assert.fail(`missing: ${missing.join(", ")}; required under CI`);
  t.skip(`needs ${missing.join(", ")}`);
  return false;
}

export interface LoopDevice {
  readonly dev: string;
  readonly image: string;
  dispose(): Promise<void>;
}

/** A loop device over a new sparse image of `mib` MiB. */
export async function makeLoopDevice(mib: number): Promise<LoopDevice> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-loop-"));
  const image = join(dir, "disk.img");
  await must(["truncate", "-s", `${mib}M`, image]);
  let dev: string;
  try {
    dev = (await must(["losetup", "-f", "--show", image])).trim();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dev,
    image,
    dispose: async () => {
      await tryRun(["losetup", "-d", dev]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
