/**
 * Live migration of a guest with hot-plugged vCPUs between two tvirtd instances (each serving
 * its own `qemu:///embed?root=DIR`): the source starts with vcpu 0 in `-smp` and plugs vcpu 1,
 * then `setvcpus 3` plugs vcpu 2 into the running guest; the migratable XML keeps `<vcpus>`, so
 * the destination's QEMU starts with the same single boot vCPU and plugs vcpu 1 and 2 (with the
 * source's ids) before the incoming state loads. The counter guest goes on counting on B.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { run, spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestPid, lastCounter, waitFor } from "../testing/rpc/migration-hosts.ts";

const NAME = "migvcpu";
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

const VCPUS = [
  "  <vcpu placement='static' current='2'>3</vcpu>",
  "  <vcpus>",
  "    <vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>",
  "    <vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/>",
  "    <vcpu id='2' enabled='no' hotpluggable='yes'/>",
  "  </vcpus>",
].join("\n");

test(
  "live migration keeps hot-plugged vCPUs: the destination plugs them before the state loads",
  { timeout: 180_000 },
  async (t) => {
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-migvcpu-"));
    const rootA = join(dir, "a");
    const rootB = join(dir, "b");
    const sockA = join(dir, "a.sock");
    const sockB = join(dir, "b.sock");
    const uriA = `qemu+unix:///system?socket=${sockA}`;
    const uriB = `qemu+unix:///system?socket=${sockB}`;
    const serial = join(dir, "serial.log");
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const daemons: DaemonProcess[] = [];
    const tvsh = async (uri: string, ...args: string[]): Promise<string> => {
      const r = await run(process.execPath, [tvirshBin, "-c", uri, ...args], { env, timeoutMs: 90_000 });
      assert.equal(
        r.code,
        0,
        `tvirsh ${args.join(" ")}: ${r.stderr}\n${daemons.map((d) => d.stderr()).join("\n")}`,
      );
      return r.stdout;
    };
    const cpusOf = async (uri: string): Promise<string[]> =>
      (
        JSON.parse(await tvsh(uri, "qemu-monitor-command", NAME, '{"execute":"query-cpus-fast"}')) as {
          return: { "qom-path": string }[];
        }
      ).return
        .map((c) => c["qom-path"])
        .sort();
    const smpOf = (root: string): string => {
      const pid = guestPid(root, NAME);
      assert.ok(pid !== undefined, `the guest runs under ${root}`);
      const argv = readFileSync(`/proc/${String(pid)}/cmdline`, "utf8").split("\0");
      return argv[argv.indexOf("-smp") + 1] ?? "";
    };
    try {
      for (const [root, sock] of [
        [rootA, sockA],
        [rootB, sockB],
      ] as const) {
        daemons.push(await spawnDaemon(["--uri", `qemu:///embed?root=${root}`, "--listen", sock], [sock]));
      }
      const xml = guestDomainXML({
        name: NAME,
        mode: "counter",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: serial,
        memoryMiB: 96,
      }).replace(/ {2}<vcpu placement='static'>1<\/vcpu>/, VCPUS);
      assert.ok(xml.includes("<vcpus>"));
      const xmlPath = join(dir, "g.xml");
      writeFileSync(xmlPath, xml);
      await tvsh(uriA, "define", xmlPath);
      await tvsh(uriA, "start", NAME);
      assert.equal(smpOf(rootA), "1,maxcpus=3,sockets=3,cores=1,threads=1");
      assert.deepEqual(await cpusOf(uriA), ["/machine/peripheral/vcpu1", "/machine/unattached/device[0]"]);
      await waitFor("the guest's counter", () => lastCounter(serial) >= 2, 60_000);

      // a vCPU plugged into the running guest
      await tvsh(uriA, "setvcpus", NAME, "3", "--live");
      assert.deepEqual(await cpusOf(uriA), [
        "/machine/peripheral/vcpu1",
        "/machine/peripheral/vcpu2",
        "/machine/unattached/device[0]",
      ]);
      const mig = await tvsh(uriA, "dumpxml", NAME, "--migratable");
      assert.match(mig, /<vcpu placement='static'>3<\/vcpu>/);
      assert.match(
        mig,
        /<vcpu id='0' enabled='yes' hotpluggable='no' order='1'\/>\n {4}<vcpu id='1' enabled='yes' hotpluggable='yes' order='2'\/>\n {4}<vcpu id='2' enabled='yes' hotpluggable='yes' order='3'\/>/,
      );

      const before = lastCounter(serial);
      const t0 = Date.now();
      await tvsh(uriA, "migrate", "--live", "--p2p", NAME, uriB);
      t.diagnostic(`tvirsh migrate --live --p2p with 2 hot-plugged vCPUs: ${Date.now() - t0} ms`);
      assert.equal((await tvsh(uriB, "domstate", NAME)).trim(), "running");
      assert.equal(smpOf(rootB), "1,maxcpus=3,sockets=3,cores=1,threads=1");
      assert.deepEqual(await cpusOf(uriB), [
        "/machine/peripheral/vcpu1",
        "/machine/peripheral/vcpu2",
        "/machine/unattached/device[0]",
      ]);
      assert.equal(await tvsh(uriB, "vcpucount", NAME, "--live"), "3\n\n");
      await waitFor("the counter to go on on B", () => lastCounter(serial) >= before + 2, 60_000);
    } finally {
      for (const root of [rootA, rootB]) {
        const pid = guestPid(root, NAME);
        if (pid !== undefined && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
