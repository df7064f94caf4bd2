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

/** Runs `argv` (no shell), asserts that it exited 0 and gives its stdout. */
export async function sh(...argv: string[]): Promise<string> {
  const r = await runArgv(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The fields of `ip -j link show` that the tests look at. */
export interface IpLink {
  ifname: string;
  address?: string;
  link?: string;
  master?: string;
  flags?: string[];
}

/** The links of the current network namespace. */
export async function ipLinks(): Promise<IpLink[]> {
  return JSON.parse(await sh("ip", "-j", "link", "show")) as IpLink[];
}

/** Their names, sorted. */
export async function linkNames(): Promise<string[]> {
  return (await ipLinks()).map((l) => l.ifname).sort();
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
  await runTestFileUnshared(
    file,
    ["--net", ...(opts.mountNs === true ? ["--mount", "--propagation", "private"] : [])],
    {
      TVIRT_NETNS_TEST: "1",
      // the inner run checks it is in another mount namespace before it mounts anything
      ...(opts.mountNs === true ? { TVIRT_OUTER_MNTNS: readlinkSync("/proc/self/ns/mnt") } : {}),
    },
    timeoutMs,
  );
}

/**
 * Runs test `file` with node's test runner under `unshare <nsArgs>` (namespaces of its own), in
 * a small fixed environment plus `env`, and asserts that it passed.
 */
export async function runTestFileUnshared(
  file: string,
  nsArgs: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<void> {
  const r = await runArgv(
    ["unshare", ...nsArgs, process.execPath, "--import", "tsx", "--test", "--test-reporter=spec", file],
    {
      env: {
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        LC_ALL: "C",
        HOME: process.env.HOME ?? "/root",
        ...env,
      },
      timeoutMs,
    },
  );
  assert.equal(r.code, 0, `inner run failed:\n${r.stdout}\n${r.stderr}`);
}
