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

test("compareArgs: exact is the same text; a missing final newline is no difference", () => {
  assert.deepEqual(compareArgs(sample, sample), { verdict: "exact" });
  assert.deepEqual(compareArgs(sample, sample.trimEnd()), { verdict: "exact" });
});

test("compareArgs: equivalent only when quoting or line breaks differ, not the argv", () => {
  const requoted = sample
    .replace("-name guest=g,debug-threads=on", "-name 'guest=g,debug-threads=on'")
    .replace("-msg timestamp=on", "-msg \\\n timestamp=on");
  assert.notEqual(requoted, sample);
  assert.deepEqual(parseArgsFile(requoted), parseArgsFile(sample));
  assert.deepEqual(compareArgs(sample, requoted), { verdict: "equivalent" });
  assert.deepEqual(compareArgs(sample, `${sample.trimEnd()}  \n`), { verdict: "equivalent" });
});

test("compareArgs: a changed value differs and is named", () => {
  const r = compareArgs(sample, sample.replace("debug-threads=on", "debug-threads=off"));
  assert.equal(r.verdict, "differs");
  assert.match(r.firstDifference ?? "", /^option 1: expected -name guest=g,debug-threads=on; got .*=off$/);
});

test("compareArgs: option order counts", () => {
  const swapped = sample.replace(
    '-S \\\n-object \'{"qom-type":"secret","id":"masterKey0","format":"raw"}\'',
    '-object \'{"qom-type":"secret","id":"masterKey0","format":"raw"}\' \\\n-S',
  );
  assert.notEqual(swapped, sample);
  const r = compareArgs(sample, swapped);
  assert.equal(r.verdict, "differs");
  assert.match(r.firstDifference ?? "", /^option 2: expected -S; got -object .*another order\)$/);
});

test("compareArgs: key order inside a value counts (JSON and key=value)", () => {
  const json = sample.replace(
    '{"qom-type":"secret","id":"masterKey0"',
    '{"id":"masterKey0","qom-type":"secret"',
  );
  assert.equal(compareArgs(sample, json).verdict, "differs");
  const kv = sample.replace("server=on,wait=off", "wait=off,server=on");
  assert.equal(compareArgs(sample, kv).verdict, "differs");
});

test("compareArgs: descriptor numbers count", () => {
  const r = compareArgs(sample, sample.replace("fd=1729", "fd=7"));
  assert.equal(r.verdict, "differs");
  assert.match(r.firstDifference ?? "", /fd=1729.*fd=7/);
});

test("compareArgs: environment values and order count", () => {
  const value = compareArgs(sample, sample.replace("PATH=/bin", "PATH=/usr/bin"));
  assert.deepEqual(value, {
    verdict: "differs",
    firstDifference: "environment 2: expected PATH=/bin; got PATH=/usr/bin",
  });
  const order = compareArgs(sample, sample.replace("LC_ALL=C \\\nPATH=/bin", "PATH=/bin \\\nLC_ALL=C"));
  assert.deepEqual(order, {
    verdict: "differs",
    firstDifference: "environment 1: expected LC_ALL=C; got PATH=/bin",
  });
  const missing = compareArgs(sample, sample.replace("PATH=/bin \\\n", ""));
  assert.equal(missing.verdict, "differs");
  assert.match(missing.firstDifference ?? "", /^environment 2: expected PATH=\/bin; got /);
});

test("compareArgs: missing and extra options differ", () => {
  const fewer = compareArgs(sample, sample.replace(" \\\n-msg timestamp=on", ""));
  assert.deepEqual(fewer, {
    verdict: "differs",
    firstDifference: "option 5: expected -msg timestamp=on; got (nothing)",
  });
  const more = compareArgs(sample, sample.replace("-S \\\n", "-S \\\n-S \\\n"));
  assert.equal(more.verdict, "differs");
  assert.doesNotMatch(more.firstDifference ?? "", /another order/);
});
