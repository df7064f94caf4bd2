/**
 * Reading the test guest's serial file from tests: the counter guest prints `COUNTER n` lines,
 * and tests wait for lines or states with a deadline.
 */
import { readFileSync } from "node:fs";

/** The last `COUNTER n` the guest printed on its serial file, or -1 (no file or no line yet). */
export function lastCounter(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return -1;
  }
  const all = [...text.matchAll(/COUNTER (\d+)/g)];
  return all.length === 0 ? -1 : Number(all[all.length - 1]![1]);
}

/** Polls `cond` every 250 ms until it holds; throws naming `what` after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
