/**
 * Host validation: the checks over fake /proc, /sys and /dev trees (each fact turned on and off
 * changes exactly its line), and on this machine against facts the test probes itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startArgv } from "../util/spawn.ts";
import { evaluateHost, formatCheck, gatherValidateFacts, parseCgroups } from "./validate.ts";

interface Tree {
  readonly [path: string]: string;
}

/** A fake root: files with contents; `dev/…` entries become plain files (not devices). */
function fakeRoot(files: Tree): string {
  const root = mkdtempSync(join(tmpdir(), "tvirt-validate-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const INTEL_HOST: Tree = {
  "proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme vmx sse2\n\nprocessor\t: 1\nflags\t\t: fpu\n",
  "proc/mounts":
    "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n" +
    "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n" +
    "cgroup /sys/fs/cgroup/cpuset cgroup rw,cpuset 0 0\n" +
    "cgroup /sys/fs/cgroup/devices cgroup rw,devices 0 0\n" +
    "cgroup /sys/fs/cgroup/blkio cgroup rw,blkio 0 0\n" +
    "hugetlbfs /dev/hugepages hugetlbfs rw,pagesize=2M 0 0\n",
  "proc/meminfo": "Hugepagesize:       2048 kB\n",
  "dev/vhost-net": "",
  "dev/net/tun": "",
  "sys/firmware/acpi/tables/DMAR": "",
  "sys/kernel/iommu_groups/0/x": "",
  "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "64\n",
  "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "60\n",
  "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "0\n",
  "sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "0\n",
  "sys/module/apparmor/parameters/enabled": "Y\n",
  "proc/sys/kernel/seccomp/actions_avail": "kill_process kill_thread trap errno user_notif trace log allow\n",
};

async function checksFor(files: Tree): Promise<Map<string, ReturnType<typeof evaluateHost>[number]>> {
  const root = fakeRoot(files);
  try {
    const facts = await gatherValidateFacts({ root, probe: false, path: "/usr/bin:/bin" });
    return new Map(evaluateHost(facts).map((c) => [c.id, c]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test("a well set up Intel host passes libvirt's checks (the fake /dev/kvm is no device)", async () => {
  const c = await checksFor(INTEL_HOST);
  for (const id of [
    "hw-virt",
    "vhost-net",
    "tun",
    "iommu",
    "iommu-kernel",
    "hugepages",
    "apparmor",
    "seccomp",
  ]) {
    assert.equal(c.get(id)?.result, "PASS", `${id}: ${JSON.stringify(c.get(id))}`);
  }
  for (const ctl of ["cpu", "cpuacct", "cpuset", "memory", "devices", "blkio"]) {
    assert.equal(c.get(`cgroup-${ctl}`)?.result, "PASS", ctl);
  }
  assert.equal(c.get("hugepages")?.detail, "2 MiB: 60 of 64 free");
  assert.equal(c.get("hugetlbfs-2048")?.detail, "mounted at /dev/hugepages");
  assert.equal(c.get("kvm-device")?.result, "FAIL");
  assert.equal(c.get("kvm-device")?.fix, "modprobe kvm_intel");
  assert.equal(c.get("kvm-usable")?.result, "FAIL");
  assert.equal(c.get("secure-guest")?.result, "WARN");
});

test("each missing piece turns exactly its own line, with libvirt's text and a fix", async () => {
  const drop = (...paths: string[]): Tree =>
    Object.fromEntries(Object.entries(INTEL_HOST).filter(([p]) => !paths.includes(p)));
  const base = await checksFor(INTEL_HOST);
  const cases: [Tree, string, string, RegExp][] = [
    [drop("dev/vhost-net"), "vhost-net", "WARN", /^modprobe vhost_net$/],
    [drop("dev/net/tun"), "tun", "FAIL", /^modprobe tun$/],
    [drop("sys/firmware/acpi/tables/DMAR"), "iommu", "WARN", /VT-d/],
    [drop("sys/kernel/iommu_groups/0/x"), "iommu-kernel", "WARN", /intel_iommu=on/],
    [drop("sys/module/apparmor/parameters/enabled"), "apparmor", "NOTE", /apparmor=1/],
    [drop("proc/sys/kernel/seccomp/actions_avail"), "seccomp", "WARN", /SECCOMP_FILTER/],
  ];
  for (const [tree, id, result, fix] of cases) {
    const c = await checksFor(tree);
    assert.equal(c.get(id)?.result, result, id);
    assert.match(c.get(id)?.fix ?? "", fix, id);
    for (const [other, check] of base) {
      // Without the ACPI table libvirt's tool does not go on to the kernel's IOMMU line.
      if (id === "iommu" && other === "iommu-kernel") assert.equal(c.get(other), undefined);
      else if (other !== id) assert.deepEqual(c.get(other), check, `${id} changed ${other}`);
    }
  }
  // virt-host-validate's layout: the prefix in 6 columns, the sentence in 69, then the result.
  const tun = (await checksFor(drop("dev/net/tun"))).get("tun");
  const line = tun ? formatCheck(tun) : "";
  assert.ok(line.startsWith("  QEMU: Checking if device /dev/net/tun exists   "), line);
  assert.equal(line.indexOf(": FAIL (Load the 'tun' module to enable networking for QEMU guests)"), 77);
});

test("reserved huge pages without a hugetlbfs of their size fail, naming the size and the mount to make", async () => {
  const c = await checksFor({
    ...INTEL_HOST,
    "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "2\n",
    "sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "2\n",
  });
  assert.equal(c.get("hugepages")?.detail, "2 MiB: 60 of 64 free; 1 GiB: 2 of 2 free");
  const g = c.get("hugetlbfs-1048576");
  assert.ok(g);
  assert.equal(g.result, "FAIL");
  assert.match(g.detail ?? "", /2 pages of 1 GiB are reserved but no hugetlbfs of that size is mounted/);
  assert.match(g.fix ?? "", /mount -t hugetlbfs -o pagesize=1048576k none \/dev\/hugepages1G/);
});

test("an AMD host without an IVRS table warns as libvirt does; cgroup v2 maps cpuacct, blkio and devices", async () => {
  const c = await checksFor({
    ...INTEL_HOST,
    "proc/cpuinfo": "flags\t: svm sev\n",
    "proc/mounts": "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n",
    "sys/fs/cgroup/cgroup.controllers": "cpuset cpu memory pids\n",
  });
  assert.equal(
    c.get("iommu")?.detail,
    "No ACPI IVRS table found, IOMMU either disabled in BIOS or not supported by this hardware platform",
  );
  assert.equal(c.get("cgroup-cpuacct")?.result, "PASS");
  assert.equal(c.get("cgroup-devices")?.result, "PASS");
  assert.equal(c.get("cgroup-blkio")?.result, "WARN");
  assert.equal(c.get("cgroup-blkio")?.fix, "echo +io > /sys/fs/cgroup/cgroup.subtree_control");
  assert.match(c.get("secure-guest")?.detail ?? "", /kvm_amd\.sev=1/);
  assert.deepEqual(parseCgroups("", undefined), { version: 0, controllers: [] });
});

/** Does QEMU keep running with KVM and a host vCPU for a second? The test's own probe. */
async function kvmRunsHere(): Promise<boolean> {
  if (!existsSync("/dev/kvm")) return false;
  const child = startArgv(
    [
      "qemu-system-x86_64",
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-machine",
      "pc",
      "-m",
      "16",
      "-nodefaults",
    ].concat(["-display", "none", "-monitor", "none", "-serial", "none"]),
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  const exited = new Promise<boolean>((resolve) => {
    child.once("close", () => {
      resolve(true);
    });
  });
  const timeout = new Promise<boolean>((resolve) => {
    setTimeout(() => {
      resolve(false);
    }, 3000);
  });
  // Still running after 3 s: KVM took the vCPU. Exited: QEMU could not use KVM.
  const exitedEarly = await Promise.race([exited, timeout]);
  if (!exitedEarly) {
    child.kill("SIGKILL");
    await exited;
    return true;
  }
  return false;
}

test("on this machine: each line agrees with facts the test reads itself", async () => {
  const facts = await gatherValidateFacts();
  const checks = new Map(evaluateHost(facts).map((c) => [c.id, c]));
  const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.split(/\s+/) ?? [];
  assert.equal(
    checks.get("hw-virt")?.result,
    flags.includes("vmx") || flags.includes("svm") ? "PASS" : "FAIL",
  );
  assert.equal(checks.get("vhost-net")?.result, existsSync("/dev/vhost-net") ? "PASS" : "WARN");
  assert.equal(checks.get("tun")?.result, existsSync("/dev/net/tun") ? "PASS" : "FAIL");
  assert.equal(checks.get("kvm-device")?.result, existsSync("/dev/kvm") ? "PASS" : "FAIL");
  const kvm = await kvmRunsHere();
  assert.equal(checks.get("kvm-usable")?.result, kvm ? "PASS" : "FAIL");
  if (!kvm && existsSync("/dev/kvm")) {
    // This machine's case: the device is there but does not run a normal vCPU; the line says so and why.
    assert.match(checks.get("kvm-usable")?.detail ?? "", /^\/dev\/kvm is present, but KVM is unusable: \S/);
  }
  const apparmor = existsSync("/sys/module/apparmor/parameters/enabled")
    ? readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y"
    : false;
  assert.equal(checks.get("apparmor")?.result, apparmor ? "PASS" : "NOTE");
  const reserved = readFileSync("/proc/meminfo", "utf8").match(/^HugePages_Total:\s+(\d+)/m)?.[1];
  if (reserved === "0") assert.equal(checks.get("hugepages")?.result, "NOTE");
  assert.equal(checks.get("binary-qemu-img")?.result, "PASS");
});
