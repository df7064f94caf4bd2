import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "../util/errors/index.ts";
import { applyConf, defaultConfig, parseConf } from "./config.ts";
import { daemonRunAs } from "./drivers.ts";

const conf = (text: string) => applyConf(defaultConfig(), parseConf(text, "tvirtd.conf"), "tvirtd.conf");

test("qemu.conf's user, group and dynamic_ownership: defaults and values", () => {
  const d = defaultConfig();
  assert.deepEqual([d.qemuUser, d.qemuGroup, d.dynamicOwnership], [undefined, undefined, true]);
  const c = conf('user = "qemu"\ngroup = "+64055"\ndynamic_ownership = 0\n');
  assert.deepEqual([c.qemuUser, c.qemuGroup, c.dynamicOwnership], ["qemu", "+64055", false]);
  assert.deepEqual(c.ignored, []);
  for (const [text, reason] of [
    ['user = "a b"', 'expected a user name or "+N" for a numeric id'],
    ["user = 5", "expected a string"],
    ["dynamic_ownership = -1", "expected an integer >= 0"],
  ] as const) {
    assert.throws(
      () => conf(text),
      (e: unknown) => isVirtError(e) && e.code === "DAEMON_CONFIG_VALUE" && e.message.includes(reason),
      text,
    );
  }
});

test("whom QEMU runs as per instance: tvirt-qemu for system (also with state_root), root on request, the caller for session", () => {
  const none = { qemuUser: undefined, qemuGroup: undefined };
  assert.deepEqual(daemonRunAs("system", none), { runAs: { user: "tvirt-qemu" } });
  assert.deepEqual(daemonRunAs("system", { qemuUser: "qemu", qemuGroup: "kvm" }), {
    runAs: { user: "qemu", group: "kvm" },
  });
  assert.deepEqual(daemonRunAs("system", { qemuUser: "root", qemuGroup: undefined }), { runAs: null });
  assert.deepEqual(daemonRunAs("system", { qemuUser: "+0", qemuGroup: undefined }), { runAs: null });
  assert.deepEqual(daemonRunAs("session", { qemuUser: "qemu", qemuGroup: undefined }), { runAs: null });
});

test("qemu.conf's hugetlbfs_mount: one path or a list, absolute only", () => {
  assert.equal(defaultConfig().hugetlbfsMounts, undefined);
  assert.deepEqual(conf('hugetlbfs_mount = "/dev/hugepages"\n').hugetlbfsMounts, ["/dev/hugepages"]);
  const c = conf('hugetlbfs_mount = ["/dev/hugepages2M", "/dev/hugepages1G"]\n');
  assert.deepEqual(c.hugetlbfsMounts, ["/dev/hugepages2M", "/dev/hugepages1G"]);
  assert.deepEqual(c.ignored, []);
  for (const text of [
    'hugetlbfs_mount = "hugepages"',
    'hugetlbfs_mount = ["/dev/hp", "rel"]',
    "hugetlbfs_mount = 2",
  ])
    assert.throws(
      () => conf(text),
      (e: unknown) =>
        isVirtError(e) && e.code === "DAEMON_CONFIG_VALUE" && e.message.includes("hugetlbfs_mount"),
      text,
    );
});
