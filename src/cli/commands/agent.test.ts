/**
 * tvirsh's guest agent commands (agent.ts) on `test:///default`, byte for byte against the real
 * virsh 9.0 (when virsh is installed; under `CI=true` it must be): libvirt's test driver answers
 * fsfreeze/fsthaw (with its frozen state), fsinfo and set-user-password, and refuses the rest;
 * virsh's own option checks come first. Also the `--json` documents against `schemas.ts` and
 * `--pretty`'s JSON layout. The real agent is checked in src/rpc/agent-interop.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";
import { parseOrderedJson, yajlPretty } from "./agent.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

const domain = (name: string, devices: string): string =>
  `<domain type='test'><name>${name}</name><memory>8192</memory><os><type>hvm</type></os>` +
  `<devices>${devices}</devices></domain>`;

const FIXTURES: Record<string, string> = {
  // fsinfo reports the first hard disk's target, whatever its bus
  "two.xml": domain(
    "two",
    "<disk type='file' device='disk'><source file='/x.img'/><target dev='sdb' bus='scsi'/></disk>" +
      "<disk type='file' device='disk'><source file='/y.img'/><target dev='hdc' bus='ide'/></disk>",
  ),
  "none.xml": domain("none", ""),
  // a CD-ROM before the disk is passed over; floppies and LUNs are no hard disks
  "cd.xml": domain(
    "cd",
    "<disk type='file' device='cdrom'><target dev='hdb' bus='ide'/></disk>" +
      "<disk type='file' device='disk'><source file='/y.img'/><target dev='vdc' bus='virtio'/></disk>",
  ),
  "lun.xml": domain(
    "lun",
    "<disk type='file' device='floppy'><target dev='fda' bus='fdc'/></disk>" +
      "<disk type='block' device='lun'><source dev='/dev/sdz'/><target dev='sdq' bus='scsi'/></disk>",
  ),
};

/** Each line is one virsh command string; DIR is the fixtures' directory. */
const lines = [
  "domfsfreeze test",
  "domfsfreeze test ; domfsfreeze test ; domfsthaw test ; domfsthaw test",
  "domfsfreeze test --mountpoint / ; domfsfreeze test ; domfsthaw test --mountpoint /boot ; domfsthaw test",
  "domfsfreeze test --mountpoint / --mountpoint / ; domfsthaw test --mountpoint /boot --mountpoint /",
  // a mount point it does not know fails the whole call: nothing is frozen
  "domfsfreeze test --mountpoint / --mountpoint /foo ; domfsthaw test",
  "domfsfreeze test /boot/",
  "domfsthaw test --mountpoint ''",
  // the frozen state outlives a restart, as libvirt keeps it on the domain object
  "domfsfreeze test /boot ; destroy test ; domfsfreeze test ; start test ; domfsthaw test",
  "domfsfreeze nosuch",
  "domfsfreeze",
  "domfsinfo test",
  "domfsinfo --domain 1",
  "-q domfsinfo test",
  "create DIR/two.xml ; create DIR/none.xml ; domfsinfo two ; domfsinfo none ; domfsfreeze none",
  "create DIR/cd.xml ; create DIR/lun.xml ; domfsinfo cd ; domfsinfo lun",
  "-q create DIR/none.xml ; domfsinfo none",
  "suspend test ; domfsinfo test ; domfsfreeze test",
  "destroy test ; domfsinfo test ; domfsthaw test ; set-user-password test root pw",
  "domfsinfo test --bogus",
  "set-user-password test root pw",
  "set-user-password test root pw --encrypted",
  "set-user-password --domain test --user bob --password y",
  "-q set-user-password test root pw",
  "set-user-password test a",
  "set-user-password test '' x",
  "set-user-password test root ''",
  "set-user-password nosuch a b",
  "guestinfo test",
  "guestinfo test --os --user --disk",
  "guestinfo nosuch",
  "guestvcpus test",
  "guestvcpus test --cpulist 1 --enable",
  "guestvcpus nosuch --cpulist 0",
  "guestvcpus nosuch --enable",
  "guestvcpus nosuch --disable",
  "guestvcpus nosuch --cpulist '' --enable",
  "guestvcpus test --enable --disable --cpulist 0",
  'qemu-agent-command test \'{"execute":"guest-ping"}\'',
  "qemu-agent-command test --timeout x y",
  "qemu-agent-command test --timeout 0 y",
  "qemu-agent-command test --timeout -2 y",
  "qemu-agent-command test --timeout 0 --async y",
  "qemu-agent-command test --async --block y",
  "qemu-agent-command test --timeout 5 --block y",
  "qemu-agent-command test --timeout 99999999999 y",
  "qemu-agent-command test --pretty --timeout 1 y",
  "qemu-agent-command test",
  "qemu-agent-command nosuch --timeout 0 x",
  "guest-agent-timeout test",
  "guest-agent-timeout test --timeout 5",
  "guest-agent-timeout test --timeout x",
  "help qemu-agent-command",
  "help guest-agent-timeout",
  "help domfsfreeze",
  "help domfsthaw",
  "help domfsinfo",
  "help guestinfo",
  "help set-user-password",
  "help guestvcpus",
];

const NAMES =
  /^ {4}(qemu-agent-command|guest-agent-timeout|domfsfreeze|domfsthaw|domfsinfo|guestinfo|set-user-password|guestvcpus) /;

test("guest agent commands print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-agent-cli-"));
  try {
    for (const [f, xml] of Object.entries(FIXTURES)) writeFileSync(join(dir, f), xml);
    for (const raw of lines) {
      const line = raw.replaceAll("DIR", dir);
      const args = line.startsWith("-q ") ? ["-q", line.slice(3)] : [line];
      const v = await runArgv(["virsh", "-c", "test:///default", ...args], { env });
      const ours = await tvirsh(...args);
      assert.equal(ours.out, v.stdout, `stdout of: ${raw}`);
      assert.equal(ours.err, v.stderr, `stderr of: ${raw}`);
      assert.equal(ours.status, v.code, `status of: ${raw}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // the commands are listed in virsh's domain group, with the same one-line help
  const v = await runArgv(["virsh", "help", "domain"], { env });
  const ours = await tvirsh("help", "domain");
  const pick = (s: string): string[] =>
    s
      .split("\n")
      .filter((l) => NAMES.test(l))
      .sort();
  assert.equal(pick(v.stdout).length, 8);
  assert.deepEqual(pick(ours.out), pick(v.stdout));
});

test("--json: guest agent documents match their schemas", async () => {
  const check = async (name: string, ...args: string[]): Promise<Record<string, unknown>> => {
    const r = await tvirsh(name, ...args, "--json");
    assert.equal(r.status, 0, r.err || r.out);
    const doc = JSON.parse(r.out) as Record<string, unknown>;
    assert.deepEqual(validate(doc, commandSchemas[name]!), [], `${name}: ${r.out}`);
    return doc;
  };
  const info = await check("domfsinfo", "test");
  assert.deepEqual(info.filesystems, [
    { mountpoint: "/", name: "vda1", fstype: "ext4", targets: ["vda"] },
    { mountpoint: "/boot", name: "vda2", fstype: "ext4", targets: ["vda"] },
  ]);
  const frozen = await check("domfsfreeze", "test", "/boot");
  assert.equal(frozen.frozen, 1);
  assert.deepEqual(frozen.mountpoints, ["/boot"]);
  const thawed = await check("domfsthaw", "test");
  assert.equal(thawed.thawed, 0); // a new connection: a new test driver, nothing frozen
  const pw = await check("set-user-password", "test", "root", "x", "--encrypted");
  assert.equal(pw.encrypted, true);

  // a refusal is one error document, status 1
  const r = await tvirsh("guestinfo", "test", "--json");
  assert.equal(r.status, 1);
  const err = JSON.parse(r.out) as { error: { message: string } };
  assert.match(err.error.message, /not supported by the connection driver: virDomainGetGuestInfo/);

  // the event document of agent-lifecycle
  const ev = {
    events: [
      {
        event: "agent-lifecycle",
        eventId: 18,
        domain: { name: "ga", uuid: "u", id: 1 },
        agent: { state: "connected", reason: "channel event" },
      },
    ],
    count: 1,
    ended: "done",
  };
  assert.deepEqual(validate(ev, commandSchemas.event!), []);
  const vc = {
    domain: { name: "ga", uuid: "u", id: 1 },
    vcpus: { vcpus: "0-1", online: "0-1", offlinable: "1" },
  };
  assert.deepEqual(validate(vc, commandSchemas.guestvcpus!), []);
  const gi = {
    domain: { name: "ga", uuid: "u", id: 1 },
    info: { "user.count": 0, "os.id": "x", "disk.0.partition": false },
  };
  assert.deepEqual(validate(gi, commandSchemas.guestinfo!), []);
});

test("--pretty lays JSON out as libvirt's yajl does, keeping member order and numbers", () => {
  const v = parseOrderedJson(
    '{"return":{"b":1.50,"a":[],"2":{},"s":"a\\"b\\\\c/\\u0001é","l":[true,null,-3e2]}}',
  );
  assert.ok(v);
  assert.equal(
    yajlPretty(v),
    [
      "{",
      '  "return": {',
      '    "b": 1.50,',
      '    "a": [',
      "",
      "    ],",
      '    "2": {',
      "",
      "    },",
      '    "s": "a\\"b\\\\c/\\u0001é",',
      '    "l": [',
      "      true,",
      "      null,",
      "      -3e2",
      "    ]",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  assert.equal(parseOrderedJson("not json"), undefined);
  assert.equal(parseOrderedJson('{"a":1} x'), undefined);
  assert.equal(parseOrderedJson('{"a":}'), undefined);
  assert.equal(parseOrderedJson('"raw\u0001control"'), undefined); // a raw control character
});
