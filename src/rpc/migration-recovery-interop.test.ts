/**
 * Migration recovery between two tvirtd hosts on one machine (issue 15, point 5): a daemon
 * killed (SIGKILL) in the middle of a live migration and started again leaves the guest running
 * on exactly one host, its counter going on; a post-copy migration whose stream breaks
 * (`domjobabort --postcopy`: QEMU's `migrate-pause`) is paused (post-copy failed) on both hosts,
 * with libvirt's lifecycle events, and `virsh migrate --postcopy --postcopy-resume` completes it.
 * Each daemon serves its own `qemu:///embed?root=DIR`; the guest's kernel, initrd and serial log
 * are shared paths; the tiny TCG guest prints `COUNTER n` every second.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { isProcessAlive, startArgv } from "../util/spawn.ts";
import { run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestPid, lastCounter, waitFor as waitUntil } from "../testing/rpc/migration-hosts.ts";

const NAME = "migrec";

const pidOf = (root: string): number | undefined => guestPid(root, NAME);
const waitFor = (what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> =>
  waitUntil(what, fn, timeoutMs, 100);
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

const qemuAlive = (root: string): boolean => {
  const pid = pidOf(root);
  return pid !== undefined && isProcessAlive(pid);
};

/** The `<job>` element of the domain's status file, if any. */
function statusJob(root: string): string {
  const f = join(root, "run", "qemu", `${NAME}.xml`);
  if (!existsSync(f)) return "";
  return /<job\b[^>]*>/.exec(readFileSync(f, "utf8"))?.[0] ?? "";
}

/** `virsh event --loop` for the guest's lifecycle events; `stop()` ends it (SIGINT) with its output. */
function watchEvents(virsh: string, uri: string, env: NodeJS.ProcessEnv): { stop(): Promise<string> } {
  const child = startArgv([virsh, "-c", uri, "event", "--event", "lifecycle", "--loop"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) =>
    child.once("close", () => {
      resolve();
    }),
  );
  return {
    async stop() {
      child.kill("SIGINT");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await closed;
      clearTimeout(t);
      return out;
    },
  };
}

test(
  "migration recovery: source or destination tvirtd killed mid-migration, broken post-copy resumed",
  { timeout: 180_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-migrec-"));
    const rootA = join(dir, "a");
    const rootB = join(dir, "b");
    const sockA = join(dir, "a.sock");
    const sockB = join(dir, "b.sock");
    const uriA = `qemu+unix:///system?socket=${sockA}`;
    const uriB = `qemu+unix:///system?socket=${sockB}`;
    const serial = join(dir, "serial.log");
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const daemons = new Map<string, DaemonProcess>();
    const startDaemon = async (root: string, sock: string): Promise<void> => {
      const d = await spawnDaemon(["--uri", `qemu:///embed?root=${root}`, "--listen", sock], [sock]);
      daemons.set(root, d);
    };
    const killDaemon = async (root: string): Promise<void> => {
      await daemons.get(root)?.stop("SIGKILL");
      daemons.delete(root);
    };
    const logs = (): string => [...daemons.values()].map((d) => d.stderr()).join("\n");
    const vsh = (uri: string, ...args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 90_000 });
    const tvsh = (uri: string, ...args: string[]) =>
      run(process.execPath, [tvirshBin, "-c", uri, ...args], { env, timeoutMs: 90_000 });
    const state = async (uri: string): Promise<string> => {
      const r = await vsh(uri, "domstate", "--reason", NAME);
      return r.code === 0 ? r.stdout.trim() : "(no domain)";
    };
    /** Waits for `fn` while `migrating` runs; a migration that ended first says why. */
    const whileMigrating = async (
      migrating: Promise<{ code: number | null; stderr: string }>,
      what: string,
      fn: () => boolean | Promise<boolean>,
      timeoutMs = 30_000,
    ): Promise<void> => {
      let ended: { code: number | null; stderr: string } | undefined;
      void migrating.then((res) => (ended = res));
      await waitFor(
        what,
        async () => {
          if (ended)
            throw new Error(`the migration ended (${ended.code}) before ${what}: ${ended.stderr}\n${logs()}`);
          return await fn();
        },
        timeoutMs,
      );
    };
    /**
     * Switches a running migration (1 MiB/s, so still in pre-copy) to post-copy with
     * `virsh migrate-postcopy` once the source's job runs, as an admin does.
     */
    const switchToPostcopy = async (
      migrating: Promise<{ code: number | null; stderr: string }>,
      src: string,
    ): Promise<void> => {
      await whileMigrating(migrating, "the migration job on the source", async () =>
        /Job type:\s+Unbounded/.test((await vsh(src, "domjobinfo", NAME)).stdout),
      );
      await new Promise((res) => setTimeout(res, 500));
      const r = await vsh(src, "migrate-postcopy", NAME);
      assert.equal(r.code, 0, `migrate-postcopy: ${r.stderr}`);
    };
    /** The guest runs on exactly one host, `on`, and its counter goes on. */
    const runsOnlyOn = async (on: "A" | "B", what: string): Promise<void> => {
      const [a, b] = [await state(uriA), await state(uriB)];
      const [mine, other] = on === "A" ? [a, b] : [b, a];
      assert.match(mine, /^running/, `${what}: A is '${a}', B is '${b}'`);
      assert.doesNotMatch(other, /^(running|paused)/, `${what}: A is '${a}', B is '${b}'`);
      assert.ok(!qemuAlive(on === "A" ? rootB : rootA), `${what}: a QEMU is left on the other host`);
      const now = lastCounter(serial);
      await waitFor(`the counter to go on (${what})`, () => lastCounter(serial) >= now + 2);
    };
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

      // 1. the source daemon dies while QEMU migrates (1 MiB/s): the job is in its status file;
      // the destination drops its incoming QEMU with the connection, the restarted source
      // cancels QEMU's migration and the guest goes on there
      const t1 = Date.now();
      let migrating = vsh(uriA, "migrate", "--live", "--p2p", "--bandwidth", "1", NAME, uriB);
      await whileMigrating(
        migrating,
        "phase perform3 in A's status file",
        () => /phase='perform3'/.test(statusJob(rootA)) && qemuAlive(rootB),
      );
      assert.match(statusJob(rootA), /async='migration out'/);
      assert.match(statusJob(rootB), /async='migration in' phase='prepare'/);
      await killDaemon(rootA);
      r = await migrating;
      assert.notEqual(r.code, 0, "virsh migrate succeeded through a killed source daemon");
      await startDaemon(rootA, sockA);
      await waitFor("the destination to drop its incoming QEMU", () => !qemuAlive(rootB));
      await runsOnlyOn("A", "source tvirtd killed");
      assert.equal(statusJob(rootA), "", "the recovered job is still recorded");
      assert.match(
        readFileSync(join(rootA, "log", "qemu", `${NAME}.log`), "utf8"),
        /recovering migration out job after a restart: phase 'perform3'/,
      );
      t.diagnostic(`source killed mid-migration, recovered: ${Date.now() - t1} ms`);

      // 2. the destination daemon dies mid-migration: the source sees the peer gone and cancels
      // (the guest never stops there); the restarted destination kills what is left of its QEMU
      const t2 = Date.now();
      migrating = vsh(uriA, "migrate", "--live", "--p2p", "--bandwidth", "1", NAME, uriB);
      await whileMigrating(
        migrating,
        "phase prepare in B's status file",
        () => /phase='prepare'/.test(statusJob(rootB)) && qemuAlive(rootB),
      );
      const pidB = pidOf(rootB)!;
      await killDaemon(rootB);
      r = await migrating;
      assert.notEqual(r.code, 0, "virsh migrate succeeded to a killed destination daemon");
      assert.match(r.stderr, /lost connection to destination host|connection|closed/i);
      await startDaemon(rootB, sockB);
      await waitFor("B's incoming QEMU to be gone", () => !isProcessAlive(pidB));
      await runsOnlyOn("A", "destination tvirtd killed");
      t.diagnostic(`destination killed mid-migration, recovered: ${Date.now() - t2} ms`);

      // 3. post-copy whose stream breaks: both sides paused (post-copy failed), nobody killed,
      // then --postcopy-resume completes it on B
      const t3 = Date.now();
      const eventsA = watchEvents(virsh, uriA, env);
      const eventsB = watchEvents(virsh, uriB, env);
      await new Promise((res) => setTimeout(res, 500));
      migrating = tvsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--postcopy",
        "--bandwidth",
        "1",
        "--postcopy-bandwidth",
        "1",
        NAME,
        uriB,
      );
      await switchToPostcopy(migrating, uriA);
      await whileMigrating(
        migrating,
        "post-copy to run on B",
        async () => (await state(uriB)) === "running (post-copy)",
        // under TCG the switch can stall B's monitor while the first missing pages trickle in
        60_000,
      );
      // let the guest's working set come over first: under TCG a vCPU that faults on a missing
      // page while it holds QEMU's big lock (interrupt delivery) stalls B's monitor until the
      // page arrives, and a paused post-copy never sends it
      await new Promise((res) => setTimeout(res, 3000));
      r = await vsh(uriA, "domjobabort", "--postcopy", NAME);
      assert.equal(r.code, 0, r.stderr);
      r = await migrating;
      assert.notEqual(r.code, 0, "a broken post-copy migration reported success");
      t.diagnostic(`broken post-copy: ${r.stderr.trim()}`);
      assert.equal(await state(uriA), "paused (post-copy failed)");
      assert.equal(await state(uriB), "paused (post-copy failed)");
      assert.ok(qemuAlive(rootA) && qemuAlive(rootB), "a side of a broken post-copy was killed");
      assert.match(statusJob(rootA), /phase='postcopy_failed'/);
      assert.match(statusJob(rootB), /phase='postcopy_failed'/);

      r = await vsh(uriA, "migrate", "--live", "--postcopy", "--postcopy-resume", "--p2p", NAME, uriB);
      assert.equal(r.code, 0, `--postcopy-resume failed: ${r.stderr}\n${logs()}`);
      await waitFor("A's QEMU to stop", () => !qemuAlive(rootA));
      assert.equal(await state(uriB), "running (migrated)");
      await runsOnlyOn("B", "post-copy resumed");
      t.diagnostic(`post-copy broken and resumed: ${Date.now() - t3} ms`);
      const [evA, evB] = [await eventsA.stop(), await eventsB.stop()];
      assert.match(evA, /Suspended Post-copy Error/, evA);
      assert.match(evB, /Suspended Post-copy Error/, evB);
      assert.match(evB, /Resumed Post-copy/, evB);
      assert.match(evA, /Stopped Migrated/, evA);

      // 4. the same back B → A, broken with tvirsh, resumed by stock virsh driving the five
      // phases itself (client-driven, no --p2p)
      const t4 = Date.now();
      migrating = tvsh(
        uriB,
        "migrate",
        "--live",
        "--p2p",
        "--postcopy",
        "--bandwidth",
        "1",
        "--postcopy-bandwidth",
        "1",
        NAME,
        uriA,
      );
      await switchToPostcopy(migrating, uriB);
      await whileMigrating(
        migrating,
        "post-copy to run on A",
        async () => (await state(uriA)) === "running (post-copy)",
        // under TCG the switch can stall B's monitor while the first missing pages trickle in
        60_000,
      );
      await new Promise((res) => setTimeout(res, 3000));
      r = await tvsh(uriB, "domjobabort", "--postcopy", NAME);
      assert.equal(r.code, 0, r.stderr);
      r = await migrating;
      assert.notEqual(r.code, 0, "a broken post-copy migration reported success");
      assert.equal(await state(uriA), "paused (post-copy failed)");
      assert.equal(await state(uriB), "paused (post-copy failed)");
      r = await vsh(uriB, "migrate", "--live", "--postcopy", "--postcopy-resume", NAME, uriA);
      assert.equal(r.code, 0, `client-driven --postcopy-resume failed: ${r.stderr}\n${logs()}`);
      await waitFor("B's QEMU to stop", () => !qemuAlive(rootB));
      await runsOnlyOn("A", "post-copy resumed, client-driven");
      t.diagnostic(`post-copy B→A broken and resumed (client-driven): ${Date.now() - t4} ms`);

      // 5. the destination daemon dies in post-copy: its QEMU runs the guest and still fetches
      // pages, so the source serves them until QEMU completes and then stops (never resumes);
      // the restarted destination keeps the guest (phase finish3, running)
      const t5 = Date.now();
      migrating = tvsh(
        uriA,
        "migrate",
        "--live",
        "--p2p",
        "--postcopy",
        "--bandwidth",
        "1",
        "--postcopy-bandwidth",
        "1",
        NAME,
        uriB,
      );
      await switchToPostcopy(migrating, uriA);
      await whileMigrating(
        migrating,
        "post-copy to run on B",
        async () => (await state(uriB)) === "running (post-copy)",
        // under TCG the switch can stall B's monitor while the first missing pages trickle in
        60_000,
      );
      assert.match(statusJob(rootB), /phase='finish3'/);
      await killDaemon(rootB);
      // lift the post-copy limit so QEMU completes quickly (a query job beside the migration)
      r = await vsh(uriA, "migrate-setspeed", "--postcopy", NAME, "0");
      assert.equal(r.code, 0, r.stderr);
      r = await migrating;
      await waitFor("A's QEMU to stop after post-copy completed", () => !qemuAlive(rootA));
      assert.ok(qemuAlive(rootB), "B's QEMU died with its daemon");
      await startDaemon(rootB, sockB);
      await waitFor("B to report the guest running", async () => /^running/.test(await state(uriB)));
      await runsOnlyOn("B", "destination tvirtd killed in post-copy");
      assert.equal(statusJob(rootB), "", "the recovered job is still recorded on B");
      t.diagnostic(`destination killed in post-copy, recovered: ${Date.now() - t5} ms`);

      // nothing to resume: libvirt's error, the guest untouched
      r = await vsh(uriB, "migrate", "--live", "--postcopy", "--postcopy-resume", "--p2p", NAME, uriA);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Requested operation is not valid: domain 'migrec' is not being migrated/);
      for (const cli of [vsh, tvsh]) {
        r = await cli(uriB, "migrate", "--live", "--postcopy-resume", "--p2p", NAME, uriA);
        assert.equal(r.stderr, "error: Option --postcopy is required by option --postcopy-resume\n");
      }
      assert.equal(await state(uriB), "running (migrated)");
    } finally {
      for (const root of [rootA, rootB]) {
        const pid = pidOf(root);
        if (pid !== undefined && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
      }
      for (const d of daemons.values()) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
