/**
 * Stock virsh against tvirtd's local storage driver (a private `qemu:///session` daemon whose
 * `default` dir pool is defined and started at the daemon's first start), with a real TCG guest:
 * - `vol-create-as default g.qcow2 1G --format qcow2`, `vol-clone`, `vol-resize` (qemu-img sees
 *   the new sizes);
 * - `vol-upload` of a 64 MiB file with holes into a raw volume and `vol-download` back, plain and
 *   `--sparse`: same sha256 each way, and with `--sparse` the volume and the downloaded file
 *   allocate no more blocks than the source (holes stay holes);
 * - the uploaded volume attached to the running guest as `<disk type='volume'>` (virsh
 *   attach-device): the guest's shell reads a data region and a hole of the disk back over
 *   its serial console (tvirt's remote console through the same daemon), same sha256 as the
 *   host's bytes;
 * - `vol-delete` of the attached volume is refused naming the guest; after detach-disk it goes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../api/index.ts";
import type { ConsoleStream } from "../drivers/driver.ts";
import "./register.ts";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { privateSession, run, spawnDaemon, virshOrSkip, type RunResult } from "../testing/rpc/harness.ts";

const MiB = 1024 * 1024;
const NAME = "stg";
/** Where the 64 MiB upload has data (offsets in MiB, 1 MiB each); everything else is a hole. */
const DATA_AT = [0, 20, 63];

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
/** Allocated bytes of a file (st_blocks are 512-byte units). */
const allocated = (p: string): number => statSync(p).blocks * 512;

function qemuImgInfo(path: string): { "virtual-size": number; format: string } {
  return JSON.parse(
    execFileSync("qemu-img", ["info", "--output=json", "-U", path], { encoding: "utf8" }),
  ) as {
    "virtual-size": number;
    format: string;
  };
}

test(
  "stock virsh: vol-create-as/clone/resize/upload/download through tvirtd, a guest reads the volume, vol-delete refused while attached",
  { timeout: 150_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;

    const dir = mkdtempSync(join(tmpdir(), "tvirt-storage-guest-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const images = join(dir, "data", "tvirt", "images");
    const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const daemon = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
      env: daemonEnv,
    });
    let qemuPid = 0;
    let console: ConsoleStream | undefined;
    const v = async (cmds: string, ok = true): Promise<RunResult> => {
      const r = await run(virsh, ["-c", uri, cmds], {
        env,
        cwd: dir,
        timeoutMs: 60_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (ok) assert.equal(r.code, 0, `virsh ${cmds}: ${r.stderr}\n${daemon.stderr()}`);
      return r;
    };
    const conn = await connect(uri);
    try {
      // --- the default pool, created at the daemon's first start ---------------------------------
      assert.match((await v("pool-list --all")).stdout, /^ default +active +yes *$/m);
      assert.equal((await v("pool-dumpxml default")).stdout.includes(`<path>${images}</path>`), true);

      // --- qcow2 1G, clone, resize ---------------------------------------------------------------
      assert.equal(
        (await v("vol-create-as default g.qcow2 1G --format qcow2")).stdout,
        "Vol g.qcow2 created\n\n",
      );
      const g = join(images, "g.qcow2");
      assert.deepEqual([qemuImgInfo(g).format, qemuImgInfo(g)["virtual-size"]], ["qcow2", 1024 * MiB]);
      assert.equal(
        (await v("vol-clone g.qcow2 g-clone.qcow2 --pool default")).stdout,
        "Vol g-clone.qcow2 cloned from g.qcow2\n\n",
      );
      assert.equal(qemuImgInfo(join(images, "g-clone.qcow2")).format, "qcow2");
      assert.equal(
        (await v("vol-resize g-clone.qcow2 2G --pool default")).stdout,
        "Size of volume 'g-clone.qcow2' successfully changed to 2G\n\n",
      );
      assert.equal(qemuImgInfo(join(images, "g-clone.qcow2"))["virtual-size"], 2048 * MiB);
      assert.match((await v("vol-info g-clone.qcow2 --pool default")).stdout, /^Capacity: +2\.00 GiB$/m);
      assert.match((await v("vol-path g.qcow2 --pool default")).stdout, new RegExp(`^${g}$`, "m"));

      // --- upload 64 MiB with holes, download it back ----------------------------------------------
      const src = join(dir, "src.img");
      const fd = openSync(src, "w");
      ftruncateSync(fd, 64 * MiB);
      for (const at of DATA_AT) writeSync(fd, randomBytes(MiB), 0, MiB, at * MiB);
      closeSync(fd);
      const srcBytes = readFileSync(src);
      const srcSum = sha256(srcBytes);
      assert.ok(allocated(src) <= (DATA_AT.length + 1) * MiB, "the source file is sparse");
      await v("vol-create-as default up.img 64M --format raw --allocation 0");
      const up = join(images, "up.img");
      assert.equal((await v(`vol-upload up.img ${src} --pool default --sparse`)).code, 0);
      assert.equal(sha256(readFileSync(up)), srcSum, "uploaded bytes");
      assert.ok(
        allocated(up) <= allocated(src) + MiB,
        `upload kept holes: ${allocated(up)} vs ${allocated(src)}`,
      );
      const down = join(dir, "down.img");
      await v(`vol-download up.img ${down} --pool default --sparse`);
      assert.equal(sha256(readFileSync(down)), srcSum, "downloaded bytes (--sparse)");
      assert.ok(
        allocated(down) <= allocated(src) + MiB,
        `download kept holes: ${allocated(down)} vs ${allocated(src)}`,
      );
      const dense = join(dir, "dense.img");
      await v(`vol-download up.img ${dense} --pool default`);
      assert.equal(sha256(readFileSync(dense)), srcSum, "downloaded bytes (plain)");
      assert.ok(allocated(dense) >= 64 * MiB, "without --sparse the holes arrive as zeros");
      rmSync(dense);

      // --- a running guest reads the volume ------------------------------------------------------
      const xmlPath = join(dir, `${NAME}.xml`);
      writeFileSync(
        xmlPath,
        guestDomainXML({ name: NAME, mode: "shell", kernel: guest.kernel, initrd: guest.initrd }),
      );
      await v(`create ${xmlPath}`);
      qemuPid = Number(readFileSync(pidFile, "utf8").trim());
      const dom = await conn.lookupDomainByName(NAME);
      const con = await dom.openConsole(null, 0);
      console = con;
      let text = "";
      con.onData((d) => {
        text += Buffer.from(d).toString("utf8");
      });
      const waitFor = async (re: RegExp, ms: number, from = 0): Promise<RegExpExecArray> => {
        const until = Date.now() + ms;
        for (;;) {
          const m = re.exec(text.slice(from));
          if (m) return m;
          if (Date.now() > until)
            assert.fail(`console: no ${String(re)} within ${ms} ms: ${JSON.stringify(text.slice(-400))}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await waitFor(/TVIRT-GUEST-READY mode=shell/, 90_000);

      const diskXML = join(dir, "disk.xml");
      writeFileSync(
        diskXML,
        "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='default' volume='up.img'/><target dev='vdb' bus='virtio'/></disk>\n",
      );
      assert.equal((await v(`attach-device ${NAME} ${diskXML}`)).stdout, "Device attached successfully\n\n");
      const dumped = (await v(`dumpxml ${NAME}`)).stdout;
      assert.match(dumped, /<source pool='default' volume='up\.img'/);
      // virsh's domblklist shows a volume disk's source by its volume name (libvirt's XPath)
      assert.match((await v(`domblklist ${NAME}`)).stdout, /^ vdb +up\.img$/m);

      // the guest (no other virtio disk: it names the disk vda) hashes 1 MiB of data (at 20 MiB) and 1 MiB of a hole (at 40 MiB)
      const want = sha256(srcBytes.subarray(20 * MiB, 21 * MiB));
      const hole = sha256(Buffer.alloc(MiB));
      const from = text.length;
      con.write(
        Buffer.from(
          "while [ ! -b /dev/vda ]; do sleep 0.2; done; " +
            "echo DATA-$(dd if=/dev/vda bs=1048576 skip=20 count=1 2>/dev/null | sha256sum | cut -c1-64)-END; " +
            "echo HOLE-$(dd if=/dev/vda bs=1048576 skip=40 count=1 2>/dev/null | sha256sum | cut -c1-64)-END\n",
        ),
      );
      const data = await waitFor(/DATA-([0-9a-f]{64})-END/, 60_000, from);
      assert.equal(data[1], want, "the guest reads the uploaded bytes");
      const h = await waitFor(/HOLE-([0-9a-f]{64})-END/, 60_000, from);
      assert.equal(h[1], hole, "a hole reads as zeros");

      // --- deleting the attached volume is refused, naming the guest ------------------------------
      const del = await v("vol-delete up.img --pool default", false);
      assert.equal(del.code, 1, del.stdout);
      assert.match(del.stderr, new RegExp(`\\b${NAME}\\b`), del.stderr);
      assert.match(del.stderr, /in use/);
      t.diagnostic(`vol-delete of the attached volume: ${del.stderr.trim().replace(/\s+/g, " ")}`);
      assert.equal(statSync(up).size, 64 * MiB, "still there");
      assert.equal((await v(`detach-disk ${NAME} vdb`)).stdout, "Disk detached successfully\n\n");
      // the guest lets go of the disk asynchronously: deletion works once QEMU dropped it
      const until = Date.now() + 30_000;
      for (;;) {
        const r = await v("vol-delete up.img --pool default", false);
        if (r.code === 0) {
          assert.equal(r.stdout, "Vol up.img deleted\n\n");
          break;
        }
        if (Date.now() > until) assert.fail(`vol-delete after detach: ${r.stderr}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await v(`destroy ${NAME}`);
      await v("vol-delete g.qcow2 --pool default");
      await v("vol-delete g-clone.qcow2 --pool default");
      assert.doesNotMatch((await v("vol-list default")).stdout, /\.(img|qcow2)/);
    } finally {
      await console?.close().catch(() => undefined);
      await conn.close().catch(() => undefined);
      if (qemuPid > 0) {
        try {
          process.kill(qemuPid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await daemon.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
