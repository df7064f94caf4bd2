import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  detectMachineCgroup,
  escapeCgroupComponent,
  hostCgroupLayout,
  machineGroupPath,
  machineName,
  MachineCgroup,
  MEMORY_UNLIMITED_KIB,
  parseCgroupMounts,
  partitionPath,
  systemdScopeName,
  type CgroupLayout,
} from "./cgroup.ts";
import { VirtError } from "../util/errors/index.ts";

test("names follow libvirt: machine name, partition suffix and escape, systemd scope", () => {
  assert.equal(machineName(1, "vm"), "qemu-1-vm");
  assert.equal(machineName(7, "my guest/é.x"), "qemu-7-myguest.x");
  assert.equal(machineName(3, "a--b"), "qemu-3-a-b");
  assert.ok(machineName(1, "x".repeat(100)).length <= 64);
  assert.equal(partitionPath("/machine"), "machine");
  assert.equal(partitionPath("/tvirt-test"), "tvirt-test.partition");
  assert.equal(partitionPath("/machine/prod"), "machine/prod.partition");
  assert.equal(partitionPath("/cpu.x"), "_cpu.x");
  assert.equal(escapeCgroupComponent("_a"), "__a");
  assert.equal(escapeCgroupComponent("cgroup.x"), "_cgroup.x");
  assert.equal(machineGroupPath("/machine", "qemu-1-vm"), "machine/qemu-1-vm.libvirt-qemu");
  assert.equal(systemdScopeName("qemu-1-vm"), "machine-qemu\\x2d1\\x2dvm.scope");
  assert.equal(
    machineGroupPath("/machine", "qemu-1-vm", "systemd"),
    "machine.slice/machine-qemu\\x2d1\\x2dvm.scope",
  );
  assert.throws(
    () => partitionPath("machine"),
    (e: unknown) => e instanceof VirtError && e.code === "CGROUP_VALUE_RANGE",
  );
});

test("mounts: v1 controllers win over a hybrid host's unified tree; v2 alone is v2", () => {
  const v1 = parseCgroupMounts(
    [
      "tmpfs /sys/fs/cgroup tmpfs rw 0 0",
      "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0",
      "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpuacct 0 0",
      "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0",
      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0",
    ].join("\n"),
  );
  assert.ok(v1);
  assert.equal(v1.version, 1);
  assert.equal(v1.v1.cpu, "/sys/fs/cgroup/cpu");
  assert.equal(v1.v1.cpuacct, "/sys/fs/cgroup/cpu,cpuacct");
  assert.equal(v1.v1.cpuset, undefined);
  const v2 = parseCgroupMounts("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n", () => ["cpu", "memory"]);
  assert.deepEqual(v2, { version: 2, v1: {}, unified: "/sys/fs/cgroup", v2Controllers: ["cpu", "memory"] });
  assert.equal(parseCgroupMounts("proc /proc proc rw 0 0\n"), undefined);
});

/** A fake v2 root as the kernel shows it (files the code reads must exist). */
function fakeV2(dir: string): CgroupLayout {
  writeFileSync(join(dir, "cgroup.controllers"), "cpuset cpu io memory pids\n");
  writeFileSync(join(dir, "cgroup.subtree_control"), "\n");
  return { version: 2, v1: {}, unified: dir, v2Controllers: ["cpuset", "cpu", "io", "memory", "pids"] };
}

test("v2 (fake tree): controllers enabled down the path, threaded thread groups, the files libvirt writes", async () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-cg2-"));
  try {
    const layout = fakeV2(root);
    const cg = new MachineCgroup(layout, machineGroupPath("/tvirt-test", "qemu-1-vm"));
    // the kernel makes these files in each new directory; a fake tree needs them beforehand
    const part = join(root, "tvirt-test.partition");
    const mach = join(part, "qemu-1-vm.libvirt-qemu");
    for (const d of [part, mach, join(mach, "emulator"), join(mach, "vcpu0")]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "cgroup.subtree_control"), "");
      writeFileSync(join(d, "cgroup.type"), "domain\n");
    }
    await cg.create(["emulator", "vcpu0"]);
    assert.equal(
      readFileSync(join(root, "cgroup.subtree_control"), "utf8"),
      "+cpu +cpuset +memory +io +pids",
    );
    assert.equal(readFileSync(join(mach, "cgroup.subtree_control"), "utf8"), "+cpu +cpuset +pids");
    assert.equal(readFileSync(join(mach, "vcpu0", "cgroup.type"), "utf8"), "threaded");

    await cg.setMemoryLimits({ hard: 262144n, soft: 131072n, swap: 524288n });
    assert.equal(readFileSync(join(mach, "memory.max"), "utf8"), String(262144 * 1024));
    assert.equal(readFileSync(join(mach, "memory.high"), "utf8"), String(131072 * 1024));
    assert.equal(readFileSync(join(mach, "memory.swap.max"), "utf8"), String(524288 * 1024));
    await cg.setMemory("hard", MEMORY_UNLIMITED_KIB);
    assert.equal(readFileSync(join(mach, "memory.max"), "utf8"), "max");
    assert.equal(await cg.getMemory("hard"), MEMORY_UNLIMITED_KIB);

    await cg.setCpuShares(2048);
    assert.equal(readFileSync(join(mach, "cpu.weight"), "utf8"), "2048");
    await assert.rejects(
      cg.setCpuShares(20000),
      (e: unknown) => e instanceof VirtError && e.code === "CGROUP_VALUE_RANGE",
    );
    writeFileSync(join(mach, "vcpu0", "cpu.max"), "max 100000\n");
    await cg.setCfs("vcpu0", { quota: 50000 });
    assert.equal(readFileSync(join(mach, "vcpu0", "cpu.max"), "utf8"), "50000 100000");
    await cg.setCfs("vcpu0", { period: 20000, quota: -1 });
    assert.deepEqual(await cg.getCfs("vcpu0"), { period: 20000, quota: -1 });

    await cg.setCpus("emulator", "0");
    assert.equal(readFileSync(join(mach, "emulator", "cpuset.cpus"), "utf8"), "0");

    writeFileSync(join(mach, "io.weight"), "default 100\n");
    await cg.setBlkioWeight(500);
    assert.equal(readFileSync(join(mach, "io.weight"), "utf8"), "default 500");
    await cg.setBlkioDevice("8:0", "read_bps", 1000n);
    assert.equal(readFileSync(join(mach, "io.max"), "utf8"), "8:0 rbps=1000");
    writeFileSync(join(mach, "io.max"), "8:0 rbps=1000 wbps=max riops=max wiops=20\n");
    assert.deepEqual(await cg.getBlkioDevices(), new Map([["8:0", { read_bps: 1000n, write_iops: 20n }]]));

    await cg.addProcess(1234);
    assert.equal(readFileSync(join(mach, "cgroup.procs"), "utf8"), "1234");
    await cg.addThread("vcpu0", 1240);
    assert.equal(readFileSync(join(mach, "vcpu0", "cgroup.threads"), "utf8"), "1240");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("v1 (fake tree): thread groups only in cpu hierarchies, -1 for unlimited, swap below hard refused, throttle files", async () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-cg1-"));
  try {
    const v1: Record<string, string> = {};
    // no cpuset here: the kernel fills a new v1 cpuset group's files, a plain dir cannot (the
    // real-hierarchy test below covers the copy from the parent)
    for (const c of ["cpu", "cpuacct", "memory", "blkio"]) {
      v1[c] = join(root, c);
      mkdirSync(v1[c], { recursive: true });
    }
    const layout: CgroupLayout = { version: 1, v1 };
    const cg = new MachineCgroup(layout, "machine/qemu-2-vm.libvirt-qemu");
    await cg.create(["vcpu0"]);
    assert.ok(existsSync(join(v1.cpu!, "machine/qemu-2-vm.libvirt-qemu/vcpu0")));
    assert.ok(existsSync(join(v1.memory!, "machine/qemu-2-vm.libvirt-qemu")));
    assert.ok(
      !existsSync(join(v1.memory!, "machine/qemu-2-vm.libvirt-qemu/vcpu0")),
      "thread groups only in cpu, cpuacct, cpuset",
    );
    const mem = join(v1.memory!, "machine/qemu-2-vm.libvirt-qemu");
    writeFileSync(join(mem, "memory.memsw.limit_in_bytes"), "9223372036854771712\n");
    assert.equal(await cg.getMemory("swap"), MEMORY_UNLIMITED_KIB);
    await cg.setMemoryLimits({ hard: 1024n, swap: MEMORY_UNLIMITED_KIB });
    assert.equal(readFileSync(join(mem, "memory.limit_in_bytes"), "utf8"), "1048576");
    assert.equal(readFileSync(join(mem, "memory.memsw.limit_in_bytes"), "utf8"), "-1");
    await assert.rejects(
      cg.setMemoryLimits({ hard: 2048n, swap: 1024n }),
      (e: unknown) => e instanceof VirtError && e.code === "CGROUP_VALUE_RANGE",
    );
    const blk = join(v1.blkio!, "machine/qemu-2-vm.libvirt-qemu");
    await assert.rejects(
      cg.setBlkioWeight(500),
      (e: unknown) => e instanceof VirtError && e.code === "CGROUP_UNSUPPORTED",
    );
    writeFileSync(join(blk, "blkio.throttle.write_iops_device"), "");
    await cg.setBlkioDevice("253:0", "write_iops", 30n);
    assert.equal(readFileSync(join(blk, "blkio.throttle.write_iops_device"), "utf8"), "253:0 30");
    await cg.setCfs(undefined, { period: 100000, quota: -5 });
    assert.equal(
      readFileSync(join(v1.cpu!, "machine/qemu-2-vm.libvirt-qemu/cpu.cfs_quota_us"), "utf8"),
      "-1",
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("real host hierarchy: a group with a thread group holds a process's threads, then goes", async (t) => {
  const layout = hostCgroupLayout();
  if (!layout || process.getuid?.() !== 0) {
    if (process.env.CI === "true") assert.fail("no cgroup hierarchy or not root");
    t.skip("no writable cgroup hierarchy here (needs root)");
    return;
  }
  t.diagnostic(`cgroup v${layout.version}`);
  const cg = new MachineCgroup(layout, machineGroupPath(`/tvirt-unit-${process.pid}`, `qemu-1-probe`));
  const { spawn } = await import("node:child_process");
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    await cg.create(["emulator", "vcpu0"]);
    await cg.addProcess(child.pid!, "emulator");
    await cg.addThread("vcpu0", child.pid!);
    assert.deepEqual(await cg.threads("vcpu0"), [child.pid]);
    if (cg.has("memory")) {
      await cg.setMemoryLimits({ hard: 65536n, soft: 32768n });
      assert.equal(await cg.getMemory("hard"), 65536n);
      assert.equal(await cg.getMemory("soft"), 32768n);
    }
    if (cg.has("cpu")) {
      await cg.setCfs("vcpu0", { period: 100000, quota: 50000 });
      assert.deepEqual(await cg.getCfs("vcpu0"), { period: 100000, quota: 50000 });
    }
    const found = await detectMachineCgroup(layout, child.pid!, "qemu-1-probe.libvirt-qemu");
    assert.equal(found?.path, cg.path);
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const left = await cg.remove();
    assert.deepEqual(left, []);
    assert.equal(cg.exists(), false);
    // the private partition too
    const part = new MachineCgroup(layout, partitionPath(`/tvirt-unit-${process.pid}`));
    assert.deepEqual(await part.remove(), []);
  }
});

test("real cgroup2 tree (a hybrid host's unified mount): threaded thread groups hold the threads, then go", async (t) => {
  const line = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .find((l) => l.split(" ")[2] === "cgroup2");
  const unified = line?.split(" ")[1];
  if (unified === undefined || process.getuid?.() !== 0) {
    if (process.env.CI === "true") assert.fail("no cgroup2 mount or not root");
    t.skip("no cgroup2 mount here, or not root");
    return;
  }
  const layout = parseCgroupMounts(line ?? "");
  assert.ok(layout);
  assert.equal(layout.version, 2);
  t.diagnostic(`cgroup2 at ${unified}, controllers: ${(layout.v2Controllers ?? []).join(" ") || "(none)"}`);
  const cg = new MachineCgroup(layout, machineGroupPath(`/tvirt-unit2-${process.pid}`, "qemu-1-probe"));
  const { spawn } = await import("node:child_process");
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    await cg.create(["emulator", "vcpu0"]);
    assert.equal(readFileSync(join(unified, cg.path, "vcpu0", "cgroup.type"), "utf8").trim(), "threaded");
    await cg.addProcess(child.pid!);
    assert.deepEqual(await cg.processes(), [child.pid]);
    await cg.addThread("vcpu0", child.pid!);
    assert.deepEqual(await cg.threads("vcpu0"), [child.pid]);
    const found = await detectMachineCgroup(layout, child.pid!, "qemu-1-probe.libvirt-qemu");
    assert.equal(found?.path, cg.path);
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    assert.deepEqual(await cg.remove(), []);
    assert.deepEqual(
      await new MachineCgroup(layout, partitionPath(`/tvirt-unit2-${process.pid}`)).remove(),
      [],
    );
  }
});
