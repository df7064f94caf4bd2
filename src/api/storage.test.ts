import { test } from "node:test";
import assert from "node:assert/strict";
import {
  connect,
  ConnectListStoragePoolsFlags as L,
  StoragePoolEventId,
  StoragePoolEventLifecycleType as Ev,
  isVirtError,
} from "./index.ts";

const code = (e: unknown): string => (isVirtError(e) ? e.code : String(e));
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const POOL = `<pool type='dir'>
  <name>apipool</name>
  <uuid>0f0e0d0c-0b0a-0908-0706-050403020100</uuid>
  <target><path>/apipool</path></target>
</pool>`;

test("test:///default has the test driver's default-pool", async () => {
  const c = await connect("test:///default");
  try {
    const pools = await c.listAllStoragePools();
    assert.deepEqual(
      pools.map((p) => p.toJSON()),
      [{ name: "default-pool", uuid: "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566" }],
    );
    const p = await c.storagePoolLookupByUUID("DFE224CB28FB8DD0C4B264EB3F0F4566");
    assert.equal(p.name, "default-pool");
    assert.deepEqual(
      [await p.isActive(), await p.isPersistent(), await p.getAutostart(), await p.numOfVolumes()],
      [true, true, false, 0],
    );
    // What `virsh -c test:///default pool-dumpxml default-pool` prints.
    assert.equal(
      await p.getXMLDesc(),
      `<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>107374182400</available>
  <source>
  </source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
`,
    );
    await assert.rejects(c.storagePoolLookupByName("nope"), (e) => {
      assert.equal(message(e), "Storage pool not found: no storage pool with matching name 'nope'");
      return true;
    });
    await assert.rejects(c.storagePoolLookupByUUID("not-a-uuid"), (e) => code(e) === "API_INVALID_UUID");
    // Entries the test driver lacks are libvirt's "not supported".
    await assert.rejects(c.getStoragePoolCapabilities(), (e) => {
      assert.equal(
        message(e),
        "this function is not supported by the connection driver: virConnectGetStoragePoolCapabilities",
      );
      return true;
    });
  } finally {
    await c.close();
  }
});

test("pools and volumes through the API: define, start, volumes, events, filters", async () => {
  const c = await connect("test:///default");
  try {
    const events: [string, number, number][] = [];
    const cb1 = await c.storagePoolEventRegisterAny(null, StoragePoolEventId.LIFECYCLE, (p, e) => {
      events.push([p.name, e.id, e.event]);
    });
    const cb2 = await c.storagePoolEventRegisterAny(null, StoragePoolEventId.REFRESH, (p, e) => {
      events.push([p.name, e.id, e.event]);
    });
    const p = await c.storagePoolDefineXML(POOL);
    assert.deepEqual(
      (await c.listAllStoragePools(L.INACTIVE)).map((x) => x.name),
      ["apipool"],
    );
    assert.deepEqual(
      (await c.listAllStoragePools(L.ACTIVE | L.DIR)).map((x) => x.name),
      ["default-pool"],
    );
    assert.equal(await c.numOfDefinedStoragePools(), 1);
    await p.create();
    await p.refresh();
    await p.setAutostart(true);
    assert.deepEqual(
      (await c.listAllStoragePools(L.AUTOSTART)).map((x) => x.name),
      ["apipool"],
    );
    const v = await p.storageVolCreateXML(
      "<volume><name>v1</name><capacity unit='MiB'>10</capacity></volume>",
    );
    assert.deepEqual(v.toJSON(), { pool: "apipool", name: "v1", key: "/apipool/v1" });
    assert.equal(await v.getPath(), "/apipool/v1");
    assert.deepEqual(await v.getInfo(), { type: 0, capacity: 10485760, allocation: 10485760 });
    const clone = await p.storageVolCreateXMLFrom(
      "<volume><name>v2</name><capacity unit='MiB'>10</capacity></volume>",
      v,
    );
    assert.equal((await c.storageVolLookupByKey("/apipool/v2")).name, "v2");
    assert.equal((await c.storageVolLookupByPath("/apipool/v1")).name, "v1");
    assert.equal((await v.lookupPool()).uuid, p.uuid);
    assert.deepEqual(
      (await p.listAllVolumes()).map((x) => x.name),
      ["v1", "v2"],
    );
    assert.equal((await p.getInfo()).allocation, 2 * 10485760);
    await assert.rejects(v.wipe(), (e) =>
      message(e).endsWith("not supported by the connection driver: virStorageVolWipe"),
    );
    await assert.rejects(v.resize(1n << 30n), (e) => code(e) === "API_NO_SUPPORT");
    await clone.delete();
    await v.delete();
    assert.equal(await p.numOfVolumes(), 0);
    await p.destroy();
    await p.build();
    await p.delete();
    await p.undefine();
    await assert.rejects(c.storagePoolLookupByName("apipool"), (e) => code(e) === "STORAGE_POOL_NOT_FOUND");
    // Events are delivered on a later turn of the event loop.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events, [
      ["apipool", 0, Ev.DEFINED],
      ["apipool", 0, Ev.STARTED],
      ["apipool", 1, 0],
      ["apipool", 0, Ev.STOPPED],
      ["apipool", 0, Ev.CREATED],
      ["apipool", 0, Ev.DELETED],
      ["apipool", 0, Ev.UNDEFINED],
    ]);
    await c.storagePoolEventDeregisterAny(cb1);
    await c.storagePoolEventDeregisterAny(cb2);
    await assert.rejects(c.storagePoolEventDeregisterAny(cb2), (e) => code(e) === "API_INVALID_ARG");
  } finally {
    await c.close();
  }
});

test("read-only connections are refused every change, as libvirt's libvirt-storage.c", async () => {
  const c = await connect("test:///default", { readonly: true });
  try {
    const p = await c.storagePoolLookupByName("default-pool");
    assert.equal((await p.getInfo()).capacity, 107374182400);
    for (const [api, call] of [
      ["virStoragePoolDefineXML", () => c.storagePoolDefineXML(POOL)],
      ["virStoragePoolCreateXML", () => c.storagePoolCreateXML(POOL)],
      ["virConnectFindStoragePoolSources", () => c.findStoragePoolSources("logical")],
      ["virStoragePoolRefresh", () => p.refresh()],
      ["virStoragePoolDestroy", () => p.destroy()],
      ["virStoragePoolSetAutostart", () => p.setAutostart(true)],
      ["virStorageVolCreateXML", () => p.storageVolCreateXML("<volume/>")],
    ] as const) {
      await assert.rejects(call(), (e) => {
        assert.equal(message(e), `operation forbidden: read only access prevents ${api}`);
        return true;
      });
    }
  } finally {
    await c.close();
  }
});

test("the pools are shared by the connections of the process and reset when all close", async () => {
  const a = await connect("test:///default");
  const b = await connect("test:///default");
  await (
    await a.storagePoolCreateXML(POOL.replace("apipool", "shared").replace("/apipool", "/shared"))
  ).refresh();
  assert.equal((await b.storagePoolLookupByName("shared")).name, "shared");
  await a.close();
  await b.close();
  const c = await connect("test:///default");
  try {
    await assert.rejects(c.storagePoolLookupByName("shared"), (e) => code(e) === "STORAGE_POOL_NOT_FOUND");
  } finally {
    await c.close();
  }
});
