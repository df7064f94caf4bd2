/**
 * Storage migration between two tvirtd instances on one machine (issue 15, `--copy-storage-all`):
 * the guest's qcow2 disk is not shared. Host B runs in its own mount namespace where the disk
 * directory is B's own (an empty directory bound over the path), so the same path names two
 * different files, as on two hosts; kernel, initrd and serial log stay shared. The TCG guest
 * prints `COUNTER n` every second: a migrated guest goes on counting.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestPid, lastCounter, waitFor } from "../testing/rpc/migration-hosts.ts";

const NAME = "migdisk";

const pidOf = (root: string): number | undefined => guestPid(root, NAME);
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

/** Whether 64 KiB at `off` of the qcow2 `image` hold `pattern` (read-only, beside a running QEMU). */
async function readsAs(image: string, pattern: string, off: string): Promise<boolean> {
  const r = await run("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", `read -P ${pattern} ${off} 64k`, image]);
  return r.code === 0 && !/Pattern verification failed/.test(r.stdout);
}

test(
  "copy-storage-all: a guest whose disk is not shared moves with its disk (p2p, client-driven, post-copy); an abort or a dying destination leaves it on the source",
  { timeout: 180_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const mountns = await run("unshare", ["--mount", "--propagation", "private", "true"], { env });
    if (mountns.code !== 0) {
      if (process.env.CI === "true") assert.fail(`cannot make a mount namespace: ${mountns.stderr}`);
      t.skip(`no mount namespaces here (${mountns.stderr.trim()})`);
      return;
    }

    const dir = mkdtempSync(join(tmpdir(), "tvirt-migdisk-"));
    const rootA = join(dir, "a");
    const rootB = join(dir, "b");
    const sockA = join(dir, "a.sock");
    const sockB = join(dir, "b.sock");
    const uriA = `qemu+unix:///system?socket=${sockA}`;
    const uriB = `qemu+unix:///system?socket=${sockB}`;
    const serial = join(dir, "serial.log");
    // the guest's disk: this path is A's file on A, B's own (empty at first) directory on B
    const disks = join(dir, "disks");
    const disksOfB = join(dir, "disks-b");
    mkdirSync(disks);
    mkdirSync(disksOfB);
    const image = join(disks, "g.qcow2");
    const imageOnB = join(disksOfB, "g.qcow2");
    const daemons: DaemonProcess[] = [];
    const vsh = (uri: string, ...args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 90_000 });
    const state = async (uri: string): Promise<string> => (await vsh(uri, "domstate", NAME)).stdout.trim();
    const logs = (): string => daemons.map((d) => d.stderr()).join("\n");
    try {
      let r = await run("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"], { env });
      assert.equal(r.code, 0, r.stderr);
      // known data before boot: 1 MiB of 0x5a at 0, 2 MiB of 0xa5 at 16 MiB
      r = await run(
        "qemu-io",
        ["-f", "qcow2", "-c", "write -P 0x5a 0 1M", "-c", "write -P 0xa5 16M 2M", image],
        {
          env,
        },
      );
      assert.equal(r.code, 0, r.stderr);

      daemons.push(await spawnDaemon(["--uri", `qemu:///embed?root=${rootA}`, "--listen", sockA], [sockA]));
      // B: a private mount namespace where `disks` is `disks-b` (the wrapper execs node)
      daemons.push(
        await spawnDaemon(["--uri", `qemu:///embed?root=${rootB}`, "--listen", sockB], [sockB], {}, [
          "unshare",
          "--mount",
          "--propagation",
          "private",
          "/bin/sh",
          "-c",
          'mount --bind "$0" "$1" && shift && exec "$@"',
          disksOfB,
          disks,
        ]),
      );
      const xmlPath = join(dir, "g.xml");
      writeFileSync(
        xmlPath,
        guestDomainXML({
          name: NAME,
          mode: "counter",
          kernel: guest.kernel,
          initrd: guest.initrd,
          serialLogPath: serial,
          memoryMiB: 96,
          extraDevicesXML: `    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/><target dev='hda' bus='ide'/></disk>\n`,
        }),
      );
      r = await vsh(uriA, "define", xmlPath);
      assert.equal(r.code, 0, r.stderr);
      r = await vsh(uriA, "start", NAME);
      assert.equal(r.code, 0, r.stderr);
      await waitFor("the guest's counter", () => lastCounter(serial) >= 2, 60_000);
      // a write while the guest runs (through its own block backend), after the pre-boot data
      r = await vsh(
        uriA,
        "qemu-monitor-command",
        "--hmp",
        NAME,
        'qemu-io -d ide0-0-0 "write -P 0x33 4M 256k"',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /error|not found/i, r.stdout);

      // without the flag the preflight names the disk B does not have
      r = await vsh(uriA, "migrate", "--live", "--p2p", NAME, uriB);
      assert.notEqual(r.code, 0, "a migration without the disk on B succeeded");
      assert.match(r.stderr, new RegExp(`disk 'hda' source '${image}' is not reachable on this host`));
      assert.equal(await state(uriA), "running");

      // an aborted storage migration: the guest stays on A, B's copy goes away again
      const aborting = vsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--copy-storage-all",
        "--bandwidth",
        "1",
        NAME,
        uriB,
      );
      // at 1 MiB/s (the mirrors take the migration's bandwidth, as in libvirt) the disk copy
      // takes seconds: abort while it runs, before any memory moved
      let during = "";
      await waitFor("the disk copy to be under way", async () => {
        during = (await vsh(uriA, "domjobinfo", NAME)).stdout;
        return /File remaining:\s+[1-9]/.test(during) && !/Memory processed/.test(during);
      });
      assert.match(during, /File total:\s+[1-9][\d.]* MiB/, during);
      r = await vsh(uriA, "domjobabort", NAME);
      assert.equal(r.code, 0, r.stderr);
      r = await aborting;
      assert.notEqual(r.code, 0, "an aborted migration reported success");
      assert.match(r.stderr, /canceled by client/);
      assert.equal(await state(uriA), "running");
      assert.notEqual((await vsh(uriB, "domstate", NAME)).code, 0, "B kept the transient guest");
      assert.ok(
        !existsSync(imageOnB),
        `B kept the image of a migration that did not complete\n${logs()}\n${readFileSync(join(rootB, "log", "qemu", `${NAME}.log`), "utf8")}`,
      );
      const afterAbort = lastCounter(serial);
      await waitFor("the counter to go on on A after the abort", () => lastCounter(serial) >= afterAbort + 1);
      // A's disk is still A's: what was written before is there, nothing else was written
      for (const [pattern, off] of [
        ["0x5a", "0"],
        ["0x33", "4M"],
        ["0x00", "8M"],
        ["0xa5", "16M"],
      ] as const)
        assert.equal(await readsAs(image, pattern, off), true, `${pattern} at ${off} on A after the abort`);

      // a destination whose QEMU dies while memory moves: mirrors cancelled, the guest stays on A
      const dying = vsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--copy-storage-all",
        "--bandwidth",
        "1",
        NAME,
        uriB,
      );
      await waitFor("the memory migration to be under way (the mirrors READY)", async () =>
        /Memory processed:\s+[1-9]/.test((await vsh(uriA, "domjobinfo", NAME)).stdout),
      );
      const pidB = pidOf(rootB);
      assert.ok(pidB !== undefined && isProcessAlive(pidB), "B's QEMU is not running");
      process.kill(pidB, "SIGKILL");
      r = await dying;
      assert.notEqual(r.code, 0, "a migration whose destination died reported success");
      assert.equal(await state(uriA), "running");
      await waitFor("B to forget the image", () => !existsSync(imageOnB), 10_000);
      const afterDeath = lastCounter(serial);
      await waitFor("the counter to go on on A after B died", () => lastCounter(serial) >= afterDeath + 1);
      r = await vsh(uriA, "qemu-monitor-command", "--hmp", NAME, "info block-jobs");
      assert.match(r.stdout, /No active jobs/, "a mirror outlived the failed migration");

      // A → B with stock virsh, peer to peer, copying the disk; memory crawls at 1 MiB/s until
      // the guest's disk is written once more (the mirrors are READY by then: the write must be
      // mirrored), then migrate-setspeed lets it complete
      const before = lastCounter(serial);
      const t0 = Date.now();
      const moving = vsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--copy-storage-all",
        "--bandwidth",
        "1",
        NAME,
        uriB,
      );
      await waitFor("the memory migration to be under way (the mirrors READY)", async () =>
        /Memory processed:\s+[1-9]/.test((await vsh(uriA, "domjobinfo", NAME)).stdout),
      );
      r = await vsh(
        uriA,
        "qemu-monitor-command",
        "--hmp",
        NAME,
        'qemu-io -d ide0-0-0 "write -P 0x77 8M 128k"',
      );
      assert.equal(r.code, 0, r.stderr);
      r = await vsh(uriA, "migrate-setspeed", NAME, "100000");
      assert.equal(r.code, 0, r.stderr);
      r = await moving;
      assert.equal(r.code, 0, `virsh migrate --copy-storage-all failed: ${r.stderr}\n${logs()}`);
      t.diagnostic(`virsh migrate --live --p2p --copy-storage-all A→B: ${Date.now() - t0} ms`);
      assert.equal(await state(uriB), "running");
      assert.equal(await state(uriA), "shut off");
      await waitFor("the counter to go on on B", () => lastCounter(serial) >= before + 2);
      assert.ok(existsSync(imageOnB), "B has no image of its own");
      // B's image holds what the guest's disk held on A (A's is closed now, B's still open)
      r = await run("qemu-img", ["compare", "-U", "-f", "qcow2", "-F", "qcow2", image, imageOnB], { env });
      assert.equal(r.code, 0, `images differ: ${r.stdout}${r.stderr}`);
      for (const [pattern, off] of [
        ["0x5a", "0"],
        ["0x33", "4M"],
        ["0x77", "8M"],
        ["0xa5", "16M"],
      ] as const)
        assert.equal(await readsAs(imageOnB, pattern, off), true, `${pattern} at ${off} on B`);
      r = await vsh(uriA, "domjobinfo", "--completed", NAME);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /File total:\s+[1-9][\d.]* MiB/, r.stdout);
      assert.match(r.stdout, /File remaining:\s+0\.000 B/, r.stdout);

      // back B → A with stock virsh driving the phases (no --p2p): A's image exists and is reused
      const onB = lastCounter(serial);
      const t1 = Date.now();
      r = await vsh(uriB, "migrate", "--live", "--copy-storage-all", "--disks-port", "49290", NAME, uriA);
      assert.equal(r.code, 0, `client-driven migrate --copy-storage-all failed: ${r.stderr}\n${logs()}`);
      t.diagnostic(`virsh migrate --live --copy-storage-all (client-driven) B→A: ${Date.now() - t1} ms`);
      assert.equal(await state(uriA), "running");
      assert.match(
        readFileSync(join(rootA, "log", "qemu", `${NAME}.log`), "utf8"),
        /incoming disks: NBD server on 0\.0\.0\.0:49290/,
      );
      await waitFor("the counter to go on on A", () => lastCounter(serial) >= onB + 2);
      r = await run("qemu-img", ["compare", "-U", "-f", "qcow2", "-F", "qcow2", image, imageOnB], { env });
      assert.equal(r.code, 0, `images differ after the way back: ${r.stdout}${r.stderr}`);

      // and once more with tvirsh: incremental copy of the listed disk into B's existing image, the
      // guest's writes mirrored synchronously (copy-mode write-blocking)
      r = await vsh(
        uriA,
        "qemu-monitor-command",
        "--hmp",
        NAME,
        'qemu-io -d ide0-0-0 "write -P 0x99 12M 64k"',
      );
      assert.equal(r.code, 0, r.stderr);
      const onA = lastCounter(serial);
      const t2 = Date.now();
      r = await run(
        process.execPath,
        [
          tvirshBin,
          "-c",
          uriA,
          "migrate",
          "--live",
          "--p2p",
          "--copy-storage-inc",
          "--copy-storage-synchronous-writes",
          "--migrate-disks",
          "hda",
          NAME,
          uriB,
        ],
        { env, timeoutMs: 90_000 },
      );
      assert.equal(r.code, 0, `tvirsh migrate --copy-storage-inc failed: ${r.stderr}\n${logs()}`);
      t.diagnostic(
        `tvirsh migrate --live --p2p --copy-storage-inc --copy-storage-synchronous-writes --migrate-disks hda A→B: ${Date.now() - t2} ms`,
      );
      assert.equal(await state(uriB), "running");
      await waitFor("the counter to go on on B again", () => lastCounter(serial) >= onA + 1);
      assert.equal(await readsAs(imageOnB, "0x99", "12M"), true, "the last write reached B");
      r = await run("qemu-img", ["compare", "-U", "-f", "qcow2", "-F", "qcow2", image, imageOnB], { env });
      assert.equal(r.code, 0, `images differ after tvirsh: ${r.stdout}${r.stderr}`);

      // post-copy with the disk copied back B → A: the mirrors end when memory switches over
      const onB2 = lastCounter(serial);
      // the switch comes after the first pre-copy pass (40 MiB/s); a max downtime of 1 ms keeps
      // pre-copy alone from converging first
      r = await run(virsh, ["-c", uriB, "migrate-setmaxdowntime", NAME, "1"], { env });
      assert.equal(r.code, 0, r.stderr);
      const t3 = Date.now();
      r = await run(
        process.execPath,
        [
          tvirshBin,
          "-c",
          uriB,
          "migrate",
          "--live",
          "--p2p",
          "--copy-storage-all",
          "--postcopy",
          "--postcopy-after-precopy",
          "--bandwidth",
          "40",
          NAME,
          uriA,
        ],
        { env, timeoutMs: 90_000 },
      );
      assert.equal(r.code, 0, `tvirsh migrate --postcopy --copy-storage-all failed: ${r.stderr}\n${logs()}`);
      t.diagnostic(`tvirsh migrate --postcopy --copy-storage-all B→A: ${Date.now() - t3} ms`);
      assert.equal(await state(uriA), "running");
      assert.match(
        readFileSync(join(rootA, "log", "qemu", `${NAME}.log`), "utf8"),
        /incoming migration in post-copy: guest resumed here/,
      );
      await waitFor("the counter to go on on A after post-copy", () => lastCounter(serial) >= onB2 + 1);
      r = await run("qemu-img", ["compare", "-U", "-f", "qcow2", "-F", "qcow2", image, imageOnB], { env });
      assert.equal(r.code, 0, `images differ after post-copy: ${r.stdout}${r.stderr}`);
    } finally {
      for (const root of [rootA, rootB]) {
        const pid = pidOf(root);
        if (pid !== undefined && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
