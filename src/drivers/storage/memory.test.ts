import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStorageDriver, TEST_POOL_CAPACITY } from "./memory.ts";
import {
  StoragePoolEventId,
  StoragePoolEventLifecycleType as Ev,
  type StoragePoolEvent,
} from "../storage-driver.ts";

const P1 = `<pool type='dir'><name>p1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
  <target><path>/p1</path></target></pool>`;
const vol = (name: string, size: string): string =>
  `<volume><name>${name}</name><capacity unit='bytes'>${size}</capacity></volume>`;

async function rejects(p: Promise<unknown>, code: string, msg: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code);
    assert.match(e.message, msg);
    return true;
  });
}

test("default-pool: running, persistent, 100 GiB, no volumes, libvirt's XML", async () => {
  const c = new MemoryStorageDriver().connection();
  const refs = await c.connectListAllStoragePools!(0);
  assert.deepEqual(refs, [{ name: "default-pool", uuid: "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566" }]);
  const info = await c.storagePoolGetInfo!(refs[0]!);
  assert.deepEqual(info, { state: 2, capacity: 107374182400, allocation: 0, available: 107374182400 });
  assert.equal(await c.storagePoolNumOfVolumes!(refs[0]!), 0);
  assert.match(await c.storagePoolGetXMLDesc!(refs[0]!, 0), /<source>\n {2}<\/source>\n {2}<target>/);
  await rejects(c.storagePoolGetXMLDesc!(refs[0]!, 1), "UNSUPPORTED_FLAGS", /testStoragePoolGetXMLDesc/);
});

test("pool lifecycle, clashes and the test driver's quirks", async () => {
  const d = new MemoryStorageDriver();
  const c = d.connection();
  const seen: StoragePoolEvent[] = [];
  await c.connectStoragePoolEventRegisterAny!(null, StoragePoolEventId.LIFECYCLE, (_r, e) => seen.push(e));
  const p = await c.storagePoolDefineXML!(P1, 0);
  await rejects(
    c.storagePoolDefineXML!(P1.replace("<name>p1", "<name>p2").replace("/p1", "/p2"), 0),
    "STORAGE_POOL_UUID_EXISTS",
    /pool 'p1' is already defined with uuid 11111111/,
  );
  await rejects(
    c.storagePoolDefineXML!(
      `<pool type='dir'><name>p3</name><target><path>/default-pool</path></target></pool>`,
      0,
    ),
    "STORAGE_POOL_SOURCE_CONFLICT",
    /Storage source conflict with pool: 'default-pool'/,
  );
  await rejects(c.storageVolCreateXML!(p, vol("a", "1"), 0), "STORAGE_POOL_NOT_ACTIVE", /'p1' is not active/);
  await c.storagePoolBuild!(p, 0);
  await c.storagePoolCreate!(p, 0);
  await rejects(c.storagePoolCreate!(p, 0), "STORAGE_POOL_IS_ACTIVE", /storage pool 'p1' is active/);
  await rejects(c.storagePoolCreateXML!(P1, 0), "STORAGE_POOL_ALREADY_ACTIVE", /already active as 'p1'/);
  const a = await c.storageVolCreateXML!(p, vol("a", "1048576"), 0);
  assert.deepEqual(a, { pool: "p1", name: "a", key: "/p1/a" });
  await rejects(c.storageVolCreateXML!(p, vol("a", "1"), 0), "STORAGE_VOL_EXISTS_TEST", /already exists/);
  await rejects(
    c.storageVolCreateXML!(p, vol("big", String(TEST_POOL_CAPACITY)), 0),
    "STORAGE_TEST_NO_SPACE",
    /volume 'big'/,
  );
  await c.storageVolCreateXMLFrom!(p, vol("b", "1048576"), a, 0);
  assert.equal((await c.storagePoolGetInfo!(p)).allocation, 2 * 1048576);
  assert.deepEqual(await c.storageVolLookupByPath!("/p1/b"), { pool: "p1", name: "b", key: "/p1/b" });
  assert.deepEqual(await c.storageVolGetInfo!(a), { type: 0, capacity: 1048576, allocation: 1048576 });
  await c.storagePoolDestroy!(p);
  await rejects(c.storageVolLookupByKey!("/p1/a"), "STORAGE_VOL_NOT_FOUND", /matching key '\/p1\/a'/);
  await c.storagePoolCreate!(p, 0);
  assert.equal((await c.storagePoolListAllVolumes!(p, 0)).length, 2, "destroy keeps the volumes");
  await c.storageVolDelete!(a, 0);
  await rejects(c.storageVolGetPath!(a), "STORAGE_VOL_NOT_FOUND", /matching name 'a'/);
  await c.storagePoolDestroy!(p);
  // Creating from XML over the defined pool makes it transient: destroy then removes it.
  await c.storagePoolCreateXML!(P1, 0);
  assert.equal(await c.storagePoolIsPersistent!(p), false);
  await rejects(c.storagePoolSetAutostart!(p, true), "STORAGE_POOL_NO_CONFIG", /pool has no config file/);
  await c.storagePoolDestroy!(p);
  await rejects(c.storagePoolLookupByName!("p1"), "STORAGE_POOL_NOT_FOUND", /matching name 'p1'/);
  d.events.flush();
  assert.deepEqual(
    seen.map((e) => e.event),
    [Ev.DEFINED, Ev.CREATED, Ev.STARTED, Ev.STOPPED, Ev.STARTED, Ev.STOPPED, Ev.STARTED, Ev.STOPPED],
  );
});

test("find-storage-pool-sources: canned logical and netfs answers, libvirt's refusals", async () => {
  const c = new MemoryStorageDriver().connection();
  assert.match(await c.connectFindStoragePoolSources!("logical", null, 0), /testvg1[\s\S]*testvg2/);
  assert.match(
    await c.connectFindStoragePoolSources!("netfs", "<source><host name='h1'/></source>", 0),
    /<host name='h1'\/>\n {4}<dir path='\/testshare'\/>/,
  );
  await rejects(c.connectFindStoragePoolSources!("netfs", null, 0), "STORAGE_SOURCES_NEED_HOST", /hostname/);
  await rejects(
    c.connectFindStoragePoolSources!("dir", null, 0),
    "STORAGE_TEST_UNKNOWN_POOL_TYPE",
    /type dir/,
  );
  await rejects(c.connectFindStoragePoolSources!("bogus", null, 0), "STORAGE_NO_DISCOVERY", /'bogus'/);
});
