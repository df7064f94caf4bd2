/**
 * Locates libvirt's test corpus, read in place from `../shared/reference/` (never copied into
 * this repository: it is LGPL test data). Where it is absent (a user's clone) tests say so and
 * stand aside; under CI (`CI=true`) its absence is a failure.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The reference folder: `$TVIRT_REFERENCE`, else `<repo>/../shared/reference`. */
export function referenceDir(): string {
  return process.env.TVIRT_REFERENCE ?? join(repoRoot, "..", "shared", "reference");
}

/** `libvirt-qemuxml/` of the reference folder, or undefined when absent. */
export function qemuXmlCorpusDir(): string | undefined {
  const d = join(referenceDir(), "libvirt-qemuxml");
  return existsSync(join(d, "qemuxmlconfdata")) ? d : undefined;
}

/**
 * For tests: the corpus folder, or undefined after marking the test skipped with the reason.
 * Throws under CI, where the corpus must be present.
 */
export function corpusOrSkip(t: TestContext): string | undefined {
  const d = qemuXmlCorpusDir();
  if (d) return d;
  const why = `libvirt corpus not found at ${join(referenceDir(), "libvirt-qemuxml")} (set TVIRT_REFERENCE)`;
  if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
  t.skip(why);
  return undefined;
}

export { repoRoot };
