/**
 * Leak checks for tests: counts of the event loop's active resources (timers, sockets, pipes,
 * child processes) before and after a piece of work.
 */
import { setImmediate as tick } from "node:timers/promises";

/** Resource kinds that a QMP client, a probe or a fake server may create. */
export const WATCHED_RESOURCES = [
  "Timeout",
  "PipeWrap",
  "PipeServerWrap",
  "ProcessWrap",
  "TCPWrap",
  "TCPServerWrap",
] as const;

export function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/**
 * Waits for pending closes to finish (a few event-loop turns), then lists watched resources
 * that are more numerous than in `before`. Empty means nothing leaked.
 */
export async function leakedResources(before: Map<string, number>, settleMs = 200): Promise<string[]> {
  const until = Date.now() + settleMs;
  for (;;) {
    await tick();
    const now = resourceCounts();
    const leaked = WATCHED_RESOURCES.filter((k) => (now.get(k) ?? 0) > (before.get(k) ?? 0)).map(
      (k) => `${k}: ${before.get(k) ?? 0} -> ${now.get(k) ?? 0}`,
    );
    if (leaked.length === 0 || Date.now() > until) return leaked;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 10);
      t.unref();
    });
  }
}
