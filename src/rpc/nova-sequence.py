"""Nova's libvirt driver calls, in Nova's order, against tvirtd (driven by nova-sequence.test.ts).

argv: URI DIR DOMAIN_XML UUID. Every step records what it saw in one JSON object printed on
stdout at the end; the test asserts on it. Progress goes to stderr.
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import libvirt
import libvirt_qemu

uri, d, dom_xml_path, uuid = sys.argv[1:5]
serial = os.path.join(d, "serial.log")
out = {}
T0 = time.time()


def log(msg):
    sys.stderr.write("[%5.1fs] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


def serial_size():
    try:
        return os.path.getsize(serial)
    except OSError:
        return 0


def wait_serial(pattern, start=0, timeout=60):
    """Waits for the guest to print a line matching pattern after byte offset start."""
    rx = re.compile(pattern)
    until = time.time() + timeout
    while True:
        with open(serial, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
        m = rx.search(text)
        if m:
            return m
        if time.time() > until:
            raise RuntimeError("guest did not print %r; tail: %r" % (pattern, text[-400:]))
        time.sleep(0.25)


def err(fn):
    try:
        fn()
        return "accepted"
    except libvirt.libvirtError as e:
        return [e.get_error_code(), e.get_error_message()]


conn = libvirt.open(uri)

# --- 1. the host report (Host.get_capabilities, get_online_cpus, _get_cpu_info, pci devices) --
log("host report")
n, cpumap, online = conn.getCPUMap()
caps = conn.getCapabilities()
host_cpu = ET.fromstring(caps).find("./host/cpu")
host_cpu_xml = ET.tostring(host_cpu, encoding="unicode")
baseline = conn.baselineCPU([host_cpu_xml], libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
caps_root = ET.fromstring(caps)
out["host"] = {
    "cpumap": [n, cpumap, online],
    "info": conn.getInfo(),
    "caps_arch": caps_root.findtext("./host/cpu/arch"),
    "caps_model": caps_root.findtext("./host/cpu/model"),
    "caps_features": sorted(f.get("name") for f in caps_root.findall("./host/cpu/feature")),
    "caps_topology": (caps_root.find("./host/cpu/topology").attrib
                      if caps_root.find("./host/cpu/topology") is not None else None),
    "caps_uuid": caps_root.findtext("./host/uuid"),
    "caps_guests": sorted(
        "%s/%s/%s" % (g.findtext("os_type"), g.find("arch").get("name"), dt.get("type"))
        for g in caps_root.findall("./guest")
        for dt in g.findall("./arch/domain")
    ),
    "baseline": baseline,
    "compare": conn.compareCPU(host_cpu_xml, 0),
    "devices": sorted(x.name() for x in conn.listAllDevices(0)),
    "pci": sorted(x.name() for x in conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)),
    "version": conn.getVersion(),
    "libversion": conn.getLibVersion(),
    "hostname": conn.getHostname(),
}

# --- 2. spawn: defineXML, createWithFlags, lookupByUUIDString, info, vcpus, XMLDesc ----------
log("spawn")
with open(dom_xml_path) as f:
    dom_xml = f.read()
conn.defineXML(dom_xml)
conn.lookupByName("nova").createWithFlags(0)
dom = conn.lookupByUUIDString(uuid)
info = dom.info()
vcpus = dom.vcpus()
live = dom.XMLDesc(0)
out["spawn"] = {
    "uuid": dom.UUIDString(),
    "name": dom.name(),
    "id": dom.ID(),
    "info": info,
    "vcpus": [[list(v) for v in vcpus[0]], [list(m) for m in vcpus[1]]],
    "persistent": dom.isPersistent(),
    "max_memory": dom.maxMemory(),
    "managed_save": dom.hasManagedSaveImage(0),
    "conn_type": conn.getType(),
    "xml_disk": "<source file='%s' index=" % os.path.join(d, "disk.qcow2") in live
    or "<source file='%s'/>" % os.path.join(d, "disk.qcow2") in live,
    "xml_agent": bool(re.search(r"<target type='virtio' name='org\.qemu\.guest_agent\.0'", live)),
}
wait_serial(r"TVIRT-GUEST-MOUNTED vda", 0, 90)
wait_serial(r"DISK vdb 32768\r?\n", 0, 60)


def agent(cmd, args=None, timeout=30):
    c = {"execute": cmd}
    if args is not None:
        c["arguments"] = args
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(c), timeout, 0))["return"]


until = time.time() + 60
while True:
    try:
        out["ping"] = agent("guest-ping", timeout=5)
        break
    except libvirt.libvirtError:
        if time.time() > until:
            raise
        time.sleep(0.5)
log("agent connected")


def guest_write(path, data):
    h = agent("guest-file-open", {"path": path, "mode": "w"})
    agent("guest-file-write", {"handle": h, "buf-b64": base64.b64encode(data).decode()})
    agent("guest-file-close", {"handle": h})


def guest_read(path, count):
    h = agent("guest-file-open", {"path": path})
    r = agent("guest-file-read", {"handle": h, "count": count})
    agent("guest-file-close", {"handle": h})
    return base64.b64decode(r["buf-b64"])


# --- 3. live snapshot (driver._live_snapshot) ------------------------------------------------
log("live snapshot")
guest_write("/mnt/nova.txt", b"written by the guest before the snapshot\n")
disk_path = os.path.join(d, "disk.qcow2")
delta = os.path.join(d, "snap.delta")
persistent_xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
snap = {"abort_before": err(lambda: dom.blockJobAbort("vda", 0))}  # Nova ignores this one
src_info = json.loads(subprocess.check_output(
    ["qemu-img", "info", "-U", "--output=json", disk_path]))
back = src_info["full-backing-filename"]
subprocess.check_call(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                       "backing_file=%s,backing_fmt=qcow2,size=%d" % (back, src_info["virtual-size"]),
                       delta])
snap["frozen"] = dom.fsFreeze()  # _set_quiesced(True)
if dom.isPersistent():
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
snap["persistent_during"] = dom.isPersistent()
dom.blockRebase("vda", delta, 0, libvirt.VIR_DOMAIN_BLOCK_REBASE_COPY
                | libvirt.VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT | libvirt.VIR_DOMAIN_BLOCK_REBASE_SHALLOW)
polls = 0
while True:  # BlockDevice.is_job_complete
    status = dom.blockJobInfo("vda", 0)
    polls += 1
    if not status or (status["end"] != 0 and status["cur"] == status["end"]):
        break
    time.sleep(0.5)
snap["job"] = status
snap["polls"] = polls
snap["mirror_ready"] = bool(re.search(
    r"<mirror type='file' file='%s' format='qcow2' job='copy' ready='yes'" % re.escape(delta), dom.XMLDesc(0)))
dom.blockJobAbort("vda", 0)
snap["job_after"] = dom.blockJobInfo("vda", 0)
after = dom.XMLDesc(0)
snap["source_after"] = re.search(r"<disk type='file' device='disk'>.*?<source file='([^']*)'", after, re.S).group(1)
snap["mirror_after"] = "<mirror" in after
# while frozen, the copy holds exactly what the guest's disk holds
cmp = subprocess.run(["qemu-img", "compare", "-U", "-f", "qcow2", "-F", "qcow2", disk_path, delta],
                     capture_output=True, text=True)
snap["compare"] = [cmp.returncode, cmp.stdout.strip()]
conn.defineXML(persistent_xml)  # write_instance_config
snap["persistent_after"] = dom.isPersistent()
snap["thawed"] = dom.fsThaw()
out["snapshot"] = snap

# --- 4. volume extend (driver.extend_volume -> BlockDevice.resize) ----------------------------
log("extend")
start = serial_size()
dom.blockResize("vdb", 24 * 1024 * 1024, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
wait_serial(r"DISK vdb 49152\r?\n", start, 30)
out["extend"] = {"blockstats": list(dom.blockStats("vdb")), "guest_sectors": 49152}

# --- 5. a secret for an encrypted volume (and one for Ceph), a LUKS disk attached -------------
log("secret + luks")
vol_id = "3f0a7e7c-0c5b-4d8e-9f39-5a1e2b6c7d11"
passphrase = sys.argv[5]
sec = conn.secretDefineXML(
    "<secret ephemeral='no' private='no'><usage type='volume'><volume>%s</volume></usage></secret>" % vol_id)
sec.setValue(passphrase.encode())
ceph = conn.secretDefineXML(
    "<secret ephemeral='no' private='no'><usage type='ceph'><name>client.nova secret</name></usage></secret>")
ceph.setValue(b"AQBzq2lg-ceph-key")
by_usage = conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, vol_id)
by_ceph = conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "client.nova secret")
luks_path = os.path.join(d, "vol.luks")
disk_xml = """<disk type='file' device='disk'>
  <driver name='qemu' type='raw' cache='none'/>
  <source file='%s'/>
  <target dev='vdc' bus='virtio'/>
  <serial>%s</serial>
  <encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption>
</disk>""" % (luks_path, vol_id, sec.UUIDString())
start = serial_size()
dom.attachDeviceFlags(disk_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
wait_serial(r"DISK vdc 16384\r?\n", start, 30)
head = guest_read("/dev/vdc", 4096)
out["luks"] = {
    "secret_uuid": sec.UUIDString(),
    "by_usage": by_usage.UUIDString(),
    "value": sec.value().decode(),
    "ceph_uuid": ceph.UUIDString(),
    "by_ceph": by_ceph.UUIDString(),
    "ceph_value": by_ceph.value().decode(),
    "ceph_usage": [ceph.usageType(), ceph.usageID()],
    "secrets": sorted(s.UUIDString() for s in conn.listAllSecrets(0)),
    "guest_sees": True,
    "guest_head": sorted(set(head)),
    "guest_head_len": len(head),
    "live": "<target dev='vdc' bus='virtio'/>" in dom.XMLDesc(0),
    "config": "<target dev='vdc' bus='virtio'/>" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE),
}

# --- 6. guest agent: set_admin_password, quiesce, ping ----------------------------------------
log("agent")
shadow_before = guest_read("/etc/shadow", 4096).decode()
dom.setUserPassword("root", "n0va-Secret", 0)
shadow_after = guest_read("/etc/shadow", 4096).decode()
ag = {
    "shadow_before": re.search(r"^root:([^:]*):", shadow_before, re.M).group(1),
    "shadow_after": re.search(r"^root:([^:]*):", shadow_after, re.M).group(1),
    "freeze": dom.fsFreeze(),
    "status_frozen": agent("guest-fsfreeze-status"),
    "thaw": dom.fsThaw(),
    "status_thawed": agent("guest-fsfreeze-status"),
    "ping": json.loads(libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 10, 0)),
}
try:
    import warnings
    warnings.simplefilter("ignore")
    import crypt
    ag["password_ok"] = crypt.crypt("n0va-Secret", ag["shadow_after"]) == ag["shadow_after"]
except ImportError:
    ag["password_ok"] = None
out["agent"] = ag

# --- 7. teardown (driver.destroy -> _undefine_domain) -----------------------------------------
log("teardown")
dom.destroy()
out["teardown"] = {
    "state_after_destroy": dom.info()[0],
    "undefine": dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                  | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                                  | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM),
    "lookup": err(lambda: conn.lookupByUUIDString(uuid)),
    "domains": [x.name() for x in conn.listAllDomains(0)],
}
log("done")
print(json.dumps(out))
