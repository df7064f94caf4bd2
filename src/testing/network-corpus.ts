/**
 * Locates libvirt's network test corpus (`libvirt-network/` of the reference folder), read in
 * place and never copied into this repository (LGPL test data). Absent → tests skip with one
 * line saying so; under CI (`CI=true`) its absence is a failure.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { referenceDir } from "./corpus.ts";

/** `libvirt-network/` of the reference folder, or undefined when absent. */
export function networkCorpusDir(): string | undefined {
  const d = join(referenceDir(), "libvirt-network");
  return existsSync(join(d, "networkxml2xmlin")) ? d : undefined;
}

/** For tests: the corpus folder, or undefined after marking the test skipped with the reason. */
export function networkCorpusOrSkip(t: TestContext): string | undefined {
  const d = networkCorpusDir();
  if (d) return d;
  const why = `libvirt network corpus not found at ${join(referenceDir(), "libvirt-network")} (set TVIRT_REFERENCE)`;
  if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
  t.skip(why);
  return undefined;
}
