/**
 * Concurrency on real QEMU: rounds of 20 parallel operations (start, destroy, suspend, getInfo)
 * on one domain. Every call settles (nothing hangs), every refusal is a catalogued error that
 * says why, and afterwards the domain's state agrees with QEMU and with the files on disk.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DomainState } from "../../enums.ts";
import { isVirtError, type VirtError } from "../../../util/errors/index.ts";
import { isProcessAlive } from "../../../util/spawn.ts";
import { driverPaths } from "../paths.ts";
import { guestXML, makeTestRoot, qemuProcessesOf, runtimeLeftovers } from "../../../testing/qemu/driver.ts";

type Op = "start" | "destroy" | "suspend" | "getInfo";

/** Refusals each operation may meet when others race it, and nothing else. */
const ALLOWED: Readonly<Record<Op, readonly string[]>> = {
  start: ["QEMU_DOMAIN_ALREADY_RUNNING", "JOB_CANCELLED", "QEMU_START_FAILED", "QEMU_MONITOR_CLOSED"],
  destroy: ["DOMAIN_NOT_RUNNING", "JOB_CANCELLED"],
  suspend: ["DOMAIN_NOT_RUNNING", "JOB_CANCELLED", "QEMU_MONITOR_CLOSED", "QEMU_GUEST_QUIT"],
  getInfo: [],
};

/** A small deterministic PRNG (mulberry32), so a failing order can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test("20 parallel operations on one domain end in a consistent state; refused ones say why; nothing hangs", async (t) => {
  const xml = await guestXML(t, { name: "busy", mode: "idle" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const paths = driverPaths({ kind: "embed", root: tr.root });
  const conn = await tr.open();
  try {
    const dom = await conn.domainDefineXML(xml);
    const kinds: Op[] = ["start", "destroy", "suspend", "getInfo"];
    for (const seed of [1, 2, 3]) {
      const random = rng(seed);
      const ops: Op[] = [
        ...kinds,
        ...Array.from({ length: 16 }, () => kinds[Math.floor(random() * kinds.length)]!),
      ];
      const handle = () => ({ ...dom });
      const calls = ops.map(async (op): Promise<unknown> => {
        await new Promise<void>((resolve) => setTimeout(resolve, Math.floor(random() * 40)));
        switch (op) {
          case "start":
            return conn.domainCreate(handle());
          case "destroy":
            return conn.domainDestroy(handle());
          case "suspend":
            return conn.domainSuspend(handle());
          case "getInfo":
            return conn.domainGetInfo(handle());
        }
      });
      let timer: NodeJS.Timeout | undefined;
      const results = await Promise.race([
        Promise.allSettled(calls),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`round ${seed}: operations still pending after 60 s`));
          }, 60_000);
        }),
      ]);
      clearTimeout(timer);
      tr.track(conn);
      const refused: string[] = [];
      results.forEach((r, i) => {
        const op = ops[i]!;
        if (r.status === "fulfilled") return;
        const e = r.reason as VirtError;
        assert.ok(isVirtError(e), `${op}: not a catalogued error: ${String(e)}`);
        assert.ok(ALLOWED[op].includes(e.code), `${op} refused with unexpected ${e.code}: ${e.message}`);
        assert.ok(
          e.message.length > 10 && !e.message.startsWith("internal error"),
          `${op}: unclear message ${e.message}`,
        );
        refused.push(`${op}: ${e.message}`);
      });
      t.diagnostic(
        `round ${seed}: ${ops.join(",")}; ${results.length - refused.length} succeeded, ${refused.length} refused`,
      );
      for (const r of new Set(refused)) t.diagnostic(`  ${r}`);

      // The domain agrees with QEMU and the disk.
      const obj = conn.driver.domains.byName("busy")!;
      assert.ok(obj.job.idle, "no job left holding or waiting");
      const { state } = await conn.domainGetState(dom, 0);
      const procs = qemuProcessesOf(tr.root);
      if (obj.isActive()) {
        const run = obj.run!;
        assert.ok(isProcessAlive(run.pid, run.starttime), "an active domain has its QEMU");
        assert.deepEqual(procs, [run.pid], "exactly one QEMU for the domain");
        const st = (await run.qmp!.execute("query-status")) as { running: boolean };
        assert.equal(
          st.running,
          state === DomainState.RUNNING,
          `QEMU ${st.running ? "runs" : "is stopped"} and the state is ${state}`,
        );
        assert.ok(state === DomainState.RUNNING || state === DomainState.PAUSED);
        assert.ok(existsSync(join(paths.stateDir, "busy.xml")), "status file present");
      } else {
        assert.equal(state, DomainState.SHUTOFF);
        assert.deepEqual(procs, [], "no QEMU left");
        assert.deepEqual(runtimeLeftovers(tr.root, "busy"), []);
      }
    }
    if ((await conn.domainGetState(dom, 0)).state !== DomainState.SHUTOFF) await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
