/**
 * Helpers the two-host migration tests share (src/rpc/migration-*.test.ts): the counter guest's
 * progress in its serial log, polling until a condition holds, and the guest's QEMU pid under
 * one host's embed root.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The highest `COUNTER n` in the serial log (the file may hold zeros where QEMU seeked). */
export function lastCounter(path: string): number {
  if (!existsSync(path)) return 0;
  let max = 0;
  for (const m of readFileSync(path, "latin1").matchAll(/COUNTER (\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

/** Polls `fn` every `stepMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  stepMs = 200,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The pid of guest `name`'s QEMU under an embed root (its pidfile), if it has one. */
export function guestPid(root: string, name: string): number | undefined {
  const f = join(root, "run", "qemu", `${name}.pid`);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
