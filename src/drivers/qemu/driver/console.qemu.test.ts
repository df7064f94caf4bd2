/**
 * Console streams on real QEMU: both directions over the pty (a shell in the guest answers),
 * one session per device (FORCE takes it over), streams end with the domain; and a console on a
 * unix socket chardev.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { isVirtError } from "../../../util/errors/index.ts";
import { ConsoleReader, guestXML, makeTestRoot } from "../../../testing/qemu/driver.ts";

test("a console over the pty carries both directions; one session at a time; it ends with the domain", async (t) => {
  const xml = await guestXML(t, { name: "talk", mode: "shell" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const first = await conn.domainOpenConsole(dom, null, 0);
    let firstEnded = false;
    first.onEnd(() => {
      firstEnded = true;
    });
    await assert.rejects(
      conn.domainOpenConsole(dom, "serial0", 0),
      (e: unknown) => isVirtError(e) && e.code === "QEMU_CONSOLE_BUSY",
    );
    await assert.rejects(
      conn.domainOpenConsole(dom, "parallel7", 0),
      /cannot find character device parallel7/,
    );
    const con = await ConsoleReader.open(conn, dom).catch(() => undefined);
    assert.equal(con, undefined, "still busy");
    const forced = await conn.domainOpenConsole(dom, "serial0", 1);
    assert.equal(firstEnded, true, "FORCE ended the first session");
    let out = "";
    forced.onData((d) => {
      out += Buffer.from(d).toString();
    });
    const deadline = Date.now() + 30_000;
    while (!out.includes("TVIRT-GUEST-READY mode=shell")) {
      if (Date.now() > deadline) throw new Error(`no shell: ${out.slice(-300)}`);
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
    // Type into the guest's shell and read its answer.
    let answered = false;
    for (let i = 0; i < 40 && !answered; i++) {
      forced.write(Buffer.from("echo tvirt-$((6*7))\n"));
      await new Promise<void>((resolve) => setTimeout(resolve, 250));
      answered = /tvirt-42/.test(out);
    }
    assert.ok(answered, `the guest shell answered: ${out.slice(-300)}`);
    let ended = false;
    forced.onEnd(() => {
      ended = true;
    });
    await conn.domainDestroy(dom);
    assert.equal(ended, true, "the stream ended with the domain");
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("a console on a unix socket chardev", async (t) => {
  const base = await guestXML(t, { name: "sock", mode: "counter" });
  if (base === undefined) return;
  const tr = makeTestRoot();
  const path = join(tr.root, "serial.sock");
  const xml = base
    .replace("<serial type='pty'>", `<serial type='unix'>\n      <source mode='bind' path='${path}'/>`)
    .replace("<console type='pty'>", `<console type='unix'>\n      <source mode='bind' path='${path}'/>`);
  const conn = await tr.open();
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/COUNTER 1\b/, 30_000);
    await con.close();
    await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
