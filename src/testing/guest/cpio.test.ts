import assert from "node:assert/strict";
import { test } from "node:test";
import { readCpio, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, writeCpio } from "./cpio.ts";
import { modinfoDepends } from "./modules.ts";

void test("newc: header layout, padding and trailer", () => {
  const buf = writeCpio([{ type: "file", name: "a", data: "xyz", mode: 0o644 }]);
  const head = buf.toString("ascii", 0, 110);
  assert.equal(head.slice(0, 6), "070701");
  assert.equal(head.slice(6, 14), "00000001"); // ino
  assert.equal(head.slice(14, 22), (S_IFREG | 0o644).toString(16).toUpperCase().padStart(8, "0"));
  assert.equal(head.slice(54, 62), "00000003"); // filesize
  assert.equal(head.slice(94, 102), "00000002"); // namesize "a\0"
  // 110 + 2 = 112 is 4-aligned: data starts right after the name.
  assert.equal(buf.toString("ascii", 110, 113), "a\0x");
  assert.equal(buf.toString("ascii", 112, 115), "xyz");
  assert.equal(buf[115], 0); // data padding to 116
  assert.equal(buf.toString("ascii", 116, 122), "070701");
  assert.ok(buf.toString("ascii", 116 + 110, 116 + 121).startsWith("TRAILER!!!\0"));
  assert.equal(buf.length % 4, 0);
});

void test("newc: every kind of entry reads back", () => {
  const bin = Buffer.from([0, 1, 2, 3, 4, 255]);
  const buf = writeCpio([
    { type: "dir", name: "bin" },
    { type: "dir", name: "tmp", mode: 0o1777 },
    { type: "file", name: "bin/tool", data: bin, mode: 0o755 },
    { type: "file", name: "empty", data: "" },
    { type: "symlink", name: "bin/sh", target: "tool" },
    { type: "chardev", name: "console", major: 5, minor: 1 },
  ]);
  const got = readCpio(buf);
  assert.deepEqual(
    got.map((e) => [e.name, (e.mode & S_IFMT).toString(8), (e.mode & 0o7777).toString(8)]),
    [
      ["bin", S_IFDIR.toString(8), "755"],
      ["tmp", S_IFDIR.toString(8), "1777"],
      ["bin/tool", S_IFREG.toString(8), "755"],
      ["empty", S_IFREG.toString(8), "644"],
      ["bin/sh", S_IFLNK.toString(8), "777"],
      ["console", S_IFCHR.toString(8), "600"],
    ],
  );
  assert.deepEqual(got[2]?.data, bin);
  assert.equal(got[3]?.data.length, 0);
  assert.equal(got[4]?.data.toString(), "tool");
  assert.deepEqual([got[5]?.rdevMajor, got[5]?.rdevMinor], [5, 1]);
  assert.equal(got[0]?.nlink, 2);
});

void test("newc: names of every length stay aligned", () => {
  const entries = Array.from({ length: 9 }, (_, i) => ({
    type: "file" as const,
    name: `f${"x".repeat(i)}`,
    data: "y".repeat(i),
  }));
  const got = readCpio(writeCpio(entries));
  assert.deepEqual(
    got.map((e) => [e.name, e.data.toString()]),
    entries.map((e) => [e.name, e.data]),
  );
});

void test("newc: the same input gives the same bytes", () => {
  const mk = (): Buffer =>
    writeCpio([
      { type: "dir", name: "d" },
      { type: "file", name: "d/f", data: "1" },
    ]);
  assert.deepEqual(mk(), mk());
});

void test("newc: bad names are refused", () => {
  for (const name of ["/abs", "a/../b", "", "a//b", "TRAILER!!!"])
    assert.throws(() => writeCpio([{ type: "dir", name }]), /cpio:/, name);
  assert.throws(
    () =>
      writeCpio([
        { type: "dir", name: "a" },
        { type: "dir", name: "a" },
      ]),
    /duplicate/,
  );
});

void test("modinfo depends= is read from the .modinfo strings", () => {
  const ko = Buffer.from(
    "\x7fELF....\0license=GPL\0depends=virtio_ring,virtio-pci-legacy-dev\0retpoline=Y\0",
    "latin1",
  );
  assert.deepEqual(modinfoDepends(ko), ["virtio_ring", "virtio_pci_legacy_dev"]);
  assert.deepEqual(modinfoDepends(Buffer.from("\0depends=\0name=x\0", "latin1")), []);
  assert.deepEqual(modinfoDepends(Buffer.from("\0name=x\0", "latin1")), []);
});
