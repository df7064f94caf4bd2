/**
 * For tests that boot the tiny guest: the guest, or a skip when the machine cannot have it.
 * Off-line (Debian's mirror unreachable) or without QEMU, a test is skipped with the reason;
 * under CI (`CI=true`) the same conditions fail the test instead.
 */
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import { ensureTestGuest, NETWORK_TROUBLE, type EnsureTestGuestOptions, type TestGuest } from "./build.ts";
import { QEMU_BINARY } from "./qemu.ts";
import { GuestBuildError } from "./run.ts";

function hasQemu(): boolean {
  const r = spawnSync(QEMU_BINARY, ["--version"], { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

/** The tiny guest, or undefined after `t.skip(reason)`. Throws under CI. */
export async function testGuestOrSkip(
  t: TestContext,
  opts: EnsureTestGuestOptions = {},
): Promise<TestGuest | undefined> {
  const skip = (why: string): void => {
    if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
    t.skip(why);
  };
  if (!hasQemu()) {
    skip(`${QEMU_BINARY} is not installed`);
    return undefined;
  }
  try {
    return await ensureTestGuest(opts);
  } catch (e) {
    if (!(e instanceof GuestBuildError && e.reason === "apt-unreachable")) throw e;
    const lines = (e.outputTail ?? e.message)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
    const why = lines.find((l) => NETWORK_TROUBLE.test(l)) ?? lines.at(-1) ?? "";
    skip(`cannot build the tiny test guest: Debian's mirror is unreachable (${why})`);
    return undefined;
  }
}
