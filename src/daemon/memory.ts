/**
 * The daemon's memory right after it starts. What it took to start (the bundle's source bytes and
 * code cache, the configuration's text, one-time setup) is garbage once it listens, but V8 only
 * collects when allocation makes it, which an idle daemon never does: some MiB of resident memory
 * stay until the first busy moment. One full collection then leaves an idle tvirtd at what it
 * really holds.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Gc = () => void;

/** V8's gc(): the global one under --expose-gc, else one from a context made with the flag on. */
function v8Gc(): Gc | undefined {
  const own: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return own as Gc;
  // The flag only matters while a context is made; V8's default is back before anything else
  // compiles (a code cache records the flags it was made under).
  setFlagsFromString("--expose-gc");
  try {
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as Gc) : undefined;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

/** Collects the start's garbage (a few ms, once, when the daemon has started). */
export function collectStartupGarbage(): void {
  // A plain full collection: Node 20's V8 does not collect at once with gc({ ... }) options.
  v8Gc()?.();
}
