/**
 * Tests that create bridges, run dnsmasq or install firewall rules run inside a network
 * namespace of their own: the outer run re-executes the test file under `unshare --net`, and
 * the inner run (`insideTestNetns()`) refuses to act unless its namespace holds only `lo`, so the
 * host's interfaces and firewall are never touched.
 */
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import type { TestContext } from "node:test";
import { runArgv } from "../util/spawn.ts";

/** True in the inner run, the one inside the new namespace. */
export function insideTestNetns(): boolean {
  return process.env.TVIRT_NETNS_TEST === "1";
}

/** Whether a command runs and exits 0. */
export async function commandWorks(argv: readonly string[]): Promise<boolean> {
  try {
    return (await runArgv([...argv])).code === 0;
  } catch {
    return false;
  }
}

/**
 * The outer run: checks root and the tools (a failure under CI, a skip elsewhere), then runs
 * `file` with node's test runner in a new network namespace and asserts that it passed.
 */
export async function runInTestNetns(
  t: TestContext,
  file: string,
  timeoutMs: number,
  opts: {
    /**
     * Also a private mount namespace (the inner run may bind-mount over host paths); the inner
     * run gets the outer one's id in `TVIRT_OUTER_MNTNS` to check it is elsewhere.
     */
    readonly mountNs?: boolean;
  } = {},
): Promise<void> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root");
  for (const [name, argv] of [
    ["unshare", ["unshare", "--version"]],
    ["ip", ["ip", "-V"]],
    ["nft", ["nft", "--version"]],
    ["dnsmasq", ["dnsmasq", "--version"]],
  ] as const) {
    if (!(await commandWorks(argv))) missing.push(name);
  }
  if (missing.length > 0) {
    if (process.env.CI === "true") assert.fail(`missing: ${missing.join(", ")}`);
    t.skip(`needs ${missing.join(", ")} (scripts/setup installs them)`);
    return;
  }
  const r = await runArgv(
    [
      "unshare",
      "--net",
      ...(opts.mountNs === true ? ["--mount", "--propagation", "private"] : []),
      process.execPath,
      "--import",
      "tsx",
      "--test",
      "--test-reporter=spec",
      file,
    ],
    {
      env: {
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        LC_ALL: "C",
        HOME: process.env.HOME ?? "/root",
        TVIRT_NETNS_TEST: "1",
        // the inner run checks it is in another mount namespace before it mounts anything
        ...(opts.mountNs === true ? { TVIRT_OUTER_MNTNS: readlinkSync("/proc/self/ns/mnt") } : {}),
      },
      timeoutMs,
    },
  );
  assert.equal(r.code, 0, `inner run failed:\n${r.stdout}\n${r.stderr}`);
}
