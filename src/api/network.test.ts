import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, existsSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connect,
  ConnectListNetworksFlags as L,
  NetworkEventId,
  NetworkEventLifecycleType,
  NetworkXMLFlags,
  isVirtError,
} from "./index.ts";

const code = (e: unknown): string => (isVirtError(e) ? e.code : String(e));

test("test:///default has libvirt's test-driver default network", async () => {
  const c = await connect("test:///default");
  try {
    const nets = await c.listAllNetworks();
    assert.deepEqual(
      nets.map((n) => n.toJSON()),
      [{ name: "default", uuid: "dd8fe884-6c02-601e-7551-cca97df1c5df" }],
    );
    const n = await c.networkLookupByUUID("dd8fe8846c02601e7551cca97df1c5df");
    assert.equal(n.name, "default");
    assert.deepEqual(
      [await n.isActive(), await n.isPersistent(), await n.getAutostart(), await n.getBridgeName()],
      [true, true, false, "virbr0"],
    );
    // What `virsh -c test:///default net-dumpxml default` prints.
    assert.equal(
      await n.getXMLDesc(),
      `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`,
    );
    await assert.rejects(c.networkLookupByName("nope"), (e) => {
      assert.equal((e as Error).message, "Network not found: no network with matching name 'nope'");
      return true;
    });
    // Define, start, list filters, transient create, destroy.
    const t1 = await c.networkDefineXML("<network><name>t1</name><bridge name='tvbr1'/></network>");
    assert.deepEqual(
      (await c.listAllNetworks(L.INACTIVE)).map((n) => n.name),
      ["t1"],
    );
    await t1.create();
    // libvirt's test driver wording.
    await assert.rejects(t1.create(), (e) =>
      (e as Error).message.endsWith("Network 't1' is already running"),
    );
    await t1.destroy();
    await t1.undefine();
    const tr = await c.networkCreateXML("<network><name>tr</name></network>");
    assert.deepEqual(
      (await c.listAllNetworks(L.TRANSIENT)).map((n) => n.name),
      ["tr"],
    );
    await assert.rejects(tr.undefine(), (e) =>
      (e as Error).message.endsWith("Network 'tr' is still running"),
    );
    await tr.destroy();
    assert.deepEqual(
      (await c.listAllNetworks()).map((n) => n.name),
      ["default"],
    );
  } finally {
    await c.close();
  }
});

test("a read-only connection may look but not change networks", async () => {
  const c = await connect("test:///default", { readonly: true });
  try {
    const n = await c.networkLookupByName("default");
    await assert.rejects(n.destroy(), (e) => code(e) === "API_READ_ONLY");
    await assert.rejects(
      c.networkDefineXML("<network><name>x</name></network>"),
      (e) => code(e) === "API_READ_ONLY",
    );
  } finally {
    await c.close();
  }
});

test("qemu:///embed keeps network definitions under its root (define, autostart, undefine)", async () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-netapi-"));
  try {
    const c = await connect(`qemu:///embed?root=${root}`);
    const n = await c.networkDefineXML(
      "<network><name>n1</name><forward/><ip address='10.55.0.1' prefix='24'/></network>",
    );
    const file = join(root, "etc", "qemu", "networks", "n1.xml");
    const saved = readFileSync(file, "utf8");
    // The driver fills the bridge name and MAC when defining, as libvirt does.
    assert.match(saved, /<bridge name='virbr0' stp='on' delay='0'\/>/);
    assert.match(saved, /<mac address='52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}'\/>/);
    assert.equal(await n.getXMLDesc(NetworkXMLFlags.INACTIVE), saved);
    assert.equal(await n.isActive(), false);
    await n.setAutostart(true);
    const link = join(root, "etc", "qemu", "networks", "autostart", "n1.xml");
    assert.equal(readlinkSync(link), file);
    // A second network gets the next free bridge; a clash on name with another UUID is refused.
    const n2 = await c.networkDefineXML(
      "<network><name>n2</name><ip address='10.56.0.1' prefix='24'/></network>",
    );
    assert.equal(await n2.getBridgeName(), "virbr1");
    await assert.rejects(
      c.networkDefineXML(
        "<network><name>n1</name><uuid>11111111-2222-3333-4444-555555555555</uuid></network>",
      ),
      (e) => code(e) === "NETWORK_EXISTS",
    );
    await assert.rejects(
      c.networkDefineXML("<network><name>n3</name><bridge name='virbr1'/></network>"),
      (e) => code(e) === "NETWORK_BRIDGE_IN_USE",
    );
    await n.undefine();
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(link), false);
    await assert.rejects(n.isActive(), (e) => code(e) === "NETWORK_NOT_FOUND");
    await c.close();
    // A new connection on the same root sees the remaining definition.
    const c2 = await connect(`qemu:///embed?root=${root}`);
    assert.deepEqual(
      (await c2.listAllNetworks()).map((x) => x.name),
      ["n2"],
    );
    await c2.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("network lifecycle events arrive after the call, in order, until deregistered", async () => {
  const c = await connect("test:///default");
  try {
    const seen: string[] = [];
    const all = await c.networkEventRegisterAny(null, NetworkEventId.LIFECYCLE, (n, e) => {
      seen.push(`${n.name}:${e.event}`);
    });
    const def = await c.networkLookupByName("default");
    const only: string[] = [];
    const one = await c.networkEventRegisterAny(def, NetworkEventId.LIFECYCLE, (n, e) => {
      only.push(`${n.name}:${e.event}`);
    });
    const t1 = await c.networkDefineXML("<network><name>ev1</name></network>");
    assert.deepEqual(seen, [], "delivered on a later turn, not inside the call");
    await t1.create();
    await t1.destroy();
    await t1.undefine();
    await def.destroy();
    await new Promise((r) => setImmediate(r));
    const E = NetworkEventLifecycleType;
    assert.deepEqual(seen, [
      `ev1:${E.DEFINED}`,
      `ev1:${E.STARTED}`,
      `ev1:${E.STOPPED}`,
      `ev1:${E.UNDEFINED}`,
      `default:${E.STOPPED}`,
    ]);
    assert.deepEqual(only, [`default:${E.STOPPED}`]);
    await c.networkEventDeregisterAny(all);
    await c.networkEventDeregisterAny(one);
    await def.create();
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 5);
    await assert.rejects(c.networkEventDeregisterAny(all), (e) => code(e) === "API_INVALID_ARG");
    await assert.rejects(
      c.networkEventRegisterAny(null, 7, () => undefined),
      (e) => code(e) === "API_INVALID_ARG",
    );
  } finally {
    await c.close();
  }
});
