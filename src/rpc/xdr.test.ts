import assert from "node:assert/strict";
import { test } from "node:test";
import {
  array,
  charArray,
  decode,
  encode,
  fixedCharArray,
  hyper,
  int,
  optional,
  string,
  struct,
  uhyper,
  uint,
  uuid,
} from "./codec.ts";
import { nonnullDomain, Proc, remoteError, typedParam } from "./remote-protocol.ts";
import { TypedParamType } from "./protocol.ts";
import { XdrError, XdrReader, XdrWriter } from "./xdr.ts";

const hex = (b: Buffer): string => b.toString("hex");

test("scalars are big-endian 4-byte words, hypers 8 bytes", () => {
  assert.equal(hex(encode(int, -1)), "ffffffff");
  assert.equal(hex(encode(uint, 0x20008086)), "20008086");
  assert.equal(hex(encode(hyper, -2n)), "fffffffffffffffe");
  assert.equal(hex(encode(uhyper, 9000000n)), "0000000000895440");
  assert.throws(() => encode(int, 2 ** 31), XdrError);
  assert.throws(() => encode(uint, -1), XdrError);
  assert.throws(() => encode(uhyper, -1n), XdrError);
  assert.equal(decode(int, Buffer.from("fffffffe", "hex")), -2);
});

test("strings: length, bytes, zero padding to 4; UTF-8 length counts bytes", () => {
  assert.equal(hex(encode(string(100), "test:///default")), "0000000f746573743a2f2f2f64656661756c7400");
  assert.equal(hex(encode(string(100), "")), "00000000");
  assert.equal(hex(encode(string(100), "é")), "00000002c3a90000");
  assert.equal(decode(string(100), Buffer.from("00000002c3a90000", "hex")), "é");
});

test("limits are checked before reading: long strings, big arrays, truncated data", () => {
  assert.throws(() => encode(string(3), "abcd"), /exceeds maximum 3/);
  assert.throws(() => decode(string(3), Buffer.from("0000000461626364", "hex")), /exceeds maximum 3/);
  // a length word promising more than the packet holds
  assert.throws(() => decode(string(1 << 22), Buffer.from("7fffffff", "hex")), /exceeds maximum|truncated/);
  assert.throws(() => decode(string(100), Buffer.from("00000008616263", "hex")), /truncated/);
  assert.throws(() => decode(array(int, 10), Buffer.from("0000000b", "hex")), /exceeds maximum 10/);
  // 1000 elements announced, 4 bytes present: refused before allocating
  assert.throws(() => decode(array(int, 16384), Buffer.from("000003e800000001", "hex")), /truncated/);
  assert.throws(() => decode(int, Buffer.from("0000", "hex")), /truncated/);
});

test("optional values are a 0/1 word; anything else is corrupt", () => {
  const o = optional(string(10));
  assert.equal(hex(encode(o, null)), "00000000");
  assert.equal(hex(encode(o, "a")), "000000010000000161000000");
  assert.equal(decode(o, Buffer.from("00000000", "hex")), null);
  assert.throws(() => decode(o, Buffer.from("00000002", "hex")), /bad boolean/);
});

test("char arrays are one 4-byte word per character, counting the NUL (security model/label)", () => {
  // NODE_GET_SECURITY_MODEL's model from the capture: 13 words for "testSecurity" + NUL
  const b = encode(charArray(257), "testSecurity");
  assert.equal(b.length, 4 + 13 * 4);
  assert.equal(hex(b.subarray(0, 12)), "0000000d0000007400000065");
  assert.equal(decode(charArray(257), b), "testSecurity");
  assert.equal(hex(encode(charArray(257), "")), "0000000100000000");
  const m = encode(fixedCharArray(32), "i686");
  assert.equal(m.length, 128);
  assert.equal(hex(m.subarray(0, 16)), "00000069000000360000003800000036");
  assert.equal(decode(fixedCharArray(32), m), "i686");
});

test("UUIDs are 16 raw bytes", () => {
  const u = "6695eb01-f6a4-8304-79aa-97f2502e193f";
  assert.equal(hex(encode(uuid, u)), "6695eb01f6a4830479aa97f2502e193f");
  assert.equal(decode(uuid, encode(uuid, u)), u);
  assert.throws(() => encode(uuid, "nope"), /bad UUID/);
});

test("remote_nonnull_domain matches the capture (name, uuid, id)", () => {
  const d = { name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f", id: 1 };
  assert.equal(hex(encode(nonnullDomain, d)), "00000004746573746695eb01f6a4830479aa97f2502e193f00000001");
  assert.equal(
    hex(
      encode(nonnullDomain, {
        name: "ubuntu-server-noble",
        uuid: "05c01e09-1f5d-4943-b88c-cce65422a3f1",
        id: -1,
      }),
    ),
    "000000137562756e74752d7365727665722d6e6f626c650005c01e091f5d4943b88ccce65422a3f1ffffffff",
  );
});

test("procedure shapes reproduce captured payloads", () => {
  const dom = { name: "test", uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f", id: 1 };
  assert.equal(
    hex(encode(Proc.connectListAllDomains.args, { need_results: 1, flags: 3 })),
    "0000000100000003",
  );
  assert.equal(
    hex(encode(Proc.connectListAllDomains.ret, { domains: [dom], ret: 1 })),
    "0000000100000004746573746695eb01f6a4830479aa97f2502e193f0000000100000001",
  );
  assert.equal(
    hex(
      encode(Proc.domainGetInfo.ret, {
        state: 1,
        maxMem: 8388608,
        memory: 2097152,
        nrVirtCpu: 2,
        cpuTime: 0x18eb5aed85138a90n,
      }),
    ),
    "00000001000000000080000000000000002000000000000218eb5aed85138a90",
  );
  assert.equal(hex(encode(Proc.domainGetOSType.ret, { type: "linux" })), "000000056c696e7578000000");
  assert.equal(hex(encode(Proc.connectGetType.ret, { type: "TEST" })), "0000000454455354");
  assert.equal(hex(encode(Proc.authList.ret, { types: [0] })), "0000000100000000");
  assert.equal(
    hex(encode(Proc.connectDomainEventCallbackRegisterAny.args, { eventID: 0, dom: null })),
    "0000000000000000",
  );
  const ni = encode(Proc.nodeGetInfo.ret, {
    model: "i686",
    memory: 3145728,
    cpus: 16,
    mhz: 1400,
    nodes: 2,
    sockets: 2,
    cores: 2,
    threads: 2,
  });
  assert.equal(ni.length, 188 - 28);
  assert.deepEqual(decode(Proc.nodeGetInfo.ret, ni).model, "i686");
});

test("remote_error: the captured 'Domain not found' reply", () => {
  const payload = {
    code: 42,
    domain: 12,
    message: "Domain not found",
    level: 2,
    dom: null,
    str1: "Domain not found",
    str2: null,
    str3: null,
    int1: -1,
    int2: -1,
    net: null,
  };
  const b = encode(remoteError, payload);
  assert.equal(b.length, 112 - 28);
  assert.ok(
    hex(b).startsWith(
      "0000002a0000000c0000000100000010446f6d61696e206e6f7420666f756e6400000002000000000000000100000010446f6d61696e206e6f7",
    ),
  );
  assert.deepEqual(decode(remoteError, b), payload);
});

test("typed parameters round-trip every type and refuse unknown ones", () => {
  for (const value of [
    { type: TypedParamType.INT, value: -5 },
    { type: TypedParamType.UINT, value: 5 },
    { type: TypedParamType.LLONG, value: -5n },
    { type: TypedParamType.ULLONG, value: 5n },
    { type: TypedParamType.DOUBLE, value: 1.5 },
    { type: TypedParamType.BOOLEAN, value: true },
    { type: TypedParamType.STRING, value: "/tmp/x" },
  ] as const) {
    const p = { field: "f", value };
    assert.deepEqual(decode(typedParam, encode(typedParam, p)), p);
  }
  assert.throws(
    () => decode(typedParam, Buffer.from("0000000166000000000000090000000000000000", "hex")),
    /bad typed parameter type 9/,
  );
});

test("structs encode fields in declaration order; writer grows; reader tracks position", () => {
  const s = struct({ a: int, b: string(10), c: uhyper });
  const b = encode(s, { a: 1, b: "xy", c: 3n });
  assert.equal(hex(b), "00000001000000027879000000000000" + "00000003");
  const w = new XdrWriter(1);
  for (let i = 0; i < 1000; i++) w.uint(i);
  assert.equal(w.length, 4000);
  const r = new XdrReader(w.result());
  assert.equal(r.uint(), 0);
  assert.equal(r.remaining, 3996);
});
