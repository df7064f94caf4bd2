/**
 * tvirtd killed with SIGKILL while three real TCG guests run (one of them paused) and two
 * clients are connected (tvirt's remote driver in this process, and a python3-libvirt process):
 * both clients see the connection drop with libvirt's end-of-file error; the restarted daemon
 * lists the three guests with the same ids and states (running, paused, running), the clients
 * reconnect and see the same, the guests' counters went on counting (no reboot), and nothing was
 * lost on disk (definitions, the autostart link, the status files) or in the live XML.
 *
 * The daemon serves `qemu:///session` with HOME and the XDG dirs in a temp dir (as root too),
 * as in `src/rpc/guest-interop.test.ts`, so every file of the driver is under it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { connect, type Connection } from "../api/index.ts";
import "../rpc/register.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  spawnDaemon,
  type DaemonProcess,
} from "../testing/rpc/harness.ts";
import { isProcessAlive } from "../util/spawn.ts";
import { VirErrorNumber } from "../util/errors/index.ts";
import { guestDomainXML, testGuestOrSkip, lastCounter as counter, waitFor } from "../testing/guest/index.ts";

/** A python3-libvirt client driven line by line on stdin; answers one JSON line per command. */
const PY_CLIENT = `
import json, sys, time
import libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
uri = sys.argv[1]

def listing(conn):
    out = []
    for d in conn.listAllDomains():
        st, reason = d.state()
        out.append({"name": d.name(), "id": d.ID(), "state": st, "reason": reason,
                    "autostart": d.autostart()})
    return sorted(out, key=lambda x: x["name"])

conn = libvirt.open(uri)
print(json.dumps({"domains": listing(conn)}), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "probe":
        try:
            print(json.dumps({"domains": listing(conn)}), flush=True)
        except libvirt.libvirtError as e:
            print(json.dumps({"error": e.get_error_message(), "code": e.get_error_code(),
                              "domain": e.get_error_domain(), "alive": conn.isAlive()}), flush=True)
    elif cmd == "reopen":
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
        deadline = time.time() + 30
        while True:
            try:
                conn = libvirt.open(uri)
                break
            except libvirt.libvirtError as e:
                if time.time() > deadline:
                    print(json.dumps({"error": e.get_error_message()}), flush=True)
                    sys.exit(1)
                time.sleep(0.2)
        print(json.dumps({"domains": listing(conn)}), flush=True)
    elif cmd == "quit":
        conn.close()
        break
`;

interface PyDomain {
  name: string;
  id: number;
  state: number;
  reason: number;
  autostart: number;
}
interface PyAnswer {
  domains?: PyDomain[];
  error?: string;
  code?: number;
  domain?: number;
  alive?: number;
}

/** The python client as a child: `ask(cmd)` writes a line and resolves with the answer. */
function pythonClient(
  python: string,
  uri: string,
): { ready: Promise<PyAnswer>; ask(cmd: string): Promise<PyAnswer>; kill(): void; stderr(): string } {
  const child = spawn(python, ["-c", PY_CLIENT, uri], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const waiting: { resolve(a: PyAnswer): void; reject(e: Error): void }[] = [];
  lines.on("line", (l) => {
    waiting.shift()?.resolve(JSON.parse(l) as PyAnswer);
  });
  child.once("exit", (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`python client exited (${code}): ${err}`));
  });
  const next = (): Promise<PyAnswer> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`python client did not answer within 60 s: ${err}`));
      }, 60_000);
      waiting.push({
        resolve: (a) => {
          clearTimeout(t);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  return {
    ready: next(),
    ask(cmd: string) {
      const p = next();
      child.stdin.write(`${cmd}\n`);
      return p;
    },
    kill() {
      child.kill("SIGKILL");
    },
    stderr: () => err,
  };
}

const alive = (pid: number): boolean => isProcessAlive(pid);

const NAMES = ["sk1", "sk2", "sk3"] as const;

test(
  "SIGKILL of tvirtd with 3 guests (running, paused, running) and 2 clients: nothing is lost",
  { timeout: 400_000 },
  async (t) => {
    const python = pythonLibvirtOrSkip(t);
    if (!python) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-sigkill-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const configDir = join(dir, "config", "tvirt", "qemu");
    const stateDir = join(dir, "run", "tvirt", "qemu");
    const serial = (n: string): string => join(dir, `${n}.serial`);

    const daemons: DaemonProcess[] = [];
    const qemuPids = new Set<number>();
    const conns: Connection[] = [];
    let py: ReturnType<typeof pythonClient> | undefined;
    const startDaemon = async (): Promise<DaemonProcess> => {
      const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
        env: daemonEnv,
      });
      daemons.push(d);
      return d;
    };
    const qemuPid = (n: string): number => Number(readFileSync(join(stateDir, `${n}.pid`), "utf8").trim());
    /** Files of the driver that must survive: name → contents. */
    const snapshotFiles = (): Map<string, string> => {
      const m = new Map<string, string>();
      for (const f of readdirSync(configDir))
        if (f.endsWith(".xml")) m.set(`config/${f}`, readFileSync(join(configDir, f), "utf8"));
      for (const f of readdirSync(join(configDir, "autostart"))) m.set(`autostart/${f}`, "");
      for (const f of readdirSync(stateDir)) if (/\.(xml|pid)$/.test(f)) m.set(`run/${f}`, "");
      return m;
    };

    try {
      let daemon = await startDaemon();
      const c1 = await connect(uri);
      conns.push(c1);
      for (const n of NAMES) {
        const d = await c1.defineXML(
          guestDomainXML({
            name: n,
            mode: "counter",
            kernel: guest.kernel,
            initrd: guest.initrd,
            serialLogPath: serial(n),
          }),
        );
        await d.create();
        qemuPids.add(qemuPid(n));
      }
      await (await c1.lookupDomainByName("sk1")).setAutostart(true);
      // every guest booted and counts before sk2 is paused
      for (const n of NAMES) await waitFor(() => counter(serial(n)) >= 1, 120_000, `${n} to count`);
      await (await c1.lookupDomainByName("sk2")).suspend();

      const before = new Map<
        string,
        { id: number; state: number; reason: number; xml: string; inactive: string }
      >();
      for (const n of NAMES) {
        const d = await c1.lookupDomainByName(n);
        const s = await d.getState();
        before.set(n, {
          id: d.id,
          state: s.state,
          reason: s.reason,
          xml: await d.getXMLDesc(),
          inactive: await d.getXMLDesc(2), // VIR_DOMAIN_XML_INACTIVE
        });
      }
      assert.deepEqual(
        NAMES.map((n) => [before.get(n)!.state, before.get(n)!.reason]),
        [
          [1, 1], // running (booted)
          [3, 1], // paused (user)
          [1, 1],
        ],
      );
      const pids = new Map(NAMES.map((n) => [n, qemuPid(n)]));
      const files = snapshotFiles();
      assert.ok(files.has("autostart/sk1.xml"), [...files.keys()].join(" "));
      for (const n of NAMES) {
        assert.ok(files.has(`config/${n}.xml`), `config of ${n}`);
        assert.ok(files.has(`run/${n}.xml`), `status of ${n}`);
      }

      // the second client: python3-libvirt, sees the same
      py = pythonClient(python, uri);
      const pyBefore = await py.ready;
      assert.deepEqual(
        pyBefore.domains?.map((d) => [d.name, d.id, d.state, d.reason, d.autostart]),
        NAMES.map((n) => [
          n,
          before.get(n)!.id,
          before.get(n)!.state,
          before.get(n)!.reason,
          n === "sk1" ? 1 : 0,
        ]),
      );

      const pausedAt = counter(serial("sk2"));
      const counts = new Map(NAMES.map((n) => [n, counter(serial(n))]));

      // ---- SIGKILL ----
      assert.equal(await daemon.stop("SIGKILL"), null);
      for (const [n, pid] of pids) assert.ok(alive(pid), `QEMU of ${n} (pid ${pid}) survives the daemon`);

      // both clients see the connection drop, with libvirt's end-of-file error
      await waitFor(() => !existsSync(`/proc/${daemon.pid}`), 10_000, "the daemon to be gone");
      await assert.rejects(c1.listAllDomains(), (e: Error) => {
        assert.match(e.message, /^End of file while reading data: Input\/output error$/);
        return true;
      });
      assert.equal(await c1.isAlive(), false);
      const pyDrop = await py.ask("probe");
      assert.equal(pyDrop.domains, undefined, "python still listed domains through a dead daemon");
      assert.match(pyDrop.error ?? "", /End of file while reading data|Cannot (recv|write) data/);
      assert.equal(pyDrop.code, VirErrorNumber.SYSTEM_ERROR); // libvirt's code for a dropped socket
      assert.equal(pyDrop.alive, 0);
      t.diagnostic(`python3-libvirt after the SIGKILL: ${pyDrop.error ?? ""}`);

      // the guests keep counting with no daemon
      await waitFor(
        () => counter(serial("sk1")) > counts.get("sk1")! && counter(serial("sk3")) > counts.get("sk3")!,
        60_000,
        "sk1 and sk3 to count on without the daemon",
      );

      // ---- restart ----
      daemon = await startDaemon();
      const c2 = await connect(uri);
      conns.push(c2);
      const after = await c2.listAllDomains();
      assert.deepEqual(
        after.map((d) => [d.name, d.id]),
        NAMES.map((n) => [n, before.get(n)!.id]),
      );
      for (const n of NAMES) {
        const d = await c2.lookupDomainByName(n);
        const s = await d.getState();
        const b = before.get(n)!;
        assert.deepEqual([s.state, s.reason], [b.state, b.reason], `state of ${n}`);
        assert.equal(await d.getAutostart(), n === "sk1", `autostart of ${n}`);
        assert.equal(await d.getXMLDesc(), b.xml, `live XML of ${n}`);
        assert.equal(await d.getXMLDesc(2), b.inactive, `inactive XML of ${n}`);
        assert.equal(qemuPid(n), pids.get(n), `same QEMU for ${n}`);
        assert.ok(alive(pids.get(n)!));
      }
      assert.deepEqual([...snapshotFiles().keys()].sort(), [...files.keys()].sort(), "files on disk");
      for (const [k, v] of files)
        if (k.startsWith("config/")) assert.equal(readFileSync(join(configDir, k.slice(7)), "utf8"), v, k);

      const pyAfter = await py.ask("reopen");
      assert.deepEqual(pyAfter.domains, pyBefore.domains, "python sees the same after reconnecting");

      // the guests were not restarted: counters went on (one boot each), sk2 stayed paused
      for (const n of NAMES) {
        const log = readFileSync(serial(n), "utf8");
        assert.equal(log.match(/GUEST-BOOTED/g)?.length, 1, `${n} booted once`);
      }
      assert.ok(counter(serial("sk2")) <= pausedAt + 1, "sk2 counted while paused");
      const c1Now = counter(serial("sk1"));
      await waitFor(() => counter(serial("sk1")) > c1Now, 60_000, "sk1 to count through the new daemon");
      // the restarted daemon controls them: resume sk2, its counter goes on from where it was
      await (await c2.lookupDomainByName("sk2")).resume();
      await waitFor(() => counter(serial("sk2")) > pausedAt + 1, 60_000, "sk2 to count after resume");
      assert.equal(readFileSync(serial("sk2"), "utf8").match(/GUEST-BOOTED/g)?.length, 1);

      // clean up through the daemon: destroy and undefine, no status file left
      for (const n of NAMES) {
        const d = await c2.lookupDomainByName(n);
        await d.destroy();
        await d.undefine();
        assert.equal(existsSync(join(stateDir, `${n}.xml`)), false, `status file of ${n} left`);
      }
      for (const [n, pid] of pids) await waitFor(() => !alive(pid), 10_000, `QEMU of ${n} to exit`);
      assert.deepEqual((await py.ask("probe")).domains, []);
      await py.ask("quit").catch(() => undefined);
    } finally {
      py?.kill();
      for (const c of conns) await c.close().catch(() => undefined);
      for (const pid of qemuPids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
