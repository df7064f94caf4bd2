/**
 * The storage driver with a dir pool on a temporary embed root: the `default` pool of the first
 * start, qcow2 and raw volumes through the real qemu-img, clone and conversion, resize, wipe,
 * sparse upload and download of a 64 MiB file with holes, refresh of files made outside, events,
 * locks, the volume-users hook, and bad input that must leave nothing on disk.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  ftruncateSync,
  readFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isVirtError } from "../../util/errors/index.ts";
import { runArgv } from "../../util/spawn.ts";
import {
  ConnectListStoragePoolsFlags as L,
  StoragePoolEventId,
  StoragePoolEventLifecycleType as Ev,
  StorageVolDeleteFlags,
  StorageVolDownloadFlags,
  StorageVolResizeFlags,
  StorageVolUploadFlags,
  StorageXMLFlags,
  type StorageDriverConnection,
  type StoragePoolEvent,
  type StoragePoolRef,
} from "../storage-driver.ts";
import { StorageDriver, storagePaths } from "./driver.ts";
import { openLocalStorageDriver } from "./index.ts";

const code = (e: unknown): string => (isVirtError(e) ? e.code : String(e));
const rejectsWith = (p: Promise<unknown>, c: string, re?: RegExp): Promise<void> =>
  assert.rejects(p, (e: unknown) => {
    assert.equal(code(e), c, String(e));
    if (re) assert.match((e as Error).message, re);
    return true;
  });

const MiB = 1024 * 1024;

async function qemuImgInfo(path: string): Promise<Record<string, unknown>> {
  const r = await runArgv(["qemu-img", "info", "-U", "--output=json", path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** A 64 MiB file: 1 MiB data runs every 8 MiB, 4 KiB runs in between, the rest holes. */
function sparseSource(path: string): void {
  const fd = openSync(path, "w");
  ftruncateSync(fd, 64 * MiB);
  for (let i = 0; i < 8; i++) {
    const data = Buffer.alloc(MiB);
    for (let j = 0; j < data.length; j += 4) data.writeUInt32LE((i * 7919 + j) >>> 0, j);
    writeSync(fd, data, 0, data.length, i * 8 * MiB);
    writeSync(fd, Buffer.from(`block ${i}`.padEnd(4096, ".")), 0, 4096, i * 8 * MiB + 3 * MiB);
  }
  closeSync(fd);
}

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
const allocated = (path: string): number => statSync(path).blocks * 512;

describe("storage driver: dir pool on an embed root", () => {
  let root: string;
  let work: string;
  let c: StorageDriverConnection;
  let d: StorageDriver;
  let pool: StoragePoolRef;
  let images: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "tvirt-storage-"));
    work = mkdtempSync(join(tmpdir(), "tvirt-storage-work-"));
    const conn = await openLocalStorageDriver({
      text: `qemu:///embed?root=${root}`,
      scheme: "qemu",
      driver: "qemu",
      path: "/embed",
      params: [{ name: "root", value: root }],
    });
    assert.ok(conn);
    c = conn;
    d = await StorageDriver.load(storagePaths({ kind: "embed", root }));
    images = join(root, "images");
  });
  after(async () => {
    await c.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  test("the first start defines, builds and starts the default pool, once", async () => {
    pool = await c.storagePoolLookupByName!("default");
    assert.equal(await c.storagePoolIsActive!(pool), true);
    assert.equal(await c.storagePoolGetAutostart!(pool), true);
    assert.ok(statSync(images).isDirectory());
    assert.ok(existsSync(join(root, "etc", "storage", "default.xml")));
    assert.ok(existsSync(join(root, "etc", "storage", "autostart", "default.xml")));
    assert.ok(existsSync(join(root, "run", "storage", "default.xml")));
    const xml = await c.storagePoolGetXMLDesc!(pool, 0);
    assert.match(xml, new RegExp(`<path>${images}</path>`));
    assert.match(xml, /<capacity unit='bytes'>[1-9]\d*<\/capacity>/);
    const info = await c.storagePoolGetInfo!(pool);
    assert.equal(info.state, 2);
    assert.ok(info.capacity > 0 && info.available <= info.capacity && info.allocation <= info.capacity);
    const names = (await c.connectListAllStoragePools!(L.ACTIVE | L.AUTOSTART | L.DIR)).map((p) => p.name);
    assert.deepEqual(names, ["default"]);
    assert.deepEqual(await c.connectListAllStoragePools!(L.INACTIVE), []);
    assert.deepEqual(await c.connectListAllStoragePools!(L.LOGICAL), []);
    const caps = await c.connectGetStoragePoolCapabilities!(0);
    assert.deepEqual(
      [...caps.matchAll(/<pool type='([^']+)' supported='yes'>/g)].map((m) => m[1]),
      ["dir", "fs", "logical"],
    );

    // A second driver of the same root (a restart) finds the running pool again.
    assert.equal(d.isActive(pool), true);

    // Undefined default pool stays undefined at the next start (the first-start marker).
    const other = mkdtempSync(join(tmpdir(), "tvirt-storage-first-"));
    try {
      const p = storagePaths({ kind: "embed", root: other });
      const d1 = await StorageDriver.load(p, { defineDefaultPool: true, autostart: true });
      const ref = d1.lookupByName("default");
      await d1.destroy(ref);
      await d1.undefine(ref);
      const d2 = await StorageDriver.load(p, { defineDefaultPool: true, autostart: true });
      assert.deepEqual(d2.listAll(0), []);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test("qcow2 1G with lazy_refcounts, clone, conversion to raw, resize", async () => {
    const vol = await c.storageVolCreateXML!(
      pool,
      `<volume><name>a.qcow2</name><capacity unit='G'>1</capacity><allocation>0</allocation>
       <target><format type='qcow2'/><features><lazy_refcounts/></features></target></volume>`,
      0,
    );
    const path = join(images, "a.qcow2");
    assert.deepEqual(vol, { pool: "default", name: "a.qcow2", key: path });
    const info = await qemuImgInfo(path);
    assert.equal(info.format, "qcow2");
    assert.equal(info["virtual-size"], 1024 * MiB);
    const spec = info["format-specific"] as { data: { compat: string; "lazy-refcounts": boolean } };
    assert.equal(spec.data.compat, "1.1");
    assert.equal(spec.data["lazy-refcounts"], true);
    assert.equal((statSync(path).mode & 0o777).toString(8), "600");
    const xml = await c.storageVolGetXMLDesc!(vol, 0);
    assert.match(xml, /<capacity unit='bytes'>1073741824<\/capacity>/);
    assert.match(xml, /<format type='qcow2'\/>/);
    assert.match(xml, /<lazy_refcounts\/>/);
    // Live-only parts, as libvirt's vol-dumpxml: the file's size and its stat times.
    assert.match(xml, new RegExp(`<physical unit='bytes'>${statSync(path).size}</physical>`));
    assert.match(
      xml,
      /<\/permissions>\n {4}<timestamps>\n {6}<atime>\d+(\.\d{9})?<\/atime>\n {6}<mtime>[\d.]+<\/mtime>\n {6}<ctime>[\d.]+<\/ctime>\n {4}<\/timestamps>\n {4}<compat>1\.1<\/compat>\n {4}<clusterSize unit='B'>65536<\/clusterSize>/,
    );
    assert.equal(await c.storageVolGetPath!(vol), path);
    assert.deepEqual(await c.storageVolLookupByKey!(path), vol);
    assert.deepEqual(await c.storageVolLookupByPath!(path), vol);
    assert.deepEqual(await c.storagePoolLookupByVolume!(vol), pool);
    const vinfo = await c.storageVolGetInfo!(vol);
    assert.equal(vinfo.type, 0);
    assert.equal(vinfo.capacity, 1024 * MiB);
    assert.ok(vinfo.allocation < 2 * MiB, `allocation ${vinfo.allocation}`);

    // Clone: qcow2 → qcow2, and a conversion to raw with a larger capacity.
    const clone = await c.storageVolCreateXMLFrom!(
      pool,
      "<volume><name>b.qcow2</name><target><format type='qcow2'/></target></volume>",
      vol,
      0,
    );
    assert.equal((await qemuImgInfo(clone.key))["format"], "qcow2");
    const raw = await c.storageVolCreateXMLFrom!(
      pool,
      "<volume><name>c.raw</name><capacity unit='G'>2</capacity><target><format type='raw'/></target></volume>",
      vol,
      0,
    );
    const rinfo = await qemuImgInfo(raw.key);
    assert.equal(rinfo.format, "raw");
    assert.equal(rinfo["virtual-size"], 2048 * MiB);
    assert.ok(allocated(raw.key) < 2 * MiB, "the raw copy stays sparse");

    // Backing store: a qcow2 overlay on the qcow2 volume, capacity taken from it.
    const overlay = await c.storageVolCreateXML!(
      pool,
      `<volume><name>overlay.qcow2</name><target><format type='qcow2'/></target>
       <backingStore><path>${path}</path><format type='qcow2'/></backingStore></volume>`,
      0,
    );
    const oinfo = await qemuImgInfo(overlay.key);
    assert.equal(oinfo["backing-filename"], path);
    assert.equal(oinfo["virtual-size"], 1024 * MiB);
    assert.match(
      await c.storageVolGetXMLDesc!(overlay, 0),
      /<backingStore>\s*<path>[^<]+a\.qcow2<\/path>\s*<format type='qcow2'\/>/,
    );

    // Resize: grow; shrink refused without the flag, done with it.
    await c.storageVolResize!(vol, 2048n * BigInt(MiB), 0);
    assert.equal((await qemuImgInfo(path))["virtual-size"], 2048 * MiB);
    await c.storageVolResize!(vol, 512n * BigInt(MiB), StorageVolResizeFlags.DELTA);
    assert.equal((await c.storageVolGetInfo!(vol)).capacity, 2560 * MiB);
    await rejectsWith(c.storageVolResize!(vol, BigInt(MiB), 0), "STORAGE_VOL_SHRINK_REFUSED", /shrink flag/);
    await c.storageVolResize!(raw, 1024n * BigInt(MiB), StorageVolResizeFlags.SHRINK);
    assert.equal(statSync(raw.key).size, 1024 * MiB);
    await rejectsWith(c.storageVolResize!(raw, 0n, StorageVolResizeFlags.SHRINK), "STORAGE_VOL_BAD_SIZE");

    for (const v of [overlay, clone, raw, vol]) await c.storageVolDelete!(v, 0);
    assert.deepEqual(readdirSync(images), []);
  });

  test("sparse upload and download of a 64 MiB file with holes", async () => {
    const src = join(work, "src.img");
    sparseSource(src);
    const vol = await c.storageVolCreateXML!(
      pool,
      "<volume><name>up.raw</name><capacity unit='M'>64</capacity><allocation>0</allocation></volume>",
      0,
    );
    // Upload: data runs as data, zero runs as holes (the sender knows its layout).
    const sink = await c.storageVolUpload!(vol, 0n, 0n, StorageVolUploadFlags.SPARSE_STREAM);
    const data = readFileSync(src);
    let holesSent = 0;
    for (let off = 0; off < data.length; off += 64 * 1024) {
      const chunk = data.subarray(off, off + 64 * 1024);
      if (chunk.every((b) => b === 0)) {
        await sink.write({ hole: chunk.length });
        holesSent++;
      } else await sink.write(chunk);
    }
    await sink.finish();
    assert.ok(holesSent > 500);
    assert.equal(sha256(vol.key), sha256(src));
    assert.equal(statSync(vol.key).size, 64 * MiB);
    assert.ok(
      allocated(vol.key) < 16 * MiB,
      `uploaded volume keeps its holes: ${allocated(vol.key)} bytes allocated`,
    );

    // Download: holes come back as StreamHole, written back as holes.
    const out = join(work, "down.img");
    const stream = await c.storageVolDownload!(vol, 0n, 0n, StorageVolDownloadFlags.SPARSE_STREAM);
    const fd = openSync(out, "w");
    let pos = 0;
    let holes = 0;
    let holeBytes = 0;
    for await (const part of stream) {
      if (part instanceof Uint8Array) {
        writeSync(fd, part, 0, part.length, pos);
        pos += part.length;
      } else {
        holes++;
        holeBytes += part.hole;
        pos += part.hole;
      }
    }
    ftruncateSync(fd, pos);
    closeSync(fd);
    assert.equal(pos, 64 * MiB);
    assert.equal(holes, 16, "one hole per zero run between the data runs");
    assert.ok(holeBytes > 50 * MiB);
    assert.equal(sha256(out), sha256(src));
    assert.ok(allocated(out) < 16 * MiB, `downloaded file keeps holes: ${allocated(out)} bytes allocated`);

    // A plain download gives the same bytes, without holes; offset and length are kept.
    const plain = await c.storageVolDownload!(vol, BigInt(8 * MiB), BigInt(2 * MiB), 0);
    const parts: Buffer[] = [];
    for await (const part of plain) {
      assert.ok(part instanceof Uint8Array);
      parts.push(Buffer.from(part));
    }
    assert.deepEqual(Buffer.concat(parts), data.subarray(8 * MiB, 10 * MiB));

    // A sparse upload over old data: its holes read as zeros, bytes past its end are kept.
    const over = await c.storageVolUpload!(vol, 0n, BigInt(2 * MiB), StorageVolUploadFlags.SPARSE_STREAM);
    await over.write(new Uint8Array(4096).fill(7));
    await over.write({ hole: 2 * MiB - 4096 });
    await over.finish();
    const after = readFileSync(vol.key);
    assert.ok(after.subarray(0, 4096).every((b) => b === 7));
    assert.ok(
      after.subarray(4096, 2 * MiB).every((b) => b === 0),
      "the hole reads as zeros",
    );
    assert.deepEqual(after.subarray(2 * MiB), data.subarray(2 * MiB), "past the upload nothing changed");

    // An upload past its length is refused.
    const short = await c.storageVolUpload!(vol, 0n, 10n, 0);
    await rejectsWith(short.write(new Uint8Array(11)), "STORAGE_STREAM_INVALID");
    await short.abort();
    await c.storageVolDelete!(vol, 0);
  });

  test("refresh finds files made outside; lookups; wipe; delete --zeroed", async () => {
    writeFileSync(join(images, "outside.img"), Buffer.alloc(MiB, 1));
    await rejectsWith(
      c.storageVolLookupByName!(pool, "outside.img"),
      "STORAGE_VOL_NOT_FOUND",
      /no storage vol with matching name 'outside.img'/,
    );
    await c.storagePoolRefresh!(pool, 0);
    const vol = await c.storageVolLookupByName!(pool, "outside.img");
    assert.equal(vol.key, join(images, "outside.img"));
    assert.deepEqual(
      (await c.storagePoolListAllVolumes!(pool, 0)).map((v) => v.name),
      ["outside.img"],
    );
    assert.equal(await c.storagePoolNumOfVolumes!(pool), 1);
    await c.storageVolWipe!(vol, 0);
    assert.ok(readFileSync(vol.key).every((b) => b === 0));
    assert.equal(statSync(vol.key).size, MiB);
    await rejectsWith(c.storageVolWipePattern!(vol, 1, 0), "STORAGE_NO_SUPPORT", /'nnsa'/);
    await c.storageVolDelete!(vol, StorageVolDeleteFlags.ZEROED);
    assert.equal(existsSync(vol.key), false);
    await rejectsWith(c.storageVolLookupByPath!(vol.key), "STORAGE_VOL_NOT_FOUND");
  });

  test("a busy volume refuses a second change; a used volume cannot be deleted or shrunk", async () => {
    const vol = await c.storageVolCreateXML!(
      pool,
      "<volume><name>busy.raw</name><capacity unit='M'>4</capacity></volume>",
      0,
    );
    const sink = await c.storageVolUpload!(vol, 0n, 0n, 0);
    await rejectsWith(c.storageVolDelete!(vol, 0), "STORAGE_VOL_BUSY", /busy: upload in progress/);
    await rejectsWith(c.storageVolResize!(vol, BigInt(8 * MiB), 0), "STORAGE_VOL_BUSY");
    await rejectsWith(c.storageVolDownload!(vol, 0n, 0n, 0), "STORAGE_VOL_BUSY");
    await rejectsWith(c.storagePoolDestroy!(pool), "STORAGE_POOL_BUSY", /asynchronous jobs running/);
    await sink.write(new Uint8Array([1, 2, 3]));
    await sink.finish();
    assert.deepEqual([...readFileSync(vol.key).subarray(0, 4)], [1, 2, 3, 0]);

    d.setVolumeUsers((paths) => (paths.includes(vol.key) ? ["guest1"] : []));
    const shared = (await import("./driver.ts")).storageDriverFor({ kind: "embed", root });
    (await shared).setVolumeUsers((paths) => (paths.includes(vol.key) ? ["guest1"] : []));
    try {
      await rejectsWith(c.storageVolDelete!(vol, 0), "STORAGE_VOL_IN_USE", /running guest 'guest1'.*delete/);
      await rejectsWith(
        c.storageVolResize!(vol, BigInt(MiB), StorageVolResizeFlags.SHRINK),
        "STORAGE_VOL_IN_USE",
        /shrink/,
      );
      await c.storageVolResize!(vol, BigInt(8 * MiB), 0);
      assert.ok(existsSync(vol.key));
    } finally {
      (await shared).setVolumeUsers(undefined);
      d.setVolumeUsers(undefined);
    }
    await c.storageVolDelete!(vol, 0);
  });

  test("concurrent creations of one name: one wins; the volume list follows an upload's format", async () => {
    const xml = "<volume><name>same.raw</name><capacity unit='M'>1</capacity></volume>";
    const results = await Promise.allSettled([
      c.storageVolCreateXML!(pool, xml, 0),
      c.storageVolCreateXML!(pool, xml, 0),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? "ok" : code(r.reason))),
      ["ok", "STORAGE_VOL_EXISTS"],
    );
    const vol = await c.storageVolLookupByName!(pool, "same.raw");
    // Upload a qcow2 image into the raw volume: the volume is what its bytes are afterwards.
    const img = join(work, "img.qcow2");
    const r = await runArgv(["qemu-img", "create", "-f", "qcow2", img, "16M"]);
    assert.equal(r.code, 0, r.stderr);
    const sink = await c.storageVolUpload!(vol, 0n, 0n, 0);
    await sink.write(readFileSync(img));
    await sink.finish();
    assert.match(await c.storageVolGetXMLDesc!(vol, 0), /<format type='qcow2'\/>/);
    assert.equal((await c.storageVolGetInfo!(vol)).capacity, 16 * MiB);
    await c.storageVolDelete!(vol, 0);
    // Nothing to do on a pool that is not running.
    const p3 = await c.storagePoolDefineXML!(
      `<pool type='dir'><name>p3</name><target><path>${join(work, "p3")}</path></target></pool>`,
      0,
    );
    await rejectsWith(
      c.storageVolCreateXML!(p3, xml, 0),
      "STORAGE_POOL_NOT_ACTIVE",
      /storage pool 'p3' is not active/,
    );
    await c.storagePoolUndefine!(p3);
  });

  test("pool lifecycle and events", async () => {
    const target = join(work, "pool2");
    const seen: [string, StoragePoolEvent][] = [];
    const id1 = await c.connectStoragePoolEventRegisterAny!(null, StoragePoolEventId.LIFECYCLE, (p, e) =>
      seen.push([p.name, e]),
    );
    const id2 = await c.connectStoragePoolEventRegisterAny!(null, StoragePoolEventId.REFRESH, (p, e) =>
      seen.push([p.name, e]),
    );
    const p2 = await c.storagePoolDefineXML!(
      `<pool type='dir'><name>p2</name><target><path>${target}</path></target></pool>`,
      0,
    );
    await rejectsWith(c.storagePoolCreate!(p2, 0), "STORAGE_POOL_TARGET_MISSING", /pool-build/);
    await c.storagePoolBuild!(p2, 0);
    assert.ok(statSync(target).isDirectory());
    await c.storagePoolCreate!(p2, 0);
    await rejectsWith(c.storagePoolCreate!(p2, 0), "STORAGE_POOL_ACTIVE_STATE", /already active/);
    await c.storagePoolRefresh!(p2, 0);
    await rejectsWith(c.storagePoolUndefine!(p2), "STORAGE_POOL_ACTIVE_STATE", /still active/);
    await c.storagePoolSetAutostart!(p2, true);
    assert.deepEqual(
      (await c.connectListAllStoragePools!(L.AUTOSTART)).map((p) => p.name),
      ["default", "p2"],
    );
    await c.storagePoolDestroy!(p2);
    await c.storagePoolDelete!(p2, 0);
    assert.equal(existsSync(target), false);
    await c.storagePoolUndefine!(p2);
    await rejectsWith(
      c.storagePoolLookupByName!("p2"),
      "STORAGE_POOL_NOT_FOUND",
      /no storage pool with matching name 'p2'/,
    );
    // A transient pool goes away when destroyed.
    const t = await c.storagePoolCreateXML!(
      `<pool type='dir'><name>t</name><target><path>${target}</path></target></pool>`,
      1,
    );
    assert.equal(await c.storagePoolIsPersistent!(t), false);
    await rejectsWith(
      c.storagePoolSetAutostart!(t, true),
      "STORAGE_POOL_TRANSIENT",
      /^invalid argument: pool has no config file$/,
    );
    await rejectsWith(
      c.storagePoolUndefine!(t),
      "STORAGE_POOL_ACTIVE_STATE",
      /storage pool 't' is still active/,
    );
    assert.match(await c.storagePoolGetXMLDesc!(t, StorageXMLFlags.INACTIVE), /<name>t<\/name>/);
    await c.storagePoolDestroy!(t);
    await rejectsWith(c.storagePoolLookupByName!("t"), "STORAGE_POOL_NOT_FOUND");
    await new Promise((r) => setImmediate(r));
    await c.connectStoragePoolEventDeregisterAny!(id1);
    await c.connectStoragePoolEventDeregisterAny!(id2);
    const ev = (n: string, id: number, e: number): [string, StoragePoolEvent] => [
      n,
      { id, event: e, detail: 0 },
    ];
    const LC = StoragePoolEventId.LIFECYCLE;
    assert.deepEqual(seen, [
      ev("p2", LC, Ev.DEFINED),
      ev("p2", LC, Ev.CREATED),
      ev("p2", LC, Ev.STARTED),
      ev("p2", StoragePoolEventId.REFRESH, 0),
      ev("p2", LC, Ev.STOPPED),
      ev("p2", LC, Ev.DELETED),
      ev("p2", LC, Ev.UNDEFINED),
      ev("t", LC, Ev.STARTED),
      ev("t", LC, Ev.STOPPED),
    ]);
  });

  test("bad input: catalogued errors, nothing created on disk", async () => {
    const file = join(work, "a-file");
    writeFileSync(file, "x");
    const configs = (): string[] => readdirSync(join(root, "etc", "storage")).sort();
    const before = configs();
    await rejectsWith(
      c.storagePoolDefineXML!(
        `<pool type='dir'><name>bad</name><target><path>${file}</path></target></pool>`,
        0,
      ),
      "STORAGE_POOL_TARGET_NOT_DIR",
      /target path '.*a-file' is not a directory \(a regular file\)/,
    );
    await rejectsWith(
      c.storagePoolCreateXML!(
        `<pool type='dir'><name>bad</name><target><path>${file}</path></target></pool>`,
        0,
      ),
      "STORAGE_POOL_TARGET_NOT_DIR",
    );
    await rejectsWith(c.storagePoolDefineXML!("<pool type='dir'><name>bad</name>", 0), "XML_SYNTAX");
    const uuid = (await c.storagePoolLookupByName!("default")).uuid;
    await rejectsWith(
      c.storagePoolDefineXML!(
        `<pool type='dir'><name>default</name><target><path>${work}/d2</path></target></pool>`,
        0,
      ),
      "STORAGE_POOL_DUPLICATE",
      new RegExp(`^operation failed: pool 'default' already exists with uuid ${uuid}$`),
    );
    await rejectsWith(
      c.storagePoolDefineXML!(
        `<pool type='dir'><name>d3</name><uuid>${uuid}</uuid><target><path>${work}/d3</path></target></pool>`,
        0,
      ),
      "STORAGE_POOL_DUPLICATE",
      new RegExp(`pool 'default' is already defined with uuid ${uuid}`),
    );
    await rejectsWith(
      c.storagePoolDefineXML!(
        `<pool type='dir'><name>x2</name><target><path>${images}</path></target></pool>`,
        0,
      ),
      "STORAGE_POOL_DUPLICATE",
      /Storage source conflict with pool: 'default'/,
    );
    await rejectsWith(
      c.storagePoolDefineXML!(
        "<pool type='iscsi'><name>i</name><source><host name='h'/><device path='iqn.x'/></source><target><path>/dev/disk/by-path</path></target></pool>",
        0,
      ),
      "STORAGE_NO_SUPPORT",
      /runs dir, fs and logical pools/,
    );
    assert.deepEqual(configs(), before);

    const vol = (body: string): string => `<volume><name>v</name>${body}</volume>`;
    await rejectsWith(
      c.storageVolCreateXML!(pool, "<volume><name>a/b</name><capacity>1</capacity></volume>", 0),
      "STORAGE_INVALID_NAME",
      /'\/'/,
    );
    await rejectsWith(
      c.storageVolCreateXML!(pool, vol("<capacity>0</capacity>"), 0),
      "STORAGE_VOL_BAD_SIZE",
      /capacity 0/,
    );
    await rejectsWith(
      c.storageVolCreateXML!(pool, vol("<capacity unit='P'>1</capacity>"), 0),
      "STORAGE_NO_SPACE",
      /Not enough space left in storage pool 'default' for volume 'v'/,
    );
    await rejectsWith(
      c.storageVolCreateXML!(
        pool,
        vol("<capacity unit='M'>1</capacity><target><format type='iso'/></target>"),
        0,
      ),
      "STORAGE_VOL_FORMAT_UNSUPPORTED",
      /cannot create volume 'v' in format 'iso'; it can create: raw, qcow2/,
    );
    await rejectsWith(
      c.storageVolCreateXML!(
        pool,
        vol("<capacity unit='M'>1</capacity><target><format type='bogus'/></target>"),
        0,
      ),
      "STORAGE_INVALID_VALUE",
    );
    await rejectsWith(c.storageVolCreateXML!(pool, "<volume><name>v</name><capacity>1", 0), "XML_SYNTAX");
    await rejectsWith(
      c.storageVolCreateXML!(
        pool,
        vol(
          "<capacity unit='M'>1</capacity><target><format type='raw'/><encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></target>",
        ),
        0,
      ),
      "STORAGE_VOL_ENCRYPTION_REFUSED",
    );
    // A sparse volume beyond the free space is fine: only what is allocated must fit.
    const big = await c.storageVolCreateXML!(
      pool,
      vol(
        "<capacity unit='T'>64</capacity><allocation>0</allocation><target><format type='qcow2'/></target>",
      ),
      0,
    );
    assert.deepEqual(readdirSync(images), ["v"]);
    await rejectsWith(
      c.storageVolCreateXML!(pool, vol("<capacity>1</capacity>"), 0),
      "STORAGE_VOL_EXISTS",
      /'v'/,
    );
    await c.storageVolDelete!(big, 0);
    assert.deepEqual(readdirSync(images), []);
  });
});
