/**
 * Test support: where the QEMU binary is, and skipping (or, under CI, failing) tests that need
 * it when it is absent.
 */
import { accessSync, constants } from "node:fs";
import type { TestContext } from "node:test";

/** `$TVIRT_QEMU` or `/usr/bin/qemu-system-x86_64`. */
export function qemuBinaryPath(): string {
  return process.env.TVIRT_QEMU ?? "/usr/bin/qemu-system-x86_64";
}

/**
 * The QEMU binary for a test, or undefined after marking the test skipped. Under CI
 * (`CI=true`) a missing binary is a failure.
 */
export function qemuOrSkip(t: TestContext): string | undefined {
  const bin = qemuBinaryPath();
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    const why = `QEMU binary ${bin} not found (install qemu-system-x86 or set TVIRT_QEMU)`;
    if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
    t.skip(why);
    return undefined;
  }
}
