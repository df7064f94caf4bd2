import assert from "node:assert/strict";
import { test } from "node:test";
import { parseURI } from "../api/index.ts";
import { findDriver } from "../api/registry.ts";
import type { ConnectDriver, ConnectURI, HypervisorDriver } from "../drivers/driver.ts";
import { isVirtError } from "../util/errors/index.ts";
import { createQemuClientConnectDriver, daemonBackedDrivers } from "./client.ts";
import { qemuClientConnectDriver, remoteConnectDriver } from "./register.ts";
import { openLocal } from "./server.ts";

void test("register.ts: the qemu scheme goes to the client driver, which answers through the daemon", () => {
  for (const uri of ["qemu:///system", "qemu:///session", "qemu:///embed?root=/tmp/x"])
    assert.equal(findDriver(parseURI(uri)), qemuClientConnectDriver, uri);
  assert.equal(findDriver(parseURI("qemu+ssh://host/system")), remoteConnectDriver);
  assert.ok(daemonBackedDrivers.has(qemuClientConnectDriver));
  assert.ok(daemonBackedDrivers.has(remoteConnectDriver));
});

void test("a daemon refuses to open a URI the client driver would send back to a daemon", async () => {
  await assert.rejects(openLocal("qemu:///system", false), (e: unknown) => {
    assert.ok(isVirtError(e), String(e));
    assert.equal(e.code, "API_NO_CONNECT");
    return true;
  });
});

void test("createQemuClientConnectDriver: URIs other than system and session go to the local driver", async () => {
  const opened: [string, number][] = [];
  const conn = {} as HypervisorDriver;
  const local: ConnectDriver = {
    name: "local",
    uriSchemes: ["qemu"],
    localOnly: true,
    open(uri: ConnectURI, flags: number): Promise<HypervisorDriver> {
      opened.push([uri.text, flags]);
      return Promise.resolve(conn);
    },
  };
  const driver = createQemuClientConnectDriver(local);
  assert.equal(await driver.open(parseURI("qemu:///embed?root=/tmp/x"), 1), conn);
  assert.equal(await driver.open(parseURI("qemu:///nosuch"), 0), conn);
  assert.deepEqual(opened, [
    ["qemu:///embed?root=/tmp/x", 1],
    ["qemu:///nosuch", 0],
  ]);
  assert.ok(daemonBackedDrivers.has(driver));
  assert.ok(!daemonBackedDrivers.has(local));
});
