/**
 * libvirt's test driver (`test:///default`): an in-memory hypervisor with libvirt's default
 * objects, for scripts and tests that need no QEMU. Served for the URI scheme `test`.
 */
import { type ConnectDriver, type ConnectURI, type HypervisorDriver } from "../driver.ts";
import { VirtError } from "../../util/errors/index.ts";
import { TestConnection } from "./driver.ts";
import { acquireDefault } from "./state.ts";

export { TestConnection, virGetHostname } from "./driver.ts";
export { defaultDomainXML } from "./state.ts";

export const testConnectDriver: ConnectDriver = {
  name: "Test",
  uriSchemes: ["test"],
  localOnly: true,
  open(uri: ConnectURI): Promise<HypervisorDriver> {
    if (uri.path === "" || uri.path === "/") throw new VirtError("TEST_OPEN_PATH");
    if (uri.path !== "/default") throw new VirtError("TEST_OPEN_FILE_UNSUPPORTED", { path: uri.path });
    return Promise.resolve(new TestConnection(acquireDefault(), "test:///default"));
  },
};
