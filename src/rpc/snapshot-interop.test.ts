/**
 * Domain snapshots through tvirtd (issue 20), checked by stock virsh and python3-libvirt.
 *
 * On `test:///default` stock virsh against tvirtd prints what it prints against its own test
 * driver (creation times masked). On `qemu:///session` with the tiny TCG guest and a qcow2 disk
 * the snapshots are real: a pattern written with qemu-io before an internal snapshot of the
 * shut-off guest is back after revert; a running guest's counter goes on from the snapshot's
 * value after revert (the memory state came back); the snapshot tree, the current snapshot and
 * the definitions survive SIGKILL and a restart of the daemon; an external disk-only snapshot
 * of the running guest leaves a qcow2 overlay whose backing chain is the old image, and the
 * domain XML names it with a `<backingStore>`; `--memspec` writes the memory as a save image and
 * stacks another overlay while the guest runs on; raw disks and external reverts are refused with
 * libvirt's messages.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, lastCounter, testGuestOrSkip, waitFor } from "../testing/guest/index.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";

const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

/** Creation times differ between two runs by a second now and then. */
const maskTimes = (s: string): string =>
  s
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}/g, "TIME")
    .replace(/<creationTime>\d+<\/creationTime>/g, "<creationTime>T</creationTime>");

test("test:///default through tvirtd: stock virsh's snapshot commands print what they print locally", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-snap-wire-"));
  const sock = join(dir, "sock");
  const daemon = await spawnDaemon(["--listen", sock, "--uri", "test:///default"], [sock]);
  try {
    // one virsh session each: test:///default forgets everything when its connection closes
    const cmds = [
      "list --all --with-snapshot",
      "snapshot-create-as test s1 --description first",
      "list --all --with-snapshot",
      "list --all --without-snapshot",
      "snapshot-create-as test s2",
      "snapshot-create-as test s3 --halt",
      "domstate test --reason",
      "snapshot-list test",
      "snapshot-list test --tree",
      "snapshot-list test --parent",
      "snapshot-list test --roots",
      "snapshot-list test --leaves",
      "snapshot-list test --current",
      "snapshot-list test --from s1 --descendants",
      "snapshot-current test --name",
      "snapshot-parent test s2",
      "snapshot-info test s1",
      "snapshot-info test --current",
      "snapshot-dumpxml test s1",
      "snapshot-revert test s2",
      "domstate test --reason",
      "snapshot-current test --name",
      "snapshot-delete test s1 --children-only",
      "snapshot-list test --tree",
      "snapshot-delete test s1 --metadata",
      "snapshot-list test",
      "snapshot-info test nosuch",
    ].join("; ");
    const ours = await run(virsh, ["-c", `test+unix:///default?socket=${sock}`, cmds], {
      env,
      timeoutMs: 30_000,
    });
    const theirs = await run(virsh, ["-c", "test:///default", cmds], { env, timeoutMs: 30_000 });
    assert.match(theirs.stdout, /Domain snapshot s3 created/);
    assert.equal(maskTimes(ours.stdout), maskTimes(theirs.stdout));
    assert.equal(ours.stderr, theirs.stderr);
    assert.equal(ours.code, theirs.code);

    // procprobe: every snapshot procedure the fleet clients call is known to tvirtd
    const probe = fileURLToPath(new URL("../../../shared/tools/procprobe.py", import.meta.url));
    const data = fileURLToPath(new URL("../../../shared/reference/client-procedures.json", import.meta.url));
    if (existsSync(probe) && existsSync(data)) {
      const r = await run("python3", [probe, sock, data, "0"], { env, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const missing = /missing: (.*)$/m.exec(r.stdout)?.[1]?.split(" ") ?? [];
      const used = (JSON.parse(readFileSync(data, "utf8")) as { clients: Record<string, string[]> }).clients;
      const snapProcs = [...new Set(Object.values(used).flat())].filter((p) => /SNAPSHOT/.test(p));
      assert.ok(snapProcs.includes("DOMAIN_SNAPSHOT_CREATE_XML"), snapProcs.join(" "));
      assert.deepEqual(
        snapProcs.filter((p) => missing.includes(p)),
        [],
      );
    } else if (process.env.CI === "true") {
      assert.fail("../shared/tools/procprobe.py and its data are required under CI");
    }
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

const PY_CHECK = `
import json, sys
import libvirt
c = libvirt.open(sys.argv[1])
d = c.lookupByName("g")
snaps = sorted(s.getName() for s in d.listAllSnapshots())
cur = d.snapshotCurrent()
live = d.snapshotLookupByName("live1")
off = d.snapshotLookupByName("off1")
print(json.dumps({
    "names": snaps,
    "num": d.snapshotNum(),
    "hasCurrent": d.hasCurrentSnapshot(),
    "current": cur.getName(),
    "parent": live.getParent().getName(),
    "isCurrent": [live.isCurrent(), off.isCurrent()],
    "hasMetadata": live.hasMetadata(),
    "children": [s.getName() for s in off.listAllChildren()],
    "numChildren": off.numChildren(),
    "childNames": off.listChildrenNames(),
    "state": "<state>running</state>" in live.getXMLDesc(),
    "domain": "<domain" in live.getXMLDesc(),
}))
`;

test(
  "qemu:///session through tvirtd: internal snapshots restore the disk and the memory, metadata survives SIGKILL, external disk-only overlays",
  { timeout: 150_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const py = pythonLibvirtOrSkip(t);
    if (!py) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-snap-qemu-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const disk = join(dir, "disk.qcow2");
    const rawDisk = join(dir, "raw.img");
    const serial = join(dir, "serial.log");
    const pidFile = join(dir, "run", "tvirt", "qemu", "g.pid");
    const diskXML = (file: string, type: string): string =>
      `    <disk type='file' device='disk'><driver name='qemu' type='${type}'/><source file='${file}'/><target dev='vda' bus='virtio'/></disk>\n`;
    writeFileSync(
      join(dir, "g.xml"),
      guestDomainXML({
        name: "g",
        mode: "counter",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: serial,
        extraDevicesXML: diskXML(disk, "qcow2"),
      }),
    );
    writeFileSync(
      join(dir, "r.xml"),
      guestDomainXML({
        name: "r",
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        extraDevicesXML: diskXML(rawDisk, "raw"),
      }),
    );
    const daemons: DaemonProcess[] = [];
    const qemuPids = new Set<number>();
    const startDaemon = async (): Promise<DaemonProcess> => {
      const d = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
        env: daemonEnv,
      });
      daemons.push(d);
      return d;
    };
    const v = async (cmd: string, ok = true): Promise<RunResult> => {
      const r = await run(virsh, ["-c", uri, cmd], { env, timeoutMs: 40_000 });
      if (ok) assert.equal(r.code, 0, `virsh ${cmd}: ${r.stderr}`);
      return r;
    };
    const tool = async (argv: string[]): Promise<RunResult> => {
      const r = await run(argv[0]!, argv.slice(1), { env, timeoutMs: 30_000 });
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
      return r;
    };
    const qemuIo = (cmd: string): Promise<RunResult> =>
      run("qemu-io", ["-f", "qcow2", "-c", cmd, disk], { env });
    try {
      await tool(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"]);
      await tool(["qemu-img", "create", "-q", "-f", "raw", rawDisk, "1M"]);
      let daemon = await startDaemon();
      await v(`define ${join(dir, "g.xml")}`);
      await v(`define ${join(dir, "r.xml")}`);

      // raw disks have no internal snapshots (libvirt's refusal)
      const raw = await v("snapshot-create-as r x", false);
      assert.notEqual(raw.code, 0);
      assert.match(
        raw.stderr,
        /unsupported configuration: internal snapshot for disk vda unsupported for storage type raw/,
      );

      // shut off: internal snapshot with qemu-img; the pattern written before it comes back
      assert.match((await qemuIo("write -P 0xaa 0 64k")).stdout, /wrote 65536\/65536/);
      assert.equal(
        (await v("snapshot-create-as g off1 --description 'shut off'")).stdout,
        "Domain snapshot off1 created\n",
      );
      assert.match((await qemuIo("write -P 0xbb 0 64k")).stdout, /wrote 65536\/65536/);
      assert.doesNotMatch((await qemuIo("read -P 0xbb 0 64k")).stdout, /Pattern verification failed/);
      await v("snapshot-revert g off1");
      const back = await qemuIo("read -P 0xaa 0 64k");
      assert.match(back.stdout, /read 65536\/65536/);
      assert.doesNotMatch(back.stdout + back.stderr, /Pattern verification failed/);

      // running: snapshot-save job; after revert the counter goes on from the snapshot's value
      await v("start g");
      qemuPids.add(Number(readFileSync(pidFile, "utf8").trim()));
      await waitFor(() => lastCounter(serial) >= 2, 60_000, "the guest counting");
      await v("snapshot-create-as g live1");
      const atSnapshot = lastCounter(serial);
      await waitFor(() => lastCounter(serial) >= atSnapshot + 3, 30_000, "the counter moving on");
      const before = readFileSync(serial, "utf8").length;
      const highest = lastCounter(serial);
      await v("snapshot-revert g live1");
      const after = (): number[] =>
        [
          ...readFileSync(serial, "utf8")
            .slice(before)
            .matchAll(/COUNTER (\d+)/g),
        ].map((m) => Number(m[1]));
      await waitFor(() => after().length > 0, 30_000, "the counter after revert");
      const first = after()[0]!;
      assert.ok(
        first <= atSnapshot + 2 && first < highest,
        `counter after revert ${first}: snapshot taken at ${atSnapshot}, ${highest} before revert`,
      );
      assert.equal((await v("domstate g --reason")).stdout.trim(), "running (from snapshot)");

      // python3-libvirt sees the tree
      const pr = await run(py, ["-c", PY_CHECK, uri], { env, timeoutMs: 30_000 });
      assert.equal(pr.code, 0, pr.stderr);
      assert.deepEqual(JSON.parse(pr.stdout), {
        names: ["live1", "off1"],
        num: 2,
        hasCurrent: 1,
        current: "live1",
        parent: "off1",
        isCurrent: [1, 0],
        hasMetadata: 1,
        children: ["live1"],
        numChildren: 1,
        childNames: ["live1"],
        state: true,
        domain: true,
      });

      // a shut-off domain reverted to a running snapshot: QEMU starts with the snapshot's
      // definition and loads its memory (the guest does not boot: it counts on)
      await v("destroy g");
      await v("snapshot-revert g live1");
      qemuPids.add(Number(readFileSync(pidFile, "utf8").trim()));
      assert.equal((await v("domstate g --reason")).stdout.trim(), "running (from snapshot)");
      await waitFor(() => lastCounter(serial) >= 0, 30_000, "the counter after starting from the snapshot");
      const restarted = readFileSync(serial, "utf8");
      const firstAgain = Number(/COUNTER (\d+)/.exec(restarted)?.[1]);
      assert.ok(
        firstAgain <= atSnapshot + 2,
        `counter ${firstAgain} after revert, snapshot at ${atSnapshot}`,
      );
      assert.doesNotMatch(restarted, /GUEST-BOOTED/);
      await v("snapshot-revert g live1 --paused");
      assert.equal((await v("domstate g --reason")).stdout.trim(), "paused (from snapshot)");
      await v("resume g");

      // the metadata survives SIGKILL of the daemon
      const tree = (await v("snapshot-list g --tree")).stdout;
      assert.match(tree, /off1\n {2}\|\n {2}\+- live1/);
      await daemon.stop("SIGKILL");
      rmSync(sock, { force: true });
      daemon = await startDaemon();
      assert.equal((await v("snapshot-list g --tree")).stdout, tree);
      assert.equal((await v("snapshot-current g --name")).stdout.trim(), "live1");
      assert.equal((await v("list --all --name --with-snapshot")).stdout, "g\n\n");
      assert.equal((await v("list --all --name --without-snapshot")).stdout, "r\n\n");

      // external disk-only of the running guest: an overlay on the old image
      await v("snapshot-create-as g ext1 --disk-only");
      const overlay = join(dir, "disk.ext1");
      assert.ok(existsSync(overlay), "overlay created");
      const chain = JSON.parse(
        (await tool(["qemu-img", "info", "-U", "--backing-chain", "--output=json", overlay])).stdout,
      ) as { filename: string; format: string; "backing-filename"?: string }[];
      assert.deepEqual(
        chain.map((c) => [c.filename, c.format, c["backing-filename"]]),
        [
          [overlay, "qcow2", disk],
          [disk, "qcow2", undefined],
        ],
      );
      const xml = (await v("dumpxml g")).stdout;
      assert.match(
        xml,
        new RegExp(
          `<source file='${overlay}'/>\\s*<backingStore type='file'>\\s*<format type='qcow2'/>\\s*<source file='${disk}'/>\\s*</backingStore>`,
        ),
      );
      const now = lastCounter(serial);
      await waitFor(() => lastCounter(serial) > now, 20_000, "the guest running on the overlay");
      const info = (await v("snapshot-info g ext1")).stdout;
      assert.match(info, /State:\s+disk-snapshot/);
      assert.match(info, /Location:\s+external/);
      const rev = await v("snapshot-revert g ext1", false);
      assert.match(rev.stderr, /unsupported configuration: revert to external snapshot not supported yet/);

      // external with memory: the state in a save image (libvirt's header), then overlays
      const memFile = join(dir, "mem1.save");
      const top = join(dir, "disk.mem1");
      await v(`snapshot-create-as g mem1 --memspec file=${memFile} --diskspec vda,file=${top}`);
      assert.equal(readFileSync(memFile).subarray(0, 16).toString("latin1"), "LibvirtQemudSave");
      assert.equal((await v("domstate g")).stdout.trim(), "running");
      const chain3 = JSON.parse(
        (await tool(["qemu-img", "info", "-U", "--backing-chain", "--output=json", top])).stdout,
      ) as { filename: string }[];
      assert.deepEqual(
        chain3.map((c) => c.filename),
        [top, overlay, disk],
      );
      const beforeMem = lastCounter(serial);
      await waitFor(() => lastCounter(serial) > beforeMem, 20_000, "the guest running after --memspec");
      assert.match(
        (await v("snapshot-dumpxml g mem1")).stdout,
        new RegExp(`<memory snapshot='external' file='${memFile}'/>`),
      );

      // delete: metadata of the external ones, the internal one leaves the image
      await v("snapshot-delete g mem1 --metadata");
      await v("snapshot-delete g ext1 --metadata");
      // --halt: an internal snapshot (into the overlay, now the top image), then shut off
      await v("snapshot-create-as g h1 --halt");
      assert.equal((await v("domstate g --reason")).stdout.trim(), "shut off (from snapshot)");
      assert.match((await tool(["qemu-img", "snapshot", "-l", top])).stdout, /h1/);
      await v("snapshot-delete g h1");
      assert.doesNotMatch((await tool(["qemu-img", "snapshot", "-l", top])).stdout, /h1/);
      // reverting to live1 (inside the image now under the overlay) brings its definition back
      await v("start g");
      qemuPids.add(Number(readFileSync(pidFile, "utf8").trim()));
      await v("snapshot-revert g live1");
      qemuPids.add(Number(readFileSync(pidFile, "utf8").trim()));
      assert.equal((await v("domstate g --reason")).stdout.trim(), "running (from snapshot)");
      assert.match((await v("domblklist g")).stdout, new RegExp(` vda\\s+${disk}\n`));
      await v("destroy g");
      await v("snapshot-delete g off1");
      const left = await tool(["qemu-img", "snapshot", "-l", disk]);
      assert.doesNotMatch(left.stdout, /off1/);
      assert.match(left.stdout, /live1/);
      const undef = await v("undefine g", false);
      assert.match(undef.stderr, /cannot delete inactive domain with 1 snapshots/);
      await v("undefine g --snapshots-metadata");
      const metaDir = join(dir, "data", "tvirt", "qemu", "snapshot", "g");
      assert.ok(!existsSync(metaDir), "metadata removed with --snapshots-metadata");

      // a transient domain's snapshot metadata goes when it stops
      await v(`create ${join(dir, "g.xml")} --paused`);
      qemuPids.add(Number(readFileSync(pidFile, "utf8").trim()));
      await v("snapshot-create-as g t1");
      assert.ok(existsSync(join(metaDir, "t1.xml")), "metadata written");
      await v("destroy g");
      await waitFor(() => !existsSync(metaDir), 10_000, "the transient domain's metadata to go");
    } finally {
      for (const pid of qemuPids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (const d of daemons) await d.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
