/**
 * `tvirt-guests` (bin/tvirt-guests.js) against a private tvirtd with real TCG guests: a clean
 * host shutdown and boot. `stop` (ON_SHUTDOWN=suspend) records the running guests and
 * managed-saves them; after a daemon restart `start` brings them back, and the counter guest
 * goes on counting from where it was (no second boot). Then ON_SHUTDOWN=shutdown with
 * PARALLEL_SHUTDOWN and SHUTDOWN_TIMEOUT: the guest that handles the ACPI power button powers
 * off, the counter guest (which ignores it) is reported after the timeout and left running.
 * ON_BOOT=ignore starts nothing. Settings come from a defaults file and the environment.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { connect, type Connection } from "../api/index.ts";
import "../rpc/register.ts";
import { privateSession, spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";
import { guestDomainXML, testGuestOrSkip, lastCounter as counter, waitFor } from "../testing/guest/index.ts";
import { parseDefaultsFile, parseRecord, resolveSettings } from "./guests.ts";

const guestsBin = fileURLToPath(new URL("../../bin/tvirt-guests.js", import.meta.url));

function runGuests(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [guestsBin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

test("settings: the defaults file, the environment winning, bad values named", () => {
  const file = parseDefaultsFile(
    "# comment\nON_SHUTDOWN=shutdown\nSHUTDOWN_TIMEOUT=\"60\"  # a minute\nexport URIS='qemu:///system test:///default'\n",
    "f",
  );
  const s = resolveSettings(file, { SHUTDOWN_TIMEOUT: "5" });
  assert.deepEqual(s, {
    uris: ["qemu:///system", "test:///default"],
    onBoot: "start",
    startDelay: 0,
    onShutdown: "shutdown",
    parallelShutdown: 0,
    shutdownTimeout: 5,
    bypassCache: false,
  });
  assert.deepEqual(resolveSettings(new Map(), {}).uris, ["default"]);
  assert.deepEqual(resolveSettings(new Map(), {}).onShutdown, "suspend");
  assert.throws(() => resolveSettings(new Map([["ON_BOOT", "maybe"]]), {}, "/etc/default/tvirt-guests"), {
    code: "DAEMON_CONFIG_VALUE",
    message:
      "configuration file syntax error: /etc/default/tvirt-guests: ON_BOOT: 'maybe': expected one of start, ignore",
  });
  assert.throws(() => resolveSettings(new Map(), { PARALLEL_SHUTDOWN: "-1" }), {
    code: "DAEMON_CONFIG_VALUE",
    message:
      "configuration file syntax error: the environment: PARALLEL_SHUTDOWN: '-1': expected a number of 0 or more",
  });
  assert.throws(() => parseDefaultsFile("just words\n", "/etc/default/tvirt-guests"), {
    code: "DAEMON_CONFIG",
    message:
      "configuration file syntax error: /etc/default/tvirt-guests:1: expected KEY=value, got 'just words'",
  });
  assert.deepEqual(
    [...parseRecord("a u1 u2\nb\n")],
    [
      ["a", ["u1", "u2"]],
      ["b", []],
    ],
  );
});

test(
  "tvirt-guests stop/start: managed save and restore (the counter goes on), shutdown with a timeout",
  { timeout: 400_000 },
  async (t) => {
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-guests-"));
    const { sock, uri, env } = privateSession(dir);
    const serial = (n: string): string => join(dir, `${n}.serial`);
    const stateFile = join(dir, "lib", "tvirt-guests");
    const config = join(dir, "tvirt-guests.defaults");
    writeFileSync(config, `URIS=${uri}\nON_SHUTDOWN=suspend\n`);
    const genv: NodeJS.ProcessEnv = {
      ...process.env,
      TVIRT_GUESTS_CONFIG: config,
      TVIRT_GUESTS_STATE: stateFile,
    };
    const daemons: DaemonProcess[] = [];
    const conns: Connection[] = [];
    const startDaemon = async (): Promise<DaemonProcess> => {
      const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
        env,
      });
      daemons.push(d);
      return d;
    };
    const pids = new Set<number>();
    const stateDir = join(dir, "run", "tvirt", "qemu");
    const notePid = (n: string): void => {
      pids.add(Number(readFileSync(join(stateDir, `${n}.pid`), "utf8").trim()));
    };
    try {
      let daemon = await startDaemon();
      let c = await connect(uri);
      conns.push(c);
      // cnt: counts on its serial console, ignores the power button; idl: powers off on it;
      // off: defined, not running (not recorded, not started)
      for (const [n, mode] of [
        ["cnt", "counter"],
        ["idl", "idle"],
        ["off", "idle"],
      ] as const) {
        const d = await c.defineXML(
          guestDomainXML({
            name: n,
            mode,
            kernel: guest.kernel,
            initrd: guest.initrd,
            serialLogPath: serial(n),
          }),
        );
        if (n !== "off") {
          await d.create();
          notePid(n);
        }
      }
      // tmp: a transient guest (no managed save for it: suspend mode shuts it down)
      await c.createXML(
        guestDomainXML({
          name: "tmp",
          mode: "idle",
          kernel: guest.kernel,
          initrd: guest.initrd,
          serialLogPath: serial("tmp"),
        }),
      );
      notePid("tmp");
      await waitFor(() => counter(serial("cnt")) >= 2, 120_000, "cnt to count");
      for (const n of ["idl", "tmp"])
        await waitFor(
          () => readFileSync(serial(n), "utf8").includes("TVIRT-GUEST-READY mode=idle"),
          120_000,
          `${n} to listen to the power button`,
        );
      const uuids = new Map<string, string>();
      for (const n of ["cnt", "idl", "off"]) uuids.set(n, (await c.lookupDomainByName(n)).uuid);

      // ---- host shutdown: suspend ----
      const stop = await runGuests(["stop"], genv);
      t.diagnostic(`stop (suspend) took ${stop.ms} ms`);
      assert.equal(stop.code, 0, stop.stderr + stop.stdout);
      assert.match(stop.stdout, /Running guests on .* URI: cnt, idl, tmp\n/);
      assert.match(stop.stdout, /Suspending cnt .*\nDone suspending cnt\./);
      assert.match(stop.stdout, /Shutting down guest tmp .*\nShutdown of guest tmp complete\./);
      assert.deepEqual(
        (await c.listAllDomains()).map((d) => d.name).sort(),
        ["cnt", "idl", "off"],
        "tmp is gone",
      );
      assert.deepEqual(
        [...parseRecord(readFileSync(stateFile, "utf8"))].map(([u, ids]) => [u, [...ids].sort()]),
        [[uri, [uuids.get("cnt")!, uuids.get("idl")!].sort()]],
      );
      const savedAt = counter(serial("cnt"));
      for (const n of ["cnt", "idl"]) {
        const d = await c.lookupDomainByName(n);
        assert.equal((await d.getState()).state, 5, `${n} is off`);
        assert.equal(await d.hasManagedSaveImage(), true, `${n} has a managed save image`);
      }
      // the daemon goes down with the host (its guests are saved); the boot clears the run dir
      // (XDG_RUNTIME_DIR here, /run for the system instance); the managed save images stay
      await c.close();
      assert.equal(await daemon.stop(), 0);
      rmSync(join(dir, "run"), { recursive: true, force: true });
      daemon = await startDaemon();
      c = await connect(uri);
      conns.push(c);

      // ---- boot: start ----
      const start = await runGuests(["start"], genv);
      t.diagnostic(`start took ${start.ms} ms`);
      assert.equal(start.code, 0, start.stderr + start.stdout);
      assert.match(start.stdout, /Resuming guest cnt from its managed save image: \ndone/);
      assert.equal(existsSync(stateFile), false, "the record is removed by start");
      for (const n of ["cnt", "idl"]) {
        assert.equal((await (await c.lookupDomainByName(n)).getState()).state, 1, `${n} runs again`);
        notePid(n);
      }
      assert.equal((await (await c.lookupDomainByName("off")).getState()).state, 5, "off stays off");
      await waitFor(() => counter(serial("cnt")) > savedAt + 1, 60_000, "cnt to count on");
      // QEMU opens the serial file anew (truncated) at the restore: what is there was printed
      // after it, and a boot would print GUEST-BOOTED and count from 1 again
      const log = readFileSync(serial("cnt"), "utf8");
      assert.equal(
        log.match(/GUEST-BOOTED/g),
        null,
        `cnt was restored, not booted again: ${log.slice(0, 200)}`,
      );
      const after = [...log.matchAll(/COUNTER (\d+)/g)].map((m) => Number(m[1]));
      assert.equal(
        after[0],
        savedAt + 1,
        `the counter was at ${savedAt} when saved, then: ${after.join(" ")}`,
      );

      // a second start has nothing recorded
      const again = await runGuests(["start"], genv);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /nothing to start/);

      // ---- host shutdown: shutdown, 2 at once, 8 s for both ----
      const sd = await runGuests(["stop"], {
        ...genv,
        ON_SHUTDOWN: "shutdown",
        PARALLEL_SHUTDOWN: "2",
        SHUTDOWN_TIMEOUT: "8",
      });
      t.diagnostic(`stop (shutdown) took ${sd.ms} ms`);
      assert.equal(sd.code, 1, "a guest did not shut down in time");
      assert.match(sd.stdout, /Shutdown of guest idl complete\./);
      assert.match(sd.stderr, /Timeout expired while shutting down guest cnt \(8 s\): it keeps running/);
      assert.ok(sd.ms >= 8000 && sd.ms < 60_000, `waited ${sd.ms} ms`);
      assert.equal((await (await c.lookupDomainByName("idl")).getState()).state, 5);
      assert.equal((await (await c.lookupDomainByName("cnt")).getState()).state, 1, "cnt left running");
      assert.equal(await (await c.lookupDomainByName("idl")).hasManagedSaveImage(), false);
      await (await c.lookupDomainByName("cnt")).destroy();

      // ON_BOOT=ignore: nothing starts, the record goes
      const ign = await runGuests(["start"], { ...genv, ON_BOOT: "ignore" });
      assert.equal(ign.code, 0, ign.stderr);
      assert.match(ign.stdout, /not to start any guests/);
      assert.equal(existsSync(stateFile), false);
      for (const n of ["cnt", "idl"])
        assert.equal((await (await c.lookupDomainByName(n)).getState()).state, 5);

      const st = await runGuests(["status"], genv);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /Running guests on .* URI: none\nNo guests recorded\./);
      const bad = await runGuests(["reboot"], genv);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /unknown action 'reboot' \(expected start, stop or status\)/);
      for (const n of ["cnt", "idl", "off"]) await (await c.lookupDomainByName(n)).undefine();
    } finally {
      for (const x of conns) await x.close().catch(() => undefined);
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
