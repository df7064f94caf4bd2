import { test } from "node:test";
import assert from "node:assert/strict";
import { assignAliases, formatDomainXML, parseDomainXML } from "../../../conf/domain/index.ts";
import { domainWithDevices, fakeCapsX86 } from "../../../testing/qemu/capabilities.ts";
import { Build } from "./build.ts";
import { hostCommandContext } from "./context.ts";
import { buildInterfaces } from "./net.ts";
import type { CommandContext } from "./types.ts";

const caps = fakeCapsX86(["virtio-net-pci"]);

const domain = domainWithDevices;

function args(devices: string, ctx: Partial<CommandContext> = {}): string[] {
  const { def } = parseDomainXML(domain(devices));
  assignAliases(def);
  const b = new Build(def, {
    ...hostCommandContext(caps, "n", { kind: "embed", root: "/tmp/tvirt-net-virtio-test" }),
    ...ctx,
  });
  buildInterfaces(b, () => undefined);
  return b.args;
}

test("interface XML: <driver> and a vhost path are kept for virtio NICs only, one queue is no queue count", () => {
  const { def } = parseDomainXML(
    domain(
      "    <interface type='user'>\n      <model type='E1000'/>\n      <driver name='vhost' queues='4'/>\n      <backend tap='/dev/null' vhost='/dev/zero'/>\n    </interface>\n" +
        "    <interface type='user'>\n      <model type='virtio'/>\n      <driver name='vhost' queues='1'/>\n      <backend tap='/dev/null' vhost='/dev/zero'/>\n      <coalesce>\n        <rx>\n          <frames max='0'/>\n        </rx>\n      </coalesce>\n    </interface>\n",
    ),
  );
  const xml = formatDomainXML(def);
  assert.match(xml, /<model type='e1000'\/>\n\s+<backend tap='\/dev\/null'\/>\n/);
  assert.match(
    xml,
    /<model type='virtio'\/>\n\s+<driver name='vhost'\/>\n\s+<backend tap='\/dev\/null' vhost='\/dev\/zero'\/>\n/,
  );
  assert.doesNotMatch(xml, /coalesce/);
});

test("virtio-net argv: offload switches and the persistent half of a failover pair", () => {
  const a = args(
    "    <interface type='user'>\n      <mac address='52:54:00:00:00:01'/>\n      <model type='virtio'/>\n      <driver>\n        <host csum='off' tso4='off'/>\n        <guest ufo='on'/>\n      </driver>\n      <teaming type='persistent'/>\n      <alias name='ua-backup0'/>\n    </interface>\n",
  );
  const device = JSON.parse(a[a.indexOf("-device") + 1]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(device).slice(0, 6), [
    "driver",
    "csum",
    "host_tso4",
    "guest_ufo",
    "failover",
    "netdev",
  ]);
  assert.equal(device.csum, false);
  assert.equal(device.guest_ufo, true);
  assert.equal(device.failover, true);
});

test("vDPA argv: the device goes to QEMU in an fd set, with its queue count", () => {
  const a = args(
    "    <interface type='vdpa'>\n      <mac address='52:54:00:00:00:01'/>\n      <source dev='/dev/vhost-vdpa-0'/>\n      <model type='virtio'/>\n      <driver queues='2'/>\n    </interface>\n",
    { vdpaNetFd: () => 42 },
  );
  assert.deepEqual(a.slice(0, 4), [
    "-add-fd",
    "set=0,fd=42,opaque=net0-vdpa",
    "-netdev",
    '{"type":"vhost-vdpa","vhostdev":"/dev/fdset/0","queues":2,"id":"hostnet0"}',
  ]);
});
