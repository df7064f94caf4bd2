/**
 * OpenStack Nova's own sequence of libvirt calls (nova/virt/libvirt/driver.py, host.py,
 * guest.py), made with python3-libvirt against tvirtd hosting an embedded QEMU driver
 * (`--uri qemu:///embed?root=DIR`, reached as `qemu+unix:///system?socket=...`), on the tiny TCG
 * guest in `disks` mode with Debian's qemu-ga on `org.qemu.guest_agent.0` and an ext2 root
 * disk (a qcow2 overlay over an image-cache base) mounted on /mnt. nova-sequence.py makes the
 * calls; this file checks what each step did:
 * 1. the host report: getCPUMap and getInfo against the host's own CPUs and memory,
 *    getCapabilities, baselineCPU of the host CPU with EXPAND_FEATURES, listAllDevices,
 *    getVersion (QEMU's), getLibVersion, getHostname;
 * 2. spawn: defineXML, createWithFlags, lookupByUUIDString, info, vcpus, XMLDesc;
 * 3. the quiesced live snapshot: a file the guest wrote, fsFreeze, undefine, blockRebase
 *    COPY|REUSE_EXT|SHALLOW into an overlay made with qemu-img over the disk's base,
 *    blockJobInfo until cur == end, blockJobAbort without pivot, defineXML again, fsThaw; the
 *    copy is identical to the disk (qemu-img compare while frozen), and flattened as Nova
 *    does (qemu-img convert) it holds the guest's file (debugfs);
 * 4. volume extend: blockResize in bytes, seen by the guest;
 * 5. secrets (usage volume and ceph, setValue) and a LUKS volume attached LIVE|CONFIG: the
 *    guest reads the decrypted data;
 * 6. the agent: setUserPassword (the new hash in the guest's /etc/shadow), fsFreeze/fsThaw,
 *    guest-ping;
 * 7. teardown: destroy, undefineFlags(MANAGED_SAVE|SNAPSHOTS_METADATA|NVRAM).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { pythonLibvirtOrSkip, run, spawnDaemon } from "../testing/rpc/harness.ts";

const SCRIPT = fileURLToPath(new URL("./nova-sequence.py", import.meta.url));
const UUID = "5d1e6f0c-7a3b-4c2d-9e8f-0a1b2c3d4e5f";
const PASS = "nova volume passphrase";
const MiB = 1024 * 1024;

const has = (tool: string, args: string[]): boolean => {
  try {
    execFileSync(tool, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** qemu-img times its key derivation by CPU time and may give up on a loaded host: retry. */
function luksImage(path: string, size: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(
        "qemu-img",
        [
          "create",
          "-q",
          "--object",
          `secret,id=sec0,data=${PASS}`,
          "-f",
          "luks",
          "-o",
          "key-secret=sec0,iter-time=200",
          path,
          size,
        ],
        { stdio: "pipe" },
      );
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}

interface Out {
  host: {
    cpumap: [number, boolean[], number];
    info: [string, number, number, number, number, number, number, number];
    caps_arch: string;
    caps_model: string;
    caps_features: string[];
    caps_topology: Record<string, string> | null;
    caps_uuid: string | null;
    caps_guests: string[];
    baseline: string;
    compare: number;
    devices: string[];
    pci: string[];
    version: number;
    libversion: number;
    hostname: string;
  };
  ping: Record<string, never>;
  spawn: {
    uuid: string;
    name: string;
    id: number;
    info: number[];
    vcpus: [number[][], boolean[][]];
    persistent: number;
    max_memory: number;
    managed_save: number;
    conn_type: string;
    xml_disk: boolean;
    xml_agent: boolean;
  };
  snapshot: {
    abort_before: [number, string] | string;
    frozen: number;
    persistent_during: number;
    job: { type: number; cur: number; end: number; bandwidth: number };
    polls: number;
    mirror_ready: boolean;
    job_after: Record<string, never>;
    source_after: string;
    mirror_after: boolean;
    compare: [number, string];
    persistent_after: number;
    thawed: number;
  };
  extend: { blockstats: number[]; guest_sectors: number };
  luks: {
    secret_uuid: string;
    by_usage: string;
    value: string;
    ceph_uuid: string;
    by_ceph: string;
    ceph_value: string;
    ceph_usage: [number, string];
    secrets: string[];
    guest_head: number[];
    guest_head_len: number;
    live: boolean;
    config: boolean;
  };
  agent: {
    shadow_before: string;
    shadow_after: string;
    freeze: number;
    status_frozen: string;
    thaw: number;
    status_thawed: string;
    ping: { return: Record<string, never> };
    password_ok: boolean | null;
  };
  teardown: {
    state_after_destroy: number;
    undefine: number;
    lookup: [number, string] | string;
    domains: string[];
  };
}

test("Nova's libvirt driver sequence through tvirtd on a real TCG guest", { timeout: 150_000 }, async (t) => {
  const py = pythonLibvirtOrSkip(t);
  if (!py) return;
  const guest = await testGuestOrSkip(t);
  if (!guest) return;
  for (const [tool, args] of [
    ["mke2fs", ["-V"]],
    ["debugfs", ["-V"]],
    ["qemu-io", ["--version"]],
  ] as const) {
    if (!has(tool, [...args])) {
      if (process.env.CI === "true") assert.fail(`${tool} is missing`);
      t.skip(`${tool} is missing`);
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirt-nova-"));
  const f = (n: string): string => join(dir, n);
  const root = f("root");
  mkdirSync(root);
  const sock = f("sock");
  const uri = `qemu+unix:///system?socket=${sock}`;
  const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
  const img = (...args: string[]): string => execFileSync("qemu-img", args, { encoding: "utf8" });

  // the image cache entry: an ext2 filesystem as qcow2; the instance disk an overlay over it
  execFileSync("truncate", ["-s", "16M", f("fs.raw")]);
  execFileSync("mke2fs", ["-q", "-F", "-t", "ext2", f("fs.raw")], { stdio: "ignore" });
  img("convert", "-q", "-f", "raw", "-O", "qcow2", f("fs.raw"), f("base.qcow2"));
  img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", f("base.qcow2"), f("disk.qcow2"));
  // a raw volume to extend, a LUKS volume with a pattern in its payload
  img("create", "-q", "-f", "raw", f("vol.raw"), "16M");
  luksImage(f("vol.luks"), "8M");
  execFileSync(
    "qemu-io",
    [
      "--object",
      `secret,id=sec0,data=${PASS}`,
      "--image-opts",
      "-c",
      "write -P 0x5a 0 64k",
      `driver=luks,key-secret=sec0,file.filename=${f("vol.luks")}`,
    ],
    { stdio: "pipe" },
  );
  writeFileSync(
    f("nova.xml"),
    guestDomainXML({
      name: "nova",
      uuid: UUID,
      mode: "disks",
      kernel: guest.kernel,
      initrd: guest.initrd,
      serialLogPath: f("serial.log"),
      extraCmdline: "tvirt.mount=vda",
      extraDevicesXML: [
        `    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='${f("disk.qcow2")}'/><target dev='vda' bus='virtio'/></disk>`,
        `    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='${f("vol.raw")}'/><target dev='vdb' bus='virtio'/></disk>`,
        `    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`,
      ].join("\n"),
    }),
  );

  const daemon = await spawnDaemon(["--uri", `qemu:///embed?root=${root}`, "--listen", sock], [sock]);
  const started = Date.now();
  let r;
  try {
    r = await run(py, [SCRIPT, uri, dir, f("nova.xml"), UUID, PASS], { env, timeoutMs: 120_000 });
  } finally {
    // the script tears the guest down itself; this only matters when it failed half way
    await run(py, ["-c", DESTROY, uri, UUID], { env, timeoutMs: 30_000 }).catch(() => undefined);
    await daemon.stop();
  }
  try {
    t.diagnostic(`python: ${((Date.now() - started) / 1000).toFixed(1)} s\n${r.stderr.trim()}`);
    assert.equal(r.code, 0, `${r.stderr}\n${daemon.stderr()}`);
    const out = JSON.parse(r.stdout) as Out;

    // 1. host report
    const h = out.host;
    const present = readFileSync("/sys/devices/system/cpu/present", "utf8").trim();
    const maxCpu = Math.max(...present.split(",").map((p) => Number(p.split("-").at(-1))));
    assert.equal(h.cpumap[0], maxCpu + 1, "getCPUMap: every present CPU");
    assert.equal(h.cpumap[1].length, h.cpumap[0]);
    assert.equal(h.cpumap[2], h.cpumap[1].filter(Boolean).length, "getCPUMap: online count");
    const onlineCpus = readFileSync("/sys/devices/system/cpu/online", "utf8")
      .trim()
      .split(",")
      .reduce((n, p) => {
        const [a, b] = p.split("-").map(Number);
        return n + (b === undefined ? 1 : b - a! + 1);
      }, 0);
    assert.equal(h.cpumap[2], onlineCpus);
    assert.equal(h.info[0], "x86_64");
    const memKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]);
    assert.equal(h.info[1], Math.floor(memKiB / 1024), "getInfo: memory in MiB");
    assert.equal(h.info[2], onlineCpus, "getInfo: active CPUs");
    assert.equal(h.info[4] * h.info[5] * h.info[6] * h.info[7], h.info[2], "getInfo: topology");
    assert.equal(h.caps_arch, "x86_64");
    // (libvirt always has a host <uuid>; tvirt writes one only when configured: Nova reads none)
    if (h.caps_uuid !== null)
      assert.match(h.caps_uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(h.caps_guests.includes("hvm/x86_64/qemu"), h.caps_guests.join(" "));
    assert.ok(h.caps_model, "the host CPU has a model");
    // baselineCPU of the host CPU: the same model, every host feature kept, more spelled out
    assert.match(h.baseline, new RegExp(`<model[^>]*>${h.caps_model}</model>`));
    const baseFeatures = [...h.baseline.matchAll(/<feature policy='require' name='([^']+)'\/>/g)].map(
      (m) => m[1]!,
    );
    for (const feat of h.caps_features) assert.ok(baseFeatures.includes(feat), `baseline keeps ${feat}`);
    assert.ok(baseFeatures.length > h.caps_features.length, "EXPAND_FEATURES adds the model's features");
    assert.equal(h.compare, 1, "compareCPU: the host CPU is identical to itself");
    assert.ok(h.devices.includes("computer"));
    for (const p of h.pci) assert.match(p, /^pci_[0-9a-f]{4}_[0-9a-f]{2}_[0-9a-f]{2}_[0-7]$/);
    assert.ok(h.pci.every((p) => h.devices.includes(p)));
    const qv = /version (\d+)\.(\d+)\.(\d+)/.exec(
      execFileSync("qemu-system-x86_64", ["--version"], { encoding: "utf8" }),
    )!;
    assert.equal(h.version, Number(qv[1]) * 1_000_000 + Number(qv[2]) * 1000 + Number(qv[3]));
    assert.ok(h.libversion >= 9_000_000, `getLibVersion ${h.libversion}`);
    assert.equal(h.hostname, hostname());

    // 2. spawn
    const s = out.spawn;
    assert.equal(s.uuid, UUID);
    assert.equal(s.name, "nova");
    assert.ok(s.id > 0);
    assert.equal(s.info[0], 1, "running");
    assert.equal(s.info[1], 128 * 1024, "maxMem KiB");
    assert.equal(s.info[3], 1, "one vCPU");
    assert.ok(s.info[4]! > 0, "cpu time");
    assert.equal(s.vcpus[0].length, 1);
    assert.equal(s.vcpus[0][0]![0], 0, "vcpu number");
    assert.equal(s.vcpus[0][0]![1], 1, "vcpu running");
    assert.ok(s.vcpus[0][0]![3]! >= 0 && s.vcpus[0][0]![3]! < h.cpumap[0], "vcpu on a host CPU");
    assert.equal(s.vcpus[1][0]!.length, h.cpumap[0], "vcpu affinity covers the host CPUs");
    assert.equal(s.persistent, 1);
    assert.equal(s.max_memory, 128 * 1024);
    assert.equal(s.managed_save, 0);
    assert.equal(s.conn_type, "QEMU");
    assert.ok(s.xml_disk && s.xml_agent);
    assert.deepEqual(out.ping, {});

    // 3. live snapshot
    const sn = out.snapshot;
    assert.equal((sn.abort_before as [number, string])[0], 55, "no job to abort yet");
    assert.equal(sn.frozen, 1);
    assert.equal(sn.persistent_during, 0);
    assert.equal(sn.job.type, 2, "a copy job");
    assert.ok(sn.job.end > 0 && sn.job.cur === sn.job.end, JSON.stringify(sn.job));
    assert.equal(sn.mirror_ready, true);
    assert.deepEqual(sn.job_after, {});
    assert.equal(sn.source_after, f("disk.qcow2"), "abort without pivot keeps the disk");
    assert.equal(sn.mirror_after, false);
    assert.deepEqual(sn.compare, [0, "Images are identical."]);
    assert.equal(sn.persistent_after, 1);
    assert.equal(sn.thawed, 1);
    // the delta sits on the cache image; flattened as Nova's extract_snapshot does
    const chain = JSON.parse(img("info", "--backing-chain", "--output=json", f("snap.delta"))) as {
      filename: string;
      "virtual-size": number;
    }[];
    assert.deepEqual(
      chain.map((c) => c.filename),
      [f("snap.delta"), f("base.qcow2")],
    );
    assert.equal(chain[0]!["virtual-size"], 16 * MiB);
    img("convert", "-q", "-f", "qcow2", "-O", "raw", f("snap.delta"), f("snap.raw"));
    assert.equal(
      execFileSync("debugfs", ["-R", "cat /nova.txt", f("snap.raw")], { encoding: "utf8", stdio: "pipe" }),
      "written by the guest before the snapshot\n",
    );

    // 4. volume extend
    assert.ok(out.extend.blockstats[0]! > 0 && out.extend.blockstats[1]! > 0, "the guest read vdb");
    assert.equal(out.extend.guest_sectors, (24 * MiB) / 512);
    const vol = JSON.parse(img("info", "--output=json", f("vol.raw"))) as { "virtual-size": number };
    assert.equal(vol["virtual-size"], 24 * MiB);

    // 5. secrets and the LUKS volume
    const l = out.luks;
    assert.equal(l.by_usage, l.secret_uuid);
    assert.equal(l.value, PASS);
    assert.equal(l.by_ceph, l.ceph_uuid);
    assert.equal(l.ceph_value, "AQBzq2lg-ceph-key");
    assert.deepEqual(l.ceph_usage, [2, "client.nova secret"]);
    assert.deepEqual(l.secrets, [l.secret_uuid, l.ceph_uuid].sort());
    assert.equal(l.guest_head_len, 4096);
    assert.deepEqual(l.guest_head, [0x5a], "the guest reads the decrypted payload");
    assert.ok(l.live && l.config);
    // kept under the embed root (where the QEMU driver reads them), encrypted at rest
    const stored = readFileSync(join(root, "etc", "secrets", `${l.secret_uuid}.base64`));
    assert.ok(!stored.toString("latin1").includes(PASS) && !stored.toString().includes(btoa(PASS)));

    // 6. agent
    const a = out.agent;
    assert.match(a.shadow_after, /^\$6\$/);
    assert.notEqual(a.shadow_after, a.shadow_before);
    if (a.password_ok !== null) assert.equal(a.password_ok, true, "the new hash is of the new password");
    assert.equal(a.freeze, 1);
    assert.equal(a.status_frozen, "frozen");
    assert.equal(a.thaw, 1);
    assert.equal(a.status_thawed, "thawed");
    assert.deepEqual(a.ping, { return: {} });

    // 7. teardown
    const td = out.teardown;
    assert.equal(td.state_after_destroy, 5, "shut off");
    assert.equal(td.undefine, 0);
    assert.equal((td.lookup as [number, string])[0], 42, "VIR_ERR_NO_DOMAIN");
    assert.deepEqual(td.domains, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const DESTROY = `
import sys, libvirt
c = libvirt.open(sys.argv[1])
try:
    c.lookupByUUIDString(sys.argv[2]).destroy()
except libvirt.libvirtError:
    pass
`;
