/**
 * Graphics ports on real QEMU: guests with `<graphics type='vnc' autoport='yes'/>` get distinct
 * ports from the display range (a port held by something else on the host is skipped), each
 * answers an RFB handshake there, the live XML shows the port, destroy gives it back, and a
 * restarted driver keeps the ports of the guests it reconnects to. A client connection handed
 * over as a socket (openGraphicsFd, openGraphics: QMP getfd with SCM_RIGHTS + add_client) greets.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { canBindPort } from "../../../host/ports.ts";
import { guestXML, makeTestRoot } from "../../../testing/qemu/driver.ts";
import { socketFd, socketPair } from "../../../util/fdpass.ts";
import type { QemuConnection } from "./connection.ts";

/** The first 12 bytes a VNC server sends (its protocol version). */
function rfbGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no RFB greeting on port ${port}`));
    }, 10_000);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 12) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.subarray(0, 12).toString("latin1"));
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1" }, () => {
      resolve(srv);
    });
  });
}

async function vncPort(conn: QemuConnection, name: string): Promise<number> {
  const xml = await conn.domainGetXMLDesc(await conn.domainLookupByName(name), 0);
  const m =
    /<graphics type='vnc' port='(\d+)' autoport='yes' listen='127\.0\.0\.1'>\s*<listen type='address' address='127\.0\.0\.1'\/>/.exec(
      xml,
    );
  assert.ok(m, `live XML of ${name} shows the VNC port: ${xml}`);
  return Number(m[1]);
}

test("autoport VNC guests get distinct free ports, released at destroy, kept across a driver restart", async (t) => {
  const base = await guestXML(t, { name: "g0", mode: "idle" });
  if (base === undefined) return;
  const withVnc = (name: string): string =>
    base
      .replace("<name>g0</name>", `<name>${name}</name>`)
      .replace("</devices>", "    <graphics type='vnc' autoport='yes'/>\n  </devices>");
  // something else holds the first free port of a private range (away from 5900, which other
  // test files' guests take from at the same time)
  let min = 7000 + Math.floor(Math.random() * 20_000);
  while (!(await canBindPort(min, "127.0.0.1"))) min++;
  const busy = await listen(min);
  const range = { min, max: min + 20 };
  const tr = makeTestRoot();
  let conn = await tr.open({ displayPorts: range });
  try {
    for (const n of ["g1", "g2", "g3"]) {
      await conn.domainCreateXML(withVnc(n), 0);
      tr.track(conn);
    }
    const ports = [await vncPort(conn, "g1"), await vncPort(conn, "g2"), await vncPort(conn, "g3")];
    assert.equal(new Set(ports).size, 3, `distinct ports: ${ports.join(", ")}`);
    for (const p of ports) {
      assert.ok(p > min && p <= range.max, `port ${p} is in the range and not the busy ${min}`);
      assert.equal(await rfbGreeting(p), "RFB 003.008\n");
    }
    assert.deepEqual(
      conn.driver.ports.display.held(),
      [...ports].sort((a, b) => a - b),
    );

    // a restarted driver holds the ports of the guests it reconnected to
    await conn.connectClose();
    conn = await tr.open({ displayPorts: range });
    assert.deepEqual(
      conn.driver.ports.display.held(),
      [...ports].sort((a, b) => a - b),
    );
    assert.equal(await vncPort(conn, "g2"), ports[1]);
    await conn.domainCreateXML(withVnc("g4"), 0);
    tr.track(conn);
    const p4 = await vncPort(conn, "g4");
    assert.ok(!ports.includes(p4) && p4 !== min, `g4 got a port of its own: ${p4}`);
    assert.equal(await rfbGreeting(p4), "RFB 003.008\n");

    // destroy gives the port back; the next guest gets the lowest free one again
    await conn.domainDestroy(await conn.domainLookupByName("g2"));
    assert.equal(conn.driver.ports.display.has(ports[1]!), false);
    await conn.domainCreateXML(withVnc("g5"), 0);
    tr.track(conn);
    assert.equal(await vncPort(conn, "g5"), ports[1]);
    for (const n of ["g1", "g3", "g4", "g5"]) await conn.domainDestroy(await conn.domainLookupByName(n));
    assert.deepEqual(conn.driver.ports.display.held(), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
    busy.close();
  }
});

test("a start that fails after the ports were reserved gives them back", async (t) => {
  const base = await guestXML(t, { name: "bad", mode: "idle" });
  if (base === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open({
    displayPorts: { min: 5900, max: 65535 },
    websocketPorts: { min: 5700, max: 65535 },
  });
  try {
    // two VNC displays: the command builder refuses them, after the ports were reserved
    const xml = base.replace(
      "</devices>",
      "    <graphics type='vnc' autoport='yes' websocket='-1'/>\n    <graphics type='vnc' autoport='yes'/>\n  </devices>",
    );
    await assert.rejects(conn.domainCreateXML(xml, 0));
    assert.deepEqual(conn.driver.ports.display.held(), []);
    assert.deepEqual(conn.driver.ports.websocket.held(), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("websocket and SPICE ports come from their ranges; two drivers (embed roots) never share a port", async (t) => {
  const base = await guestXML(t, { name: "w1", mode: "idle" });
  if (base === undefined) return;
  const a = makeTestRoot();
  const b = makeTestRoot();
  const connA = await a.open();
  const connB = await b.open();
  try {
    const xmlOf = (name: string, graphics: string): string =>
      base
        .replace("<name>w1</name>", `<name>${name}</name>`)
        .replace("</devices>", `${graphics}\n  </devices>`);
    // a VNC websocket from 5700 up, answering HTTP (the websocket upgrade) there
    await connA.domainCreateXML(xmlOf("w1", "    <graphics type='vnc' autoport='yes' websocket='-1'/>"), 0);
    a.track(connA);
    const xml = await connA.domainGetXMLDesc(await connA.domainLookupByName("w1"), 0);
    const m =
      /<graphics type='vnc' port='(\d+)' autoport='yes' websocket='(\d+)' listen='127\.0\.0\.1'>/.exec(xml);
    assert.ok(m, xml);
    const [vnc, ws] = [Number(m[1]), Number(m[2])];
    assert.ok(ws >= 5700 && ws < 5900, `websocket port ${ws}`);
    assert.equal(await rfbGreeting(vnc), "RFB 003.008\n");
    assert.deepEqual(connA.driver.ports.websocket.held(), [ws]);

    // another root (another allocator, as another embed process would have): the port the first
    // guest holds is busy on the host, so it is skipped
    await connB.domainCreateXML(xmlOf("w2", "    <graphics type='vnc' autoport='yes'/>"), 0);
    b.track(connB);
    const xml2 = await connB.domainGetXMLDesc(await connB.domainLookupByName("w2"), 0);
    const vnc2 = Number(/<graphics type='vnc' port='(\d+)'/.exec(xml2)?.[1]);
    assert.notEqual(vnc2, vnc);
    assert.equal(await rfbGreeting(vnc2), "RFB 003.008\n");

    // SPICE with autoport and no TLS configured: a plain port from the display range
    await connB.domainCreateXML(xmlOf("s1", "    <graphics type='spice' autoport='yes'/>"), 0);
    b.track(connB);
    const xml3 = await connB.domainGetXMLDesc(await connB.domainLookupByName("s1"), 0);
    const sp = /<graphics type='spice' port='(\d+)' autoport='yes' listen='127\.0\.0\.1'>/.exec(xml3);
    assert.ok(sp, xml3);
    const spice = Number(sp[1]);
    assert.ok(![vnc, vnc2].includes(spice) && spice >= 5900);
    assert.deepEqual(
      connB.driver.ports.display.held(),
      [vnc2, spice].sort((x, y) => x - y),
    );
    // something listens there (SPICE speaks first only after the client's link message)
    await new Promise<void>((resolve, reject) => {
      const s = connect({ port: spice, host: "127.0.0.1" }, () => {
        s.destroy();
        resolve();
      });
      s.on("error", reject);
    });
  } finally {
    await connA.connectClose();
    await connB.connectClose();
    await a.cleanup();
    await b.cleanup();
  }
});

test("an explicit port another running domain holds is refused before QEMU starts", async (t) => {
  const base = await guestXML(t, { name: "e1", mode: "idle" });
  if (base === undefined) return;
  let port = 5990;
  while (!(await canBindPort(port, "127.0.0.1"))) port++;
  const tr = makeTestRoot();
  // the range starts at the explicit port: autoport would hand it out first if it were not held
  const conn = await tr.open({ displayPorts: { min: port, max: port + 10 } });
  try {
    const xmlOf = (name: string): string =>
      base
        .replace("<name>e1</name>", `<name>${name}</name>`)
        .replace("</devices>", `    <graphics type='vnc' port='${port}' autoport='no'/>\n  </devices>`);
    await conn.domainCreateXML(xmlOf("e1"), 0);
    tr.track(conn);
    assert.deepEqual(conn.driver.ports.display.held(), [port]);
    await assert.rejects(conn.domainCreateXML(xmlOf("e2"), 0), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.equal(
        e.message,
        `operation failed: Failed to reserve port ${port}: another running domain holds it`,
      );
      return true;
    });
    assert.equal(await rfbGreeting(port), "RFB 003.008\n");
    // autoport never hands out the explicit port
    await conn.domainCreateXML(
      base
        .replace("<name>e1</name>", "<name>e3</name>")
        .replace("</devices>", "    <graphics type='vnc' autoport='yes'/>\n  </devices>"),
      0,
    );
    tr.track(conn);
    const xml = await conn.domainGetXMLDesc(await conn.domainLookupByName("e3"), 0);
    assert.notEqual(Number(/<graphics type='vnc' port='(\d+)'/.exec(xml)?.[1]), port);
    await conn.domainDestroy(await conn.domainLookupByName("e1"));
    assert.equal(conn.driver.ports.display.has(port), false);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

/** The first 12 bytes a display sends on `s` (a socket that has not read yet). */
function greetingOn(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("no greeting on the socket"));
    }, 10_000);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 12) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.subarray(0, 12).toString("latin1"));
      }
    });
    s.resume();
  });
}

test("a connection to the display as a socket (openGraphicsFd) or on the caller's socket (openGraphics)", async (t) => {
  const base = await guestXML(t, { name: "fdgfx", mode: "idle" });
  if (base === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open({ displayPorts: { min: 5900, max: 65535 } });
  try {
    const xml = base.replace("</devices>", "    <graphics type='vnc' autoport='yes'/>\n  </devices>");
    const dom = await conn.domainDefineXML(xml);
    await assert.rejects(conn.domainOpenGraphicsFd(dom, 0, 0), /domain is not running/);
    await conn.domainCreate(dom);
    assert.equal(await greetingOn(await conn.domainOpenGraphicsFd(dom, 0, 0)), "RFB 003.008\n");
    assert.equal(await greetingOn(await conn.domainOpenGraphicsFd(dom, 0, 1)), "RFB 003.008\n");
    const [mine, theirs] = await socketPair();
    await conn.domainOpenGraphics(dom, 0, socketFd(theirs)!, 0);
    theirs.destroy();
    assert.equal(await greetingOn(mine), "RFB 003.008\n");
    await assert.rejects(
      conn.domainOpenGraphicsFd(dom, 1, 0),
      /internal error: No graphics backend with index 1/,
    );
    await assert.rejects(
      conn.domainOpenGraphicsFd(dom, 0, 2),
      /unsupported flags \(0x2\) in function qemuDomainOpenGraphicsFD/,
    );
    await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
