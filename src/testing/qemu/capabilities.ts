/**
 * Test support: where the QEMU binary is, skipping (or, under CI, failing) tests that need it
 * when it is absent, and a small fake capability set for command-builder tests.
 */
import type { QemuCaps } from "../../drivers/qemu/capabilities/types.ts";
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

/**
 * A QEMU 10.0 x86_64 capability set with only `flags` (TCG, machine `pc` = pc-i440fx-10.0): for
 * command-builder tests that need one device model, not a whole probed binary.
 */
export function fakeCapsX86(flags: readonly string[]): QemuCaps {
  return {
    emulator: "/usr/bin/qemu-system-x86_64",
    version: 10000000,
    package: "",
    arch: "x86_64",
    flags: new Set(flags),
    accel: {
      tcg: {
        machines: [{ name: "pc-i440fx-10.0", alias: "pc", isDefault: true, maxCpus: 255, hotplugCpus: true }],
        cpuModels: [],
      },
    },
    migrationCapabilities: [],
    binaryCtime: 0,
  };
}

/** A minimal `pc` domain around `devices` (device elements, one per line, indented). */
export function domainWithDevices(devices: string): string {
  return `<domain type='qemu'>\n  <name>n</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n${devices}  </devices>\n</domain>\n`;
}
