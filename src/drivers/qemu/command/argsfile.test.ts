import { test } from "node:test";
import assert from "node:assert/strict";
import { compareArgs, formatArgsFile, parseArgsFile, shellQuote } from "./argsfile.ts";
import { escapeComma, formatRanges, parseRanges, Props, toJson } from "./escape.ts";

test("escapeComma doubles commas", () => {
  assert.equal(escapeComma("/a,b,,c"), "/a,,b,,,,c");
});

test("toJson keeps key order and prints bigints as numbers", () => {
  const p = new Props()
    .set("driver", "scsi-hd")
    .set("wwn", 5764824127192592812n)
    .set("x", { b: 1, a: [true, "s"] });
  assert.equal(p.toString(), '{"driver":"scsi-hd","wwn":5764824127192592812,"x":{"b":1,"a":[true,"s"]}}');
  assert.equal(toJson('it\'s "q"'), '"it\'s \\"q\\""');
});

test("Props optional helpers", () => {
  const p = new Props()
    .opt("a", undefined)
    .pos("b", 0)
    .pos("c", 3)
    .onlyTrue("d", false)
    .onlyTrue("e", true)
    .prepend("id", "x");
  assert.equal(p.toString(), '{"id":"x","c":3,"e":true}');
});

test("ranges", () => {
  assert.deepEqual(parseRanges("0-3,^2,8"), [0, 1, 3, 8]);
  assert.equal(formatRanges([0, 1, 3, 8, 9]), "0-1,3,8-9");
});

test("shellQuote quotes only when needed", () => {
  assert.equal(shellQuote("-m"), "-m");
  assert.equal(shellQuote("[::1]:3"), "'[::1]:3'");
  assert.equal(shellQuote("a'b"), "'a'\\''b'");
  assert.equal(shellQuote(""), "''");
});

const sample = `LC_ALL=C \\
PATH=/bin \\
/usr/bin/qemu-system-x86_64 \\
-name guest=g,debug-threads=on \\
-S \\
-object '{"qom-type":"secret","id":"masterKey0","format":"raw"}' \\
-chardev socket,id=charmonitor,fd=1729,server=on,wait=off \\
-msg timestamp=on
`;

test("formatArgsFile and parseArgsFile round-trip libvirt's layout", () => {
  const cmd = parseArgsFile(sample);
  assert.deepEqual(cmd.env, [
    ["LC_ALL", "C"],
    ["PATH", "/bin"],
  ]);
  assert.equal(cmd.emulator, "/usr/bin/qemu-system-x86_64");
  assert.equal(cmd.args[4], '{"qom-type":"secret","id":"masterKey0","format":"raw"}');
  assert.equal(formatArgsFile(cmd), sample);
});

test("compareArgs: exact, equivalent, differs", () => {
  assert.equal(compareArgs(sample, sample).verdict, "exact");
  const reordered = sample
    .replace(
      '{"qom-type":"secret","id":"masterKey0","format":"raw"}',
      '{"id":"masterKey0","qom-type":"secret","format":"raw"}',
    )
    .replace("fd=1729", "fd=7");
  assert.equal(compareArgs(sample, reordered).verdict, "equivalent");
  const changed = sample.replace("debug-threads=on", "debug-threads=off");
  const r = compareArgs(sample, changed);
  assert.equal(r.verdict, "differs");
  assert.match(r.firstDifference ?? "", /debug-threads=on/);
});
