import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultURI, isRemoteURI, parseURI, uriParam } from "./uri.ts";
import { VirtError } from "../util/errors/index.ts";

test("local URIs", () => {
  const t = parseURI("test:///default");
  assert.equal(t.driver, "test");
  assert.equal(t.path, "/default");
  assert.equal(t.server, undefined);
  assert.equal(isRemoteURI(t), false);

  assert.equal(parseURI("qemu:///system").path, "/system");
  assert.equal(parseURI("qemu:///session").path, "/session");

  const e = parseURI("qemu:///embed?root=/tmp/my%20root");
  assert.equal(e.path, "/embed");
  assert.equal(uriParam(e, "root"), "/tmp/my root");
  assert.equal(isRemoteURI(e), false);
});

test("transport and host make a URI remote", () => {
  const u = parseURI("qemu+unix:///system?socket=/run/x.sock");
  assert.equal(u.driver, "qemu");
  assert.equal(u.transport, "unix");
  assert.equal(uriParam(u, "socket"), "/run/x.sock");
  assert.equal(isRemoteURI(u), true);

  const s = parseURI("qemu+ssh://root@host.example:2222/system?keyfile=/k");
  assert.equal(s.user, "root");
  assert.equal(s.server, "host.example");
  assert.equal(s.port, 2222);
  assert.equal(s.path, "/system");
  assert.equal(isRemoteURI(s), true);

  const v6 = parseURI("qemu+tcp://[::1]:16509/system");
  assert.equal(v6.server, "::1");
  assert.equal(v6.port, 16509);
});

test("a URI without a scheme names no driver, with libvirt's message", () => {
  assert.throws(
    () => parseURI("bogus"),
    (e: unknown) =>
      e instanceof VirtError &&
      e.code === "API_URI_NO_DRIVER" &&
      e.message === "no connection driver available for URI 'bogus' does not include a driver name",
  );
  assert.throws(
    () => parseURI("qemu+bogus:///system"),
    (e: unknown) => e instanceof VirtError && e.code === "API_URI_INVALID",
  );
});

test("LIBVIRT_DEFAULT_URI is the default", () => {
  assert.equal(defaultURI({ LIBVIRT_DEFAULT_URI: "test:///default" }), "test:///default");
  const fallback = defaultURI({});
  assert.ok(fallback === "qemu:///system" || fallback === "qemu:///session");
});
