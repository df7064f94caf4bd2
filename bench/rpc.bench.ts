/**
 * Benchmark of tvirtd's RPC path, against the real daemon (`bin/tvirtd.js --listen`, serving
 * `test:///default`), with tvirt's remote driver, python3-libvirt and stock virsh as clients.
 * Prints a table. Against libvirtd too when it is installed (`libvirtd --listen` is not started
 * by this bench: pass its socket in LIBVIRTD_SOCKET to include it).
 *
 *   npx tsx bench/rpc.bench.ts            (CLIENTS=50 ROUNDS=200 DOMAINS=1000 GUESTS=10 to change sizes)
 *
 * Then the same daemon binary serving the QEMU driver: define+undefine per second and RSS with
 * GUESTS tiny TCG guests running.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Connection } from "../src/api/index.ts";
import "../src/rpc/register.ts";
import { privateSession, run, spawnDaemon } from "../src/rpc/testing.ts";
import { ensureTestGuest, guestDomainXML } from "../src/testing/guest/index.ts";

const CLIENTS = Number(process.env.CLIENTS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 200);
const DOMAINS = Number(process.env.DOMAINS ?? 1000);
const GUESTS = Number(process.env.GUESTS ?? 10);

interface Row {
  what: string;
  target: string;
  result: string;
  detail: string;
}
const rows: Row[] = [];

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function lookupInfo(uri: string, target: string): Promise<void> {
  const conns: Connection[] = await Promise.all(Array.from({ length: CLIENTS }, () => connect(uri)));
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      for (let i = 0; i < ROUNDS; i++) {
        const s = performance.now();
        try {
          await (await c.lookupDomainByName("test")).getInfo();
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.close()));
  lat.sort((a, b) => a - b);
  rows.push({
    what: `lookup+info, ${CLIENTS} clients x ${ROUNDS} (tvirt remote driver)`,
    target,
    result: `${(lat.length / secs).toFixed(0)} pairs/s`,
    detail: `${lat.length - errors}/${lat.length} answered, ${errors} errors, p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`,
  });
}

async function defineUndefine(uri: string, target: string, n = 500): Promise<void> {
  const c = await connect(uri);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const d = await c.defineXML(
      `<domain type='test'><name>bench-du-${i}</name><memory unit='KiB'>65536</memory><os><type arch='i686'>hvm</type></os></domain>`,
    );
    await d.undefine();
  }
  const secs = (performance.now() - t0) / 1000;
  await c.close();
  rows.push({
    what: `define+undefine x ${n} (tvirt remote driver)`,
    target,
    result: `${(n / secs).toFixed(0)} pairs/s`,
    detail: "",
  });
}

async function pythonLookupInfo(uri: string, target: string, n = 2000): Promise<void> {
  const py = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const script = `
import libvirt, sys, time
libvirt.registerErrorHandler(lambda c, e: None, None)
c = libvirt.open(sys.argv[1])
t = time.monotonic()
for i in range(${n}):
    c.lookupByName("test").info()
print(${n} / (time.monotonic() - t))
c.close()
`;
  const r = await run(py, ["-c", script, uri]);
  if (r.code !== 0) {
    rows.push({
      what: `lookup+info x ${n} (python3-libvirt)`,
      target,
      result: "n/a",
      detail: r.stderr.trim().split("\n").at(-1) ?? "",
    });
    return;
  }
  rows.push({
    what: `lookup+info x ${n} (python3-libvirt, 1 connection)`,
    target,
    result: `${Number(r.stdout).toFixed(0)} pairs/s`,
    detail: "",
  });
}

async function virshList(uri: string, target: string, pid: number | undefined): Promise<void> {
  const holder = await connect(uri);
  for (let i = 0; i < DOMAINS; i++) {
    await holder.defineXML(
      `<domain type='test'><name>bench-${i}</name><memory unit='KiB'>65536</memory><os><type arch='i686'>hvm</type></os></domain>`,
    );
  }
  const times: number[] = [];
  let lines = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await run("/usr/bin/virsh", ["-c", uri, "list", "--all"], {
      env: { ...process.env, LANG: "C" },
    });
    times.push(performance.now() - t0);
    lines = r.stdout.trim().split("\n").length - 2;
  }
  times.sort((a, b) => a - b);
  rows.push({
    what: `virsh list --all, ${DOMAINS + 1} domains`,
    target,
    result: `${times[1]!.toFixed(0)} ms`,
    detail: `median of 3; ${lines} rows listed`,
  });
  if (pid !== undefined)
    rows.push({
      what: `daemon RSS with ${DOMAINS + 1} domains defined`,
      target,
      result: `${(rssKiB(pid) / 1024).toFixed(1)} MiB`,
      detail: "",
    });
  for (let i = 0; i < DOMAINS; i++) await (await holder.lookupDomainByName(`bench-${i}`)).undefine();
  await holder.close();
}

/**
 * tvirtd serving the QEMU driver (a private qemu:///session): define+undefine per second of a
 * real guest definition (written durably, as a system daemon does), and the daemon's RSS idle and
 * with GUESTS tiny TCG guests running.
 */
async function qemuDaemon(): Promise<void> {
  const guest = await ensureTestGuest();
  const dir = mkdtempSync(join(tmpdir(), "tvirt-bench-qemu-"));
  const { sock, uri, env } = privateSession(dir);
  const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], { env });
  const c = await connect(uri);
  try {
    await new Promise((r) => setTimeout(r, 500));
    rows.push({
      what: "daemon RSS, idle (qemu:///session)",
      target: "tvirtd",
      result: `${(rssKiB(d.pid) / 1024).toFixed(1)} MiB`,
      detail: "",
    });
    const xml = guestDomainXML({
      name: "bench-churn",
      mode: "idle",
      kernel: guest.kernel,
      initrd: guest.initrd,
    });
    const n = 300;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await (await c.defineXML(xml)).undefine();
    rows.push({
      what: `define+undefine x ${n}, QEMU driver (tvirt remote driver)`,
      target: "tvirtd",
      result: `${(n / ((performance.now() - t0) / 1000)).toFixed(0)} pairs/s`,
      detail: "each config write and removal fsynced (file and directory)",
    });
    const doms = [];
    for (let i = 0; i < GUESTS; i++) {
      const dom = await c.defineXML(
        guestDomainXML({ name: `bench-g${i}`, mode: "idle", kernel: guest.kernel, initrd: guest.initrd }),
      );
      await dom.create();
      doms.push(dom);
    }
    await new Promise((r) => setTimeout(r, 2000));
    rows.push({
      what: `daemon RSS with ${GUESTS} guests running`,
      target: "tvirtd",
      result: `${(rssKiB(d.pid) / 1024).toFixed(1)} MiB`,
      detail: "the daemon alone (QEMU processes not counted)",
    });
    for (const dom of doms) {
      await dom.destroy();
      await dom.undefine();
    }
  } finally {
    await c.close().catch(() => undefined);
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-bench-"));
  const sock = join(dir, "sock");
  const d = await spawnDaemon(["--listen", sock, "--uri", "test:///default"], [sock]);
  const uri = `test+unix:///default?socket=${sock}`;
  try {
    await new Promise((r) => setTimeout(r, 500));
    rows.push({
      what: "daemon RSS, idle",
      target: "tvirtd",
      result: `${(rssKiB(d.pid) / 1024).toFixed(1)} MiB`,
      detail: "",
    });
    await lookupInfo(uri, "tvirtd");
    rows.push({
      what: "daemon RSS after the lookup+info load",
      target: "tvirtd",
      result: `${(rssKiB(d.pid) / 1024).toFixed(1)} MiB`,
      detail: "",
    });
    await defineUndefine(uri, "tvirtd");
    await pythonLookupInfo(uri, "tvirtd");
    if (existsSync("/usr/bin/virsh")) await virshList(uri, "tvirtd", d.pid);
    if (GUESTS > 0) await qemuDaemon();
    const lv = process.env.LIBVIRTD_SOCKET;
    if (lv) {
      const luri = `test+unix:///default?socket=${lv}`;
      await lookupInfo(luri, "libvirtd");
      await defineUndefine(luri, "libvirtd");
      await pythonLookupInfo(luri, "libvirtd");
      await virshList(luri, "libvirtd", undefined);
    } else {
      rows.push({
        what: "libvirtd comparison",
        target: "libvirtd",
        result: "skipped",
        detail: "no libvirtd here (set LIBVIRTD_SOCKET to a libvirtd socket to compare)",
      });
    }
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const w = [0, 0, 0, 0];
  const cells = rows.map((r) => [r.what, r.target, r.result, r.detail]);
  const head = ["benchmark", "daemon", "result", "detail"];
  for (const c of [head, ...cells]) c.forEach((v, i) => (w[i] = Math.max(w[i]!, v.length)));
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(w[i]!)).join(" | ");
  console.log(line(head));
  console.log(w.map((n) => "-".repeat(n)).join("-|-"));
  for (const c of cells) console.log(line(c));
}

await main();
