/**
 * The whole life of a domain on real QEMU (TCG, the tiny guest), through the driver interface:
 * define → start → marker → suspend/resume (the counter stops and continues) → save → restore
 * (the counter continues) → managedsave → start → reboot → ACPI shutdown → start → destroy →
 * undefine, with libvirt's states, reasons and events at each step, and the files on disk.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  ConnectListDomainsFlags as L,
  DomainEventDefinedDetail as Defined,
  DomainEventResumedDetail as Resumed,
  DomainEventShutdownDetail as Shutdown,
  DomainEventStartedDetail as Started,
  DomainEventStoppedDetail as Stopped,
  DomainEventSuspendedDetail as Suspended,
  DomainEventType as E,
  DomainEventUndefinedDetail as Undefined,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  DomainXMLFlags,
} from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { isProcessAlive } from "../../../util/spawn.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import { driverPaths } from "../paths.ts";
import {
  ConsoleReader,
  guestXML,
  makeTestRoot,
  recordEvents,
  runtimeLeftovers,
  until,
} from "../../../testing/qemu/driver.ts";

test("a domain's whole life on QEMU: define, start, suspend, save, restore, managed save, reboot, shutdown, destroy, undefine", async (t) => {
  const uuid = "6c1e2f3a-0d4b-4c5e-9f60-7a8b9c0d1e2f";
  const xml = await guestXML(t, { name: "life", mode: "counter", uuid });
  if (xml === undefined) return;
  const idleXml = (await guestXML(t, { name: "life", mode: "idle", onReboot: "restart", uuid }))!;
  const tr = makeTestRoot();
  const before = resourceCounts();
  const paths = driverPaths({ kind: "embed", root: tr.root });
  const conn = await tr.open();
  try {
    const rec = await recordEvents(conn);
    const take = async (): Promise<(readonly [number, number] | "reboot")[]> => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return rec.events.splice(0);
    };

    // define
    const dom = await conn.domainDefineXML(xml);
    assert.equal(dom.id, -1);
    assert.ok(existsSync(join(paths.configDir, "life.xml")), "config file written");
    assert.deepEqual(await take(), [[E.DEFINED, Defined.ADDED]]);
    assert.deepEqual(
      (await conn.connectListAllDomains(L.INACTIVE)).map((d) => d.name),
      ["life"],
    );

    // start: the guest boots and prints its marker
    await conn.domainCreate(dom);
    tr.track(conn);
    assert.ok((dom as { id: number }).id > 0, "the handle got the domain id");
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.RUNNING,
      reason: DomainRunningReason.BOOTED,
    });
    assert.deepEqual(await take(), [
      [E.RESUMED, Resumed.UNPAUSED],
      [E.STARTED, Started.BOOTED],
    ]);
    assert.ok(existsSync(join(paths.stateDir, "life.xml")), "status file written");
    assert.match(
      readFileSync(join(paths.logDir, "life.log"), "utf8"),
      /starting up tvirt version: .*\n(.|\n)*-name guest=life/,
    );
    let con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/COUNTER 2\b/);
    const live = await conn.domainGetXMLDesc(dom, 0);
    assert.match(live, new RegExp(`<domain type='qemu' id='${dom.id}'>`));
    assert.match(live, /<alias name='serial0'\/>/);
    assert.match(live, /<console type='pty' tty='\/dev\/pts\/\d+'>/);
    assert.doesNotMatch(
      await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE),
      /<domain [^>]*id=|<alias|\/dev\/pts/,
    );
    const info = await conn.domainGetInfo(dom);
    assert.equal(info.maxMem, 128 * 1024);
    assert.equal(info.nrVirtCpu, 1);
    assert.ok(info.cpuTime > 0n, "cpu time from /proc");

    // the counter guest runs no ACPI handler: a shutdown request is ignored, and reported so
    await conn.domainShutdown(dom);
    await assert.rejects(
      conn.domainWaitForShutoff(dom, 1500),
      (e: unknown) =>
        isVirtError(e) && e.code === "QEMU_SHUTDOWN_IGNORED" && e.details.powerButtonDelivered === true,
    );
    assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.RUNNING);

    // suspend: the counter stops; resume: it goes on with the next number
    await conn.domainSuspend(dom);
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.PAUSED,
      reason: DomainPausedReason.USER,
    });
    const atPause = con.text.length;
    const lastBeforePause = Math.max(...con.counters());
    await new Promise<void>((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(
      con.counters(atPause).filter((n) => n > lastBeforePause + 1),
      [],
      "no counting while paused",
    );
    await conn.domainResume(dom);
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.RUNNING,
      reason: DomainRunningReason.UNPAUSED,
    });
    const afterResume = con.text.length;
    await con.waitFor(/COUNTER \d+/, 5000, afterResume);
    assert.ok(
      Math.min(...con.counters(afterResume)) <= lastBeforePause + 2,
      "the counter continued where it stopped",
    );
    assert.deepEqual(await take(), [
      [E.SUSPENDED, Suspended.PAUSED],
      [E.RESUMED, Resumed.UNPAUSED],
    ]);
    await assert.rejects(
      conn.domainResume(dom),
      /Requested operation is not valid: domain is already running/,
    );

    // save to a file: the domain stops; restore: the counter continues from where it was
    const pid1 = conn.driver.domains.byName("life")!.run!.pid;
    const saveFile = join(tr.root, "life.save");
    await con.waitFor(/COUNTER \d+/, 5000, con.text.length);
    await conn.domainSave(dom, saveFile);
    assert.equal(dom.id, -1);
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.SAVED,
    });
    assert.equal(isProcessAlive(pid1), false, "QEMU ended after save");
    assert.deepEqual(runtimeLeftovers(tr.root, "life"), []);
    const lastSaved = Math.max(...con.counters());
    await con.close();
    assert.deepEqual(await take(), [
      [E.SUSPENDED, Suspended.PAUSED],
      [E.STOPPED, Stopped.SAVED],
    ]);
    assert.match(readFileSync(saveFile).subarray(0, 16).toString("latin1"), /^LibvirtQemudSave$/);
    assert.match(await conn.domainSaveImageGetXMLDesc(saveFile, 0), /<name>life<\/name>/);

    await conn.domainRestore(saveFile);
    tr.track(conn);
    const restored = await conn.domainLookupByName("life");
    assert.deepEqual(await conn.domainGetState(restored, 0), {
      state: DomainState.RUNNING,
      reason: DomainRunningReason.RESTORED,
    });
    assert.deepEqual(await take(), [
      [E.STARTED, Started.RESTORED],
      [E.RESUMED, Resumed.FROM_SNAPSHOT],
    ]);
    con = await ConsoleReader.open(conn, restored);
    await con.waitFor(/COUNTER \d+/, 5000);
    assert.equal(con.counters()[0], lastSaved + 1, `the counter continued after ${lastSaved}`);
    assert.doesNotMatch(con.text, /GUEST-BOOTED/, "restored, not rebooted");

    // managed save, then start restores it
    await conn.domainManagedSave(restored, 0);
    assert.equal(await conn.domainHasManagedSaveImage(restored, 0), true);
    assert.deepEqual(
      (await conn.connectListAllDomains(L.MANAGEDSAVE)).map((d) => d.name),
      ["life"],
    );
    const lastManaged = Math.max(...con.counters());
    await con.close();
    await conn.domainCreate(restored);
    tr.track(conn);
    assert.equal(await conn.domainHasManagedSaveImage(restored, 0), false, "the image is used up");
    assert.deepEqual(await conn.domainGetState(restored, 0), {
      state: DomainState.RUNNING,
      reason: DomainRunningReason.RESTORED,
    });
    con = await ConsoleReader.open(conn, restored);
    await con.waitFor(/COUNTER \d+/, 5000);
    assert.equal(con.counters()[0], lastManaged + 1);
    await con.close();
    await conn.domainDestroy(restored);
    assert.deepEqual(await conn.domainGetState(restored, 0), {
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.DESTROYED,
    });
    await take();

    // redefine as a guest that obeys ACPI and restarts on reboot
    await conn.domainDefineXML(idleXml);
    assert.deepEqual(await take(), [[E.DEFINED, Defined.UPDATED]]);
    await conn.domainCreate(restored);
    tr.track(conn);
    con = await ConsoleReader.open(conn, restored);
    await con.waitFor(/TVIRT-GUEST-READY mode=idle/);
    const pid2 = conn.driver.domains.byName("life")!.run!.pid;
    await take();

    // reboot: ACPI power button, the guest powers off, tvirt resets it: same QEMU, a new boot
    const atReboot = con.text.length;
    await conn.domainReboot(restored, 0);
    await con.waitFor(/GUEST-BOOTED/, 20_000, atReboot);
    await con.waitFor(/TVIRT-GUEST-READY mode=idle/, 20_000, atReboot);
    // READY means acpid listens (a press before that would be lost; the guest says when not).
    assert.doesNotMatch(con.text, /TVIRT-GUEST-WARNING/);
    assert.equal(conn.driver.domains.byName("life")!.run!.pid, pid2, "the same QEMU process");
    assert.deepEqual(await conn.domainGetState(restored, 0), {
      state: DomainState.RUNNING,
      reason: DomainRunningReason.BOOTED,
    });
    const rebootEvents = await take();
    assert.deepEqual(
      rebootEvents.filter((e) => e !== "reboot"),
      [
        [E.SHUTDOWN, Shutdown.GUEST],
        [E.RESUMED, Resumed.UNPAUSED],
      ],
    );
    assert.ok(rebootEvents.includes("reboot"), "a reboot event (QEMU's RESET)");

    // shutdown by ACPI: the guest powers off, the domain is shut off (shutdown)
    await conn.domainShutdown(restored);
    await conn.domainWaitForShutoff(restored, 60_000);
    assert.deepEqual(await conn.domainGetState(restored, 0), {
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.SHUTDOWN,
    });
    assert.equal(isProcessAlive(pid2), false);
    await until(() => rec.events.length >= 2, 2000, "shutdown events");
    assert.deepEqual(await take(), [
      [E.SHUTDOWN, Shutdown.GUEST],
      [E.STOPPED, Stopped.SHUTDOWN],
    ]);
    await con.close();

    // start, destroy, undefine: nothing of the domain is left but its log
    await conn.domainCreate(restored);
    tr.track(conn);
    await conn.domainDestroy(restored);
    await assert.rejects(
      conn.domainDestroy(restored),
      /Requested operation is not valid: domain is not running/,
    );
    await conn.domainUndefine(restored);
    assert.deepEqual(await take(), [
      [E.RESUMED, Resumed.UNPAUSED],
      [E.STARTED, Started.BOOTED],
      [E.STOPPED, Stopped.DESTROYED],
      [E.UNDEFINED, Undefined.REMOVED],
    ]);
    assert.equal(existsSync(join(paths.configDir, "life.xml")), false);
    assert.deepEqual(runtimeLeftovers(tr.root, "life"), []);
    await assert.rejects(
      conn.domainLookupByName("life"),
      /Domain not found: no domain with matching name 'life'/,
    );
    await conn.connectClose();
    assert.deepEqual(await leakedResources(before, 2000), [], "no sockets, timers or processes left");
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
