import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { test } from "node:test";
import type { QemuCaps } from "../capabilities/types.ts";
import { domainPaths, driverPaths } from "../paths.ts";
import { hostCommandContext } from "./context.ts";

// The context passes the capabilities through untouched; any object stands for them here.
const caps = { probe: "caps" } as unknown as QemuCaps;

test("hostCommandContext: a system domain that is not running", () => {
  const ctx = hostCommandContext(caps, "vm1", { kind: "system" });
  assert.equal(ctx.caps, caps);
  assert.equal(ctx.domainId, -1);
  assert.deepEqual(ctx.paths, domainPaths(driverPaths({ kind: "system" }), -1, "vm1"));
  assert.deepEqual(ctx.monitor, { path: `${ctx.paths.domainDir}/monitor.sock` });
  assert.equal(ctx.privileged, true);
  const env = new Map(ctx.baseEnv);
  assert.equal(env.get("LC_ALL"), "C");
  assert.equal(env.get("USER"), userInfo().username);
  assert.equal(env.get("LOGNAME"), userInfo().username);
  assert.equal(env.has("HOME"), false, "a privileged QEMU gets no HOME");
});

test("hostCommandContext: a session domain gets HOME and is unprivileged", () => {
  const ctx = hostCommandContext(caps, "vm2", { kind: "session" });
  assert.equal(ctx.privileged, false);
  assert.equal(new Map(ctx.baseEnv).get("HOME"), process.env.HOME ?? "/");
  assert.ok(ctx.paths.domainDir.endsWith("domain--1-vm2"), ctx.paths.domainDir);
});

test("hostCommandContext: an embedded driver is privileged only when run by root", () => {
  const ctx = hostCommandContext(caps, "vm3", { kind: "embed", root: "/tmp/tvirt-embed" });
  assert.equal(ctx.privileged, process.getuid?.() === 0);
  assert.ok(ctx.paths.domainDir.startsWith("/tmp/tvirt-embed/"), ctx.paths.domainDir);
});
