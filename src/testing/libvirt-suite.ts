/**
 * libvirt 11.3.0's own test suite, fetched by `scripts/fetch-libvirt-suite.js` into the user's
 * cache (`$XDG_CACHE_HOME/tvirt/libvirt-11.3.0/`, default `~/.cache`; LGPL test data, never in
 * this repository). Where it is absent tests say in one line what is missing and how to get it,
 * and stand aside; under CI (`CI=true`) its absence is a failure.
 *
 * Layout of the cache folder (the tarball's paths without `libvirt-11.3.0/`):
 * `tests/qemuxmlconfdata/` (inputs and the x86_64 outputs), `tests/qemucapabilitiesdata/*x86_64*`,
 * `tests/qemufirmwaredata/`, `tests/domaincapsdata/*x86_64*`, `tests/qemustatusxml2xmldata/`,
 * `tests/network*`, `tests/storage*`, `tests/virnetworkportxml2xmldata/`,
 * `tests/qemuxmlconftest.c`, `COPYING.LESSER`, and the stamp `.tvirt-suite-stamp.json`.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { checkSuite, suiteDir, TARBALL, TARBALL_SHA256, VERSION } from "../../scripts/fetch-libvirt-suite.js";

export {
  suiteDir as libvirtSuiteDir,
  TARBALL_SHA256 as LIBVIRT_TARBALL_SHA256,
  VERSION as LIBVIRT_SUITE_VERSION,
};

/** The command that fetches the suite. */
export const FETCH_COMMAND = "node scripts/fetch-libvirt-suite.js";

let checked: { dir: string; complete: boolean; why?: string } | undefined;

/** The suite's folder when it is complete (stamp names the tarball's sha256, file count matches). */
export function libvirtSuite(): string | undefined {
  const dir = suiteDir();
  if (checked?.dir !== dir) {
    const c = checkSuite(dir);
    checked = c.ok ? { dir, complete: true } : { dir, complete: false, why: c.why };
  }
  return checked.complete ? dir : undefined;
}

/** One line saying what is missing and how to get it; undefined when the suite is complete. */
export function libvirtSuiteMissing(): string | undefined {
  if (libvirtSuite() !== undefined) return undefined;
  return (
    `libvirt ${VERSION} test suite missing (${checked?.why ?? suiteDir()}): run \`${FETCH_COMMAND}\` ` +
    `(offline: TVIRT_LIBVIRT_TARBALL=/path/to/${TARBALL})`
  );
}

/**
 * For tests: the suite's folder, or undefined after marking the test skipped with one line
 * saying what is missing and how to get it. Throws under CI, where the suite must be present.
 */
export function libvirtSuiteOrSkip(t: TestContext): string | undefined {
  const dir = libvirtSuite();
  if (dir !== undefined) return dir;
  const why = libvirtSuiteMissing() ?? "";
  if (process.env.CI === "true") throw new Error(`${why}; it is required under CI`);
  t.skip(why);
  return undefined;
}

/** Output kinds of a qemuxmlconfdata case. */
export type OutputKind = "args" | "xml" | "err";

/** One x86_64 case of `tests/qemuxmlconfdata/`. */
export interface SuiteCase {
  /** The input is `<name>.xml`. */
  readonly name: string;
  /**
   * Its x86_64 outputs by variant: `latest`, `latest.abi-update`, `latest+amdsev`, `7.2.0`, ...
   * (the part between `.x86_64-` and the extension), each with the kinds present.
   */
  readonly variants: ReadonlyMap<string, ReadonlySet<OutputKind>>;
}

/** Another architecture's (or x86_64's) output file, as opposed to an input. */
const OUTPUT = /\.[a-z0-9_]+-(latest|\d+\.\d+\.\d+)[.+]/;
const X86_OUTPUT = /^(.+)\.x86_64-(.+)\.(args|xml|err)$/;

/**
 * The x86_64 cases of a qemuxmlconfdata folder: inputs `<name>.xml` with at least one x86_64
 * `.args` or `.err` output (latest, versioned or a `+variant`), sorted by name.
 */
export function x86Cases(confDataDir: string): SuiteCase[] {
  const files = readdirSync(confDataDir);
  const inputs = new Set(
    files.filter((f) => f.endsWith(".xml") && !OUTPUT.test(f)).map((f) => f.slice(0, -4)),
  );
  const variants = new Map<string, Map<string, Set<OutputKind>>>();
  for (const f of files) {
    const m = X86_OUTPUT.exec(f);
    if (!m) continue;
    const [, name, variant, kind] = m as unknown as [string, string, string, OutputKind];
    if (!inputs.has(name)) continue;
    let byVariant = variants.get(name);
    if (!byVariant) variants.set(name, (byVariant = new Map<string, Set<OutputKind>>()));
    let kinds = byVariant.get(variant);
    if (!kinds) byVariant.set(variant, (kinds = new Set<OutputKind>()));
    kinds.add(kind);
  }
  return [...variants]
    .filter(([, v]) => [...v.values()].some((k) => k.has("args") || k.has("err")))
    .map(([name, v]) => ({ name, variants: v }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One x86_64 output of a case: `<name>.x86_64-<variant>.{args,err,xml}`. */
export interface SuiteOutput {
  readonly name: string;
  /** `latest`, `latest.abi-update`, `latest+amdsev`, `latest+hvf`, `7.2.0`, ... */
  readonly variant: string;
  readonly kinds: ReadonlySet<OutputKind>;
}

/**
 * Every x86_64 output with an `.args` or `.err` (what the golden ratchet judges: the command
 * line or the error, and the XML when there is one), by case name, then variant.
 */
export function x86Outputs(confDataDir: string): SuiteOutput[] {
  return x86Cases(confDataDir).flatMap((c) =>
    [...c.variants]
      .filter(([, kinds]) => kinds.has("args") || kinds.has("err"))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([variant, kinds]) => ({ name: c.name, variant, kinds })),
  );
}

/**
 * Makes `viewDir` look like the sample corpus (`../shared/reference/libvirt-qemuxml`) over the
 * fetched suite, with symbolic links: `caps/` (qemucapabilitiesdata, which holds
 * `caps_10.0.0_x86_64.xml` behind every `x86_64-latest` output),
 * `aux/{networkxml2xmlin,virnetworkportxml2xmldata}/` (same names as the sample's), and
 * `aux/storagepoolxml2xmlout/` (the pools behind `<disk type='volume'>`, which the sample lacks).
 * `qemuxmlconfdata/` is the whole folder, or with `latestOnly` a folder of links to just the
 * cases with a plain `.x86_64-latest.args` or `.err` (input and x86_64 outputs), the kind of case
 * the sample holds and `npm run conformance` judges. Returns `viewDir`.
 */
export function sampleShapedView(
  suite: string,
  viewDir: string,
  options: { latestOnly?: boolean } = {},
): string {
  const tests = join(suite, "tests");
  const links: [string, string][] = [
    ["caps", "qemucapabilitiesdata"],
    [join("aux", "networkxml2xmlin"), "networkxml2xmlin"],
    [join("aux", "virnetworkportxml2xmldata"), "virnetworkportxml2xmldata"],
    [join("aux", "storagepoolxml2xmlout"), "storagepoolxml2xmlout"],
  ];
  if (!options.latestOnly) links.push(["qemuxmlconfdata", "qemuxmlconfdata"]);
  mkdirSync(join(viewDir, "aux"), { recursive: true });
  for (const [at, target] of links) {
    if (!existsSync(join(tests, target))) throw new Error(`${join(tests, target)} is missing`);
    if (!existsSync(join(viewDir, at))) symlinkSync(join(tests, target), join(viewDir, at));
  }
  if (options.latestOnly) {
    const from = join(tests, "qemuxmlconfdata");
    const to = join(viewDir, "qemuxmlconfdata");
    mkdirSync(to, { recursive: true });
    const cases = new Set(
      x86Cases(from)
        .filter((c) => c.variants.get("latest")?.has("args") || c.variants.get("latest")?.has("err"))
        .map((c) => c.name),
    );
    for (const f of readdirSync(from)) {
      const name = f.endsWith(".xml") && !OUTPUT.test(f) ? f.slice(0, -4) : X86_OUTPUT.exec(f)?.[1];
      if (name !== undefined && cases.has(name) && !existsSync(join(to, f)))
        symlinkSync(join(from, f), join(to, f));
    }
  }
  return viewDir;
}
