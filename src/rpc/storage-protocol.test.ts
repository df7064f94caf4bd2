/**
 * The storage procedures' wire shapes, byte by byte as `remote_protocol.x` lays them out
 * (`remote_nonnull_storage_pool` = name + 16-byte UUID, `remote_nonnull_storage_vol` = pool
 * name + name + key, `unsigned char state` / `char type` as 4-byte words, capacities as
 * unsigned hypers), every storage procedure of libvirt 9.0.0 that the storage driver interface
 * has an entry for declared, and `virNetStreamHole` for sparse streams.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { referenceDir } from "../testing/corpus.ts";
import { decode, encode } from "./codec.ts";
import { Msg, Proc, streamHole } from "./remote-protocol.ts";

const hex = (b: Buffer): string => b.toString("hex");
/** XDR string: length word, bytes, zero padding. */
const xstr = (s: string): string => {
  const b = Buffer.from(s, "utf8");
  const pad = (4 - (b.length % 4)) % 4;
  return b.length.toString(16).padStart(8, "0") + b.toString("hex") + "00".repeat(pad);
};
const word = (n: number): string => (n >>> 0).toString(16).padStart(8, "0");
const hyperHex = (n: bigint): string => n.toString(16).padStart(16, "0");

const pool = { name: "default-pool", uuid: "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566" };
const poolHex = xstr("default-pool") + "dfe224cb28fb8dd0c4b264eb3f0f4566";
const vol = { pool: "default-pool", name: "a.img", key: "/default-pool/a.img" };
const volHex = xstr("default-pool") + xstr("a.img") + xstr("/default-pool/a.img");

test("pool and volume handles: name + raw UUID; pool name + name + key", () => {
  assert.equal(hex(encode(Proc.storagePoolLookupByName.ret, { pool })), poolHex);
  assert.equal(hex(encode(Proc.storageVolLookupByName.ret, { vol })), volHex);
  assert.deepEqual(decode(Proc.storageVolLookupByName.ret, Buffer.from(volHex, "hex")), { vol });
  assert.equal(
    hex(encode(Proc.storageVolLookupByName.args, { pool, name: "a.img" })),
    poolHex + xstr("a.img"),
  );
});

test("pool info: state word then capacity, allocation, available as unsigned hypers", () => {
  const info = { state: 2, capacity: 107374182400, allocation: 0, available: 107374182400 };
  const want = word(2) + hyperHex(107374182400n) + hyperHex(0n) + hyperHex(107374182400n);
  assert.equal(hex(encode(Proc.storagePoolGetInfo.ret, info)), want);
  assert.deepEqual(decode(Proc.storagePoolGetInfo.ret, Buffer.from(want, "hex")), info);
});

test("volume info (both procedures): type word, capacity, allocation", () => {
  const info = { type: 0, capacity: 1073741824, allocation: 196608 };
  const want = word(0) + hyperHex(1073741824n) + hyperHex(196608n);
  assert.equal(hex(encode(Proc.storageVolGetInfo.ret, info)), want);
  assert.equal(hex(encode(Proc.storageVolGetInfoFlags.ret, info)), want);
  assert.equal(hex(encode(Proc.storageVolGetInfoFlags.args, { vol, flags: 1 })), volHex + word(1));
});

test("upload/download arguments: volume, offset and length as unsigned hypers, flags", () => {
  const args = { vol, offset: 4096n, length: 0n, flags: 1 };
  const want = volHex + hyperHex(4096n) + hyperHex(0n) + word(1);
  assert.equal(hex(encode(Proc.storageVolUpload.args, args)), want);
  assert.equal(hex(encode(Proc.storageVolDownload.args, args)), want);
  assert.equal(Proc.storageVolUpload.num, 208);
  assert.equal(Proc.storageVolDownload.num, 209);
});

test("stream hole: signed hyper length, flags word", () => {
  assert.equal(hex(encode(streamHole, { length: 1048576n, flags: 0 })), hyperHex(1048576n) + word(0));
});

test("lists: counted arrays with need_results / ret; the old name lists", () => {
  assert.equal(
    hex(encode(Proc.connectListAllStoragePools.args, { need_results: 1, flags: 2 })),
    word(1) + word(2),
  );
  assert.equal(
    hex(encode(Proc.connectListAllStoragePools.ret, { pools: [pool], ret: 1 })),
    word(1) + poolHex + word(1),
  );
  assert.equal(
    hex(encode(Proc.storagePoolListAllVolumes.ret, { vols: [vol, vol], ret: 2 })),
    word(2) + volHex + volHex + word(2),
  );
  assert.equal(
    hex(encode(Proc.storagePoolListVolumes.args, { pool, maxnames: 16384 })),
    poolHex + word(16384),
  );
  // REMOTE_STORAGE_POOL_LIST_MAX = 4096: one more is refused before anything is allocated
  assert.throws(() => decode(Proc.connectListAllStoragePools.ret, Buffer.from(word(4097) + word(0), "hex")));
});

test("create-from, resize, wipe pattern, find sources, event registration", () => {
  assert.equal(
    hex(encode(Proc.storageVolCreateXMLFrom.args, { pool, xml: "<x/>", clonevol: vol, flags: 0 })),
    poolHex + xstr("<x/>") + volHex + word(0),
  );
  assert.equal(
    hex(encode(Proc.storageVolResize.args, { vol, capacity: 2147483648n, flags: 4 })),
    volHex + hyperHex(2147483648n) + word(4),
  );
  assert.equal(
    hex(encode(Proc.storageVolWipePattern.args, { vol, algorithm: 1, flags: 0 })),
    volHex + word(1) + word(0),
  );
  assert.equal(
    hex(encode(Proc.connectFindStoragePoolSources.args, { type: "logical", srcSpec: null, flags: 0 })),
    xstr("logical") + word(0) + word(0),
  );
  assert.equal(
    hex(encode(Proc.connectStoragePoolEventRegisterAny.args, { eventID: 1, pool })),
    word(1) + word(1) + poolHex,
  );
  assert.equal(
    hex(encode(Proc.connectStoragePoolEventRegisterAny.args, { eventID: 0, pool: null })),
    word(0) + word(0),
  );
  assert.equal(
    hex(encode(Msg.storagePoolLifecycle.msg, { callbackID: 3, pool, event: 2, detail: 0 })),
    word(3) + poolHex + word(2) + word(0),
  );
  assert.equal(hex(encode(Msg.storagePoolRefresh.msg, { callbackID: 3, pool })), word(3) + poolHex);
});

test("every storage procedure of libvirt 9.0.0 is declared", (t) => {
  const file = join(referenceDir(), "libvirt-procedures-9.0.0.tsv");
  if (!existsSync(file)) {
    if (process.env.CI === "true") throw new Error(`${file} is required under CI`);
    t.skip(`${file} not found`);
    return;
  }
  const wanted = readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.split("\t"))
    .filter((r) => r[0] === "remote" && /STORAGE_(POOL|VOL)/.test(r[3] ?? ""))
    .map((r) => Number(r[2]));
  const declared = new Set([...Object.values(Proc), ...Object.values(Msg)].map((d) => d.num));
  assert.equal(wanted.length, 47);
  assert.deepEqual(
    wanted.filter((n) => !declared.has(n)),
    [],
  );
});
