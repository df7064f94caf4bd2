/**
 * Job control on real QEMU (TCG, the tiny counter guest): domjobinfo while a managed save runs
 * shows its progress growing, a second modify job meanwhile times out naming the save, and
 * domjobabort cancels it (libvirt's "canceled by client"; the guest keeps running and counting,
 * no image is left); the completed and cancelled jobs' statistics (`--completed`), the
 * JOB_COMPLETED event, and migration tuning (max downtime, speed, compression cache) through
 * QEMU's migration parameters. Output through tvirsh's own commands in this process (the embed
 * driver is shared by the connections of one root).
 *
 * The save is slowed by setting QEMU's `max-bandwidth` to 1 MiB/s just before the save's
 * `migrate` (libvirt, like tvirt, saves at full speed; the test needs time to act).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import {
  DomainEventId,
  DomainJobType,
  DomainRunningReason,
  DomainState,
  isVirtError,
  type DomainEvent,
  type TypedParameter,
} from "../../api/index.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { ConsoleReader, guestXML, makeTestRoot, until } from "../../testing/qemu/driver.ts";

async function tvirsh(uri: string, line: string): Promise<{ ok: boolean; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(["-q", "-c", uri, line], io, {});
  return { ok: code === 0, out: io.stdout, err: io.stderr };
}

const ull = (params: readonly TypedParameter[], f: string): bigint => {
  const v = params.find((p) => p.field === f)?.value.value;
  return typeof v === "bigint" ? v : -1n;
};

test("domjobinfo follows a slowed managed save, domjobabort cancels it and the guest keeps running", async (t) => {
  const xml = await guestXML(t, { name: "jobs", mode: "counter" });
  if (xml === undefined) return;
  const tr = makeTestRoot("tvirt-jobs-");
  // a short lock wait, so the second modify job's timeout comes quickly
  const conn = await tr.open({ jobTimeoutMs: 1500 });
  try {
    const dom = await conn.domainDefineXML(xml);
    await conn.domainCreate(dom);
    tr.track(conn);
    const con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/COUNTER 2\b/);
    const events: DomainEvent[] = [];
    await conn.connectDomainEventRegisterAny(null, DomainEventId.JOB_COMPLETED, (_d, ev) => events.push(ev));

    // no job yet
    assert.deepEqual(await tvirsh(tr.uri, "domjobinfo jobs"), {
      ok: true,
      out: "Job type:         None        \n",
      err: "",
    });
    assert.equal(
      (await tvirsh(tr.uri, "domjobabort jobs")).err,
      "error: Requested operation is not valid: no job is active on the domain\n",
    );

    // tuning through QEMU's migration parameters
    // nobody set a speed: QEMU's default (128 MiB/s), which tvirt keeps, not libvirt's "unlimited"
    assert.equal((await tvirsh(tr.uri, "migrate-getspeed jobs")).out, "128\n");
    assert.ok((await tvirsh(tr.uri, "migrate-setmaxdowntime jobs 250")).ok);
    assert.equal((await tvirsh(tr.uri, "migrate-getmaxdowntime jobs")).out, "250\n");
    assert.equal(
      (await tvirsh(tr.uri, "migrate-compcache jobs --size 1048576")).out,
      "Compression cache: 1.000 MiB",
    );
    assert.ok((await tvirsh(tr.uri, "migrate-setspeed jobs 4096")).ok);
    assert.equal((await tvirsh(tr.uri, "migrate-getspeed jobs")).out, "4096\n");

    // slow the save: 1 MiB/s from the moment QEMU starts streaming
    const obj = conn.driver.domains.all().find((o) => o.name === "jobs")!;
    const qmp = obj.run!.qmp!;
    const execute = qmp.execute.bind(qmp);
    qmp.execute = async (cmd: string, args?: Record<string, unknown>) => {
      if (cmd === "migrate") await execute("migrate-set-parameters", { "max-bandwidth": 1024 * 1024 });
      return execute(cmd, args);
    };

    const saving = conn.domainManagedSave(dom, 0);
    saving.catch(() => undefined);
    await until(
      async () => {
        const s = await conn.domainGetJobStats(dom, 0);
        return s.type === DomainJobType.UNBOUNDED && ull(s.params, "memory_processed") > 0n;
      },
      10_000,
      "the save job with data moving",
    );

    const first = await tvirsh(tr.uri, "domjobinfo jobs");
    assert.match(
      first.out,
      /^Job type: {9}Unbounded {3}\nOperation: {8}Save {8}\nTime elapsed: {5}\d+ +ms\nData processed: {3}\d+\.\d{3} [KMG]?i?B\n/,
    );
    assert.match(first.out, /\nMemory processed: \d+\.\d{3} \S+\nMemory remaining: /);
    t.diagnostic(first.out);
    const p1 = ull((await conn.domainGetJobStats(dom, 0)).params, "memory_processed");
    await new Promise<void>((resolve) => setTimeout(resolve, 1500));
    const p2 = ull((await conn.domainGetJobStats(dom, 0)).params, "memory_processed");
    assert.ok(p2 > p1, `progress grows while the save runs (${p1} → ${p2} bytes)`);

    // a modify job waits for the save's lock and gives up naming it
    await assert.rejects(
      conn.domainSuspend(dom),
      (e: unknown) =>
        isVirtError(e) &&
        /cannot acquire state change lock \(held by async job=virDomainManagedSave\)/.test(e.message),
    );

    // abort: the save fails as cancelled by the client, the guest runs on
    const abort = await tvirsh(tr.uri, "domjobabort jobs");
    assert.deepEqual(abort, { ok: true, out: "", err: "" });
    await assert.rejects(
      saving,
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "JOB_CANCELED_BY_CLIENT" &&
        e.message === "operation aborted: domain save job: canceled by client",
    );
    qmp.execute = execute;
    assert.deepEqual(await conn.domainGetState(dom, 0), {
      state: DomainState.RUNNING,
      reason: DomainRunningReason.SAVE_CANCELED,
    });
    assert.equal(existsSync(conn.driver.managedSavePath("jobs")), false, "no image left");
    const mark = con.text.length;
    await con.waitFor(/COUNTER \d+/, 10_000, mark);
    assert.deepEqual(await tvirsh(tr.uri, "domjobinfo jobs --completed --keep-completed"), {
      ok: true,
      out: "Job type:         Cancelled   \n",
      err: "",
    });
    const anystats = await tvirsh(tr.uri, "domjobinfo jobs --completed --anystats");
    assert.match(anystats.out, /^Job type: {9}Cancelled {3}\nOperation: {8}Save {8}\n/);
    assert.match(anystats.out, /\nError message: {4}.*cancel/);
    // read without --keep-completed: gone
    assert.equal(
      (await tvirsh(tr.uri, "domjobinfo jobs --completed")).out,
      "Job type:         None        \n",
    );
    assert.equal(events.length, 0, "no JOB_COMPLETED for a cancelled job");

    // a save that completes: its statistics stay with the (now inactive) domain, with an event
    await conn.domainManagedSave(dom, 0);
    assert.equal((await conn.domainGetState(dom, 0)).state, DomainState.SHUTOFF);
    const done = await tvirsh(tr.uri, "domjobinfo jobs --completed --keep-completed");
    assert.match(done.out, /^Job type: {9}Completed {3}\nOperation: {8}Save {8}\nTime elapsed: {5}\d+ +ms\n/);
    assert.match(done.out, /\nTotal downtime: {3}\d+ +ms\n/);
    await until(() => events.length > 0, 5000, "the JOB_COMPLETED event");
    const ev = events[0]!;
    assert.equal(ev.id, DomainEventId.JOB_COMPLETED);
    const evParams = (ev as { params: readonly TypedParameter[] }).params;
    assert.ok(ull(evParams, "memory_processed") > 0n, "the event carries the statistics");
    assert.equal(
      (await tvirsh(tr.uri, "domjobinfo jobs")).err,
      "error: Requested operation is not valid: domain is not running\n",
    );
    const json = new BufferIo();
    await main(["-c", tr.uri, "domjobinfo jobs --completed --json"], json, {});
    const doc = JSON.parse(json.stdout) as { type: string; stats: Record<string, unknown> };
    assert.equal(doc.type, "completed");
    assert.equal(doc.stats.operation, 2);
  } finally {
    await conn.connectClose().catch(() => undefined);
    await tr.cleanup();
  }
});
