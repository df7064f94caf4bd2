/**
 * One-shot commands (issue 11): a new process each time, as a user runs them, stdout a pipe.
 * `tvirsh --version` and `tvirsh -c test:///default list` beside an empty Node process
 * (`node -e 0`), the floor of anything written for Node, and stock virsh doing the same; the
 * Node ones with and without NODE_EXTRA_CA_CERTS (when it is set, Node parses that CA bundle at
 * every start, before any of our code runs). Every round runs each command once, in turn, so
 * that a busy moment of the machine hits all of them; medians of wall time and of CPU time (the
 * child's user+system time: the less noisy figure when other work shares the cores).
 *
 * Part of `npm run bench:lifecycle`; alone: `npx tsx bench/oneshot.ts [--rounds N]`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { median } from "./stats.ts";

interface Case {
  label: string;
  file: string;
  args: string[];
  /** Unset NODE_EXTRA_CA_CERTS for this one. */
  noCa: boolean;
  /** What the output must contain (the run really did the work). */
  expect: string;
}

export interface OneShotRow {
  label: string;
  wall: number;
  cpu: number;
}

/**
 * Runs the rounds from python3 (already needed for python3-libvirt): its os.wait4 gives each
 * child's CPU time to the microsecond (Node has no getrusage of children, and /proc's cutime
 * counts 10 ms ticks). Round 0 warms the page cache and any code cache and is not counted.
 */
const ROUNDS_PY = `
import json, os, sys, time
cases, rounds = json.loads(sys.argv[1]), int(sys.argv[2])
env_ca = dict(os.environ)
env_no = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
out = [[[], []] for _ in cases]
for r in range(rounds + 1):
    for i, c in enumerate(cases):
        rd, wr = os.pipe()
        t0 = time.perf_counter()
        pid = os.posix_spawnp(c["file"], [c["file"]] + c["args"], env_no if c["noCa"] else env_ca,
                              file_actions=[(os.POSIX_SPAWN_DUP2, wr, 1), (os.POSIX_SPAWN_CLOSE, rd)])
        os.close(wr)
        got = b""
        while True:
            b = os.read(rd, 65536)
            if not b: break
            got += b
        os.close(rd)
        _, status, ru = os.wait4(pid, 0)
        ms = (time.perf_counter() - t0) * 1000
        if status != 0 or c["expect"].encode() not in got:
            sys.exit(c["label"] + ": status " + str(status) + ": " + got.decode(errors="replace"))
        if r > 0:
            out[i][0].append(ms)
            out[i][1].append((ru.ru_utime + ru.ru_stime) * 1000)
print(json.dumps(out))
`;

export function oneShotCases(repoRoot: string): Case[] {
  const tvirsh = join(repoRoot, "bin", "tvirsh.js");
  const node = process.execPath;
  const withCa = process.env.NODE_EXTRA_CA_CERTS !== undefined && process.env.NODE_EXTRA_CA_CERTS !== "";
  const cases: Case[] = [];
  for (const noCa of withCa ? [false, true] : [true]) {
    const tag = withCa ? (noCa ? " [no CA]" : " [CA]") : "";
    cases.push(
      { label: `node -e 0${tag}`, file: node, args: ["-e", "0"], noCa, expect: "" },
      { label: `tvirsh --version${tag}`, file: node, args: [tvirsh, "--version"], noCa, expect: "." },
      {
        label: `tvirsh -c test:///default list${tag}`,
        file: node,
        args: [tvirsh, "-c", "test:///default", "list"],
        noCa,
        expect: "running",
      },
    );
  }
  cases.push(
    { label: "virsh --version", file: "virsh", args: ["--version"], noCa: false, expect: "." },
    {
      label: "virsh -c test:///default list",
      file: "virsh",
      args: ["-c", "test:///default", "list"],
      noCa: false,
      expect: "running",
    },
  );
  return cases;
}

/** Alternating rounds of every case; the median wall and CPU time of each. */
export function runOneShot(cases: Case[], rounds: number): OneShotRow[] {
  const py = spawnSync(
    existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3",
    ["-c", ROUNDS_PY, JSON.stringify(cases), String(rounds)],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  if (py.status !== 0) throw new Error(`one-shot rounds failed: ${py.stderr}`);
  const samples = JSON.parse(py.stdout) as [number[], number[]][];
  return cases.map((c, i) => ({ label: c.label, wall: median(samples[i]![0]), cpu: median(samples[i]![1]) }));
}

/** The table: each figure, and each tvirsh one beside `node -e 0` of its environment. */
export function oneShotTable(rows: OneShotRow[], rounds: number): string[] {
  const floor = (label: string): OneShotRow | undefined => {
    const tag = /( \[[^\]]+\])$/.exec(label)?.[1] ?? "";
    return rows.find((r) => r.label === `node -e 0${tag}`);
  };
  const virshOf = (label: string): OneShotRow | undefined =>
    rows.find((r) => r.label === label.replace(/^tvirsh/, "virsh").replace(/ \[[^\]]+\]$/, ""));
  const out = [
    `one-shot commands, a new process each, stdout a pipe: median of ${String(rounds)} alternating rounds`,
    "| command | wall ms | CPU ms | wall − node -e 0 (ms) | CPU − node -e 0 (ms) | wall / virsh's |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const f = r.label.startsWith("tvirsh") ? floor(r.label) : undefined;
    const v = r.label.startsWith("tvirsh") ? virshOf(r.label) : undefined;
    out.push(
      `| ${r.label} | ${r.wall.toFixed(1)} | ${r.cpu.toFixed(0)} | ${f ? `+${(r.wall - f.wall).toFixed(1)}` : ""} | ${f ? `+${(r.cpu - f.cpu).toFixed(0)}` : ""} | ${v ? `${(r.wall / v.wall).toFixed(2)}×` : ""} |`,
    );
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  const { repoRoot } = await import("../src/testing/corpus.ts");
  // tvirsh as users run it: from the current bundle (a stale one sends the launcher to the
  // TypeScript sources, which is not what is measured).
  if (spawnSync(process.execPath, [join(repoRoot, "scripts", "build.js")], { stdio: "inherit" }).status !== 0)
    throw new Error("npm run build failed");
  const i = process.argv.indexOf("--rounds");
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 21;
  for (const line of oneShotTable(runOneShot(oneShotCases(repoRoot), rounds), rounds)) console.log(line);
}
