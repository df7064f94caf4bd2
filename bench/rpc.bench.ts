/**
 * Benchmark of tvirtd's RPC path against libvirtd's, side by side in one run: the real daemons,
 * with tvirt's remote driver, python3-libvirt and stock virsh as clients. Prints a table with
 * each figure for both daemons and their ratio.
 *
 *   npx tsx bench/rpc.bench.ts     (CLIENTS=50 ROUNDS=200 DOMAINS=1000 GUESTS=10 WARM=300 to change sizes)
 *
 * - tvirtd: `bin/tvirtd.js --listen` serving `test:///default`, and a second one serving the
 *   QEMU driver (a private qemu:///session) for define+undefine of a real guest definition and
 *   the daemon's RSS with GUESTS tiny TCG guests running.
 * - libvirtd: when Debian's libvirt-daemon is installed, a private one (bench/libvirtd.ts: own
 *   network and mount namespaces, state on the same file system), or the one whose socket is in
 *   LIBVIRTD_SOCKET. Its test driver gets the same workloads, its QEMU driver the same
 *   define+undefine and the same GUESTS guests. Its column says why it is empty when there is
 *   none.
 * - define+undefine is timed with two clients: tvirt's remote driver and python3-libvirt (the
 *   issue's "same python3-libvirt workload").
 *
 * Where two figures are timed runs of the same command, the runs alternate between the daemons,
 * so that a busy moment of the machine hits both.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Connection } from "../src/api/index.ts";
import "../src/rpc/register.ts";
import { privateSession, run, spawnDaemon } from "../src/testing/rpc/harness.ts";
import { repoRoot } from "../src/testing/corpus.ts";
import { ensureTestGuest, guestDomainXML } from "../src/testing/guest/index.ts";
import { median } from "./stats.ts";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "./libvirtd.ts";

const CLIENTS = Number(process.env.CLIENTS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 200);
const DOMAINS = Number(process.env.DOMAINS ?? 1000);
const GUESTS = Number(process.env.GUESTS ?? 10);
/** Untimed define+undefine pairs on each daemon's QEMU driver before the timed ones. */
const WARM = Number(process.env.WARM ?? 300);

/** A daemon under test: where to reach it, and its PID for RSS when known. */
interface Target {
  readonly name: "tvirtd" | "libvirtd";
  readonly testUri: string;
  readonly qemuUri: string | undefined;
  readonly pid: number | undefined;
}

interface Row {
  what: string;
  /** Higher is better (a rate) or lower is better (a time, a size). */
  better: "higher" | "lower";
  unit: string;
  tvirtd: number | string;
  libvirtd: number | string;
  detail: string;
}
const rows: Row[] = [];

function row(what: string, better: Row["better"], unit: string, detail = ""): Row {
  const r: Row = { what, better, unit, tvirtd: "-", libvirtd: "-", detail };
  rows.push(r);
  return r;
}

function rssMiB(pid: number | undefined): number | string {
  if (pid === undefined) return "n/a";
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : "n/a";
}

const fmtMiB = (v: number | string): string => (typeof v === "number" ? v.toFixed(1) : v);

/** RSS of `node -e` waiting on a timer, 500 ms after it starts. */
async function emptyNodeRss(env: NodeJS.ProcessEnv): Promise<number | string> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { env, stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 500));
    return rssMiB(child.pid);
  } finally {
    child.kill();
  }
}

const domainXML = (name: string): string =>
  `<domain type='test'><name>${name}</name><memory unit='KiB'>65536</memory><os><type arch='i686'>hvm</type></os></domain>`;

async function lookupInfo(t: Target): Promise<{ rate: number; errors: number; total: number }> {
  const conns: Connection[] = await Promise.all(Array.from({ length: CLIENTS }, () => connect(t.testUri)));
  let errors = 0;
  let total = 0;
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      for (let i = 0; i < ROUNDS; i++) {
        total++;
        try {
          await (await c.lookupDomainByName("test")).getInfo();
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.close()));
  return { rate: total / secs, errors, total };
}

async function defineUndefine(uri: string, xml: (i: number) => string, n: number): Promise<number> {
  const c = await connect(uri);
  try {
    await (await c.defineXML(xml(-1))).undefine(); // warm-up (a first define may probe the emulator)
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await (await c.defineXML(xml(i))).undefine();
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await c.close();
  }
}

/** Debian's python3, which has python3-libvirt (a python3 first on PATH may not). */
function python(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

async function pythonLookupInfo(uri: string, n = 2000): Promise<number | string> {
  const py = python();
  const script = `
import libvirt, sys, time
libvirt.registerErrorHandler(lambda c, e: None, None)
c = libvirt.open(sys.argv[1])
for i in range(100):
    c.lookupByName("test").info()
t = time.monotonic()
for i in range(${n}):
    c.lookupByName("test").info()
print(${n} / (time.monotonic() - t))
c.close()
`;
  const r = await run(py, ["-c", script, uri]);
  if (r.code !== 0) return `failed: ${r.stderr.trim().split("\n").at(-1) ?? ""}`;
  return Number(r.stdout);
}

/** define+undefine pairs per second of one XML through python3-libvirt (one connection). */
async function pythonDefineUndefine(uri: string, xmlFile: string, n: number): Promise<number | string> {
  const script = `
import libvirt, sys, time
libvirt.registerErrorHandler(lambda c, e: None, None)
c = libvirt.open(sys.argv[1])
x = open(sys.argv[2]).read()
c.defineXML(x).undefine()
t = time.monotonic()
for i in range(int(sys.argv[3])):
    c.defineXML(x).undefine()
print(int(sys.argv[3]) / (time.monotonic() - t))
c.close()
`;
  const r = await run(python(), ["-c", script, uri, xmlFile, String(n)]);
  if (r.code !== 0) return `failed: ${r.stderr.trim().split("\n").at(-1) ?? ""}`;
  return Number(r.stdout);
}

/**
 * Rounds of `measure` for each daemon, alternating, so that a busy moment of the machine hits
 * both; the median of each, or the first failure's text.
 */
async function alternating(
  names: readonly string[],
  rounds: number,
  measure: (name: string) => Promise<number | string>,
): Promise<Map<string, number | string>> {
  const got = new Map<string, (number | string)[]>(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) for (const n of names) got.get(n)!.push(await measure(n));
  return new Map(
    names.map((n) => {
      const v = got.get(n)!;
      const failed = v.find((x) => typeof x === "string");
      return [n, failed ?? median(v as number[])];
    }),
  );
}

async function virshListTime(uri: string): Promise<{ ms: number; rows: number }> {
  const t0 = performance.now();
  const r = await run("/usr/bin/virsh", ["-c", uri, "list", "--all"], { env: { ...process.env, LANG: "C" } });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`virsh list failed: ${r.stderr}`);
  return { ms, rows: r.stdout.trim().split("\n").length - 2 };
}

/** tvirtd serving the QEMU driver (a private qemu:///session), for define+undefine and RSS. */
async function withQemuTvirtd<T>(fn: (uri: string, pid: number) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-bench-qemu-"));
  const { sock, uri, env } = privateSession(dir);
  const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], { env });
  try {
    return await fn(uri, d.pid);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // The daemon as users run it: from the current bundle (the launcher falls back to the
  // TypeScript sources through tsx when the bundle is stale, which is not what is measured).
  if (spawnSync(process.execPath, [join(repoRoot, "scripts", "build.js")], { stdio: "inherit" }).status !== 0)
    throw new Error("npm run build failed");
  const guest = await ensureTestGuest();
  const dir = mkdtempSync(join(tmpdir(), "tvirt-bench-"));
  const sock = join(dir, "sock");
  const tv = await spawnDaemon(["--listen", sock, "--uri", "test:///default"], [sock]);
  let lv: PrivateLibvirtd | undefined;
  const targets: Target[] = [
    { name: "tvirtd", testUri: `test+unix:///default?socket=${sock}`, qemuUri: undefined, pid: tv.pid },
  ];
  let noLibvirtd: string | undefined;
  if (process.env.LIBVIRTD_SOCKET) {
    const s = process.env.LIBVIRTD_SOCKET;
    targets.push({
      name: "libvirtd",
      testUri: `test+unix:///default?socket=${s}`,
      qemuUri: `qemu+unix:///system?socket=${s}`,
      pid: undefined,
    });
  } else if ((noLibvirtd = libvirtdUnavailable()) === undefined) {
    lv = await startLibvirtd(join(dir, "libvirtd"));
    targets.push({
      name: "libvirtd",
      testUri: `test+unix:///default?socket=${lv.socket}`,
      qemuUri: `qemu+unix:///system?socket=${lv.socket}`,
      pid: lv.pid,
    });
  }
  const holders: Connection[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idle = row("daemon RSS, idle (test driver)", "lower", "MiB");
    for (const t of targets) idle[t.name] = rssMiB(t.pid);
    // For scale: what any Node process holds, and tvirtd without the CA bundle Node parses at
    // start when NODE_EXTRA_CA_CERTS is set (this run's tvirtd has the caller's environment).
    const floor = row("RSS of an empty Node process, idle (for scale)", "lower", "MiB");
    const noCa = { ...process.env };
    delete noCa.NODE_EXTRA_CA_CERTS;
    const withCa = (process.env.NODE_EXTRA_CA_CERTS ?? "") !== "";
    floor.tvirtd = await emptyNodeRss(process.env);
    if (withCa) {
      floor.detail = `with NODE_EXTRA_CA_CERTS; ${fmtMiB(await emptyNodeRss(noCa))} MiB without`;
      idle.detail = "with NODE_EXTRA_CA_CERTS (as all rows)";
      const sockNoCa = join(dir, "sock-noca");
      const d = await spawnDaemon(["--listen", sockNoCa, "--uri", "test:///default"], [sockNoCa], {
        env: noCa,
      });
      try {
        await new Promise((r) => setTimeout(r, 500));
        const idleNoCa = row("daemon RSS, idle (test driver), NODE_EXTRA_CA_CERTS unset", "lower", "MiB");
        idleNoCa.tvirtd = rssMiB(d.pid);
        idleNoCa.libvirtd = idle.libvirtd;
        idleNoCa.detail = "libvirtd: the same figure (no Node in it)";
      } finally {
        await d.stop();
      }
    }

    const li = row(`lookup+info, ${CLIENTS} clients x ${ROUNDS} (tvirt remote driver)`, "higher", "pairs/s");
    for (const t of targets) {
      const r = await lookupInfo(t);
      li[t.name] = r.rate;
      li.detail += `${t.name}: ${r.total - r.errors}/${r.total} answered, ${r.errors} errors. `;
    }
    const names = targets.map((t) => t.name);
    const byName = (n: string): Target => targets.find((t) => t.name === n)!;
    const set = (r: Row, got: Map<string, number | string>): void => {
      for (const [n, v] of got) r[n as Target["name"]] = v;
    };
    const du = row("define+undefine, test driver (tvirt remote driver)", "higher", "pairs/s");
    du.detail = "median of 6 rounds of 100, alternating";
    set(
      du,
      await alternating(names, 6, (n) =>
        defineUndefine(byName(n).testUri, (i) => domainXML(`bench-du-${i}`), 100),
      ),
    );
    const testXmlFile = join(dir, "test-domain.xml");
    writeFileSync(testXmlFile, domainXML("bench-py"));
    const pdu = row("define+undefine, test driver (python3-libvirt, 1 connection)", "higher", "pairs/s");
    pdu.detail = "median of 6 rounds of 500, alternating";
    set(pdu, await alternating(names, 6, (n) => pythonDefineUndefine(byName(n).testUri, testXmlFile, 500)));
    const py = row("lookup+info x 2000 (python3-libvirt, 1 connection)", "higher", "pairs/s");
    for (const t of targets) py[t.name] = await pythonLookupInfo(t.testUri);

    // virsh list --all with DOMAINS more: a connection holds them (libvirt's test:///default
    // forgets its state when its last connection closes).
    for (const t of targets) {
      const h = await connect(t.testUri);
      holders.push(h);
      for (let i = 0; i < DOMAINS; i++) await h.defineXML(domainXML(`bench-${i}`));
    }
    const vl = row(`virsh list --all, ${DOMAINS + 1} domains`, "lower", "ms");
    let listed = "";
    set(
      vl,
      await alternating(names, 7, async (n) => {
        const r = await virshListTime(byName(n).testUri);
        listed = `${r.rows} rows`;
        return r.ms;
      }),
    );
    vl.detail = `median of 7, runs alternating; ${listed}`;
    const full = row(`daemon RSS with ${DOMAINS + 1} domains defined`, "lower", "MiB");
    for (const t of targets) full[t.name] = rssMiB(t.pid);
    for (const h of holders.splice(0)) await h.close();

    // The QEMU driver: define+undefine of the tiny guest's definition, written durably by both.
    const churnXML = (i: number): string =>
      guestDomainXML({
        name: `bench-churn${i < 0 ? "w" : ""}`,
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
      });
    const churnFile = join(dir, "churn.xml");
    writeFileSync(churnFile, churnXML(0));
    const durable =
      "both fsync the config file before renaming it, tvirtd also fsyncs the directory within 100 ms";
    const qd = row("define+undefine, QEMU driver (tvirt remote driver)", "higher", "pairs/s");
    qd.detail = `median of 6 rounds of 50, alternating, after ${String(WARM)} untimed pairs; ${durable}`;
    const pqd = row("define+undefine, QEMU driver (python3-libvirt, 1 connection)", "higher", "pairs/s");
    pqd.detail = `median of 6 rounds of 100, alternating, after ${String(WARM)} untimed pairs; ${durable}`;
    const qidle = row("daemon RSS, idle (QEMU driver)", "lower", "MiB");
    const qrun = row(`daemon RSS with ${GUESTS} guests running (QEMU driver)`, "lower", "MiB");
    qrun.detail = "the daemon alone (QEMU processes not counted)";
    const lvq = targets.find((t) => t.name === "libvirtd" && t.qemuUri !== undefined);
    await withQemuTvirtd(async (uri, pid) => {
      await new Promise((r) => setTimeout(r, 500));
      qidle.tvirtd = rssMiB(pid);
      const qemuUri = (n: string): string => (n === "tvirtd" ? uri : lvq!.qemuUri!);
      const qnames = lvq ? ["tvirtd", "libvirtd"] : ["tvirtd"];
      // Rates of a daemon that has been running a while: WARM untimed pairs on each first (a
      // new tvirtd has not compiled its hot paths yet; libvirtd is C and gains nothing).
      for (const n of qnames) await pythonDefineUndefine(qemuUri(n), churnFile, WARM);
      set(qd, await alternating(qnames, 6, (n) => defineUndefine(qemuUri(n), churnXML, 50)));
      set(pqd, await alternating(qnames, 6, (n) => pythonDefineUndefine(qemuUri(n), churnFile, 100)));
      if (lvq) qidle.libvirtd = rssMiB(lvq.pid);
      for (const n of qnames) {
        const c = await connect(qemuUri(n));
        try {
          const doms = [];
          for (let i = 0; i < GUESTS; i++) {
            const dom = await c.defineXML(
              guestDomainXML({
                name: `bench-g${i}`,
                mode: "idle",
                kernel: guest.kernel,
                initrd: guest.initrd,
              }),
            );
            await dom.create();
            doms.push(dom);
          }
          await new Promise((r) => setTimeout(r, 2000));
          qrun[n as Target["name"]] = rssMiB(n === "tvirtd" ? pid : lvq!.pid);
          for (const dom of doms) {
            await dom.destroy();
            await dom.undefine();
          }
        } finally {
          await c.close();
        }
      }
    });
  } finally {
    for (const h of holders) await h.close().catch(() => undefined);
    await tv.stop();
    await lv?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const fmt = (v: number | string): string =>
    typeof v === "number" ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : v;
  const head = ["benchmark", "unit", "tvirtd", "libvirtd", "tvirtd vs libvirtd", "detail"];
  const cells = rows.map((r) => {
    let ratio = "";
    if (typeof r.tvirtd === "number" && typeof r.libvirtd === "number") {
      const x = r.better === "higher" ? r.tvirtd / r.libvirtd : r.libvirtd / r.tvirtd;
      ratio = `${x.toFixed(2)}x ${x >= 1 ? "better" : "worse"}`;
    }
    return [r.what, r.unit, fmt(r.tvirtd), fmt(r.libvirtd), ratio, r.detail.trim()];
  });
  const w = head.map(() => 0);
  for (const c of [head, ...cells]) c.forEach((v, i) => (w[i] = Math.max(w[i]!, v.length)));
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(w[i]!)).join(" | ");
  console.log(line(head));
  console.log(w.map((n) => "-".repeat(n)).join("-|-"));
  for (const c of cells) console.log(line(c));
  if (noLibvirtd) console.log(`\nlibvirtd column empty: ${noLibvirtd}`);
}

await main();
