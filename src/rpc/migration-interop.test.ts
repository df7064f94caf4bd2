/**
 * Migration between two tvirtd instances on one machine (issue 15): each daemon serves its own
 * `qemu:///embed?root=DIR` through a test socket (stock virsh reaches it as
 * `qemu+unix:///system?socket=SOCK`); the guest's kernel, initrd and serial log are shared paths.
 * The tiny TCG guest prints `COUNTER n` every second: a migrated guest goes on counting, a
 * restarted one would begin at 1 again.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestPid, lastCounter, waitFor } from "../testing/rpc/migration-hosts.ts";

const NAME = "mig";

const pidOf = (root: string): number | undefined => guestPid(root, NAME);
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

test(
  "live migration between two tvirtd hosts: stock virsh and tvirsh, p2p and client-driven, post-copy, offline, abort, a dying destination",
  { timeout: 240_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-mig-"));
    const rootA = join(dir, "a");
    const rootB = join(dir, "b");
    const sockA = join(dir, "a.sock");
    const sockB = join(dir, "b.sock");
    const uriA = `qemu+unix:///system?socket=${sockA}`;
    const uriB = `qemu+unix:///system?socket=${sockB}`;
    const serial = join(dir, "serial.log");
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const daemons: DaemonProcess[] = [];
    const startDaemon = async (root: string, sock: string): Promise<DaemonProcess> => {
      const d = await spawnDaemon(["--uri", `qemu:///embed?root=${root}`, "--listen", sock], [sock]);
      daemons.push(d);
      return d;
    };
    const vsh = (uri: string, ...args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 90_000 });
    const tvsh = (uri: string, ...args: string[]) =>
      run(process.execPath, [tvirshBin, "-c", uri, ...args], { env, timeoutMs: 90_000 });
    const state = async (uri: string): Promise<string> => (await vsh(uri, "domstate", NAME)).stdout.trim();
    try {
      await startDaemon(rootA, sockA);
      await startDaemon(rootB, sockB);
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
        }),
      );
      let r = await vsh(uriA, "define", xmlPath);
      assert.equal(r.code, 0, r.stderr);
      r = await vsh(uriA, "start", NAME);
      assert.equal(r.code, 0, r.stderr);
      await waitFor("the guest's counter", () => lastCounter(serial) >= 2, 60_000);

      // A → B with stock virsh, peer to peer
      const before = lastCounter(serial);
      const t0 = Date.now();
      r = await vsh(uriA, "migrate", "--live", "--p2p", "--persistent", "--undefinesource", NAME, uriB);
      assert.equal(
        r.code,
        0,
        `virsh migrate failed: ${r.stderr}\n${daemons.map((d) => d.stderr()).join("\n")}`,
      );
      t.diagnostic(`virsh migrate --live --p2p A→B: ${Date.now() - t0} ms`);
      assert.equal(await state(uriB), "running");
      r = await vsh(uriA, "domstate", NAME);
      assert.notEqual(r.code, 0, "the source still knows the domain after --undefinesource");
      assert.ok(existsSync(join(rootB, "etc", "qemu", `${NAME}.xml`)), "--persistent defined it on B");
      await waitFor("the counter to go on on B", () => lastCounter(serial) >= before + 2);
      const onB = lastCounter(serial);
      assert.ok(onB > before, `counter went from ${before} to ${onB}`);

      // B → A with tvirsh, peer to peer, persistent on A, the definition kept on B
      const t1 = Date.now();
      r = await tvsh(uriB, "migrate", "--live", "--p2p", "--persistent", NAME, uriA);
      assert.equal(
        r.code,
        0,
        `migrate B→A failed: ${r.stderr}\n${daemons.map((d) => d.stderr()).join("\n")}`,
      );
      t.diagnostic(`tvirsh migrate --live --p2p --persistent B→A: ${Date.now() - t1} ms`);
      assert.equal(await state(uriA), "running");
      assert.equal(await state(uriB), "shut off");
      await waitFor("the counter to go on on A", () => lastCounter(serial) >= onB + 2);

      // post-copy with tvirsh (switched once the first pre-copy pass is done; with a max
      // downtime of 1 ms pre-copy alone would never converge; post-copy streams at 1 MiB/s, so
      // the destination still runs it when finish comes), then back with stock virsh
      // driving the five phases itself (no --p2p)
      r = await vsh(uriA, "migrate-setmaxdowntime", NAME, "1");
      assert.equal(r.code, 0, r.stderr);
      const onA = lastCounter(serial);
      const t2 = Date.now();
      r = await tvsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--postcopy",
        "--postcopy-after-precopy",
        "--bandwidth",
        "40",
        "--postcopy-bandwidth",
        "1",
        NAME,
        uriB,
      );
      assert.equal(
        r.code,
        0,
        `postcopy A→B failed: ${r.stderr}\n${daemons.map((d) => d.stderr()).join("\n")}`,
      );
      t.diagnostic(
        `tvirsh migrate --postcopy --postcopy-after-precopy --bandwidth 40 A→B: ${Date.now() - t2} ms`,
      );
      // the source switched and the destination resumed the guest in post-copy
      assert.match(
        readFileSync(join(rootA, "log", "qemu", `${NAME}.log`), "utf8"),
        /outgoing migration switched to post-copy/,
      );
      assert.match(
        readFileSync(join(rootB, "log", "qemu", `${NAME}.log`), "utf8"),
        /incoming migration in post-copy: guest resumed here \(status 'postcopy-active'\)/,
      );
      assert.equal(await state(uriB), "running");
      // the completed job's statistics on the source count the pages B asked for in post-copy
      const done = (await vsh(uriA, "domjobinfo", "--completed", NAME)).stdout;
      const reqs = /^Postcopy requests:\s+(\d+)/m.exec(done);
      assert.ok(reqs, `domjobinfo --completed after post-copy:\n${done}`);
      t.diagnostic(`post-copy requests: ${reqs[1]}`);
      await waitFor("the counter to go on on B after post-copy", () => lastCounter(serial) >= onA + 2);
      const t3 = Date.now();
      r = await vsh(
        uriB,
        "migrate",
        "--live",
        "--persistent",
        "--compressed",
        "--auto-converge",
        "--parallel",
        "--parallel-connections",
        "2",
        NAME,
        uriA,
      );
      assert.equal(
        r.code,
        0,
        `virsh migrate (not p2p) B→A failed: ${r.stderr}\n${daemons.map((d) => d.stderr()).join("\n")}`,
      );
      t.diagnostic(`virsh migrate --live (client-driven) B→A: ${Date.now() - t3} ms`);
      assert.equal(await state(uriA), "running");
      const back = lastCounter(serial);
      await waitFor("the counter to go on on A again", () => lastCounter(serial) >= back + 2);

      // a destination whose QEMU dies mid-migration: the guest stays on the source
      const migrating = vsh(uriA, "migrate", "--live", "--p2p", "--bandwidth", "1", NAME, uriB);
      await waitFor(
        "the destination's QEMU",
        () => pidOf(rootB) !== undefined && isProcessAlive(pidOf(rootB)!),
        30_000,
      );
      await new Promise((res) => setTimeout(res, 1000));
      // the job is visible meanwhile (job control, migjobs)
      const ji = await vsh(uriA, "domjobinfo", NAME);
      assert.equal(ji.code, 0, ji.stderr);
      assert.match(ji.stdout, /Job type:\s+Unbounded/);
      assert.match(ji.stdout, /Operation:\s+Outgoing migration/);
      process.kill(pidOf(rootB)!, "SIGKILL");
      r = await migrating;
      assert.notEqual(r.code, 0, "a migration whose destination died reported success");
      assert.equal(await state(uriA), "running");
      const afterFail = lastCounter(serial);
      await waitFor(
        "the counter to go on on A after the failed migration",
        () => lastCounter(serial) >= afterFail + 2,
      );

      // domjobabort: the guest stays on the source
      const t5 = Date.now();
      const aborting = vsh(uriA, "migrate", "--live", "--p2p", "--bandwidth", "1", NAME, uriB);
      await waitFor("the migration to be under way", async () =>
        /Outgoing migration/.test((await vsh(uriA, "domjobinfo", NAME)).stdout),
      );
      r = await vsh(uriA, "domjobabort", NAME);
      assert.equal(r.code, 0, r.stderr);
      r = await aborting;
      assert.notEqual(r.code, 0, "an aborted migration reported success");
      assert.match(r.stderr, /canceled by client|cancel/i);
      assert.equal(await state(uriA), "running");
      assert.equal(await state(uriB), "shut off");
      t.diagnostic(`domjobabort phase: ${Date.now() - t5} ms`);
      const afterAbort = lastCounter(serial);
      await waitFor("the counter to go on on A after the abort", () => lastCounter(serial) >= afterAbort + 2);

      // --timeout with --timeout-suspend: the source pauses the guest after 1 s (at 1 MiB/s the
      // migration is still running), then migrate-setspeed lifts the limit, the migration
      // completes and the destination runs the guest
      const t4 = Date.now();
      const timed = tvsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--bandwidth",
        "1",
        "--timeout",
        "1",
        "--timeout-suspend",
        NAME,
        uriB,
      );
      await waitFor("the timeout to suspend the guest on A", async () => (await state(uriA)) === "paused");
      r = await vsh(uriA, "migrate-setspeed", NAME, "100000");
      assert.equal(r.code, 0, r.stderr);
      r = await timed;
      assert.equal(r.code, 0, `migrate --timeout failed: ${r.stderr}`);
      t.diagnostic(`tvirsh migrate --timeout 1 --timeout-suspend: ${Date.now() - t4} ms`);
      assert.equal(await state(uriB), "running");
      const onB2 = lastCounter(serial);
      await waitFor("the counter to go on on B after --timeout", () => lastCounter(serial) >= onB2 + 2);

      // offline: the definition only (B's replaces A's; B forgets it)
      r = await vsh(uriB, "destroy", NAME);
      assert.equal(r.code, 0, r.stderr);
      r = await vsh(uriB, "migrate", "--offline", "--persistent", "--undefinesource", "--p2p", NAME, uriA);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await state(uriA), "shut off");
      r = await vsh(uriB, "domstate", NAME);
      assert.notEqual(r.code, 0);
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
