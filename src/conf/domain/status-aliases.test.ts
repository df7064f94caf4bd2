/**
 * Device aliases in a status document (libvirt's PARSE_STATUS): kept, so that a restarted
 * daemon addresses the running QEMU's devices by the ids it gave them; an ordinary parse keeps
 * user aliases (`ua-*`) only.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDomainXML, parseDomainXML } from "./index.ts";

const live = `<domain type='qemu' id='4'>
  <name>st</name>
  <uuid>0b7f5e5c-0f52-4b5e-9a53-3d9d0b4f1c11</uuid>
  <memory unit='KiB'>131072</memory>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices>
    <controller type='pci' index='0' model='pci-root'><alias name='pci.0'/></controller>
    <serial type='pty'><source path='/dev/pts/9'/><target port='0'/><alias name='serial0'/></serial>
    <input type='mouse' bus='ps2'><alias name='input7'/></input>
    <memballoon model='none'><alias name='ua-mine'/></memballoon>
  </devices>
</domain>`;

const aliases = (xml: string): string[] => [...xml.matchAll(/<alias name='([^']+)'\/>/g)].map((m) => m[1]!);

test("a status parse keeps every device alias; an ordinary parse only user aliases", () => {
  const status = parseDomainXML(live, { noDefaults: true, status: true }).def;
  assert.deepEqual(aliases(formatDomainXML(status, { live: true })), [
    "pci.0",
    "serial0",
    "input7", // not renumbered: the name QEMU knows
    "ua-mine",
  ]);
  const plain = parseDomainXML(live, { noDefaults: true }).def;
  assert.deepEqual(aliases(formatDomainXML(plain, { live: true })), ["ua-mine"]);
  // the flag is per parse: the next ordinary parse drops them again
  assert.deepEqual(aliases(formatDomainXML(parseDomainXML(live, { noDefaults: true }).def, { live: true })), [
    "ua-mine",
  ]);
});

test("a status alias with characters QEMU ids cannot have is refused, naming it", () => {
  assert.throws(
    () => parseDomainXML(live.replace("input7", "in put"), { noDefaults: true, status: true }),
    /in put.*expected letters, digits, '_', '\.' or '-'/,
  );
});
