/**
 * VNC passwords of a real TCG guest through tvirsh on qemu:///embed: the password of the XML is
 * set over QMP at start (the VNC server asks for VNC authentication and takes only it),
 * `update-device` with a `<graphics>` element changes it in the config and live, and a
 * `passwdValidTo` in the past expires it. An RFB client (src/testing/graphics/rfb.ts) answers the server's DES challenge.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { rfbPasswordAuth } from "../testing/graphics/rfb.ts";
import { makeTestRoot } from "../testing/qemu/driver.ts";

test("a VNC password set at start and changed live with update-device", { timeout: 120_000 }, async (t) => {
  const g = await testGuestOrSkip(t);
  if (!g) return;
  const tr = makeTestRoot("tvirt-vncpass-");
  const name = "vncpw";
  const xmlPath = join(tr.root, "dom.xml");
  writeFileSync(
    xmlPath,
    guestDomainXML({
      name,
      mode: "idle",
      kernel: g.kernel,
      initrd: g.initrd,
      extraDevicesXML: "    <graphics type='vnc' autoport='yes' passwd='vnc-one'/>",
    }),
  );
  const sh = async (...args: string[]): Promise<{ out: string; err: string; status: number }> => {
    const io = new BufferIo();
    const status = await main(["-c", tr.uri, ...args], io, {});
    return { out: io.stdout, err: io.stderr, status };
  };
  try {
    assert.equal((await sh("define", xmlPath)).status, 0);
    // --config of a defined guest: the device of that type is replaced
    const cfg = join(tr.root, "config-graphics.xml");
    writeFileSync(cfg, "<graphics type='vnc' autoport='yes' passwd='vnc-zero'/>\n");
    let c = await sh("update-device", name, cfg, "--config");
    assert.equal(c.status, 0, c.err);
    assert.match((await sh("dumpxml", name, "--inactive", "--security-info")).out, /passwd='vnc-zero'/);
    writeFileSync(cfg, "<graphics type='spice' autoport='yes' passwd='s'/>\n");
    c = await sh("update-device", name, cfg, "--config");
    assert.equal(
      c.err,
      `error: Failed to update device from ${cfg}\nerror: invalid argument: cannot find existing graphics type 'spice' device to modify\n`,
    );
    writeFileSync(cfg, "<graphics type='vnc' autoport='yes' passwd='vnc-one'/>\n");
    assert.equal((await sh("update-device", name, cfg, "--config")).status, 0);
    assert.equal((await sh("start", name)).status, 0);
    tr.track();
    const xml = (await sh("dumpxml", name)).out;
    const port = Number(/<graphics type='vnc' port='(\d+)'/.exec(xml)?.[1]);
    assert.ok(port >= 5900, xml);
    assert.equal(await rfbPasswordAuth(port, "vnc-one"), 0);
    assert.equal(await rfbPasswordAuth(port, "vnc-two"), 1);

    const upd = join(tr.root, "graphics.xml");
    const update = async (attrs: string): Promise<{ status: number; err: string }> => {
      writeFileSync(
        upd,
        `<graphics type='vnc' port='${port}' autoport='yes' listen='127.0.0.1'${attrs}>\n  <listen type='address' address='127.0.0.1'/>\n</graphics>\n`,
      );
      return sh("update-device", name, upd, "--live");
    };
    let r = await update(" passwd='vnc-two'");
    assert.equal(r.status, 0, r.err);
    assert.equal(await rfbPasswordAuth(port, "vnc-two"), 0);
    assert.equal(await rfbPasswordAuth(port, "vnc-one"), 1);
    assert.match((await sh("dumpxml", name, "--security-info")).out, /passwd='vnc-two'/);
    r = await update(" passwd='vnc-two' passwdValidTo='2001-01-01T00:00:00'");
    assert.equal(r.status, 0, r.err);
    assert.equal(await rfbPasswordAuth(port, "vnc-two"), 1);
    // VNC keeps connected clients only (libvirt refuses the other actions)
    r = await update(" passwd='x' connected='disconnect'");
    assert.match(r.err, /unsupported configuration: VNC supports connected='keep' only/);
    assert.equal((await sh("destroy", name)).status, 0);
  } finally {
    await tr.cleanup();
  }
});
