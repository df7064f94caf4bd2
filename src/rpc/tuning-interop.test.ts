/**
 * Stock virsh 9.0 against tvirtd on the tiny TCG guest (virtio balloon, raw disk): setmem,
 * setvcpus, vcpucount, dommemstat, domblkstat, domstats, qemu-monitor-command --return-value,
 * qemu-monitor-event and the taint message in dominfo, each compared with tvirsh through the
 * same daemon where the output is deterministic.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import {
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
  privateSession,
} from "../testing/rpc/harness.ts";

/** python3-libvirt: the procedures virsh does not use here (legacy block stats, interface stats...). */
const PY = `
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
out = {}
out["blockStats"] = list(dom.blockStats("vda"))
out["blockStatsFlags"] = dom.blockStatsFlags("vda")
out["memoryStats"] = dom.memoryStats()
out["vcpusFlags"] = [dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE), dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)]
out["maxVcpus"] = dom.maxVcpus()
dom.setMemoryStatsPeriod(3, libvirt.VIR_DOMAIN_AFFECT_LIVE)
stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_BALLOON)
out["allStats"] = [[d.name(), s] for d, s in stats]
out["listStats"] = [[d.name(), s] for d, s in conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_VCPU)]
try:
    dom.interfaceStats("vnet77")
    out["ifaceError"] = None
except libvirt.libvirtError as e:
    out["ifaceError"] = [e.get_error_code(), str(e)]
try:
    dom.setMemory(0)
    out["zeroError"] = None
except libvirt.libvirtError as e:
    out["zeroError"] = [e.get_error_code(), str(e)]
print(json.dumps(out))
`;

const NAME = "tunei";
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

test(
  "stock virsh tunes and reads statistics of a real guest through tvirtd",
  { timeout: 240_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-tuning-interop-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const serial = join(dir, "serial.log");
    const disk = join(dir, "disk.raw");
    writeFileSync(disk, Buffer.alloc(1024 * 1024));
    const xmlPath = join(dir, `${NAME}.xml`);
    writeFileSync(
      xmlPath,
      guestDomainXML({
        name: NAME,
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: serial,
        vcpus: 2,
        vcpusCurrent: 1,
        balloon: true,
        balloonPeriod: 1,
        extraDevicesXML: [
          `    <disk type='file' device='disk'>`,
          `      <driver name='qemu' type='raw'/>`,
          `      <source file='${disk}'/>`,
          `      <target dev='vda' bus='virtio'/>`,
          `    </disk>`,
        ].join("\n"),
      }),
    );

    const daemons: DaemonProcess[] = [];
    let qemuPid = 0;
    const v = async (args: string[], ok = true): Promise<RunResult> => {
      const r = await run(virsh, ["-c", uri, ...args], {
        env,
        timeoutMs: 60_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (ok) assert.equal(r.code, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    const tv = async (args: string[]): Promise<RunResult> =>
      run(process.execPath, [tvirshBin, "-c", uri, ...args], {
        env,
        timeoutMs: 60_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
    const until = async (check: () => Promise<boolean>, ms: number, what: string): Promise<void> => {
      const end = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    try {
      daemons.push(
        await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
          env: daemonEnv,
        }),
      );
      await v(["define", xmlPath]);
      await v(["start", NAME]);
      qemuPid = Number(readFileSync(pidFile, "utf8").trim());
      await until(
        () => Promise.resolve(/TVIRT-GUEST-READY/.test(readFileSync(serial, "utf8"))),
        120_000,
        "guest",
      );

      // dommemstat: balloon statistics once the guest reports them
      await until(
        async () => /^available \d+$/m.test((await v(["dommemstat", NAME])).stdout),
        90_000,
        "balloon statistics",
      );
      // setmem (DOMAIN_SET_MEMORY / _FLAGS), then the balloon follows
      assert.equal((await v(["setmem", NAME, "96M"])).stdout, "\n");
      await until(
        async () => /^actual 98304$/m.test((await v(["dommemstat", NAME])).stdout),
        60_000,
        "balloon at 96 MiB",
      );
      // the live definition follows QEMU's (rate-limited) BALLOON_CHANGE events
      await until(
        async () =>
          /<currentMemory unit='KiB'>98304<\/currentMemory>/.test((await v(["dumpxml", NAME])).stdout),
        30_000,
        "live currentMemory 98304",
      );
      const above = await v(["setmem", NAME, "1G"], false);
      assert.equal(above.code, 1);
      assert.equal(above.stderr, "error: invalid argument: cannot set memory higher than max memory\n");

      // setvcpus / vcpucount (DOMAIN_SET_VCPUS[_FLAGS], DOMAIN_GET_VCPUS_FLAGS)
      assert.equal((await v(["setvcpus", NAME, "2", "--live"])).stdout, "\n");
      const count = await v(["vcpucount", NAME]);
      assert.equal(
        count.stdout,
        "maximum      config         2\nmaximum      live           2\ncurrent      config         1\ncurrent      live           2\n\n",
      );
      assert.equal((await tv(["vcpucount", NAME])).stdout, count.stdout);

      // domblkstat (DOMAIN_BLOCK_STATS_FLAGS): virsh's legacy names for libvirt's fields
      const blk = await v(["domblkstat", NAME, "vda"]);
      assert.match(
        blk.stdout,
        /^vda rd_req [1-9]\d*\nvda rd_bytes \d+\nvda wr_req \d+\nvda wr_bytes \d+\nvda flush_operations \d+\nvda rd_total_times \d+\nvda wr_total_times \d+\nvda flush_total_times \d+\n\n$/,
      );
      const blkHuman = await v(["domblkstat", NAME, "--human", "vda"]);
      assert.match(blkHuman.stdout, /^Device: vda\n number of read operations: {6}\d+\n/);
      const tblk = await tv(["domblkstat", NAME, "vda"]);
      const shape = (s: string): string => s.replace(/\d+/g, "N");
      assert.equal(shape(tblk.stdout), shape(blk.stdout));

      // domstats (CONNECT_GET_ALL_DOMAIN_STATS), all domains and one
      const stats = await v(["domstats"]);
      assert.match(
        stats.stdout,
        /^Domain: 'tunei'\n {2}state\.state=1\n {2}state\.reason=1\n {2}cpu\.time=\d+\n {2}cpu\.user=\d+\n {2}cpu\.system=\d+\n {2}cpu\.cache\.monitor\.count=0\n {2}balloon\.current=98304\n {2}balloon\.maximum=131072\n/,
      );
      assert.match(stats.stdout, /\n {2}vcpu\.current=2\n {2}vcpu\.maximum=2\n {2}vcpu\.0\.state=1\n/);
      assert.match(
        stats.stdout,
        /\n {2}block\.count=1\n {2}block\.0\.name=vda\n {2}block\.0\.path=\S+\n {2}block\.0\.rd\.reqs=\d+\n/,
      );
      // one record: no blank line after it, only the newline virsh ends every command with
      assert.ok(stats.stdout.endsWith("\n\n") && !stats.stdout.endsWith("\n\n\n"));
      const st = await v(["domstats", "--state", "--vcpu", "--balloon", NAME]);
      const tst = await tv(["domstats", "--state", "--vcpu", "--balloon", NAME]);
      assert.equal(shape(tst.stdout), shape(st.stdout));

      // qemu-monitor-command --return-value, the taint in dominfo (DOMAIN_GET_MESSAGES)
      const rv = await v(["qemu-monitor-command", NAME, "--return-value", '{"execute":"query-status"}']);
      assert.deepEqual(JSON.parse(rv.stdout), { status: "running", singlestep: false, running: true });
      assert.equal(
        (await tv(["qemu-monitor-command", NAME, "--return-value", '{"execute":"query-status"}'])).stdout,
        rv.stdout,
      );
      // tvirsh prints what virsh prints for the other forms too (QMP ids aside)
      const noId = (x: string): string => x.replace(/libvirt-\d+/g, "libvirt-N");
      for (const args of [
        ["--return-value", "--pretty", '{"execute":"query-status"}'],
        ["query-status"],
        ["--return-value", "query-name"],
        ["--return-value", '{"execute":"no-such-command"}'],
        ['{"execute":"no-such-command"}'],
        ["--pretty", "no-such-command"],
      ]) {
        const a = await v(["qemu-monitor-command", NAME, ...args], false);
        const b = await tv(["qemu-monitor-command", NAME, ...args]);
        assert.deepEqual(
          { code: b.code, out: noId(b.stdout), err: b.stderr },
          { code: a.code, out: noId(a.stdout), err: a.stderr },
          `qemu-monitor-command ${args.join(" ")}`,
        );
      }
      const info = await v(["dominfo", NAME]);
      assert.match(info.stdout, /\nMessages: {7}tainted: custom monitor control commands issued\n\n$/);
      assert.match(
        (await tv(["dominfo", NAME])).stdout,
        /\nMessages: {7}tainted: custom monitor control commands issued\n\n$/,
      );

      // qemu-monitor-event (QEMU program REGISTER / event message / DEREGISTER)
      const waiter = v(["qemu-monitor-event", "--domain", NAME, "--event", "STOP", "--timeout", "60"]);
      await new Promise((r) => setTimeout(r, 1500));
      await v(["suspend", NAME]);
      const ev = await waiter;
      assert.match(
        ev.stdout,
        /^event STOP at \d+\.\d{6} for domain 'tunei': <null>\nevents received: 1\n\n$/,
      );
      await v(["resume", NAME]);
      // python3-libvirt over the same daemon
      const py = pythonLibvirtOrSkip(t);
      if (py) {
        const r = await run(py, ["-c", PY, uri, NAME], {
          env,
          timeoutMs: 60_000,
          stdio: ["ignore", "pipe", "pipe"],
        });
        assert.equal(r.code, 0, r.stderr);
        const o = JSON.parse(r.stdout) as Record<string, unknown>;
        const bs = o.blockStats as number[];
        assert.equal(bs.length, 5);
        assert.ok((bs[0] ?? 0) > 0, "read requests");
        assert.equal(bs[4], -1, "errs not available from QEMU");
        assert.deepEqual(Object.keys(o.blockStatsFlags as object), [
          "wr_bytes",
          "wr_operations",
          "rd_bytes",
          "rd_operations",
          "flush_operations",
          "wr_total_times",
          "rd_total_times",
          "flush_total_times",
        ]);
        const mem = o.memoryStats as Record<string, number>;
        assert.equal(mem.actual, 98304);
        assert.ok((mem.rss ?? 0) > 0);
        assert.deepEqual(o.vcpusFlags, [2, 2]);
        assert.equal(o.maxVcpus, 2);
        const all = o.allStats as [string, Record<string, number>][];
        assert.equal(all.length, 1);
        const first = all[0];
        assert.ok(first);
        assert.equal(first[0], NAME);
        assert.equal(first[1]["state.state"], 1);
        assert.equal(first[1]["balloon.current"], 98304);
        const list = o.listStats as [string, Record<string, number>][];
        assert.equal(list[0]?.[1]["vcpu.current"], 2);
        assert.deepEqual(o.ifaceError, [8, "invalid argument: 'vnet77' is not a known interface"]);
        assert.deepEqual(o.zeroError, [8, "memory in virDomainSetMemory must not be zero"]);
        assert.match((await v(["dumpxml", NAME])).stdout, /<stats period='3'\/>/);
      }

      await v(["destroy", NAME]);
      await v(["undefine", NAME]);
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
