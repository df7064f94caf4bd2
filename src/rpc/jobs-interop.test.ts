/**
 * Stock virsh 9.0 and python3-libvirt against tvirtd on the tiny TCG guest: the job procedures
 * on the wire (DOMAIN_GET_JOB_STATS, GET_JOB_INFO, ABORT_JOB(_FLAGS), MIGRATE_SET/GET_MAX_DOWNTIME,
 * SET/GET_MAX_SPEED, SET/GET_COMPRESSION_CACHE) and the JOB_COMPLETED callback event of a
 * managed save, each answer compared with tvirsh through the same daemon.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";

const NAME = "jobsi";
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

/** python3-libvirt: jobInfo (GET_JOB_INFO, which virsh only uses as a fallback) and abortJob. */
const PY = `
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
out = {"jobInfo": dom.jobInfo(), "jobStats": dom.jobStats()}
try:
    dom.abortJob()
    out["abort"] = None
except libvirt.libvirtError as e:
    out["abort"] = [e.get_error_code(), str(e)]
print(json.dumps(out))
`;

test(
  "stock virsh and python3-libvirt control jobs of a real guest through tvirtd",
  { timeout: 240_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const python = pythonLibvirtOrSkip(t);
    if (!python) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-jobs-interop-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const serial = join(dir, "serial.log");
    const xmlPath = join(dir, `${NAME}.xml`);
    writeFileSync(
      xmlPath,
      guestDomainXML({
        name: NAME,
        mode: "counter",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: serial,
      }),
    );
    const daemons: DaemonProcess[] = [];
    let qemuPid = 0;
    const opts = { env, timeoutMs: 60_000, stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };
    const v = (args: string[]): Promise<RunResult> => run(virsh, ["-c", uri, ...args], opts);
    const tv = (args: string[]): Promise<RunResult> =>
      run(process.execPath, [tvirshBin, "-c", uri, ...args], opts);
    const same = async (args: string[], want: Partial<RunResult>): Promise<void> => {
      const a = await v(args);
      const b = await tv(args);
      assert.deepEqual(
        { code: a.code, stdout: a.stdout, stderr: a.stderr },
        { code: b.code, stdout: b.stdout, stderr: b.stderr },
        `virsh and tvirsh ${args.join(" ")}`,
      );
      for (const [k, val] of Object.entries(want))
        assert.equal(a[k as keyof RunResult], val, `${k} of virsh ${args.join(" ")}`);
    };
    try {
      daemons.push(
        await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
          env: daemonEnv,
        }),
      );
      assert.equal((await v(["define", xmlPath])).code, 0);
      assert.equal((await v(["start", NAME])).code, 0);
      qemuPid = Number(readFileSync(pidFile, "utf8").trim());

      await same(["domjobinfo", NAME], { code: 0, stdout: "Job type:         None        \n\n" });
      await same(["domjobabort", NAME], {
        code: 1,
        stderr: "error: Requested operation is not valid: no job is active on the domain\n",
      });
      await same(["domjobabort", NAME, "--postcopy"], {
        code: 1,
        stderr: "error: Requested operation is not valid: no job is active on the domain\n",
      });
      // nobody set a speed: QEMU's default, which tvirt keeps (libvirt would say unlimited)
      await same(["migrate-getspeed", NAME], { code: 0, stdout: "128\n\n" });
      assert.equal((await v(["migrate-setspeed", NAME, "100"])).code, 0);
      await same(["migrate-getspeed", NAME], { code: 0, stdout: "100\n\n" });
      assert.equal((await v(["migrate-setmaxdowntime", NAME, "123"])).code, 0);
      await same(["migrate-getmaxdowntime", NAME], { code: 0, stdout: "123\n\n" });
      await same(["migrate-compcache", NAME, "--size", "2097152"], {
        code: 0,
        stdout: "Compression cache: 2.000 MiB\n",
      });
      await same(["migrate-setspeed", NAME, "99999999999999"], {
        code: 1,
        stderr: "error: numerical overflow: bandwidth must be less than 8796093022208\n",
      });

      const py = await run(python, ["-c", PY, uri, NAME], opts);
      assert.equal(py.code, 0, py.stderr);
      const out = JSON.parse(py.stdout) as {
        jobInfo: number[];
        jobStats: Record<string, unknown>;
        abort: [number, string];
      };
      assert.deepEqual(out.jobInfo, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(out.jobStats, { type: 0 });
      assert.deepEqual(out.abort, [55, "Requested operation is not valid: no job is active on the domain"]);

      // a managed save completes: virsh sees JOB_COMPLETED with the statistics, and --completed
      const ev = run(
        virsh,
        ["-c", uri, "event", "--domain", NAME, "--event", "job-completed", "--timeout", "60"],
        opts,
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await v(["managedsave", NAME])).code, 0);
      const got = await ev;
      assert.match(got.stdout, /event 'job-completed' for domain '?jobsi'?:?/);
      assert.match(got.stdout, /operation: 2\n/);
      assert.match(got.stdout, /memory_processed: [1-9]\d*\n/);
      const done = await v(["domjobinfo", NAME, "--completed", "--keep-completed"]);
      assert.match(
        done.stdout,
        /^Job type: {9}Completed {3}\nOperation: {8}Save {8}\nTime elapsed: {5}\d+ +ms\n/,
      );
      assert.equal(
        (await tv(["domjobinfo", NAME, "--completed"])).stdout.split("\n")[0],
        "Job type:         Completed   ",
      );
      await same(["domjobinfo", NAME, "--completed"], {
        code: 0,
        stdout: "Job type:         None        \n\n",
      });
    } finally {
      if (qemuPid > 0) {
        try {
          process.kill(qemuPid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
