"""Drives the real virt-manager through AT-SPI with dogtail, as virt-manager's own UI tests do.

    python3 virt-manager-driver.py PHASE URI OUT_DIR VM [OPTIONS_JSON]

Runs in the X display and D-Bus session of its environment (the test starts Xvfb, a session
bus and so the AT-SPI bus). Starts `virt-manager --debug --no-fork --connect URI`, runs the steps
of PHASE (`local`, `ssh`, or `spice`: VM's SPICE console; `ssh` also opens the SPICE console of
OPTIONS' spice_vm, `local` compares VM's CPU graph with OPTIONS' stopped_vm's), checks each one through the UI and through python3-libvirt (an
independent client of the same daemon), and prints one JSON line per step:
{"step": NAME, "ok": true, ...facts}. A failed step prints {"ok": false, "error": ...}, saves a
picture of the screen and exits 1. Pictures (`import -window root`) go to OUT_DIR.
Used by src/rpc/virt-manager.e2e.test.ts.
"""
import json
import os
import re
import subprocess
import sys
import time
import traceback

import dogtail.config

dogtail.config.config.checkForA11y = False  # the bus is ours; no gsettings to read
dogtail.config.config.logDebugToFile = False
dogtail.config.config.searchShowingOnly = False
dogtail.config.config.actionDelay = 0.2
dogtail.config.config.defaultDelay = 0.2
dogtail.config.config.typingDelay = 0.02
dogtail.config.config.searchCutoffCount = 3
dogtail.config.config.searchBackoffDuration = 0.2
import dogtail.rawinput  # noqa: E402
import dogtail.tree  # noqa: E402
import libvirt  # noqa: E402
import pyatspi  # noqa: E402

PHASE, URI, OUT, VM = sys.argv[1:5]
OPTS = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
os.makedirs(OUT, exist_ok=True)
LOG = open(os.path.join(OUT, f"virt-manager-{PHASE}.log"), "w")
proc = None
app = None
conn = None
current = "start"


def emit(**kw):
    print(json.dumps(kw), flush=True)


def shot(name):
    path = os.path.join(OUT, name + ".png")
    subprocess.run(["import", "-window", "root", path], check=True, timeout=30)
    return path


def wait(pred, timeout=30, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # the tree changes under us; try again
            last = e
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" ({last})" if last else ""))


def tag():
    """Pictures' name prefix: the phase, and the guest when a step runs on another one."""
    return PHASE if VM == sys.argv[4] else f"{PHASE}-{VM}"


def showing(node):
    try:
        return node.showing
    except Exception:
        return False


def find(parent, name=None, role=None, timeout=20, visible=True):
    """The first descendant whose name matches regex `name` (whole) and role `role`."""
    rx = re.compile(name, re.S) if name is not None else None

    def pred(n):
        try:
            if role is not None and n.roleName != role:
                return False
            if rx is not None and not rx.fullmatch(n.name or ""):
                return False
            return not visible or n.showing
        except Exception:
            return False

    return wait(lambda: parent.findChild(pred, retry=False, requireResult=False), timeout,
                f"{role or 'node'} {name!r} in {parent.name!r}")


def dump_tree(path):
    """The showing part of the app's accessible tree, for a failure's report."""
    lines = []

    def walk(n, depth):
        try:
            if depth > 0 and not n.showing:
                return
            text = getattr(n, "text", None) if n.roleName in ("text", "spin button", "label") else None
            lines.append("  " * depth + f"[{n.roleName}] {n.name!r}" + (f" text={text!r}" if text else ""))
            for c in n.children:
                walk(c, depth + 1)
        except Exception:
            pass

    walk(app, 0)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def windows():
    return [(w.roleName, w.name) for w in app.children if showing(w)]


def error_dialogs():
    """virt-manager's error and warning dialogs (GtkMessageDialog: role alert) with their text."""
    out = []
    for w in app.children:
        if not showing(w) or w.roleName != "alert":
            continue
        texts = [n.name for n in w.findChildren(lambda n: n.roleName == "label" and bool(n.name))]
        out.append(" | ".join(texts))
    return out


def assert_no_error(where):
    errs = error_dialogs()
    if errs:
        raise AssertionError(f"error dialog after {where}: {errs}")


def answer_alert(button, expect=None, timeout=5):
    """Answers a confirmation (alert) if one comes up; returns its text or None."""
    end = time.time() + timeout
    while time.time() < end:
        for w in app.children:
            if showing(w) and w.roleName == "alert":
                text = " | ".join(n.name for n in w.findChildren(lambda n: n.roleName == "label" and bool(n.name)))
                if expect and not re.search(expect, text):
                    raise AssertionError(f"unexpected dialog: {text}")
                find(w, button, "push button").click()
                wait(lambda: not showing(w), 10, "the dialog to close")
                return text
        time.sleep(0.2)
    return None


def menu_item(win, path):
    """Clicks through a menu path (menu names, then the item) with the pointer, as a user does.

    (AT-SPI's "click" action would block while a modal confirmation it opens is up.)"""
    node = win
    for i, part in enumerate(path):
        last = i == len(path) - 1
        node = find(node, re.escape(part), "menu item" if last else "menu", visible=False)
        if last:
            wait(lambda: node.sensitive, 20, f"menu item {' > '.join(path)} to be sensitive")
        if i > 0:
            wait(lambda: node.showing, 10, f"{' > '.join(path[: i + 1])} to show")
        node.click()
    return node


def set_value(node, v):
    """Sets a spin button through AT-SPI's Value interface (its adjustment), and checks it."""
    node.value = v
    wait(lambda: abs(float(node.text.replace(",", ".")) - v) < 1e-6, 5,
         f"{node.name or node.roleName} to read {v} (reads {node.text!r})")


def type_into(node, text):
    """Replaces a field's text by typing, as a user does (spin buttons take typed values only
    when they lose the focus), and checks it took."""
    node.click()
    dogtail.rawinput.keyCombo("<ctrl>a")
    dogtail.rawinput.typeText(text)
    dogtail.rawinput.pressKey("Tab")
    wait(lambda: node.text == text or node.text.replace(",", ".") == text, 5,
         f"{node.name or node.roleName} to read {text!r} (reads {node.text!r})")


def press(node):
    """Presses a button through AT-SPI's action: windows overlap without a window manager, so
    the pointer could land on another one (only for buttons that open no modal dialog)."""
    node.doActionNamed("click" if "click" in node.actions else "activate")


def dom_state(name):
    d = conn.lookupByName(name)
    return d.state()[0]


STATE_NAMES = {
    libvirt.VIR_DOMAIN_RUNNING: "Running",
    libvirt.VIR_DOMAIN_PAUSED: "Paused",
    libvirt.VIR_DOMAIN_SHUTOFF: "Shutoff",
}


def manager():
    return find(app, "Virtual Machine Manager", "frame")


def vm_row(name, state=None):
    """The manager's list cell of `name` ("NAME\\nState")."""
    pat = re.escape(name) + r"\n" + (re.escape(state) if state else ".*")
    return find(manager(), pat, "table cell", timeout=30)


def wait_state(name, state, timeout=60):
    wait(lambda: dom_state(name) == state, timeout, f"{name} to be {STATE_NAMES.get(state, state)} (libvirt)")
    vm_row(name, STATE_NAMES[state])  # and the manager's list says so


def start_app():
    global proc, app
    cmd = ["/usr/bin/python3", "/usr/bin/virt-manager", "--debug", "--no-fork",
           "--test-options=first-run", "--test-options=short-poll", "--connect", URI]
    proc = subprocess.Popen(cmd, stdout=LOG, stderr=subprocess.STDOUT)
    app = wait(lambda: dogtail.tree.root.application("virt-manager"), 60, "virt-manager on the AT-SPI bus")


def stop_app():
    if proc and proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def step(name):
    def deco(fn):
        def run():
            global current
            current = name
            t0 = time.time()
            facts = fn() or {}
            assert_no_error(name)
            emit(step=name, ok=True, seconds=round(time.time() - t0, 1), **facts)

        run.__wrapped__ = fn
        return run

    return deco


# ------------------------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------------------------

@step("connect")
def s_connect():
    m = manager()
    conn_cell = find(m, r"QEMU/KVM.*", "table cell", timeout=30)
    wait(lambda: "Not Connected" not in conn_cell.name and "Connecting" not in conn_cell.name, 30,
         "the connection to be up")
    row = vm_row(VM, "Running")
    return {"connection": conn_cell.name, "row": row.name, "picture": shot(f"{PHASE}-manager")}


def read_ppm(path):
    """(width, height, bytes) of a binary PPM (ImageMagick writes them: no PIL here)."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise AssertionError(f"{path}: not an 8-bit P6 PPM")
    return int(fields[1]), int(fields[2]), data[pos + 1:]


# the sparkline's line colour (virtManager/lib/graphwidgets.py: rgb 0.42, 0.64, 0.73)
SPARK_LINE = (108, 164, 187)


def graph_pixels(ppm, box):
    """Pixels of the sparkline's line colour in `box` (x, y, w, h) of a screen picture."""
    width, height, px = ppm
    x0, y0, w, h = box
    n = 0
    for y in range(max(0, y0), min(height, y0 + h)):
        for x in range(max(0, x0), min(width, x0 + w)):
            i = (y * width + x) * 3
            if all(abs(px[i + c] - SPARK_LINE[c]) <= 40 for c in range(3)):
                n += 1
    return n


@step("cpugraph")
def s_cpugraph():
    """The list's CPU usage column draws each running guest's sparkline from the stats polling
    (virDomainGetInfo's cpuTime, every 0.1 s with --test-options=short-poll): the running guest's
    cell has line pixels above the graph's baseline, the stopped guest's has none."""
    stopped = OPTS["stopped_vm"]
    m = manager()
    header = find(m, "CPU usage", "table column header")
    (hx, _), (hw, _) = header.position, header.size
    vm_row(stopped, "Shutoff")
    cells = {}
    for name in (VM, stopped):
        (_, y), (_, h) = vm_row(name).position, vm_row(name).size
        # inside the graph's frame, above its baseline (a 0 % point lies on it: 6 px up)
        cells[name] = (hx + 4, y + 4, hw - 8, h - 10)
    counts = {}

    def active():
        pic = shot(f"{PHASE}-cpu-graph")
        ppm = pic + ".ppm"
        subprocess.run(["convert", pic, ppm], check=True, timeout=30)
        pix = read_ppm(ppm)
        counts.update({n: graph_pixels(pix, b) for n, b in cells.items()})
        return counts[VM] >= 3

    time.sleep(3)  # 30 polls
    wait(active, 30, f"{VM}'s CPU graph to show activity ({counts})")
    if counts[stopped] != 0:
        raise AssertionError(f"the stopped {stopped}'s CPU graph has line pixels: {counts}")
    dom = conn.lookupByName(VM)
    return {"line_pixels": counts, "cells": cells, "cpu_time_ns": dom.info()[4],
            "picture": os.path.join(OUT, f"{PHASE}-cpu-graph.png")}


def vm_window(name):
    """The guest's window, opened from the manager (Open) unless it is open already."""
    for w in app.children:
        if showing(w) and w.roleName == "frame" and re.fullmatch(re.escape(name) + " on .*", w.name):
            return w
    return open_vm_window(name)


def open_vm_window(name):
    def selected():
        # a click while the list refreshes (a new connection's first poll) can be lost: again
        row = vm_row(name)
        if not row.getState().contains(pyatspi.STATE_SELECTED):
            row.click()
            time.sleep(0.5)
        return row.getState().contains(pyatspi.STATE_SELECTED)

    wait(selected, 20, f"{name} selected")
    press(find(manager(), "Open", "push button"))
    return find(app, re.escape(name) + " on .*", "frame", timeout=30)


@step("details")
def s_details():
    win = open_vm_window(VM)
    find(win, "Details", "radio button").click()
    hw = find(win, "hw-list", "table")
    pages = []
    for cell in hw.findChildren(lambda n: n.roleName == "table cell" and bool(n.name)):
        cell.click()
        time.sleep(0.4)
        assert_no_error(f"details page {cell.name}")
        pages.append(cell.name)
    if len(pages) < 8:
        raise AssertionError(f"too few details pages: {pages}")
    shot(f"{PHASE}-details")
    find(win, "Console", "radio button").click()
    return {"pages": pages}


def vm_menu(win, *path):
    menu_item(win, ["Virtual Machine", *path])


@step("lifecycle")
def s_lifecycle():
    win = vm_window(VM)
    serial = OPTS.get("serial")

    def boots():
        return open(serial).read().count("GUEST-BOOTED") if serial else 0

    wait(lambda: boots() >= 1, 120, "the guest's first boot (serial log)")
    done = []
    vm_menu(win, "Pause")
    answer_alert("Yes", "Are you sure")
    wait_state(VM, libvirt.VIR_DOMAIN_PAUSED)
    done.append("pause")
    vm_menu(win, "Resume")
    wait_state(VM, libvirt.VIR_DOMAIN_RUNNING)
    done.append("resume")
    # the tiny guest listens to ACPI once it says TVIRT-GUEST-READY
    wait(lambda: "TVIRT-GUEST-READY" in open(serial).read(), 120, "the guest to be ready")
    before = boots()
    vm_menu(win, "Shut Down", "Reboot")
    answer_alert("Yes", "Are you sure")
    wait(lambda: boots() > before, 120, "the guest to boot again after Reboot")
    wait_state(VM, libvirt.VIR_DOMAIN_RUNNING)
    done.append("reboot")
    wait(lambda: open(serial).read().count("TVIRT-GUEST-READY") > before, 120, "the guest to be ready again")
    vm_menu(win, "Shut Down", "Shut Down")
    answer_alert("Yes", "Are you sure")
    wait_state(VM, libvirt.VIR_DOMAIN_SHUTOFF, 90)
    done.append("shutdown")
    vm_menu(win, "Run")
    wait_state(VM, libvirt.VIR_DOMAIN_RUNNING)
    done.append("run")
    vm_menu(win, "Shut Down", "Force Off")
    answer_alert("Yes", "Are you sure")
    wait_state(VM, libvirt.VIR_DOMAIN_SHUTOFF)
    done.append("force-off")
    vm_menu(win, "Run")
    wait_state(VM, libvirt.VIR_DOMAIN_RUNNING)
    done.append("run")
    return {"done": done}


class Console:
    """A guest's serial console through the daemon (virDomainOpenConsole), read by a thread."""

    def __init__(self, dom):
        import threading

        self.buf = b""
        self.stream = conn.newStream(0)
        dom.openConsole(None, self.stream, 0)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                d = self.stream.recv(4096)
                if not d or not isinstance(d, bytes):
                    return
                self.buf += d
        except Exception:
            return

    def text(self):
        return self.buf.decode("utf-8", "replace")

    def close(self):
        try:
            self.stream.abort()
        except Exception:
            pass


@step("newvm")
def s_newvm():
    name = OPTS.get("newvm", "newvm")
    press(find(manager(), "New", "push button"))
    w = find(app, "New VM", "frame", timeout=30)
    page = find(w, "pagenum-label")

    def forward():
        old = page.text
        press(find(w, "Forward", "push button"))
        wait(lambda: page.text != old, 20, f"the wizard to leave {old!r}")

    find(w, "Manual install", "radio button").click()
    forward()
    os_entry = find(w, "oslist-entry", "text")
    os_entry.click()
    os_entry.typeText("generic")
    pop = find(app, "oslist-popover", timeout=20)
    find(pop, r"(?i)generic.*", "table cell").click()
    wait(lambda: "Generic" in os_entry.text, 10, "Generic OS selected")
    forward()
    spins = wait(lambda: [n for n in w.findChildren(lambda n: n.roleName == "spin button") if n.showing], 10,
                 "the memory and CPU fields")
    for sp in spins:  # the CPU count is named, the memory is not
        set_value(sp, 1 if sp.name == "cpus" else 128)
    forward()
    size = wait(lambda: [n for n in w.findChildren(lambda n: n.roleName == "spin button") if n.showing][0], 10,
                "the disk size")
    set_value(size, 0.1)
    forward()
    summary = [n.name for n in w.findChildren(lambda n: n.roleName == "label" and n.showing)]
    for want in ("128 MiB", "0.1 GiB"):
        if want not in summary:
            raise AssertionError(f"the wizard's summary lacks {want}: {summary}")
    name_entry = wait(lambda: [n for n in w.findChildren(lambda n: n.roleName == "text") if n.showing][0], 10,
                      "the name field")
    type_into(name_entry, name)
    boot = OPTS.get("newvm_kernel")  # {"kernel", "initrd", "args"}: boot the test guest's OS
    if boot:
        find(w, "Customize configuration before install", "check box").click()
    press(find(w, "Network selection", "toggle button"))
    combo = find(w, "net-source", "combo box", timeout=10)
    # the choices (the selected one is checked in the XML below)
    chosen = [n.name for n in combo.findChildren(lambda n: n.roleName == "menu item" and "default" in n.name)]
    if not chosen:
        raise AssertionError("the wizard offers no 'default' network: " +
                             repr([n.name for n in combo.findChildren(lambda n: n.roleName == "menu item")]))
    find(w, "Finish", "push button").click()
    console = None
    if boot:
        # the customize window (virt-manager is busy building it: AT-SPI calls time out a while)
        cw = find(app, re.escape(name) + " on .*", "frame", timeout=60)
    assert_no_error("the wizard's Finish")
    if boot:
        # Boot Options > Direct kernel boot, Apply, Begin Installation
        find(find(cw, "hw-list", "table"), "Boot Options", "table cell").click()
        expander = find(cw, r"(<b>)?Direct kernel boot(</b>)?|boot-kernel-expander", "toggle button",
                        visible=False)

        def expanded():
            hits = cw.findChildren(lambda n: n.roleName == "check box" and
                                   n.name == "Enable direct kernel boot" and n.showing)
            if not hits:
                press(expander)  # (again: a press while the page is still being built is lost)
                time.sleep(1)
            return hits

        enable = wait(expanded, 20, "the Direct kernel boot expander to open")[0]
        if not enable.checked:
            press(enable)
        wait(lambda: enable.checked, 5, "Enable direct kernel boot to be checked")
        # the entries have no names: the kernel's and the initrd's sit beside their Browse
        # buttons, the arguments' is the box's own
        kbox = find(cw, "kernel-browse", "push button").parent
        ibox = find(cw, "initrd-browse", "push button").parent

        def entry_of(box):
            return [c for c in box.children if c.roleName == "text"][0]

        for entry, value in ((entry_of(kbox), boot["kernel"]), (entry_of(ibox), boot["initrd"]),
                             (entry_of(kbox.parent), boot["args"])):
            entry.text = value
            wait(lambda: entry.text == value, 5, f"an entry to read {value!r}")
        apply = find(cw, "config-apply|Apply", "push button")
        wait(lambda: apply.sensitive, 10, "Apply to be sensitive")
        press(apply)
        wait(lambda: not apply.sensitive, 10, "Apply to take the boot options")
        assert_no_error("Apply of the boot options")
        press(find(cw, "Begin Installation", "push button"))
        assert_no_error("Begin Installation")
        # the guest's serial console, read from as soon as it exists (through the daemon)
        wait(lambda: name in [d.name() for d in conn.listAllDomains()], 120, f"{name} defined")
        wait_state(name, libvirt.VIR_DOMAIN_RUNNING, 120)
        console = Console(conn.lookupByName(name))
    wait(lambda: name in [d.name() for d in conn.listAllDomains()], 120, f"{name} defined")
    wait_state(name, libvirt.VIR_DOMAIN_RUNNING, 120)
    xml = conn.lookupByName(name).XMLDesc()
    if "<source network='default'" not in xml:
        raise AssertionError(f"{name} is not on the default network: {xml}")
    disk = re.search(r"<disk type='file' device='disk'>.*?<source file='([^']+)'", xml, re.S)
    if not disk:
        raise AssertionError(f"{name} has no file disk: {xml}")
    # its NIC is plugged into the default network's bridge
    bridge = conn.networkLookupByName("default").bridgeName()
    tap = re.search(r"<interface type='network'>.*?<target dev='([^']+)'", xml, re.S)
    ports = json.loads(subprocess.run(["ip", "-j", "link", "show", "master", bridge], check=True,
                                      capture_output=True, text=True).stdout)
    if not tap or tap.group(1) not in [p["ifname"] for p in ports]:
        raise AssertionError(f"{name}'s NIC is not on {bridge}: {tap and tap.group(1)} vs {ports}")
    pool = conn.storagePoolLookupByName("default")
    vol = conn.storageVolLookupByPath(disk.group(1))
    if vol.storagePoolLookupByVolume().name() != "default":
        raise AssertionError(f"{disk.group(1)} is not in the default pool")
    # the wizard leaves the guest's window open on its console, which connects (without
    # `newvm_kernel` the guest has no OS: the firmware's screen)
    nwin = find(app, re.escape(name) + " on .*", "frame", timeout=30)
    item = find(nwin, "Take Screenshot", "menu item", visible=False)
    wait(lambda: item.sensitive, 60, f"{name}'s console to connect")
    time.sleep(1)
    facts = {}
    if boot:
        # the OS booted from the wizard's kernel and initrd: the test guest says so, then lists
        # the disks it sees (the wizard's new volume among them) every 2 s
        if "<kernel>" + boot["kernel"] + "</kernel>" not in xml:
            raise AssertionError(f"{name} has no direct kernel boot: {xml}")
        wait(lambda: "DISKS-END" in console.text(), 180, f"{name}'s OS to list its disks (serial console)")
        facts["serial"] = [ln for ln in console.text().splitlines()
                           if ln.startswith(("TVIRT-GUEST-READY", "DISK"))][:4]
        console.close()
    return {"picture": shot(f"{PHASE}-newvm-console"), "network": chosen[0], "disk": disk.group(1),
            "pool": pool.name(), "tap": tap.group(1), "bridge": bridge, **facts}


@step("delete")
def s_delete():
    name = OPTS.get("newvm", "newvm")
    disk = re.search(r"<source file='([^']+)'", conn.lookupByName(name).XMLDesc()).group(1)
    win = find(app, re.escape(name) + " on .*", "frame")
    vm_menu(win, "Delete")
    d = find(app, "Delete .*", "frame", timeout=30)
    find(d, "Delete", "push button").click()
    answer_alert("Yes", "Are you sure", timeout=10)
    wait(lambda: name not in [x.name() for x in conn.listAllDomains()], 60, f"{name} gone")
    pool = conn.storagePoolLookupByName("default")
    pool.refresh()
    wait(lambda: not os.path.exists(disk), 30, f"{disk} removed")
    vols = pool.listVolumes()
    if os.path.basename(disk) in vols:
        raise AssertionError(f"volume {disk} still in the pool: {vols}")
    return {"removed": disk}


@step("console")
def s_console():
    win = vm_window(VM)
    find(win, "Console", "radio button").click()
    # the console connected: its menus become live (they are insensitive without a viewer)
    item = find(win, "Take Screenshot", "menu item", visible=False)
    wait(lambda: item.sensitive, 60, "the graphical console to connect (Take Screenshot sensitive)")
    time.sleep(2)
    dump_tree(os.path.join(OUT, f"{tag()}-console-tree.txt"))
    facts = {"picture": shot(f"{tag()}-console")}
    if PHASE == "ssh" and VM == OPTS.get("spice_vm"):
        # over qemu+ssh virt-manager opens an ssh tunnel (ssh ... nc HOST PORT) per SPICE channel
        LOG.flush()
        log = open(LOG.name).read()
        facts["spice_over_ssh"] = "Starting connect process for proto=spice trans=ssh" in log
        facts["tunnels"] = log.count("Generated tunnel fd=")
        if not facts["spice_over_ssh"] or facts["tunnels"] < 2:  # the VNC console's, then SPICE's
            raise AssertionError("no SPICE console through ssh tunnels: " + "\n".join(
                ln for ln in log.splitlines() if "pice" in ln or "tunnel" in ln)[-2000:])
    if PHASE == "spice":
        # a local SPICE console asks for each channel's socket with virDomainOpenGraphicsFD
        # (virt-manager logs every request) and never connects to the port itself
        LOG.flush()
        log = open(LOG.name).read()
        facts["fd_requests"] = log.count("Requesting fd for channel")
        if facts["fd_requests"] == 0 or "Spice connecting to host" in log:
            raise AssertionError("the SPICE console did not use OpenGraphicsFD: " +
                                 "\n".join(ln for ln in log.splitlines() if "pice" in ln)[-2000:])
    return facts


@step("screenshot")
def s_screenshot():
    win = find(app, re.escape(VM) + " on .*", "frame")
    vm_menu(win, "Take Screenshot")
    chooser = find(app, "Save Virtual Machine Screenshot", "file chooser", timeout=20)
    path = os.path.join(OUT, f"{tag()}-virt-manager-screenshot.png")
    if os.path.exists(path):  # else the chooser asks whether to replace it
        os.remove(path)
    entry = find(chooser, "", "text")
    entry.text = path  # the name field takes a whole path
    press(find(chooser, "Save", "push button"))
    wait(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 20, f"{path} written")
    # what QEMU itself shows now (QMP screendump through the daemon), to compare with
    import libvirt_qemu

    dump = os.path.join(OUT, f"{tag()}-screendump.ppm")
    libvirt_qemu.qemuMonitorCommand(conn.lookupByName(VM), json.dumps(
        {"execute": "screendump", "arguments": {"filename": dump}}), 0)
    # and the console as it is on the screen: the VNC widget's place, and a picture of the screen
    area = find(win, "console-gfx-viewport", "viewport").findChild(
        lambda n: n.roleName == "drawing area", retry=False)
    (x, y), (w, h) = area.position, area.size
    return {"file": path, "screendump": dump, "screen": shot(f"{tag()}-console-screen"),
            "widget": [x, y, w, h]}


@step("sendkey")
def s_sendkey():
    win = find(app, re.escape(VM) + " on .*", "frame")
    serial = OPTS["serial"]
    # keys pressed before the guest's keyboard driver is up are lost: wait for the current boot
    # (the serial file spans the guest's restarts) to say it is ready

    def ready():
        text = open(serial).read()
        last = text.rfind("TVIRT-GUEST-READY")
        return last > text.rfind("GUEST-BOOTED") and last > text.rfind("Restarting system")

    wait(ready, 120, "the guest to be ready")
    before = open(serial).read().count("Restarting system")
    menu_item(win, ["Send Key", "Ctrl+Alt+Delete"])
    wait(lambda: open(serial).read().count("Restarting system") > before, 60,
         "the guest to restart on Ctrl+Alt+Delete")
    return {}


def on_spice_vm(fn):
    """Runs a step on OPTS["spice_vm"] (a guest with <graphics type='spice'>) instead of VM."""

    def run():
        global VM
        vm = VM
        # the other guest's window covers the manager's list (no window manager): close it
        # (File > Close) so that the pointer reaches the list
        for w in app.children:
            if showing(w) and w.roleName == "frame" and re.fullmatch(re.escape(vm) + " on .*", w.name):
                menu_item(w, ["File", "Close"])
                wait(lambda: not showing(w), 10, f"{vm}'s window to close")
        VM = OPTS["spice_vm"]
        try:
            return fn()
        finally:
            VM = vm

    return run


s_spice_console = step("spice-console")(on_spice_vm(s_console.__wrapped__))
s_spice_screenshot = step("spice-screenshot")(on_spice_vm(s_screenshot.__wrapped__))

PHASES = {
    "local": [s_connect, s_cpugraph, s_details, s_lifecycle, s_console, s_screenshot, s_sendkey, s_newvm, s_delete],
    # then OPTS["spice_vm"]'s SPICE console through virt-manager's ssh tunnel
    "ssh": [s_connect, s_console, s_screenshot, s_sendkey, s_spice_console, s_spice_screenshot],
    # VM is a guest with <graphics type='spice'>
    "spice": [s_connect, s_console, s_screenshot],
}

if __name__ == "__main__":
    code = 0
    try:
        conn = libvirt.open(URI)
        start_app()
        for s in OPTS.get("steps") and [globals()["s_" + n] for n in OPTS["steps"]] or PHASES[PHASE]:
            s()
    except Exception as e:
        code = 1
        pic = None
        try:
            pic = shot(f"{PHASE}-failed-{current}")
        except Exception:
            pass
        wins = []
        try:
            dump_tree(os.path.join(OUT, f"{PHASE}-failed-{current}-tree.txt"))
            wins = windows() + [("error", t) for t in error_dialogs()]
        except Exception:
            pass
        emit(step=current, ok=False, error=f"{type(e).__name__}: {e}", windows=wins, picture=pic,
             trace=traceback.format_exc())
    finally:
        stop_app()
    sys.exit(code)
