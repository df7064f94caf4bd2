/**
 * tvirsh's storage commands on a real dir pool (`qemu:///embed`, the local storage driver):
 * upload and download through the volume streams, plain and sparse, with offset and length;
 * clone, resize, wipe, qcow2 volumes, refresh. The test driver has no streams, so this is where
 * vol-upload and vol-download run for real. Skips (in one line) while the embed URI has no
 * storage driver.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";

async function tvirsh(uri: string, line: string): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", uri, line], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

/** Blocks of 512 bytes the file really occupies on disk. */
const used = (path: string): number => statSync(path).blocks;

test("vol-upload and vol-download move a sparse file through a dir pool and back", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "tvirsh-storage-embed-"));
  try {
    const uri = `qemu:///embed?root=${root}`;
    const probe = await tvirsh(uri, "pool-list --all");
    if (probe.status !== 0 && probe.err.includes("not supported by the connection driver")) {
      t.skip("qemu:///embed has no storage driver in this tree");
      return;
    }
    assert.equal(probe.status, 0, probe.err);
    const images = join(root, "pool");
    // 16 MiB: 1 MiB of data, a hole, 4 KiB of data at 12 MiB, a hole to the end.
    const src = join(root, "src.bin");
    const data = Buffer.alloc(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    writeFileSync(src, data);
    const fd = openSync(src, "r+");
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 12 << 20);
    closeSync(fd);
    const fd2 = openSync(src, "r+");
    writeSync(fd2, Buffer.alloc(1, 0), 0, 1, (16 << 20) - 1);
    closeSync(fd2);
    const back = join(root, "back.bin");
    const part = join(root, "part.bin");
    const r = await tvirsh(
      uri,
      [
        `pool-define-as p dir --target ${images}`,
        "pool-build p",
        "pool-start p",
        "vol-create-as p v 16M",
        `vol-upload v ${src} --pool p --sparse`,
        `vol-download v ${back} --pool p --sparse`,
        `vol-download v ${part} --pool p --offset 1048000 --length 1000`,
        "vol-clone v v2 --pool p",
        "vol-resize v2 32M --pool p",
        "vol-info v2 --pool p --bytes",
        "vol-wipe v2 --pool p",
        "vol-create-as p q 10M --format qcow2",
        "vol-dumpxml q --pool p --xpath //format",
        "vol-delete q --pool p",
        "pool-refresh p",
        "vol-list p",
      ].join("; "),
    );
    assert.equal(r.err, "");
    assert.equal(r.status, 0);
    assert.match(r.out, /Capacity: {7}33554432 bytes\n/);
    assert.match(r.out, /<format type="qcow2"\/>/);
    assert.match(r.out, /\n v +\S+\/pool\/v\n v2 +\S+\/pool\/v2\n/);
    assert.deepEqual(readFileSync(back), readFileSync(src));
    assert.deepEqual(readFileSync(part), readFileSync(src).subarray(1048000, 1049000));
    // The holes stay holes in the volume and in the downloaded copy (1 MiB + 4 KiB of data).
    assert.ok(used(join(images, "v")) < 4096, `volume uses ${used(join(images, "v"))} blocks`);
    assert.ok(used(back) < 4096, `download uses ${used(back)} blocks`);
    // Errors: a missing file, a bad offset, a volume in no pool given.
    const e = await tvirsh(
      uri,
      `vol-upload v ${join(root, "nope")} --pool p; vol-download v ${back} --pool p --offset x; vol-upload nope ${src}`,
    );
    assert.equal(
      e.err,
      `error: cannot read ${join(root, "nope")}\n` +
        "error: Numeric value 'x' for <offset> option is malformed or out of range\n" +
        "error: failed to get vol 'nope', specifying --pool might help\n" +
        "error: Storage volume not found: no storage vol with matching path 'nope'\n",
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
