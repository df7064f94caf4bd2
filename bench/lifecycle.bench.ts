/**
 * Benchmark (issue: run real guests): on the same tiny-guest XML, in one run,
 * - start latency to the guest's marker line: raw QEMU (the same argv tvirt builds, minus -S,
 *   started directly) against tvirt's embedded driver (create → marker), and the overhead;
 * - `tvirsh list --all` (a new process each time, as a user runs it) with 1, 100 and 1000 defined
 *   domains, and the API's listAllDomains on an open connection;
 * - define+undefine per second on one connection.
 * libvirt is compared when `virsh -c qemu:///system` answers (a libvirt daemon is running);
 * otherwise its columns say so. Prints a table.
 *
 *   npm run bench:lifecycle [-- --rounds N]
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
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
import { domainXMLToNative } from "../src/drivers/qemu/native.ts";
import { ensureTestGuest, guestDomainXML } from "../src/testing/guest/index.ts";
import { repoRoot } from "../src/testing/corpus.ts";

const { values } = parseArgs({ options: { rounds: { type: "string" } } });
const rounds = Number(values.rounds ?? 3);
const marker = "TVIRT-GUEST-READY";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function waitForMarker(file: string, t0: number, timeoutMs = 60_000): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    if (existsSync(file) && readFileSync(file, "utf8").includes(marker)) return performance.now() - t0;
    await sleep(5);
  }
  throw new Error(`no ${marker} in ${file} within ${timeoutMs} ms`);
}

const work = mkdtempSync(join(tmpdir(), "tvirt-bench-"));
const guest = await ensureTestGuest();
const rawMs: number[] = [];
const tvirtMs: number[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    // Raw QEMU: tvirt's own argv for the same XML without -S, started directly.
    {
      const dir = join(work, `raw-${r}`);
      mkdirSync(dir);
      const log = join(dir, "console.log");
      const xml = guestDomainXML({
        name: `raw${r}`,
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
      const args = command.args.filter((a) => a !== "-S");
      const out = openSync(join(dir, "qemu.log"), "a");
      const t0 = performance.now();
      const child = spawn(command.emulator, args, {
        env: Object.fromEntries(command.env),
        stdio: ["ignore", out, out],
      });
      closeSync(out);
      try {
        rawMs.push(await waitForMarker(log, t0));
      } finally {
        child.kill("SIGKILL");
      }
    }
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
  const listRows: [number, number, number][] = [];
  for (const n of [1, 100, 1000]) {
    const root = join(work, `list-${n}`);
    const uri = `qemu:///embed?root=${root}`;
    const conn = await connect(uri);
    try {
      for (let i = 0; i < n; i++) {
        await conn.defineXML(
          guestDomainXML({ name: `d${i}`, mode: "idle", kernel: guest.kernel, initrd: guest.initrd }),
        );
      }
      const api: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await conn.listAllDomains();
        api.push(performance.now() - t0);
      }
      await conn.close();
      const cli: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const res = spawnSync(process.execPath, [tvirsh, "-c", uri, "list", "--all"], { encoding: "utf8" });
        cli.push(performance.now() - t0);
        if (res.status !== 0) throw new Error(`tvirsh list failed: ${res.stderr}`);
      }
      listRows.push([n, median(cli), median(api)]);
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
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

  const libvirt = spawnSync("virsh", ["-c", "qemu:///system", "uri"], { encoding: "utf8" }).status === 0;
  const na = libvirt ? "(see below)" : "n/a: no libvirt daemon here";
  console.log(`tiny guest (TCG, 128 MiB), ${rounds} rounds, Node ${process.version}`);
  console.log("| measure | raw QEMU | tvirt | tvirt / raw | libvirt |");
  console.log("|---|---:|---:|---:|---|");
  const raw = median(rawMs);
  const tv = median(tvirtMs);
  console.log(
    `| start → guest marker (median ms) | ${raw.toFixed(0)} | ${tv.toFixed(0)} | ${(tv / raw).toFixed(2)}× | ${na} |`,
  );
  console.log(`| management overhead over raw QEMU (ms) | 0 | ${(tv - raw).toFixed(0)} | | ${na} |`);
  for (const [n, cli, api] of listRows) {
    console.log(
      `| list --all, ${n} defined: tvirsh process (ms) / API call (ms) | | ${cli.toFixed(0)} / ${api.toFixed(1)} | | ${na} |`,
    );
  }
  console.log(`| define+undefine per second (one connection) | | ${churn.toFixed(0)} | | ${na} |`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
