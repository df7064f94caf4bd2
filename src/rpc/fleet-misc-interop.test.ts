/**
 * Issue 20's host and domain calls through tvirtd, checked by python3-libvirt and stock virsh:
 * on `test:///default` the answers must be libvirt's test driver's (stock virsh against
 * tvirtd prints what stock virsh prints against its own test driver); on `qemu:///session` with
 * the tiny TCG guest they must be the host's own (CPU map from /sys, counters from /proc/stat,
 * vCPU thread times growing) and the guest's (NMI injected, title kept in the live and
 * persistent XML, time refused without an agent channel, mdev creation refused by name).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
} from "../testing/rpc/harness.ts";
import { parseCpuList } from "../host/facts.ts";

const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

/** vcpuinfo's CPU time follows the clock in libvirt's test driver: compare without it. */
const maskTime = (s: string): string => s.replace(/CPU time:\s+\d+\.\ds/g, "CPU time: X");

test(
  "test:///default through tvirtd: stock virsh and python3-libvirt see libvirt's test driver",
  { timeout: 90_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const py = pythonLibvirtOrSkip(t);
    if (!py) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-fleetmisc-"));
    const sock = join(dir, "sock");
    const daemon = await spawnDaemon(["--listen", sock, "--uri", "test:///default"], [sock]);
    try {
      const uri = `test+unix:///default?socket=${sock}`;
      for (const cmd of [
        ["nodecpumap"],
        ["nodecpumap", "--pretty"],
        ["nodecpustats"],
        ["nodecpustats", "0"],
        ["vcpuinfo", "test"],
        ["vcpuinfo", "test", "--pretty"],
        ["desc", "test"],
        ["desc", "test", "--title"],
        ["domtime", "test"],
        ["inject-nmi", "test"],
        ["domifaddr", "test"],
        ["domifaddr", "test", "--source", "lease"],
        ["domifaddr", "test", "--source", "arp"],
      ]) {
        const ours = await run(virsh, ["-c", uri, ...cmd], { env, timeoutMs: 30_000 });
        const theirs = await run(virsh, ["-c", "test:///default", ...cmd], { env, timeoutMs: 30_000 });
        assert.equal(maskTime(ours.stdout), maskTime(theirs.stdout), cmd.join(" "));
        assert.equal(ours.stderr, theirs.stderr, cmd.join(" "));
        assert.equal(ours.code, theirs.code, cmd.join(" "));
      }
      const script = `
import libvirt, sys
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
assert c.getCPUMap() == (8, [True, False, True, False, True, False, False, False], 3), c.getCPUMap()
assert c.getCPUStats(-1) == {"user": 9797400000, "kernel": 34678723400000, "idle": 87264900000, "iowait": 763600000}, c.getCPUStats(-1)
d = c.lookupByName("test")
info, maps = d.vcpus()
assert [(v[0], v[1], v[3]) for v in info] == [(0, 1, 15), (1, 1, 15)], info
assert all(len(m) == 8 and all(m) for m in maps), maps
try:
    d.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None)
    raise SystemExit("title found before it was set")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA, e
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, "web server", None, None, libvirt.VIR_DOMAIN_AFFECT_LIVE)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, "line 1\\nline 2", None, None, libvirt.VIR_DOMAIN_AFFECT_LIVE)
assert d.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None) == "web server"
assert "<title>web server</title>" in d.XMLDesc(0)
assert "<description>line 1\\nline 2</description>" in d.XMLDesc(0)
try:
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, "a\\nb", None, None, 0)
    raise SystemExit("a title with a newline was taken")
except libvirt.libvirtError as e:
    assert "newlines" in str(e), e
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None, None, None, 0)
assert "<title>" not in d.XMLDesc(0)
d.injectNMI()
assert d.getTime() == {"seconds": 627319920, "nseconds": 0}, d.getTime()
d.setTime({"seconds": 1, "nseconds": 0})
addrs = d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)
assert addrs == {"testnet0": {"hwaddr": "aa:bb:cc:dd:ee:ff", "addrs": [{"type": 0, "addr": "192.168.122.3", "prefix": 24}]}}, addrs
cb = c.nodeDeviceEventRegisterAny(None, libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, lambda *a: None, None)
c.nodeDeviceEventDeregisterAny(cb)
try:
    c.nodeDeviceEventDeregisterAny(cb)
    raise SystemExit("deregistered twice")
except libvirt.libvirtError:
    pass
print("ok")
`;
      const r = await run(py, ["-c", script, uri], { env, timeoutMs: 30_000 });
      assert.equal(r.stdout.trim(), "ok", r.stderr);
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "qemu:///session through tvirtd: host CPU map and counters, vCPU threads, NMI, title, refusals",
  { timeout: 150_000 },
  async (t) => {
    const py = pythonLibvirtOrSkip(t);
    if (!py) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-fleetmisc-q-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const xmlPath = join(dir, "g.xml");
    writeFileSync(
      xmlPath,
      guestDomainXML({ name: "fm", mode: "counter", kernel: guest.kernel, initrd: guest.initrd }),
    );
    const daemon = await spawnDaemon(["--session", "--listen", sock, "--uri", "qemu:///session"], [sock], {
      env: daemonEnv,
    });
    try {
      const online = parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
      const script = `
import libvirt, sys, time, json
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
n, cpumap, nonline = c.getCPUMap()
out = {"cpus": n, "online": [i for i, b in enumerate(cpumap) if b], "nonline": nonline}
def total():
    f = open("/proc/stat").readline().split()
    return (int(f[1]) + int(f[2])) * 10000000
before = total()
s = c.getCPUStats(-1)
after = total()
out["stats_ok"] = before <= s["user"] <= after and s["kernel"] > 0 and s["idle"] > 0
try:
    c.getCPUStats(100000)
    out["badcpu"] = "accepted"
except libvirt.libvirtError as e:
    out["badcpu"] = str(e)
d = c.defineXML(open(sys.argv[2]).read())
d.create()
try:
    info1, maps = d.vcpus()
    time.sleep(2)
    info2, _ = d.vcpus()
    out["nvcpus"] = len(info1)
    out["states"] = [v[1] for v in info2]
    out["time_grows"] = info2[0][2] >= info1[0][2] and info2[0][2] > 0
    out["cpu_valid"] = all(0 <= v[3] < n for v in info2)
    out["affinity_any"] = all(any(m) for m in maps)
    d.injectNMI()
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, "fleet", None, None, libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    out["title_live"] = d.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    out["title_config"] = "<title>fleet</title>" in d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    try:
        d.setTime({"seconds": 1, "nseconds": 0})
        out["settime"] = "accepted"
    except libvirt.libvirtError as e:
        out["settime"] = str(e)
    out["lease"] = d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)
    out["arp"] = d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP)
finally:
    d.destroy()
out["computer_active"] = c.nodeDeviceLookupByName("computer").isActive()
try:
    c.nodeDeviceCreateXML("<device><name>x</name><parent>computer</parent><capability type='mdev'><type id='nvidia-11'/></capability></device>", 0)
    out["mdev"] = "accepted"
except libvirt.libvirtError as e:
    out["mdev"] = str(e)
cb = c.nodeDeviceEventRegisterAny(None, libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, lambda *a: None, None)
c.nodeDeviceEventDeregisterAny(cb)
d.undefine()
print(json.dumps(out))
`;
      const r = await run(py, ["-c", script, uri, xmlPath], { env, timeoutMs: 100_000 });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      t.diagnostic(r.stdout.trim());
      assert.deepEqual(out.online, online);
      assert.equal(out.nonline, online.length);
      assert.equal(out.stats_ok, true);
      assert.match(String(out.badcpu), /Invalid cpuNum/);
      assert.equal(out.nvcpus, 1);
      assert.deepEqual(out.states, [1]);
      assert.equal(out.time_grows, true);
      assert.equal(out.cpu_valid, true);
      assert.equal(out.affinity_any, true);
      assert.equal(out.title_live, "fleet");
      assert.equal(out.title_config, true);
      assert.match(String(out.settime), /QEMU guest agent is not configured/);
      assert.deepEqual(out.lease, {});
      assert.deepEqual(out.arp, {});
      assert.equal(out.computer_active, 1);
      assert.match(String(out.mdev), /mdev|mediated/);
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
