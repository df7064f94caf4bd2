/**
 * Per-guest cgroups on real QEMU (TCG): a guest with `<memtune>`, `<cputune>` and `<blkiotune>`
 * gets `<partition>/qemu-ID-NAME.libvirt-qemu` with `emulator` and `vcpuN` groups holding
 * QEMU's threads and the values written; memtune changes live; the driver finds the group again
 * after a restart; the group is gone after destroy. A private partition keeps it apart from
 * anything else on the host.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hostCgroupLayout, MachineCgroup, partitionPath } from "../../../host/cgroup.ts";
import { guestXML, makeTestRoot, qemuProcessesOf } from "../../../testing/qemu/driver.ts";
import { DomainMemoryModFlags } from "../../enums.ts";

const PARTITION = `/tvirt-cgtest-${process.pid}`;

function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8").trim();
}

function firstBlockDevice(): string | undefined {
  for (const name of readdirSync("/sys/block")) {
    if (existsSync(`/dev/${name}`) && !name.startsWith("loop") && !name.startsWith("zram"))
      return `/dev/${name}`;
  }
  return undefined;
}

test("a guest's cgroup holds QEMU with its memtune/cputune/blkiotune, changes live, survives a restart, goes with the guest", async (t) => {
  const layout = hostCgroupLayout();
  if (!layout || process.getuid?.() !== 0) {
    if (process.env.CI === "true") assert.fail("needs root and a cgroup hierarchy");
    t.skip("needs root and a cgroup hierarchy");
    return;
  }
  const base = await guestXML(t, { name: "cg", mode: "idle", memoryMiB: 96 });
  if (base === undefined) return;
  const dev = firstBlockDevice();
  const blkio =
    dev !== undefined
      ? `<blkiotune><device><path>${dev}</path><read_bytes_sec>10485760</read_bytes_sec><write_iops_sec>500</write_iops_sec></device></blkiotune>\n  `
      : "";
  const xml = base
    .replace(/<vcpu[^>]*>\d+<\/vcpu>/, "<vcpu placement='static'>2</vcpu>")
    .replace(
      "<os>",
      `${blkio}<memtune><hard_limit unit='MiB'>768</hard_limit><soft_limit unit='MiB'>512</soft_limit></memtune>\n  ` +
        `<cputune><shares>512</shares><period>100000</period><quota>50000</quota>` +
        `<emulator_period>100000</emulator_period><emulator_quota>80000</emulator_quota>` +
        `<vcpupin vcpu='1' cpuset='0'/><emulatorpin cpuset='0'/></cputune>\n  <os>`,
    );
  assert.match(xml, /<vcpu placement='static'>2<\/vcpu>/);
  t.diagnostic(`cgroup v${layout.version}${dev !== undefined ? `, throttling ${dev}` : ""}`);
  const tr = makeTestRoot();
  const options = { cgroups: { partition: PARTITION, layout: "plain" as const } };
  let conn = await tr.open(options);
  const path = `${partitionPath(PARTITION)}/qemu-1-cg.libvirt-qemu`;
  const cg = new MachineCgroup(layout, path);
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const pid = conn.driver.domains.byName("cg")!.run!.pid;
    assert.equal(conn.driver.domains.byName("cg")!.run!.cgroup?.path, path);
    assert.ok(cg.exists(), `${path} exists`);
    if (layout.version === 1) {
      const mem = cg.dir("memory");
      assert.ok(read(mem, "cgroup.procs").split("\n").includes(String(pid)), "QEMU is in the memory group");
      assert.equal(read(mem, "memory.limit_in_bytes"), String(768 * 1048576));
      assert.equal(read(mem, "memory.soft_limit_in_bytes"), String(512 * 1048576));
      assert.equal(read(cg.dir("cpu"), "cpu.shares"), "512");
      assert.ok(
        read(cg.dir("cpu", "emulator"), "tasks").split("\n").includes(String(pid)),
        "QEMU's main thread is in emulator",
      );
      assert.equal(read(cg.dir("cpu", "emulator"), "cpu.cfs_quota_us"), "80000");
      for (const v of ["vcpu0", "vcpu1"]) {
        const tasks = read(cg.dir("cpu", v), "tasks").split("\n").filter(Boolean);
        assert.equal(tasks.length, 1, `one thread in ${v}`);
        assert.notEqual(tasks[0], String(pid));
        assert.equal(read(cg.dir("cpu", v), "cpu.cfs_period_us"), "100000");
        assert.equal(read(cg.dir("cpu", v), "cpu.cfs_quota_us"), "50000");
      }
      assert.equal(read(cg.dir("cpuset", "vcpu1"), "cpuset.cpus"), "0");
      assert.equal(read(cg.dir("cpuset", "emulator"), "cpuset.cpus"), "0");
      if (dev !== undefined) {
        assert.match(read(cg.dir("blkio"), "blkio.throttle.read_bps_device"), /^\d+:\d+ 10485760$/);
        assert.match(read(cg.dir("blkio"), "blkio.throttle.write_iops_device"), /^\d+:\d+ 500$/);
      }
    } else {
      assert.ok((await cg.processes()).includes(pid));
      assert.equal((await cg.threads("vcpu0")).length, 1);
    }
    assert.equal(await cg.getMemory("hard"), 768n * 1024n);

    // live: the cgroup and the live XML change, the persistent definition does not exist (transient)
    await conn.domainSetMemoryParameters(
      dom,
      [{ field: "hard_limit", value: { type: 4, value: 655360n } }],
      DomainMemoryModFlags.LIVE,
    );
    assert.equal(await cg.getMemory("hard"), 655360n);
    const got = await conn.domainGetMemoryParameters(dom, 0);
    assert.deepEqual(
      got.map((p) => [p.field, p.value.value]),
      [
        ["hard_limit", 655360n],
        ["soft_limit", 524288n],
        ["swap_hard_limit", 9007199254740991n],
      ],
    );
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<hard_limit unit='KiB'>655360<\/hard_limit>/);

    // scheduler parameters live: shares on the machine group, vcpu_quota on every vcpuN
    const LIVE = 1;
    await conn.domainSetSchedulerParametersFlags(
      dom,
      [
        { field: "cpu_shares", value: { type: 4, value: 1024n } },
        { field: "vcpu_quota", value: { type: 3, value: 30000n } },
      ],
      LIVE,
    );
    assert.equal(await cg.getCpuShares(), 1024);
    for (const v of ["vcpu0", "vcpu1"])
      assert.deepEqual(await cg.getCfs(v), { period: 100000, quota: 30000 });
    const sched = Object.fromEntries(
      (await conn.domainGetSchedulerParametersFlags(dom, LIVE)).map((p) => [p.field, p.value.value]),
    );
    assert.equal(sched.cpu_shares, 1024n);
    assert.equal(sched.vcpu_quota, 30000n);
    assert.equal(sched.emulator_quota, 80000n);
    assert.equal((await conn.domainGetSchedulerType(dom)).type, "posix");
    await assert.rejects(
      conn.domainSetSchedulerParametersFlags(
        dom,
        [{ field: "vcpu_period", value: { type: 4, value: 10n } }],
        LIVE,
      ),
      /value of 'vcpu_period' is out of range \[1000, 1000000\]/,
    );
    // pinning live through cpuset, and the pin info the live XML now gives
    const cpus = readFileSync("/sys/devices/system/cpu/present", "utf8").trim();
    if (cpus !== "0") {
      await conn.domainPinVcpuFlags(dom, 0, Uint8Array.of(0b10), LIVE);
      assert.equal(await cg.getCpus("vcpu0"), "1");
      const info = await conn.domainGetVcpuPinInfo(dom, 2, 1, LIVE);
      assert.equal(info.num, 2);
      assert.deepEqual([...info.cpumaps], [0b10, 0b01]);
      await conn.domainPinEmulator(dom, Uint8Array.of(0b11), LIVE);
      assert.equal(await cg.getCpus("emulator"), "0-1");
      assert.deepEqual([...(await conn.domainGetEmulatorPinInfo(dom, 1, LIVE)).cpumap], [0b11]);
    }
    if (dev !== undefined && layout.version === 1) {
      await conn.domainSetBlkioParameters(
        dom,
        [{ field: "device_write_bytes_sec", value: { type: 7, value: `${dev},2097152` } }],
        LIVE,
      );
      assert.match(read(cg.dir("blkio"), "blkio.throttle.write_bps_device"), /^\d+:\d+ 2097152$/);
      const blk = Object.fromEntries(
        (await conn.domainGetBlkioParameters(dom, LIVE | 4)).map((p) => [p.field, p.value.value]),
      );
      assert.equal(blk.device_write_bytes_sec, `${dev},2097152`);
      assert.equal(blk.device_read_bytes_sec, `${dev},10485760`);
    }

    // a restarted driver finds the group from QEMU's /proc/PID/cgroup
    await conn.connectClose();
    conn = await tr.open({ ...options, autostart: false });
    assert.equal(conn.driver.domains.byName("cg")!.run!.cgroup?.path, path);
    assert.equal(await cg.getMemory("hard"), 655360n);

    await conn.domainDestroy(await conn.domainLookupByName("cg"));
    assert.equal(cg.exists(), false, "the group is gone after destroy");
    assert.deepEqual(qemuProcessesOf(tr.root), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
    await cg.remove(1000);
    await new MachineCgroup(layout, partitionPath(PARTITION)).remove(1000);
  }
});
