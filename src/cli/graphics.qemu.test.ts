/**
 * Graphical consoles of a real TCG guest through tvirsh on qemu:///embed: vncdisplay and
 * domdisplay name the port the driver chose (the VNC server answers there), and screenshot saves
 * a PNG (QEMU 7.1+ writes PNG; libvirt asks for it since 9.1) of the size the VNC server reports
 * for the guest's screen.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";
import { screenshotFileName } from "./commands/graphics.ts";
import { commandSchemas, validate } from "./schemas.ts";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { rfbServerInit } from "../testing/graphics/rfb.ts";
import { decodePng } from "../testing/graphics/image.ts";
import { makeTestRoot, until } from "../testing/qemu/driver.ts";

test("screenshot file names are virsh's", () => {
  const at = new Date(2026, 11, 6, 23, 5, 9);
  assert.equal(screenshotFileName("vm1", "image/x-portable-pixmap", at), "vm1-2026-12-06-23:05:09.ppm");
  assert.equal(screenshotFileName("vm1", "image/png", at), "vm1-2026-12-06-23:05:09.png");
  assert.equal(screenshotFileName("vm1", "image/x-other", at), "vm1-2026-12-06-23:05:09");
});

test("vncdisplay, domdisplay and screenshot of a running guest", { timeout: 180_000 }, async (t) => {
  const g = await testGuestOrSkip(t);
  if (!g) return;
  const tr = makeTestRoot("tvirt-graphics-");
  const name = "shot1";
  const xmlPath = join(tr.root, "dom.xml");
  writeFileSync(
    xmlPath,
    guestDomainXML({
      name,
      mode: "idle",
      kernel: g.kernel,
      initrd: g.initrd,
      extraDevicesXML: "    <graphics type='vnc' autoport='yes'/>",
    }),
  );
  const sh = async (...args: string[]): Promise<{ out: string; err: string; status: number }> => {
    const io = new BufferIo();
    const status = await main(["-c", tr.uri, ...args], io, {});
    return { out: io.stdout, err: io.stderr, status };
  };
  try {
    assert.equal((await sh("define", xmlPath)).status, 0);
    // not running: virsh's message and libvirt's error
    const off = await sh("screenshot", name, join(tr.root, "off.ppm"));
    assert.equal(off.status, 1);
    assert.equal(
      off.err,
      `error: could not take a screenshot of ${name}\nerror: Requested operation is not valid: domain is not running\n`,
    );
    assert.equal((await sh("vncdisplay", name)).err, "error: Domain is not running\n");

    const started = await sh("start", name);
    assert.equal(started.status, 0, started.err);
    tr.track();
    const xml = (await sh("dumpxml", name)).out;
    const port = Number(
      /<graphics type='vnc' port='(\d+)' autoport='yes' listen='127.0.0.1'>/.exec(xml)?.[1],
    );
    assert.ok(port >= 5900, `a port in the live XML: ${xml}`);
    assert.equal((await sh("vncdisplay", name)).out, `127.0.0.1:${port - 5900}\n\n`);
    assert.equal((await sh("domdisplay", name)).out, `vnc://127.0.0.1:${port - 5900}\n`);

    const rfb = await rfbServerInit(port);
    assert.equal(rfb.version, "RFB 003.008\n");
    assert.ok(rfb.width > 0 && rfb.height > 0);

    const file = join(tr.root, "screen.png");
    const r = await sh("screenshot", name, file);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, `Screenshot saved to ${file}, with type of image/png\n`);
    const data = readFileSync(file);
    const ppm = decodePng(data);
    // The guest may switch its display mode (640x480 → 720x400 text) while it boots: the
    // picture has the size the VNC server reports just before or just after it was taken.
    const after = await rfbServerInit(port);
    assert.ok(
      [`${rfb.width}x${rfb.height}`, `${after.width}x${after.height}`].includes(`${ppm.width}x${ppm.height}`),
      `screenshot ${ppm.width}x${ppm.height}; VNC reported ${rfb.width}x${rfb.height}, then ${after.width}x${after.height}`,
    );
    assert.equal(ppm.rgb.length, ppm.width * ppm.height * 3);

    // an existing file is overwritten; --json
    const j = await sh("screenshot", name, file, "--json");
    assert.equal(j.status, 0, j.err);
    const doc = JSON.parse(j.out) as Record<string, unknown>;
    assert.deepEqual(validate(doc, commandSchemas.screenshot!), []);
    // (the display may have changed mode since the first picture: compare with this one's file)
    const again = readFileSync(file);
    const ppm2 = decodePng(again);
    assert.ok(ppm2.width > 0 && ppm2.height > 0);
    assert.deepEqual([doc.file, doc.mime, doc.bytes], [file, "image/png", again.length]);

    // one video device with one head: screen 1 does not exist
    const s1 = await sh("screenshot", name, join(tr.root, "s1.ppm"), "--screen", "1");
    assert.equal(
      s1.err,
      `error: could not take a screenshot of ${name}\nerror: invalid argument: no screen with ID 1\n`,
    );
    assert.equal(
      (await sh("screenshot", name, "--screen", "-1")).err,
      "error: Numeric value '-1' for <screen> option is malformed or out of range\n",
    );
    assert.equal(
      (await sh("screenshot", name, "/nonexistent/dir/x.ppm")).err,
      "error: cannot create file /nonexistent/dir/x.ppm\n",
    );
    assert.equal((await sh("destroy", name)).status, 0);
  } finally {
    await tr.cleanup();
  }
});

test(
  "send-key: Ctrl+Alt+Del reaches the guest's keyboard and reboots it",
  { timeout: 180_000 },
  async (t) => {
    const g = await testGuestOrSkip(t);
    if (!g) return;
    const tr = makeTestRoot("tvirt-sendkey-");
    const name = "keys1";
    const serial = join(tr.root, "serial.log");
    const xmlPath = join(tr.root, "dom.xml");
    // on_reboot is destroy: the reboot the keys ask for ends the domain
    writeFileSync(
      xmlPath,
      guestDomainXML({ name, mode: "idle", kernel: g.kernel, initrd: g.initrd, serialLogPath: serial }),
    );
    const sh = async (...args: string[]): Promise<{ out: string; err: string; status: number }> => {
      const io = new BufferIo();
      const status = await main(["-c", tr.uri, ...args], io, {});
      return { out: io.stdout, err: io.stderr, status };
    };
    const log = (): string => {
      try {
        return readFileSync(serial, "utf8");
      } catch {
        return "";
      }
    };
    try {
      assert.equal((await sh("define", xmlPath)).status, 0);
      const off = await sh("send-key", name, "KEY_A");
      assert.equal(off.err, "error: Requested operation is not valid: domain is not running\n");
      assert.equal((await sh("start", name)).status, 0);
      tr.track();
      await until(() => /TVIRT-GUEST-READY/.test(log()), 120_000, "the guest to boot");
      // a key the kernel ignores leaves the guest running
      assert.equal((await sh("send-key", name, "--codeset", "usb", "4")).status, 0);
      // AT set 2 has no key 0x02
      const untranslatable = await sh("send-key", name, "--codeset", "atset2", "2");
      assert.equal(
        untranslatable.err,
        "error: invalid argument: cannot translate keycode 2 of atset2 codeset to qnum keycode\n",
      );
      // A in AT set 2 is pressed (the kernel ignores it)
      assert.equal((await sh("send-key", name, "--codeset", "atset2", "0x1c")).status, 0);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await sh("domstate", name)).out, "running\n\n");
      assert.doesNotMatch(log(), /reboot: Restarting system/);
      // the kernel's Ctrl+Alt+Del: an immediate restart
      const r = await sh(
        "send-key",
        name,
        "--holdtime",
        "200",
        "KEY_LEFTCTRL",
        "KEY_LEFTALT",
        "KEY_DELETE",
        "--json",
      );
      assert.equal(r.status, 0, r.err);
      const doc = JSON.parse(r.out) as Record<string, unknown>;
      assert.deepEqual(validate(doc, commandSchemas["send-key"]!), []);
      assert.deepEqual([doc.codeset, doc.holdtime, doc.keycodes], [0, 200, [29, 56, 111]]);
      await until(() => /reboot: Restarting system/.test(log()), 30_000, "the guest to restart");
      await until(
        async () => (await sh("domstate", name)).out === "shut off\n\n",
        30_000,
        "the domain to stop",
      );
    } finally {
      await tr.cleanup();
    }
  },
);

test("domxml-to-native shows autoport graphics with libvirt's pretend ports", async (t) => {
  const g = await testGuestOrSkip(t);
  if (!g) return;
  const tr = makeTestRoot("tvirt-native-graphics-");
  try {
    const xmlPath = join(tr.root, "dom.xml");
    writeFileSync(
      xmlPath,
      guestDomainXML({
        name: "native1",
        mode: "idle",
        kernel: g.kernel,
        initrd: g.initrd,
        extraDevicesXML: "    <graphics type='vnc' autoport='yes' websocket='-1'/>",
      }),
    );
    const io = new BufferIo();
    const status = await main(["-c", tr.uri, "domxml-to-native", "qemu-argv", xmlPath], io, {});
    assert.equal(status, 0, io.stderr);
    assert.match(io.stdout, / -vnc 127\.0\.0\.1:0,websocket=5700,audiodev=audio1 /);
  } finally {
    await tr.cleanup();
  }
});

test("a VNC display on a unix socket: the live XML names it, domdisplay gives vnc+unix", async (t) => {
  const g = await testGuestOrSkip(t);
  if (!g) return;
  const tr = makeTestRoot("tvirt-vnc-socket-");
  try {
    const xmlPath = join(tr.root, "dom.xml");
    writeFileSync(
      xmlPath,
      guestDomainXML({
        name: "sock1",
        mode: "idle",
        kernel: g.kernel,
        initrd: g.initrd,
        extraDevicesXML: "    <graphics type='vnc'><listen type='socket'/></graphics>",
      }),
    );
    const sh = async (...args: string[]): Promise<{ out: string; err: string; status: number }> => {
      const io = new BufferIo();
      const status = await main(["-c", tr.uri, ...args], io, {});
      return { out: io.stdout, err: io.stderr, status };
    };
    assert.equal((await sh("define", xmlPath)).status, 0);
    assert.equal((await sh("start", "sock1")).status, 0);
    tr.track();
    const xml = (await sh("dumpxml", "sock1")).out;
    const m = /<graphics type='vnc' socket='([^']+\/vnc\.sock)'>\s*<listen type='socket' socket='\1'\/>/.exec(
      xml,
    );
    assert.ok(m, xml);
    const sockPath = m[1]!;
    assert.equal((await sh("domdisplay", "sock1")).out, `vnc+unix://${sockPath}\n`);
    assert.equal(
      (await sh("vncdisplay", "sock1")).err,
      "error: Failed to get VNC port. Is this domain using VNC?\n",
    );
    // QEMU's VNC server answers on the socket
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = connect(sockPath);
      s.once("data", (d: Buffer) => {
        s.destroy();
        resolve(d.subarray(0, 12).toString("latin1"));
      });
      s.once("error", reject);
    });
    assert.equal(greeting, "RFB 003.008\n");
    // the inactive definition keeps the socket to be made at start
    assert.match(
      (await sh("dumpxml", "sock1", "--inactive")).out,
      /<graphics type='vnc'>\s*<listen type='socket'\/>/,
    );
    assert.equal((await sh("destroy", "sock1")).status, 0);
  } finally {
    await tr.cleanup();
  }
});
