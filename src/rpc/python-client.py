"""python3-libvirt client used by the interop test (src/rpc/interop.test.ts).

    python3 python-client.py URI DOMAIN_XML_FILE

Opens URI, lists all domains, defines the domain, starts it, reads info/state/XML, receives the
lifecycle events of all that through an event loop callback, destroys and undefines it, and
checks the error of a failed lookup. Prints one line per step; the test compares the output for
tvirtd with the output for test:///default in this process (CPU time masked).
"""
import sys
import threading
import time

import libvirt

uri, xml_file = sys.argv[1], sys.argv[2]
libvirt.registerErrorHandler(lambda ctx, err: None, None)
libvirt.virEventRegisterDefaultImpl()


def run_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=run_loop, daemon=True).start()

conn = libvirt.open(uri)
print("type", conn.getType())
print("lib version", conn.getLibVersion())
print("domains", sorted(d.name() for d in conn.listAllDomains()))

events = []
arrived = threading.Event()


def lifecycle(_conn, dom, event, detail, _opaque):
    events.append((dom.name(), event, detail, time.monotonic()))
    if len(events) >= 4:
        arrived.set()


cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)

with open(xml_file) as f:
    dom = conn.defineXML(f.read())
print("defined", dom.name(), dom.ID(), dom.isPersistent(), dom.isActive())
t_create = time.monotonic()
dom.create()
print("created", dom.ID() > 0, dom.isActive())
state, maxmem, mem, vcpus, cputime = dom.info()
print("info", state, maxmem, mem, vcpus, cputime > 0)
print("state", dom.state())
print("xml has name", "<name>%s</name>" % dom.name() in dom.XMLDesc(0))
print("by uuid", conn.lookupByUUIDString(dom.UUIDString()).name())
dom.destroy()
print("destroyed", dom.ID(), dom.state())
dom.undefine()
print("undefined", sorted(d.name() for d in conn.listAllDomains()))
arrived.wait(5)
print("events", [(n, e, d) for (n, e, d, _) in events])
latency = max(0.0, events[1][3] - t_create) if len(events) > 1 else 99
print("start event within 100 ms", latency < 0.1)
conn.domainEventDeregisterAny(cb)
try:
    conn.lookupByName("nosuchdomain")
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
conn.close()
print("closed")
