/**
 * A DHCP client on a bridge, for network tests that want a lease without booting a guest:
 * busybox `udhcpc` (taken from the tiny test guest's initramfs) in a namespace of its own,
 * behind a veth pair whose host end is a port of the bridge. Only for use inside a test's own
 * network namespace (src/testing/netns.ts).
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { readCpio } from "./guest/cpio.ts";
import { readProcCmdline, runArgv, spawnArgv } from "../util/spawn.ts";

async function sh(...argv: string[]): Promise<void> {
  const r = await runArgv(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
}

/**
 * Asks `bridge`'s DHCP server for a lease as `mac` / `hostname`; resolves once udhcpc got one.
 * `initrd` is the test guest's (for its busybox), `workDir` a directory to put busybox in.
 * Everything it made is gone when it returns.
 */
export async function leaseOnBridge(opts: {
  readonly bridge: string;
  readonly mac: string;
  readonly hostname: string;
  readonly initrd: string;
  readonly workDir: string;
  /** Host end of the veth pair (default `tvveth-dhcp`). */
  readonly hostEnd?: string;
}): Promise<void> {
  const bb = readCpio(gunzipSync(readFileSync(opts.initrd))).find((e) => e.name === "bin/busybox");
  assert.ok(bb, "no busybox in the test guest");
  const busybox = join(opts.workDir, "busybox");
  writeFileSync(busybox, bb.data, { mode: 0o755 });
  const hostEnd = opts.hostEnd ?? "tvveth-dhcp";
  const holder = await spawnArgv(["unshare", "--net", "sleep", "120"]);
  try {
    const ns = `/proc/${String(holder.pid)}/ns/net`;
    // unshare execs sleep once the namespace exists: wait for that.
    for (let i = 0; i < 100 && readProcCmdline(holder.pid)?.[0] !== "sleep"; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await sh(
      "ip",
      "link",
      "add",
      hostEnd,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "address",
      opts.mac,
      "netns",
      String(holder.pid),
    );
    await sh("ip", "link", "set", "dev", hostEnd, "master", opts.bridge, "up");
    await sh("nsenter", `--net=${ns}`, "ip", "link", "set", "dev", "eth0", "up");
    const r = await runArgv(
      [
        "nsenter",
        `--net=${ns}`,
        busybox,
        "udhcpc",
        "-i",
        "eth0",
        "-n",
        "-q",
        "-f",
        "-t",
        "15",
        "-T",
        "1",
      ].concat(["-s", "/bin/true", "-x", `hostname:${opts.hostname}`]),
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, `udhcpc: ${r.stdout}${r.stderr}`);
  } finally {
    holder.kill("SIGKILL");
    await holder.exited;
    await runArgv(["ip", "link", "del", hostEnd]);
  }
}
