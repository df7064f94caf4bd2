/**
 * Benchmark (issue: run real guests): on the same tiny-guest XML, in one run,
 * - start latency to the guest's marker line: raw QEMU (the same argv tvirt builds, minus -S,
 *   started directly) against tvirt's embedded driver (create → marker), and the overhead;
 *   the boot itself varies by a few hundred ms under TCG, so the overhead is also measured
 *   where it arises, to the moment the vCPUs run: raw QEMU started with -S and resumed by a
 *   bare QMP client (the least any manager does) against tvirt's create();
 * - `tvirsh list --all` (a new process each time, as a user runs it) with 1, 100 and 1000 defined
 *   domains, and the API's listAllDomains on an open connection;
 * - define+undefine per second on one connection: python3-libvirt through tvirtd and through
 *   libvirtd (alternating rounds), and the tvirt library on an embedded root;
 * - one-shot commands (`tvirsh --version`, `tvirsh -c test:///default list`) beside `node -e 0`
 *   and stock virsh, with and without NODE_EXTRA_CA_CERTS (bench/oneshot.ts), a second table.
 * libvirt is compared on the same guest XML: the libvirt daemon of `qemu:///system` when one
 * answers (the guest files and the work dir must then be readable by the libvirt-qemu user), else
 * a private libvirtd when Debian's libvirt-daemon is installed (bench/libvirtd.ts); otherwise its
 * column says why it is empty. `list --all` runs alternate between tvirsh and virsh, so that a
 * busy moment of the machine hits both. Prints a table.
 *
 *   npm run bench:lifecycle [-- --rounds N]
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../src/api/index.ts";
import "../src/rpc/register.ts";
import { privateSession, spawnDaemon } from "../src/testing/rpc/harness.ts";
import { domainXMLToNative } from "../src/drivers/qemu/native.ts";
import { connectQmp } from "../src/drivers/qemu/monitor/qmp.ts";
import { ensureTestGuest, guestDomainXML } from "../src/testing/guest/index.ts";
import { repoRoot } from "../src/testing/corpus.ts";
import { median } from "./stats.ts";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "./libvirtd.ts";
import { oneShotCases, oneShotTable, runOneShot } from "./oneshot.ts";

const { values } = parseArgs({ options: { rounds: { type: "string" } } });
const rounds = Number(values.rounds ?? 5);
const marker = "TVIRT-GUEST-READY";

async function waitForMarker(file: string, t0: number, timeoutMs = 60_000): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    if (existsSync(file) && readFileSync(file, "utf8").includes(marker)) return performance.now() - t0;
    await sleep(5);
  }
  throw new Error(`no ${marker} in ${file} within ${timeoutMs} ms`);
}

interface LibvirtFigures {
  /** virsh start → marker (median ms). */
  marker: number;
  /** the virsh start command itself (median ms): vCPUs running when it returns. */
  start: number;
}

const virshIn =
  (uri: string) =>
  (...args: string[]): string => {
    const r = spawnSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`virsh ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

/** A directory the libvirt daemon's QEMU (maybe libvirt-qemu) can read and write. */
function libvirtDir(work: string): string {
  const dir = join(work, "libvirt");
  mkdirSync(dir, { mode: 0o777, recursive: true });
  chmodSync(dir, 0o777);
  return dir;
}

/** define+undefine pairs per second of `xmlFile` through python3-libvirt, for `seconds`. */
function pythonChurn(uri: string, xmlFile: string, seconds: number): number {
  const py = spawnSync(
    existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3",
    [
      "-c",
      "import libvirt,sys,time\nc=libvirt.open(sys.argv[1]);x=open(sys.argv[2]).read();c.defineXML(x).undefine()\n" +
        "n=0;t=time.time()\nwhile time.time()-t<float(sys.argv[3]):\n  c.defineXML(x).undefine();n+=1\n" +
        "print(n/(time.time()-t))",
      uri,
      xmlFile,
      String(seconds),
    ],
    { encoding: "utf8" },
  );
  if (py.status !== 0) throw new Error(`python3-libvirt define+undefine failed on ${uri}: ${py.stderr}`);
  return Number(py.stdout.trim());
}

/**
 * The same start measures against a libvirt daemon's QEMU driver, on the same guest XML. Every
 * domain it defines is named tvirt-bench-* and undefined again.
 */
async function libvirtFigures(uri: string, work: string): Promise<LibvirtFigures> {
  const dir = libvirtDir(work);
  const virsh = virshIn(uri);
  const markers: number[] = [];
  const starts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const name = `tvirt-bench-start-${String(r)}`;
    const log = join(dir, `${name}.log`);
    const file = join(dir, `${name}.xml`);
    writeFileSync(
      file,
      guestDomainXML({ name, mode: "idle", kernel: guest.kernel, initrd: guest.initrd, serialLogPath: log }),
    );
    virsh("define", file);
    try {
      const t0 = performance.now();
      virsh("start", name);
      starts.push(performance.now() - t0);
      markers.push(await waitForMarker(log, t0));
    } finally {
      spawnSync("virsh", ["-q", "-c", uri, "destroy", name]);
      spawnSync("virsh", ["-q", "-c", uri, "undefine", name]);
    }
  }
  return { marker: median(markers), start: median(starts) };
}

const work = mkdtempSync(join(tmpdir(), "tvirt-bench-"));
const guest = await ensureTestGuest();
// The libvirt to compare with: the system daemon when one answers, else a private one.
let privateLibvirtd: PrivateLibvirtd | undefined;
let libvirtUri: string | undefined;
let noLibvirt = "";
if (spawnSync("virsh", ["-c", "qemu:///system", "uri"], { encoding: "utf8" }).status === 0) {
  libvirtUri = "qemu:///system";
} else {
  const why = libvirtdUnavailable();
  if (why === undefined) {
    privateLibvirtd = await startLibvirtd(join(work, "libvirtd"));
    libvirtUri = `qemu+unix:///system?socket=${privateLibvirtd.socket}`;
  } else noLibvirt = `n/a: ${why}`;
}
const rawMs: number[] = [];
const tvirtMs: number[] = [];
const rawRunMs: number[] = [];
const tvirtRunMs: number[] = [];

/**
 * Starts tvirt's argv for the tiny guest directly. `paused`: with -S, resumed by a bare QMP
 * client; returns spawn → `cont` answered. Otherwise without -S; returns spawn → marker.
 */
async function rawStart(dir: string, name: string, paused: boolean): Promise<number> {
  mkdirSync(dir);
  const log = join(dir, "console.log");
  const xml = guestDomainXML({
    name,
    mode: "idle",
    kernel: guest.kernel,
    initrd: guest.initrd,
    serialLogPath: log,
  });
  const { command, context } = await domainXMLToNative(xml, {
    root: { kind: "embed", root: join(dir, "root") },
  });
  mkdirSync(context.paths.domainDir, { recursive: true });
  writeFileSync(context.paths.masterKeyFile, randomBytes(32), { mode: 0o600 });
  const args = paused ? command.args : command.args.filter((a) => a !== "-S");
  const monitor = /path=([^,]+)/.exec(args.find((a) => a.includes("monitor.sock")) ?? "")?.[1];
  const out = openSync(join(dir, "qemu.log"), "a");
  const t0 = performance.now();
  const child = spawn(command.emulator, args, {
    env: Object.fromEntries(command.env),
    stdio: ["ignore", out, out],
  });
  closeSync(out);
  try {
    if (!paused) return await waitForMarker(log, t0);
    if (monitor === undefined) throw new Error("no monitor socket in the argv");
    const qmp = await connectQmp({ path: monitor, name, timeoutMs: 30_000 });
    await qmp.execute("cont");
    const ms = performance.now() - t0;
    await qmp.close();
    return ms;
  } finally {
    child.kill("SIGKILL");
  }
}
try {
  for (let r = 0; r < rounds; r++) {
    // Raw QEMU: tvirt's own argv for the same XML without -S, started directly.
    rawMs.push(await rawStart(join(work, `raw-${r}`), `raw${r}`, false));
    // Raw QEMU with -S, resumed over QMP: spawn → vCPUs running.
    rawRunMs.push(await rawStart(join(work, `rawp-${r}`), `rawp${r}`, true));
    // tvirt: define once, then time create → marker.
    {
      const dir = join(work, `tvirt-${r}`);
      mkdirSync(dir);
      const log = join(dir, "console.log");
      const xml = guestDomainXML({
        name: `tv${r}`,
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: log,
      });
      const conn = await connect(`qemu:///embed?root=${join(dir, "root")}`);
      try {
        const dom = await conn.defineXML(xml);
        const t0 = performance.now();
        await dom.create();
        tvirtRunMs.push(performance.now() - t0);
        tvirtMs.push(await waitForMarker(log, t0));
        await dom.destroy();
        await dom.undefine();
      } finally {
        await conn.close();
      }
    }
  }

  // list --all with N defined domains, and define+undefine per second.
  const tvirsh = join(repoRoot, "bin", "tvirsh.js");
  // tvirsh as users run it: from the current bundle (the launcher falls back to compiling the
  // TypeScript sources when the bundle is stale, which is not what is being measured).
  if (spawnSync(process.execPath, [join(repoRoot, "scripts", "build.js")], { stdio: "inherit" }).status !== 0)
    throw new Error("npm run build failed");
  // The floor of any Node process on this machine, for scale.
  const floor: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ["-e", "0"]);
    floor.push(performance.now() - t0);
  }
  // One-shot commands beside node -e 0 and virsh (bench/oneshot.ts).
  const oneShotRounds = Math.max(15, rounds);
  const oneShot = runOneShot(oneShotCases(repoRoot), oneShotRounds);
  // list --all with n defined, each run a new process as a user runs it, the runs alternating:
  // tvirsh on an embedded root; tvirsh and stock virsh through tvirtd (a private
  // qemu:///session daemon, the counterpart of `virsh -c qemu:///system`); virsh through libvirt.
  const daemonDir = join(work, "tvirtd");
  mkdirSync(daemonDir);
  const session = privateSession(daemonDir);
  let pyChurn: { tvirtd: number; libvirtd: number } | undefined;
  const tvirtd = await spawnDaemon(
    ["--session", "--listen", session.sock, "--uri", "qemu:///session"],
    [session.sock],
    { env: session.env },
  );
  interface ListRow {
    n: number;
    embed: number;
    api: number;
    daemon: number;
    virshDaemon: number;
    libvirt: number;
  }
  const listRows: ListRow[] = [];
  const timed = (file: string, args: string[]): number => {
    const t0 = performance.now();
    const res = spawnSync(file, args, { encoding: "utf8" });
    const ms = performance.now() - t0;
    if (res.status !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${res.stderr}`);
    return ms;
  };
  try {
    for (const n of [1, 100, 1000]) {
      const root = join(work, `list-${n}`);
      const uri = `qemu:///embed?root=${root}`;
      const conn = await connect(uri);
      const viaDaemon = await connect(session.uri);
      const lvNames = Array.from({ length: n }, (_, i) => `tvirt-bench-list-${String(i)}`);
      try {
        for (let i = 0; i < n; i++) {
          const xml = guestDomainXML({
            name: `d${i}`,
            mode: "idle",
            kernel: guest.kernel,
            initrd: guest.initrd,
          });
          await conn.defineXML(xml);
          await viaDaemon.defineXML(xml);
        }
        const api: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t0 = performance.now();
          await conn.listAllDomains();
          api.push(performance.now() - t0);
        }
        await conn.close();
        if (libvirtUri) {
          const dir = libvirtDir(work);
          const defines = lvNames.map((name) => {
            const file = join(dir, `${name}.xml`);
            writeFileSync(
              file,
              guestDomainXML({ name, mode: "idle", kernel: guest.kernel, initrd: guest.initrd }),
            );
            return `define ${file}`;
          });
          virshIn(libvirtUri)(defines.join(" ; "));
        }
        const t = {
          embed: [] as number[],
          daemon: [] as number[],
          virshDaemon: [] as number[],
          libvirt: [] as number[],
        };
        for (let i = 0; i < 5; i++) {
          t.embed.push(timed(process.execPath, [tvirsh, "-c", uri, "list", "--all"]));
          t.daemon.push(timed(process.execPath, [tvirsh, "-c", session.uri, "list", "--all"]));
          t.virshDaemon.push(timed("virsh", ["-c", session.uri, "list", "--all"]));
          if (libvirtUri) t.libvirt.push(timed("virsh", ["-c", libvirtUri, "list", "--all"]));
        }
        listRows.push({
          n,
          embed: median(t.embed),
          api: median(api),
          daemon: median(t.daemon),
          virshDaemon: median(t.virshDaemon),
          libvirt: libvirtUri ? median(t.libvirt) : NaN,
        });
      } catch (e) {
        await conn.close().catch(() => undefined);
        throw e;
      } finally {
        for (const d of await viaDaemon.listAllDomains()) await d.undefine();
        await viaDaemon.close();
        if (libvirtUri)
          spawnSync("virsh", ["-q", "-c", libvirtUri, lvNames.map((x) => `undefine ${x}`).join(" ; ")]);
      }
    }
    // define+undefine per second with the same client, python3-libvirt, through tvirtd and
    // through libvirtd: 5 rounds of 1 s each, alternating.
    const churnXml = join(work, "churn.xml");
    writeFileSync(
      churnXml,
      guestDomainXML({ name: "tvirt-bench-churn", mode: "idle", kernel: guest.kernel, initrd: guest.initrd }),
    );
    const viaTvirtd: number[] = [];
    const viaLibvirtd: number[] = [];
    for (let r = 0; r < 5; r++) {
      viaTvirtd.push(pythonChurn(session.uri, churnXml, 1));
      if (libvirtUri) viaLibvirtd.push(pythonChurn(libvirtUri, churnXml, 1));
    }
    pyChurn = { tvirtd: median(viaTvirtd), libvirtd: libvirtUri ? median(viaLibvirtd) : NaN };
  } finally {
    await tvirtd.stop();
  }

  const conn = await connect(`qemu:///embed?root=${join(work, "churn")}`);
  let churn = 0;
  try {
    const xml = guestDomainXML({ name: "churn", mode: "idle", kernel: guest.kernel, initrd: guest.initrd });
    const until = performance.now() + 3000;
    const t0 = performance.now();
    while (performance.now() < until) {
      const d = await conn.defineXML(xml);
      await d.undefine();
      churn++;
    }
    churn = churn / ((performance.now() - t0) / 1000);
  } finally {
    await conn.close();
  }

  const lv = libvirtUri ? await libvirtFigures(libvirtUri, work) : undefined;
  const na = noLibvirt;
  if (libvirtUri)
    console.log(`libvirt: ${libvirtUri}${privateLibvirtd ? " (a private libvirtd, bench/libvirtd.ts)" : ""}`);
  console.log(`tiny guest (TCG, 128 MiB), ${rounds} rounds, Node ${process.version}`);
  console.log("| measure | raw QEMU | tvirt | tvirt / raw | libvirt |");
  console.log("|---|---:|---:|---:|---|");
  const raw = median(rawMs);
  const tv = median(tvirtMs);
  console.log(
    `| start → guest marker (median ms) | ${raw.toFixed(0)} | ${tv.toFixed(0)} | ${(tv / raw).toFixed(2)}× | ${lv ? lv.marker.toFixed(0) : na} |`,
  );
  console.log(
    `| management overhead over raw QEMU, from the marker (ms) | 0 | ${(tv - raw).toFixed(0)} | | ${lv ? (lv.marker - raw).toFixed(0) : na} |`,
  );
  const rawRun = median(rawRunMs);
  const tvRun = median(tvirtRunMs);
  console.log(
    `| start → vCPUs running: raw -S + QMP cont / create() / virsh start (median ms) | ${rawRun.toFixed(0)} | ${tvRun.toFixed(0)} | ${(tvRun / rawRun).toFixed(2)}× | ${lv ? lv.start.toFixed(0) : na} |`,
  );
  console.log(
    `| management overhead over raw QEMU, to vCPUs running (ms) | 0 | ${(tvRun - rawRun).toFixed(0)} | | ${lv ? `${(lv.start - rawRun).toFixed(0)} (virsh start, a process)` : na} |`,
  );
  for (const r of listRows) {
    const vs = (ms: number): string =>
      Number.isNaN(r.libvirt) ? "" : ` (${(ms / r.libvirt).toFixed(2)}× libvirt's)`;
    console.log(
      `| list --all, ${r.n} defined, new process each: tvirsh embedded (ms) / API call (ms) | | ${r.embed.toFixed(0)}${vs(r.embed)} / ${r.api.toFixed(1)} | | ${Number.isNaN(r.libvirt) ? na : `${r.libvirt.toFixed(0)} (virsh, libvirtd)`} |`,
    );
    console.log(
      `| list --all, ${r.n} defined, new process each: tvirsh / stock virsh through tvirtd (ms) | | ${r.daemon.toFixed(0)}${vs(r.daemon)} / ${r.virshDaemon.toFixed(0)}${vs(r.virshDaemon)} | | |`,
    );
  }
  console.log(`| (for scale) an empty Node process, node -e 0 (ms) | | ${median(floor).toFixed(0)} | | |`);
  console.log(
    `| define+undefine per second, python3-libvirt through tvirtd / libvirtd (one connection) | | ${pyChurn.tvirtd.toFixed(0)}${libvirtUri ? ` (${(pyChurn.tvirtd / pyChurn.libvirtd).toFixed(2)}× libvirt's)` : ""} | | ${libvirtUri ? pyChurn.libvirtd.toFixed(0) : na} |`,
  );
  console.log(
    `| define+undefine per second, tvirt library on an embedded root (one connection) | | ${churn.toFixed(0)} | | |`,
  );
  console.log("");
  for (const line of oneShotTable(oneShot, oneShotRounds)) console.log(line);
} finally {
  await privateLibvirtd?.stop();
  rmSync(work, { recursive: true, force: true });
}
