import assert from "node:assert/strict";
import { test } from "node:test";
import { guestCmdline, guestDomainXML } from "./domain-xml.ts";
import type { GuestMode } from "./init-script.ts";

void test("guestDomainXML: TCG, ACPI, direct kernel boot, serial console, no disks or NICs", () => {
  const xml = guestDomainXML({ name: "tiny", mode: "idle", kernel: "/c/vmlinuz", initrd: "/c/initrd.img" });
  assert.match(xml, /^<domain type='qemu'>/);
  assert.match(xml, /<name>tiny<\/name>/);
  assert.match(xml, /<memory unit='MiB'>128<\/memory>/);
  assert.match(xml, /<features>\s*<acpi\/>\s*<\/features>/);
  assert.match(xml, /<kernel>\/c\/vmlinuz<\/kernel>\s*<initrd>\/c\/initrd.img<\/initrd>/);
  assert.match(xml, /<cmdline>console=ttyS0 probe=idle panic=-1<\/cmdline>/);
  assert.match(xml, /<serial type='pty'>/);
  assert.match(xml, /<console type='pty'>\s*<target type='serial' port='0'\/>/);
  assert.doesNotMatch(xml, /<disk|<interface/);
});

void test("guestDomainXML: serial log file, memory, escaping", () => {
  const xml = guestDomainXML({
    name: "a&b",
    mode: "counter",
    memoryMiB: 256,
    kernel: "/k",
    initrd: "/i",
    serialLogPath: "/tmp/it's.log",
    extraCmdline: "no_timer_check",
  });
  assert.match(xml, /<name>a&amp;b<\/name>/);
  assert.match(xml, /<memory unit='MiB'>256<\/memory>/);
  assert.match(xml, /<serial type='file'>\s*<source path='\/tmp\/it&apos;s.log'\/>/);
  assert.match(xml, /<cmdline>console=ttyS0 probe=counter panic=-1 no_timer_check<\/cmdline>/);
});

void test("guestDomainXML: bad values are refused", () => {
  const base = { name: "x", mode: "none" as GuestMode, kernel: "/k", initrd: "/i" };
  assert.throws(() => guestDomainXML({ ...base, memoryMiB: 64 }), /at least 72/);
  assert.throws(() => guestDomainXML({ ...base, name: "a/b" }), /bad domain name/);
  assert.throws(() => guestDomainXML({ ...base, kernel: "/k\u0001" }), /control character/);
  assert.throws(() => guestCmdline("bogus" as GuestMode), /unknown test guest mode/);
});
