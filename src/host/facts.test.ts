import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import {
  hostArch,
  hostDrmRenderNode,
  hostCpus,
  hostFreeMemoryBytes,
  hostHasIommu,
  hostName,
  hostNodeInfo,
  hugePageSizes,
  nodeDistances,
  nodeHugePages,
  nodeMemoryKiB,
  numaNodes,
  parseCpuList,
} from "./facts.ts";

/** A fake host: 2 NUMA nodes, 2 sockets of 2 cores with 2 threads each (8 CPUs). */
function fakeHost(): string {
  const root = mkdtempSync(join(tmpdir(), "tvirt-facts-"));
  const put = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  put("/proc/meminfo", "MemTotal:        8000000 kB\nMemFree:         1234 kB\nHugepagesize:    2048 kB\n");
  put("/proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: 2893.204\n");
  put("/sys/devices/system/cpu/online", "0-7\n");
  for (let id = 0; id < 8; id++) {
    const socket = id < 4 ? 0 : 1;
    const core = Math.floor((id % 4) / 2);
    const first = id - (id % 2);
    const topo = `/sys/devices/system/cpu/cpu${id}/topology`;
    put(`${topo}/physical_package_id`, `${socket}\n`);
    put(`${topo}/core_id`, `${core}\n`);
    put(`${topo}/thread_siblings_list`, `${first}-${first + 1}\n`);
  }
  for (const n of [0, 1]) {
    const dir = `/sys/devices/system/node/node${n}`;
    put(`${dir}/cpulist`, n === 0 ? "0-3\n" : "4-7\n");
    put(`${dir}/meminfo`, `Node ${n} MemTotal:       ${(n + 1) * 1000} kB\n`);
    put(`${dir}/distance`, n === 0 ? "10 21\n" : "21 10\n");
    put(`${dir}/hugepages/hugepages-2048kB/nr_hugepages`, `${n * 3}\n`);
  }
  put("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0\n");
  put("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "3\n");
  mkdirSync(join(root, "/sys/kernel/iommu_groups/7"), { recursive: true });
  return root;
}

test("node info, CPUs and NUMA cells come from /proc and /sys under the root", (t) => {
  const root = fakeHost();
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  assert.deepEqual(hostNodeInfo(root), {
    model: hostArch(),
    memory: 8000000,
    cpus: 8,
    mhz: 2893,
    nodes: 2,
    sockets: 1,
    cores: 2,
    threads: 2,
  });
  const cpus = hostCpus(root);
  assert.deepEqual(cpus[5], { id: 5, socket: 1, die: 0, core: 0, siblings: "4-5", node: 1 });
  assert.deepEqual(numaNodes(root), [0, 1]);
  assert.equal(hostFreeMemoryBytes(root), 1234n * 1024n);
  assert.equal(nodeMemoryKiB(1, 99, root), 2000);
  assert.equal(nodeMemoryKiB(5, 99, root), 99, "a node that does not say gets the fallback");
  assert.equal(nodeHugePages(1, 2048, root), 3);
  assert.equal(nodeHugePages(1, 1048576, root), 0);
  assert.deepEqual(nodeDistances(1, root), ["21", "10"]);
  assert.deepEqual(hugePageSizes(root), [2048, 1048576]);
  assert.equal(hostHasIommu(root), true);
});

test("a bare root: one node, one CPU, no huge pages, no IOMMU", (t) => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-facts-"));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  assert.deepEqual(numaNodes(root), [0]);
  assert.deepEqual(hostCpus(root), [{ id: 0, socket: 0, die: 0, core: 0, siblings: "0", node: 0 }]);
  assert.deepEqual(hugePageSizes(root), []);
  assert.equal(hostHasIommu(root), false);
  assert.equal(hostNodeInfo(root).memory, 0);
  assert.deepEqual(nodeDistances(0, root), ["10"]);
});

test("arch names are libvirt's", () => {
  assert.deepEqual(["x64", "arm64", "ia32", "ppc64", "s390x"].map(hostArch), [
    "x86_64",
    "aarch64",
    "i686",
    "ppc64le",
    "s390x",
  ]);
});

test("cpu lists", () => {
  assert.deepEqual(parseCpuList("0-2,5\n"), [0, 1, 2, 5]);
  assert.deepEqual(parseCpuList(""), []);
});

test("host names: a full or localhost name is kept as it is, a short one tried in the resolver", () => {
  assert.equal(hostName("node.example.org"), "node.example.org");
  assert.equal(hostName("localhost"), "localhost");
  const short = hostName("tvirt-no-such-host-facts-test");
  assert.equal(short, "tvirt-no-such-host-facts-test", "unknown to the resolver: the node name");
});

test("hostDrmRenderNode: the first renderD node of the dir, none without one", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-dri-"));
  try {
    assert.equal(hostDrmRenderNode(join(dir, "missing")), undefined);
    writeFileSync(join(dir, "card0"), "");
    assert.equal(hostDrmRenderNode(dir), undefined);
    writeFileSync(join(dir, "renderD129"), "");
    writeFileSync(join(dir, "renderD128"), "");
    assert.equal(hostDrmRenderNode(dir), `${dir}/renderD128`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
