/**
 * VNC port allocation through tvirtd with stock virsh 9.0 (issue 19's "20 guests" check): 20
 * TCG guests with `<graphics type='vnc' autoport='yes'/>`, started concurrently, get distinct
 * ports from a private display range (tvirtd.conf's `remote_display_port_min/max`) and skip the
 * port this test holds itself; `vncdisplay` and `domdisplay` name each port and a VNC server
 * greets there. tvirtd is killed by PID and started again: every guest keeps its port and still
 * answers. After `destroy` of them all the ports can be bound again.
 *
 * The guests are started paused (`create --paused`): QEMU's VNC server runs from the start, and
 * 20 stopped vCPUs cost no CPU on a shared machine.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { canBindPort } from "../host/ports.ts";
import { rfbServerInit } from "../testing/graphics/rfb.ts";
import { qemuOrSkip } from "../testing/qemu/capabilities.ts";
import { privateSession, run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";

const COUNT = 20;
const names = Array.from({ length: COUNT }, (_, i) => `vp${String(i).padStart(2, "0")}`);

function domainXML(name: string): string {
  return [
    `<domain type='qemu'>`,
    `  <name>${name}</name>`,
    `  <memory unit='MiB'>80</memory>`,
    `  <vcpu>1</vcpu>`,
    `  <os><type arch='x86_64' machine='pc'>hvm</type></os>`,
    `  <devices>`,
    `    <graphics type='vnc' autoport='yes'/>`,
    `    <memballoon model='none'/>`,
    `  </devices>`,
    `</domain>`,
    ``,
  ].join("\n");
}

function alive(pid: number): boolean {
  try {
    // a zombie (not reaped yet) counts as gone
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1" }, () => {
      resolve(srv);
    });
  });
}

/** A private range of free ports, away from 5900 where other test files' guests take ports. */
async function privateRange(size: number): Promise<number> {
  for (;;) {
    const min = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = min; p < min + size && free; p++) free = await canBindPort(p, "127.0.0.1");
    if (free) return min;
  }
}

test(
  "20 autoport VNC guests through tvirtd: distinct ports, a busy port skipped, kept across a daemon restart, free after destroy",
  { timeout: 150_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    if (!qemuOrSkip(t)) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-graphics-ports-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const pidDir = join(dir, "run", "tvirt", "qemu");
    const v = (args: string[]) =>
      run(virsh, ["-c", uri, ...args], { env, timeoutMs: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    const size = COUNT + 10;
    const min = await privateRange(size);
    const max = min + size - 1;
    // something else on the host holds the first port of the range: it must be skipped
    const busy = await listen(min);
    const conf = join(dir, "tvirtd.conf");
    writeFileSync(conf, `remote_display_port_min = ${min}\nremote_display_port_max = ${max}\n`);
    const startDaemon = () =>
      spawnDaemon(["--session", "--config", conf, "--listen", sock, "--uri", "qemu:///session"], [sock], {
        env: daemonEnv,
      });
    const qemuPids = (): number[] => {
      try {
        return readdirSync(pidDir)
          .filter((f) => f.endsWith(".pid"))
          .map((f) => Number(readFileSync(join(pidDir, f), "utf8").trim()))
          .filter((p) => p > 0);
      } catch {
        return [];
      }
    };
    let daemon: DaemonProcess | undefined;
    let pids: number[] = [];
    const portsOf = async (): Promise<Map<string, number>> => {
      const out = new Map<string, number>();
      await Promise.all(
        names.map(async (n) => {
          const vd = await v(["vncdisplay", n]);
          assert.equal(vd.code, 0, `${n}: ${vd.stderr}`);
          const m = /^127\.0\.0\.1:(\d+)\n\n$/.exec(vd.stdout);
          assert.ok(m, `vncdisplay ${n}: ${JSON.stringify(vd.stdout)}`);
          const port = 5900 + Number(m[1]);
          const dd = await v(["domdisplay", n]);
          assert.equal(dd.stdout, `vnc://127.0.0.1:${port - 5900}\n`, n);
          out.set(n, port);
        }),
      );
      return out;
    };
    const allGreet = async (ports: Iterable<number>) => {
      await Promise.all(
        [...ports].map(async (p) => {
          const rfb = await rfbServerInit(p);
          assert.equal(rfb.version, "RFB 003.008\n", `port ${p}`);
        }),
      );
    };
    try {
      daemon = await startDaemon();
      const t0 = Date.now();
      await Promise.all(
        names.map(async (n) => {
          const xmlPath = join(dir, `${n}.xml`);
          writeFileSync(xmlPath, domainXML(n));
          const r = await v(["create", xmlPath, "--paused"]);
          assert.equal(r.code, 0, `${n}: ${r.stderr}`);
          assert.equal(r.stdout, `Domain '${n}' created from ${xmlPath}\n\n`);
        }),
      );
      t.diagnostic(`${COUNT} guests started in ${Date.now() - t0} ms`);
      pids = qemuPids();
      assert.equal(pids.length, COUNT);

      const ports = await portsOf();
      const distinct = new Set(ports.values());
      assert.equal(distinct.size, COUNT, `distinct ports: ${[...ports].join(" ")}`);
      for (const [n, p] of ports)
        assert.ok(p > min && p <= max, `${n}'s port ${p} is in ${min}-${max} and not the busy ${min}`);
      // the lowest free ports, as libvirt takes them: all of min+1..min+20
      assert.deepEqual(
        [...distinct].sort((a, b) => a - b),
        Array.from({ length: COUNT }, (_, i) => min + 1 + i),
      );
      await allGreet(distinct);

      // tvirtd killed by PID and started again: the guests keep running and keep their ports
      process.kill(daemon.pid, "SIGKILL");
      await daemon.exited;
      daemon = await startDaemon();
      // (running guests are listed by id, in the order they happened to start)
      const list = await v(["list", "--name"]);
      assert.deepEqual(list.stdout.split("\n").filter(Boolean).sort(), names);
      const again = await portsOf();
      assert.deepEqual([...again].sort(), [...ports].sort());
      await allGreet(again.values());

      const t1 = Date.now();
      await Promise.all(
        names.map(async (n) => {
          const r = await v(["destroy", n]);
          assert.equal(r.code, 0, `${n}: ${r.stderr}`);
        }),
      );
      t.diagnostic(`${COUNT} guests destroyed in ${Date.now() - t1} ms`);
      assert.equal((await v(["list", "--all", "--name"])).stdout, "\n");
      for (const p of distinct) assert.ok(await canBindPort(p, "127.0.0.1"), `port ${p} is free again`);
      for (const pid of pids) assert.ok(!alive(pid), `QEMU ${pid} is gone`);
    } finally {
      for (const pid of new Set([...pids, ...qemuPids()])) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await daemon?.stop();
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
