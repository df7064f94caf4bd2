/**
 * Migration between two tvirtd hosts (issue 15), the client side of it: `migrate --verbose`
 * (the progress line virsh 9.0 redraws on stderr, on a pipe and on a terminal) and
 * `--postcopy-after-precopy` (the switch when the source's MIGRATION_ITERATION event says the
 * first pre-copy pass is done), with tvirsh and with stock virsh against tvirtd.
 *
 * The post-copy migrations run with a max downtime of 1 ms at 40 MiB/s: pre-copy alone cannot
 * converge then (the counting guest dirties more than 40 KiB per pass), so they complete only
 * if the client switched to post-copy; a switch on a timer before the first pass ended would
 * show as iteration 1 in the completed job's statistics.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { python3OrSkip, run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestPid, lastCounter, waitFor } from "../testing/rpc/migration-hosts.ts";

const NAME = "migp";

const pidOf = (root: string): number | undefined => guestPid(root, NAME);
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

/** virsh's `migrate --verbose` on stderr: redrawn lines, the last one 100 % (the newline is stdout's). */
const PROGRESS = /^(?:\rMigration: \[[ \d]{2}\d %\])*\rMigration: \[100 %\]$/;

test(
  "migrate --verbose draws virsh's progress line; --postcopy-after-precopy switches after the first pass (tvirsh and stock virsh against tvirtd)",
  { timeout: 150_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const python = python3OrSkip(t);
    if (!python) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-migp-"));
    const rootA = join(dir, "a");
    const rootB = join(dir, "b");
    const sockA = join(dir, "a.sock");
    const sockB = join(dir, "b.sock");
    const uriA = `qemu+unix:///system?socket=${sockA}`;
    const uriB = `qemu+unix:///system?socket=${sockB}`;
    const serial = join(dir, "serial.log");
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const daemons: DaemonProcess[] = [];
    const watchers: ChildProcess[] = [];
    const vsh = (uri: string, ...args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 60_000 });
    const tvsh = (uri: string, ...args: string[]) =>
      run(process.execPath, [tvirshBin, "-c", uri, ...args], { env, timeoutMs: 60_000 });
    const logs = (): string => daemons.map((d) => d.stderr()).join("\n");
    try {
      for (const [root, sock] of [
        [rootA, sockA],
        [rootB, sockB],
      ] as const)
        daemons.push(await spawnDaemon(["--uri", `qemu:///embed?root=${root}`, "--listen", sock], [sock]));
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
      let r = await vsh(uriA, "create", xmlPath);
      assert.equal(r.code, 0, r.stderr);
      await waitFor("the guest's counter", () => lastCounter(serial) >= 2, 60_000);

      // --verbose on pipes, A → B at 40 MiB/s (a few seconds: several progress lines)
      r = await vsh(uriA, "migrate", "--live", "--p2p", "--verbose", "--bandwidth", "40", NAME, uriB);
      assert.equal(r.code, 0, `virsh migrate --verbose: ${r.stderr}\n${logs()}`);
      const virshOut = r;
      t.diagnostic(
        `stock virsh --verbose: stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`,
      );
      assert.match(r.stderr, PROGRESS, "stock virsh's progress against tvirtd");
      r = await tvsh(uriB, "migrate", "--live", "--p2p", "--verbose", "--bandwidth", "40", NAME, uriA);
      assert.equal(r.code, 0, `tvirsh migrate --verbose: ${r.stderr}\n${logs()}`);
      t.diagnostic(`tvirsh --verbose: stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
      assert.match(r.stderr, PROGRESS);
      assert.equal(r.stdout, virshOut.stdout, "stdout as stock virsh's");
      assert.ok(r.stderr.split("\r").length > 3, `progress was redrawn: ${JSON.stringify(r.stderr)}`);
      const pcts = [...r.stderr.matchAll(/\[ *(\d+) %\]/g)].map((m) => Number(m[1]));
      assert.ok(
        pcts.every((p, i) => i === 0 || p >= pcts[i - 1]!),
        `progress goes up: ${pcts.join(" ")}`,
      );
      assert.ok(
        pcts.slice(0, -1).some((p) => p > 0 && p < 100),
        `a partial progress: ${pcts.join(" ")}`,
      );

      // --verbose on a terminal (python's pty): the same line, redrawn with \r
      r = await run(
        python,
        [
          "-c",
          "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)",
          process.execPath,
          tvirshBin,
          "-c",
          uriA,
          "migrate",
          "--live",
          "--p2p",
          "--verbose",
          "--bandwidth",
          "40",
          NAME,
          uriB,
        ],
        { env, timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, `tvirsh migrate --verbose on a pty: ${r.stdout}\n${logs()}`);
      assert.match(r.stdout, /^(?:\rMigration: \[[ \d]{2}\d %\])+\r\n/, JSON.stringify(r.stdout));
      assert.match(r.stdout, /\rMigration: \[100 %\]\r\n/);
      const onB = lastCounter(serial);
      await waitFor("the counter to go on on B", () => lastCounter(serial) >= onB + 2);

      // --postcopy-after-precopy, tvirsh B → A; stock virsh watches the source's iterations
      const watcher = spawn(
        virsh,
        [
          "-c",
          uriB,
          "event",
          "--domain",
          NAME,
          "--event",
          "migration-iteration",
          "--loop",
          "--timeout",
          "60",
        ],
        { env, stdio: ["ignore", "pipe", "ignore"] },
      );
      watchers.push(watcher);
      let events = "";
      watcher.stdout.on("data", (d: Buffer) => (events += d.toString()));
      await new Promise((res) => setTimeout(res, 1000)); // the watcher registers
      r = await vsh(uriB, "migrate-setmaxdowntime", NAME, "1");
      assert.equal(r.code, 0, r.stderr);
      const before = lastCounter(serial);
      r = await tvsh(
        uriB,
        "migrate",
        "--live",
        "--p2p",
        "--postcopy",
        "--postcopy-after-precopy",
        "--bandwidth",
        "40",
        NAME,
        uriA,
      );
      assert.equal(r.code, 0, `tvirsh --postcopy-after-precopy: ${r.stderr}\n${logs()}`);
      // the source switched once pass 2 had begun (a timer would have switched in pass 1:
      // ~90 MiB at 40 MiB/s take seconds)
      const switched = /outgoing migration switched to post-copy \(memory pass (\d+)\)/.exec(
        readFileSync(join(rootB, "log", "qemu", `${NAME}.log`), "utf8"),
      );
      assert.ok(switched, "the source switched to post-copy");
      assert.ok(Number(switched[1]) >= 2, `switched in memory pass ${switched[1]}`);
      assert.equal((await vsh(uriA, "domstate", NAME)).stdout.trim(), "running");
      await waitFor("the counter to go on on A after post-copy", () => lastCounter(serial) >= before + 2);
      watcher.kill("SIGKILL");
      assert.match(
        events,
        new RegExp(`^event 'migration-iteration' for domain '${NAME}': iteration: '1'\\n`, "m"),
      );
      assert.match(
        events,
        new RegExp(`^event 'migration-iteration' for domain '${NAME}': iteration: '2'$`, "m"),
      );

      // the same with stock virsh (its own MIGRATION_ITERATION callback), A → B
      r = await vsh(uriA, "migrate-setmaxdowntime", NAME, "1");
      assert.equal(r.code, 0, r.stderr);
      const before2 = lastCounter(serial);
      r = await vsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--postcopy",
        "--postcopy-after-precopy",
        "--bandwidth",
        "40",
        NAME,
        uriB,
      );
      assert.equal(r.code, 0, `virsh --postcopy-after-precopy: ${r.stderr}\n${logs()}`);
      const switched2 = /outgoing migration switched to post-copy \(memory pass (\d+)\)/.exec(
        readFileSync(join(rootA, "log", "qemu", `${NAME}.log`), "utf8"),
      );
      assert.ok(switched2 && Number(switched2[1]) >= 2, `stock virsh switched: ${switched2?.[0]}`);
      assert.equal((await vsh(uriB, "domstate", NAME)).stdout.trim(), "running");
      await waitFor("the counter to go on on B after post-copy", () => lastCounter(serial) >= before2 + 2);
    } finally {
      for (const w of watchers) w.kill("SIGKILL");
      for (const root of [rootA, rootB]) {
        const pid = pidOf(root);
        if (pid !== undefined && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
