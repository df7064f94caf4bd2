/**
 * Unit tests of the tuning pieces that need no QEMU: the taint in the status file, the
 * LIVE/CONFIG/CURRENT choice of definitions, a late vCPU DEVICE_DELETED, and monitor event
 * filtering and delivery.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDomainXML, parseDomainXML } from "../../../conf/domain/index.ts";
import { type DomainRef, type QemuMonitorEvent } from "../../driver.ts";
import { DomainRunningReason, DomainState } from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { QemuDomainObj } from "./domain.ts";
import { formatStatusXML, parseStatusXML } from "./status-xml.ts";
import { dispatchMonitorEvent, deregisterMonitorEvents, registerMonitorEvents } from "./monitor-events.ts";
import { affectedDefs, getVcpusFlags, vcpuDeleted } from "./tuning.ts";
import type { QemuDriver } from "./driver.ts";

const xml = `<domain type='qemu' id='3'>
  <name>t</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='KiB'>131072</memory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
</domain>
`;

test("the taints of a process are kept in the status file and read back", () => {
  const base = {
    state: DomainState.RUNNING,
    reason: DomainRunningReason.BOOTED,
    pid: 4242,
    starttime: 1,
    monitorPath: "/m.sock",
    pidfile: "/p.pid",
    domainDir: "/d",
    qemuVersion: 7002000,
    startedAt: 0,
    autodestroy: false,
    fakeReboot: false,
    domainXML: xml,
  };
  const text = formatStatusXML({ ...base, taints: ["custom-monitor"] });
  assert.match(text, /\n {2}<taint flag='custom-monitor'\/>\n/);
  assert.deepEqual(parseStatusXML(text, "t.xml").taints, ["custom-monitor"]);
  assert.equal(parseStatusXML(formatStatusXML(base), "t.xml").taints, undefined);
});

function obj(active: boolean, persistent: boolean): QemuDomainObj {
  const def = parseDomainXML(xml).def;
  const o = new QemuDomainObj(def, 1000);
  o.persistent = persistent;
  if (active) {
    o.id = 3;
    o.newDef = persistent ? parseDomainXML(xml).def : undefined;
  }
  return o;
}

test("LIVE/CONFIG/CURRENT pick the definitions as libvirt's virDomainObjGetDefs", () => {
  const running = obj(true, true);
  assert.equal(affectedDefs(running, 0).live, running.def);
  assert.equal(affectedDefs(running, 0).config, undefined);
  assert.equal(affectedDefs(running, 2).config, running.newDef);
  const both = affectedDefs(running, 3);
  assert.ok(both.live && both.config && both.live !== both.config);
  const off = obj(false, true);
  assert.equal(affectedDefs(off, 0).config, off.def);
  assert.throws(
    () => affectedDefs(off, 1),
    (e: unknown) => isVirtError(e) && e.message === "Requested operation is not valid: domain is not running",
  );
  const transient = obj(true, false);
  assert.throws(
    () => affectedDefs(transient, 2),
    (e: unknown) =>
      isVirtError(e) &&
      e.message === "Requested operation is not valid: transient domains do not have any persistent config",
  );
  assert.equal(getVcpusFlags(running, 0), 1);
  assert.equal(getVcpusFlags(running, 4), 2);
  assert.throws(() => getVcpusFlags(running, 8), /QEMU guest agent is not configured/);
  assert.throws(
    () => getVcpusFlags(running, 64),
    /unsupported flags \(0x40\) in function qemuDomainGetVcpusFlags/,
  );
});

test("a late DEVICE_DELETED of vcpuN disables that vCPU in the live <vcpus>, the others keep their order", () => {
  const withList = xml.replace(
    "<vcpu placement='static' current='1'>2</vcpu>",
    [
      "<vcpu placement='static'>3</vcpu>",
      "<vcpus>",
      "<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>",
      "<vcpu id='1' enabled='yes' hotpluggable='yes' order='3'/>",
      "<vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/>",
      "</vcpus>",
    ].join(""),
  );
  const o = new QemuDomainObj(parseDomainXML(withList).def, 1000);
  o.id = 3;
  let saves = 0;
  // only the status-file write of the driver is used here
  const drv = { saveStatusLater: () => saves++ } as unknown as QemuDriver;
  vcpuDeleted(drv, o, "vcpu1");
  assert.equal(saves, 1);
  assert.equal(o.def.vcpu.current, 2);
  assert.deepEqual(o.def.vcpu.vcpus, [
    { enabled: true, hotpluggable: false, order: 1 },
    { enabled: false, hotpluggable: true },
    { enabled: true, hotpluggable: true, order: 2 },
  ]);
  assert.match(formatDomainXML(o.def), /<vcpu placement='static' current='2'>3<\/vcpu>/);
  vcpuDeleted(drv, o, "net0");
  assert.equal(saves, 1, "not a vCPU alias");
});

test("monitor events: filters by domain and name (exact, no-case, regex), delivered later, in order", async () => {
  const drv = {};
  const a = obj(true, true);
  const owner = {};
  const got: string[] = [];
  const cb = (tag: string) => (d: DomainRef, ev: QemuMonitorEvent) => {
    got.push(`${tag}:${d.name}:${ev.event}:${ev.seconds}.${ev.micros}:${ev.details ?? "<null>"}`);
  };
  const exact = registerMonitorEvents(drv, owner, null, "STOP", cb("exact"), 0);
  registerMonitorEvents(drv, owner, a.uuid, "stop", cb("nocase"), 2);
  registerMonitorEvents(drv, owner, "00000000-0000-0000-0000-000000000000", null, cb("other-dom"), 0);
  registerMonitorEvents(drv, owner, null, "^RES|BALLOON", cb("regex"), 1);
  assert.throws(() => registerMonitorEvents(drv, owner, null, "(", cb("x"), 1), /failed to compile regex/);
  assert.throws(() => registerMonitorEvents(drv, owner, null, null, cb("x"), 4), /unsupported flags/);
  dispatchMonitorEvent(drv, a, {
    event: "STOP",
    data: {},
    timestampUs: 1_700_000_000_000_042,
    hasData: false,
  });
  dispatchMonitorEvent(drv, a, {
    event: "BALLOON_CHANGE",
    data: { actual: 1024 },
    timestampUs: 5_000_001,
    hasData: true,
  });
  assert.deepEqual(got, [], "not inside the caller");
  await new Promise((r) => {
    setImmediate(r);
  });
  assert.deepEqual(got, [
    "exact:t:STOP:1700000000.42:<null>",
    "nocase:t:STOP:1700000000.42:<null>",
    'regex:t:BALLOON_CHANGE:5.1:{"actual":1024}',
  ]);
  deregisterMonitorEvents(drv, owner, exact);
  assert.throws(() => {
    deregisterMonitorEvents(drv, {}, exact);
  }, /callback \d+ not registered/);
});
