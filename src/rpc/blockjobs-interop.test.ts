/**
 * Block jobs through tvirtd, checked with stock virsh 9.0 and python3-libvirt.
 *
 * On `test:///default` stock virsh against tvirtd prints what it prints against its own test
 * driver (which has no block jobs: the same refusals). On `qemu:///session` with the tiny TCG
 * guest in `disks` mode (it prints each block device's size every 2 s):
 * - `blockresize` grows a raw disk and the guest sees the new size;
 * - an overlay chain base←top made with qemu-img, data written with qemu-io into each layer,
 *   `blockcommit --active --pivot --verbose`: the live XML has no `<backingStore>` left, the
 *   persistent XML names the base, `qemu-img info --backing-chain` of the base has one layer,
 *   and both layers' data read back from the base with `qemu-io -r` after shutdown;
 * - `blockcopy --pivot` to a new file moves the disk there, data included;
 * - Nova's live snapshot (undefine, blockRebase COPY|REUSE_EXT|SHALLOW to an overlay it made,
 *   blockJobInfo until cur == end, `<mirror ready='yes'>`, blockJobAbort PIVOT, define again)
 *   and its volume extend (blockResize in bytes), with BLOCK_JOB_2 events seen by python.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type RunResult,
} from "../testing/rpc/harness.ts";

const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

test("test:///default through tvirtd: stock virsh's block job commands as on its own test driver", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-blockjobs-"));
  const sock = join(dir, "sock");
  const daemon = await spawnDaemon(["--listen", sock, "--uri", "test:///default"], [sock]);
  try {
    const uri = `test+unix:///default?socket=${sock}`;
    for (const cmd of [
      ["blockjob", "test", "vda", "--info"],
      ["blockjob", "test", "vda", "--raw"],
      ["blockjob", "test", "vda", "--abort"],
      ["blockjob", "test", "vda", "--pivot"],
      ["blockjob", "test", "vda", "--bandwidth", "10"],
      ["blockcommit", "test", "vda", "--active", "--pivot"],
      ["blockcommit", "test", "vda"],
      ["blockpull", "test", "vda"],
      ["blockpull", "test", "vda", "--base", "/x"],
      ["blockcopy", "test", "vda", "--dest", join(dir, "x.img")],
      ["blockcopy", "test", "vda", "--dest", join(dir, "x.img"), "--format", "qcow2"],
      ["blockresize", "test", "vda", "10M"],
    ]) {
      const ours = await run(virsh, ["-c", uri, ...cmd], { env, timeoutMs: 30_000 });
      const theirs = await run(virsh, ["-c", "test:///default", ...cmd], { env, timeoutMs: 30_000 });
      assert.equal(ours.stdout, theirs.stdout, cmd.join(" "));
      assert.equal(ours.stderr, theirs.stderr, cmd.join(" "));
      assert.equal(ours.code, theirs.code, cmd.join(" "));
    }
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

function diskXML(dev: string, file: string, format: string): string {
  return [
    `    <disk type='file' device='disk'>`,
    `      <driver name='qemu' type='${format}'/>`,
    `      <source file='${file}'/>`,
    `      <target dev='${dev}' bus='virtio'/>`,
    `    </disk>`,
  ].join("\n");
}

const MiB = 1024 * 1024;

test(
  "qemu:///session through tvirtd: blockresize, blockcommit --active --pivot, blockcopy --pivot, Nova's live snapshot",
  { timeout: 240_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const py = pythonLibvirtOrSkip(t);
    if (!py) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-blockjobs-q-"));
    const f = (n: string): string => join(dir, n);
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const serial = f("serial.log");
    const img = (...args: string[]): string => execFileSync("qemu-img", args, { encoding: "utf8" });
    const io = (...args: string[]): string => execFileSync("qemu-io", args, { encoding: "utf8" });
    // vda: base <- top, a pattern in each layer
    img("create", "-q", "-f", "qcow2", f("base.qcow2"), "32M");
    io("-f", "qcow2", "-c", "write -P 0xa1 0 1M", f("base.qcow2"));
    img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", f("base.qcow2"), f("top.qcow2"));
    io("-f", "qcow2", "-c", "write -P 0xb2 1M 1M", f("top.qcow2"));
    // vdb: raw, resized and then copied
    img("create", "-q", "-f", "raw", f("data.raw"), "16M");
    io("-f", "raw", "-c", "write -P 0xc3 0 1M", f("data.raw"));
    // vdc: Nova's instance disk (an overlay over an image cache entry)
    img("create", "-q", "-f", "qcow2", f("cache.qcow2"), "8M");
    img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", f("cache.qcow2"), f("inst.qcow2"));
    io("-f", "qcow2", "-c", "write -P 0xd4 0 1M", f("inst.qcow2"));
    // vdd: base <- mid <- top, for an inactive commit of mid into base
    img("create", "-q", "-f", "qcow2", f("d-base.qcow2"), "4M");
    io("-f", "qcow2", "-c", "write -P 0xe5 0 1M", f("d-base.qcow2"));
    img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", f("d-base.qcow2"), f("d-mid.qcow2"));
    io("-f", "qcow2", "-c", "write -P 0xf6 1M 1M", f("d-mid.qcow2"));
    img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", f("d-mid.qcow2"), f("d-top.qcow2"));
    const xml = guestDomainXML({
      name: "bj",
      mode: "disks",
      kernel: guest.kernel,
      initrd: guest.initrd,
      serialLogPath: serial,
      extraDevicesXML: [
        diskXML("vda", f("top.qcow2"), "qcow2"),
        diskXML("vdb", f("data.raw"), "raw"),
        diskXML("vdc", f("inst.qcow2"), "qcow2"),
        diskXML("vdd", f("d-top.qcow2"), "qcow2"),
      ].join("\n"),
    });
    writeFileSync(f("dom.xml"), xml);
    const daemon = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
      env: daemonEnv,
    });
    const v = async (args: string[], ok = true): Promise<RunResult> => {
      const r = await run(virsh, ["-c", uri, ...args], { env, timeoutMs: 90_000 });
      if (ok) assert.equal(r.code, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    const tv = async (args: string[], ok = true): Promise<RunResult> => {
      const r = await run(process.execPath, [tvirshBin, "-c", uri, ...args], { env, timeoutMs: 90_000 });
      if (ok) assert.equal(r.code, 0, `tvirsh ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    /** Stock virsh and tvirsh through the same daemon print the same bytes. */
    const same = async (args: string[]): Promise<RunResult> => {
      const theirs = await v(args, false);
      const ours = await tv(args, false);
      assert.deepEqual(
        { out: ours.stdout, err: ours.stderr, code: ours.code },
        { out: theirs.stdout, err: theirs.stderr, code: theirs.code },
        args.join(" "),
      );
      return theirs;
    };
    const guestSays = async (re: RegExp, from: number, ms = 90_000): Promise<void> => {
      const until = Date.now() + ms;
      for (;;) {
        const text = readFileSync(serial, "utf8").slice(from);
        if (re.test(text)) return;
        if (Date.now() > until)
          throw new Error(`guest did not print ${String(re)}; tail: ${text.slice(-300)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const logSize = (): number => readFileSync(serial, "utf8").length;
    try {
      await v(["define", f("dom.xml")]);
      await v(["start", "bj"]);
      await guestSays(/DISK vdb 32768\r?\n/, 0);

      // blockresize: 16 MiB -> 24 MiB, seen by the guest (512-byte sectors)
      let from = logSize();
      const rs = await v(["blockresize", "bj", "vdb", "24M"]);
      assert.equal(rs.stdout, "Block device 'vdb' is resized\n");
      await guestSays(/DISK vdb 49152\r?\n/, from);

      // the live XML shows the chain of vda
      const before = (await v(["dumpxml", "bj"])).stdout;
      assert.match(
        before,
        new RegExp(
          `<source file='${f("top.qcow2")}'/>\\s*<backingStore type='file'>\\s*<format type='qcow2'/>\\s*<source file='${f("base.qcow2")}'/>\\s*<backingStore/>\\s*</backingStore>`,
        ),
      );
      assert.equal((await v(["blockjob", "bj", "vda", "--info"])).stdout, "No current block job for vda\n");

      // blockcommit --active --pivot: the top is merged into the base and the disk moves there
      const bc = await v(["blockcommit", "bj", "vda", "--active", "--pivot", "--verbose"]);
      assert.equal(bc.stdout, "\nSuccessfully pivoted\n");
      assert.match(bc.stderr, /Block commit: \[100 %\]$/);
      const after = (await v(["dumpxml", "bj"])).stdout;
      assert.match(after, new RegExp(`<source file='${f("base.qcow2")}'/>\\s*<target dev='vda'`));
      assert.doesNotMatch(after.split("<target dev='vda'")[0]!.split("<disk").at(-1)!, /backingStore|mirror/);
      const inactive = (await v(["dumpxml", "bj", "--inactive"])).stdout;
      assert.match(inactive, new RegExp(`<source file='${f("base.qcow2")}'/>`));
      assert.equal((await v(["domblklist", "bj"])).stdout.includes(f("top.qcow2")), false);

      // blockcopy --pivot to a new file: vdb (raw) moves to copy.raw
      const cp = await v([
        "blockcopy",
        "bj",
        "vdb",
        "--dest",
        f("copy.raw"),
        "--format",
        "raw",
        "--pivot",
        "--verbose",
        "--transient-job",
      ]);
      assert.equal(cp.stdout, "\nSuccessfully pivoted\n");
      assert.match(cp.stderr, /Block Copy: \[100 %\]$/);
      assert.match((await v(["domblklist", "bj"])).stdout, new RegExp(`^ vdb\\s+${f("copy.raw")}$`, "m"));

      // blockcopy from an XML destination (the new API, bandwidth as a parameter), left at the
      // end (--finish): vda stays on its base, the copy holds everything
      writeFileSync(
        f("dest.xml"),
        `<disk type='file'><source file='${f("full.qcow2")}'/><driver type='qcow2'/></disk>`,
      );
      const fin = await v([
        "blockcopy",
        "bj",
        "vda",
        "--xml",
        f("dest.xml"),
        "--bandwidth",
        "200",
        "--finish",
      ]);
      assert.equal(fin.stdout, "\nSuccessfully copied\n");
      assert.match((await v(["domblklist", "bj"])).stdout, new RegExp(`^ vda\\s+${f("base.qcow2")}$`, "m"));

      // tvirsh waits for the mirror through the daemon's events; then both print the job alike
      const mc = await tv([
        "blockcopy",
        "bj",
        "vdb",
        "--dest",
        f("copy2.raw"),
        "--format",
        "raw",
        "--wait",
        "--verbose",
      ]);
      assert.equal(mc.stdout, "\nNow in mirroring phase\n");
      assert.match(mc.stderr, /Block Copy: \[100 %\]$/);
      assert.match(
        (await v(["dumpxml", "bj"])).stdout,
        new RegExp(`<mirror type='file' file='${f("copy2.raw")}' format='raw' job='copy' ready='yes'>`),
      );
      // (one virsh command string per comparison: each tvirsh start costs seconds on a busy host)
      await same([
        ["--info", "--raw", "--info --bytes", "--raw --bytes"].map((o) => `blockjob bj vdb ${o}`).join(" ; "),
      ]);
      await v(["blockjob", "bj", "vdb", "--bandwidth", "5"]);
      const batch = [
        "blockjob bj vdb --info",
        "blockjob bj vdb --raw",
        `blockcopy bj vdb --dest ${f("copy3.raw")}`,
        "blockjob bj vdb --raw --abort",
        // refusals
        "blockjob bj vdz --info",
        "blockjob bj vda --abort",
        "blockjob bj vda --pivot",
        "blockcommit bj vdb --active",
        "blockcommit bj vdd",
        `blockcommit bj vdd --top ${f("nothere.qcow2")}`,
        `blockpull bj vdd --base ${f("d-top.qcow2")}`,
        `blockcopy bj vdb --dest ${f("copy.raw")}`,
        `blockcopy bj vdb --dest ${f("absent.raw")} --reuse-external`,
        "blockresize bj vdz 1M",
      ];
      const both = await same([batch.join(" ; ")]);
      assert.match(both.stdout, /Bandwidth limit: 5242880 bytes\/s \(5\.000 MiB\/s\)/);
      assert.match(both.stdout, / type=Block Copy\n bandwidth=5\n/);
      for (const m of [
        "error: disk 'vdb' already in active block job",
        "error: invalid argument: disk 'vdz' not found in domain",
        "error: Requested operation is not valid: disk vda does not have an active block job",
        "error: Failed to resize block device 'vdz'",
      ])
        assert.ok(both.stderr.includes(m), m);
      await tv(["blockjob", "bj", "vdb", "--abort"]);
      assert.equal((await v(["blockjob", "bj", "vdb"])).stdout, "No current block job for vdb\n");
      assert.match((await v(["domblklist", "bj"])).stdout, new RegExp(`^ vdb\\s+${f("copy.raw")}$`, "m"));
      assert.doesNotMatch((await v(["dumpxml", "bj"])).stdout, /<mirror/);

      // an inactive commit: vdd's middle layer into its base; the top stays and now sits on the base
      const dc = await v([
        "blockcommit",
        "bj",
        "vdd",
        "--top",
        f("d-mid.qcow2"),
        "--base",
        f("d-base.qcow2"),
        "--wait",
        "--verbose",
      ]);
      assert.equal(dc.stdout, "\nCommit complete\n");
      assert.match(dc.stderr, /Block commit: \[100 %\]$/);
      assert.match(
        (await v(["dumpxml", "bj"])).stdout,
        new RegExp(
          `<source file='${f("d-top.qcow2")}'/>\\s*<backingStore type='file'>\\s*<format type='qcow2'/>\\s*<source file='${f("d-base.qcow2")}'/>\\s*<backingStore/>`,
        ),
      );

      // active commit of vdd's top into its base, abandoned once synchronized (the overlay stays)
      const ko = await tv(["blockcommit", "bj", "vdd", "--keep-overlay", "--shallow", "--verbose"]);
      assert.equal(ko.stdout, "\nCommit complete, overlay image kept\n");
      assert.match(ko.stderr, /Block commit: \[100 %\]$/);
      const vdd = (await v(["dumpxml", "bj"])).stdout.split("<target dev='vdd'")[0]!.split("<disk").at(-1)!;
      assert.match(vdd, new RegExp(`<source file='${f("d-top.qcow2")}'/>\\s*<backingStore type='file'>`));
      assert.doesNotMatch(vdd, /<mirror/);

      // Nova: transient domain, blockRebase copy to an overlay it made, poll, pivot, define again
      img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", f("cache.qcow2"), f("snap.delta"));
      const script = `
import libvirt, sys, time, json, threading
libvirt.virEventRegisterDefaultImpl()
events = []
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
c = libvirt.open(sys.argv[1])
d = c.lookupByName("bj")
c.domainEventRegisterAny(d, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, lambda conn, dom, disk, typ, status, opaque: events.append([disk, typ, status]), None)
events1 = []
c.domainEventRegisterAny(d, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, lambda conn, dom, path, typ, status, opaque: events1.append([path, typ, status]), None)
out = {}
xml = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
d.undefine()
out["persistent_during"] = d.isPersistent()
d.blockRebase("vdc", sys.argv[2], 0, libvirt.VIR_DOMAIN_BLOCK_REBASE_COPY | libvirt.VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT | libvirt.VIR_DOMAIN_BLOCK_REBASE_SHALLOW)
try:
    d.blockRebase("vdc", sys.argv[2], 0, libvirt.VIR_DOMAIN_BLOCK_REBASE_COPY | libvirt.VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT)
    out["second"] = "accepted"
except libvirt.libvirtError as e:
    out["second"] = [e.get_error_code(), str(e)]
polls = 0
while True:
    info = d.blockJobInfo("vdc", 0)
    polls += 1
    if info and info["cur"] == info["end"]:
        break
    time.sleep(0.5)
out["info"] = info
out["mirror"] = "<mirror type='file' file='%s' format='qcow2' job='copy' ready='yes'>" % sys.argv[2] in d.XMLDesc(0)
d.blockJobAbort("vdc", libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
out["after"] = d.blockJobInfo("vdc", 0)
live = d.XMLDesc(0)
out["moved"] = "<source file='%s'/>" % sys.argv[2] in live
c.defineXML(live)
out["persistent_after"] = d.isPersistent()
d.blockResize("vdc", 12 * 1024 * 1024, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
try:
    d.blockJobAbort("vdc", 0)
    out["noabort"] = "accepted"
except libvirt.libvirtError as e:
    out["noabort"] = [e.get_error_code(), str(e)]
time.sleep(0.5)
out["events"] = events
out["events1"] = events1
print(json.dumps(out))
`;
      from = logSize();
      const r = await run(py, ["-c", script, uri, f("snap.delta")], { env, timeoutMs: 90_000 });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      t.diagnostic(r.stdout.trim());
      assert.equal(out.persistent_during, 0);
      assert.deepEqual((out.second as unknown[])[0], 83); // VIR_ERR_BLOCK_COPY_ACTIVE
      const info = out.info as Record<string, number>;
      assert.equal(info.type, 2);
      assert.equal(info.cur, info.end);
      assert.equal(out.mirror, true);
      assert.deepEqual(out.after, {});
      assert.equal(out.moved, true);
      assert.equal(out.persistent_after, 1);
      assert.deepEqual((out.noabort as unknown[])[0], 55); // VIR_ERR_OPERATION_INVALID
      assert.deepEqual(out.events, [
        ["vdc", 2, 3],
        ["vdc", 2, 0],
      ]);
      // the path-named BLOCK_JOB event names the disk's source at the time
      assert.deepEqual(
        (out.events1 as [string, number, number][]).map((e) => [e[1], e[2]]),
        [
          [2, 3],
          [2, 0],
        ],
      );
      assert.equal((out.events1 as string[][])[0]![0], f("inst.qcow2"));
      await guestSays(/DISK vdc 24576\r?\n/, from);

      // tvirsh pulls the cache image into Nova's new overlay: one layer left
      const pl = await tv(["blockpull", "bj", "vdc", "--wait", "--verbose"]);
      assert.equal(pl.stdout, "\nPull complete\n");
      assert.match(pl.stderr, /Block Pull: \[100 %\]$/);
      const vdc = (await v(["dumpxml", "bj"])).stdout.split("<target dev='vdc'")[0]!.split("<disk").at(-1)!;
      assert.doesNotMatch(vdc, /backingStore/);
      assert.match(
        (await v(["dumpxml", "bj", "--inactive"])).stdout,
        new RegExp(`<source file='${f("snap.delta")}'/>`),
      );

      await v(["destroy", "bj"]);
      // the data: vda's base holds both layers, copy.raw vdb's, snap.delta (over the cache) vdc's
      const chain = img("info", "--backing-chain", "--output=json", f("base.qcow2"));
      assert.equal((JSON.parse(chain) as unknown[]).length, 1);
      for (const [file, fmt, pattern, off] of [
        [f("base.qcow2"), "qcow2", "0xa1", 0],
        [f("base.qcow2"), "qcow2", "0xb2", MiB],
        [f("copy.raw"), "raw", "0xc3", 0],
        [f("snap.delta"), "qcow2", "0xd4", 0],
        [f("full.qcow2"), "qcow2", "0xa1", 0],
        [f("full.qcow2"), "qcow2", "0xb2", MiB],
        [f("d-base.qcow2"), "qcow2", "0xe5", 0],
        [f("d-base.qcow2"), "qcow2", "0xf6", MiB],
      ] as const) {
        const o = io("-r", "-f", fmt, "-c", `read -P ${pattern} ${off} 1M`, file);
        assert.doesNotMatch(o, /Pattern verification failed/, `${file} ${pattern}`);
      }
      assert.equal(readFileSync(f("copy.raw")).length, 24 * MiB);
      // vdc no longer needs the cache image; vdd's top reads through to the base
      assert.equal(
        (JSON.parse(img("info", "--backing-chain", "--output=json", f("snap.delta"))) as unknown[]).length,
        1,
      );
      assert.equal(
        (JSON.parse(img("info", "--backing-chain", "--output=json", f("d-top.qcow2"))) as unknown[]).length,
        2,
      );
    } finally {
      await run(virsh, ["-c", uri, "destroy", "bj"], { env, timeoutMs: 30_000 }).catch(() => undefined);
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
