/**
 * Emulated TPM 2.0 on real QEMU with swtpm: a defined guest with a tpm-crb starts, QEMU reports
 * the TPM (QMP query-tpm), its swtpm runs and is gone after destroy, the state made once by
 * swtpm_setup is used again by the next start and kept by `undefine --keep-tpm`, removed by a
 * plain undefine; a transient guest's state goes when it stops.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DomainUndefineFlags } from "../../enums.ts";
import { guestXML, makeTestRoot, until } from "../../../testing/qemu/driver.ts";
import { driverPaths } from "../paths.ts";
import { SWTPM, SWTPM_SETUP, swtpmStorageRoot } from "./swtpm.ts";

/** The pids of swtpm processes whose control socket is under `root`. */
function swtpmsUnder(root: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv[0] === SWTPM && argv.some((a) => a.startsWith(`type=unixio,path=${root}/`)))
        out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

test("a TPM 2.0 emulated by swtpm: started with the guest, state kept across starts, removed on undefine", async (t) => {
  const base = await guestXML(t, { name: "tpm", mode: "none" });
  if (base === undefined) return;
  if (!existsSync(SWTPM) || !existsSync(SWTPM_SETUP)) {
    if (process.env.CI === "true")
      assert.fail("swtpm and swtpm_setup are required under CI (swtpm, swtpm-tools)");
    t.skip("swtpm is not installed");
    return;
  }
  const uuid = "6a1b8a52-3f0c-4c53-9d0e-2f1c1e0b7a11";
  const withTpm = (name: string, model: string, u: string): string =>
    base
      .replace("<name>tpm</name>", `<name>${name}</name>`)
      .replace(/<uuid>[^<]*<\/uuid>/, "")
      .replace(`<name>${name}</name>`, `<name>${name}</name>\n  <uuid>${u}</uuid>`)
      .replace(
        "</devices>",
        `  <tpm model='${model}'>\n      <backend type='emulator' version='2.0'/>\n    </tpm>\n  </devices>`,
      );
  const tr = makeTestRoot("tvirt-tpm-");
  const conn = await tr.open();
  const state = join(swtpmStorageRoot(driverPaths({ kind: "embed", root: tr.root })), uuid, "tpm2");
  const log = join(tr.root, "log", "qemu", "tpm-swtpm.log");
  const manufactured = (): number =>
    (readFileSync(log, "utf8").match(/Starting vTPM manufacturing/g) ?? []).length;
  try {
    const dom = await conn.domainDefineXML(withTpm("tpm", "tpm-crb", uuid));
    await conn.domainCreateWithFlags(dom, 1); // paused: QEMU need not boot the guest
    tr.track(conn);
    const reply = JSON.parse(
      await conn.domainQemuMonitorCommand(dom, JSON.stringify({ execute: "query-tpm" }), 0),
    ) as { return: { id: string; model: string; options: { type: string } }[] };
    assert.deepEqual(
      reply.return.map((x) => [x.id, x.model, x.options.type]),
      [["tpm-tpm0", "tpm-crb", "emulator"]],
    );
    assert.equal(swtpmsUnder(tr.root).length, 1, "one swtpm runs for the guest");
    assert.ok(existsSync(join(state, "tpm2-00.permall")), "swtpm_setup made the state");
    assert.equal(manufactured(), 1);

    await conn.domainDestroy(dom);
    await until(() => swtpmsUnder(tr.root).length === 0, 10_000, "swtpm to exit with the guest");

    // the next start uses the state as it is: no second manufacturing
    await conn.domainCreateWithFlags(dom, 1);
    tr.track(conn);
    assert.equal(swtpmsUnder(tr.root).length, 1);
    assert.equal(manufactured(), 1, "the state was kept, not made again");
    await conn.domainDestroy(dom);
    await until(() => swtpmsUnder(tr.root).length === 0, 10_000, "swtpm to exit");

    // undefine --keep-tpm keeps it; a plain undefine removes it
    await conn.domainUndefineFlags(dom, DomainUndefineFlags.KEEP_TPM);
    assert.ok(existsSync(join(state, "tpm2-00.permall")), "--keep-tpm kept the state");
    const again = await conn.domainDefineXML(withTpm("tpm", "tpm-crb", uuid));
    await conn.domainUndefineFlags(again, 0);
    assert.ok(!existsSync(join(state, "..")), "undefine removed the state with its folder");

    // a transient guest (tpm-tis): its state goes when it stops
    const uuid2 = "6a1b8a52-3f0c-4c53-9d0e-2f1c1e0b7a12";
    const tdom = await conn.domainCreateXML(withTpm("tpm-t", "tpm-tis", uuid2), 1);
    tr.track(conn);
    const state2 = join(swtpmStorageRoot(driverPaths({ kind: "embed", root: tr.root })), uuid2);
    assert.ok(existsSync(state2));
    await conn.domainDestroy(tdom);
    await until(() => swtpmsUnder(tr.root).length === 0, 10_000, "swtpm to exit");
    assert.ok(!existsSync(state2), "a transient guest's TPM state is removed when it stops");
  } finally {
    await conn.connectClose();
    for (const pid of swtpmsUnder(tr.root)) process.kill(pid, "SIGKILL");
    await tr.cleanup();
  }
});
