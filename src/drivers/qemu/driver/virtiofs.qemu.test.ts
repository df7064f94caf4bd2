/**
 * virtiofs on real QEMU: the driver starts virtiofsd for a `<filesystem>` with the virtiofs
 * driver; the guest mounts the tag, reads a host file and writes one the host sees; virtiofsd is
 * gone once the guest stops; a virtiofsd killed while the guest runs is reported (the domain's
 * log and an io-error-reason event); a missing binary and a source that is no directory are
 * clear errors before QEMU starts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DomainEventId } from "../../enums.ts";
import type { DomainEvent } from "../../driver.ts";
import { isProcessAlive } from "../../../util/spawn.ts";
import { VirtError } from "../../../util/errors/index.ts";
import {
  ConsoleReader,
  guestXML,
  makeTestRoot,
  qemuProcessesOf,
  until,
} from "../../../testing/qemu/driver.ts";
import { VIRTIOFSD_PATHS, virtiofsFilesystems } from "./virtiofs.ts";

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

function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"))?.[1] ?? 0);
}

test("a virtiofs share: guest reads and writes it, virtiofsd is supervised and stopped", async (t) => {
  const base = await guestXML(t, { name: "vfs", mode: "shell" });
  if (base === undefined) return;
  if (!VIRTIOFSD_PATHS.some((p) => existsSync(p))) {
    if (process.env.CI === "true") assert.fail("virtiofsd is required under CI (qemu-system-common)");
    t.skip("no virtiofsd installed");
    return;
  }
  const share = mkdtempSync(join(tmpdir(), "tvirt-share-"));
  writeFileSync(join(share, "from-host.txt"), "hello from the host\n");
  const withFs = (name: string, source: string, extra = ""): string =>
    base
      .replace("<name>vfs</name>", `<name>${name}</name>`)
      .replace(
        "<os>",
        "<memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>\n  <os>",
      )
      .replace(
        "</devices>",
        `  <filesystem type='mount' accessmode='passthrough'>\n      <driver type='virtiofs'/>${extra}\n      <source dir='${source}'/>\n      <target dir='hostshare'/>\n    </filesystem>\n  </devices>`,
      );
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const events: DomainEvent[] = [];
    await conn.connectDomainEventRegisterAny(null, DomainEventId.IO_ERROR_REASON, (_d, e) => {
      events.push(e);
    });
    const dom = await conn.domainCreateXML(withFs("vfs", share), 0);
    tr.track(conn);
    // (the C virtiofsd runs as two processes: a parent, and its child in a sandbox namespace)
    assert.ok(virtiofsdsOf(share).length >= 1, "a virtiofsd serves the share");
    const con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/TVIRT-GUEST-READY mode=shell/, 120_000);
    const from = con.text.length;
    con.write(
      "mkdir -p /mnt/h && mount -t virtiofs hostshare /mnt/h && cat /mnt/h/from-host.txt && echo guest-was-here > /mnt/h/from-guest.txt && sync && echo VFS-$((40+2))\n",
    );
    await con.waitFor(/VFS-42/, 60_000, from); // the shell computed it: not the echo of the command
    assert.match(con.text.slice(from), /hello from the host/);
    await until(() => existsSync(join(share, "from-guest.txt")), 10_000, "the guest's file on the host");
    assert.equal(readFileSync(join(share, "from-guest.txt"), "utf8"), "guest-was-here\n");
    await con.close();

    // stopped with the guest
    await conn.domainDestroy(dom);
    await until(() => virtiofsdsOf(share).length === 0, 10_000, "virtiofsd to exit");

    // killed while the guest runs: reported
    await conn.domainCreateXML(withFs("vfs2", share), 0);
    tr.track(conn);
    // the daemon the driver (this process) started; its sandboxed child, if any, goes too
    const pids = virtiofsdsOf(share);
    const pid = pids.find((p) => parentOf(p) === process.pid);
    assert.ok(pid !== undefined && isProcessAlive(pid));
    process.kill(pid, "SIGKILL");
    for (const p of pids) if (p !== pid) process.kill(p, "SIGKILL");
    await until(() => events.length > 0, 10_000, "an io-error-reason event");
    const ev = events[0];
    assert.ok(ev?.id === DomainEventId.IO_ERROR_REASON);
    assert.equal(ev.srcPath, share);
    assert.equal(ev.reason, "virtiofsd killed by SIGKILL");
    assert.equal(ev.action, 2);
    const log = readFileSync(join(tr.root, "log", "qemu", "vfs2.log"), "utf8");
    assert.match(log, /virtiofsd of filesystem 'hostshare' \(fs0, .*\) killed by SIGKILL/);
    await conn.domainDestroy(await conn.domainLookupByName("vfs2"));

    // clear errors before QEMU starts
    const procs = qemuProcessesOf(tr.root).length;
    await assert.rejects(
      conn.domainCreateXML(withFs("vfs3", join(share, "from-host.txt")), 0),
      (e: unknown) =>
        e instanceof VirtError && e.code === "QEMU_VIRTIOFS_SOURCE" && e.message.includes("from-host.txt"),
    );
    await assert.rejects(
      conn.domainCreateXML(withFs("vfs4", share, "\n      <binary path='/nonexistent/virtiofsd'/>"), 0),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "QEMU_VIRTIOFSD_MISSING" &&
        e.message.includes("/nonexistent/virtiofsd"),
    );
    assert.equal(qemuProcessesOf(tr.root).length, procs, "no QEMU started for the refused guests");
    assert.deepEqual(virtiofsdsOf(share), []);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
    rmSync(share, { recursive: true, force: true });
  }
});

test("only filesystems served by a daemon tvirt starts count", () => {
  assert.deepEqual(virtiofsFilesystems({ devices: { filesystems: [] } } as never), []);
});
