import assert from "node:assert/strict";
import { test } from "node:test";
import { DomainPausedReason, DomainState } from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { formatStatusXML, parseStatusXML, type StatusRecord } from "./status-xml.ts";
import { reasonName, resumedDetail, stateName, suspendedDetail } from "./states.ts";

const domainXML = `<domain type='qemu' id='7'>
  <name>vm</name>
  <description>two
  lines &amp; more</description>
</domain>
`;

const record: StatusRecord = {
  state: DomainState.PAUSED,
  reason: DomainPausedReason.USER,
  pid: 4242,
  starttime: 123456,
  monitorPath: "/r/lib/qemu/domain-7-vm/monitor.sock",
  pidfile: "/r/run/qemu/vm.pid",
  domainDir: "/r/lib/qemu/domain-7-vm",
  qemuVersion: 7002022,
  startedAt: Date.UTC(2025, 0, 2, 3, 4, 5),
  autodestroy: true,
  fakeReboot: false,
  asyncJob: { kind: "save", wasRunning: true },
  domainXML,
};

test("status XML round-trips and keeps the live domain byte for byte", () => {
  const text = formatStatusXML(record);
  assert.match(
    text,
    /^<domstatus state='paused' reason='user' pid='4242'>\n {2}<monitor path='\/r\/lib\/qemu\/domain-7-vm\/monitor.sock' type='unix'\/>/,
  );
  assert.ok(text.includes(`\n${domainXML}</domstatus>\n`));
  const back = parseStatusXML(text, "vm.xml");
  assert.deepEqual(back, { ...record, domainId: 7 });
});

test("broken status files are refused with the file named", () => {
  const bad = (text: string, why: RegExp): void => {
    assert.throws(
      () => parseStatusXML(text, "/run/vm.xml"),
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "QEMU_STATUS_INVALID" &&
        e.message.includes("/run/vm.xml") &&
        why.test(e.message),
    );
  };
  bad("<domstatus state='running' pid='5'></domstatus>", /no <domain>/);
  bad(formatStatusXML(record).replace("pid='4242'", "pid='x'"), /bad pid/);
  bad(formatStatusXML(record).replace("state='paused'", "state='weird'"), /unknown state/);
  bad(formatStatusXML(record).replace(/ starttime='\d+'/, ""), /starttime/);
  bad(formatStatusXML(record).replace(" id='7'", ""), /no id=/);
});

test("state and reason names and event details are libvirt's", () => {
  assert.equal(stateName(DomainState.SHUTOFF), "shutoff");
  assert.equal(reasonName(DomainState.PAUSED, DomainPausedReason.STARTING_UP), "starting up");
  assert.equal(reasonName(DomainState.SHUTOFF, 3), "crashed");
  assert.equal(suspendedDetail(DomainPausedReason.USER), 0);
  assert.equal(suspendedDetail(DomainPausedReason.MIGRATION), 1);
  assert.equal(resumedDetail(5), 0);
});

test("a migration job keeps libvirt's shape: async side, phase, flags (and the p2p peer)", () => {
  const out: StatusRecord = {
    ...record,
    reason: DomainPausedReason.MIGRATION,
    asyncJob: {
      kind: "migration out",
      wasRunning: true,
      phase: "perform3",
      flags: 0x203,
      peer: "qemu+unix:///system?socket=/r/b.sock",
    },
  };
  const text = formatStatusXML(out);
  assert.match(
    text,
    /<job type='none' async='migration out' phase='perform3' flags='0x203' wasRunning='yes' peer='qemu\+unix:\/\/\/system\?socket=\/r\/b.sock'\/>/,
  );
  assert.deepEqual(parseStatusXML(text, "vm.xml"), { ...out, domainId: 7 });
  // libvirt's own element (qemustatusxml2xmldata/migration-in-params-in.xml): side, phase, flags
  const libvirtJob = text.replace(
    /<job [^>]*\/>/,
    "<job type='none' async='migration in' phase='prepare' flags='0x900' asyncStarted='0'>\n    <migParams>\n      <param name='compress-level' value='1'/>\n    </migParams>\n  </job>",
  );
  assert.deepEqual(parseStatusXML(libvirtJob, "vm.xml").asyncJob, {
    kind: "migration in",
    wasRunning: false,
    phase: "prepare",
    flags: 0x900,
  });
});
