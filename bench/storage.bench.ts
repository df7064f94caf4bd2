/**
 * Benchmark (issue 13, storage): tvirtd's local storage driver against libvirtd's, side by side
 * in one run, with the tools they call as the floor. Stock virsh is the client of both daemons.
 *
 * - tvirtd: a private `qemu:///session` daemon (HOME and the XDG dirs in a temp dir);
 * - libvirtd: a private one (bench/libvirtd.ts: own mount and network namespaces, state on the
 *   same file system) when Debian's libvirt-daemon (with its storage driver) is installed; its
 *   column says why it is empty otherwise;
 * - each daemon gets a `dir` pool `bench` on a directory of the same temp dir (`pool-create-as`).
 *
 * Figures (medians of ROUNDS rounds; the daemons alternate within a round so a busy moment of
 * the machine hits both):
 * - `vol-create-as bench vN.qcow2 1G --format qcow2`: COUNT of them in one virsh process (one
 *   connection), ms each; the floor is `qemu-img create -f qcow2 FILE 1G` run COUNT times (what
 *   both drivers spawn per volume). The volumes are deleted after each round, untimed.
 * - `vol-upload` of a MIB MiB file of random bytes (no holes) into a raw volume: MiB/s of the
 *   virsh process; the floor is `cp` of the same file into the same directory followed by
 *   `sync --data` of the copy (the daemons flush an upload before confirming its end).
 *
 * Every timed step starts after an untimed `sync`, and the daemons' order alternates by round.
 *
 *   npm run bench:storage      (ROUNDS=3 COUNT=20 MIB=256 to change sizes)
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { privateSession, run, spawnDaemon } from "../src/testing/rpc/harness.ts";
import { median } from "./stats.ts";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "./libvirtd.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const COUNT = Number(process.env.COUNT ?? 20);
const MIB = Number(process.env.MIB ?? 256);
const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

/**
 * Runs argv (no shell); fails loudly on a non-zero status. Returns the wall time in ms. Async,
 * so that tvirtd's stderr pipe (read by this process) never fills while a command runs.
 */
async function timed(argv: readonly string[]): Promise<number> {
  const t0 = performance.now();
  const r = await run(argv[0]!, argv.slice(1), { env, timeoutMs: 600_000 });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: status ${r.code}: ${r.stderr}`);
  return ms;
}

interface Target {
  name: "tvirtd" | "libvirtd";
  uri: string;
  pool: string;
}

function virsh(t: Target, cmds: string): Promise<number> {
  return timed(["virsh", "-c", t.uri, cmds]);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-storage-bench-"));
  const s = privateSession(join(dir, "tvirtd"));
  mkdirSync(join(dir, "tvirtd"), { recursive: true });
  const tv = await spawnDaemon(["--session", "--listen", s.sock, "--uri", "qemu:///session"], [s.sock], {
    env: s.env,
  });
  let lv: PrivateLibvirtd | undefined;
  let noLibvirtd = libvirtdUnavailable();
  if (!noLibvirtd) {
    try {
      lv = await startLibvirtd(join(dir, "libvirtd"));
    } catch (e) {
      noLibvirtd = (e as Error).message;
    }
  }
  const targets: Target[] = [{ name: "tvirtd", uri: s.uri, pool: join(dir, "pool-tvirtd") }];
  if (lv)
    targets.push({
      name: "libvirtd",
      uri: `qemu+unix:///system?socket=${lv.socket}`,
      pool: join(dir, "pool-libvirtd"),
    });
  const floorDir = join(dir, "floor");
  mkdirSync(floorDir);

  const create: Record<string, number[]> = { floor: [], tvirtd: [], libvirtd: [] };
  const upload: Record<string, number[]> = { floor: [], tvirtd: [], libvirtd: [] };
  try {
    for (const t of targets) {
      mkdirSync(t.pool);
      await virsh(t, `pool-create-as bench dir --target ${t.pool}`);
    }
    const src = join(dir, "src.img");
    const fd = openSync(src, "w");
    for (let i = 0; i < MIB; i++) writeSync(fd, randomBytes(1024 * 1024));
    closeSync(fd);

    for (let round = 0; round < ROUNDS; round++) {
      // Who goes first alternates, and every timed step starts with the page cache written back
      // (an untimed `sync`), so that no one pays for the writes of the step before.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      const settle = (): Promise<number> => timed(["sync"]);

      // --- vol-create-as qcow2 1G ----------------------------------------------------------
      await settle();
      let ms = 0;
      for (let i = 0; i < COUNT; i++)
        ms += await timed(["qemu-img", "create", "-q", "-f", "qcow2", join(floorDir, `v${i}.qcow2`), "1G"]);
      create.floor!.push(ms / COUNT);
      rmSync(floorDir, { recursive: true });
      mkdirSync(floorDir);
      for (const t of order) {
        const cmds = Array.from(
          { length: COUNT },
          (_, i) => `vol-create-as bench v${i}.qcow2 1G --format qcow2`,
        );
        await settle();
        create[t.name]!.push((await virsh(t, cmds.join(" ; "))) / COUNT);
        await virsh(
          t,
          Array.from({ length: COUNT }, (_, i) => `vol-delete v${i}.qcow2 --pool bench`).join(" ; "),
        );
      }

      // --- vol-upload MIB MiB --------------------------------------------------------------
      // The floor is a durable copy: cp, then fdatasync of the copy (`sync --data`), as the
      // daemons flush an upload before they confirm its end.
      const dst = join(floorDir, "up.img");
      await settle();
      const cp = (await timed(["cp", src, dst])) + (await timed(["sync", "--data", dst]));
      upload.floor!.push(MIB / (cp / 1000));
      rmSync(dst);
      for (const t of order) {
        await virsh(t, `vol-create-as bench up.img ${MIB}M --format raw --allocation 0`);
        await settle();
        upload[t.name]!.push(MIB / ((await virsh(t, `vol-upload up.img ${src} --pool bench`)) / 1000));
        await virsh(t, "vol-delete up.img --pool bench");
      }
    }
    for (const t of targets) await virsh(t, "pool-destroy bench");
  } finally {
    await tv.stop();
    await lv?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const m = (xs: number[] | undefined): number | undefined => (xs && xs.length > 0 ? median(xs) : undefined);
  const fmt = (v: number | undefined): string =>
    v === undefined ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  /** How many times better `a` is than `b` (lower or higher is better). */
  const ratio = (a: number | undefined, b: number | undefined, higher: boolean): string => {
    if (a === undefined || b === undefined) return "-";
    const x = higher ? a / b : b / a;
    return `${x.toFixed(2)}x`;
  };
  const rows = [
    {
      what: `vol-create-as qcow2 1G (${COUNT}/virsh)`,
      unit: "ms each",
      floorName: "qemu-img create",
      higher: false,
      ...{ f: m(create.floor), t: m(create.tvirtd), l: m(create.libvirtd) },
    },
    {
      what: `vol-upload ${MIB} MiB (no holes)`,
      unit: "MiB/s",
      floorName: "cp + sync --data",
      higher: true,
      ...{ f: m(upload.floor), t: m(upload.tvirtd), l: m(upload.libvirtd) },
    },
  ];
  const head = [
    "benchmark",
    "unit",
    "floor",
    "floor value",
    "tvirtd",
    "libvirtd",
    "tvirtd vs libvirtd",
    "tvirtd vs floor",
  ];
  const cells = rows.map((r) => [
    r.what,
    r.unit,
    r.floorName,
    fmt(r.f),
    fmt(r.t),
    fmt(r.l),
    ratio(r.t, r.l, r.higher),
    ratio(r.t, r.f, r.higher),
  ]);
  const w = head.map(() => 0);
  for (const c of [head, ...cells]) c.forEach((v, i) => (w[i] = Math.max(w[i]!, v.length)));
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(w[i]!)).join(" | ");
  console.log(
    `storage bench: ${ROUNDS} rounds (medians), ${COUNT} volumes per create round, ${MIB} MiB upload`,
  );
  console.log("ratios: how many times better tvirtd is (above 1: faster; below 1: slower)");
  console.log(line(head));
  console.log(w.map((n) => "-".repeat(n)).join("-|-"));
  for (const c of cells) console.log(line(c));
  if (noLibvirtd) console.log(`\nlibvirtd column empty: ${noLibvirtd}`);
}

await main();
