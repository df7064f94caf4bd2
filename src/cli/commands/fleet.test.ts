/**
 * tvirsh's issue 20 commands (fleet.ts): byte for byte against the real virsh 9.0 on
 * `test:///default` (when virsh is installed; under `CI=true` it must be), and their `--json`
 * documents against `schemas.ts`.
 */
import { test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

/** Each line is one virsh command string (virsh parses it itself, as tvirsh does). */
const lines = [
  "nodecpumap",
  "nodecpumap --pretty",
  "nodecpumap --bogus",
  "help nodecpumap",
  "nodecpustats",
  "nodecpustats --cpu 2",
  "nodecpustats 1",
  "nodecpustats --cpu x",
  "nodecpustats --percent",
  "nodecpustats --cpu 0 --percent",
  "help nodecpustats",
  "vcpuinfo test",
  "vcpuinfo test --pretty",
  "vcpuinfo --domain 1 --pretty",
  "vcpuinfo nosuch",
  "vcpuinfo",
  "help vcpuinfo",
  "desc test",
  "desc test --title",
  "desc test --config",
  "desc test --current --live",
  "desc test --current --config hello",
  "desc nosuch",
  "desc test --title --new-desc hello ; desc test --title ; desc --domain test --title --config",
  "desc test --live new words here ; desc test ; desc test --config ; desc test --current",
  "desc test --config persistent text ; desc test --config ; desc test --live",
  "-q desc test hello ; desc test ; desc test --title",
  "desc test '' ; desc test --title ''",
  "desc test x ; desc test '' ; desc test ; desc test --title y ; desc test --title '' ; desc test --title",
  "help desc",
  "metadata test http://x.org/ --key x --set '<a b=\"1\"><c>hi</c></a>' ; metadata test http://x.org/ ; dumpxml test",
  "metadata test http://x.org/ --key x --set '<q/>' ; metadata test http://x.org/ --key y --set '<z>t</z>' ; metadata test http://x.org/ ; metadata test http://x.org/ --remove ; metadata test http://x.org/",
  "metadata test http://x.org/ --set '<q/>'",
  "metadata test http://x.org/ --remove --set '<q/>'",
  "metadata test",
  "metadata nosuch http://x.org/",
  "help metadata",
  "domtime test",
  "domtime test --pretty",
  "domtime --domain test --time 1000000000",
  "domtime test --now",
  "domtime test --sync",
  "domtime test --time x",
  "domtime test --time 5 --now",
  "domtime test --sync --now",
  "domtime test --time 5 --sync",
  "domtime nosuch",
  "help domtime",
  "inject-nmi test",
  "inject-nmi --domain 1",
  "inject-nmi nosuch",
  "inject-nmi",
  "help inject-nmi",
  "domifaddr test",
  "domifaddr test --source lease",
  "domifaddr test --source arp",
  "domifaddr test --source agent",
  "domifaddr test --source bogus",
  "domifaddr test --interface nope",
  "domifaddr test --full --interface testnet0",
  "domifaddr nosuch",
  "help domifaddr",
];

/** The help groups these commands are listed in, as lines of `virsh help GROUP`. */
const groupLines = /nodecpu|vcpuinfo|desc |metadata|domtime|inject-nmi|domifaddr/;

/** vcpuinfo's CPU time follows the clock in libvirt's test driver: compare without it. */
const maskTime = (s: string): string => s.replace(/CPU time:\s+\d+\.\ds/g, "CPU time: X");

test("issue 20 commands print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  for (const line of lines) {
    const args = line.startsWith("-q ") ? ["-q", line.slice(3)] : [line];
    const v = await runArgv(["virsh", "-c", "test:///default", ...args], { env });
    const ours = await tvirsh(...args);
    assert.equal(maskTime(ours.out), maskTime(v.stdout), `stdout of: ${line}`);
    assert.equal(ours.err, v.stderr, `stderr of: ${line}`);
    assert.equal(ours.status, v.code, `status of: ${line}`);
  }
  for (const g of ["host", "domain", "monitor"]) {
    const v = await runArgv(["virsh", "help", g], { env });
    const ours = await tvirsh("help", g);
    const pick = (s: string): string[] => s.split("\n").filter((l) => groupLines.test(l));
    assert.deepEqual(pick(ours.out), pick(v.stdout), `help ${g}`);
  }
});

test("--json: issue 20 documents match their schemas", async () => {
  const map = await tvirsh("nodecpumap", "--json");
  assert.equal(map.status, 0, map.err);
  const m = JSON.parse(map.out) as unknown;
  assert.deepEqual(validate(m, commandSchemas.nodecpumap!), []);
  assert.deepEqual(m, { present: 8, online: 3, onlineCpus: [0, 2, 4] });

  const stats = await tvirsh("nodecpustats", "--json");
  assert.equal(stats.status, 0, stats.err);
  const s = JSON.parse(stats.out) as { user: number; cpu: number | null };
  assert.deepEqual(validate(s, commandSchemas.nodecpustats!), []);
  assert.equal(s.user, 9797400000);
  assert.equal(s.cpu, null);
  const pc = await tvirsh("nodecpustats", "--percent", "--json");
  assert.equal(pc.status, 0, pc.err);
  const p = JSON.parse(pc.out) as { percent: { usage: number | null } };
  assert.deepEqual(validate(p, commandSchemas.nodecpustats!), []);
  // the test driver's counters never move: no share can be computed
  assert.equal(p.percent.usage, null);

  for (const [args, name] of [
    [["domtime", "test", "--json"], "domtime"],
    [["domtime", "test", "--time", "7", "--json"], "domtime"],
    [["inject-nmi", "test", "--json"], "inject-nmi"],
    [["domifaddr", "test", "--json"], "domifaddr"],
    [["desc", "test", "--json"], "desc"],
    [["desc", "test", "--title", "t", "--json"], "desc"],
    [["metadata", "test", "http://x.org/", "--key", "x", "--set", "<a/>", "--json"], "metadata"],
    [["metadata", "test", "http://x.org/", "--remove", "--json"], "metadata"],
  ] as const) {
    const r = await tvirsh(...args);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(validate(JSON.parse(r.out), commandSchemas[name]!), [], args.join(" "));
  }
  const dt = JSON.parse((await tvirsh("domtime", "test", "--json")).out) as { seconds: number };
  assert.equal(dt.seconds, 627319920);

  const vc = await tvirsh("vcpuinfo", "test", "--json");
  assert.equal(vc.status, 0, vc.err);
  const c = JSON.parse(vc.out) as { hostCpus: number; vcpus: { cpu: number; affinity: number[] }[] };
  assert.deepEqual(validate(c, commandSchemas.vcpuinfo!), []);
  assert.equal(c.hostCpus, 8);
  assert.deepEqual(
    c.vcpus.map((x) => [x.cpu, x.affinity.length]),
    [
      [15, 8],
      [15, 8],
    ],
  );
});

test("desc --edit and metadata --edit print what virsh 9.0 prints with the same editor", async (t) => {
  if (!virsh9OrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-edit-"));
  const editor = join(dir, "ed.sh");
  // an editor whose result is known: the file becomes $TVIRT_TEST_TEXT and a newline
  writeFileSync(editor, '#!/bin/sh\nprintf "%s\\n" "$TVIRT_TEST_TEXT" > "$1"\n', { mode: 0o755 });
  const saved = { EDITOR: process.env.EDITOR, VISUAL: process.env.VISUAL, T: process.env.TVIRT_TEST_TEXT };
  t.after(() => {
    const back: [string, string | undefined][] = [
      ["EDITOR", saved.EDITOR],
      ["VISUAL", saved.VISUAL],
      ["TVIRT_TEST_TEXT", saved.T],
    ];
    for (const [k, v] of back) {
      Reflect.deleteProperty(process.env, k);
      if (v !== undefined) process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  delete process.env.VISUAL;
  process.env.EDITOR = editor;
  for (const [text, line] of [
    [
      "an edited description",
      "desc test --edit ; desc test ; desc test --edit ; desc test --title --edit ; desc test --title",
    ],
    [
      "<m>1</m>",
      "metadata test http://m.org/ --key m --edit ; metadata test http://m.org/ ; metadata test http://m.org/ --edit",
    ],
    [
      "<m>1</m>",
      "metadata test http://m.org/ --key m --edit ; metadata test http://m.org/ --key m --edit ; dumpxml test",
    ],
  ] as const) {
    process.env.TVIRT_TEST_TEXT = text;
    const v = await runArgv(["virsh", "-c", "test:///default", line], {
      env: { ...env, EDITOR: editor, TVIRT_TEST_TEXT: text },
    });
    const ours = await tvirsh(line);
    assert.equal(ours.out, v.stdout, `stdout of: ${line}`);
    assert.equal(ours.err, v.stderr, `stderr of: ${line}`);
    assert.equal(ours.status, v.code, `status of: ${line}`);
  }
});
