/**
 * virtiofs hotplug on real QEMU: a `<filesystem>` with the virtiofs driver attached to a running
 * guest with shared memory starts its virtiofsd, adds the chardev and the vhost-user-fs device;
 * the guest mounts the tag and reads a host file; detach removes the device, the chardev and the
 * daemon. A virtiofs filesystem on a guest without shared memory is refused before anything runs.
 * After a driver restart the guest's virtiofsd keeps running, and killing it is still reported.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConsoleReader, guestXML, makeTestRoot, until } from "../../../testing/qemu/driver.ts";
import { DomainEventId } from "../../enums.ts";
import type { DomainEvent } from "../../driver.ts";
import { VIRTIOFSD_PATHS } from "./virtiofs.ts";

const LIVE = 1;

/** The pids of virtiofsd processes serving `dir`. */
function virtiofsdsOf(dir: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("virtiofsd") === true && argv.includes(`source=${dir}`)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

test("virtiofs hotplug: attach starts virtiofsd and the guest mounts it; detach takes it all away", async (t) => {
  const base = await guestXML(t, { name: "vfsh", mode: "shell" });
  if (base === undefined) return;
  if (!VIRTIOFSD_PATHS.some((p) => existsSync(p))) {
    if (process.env.CI === "true") assert.fail("virtiofsd is required under CI (qemu-system-common)");
    t.skip("no virtiofsd installed");
    return;
  }
  const share = mkdtempSync(join(tmpdir(), "tvirt-hshare-"));
  writeFileSync(join(share, "from-host.txt"), "hello hotplugged\n");
  const fsXML = `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='${share}'/><target dir='hotshare'/></filesystem>`;
  const shared = base.replace(
    "<os>",
    "<memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>\n  <os>",
  );
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    // without shared memory: refused, nothing started
    const plain = await conn.domainCreateXML(base.replace("<name>vfsh</name>", "<name>vfsp</name>"), 0);
    tr.track(conn);
    await assert.rejects(
      conn.domainAttachDeviceFlags(plain, fsXML, LIVE),
      /'virtiofs' requires shared memory/,
    );
    assert.deepEqual(virtiofsdsOf(share), []);
    await conn.domainDestroy(plain);

    const dom = await conn.domainCreateXML(shared, 0);
    tr.track(conn);
    const con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/TVIRT-GUEST-READY mode=shell/, 120_000);

    await conn.domainAttachDeviceFlags(dom, fsXML, LIVE);
    assert.ok(virtiofsdsOf(share).length >= 1, "a virtiofsd serves the share");
    const xml = await conn.domainGetXMLDesc(dom, 0);
    assert.match(xml, /<target dir='hotshare'\/>/);
    const alias = /<filesystem[\s\S]*?<alias name='([^']+)'\/>/.exec(xml)?.[1];
    assert.ok(alias !== undefined, xml);
    const run = conn.driver.domains.byName("vfsh")!.run!;
    const chardevs = (await run.qmp!.execute("query-chardev")) as { label: string }[];
    assert.ok(
      chardevs.some((c) => c.label === `chr-vu-${alias}`),
      JSON.stringify(chardevs),
    );

    let from = con.text.length;
    // the guest probes the new PCI device on its own time: mount once the tag is there
    con.write(
      "mkdir -p /mnt/h; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do mount -t virtiofs hotshare /mnt/h 2>/dev/null && break; sleep 1; done; cat /mnt/h/from-host.txt && echo VFS-$((40+2))\n",
    );
    await con.waitFor(/VFS-42/, 60_000, from);
    assert.match(con.text.slice(from), /hello hotplugged/);
    from = con.text.length;
    con.write("umount /mnt/h && echo UMOUNT-$((1+1))\n");
    await con.waitFor(/UMOUNT-2/, 30_000, from);

    await conn.domainDetachDeviceFlags(dom, fsXML, LIVE);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom, 0), /hotshare/);
    await until(() => virtiofsdsOf(share).length === 0, 10_000, "virtiofsd to exit");
    const after = (await run.qmp!.execute("query-chardev")) as { label: string }[];
    assert.ok(!after.some((c) => c.label === `chr-vu-${alias}`), "the chardev is gone");
    await con.close();
    await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
    rmSync(share, { recursive: true, force: true });
  }
});

test("after a driver restart a guest's virtiofsd runs on and its death is still reported", async (t) => {
  const base = await guestXML(t, { name: "vfsr", mode: "idle" });
  if (base === undefined) return;
  if (!VIRTIOFSD_PATHS.some((p) => existsSync(p))) {
    if (process.env.CI === "true") assert.fail("virtiofsd is required under CI (qemu-system-common)");
    t.skip("no virtiofsd installed");
    return;
  }
  const share = mkdtempSync(join(tmpdir(), "tvirt-rshare-"));
  const xml = base
    .replace("<os>", "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\n  <os>")
    .replace(
      "</devices>",
      `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='${share}'/><target dir='rshare'/></filesystem>\n  </devices>`,
    );
  const tr = makeTestRoot();
  let conn = await tr.open();
  try {
    await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const before = virtiofsdsOf(share);
    assert.ok(before.length >= 1);
    await conn.connectClose();
    assert.deepEqual(virtiofsdsOf(share), before, "closing the driver leaves the guest's virtiofsd running");
    conn = await tr.open({ autostart: false });
    const events: DomainEvent[] = [];
    await conn.connectDomainEventRegisterAny(null, DomainEventId.IO_ERROR_REASON, (_d, e) => {
      events.push(e);
    });
    const top = before.find(
      (p) =>
        !before.includes(
          Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${String(p)}/status`, "utf8"))?.[1]),
        ),
    );
    assert.ok(top !== undefined);
    process.kill(top, "SIGKILL");
    for (const p of before) if (p !== top) process.kill(p, "SIGKILL");
    await until(() => events.length > 0, 10_000, "the io-error-reason event");
    const ev = events[0];
    assert.ok(ev?.id === DomainEventId.IO_ERROR_REASON);
    assert.equal(ev.srcPath, share);
    assert.equal(ev.reason, "virtiofsd exited");
    const log = readFileSync(join(tr.root, "log", "qemu", "vfsr.log"), "utf8");
    assert.match(log, /virtiofsd of filesystem 'rshare' \(fs0, .*\) exited/);
    await conn.domainDestroy(await conn.domainLookupByName("vfsr"));
    await until(() => virtiofsdsOf(share).length === 0, 10_000, "virtiofsd to exit");
  } finally {
    await conn.connectClose();
    await tr.cleanup();
    for (const p of virtiofsdsOf(share)) process.kill(p, "SIGKILL");
    rmSync(share, { recursive: true, force: true });
  }
});
