/**
 * File descriptor passing on tvirtd's UNIX socket (issue 19): stock python3-libvirt asks for
 * FD_PASSING (supported), then `openGraphicsFD` (DOMAIN_OPEN_GRAPHICS_FD, a REPLY_WITH_FDS) on a
 * real TCG guest with VNC and SPICE: the descriptor it receives is a connection to the display,
 * on which the RFB handshake runs to the ServerInit (the size QEMU's VNC server reports) and the
 * SPICE server answers a link message. `openGraphics` (DOMAIN_OPEN_GRAPHICS, a CALL_WITH_FDS:
 * the client's socketpair end goes to QEMU) gives the same on the client's other end.
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
  type DaemonProcess,
} from "../testing/rpc/harness.ts";

const NAME = "fdpass";

/* Runs in python3 with the stock binding: prints one JSON line of what it saw. */
const PY = String.raw`
import json, os, socket, struct, sys, libvirt

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError("closed after %d bytes" % len(buf))
        buf += d
    return buf

def rfb(s):
    s.settimeout(20)
    greeting = recv_exact(s, 12)
    s.sendall(b"RFB 003.008\n")
    n = recv_exact(s, 1)[0]
    types = list(recv_exact(s, n))
    s.sendall(bytes([1]))
    result = struct.unpack(">I", recv_exact(s, 4))[0]
    s.sendall(bytes([1]))
    w, h = struct.unpack(">HH", recv_exact(s, 4))
    return {"greeting": greeting.decode(), "types": types, "result": result, "width": w, "height": h}

def spice(s):
    # SpiceLinkHeader (magic REDQ, 2.2, size) + SpiceLinkMess for the main channel, no caps
    s.settimeout(20)
    body = struct.pack("<IBBIII", 0, 1, 0, 0, 0, 18)
    s.sendall(b"REDQ" + struct.pack("<III", 2, 2, len(body)) + body)
    head = recv_exact(s, 16)
    magic, major, minor, size = head[:4], *struct.unpack("<III", head[4:])
    reply = recv_exact(s, size)
    error = struct.unpack("<I", reply[:4])[0]
    return {"magic": magic.decode(), "major": major, "error": error}

uri, name = sys.argv[1], sys.argv[2]
conn = libvirt.open(uri)
out = {}
dom = conn.lookupByName(name)
fd = dom.openGraphicsFD(0, 0)
s = socket.socket(fileno=fd)
out["vnc"] = rfb(s)
s.close()
fd = dom.openGraphicsFD(0, libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)
s = socket.socket(fileno=fd)
out["vnc2"] = rfb(s)
s.close()
fd = dom.openGraphicsFD(1, 0)
s = socket.socket(fileno=fd)
out["spice"] = spice(s)
s.close()
try:
    dom.openGraphicsFD(5, 0)
except libvirt.libvirtError as e:
    out["bad_idx"] = e.get_error_message()
a, b = socket.socketpair()
dom.openGraphics(0, a.fileno(), 0)
a.close()
out["open_graphics"] = rfb(b)
b.close()
a, b = socket.socketpair()
dom.openGraphics(1, a.fileno(), libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)
a.close()
out["open_graphics_spice"] = spice(b)
b.close()
out["after"] = dom.name()
print(json.dumps(out))
`;

test(
  "python3-libvirt opens a VNC and a SPICE connection of a real guest through tvirtd with fd passing",
  { timeout: 180_000 },
  async (t) => {
    const py = pythonLibvirtOrSkip(t);
    if (!py) return;
    const guest = await testGuestOrSkip(t);
    if (!guest) return;
    const dir = mkdtempSync(join(tmpdir(), "tvirt-fdpass-interop-"));
    const { sock, uri, env: daemonEnv } = privateSession(dir);
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    const pidFile = join(dir, "run", "tvirt", "qemu", `${NAME}.pid`);
    const xmlPath = join(dir, `${NAME}.xml`);
    writeFileSync(
      xmlPath,
      guestDomainXML({
        name: NAME,
        mode: "idle",
        kernel: guest.kernel,
        initrd: guest.initrd,
        serialLogPath: join(dir, "serial.log"),
        extraDevicesXML:
          "    <graphics type='vnc' autoport='yes'/>\n    <graphics type='spice' autoport='yes'/>",
      }),
    );
    let daemon: DaemonProcess | undefined;
    let qemuPid = 0;
    try {
      const conf = join(dir, "tvirtd.conf");
      writeFileSync(conf, "remote_display_port_min = 5960\nremote_display_port_max = 5999\n");
      daemon = await spawnDaemon(
        ["--session", "--config", conf, "--listen", sock, "--uri", "qemu:///session"],
        [sock],
        { env: daemonEnv },
      );
      const pyRun = (code: string, args: string[]) =>
        run(py, ["-c", code, ...args], { env, timeoutMs: 90_000, stdio: ["ignore", "pipe", "pipe"] });
      const started = await pyRun(
        "import libvirt, sys; c = libvirt.open(sys.argv[1]); d = c.defineXML(open(sys.argv[2]).read()); d.create()",
        [uri, xmlPath],
      );
      assert.equal(started.code, 0, started.stderr);
      qemuPid = Number(readFileSync(pidFile, "utf8").trim());

      const r = await pyRun(PY, [uri, NAME]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown> | string>;
      for (const k of ["vnc", "vnc2", "open_graphics"]) {
        const v = out[k] as Record<string, unknown>;
        assert.equal(v.greeting, "RFB 003.008\n", k);
        assert.deepEqual(v.types, [1], k); // no password: security type None
        assert.equal(v.result, 0, k);
        assert.ok((v.width as number) > 0 && (v.height as number) > 0, JSON.stringify(v));
      }
      assert.deepEqual(out.spice, { magic: "REDQ", major: 2, error: 0 });
      assert.equal(out.bad_idx, "internal error: No graphics backend with index 5");
      assert.deepEqual(out.open_graphics_spice, { magic: "REDQ", major: 2, error: 0 });
      assert.equal(out.after, NAME);
    } finally {
      if (qemuPid > 0) {
        try {
          process.kill(qemuPid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await daemon?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
