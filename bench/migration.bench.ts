/**
 * Benchmark (issue 15): live migration of the same tiny guest (the counter guest, 128 MiB, TCG)
 * on one machine, in one run, `--rounds` times each, alternating:
 *
 * - raw QEMU: tvirt's own argv for the guest XML (two embed roots, so two runtime dirs), the
 *   destination started with `-incoming tcp:127.0.0.1:PORT`, the source driven by a bare QMP
 *   client (`migrate`, then `query-migrate` every 10 ms until completed) — the least any manager
 *   does;
 * - tvirt: two tvirtd daemons (`--uri qemu:///embed?root=DIR --listen SOCK`, sharing the guest's
 *   files), stock `virsh migrate --live --p2p GUEST qemu+unix:///system?socket=B`;
 * - libvirt, when Debian's libvirt-daemon is installed: two private libvirtds (bench/libvirtd.ts,
 *   each in its own network namespace, so the stream goes over a unix socket:
 *   `--migrateuri unix://…`), the same virsh command.
 *
 * Total time is the wall time of the migration command (for raw QEMU: `migrate` to completed).
 * Downtime is always QEMU's own: the `downtime` of the source QEMU's last `query-migrate` (raw:
 * the bench's own QMP client; tvirt: the `downtime` of the source's JOB_COMPLETED event, which
 * tvirtd fills from that reply; libvirt: that reply as libvirtd's monitor debug log recorded it,
 * since libvirt's own JOB_COMPLETED downtime is its wall time from the source's STOP to the
 * destination's resume). The variants run interleaved, in a rotated order each round, so that
 * the machine's load changes hit them alike. Prints a table with medians, the spread (min–max)
 * and ratios against raw QEMU and against libvirt, and the targets: tvirt's downtime
 * within 10% of raw QEMU's (at most 1.10x; less is better) and its total time at most libvirt's.
 *
 *   npm run bench:migration [-- --rounds N]    (default 7)
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { domainXMLToNative } from "../src/drivers/qemu/native.ts";
import { connectQmp } from "../src/drivers/qemu/monitor/qmp.ts";
import { ensureTestGuest, guestDomainXML } from "../src/testing/guest/index.ts";
import { privateSession, spawnDaemon, type DaemonProcess } from "../src/testing/rpc/harness.ts";
import { median } from "./stats.ts";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "./libvirtd.ts";

const { values } = parseArgs({ options: { rounds: { type: "string" } } });
const rounds = Number(values.rounds ?? 7);
const VIRSH = "/usr/bin/virsh";
const GUEST = "migbench";

interface Sample {
  totalMs: number;
  downtimeMs: number;
}

const guest = await ensureTestGuest();
const work = mkdtempSync(join(tmpdir(), "tvirt-bench-migration-"));
// tvirtd as root runs QEMU as its unprivileged user: it must reach the guest's directories
chmodSync(work, 0o755);
// … and the kernel and initrd (the cache under a private home is not): copies all three use
const kernel = join(work, "vmlinuz");
const initrd = join(work, "initrd");
copyFileSync(guest.kernel, kernel);
copyFileSync(guest.initrd, initrd);
chmodSync(kernel, 0o644);
chmodSync(initrd, 0o644);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => {
        resolve(typeof a === "object" && a ? a.port : 0);
      });
    });
  });
}

function xmlFor(dir: string): string {
  return guestDomainXML({
    name: GUEST,
    mode: "counter",
    kernel,
    initrd,
    serialLogPath: join(dir, "console.log"),
  });
}

interface QmpLike {
  execute(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

/** One raw QEMU process from tvirt's argv for the guest under `root`; `incoming` for the destination. */
async function rawQemu(
  dir: string,
  root: string,
  incoming?: string,
): Promise<{ qmp: QmpLike; kill: () => void }> {
  const { command, context } = await domainXMLToNative(xmlFor(dir), { root: { kind: "embed", root } });
  mkdirSync(context.paths.domainDir, { recursive: true });
  writeFileSync(context.paths.masterKeyFile, randomBytes(32), { mode: 0o600 });
  const args = incoming ? [...command.args, "-incoming", incoming] : command.args;
  const monitor = /path=([^,]+)/.exec(args.find((a) => a.includes("monitor.sock")) ?? "")?.[1];
  if (monitor === undefined) throw new Error("no monitor socket in the argv");
  const out = openSync(join(root, "qemu.log"), "a");
  const child = spawn(command.emulator, args, {
    env: Object.fromEntries(command.env),
    stdio: ["ignore", out, out],
  });
  closeSync(out);
  const qmp = await connectQmp({ path: monitor, name: `raw ${root}`, timeoutMs: 30_000 });
  return {
    qmp,
    kill: () => {
      child.kill("SIGKILL");
    },
  };
}

interface MigrationInfo {
  status?: string;
  downtime?: number;
  "total-time"?: number;
}

/**
 * One raw round. `unlimited`: the source gets the bandwidth setting tvirt and libvirt give every
 * migration (`max-bandwidth` unlimited, QEMU's default being 128 MiB/s), so that row compares
 * the same QEMU settings; without it QEMU's defaults.
 */
async function rawRound(r: number, unlimited = false): Promise<Sample> {
  const dir = join(work, `raw-${r}${unlimited ? "-unl" : ""}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const src = await rawQemu(dir, join(dir, "a"));
  const dst = await rawQemu(dir, join(dir, "b"), `tcp:127.0.0.1:${port}`);
  try {
    await src.qmp.execute("cont");
    if (unlimited) await src.qmp.execute("migrate-set-parameters", { "max-bandwidth": 8796093022207 });
    await sleep(2000); // the guest boots and counts
    const t0 = performance.now();
    await src.qmp.execute("migrate", { uri: `tcp:127.0.0.1:${port}` });
    for (;;) {
      const info = (await src.qmp.execute("query-migrate")) as MigrationInfo;
      if (info.status === "completed") {
        // the destination was started with -S: resume it, as a manager's finish does
        await dst.qmp.execute("cont");
        return { totalMs: performance.now() - t0, downtimeMs: info.downtime ?? NaN };
      }
      if (info.status === "failed" || info.status === "cancelled")
        throw new Error(`raw migration ${info.status}`);
      await sleep(10);
    }
  } finally {
    await src.qmp.close().catch(() => undefined);
    await dst.qmp.close().catch(() => undefined);
    src.kill();
    dst.kill();
  }
}

function virsh(uri: string, ...args: string[]): { ok: boolean; out: string; err: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(VIRSH, ["-c", uri, ...args], { encoding: "utf8", timeout: 300_000 });
  return { ok: r.status === 0, out: r.stdout, err: r.stderr, ms: performance.now() - t0 };
}

/** "Total downtime" of the completed migration job, from whichever side still has the domain. */
function completedDowntime(...uris: string[]): number {
  for (const uri of uris) {
    const r = virsh(uri, "domjobinfo", GUEST, "--completed");
    const m = /^Total downtime:\s+(\d+)\s+ms$/m.exec(r.out);
    if (m) return Number(m[1]);
  }
  return NaN;
}

/**
 * The source's JOB_COMPLETED event as `virsh event` prints it (its `downtime` parameter), the
 * same for tvirtd and libvirtd, whichever side keeps the domain afterwards.
 */
function watchJobCompleted(uri: string): { downtime: Promise<number>; stop: () => void } {
  const child = spawn(
    VIRSH,
    ["-c", uri, "event", "--domain", GUEST, "--event", "job-completed", "--timeout", "300"],
    {
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  let out = "";
  const downtime = new Promise<number>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /downtime: (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("close", () => {
      resolve(NaN);
    });
  });
  return {
    downtime,
    stop: () => {
      child.kill("SIGKILL");
    },
  };
}

/**
 * QEMU's own downtime of the last completed migration in a libvirtd monitor log (see
 * startLibvirtd's `monitorLog`), from byte `from` on: the source's last `query-migrate` reply.
 */
function downtimeFromMonitorLog(path: string, from: number): number {
  if (!existsSync(path)) return NaN;
  const text = readFileSync(path).subarray(from).toString("utf8");
  let found = NaN;
  for (const line of text.split("\n")) {
    if (!line.includes('"status": "completed"')) continue;
    const m = /"downtime": (\d+)/.exec(line);
    if (m) found = Number(m[1]);
  }
  return found;
}

const sizeOf = (path: string): number => (existsSync(path) ? readFileSync(path).length : 0);

/**
 * Migrates the running GUEST from `a` to `b` with stock virsh, p2p, live. `monitorLog`: the
 * source libvirtd's monitor log, where QEMU's own downtime is read (else the JOB_COMPLETED event).
 */
async function virshRound(
  a: string,
  b: string,
  dir: string,
  extra: string[] = [],
  monitorLog?: string,
): Promise<Sample> {
  const xml = join(dir, "guest.xml");
  writeFileSync(xml, xmlFor(dir));
  const created = virsh(a, "create", xml);
  if (!created.ok) throw new Error(`create on ${a}: ${created.err.trim()}`);
  const watch = watchJobCompleted(a);
  try {
    await sleep(2000); // the guest boots and counts; the event watcher registers
    const logFrom = monitorLog !== undefined ? sizeOf(monitorLog) : 0;
    const m = virsh(a, "migrate", "--live", "--p2p", GUEST, b, ...extra);
    if (!m.ok) throw new Error(`virsh migrate: ${m.err.trim()}`);
    if (monitorLog !== undefined) {
      const d = downtimeFromMonitorLog(monitorLog, logFrom);
      if (!Number.isFinite(d)) throw new Error("no completed query-migrate reply in libvirtd's monitor log");
      return { totalMs: m.ms, downtimeMs: d };
    }
    const fromEvent = await Promise.race([watch.downtime, sleep(3000).then(() => NaN)]);
    return { totalMs: m.ms, downtimeMs: Number.isFinite(fromEvent) ? fromEvent : completedDowntime(b, a) };
  } finally {
    watch.stop();
    virsh(a, "destroy", GUEST);
    virsh(b, "destroy", GUEST);
  }
}

async function tvirtDaemons(): Promise<{ a: string; b: string; stop: () => Promise<void> }> {
  const daemons: DaemonProcess[] = [];
  const uris: string[] = [];
  for (const side of ["a", "b"]) {
    const dir = join(work, `tvirtd-${side}`);
    mkdirSync(dir, { recursive: true });
    const session = privateSession(dir);
    daemons.push(
      await spawnDaemon(
        ["--listen", session.sock, "--uri", `qemu:///embed?root=${join(dir, "root")}`],
        [session.sock],
        {
          env: session.env,
        },
      ),
    );
    uris.push(`qemu+unix:///system?socket=${session.sock}`);
  }
  return {
    a: uris[0]!,
    b: uris[1]!,
    stop: async () => {
      for (const d of daemons) await d.stop();
    },
  };
}

interface Column {
  name: string;
  samples: Sample[];
  why?: string;
}

const raw: Column = { name: "raw QEMU (QMP)", samples: [] };
const rawUnlimited: Column = { name: "raw QEMU, unlimited bw", samples: [] };
const tvirt: Column = { name: "tvirt (tvirtd p2p)", samples: [] };
const libvirt: Column = { name: "libvirt (libvirtd p2p)", samples: [] };

const lvMonitorLog = join(work, "libvirtd-a-monitor.log");
let tv: Awaited<ReturnType<typeof tvirtDaemons>> | undefined;
let lv: { a: PrivateLibvirtd; b: PrivateLibvirtd } | undefined;
try {
  try {
    tv = await tvirtDaemons();
  } catch (e) {
    tvirt.why = `tvirtd did not start: ${String(e)}`;
  }
  const unavailable = libvirtdUnavailable();
  if (unavailable) libvirt.why = unavailable;
  else if (process.getuid?.() !== 0) libvirt.why = "private libvirtds need root";
  else {
    mkdirSync(join(work, "libvirtd-a"));
    mkdirSync(join(work, "libvirtd-b"));
    lv = {
      a: await startLibvirtd(join(work, "libvirtd-a"), { monitorLog: lvMonitorLog }),
      b: await startLibvirtd(join(work, "libvirtd-b")),
    };
  }
  const variants: (() => Promise<void>)[] = [
    async () => {
      raw.samples.push(await rawRound(raw.samples.length));
    },
    async () => {
      rawUnlimited.samples.push(await rawRound(rawUnlimited.samples.length, true));
    },
    async () => {
      if (!tv || tvirt.why !== undefined) return;
      const dir = join(work, `tvirt-${tvirt.samples.length}`);
      mkdirSync(dir);
      chmodSync(dir, 0o777); // the serial log is created by QEMU's user
      try {
        tvirt.samples.push(await virshRound(tv.a, tv.b, dir));
      } catch (e) {
        tvirt.why = String(e);
      }
    },
    async () => {
      if (!lv || libvirt.why !== undefined) return;
      const dir = join(work, `libvirt-${libvirt.samples.length}`);
      mkdirSync(dir);
      const a = `qemu+unix:///system?socket=${lv.a.socket}`;
      const b = `qemu+unix:///system?socket=${lv.b.socket}`;
      try {
        libvirt.samples.push(
          await virshRound(a, b, dir, ["--migrateuri", `unix://${join(dir, "mig.sock")}`], lvMonitorLog),
        );
      } catch (e) {
        libvirt.why = String(e);
      }
    },
  ];
  for (let r = 0; r < rounds; r++) {
    // interleaved, the order rotated each round
    for (let i = 0; i < variants.length; i++) await variants[(r + i) % variants.length]!();
  }
} finally {
  await tv?.stop().catch(() => undefined);
  await lv?.a.stop().catch(() => undefined);
  await lv?.b.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : "-");
const ratio = (n: number, base: number): string =>
  Number.isFinite(n) && Number.isFinite(base) && base > 0 ? `${(n / base).toFixed(2)}x` : "-";
const med = (c: Column, k: keyof Sample): number =>
  c.samples.length > 0 ? median(c.samples.map((x) => x[k])) : NaN;
const spread = (c: Column, k: keyof Sample): string => {
  const v = c.samples.map((x) => x[k]).filter(Number.isFinite);
  return v.length > 0 ? `${fmt(Math.min(...v))}-${fmt(Math.max(...v))}` : "-";
};
const rawTotal = med(raw, "totalMs");
const rawDown = med(raw, "downtimeMs");
const lvTotal = med(libvirt, "totalMs");
const lvDown = med(libvirt, "downtimeMs");
console.log(
  `live migration of a 128 MiB TCG guest on one machine, median of ${rounds} rounds (interleaved); downtime is QEMU's own (source query-migrate)`,
);
console.log(
  `${"".padEnd(24)} ${"total ms".padStart(8)} ${"(min-max)".padStart(11)} ${"vs raw".padStart(6)} ${"vs lv".padStart(6)} ${"downtime ms".padStart(11)} ${"(min-max)".padStart(9)} ${"vs raw".padStart(6)} ${"vs lv".padStart(6)}`,
);
for (const c of [raw, rawUnlimited, tvirt, libvirt]) {
  if (c.samples.length === 0) {
    console.log(`${c.name.padEnd(24)} n/a: ${c.why ?? "no samples"}`);
    continue;
  }
  const total = med(c, "totalMs");
  const down = med(c, "downtimeMs");
  console.log(
    `${c.name.padEnd(24)} ${fmt(total).padStart(8)} ${spread(c, "totalMs").padStart(11)} ${ratio(total, rawTotal).padStart(6)} ${ratio(total, lvTotal).padStart(6)} ${fmt(down).padStart(11)} ${spread(c, "downtimeMs").padStart(9)} ${ratio(down, rawDown).padStart(6)} ${ratio(down, lvDown).padStart(6)}` +
      (c.why ? `  (later rounds failed: ${c.why})` : ""),
  );
}
const tvTotal = med(tvirt, "totalMs");
const tvDown = med(tvirt, "downtimeMs");
const verdict = (ok: boolean | undefined): string => (ok === undefined ? "n/a" : ok ? "met" : "NOT met");
const known = (...n: number[]): boolean => n.every(Number.isFinite);
console.log(
  `target: tvirt downtime <= 1.10x raw QEMU's: ${ratio(tvDown, rawDown)} ${verdict(known(tvDown, rawDown) ? tvDown <= 1.1 * rawDown : undefined)}; ` +
    `tvirt total <= libvirt's: ${ratio(tvTotal, lvTotal)} ${verdict(known(tvTotal, lvTotal) ? tvTotal <= lvTotal : undefined)}`,
);
